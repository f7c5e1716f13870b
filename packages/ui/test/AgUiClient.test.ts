/**
 * AG-UI from the client's side: the messages an AG-UI client (`@ag-ui/client` 1.0's
 * `defaultApplyEvents`, what `HttpAgent` runs) builds from our events, and what they decode back
 * to on the next turn. The client groups tool calls by `TOOL_CALL_START.parentMessageId` (without
 * one, every call becomes an assistant message of its own, its result right after it, and a
 * response's parallel calls come back as sequential ones); it keeps a sub-agent's events as
 * messages marked with their `subagentRunId`, which are not the parent's conversation.
 */
import { EventSchemas, RunAgentInputSchema } from "@ag-ui/core/schemas"
import { Agent, FunctionModel, Messages, Tool } from "@agentfx/core"
import { TextOutput } from "@agentfx/output"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as F from "./fixtures.js"

/** Thinks, says it will check, calls `weather` and `clock` in the same response, then answers. */
const checkModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart")
      ? Stream.make("Sunny at noon.")
      : Stream.make(
          { 0: { content: "The user wants both." } },
          "Let me check.",
          { 2: { name: "weather", toolCallId: "c1", jsonArgs: '{"city":' } },
          { 2: { jsonArgs: '"Paris"}' } },
          { 3: { name: "clock", toolCallId: "c2", jsonArgs: '{"city":"Paris"}' } }
        )
})

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

const run = <A>(
  events: Stream.Stream<UiStream.AgUiEvent, never, never>
): Effect.Effect<ReadonlyArray<UiStream.AgUiEvent>> =>
  Effect.map(Stream.runCollect(events), (out) => {
    const list = Chunk.toArray(out)
    for (const e of list) {
      const parsed = EventSchemas.safeParse(e)
      assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
    }
    return list as ReadonlyArray<UiStream.AgUiEvent> & A[]
  })

describe("AG-UI: what a client builds from the events decodes back to the run", () => {
  it.effect("a response's text and parallel tool calls are one assistant message", () =>
    Effect.gen(function* () {
      let recorded: ReadonlyArray<Messages.ModelMessage> = []
      const events = yield* run(
        UiStream.agUiEvents(F.toolAgent.runStream("Weather and time?"), {
          threadId: "t1",
          runId: "r1",
          onFinish: (o) => Effect.sync(() => (recorded = o.messages))
        }).pipe(Stream.provideLayer(checkModel))
      )
      // both calls name the response's text message as their parent
      assert.deepStrictEqual(
        events
          .filter((e) => e.type === "TOOL_CALL_START")
          .map((e) => [e.toolCallId, e.parentMessageId]),
        [
          ["c1", "r1-text-1-1"],
          ["c2", "r1-text-1-1"]
        ]
      )
      assert.deepStrictEqual(
        events.filter((e) => e.type === "TEXT_MESSAGE_START").map((e) => e.messageId),
        ["r1-text-1-1", "r1-text-2-0"]
      )

      // The messages @ag-ui/client 1.0 keeps for these events (`agent.messages` after the run):
      // the tool calls join their parent message, each result follows the message holding its
      // call, the reasoning is a message of its own.
      const messages = [
        { id: "u1", role: "user", content: "Weather and time?" },
        { id: "r1-reasoning-1-0", role: "reasoning", content: "The user wants both." },
        {
          id: "r1-text-1-1",
          role: "assistant",
          content: "Let me check.",
          toolCalls: [
            {
              id: "c1",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Paris"}' }
            },
            {
              id: "c2",
              type: "function",
              function: { name: "clock", arguments: '{"city":"Paris"}' }
            }
          ]
        },
        {
          id: "r1-result-c1",
          role: "tool",
          toolCallId: "c1",
          content: '{"city":"Paris","sky":"sunny"}'
        },
        { id: "r1-result-c2", role: "tool", toolCallId: "c2", content: "12:00 in Paris" },
        { id: "r1-text-2-0", role: "assistant", content: "Sunny at noon." }
      ]
      const history = yield* UiStream.fromAgUiMessages(messages)
      // the run's history, its reasoning included (the start of the response it belongs to)
      assert.deepStrictEqual(shape(history), shape(recorded))
      assert.deepStrictEqual(shape(history), [
        ["UserPromptPart Weather and time?"],
        ["ThinkingPart", "TextPart Let me check.", "ToolCallPart c1", "ToolCallPart c2"],
        ["ToolReturnPart c1", "ToolReturnPart c2"],
        ["TextPart Sunny at noon."]
      ])
    })
  )

  it.effect("a response of tool calls only has one parent message per response", () =>
    Effect.gen(function* () {
      const events = yield* run(
        UiStream.agUiEvents(F.toolAgent.runStream("hi"), { threadId: "t1", runId: "r1" }).pipe(
          Stream.provideLayer(F.parallelToolsModel)
        )
      )
      const parents = events
        .filter((e) => e.type === "TOOL_CALL_START")
        .map((e) => e.parentMessageId)
      assert.deepStrictEqual(parents, ["r1-message-1", "r1-message-1"])
      // not the id of any other message of the run
      const ids = events.flatMap((e) => (typeof e.messageId === "string" ? [e.messageId] : []))
      assert.notInclude(ids, "r1-message-1")
    })
  )

  it.effect("a sub-agent's tool calls name the sub-agent's own message", () =>
    Effect.gen(function* () {
      const events = yield* run(
        UiStream.agUiEvents(F.leadParent.runStream("Go"), { threadId: "t1", runId: "r1" }).pipe(
          Stream.provideLayer(F.leadParentModel)
        )
      )
      assert.deepStrictEqual(
        events
          .filter((e) => e.type === "TOOL_CALL_START")
          .map((e) => [e.toolCallId, e.parentMessageId, e.subagentRunId]),
        [
          ["call_l", "r1-message-1", undefined],
          ["call_w", "r1-agent-call_l-message-1", "r1-agent-call_l"],
          ["call_n", "r1-agent-call_l-message-1", "r1-agent-call_l"]
        ]
      )
    })
  )

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

  it.effect("a response kept as two assistant messages (text, then its tool calls) is one", () =>
    Effect.gen(function* () {
      // what a client builds from events without parentMessageId
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "Weather?" },
        { id: "m1", role: "assistant", content: "Let me check." },
        {
          id: "c1",
          role: "assistant",
          toolCalls: [
            {
              id: "c1",
              type: "function",
              function: { name: "weather", arguments: '{"city":"Paris"}' }
            }
          ]
        },
        { id: "t1", role: "tool", toolCallId: "c1", content: "sunny" },
        { id: "m2", role: "assistant", content: "Sunny." }
      ])
      assert.deepStrictEqual(shape(history), [
        ["UserPromptPart Weather?"],
        ["TextPart Let me check.", "ToolCallPart c1"],
        ["ToolReturnPart c1"],
        ["TextPart Sunny."]
      ])
    })
  )
})

describe("AG-UI: media content parts of RunAgentInput messages", () => {
  const png = Buffer.from([137, 80, 78, 71]).toString("base64")
  const input = {
    threadId: "t1",
    runId: "r2",
    state: {},
    tools: [],
    context: [],
    forwardedProps: {},
    messages: [
      {
        id: "u1",
        role: "user",
        content: [
          { type: "text", text: "What is in these?" },
          { type: "image", source: { type: "data", value: png, mimeType: "image/png" } },
          {
            type: "document",
            source: { type: "url", value: "https://example.com/a.pdf", mimeType: "application/pdf" }
          },
          {
            type: "document",
            source: { type: "url", value: "data:text/plain;charset=utf-8;base64,SGk=" }
          },
          { type: "image", source: { type: "url", value: "http://intranet/x.png" } }
        ]
      },
      {
        id: "a1",
        role: "assistant",
        toolCalls: [{ id: "c1", type: "function", function: { name: "snap", arguments: "{}" } }]
      },
      {
        id: "t1",
        role: "tool",
        toolCallId: "c1",
        content: [
          { type: "text", text: "the screen:" },
          { type: "image", source: { type: "data", value: png, mimeType: "image/png" } }
        ]
      }
    ]
  }

  it.effect("a user's images and documents reach the history (sanitized), in order", () =>
    Effect.gen(function* () {
      // the shapes of @ag-ui/core 1.0's own RunAgentInput
      assert.isTrue(RunAgentInputSchema.safeParse(input).success)
      const decoded = yield* UiStream.decodeAgUiInput(input)
      const prompt = decoded.messages[0]!.parts[0] as Messages.UserPromptPart
      assert.instanceOf(prompt, Messages.UserPromptPart)
      const content = prompt.content as ReadonlyArray<Messages.UserContent>
      assert.isArray(content)
      // the http image is dropped by the default sanitizer (https only); the rest stays in order
      assert.strictEqual(content.length, 4)
      assert.strictEqual(content[0], "What is in these?")
      const image = content[1] as Messages.BinaryContent
      assert.instanceOf(image, Messages.BinaryContent)
      assert.strictEqual(image.mediaType, "image/png")
      assert.deepStrictEqual([...image.data], [137, 80, 78, 71])
      const pdf = content[2] as Messages.DocumentUrl
      assert.instanceOf(pdf, Messages.DocumentUrl)
      assert.deepStrictEqual(
        [pdf.url, pdf.mediaType],
        ["https://example.com/a.pdf", "application/pdf"]
      )
      const note = content[3] as Messages.BinaryContent
      assert.instanceOf(note, Messages.BinaryContent)
      assert.strictEqual(note.mediaType, "text/plain")
      assert.strictEqual(Buffer.from(note.data).toString("utf8"), "Hi")
      // trusted: the http image is kept, as an ImageUrl
      const trusted = yield* UiStream.fromAgUiMessages(input.messages, { history: "trusted" })
      const all = (trusted[0]!.parts[0] as Messages.UserPromptPart)
        .content as ReadonlyArray<Messages.UserContent>
      assert.instanceOf(all[4], Messages.ImageUrl)
    })
  )

  it.effect("a content part of a type it does not know is left out", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromAgUiMessages([
        {
          id: "u1",
          role: "user",
          content: [
            { type: "text", text: "hi" },
            { type: "toString", source: { type: "url", value: "https://example.com/x" } },
            { type: "constructor", source: { type: "data", value: "AA==", mimeType: "x/y" } }
          ]
        }
      ])
      assert.strictEqual((history[0]!.parts[0] as Messages.UserPromptPart).content, "hi")
    })
  )

  it.effect("a tool message with content parts decodes to the tool's text and files", () =>
    Effect.gen(function* () {
      const decoded = yield* UiStream.decodeAgUiInput(input)
      const ret = decoded.messages.at(-1)!.parts[0] as Messages.ToolReturnPart
      assert.instanceOf(ret, Messages.ToolReturnPart)
      assert.strictEqual(ret.toolName, "snap")
      const content = ret.content as ReadonlyArray<unknown>
      assert.strictEqual(content[0], "the screen:")
      assert.instanceOf(content[1], Messages.BinaryContent)
      // text-only parts stay one string
      const plain = yield* UiStream.fromAgUiMessages([
        input.messages[1],
        { id: "t2", role: "tool", toolCallId: "c1", content: [{ type: "text", text: "done" }] }
      ])
      assert.strictEqual((plain.at(-1)!.parts[0] as Messages.ToolReturnPart).content, "done")
    })
  )
})

describe("AG-UI: a tool that returns files", () => {
  it.effect("TOOL_CALL_RESULT carries the files as content parts, which decode back", () =>
    Effect.gen(function* () {
      const png = new Messages.BinaryContent({
        data: new Uint8Array([137, 80, 78, 71]),
        mediaType: "image/png"
      })
      const chart = new Messages.ImageUrl({ url: "https://example.com/chart.png" })
      const screenshot = Tool.make("screenshot", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed(png)
      })
      const charts = Tool.make("charts", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed(["Two charts:", chart, { rows: 2 }])
      })
      const agent = Agent.make({ tools: [screenshot, charts] })
      const model = FunctionModel.layer(undefined, {
        stream: (messages) =>
          messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart")
            ? Stream.make("Here.")
            : Stream.make(
                { 0: { name: "screenshot", toolCallId: "c1", jsonArgs: "{}" } },
                { 1: { name: "charts", toolCallId: "c2", jsonArgs: "{}" } }
              )
      })
      let recorded: ReadonlyArray<Messages.ModelMessage> = []
      const events = yield* run(
        UiStream.agUiEvents(agent.runStream("Show me"), {
          threadId: "t1",
          runId: "r1",
          onFinish: (o) => Effect.sync(() => (recorded = o.messages))
        }).pipe(Stream.provideLayer(model))
      )
      const results = events.filter((e) => e.type === "TOOL_CALL_RESULT")
      assert.deepStrictEqual(
        results.map((e) => e.content),
        [
          [{ type: "image", source: { type: "data", value: "iVBORw==", mimeType: "image/png" } }],
          [
            { type: "text", text: "Two charts:" },
            { type: "image", source: { type: "url", value: "https://example.com/chart.png" } },
            { type: "text", text: '{"rows":2}' }
          ]
        ]
      )
      // the client keeps each result as a tool message with the event's content
      const messages = [
        { id: "u1", role: "user", content: "Show me" },
        {
          id: "r1-message-1",
          role: "assistant",
          toolCalls: [
            { id: "c1", type: "function", function: { name: "screenshot", arguments: "{}" } },
            { id: "c2", type: "function", function: { name: "charts", arguments: "{}" } }
          ]
        },
        ...results.map((e) => ({
          id: e.messageId,
          role: "tool",
          toolCallId: e.toolCallId,
          content: e.content
        }))
      ]
      const history = yield* UiStream.fromAgUiMessages(messages)
      const [first, second] = history[2]!.parts as [
        Messages.ToolReturnPart,
        Messages.ToolReturnPart
      ]
      assert.deepStrictEqual([first.toolName, second.toolName], ["screenshot", "charts"])
      // the image itself, as the tool returned it
      assert.deepStrictEqual(
        [first.content],
        [(recorded[2]!.parts[0] as Messages.ToolReturnPart).content]
      )
      const items = second.content as ReadonlyArray<unknown>
      assert.strictEqual(items[0], "Two charts:")
      assert.instanceOf(items[1], Messages.ImageUrl)
      assert.strictEqual((items[1] as Messages.ImageUrl).url, "https://example.com/chart.png")
    })
  )
})

describe("AG-UI: stateEvents", () => {
  it.effect("is asked after a sub-agent's events too (the run's SubAgentEvents)", () =>
    Effect.gen(function* () {
      const events = yield* run(
        UiStream.agUiEvents(F.parentAgent.runStream("Otters?"), {
          threadId: "t1",
          runId: "r1",
          stateEvents: (e) =>
            e._tag === "SubAgentEvent" && e.event._tag === "AgentRunResultEvent"
              ? [UiStream.stateSnapshot({ researched: e.agentName })]
              : undefined
        }).pipe(Stream.provideLayer(F.parentModel))
      )
      const types = events.map((e) => e.type)
      const snapshot = types.indexOf("STATE_SNAPSHOT")
      assert.isAbove(snapshot, types.indexOf("SUBAGENT_FINISHED"))
      assert.deepStrictEqual(events[snapshot], {
        type: "STATE_SNAPSHOT",
        snapshot: { researched: "researcher" }
      })
      // the parent's own state event, not the sub-agent's: no subagentRunId
      assert.isUndefined(events[snapshot]!.subagentRunId)
    })
  )
})

describe("AG-UI: a run whose output is null", () => {
  it.effect("RUN_FINISHED and SUBAGENT_FINISHED have no result (AG-UI has no null result)", () =>
    Effect.gen(function* () {
      // "find it, or null": the output of a run, and of a sub-agent
      const finder = Agent.make({ name: "finder", output: TextOutput.make(() => null) })
      const top = Agent.make({
        name: "top",
        tools: [Agent.asTool(finder, { name: "ask_finder" })],
        output: TextOutput.make(() => null)
      })
      const model = FunctionModel.layer(undefined, {
        stream: (messages) =>
          messages.length === 1
            ? Stream.make({
                0: { name: "ask_finder", toolCallId: "call_f", jsonArgs: '{"prompt":"?"}' }
              })
            : Stream.make("Nothing.")
      })
      const events = yield* run(
        UiStream.agUiEvents(top.runStream("Find it"), { threadId: "t1", runId: "r1" }).pipe(
          Stream.provideLayer(model)
        )
      )
      assert.deepStrictEqual(events.at(-1), {
        type: "RUN_FINISHED",
        threadId: "t1",
        runId: "r1",
        usage: [F.functionUsage(220, 24)]
      })
      assert.deepStrictEqual(
        events.find((e) => e.type === "SUBAGENT_FINISHED"),
        { type: "SUBAGENT_FINISHED", subagentRunId: "r1-agent-call_f" }
      )
    })
  )
})
