/**
 * The AI SDK UI message stream at its edges, checked the way a `useChat` client reads it: every
 * chunk against `ai`'s own chunk schema, the message `readUIMessageStream` builds, and the
 * history that message decodes back to.
 */
import { EventSchemas } from "@ag-ui/core/schemas"
import { Agent, AgentError, FunctionModel, Messages, Tool } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { asSchema, type UIMessage, uiMessageChunkSchema, validateUIMessages } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { readMessages } from "./client.js"
import * as F from "./fixtures.js"

/** Every chunk must pass `ai`'s own UI message chunk schema. */
const validate = (chunks: ReadonlyArray<UiStream.AiSdkChunk>) =>
  Effect.promise(async () => {
    const schema = asSchema(uiMessageChunkSchema)
    for (const c of chunks) {
      const r = await schema.validate!(c)
      assert.isTrue(r.success, `${JSON.stringify(c)} is not a UI message chunk`)
    }
  })

const collect = <E, R>(stream: Stream.Stream<UiStream.AiSdkChunk, E, R>) =>
  Stream.runCollect(stream).pipe(Effect.map(Chunk.toArray), Effect.tap(validate))

describe("UiStream.aiSdkChunks at the edges", () => {
  it.effect("data parts for the run's result come before finish, which is the last chunk", () =>
    Effect.gen(function* () {
      const options: UiStream.AiSdkOptions<string> = {
        messageMetadata: (r) => ({ requests: r.usage.requests }),
        dataParts: (e) =>
          e._tag === "AgentRunResultEvent"
            ? [UiStream.dataPart("usage", { requests: e.result.usage.requests }, { id: "u" })]
            : undefined
      }
      const out = yield* collect(
        UiStream.aiSdkChunks(F.textAgent.runStream("hi"), options).pipe(
          Stream.provideLayer(F.textModel)
        )
      )
      assert.deepStrictEqual(out.slice(-3), [
        { type: "finish-step" },
        { type: "data-usage", id: "u", data: { requests: 1 } },
        { type: "finish", messageMetadata: { requests: 1 } }
      ])
      const { seen, errors } = yield* readMessages(out)
      assert.deepStrictEqual(errors, [])
      assert.deepStrictEqual(seen.at(-1)?.parts.at(-1), {
        type: "data-usage",
        id: "u",
        data: { requests: 1 }
      } as never)
      // the SSE body: the same order, [DONE] after finish
      const bytes = yield* Stream.runCollect(
        UiStream.aiSdk(F.textAgent.runStream("hi"), options).pipe(Stream.provideLayer(F.textModel))
      )
      const text = Chunk.toArray(bytes)
        .map((b) => new TextDecoder().decode(b))
        .join("")
      assert.isTrue(
        text.endsWith(
          'data: {"type":"data-usage","id":"u","data":{"requests":1}}\n\n' +
            'data: {"type":"finish","messageMetadata":{"requests":1}}\n\ndata: [DONE]\n\n'
        ),
        text
      )
    })
  )

  it.effect(
    "events cut short before the result: open parts closed, an error event, onFinish runs",
    () =>
      Effect.gen(function* () {
        // a stream the app cut short (`Stream.take`, `interruptWhen`, a deadline…): no result
        const cut = F.textAgent
          .runStream("hi")
          .pipe(Stream.takeWhile((e) => e._tag !== "PartEndEvent"))
        let outcome: UiStream.Outcome<string> | undefined
        const out = yield* collect(
          UiStream.aiSdkChunks(cut, { onFinish: (o) => Effect.sync(() => (outcome = o)) }).pipe(
            Stream.provideLayer(F.textModel)
          )
        )
        assert.deepStrictEqual(out, [
          { type: "start" },
          { type: "start-step" },
          { type: "text-start", id: "text-1-0" },
          { type: "text-delta", id: "text-1-0", delta: "Hello" },
          { type: "text-delta", id: "text-1-0", delta: " world" },
          { type: "text-end", id: "text-1-0" },
          { type: "error", errorText: "The run was interrupted." }
        ])
        const { seen, errors } = yield* readMessages(out)
        assert.deepStrictEqual(errors, ["Error: The run was interrupted."])
        // the text the client shows is done, not left streaming
        assert.deepStrictEqual(seen.at(-1)?.parts.at(-1), {
          type: "text",
          text: "Hello world",
          state: "done"
        } as never)
        assert.strictEqual(outcome?._tag, "Failure")
        assert.strictEqual(
          outcome?._tag === "Failure" ? outcome.errorText : undefined,
          "The run was interrupted."
        )

        // AG-UI: the open message ends, then RUN_ERROR
        const events = yield* Stream.runCollect(
          UiStream.agUiEvents(cut, { threadId: "t", runId: "r" }).pipe(
            Stream.provideLayer(F.textModel)
          )
        )
        assert.deepStrictEqual(Chunk.toArray(events).slice(-2), [
          { type: "TEXT_MESSAGE_END", messageId: "r-text-1-0" },
          { type: "RUN_ERROR", message: "The run was interrupted." }
        ])
        // the SSE body still ends with [DONE]
        const bytes = yield* Stream.runCollect(
          UiStream.aiSdk(cut).pipe(Stream.provideLayer(F.textModel))
        )
        const text = Chunk.toArray(bytes)
          .map((b) => new TextDecoder().decode(b))
          .join("")
        assert.isTrue(
          text.endsWith(
            'data: {"type":"error","errorText":"The run was interrupted."}\n\ndata: [DONE]\n\n'
          ),
          text
        )
      })
  )
})

describe("UiStream.fromUiMessages at the edges", () => {
  it.effect("a file's data: URL with parameters (charset) is the file's bytes", () =>
    Effect.gen(function* () {
      const messages: Array<UIMessage> = [
        {
          id: "u1",
          role: "user",
          parts: [
            { type: "text", text: "Summarise" },
            {
              type: "file",
              mediaType: "text/plain",
              filename: "note.txt",
              url: "data:text/plain;charset=utf-8;base64,SGVsbG8gd29ybGQ="
            },
            {
              type: "file",
              mediaType: "text/csv",
              url: "data:text/csv;charset=utf-8,a%2Cb%0A1%2C2"
            }
          ]
        }
      ]
      yield* Effect.promise(() => validateUIMessages({ messages }))
      // decoded with the default (sanitizing) options: inline bytes are kept
      const history = yield* UiStream.fromUiMessages(messages)
      const content = (history[0]!.parts[0] as Messages.UserPromptPart)
        .content as ReadonlyArray<Messages.UserContent>
      assert.strictEqual(content.length, 3)
      const [note, csv] = content.slice(1) as Array<Messages.BinaryContent>
      assert.instanceOf(note, Messages.BinaryContent)
      assert.strictEqual(Buffer.from(note!.data).toString("utf8"), "Hello world")
      assert.strictEqual(note!.mediaType, "text/plain")
      assert.strictEqual(note!.identifier, "note.txt")
      assert.instanceOf(csv, Messages.BinaryContent)
      assert.strictEqual(Buffer.from(csv!.data).toString("utf8"), "a,b\n1,2")
    })
  )
})

/** A sub-agent whose model fails for good (HTTP 500) after a first word. */
const broken = Agent.make({
  name: "broken",
  model: FunctionModel.layer(undefined, {
    stream: () =>
      Stream.concat(
        Stream.make("Partial"),
        Stream.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "fn", body: "down" }))
      )
  })
})
/** Runs `broken` as a tool of its own. */
const middle = Agent.make({
  name: "middle",
  tools: [Agent.asTool(broken, { name: "ask_broken" })],
  model: FunctionModel.layer(undefined, {
    stream: () =>
      Stream.make({ 0: { name: "ask_broken", toolCallId: "call_b", jsonArgs: '{"prompt":"?"}' } })
  })
})
const top = Agent.make({ name: "top", tools: [Agent.asTool(middle, { name: "ask_middle" })] })
const topModel = FunctionModel.layer(undefined, {
  stream: () =>
    Stream.make({ 0: { name: "ask_middle", toolCallId: "call_m", jsonArgs: '{"prompt":"Go"}' } })
})
const errorText = "ModelHTTPError: HTTP 500 (model: fn), body: down"

describe("a run that fails while its calls wait", () => {
  it.effect("AI SDK: the waiting tool part ends in output-error (interrupted), then error", () =>
    Effect.gen(function* () {
      const out = yield* collect(
        UiStream.aiSdkChunks(top.runStream("Go")).pipe(Stream.provideLayer(topModel))
      )
      assert.deepStrictEqual(out.slice(-2), [
        {
          type: "tool-output-error",
          toolCallId: "call_m",
          errorText,
          toolMetadata: { outcome: "interrupted" }
        },
        { type: "error", errorText }
      ])
      const { seen, errors } = yield* readMessages(out)
      assert.deepStrictEqual(errors, [`Error: ${errorText}`])
      const message = seen.at(-1)!
      // not the sub-agent's half message as a (preliminary) output: the call failed
      assert.deepStrictEqual(message.parts.at(-1), {
        type: "tool-ask_middle",
        toolCallId: "call_m",
        state: "output-error",
        input: { prompt: "Go" },
        errorText,
        toolMetadata: { outcome: "interrupted" }
      } as never)
      // the next turn: ai accepts the conversation, the call is answered as interrupted
      const conversation: Array<UIMessage> = [
        { id: "u1", role: "user", parts: [{ type: "text", text: "Go" }] },
        { ...message, id: "a1" },
        { id: "u2", role: "user", parts: [{ type: "text", text: "Again?" }] }
      ]
      yield* Effect.promise(() => validateUIMessages({ messages: conversation }))
      const history = yield* UiStream.fromUiMessages(conversation)
      const ret = history[2]!.parts[0] as Messages.ToolReturnPart
      assert.instanceOf(ret, Messages.ToolReturnPart)
      assert.deepStrictEqual([ret.toolCallId, ret.outcome], ["call_m", "interrupted"])
    })
  )

  it.effect("AI SDK: a call whose arguments were streaming when the model failed ends too", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(undefined, {
        stream: () =>
          Stream.concat(
            Stream.make({ 0: { name: "weather", toolCallId: "c1", jsonArgs: '{"city":' } }),
            Stream.fail(
              new AgentError.ModelHTTPError({ status: 500, modelName: "fn", body: "down" })
            )
          )
      })
      const out = yield* collect(
        UiStream.aiSdkChunks(F.toolAgent.runStream("hi")).pipe(Stream.provideLayer(model))
      )
      assert.deepStrictEqual(
        out.map((c) => c.type),
        [
          "start",
          "start-step",
          "tool-input-start",
          "tool-input-delta",
          "tool-output-error",
          "error"
        ]
      )
      const { seen } = yield* readMessages(out)
      assert.strictEqual((seen.at(-1)!.parts.at(-1) as { state: string }).state, "output-error")
    })
  )

  it.effect("AG-UI: every sub-agent still running ends with SUBAGENT_ERROR before RUN_ERROR", () =>
    Effect.gen(function* () {
      const events = Chunk.toArray(
        yield* Stream.runCollect(
          UiStream.agUiEvents(top.runStream("Go"), { threadId: "t", runId: "r" }).pipe(
            Stream.provideLayer(topModel)
          )
        )
      )
      for (const e of events) {
        const parsed = EventSchemas.safeParse(e)
        assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
      }
      const inner = "r-agent-call_m-agent-call_b"
      assert.deepStrictEqual(
        events.filter((e) => e.type.startsWith("SUBAGENT") || e.type === "RUN_ERROR"),
        [
          {
            type: "SUBAGENT_STARTED",
            subagentRunId: "r-agent-call_m",
            name: "middle",
            parentToolCallId: "call_m"
          },
          {
            type: "SUBAGENT_STARTED",
            subagentRunId: inner,
            name: "broken",
            parentToolCallId: "call_b",
            parentSubagentRunId: "r-agent-call_m"
          },
          { type: "SUBAGENT_ERROR", subagentRunId: inner, message: errorText },
          { type: "SUBAGENT_ERROR", subagentRunId: "r-agent-call_m", message: errorText },
          {
            type: "RUN_ERROR",
            message: errorText,
            code: "ModelHTTPError",
            // the top agent's one response; the sub-agents never finished
            usage: [F.functionUsage(51, 5)]
          }
        ]
      )
    })
  )
})

describe("sendReasoning: false", () => {
  it.effect("hides a sub-agent's reasoning too (its preliminary message has none)", () =>
    Effect.gen(function* () {
      const thinker = Agent.make({ name: "thinker", model: F.reasoningModel })
      const parent = Agent.make({ tools: [Agent.asTool(thinker, { name: "ask_thinker" })] })
      const model = FunctionModel.layer(undefined, {
        stream: (messages) =>
          messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart")
            ? Stream.make("4.")
            : Stream.make({
                0: { name: "ask_thinker", toolCallId: "call_t", jsonArgs: '{"prompt":"2+2?"}' }
              })
      })
      const shown = yield* collect(
        UiStream.aiSdkChunks(parent.runStream("2+2?")).pipe(Stream.provideLayer(model))
      )
      // shown by default: the sub-agent's reasoning is in its preliminary message
      assert.include(JSON.stringify(shown), "Let me think.")
      const hidden = yield* collect(
        UiStream.aiSdkChunks(parent.runStream("2+2?"), { sendReasoning: false }).pipe(
          Stream.provideLayer(model)
        )
      )
      assert.notInclude(JSON.stringify(hidden), "Let me ")
      assert.notInclude(JSON.stringify(hidden), '"reasoning"')
      const preliminary = hidden.filter((c) => c.preliminary === true)
      assert.isAbove(preliminary.length, 0)
      assert.deepStrictEqual(
        (preliminary.at(-1)!.output as { parts: ReadonlyArray<unknown> }).parts,
        [{ type: "text", text: "It is 4.", state: "done" }]
      )
    })
  )
})

describe("a tool that returns files, through the client and back", () => {
  it.effect("the next turn sends the model the files, not their JSON", () =>
    Effect.gen(function* () {
      const png = new Messages.BinaryContent({
        data: new Uint8Array([137, 80, 78, 71]),
        mediaType: "image/png"
      })
      const chart = new Messages.ImageUrl({
        url: "https://example.com/chart.png",
        mediaType: "image/png"
      })
      const screenshot = Tool.make("screenshot", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed(png)
      })
      const charts = Tool.make("charts", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed(["Two charts:", chart, png])
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
      const out = yield* collect(
        UiStream.aiSdkChunks(agent.runStream("Show me"), {
          onFinish: (o) => Effect.sync(() => (recorded = o.messages))
        }).pipe(Stream.provideLayer(model))
      )
      // the client shows the file as a file
      assert.deepStrictEqual(
        out.find((c) => c.type === "tool-output-available" && c.toolCallId === "c1")?.output,
        { type: "file", mediaType: "image/png", url: "data:image/png;base64,iVBORw==" }
      )
      const { seen } = yield* readMessages(out)
      const history = yield* UiStream.fromUiMessages([
        { id: "u1", role: "user", parts: [{ type: "text", text: "Show me" }] },
        seen.at(-1)!,
        { id: "u2", role: "user", parts: [{ type: "text", text: "Thanks" }] }
      ])
      const returns = (ms: ReadonlyArray<Messages.ModelMessage>) =>
        ms.flatMap((m) =>
          m.parts.flatMap((p) => (p._tag === "ToolReturnPart" ? [[p.toolCallId, p.content]] : []))
        )
      // what the tools returned, as the run recorded it
      assert.deepStrictEqual(returns(history), returns(recorded))
      const [, first] = returns(history)[0]!
      assert.instanceOf(first, Messages.BinaryContent)
      assert.strictEqual(
        Messages.renderToolContent((history[2]!.parts[1] as Messages.ToolReturnPart).content),
        Messages.renderToolContent((recorded[2]!.parts[1] as Messages.ToolReturnPart).content)
      )
    })
  )
})
