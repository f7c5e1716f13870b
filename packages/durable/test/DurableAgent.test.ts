import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Agent,
  type AgentError,
  FunctionModel,
  Messages,
  RunContext,
  Tool,
  Usage
} from "@agentfx/core"
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
      const keys: Array<[string, string | undefined]> = []
      const refund = Tool.make("refund", {
        parameters: Schema.Struct({ amount: Schema.Number }),
        handler: ({ amount }) =>
          Effect.map(RunContext.RunContext, (ctx) => {
            toolCalls++
            keys.push([RunContext.idempotencyKey(ctx), ctx.toolCallId])
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
      // The tool's idempotency key: the workflow execution id and the call id.
      const [[key, toolCallId]] = keys as [[string, string]]
      assert.isString(toolCallId)
      assert.strictEqual(key, `${result.first.executionId}/${toolCallId}`)
      assert.strictEqual(result.first.usage.requests, 2)
      assert.strictEqual(result.first.usage.toolCalls, 1)
      assert.strictEqual(Messages.lastText(result.again.allMessages()), "refunded 42")
    })
  )
})

/** The n-th response of the conversation (counting responses in the history) is `script[n]`. */
const scripted = (script: ReadonlyArray<Messages.ModelResponse>) => {
  let requests = 0
  const model = FunctionModel.make((messages) => {
    requests++
    const n = messages.filter((m) => m._tag === "ModelResponse").length
    const last = messages.at(-1)
    const returned =
      last?._tag === "ModelRequest"
        ? last.parts.find((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
        : undefined
    const echo =
      returned === undefined
        ? ""
        : returned._tag === "ToolReturnPart"
          ? ` [${JSON.stringify(returned.content)}]`
          : ` [retry: ${returned.content}]`
    const response = script[n]
    return response ?? FunctionModel.text(`finished${echo}`)
  })
  return { model, requests: () => requests }
}

describe("DurableAgent deferred tool calls (in process)", () => {
  it.scopedLive("an external call waits for provideResult; the model gets the result", () =>
    Effect.gen(function* () {
      const { model, requests } = scripted([
        FunctionModel.toolCall("geolocate", { precise: true }, "call_geo")
      ])
      const geolocate = Tool.external("geolocate", {
        parameters: Schema.Struct({ precise: Schema.Boolean })
      })
      const pending: Array<DurableAgent.DeferredRequest> = []
      const agent = Agent.make({ model: yield* model, tools: [geolocate] })
      const durable = DurableAgent.make(agent, {
        name: "geo",
        onDeferred: (request) => Effect.sync(() => void pending.push(request))
      })
      yield* Layer.build(
        durable.layer.pipe(Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" })))
      ).pipe(
        Effect.flatMap((ctx) =>
          Effect.gen(function* () {
            const executionId = yield* durable.start({ id: "geo-1", prompt: "where am I?" })
            while (pending.length === 0) yield* Effect.sleep("20 millis")
            assert.strictEqual(pending.length, 1)
            const [call] = pending[0]!.calls
            assert.deepStrictEqual(
              { ...call!, token: undefined },
              {
                toolCallId: "call_geo",
                toolName: "geolocate",
                args: { precise: true },
                kind: "external",
                metadata: undefined,
                token: undefined
              }
            )
            assert.strictEqual(pending[0]!.executionId, executionId)
            assert.deepStrictEqual(
              pending[0]!.messages.map((m) => m._tag),
              ["ModelRequest", "ModelResponse"]
            )
            assert.strictEqual(call!.token, yield* durable.token("geo-1", "call_geo"))
            assert.deepStrictEqual(yield* durable.poll(executionId), { _tag: "Waiting" })

            yield* DurableAgent.provideResult(call!.token, { lat: 48.86, lng: 2.35 })
            const result = yield* durable.run({ id: "geo-1", prompt: "where am I?" })
            assert.strictEqual(result.output, 'finished [{"lat":48.86,"lng":2.35}]')
            assert.strictEqual(requests(), 2)
            const status = yield* durable.poll(executionId)
            assert.strictEqual(status._tag, "Done")

            const bad = yield* Effect.flip(DurableAgent.approve("not-a-token"))
            assert.strictEqual(bad._tag, "UserError")
            assert.match(bad.reason, /^Not a deferred tool call token/)
          }).pipe(Effect.provide(ctx))
        )
      )
    })
  )

  it.scopedLive("usage limits hold across a wait and a restart of the runner", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-durable-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
      )
      const filename = path.join(dir, "runs.db")
      const { model, requests } = scripted([
        FunctionModel.toolCall("refund", { amount: 5 }, "call_refund")
      ])
      let refunds = 0
      const refund = Tool.make("refund", {
        parameters: Schema.Struct({ amount: Schema.Number }),
        requiresApproval: true,
        handler: ({ amount }) => Effect.sync(() => ++refunds && `refunded ${amount}`)
      })
      const agent = Agent.make({ model: yield* model, tools: [refund] })
      const durable = DurableAgent.make(agent, { name: "limited" })
      const runner = () =>
        durable.layer.pipe(Layer.provideMerge(DurableRunner.layerSqlite({ filename })))
      const input = {
        id: "limited-1",
        prompt: "refund",
        usageLimits: Usage.UsageLimits.make({ requestLimit: 1 })
      }

      // 1st runner: the run stops for approval after its only allowed request; runner closed.
      const executionId = yield* Effect.scoped(
        Effect.gen(function* () {
          const id = yield* durable.start(input)
          let status = yield* durable.poll(id)
          while (status._tag !== "Waiting") {
            yield* Effect.sleep("20 millis")
            status = yield* durable.poll(id)
          }
          return id
        }).pipe(Effect.provide(runner()))
      )
      // 2nd runner on the same file: approved, the tool runs, the next request is over the limit.
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          yield* DurableAgent.approve(yield* durable.token("limited-1", "call_refund"))
          return yield* Effect.flip(durable.run(input))
        }).pipe(Effect.provide(runner()))
      )
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      assert.strictEqual((error as AgentError.UsageLimitExceeded).limit, "requestLimit")
      assert.strictEqual(refunds, 1)
      assert.strictEqual(requests(), 1)
      assert.isString(executionId)
    })
  )
})
