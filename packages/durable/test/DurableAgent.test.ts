import { Agent, FunctionModel, Messages, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { DurableAgent, DurableRunner } from "../src/index.js"

describe("DurableAgent (in process, SQLite in memory)", () => {
  it.effect("runs an agent with a tool as a workflow; the same id returns the stored result", () =>
    Effect.gen(function* () {
      let modelCalls = 0
      let toolCalls = 0
      const model = yield* FunctionModel.make((messages) => {
        modelCalls++
        const last = messages[messages.length - 1]!
        const hasReturn =
          last._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")
        return hasReturn
          ? FunctionModel.text("refunded 42")
          : FunctionModel.toolCall("refund", { amount: 42 })
      })
      const refund = Tool.make("refund", {
        parameters: Schema.Struct({ amount: Schema.Number }),
        handler: ({ amount }) =>
          Effect.sync(() => {
            toolCalls++
            return { refunded: amount }
          })
      })
      const agent = Agent.make({ model, tools: [refund] })
      const durable = DurableAgent.make(agent, { name: "refund" })
      const result = yield* Effect.gen(function* () {
        const first = yield* durable.run({ id: "order-1", prompt: "refund order 1" })
        const again = yield* durable.run({ id: "order-1", prompt: "refund order 1" })
        return { first, again }
      }).pipe(
        Effect.provide(
          durable.layer.pipe(
            Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" }))
          )
        )
      )
      assert.strictEqual(result.first.output, "refunded 42")
      assert.strictEqual(result.again.output, "refunded 42")
      assert.strictEqual(modelCalls, 2)
      assert.strictEqual(toolCalls, 1)
      assert.strictEqual(result.first.usage.requests, 2)
      assert.strictEqual(result.first.usage.toolCalls, 1)
      assert.strictEqual(Messages.lastText(result.again.allMessages()), "refunded 42")
    })
  )
})
