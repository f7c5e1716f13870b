/**
 * What a client does with our output, shared by the UI tests: `ai`'s own `readUIMessageStream`
 * over a list of chunks, one `useChat` turn through `ai`'s own transport, and a chat request the
 * client abandons mid-answer.
 */
import { FunctionModel, type Model } from "@agentfx/core"
import type { UiStream } from "@agentfx/ui"
import { assert } from "@effect/vitest"
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from "ai"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"

/** Every message `readUIMessageStream` yields for these chunks (JSON copies), and its errors. */
export const readMessages = (chunks: ReadonlyArray<UiStream.AiSdkChunk>) =>
  Effect.promise(async () => {
    const errors: Array<string> = []
    const seen: Array<UIMessage> = []
    for await (const m of readUIMessageStream<UIMessage>({
      stream: new ReadableStream({
        start(controller) {
          for (const c of chunks) controller.enqueue(c as never)
          controller.close()
        }
      }),
      onError: (e) => errors.push(String(e))
    })) {
      seen.push(JSON.parse(JSON.stringify(m)) as UIMessage)
    }
    return { seen, errors }
  })

/**
 * Runs one `useChat` turn through `ai`'s `DefaultChatTransport` (which validates every chunk
 * against its schema) posting to `${url}/api/chat`, and returns the final assistant message as
 * the client would post it back (JSON), and the errors the client reported.
 */
export const chatTurn = (url: string, messages: Array<UIMessage>) =>
  Effect.promise(async () => {
    const transport = new DefaultChatTransport<UIMessage>({ api: `${url}/api/chat` })
    const stream = await transport.sendMessages({
      trigger: "submit-message",
      chatId: "chat-1",
      messageId: undefined,
      messages,
      abortSignal: undefined
    })
    const errors: Array<string> = []
    let last: UIMessage | undefined
    for await (const message of readUIMessageStream<UIMessage>({
      stream,
      terminateOnError: false,
      onError: (e) => errors.push(e instanceof Error ? e.message : String(e))
    })) {
      last = message
    }
    // as the client would post it: JSON (drops the keys ai leaves undefined)
    const message = last === undefined ? undefined : (JSON.parse(JSON.stringify(last)) as UIMessage)
    return { message, errors }
  }).pipe(Effect.timeout("10 seconds"))

/**
 * Posts one `useChat` turn ("hi") to `${url}/api/chat`, reads the answer until it holds
 * `until`, then goes away (aborts); the text read so far.
 */
export const postThenAbort = (url: string, until: string) =>
  Effect.promise(async () => {
    const abort = new AbortController()
    const response = await fetch(`${url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({
        messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] }]
      }),
      signal: abort.signal
    })
    const reader = response.body!.getReader()
    let text = ""
    while (!text.includes(until)) {
      const { value } = await reader.read()
      text += new TextDecoder().decode(value)
    }
    abort.abort()
    return text
  })

/** Waits (polling, at most 10 s) until `done()` holds. */
export const waitUntil = (done: () => boolean) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 10_000
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  })

/**
 * The disconnect check shared by the handler tests: a model that streams "first " and then never
 * ends, served by `serveWith`; a client reads "first " and goes away, and the model's stream must
 * be closed (the run interrupted).
 */
export const assertDisconnectClosesModel = <E, R>(
  serveWith: (model: Context.Context<Model.Model>) => Effect.Effect<string, E, R>
) =>
  Effect.gen(function* () {
    let closed = false
    const model = yield* Layer.build(
      FunctionModel.layer(undefined, {
        stream: () =>
          Stream.concat(Stream.make("first "), Stream.never).pipe(
            Stream.ensuring(Effect.sync(() => (closed = true)))
          )
      })
    )
    const url = yield* serveWith(model)
    const first = yield* postThenAbort(url, "first ")
    assert.include(first, '"delta":"first "')
    yield* waitUntil(() => closed)
    assert.isTrue(closed, "the model stream was closed when the client went away")
  })
