import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { DurableAgent, DurableRunner } from "@agentfx/durable"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const RUNS = Number(process.argv[2] ?? 100)
const model = Effect.runSync(
  FunctionModel.make((messages) =>
    messages.filter((m) => m._tag === "ModelResponse").length === 0
      ? FunctionModel.toolCall("lookup", { order: "A-17" })
      : FunctionModel.text("done")
  )
)
const lookup = Tool.make("lookup", {
  parameters: Schema.Struct({ order: Schema.String }),
  handler: ({ order }) => Effect.succeed({ order })
})
const agent = Agent.make({ model, tools: [lookup] })
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-exp-"))
const sharding = process.env.SHARDS
  ? { sharding: { shardsPerGroup: Number(process.env.SHARDS) } }
  : {}
const store = DurableRunner.layerSqlite({ filename: path.join(dir, "runs.db"), ...sharding })
let runOneE, layer
const cached = [0, 1, 2, 3].map((i) =>
  Activity.make({ name: `a/${i}`, success: Schema.String, execute: Effect.succeed(`r${i}`) })
)
if (process.env.BARE) {
  const wf = Workflow.make({
    name: "bare",
    payload: { id: Schema.String },
    success: Schema.String,
    idempotencyKey: (p) => p.id
  })
  layer = wf
    .toLayer((p) =>
      Effect.gen(function* () {
        let acc = ""
        for (let i = 1; i <= 3; i++)
          acc += yield* process.env.CACHE
            ? cached[i]
            : Activity.make({
                name: `a/${i}`,
                success: Schema.String,
                execute: Effect.succeed(`r${i}`)
              })
        return acc
      })
    )
    .pipe(Layer.provideMerge(store))
  runOneE = (id) => wf.execute({ id })
} else {
  const durable = DurableAgent.make(agent, { name: "bench", output: Schema.String })
  layer = durable.layer.pipe(Layer.provideMerge(store))
  runOneE = (id) => durable.run({ id, prompt: "Where?" })
}
if (process.env.NOTRACE) layer = layer.pipe(Layer.provide(Layer.setTracerEnabled(false)))
await Effect.runPromise(
  Effect.scoped(
    Effect.gen(function* () {
      const ctx = yield* Layer.build(layer)
      const runOne = (id) =>
        Effect.runPromise(
          runOneE(id).pipe(
            Effect.provide(ctx),
            process.env.NOTRACE ? Effect.withTracerEnabled(false) : (x) => x
          )
        )
      yield* Effect.promise(async () => {
        for (let i = 0; i < 20; i++) await runOne(`warm-${i}`)
        let session
        if (process.env.PROF) {
          const inspector = await import("node:inspector/promises")
          session = new inspector.Session()
          session.connect()
          await session.post("Profiler.enable")
          await session.post("Profiler.setSamplingInterval", { interval: 100 })
          await session.post("Profiler.start")
        }
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        for (let i = 0; i < RUNS; i++) await runOne(`run-${i}`)
        const c = process.cpuUsage(c0)
        if (session) {
          const { profile } = await session.post("Profiler.stop")
          fs.writeFileSync(process.env.PROF, JSON.stringify(profile))
        }
        console.log(
          process.env.BARE ? "bare" : "agent",
          process.env.NOTRACE ? "notrace" : "",
          "wall ms/run",
          ((performance.now() - t0) / RUNS).toFixed(2),
          "cpu ms/run",
          ((c.user + c.system) / 1000 / RUNS).toFixed(2)
        )
      })
    })
  )
)
fs.rmSync(dir, { recursive: true, force: true })
