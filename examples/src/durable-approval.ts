/**
 * durable-approval — a refund agent whose refunds need a manager's approval, as a durable run.
 *
 * The agent looks the order up and asks to refund it; `issue_refund` requires approval, so the
 * run stops and waits — durably: the runner (a `SingleRunner` over a SQLite file) can stop, the
 * process can die, and the run is still there. The manager is told (`onDeferred`, with a token
 * per call), approves by token, and the run goes on from where it stopped: no model request or
 * tool call is made twice.
 *
 * To show it, the program closes its first runner while the run waits (as a restart would),
 * then opens a second runner on the same file, approves, and gets the answer.
 *
 * Run: pnpm tsx --conditions=@agentfx/source examples/src/durable-approval.ts   (from the repo root)
 *  or: pnpm --filter @agentfx/examples durable-approval
 * The SQLite file is `DURABLE_DB` if set (keep it to see runs survive), else a temporary file.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { DurableAgent, DurableRunner } from "@agentfx/durable"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// -- the agent -------------------------------------------------------------------------------

const lookupOrder = Tool.make("lookup_order", {
  description: "Looks an order up: its amount and whether it was delivered.",
  parameters: Schema.Struct({ order: Schema.String }),
  handler: ({ order }) => Effect.succeed({ order, amount: 120, currency: "EUR", delivered: true })
})

const issueRefund = Tool.make("issue_refund", {
  description: "Refunds an order to the customer's card. A manager must approve it.",
  parameters: Schema.Struct({ order: Schema.String, amount: Schema.Number }),
  requiresApproval: true,
  handler: ({ order, amount }) =>
    Effect.as(Console.log(`  (payment service: refunding ${amount} EUR on order ${order})`), {
      refunded: amount,
      order
    })
})

const refundAgent = Agent.make({
  name: "refund-desk",
  instructions:
    "You handle refund requests. Look the order up, then refund it with issue_refund. " +
    "Tell the customer the outcome in one sentence.",
  tools: [lookupOrder, issueRefund]
})

// -- the scripted model: what a good model would do ----------------------------------------------

const scripted = Scripted.make("durable-approval", (messages) => {
  const order = /order (\d+)/.exec(Scripted.lastPrompt(messages))?.[1] ?? "1042"
  const lookedUp = Scripted.toolReturns(messages, "lookup_order")
  const refunded = Scripted.toolReturns(messages, "issue_refund")
  if (lookedUp.length === 0) return FunctionModel.toolCall("lookup_order", { order })
  if (refunded.length === 0) {
    const { amount } = lookedUp[0]!.content as { amount: number }
    return FunctionModel.toolCall("issue_refund", { order, amount })
  }
  const result = refunded[0]!
  return result.outcome === "denied"
    ? `Sorry, the refund of order ${order} was not approved: ${result.contentText}`
    : `Order ${order} has been refunded (120 EUR); it will show on your card in a few days.`
})

// -- the program -------------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)

  const keep = process.env.DURABLE_DB !== undefined
  const filename =
    process.env.DURABLE_DB ??
    path.join(fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-durable-")), "runs.db")
  yield* Effect.addFinalizer(() =>
    keep ? Effect.void : Effect.sync(() => fs.rmSync(path.dirname(filename), { recursive: true }))
  )

  // The manager's inbox: `onDeferred` runs once per stop (an activity), with a token per call.
  const inbox = yield* Deferred.make<DurableAgent.DeferredRequest>()
  const durable = DurableAgent.make(refundAgent, {
    name: "refund-desk",
    output: Schema.String,
    onDeferred: (request) => Deferred.succeed(inbox, request)
  })
  const runner = durable.layer.pipe(
    Layer.provideMerge(DurableRunner.layerSqlite({ filename })),
    Layer.provide(model.layer)
  )
  const input = {
    id: `refund-${Date.now()}`,
    prompt: "Please refund order 1042, it arrived broken."
  }

  // 1st runner: the run starts, looks the order up and stops for approval.
  const request = yield* Effect.scoped(
    Effect.gen(function* () {
      yield* durable.start(input)
      const request = yield* Deferred.await(inbox)
      for (const call of request.calls) {
        yield* Console.log(
          `manager notified: ${call.toolName} ${JSON.stringify(call.args)} needs ${call.kind}`
        )
      }
      return request
    }).pipe(Effect.provide(runner))
  )
  yield* Console.log("runner stopped while the run waits (as if the process had restarted)")

  // 2nd runner on the same file: the manager approves by token; the run goes on.
  const result = yield* Effect.scoped(
    Effect.gen(function* () {
      for (const call of request.calls) yield* DurableAgent.approve(call.token)
      yield* Console.log("manager approved")
      return yield* durable.run(input)
    }).pipe(Effect.provide(runner))
  )
  yield* Console.log(`answer: ${result.output}`)
  yield* Console.log(
    `usage: ${result.usage.requests} requests, ${result.usage.toolCalls} tool calls (each made once)`
  )
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
