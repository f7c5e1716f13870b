/**
 * AG-UI from the client's side: the messages an AG-UI client (`@ag-ui/client` 1.0's
 * `defaultApplyEvents`, what `HttpAgent` runs) builds from our events, and what they decode back
 * to on the next turn. The client keeps a sub-agent's events as messages marked with their
 * `subagentRunId`, which are not the parent's conversation.
 */
import type { Messages } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

/** A history as tags, tool call ids and texts: what the model is sent. */
const shape = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.map((m) =>
    m.parts.map((p) =>
      p._tag === "ToolCallPart" || p._tag === "ToolReturnPart"
        ? `${p._tag} ${p.toolCallId}`
        : p._tag === "TextPart" || p._tag === "UserPromptPart"
          ? `${p._tag} ${String(p.content)}`
          : p._tag
    )
  )

describe("AG-UI: what a client builds from the events decodes back to the run", () => {
  it.effect("a sub-agent's messages (marked with subagentRunId) are not the parent's history", () =>
    Effect.gen(function* () {
      // what @ag-ui/client 1.0 keeps after a run of `leadParent`: the sub-agents' tool calls,
      // results and texts are messages too, marked with the sub-agent that wrote them
      const sub = "r1-agent-call_l"
      const messages = [
        { id: "u1", role: "user", content: "Go" },
        {
          id: "r1-message-1",
          role: "assistant",
          toolCalls: [
            {
              id: "call_l",
              type: "function",
              function: { name: "ask_lead", arguments: '{"prompt":"Go"}' }
            }
          ]
        },
        { id: "r1-result-call_l", role: "tool", toolCallId: "call_l", content: "Done." },
        {
          id: `${sub}-message-1`,
          role: "assistant",
          subagentRunId: sub,
          toolCalls: [
            {
              id: "call_w",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Oslo"}' }
            }
          ]
        },
        {
          id: `${sub}-result-call_w`,
          role: "tool",
          toolCallId: "call_w",
          content: '{"city":"Oslo","sky":"sunny"}',
          subagentRunId: sub
        },
        {
          id: `${sub}-agent-call_n-text-1-0`,
          role: "assistant",
          content: "Otters hold hands.",
          subagentRunId: `${sub}-agent-call_n`
        },
        { id: `${sub}-text-2-0`, role: "assistant", content: "Done.", subagentRunId: sub },
        { id: "r1-text-2-0", role: "assistant", content: "Ok." },
        { id: "u2", role: "user", content: "Thanks" }
      ]
      const history = yield* UiStream.fromAgUiMessages(messages)
      assert.deepStrictEqual(shape(history), [
        ["UserPromptPart Go"],
        ["ToolCallPart call_l"],
        ["ToolReturnPart call_l"],
        ["TextPart Ok."],
        ["UserPromptPart Thanks"]
      ])
      const input = yield* UiStream.decodeAgUiInput({ threadId: "t1", runId: "r2", messages })
      assert.deepStrictEqual(shape(input.messages), shape(history))
    })
  )
})
