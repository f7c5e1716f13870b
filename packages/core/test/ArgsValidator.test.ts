/**
 * `Tool.make({ validate })` (pydantic-ai's `args_validator`): decoded arguments are checked
 * before the call runs and before it waits for approval; `ModelRetry` goes back to the model
 * (counted against the tool's retries), `ToolFailed` is a failed return, a deferral makes the
 * call wait; approved calls are checked again with the approved or overriding arguments.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import {
  Agent,
  AgentError,
  DeferredTools,
  FunctionModel,
  type Messages,
  RunContext,
  Tool
} from "@agentfx/core"

const Transfer = Schema.Struct({ to: Schema.String, amount: Schema.Number })

/** A transfer tool: amounts must be positive, above 100 need approval; records what ran. */
const fixture = (options: { readonly requiresApproval?: boolean } = {}) => {
  const ran: Array<string> = []
  const checked: Array<string> = []
  const transfer = Tool.make("transfer", {
    parameters: Transfer,
    retries: 1,
    ...(options.requiresApproval === true ? { requiresApproval: true as const } : {}),
    validate: ({ to, amount }) =>
      Effect.gen(function* () {
        const ctx = yield* RunContext.RunContext
        checked.push(`${to}:${amount}:${ctx.toolCallApproved === true}`)
        if (amount <= 0) return yield* new AgentError.ModelRetry({ reason: "amount must be > 0" })
        if (to === "blocked") return yield* new AgentError.ToolFailed({ reason: "account blocked" })
        if (amount > 100 && ctx.toolCallApproved !== true) {
          return yield* new DeferredTools.ApprovalRequired({ metadata: { amount } })
        }
      }),
    handler: ({ to, amount }) =>
      Effect.sync(() => {
        ran.push(`${to}:${amount}`)
        return `sent ${amount} to ${to}`
      })
  })
  return { ran, checked, agent: Agent.make({ tools: [transfer] }) }
}

/** Calls `transfer` with each of `attempts` in turn, then answers with the last tool result. */
const model = (attempts: ReadonlyArray<Record<string, unknown>>) =>
  FunctionModel.layer((messages) => {
    const n = messages.filter((m) => m._tag === "ModelResponse").length
    if (n < attempts.length) return FunctionModel.toolCall("transfer", attempts[n]!, `c${n}`)
    const last = messages.at(-1) as Messages.ModelRequest
    const part = last.parts[0]!
    return FunctionModel.text(
      part._tag === "ToolReturnPart" ? `${part.outcome}: ${part.contentText}` : part._tag
    )
  })

const parts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.flatMap((p) =>
          p._tag === "RetryPromptPart"
            ? [`retry ${p.toolCallId}`]
            : p._tag === "ToolReturnPart"
              ? [`${p.outcome} ${p.toolCallId}`]
              : []
        )
      : []
  )

describe("Tool.make({ validate })", () => {
  it.effect("a ModelRetry goes back to the model; the handler runs once the arguments pass", () =>
    Effect.gen(function* () {
      const { ran, checked, agent } = fixture()
      const result = yield* agent.run("pay").pipe(
        Effect.provide(
          model([
            { to: "bob", amount: -5 },
            { to: "bob", amount: 5 }
          ])
        )
      )
      assert.strictEqual(result.output, "success: sent 5 to bob")
      assert.deepStrictEqual(ran, ["bob:5"])
      assert.deepStrictEqual(checked, ["bob:-5:false", "bob:5:false"])
      assert.deepStrictEqual(parts(result.allMessages()), ["retry c0", "success c1"])
      const retry = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .find((p) => p._tag === "RetryPromptPart")
      assert.strictEqual(retry?._tag === "RetryPromptPart" && retry.content, "amount must be > 0")
    })
  )

  it.effect("retries are counted: too many refusals end the run with a typed error", () =>
    Effect.gen(function* () {
      const { ran, agent } = fixture()
      const error = yield* Effect.flip(
        agent.run("pay").pipe(
          Effect.provide(
            model([
              { to: "bob", amount: -1 },
              { to: "bob", amount: -2 },
              { to: "bob", amount: -3 }
            ])
          )
        )
      )
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.match(String((error as { message?: string }).message ?? error), /transfer/)
      assert.deepStrictEqual(ran, [])
    })
  )

  it.effect("ToolFailed is a failed return, not a retry", () =>
    Effect.gen(function* () {
      const { ran, agent } = fixture()
      const result = yield* agent
        .run("pay")
        .pipe(Effect.provide(model([{ to: "blocked", amount: 5 }])))
      assert.strictEqual(result.output, "failed: account blocked")
      assert.deepStrictEqual(ran, [])
    })
  )

  it.effect("checked before approval: bad arguments never reach the approver", () =>
    Effect.gen(function* () {
      const { ran, checked, agent } = fixture({ requiresApproval: true })
      const first = yield* agent.run("pay").pipe(
        Effect.provide(
          model([
            { to: "bob", amount: 0 },
            { to: "bob", amount: 7 }
          ])
        )
      )
      assert.instanceOf(first.output, DeferredTools.DeferredToolRequests)
      const requests = first.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        requests.approvals.map((c) => [c.toolCallId, c.args]),
        [["c1", { to: "bob", amount: 7 }]]
      )
      assert.deepStrictEqual(parts(first.allMessages()), ["retry c0"])
      assert.deepStrictEqual(ran, [])
      assert.deepStrictEqual(checked, ["bob:0:false", "bob:7:false"])
    })
  )

  it.effect(
    "a deferral from the validator waits; the approved call is checked again and runs",
    () =>
      Effect.gen(function* () {
        const { ran, checked, agent } = fixture()
        const m = model([{ to: "bob", amount: 500 }])
        const first = yield* agent.run("pay").pipe(Effect.provide(m))
        assert.instanceOf(first.output, DeferredTools.DeferredToolRequests)
        const requests = first.output as DeferredTools.DeferredToolRequests
        assert.deepStrictEqual(requests.metadata, { c0: { amount: 500 } })
        // The approver lowers the amount: the override is checked too.
        const resumed = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({
              approvals: {
                c0: new DeferredTools.ToolApproved({ overrideArgs: { to: "bob", amount: 300 } })
              }
            })
          })
          .pipe(Effect.provide(m))
        assert.strictEqual(resumed.output, "success: sent 300 to bob")
        assert.deepStrictEqual(ran, ["bob:300"])
        assert.deepStrictEqual(checked, ["bob:500:false", "bob:300:true"])
      })
  )

  it.effect("an approved override the validator refuses goes back to the model as a retry", () =>
    Effect.gen(function* () {
      const { ran, agent } = fixture({ requiresApproval: true })
      const m = model([{ to: "bob", amount: 5 }])
      const first = yield* agent.run("pay").pipe(Effect.provide(m))
      const requests = first.output as DeferredTools.DeferredToolRequests
      const resumed = yield* agent
        .run(undefined, {
          messageHistory: first.allMessages(),
          deferredToolResults: requests.buildResults({
            approvals: {
              c0: new DeferredTools.ToolApproved({ overrideArgs: { to: "bob", amount: -1 } })
            }
          })
        })
        .pipe(Effect.provide(m))
      assert.strictEqual(resumed.output, "RetryPromptPart")
      assert.deepStrictEqual(ran, [])
    })
  )
})
