#!/usr/bin/env node
// Where the CPU of N concurrent paced streams goes, round by round (not part of the benchmark;
// needs `pnpm build`). Each case runs in its own fresh process: one warm-up round of N paced
// streams of C chunks read at once (as the `stream-paced-concurrent` scenario), then R measured
// rounds; prints client CPU (user+system) µs per chunk for every round, so the first measured
// round (the scenario's number) can be read against the later, hotter ones.
//   node bench/paced-concurrent.mjs [--streams 10] [--chunks 200] [--rounds 4] [--only <case>]
// Cases: raw (fetch + hand SSE), bytes (@effect/platform HttpClient over undici, body drained),
// model (OpenAiChat `requestStream`, events drained), agent (`agent.runStream`, as the bench).
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const streams = Number(flag("streams", 10))
const chunks = Number(flag("chunks", 200))
const rounds = Number(flag("rounds", 4))
const child = flag("child", undefined)
const CASES = ["raw", "bytes", "model", "agent"]

if (child === undefined) {
  const server = spawn(
    process.execPath,
    [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
    { stdio: ["pipe", "pipe", "inherit"] }
  )
  const { url } = JSON.parse(
    await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
  )
  const only = flag("only", undefined)
  for (const name of CASES.filter((c) => only === undefined || only.split(",").includes(c))) {
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
          String(rounds)
        ],
        { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_ENV: "production" } }
      )
      let s = ""
      p.stdout.on("data", (d) => (s += d))
      p.on("exit", (code) => (code === 0 ? resolve(s) : reject(new Error(`${name}: exit ${code}`))))
    })
    const perRound = JSON.parse(out.trim().split("\n").at(-1))
    console.log(`${name.padEnd(6)} ${perRound.map((x) => x.toFixed(1).padStart(7)).join(" ")}`)
  }
  server.kill("SIGTERM")
} else {
  const baseUrl = flag("url", "")
  const { sseSplitter } = await import("./clients/_harness.mjs")
  const body = (model) => ({
    model,
    messages: [{ role: "user", content: "Say hello." }],
    stream: true,
    stream_options: { include_usage: true }
  })
  const model = `bench-paced-${chunks}`
  let one
  if (child === "raw") {
    one = async () => {
      const res = await fetch(`${baseUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: "Bearer x", "content-type": "application/json" },
        body: JSON.stringify(body(model))
      })
      let n = 0
      const feed = sseSplitter((d) => {
        if (d !== "[DONE]" && JSON.parse(d).choices[0]?.delta?.content) n++
      })
      const dec = new TextDecoder()
      for await (const b of res.body) feed(dec.decode(b, { stream: true }))
      return n
    }
  } else {
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
    const rt = ManagedRuntime.make(
      OpenAiChat.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
        Layer.provideMerge(NodeHttpClient.layerUndici)
      )
    )
    const isText = (e) =>
      (e._tag === "PartDeltaEvent" && e.delta?._tag === "TextPartDelta" && e.delta.contentDelta) ||
      (e._tag === "PartStartEvent" && e.part?._tag === "TextPart" && e.part.content)
    const count = (n, e) => (isText(e) ? n + 1 : n)
    const effect =
      child === "bytes"
        ? Effect.scoped(
            Effect.flatMap(HttpClient.HttpClient, (c) =>
              HttpClient.withTracerDisabledWhen(HttpClient.withScope(c), () => true).execute(
                HttpClientRequest.post(`${baseUrl}/v1/chat/completions`).pipe(
                  HttpClientRequest.setHeaders({ authorization: "Bearer x" }),
                  HttpClientRequest.bodyText(JSON.stringify(body(model)), "application/json")
                )
              )
            ).pipe(
              Effect.flatMap((r) => Stream.runDrain(r.stream)),
              Effect.as(chunks)
            )
          )
        : child === "model"
          ? Effect.scoped(
              Effect.flatMap(Model.Model, (m) =>
                Effect.flatMap(
                  m.requestStream(
                    [Messages.userPrompt("Say hello.")],
                    {},
                    Model.ModelRequestParameters.empty
                  ),
                  (s) => Stream.runFold(s.events, 0, count)
                )
              )
            ).pipe(Effect.provide(OpenAiChat.model(model)))
          : Stream.runFold(Agent.make({ name: "bench" }).runStream("Say hello."), 0, count).pipe(
              Effect.provide(OpenAiChat.model(model))
            )
    one = () => rt.runPromise(effect)
  }
  const round = async () => {
    const got = await Promise.all(Array.from({ length: streams }, one))
    for (const g of got) if (g !== chunks) throw new Error(`${child}: ${g} deltas, not ${chunks}`)
  }
  const cpu = () => {
    const c = process.cpuUsage()
    return c.user + c.system
  }
  await round()
  const out = []
  for (let r = 0; r < rounds; r++) {
    const c0 = cpu()
    await round()
    out.push((cpu() - c0) / (streams * chunks))
  }
  console.log(JSON.stringify(out))
  setTimeout(() => process.exit(0), 10).unref()
}
