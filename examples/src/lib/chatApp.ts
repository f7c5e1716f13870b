/**
 * The chat app of `chat-app.ts`, as a library so tests can start it in process.
 *
 * - `GET /` serves a small page (inline JS) that posts each prompt with the conversation so far.
 * - `POST /chat` takes `{ prompt, history? }` (`history` = the JSON of `result.allMessagesJson()`
 *   from the previous turn) and streams newline-delimited JSON: `{"delta": "..."}` for each text
 *   delta as the model produces it, then `{"history": "..."}` (the whole conversation, for the
 *   next turn) or `{"error": "..."}`. The server keeps no state: the page holds the history.
 */
import { Agent, FunctionModel, Messages, type Model } from "@agentfx/core"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as Scripted from "./scripted.js"

/** The chat agent: plain text answers. */
export const chatAgent = Agent.make({
  name: "chat",
  instructions: "You are a friendly assistant. Keep answers short."
})

/** The scripted chat model: it answers from the prompt and proves it saw the history. */
export const scriptedChat = (options: Scripted.Options = { delay: "15 millis" }) =>
  Scripted.make(
    "chat",
    (messages) => {
      const prompts = Scripted.userPrompts(messages)
      const current = prompts.at(-1) ?? ""
      const earlier = prompts.slice(0, -1)
      return FunctionModel.text(
        earlier.length === 0
          ? `Hello! You said: "${current}". This is the first message of our chat.`
          : `You said: "${current}". Before that you said ${earlier.map((p) => `"${p}"`).join(", ")}, so this is message ${prompts.length} of our chat.`
      )
    },
    options
  )

/** The body of `POST /chat`. */
export const ChatRequest = Schema.Struct({
  prompt: Schema.String.pipe(Schema.minLength(1)),
  history: Schema.optional(Schema.NullOr(Schema.String))
})

const encoder = new TextEncoder()
const line = (value: unknown) => `${JSON.stringify(value)}\n`

/** The answer to one prompt as NDJSON bytes: deltas, then the history (or an error). */
export const answerStream = (
  prompt: string,
  history: ReadonlyArray<Messages.ModelMessage>
): Stream.Stream<Uint8Array, never, Model.Model> =>
  chatAgent.runStream(prompt, { messageHistory: history }).pipe(
    // one write per network chunk of the model, not per event
    Stream.mapChunks((events) => {
      let out = ""
      for (const e of events) {
        if (e._tag === "PartStartEvent" && e.part._tag === "TextPart" && e.part.content !== "") {
          out += line({ delta: e.part.content })
        } else if (e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta") {
          out += line({ delta: e.delta.contentDelta })
        } else if (e._tag === "AgentRunResultEvent") {
          out += line({ history: e.result.allMessagesJson() })
        }
      }
      return out === "" ? Chunk.empty() : Chunk.of(encoder.encode(out))
    }),
    Stream.catchAll((error) =>
      Stream.succeed(encoder.encode(line({ error: `${error._tag}: ${error.message}` })))
    )
  )

/** The web page: a form, the conversation, and a little JS that reads the NDJSON stream. */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agentfx chat</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  .msg { white-space: pre-wrap; padding: .5rem .75rem; border-radius: .5rem; margin: .5rem 0; }
  .user { background: #e8f0fe; }
  .model { background: #f1f3f4; }
  .error { background: #fde8e8; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; }
</style>
</head>
<body>
<h1>agentfx chat</h1>
<div id="conversation"></div>
<form id="form">
  <input id="prompt" name="prompt" autocomplete="off" placeholder="Ask something" autofocus>
  <button id="send" type="submit">Send</button>
</form>
<script>
  const conversation = document.getElementById("conversation")
  const form = document.getElementById("form")
  const input = document.getElementById("prompt")
  const send = document.getElementById("send")
  let history = null // the JSON of every message so far, as returned by the server

  const bubble = (cls, text) => {
    const div = document.createElement("div")
    div.className = "msg " + cls
    div.textContent = text
    conversation.appendChild(div)
    return div
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const prompt = input.value.trim()
    if (prompt === "") return
    input.value = ""
    send.disabled = true
    bubble("user", prompt)
    const answer = bubble("model", "")
    answer.dataset.deltas = "0"
    try {
      const response = await fetch("/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt, history })
      })
      if (!response.ok) throw new Error(await response.text())
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      let buffer = ""
      const handle = (text) => {
        if (text.trim() === "") return
        const item = JSON.parse(text)
        if (item.delta !== undefined) {
          answer.textContent += item.delta
          answer.dataset.deltas = String(Number(answer.dataset.deltas) + 1)
        } else if (item.history !== undefined) {
          history = item.history
        } else if (item.error !== undefined) {
          answer.className = "msg error"
          answer.textContent += "\\n" + item.error
        }
      }
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        let nl
        while ((nl = buffer.indexOf("\\n")) >= 0) {
          handle(buffer.slice(0, nl))
          buffer = buffer.slice(nl + 1)
        }
      }
      handle(buffer)
    } catch (error) {
      answer.className = "msg error"
      answer.textContent = String(error)
    } finally {
      answer.dataset.done = "true"
      send.disabled = false
      input.focus()
    }
  })
</script>
</body>
</html>
`

/** The routes; they need a `Model`. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", Effect.succeed(HttpServerResponse.html(pageHtml))),
  HttpRouter.post(
    "/chat",
    Effect.gen(function* () {
      const body = yield* HttpServerRequest.schemaBodyJson(ChatRequest)
      const history =
        body.history === undefined || body.history === null
          ? []
          : yield* Messages.decodeJson(body.history)
      const model = yield* Effect.context<Model.Model>()
      return HttpServerResponse.stream(
        answerStream(body.prompt, history).pipe(Stream.provideContext(model)),
        { contentType: "application/x-ndjson", headers: { "cache-control": "no-cache" } }
      )
    }).pipe(
      Effect.catchTags({
        ParseError: (e) => HttpServerResponse.text(`bad request: ${e.message}`, { status: 400 }),
        RequestError: () => HttpServerResponse.text("bad request", { status: 400 })
      })
    )
  )
)

/** Options of `serve`. */
export interface ServeOptions {
  readonly model: Layer.Layer<Model.Model>
  /** 0 (default) picks a free port. */
  readonly port?: number
}

/**
 * Starts the server on 127.0.0.1 for the lifetime of the scope and returns its URL.
 */
export const serve = (options: ServeOptions): Effect.Effect<string, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const model = yield* Layer.build(options.model)
    const server = yield* NodeHttpServer.make(() => createServer(), {
      port: options.port ?? 0,
      host: "127.0.0.1"
    })
    yield* server.serve(router.pipe(Effect.provide(model)))
    const address = server.address
    return address._tag === "TcpAddress"
      ? `http://127.0.0.1:${address.port}`
      : `unix:${address.path}`
  })
