/**
 * chat-app — an `@effect/platform` HTTP server streaming an agent's answers to a web page,
 * with message history.
 *
 * Open the printed URL, type, and watch the answer stream in; each turn sends the conversation
 * so far (`result.allMessagesJson()`) back with the next prompt, so the agent remembers.
 * The server and the page are in `lib/chatApp.ts`; the browser test in
 * `examples/test/chat-app.test.ts` drives the page in headless Chromium.
 *
 * Run: pnpm tsx --conditions=@agentfx/source examples/src/chat-app.ts   (serves until Ctrl-C;
 *      PORT=8000 to choose the port)
 *  or: pnpm --filter @agentfx/examples chat-app
 * With `--smoke` (or AGENTFX_OFFLINE=1, as in `node examples/smoke.mjs`), it starts, chats
 * twice with itself over loopback, prints what streamed back, and exits.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { scriptedChat, serve } from "./lib/chatApp.js"
import { pickModel } from "./lib/pickModel.js"

/** One turn, as the web page does it: post, print deltas as they arrive, keep the history. */
const chat = (url: string, prompt: string, history: string | null) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const request = yield* HttpClientRequest.post(`${url}/chat`).pipe(
      HttpClientRequest.bodyJson({ prompt, history })
    )
    let next: string | null = null
    yield* Console.log(`> ${prompt}`)
    yield* client.execute(request).pipe(
      Effect.map((response) => response.stream),
      Stream.unwrapScoped,
      Stream.decodeText(),
      Stream.splitLines,
      Stream.runForEach((line) =>
        Effect.sync(() => {
          const item = JSON.parse(line) as { delta?: string; history?: string; error?: string }
          if (item.delta !== undefined) process.stdout.write(item.delta)
          if (item.history !== undefined) next = item.history
          if (item.error !== undefined) process.stdout.write(`\n[error] ${item.error}`)
        })
      )
    )
    process.stdout.write("\n")
    return next
  })

const program = Effect.gen(function* () {
  const model = yield* pickModel(scriptedChat())
  yield* Console.log(`model: ${model.description}`)
  const smoke = process.argv.includes("--smoke") || process.env.AGENTFX_OFFLINE === "1"
  const url = yield* serve({
    model: model.layer,
    port: smoke ? 0 : Number(process.env.PORT ?? 8000)
  })
  if (!smoke) {
    yield* Console.log(`chat app on ${url} (Ctrl-C to stop)`)
    return yield* Effect.never
  }
  yield* Console.log(`serving on ${url}`)
  const history = yield* chat(url, "Hi, I'm Ada.", null)
  yield* chat(url, "What did I just tell you?", history)
}).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))

NodeRuntime.runMain(program)
