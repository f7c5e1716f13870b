#!/usr/bin/env node
// The bare HTTP floor (not part of the benchmark): one non-streaming chat request through raw fetch,
// @effect/platform HttpClient over undici / fetch, with and without the client's own span and trace
// propagation. CPU µs per call, interleaved rounds, one process.   node bench/httpfloor.mjs [--n 2000]
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { NodeHttpClient } from "@effect/platform-node"

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const N = Number(flag("n", 2000))
const rounds = Number(flag("rounds", 3))
const server = spawn(
  process.execPath,
  [new URL("./mock-server.mjs", import.meta.url).pathname, "--exit-on-stdin-close"],
  { stdio: ["pipe", "pipe", "inherit"] }
)
const info = JSON.parse(
  await new Promise((r) => createInterface({ input: server.stdout }).once("line", r))
)
const url = `${info.url}/v1/chat/completions`
const body = { model: "bench-text", messages: [{ role: "user", content: "Say hello." }] }
const headers = { authorization: "Bearer x", "content-type": "application/json" }
const raw = async () => {
  const r = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) })
  return JSON.parse(await r.text())
}
const viaClient = (tweak) =>
  Effect.flatMap(HttpClient.HttpClient, (c0) =>
    tweak(c0).execute(
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeaders({ authorization: "Bearer x" }),
        HttpClientRequest.bodyText(JSON.stringify(body), "application/json")
      )
    )
  ).pipe(
    Effect.flatMap((r) => r.text),
    Effect.map((t) => JSON.parse(t))
  )
const plain = (c) => c
const noTrace = (c) =>
  c.pipe(
    HttpClient.withTracerDisabledWhen(() => true),
    HttpClient.withTracerPropagation(false)
  )
const undici = ManagedRuntime.make(NodeHttpClient.layerUndici)
const fetchRt = ManagedRuntime.make(FetchHttpClient.layer)
const loop = (rt, eff) =>
  rt.runPromise(Effect.forEach(Array.from({ length: N }), () => eff, { discard: true }))
const cases = {
  "raw fetch": async () => {
    for (let i = 0; i < N; i++) await raw()
  },
  undici: () => loop(undici, viaClient(plain)),
  "undici no-trace": () => loop(undici, viaClient(noTrace)),
  "fetch client": () => loop(fetchRt, viaClient(plain)),
  "fetch no-trace": () => loop(fetchRt, viaClient(noTrace))
}
const cpu = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
for (const f of Object.values(cases)) await f()
const res = {}
for (let r = 0; r < rounds; r++)
  for (const [name, f] of Object.entries(cases)) {
    const c0 = cpu(),
      t0 = performance.now()
    await f()
    ;(res[name] ??= []).push([(cpu() - c0) / N, ((performance.now() - t0) * 1000) / N])
  }
const med = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1]
for (const [name, xs] of Object.entries(res))
  console.log(
    `${name.padEnd(18)} CPU ${med(xs.map((x) => x[0]))
      .toFixed(0)
      .padStart(5)} µs/call   wall ${med(xs.map((x) => x[1]))
      .toFixed(0)
      .padStart(5)} µs/call`
  )
await undici.dispose()
await fetchRt.dispose()
server.kill()
process.exit(0)
