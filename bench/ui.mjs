#!/usr/bin/env node
// UI encoding overhead (not part of the benchmark run; needs `pnpm build`). Two measurements:
// 1. end to end: the CPU per text chunk of `agent.runStream` alone vs the same run encoded by
//    `UiStream.aiSdk` (the AI SDK UI message stream as SSE bytes, what `aiSdkResponse` writes)
//    and by `UiStream.agUi`, over OpenAI Chat against the loopback mock server
//    (bench/mock-server.mjs, its own process), repetitions interleaved;
// 2. encoding alone: the events of one such run, recorded with their network chunking, replayed
//    from memory through each encoder (minus the replay itself) — the same cost without the
//    HTTP noise, divided by (1)'s runStream cost as the expected overhead.
// Target (issue #16): the AI SDK encoding adds ≤ 5 % CPU per chunk to `stream`. The encoders run
// inside the run's stream (`Agent.mapRunStreamChunks`); "… aiSdk, as a stage" is the same
// encoder through a `Stream.mapChunks` stage of its own (what a piped run stream gets).
// "run + onEvent" is the run consumed by a callback (no Stream step per event);
// "UiStream.aiSdkRun" / "UiStream.agUiRun" are the fast-path bodies, encoding its events as the
// run emits them (compare them with "run + onEvent" as well as with runStream).
// The replay of (2) is a plain stream, so it measures the encoder as a stage.
//   node bench/ui.mjs [--chunks 5000] [--reps 30] [--paced 0] [--memory 0]
// `stream`: N deltas written at once (many events per network read); `--paced N`: one delta per
// millisecond (one event per read; CPU per chunk there is dominated by wake-ups, so noisy);
// `--memory N`: a FunctionModel streaming N deltas from memory, one per chunk (one event per
// read, no I/O: the per-event cost without the HTTP noise).
// Judging on a loaded machine: every repetition runs each variant once, in a rotated order, in
// one process; besides the median CPU per chunk, each variant's cost is given as the median of
// its PAIRED ratios (÷ runStream in the same repetition: slow drifts of the machine's load
// cancel) with their interquartile range — a ratio whose range holds 1.00 is noise.
import { spawn } from "node:child_process"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import os from "node:os"
import { Agent, FunctionModel } from "@agentfx/core"
import { OpenAiChat } from "@agentfx/providers"
import { UiStream } from "@agentfx/ui"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"

const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(name)
  return i === -1 ? dflt : Number(args[i + 1])
}
const CHUNKS = flag("--chunks", 5000)
const REPS = flag("--reps", 30)
const PACED = flag("--paced", 0)
const MEMORY = flag("--memory", 0)
const HERE = path.dirname(fileURLToPath(import.meta.url))

const server = spawn(
  process.execPath,
  [path.join(HERE, "mock-server.mjs"), "--exit-on-stdin-close"],
  {
    stdio: ["pipe", "pipe", "inherit"]
  }
)
const { url } = await new Promise((resolve, reject) => {
  createInterface({ input: server.stdout }).once("line", (line) => resolve(JSON.parse(line)))
  server.once("exit", (code) => reject(new Error(`mock server exited (${code})`)))
})

const runtime = ManagedRuntime.make(
  OpenAiChat.layer({ apiKey: Redacted.make("x"), baseUrl: `${url}/v1` }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )
)
const agent = Agent.make({ name: "bench-ui" })
const PROMPT = "Tell me a story."

/** The same stream as a plain Stream value: the encoder runs as a stage of its own (as before #16). */
const unfused = (events) => Stream.fromChannel(Stream.toChannel(events))
/** `run` driven with `onEvent` (the fast path's own run). */
const onEventRun = (onEvent) => agent.run(PROMPT, { onEvent })
const variants = {
  runStream: () => Stream.runDrain(agent.runStream(PROMPT)),
  "runStream + UiStream.aiSdk": () => Stream.runDrain(UiStream.aiSdk(agent.runStream(PROMPT))),
  "runStream + UiStream.agUi": () =>
    Stream.runDrain(UiStream.agUi(agent.runStream(PROMPT), { runId: "r" })),
  "… aiSdk, as a stage": () => Stream.runDrain(UiStream.aiSdk(unfused(agent.runStream(PROMPT)))),
  // the fast path (#16): `run` + `onEvent`, alone and encoded by `aiSdkRun` / `agUiRun`
  "run + onEvent": () => agent.run(PROMPT, { onEvent: () => {} }),
  "UiStream.aiSdkRun": () => Stream.runDrain(UiStream.aiSdkRun(onEventRun)),
  "UiStream.agUiRun": () => Stream.runDrain(UiStream.agUiRun(onEventRun, { runId: "r" }))
}

const cpu = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}
/** `model`: a mock-server model name, or a Layer (the in-memory FunctionModel). */
const once = (model, variant) =>
  runtime.runPromise(
    Effect.suspend(() => {
      const start = cpu()
      return Effect.map(variants[variant](), () => cpu() - start)
    }).pipe(Effect.provide(typeof model === "string" ? OpenAiChat.model(model) : model))
  )
/** N text deltas from memory, one per chunk. */
const memoryModel = (n) =>
  FunctionModel.layer(undefined, {
    stream: () =>
      Stream.fromIterable(Array.from({ length: n }, (_, i) => `w${i % 10} `)).pipe(
        Stream.rechunk(1)
      )
  })
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")
const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  const i = (s.length - 1) * q
  const lo = Math.floor(i)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo)
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const pct = (r) => `${r >= 1 ? "+" : ""}${((r - 1) * 100).toFixed(1)} %`
/** Medians; with `paired`, each variant's ratios to the first in the same repetition too. */
const report = (samples, paired = false) => {
  const names = Object.keys(samples)
  const base = median(samples[names[0]])
  const out = {}
  for (const v of names) {
    const m = median(samples[v])
    const ratio = m / base
    let extra = v === names[0] ? "" : `  (${pct(ratio)})`
    if (paired && v !== names[0]) {
      const ratios = samples[v].map((x, i) => x / samples[names[0]][i])
      const [q1, q2, q3] = [0.25, 0.5, 0.75].map((q) => quantile(ratios, q))
      extra += `  paired ${pct(q2)} [IQR ${pct(q1)} … ${pct(q3)}]`
      out[v] = { median: m, ratio, paired: q2, q1, q3 }
    }
    console.log(`  ${v.padEnd(28)} ${m.toFixed(3).padStart(8)} µs  ×${ratio.toFixed(3)}${extra}`)
  }
  return { base, out }
}

const measure = async (label, model, n, warmModel) => {
  const names = Object.keys(variants)
  for (const v of names) for (let i = 0; i < 2; i++) await once(warmModel, v)
  const samples = Object.fromEntries(names.map((v) => [v, []]))
  for (let r = 0; r < REPS; r++) {
    // rotate the order every repetition so drift (GC, JIT, a busy machine) spreads evenly
    for (let k = 0; k < names.length; k++) {
      const v = names[(k + r) % names.length]
      samples[v].push((await once(model, v)) / n)
    }
  }
  console.log(
    `\n${label}, end to end: ${n} chunks, ${REPS} repetitions (load ${load()}), median CPU µs per chunk`
  )
  return report(samples, true).base
}

/** Encoding alone: one recorded run's events (network chunking kept), replayed from memory. */
const encodingAlone = async (model, n, runStreamCost) => {
  const recorded = await runtime.runPromise(
    Stream.runCollect(Stream.chunks(agent.runStream(PROMPT))).pipe(
      Effect.provide(OpenAiChat.model(model))
    )
  )
  const chunks = Chunk.toArray(recorded)
  const replay = () => Stream.fromChunks(...chunks)
  const runs = {
    replay: () => Stream.runDrain(replay()),
    "replay + UiStream.aiSdk": () => Stream.runDrain(UiStream.aiSdk(replay())),
    "replay + UiStream.agUi": () => Stream.runDrain(UiStream.agUi(replay(), { runId: "r" }))
  }
  const samples = Object.fromEntries(Object.keys(runs).map((v) => [v, []]))
  // a replay takes milliseconds: many interleaved repetitions (after a JIT warm-up) keep the
  // median steady on a busy machine
  const reps = Math.max(REPS * 6, 60)
  for (let r = 0; r < reps + 10; r++) {
    for (const [v, run] of Object.entries(runs)) {
      const start = cpu()
      await Effect.runPromise(run())
      if (r >= 10) samples[v].push((cpu() - start) / n)
    }
  }
  console.log(
    `\nencoding alone: the ${n}-chunk run's ${chunks.length} network chunks replayed ${reps}×, median CPU µs per chunk`
  )
  const base = median(samples.replay)
  report(samples, true)
  for (const v of ["replay + UiStream.aiSdk", "replay + UiStream.agUi"]) {
    const added = median(samples[v]) - base
    console.log(
      `  ${v.slice(9)} adds ${added.toFixed(3)} µs per chunk = ${((added / runStreamCost) * 100).toFixed(1)} % of runStream's ${runStreamCost.toFixed(2)} µs`
    )
  }
}

try {
  const base = await measure("stream", `bench-stream-${CHUNKS}`, CHUNKS, "bench-stream-2000")
  await encodingAlone(`bench-stream-${CHUNKS}`, CHUNKS, base)
  if (PACED > 0) await measure("paced", `bench-paced-${PACED}`, PACED, "bench-paced-200")
  if (MEMORY > 0) {
    await measure(
      "in memory (FunctionModel, one delta per chunk)",
      memoryModel(MEMORY),
      MEMORY,
      memoryModel(200)
    )
  }
  console.log(`\nload at the end: ${load()}`)
} finally {
  await runtime.dispose()
  server.stdin.end()
  server.kill()
}
