#!/usr/bin/env node
// MCP tool-call overhead of an agentfx run against the bare SDK (not part of the benchmark).
// One MCP server (bench/mcp-server.mjs: an `echo` tool, over stdio) and ONE session to it,
// opened by `McpToolset.stdio`; every case uses that session, cases interleaved round by round:
//   sdk callTool        `await client.callTool(...)` in a loop on the session's SDK client: the
//                       reference, what an MCP call costs with the SDK alone
//   McpClient.callTool  the same call as an Effect (`client.callTool`, one `runPromise` each)
//   sdk callTool + local run  each iteration: the SDK call, then the sync local run (below): the
//                       call with a run's work between calls but not through the run (control)
//   sdk callTool + shapes  each iteration: the SDK call, then a loop reading one property of
//                       objects of 4000 different shapes (no agentfx, no Effect, no allocation);
//                       `shapes alone` is that loop by itself (control: other code between calls)
//   run: K MCP calls    `agent.run` over a FunctionModel that asks for `echo` K times one after
//                       the other, then answers (K + 1 model requests), the tool from the server
//   run: K local calls  the same run with an in-process `echo` tool (through `call`, each call in
//                       its own region: the per-call path)
//   run: … local start  the same run with the in-process `echo` also offered as a promise
//                       (`ToolsetTool.start`), as the MCP tools are: the run's own cost on the
//                       path the MCP calls take (a response's calls started from the run's
//                       fiber, one suspension for all)
//   run: 1 local + await the sync local run, then one `await setImmediate` outside it: the
//                       event-loop turn without the run suspending (control for the next)
//   run: 1 local async  the in-process tool awaiting one `setImmediate`: what suspending for
//                       any I/O costs a run (reported as a split of the MCP call's cost)
//   sdk Promise.all ×N  N calls at once: `Promise.all` of N `callTool`s (the concurrent tight loop)
//   run: N MCP/local in one response, sequential / concurrent   ONE run whose model asks for N
//                       calls in ONE response, executed one after the other (`maxConcurrency: 1`)
//                       or all at once (unbounded): the calls sit back to back inside the run as
//                       they do in the tight SDK loop / `Promise.all` (N = --batch, default 100)
// For each case: median over rounds of wall µs, client CPU µs (this process) and server CPU µs
// (/proc, 10 ms ticks: coarse) per tool call. "MCP call in a run" = run with MCP calls − the
// same run with local `start` calls, per call: what calling the tool over MCP costs inside a run, the
// issue's "tool call overhead through an agentfx run" (target ≤ 1.2× sdk callTool). The whole
// run per call is printed too. On a loaded machine wall time is noisy: CPU is the steadier view.
// The last lines judge the target once per definition of "the bare SDK loop" (client CPU):
//   A  1 MCP call per run ÷ the tight SDK loop (a loop doing nothing else: caches and JIT hot)
//   B  1 MCP call per run ÷ the same SDK call made beside the same run (the run's work between)
//   C  N calls back to back in one run, sequential ÷ the tight SDK loop
//   D  N calls back to back in one run, concurrent ÷ `Promise.all` of N SDK calls
//   C whole / D whole  the same with nothing subtracted: the whole run (its model requests and
//                       messages included) per call
// Needs `pnpm build` (or run it as `npx tsx --conditions=@agentfx/source bench/mcp.mjs`).
//   node bench/mcp.mjs [--calls 300] [--rounds 7] [--batch 100] [--json]
//   node bench/mcp.mjs --ops [--calls 200]   Effect instructions per call instead of timings
//   node bench/mcp.mjs --only "sdk callTool,run: N MCP sequential"   some cases (no judging lines)
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { loadavg } from "node:os"
import { fileURLToPath } from "node:url"
import { Agent, FunctionModel, Model, Tool, Toolset } from "@agentfx/core"
import { McpToolset } from "@agentfx/mcp"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const CALLS = arg("calls", 300)
const ROUNDS = arg("rounds", 7)
const BATCH = arg("batch", 100)
const server = join(dirname(fileURLToPath(import.meta.url)), "mcp-server.mjs")

const scope = Effect.runSync(Scope.make())
const toolset = await Effect.runPromise(
  Scope.extend(McpToolset.stdio({ command: process.execPath, args: [server] }), scope)
)
const sdk = toolset.client.sdk
const serverPid = sdk.transport.pid
/** CPU µs (user + system) of the server process so far, from /proc (Linux). */
const serverCpu = () => {
  try {
    const f = readFileSync(`/proc/${serverPid}/stat`, "utf8").split(") ")[1].split(" ")
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100
  } catch {
    return Number.NaN
  }
}

/** A model asking for `perStep` echo calls per response, `steps` times, then answering. */
const model = (steps, perStep) =>
  Effect.runSync(
    FunctionModel.make((messages) => {
      const turn = messages.filter((m) => m._tag === "ModelResponse").length
      if (turn >= steps) return FunctionModel.text("done")
      return FunctionModel.toolCalls(
        Array.from({ length: perStep }, (_, i) => ({
          toolName: "echo",
          args: { text: `t${turn}-${i}` },
          toolCallId: `c${turn}-${i}`
        }))
      )
    })
  )
const mcpAgent = Agent.make({ toolsets: [toolset] })
const localEcho = Tool.make("echo", {
  description: "Echo a text",
  parameters: Schema.Struct({ text: Schema.String }),
  handler: ({ text }) => Effect.succeed(text)
})
const localAgent = Agent.make({ tools: [localEcho] })
// The in-process `echo` with its call also offered as a promise (`ToolsetTool.start`, resolved at
// once), as an MCP toolset's tools offer theirs: a run takes the same path for it as for the MCP
// calls (a response's calls started from the run's fiber, one suspension), so "MCP run − this
// run" is what the MCP call itself costs on that path.
const echoTool = Toolset.fromTools([localEcho]).fixed[0]
const startEcho = {
  ...echoTool,
  start: {
    of: echoTool.call,
    start: (args) => ({ promise: Promise.resolve(args.text), cancel() {} })
  }
}
const localStart = Toolset.make(() => Effect.succeed([startEcho]), [startEcho])
const localStartAgent = Agent.make({ toolsets: [localStart] })
const localStartSequential = Agent.make({ toolsets: [localStart], maxConcurrency: 1 })
// The calls of one response one after the other, as a tight loop makes them.
const mcpSequential = Agent.make({ toolsets: [toolset], maxConcurrency: 1 })
const localSequential = Agent.make({ tools: [localEcho], maxConcurrency: 1 })
// The in-process `echo` awaiting one `setImmediate`: what any tool that waits for I/O costs a run
// (the run suspends and resumes), without MCP.
const asyncAgent = Agent.make({
  tools: [
    Tool.make("echo", {
      description: "Echo a text",
      parameters: Schema.Struct({ text: Schema.String }),
      handler: ({ text }) => Effect.promise(() => new Promise((r) => setImmediate(() => r(text))))
    })
  ]
})
const tick = () => new Promise((r) => setImmediate(r))
const runs = (agent, steps, perStep, count, awaitAfter = false) => {
  const m = model(steps, perStep)
  const once = Effect.provideService(agent.run("go"), Model.Model, m)
  return async () => {
    for (let i = 0; i < count; i++) {
      const r = await Effect.runPromise(once)
      if (r.output !== "done" || r.usage.toolCalls !== steps * perStep) throw new Error("bad run")
      if (awaitAfter) await tick()
    }
  }
}

// 4000 objects of as many hidden classes (a different first key each), one property read from
// each in a scattered order: V8's megamorphic property caches are shared by all of a process's
// code, and this fills them with entries of its own, as an agent run's code does.
const shapes = Array.from({ length: 4000 }, (_, i) => ({ [`k${i}`]: i, x: i }))
/** The sum read (checked by the callers, so the loop is not optimised away). */
const readShapes = () => {
  let t = 0
  for (let i = 0; i < 3000; i++) t += shapes[(i * 7919) % 4000].x
  return t
}
const SHAPES_SUM = readShapes()
const check = (r, text) => {
  if (r.content[0]?.text !== text) throw new Error(`bad answer: ${JSON.stringify(r)}`)
}
const batches = Math.max(1, Math.floor(CALLS / BATCH))
const cases = {
  "sdk callTool": {
    calls: CALLS,
    go: async () => {
      for (let i = 0; i < CALLS; i++) {
        check(await sdk.callTool({ name: "echo", arguments: { text: `x${i}` } }), `x${i}`)
      }
    }
  },
  "McpClient.callTool": {
    calls: CALLS,
    go: async () => {
      for (let i = 0; i < CALLS; i++) {
        check(await Effect.runPromise(toolset.client.callTool("echo", { text: `x${i}` })), `x${i}`)
      }
    }
  },
  "sdk callTool + local run": {
    calls: CALLS,
    go: async () => {
      const once = Effect.provideService(localAgent.run("go"), Model.Model, model(1, 1))
      for (let i = 0; i < CALLS; i++) {
        check(await sdk.callTool({ name: "echo", arguments: { text: `x${i}` } }), `x${i}`)
        const r = await Effect.runPromise(once)
        if (r.output !== "done") throw new Error("bad run")
      }
    }
  },
  // Control with no agentfx and no Effect: between two SDK calls, a loop that allocates nothing
  // and reads one property of objects of 4000 different shapes (what any framework's code does
  // between calls); "… alone" is that loop by itself, subtracted.
  "sdk callTool + shapes": {
    calls: CALLS,
    go: async () => {
      for (let i = 0; i < CALLS; i++) {
        check(await sdk.callTool({ name: "echo", arguments: { text: `x${i}` } }), `x${i}`)
        if (readShapes() !== SHAPES_SUM) throw new Error("bad read")
      }
    }
  },
  "shapes alone": {
    calls: CALLS,
    go: async () => {
      for (let i = 0; i < CALLS; i++) {
        await undefined
        if (readShapes() !== SHAPES_SUM) throw new Error("bad read")
      }
    }
  },
  "run: 1 MCP call": { calls: CALLS, go: runs(mcpAgent, 1, 1, CALLS) },
  "run: 1 local call": { calls: CALLS, go: runs(localAgent, 1, 1, CALLS) },
  "run: 1 local start call": { calls: CALLS, go: runs(localStartAgent, 1, 1, CALLS) },
  "run: 1 local async call": { calls: CALLS, go: runs(asyncAgent, 1, 1, CALLS) },
  "run: 1 local + await": { calls: CALLS, go: runs(localAgent, 1, 1, CALLS, true) },
  "run: 10 MCP calls": { calls: CALLS, go: runs(mcpAgent, 10, 1, CALLS / 10) },
  "run: 10 local calls": { calls: CALLS, go: runs(localAgent, 10, 1, CALLS / 10) },
  "run: 10 local start calls": { calls: CALLS, go: runs(localStartAgent, 10, 1, CALLS / 10) },
  "run: N MCP sequential": { calls: BATCH * batches, go: runs(mcpSequential, 1, BATCH, batches) },
  "run: N local sequential": {
    calls: BATCH * batches,
    go: runs(localSequential, 1, BATCH, batches)
  },
  "run: N local start seq": {
    calls: BATCH * batches,
    go: runs(localStartSequential, 1, BATCH, batches)
  },
  "sdk Promise.all ×N": {
    calls: BATCH * batches,
    go: async () => {
      for (let k = 0; k < batches; k++) {
        const rs = await Promise.all(
          Array.from({ length: BATCH }, (_, i) =>
            sdk.callTool({ name: "echo", arguments: { text: `p${i}` } })
          )
        )
        rs.forEach((r, i) => check(r, `p${i}`))
      }
    }
  },
  "run: N MCP concurrent": { calls: BATCH * batches, go: runs(mcpAgent, 1, BATCH, batches) },
  "run: N local concurrent": { calls: BATCH * batches, go: runs(localAgent, 1, BATCH, batches) },
  "run: N local start conc": {
    calls: BATCH * batches,
    go: runs(localStartAgent, 1, BATCH, batches)
  }
}

// --only "a,b": just those cases (e.g. under `node --cpu-prof`)
const onlyIndex = process.argv.indexOf("--only")
if (onlyIndex !== -1) {
  const keep = new Set(process.argv[onlyIndex + 1].split(","))
  for (const name of Object.keys(cases)) if (!keep.has(name)) delete cases[name]
}
// Warm-up: JIT and the server's own first calls.
for (const c of Object.values(cases)) await c.go()
if (process.argv.includes("--ops")) {
  // Effect instructions per tool call (deterministic, unlike CPU on a loaded machine).
  const { countOps } = await import("./_opcounter.mjs")
  for (const name of ["McpClient.callTool", "run: N MCP sequential", "run: N local sequential"]) {
    const line = await countOps(cases[name].go)
    const total = Number(line.trim().split(/\s+/)[0])
    console.log(
      `${name.padEnd(24)} ${(total / cases[name].calls).toFixed(1)} instructions per call`
    )
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(0)
}
const samples = Object.fromEntries(
  Object.keys(cases).map((k) => [k, { wall: [], cpu: [], server: [] }])
)
const names = Object.keys(cases)
const loadBefore = loadavg()
for (let round = 0; round < ROUNDS; round++) {
  // rotated: no case always runs right after the same other one
  for (let k = 0; k < names.length; k++) {
    const name = names[(k + round) % names.length]
    const c = cases[name]
    const s0 = serverCpu()
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    await c.go()
    const wall = Number(process.hrtime.bigint() - t0) / 1000
    const cpu = process.cpuUsage(c0)
    samples[name].wall.push(wall / c.calls)
    samples[name].cpu.push((cpu.user + cpu.system) / c.calls)
    samples[name].server.push((serverCpu() - s0) / c.calls)
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const m = (name, key) => median(samples[name][key])
const f = (x) => x.toFixed(1).padStart(9)
const r = (x) => `${x.toFixed(2).padStart(6)}×`
const load = (l) => l.map((x) => x.toFixed(1)).join(" ")
console.log(
  `MCP tool call over stdio: ${CALLS} calls × ${ROUNDS} rounds, N = ${BATCH}; medians per tool call in µs; load ${load(loadBefore)} → ${load(loadavg())}`
)
console.log(
  `${"case".padEnd(24)}${"wall".padStart(9)}${"client CPU".padStart(11)}${"server CPU".padStart(11)}`
)
for (const name of Object.keys(cases)) {
  console.log(
    `${name.padEnd(24)}${f(m(name, "wall"))}  ${f(m(name, "cpu"))}  ${f(m(name, "server"))}`
  )
}
if (onlyIndex !== -1) {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  process.exit(0)
}
const rows = {}
const derived = (label, mcp, local, base) => {
  const wall = m(mcp, "wall") - m(local, "wall")
  const cpu = m(mcp, "cpu") - m(local, "cpu")
  rows[label] = {
    wall,
    wallRatio: wall / m(base, "wall"),
    clientCpu: cpu,
    clientCpuRatio: cpu / m(base, "cpu"),
    wholeRunWallRatio: m(mcp, "wall") / m(base, "wall"),
    wholeRunCpuRatio: m(mcp, "cpu") / m(base, "cpu")
  }
  const x = rows[label]
  console.log(
    `${label.padEnd(24)}${f(wall)}  ${f(cpu)}   vs ${base}: wall ${r(x.wallRatio)}, client CPU ${r(x.clientCpuRatio)} (whole run per call: wall ${r(x.wholeRunWallRatio)}, CPU ${r(x.wholeRunCpuRatio)})`
  )
}
// The MCP tools offer `start`, so their calls take the run's promise path: the same run with the
// in-process `echo` on that path is subtracted (the per-call path's local runs, below, cost more
// per call than the MCP runs now, and subtracting them would leave less than nothing).
console.log("MCP call in a run (run with MCP calls − same run with local `start` calls):")
derived("1 call per run", "run: 1 MCP call", "run: 1 local start call", "sdk callTool")
derived("10 calls per run", "run: 10 MCP calls", "run: 10 local start calls", "sdk callTool")
derived("N in one response, seq", "run: N MCP sequential", "run: N local start seq", "sdk callTool")
derived(
  "N in one response, conc",
  "run: N MCP concurrent",
  "run: N local start conc",
  "sdk Promise.all ×N"
)
console.log("For reference, the same − the run with a local tool through `call` (per-call path):")
derived("1 call per run (call)", "run: 1 MCP call", "run: 1 local call", "sdk callTool")
derived("N seq (call)", "run: N MCP sequential", "run: N local sequential", "sdk callTool")
derived("N conc (call)", "run: N MCP concurrent", "run: N local concurrent", "sdk Promise.all ×N")
console.log("Where it goes (1 call per run), client CPU µs per call:")
const hop = m("run: 1 local async call", "cpu") - m("run: 1 local call", "cpu")
const viaMcp = m("run: 1 MCP call", "cpu") - m("run: 1 local async call", "cpu")
console.log(
  `  the run suspending and resuming for an async tool (local tool awaiting setImmediate − sync local tool): ${hop.toFixed(1)}`
)
const own = m("run: 1 local async call", "cpu") - m("run: 1 local + await", "cpu")
console.log(
  `  of which Node's event-loop turn (sync local tool + one await setImmediate after the run): ${(hop - own).toFixed(1)}; the run's own suspend/resume: ${own.toFixed(1)}`
)
rows.runOwnSuspend = { clientCpu: own }
// The same SDK call and the same sync run, one after the other outside the run: what the call
// costs when the run's work sits between two calls (caches, GC, event loop), with no tool path.
const besideRun = m("sdk callTool + local run", "cpu") - m("run: 1 local call", "cpu")
const inRun = m("run: 1 MCP call", "cpu") - m("run: 1 local start call", "cpu")
console.log(
  `  the SDK call beside a run (sdk callTool + local run − local run): ${besideRun.toFixed(1)} = ${r(besideRun / m("sdk callTool", "cpu"))} sdk callTool; MCP call in a run ÷ that: ${r(inRun / besideRun)}`
)
rows.sdkBesideRun = {
  clientCpu: besideRun,
  clientCpuRatio: besideRun / m("sdk callTool", "cpu"),
  mcpInRunRatio: inRun / besideRun
}
// The same SDK call beside code that has nothing to do with agentfx: the tight loop's cost is
// the SDK's with V8's caches holding only the SDK's own entries.
const besideShapes = m("sdk callTool + shapes", "cpu") - m("shapes alone", "cpu")
console.log(
  `  the SDK call beside a loop reading objects of 4000 shapes (no agentfx, nothing allocated; + shapes − shapes alone): ${besideShapes.toFixed(1)} = ${r(besideShapes / m("sdk callTool", "cpu"))} sdk callTool`
)
rows.sdkBesideShapes = {
  clientCpu: besideShapes,
  clientCpuRatio: besideShapes / m("sdk callTool", "cpu")
}
console.log(
  `  the MCP call in a run beyond that (MCP − async local tool): ${viaMcp.toFixed(1)} = ${r(viaMcp / m("sdk callTool", "cpu"))} sdk callTool`
)
rows.asyncHop = { clientCpu: hop }
rows.mcpBeyondAsyncTool = { clientCpu: viaMcp, clientCpuRatio: viaMcp / m("sdk callTool", "cpu") }
console.log(
  `McpClient.callTool vs sdk callTool: wall ${r(m("McpClient.callTool", "wall") / m("sdk callTool", "wall"))}, client CPU ${r(m("McpClient.callTool", "cpu") / m("sdk callTool", "cpu"))}`
)
// The target, judged once per definition of "the bare SDK loop" (client CPU per call).
const judge = (key, label, ratio) => {
  rows[`target${key}`] = { ratio, pass: ratio <= 1.2 }
  console.log(
    `TARGET ${key} ${label}: ${ratio.toFixed(2)}× ${ratio <= 1.2 ? "PASS" : "MISS"} (≤ 1.2×)`
  )
}
console.log("MCP tool call overhead through an agentfx run, client CPU per call (target ≤ 1.2×):")
judge("A", "1 call per run ÷ the tight SDK loop", inRun / m("sdk callTool", "cpu"))
judge("B", "1 call per run ÷ the SDK call beside the same run", inRun / besideRun)
judge(
  "C",
  `${BATCH} calls in one response, sequential ÷ the tight SDK loop`,
  rows["N in one response, seq"].clientCpuRatio
)
judge(
  "D",
  `${BATCH} calls in one response, concurrent ÷ Promise.all of ${BATCH} SDK calls`,
  rows["N in one response, conc"].clientCpuRatio
)
judge(
  "C whole",
  `the whole run of ${BATCH} sequential calls, per call ÷ the tight SDK loop`,
  rows["N in one response, seq"].wholeRunCpuRatio
)
judge(
  "D whole",
  `the whole run of ${BATCH} concurrent calls, per call ÷ Promise.all of ${BATCH} SDK calls`,
  rows["N in one response, conc"].wholeRunCpuRatio
)
if (process.argv.includes("--json")) console.log(`BENCH_MCP ${JSON.stringify({ samples, rows })}`)
await Effect.runPromise(Scope.close(scope, Exit.void))
