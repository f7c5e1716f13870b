/**
 * `RunOptions.handleDeferred`: deferred calls answered inline, in the step that made them — the
 * answered ones run (or get their result) without stopping the run, the rest stop it as usual
 * and can be resumed later; no tool runs twice, every call event is emitted once.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, DeferredTools, FunctionModel, type Messages, RunContext, Tool } from "@agentfx/core"

const { CallDeferred, DeferredToolRequests, DeferredToolResults, ToolApproved, ToolDenied } =
  DeferredTools

/** Tools counting their executions: `refund` needs approval, `ship` defers from its handler. */
const fixture = () => {
  const runs: Array<string> = []
  const refund = Tool.make("refund", {
    parameters: Schema.Struct({ order: Schema.String, amount: Schema.Number }),
    requiresApproval: true,
    handler: ({ order, amount }) =>
      Effect.map(RunContext.RunContext, (ctx) => {
        runs.push(`refund ${order} ${amount}`)
        return `refunded ${amount} on ${order} (approved: ${ctx.toolCallApproved === true})`
      })
  })
  const lookup = Tool.make("lookup", {
    parameters: Schema.Struct({ order: Schema.String }),
    handler: ({ order }) =>
      Effect.sync(() => {
        runs.push(`lookup ${order}`)
        return `order ${order}`
      })
  })
  const ship = Tool.make("ship", {
    parameters: Schema.Struct({ order: Schema.String }),
    handler: ({ order }) =>
      Effect.suspend(() => {
        runs.push(`ship ${order}`)
        return Effect.fail(new CallDeferred({ metadata: { queue: "warehouse" } }))
      })
  })
  const geolocate = Tool.external("geolocate", {
    parameters: Schema.Struct({ precise: Schema.Boolean })
  })
  const agent = Agent.make({ tools: [refund, lookup, ship, geolocate] })
  return { runs, agent }
}

const calls = FunctionModel.toolCalls([
  { toolName: "refund", toolCallId: "r1", args: { order: "1", amount: 5 } },
  { toolName: "refund", toolCallId: "r2", args: { order: "2", amount: 500 } },
  { toolName: "lookup", toolCallId: "l1", args: { order: "3" } },
  { toolName: "geolocate", toolCallId: "g1", args: { precise: true } }
])

/** First response: the calls above; then a text naming what each call returned. */
const respond = (messages: ReadonlyArray<Messages.ModelMessage>): Messages.ModelResponse => {
  const responses = messages.filter((m) => m._tag === "ModelResponse").length
  if (responses === 0) return calls
  const last = messages.at(-1) as Messages.ModelRequest
  return FunctionModel.text(
    last.parts
      .flatMap((p) => (p._tag === "ToolReturnPart" ? [`${p.toolCallId}:${p.outcome}`] : []))
      .join(" ")
  )
}
const model = FunctionModel.layer(respond, {
  stream: (messages) =>
    Stream.fromIterable(
      respond(messages).parts.map(
        (p, index): FunctionModel.StreamItem =>
          p._tag === "ToolCallPart"
            ? { [index]: { name: p.toolName, jsonArgs: p.argsAsJson(), toolCallId: p.toolCallId } }
            : p._tag === "TextPart"
              ? p.content
              : ""
      )
    )
})

const returns = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.flatMap((p) =>
          p._tag === "ToolReturnPart" ? [[p.toolCallId, p.outcome, p.contentText]] : []
        )
      : []
  )

describe("RunOptions.handleDeferred", () => {
  it.effect("answers every deferred call inline: the run goes on, each tool runs once", () =>
    Effect.gen(function* () {
      const { runs, agent } = fixture()
      const seen: Array<DeferredTools.DeferredToolRequests> = []
      const result = yield* agent
        .run("refunds", {
          handleDeferred: (requests) =>
            Effect.sync(() => {
              seen.push(requests)
              return new DeferredToolResults({
                approvals: {
                  r1: new ToolApproved({ overrideArgs: { order: "1", amount: 4 } }),
                  r2: new ToolDenied({ message: "Too much." })
                },
                calls: { g1: { lat: 1, lon: 2 } }
              })
            })
        })
        .pipe(Effect.provide(model))
      // Asked once, for exactly the calls that waited.
      assert.strictEqual(seen.length, 1)
      assert.deepStrictEqual(
        seen[0]!.approvals.map((c) => c.toolCallId),
        ["r1", "r2"]
      )
      assert.deepStrictEqual(
        seen[0]!.calls.map((c) => c.toolCallId),
        ["g1"]
      )
      assert.strictEqual(result.output, "r1:success r2:denied l1:success g1:success")
      assert.deepStrictEqual(runs, ["lookup 3", "refund 1 4"])
      assert.deepStrictEqual(returns(result.allMessages()), [
        ["r1", "success", "refunded 4 on 1 (approved: true)"],
        ["r2", "denied", "Too much."],
        ["l1", "success", "order 3"],
        ["g1", "success", '{"lat":1,"lon":2}']
      ])
      // One model request for the calls, one for the answer: no stop, no second run.
      assert.strictEqual(result.usage.requests, 2)
    })
  )

  it.effect("calls left unanswered stop the run; resuming them later finishes it", () =>
    Effect.gen(function* () {
      const { runs, agent } = fixture()
      const first = yield* agent
        .run("refunds", {
          handleDeferred: () => Effect.succeed(new DeferredToolResults({ approvals: { r1: true } }))
        })
        .pipe(Effect.provide(model))
      assert.instanceOf(first.output, DeferredToolRequests)
      const rest = first.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        rest.approvals.map((c) => c.toolCallId),
        ["r2"]
      )
      assert.deepStrictEqual(
        rest.calls.map((c) => c.toolCallId),
        ["g1"]
      )
      assert.deepStrictEqual(runs, ["lookup 3", "refund 1 5"])
      const second = yield* agent
        .run(undefined, {
          messageHistory: first.allMessages(),
          deferredToolResults: new DeferredToolResults({
            approvals: { r2: false },
            calls: { g1: "here" }
          })
        })
        .pipe(Effect.provide(model))
      assert.strictEqual(second.output, "r1:success r2:denied l1:success g1:success")
      // r1 and l1 were not run again.
      assert.deepStrictEqual(runs, ["lookup 3", "refund 1 5"])
    })
  )

  it.effect("a handler-raised deferral left unanswered does not run the handler twice", () =>
    Effect.gen(function* () {
      const { runs, agent } = fixture()
      const shipModel = FunctionModel.layer(() =>
        FunctionModel.toolCalls([
          { toolName: "ship", toolCallId: "s1", args: { order: "9" } },
          { toolName: "refund", toolCallId: "r1", args: { order: "1", amount: 5 } }
        ])
      )
      const out = yield* agent
        .run("ship it", {
          handleDeferred: () => Effect.succeed(new DeferredToolResults({ approvals: { r1: true } }))
        })
        .pipe(Effect.provide(shipModel))
      assert.instanceOf(out.output, DeferredToolRequests)
      const rest = out.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        rest.calls.map((c) => c.toolCallId),
        ["s1"]
      )
      assert.deepStrictEqual(rest.metadata, { s1: { queue: "warehouse" } })
      assert.deepStrictEqual(runs, ["ship 9", "refund 1 5"])
    })
  )

  it.effect(
    "undefined stops as without a handler; an answer for a call that did not wait is a UserError",
    () =>
      Effect.gen(function* () {
        const { agent } = fixture()
        const stopped = yield* agent
          .run("refunds", { handleDeferred: () => Effect.succeed(undefined) })
          .pipe(Effect.provide(model))
        assert.instanceOf(stopped.output, DeferredToolRequests)
        const wrong = yield* Effect.flip(
          agent
            .run("refunds", {
              handleDeferred: () =>
                Effect.succeed(new DeferredToolResults({ approvals: { l1: true } }))
            })
            .pipe(Effect.provide(model))
        )
        assert.strictEqual(wrong._tag, "UserError")
        if (wrong._tag === "UserError") {
          assert.match(
            wrong.reason,
            /^handleDeferred: Tool call 'l1' \('lookup'\) was not deferred/
          )
        }
      })
  )

  it.effect("runStream: one call event per call, results for the answered calls", () =>
    Effect.gen(function* () {
      const { agent } = fixture()
      const events = Chunk.toArray(
        yield* Stream.runCollect(
          agent.runStream("refunds", {
            handleDeferred: () =>
              Effect.succeed(
                new DeferredToolResults({
                  approvals: { r1: true, r2: false },
                  calls: { g1: "here" }
                })
              )
          })
        ).pipe(Effect.provide(model))
      )
      const ids = (tag: string) =>
        events.flatMap((e) =>
          e._tag === tag && tag === "FunctionToolCallEvent"
            ? [(e as Messages.FunctionToolCallEvent).part.toolCallId]
            : e._tag === tag
              ? [(e as Messages.FunctionToolResultEvent).result.toolCallId]
              : []
        )
      assert.deepStrictEqual(ids("FunctionToolCallEvent").sort(), ["g1", "l1", "r1", "r2"])
      assert.deepStrictEqual(ids("FunctionToolResultEvent").sort(), ["g1", "l1", "r1", "r2"])
      const last = events.at(-1)
      assert.strictEqual(last?._tag, "AgentRunResultEvent")
      if (last?._tag === "AgentRunResultEvent") {
        assert.strictEqual(last.result.output, "r1:success r2:denied l1:success g1:success")
      }
    })
  )
})
