import { Agent, FunctionModel, Tool } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { DurableAgent, DurableRunner } from "../src/index.ts"
const t0 = Date.now()
const log = (m: string) => console.log(Date.now() - t0, m)
const program = Effect.gen(function* () {
  const model = yield* FunctionModel.make((messages) => {
    const stage = messages.filter((m) => m._tag === "ModelResponse").length
    log(`model ${stage}`)
    return stage < 2 ? FunctionModel.toolCall("t", {}, `c${stage}`) : FunctionModel.text("done")
  })
  const t = Tool.make("t", {
    parameters: Schema.Struct({}),
    handler: () =>
      Effect.sync(() => {
        log("tool")
        return "ok"
      })
  })
  const durable = DurableAgent.make(Agent.make({ model, tools: [t] }), { name: "timing" })
  yield* Effect.gen(function* () {
    log("ready")
    for (let i = 0; i < 3; i++) {
      const s = Date.now()
      yield* durable.run({ id: `r${i}`, prompt: "go" })
      log(`run ${i} took ${Date.now() - s}`)
    }
  }).pipe(
    Effect.provide(
      durable.layer.pipe(
        Layer.provideMerge(
          DurableRunner.layerSqlite({
            filename: process.argv[2] ?? ":memory:",
            sharding: { simulateRemoteSerialization: process.env.SIM !== "0" }
          })
        )
      )
    )
  )
})
Effect.runPromise(Effect.scoped(program)).then(() => process.exit(0))
