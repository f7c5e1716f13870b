#!/usr/bin/env node
// Heap held per operation in flight (not part of the benchmark; needs `pnpm build`): starts N
// operations that never finish, forces GC, and prints the heap growth per operation.
//   node --expose-gc bench/retained.mjs [--n 2000] [--http]
// In-memory (default): `agent.run` over a model whose request never answers, beside a bare
// fiber. With --http: against the loopback mock server's `bench-slow-60000` model (answers
// after a minute): the bare `@effect/platform` client request (the Effect HTTP floor),
// `model.request` of `OpenAiChat` (bare, and instrumented as an agent calls it), and `agent.run`
// over it. Without a tracer installed agentfx opens no spans; the "with a tracer" rows install
// one (Effect's native span implementation under another tracer identity, so spans are
// recorded in memory as an exporter's would be before export).
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as v8 from "node:v8"
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, InstrumentedModel, Messages, Model } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"

const args = process.argv.slice(2)
const N = Number(args.includes("--n") ? args[args.indexOf("--n") + 1] : 2000)
const http = args.includes("--http")
// --snapshot NAME: heap snapshots before and after NAME's operations start, diffed by
// constructor (objects per operation, bytes per operation), the TOP largest growths
const snapshotOf = args.includes("--snapshot") ? args[args.indexOf("--snapshot") + 1] : undefined
const byConstructor = async () => {
  const chunks = []
  for await (const c of v8.getHeapSnapshot()) chunks.push(c)
  const snap = JSON.parse(Buffer.concat(chunks).toString())
  const { node_fields, node_types } = snap.snapshot.meta
  const width = node_fields.length
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => node_fields.indexOf(f))
  const types = node_types[0]
  const out = new Map()
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]]
    const name =
      type === "object" || type === "closure" ? snap.strings[snap.nodes[i + iName]] : `(${type})`
    const key = `${type === "closure" ? "closure " : ""}${name}`
    const e = out.get(key) ?? { count: 0, size: 0 }
    e.count++
    e.size += snap.nodes[i + iSize]
    out.set(key, e)
  }
  return out
}
const SLOW = "bench-slow-60000"
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
    OpenAiChat.model(SLOW),
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
const gc = () => {
  globalThis.gc?.()
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}
const variants = http
  ? {
      "platform HttpClient request": Effect.flatMap(HttpClient.HttpClient, (client) =>
        client.pipe(HttpClient.withTracerDisabledWhen(() => true)).execute(
          HttpClientRequest.post(`${url}/v1/chat/completions`).pipe(
            HttpClientRequest.bodyUnsafeJson({
              model: SLOW,
              messages: [{ role: "user", content: "Say hello." }]
            })
          )
        )
      ),
      "model.request (OpenAiChat)": Effect.flatMap(Model.Model, (model) =>
        model.request(
          [
            new Messages.ModelRequest({
              parts: [new Messages.UserPromptPart({ content: "Say hello." })]
            })
          ],
          {},
          Model.ModelRequestParameters.empty
        )
      ),
      // the per-attempt deadline's own cost: the same request with no deadline
      "model.request, no deadline": Effect.flatMap(Model.Model, (model) =>
        model.request(
          [
            new Messages.ModelRequest({
              parts: [new Messages.UserPromptPart({ content: "Say hello." })]
            })
          ],
          { timeout: Number.POSITIVE_INFINITY },
          Model.ModelRequestParameters.empty
        )
      ),
      "instrumented model.request": Effect.flatMap(Model.Model, (model) =>
        InstrumentedModel.instrument(model).request(
          [
            new Messages.ModelRequest({
              parts: [new Messages.UserPromptPart({ content: "Say hello." })]
            })
          ],
          {},
          Model.ModelRequestParameters.empty
        )
      ),
      "agent.run": agent.run("Say hello."),
      "agent.run, no deadline": Agent.make({
        name: "bench",
        modelSettings: { timeout: Number.POSITIVE_INFINITY }
      }).run("Say hello."),
      "agent.run, with a tracer": agent.run("Say hello.")
    }
  : {
      "bare fiber (Effect.never)": Effect.never,
      "agent.run": agent.run("Say hello."),
      "agent.run, with a tracer": agent.run("Say hello.")
    }
for (const [name, effect] of Object.entries(variants)) {
  const before = snapshotOf === name ? await byConstructor() : undefined
  const h0 = gc()
  const fibers = []
  const runtime = name.endsWith("with a tracer") ? traced : rt
  for (let i = 0; i < N; i++) fibers.push(runtime.runFork(effect))
  const wait = args.includes("--wait")
    ? Number(args[args.indexOf("--wait") + 1])
    : http
      ? 1500
      : 300
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  const h1 = gc()
  console.log(
    `${http ? "http" : "in-memory"} ${name.padEnd(30)} ${((h1 - h0) / N / 1024).toFixed(1)} KB retained per operation in flight`
  )
  if (before !== undefined) {
    const after = await byConstructor()
    const rows = [...after].map(([k, a]) => {
      const b = before.get(k) ?? { count: 0, size: 0 }
      return [k, (a.count - b.count) / N, (a.size - b.size) / N]
    })
    rows.sort((x, y) => y[2] - x[2])
    for (const [k, count, size] of rows.slice(0, Number(process.env.TOP ?? 40)))
      console.log(`   ${size.toFixed(0).padStart(6)} B ${count.toFixed(2).padStart(6)} × ${k}`)
  }
  await runtime.runPromise(Fiber.interruptAll(fibers))
  // let aborted sockets close before the next baseline
  await new Promise((r) => setTimeout(r, http ? 1000 : 50))
}
await rt.dispose()
await traced.dispose()
server?.kill()
process.exit(0)
