#!/usr/bin/env node
// Retained heap per run in flight (not part of the benchmark; needs `pnpm build`): starts N runs
// whose model never answers, forces GC, and prints the heap growth per run.
//   node --expose-gc bench/retained.mjs [--n 2000] [--http]
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, Model } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"

const args = process.argv.slice(2)
const N = Number(args.includes("--n") ? args[args.indexOf("--n") + 1] : 2000)
const http = args.includes("--http")
let layer
let server
if (http) {
  server = spawn(
    process.execPath,
    [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
    { stdio: ["pipe", "pipe", "inherit"] }
  )
  const info = JSON.parse(
    await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
  )
  // bench-paced-1-60000: one delta after a minute, so requests stay in flight.
  layer = Layer.provideMerge(
    OpenAiChat.model("bench-text"),
    OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${info.url}/v1` })
  ).pipe(Layer.provideMerge(NodeHttpClient.layerUndici))
} else {
  layer = Layer.succeed(
    Model.Model,
    Model.make({
      modelName: "mem",
      system: "mem",
      profile: Model.defaultProfile,
      settings: undefined,
      request: () => Effect.never,
      requestStream: () => Effect.die("no streaming")
    })
  )
}
const rt = ManagedRuntime.make(layer)
await rt.runPromise(Effect.void)
const agent = Agent.make({ name: "bench" })
const gc = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
const h0 = gc()
const fibers = []
for (let i = 0; i < N; i++) fibers.push(rt.runFork(agent.run("Say hello.")))
await new Promise((r) => setTimeout(r, 300))
const h1 = gc()
console.log(
  `${http ? "http" : "in-memory"}: ${((h1 - h0) / N / 1024).toFixed(1)} KB retained per run in flight`
)
await rt.runPromise(Fiber.interruptAll(fibers))
await rt.dispose()
server?.kill()
process.exit(0)
