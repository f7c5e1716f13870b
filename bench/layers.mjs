#!/usr/bin/env node
// Where the time of one non-streaming call goes (not part of the benchmark; needs `pnpm build`):
// the same request through (1) @effect/platform HttpClient alone, (2) OpenAiChat's model.request,
// (3) agent.run, interleaved in one process against the mock server. CPU µs per call.
//   node bench/layers.mjs [--n 2000] [--rounds 3] [--protocol chat|responses]
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"
import { Agent, Messages, Model } from "@agentfx/core"
import { OpenAiChat, OpenAiClient, OpenAiResponses } from "@agentfx/providers"
import { countOps } from "./_opcounter.mjs"

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const N = Number(flag("n", 2000))
const rounds = Number(flag("rounds", 3))
const protocol = flag("protocol", "chat")
const server = spawn(
  process.execPath,
  [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
  { stdio: ["pipe", "pipe", "inherit"] }
)
const info = JSON.parse(
  await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
)
const Provider = protocol === "chat" ? OpenAiChat : OpenAiResponses
const rt = ManagedRuntime.make(
  Layer.provideMerge(
    Provider.model("bench-text"),
    OpenAiClient.layer({ apiKey: Redacted.make("x"), baseUrl: `${info.url}/v1` })
  ).pipe(Layer.provideMerge(NodeHttpClient.layerUndici))
)
const path = protocol === "chat" ? "/v1/chat/completions" : "/v1/responses"
const body =
  protocol === "chat"
    ? { model: "bench-text", messages: [{ role: "user", content: "Say hello." }] }
    : { model: "bench-text", input: [{ role: "user", content: "Say hello." }] }
// The providers turn the platform client's own span off (`httpClientSpans: false`), so the
// floor does too.
const floor = Effect.flatMap(HttpClient.HttpClient, (c) =>
  HttpClient.withTracerDisabledWhen(c, () => true).execute(
    HttpClientRequest.post(info.url + path).pipe(
      HttpClientRequest.setHeaders({ authorization: "Bearer x" }),
      HttpClientRequest.bodyText(JSON.stringify(body), "application/json")
    )
  )
).pipe(
  Effect.flatMap((r) => r.text),
  Effect.map((t) => JSON.parse(t))
)
const msgs = [Messages.userPrompt("Say hello.")]
const modelReq = Effect.flatMap(Model.Model, (m) =>
  m.request(msgs, {}, Model.ModelRequestParameters.empty)
)
const agent = Agent.make({ name: "bench" })
const agentRun = agent.run("Say hello.")
const only = flag("only", undefined)
const cases = Object.fromEntries(
  Object.entries({
    "HttpClient alone": floor,
    "model.request": modelReq,
    "agent.run": agentRun
  }).filter(([k]) => only === undefined || k.includes(only))
)
const cpu = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
const res = {}
for (const [, eff] of Object.entries(cases))
  await rt.runPromise(Effect.forEach(Array.from({ length: 100 }), () => eff, { discard: true }))
for (let r = 0; r < rounds; r++)
  for (const [name, eff] of Object.entries(cases)) {
    const c0 = cpu(),
      t0 = performance.now()
    await rt.runPromise(Effect.forEach(Array.from({ length: N }), () => eff, { discard: true }))
    ;(res[name] ??= []).push([(cpu() - c0) / N, ((performance.now() - t0) * 1000) / N])
  }
for (const [name, eff] of Object.entries(cases))
  console.log(`${name.padEnd(18)} ${await countOps(() => rt.runPromise(eff))}`)
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
if (args.includes("--all"))
  console.log(
    JSON.stringify(
      Object.fromEntries(Object.entries(res).map(([k, v]) => [k, v.map((x) => x[0].toFixed(0))]))
    )
  )
for (const [name, xs] of Object.entries(res))
  console.log(
    `${name.padEnd(18)} CPU ${med(xs.map((x) => x[0]))
      .toFixed(0)
      .padStart(5)} µs/call   wall ${med(xs.map((x) => x[1]))
      .toFixed(0)
      .padStart(5)} µs/call`
  )
await rt.dispose()
server.kill()
process.exit(0)
