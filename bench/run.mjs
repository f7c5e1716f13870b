#!/usr/bin/env node
// agentfx benchmark orchestrator: `pnpm bench` (= node bench/run.mjs) from the root.
//
// Starts the loopback mock server (its own process), then for each scenario runs
// every client × protocol in a fresh `node` process, interleaved (one process per
// client per repetition, client order rotated each repetition), takes medians,
// computes ratios to raw fetch on the same protocol, and writes bench/RESULTS.md.
//
// Flags:
//   --reps N              repetitions per client and scenario (default 5)
//   --scenarios a,b       subset of: roundtrip,stream,stream-paced,stream-paced-concurrent,agent-tool,
//                         concurrent,import,partial-json
//   --clients a,b         subset of: raw,effect-floor,openai,ai-sdk,effect-ai,agentfx,agentfx-onevent
//                         (agentfx-onevent: `run` with `onEvent`, stream scenarios only; or client/protocol,
//                         e.g. ai-sdk/chat); raw is always added, it is the reference. effect-floor is a
//                         second reference (bare @effect/platform HttpClient), with no target
//   --smoke               small sizes and 1 repetition (unless --reps): checks the harness, not a result
//   --loader auto|tsx|node  how runners are started (default auto: node if packages/*/dist exist, else tsx)
//   --timeout S           per-process timeout in seconds (default 300)
//   --pin                 pin the mock server to the last CPU and the runners to the others (taskset)
//   --warmup N            override every runner's warm-up (calls, runs or chunks; not a full run)
//   --hot-warmup N        stream-paced: the warm-up chunks between the early and the timed stream
//   --streams N           stream-paced-concurrent: paced streams at once (default 10)
//   --out FILE            where to write the Markdown report (default: bench/RESULTS.md for a full run,
//                         bench/results-partial.md otherwise)
//
// RESULTS.md is written only by a full run (all scenarios, ≥ 5 repetitions, full sizes);
// smoke and partial runs go to results-partial.md so that they are never mistaken for results.

import { execFileSync, spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { SCENARIOS } from "./clients/_harness.mjs"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, "..")

// ------------------------------------------------------------------ config

const ALL_SCENARIOS = [
  "roundtrip",
  "stream",
  "stream-paced",
  "stream-paced-concurrent",
  "agent-tool",
  "concurrent",
  "import",
  "partial-json"
]
const ALL_VARIANTS = [
  { client: "raw", protocol: "chat" },
  { client: "raw", protocol: "responses" },
  { client: "effect-floor", protocol: "chat" },
  { client: "effect-floor", protocol: "responses" },
  { client: "openai", protocol: "chat" },
  { client: "openai", protocol: "responses" },
  { client: "ai-sdk", protocol: "chat" },
  { client: "ai-sdk", protocol: "responses" },
  { client: "effect-ai", protocol: "responses" },
  { client: "agentfx", protocol: "chat" },
  { client: "agentfx", protocol: "responses" },
  // agentfx's push path (`agent.run(prompt, { onEvent })`, no `Stream` step per read): its own
  // rows, in the stream scenarios only (ONEVENT_SCENARIOS), beside `runStream`'s
  { client: "agentfx-onevent", protocol: "chat" },
  { client: "agentfx-onevent", protocol: "responses" }
]
const ONEVENT_SCENARIOS = ["stream", "stream-paced", "stream-paced-concurrent"]
const LABEL = {
  raw: "raw fetch + JSON.parse",
  "effect-floor": "Effect HTTP floor (reference)",
  openai: "openai SDK",
  "ai-sdk": "ai + @ai-sdk/openai",
  "effect-ai": "@effect/ai + @effect/ai-openai",
  agentfx: "agentfx",
  "agentfx-onevent": "agentfx run + onEvent (push)"
}
// Full sizes and warm-ups are the harness's own (clients/_harness.mjs); smoke sizes are passed
// as --n/--chunks.
const FULL = Object.fromEntries(
  [
    "roundtrip",
    "stream",
    "stream-paced",
    "stream-paced-concurrent",
    "agent-tool",
    "concurrent"
  ].map((s) => [s, SCENARIOS[s].n ?? SCENARIOS[s].chunks])
)
const SMOKE = {
  roundtrip: 200,
  stream: 2000,
  "stream-paced": 300,
  "stream-paced-concurrent": 100,
  "agent-tool": 50,
  concurrent: 200
}
const WARMUP = Object.fromEntries(
  ["roundtrip", "agent-tool", "concurrent"].map((s) => [s, SCENARIOS[s].warmup])
)
// stream-paced smoke runs: both paced warm-ups this short
const SMOKE_PACED_WARMUP = 100

// scenario → how it is judged. `better`: which direction is good; `target`: for agentfx.
const JUDGE = {
  roundtrip: {
    metric: "usPerCall",
    unit: "µs/call",
    better: "lower",
    target: 1.3,
    extra: ["cpuUsPerCall"]
  },
  stream: {
    metric: "chunksPerSec",
    unit: "chunks/s",
    better: "higher",
    target: 0.3,
    extra: ["cpuUsPerChunk", "wallMs"]
  },
  "stream-paced": {
    metric: "cpuUsPerChunk",
    unit: "CPU µs/chunk",
    better: "lower",
    target: 1.5,
    extra: ["mainUsPerChunk", "earlyCpuUsPerChunk", "wallMs"],
    extraRatio: ["mainUsPerChunk", "earlyCpuUsPerChunk"]
  },
  // the same CPU per chunk, N streams at once, early streams counted (no target of its own in the
  // full run's verdict beyond issue #14's: ≤ 1.3× raw)
  "stream-paced-concurrent": {
    metric: "cpuUsPerChunk",
    unit: "CPU µs/chunk",
    better: "lower",
    target: 1.3,
    extra: ["mainUsPerChunk", "wallMs"],
    extraRatio: ["mainUsPerChunk"]
  },
  "agent-tool": {
    metric: "usPerRun",
    unit: "µs/run",
    better: "lower",
    target: 1.3,
    extra: ["cpuUsPerRun"]
  },
  concurrent: { metric: "wallMs", unit: "wall ms", better: "lower", target: 1.3, extra: ["cpuMs"] },
  "concurrent-rss": {
    metric: "peakRssMB",
    unit: "peak RSS MB",
    better: "lower",
    target: 1.15,
    // the decomposition: peak = before + growth (each column is its own median)
    extra: ["rssInitMB", "rssBeforeMB", "rssGrowthMB"],
    extraRatio: ["rssBeforeMB", "rssGrowthMB"]
  },
  import: {
    metric: "importMs",
    unit: "import ms",
    better: "lower",
    target: 1.3,
    extra: ["coldStartMs", "processMs", "rssStartMB", "rssMB"],
    extraRatio: ["rssMB"]
  },
  "partial-json": {
    metric: "ratio",
    unit: "t(100 KB)/t(10 KB)",
    better: "lower",
    target: 13,
    extra: ["smallMs", "largeMs"]
  }
}

// column headings of secondary metrics (default: `<key> (median)`)
const EXTRA_LABEL = {
  rssInitMB: "RSS after init MB",
  rssBeforeMB: "RSS before run MB",
  rssGrowthMB: "RSS growth MB (peak − before)",
  rssStartMB: "RSS before import MB",
  rssMB: "RSS after import MB",
  mainUsPerChunk: "main-thread µs/chunk",
  earlyCpuUsPerChunk: "early stream CPU µs/chunk"
}

function parseArgs(argv) {
  const o = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`)
    const k = a.slice(2)
    if (argv[i + 1] !== undefined && !argv[i + 1].startsWith("--")) o[k] = argv[++i]
    else o[k] = true
  }
  return o
}

const args = parseArgs(process.argv.slice(2))
if (args.help || args.h) {
  const src = fs.readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n")
  console.log(
    src
      .filter((l) => l.startsWith("//"))
      .map((l) => l.slice(3))
      .join("\n")
  )
  process.exit(0)
}
const smoke = !!args.smoke
const reps = Number(args.reps ?? (smoke ? 1 : 5))
const scenarios = args.scenarios ? String(args.scenarios).split(",") : ALL_SCENARIOS
for (const s of scenarios) if (!ALL_SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}`)
const timeoutMs = Number(args.timeout ?? 300) * 1000
let variants = ALL_VARIANTS
if (args.clients) {
  const want = String(args.clients).split(",")
  variants = ALL_VARIANTS.filter(
    (v) =>
      v.client === "raw" || want.includes(v.client) || want.includes(`${v.client}/${v.protocol}`)
  )
  for (const w of want)
    if (!ALL_VARIANTS.some((v) => v.client === w || `${v.client}/${v.protocol}` === w))
      throw new Error(`unknown client ${w}`)
}
const fullRun =
  !smoke &&
  reps >= 5 &&
  ALL_SCENARIOS.every((s) => scenarios.includes(s)) &&
  !args.clients &&
  args.warmup === undefined &&
  args["hot-warmup"] === undefined &&
  args.streams === undefined
const outFile = args.out
  ? path.resolve(process.cwd(), String(args.out))
  : path.join(HERE, fullRun ? "RESULTS.md" : "results-partial.md")

// ------------------------------------------------------------------ loader

const distBuilt = ["core", "providers"].every((p) =>
  fs.existsSync(path.join(ROOT, "packages", p, "dist", "index.js"))
)
let loader = String(args.loader ?? "auto")
if (loader === "auto") loader = distBuilt ? "node" : "tsx"
if (!["tsx", "node"].includes(loader)) throw new Error(`--loader must be auto, tsx or node`)
const tsxUrl = import.meta.resolve("tsx")
// --loader node: the agentfx runner transpiled (removed again when run.mjs ends). One file per
// run.mjs process: two runs at once must not delete each other's copy.
const COMPILED = path.join(HERE, "clients", `.agentfx.compiled.${process.pid}.mjs`)
const removeCompiled = () => fs.rmSync(COMPILED, { force: true })

/** The agentfx runner serves both agentfx rows (`agentfx-onevent` through an env variable). */
const isAgentfx = (client) => client === "agentfx" || client === "agentfx-onevent"

function runnerFile(client) {
  if (!isAgentfx(client)) return path.join(HERE, "clients", `${client}.mjs`)
  if (loader === "tsx") return path.join(HERE, "clients", "agentfx.ts")
  // node loader: transpile the TS runner once (types only, no bundling); packages resolve to dist/
  return COMPILED
}

async function prepareLoader() {
  if (loader !== "node" || !variants.some((v) => isAgentfx(v.client))) return
  const ts = (await import("typescript")).default
  const src = fs.readFileSync(path.join(HERE, "clients", "agentfx.ts"), "utf8")
  const js = ts.transpileModule(src, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
  }).outputText
  fs.writeFileSync(COMPILED, js)
  // warn when dist/ looks older than src/
  for (const p of ["core", "output", "providers"]) {
    const dist = path.join(ROOT, "packages", p, "dist")
    const src = path.join(ROOT, "packages", p, "src")
    if (!fs.existsSync(dist) || !fs.existsSync(src)) continue
    const newest = (dir) =>
      fs
        .readdirSync(dir, { recursive: true })
        .map((f) => fs.statSync(path.join(dir, String(f))).mtimeMs)
        .reduce((a, b) => Math.max(a, b), 0)
    if (newest(src) > newest(dist))
      console.warn(`warning: packages/${p}/src is newer than dist/ — run \`pnpm build\` first`)
  }
}

let pin = null
if (args.pin) {
  const n = os.cpus().length
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" })
    if (n >= 2) pin = { server: String(n - 1), runner: n === 2 ? "0" : `0-${n - 2}` }
  } catch {
    console.warn("warning: --pin needs taskset; running unpinned")
  }
}
const withPin = (cpus, cmd, argv) => (cpus ? ["taskset", ["-c", cpus, cmd, ...argv]] : [cmd, argv])

// ------------------------------------------------------------------ mock server

function requestBudget() {
  const size = smoke ? SMOKE : FULL
  let perRep = 0
  for (const s of scenarios) {
    const n = size[s] ?? 0
    const per =
      s === "roundtrip" || s === "concurrent"
        ? n + WARMUP[s]
        : s === "agent-tool"
          ? 2 * (n + WARMUP[s])
          : s === "stream"
            ? 2
            : s === "stream-paced"
              ? 4
              : s === "stream-paced-concurrent"
                ? 2 * Number(args.streams ?? SCENARIOS[s].streams)
                : 0
    perRep += per * variants.length
  }
  return Math.ceil(perRep * reps * 1.2) + 1000
}

let server = null
async function startServer() {
  const [cmd, argv] = withPin(pin?.server, process.execPath, [
    path.join(HERE, "mock-server.mjs"),
    "--max-requests",
    String(requestBudget()),
    "--max-lifetime-ms",
    String(3 * 60 * 60 * 1000),
    "--exit-on-stdin-close"
  ])
  const child = spawn(cmd, argv, { stdio: ["pipe", "pipe", "inherit"], cwd: HERE })
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout })
    rl.once("line", (l) => {
      rl.close()
      resolve(l)
    })
    child.once("exit", (code) => reject(new Error(`mock server exited early (code ${code})`)))
  })
  const info = JSON.parse(line)
  child.on("exit", (code, sig) => {
    if (!stopping) {
      console.error(`mock server died (code ${code}, signal ${sig}); aborting`)
      process.exit(2)
    }
  })
  server = { child, pid: child.pid, url: info.url }
  return server
}
let stopping = false
function stopServer() {
  stopping = true
  if (server && server.child.exitCode === null) {
    try {
      process.kill(server.pid, "SIGTERM")
    } catch {}
  }
}
let current = null
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (current) current.kill("SIGKILL")
    stopServer()
    removeCompiled()
    process.exit(130)
  })
}

// ------------------------------------------------------------------ runs

function runOnce(v, scenario) {
  const file = runnerFile(v.client)
  const a = ["--scenario", scenario, "--url", server.url, "--protocol", v.protocol]
  if (smoke && SMOKE[scenario])
    a.push(scenario.startsWith("stream") ? "--chunks" : "--n", String(SMOKE[scenario]))
  if (smoke && scenario === "stream-paced")
    a.push("--warmup", String(SMOKE_PACED_WARMUP), "--hot-warmup", String(SMOKE_PACED_WARMUP))
  if (args.warmup !== undefined) a.push("--warmup", String(args.warmup))
  if (args["hot-warmup"] !== undefined) a.push("--hot-warmup", String(args["hot-warmup"]))
  if (args.streams !== undefined && scenario === "stream-paced-concurrent")
    a.push("--streams", String(args.streams))
  const nodeArgs =
    loader === "tsx"
      ? ["--import", tsxUrl, "--conditions=@agentfx/source", file, ...a]
      : [file, ...a]
  const [cmd, argv] = withPin(pin?.runner, process.execPath, nodeArgs)
  return new Promise((resolve) => {
    const t0 = performance.now()
    const child = spawn(cmd, argv, {
      cwd: HERE,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        NODE_ENV: "production",
        ...(v.client === "agentfx-onevent" ? { AGENTFX_BENCH_CONSUME: "onevent" } : {})
      }
    })
    current = child
    let out = ""
    let err = ""
    child.stdout.on("data", (d) => (out += d))
    child.stderr.on("data", (d) => {
      err += d
      if (err.length > 20000) err = err.slice(-10000)
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("exit", (code, sig) => {
      clearTimeout(timer)
      current = null
      const processMs = performance.now() - t0
      const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "))
      if (line) {
        const r = JSON.parse(line.slice("BENCH_RESULT ".length))
        if (r.ok) r.metrics.processMs = processMs
        return resolve(r)
      }
      const why = sig === "SIGKILL" ? `timeout after ${timeoutMs / 1000} s` : `exit ${code ?? sig}`
      const lastErr = err.trim().split("\n").filter(Boolean).slice(-1)[0] ?? ""
      resolve({
        ...v,
        scenario,
        ok: false,
        error: `${why}${lastErr ? `: ${lastErr.slice(0, 300)}` : ""}`
      })
    })
  })
}

function variantsFor(scenario) {
  if (!ONEVENT_SCENARIOS.includes(scenario))
    return variantsOf(scenario).filter((v) => v.client !== "agentfx-onevent")
  return variantsOf(scenario)
}

function variantsOf(scenario) {
  if (scenario === "partial-json")
    return variants.filter((v) => v.client === "agentfx" && v.protocol === "chat")
  if (scenario === "import") {
    const seen = new Set()
    return variants.filter((v) => !seen.has(v.client) && seen.add(v.client))
  }
  return variants
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

// ------------------------------------------------------------------ main

const started = new Date()
const loadAtStart = os.loadavg()
await prepareLoader()
await startServer()
console.log(
  `mock server ${server.url} (pid ${server.pid}); loader ${loader}; reps ${reps}${smoke ? " (smoke sizes)" : ""}; scenarios ${scenarios.join(",")}`
)

const samples = {} // scenario → key → [result]
const key = (v) => `${v.client}/${v.protocol}`
for (const scenario of scenarios) {
  const vs = variantsFor(scenario)
  samples[scenario] = {}
  const dead = new Set() // failed in their first repetition: not retried
  for (let rep = 0; rep < reps; rep++) {
    const order = vs.map((_, i) => vs[(i + rep) % vs.length]) // rotate: no client always first
    for (const v of order) {
      if (dead.has(key(v))) continue
      const r = await runOnce(v, scenario)
      samples[scenario][key(v)] ??= []
      samples[scenario][key(v)].push(r)
      const m = r.ok ? JSON.stringify(roundAll(r.metrics)) : `n/a (error: ${r.error})`
      console.log(`[${scenario} ${rep + 1}/${reps}] ${key(v).padEnd(20)} ${m}`)
      if (!r.ok && rep === 0) dead.add(key(v))
    }
  }
}
stopServer()
removeCompiled()

function roundAll(o) {
  const out = {}
  for (const [k, v] of Object.entries(o))
    out[k] = typeof v === "number" ? Number(v.toPrecision(4)) : v
  return out
}

// ------------------------------------------------------------------ report

const fmt = (x) => {
  if (x === undefined || x === null || Number.isNaN(x)) return "–"
  const a = Math.abs(x)
  if (a >= 10000) return Math.round(x).toLocaleString("en-US")
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

function summarize(scenario, judgeKey) {
  const J = JUDGE[judgeKey]
  const rows = []
  for (const v of variantsFor(scenario)) {
    const rs = samples[scenario]?.[key(v)] ?? []
    const ok = rs.filter((r) => r.ok)
    if (!ok.length) {
      const err = rs.find((r) => !r.ok)?.error ?? "not run"
      const short = err.replaceAll(`${ROOT}/`, "").replace(/\|/g, "\\|").slice(0, 160)
      rows.push({ v, na: `n/a (error: ${short})` })
      continue
    }
    const vals = ok.map((r) => r.metrics[J.metric])
    const extra = Object.fromEntries(J.extra.map((k) => [k, median(ok.map((r) => r.metrics[k]))]))
    rows.push({
      v,
      med: median(vals),
      min: Math.min(...vals),
      max: Math.max(...vals),
      n: ok.length,
      failed: rs.length - ok.length,
      extra
    })
  }
  // ratio to raw on the same protocol (import: to raw's bare import("effect"); partial-json: none)
  for (const r of rows) {
    if (r.na || scenario === "partial-json") continue
    const ref = rows.find(
      (x) => x.v.client === "raw" && (scenario === "import" || x.v.protocol === r.v.protocol)
    )
    if (ref && !ref.na) {
      r.ratio = r.med / ref.med
      r.extraRatio = Object.fromEntries(
        (J.extraRatio ?? []).map((k) => [k, r.extra[k] / ref.extra[k]])
      )
    }
  }
  return { J, rows }
}

function verdict(scenario, J, r) {
  if (!isAgentfx(r.v.client) || r.na) return ""
  const x = scenario === "partial-json" ? r.med : r.ratio
  if (x === undefined) return ""
  const pass = J.better === "lower" ? x <= J.target : x >= J.target
  return pass ? "✅ pass" : "❌ fail"
}

const targetText = (scenario, J) =>
  scenario === "partial-json"
    ? `≈ 10 (linear), ≤ ${J.target}`
    : `${J.better === "lower" ? "≤" : "≥"} ${J.target}× raw`

const versions = {}
for (const p of [
  "effect",
  "@effect/platform",
  "@effect/platform-node",
  "openai",
  "ai",
  "@ai-sdk/openai",
  "@effect/ai",
  "@effect/ai-openai",
  "tsx"
]) {
  try {
    versions[p] = JSON.parse(
      fs.readFileSync(path.join(HERE, "node_modules", p, "package.json"), "utf8")
    ).version
  } catch {
    versions[p] = "?"
  }
}
let commit = "?"
try {
  commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
    cwd: ROOT,
    encoding: "utf8"
  }).trim()
} catch {}

const lines = []
const title = fullRun
  ? "# agentfx benchmark results"
  : "# agentfx benchmark — partial / smoke run (NOT the results)"
lines.push(title, "")
if (!fullRun)
  lines.push(
    `> Written by \`node bench/run.mjs ${process.argv.slice(2).join(" ")}\`: ${smoke ? "smoke sizes, " : ""}${reps} repetition(s). ` +
      "Use it to check the harness only; the results are produced by a full `pnpm bench`.",
    ""
  )
lines.push(
  "Generated by `pnpm bench` (bench/run.mjs). Medians of interleaved repetitions, each client in a fresh `node` process " +
    "against a loopback mock OpenAI server running in its own process. Ratios are to raw `fetch` + `JSON.parse` on the same " +
    'protocol (`import`: to a bare `import("effect")`). min–max is the spread over repetitions. ' +
    "The Effect HTTP floor rows are a reference, not a peer: the bare `@effect/platform` HttpClient over undici, " +
    "the floor of any Effect-based client. See bench/README.md.",
  ""
)
if (fullRun)
  lines.push(
    "The hand-written analysis (spread over rounds, what changed, why a target is missed) is in " +
      "[ANALYSIS.md](ANALYSIS.md); it names the run it was written for.",
    ""
  )
lines.push("## Machine", "")
const cpus = os.cpus()
lines.push(
  `- CPU: ${cpus[0]?.model ?? "?"} × ${cpus.length} logical cores (${os.availableParallelism?.() ?? cpus.length} available)`,
  `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; OS: ${os.type()} ${os.release()} ${os.arch()}`,
  `- Node ${process.version}; runner loader: ${loader === "tsx" ? "`node --import tsx --conditions=@agentfx/source` for every client (agentfx is TypeScript source; tsx's module hooks slow every import, for all clients alike)" : "plain `node` for every client (agentfx from packages/*/dist)"}${pin ? `; pinned: server on CPU ${pin.server}, runners on ${pin.runner}` : "; not CPU-pinned (server and client share the cores)"}`,
  `- load average (1/5/15 min) at start: ${loadAtStart.map((x) => x.toFixed(2)).join(" / ")}, at end: ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(" / ")} (other work on the machine skews the numbers; run on an idle machine)`,
  `- date: ${started.toISOString()}; duration: ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; repetitions: ${reps}; commit: ${commit}`,
  `- peers: ${Object.entries(versions)
    .map(([k, v]) => `\`${k}\` ${v}`)
    .join(", ")}`,
  ""
)

const sizes = smoke ? SMOKE : FULL
// stream-paced's warm-up: a first paced stream, the early (measured) stream, a second one
const pacedWarm = [
  Number(args.warmup ?? (smoke ? SMOKE_PACED_WARMUP : SCENARIOS["stream-paced"].warmupChunks)),
  Number(
    args["hot-warmup"] ?? (smoke ? SMOKE_PACED_WARMUP : SCENARIOS["stream-paced"].hotWarmupChunks)
  )
]
const pacedWarmTotal = pacedWarm[0] + sizes["stream-paced"] + pacedWarm[1]
const describe = {
  roundtrip: `${sizes.roundtrip} sequential non-streaming requests (after ${WARMUP.roundtrip} warm-up)`,
  stream: `one streamed response of ${sizes.stream} SSE chunks (after a 200-chunk warm-up)`,
  "stream-paced": `one stream of ${sizes["stream-paced"]} chunks arriving ~1 per ms (after paced warm-up streams of ${pacedWarmTotal} chunks in all); client CPU (user+system) per chunk. The early stream is the same stream measured right after the first ${pacedWarm[0]} warm-up chunks (no target; see ANALYSIS.md)`,
  "stream-paced-concurrent": `${Number(args.streams ?? SCENARIOS["stream-paced-concurrent"].streams)} paced streams of ${sizes["stream-paced-concurrent"]} chunks each (~1 per ms per stream) read at once, after one warm-up round of the same (no other warm-up: the early streams count); client CPU (user+system) per chunk over the timed round`,
  "agent-tool": `${sizes["agent-tool"]} sequential runs of tool call → tool → final answer (after ${WARMUP["agent-tool"]} warm-up)`,
  concurrent: `${sizes.concurrent} non-streaming runs started at once; wall time and process peak RSS`,
  "concurrent-rss":
    `${sizes.concurrent} non-streaming runs started at once. Peak RSS (\`maxRSS\`) is decomposed into the RSS right before the timed run ` +
    `(after import, client init and ${WARMUP.concurrent} warm-up calls; current RSS, no forced GC) and the growth during the run ` +
    '(peak − before, per repetition). "after init" is the RSS once every library is imported and the client is built. ' +
    "Each column is its own median, so before + growth need not add up to the peak exactly.",
  import:
    "time to `import()` the client's packages in a fresh process (agentfx: core + providers; Effect floor: `effect/Effect`, " +
    "`effect/ManagedRuntime`, `effect/Stream`, `@effect/platform-node/NodeHttpClient` (with undici) and " +
    "`@effect/platform/HttpClient(Request)`; raw: bare `effect`), and the process RSS " +
    "before and right after that import (current RSS, no forced GC)",
  "partial-json":
    "agentfx partial-JSON parser: time for 100 KB vs 10 KB of a JSON array pushed in 8-char deltas, snapshot after each"
}

lines.push(
  "## Summary (agentfx targets)",
  "",
  "Targets are judged against raw. The last column reads agentfx against the Effect HTTP floor " +
    "(the bare `@effect/platform` client on the same runtime set-up, no target): what agentfx adds on top of " +
    "the HTTP stack any Effect-based client pays for. (import: the floor's set includes the transport, " +
    "`@effect/platform-node/NodeHttpClient` and undici, agentfx's import scenario does not.)",
  ""
)
lines.push(
  "| scenario | metric | agentfx chat | agentfx responses | target | | agentfx ÷ Effect floor (chat / responses) |"
)
lines.push("| --- | --- | --- | --- | --- | --- | --- |")
const summaries = []
for (const scenario of scenarios) {
  const judges = scenario === "concurrent" ? ["concurrent", "concurrent-rss"] : [scenario]
  for (const jk of judges) {
    const s = summarize(scenario, jk)
    summaries.push({ scenario, jk, ...s })
    const cell = (proto) => {
      const r = s.rows.find(
        (x) =>
          x.v.client === "agentfx" &&
          (scenario === "partial-json" || scenario === "import" || x.v.protocol === proto)
      )
      if (!r) return "–"
      if (r.na) return "n/a"
      return scenario === "partial-json" ? `${fmt(r.med)}×` : `${fmt(r.med)} (${fmt(r.ratio)}×)`
    }
    const r = s.rows.find((x) => x.v.client === "agentfx" && !x.na)
    const verdicts = s.rows
      .filter((x) => x.v.client === "agentfx")
      .map((x) => verdict(scenario, s.J, x))
      .filter(Boolean)
    const v = !verdicts.length
      ? "n/a"
      : verdicts.every((x) => x.includes("pass"))
        ? "✅ pass"
        : "❌ fail"
    const single = scenario === "partial-json" || scenario === "import"
    // agentfx ÷ floor on the same protocol (import: one row each)
    const overFloor = (proto) => {
      const pick = (client) =>
        s.rows.find((x) => x.v.client === client && !x.na && (single || x.v.protocol === proto))
      const a = pick("agentfx")
      const f = pick("effect-floor")
      return a && f ? `${fmt(a.med / f.med)}×` : "–"
    }
    const floorCell =
      scenario === "partial-json"
        ? "–"
        : single
          ? overFloor("chat")
          : `${overFloor("chat")} / ${overFloor("responses")}`
    lines.push(
      `| ${scenario} | ${s.J.unit} | ${cell("chat")} | ${single ? "(same)" : cell("responses")} | ${targetText(scenario, s.J)} | ${r ? v : "n/a"} | ${floorCell} |`
    )
  }
}
lines.push("")
// the push path's rows (`agent.run` with `onEvent`), beside the summary's `runStream` rows
const pushed = summaries
  .filter((x) => ONEVENT_SCENARIOS.includes(x.scenario))
  .map(({ scenario, rows }) => {
    const ratios = ["chat", "responses"].map((proto) => {
      const x = rows.find(
        (r) => r.v.client === "agentfx-onevent" && r.v.protocol === proto && !r.na
      )
      return x?.ratio === undefined ? "–" : `${fmt(x.ratio)}×`
    })
    return ratios.every((r) => r === "–") ? undefined : `${scenario} ${ratios.join(" / ")}`
  })
  .filter(Boolean)
if (pushed.length > 0)
  lines.push(
    `${LABEL["agentfx-onevent"]} (the same runs read with \`agent.run(prompt, { onEvent })\`, no ` +
      `\`Stream\` step per read), ÷ raw, chat / responses: ${pushed.join("; ")}.`,
    ""
  )
// stream-paced's early stream (right after the first 1000 warm-up chunks): reported, no target
const paced = summaries.find((x) => x.jk === "stream-paced")
if (paced) {
  const early = (client) => {
    const ratios = ["chat", "responses"].map((proto) => {
      const x = paced.rows.find((r) => r.v.client === client && r.v.protocol === proto && !r.na)
      const e = x?.extraRatio?.earlyCpuUsPerChunk
      return e === undefined || Number.isNaN(e) ? undefined : `${fmt(e)}×`
    })
    return ratios.some((e) => e !== undefined)
      ? `${LABEL[client]} ${ratios.map((e) => e ?? "–").join(" / ")}`
      : undefined
  }
  const parts = ["agentfx", "effect-floor", "openai", "ai-sdk", "effect-ai"]
    .map(early)
    .filter(Boolean)
  if (parts.length > 0)
    lines.push(
      `stream-paced, the early stream (the same stream measured after the first ${pacedWarm[0]} warm-up ` +
        `chunks instead of ${pacedWarmTotal}; no target), CPU per chunk ÷ raw, chat / responses: ${parts.join("; ")}.`,
      ""
    )
}

for (const { scenario, jk, J, rows } of summaries) {
  lines.push(
    `## ${jk === "concurrent-rss" ? "concurrent — peak RSS" : scenario}`,
    "",
    describe[jk],
    ""
  )
  // secondary metrics; those in J.extraRatio get a "÷ raw" column after them
  const extraCols = J.extra.flatMap((k) =>
    (J.extraRatio ?? []).includes(k) ? [{ k }, { k, ratio: true }] : [{ k }]
  )
  const extraHead = extraCols
    .map((c) => (c.ratio ? "÷ raw" : `${EXTRA_LABEL[c.k] ?? c.k} (median)`))
    .join(" | ")
  lines.push(
    `| client | protocol | ${J.unit} (median) | min–max | ratio to raw |${extraHead ? ` ${extraHead} |` : ""} runs |`
  )
  lines.push(`| --- | --- | --- | --- | --- |${extraCols.map(() => " --- |").join("")} --- |`)
  for (const r of rows) {
    const name =
      scenario === "import" && r.v.client === "raw"
        ? 'raw: bare `import("effect")`'
        : LABEL[r.v.client]
    const proto = scenario === "import" || scenario === "partial-json" ? "–" : r.v.protocol
    if (r.na) {
      lines.push(`| ${name} | ${proto} | ${r.na} | | |${extraCols.map(() => " |").join("")} 0 |`)
      continue
    }
    const ratio = r.ratio === undefined ? "–" : `${fmt(r.ratio)}×`
    const ex = extraCols
      .map((c) => {
        if (!c.ratio) return ` ${fmt(r.extra[c.k])} |`
        const x = r.extraRatio?.[c.k]
        return ` ${x === undefined || Number.isNaN(x) ? "–" : `${fmt(x)}×`} |`
      })
      .join("")
    const runs = `${r.n}${r.failed ? ` (+${r.failed} failed)` : ""}`
    const vd = verdict(scenario, J, r)
    lines.push(
      `| ${name} | ${proto} | ${fmt(r.med)} | ${fmt(r.min)}–${fmt(r.max)} | ${ratio}${vd ? ` ${vd.split(" ")[0]}` : ""} |${ex} ${runs} |`
    )
  }
  lines.push("")
}

fs.writeFileSync(outFile, `${lines.join("\n")}\n`)
fs.writeFileSync(
  outFile.replace(/\.md$/, ".json"),
  `${JSON.stringify({ started, loader, reps, smoke, samples }, null, 1)}\n`
)
console.log(`\n${lines.join("\n")}`)
console.log(`wrote ${path.relative(process.cwd(), outFile)} (+ .json with every sample)`)
