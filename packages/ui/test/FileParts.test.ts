/**
 * A generated file (`Messages.FilePart`) in the UI protocols: the AI SDK `file` chunk (a `data:`
 * URL and its media type) that `ai`'s own schema and `readUIMessageStream` accept and that
 * `fromUiMessages` turns back into a FilePart, and AG-UI's `ACTIVITY_SNAPSHOT` (AG-UI assistant
 * messages hold text only), checked against `@ag-ui/core`'s schemas.
 */
import { EventSchemas } from "@ag-ui/core/schemas"
import { Agent, FunctionModel, Messages, OutputSpec } from "@agentfx/core"
import { ImageOutput, Output } from "@agentfx/output"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { asSchema, readUIMessageStream, type UIMessage, uiMessageChunkSchema } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { SubAgentView } from "../src/internal/aiSdk.js"

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 5])
const url = `data:image/png;base64,${Buffer.from(png).toString("base64")}`
const image = new Messages.FilePart({
  content: new Messages.BinaryContent({ data: png, mediaType: "image/png" }),
  id: "ig_1",
  providerName: "openai"
})

/** What the AG-UI activity of `image` holds. */
const activityContent = { url, mediaType: "image/png", id: "ig_1", providerName: "openai" }

/** Streams "Here:" then the image. */
const model = FunctionModel.layer(undefined, {
  stream: () => Stream.fromIterable<FunctionModel.StreamItem>(["Here:", image])
})
const agent = Agent.make({ output: Output.union([ImageOutput.make(), OutputSpec.text]) })

describe("FilePart in the AI SDK UI message stream", () => {
  it.effect("golden: a file chunk with the data URL, valid for ai; the message round-trips", () =>
    Effect.gen(function* () {
      const chunks = Chunk.toArray(
        yield* Stream.runCollect(UiStream.aiSdkChunks(agent.runStream("Draw"))).pipe(
          Effect.provide(model)
        )
      )
      assert.deepStrictEqual(chunks, [
        { type: "start" },
        { type: "start-step" },
        { type: "text-start", id: "text-1-0" },
        { type: "text-delta", id: "text-1-0", delta: "Here:" },
        {
          type: "file",
          url,
          mediaType: "image/png",
          providerMetadata: { agentfx: { id: "ig_1", providerName: "openai" } }
        },
        { type: "text-end", id: "text-1-0" },
        { type: "finish-step" },
        { type: "finish" }
      ])
      const schema = asSchema(uiMessageChunkSchema)
      for (const c of chunks) {
        const r = yield* Effect.promise(async () => schema.validate!(c))
        assert.isTrue(r.success, `${JSON.stringify(c)} is not a UI message chunk`)
      }
      // ai builds the assistant message with a file part
      const message = yield* Effect.promise(async () => {
        const stream = new ReadableStream({
          start(controller) {
            for (const c of chunks) controller.enqueue(c)
            controller.close()
          }
        })
        let last: UIMessage | undefined
        for await (const m of readUIMessageStream<UIMessage>({ stream: stream as any })) last = m
        return JSON.parse(JSON.stringify(last)) as UIMessage
      })
      const file = message.parts.find((p) => p.type === "file") as Record<string, unknown>
      assert.strictEqual(file.url, url)
      assert.strictEqual(file.mediaType, "image/png")
      // and the conversation comes back as history with the FilePart in the response
      const history = yield* UiStream.fromUiMessages(
        [{ id: "u1", role: "user", parts: [{ type: "text", text: "Draw" }] }, message],
        { history: "trusted" }
      )
      const response = history[1] as Messages.ModelResponse
      assert.deepStrictEqual(
        response.parts.map((p) => p._tag),
        ["TextPart", "FilePart"]
      )
      assert.deepStrictEqual(response.parts[1], image)
    })
  )

  it("a sub-agent's file shows in its preliminary message as a file part", () => {
    const view = new SubAgentView("call-1", "painter")
    view.apply(new Messages.PartStartEvent({ index: 0, part: image }))
    assert.deepStrictEqual(view.message().parts, [
      {
        type: "file",
        url,
        mediaType: "image/png",
        providerMetadata: { agentfx: { id: "ig_1", providerName: "openai" } }
      }
    ])
  })
})

describe("FilePart in AG-UI", () => {
  it.effect("golden: an ACTIVITY_SNAPSHOT of activity type agentfx_file", () =>
    Effect.gen(function* () {
      const events = Chunk.toArray(
        yield* Stream.runCollect(
          UiStream.agUiEvents(agent.runStream("Draw"), { threadId: "t1", runId: "r1" })
        ).pipe(Effect.provide(model))
      )
      for (const e of events) {
        const parsed = EventSchemas.safeParse(e)
        assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
      }
      assert.deepStrictEqual(events.slice(0, -1), [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-1-0",
          role: "assistant",
          metadata: { agentfx: { position: { response: "r1-1", index: 0 } } }
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-0", delta: "Here:" },
        {
          type: "ACTIVITY_SNAPSHOT",
          messageId: "r1-file-1-1",
          activityType: UiStream.agUiFileActivityType,
          // its place in the response in the content, which a client keeps
          content: { ...activityContent, position: { response: "r1-1", index: 1 } }
        },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-1-0" }
      ])
      assert.strictEqual(events.at(-1)!.type, "RUN_FINISHED")
    })
  )

  it.effect("an agentfx_file activity message comes back as the response's FilePart", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromAgUiMessages(
        [
          { id: "u1", role: "user", content: "Draw" },
          { id: "a1", role: "assistant", content: "Here:" },
          {
            id: "f1",
            role: "activity",
            activityType: UiStream.agUiFileActivityType,
            content: activityContent
          },
          // other activities are the application's, not history
          { id: "x1", role: "activity", activityType: "progress", content: { step: 2 } }
        ],
        { history: "trusted" }
      )
      assert.strictEqual(history.length, 2)
      const response = history[1] as Messages.ModelResponse
      assert.deepStrictEqual(
        response.parts.map((p) => p._tag),
        ["TextPart", "FilePart"]
      )
      assert.deepStrictEqual(response.parts[1], image)
    })
  )
})
