#!/usr/bin/env node
// Bytes allocated per operation, garbage included (not part of the benchmark; needs
// `pnpm build`): V8's sampling heap profiler (objects collected by minor and major GCs kept)
// over N sequential round trips against the loopback mock server's `bench-text` model, after
// 300 unsampled ones: the bare `@effect/platform` request + JSON body (the Effect HTTP floor)
// and `agent.run` over `OpenAiChat`. With TOP=K, the K largest allocators, by the innermost
// agentfx frame on the stack ("no agentfx frame": Effect's runtime resuming a fiber, undici).
//   node --expose-gc bench/alloc.mjs --http [--n 1500]   (ONLY="agent.run" TOP=20 to narrow)
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, Model } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"

const args = process.argv.slice(2)
const N = Number(args.includes("--n") ? args[args.indexOf("--n") + 1] : 2000)
const http = args.includes("--http")
const _SLOW = "bench-slow-60000"
let layer
let server
let url
if (http) {
  server = spawn(
    process.execPath,
    [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
    { stdio: ["pipe", "pipe", "inherit"] }
  )
  const info = JSON.parse(
    await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
  )
  url = info.url
  layer = Layer.provideMerge(
    OpenAiChat.model("bench-text"),
    OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${url}/v1` })
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
const native = Effect.runSync(Effect.tracer)
const recording = Tracer.make({ span: native.span, context: native.context })
// the same services with a tracer installed for the whole runtime (as the OpenTelemetry layer is)
const traced = ManagedRuntime.make(Layer.merge(layer, Layer.setTracer(recording)))
await traced.runPromise(Effect.void)
const agent = Agent.make({ name: "bench" })
const _gc = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

import { Session } from "node:inspector/promises"
const sess = new Session()
sess.connect()
const TEXT = "bench-text"
const variants = {
  "platform request + json": Effect.flatMap(HttpClient.HttpClient, (client) =>
    client
      .pipe(HttpClient.withTracerDisabledWhen(() => true))
      .execute(
        HttpClientRequest.post(`${url}/v1/chat/completions`).pipe(
          HttpClientRequest.bodyUnsafeJson({
            model: TEXT,
            messages: [{ role: "user", content: "Say hello." }]
          })
        )
      )
      .pipe(
        Effect.flatMap((r) => r.json),
        Effect.scoped
      )
  ),
  "agent.run": agent.run("Say hello.")
}
const only = (process.env.ONLY ?? Object.keys(variants).join(",")).split(",")
for (const [name, effect] of Object.entries(variants)) {
  if (!only.includes(name)) continue
  for (let i = 0; i < 300; i++) await rt.runPromise(effect)
  await sess.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  for (let i = 0; i < N; i++) await rt.runPromise(effect)
  const { profile } = await sess.post("HeapProfiler.stopSampling")
  const m = new Map()
  let total = 0
  const walk = (n, st) => {
    total += n.selfSize
    const s2 = [...st, n.callFrame]
    if (n.selfSize) {
      const i = s2.findLastIndex((f) => f.url.includes("/packages/"))
      const key =
        i < 0
          ? `(no agentfx frame) ${s2.slice(-1)[0].url.split("/").slice(-1)[0]}`
          : `${s2[i].url.split("/packages/")[1]}:${s2[i].functionName}:${s2[i].lineNumber}`
      m.set(key, (m.get(key) ?? 0) + n.selfSize)
    }
    for (const c of n.children) walk(c, s2)
  }
  walk(profile.head, [])
  console.log(`${name.padEnd(28)} ${(total / N / 1024).toFixed(1)} KB allocated per operation`)
  if (process.env.TOP)
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP)))
      console.log("   ", (v / N).toFixed(0).padStart(6), "B", k.slice(0, 160))
}
await rt.dispose()
await traced.dispose()
server?.kill()
process.exit(0)
