/**
 * Conformance of the Chat Completions client against recorded OpenAI (and OpenAI-protocol
 * vendors filed under openai-chat: Azure, Cerebras, z.ai, Ollama, Snowflake, Crusoe…) traffic.
 * Interactions of other endpoints (downloads, MCP) are filtered out by the harness; request
 * fidelity skips carry their reason (`fidelitySkip`).
 */
import { describe, it } from "@effect/vitest"
import * as OpenAiChat from "../../src/OpenAiChat.js"
import { chatInteractions, checkInteraction, decodeSkipReason, type VendorSetup } from "../support/chatConformance.js"

const vendor: VendorSetup = {
  system: "openai",
  profile: (name) =>
    /^(gpt|o\d|chatgpt)/.test(name)
      ? OpenAiChat.openAiProfile(name)
      : // Vendors under openai-chat that send reasoning back in history.
        { ...OpenAiChat.compatibleProfile, sendThinkingField: "reasoning_content" }
}

const all = chatInteractions("openai-chat")

describe("openai-chat conformance", () => {
  for (const ci of all) {
    const name = `${ci.caseId}#${ci.index}`
    const skip = decodeSkipReason(ci.interaction)
    if (skip !== undefined) {
      // Data-driven skip: see `decodeSkipReason` for the reason.
      it.skip(`${name}: ${skip}`, () => {})
      continue
    }
    it.effect(`decode + request: ${name}${ci.fidelitySkip ? ` (fidelity skipped: ${ci.fidelitySkip})` : ""}`, () =>
      checkInteraction(ci, vendor, { fidelity: true })
    )
    if (ci.interaction.response.sse) {
      it.effect(`decode re-chunked stream: ${name}`, () =>
        checkInteraction(ci, vendor, { fidelity: false, rechunkSeed: ci.index + 17 })
      )
    }
  }
})
