#!/usr/bin/env node
// What a durable run costs per step (not part of the benchmark, not a test).
//
// One agent, one in-memory model (no HTTP): each run is 3 steps — a model request asking for a
// tool, the tool call, a model request answering. Measured in this process, one after the other:
//   plain    N runs of agent.run
//   durable  N runs of the same agent as a DurableAgent on DurableRunner.layerSqlite (a file)
//   floor    the SQLite writes the durable runs made (rows of cluster_messages + cluster_replies,
//            counted after the runs), replayed as that many single-row INSERT transactions of
//            the same sizes through better-sqlite3 in WAL mode, as the SQLite client runs them
// and reports per run and per step (wall and CPU), and the ratio
//   durable ÷ (plain + floor)   target ≤ 1.5
// i.e. what the workflow engine costs on top of the agent and of the storage it cannot avoid.
//
//   node --import tsx --conditions=@agentfx/source bench/durable.mjs [--runs 30] [--warmup 5]
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { DurableAgent, DurableRunner } from "@agentfx/durable"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(name)
  return i === -1 ? dflt : Number(args[i + 1])
}
const RUNS = flag("--runs", 30)
const WARMUP = flag("--warmup", 5)
const STEPS = 3

const cpu = () => {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
}
const measure = async (f) => {
  const wall0 = performance.now()
  const cpu0 = cpu()
  await f()
  return { wall: performance.now() - wall0, cpu: cpu() - cpu0 }
}

const model = Effect.runSync(
  FunctionModel.make((messages) => {
    const stage = messages.filter((m) => m._tag === "ModelResponse").length
    return stage === 0
      ? FunctionModel.toolCall("lookup", { order: "A-17" })
      : FunctionModel.text("Order A-17 was delivered on Monday.")
  })
)
const lookup = Tool.make("lookup", {
  parameters: Schema.Struct({ order: Schema.String }),
  handler: ({ order }) => Effect.succeed({ order, status: "delivered", day: "Monday" })
})
const agent = Agent.make({ model, tools: [lookup] })

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-bench-durable-"))
try {
  // -- plain ------------------------------------------------------------------------------------
  for (let i = 0; i < WARMUP; i++) await Effect.runPromise(agent.run("Where is A-17?"))
  const plain = await measure(async () => {
    for (let i = 0; i < RUNS; i++) await Effect.runPromise(agent.run("Where is A-17?"))
  })

  // -- durable ----------------------------------------------------------------------------------
  const filename = path.join(dir, "runs.db")
  const durable = DurableAgent.make(agent, { name: "bench", output: Schema.String })
  const runner = durable.layer.pipe(Layer.provideMerge(DurableRunner.layerSqlite({ filename })))
  let durableTime
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const ctx = yield* Layer.build(runner)
        const runOne = (id) =>
          Effect.runPromise(durable.run({ id, prompt: "Where is A-17?" }).pipe(Effect.provide(ctx)))
        yield* Effect.promise(async () => {
          for (let i = 0; i < WARMUP; i++) await runOne(`warm-${i}`)
        })
        const before = countRows(filename)
        durableTime = yield* Effect.promise(() =>
          measure(async () => {
            for (let i = 0; i < RUNS; i++) await runOne(`run-${i}`)
          })
        )
        durableTime.rows = countRows(filename) - before
        durableTime.sizes = rowSizes(filename)
      })
    )
  )

  // -- storage floor ----------------------------------------------------------------------------
  const writes = durableTime.rows
  const floorDb = new Sqlite(path.join(dir, "floor.db"))
  floorDb.pragma("journal_mode = WAL")
  floorDb.exec("CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)")
  const insert = floorDb.prepare("INSERT INTO w (body) VALUES (?)")
  const bodies = durableTime.sizes.map((n) => "x".repeat(n))
  const floor = await measure(async () => {
    for (let i = 0; i < writes; i++) insert.run(bodies[i % bodies.length])
  })
  floorDb.close()

  // -- report -----------------------------------------------------------------------------------
  const per = (t) => ({ wall: t.wall / RUNS, cpu: t.cpu / RUNS })
  const p = per(plain)
  const d = per(durableTime)
  const f = per(floor)
  const fmt = (x) => x.toFixed(3).padStart(9)
  console.log(`durable bench: ${RUNS} runs (+${WARMUP} warm-up) of ${STEPS} steps, SQLite file`)
  console.log(`                      wall ms/run   cpu ms/run   wall ms/step`)
  console.log(`plain agent.run        ${fmt(p.wall)}    ${fmt(p.cpu)}    ${fmt(p.wall / STEPS)}`)
  console.log(`durable run            ${fmt(d.wall)}    ${fmt(d.cpu)}    ${fmt(d.wall / STEPS)}`)
  console.log(
    `storage floor          ${fmt(f.wall)}    ${fmt(f.cpu)}    ${fmt(f.wall / STEPS)}   (${(writes / RUNS).toFixed(1)} row writes/run)`
  )
  const overheadStep = (d.wall - p.wall) / STEPS
  console.log(`overhead per step (durable − plain): ${overheadStep.toFixed(3)} ms wall`)
  const ratio = d.wall / (p.wall + f.wall)
  const ratioCpu = d.cpu / (p.cpu + f.cpu)
  console.log(
    `durable ÷ (plain + floor): ${ratio.toFixed(1)}× wall, ${ratioCpu.toFixed(1)}× cpu   (target ≤ 1.5×)`
  )
  console.log(
    JSON.stringify({
      runs: RUNS,
      steps: STEPS,
      plainMsPerRun: p,
      durableMsPerRun: d,
      floorMsPerRun: f,
      rowWritesPerRun: writes / RUNS,
      ratioWall: ratio,
      ratioCpu
    })
  )
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

function countRows(filename) {
  const db = new Sqlite(filename, { readonly: true })
  try {
    const m = db.prepare("SELECT COUNT(*) AS n FROM cluster_messages").get().n
    const r = db.prepare("SELECT COUNT(*) AS n FROM cluster_replies").get().n
    return m + r
  } finally {
    db.close()
  }
}

/** The byte sizes of the rows the runs wrote (payloads and replies), to write the same amount. */
function rowSizes(filename) {
  const db = new Sqlite(filename, { readonly: true })
  try {
    const m = db
      .prepare("SELECT LENGTH(payload) AS n FROM cluster_messages ORDER BY rowid DESC LIMIT 200")
      .all()
    const r = db
      .prepare("SELECT LENGTH(payload) AS n FROM cluster_replies ORDER BY rowid DESC LIMIT 200")
      .all()
    return [...m, ...r].map((x) => (x.n ?? 0) + 100)
  } finally {
    db.close()
  }
}
