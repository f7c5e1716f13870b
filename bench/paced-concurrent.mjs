#!/usr/bin/env node
// Where the CPU of N concurrent paced streams goes, round by round and layer by layer (not part
// of the benchmark; needs `pnpm build`). Each case runs in its own fresh process: one warm-up
// round of N paced streams of C chunks read at once (as the `stream-paced-concurrent` scenario),
// then R measured rounds; prints client CPU (user+system) and main-thread µs per chunk for every
// round, so the first measured round (the scenario's number) can be read against the later,
// hotter ones. With --reps K the cases run K times, interleaved, and the medians are printed.
//   node bench/paced-concurrent.mjs [--streams 10] [--chunks 200] [--rounds 4] [--reps 1]
//        [--only case,case] [--prime N] [--round-chunks N] [--url URL]
// Cases, from the bare transport up (every one reads OpenAI Chat SSE and counts text deltas):
//   raw           fetch + hand SSE split + JSON.parse (the benchmark's reference)
//   undici        undici's Agent.request, 'data' events, hand SSE split + JSON.parse; no Effect
//   undici-decode the same body through agentfx's SSE decoder, OpenAI Chat stream decoder and
//                 parts manager, all in the 'data' callback; no Effect
//   bytes         @effect/platform HttpClient over undici, `response.stream` drained (no SSE/JSON)
//   effect-loop   the providers' `postSse` (platform client + BodyReader) read by a plain Effect
//                 loop, one `Effect.async` per read, decoded as undici-decode; no Stream
//   stream-min    the same reads as the smallest Effect Stream (one channel: read, decode,
//                 write), consumed by `Stream.runFold`
//   model         `model.requestStream` (OpenAiChat), consumed by `Stream.runFold`
//   model-push    `model.requestStream`, read with the response's `push` (no Stream)
//   agent         `agent.runStream`, consumed by `Stream.runFold` (what the scenario measures)
//   agent-onevent `agent.run(prompt, { onEvent })`: the run's events pushed, no Stream step
//   agent-mailbox a Stream over the push path: the run with `onEvent` in a scoped fiber offers
//                 each event to a mailbox (`Stream.asyncPush`), consumed by `Stream.runFold`
// The model cases build the model once per model id (a runtime of its own, the client shared),
// as an application does: nothing is provided per stream.
// --prime N: before the warm-up round, N short streams (3 chunks) through the same case, so
// the shapes a stream's END brings (a finished body, the last chunk's usage, a channel
// completing under its finalizers) are seen before V8 optimises the per-read path (see
// ANALYSIS.md: without them the first streams' end deoptimises it, and the next round pays for
// recompiling). Not something a client may do; it measures what those deoptimisations cost.
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const streams = Number(flag("streams", 10))
const chunks = Number(flag("chunks", 200))
const rounds = Number(flag("rounds", 4))
const reps = Number(flag("reps", 1))
const prime = Number(flag("prime", 0))
// chunks per stream in the measured rounds (default: --chunks); e.g. 2 to see a stream's fixed
// cost (request, set-up, end) in the state the warm-up round left the process in
const roundChunks = Number(flag("round-chunks", chunks))
const child = flag("child", undefined)
const CASES = [
  "raw",
  "undici",
  "undici-decode",
  "bytes",
  "effect-loop",
  "stream-min",
  "model",
  "model-push",
  "agent",
  "agent-onevent",
  "agent-mailbox"
]
const DEFAULT_CASES = ["raw", "bytes", "model", "agent", "agent-onevent"]

if (child === undefined) {
  let url = flag("url", undefined)
  let server
  if (url === undefined) {
    server = spawn(
      process.execPath,
      [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
      { stdio: ["pipe", "pipe", "inherit"] }
    )
    url = JSON.parse(
      await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
    ).url
  }
  const only = flag("only", undefined)
  const cases = only === undefined ? DEFAULT_CASES : only.split(",")
  for (const c of cases) if (!CASES.includes(c)) throw new Error(`unknown case ${c}`)
  const runs = {}
  for (let rep = 0; rep < reps; rep++)
    for (const name of cases) {
      const out = await new Promise((resolve, reject) => {
        const p = spawn(
          process.execPath,
          [
            new URL(import.meta.url).pathname,
            "--child",
            name,
            "--url",
            url,
            "--streams",
            String(streams),
            "--chunks",
            String(chunks),
            "--rounds",
            String(rounds),
            "--prime",
            String(prime),
            "--round-chunks",
            String(roundChunks)
          ],
          { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_ENV: "production" } }
        )
        let s = ""
        p.stdout.on("data", (d) => (s += d))
        p.on("exit", (code) =>
          code === 0 ? resolve(s) : reject(new Error(`${name}: exit ${code}`))
        )
      })
      ;(runs[name] ??= []).push(JSON.parse(out.trim().split("\n").at(-1)))
    }
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const cols = (rs, key) =>
    rs[0][key]
      .map((_, i) => med(rs.map((r) => r[key][i])))
      .map((x) => x.toFixed(1).padStart(7))
      .join("")
  console.log(
    `CPU µs per chunk by round (median of ${reps}), then main-thread µs; ${streams} streams × ${roundChunks} chunks${roundChunks !== chunks ? ` (warm-up: × ${chunks})` : ""}${prime > 0 ? `, ${prime} priming streams` : ""}`
  )
  for (const [name, rs] of Object.entries(runs))
    console.log(`${name.padEnd(14)}${cols(rs, "cpu")}   main${cols(rs, "main")}`)
  server?.kill("SIGTERM")
} else {
  const baseUrl = flag("url", "")
  const { sseSplitter } = await import("./clients/_harness.mjs")
  const path = "/v1/chat/completions"
  const headers = { authorization: "Bearer x", "content-type": "application/json" }
  const body = (model) => ({
    model,
    messages: [{ role: "user", content: "Say hello." }],
    stream: true,
    stream_options: { include_usage: true }
  })
  const isText = (e) =>
    (e._tag === "PartDeltaEvent" && e.delta?._tag === "TextPartDelta" && e.delta.contentDelta) ||
    (e._tag === "PartStartEvent" && e.part?._tag === "TextPart" && e.part.content)
  const count = (n, e) => (isText(e) ? n + 1 : n)
  const countRaw = (d) => (d !== "[DONE]" && JSON.parse(d).choices[0]?.delta?.content ? 1 : 0)
  // Internal modules of the providers (not in the package's exports; the build bundles them
  // away): from the source, so these cases need tsx (`npx tsx bench/paced-concurrent.mjs`).
  const internal = (m) =>
    import(
      new URL(`../packages/providers/src/internal/${m.replace(/\.js$/, ".ts")}`, import.meta.url)
        .href
    )
  const decoding = async () => {
    const { makeSseDecoder } = await internal("sse.js")
    const StreamDecoder = await internal("streamDecoder.js")
    const OpenAiChatWire = await internal("openaiChat.js")
    const { PartsManager } = await import("@agentfx/core")
    // One stream's decoding state: reads in, part events out (what `streamedResponse` runs).
    return (model) => {
      const frames = makeSseDecoder()
      const handler = StreamDecoder.handler(OpenAiChatWire.streamDecoder("openai"), model, 3, {
        skip() {},
        malformed() {}
      })
      const manager = PartsManager.make()
      return (reads) => {
        const out = []
        for (const e of frames.feed(reads)) handler.onEvent(e, manager, out)
        return out
      }
    }
  }
  /** one(model) → Promise<number of text deltas> */
  let one
  if (child === "raw") {
    one = async (model) => {
      const res = await fetch(`${baseUrl}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body(model))
      })
      let n = 0
      const feed = sseSplitter((d) => {
        n += countRaw(d)
      })
      const dec = new TextDecoder()
      for await (const b of res.body) feed(dec.decode(b, { stream: true }))
      return n
    }
  } else if (child === "undici" || child === "undici-decode") {
    const Undici = await import("@effect/platform-node/Undici")
    const dispatcher = new Undici.Agent()
    const decoder = child === "undici-decode" ? await decoding() : undefined
    one = async (model) => {
      const res = await dispatcher.request({
        method: "POST",
        origin: baseUrl,
        path,
        headers,
        body: JSON.stringify(body(model))
      })
      let n = 0
      let onData
      if (decoder === undefined) {
        const feed = sseSplitter((d) => {
          n += countRaw(d)
        })
        const dec = new TextDecoder()
        onData = (b) => feed(dec.decode(b, { stream: true }))
      } else {
        const decode = decoder(model)
        onData = (b) => {
          for (const e of decode([b])) n = count(n, e)
        }
      }
      return new Promise((resolve, reject) => {
        res.body.on("data", onData)
        res.body.on("end", () => resolve(n))
        res.body.on("error", reject)
      })
    }
  } else {
    const Channel = await import("effect/Channel")
    const Chunk = await import("effect/Chunk")
    const Effect = await import("effect/Effect")
    const Layer = await import("effect/Layer")
    const ManagedRuntime = await import("effect/ManagedRuntime")
    const Redacted = await import("effect/Redacted")
    const Stream = await import("effect/Stream")
    const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")
    const HttpClient = await import("@effect/platform/HttpClient")
    const HttpClientRequest = await import("@effect/platform/HttpClientRequest")
    const { Agent, Messages, Model } = await import("@agentfx/core")
    const { OpenAiChat } = await import("@agentfx/providers")
    const client = OpenAiChat.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
      Layer.provideMerge(NodeHttpClient.layerUndici)
    )
    const memoMap = Effect.runSync(Layer.makeMemoMap)
    const rt = ManagedRuntime.make(client, memoMap)
    /** One runtime per model id with the model built in it (the client shared): an app's set-up. */
    const runtimes = new Map()
    const runtimeOf = (model) => {
      if (!child.startsWith("model") && !child.startsWith("agent")) return rt
      let r = runtimes.get(model)
      if (r === undefined)
        runtimes.set(
          model,
          (r = ManagedRuntime.make(Layer.provideMerge(OpenAiChat.model(model), client), memoMap))
        )
      return r
    }
    let make
    if (child === "bytes") {
      make = (model) =>
        Effect.scoped(
          Effect.flatMap(HttpClient.HttpClient, (c) =>
            HttpClient.withTracerDisabledWhen(HttpClient.withScope(c), () => true).execute(
              HttpClientRequest.post(`${baseUrl}${path}`).pipe(
                HttpClientRequest.setHeaders({ authorization: "Bearer x" }),
                HttpClientRequest.bodyText(JSON.stringify(body(model)), "application/json")
              )
            )
          ).pipe(
            Effect.flatMap((r) => Stream.runDrain(r.stream)),
            Effect.as(Number(model.split("-")[2]))
          )
        )
    } else if (child === "effect-loop" || child === "stream-min") {
      const { postSse } = await internal("streamBody.js")
      const { defaultRetryPolicy } = await internal("retry.js")
      const decoder = await decoding()
      const open = (model, use) =>
        Effect.scoped(
          Effect.flatMap(HttpClient.HttpClient, (client) =>
            Effect.flatMap(
              postSse(client, {
                modelName: model,
                url: `${baseUrl}${path}`,
                headers: { authorization: "Bearer x" },
                body: body(model),
                settings: {},
                retry: defaultRetryPolicy
              }),
              (b) => use(b.source.reader, b.source.reader.pull(b.mapError), decoder(model))
            )
          )
        )
      make =
        child === "effect-loop"
          ? (model) =>
              open(model, (reader, pull, decode) => {
                let n = 0
                const loop = Effect.flatMap(pull, (reads) => {
                  if (reads === undefined) return Effect.succeed(n)
                  for (const e of decode(reads)) n = count(n, e)
                  return loop
                })
                return Effect.ensuring(loop, reader.close)
              })
          : (model) =>
              open(model, (reader, pull, decode) => {
                const loop = Channel.flatMap(Channel.fromEffect(pull), (reads) =>
                  reads === undefined
                    ? Channel.void
                    : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(decode(reads))), loop)
                )
                return Stream.runFold(
                  Stream.fromChannel(Channel.ensuring(loop, reader.close)),
                  0,
                  count
                )
              })
    } else if (child === "model" || child === "model-push") {
      const read =
        child === "model"
          ? (s) => Stream.runFold(s.events, 0, count)
          : (s) => {
              let n = 0
              return Effect.map(
                s.push((events) => {
                  for (const e of events) n = count(n, e)
                }),
                () => n
              )
            }
      make = () =>
        Effect.scoped(
          Effect.flatMap(Model.Model, (m) =>
            Effect.flatMap(
              m.requestStream(
                [Messages.userPrompt("Say hello.")],
                {},
                Model.ModelRequestParameters.empty
              ),
              read
            )
          )
        )
    } else if (child === "agent") {
      const agent = Agent.make({ name: "bench" })
      make = () => Stream.runFold(agent.runStream("Say hello."), 0, count)
    } else if (child === "agent-onevent") {
      const agent = Agent.make({ name: "bench" })
      make = () =>
        Effect.suspend(() => {
          let n = 0
          return Effect.map(
            agent.run("Say hello.", {
              onEvent: (e) => {
                n = count(n, e)
              }
            }),
            () => n
          )
        })
    } else if (child === "agent-mailbox") {
      // The consumer takes everything offered since its last wake-up (one chunk per read).
      const agent = Agent.make({ name: "bench" })
      make = () =>
        Stream.runFold(
          Stream.asyncPush(
            (emit) =>
              Effect.forkScoped(
                Effect.matchCause(agent.run("Say hello.", { onEvent: (e) => emit.single(e) }), {
                  onSuccess: () => emit.end(),
                  onFailure: (c) => emit.halt(c)
                })
              ),
            { bufferSize: "unbounded" }
          ),
          0,
          count
        )
    } else throw new Error(`unknown case ${child}`)
    const effects = new Map()
    one = (model) => {
      let e = effects.get(model)
      if (e === undefined) effects.set(model, (e = make(model)))
      return runtimeOf(model).runPromise(e)
    }
  }
  const roundOf = async (n, c) => {
    const got = await Promise.all(Array.from({ length: n }, () => one(`bench-paced-${c}`)))
    for (const g of got) if (g !== c) throw new Error(`${child}: ${g} deltas, not ${c}`)
  }
  const cpu = () => {
    const c = process.cpuUsage()
    return c.user + c.system
  }
  if (prime > 0) await roundOf(prime, 3)
  await roundOf(streams, chunks)
  const out = { cpu: [], main: [] }
  for (let r = 0; r < rounds; r++) {
    const c0 = cpu()
    const e0 = performance.eventLoopUtilization()
    await roundOf(streams, roundChunks)
    out.cpu.push((cpu() - c0) / (streams * roundChunks))
    out.main.push((performance.eventLoopUtilization(e0).active * 1000) / (streams * roundChunks))
  }
  console.log(JSON.stringify(out))
  setTimeout(() => process.exit(0), 10).unref()
}
