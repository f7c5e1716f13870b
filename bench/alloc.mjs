#!/usr/bin/env node
// Bytes allocated per round trip, garbage included (not part of the benchmark; needs
// `pnpm build`): V8's sampling heap profiler (objects collected by minor and major GCs kept)
// over N sequential round trips against the loopback mock server's `bench-text` model, after
// 300 unsampled ones: the bare `@effect/platform` request + JSON body (the Effect HTTP floor)
// and `agent.run` over `OpenAiChat`. With TOP=K, the K largest allocators, by the innermost
// agentfx frame on the stack ("no agentfx frame": Effect's runtime resuming a fiber, undici).
//   node bench/alloc.mjs [--n 1500]            (ONLY="agent.run" TOP=20 to narrow)
import { spawn } from "node:child_process"
import { Session } from "node:inspector/promises"
import { createInterface } from "node:readline"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"

const args = process.argv.slice(2)
const N = Number(args.includes("--n") ? args[args.indexOf("--n") + 1] : 1500)
const MODEL = "bench-text"

const mock = spawn(
  process.execPath,
  [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
  { stdio: ["pipe", "pipe", "inherit"] }
)
const { url } = JSON.parse(
  await new Promise((r) => createInterface({ input: mock.stdout }).once("line", r))
)
const rt = ManagedRuntime.make(
  Layer.provideMerge(
    OpenAiChat.model(MODEL),
    OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${url}/v1` })
  ).pipe(Layer.provideMerge(NodeHttpClient.layerUndici))
)

const variants = {
  "platform request + json": Effect.flatMap(HttpClient.HttpClient, (client) =>
    client.pipe(HttpClient.withTracerDisabledWhen(() => true)).execute(
      HttpClientRequest.post(`${url}/v1/chat/completions`).pipe(
        HttpClientRequest.bodyUnsafeJson({
          model: MODEL,
          messages: [{ role: "user", content: "Say hello." }]
        })
      )
    )
  ).pipe(
    Effect.flatMap((r) => r.json),
    Effect.scoped
  ),
  "agent.run": Agent.make({ name: "bench" }).run("Say hello.")
}

/** Sampled bytes per operation, and per innermost agentfx frame. */
const allocated = (profile) => {
  const byFrame = new Map()
  let total = 0
  const walk = (node, stack) => {
    total += node.selfSize
    const frames = [...stack, node.callFrame]
    if (node.selfSize > 0) {
      const i = frames.findLastIndex((f) => f.url.includes("/packages/"))
      const key =
        i < 0
          ? `(no agentfx frame) ${frames[frames.length - 1].url.split("/").pop()}`
          : `${frames[i].url.split("/packages/")[1]}:${frames[i].functionName}:${frames[i].lineNumber}`
      byFrame.set(key, (byFrame.get(key) ?? 0) + node.selfSize)
    }
    for (const c of node.children) walk(c, frames)
  }
  walk(profile.head, [])
  return { total, byFrame }
}

const session = new Session()
session.connect()
const only = (process.env.ONLY ?? Object.keys(variants).join(",")).split(",")
for (const [name, effect] of Object.entries(variants)) {
  if (!only.includes(name)) continue
  for (let i = 0; i < 300; i++) await rt.runPromise(effect)
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  for (let i = 0; i < N; i++) await rt.runPromise(effect)
  const { total, byFrame } = allocated((await session.post("HeapProfiler.stopSampling")).profile)
  console.log(`${name.padEnd(28)} ${(total / N / 1024).toFixed(1)} KB allocated per operation`)
  const top = [...byFrame].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 0))
  for (const [frame, bytes] of top)
    console.log(`   ${(bytes / N).toFixed(0).padStart(6)} B ${frame}`)
}
await rt.dispose()
mock.kill()
process.exit(0)
