#!/usr/bin/env node
// What a durable run costs per step (not part of the benchmark, not a test).
//
// One agent, one in-memory model (no HTTP): each run is 3 steps — a model request asking for a
// tool, the tool call, a model request answering. Measured in this process, in alternating
// rounds (the median round is reported, so a load spike on the shared machine hits one round):
//   plain    N runs of agent.run
//   durable  N runs of the same agent as a DurableAgent on DurableRunner.layerSqlite (a file)
//   engine   N runs of a bare @effect/workflow workflow with the same 3 activities (tiny
//            payloads, no agent) on the same kind of runner: the workflow engine's own floor
//   floor    the SQLite writes the durable runs made (rows of cluster_messages + cluster_replies,
//            counted after the runs), replayed as that many single-row INSERT transactions of
//            the same sizes through better-sqlite3 in WAL mode, as the SQLite client runs them
// It also counts the SQL statements the durable runs execute (better-sqlite3 is wrapped) and
// reports per run (wall and CPU), and the ratios
//   durable ÷ (plain + floor)   the target ≤ 1.5
//   engine  ÷ (plain + floor)   what @effect/cluster + @effect/workflow alone cost on that scale
//   durable − engine − plain    what agentfx's durable layer adds on top of the engine
//
//   node --import tsx --conditions=@agentfx/source bench/durable.mjs [--runs 40] [--rounds 3]
//        [--warmup 10] [--json]
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { DurableAgent, DurableRunner } from "@agentfx/durable"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import Sqlite from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(name)
  return i === -1 ? dflt : Number(args[i + 1])
}
const RUNS = flag("--runs", 40)
const ROUNDS = flag("--rounds", 3)
const WARMUP = flag("--warmup", 10)
const STEPS = 3

// -- SQL statement counter (the runner's SQLite client uses this better-sqlite3) --------------
let counting = false
let statements = 0
const prepare = Sqlite.prototype.prepare
Sqlite.prototype.prepare = function (sql) {
  const statement = prepare.call(this, sql)
  for (const method of ["run", "all", "get"]) {
    const original = statement[method]
    statement[method] = function (...params) {
      if (counting) statements++
      return original.apply(this, params)
    }
  }
  return statement
}

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
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

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

// The engine's floor: the same number of activities, tiny payloads, activities made once.
const bare = Workflow.make({
  name: "bench-bare",
  payload: { id: Schema.String },
  success: Schema.String,
  idempotencyKey: (p) => p.id
})
const bareSteps = [1, 2, 3].map((i) =>
  Activity.make({ name: `step/${i}`, success: Schema.String, execute: Effect.succeed(`r${i}`) })
)
const bareLayer = bare.toLayer(() =>
  Effect.gen(function* () {
    let acc = ""
    for (const step of bareSteps) acc += yield* step
    return acc
  })
)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-bench-durable-"))
const durableFile = path.join(dir, "runs.db")
const durable = DurableAgent.make(agent, { name: "bench", output: Schema.String })
try {
  const results = { plain: [], durable: [], engine: [] }
  let rows = 0
  let sizes = []
  let durableStatements = 0
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const durableCtx = yield* Layer.build(
          durable.layer.pipe(
            Layer.provideMerge(DurableRunner.layerSqlite({ filename: durableFile }))
          )
        )
        const engineCtx = yield* Layer.build(
          bareLayer.pipe(
            Layer.provideMerge(DurableRunner.layerSqlite({ filename: path.join(dir, "engine.db") }))
          )
        )
        let n = 0
        const modes = {
          plain: () => Effect.runPromise(agent.run("Where is A-17?")),
          durable: () =>
            Effect.runPromise(
              durable
                .run({ id: `run-${n++}`, prompt: "Where is A-17?" })
                .pipe(Effect.provide(durableCtx))
            ),
          engine: () =>
            Effect.runPromise(bare.execute({ id: `run-${n++}` }).pipe(Effect.provide(engineCtx)))
        }
        yield* Effect.promise(async () => {
          for (const run of Object.values(modes)) for (let i = 0; i < WARMUP; i++) await run()
          for (let round = 0; round < ROUNDS; round++) {
            for (const [mode, run] of Object.entries(modes)) {
              const before = mode === "durable" ? countRows(durableFile) : 0
              counting = mode === "durable"
              const s0 = statements
              const t = await measure(async () => {
                for (let i = 0; i < RUNS; i++) await run()
              })
              counting = false
              results[mode].push(t)
              if (mode === "durable") {
                durableStatements += statements - s0
                rows += countRows(durableFile) - before
              }
            }
          }
          sizes = rowSizes(durableFile)
        })
      })
    )
  )

  // -- storage floor ----------------------------------------------------------------------------
  const writesPerRound = rows / ROUNDS
  const floorDb = new Sqlite(path.join(dir, "floor.db"))
  floorDb.pragma("journal_mode = WAL")
  floorDb.exec("CREATE TABLE w (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)")
  const insert = floorDb.prepare("INSERT INTO w (body) VALUES (?)")
  const bodies = sizes.map((n) => "x".repeat(n))
  const floors = []
  for (let round = 0; round < ROUNDS; round++) {
    floors.push(
      await measure(async () => {
        for (let i = 0; i < writesPerRound; i++) insert.run(bodies[i % bodies.length])
      })
    )
  }
  floorDb.close()

  // -- report -----------------------------------------------------------------------------------
  const per = (ts) => ({
    wall: median(ts.map((t) => t.wall)) / RUNS,
    cpu: median(ts.map((t) => t.cpu)) / RUNS
  })
  const p = per(results.plain)
  const d = per(results.durable)
  const e = per(results.engine)
  const f = per(floors)
  const fmt = (x) => x.toFixed(3).padStart(9)
  const load = os.loadavg()[0].toFixed(1)
  console.log(
    `durable bench: ${ROUNDS} rounds × ${RUNS} runs (+${WARMUP} warm-up) of ${STEPS} steps, SQLite file, load ${load}`
  )
  console.log(`                      wall ms/run   cpu ms/run   cpu ms/step`)
  const line = (name, x) =>
    console.log(`${name.padEnd(22)}${fmt(x.wall)}    ${fmt(x.cpu)}    ${fmt(x.cpu / STEPS)}`)
  line("plain agent.run", p)
  line("durable run", d)
  line("engine floor (bare)", e)
  line("storage floor", f)
  const rowsPerRun = rows / ROUNDS / RUNS
  const statementsPerRun = durableStatements / ROUNDS / RUNS
  console.log(
    `durable run: ${rowsPerRun.toFixed(1)} row writes/run, ${statementsPerRun.toFixed(1)} SQL statements/run`
  )
  const ratio = d.wall / (p.wall + f.wall)
  const ratioCpu = d.cpu / (p.cpu + f.cpu)
  const engineRatioCpu = e.cpu / (p.cpu + f.cpu)
  const agentfxCpu = d.cpu - e.cpu - p.cpu
  console.log(
    `durable ÷ (plain + floor): ${ratio.toFixed(1)}× wall, ${ratioCpu.toFixed(1)}× cpu   (target ≤ 1.5×)`
  )
  console.log(
    `engine  ÷ (plain + floor): ${engineRatioCpu.toFixed(1)}× cpu   (the workflow engine alone)`
  )
  console.log(
    `durable − engine − plain:  ${agentfxCpu.toFixed(3)} ms cpu/run   (agentfx's durable layer)`
  )
  if (args.includes("--json")) {
    console.log(
      JSON.stringify({
        runs: RUNS,
        rounds: ROUNDS,
        steps: STEPS,
        load: os.loadavg()[0],
        plainMsPerRun: p,
        durableMsPerRun: d,
        engineMsPerRun: e,
        floorMsPerRun: f,
        rowWritesPerRun: rowsPerRun,
        statementsPerRun,
        ratioWall: ratio,
        ratioCpu,
        engineRatioCpu,
        agentfxCpuMsPerRun: agentfxCpu
      })
    )
  }
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
