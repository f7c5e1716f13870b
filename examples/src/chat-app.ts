/**
 * chat-app — an `@effect/platform` HTTP server streaming an agent's answers to a web page in the
 * AI SDK UI message stream protocol (what `useChat` of `ai` 6 reads), with message history and
 * a tool.
 *
 * Open the printed URL, type, and watch the answer stream in ("weather in Paris" calls the
 * weather tool, shown in the page with its input and output; "search the web for otters" shows a
 * built-in search the provider runs itself; "ask the researcher why otters hold hands" shows a
 * sub-agent's answer while it streams). The page keeps the conversation
 * as UI messages and posts all of them with every turn; the server (`UiStream.aiSdkHandler`)
 * decodes them into agentfx history, so the agent remembers. The server and the page are in
 * `lib/chatApp.ts`; the browser test in `examples/test/chat-app.test.ts` drives the page in
 * headless Chromium.
 *
 * Run: pnpm tsx --conditions=@agentfx/source examples/src/chat-app.ts   (serves until Ctrl-C;
 *      PORT=8000 to choose the port)
 *  or: pnpm --filter @agentfx/examples chat-app
 * With `--smoke` (or AGENTFX_OFFLINE=1, as in `node examples/smoke.mjs`), it starts, chats
 * twice with itself over loopback (as `useChat` would), prints what streamed back, and exits.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { scriptedChat, serve } from "./lib/chatApp.js"
import { pickModel } from "./lib/pickModel.js"

/** A UI message as `useChat` keeps it (only the parts this client builds). */
interface UiMessage {
  readonly id: string
  readonly role: "user" | "assistant"
  readonly parts: Array<Record<string, unknown>>
}

/** One turn, as `useChat` does it: post the conversation, apply the streamed chunks. */
const chat = (url: string, messages: Array<UiMessage>, prompt: string) =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    messages.push({
      id: `u${messages.length}`,
      role: "user",
      parts: [{ type: "text", text: prompt }]
    })
    const request = yield* HttpClientRequest.post(`${url}/api/chat`).pipe(
      HttpClientRequest.bodyJson({ id: "smoke", messages, trigger: "submit-message" })
    )
    const answer: UiMessage = { id: `a${messages.length}`, role: "assistant", parts: [] }
    const open = new Map<string, Record<string, unknown>>()
    yield* Console.log(`> ${prompt}`)
    yield* client.execute(request).pipe(
      Effect.map((response) => response.stream),
      Stream.unwrapScoped,
      Stream.decodeText(),
      Stream.splitLines,
      Stream.filter((line) => line.startsWith("data: ") && line !== "data: [DONE]"),
      Stream.runForEach((line) =>
        Effect.sync(() => {
          const c = JSON.parse(line.slice(6)) as Record<string, any>
          switch (c.type) {
            case "start-step":
              answer.parts.push({ type: "step-start" })
              break
            case "text-start": {
              const part = { type: "text", text: "" }
              answer.parts.push(part)
              open.set(c.id, part)
              break
            }
            case "text-delta":
              open.get(c.id)!.text += c.delta
              process.stdout.write(c.delta)
              break
            case "tool-input-available":
              answer.parts.push({
                type: `tool-${c.toolName}`,
                toolCallId: c.toolCallId,
                state: "input-available",
                input: c.input
              })
              process.stdout.write(`[${c.toolName}(${JSON.stringify(c.input)})`)
              break
            case "tool-output-available": {
              const part = answer.parts.find((p) => p.toolCallId === c.toolCallId)!
              part.state = "output-available"
              part.output = c.output
              process.stdout.write(` → ${JSON.stringify(c.output)}]\n`)
              break
            }
            case "error":
              process.stdout.write(`\n[error] ${c.errorText}`)
              break
          }
        })
      )
    )
    messages.push(answer)
    process.stdout.write("\n")
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
  const messages: Array<UiMessage> = []
  yield* chat(url, messages, "Hi, I'm Ada.")
  yield* chat(url, messages, "What's the weather in Paris?")
}).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))

NodeRuntime.runMain(program)
