/**
 * (d) 200 durable runs at once on one SQLite runner: every run completes, and every model
 * request and every tool call of every run happened exactly once (nothing lost, nothing
 * duplicated, nothing crossed between runs).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FunctionModel, Messages, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { DurableAgent, DurableRunner } from "../src/index.js"

const RUNS = 200

const orderOf = (messages: ReadonlyArray<Messages.ModelMessage>): string => {
  const first = messages[0]
  const part =
    first?._tag === "ModelRequest"
      ? first.parts.find((p) => p._tag === "UserPromptPart")
      : undefined
  return String(part?.content ?? "?").split(" ")[1] ?? "?"
}

describe("many durable runs at once", () => {
  it.scopedLive(
    `${RUNS} runs complete with every step exactly once`,
    () =>
      Effect.gen(function* () {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-durable-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
        )
        const modelSteps = new Map<string, number>()
        const toolSteps = new Map<string, number>()
        const bump = (map: Map<string, number>, key: string) =>
          map.set(key, (map.get(key) ?? 0) + 1)

        const model = yield* FunctionModel.make((messages) =>
          Effect.gen(function* () {
            const order = orderOf(messages)
            const stage = messages.filter((m) => m._tag === "ModelResponse").length
            bump(modelSteps, `${order}/${stage}`)
            // A little latency, so requests of many runs are in flight together.
            yield* Effect.sleep("5 millis")
            if (stage === 0) return FunctionModel.toolCall("lookup", { order }, `call_${order}_0`)
            if (stage === 1) return FunctionModel.toolCall("settle", { order }, `call_${order}_1`)
            const last = messages.at(-1)
            const ret = last?._tag === "ModelRequest" ? last.parts[0] : undefined
            return FunctionModel.text(
              `${order}: ${ret?._tag === "ToolReturnPart" ? ret.content : "?"}`
            )
          })
        )
        const Order = Schema.Struct({ order: Schema.String })
        const lookup = Tool.make("lookup", {
          parameters: Order,
          handler: ({ order }) =>
            Effect.sync(() => bump(toolSteps, `lookup/${order}`) && `found ${order}`)
        })
        const settle = Tool.make("settle", {
          parameters: Order,
          handler: ({ order }) =>
            Effect.sync(() => bump(toolSteps, `settle/${order}`) && `settled ${order}`)
        })
        const durable = DurableAgent.make(Agent.make({ model, tools: [lookup, settle] }), {
          name: "many",
          output: Schema.String
        })
        const orders = Array.from({ length: RUNS }, (_, i) => `o${i}`)
        const results = yield* Effect.forEach(
          orders,
          (order) => durable.run({ id: order, prompt: `settle ${order}` }),
          { concurrency: "unbounded" }
        ).pipe(
          Effect.provide(
            durable.layer.pipe(
              Layer.provideMerge(DurableRunner.layerSqlite({ filename: path.join(dir, "runs.db") }))
            )
          )
        )
        assert.strictEqual(results.length, RUNS)
        for (const [i, order] of orders.entries()) {
          const result = results[i]!
          assert.strictEqual(result.output, `${order}: settled ${order}`)
          assert.strictEqual(result.usage.requests, 3)
          assert.strictEqual(result.usage.toolCalls, 2)
          assert.strictEqual(result.allMessages().length, 6)
          for (const stage of [0, 1, 2]) assert.strictEqual(modelSteps.get(`${order}/${stage}`), 1)
          assert.strictEqual(toolSteps.get(`lookup/${order}`), 1)
          assert.strictEqual(toolSteps.get(`settle/${order}`), 1)
        }
        assert.strictEqual(modelSteps.size, 3 * RUNS)
        assert.strictEqual(toolSteps.size, 2 * RUNS)
      }),
    120_000
  )
})
