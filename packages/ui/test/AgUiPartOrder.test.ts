/**
 * A response's parts keep their order through AG-UI: a client keeps a response in several
 * messages (each thinking part as a reasoning message, the text and tool calls in assistant
 * messages, each tool result right after the message holding its call), so interleaved thinking
 * (thinking, call, thinking, call, text) comes back out of order and across the tool results. The
 * encoder gives every part its position (response and index) where the client keeps it, and the
 * decoder puts the parts back in that order — Anthropic checks the order of thinking blocks.
 */
import { EventSchemas, RunAgentInputSchema } from "@ag-ui/core/schemas"
import { Agent, Messages } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Model } from "@agentfx/core"
import { clientMessages } from "./agUiClient.js"
import * as F from "./fixtures.js"

/** How many tool results the conversation holds: which response a scripted model gives. */
const returns = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) => m.parts.filter((p) => p._tag === "ToolReturnPart")).length

const weather = (toolCallId: string, city: string) => ({
  toolName: "weather",
  toolCallId,
  args: JSON.stringify({ city })
})

/**
 * Two interleaved responses in a row (thinking, call, thinking, call, text; then thinking, call,
 * thinking, text), then an answer.
 */
const interleaved = F.scriptedModel("claude-test", "anthropic", (messages) => {
  switch (returns(messages)) {
    case 0:
      return {
        events: (m) => [
          m.thinkingDelta("t1", {
            content: "Paris first.",
            signature: "s1",
            providerName: "anthropic",
            providerDetails: { effort: "high" }
          }),
          m.toolCallDelta("c1", weather("c1", "Paris")),
          m.thinkingDelta("t2", { content: "Then Rome.", signature: "s2" }),
          m.toolCallDelta("c2", weather("c2", "Rome")),
          m.textDelta("x", "Checking both.")
        ]
      }
    case 2:
      return {
        events: (m) => [
          m.thinkingDelta("t3", { signature: "s3", redacted: true, id: "th_3" }),
          m.toolCallDelta("c3", weather("c3", "Oslo")),
          m.thinkingDelta("t4", { content: "Oslo too.", signature: "s4" }),
          m.textDelta("x", "And Oslo.")
        ]
      }
    default:
      return { events: (m) => [m.textDelta("x", "Sunny everywhere.")] }
  }
})

/**
 * `interleaved`'s first response from a model that sends its tool calls whole, in its final
 * response only (the thinking and text stream, the calls are not started nor ended), then a
 * response of one call that streams nothing at all, then the answer.
 */
const unstreamedCalls = F.scriptedModel("claude-test", "anthropic", (messages) => {
  switch (returns(messages)) {
    case 0:
      return {
        events: (m) => [
          m.thinkingDelta("t1", { content: "Paris first.", signature: "s1" }),
          m.toolCallDelta("c1", weather("c1", "Paris")),
          m.thinkingDelta("t2", { content: "Then Rome.", signature: "s2" }),
          m.toolCallDelta("c2", weather("c2", "Rome")),
          m.textDelta("x", "Checking both.")
        ],
        unstreamed: [1, 3]
      }
    case 2:
      return { events: (m) => [m.toolCallDelta("c3", weather("c3", "Oslo"))], unstreamed: [0] }
    default:
      return { events: (m) => [m.textDelta("x", "Sunny everywhere.")] }
  }
})

/**
 * Compacts the history (Anthropic: a readable summary) before it thinks and calls; then compacts
 * again as OpenAI does (opaque content with an id and details, no summary) and answers.
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
          m.thinkingDelta("t", { content: "Paris.", signature: "s1" }),
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

/** Says it will look, thinks, then calls (thinking after text); then answers. */
const thinksAfterText = F.scriptedModel("claude-test", "anthropic", (messages) =>
  returns(messages) === 0
    ? {
        events: (m) => [
          m.textDelta("x", "Let me look."),
          m.thinkingDelta("t", { content: "Paris it is.", signature: "s1" }),
          m.toolCallDelta("c", weather("c1", "Paris"))
        ]
      }
    : { events: (m) => [m.textDelta("x", "Sunny.")] }
)

/**
 * Says it will search, thinks, searches (a built-in tool, with its return), thinks again, draws,
 * then says so.
 */
const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 7])
const withBuiltins = F.scriptedModel("claude-test", "anthropic", () => ({
  events: (m) => [
    m.textDelta("x", "Searching."),
    m.thinkingDelta("t1", { content: "Search.", signature: "s1" }),
    m.toolCallDelta("search", {
      toolName: "web_search",
      toolCallId: "srvtoolu_1",
      args: '{"query":"otters"}',
      providerName: "anthropic",
      builtin: true
    }),
    m.endPart("search"),
    m.part(
      "result",
      new Messages.BuiltinToolReturnPart({
        toolName: "web_search",
        toolCallId: "srvtoolu_1",
        providerName: "anthropic",
        content: [{ url: "https://example.com/otters", title: "Otters" }]
      })
    ),
    m.thinkingDelta("t2", { content: "Draw them.", signature: "s2" }),
    m.part(
      "file",
      new Messages.FilePart({
        content: new Messages.BinaryContent({ data: png, mediaType: "image/png" })
      })
    ),
    m.textDelta("y", "Otters, drawn.")
  ]
}))

/** A part as JSON (fields left undefined dropped), to compare parts built in different ways. */
const json = (p: unknown) => JSON.parse(JSON.stringify(p)) as unknown

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")

const tags = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.map((m) => m.parts.map((p) => p._tag))

/**
 * Runs the agent over AG-UI (every event checked against `@ag-ui/core`'s schemas), keeps what a
 * client keeps of the events, and posts it back: the run's messages, the client's, the decoded.
 */
const roundTrip = (model: Layer.Layer<Model.Model>, tools = [F.weather]) =>
  Effect.gen(function* () {
    let recorded: ReadonlyArray<Messages.ModelMessage> = []
    const events = Chunk.toArray(
      yield* Stream.runCollect(
        UiStream.agUiEvents(Agent.make({ tools }).runStream("Weather?"), {
          threadId: "t1",
          runId: "r1",
          onFinish: (o) => Effect.sync(() => (recorded = o.messages))
        }).pipe(Stream.provideLayer(model))
      )
    )
    for (const e of events) {
      const parsed = EventSchemas.safeParse(e)
      assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
    }
    const messages = clientMessages(events, [{ id: "u1", role: "user", content: "Weather?" }])
    const input = { threadId: "t1", runId: "r2", state: {}, messages, tools: [], context: [] }
    const parsed = RunAgentInputSchema.safeParse(input)
    assert.isTrue(parsed.success, parsed.error?.message)
    const decoded = (yield* UiStream.decodeAgUiInput(input)).messages
    return { recorded, messages, decoded }
  })

/** The decoded history is the run's: the same messages, each response's parts field for field. */
const assertSameHistory = (
  decoded: ReadonlyArray<Messages.ModelMessage>,
  recorded: ReadonlyArray<Messages.ModelMessage>
) => {
  assert.deepStrictEqual(tags(decoded), tags(recorded))
  assert.deepStrictEqual(
    responses(decoded).map((r) => json(r.parts)),
    responses(recorded).map((r) => json(r.parts))
  )
}

describe("AG-UI: a response's parts in their order", () => {
  it.effect("thinking, call, thinking, call, text — twice in a row — come back as they were", () =>
    Effect.gen(function* () {
      const { recorded, messages, decoded } = yield* roundTrip(interleaved)
      // the client's thread: each response's later thinking and text after its tool results
      assert.deepStrictEqual(
        messages.map((m) => m.id),
        [
          "u1",
          "r1-reasoning-1-0",
          "r1-message-1",
          "r1-result-c1",
          "r1-result-c2",
          "r1-reasoning-1-2",
          "r1-text-1-4",
          "r1-reasoning-2-0",
          "r1-message-2",
          "r1-result-c3",
          "r1-reasoning-2-2",
          "r1-text-2-3",
          "r1-text-3-0"
        ]
      )
      assert.deepStrictEqual(tags(decoded), [
        ["UserPromptPart"],
        ["ThinkingPart", "ToolCallPart", "ThinkingPart", "ToolCallPart", "TextPart"],
        ["ToolReturnPart", "ToolReturnPart"],
        ["ThinkingPart", "ToolCallPart", "ThinkingPart", "TextPart"],
        ["ToolReturnPart"],
        ["TextPart"]
      ])
      assertSameHistory(decoded, recorded)
    })
  )

  it.effect("a provider's compaction comes back as itself, in its place", () =>
    Effect.gen(function* () {
      const { recorded, messages, decoded } = yield* roundTrip(compacting)
      // a reasoning message: the summary as its text, the opaque content as its encrypted value
      const kept = messages.filter(
        (m) => m.id === "r1-compaction-1-0" || m.id === "r1-compaction-2-1"
      )
      assert.deepStrictEqual(kept, [
        {
          id: "r1-compaction-1-0",
          role: "reasoning",
          content: "Earlier: the user asked.",
          metadata: {
            agentfx: {
              position: { response: "r1-1", index: 0 },
              compaction: true,
              providerName: "anthropic"
            }
          }
        },
        {
          id: "r1-compaction-2-1",
          role: "reasoning",
          content: "",
          metadata: {
            agentfx: {
              position: { response: "r1-2", index: 1 },
              compaction: true,
              providerName: "openai",
              id: "cmp_2",
              providerDetails: { type: "compaction" }
            }
          },
          encryptedValue: "enc-k2"
        }
      ])
      assert.deepStrictEqual(tags(decoded), [
        ["UserPromptPart"],
        ["CompactionPart", "ThinkingPart", "ToolCallPart"],
        ["ToolReturnPart"],
        ["TextPart", "CompactionPart"]
      ])
      assertSameHistory(decoded, recorded)
    })
  )

  it.effect("tool calls the model did not stream keep their response and their place", () =>
    Effect.gen(function* () {
      const { recorded, messages, decoded } = yield* roundTrip(unstreamedCalls)
      // announced by their tool events only: each with its response and index
      const calls = messages.flatMap(
        (m) => (m.toolCalls ?? []) as Array<{ id: string; metadata?: unknown }>
      )
      assert.deepStrictEqual(
        calls.map((c) => [c.id, c.metadata]),
        [
          ["c1", F.at("r1-1", 1)],
          ["c2", F.at("r1-1", 3)],
          ["c3", F.at("r1-2", 0)]
        ]
      )
      assert.deepStrictEqual(tags(decoded), [
        ["UserPromptPart"],
        ["ThinkingPart", "ToolCallPart", "ThinkingPart", "ToolCallPart", "TextPart"],
        ["ToolReturnPart", "ToolReturnPart"],
        ["ToolCallPart"],
        ["ToolReturnPart"],
        ["TextPart"]
      ])
      assertSameHistory(decoded, recorded)
    })
  )

  it.effect("thinking after text stays after it, in its own response", () =>
    Effect.gen(function* () {
      const { recorded, messages, decoded } = yield* roundTrip(thinksAfterText)
      // the call joins the text's message; its result comes before the reasoning message
      assert.deepStrictEqual(
        messages.map((m) => [m.role, m.id]),
        [
          ["user", "u1"],
          ["assistant", "r1-text-1-0"],
          ["tool", "r1-result-c1"],
          ["reasoning", "r1-reasoning-1-1"],
          ["assistant", "r1-text-2-0"]
        ]
      )
      assert.deepStrictEqual(tags(decoded), [
        ["UserPromptPart"],
        ["TextPart", "ThinkingPart", "ToolCallPart"],
        ["ToolReturnPart"],
        ["TextPart"]
      ])
      assertSameHistory(decoded, recorded)
    })
  )

  it.effect("built-in calls and their returns, and files, keep their places too", () =>
    Effect.gen(function* () {
      const { recorded, decoded } = yield* roundTrip(withBuiltins, [])
      assert.deepStrictEqual(tags(decoded), [
        ["UserPromptPart"],
        [
          "TextPart",
          "ThinkingPart",
          "BuiltinToolCallPart",
          "BuiltinToolReturnPart",
          "ThinkingPart",
          "FilePart",
          "TextPart"
        ]
      ])
      assertSameHistory(decoded, recorded)
    })
  )

  it.effect("without every part's position (an older client), the order of the messages", () =>
    Effect.gen(function* () {
      const { messages } = yield* roundTrip(interleaved)
      // one tool call lost its position: the response is in the order the client kept it
      const c2 = (messages[2]!.toolCalls as Array<{ metadata?: unknown }>)[1]!
      delete c2.metadata
      const history = yield* UiStream.fromAgUiMessages(messages)
      assert.deepStrictEqual(tags(history)[1], [
        "ThinkingPart",
        "ToolCallPart",
        "ToolCallPart",
        "ThinkingPart",
        "TextPart"
      ])
      // messages written by hand: the thinking first, as the client kept it
      const byHand = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Weather?" },
        { id: "r1", role: "reasoning", content: "Paris first.", encryptedValue: "s1" },
        { id: "r2", role: "reasoning", content: "Then Rome.", encryptedValue: "s2" },
        {
          id: "a1",
          role: "assistant",
          content: "Checking both.",
          toolCalls: [
            { id: "c1", type: "function", function: { name: "weather", arguments: "{}" } },
            { id: "c2", type: "function", function: { name: "weather", arguments: "{}" } }
          ]
        }
      ])
      assert.deepStrictEqual(tags(byHand), [
        ["UserPromptPart"],
        ["ThinkingPart", "ThinkingPart", "TextPart", "ToolCallPart", "ToolCallPart"]
      ])
    })
  )

  it.effect("positions written by hand: text in two messages, a sub-agent's message left out", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Go" },
        // a sub-agent's thinking, whatever its position says, is not this agent's
        {
          id: "s1",
          role: "reasoning",
          content: "Mine.",
          subagentRunId: "r1-agent-c1",
          metadata: F.at("r1-1", 0)
        },
        { id: "a1", role: "assistant", content: "Hel", metadata: F.at("r1-1", 2) },
        { id: "a2", role: "assistant", content: "lo.", metadata: F.at("r1-1", 2) },
        { id: "r1", role: "reasoning", content: "Hmm.", metadata: F.at("r1-1", 1) },
        // another response's part, right after: a response of its own
        { id: "r2", role: "reasoning", content: "Next.", metadata: F.at("r1-2", 0) }
      ])
      assert.deepStrictEqual(
        history.map((m) => m.parts.map((p) => (p as { content: unknown }).content)),
        [["Go"], ["Hmm.", "Hel", "lo."], ["Next."]]
      )
    })
  )
})
