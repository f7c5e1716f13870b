/**
 * The AI SDK UI message stream at its edges, checked the way a `useChat` client reads it: every
 * chunk against `ai`'s own chunk schema, the message `readUIMessageStream` builds, and the
 * history that message decodes back to.
 */
import { Messages } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { asSchema, type UIMessage, uiMessageChunkSchema, validateUIMessages } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
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
