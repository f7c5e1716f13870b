/**
 * Conformance of the Chat Completions client against recorded OpenAI (and OpenAI-protocol
 * vendors filed under openai-chat: Azure, Cerebras, z.ai, Ollama, Snowflake, Crusoe…) traffic.
 * Interactions of other endpoints (downloads, MCP) are filtered out by the harness; request
 * fidelity skips carry their reason (`fidelitySkip`).
 */
import * as OpenAiChat from "../../src/OpenAiChat.js"
import { describeConformance } from "../support/chatConformance.js"

describeConformance("openai-chat", {
  system: "openai",
  profile: (name) =>
    /^(gpt|o\d|chatgpt)/.test(name)
      ? OpenAiChat.openAiProfile(name)
      : // Vendors under openai-chat that send reasoning back in history.
        { ...OpenAiChat.compatibleProfile, sendThinkingField: "reasoning_content" }
})
