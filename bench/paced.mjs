#!/usr/bin/env node
// Where the CPU of a slowly-arriving stream goes (not part of the benchmark; needs `pnpm build`):
// one `bench-paced-N` Chat Completions stream (N deltas, ~1 per ms, one network read each) read
// in ONE process by
//   raw fetch          global fetch + hand SSE splitting + JSON.parse (as clients/raw.mjs)
//   undici direct      undici's Agent.request + `for await` over the body, nothing else
//   HttpClient bytes   @effect/platform HttpClient over undici, `response.stream` drained
//                      with `Stream.runForEachChunk` doing nothing
//   HttpClient + SSE   the same + the providers' SSE parser (`Http.parseSse`) + JSON.parse
//   postSse            the providers' `Http.postSse` (fast path when the client is undici's)
//   model.requestStream  OpenAiChat's `requestStream`, events drained
//   agent.runStream    `agent.runStream(prompt)` drained with `Stream.runFold` (as clients/agentfx.ts)
//   model push         OpenAiChat's `requestStream` read with the response's `push` (no Stream)
//   agent.run + onEvent  `agent.run(prompt, { onEvent })`: the run's events pushed (no Stream)
//   … (platform stream)  the same two over a client whose responses hide undici's body, so the
//                      providers read `response.stream` (their fallback for other clients)
// Cases are interleaved round by round; medians of CPU (user+system) µs per chunk are printed.
// With --fresh, every run is a new process (a 200-chunk unpaced warm-up, then one paced stream:
// what the benchmark's harness measures, cold JIT and all).
//   node bench/paced.mjs [--n 2000] [--rounds 3] [--only <substring>] [--fresh] [--all]
//     [--node-args "<V8 flags for the --fresh children>"]
// With --ops, no timing: Effect instructions and async resources (promises, ticks, timers)
// created per chunk, deterministic even on a loaded machine. With --alloc [--top K]: bytes
// allocated per chunk and the functions allocating them (sampled; garbage included).
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, Messages, Model } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"
import * as Undici from "@effect/platform-node/Undici"
import { sseSplitter } from "./clients/_harness.mjs"
// Internal module, not in the package's exports (the build bundles it away): from the source,
// so this file runs under tsx (`npx tsx bench/paced.mjs`), the packages from dist/ or, with
// `--conditions=@agentfx/source`, from source too.
const Http = await import(
  new URL("../packages/providers/src/internal/http.ts", import.meta.url).href
).catch((e) => {
  console.error(`paced.mjs: run it under tsx (npx tsx bench/paced.mjs …): ${e.message}`)
  process.exit(2)
})

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const N = Number(flag("n", 2000))
const rounds = Number(flag("rounds", 3))
const only = flag("only", undefined)

const fresh = args.includes("--fresh")
const child = flag("child", undefined)

// The mock server: started here, or (a --fresh child) given by the parent.
const server =
  child === undefined
    ? spawn(
        process.execPath,
        [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
        { stdio: ["pipe", "pipe", "inherit"] }
      )
    : undefined
const baseUrl =
  server === undefined
    ? flag("url", undefined)
    : JSON.parse(
        await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
      ).url
const url = `${baseUrl}/v1/chat/completions`
const bodyOf = (model) => ({
  model,
  messages: [{ role: "user", content: "Say hello." }],
  stream: true,
  stream_options: { include_usage: true }
})
const headers = { authorization: "Bearer x", "content-type": "application/json" }

/** Folds the chunks of a stream with plain code (one `Effect.sync` per chunk). */
const foldChunks = (stream, init, f) =>
  Effect.suspend(() => {
    let acc = init
    return Effect.as(
      Stream.runForEachChunk(stream, (chunk) =>
        Effect.sync(() => {
          acc = f(acc, chunk)
        })
      ),
      Effect.sync(() => acc)
    ).pipe(Effect.flatten)
  })
/** Every case returns the number of text deltas it saw (each must see exactly N). */
const deltaOf = (data) => {
  if (data === "[DONE]") return 0
  return JSON.parse(data).choices[0]?.delta?.content ? 1 : 0
}

// (a) raw fetch, the same hand SSE splitting as clients/raw.mjs
const countSse = async (body) => {
  let count = 0
  const feed = sseSplitter((d) => {
    count += deltaOf(d)
  })
  const decoder = new TextDecoder()
  for await (const bytes of body) feed(decoder.decode(bytes, { stream: true }))
  feed(decoder.decode())
  return count
}
const raw = async (model) => {
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(bodyOf(model)) })
  return countSse(res.body)
}

// undici itself, no Effect: the floor under the platform client
const dispatcher = new Undici.Agent()
const undiciDirect = async (model) => {
  const u = new URL(url)
  const res = await dispatcher.request({
    method: "POST",
    origin: u.origin,
    path: u.pathname,
    headers,
    body: JSON.stringify(bodyOf(model))
  })
  return countSse(res.body)
}

// The Effect cases share one runtime: the OpenAiChat client over the user's undici client.
const rt = ManagedRuntime.make(
  OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
    Layer.provideMerge(NodeHttpClient.layerUndici)
  )
)
// The same client with undici's body hidden from the providers (`source` reads as undefined):
// they fall back to the platform's `response.stream`. The "(platform stream)" cases use it.
const hideBody = (r) =>
  new Proxy(r, {
    get: (target, key) => (key === "source" ? undefined : Reflect.get(target, key, target))
  })
const rtPlatform = ManagedRuntime.make(
  OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
    Layer.provideMerge(
      Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (c) =>
          HttpClient.transformResponse(c, Effect.map(hideBody))
        )
      ).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
  )
)
// As the providers run it: no platform span.
const response = (model) =>
  Effect.flatMap(HttpClient.HttpClient, (c) =>
    HttpClient.withTracerDisabledWhen(HttpClient.withScope(c), () => true).execute(
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeaders({ authorization: "Bearer x" }),
        HttpClientRequest.bodyText(JSON.stringify(bodyOf(model)), "application/json")
      )
    )
  )
const expected = (model) => Number(/(\d+)$/.exec(model)[1])
// (b) bytes only: nothing to count, only the stream's end
const bytesOnly = (model) =>
  Effect.scoped(
    Effect.flatMap(response(model), (r) => Stream.runForEachChunk(r.stream, () => Effect.void))
  ).pipe(Effect.as(expected(model)))
// (c) + SSE parsing and JSON.parse of every event, as raw does
const withSse = (model) =>
  Effect.scoped(
    Effect.flatMap(response(model), (r) =>
      foldChunks(Http.parseSse(r.stream), 0, (n, events) => {
        for (const e of events) n += deltaOf(e.data)
        return n
      })
    )
  )
// The providers' SSE POST (its fast path over undici when there is one)
const postSse = (model) =>
  Effect.scoped(
    Effect.flatMap(HttpClient.HttpClient, (c) =>
      Effect.flatMap(
        Http.postSse(c, {
          modelName: model,
          url,
          headers: { authorization: "Bearer x" },
          body: bodyOf(model),
          settings: {},
          retry: Http.noRetry
        }),
        (body) =>
          foldChunks(Http.events(body), 0, (n, chunk) => {
            for (const e of chunk) n += deltaOf(e.data)
            return n
          })
      )
    )
  )
const isText = (e) =>
  (e._tag === "PartDeltaEvent" && e.delta?._tag === "TextPartDelta" && e.delta.contentDelta) ||
  (e._tag === "PartStartEvent" && e.part?._tag === "TextPart" && e.part.content)
// As clients/agentfx.ts: `Stream.runFold` per event.
const countText = (n, e) => (isText(e) ? n + 1 : n)
// (d) the model's streamed response, events drained
const msgs = [Messages.userPrompt("Say hello.")]
const modelStream = (model) =>
  Effect.scoped(
    Effect.flatMap(Model.Model, (m) =>
      Effect.flatMap(m.requestStream(msgs, {}, Model.ModelRequestParameters.empty), (s) =>
        Stream.runFold(s.events, 0, countText)
      )
    )
  ).pipe(Effect.provide(OpenAiChat.model(model)))
// (e) the agent
const agent = Agent.make({ name: "bench" })
const agentStream = (model) =>
  Stream.runFold(agent.runStream("Say hello."), 0, countText).pipe(
    Effect.provide(OpenAiChat.model(model))
  )
// (f) the same two read without a `Stream`: the response's `push`, the run's `onEvent`
const modelPush = (model) =>
  Effect.scoped(
    Effect.flatMap(Model.Model, (m) =>
      Effect.flatMap(m.requestStream(msgs, {}, Model.ModelRequestParameters.empty), (s) =>
        Effect.suspend(() => {
          let n = 0
          return Effect.map(
            s.push((events) => {
              for (const e of events) n = countText(n, e)
            }),
            () => n
          )
        })
      )
    )
  ).pipe(Effect.provide(OpenAiChat.model(model)))
const agentOnEvent = (model) =>
  Effect.suspend(() => {
    let n = 0
    return Effect.map(
      agent.run("Say hello.", {
        onEvent: (e) => {
          n = countText(n, e)
        }
      }),
      () => n
    )
  }).pipe(Effect.provide(OpenAiChat.model(model)))

const all = {
  "raw fetch": raw,
  "undici direct": undiciDirect,
  "HttpClient bytes": (m) => rt.runPromise(bytesOnly(m)),
  "HttpClient + SSE": (m) => rt.runPromise(withSse(m)),
  postSse: (m) => rt.runPromise(postSse(m)),
  "model.requestStream": (m) => rt.runPromise(modelStream(m)),
  "agent.runStream": (m) => rt.runPromise(agentStream(m)),
  "model push": (m) => rt.runPromise(modelPush(m)),
  "agent.run + onEvent": (m) => rt.runPromise(agentOnEvent(m)),
  "model.requestStream (platform stream)": (m) => rtPlatform.runPromise(modelStream(m)),
  "agent.runStream (platform stream)": (m) => rtPlatform.runPromise(agentStream(m))
}
const cases = Object.fromEntries(
  Object.entries(all).filter(([k]) =>
    child !== undefined ? k === child : only === undefined || k.includes(only)
  )
)

const cpu = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
const paced = `bench-paced-${N}`
const warm = "bench-stream-200"
/** One measured paced stream: [CPU µs per chunk, wall µs per chunk]. */
const measure = async (name, f) => {
  const c0 = cpu()
  const t0 = performance.now()
  const count = await f(paced)
  const c1 = cpu()
  if (count !== N) throw new Error(`${name}: saw ${count} text deltas, expected ${N}`)
  return [(c1 - c0) / N, ((performance.now() - t0) * 1000) / N]
}
/** Linux: thread id → [name, CPU ms] of this process (empty elsewhere). */
const threads = () => {
  const out = new Map()
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8")
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim()
      out.set(Number(tid), [comm, ((Number(f[11]) + Number(f[12])) * 1000) / 100])
    }
  } catch {}
  return out
}
const res = {}
if (args.includes("--ops")) {
  // Deterministic counts per chunk: Effect run-loop instructions, and the async resources
  // (promises, nextTicks, timers, immediates) created, for one paced stream per case.
  const { countOps } = await import("./_opcounter.mjs")
  const { createHook } = await import("node:async_hooks")
  const kinds = new Map()
  let on = false
  createHook({
    init(_id, type) {
      if (on) kinds.set(type, (kinds.get(type) ?? 0) + 1)
    }
  }).enable()
  for (const [name, f] of Object.entries(cases)) {
    await f(warm)
    kinds.clear()
    on = true
    const ops = await countOps(() => f(paced))
    on = false
    const per = (v) => (v / N).toFixed(2)
    const total = Number(ops.trim().split(" ")[0])
    console.log(
      `${name.padEnd(38)} ${per(total).padStart(7)} ops/chunk  ${[...kinds]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}=${per(v)}`)
        .join(" ")}\n${"".padEnd(22)}${ops.trim().split("  ")[1] ?? ""}`
    )
  }
} else if (args.includes("--alloc")) {
  // Bytes allocated per chunk (V8's sampling heap profiler, collected objects included) and the
  // functions that allocate them, for one paced stream per case after a paced warm-up stream.
  const { Session } = await import("node:inspector/promises")
  const session = new Session()
  session.connect()
  const top = Number(flag("top", 15))
  for (const [name, f] of Object.entries(cases)) {
    await f(paced)
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 128,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true
    })
    await f(paced)
    const { profile } = await session.post("HeapProfiler.stopSampling")
    const self = new Map()
    let total = 0
    const frame = (cf) =>
      `${cf.functionName || "(anonymous)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber + 1}`
    const walk = (node, parent) => {
      const size = node.selfSize
      if (size > 0) {
        const cf = node.callFrame
        // a builtin (no script) is shown with the function that called it
        const where =
          cf.url === "" && parent !== undefined
            ? `${frame(cf)} ← ${frame(parent.callFrame)}`
            : frame(cf)
        self.set(where, (self.get(where) ?? 0) + size)
        total += size
      }
      for (const c of node.children) walk(c, node)
    }
    walk(profile.head, undefined)
    console.log(`${name.padEnd(38)} ${(total / N / 1024).toFixed(2)} KB/chunk allocated`)
    for (const [where, size] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
      console.log(`  ${String(Math.round(size / N)).padStart(6)} B/chunk  ${where}`)
  }
  session.disconnect()
} else if (child !== undefined) {
  // A --fresh child: as the benchmark's harness, a 200-chunk unpaced warm-up, then one stream.
  const [[name, f]] = Object.entries(cases)
  await f(warm)
  // --settle MS: idle before measuring (lets start-up background work — GC, compiles — finish)
  const settle = Number(flag("settle", 0))
  if (settle > 0) await new Promise((r) => setTimeout(r, settle))
  const t0 = threads()
  const first = await measure(name, f)
  const t1 = threads()
  // --threads: CPU ms per thread (Linux /proc): the main thread vs V8's GC / compiler workers
  if (args.includes("--threads")) {
    const by = {}
    for (const [tid, [comm, ms]] of t1) {
      const d = ms - (t0.get(tid)?.[1] ?? 0)
      if (d > 0) by[tid === process.pid ? "main" : `${comm}#${tid - process.pid}`] = d
    }
    console.error(name, JSON.stringify(by))
  }
  // --again: measure a second stream in the same process (is the first one's cost warm-up?)
  if (args.includes("--again"))
    console.error(`${name} again`, await measure(name, f), "first", first)
  console.log(`PACED_RESULT ${JSON.stringify(first)}`)
} else if (fresh) {
  // Each case in its own process per round (what the benchmark measures: a cold JIT, GC).
  const script = new URL(import.meta.url).pathname
  // e.g. --node-args "--single-threaded-gc": V8 flags for the children, to attribute the cost.
  const nodeArgs = (flag("node-args", "") ?? "").split(" ").filter(Boolean)
  for (let r = 0; r < rounds; r++)
    for (const name of Object.keys(cases)) {
      const out = await new Promise((resolve, reject) => {
        const p = spawn(
          process.execPath,
          [...nodeArgs, script, "--child", name, "--url", baseUrl, "--n", String(N)],
          { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_ENV: "production" } }
        )
        let text = ""
        p.stdout.on("data", (d) => {
          text += d
        })
        p.on("exit", (code) =>
          code === 0 ? resolve(text) : reject(new Error(`${name}: child exited with ${code}`))
        )
      })
      const line = out.split("\n").find((l) => l.startsWith("PACED_RESULT "))
      ;(res[name] ??= []).push(JSON.parse(line.slice("PACED_RESULT ".length)))
    }
} else {
  // In process: every case warmed on a full paced stream, then rounds interleaved.
  for (const f of Object.values(cases)) await f(paced)
  for (let r = 0; r < rounds; r++)
    for (const [name, f] of Object.entries(cases)) (res[name] ??= []).push(await measure(name, f))
}
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
if (child === undefined && !args.includes("--ops")) {
  console.log(
    `${fresh ? "fresh process per run" : "one process"}, ${N} chunks, ${rounds} rounds, medians`
  )
  if (args.includes("--all"))
    console.log(
      JSON.stringify(
        Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.map((x) => x[0].toFixed(0))]))
      )
    )
  for (const [name, xs] of Object.entries(res))
    console.log(
      `${name.padEnd(38)} CPU ${med(xs.map((x) => x[0]))
        .toFixed(1)
        .padStart(6)} µs/chunk   wall ${med(xs.map((x) => x[1]))
        .toFixed(0)
        .padStart(5)} µs/chunk`
    )
}
await rt.dispose()
await rtPlatform.dispose()
await dispatcher.close()
if (server !== undefined) process.kill(server.pid, "SIGTERM")
process.exit(0)
