#!/usr/bin/env node
// Profiling helper (not part of the benchmark): runs ONE client runner against the mock server
// under `node --cpu-prof` and prints the hottest functions by self time. Needs `pnpm build` for
// agentfx (the runner is transpiled and imports resolve to packages/*/dist).
//
//   node bench/profile.mjs --client agentfx --scenario roundtrip [--protocol chat] [--n 2000]
//        [--chunks N] [--top 40] [--no-prof] [--interval µs]
//
// Without --no-prof, the .cpuprofile is kept in $TMPDIR/agentfx-profiles/.

import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

const HERE = path.dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i === -1 ? dflt : args[i + 1]
}
const client = flag("client", "agentfx")
const scenario = flag("scenario", "roundtrip")
const protocol = flag("protocol", "chat")
const top = Number(flag("top", "40"))
const prof = !args.includes("--no-prof")

let file = path.join(HERE, "clients", `${client}.mjs`)
if (client === "agentfx") {
  const ts = (await import("typescript")).default
  const src = fs.readFileSync(path.join(HERE, "clients", "agentfx.ts"), "utf8")
  file = path.join(HERE, "clients", ".agentfx.profile.mjs")
  fs.writeFileSync(
    file,
    ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
    }).outputText
  )
}

const server = spawn(
  process.execPath,
  [path.join(HERE, "mock-server.mjs"), "--exit-on-stdin-close"],
  {
    stdio: ["pipe", "pipe", "inherit"]
  }
)
const info = JSON.parse(
  await new Promise((resolve) => createInterface({ input: server.stdout }).once("line", resolve))
)
const profDir = path.join(os.tmpdir(), "agentfx-profiles")
fs.mkdirSync(profDir, { recursive: true })
const runnerArgs = ["--scenario", scenario, "--url", info.url, "--protocol", protocol]
if (flag("n")) runnerArgs.push("--n", flag("n"))
if (flag("chunks")) runnerArgs.push("--chunks", flag("chunks"))
const interval = flag("interval", undefined) // sampling interval in µs (V8's default: 1000)
const nodeArgs = prof
  ? [
      "--cpu-prof",
      `--cpu-prof-dir=${profDir}`,
      ...(interval === undefined ? [] : [`--cpu-prof-interval=${interval}`])
    ]
  : []
const before = new Set(fs.readdirSync(profDir))
const out = await new Promise((resolve) => {
  const c = spawn(process.execPath, [...nodeArgs, file, ...runnerArgs], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NODE_ENV: "production" }
  })
  let s = ""
  c.stdout.on("data", (d) => (s += d))
  c.on("exit", () => resolve(s))
})
server.kill("SIGTERM")
if (client === "agentfx") fs.rmSync(file, { force: true })
const line = out.split("\n").find((l) => l.startsWith("BENCH_RESULT "))
console.log(line ?? out)

if (prof) {
  const name = fs.readdirSync(profDir).find((f) => !before.has(f))
  const p = JSON.parse(fs.readFileSync(path.join(profDir, name), "utf8"))
  const dt = new Map()
  for (let i = 0; i < p.samples.length; i++)
    dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const self = new Map()
  let total = 0
  for (const n of p.nodes) {
    const t = dt.get(n.id) ?? 0
    total += t
    const cf = n.callFrame
    const key = `${cf.functionName || "(anon)"} ${cf.url.replace(/^.*node_modules\/\.pnpm\//, "").replace(/^file:\/\/\/work\/main\//, "")}:${cf.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + t)
  }
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [k, t] of rows)
    console.log(
      `${((100 * t) / total).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(6)}ms  ${k}`
    )
  console.log(`profile: ${path.join(profDir, name)}`)
}
