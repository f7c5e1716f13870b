/**
 * Run by `Memory.test.ts` in a child process (`node --expose-gc`): batches of N concurrent agent
 * runs over OpenAI Chat against a loopback server in this process, a full GC after each batch,
 * and one JSON line on stdout: the heap used after the baseline GC and after each batch.
 *
 *   node --expose-gc --conditions=@agentfx/source --import tsx heapBatches.ts <N> <batches> [connections]
 *
 * `connections` caps undici's sockets to the server (a production set-up holding thousands of
 * runs at once does the same: one process here holds both ends of every socket, so 10,000
 * uncapped sockets would need 20,000 file descriptors). Without it, undici's default (no cap).
 */
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Agent } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Undici from "undici"
import * as OpenAiChat from "../../src/OpenAiChat.js"
import * as OpenAiClient from "../../src/OpenAiClient.js"

const n = Number(process.argv[2] ?? 1000)
const batches = Number(process.argv[3] ?? 3)
const connections = process.argv[4] === undefined ? undefined : Number(process.argv[4])
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

const answer = JSON.stringify({
  id: "c1",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hello" } }],
  usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }
})
let served = 0
const server = Http.createServer((req, res) => {
  req.resume()
  req.on("end", () => {
    served++
    res.writeHead(200, { "content-type": "application/json" })
    res.end(answer)
  })
})
// The client closes idle connections first (undici: 4 s), never the server under a request
// being sent on a reused socket (an ECONNRESET race on a loaded machine).
server.keepAliveTimeout = 120_000
await new Promise<void>((resolve) =>
  server.listen({ port: 0, host: "127.0.0.1", backlog: 65535 }, resolve)
)
const { port } = server.address() as AddressInfo

const layer = OpenAiChat.model("gpt-4o").pipe(
  Layer.provide(
    OpenAiClient.layer({
      baseUrl: `http://127.0.0.1:${port}/v1`,
      apiKey: Redacted.make("sk-test-heap"),
      retry: false
    })
  ),
  Layer.provide(
    connections === undefined
      ? NodeHttpClient.layerUndici
      : NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
          Layer.provide(
            Layer.scoped(
              NodeHttpClient.Dispatcher,
              Effect.acquireRelease(
                Effect.sync(() => new Undici.Agent({ connections })),
                (agent) => Effect.promise(() => agent.destroy())
              )
            )
          )
        )
  )
)
const runtime = ManagedRuntime.make(layer)
const agent = Agent.make({ instructions: "Be brief." })

const settle = async () => {
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  return process.memoryUsage().heapUsed
}

await runtime.runPromise(Effect.void)
const baseline = await settle()
const after: Array<number> = []
let failed = 0
const reasons: Record<string, number> = {}
for (let b = 0; b < batches; b++) {
  const results = await runtime.runPromise(
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      (i) => Effect.either(agent.run(`question ${i}`)),
      { concurrency: "unbounded" }
    )
  )
  for (const r of results) {
    if (r._tag === "Right" && r.right.output === "Hello") continue
    failed++
    const reason =
      r._tag === "Left" ? String((r.left as Error).message).slice(0, 120) : "wrong output"
    reasons[reason] = (reasons[reason] ?? 0) + 1
  }
  after.push(await settle())
}
await runtime.dispose()
server.close()
server.closeAllConnections()
process.stdout.write(
  `${JSON.stringify({ n, batches, served, failed, reasons, baseline, after })}\n`
)
