/**
 * The AI SDK UI message stream at its edges, checked the way a `useChat` client reads it: every
 * chunk against `ai`'s own chunk schema, the message `readUIMessageStream` builds, and the
 * history that message decodes back to.
 */
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { asSchema, uiMessageChunkSchema } from "ai"
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
})
