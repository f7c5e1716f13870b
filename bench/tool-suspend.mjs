#!/usr/bin/env node
// What a tool that awaits I/O costs an agentfx run, against the least Effect can do (not part
// of the benchmark; issue #16's "the run suspending for an async tool"). Every case makes
// CALLS "calls" that each wait for one `setImmediate`; cases interleaved round by round in one
// process; medians over rounds of client CPU µs per call (and Effect instructions per call
// with --ops). Cases:
//   await                    `await new Promise(setImmediate)` in a loop: Node alone
//   runPromise(promise)      one `Effect.runPromise(Effect.promise(...))` per call
//   fiber loop               one fiber, `Effect.promise(...)` CALLS times (the suspension floor)
//   … forEach / fork+join / scoped / Deferred handoff   the same wait wrapped as named
//   run: sync tool + await   `agent.run` with a sync tool, then one `await setImmediate`
//                            outside the run: a run plus Node's event-loop turn, no suspension
//   run: async tool          `agent.run` with the tool awaiting `setImmediate` in the run
//   run: sync tool           the run alone
// "run: async tool − run: sync tool + await" is what the run itself pays to suspend and resume.
// Needs `pnpm build`.  node bench/tool-suspend.mjs [--calls 2000] [--rounds 15] [--ops]
import { Agent, FunctionModel, Model, Tool } from "@agentfx/core"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(process.argv[i + 1])
}
const CALLS = arg("calls", 2000)
const ROUNDS = arg("rounds", 15)
const OPS = process.argv.includes("--ops")
const only = process.argv.includes("--only")
  ? process.argv[process.argv.indexOf("--only") + 1].split(",")
  : undefined
const counter = OPS ? await import("./_opcounter.mjs") : undefined

const tick = () => new Promise((r) => setImmediate(r))
const wait = Effect.promise(tick)
const loop = (one) =>
  Effect.runPromise(
    Effect.gen(function* () {
      for (let i = 0; i < CALLS; i++) yield* one
    })
  )

const model = Effect.runSync(
  FunctionModel.make((messages) =>
    messages.some((m) => m._tag === "ModelResponse")
      ? FunctionModel.text("done")
      : FunctionModel.toolCall("echo", { text: "x" })
  )
)
const agentWith = (handler) =>
  Agent.make({
    tools: [
      Tool.make("echo", {
        description: "Echo a text",
        parameters: Schema.Struct({ text: Schema.String }),
        handler
      })
    ]
  })
const syncAgent = agentWith(({ text }) => Effect.succeed(text))
const asyncAgent = agentWith(({ text }) => Effect.as(wait, text))
const runOf = (agent) => Effect.provideService(agent.run("go"), Model.Model, model)
const syncRun = runOf(syncAgent)
const asyncRun = runOf(asyncAgent)
const check = (r) => {
  if (r.output !== "done" || r.usage.toolCalls !== 1) throw new Error("bad run")
}

const cases = {
  await: async () => {
    for (let i = 0; i < CALLS; i++) await tick()
  },
  "runPromise(promise)": async () => {
    for (let i = 0; i < CALLS; i++) await Effect.runPromise(wait)
  },
  "fiber loop": () => loop(wait),
  "… forEach [1]": () => loop(Effect.forEach([0], () => wait)),
  "… forEach [2] conc": () =>
    loop(Effect.forEach([0, 1], () => wait, { concurrency: 2 })).then(() => undefined),
  "… fork+join": () => loop(Effect.flatMap(Effect.fork(wait), Fiber.join)),
  "… scoped": () =>
    loop(
      Effect.scoped(
        Effect.zipRight(
          Effect.addFinalizer(() => Effect.void),
          wait
        )
      )
    ),
  "… Deferred handoff": () =>
    loop(
      Effect.flatMap(Deferred.make(), (d) =>
        Effect.zipRight(
          Effect.fork(Effect.flatMap(wait, () => Deferred.succeed(d, 1))),
          Deferred.await(d)
        )
      )
    ),
  "run: sync tool": async () => {
    for (let i = 0; i < CALLS; i++) check(await Effect.runPromise(syncRun))
  },
  "run: sync tool + await": async () => {
    for (let i = 0; i < CALLS; i++) {
      check(await Effect.runPromise(syncRun))
      await tick()
    }
  },
  "run: async tool": async () => {
    for (let i = 0; i < CALLS; i++) check(await Effect.runPromise(asyncRun))
  }
}
const names = Object.keys(cases).filter((n) => only === undefined || only.includes(n))

for (const n of names) await cases[n]() // warm-up
const cpu = Object.fromEntries(names.map((n) => [n, []]))
for (let round = 0; round < ROUNDS; round++) {
  // rotate the order so that no case always follows the same one
  for (let k = 0; k < names.length; k++) {
    const n = names[(k + round) % names.length]
    const c0 = process.cpuUsage()
    await cases[n]()
    const c = process.cpuUsage(c0)
    cpu[n].push((c.user + c.system) / CALLS)
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const ops = {}
if (counter !== undefined) {
  for (const n of names) {
    counter.counts.clear()
    const line = await counter.countOps(cases[n])
    ops[n] = Number(line.trim().split(" ")[0]) / CALLS
  }
}
const load = (await import("node:os"))
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ")
console.log(`${CALLS} calls × ${ROUNDS} rounds, load ${load}; medians, client CPU µs per call`)
for (const n of names) {
  console.log(
    `${n.padEnd(26)}${median(cpu[n]).toFixed(2).padStart(9)}${OPS ? `${ops[n].toFixed(1).padStart(9)} ops` : ""}`
  )
}
if (names.includes("run: async tool") && names.includes("run: sync tool + await")) {
  const own = median(cpu["run: async tool"]) - median(cpu["run: sync tool + await"])
  const hop = median(cpu["run: async tool"]) - median(cpu["run: sync tool"])
  console.log(
    `run: async − sync tool: ${hop.toFixed(2)}; async − (sync + await): ${own.toFixed(2)}`
  )
}
