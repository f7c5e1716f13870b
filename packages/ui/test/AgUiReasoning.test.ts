/**
 * AG-UI reasoning, there and back: a model's thinking streams as `REASONING_*` events (the
 * signature as `REASONING_ENCRYPTED_VALUE`, the part's provider fields as the
 * `REASONING_MESSAGE_END` metadata); a client keeps it as a reasoning message before the
 * response's assistant message and posts it back, and decoding puts the same `ThinkingPart` back
 * at the start of the response it belongs to — which providers need, signed, with tool calls.
 */
import { EventSchemas, RunAgentInputSchema } from "@ag-ui/core/schemas"
import { Agent, Messages, Usage } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { clientMessages } from "./agUiClient.js"
import * as F from "./fixtures.js"

const hasToolReturn = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart") === true

/**
 * Thinks (signed, with details), says it will check and calls `weather`; once answered, thinks
 * again (redacted: an encrypted value and no text, with the provider's id) and answers.
 */
const thinkingModel = F.scriptedModel("claude-test", "anthropic", (messages) =>
  hasToolReturn(messages)
    ? {
        events: (m) => [
          m.thinkingDelta("t", {
            signature: "opaque-2",
            redacted: true,
            id: "th_2",
            providerName: "anthropic"
          }),
          m.textDelta("x", "Sunny.")
        ],
        usage: new Usage.RequestUsage({ inputTokens: 20, outputTokens: 5 })
      }
    : {
        events: (m) => [
          m.thinkingDelta("t", { content: "The user wants ", providerName: "anthropic" }),
          m.thinkingDelta("t", {
            content: "Paris.",
            signature: "sig-1",
            providerDetails: { effort: "high" }
          }),
          m.textDelta("x", "Let me check."),
          m.toolCallDelta("c", {
            toolName: "weather",
            toolCallId: "c1",
            args: '{"city":"Paris"}'
          })
        ],
        usage: new Usage.RequestUsage({ inputTokens: 10, outputTokens: 7 })
      }
)

const agent = Agent.make({ tools: [F.weather] })

/** A part as JSON (fields left undefined dropped), to compare parts built in different ways. */
const json = (p: unknown) => JSON.parse(JSON.stringify(p)) as unknown

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")

describe("AG-UI reasoning messages", () => {
  it.effect("a run's thinking (signed, with its provider fields) comes back in place", () =>
    Effect.gen(function* () {
      let recorded: ReadonlyArray<Messages.ModelMessage> = []
      const events = Chunk.toArray(
        yield* Stream.runCollect(
          UiStream.agUiEvents(agent.runStream("Weather in Paris?"), {
            threadId: "t1",
            runId: "r1",
            onFinish: (o) => Effect.sync(() => (recorded = o.messages))
          }).pipe(Stream.provideLayer(thinkingModel))
        )
      )
      for (const e of events) {
        const parsed = EventSchemas.safeParse(e)
        assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
      }
      // what the events say of the first thinking part
      const ofFirst = events.filter(
        (e) => e.messageId === "r1-reasoning-1-0" || e.entityId === "r1-reasoning-1-0"
      )
      assert.deepStrictEqual(ofFirst.slice(-3), [
        {
          type: "REASONING_MESSAGE_END",
          messageId: "r1-reasoning-1-0",
          metadata: {
            agentfx: {
              position: { response: "r1-1", index: 0 },
              providerName: "anthropic",
              providerDetails: { effort: "high" }
            }
          }
        },
        {
          type: "REASONING_ENCRYPTED_VALUE",
          subtype: "message",
          entityId: "r1-reasoning-1-0",
          encryptedValue: "sig-1"
        },
        { type: "REASONING_END", messageId: "r1-reasoning-1-0" }
      ])

      const messages = clientMessages(events, [
        { id: "u1", role: "user", content: "Weather in Paris?" }
      ])
      // the client's thread: reasoning before each response's assistant message
      assert.deepStrictEqual(
        messages.map((m) => [m.role, m.id]),
        [
          ["user", "u1"],
          ["reasoning", "r1-reasoning-1-0"],
          ["assistant", "r1-text-1-1"],
          ["tool", "r1-result-c1"],
          ["reasoning", "r1-reasoning-2-0"],
          ["assistant", "r1-text-2-1"]
        ]
      )
      assert.deepStrictEqual(messages[4], {
        id: "r1-reasoning-2-0",
        role: "reasoning",
        content: "",
        encryptedValue: "opaque-2",
        metadata: {
          agentfx: {
            position: { response: "r1-2", index: 0 },
            id: "th_2",
            providerName: "anthropic",
            redacted: true
          }
        }
      })
      const input = { threadId: "t1", runId: "r2", state: {}, messages, tools: [], context: [] }
      assert.isTrue(RunAgentInputSchema.safeParse(input).success)

      const decoded = responses((yield* UiStream.decodeAgUiInput(input)).messages)
      const original = responses(recorded)
      assert.strictEqual(decoded.length, 2)
      // the same parts in the same order, the thinking parts field for field
      assert.deepStrictEqual(
        decoded.map((r) => r.parts.map((p) => p._tag)),
        [
          ["ThinkingPart", "TextPart", "ToolCallPart"],
          ["ThinkingPart", "TextPart"]
        ]
      )
      assert.deepStrictEqual(
        decoded.map((r) => r.parts.map((p) => p._tag)),
        original.map((r) => r.parts.map((p) => p._tag))
      )
      for (let i = 0; i < 2; i++) {
        assert.deepStrictEqual(json(decoded[i]!.parts[0]), json(original[i]!.parts[0]))
      }
      assert.deepStrictEqual(json(decoded[0]!.parts[0]), {
        _tag: "ThinkingPart",
        content: "The user wants Paris.",
        signature: "sig-1",
        providerName: "anthropic",
        providerDetails: { effort: "high" }
      })
      assert.deepStrictEqual(json(decoded[1]!.parts[0]), {
        _tag: "ThinkingPart",
        content: "",
        id: "th_2",
        signature: "opaque-2",
        redacted: true,
        providerName: "anthropic"
      })
    })
  )

  it.effect("a reasoning message with no assistant message after it is a response of its own", () =>
    Effect.gen(function* () {
      const thinking = {
        id: "r1",
        role: "reasoning",
        content: "Hmm.",
        encryptedValue: "sig",
        metadata: { agentfx: { providerName: "anthropic" } }
      }
      const last = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Hi" },
        thinking
      ])
      assert.deepStrictEqual(
        last.map((m) => [m._tag, m.parts.map((p) => p._tag)]),
        [
          ["ModelRequest", ["UserPromptPart"]],
          ["ModelResponse", ["ThinkingPart"]]
        ]
      )
      assert.deepStrictEqual(json(last[1]!.parts[0]), {
        _tag: "ThinkingPart",
        content: "Hmm.",
        signature: "sig",
        providerName: "anthropic"
      })
      // before the next user message: still its own response, the user's request after it
      const between = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Hi" },
        thinking,
        { id: "u2", role: "user", content: "Well?" }
      ])
      assert.deepStrictEqual(
        between.map((m) => m.parts.map((p) => p._tag)),
        [["UserPromptPart"], ["ThinkingPart"], ["UserPromptPart"]]
      )
    })
  )

  it.effect(
    "a reasoning message with only an encrypted value is a signed, empty thinking part",
    () =>
      Effect.gen(function* () {
        const history = yield* UiStream.fromAgUiMessages([
          { id: "u1", role: "user", content: "Hi" },
          { id: "r1", role: "reasoning", content: "", encryptedValue: "gAAAA-opaque" },
          { id: "a1", role: "assistant", content: "Hello." }
        ])
        assert.strictEqual(history.length, 2)
        const [thinking, text] = history[1]!.parts
        assert.deepStrictEqual(json(thinking), {
          _tag: "ThinkingPart",
          content: "",
          signature: "gAAAA-opaque"
        })
        assert.strictEqual((text as Messages.TextPart).content, "Hello.")
      })
  )

  it.effect("two responses, each with reasoning, stay two responses", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Weather?" },
        { id: "r1", role: "reasoning", content: "Check it.", encryptedValue: "s1" },
        {
          id: "a1",
          role: "assistant",
          toolCalls: [
            { id: "c1", type: "function", function: { name: "weather", arguments: "{}" } }
          ]
        },
        { id: "t1", role: "tool", toolCallId: "c1", content: "sunny" },
        { id: "r2", role: "reasoning", content: "It is sunny.", encryptedValue: "s2" },
        { id: "a2", role: "assistant", content: "Sunny." }
      ])
      assert.deepStrictEqual(
        history.map((m) =>
          m.parts.map((p) =>
            p._tag === "ThinkingPart" ? `ThinkingPart ${p.content} ${p.signature}` : p._tag
          )
        ),
        [
          ["UserPromptPart"],
          ["ThinkingPart Check it. s1", "ToolCallPart"],
          ["ToolReturnPart"],
          ["ThinkingPart It is sunny. s2", "TextPart"]
        ]
      )
    })
  )

  it.effect("left out: a sub-agent's reasoning, and one with nothing to send back", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Go" },
        { id: "r1", role: "reasoning", content: "Mine.", subagentRunId: "run-agent-c1" },
        { id: "r2", role: "reasoning", content: "" },
        // metadata of the wrong shape is ignored, the rest kept
        {
          id: "r3",
          role: "reasoning",
          content: "Ok.",
          metadata: { agentfx: { providerName: 5, redacted: "yes", id: "th_3" } }
        },
        { id: "a1", role: "assistant", content: "Done." }
      ])
      assert.deepStrictEqual(
        history.map((m) => m.parts.map((p) => p._tag)),
        [["UserPromptPart"], ["ThinkingPart", "TextPart"]]
      )
      assert.deepStrictEqual(json(history[1]!.parts[0]), {
        _tag: "ThinkingPart",
        content: "Ok.",
        id: "th_3"
      })
    })
  )

  it.effect("a reasoning message whose content is not text is a decoding error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        UiStream.fromAgUiMessages([{ id: "r1", role: "reasoning", content: 5 }])
      )
      assert.strictEqual(error.path, "messages[0]")
    })
  )
})
