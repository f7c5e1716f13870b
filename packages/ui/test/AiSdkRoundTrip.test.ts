/**
 * A run's history through a `useChat` client and back, field by field: the handler answers a
 * turn, `ai`'s own transport and `readUIMessageStream` build the assistant message, and the next
 * turn posts the conversation back, which the handler decodes into the history the run recorded —
 * every provider field a later request needs included (a reasoning item's id, its signature).
 */
import { Agent, Messages, type Model } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { assert, describe, it } from "@effect/vitest"
import { type UIMessage, validateUIMessages } from "ai"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { chatTurn } from "./client.js"
import * as F from "./fixtures.js"
import { serve } from "./server.js"

const user = (id: string, text: string): UIMessage => ({
  id,
  role: "user",
  parts: [{ type: "text", text }]
})

/**
 * Serves `agent` on `model` with `aiSdkHandler`, runs one turn through `ai`'s client, checks the
 * conversation with `validateUIMessages`, and posts it back: what the run recorded, the
 * assistant message the client built, and the history the handler decoded from the next turn.
 */
const roundTrip = (
  agent: Agent.Agent<string, never, Model.Model>,
  model: Layer.Layer<Model.Model>
) =>
  Effect.gen(function* () {
    const recorded: Array<ReadonlyArray<Messages.ModelMessage>> = []
    const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
    const built = yield* Layer.build(model)
    const url = yield* serve(
      HttpRouter.empty.pipe(
        HttpRouter.post(
          "/api/chat",
          UiStream.aiSdkHandler(
            (chat) => {
              seen.push(chat.messages)
              return agent.runStream(undefined, { messageHistory: chat.messages })
            },
            { onFinish: (o) => Effect.sync(() => recorded.push(o.messages)) }
          )
        ),
        Effect.provide(built)
      )
    )
    const u1 = user("u1", "Weather in Paris?")
    const first = yield* chatTurn(url, [u1])
    assert.deepStrictEqual(first.errors, [])
    const assistant = first.message!
    const conversation = [u1, assistant, user("u2", "Thanks!")]
    yield* Effect.promise(() => validateUIMessages({ messages: conversation }))
    const second = yield* chatTurn(url, conversation)
    assert.deepStrictEqual(second.errors, [])
    return { recorded: recorded[0]!, assistant, decoded: seen[1]! }
  })

/**
 * A part as JSON (fields left undefined dropped), to compare parts built in different ways; a
 * tool call's arguments as an object (the client keeps them parsed, the model streamed JSON).
 */
const json = (p: Messages.ModelResponsePart) =>
  JSON.parse(
    JSON.stringify(p._tag === "ToolCallPart" ? { ...p, args: p.argsAsObject() } : p)
  ) as unknown

const tags = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.map((m) => m.parts.map((p) => p._tag))

/** The decoded history is the run's (then the new prompt): each response's parts field for field. */
const assertSameHistory = (
  decoded: ReadonlyArray<Messages.ModelMessage>,
  recorded: ReadonlyArray<Messages.ModelMessage>
) => {
  assert.deepStrictEqual(tags(decoded), [...tags(recorded), ["UserPromptPart"]])
  const responses = (ms: ReadonlyArray<Messages.ModelMessage>) =>
    ms
      .filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")
      .map((r) => r.parts.map(json))
  assert.deepStrictEqual(responses(decoded), responses(recorded))
}

const hasToolReturn = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart") === true

/**
 * Reasons as OpenAI Responses does (a reasoning item with its id and no encrypted content, then
 * one with encrypted content and provider details) and calls `weather`; once answered, redacted
 * thinking (an opaque signature, no text) and the answer.
 */
const reasoningModel = F.scriptedModel("gpt-test", "openai", (messages) =>
  hasToolReturn(messages)
    ? {
        events: (m) => [
          m.thinkingDelta("t3", { signature: "opaque-3", redacted: true, providerName: "openai" }),
          m.textDelta("x", "Sunny.")
        ]
      }
    : {
        events: (m) => [
          m.thinkingDelta("t1", { id: "rs_1", content: "Plan the call.", providerName: "openai" }),
          m.thinkingDelta("t2", {
            id: "rs_2",
            content: "Paris.",
            signature: "enc-2",
            redacted: false,
            providerName: "openai",
            providerDetails: { summaryIndex: 1, status: "completed" }
          }),
          m.toolCallDelta("c", { toolName: "weather", toolCallId: "c1", args: '{"city":"Paris"}' })
        ]
      }
)

const returns = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) => m.parts.filter((p) => p._tag === "ToolReturnPart")).length

const weather = (toolCallId: string, city: string) => ({
  toolName: "weather",
  toolCallId,
  args: JSON.stringify({ city })
})

/**
 * A model that sends its tool calls whole, in its final response only (not started nor ended in
 * its stream): thinks and says so (streamed) with two calls; then one call and nothing streamed
 * at all; then the answer.
 */
const unstreamedCalls = F.scriptedModel("claude-test", "anthropic", (messages) => {
  switch (returns(messages)) {
    case 0:
      return {
        events: (m) => [
          m.thinkingDelta("t", { content: "Both cities.", signature: "s1" }),
          m.textDelta("x", "Checking both."),
          m.toolCallDelta("c1", weather("c1", "Paris")),
          m.toolCallDelta("c2", weather("c2", "Rome"))
        ],
        unstreamed: [2, 3]
      }
    case 2:
      return { events: (m) => [m.toolCallDelta("c3", weather("c3", "Oslo"))], unstreamed: [0] }
    default:
      return { events: (m) => [m.textDelta("x", "Sunny everywhere.")] }
  }
})

/**
 * Compacts the history (Anthropic: a readable summary) before it thinks and calls; then answers
 * and compacts as OpenAI does (opaque content with an id and details, no summary).
 */
const compacting = F.scriptedModel("claude-test", "anthropic", (messages) =>
  returns(messages) === 0
    ? {
        events: (m) => [
          m.part(
            "k",
            new Messages.CompactionPart({
              content: "Earlier: the user asked.",
              providerName: "anthropic"
            })
          ),
          m.thinkingDelta("t", { content: "Paris.", signature: "s1", providerName: "anthropic" }),
          m.toolCallDelta("c", weather("c1", "Paris"))
        ]
      }
    : {
        events: (m) => [
          m.textDelta("x", "Sunny."),
          m.part(
            "k",
            new Messages.CompactionPart({
              encryptedContent: "enc-k2",
              id: "cmp_2",
              providerName: "openai",
              providerDetails: { type: "compaction" }
            })
          )
        ]
      }
)

describe("a run's history through useChat and back", () => {
  it.scopedLive("thinking parts keep every field: id, signature, provider, redacted, details", () =>
    Effect.gen(function* () {
      const { recorded, assistant, decoded } = yield* roundTrip(
        Agent.make({ tools: [F.weather] }),
        reasoningModel
      )
      // what the client keeps: the fields in the reasoning parts' provider metadata
      const reasoning = assistant.parts.filter((p) => p.type === "reasoning")
      assert.deepStrictEqual(
        reasoning.map((p) => (p as { providerMetadata?: unknown }).providerMetadata),
        [
          { agentfx: { id: "rs_1", providerName: "openai" } },
          {
            agentfx: {
              id: "rs_2",
              signature: "enc-2",
              providerName: "openai",
              redacted: false,
              providerDetails: { summaryIndex: 1, status: "completed" }
            }
          },
          { agentfx: { signature: "opaque-3", providerName: "openai", redacted: true } }
        ]
      )
      assertSameHistory(decoded, recorded)
      const thinking = decoded.flatMap((m) => (m._tag === "ModelResponse" ? m.thinking : []))
      assert.deepStrictEqual(
        thinking.map((t) => [t.id, t.signature, t.redacted]),
        [
          ["rs_1", undefined, undefined],
          ["rs_2", "enc-2", false],
          [undefined, "opaque-3", true]
        ]
      )
    })
  )

  it.scopedLive("tool calls the model did not stream stay in their own response's step", () =>
    Effect.gen(function* () {
      const { recorded, assistant, decoded } = yield* roundTrip(
        Agent.make({ tools: [F.weather] }),
        unstreamedCalls
      )
      // the response of one unstreamed call is a step of its own
      assert.deepStrictEqual(
        assistant.parts.map((p) => (p.type === "tool-weather" ? p.toolCallId : p.type)),
        ["step-start", "reasoning", "text", "c1", "c2", "step-start", "c3", "step-start", "text"]
      )
      assertSameHistory(decoded, recorded)
    })
  )

  it.scopedLive("a provider's compaction comes back as itself, in its place", () =>
    Effect.gen(function* () {
      const { recorded, assistant, decoded } = yield* roundTrip(
        Agent.make({ tools: [F.weather] }),
        compacting
      )
      // data parts the client keeps in the message, in their place in the steps
      assert.deepStrictEqual(
        assistant.parts.map((p) => p.type),
        [
          "step-start",
          "data-agentfx-compaction",
          "reasoning",
          "tool-weather",
          "step-start",
          "text",
          "data-agentfx-compaction"
        ]
      )
      assert.deepStrictEqual(
        assistant.parts.flatMap((p) => (p.type === "data-agentfx-compaction" ? [p.data] : [])),
        [
          { providerName: "anthropic", content: "Earlier: the user asked." },
          {
            providerName: "openai",
            id: "cmp_2",
            providerDetails: { type: "compaction" },
            encryptedContent: "enc-k2"
          }
        ]
      )
      assertSameHistory(decoded, recorded)
    })
  )
})
