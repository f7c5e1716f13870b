/**
 * UI messages → agentfx history: what `useChat` posts decodes into the conversation the run
 * recorded (reasoning signatures, failed tools vs retry prompts), user files become file
 * content, and bad input fails with a `UiMessageError` naming the path.
 */
import { Messages } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Agent, Model } from "@agentfx/core"
import * as F from "./fixtures.js"

/** Runs the agent, feeds our chunks to ai's `readUIMessageStream`, returns the UI message and the run's messages. */
const roundTrip = <A>(agent: Agent.Agent<A, never, Model.Model>, model: Layer.Layer<Model.Model>) =>
  Effect.gen(function* () {
    let recorded: ReadonlyArray<Messages.ModelMessage> = []
    const chunks = yield* Stream.runCollect(
      UiStream.aiSdkChunks(agent.runStream("go"), {
        onFinish: (o) => Effect.sync(() => (recorded = o.messages))
      })
    ).pipe(Effect.provide(model))
    const message = yield* Effect.promise(async () => {
      const stream = new ReadableStream<UIMessageChunk>({
        start(controller) {
          for (const c of Chunk.toArray(chunks)) controller.enqueue(c as UIMessageChunk)
          controller.close()
        }
      })
      let last: UIMessage | undefined
      for await (const m of readUIMessageStream<UIMessage>({ stream, terminateOnError: true })) {
        last = m
      }
      return JSON.parse(JSON.stringify(last)) as UIMessage
    })
    return { message, recorded }
  })

/** A conversation a browser could post: a system message, files by data / https / other URLs. */
const clientMessages = [
  { id: "s", role: "system", parts: [{ type: "text", text: "Be brief." }] },
  {
    id: "u1",
    role: "user",
    parts: [
      { type: "text", text: "What is in these?" },
      {
        type: "file",
        mediaType: "image/png",
        url: "data:image/png;base64,AQID",
        filename: "a.png"
      },
      { type: "file", mediaType: "image/jpeg", url: "https://example.com/cat.jpg" },
      { type: "file", mediaType: "application/pdf", url: "https://example.com/doc.pdf" },
      { type: "file", mediaType: "audio/wav", url: "https://example.com/a.wav" },
      { type: "data-note", data: { ignored: true } }
    ]
  },
  {
    id: "a1",
    role: "assistant",
    parts: [
      { type: "step-start" },
      { type: "text", text: "A cat and a document." },
      {
        type: "dynamic-tool",
        toolName: "lookup",
        toolCallId: "t1",
        state: "input-available",
        input: { q: "cat" }
      }
    ]
  }
]

describe("UiStream.fromUiMessages", () => {
  it.effect("reasoning keeps its signature through the client and back", () =>
    Effect.gen(function* () {
      const { message, recorded } = yield* roundTrip(F.textAgent, F.reasoningModel)
      const history = yield* UiStream.fromUiMessages([
        { id: "u", role: "user", parts: [{ type: "text", text: "go" }] },
        message
      ])
      const response = history[1] as Messages.ModelResponse
      const original = recorded[1] as Messages.ModelResponse
      assert.strictEqual(response._tag, "ModelResponse")
      const thinking = response.thinking[0]!
      assert.strictEqual(thinking.content, "Let me think.")
      assert.strictEqual(thinking.signature, "sig-1")
      assert.strictEqual(thinking.providerName, "function")
      assert.strictEqual(thinking.signature, original.thinking[0]!.signature)
      assert.strictEqual(response.text, "It is 4.")
    })
  )

  it.effect("a failed tool comes back as a failed return, a retry prompt as a retry prompt", () =>
    Effect.gen(function* () {
      const { message, recorded } = yield* roundTrip(F.failuresAgent, F.failuresModel)
      const history = yield* UiStream.fromUiMessages([
        { id: "u", role: "user", parts: [{ type: "text", text: "go" }] },
        message
      ])
      const returns = (history[2] as Messages.ModelRequest).parts
      const original = (recorded[2] as Messages.ModelRequest).parts
      assert.deepStrictEqual(
        returns.map((p) => p._tag),
        original.map((p) => p._tag)
      )
      const failed = returns[0] as Messages.ToolReturnPart
      assert.strictEqual(failed._tag, "ToolReturnPart")
      assert.strictEqual(failed.outcome, "failed")
      assert.strictEqual(failed.content, "the service is down")
      assert.strictEqual(failed.toolCallId, "call_b")
      const retry = returns[1] as Messages.RetryPromptPart
      assert.strictEqual(retry._tag, "RetryPromptPart")
      assert.strictEqual(retry.toolName, "flaky")
      assert.strictEqual(retry.toolCallId, "call_f")
      assert.strictEqual(retry.content, "n must be at least 1")
      assert.strictEqual((history[3] as Messages.ModelResponse).text, "Sorry.")
    })
  )

  it.effect("user text and files; system text joins the next request; data parts are skipped", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromUiMessages(clientMessages, { history: "trusted" })
      assert.strictEqual(history.length, 2)
      const request = history[0] as Messages.ModelRequest
      assert.deepStrictEqual(
        request.parts.map((p) => p._tag),
        ["SystemPromptPart", "UserPromptPart"]
      )
      assert.strictEqual((request.parts[0] as Messages.SystemPromptPart).content, "Be brief.")
      const content = (request.parts[1] as Messages.UserPromptPart)
        .content as ReadonlyArray<Messages.UserContent>
      assert.strictEqual(content[0], "What is in these?")
      const bytes = content[1] as Messages.BinaryContent
      assert.strictEqual(bytes._tag, "BinaryContent")
      assert.deepStrictEqual([...bytes.data], [1, 2, 3])
      assert.strictEqual(bytes.mediaType, "image/png")
      assert.strictEqual(bytes.identifier, "a.png")
      assert.deepStrictEqual(
        content
          .slice(2)
          .map((c) => (typeof c === "string" ? c : [c._tag, (c as Messages.ImageUrl).url])),
        [
          ["ImageUrl", "https://example.com/cat.jpg"],
          ["DocumentUrl", "https://example.com/doc.pdf"],
          ["AudioUrl", "https://example.com/a.wav"]
        ]
      )
      assert.strictEqual(content.length, 5)
      // an unanswered call stays a call (the run's history repair answers it)
      const response = history[1] as Messages.ModelResponse
      assert.strictEqual(response.text, "A cat and a document.")
      assert.strictEqual(response.toolCalls[0]!.toolName, "lookup")
      assert.deepStrictEqual(response.toolCalls[0]!.args, { q: "cat" })
      // the history is a valid agentfx conversation (JSON round trip)
      const back = yield* Messages.decodeJson(Messages.encodeJson(history))
      assert.strictEqual(back.length, 2)
    })
  )

  it.effect("by default the client's history is sanitized: no system text, https files only", () =>
    Effect.gen(function* () {
      const untrusted = [
        ...clientMessages,
        {
          id: "u2",
          role: "user",
          parts: [
            { type: "text", text: "And these?" },
            { type: "file", mediaType: "text/plain", url: "file:///etc/passwd" },
            { type: "file", mediaType: "image/png", url: "http://169.254.169.254/latest" }
          ]
        }
      ]
      for (const history of [
        yield* UiStream.fromUiMessages(untrusted),
        (yield* UiStream.decodeAiSdkRequest({ id: "c", messages: untrusted })).messages
      ]) {
        assert.deepStrictEqual(
          history.map((m) => m.parts.map((p) => p._tag)),
          [["UserPromptPart"], ["TextPart", "ToolCallPart"], ["UserPromptPart"]]
        )
        const first = (history[0]!.parts[0] as Messages.UserPromptPart)
          .content as ReadonlyArray<Messages.UserContent>
        assert.deepStrictEqual(
          first.map((c) => (typeof c === "string" ? c : c._tag)),
          ["What is in these?", "BinaryContent", "ImageUrl", "DocumentUrl", "AudioUrl"]
        )
        assert.deepStrictEqual((history[2]!.parts[0] as Messages.UserPromptPart).content, [
          "And these?"
        ])
      }
      // Sanitize options keep what the server allows.
      const allowHttp = yield* UiStream.fromUiMessages(untrusted, {
        history: { allowedUrlSchemes: ["https", "http"], keepSystemPrompts: true }
      })
      assert.strictEqual(allowHttp[0]!.parts[0]!._tag, "SystemPromptPart")
      assert.deepStrictEqual(
        (
          (allowHttp[2]!.parts[0] as Messages.UserPromptPart)
            .content as ReadonlyArray<Messages.UserContent>
        ).map((c) => (typeof c === "string" ? c : (c as Messages.ImageUrl).url)),
        ["And these?", "http://169.254.169.254/latest"]
      )
    })
  )

  it.effect("a single text part is a plain string prompt", () =>
    Effect.gen(function* () {
      const history = yield* UiStream.fromUiMessages([
        { id: "u", role: "user", parts: [{ type: "text", text: "Hi" }] }
      ])
      assert.strictEqual(
        ((history[0] as Messages.ModelRequest).parts[0] as Messages.UserPromptPart).content,
        "Hi"
      )
    })
  )

  it.effect("bad input fails with UiMessageError naming where", () =>
    Effect.gen(function* () {
      const notArray = yield* Effect.flip(UiStream.fromUiMessages({ messages: 1 }))
      assert.strictEqual(notArray._tag, "UiMessageError")
      assert.strictEqual(notArray.path, "messages")
      const badPart = yield* Effect.flip(
        UiStream.fromUiMessages([
          { id: "u", role: "user", parts: [{ type: "text", text: "ok" }] },
          {
            id: "a",
            role: "assistant",
            parts: [{ type: "tool-x", toolCallId: "c", state: "bogus" }]
          }
        ])
      )
      assert.strictEqual(badPart.path, "messages[1].parts[0]")
      assert.include(badPart.message, "Invalid UI messages at messages[1].parts[0]")
      assert.include(badPart.reason, "state")
      // a compaction that cannot go back to its provider
      const badCompaction = yield* Effect.flip(
        UiStream.fromUiMessages([
          { id: "u", role: "user", parts: [{ type: "text", text: "ok" }] },
          {
            id: "a",
            role: "assistant",
            parts: [{ type: "data-agentfx-compaction", data: { content: "Summary." } }]
          }
        ])
      )
      assert.strictEqual(badCompaction.path, "messages[1].parts[0].data")
      assert.include(badCompaction.reason, "providerName")
      const badRole = yield* Effect.flip(
        UiStream.decodeAiSdkRequest({ messages: [{ id: "u", role: "robot", parts: [] }] })
      )
      assert.strictEqual(badRole.path, "messages[0]")
      const notObject = yield* Effect.flip(UiStream.decodeAiSdkRequest("hello"))
      assert.strictEqual(notObject.path, "body")
    })
  )

  it.effect("decodeAiSdkRequest keeps the chat id, trigger and extra body fields", () =>
    Effect.gen(function* () {
      const request = yield* UiStream.decodeAiSdkRequest({
        id: "chat-9",
        trigger: "submit-message",
        messages: [{ id: "u", role: "user", parts: [{ type: "text", text: "Hi" }] }],
        temperature: 0.2
      })
      assert.strictEqual(request.id, "chat-9")
      assert.strictEqual(request.trigger, "submit-message")
      assert.strictEqual(request.body.temperature, 0.2)
      assert.strictEqual(request.messages.length, 1)
    })
  )
})
