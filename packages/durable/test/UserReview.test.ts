/**
 * What a user putting durable runs in production relies on, scenario by scenario: a run
 * resumed on a new runner ends as an uninterrupted one (output, messages, usage, ids), no step
 * is made twice, failures are typed and stored, deferred calls resolve as documented, and
 * idempotency keys name one call each.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Agent,
  AgentError,
  FunctionModel,
  type Messages,
  RunContext,
  Tool,
  Usage
} from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { DurableAgent, DurableRunner } from "../src/index.js"

/** A fresh SQLite file, removed with the test's scope. */
const tempDb = Effect.gen(function* () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-durable-review-"))
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  return path.join(dir, "runs.db")
})

/** Runs `effect` on a runner over `filename` registering `durable`; the runner stops after. */
const onRunner = <A, E, R>(
  durable: DurableAgent.DurableAgent<any, any, any>,
  filename: string,
  effect: Effect.Effect<A, E, R>
) =>
  Effect.scoped(
    effect.pipe(
      Effect.provide(
        (durable.layer as Layer.Layer<never>).pipe(
          Layer.provideMerge(DurableRunner.layerSqlite({ filename }))
        )
      )
    )
  )

/** Waits (polling) until the run's status has this tag. */
const awaitStatus = (
  durable: DurableAgent.DurableAgent<any, any, any>,
  executionId: string,
  tag: "Waiting" | "Done"
) =>
  Effect.gen(function* () {
    for (let i = 0; i < 1500; i++) {
      const status = yield* durable.poll(executionId)
      if (status._tag === tag) return status
      if (status._tag === "Done") return assert.fail(`the run ended instead of reaching ${tag}`)
      yield* Effect.sleep("20 millis")
    }
    return assert.fail(`the run never reached ${tag}`)
  })

/** Messages without their timestamps (a fresh run's responses are stamped anew). */
const shape = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  JSON.parse(
    JSON.stringify(messages, (key, value) => (key === "timestamp" ? undefined : value))
  ) as unknown

const responsesIn = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

const lastReturn = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const last = messages.at(-1)
  return last?._tag === "ModelRequest"
    ? last.parts.find((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
    : undefined
}

/** What the model sees of a tool's return (or retry prompt). */
const describeReturn = (part: ReturnType<typeof lastReturn>) =>
  part === undefined
    ? "nothing"
    : part._tag === "ToolReturnPart"
      ? `${part.toolName} ${part.toolCallId} ${part.outcome} ${part.contentText}`
      : `retry ${part.toolName} ${part.toolCallId} ${part.content}`

describe("a run resumed on a new runner", () => {
  it.scopedLive(
    "ends as an uninterrupted run: output, messages, usage, ids; each step completed once",
    () =>
      Effect.gen(function* () {
        const counts = { model: 0, started: 0, completed: 0 }
        const keys: Array<string> = []
        // The conversation ids the tool calls saw (in every execution of the run).
        const conversations = new Set<string | undefined>()
        // Set by the test: the first runner's tool call hangs (its runner is stopped then).
        let hang: Deferred.Deferred<void> | undefined
        const model = yield* FunctionModel.make((messages) => {
          counts.model++
          switch (responsesIn(messages)) {
            case 0:
              return FunctionModel.toolCalls([
                { toolName: "charge", args: { amount: 3 }, toolCallId: "c1" },
                { toolName: "charge", args: { amount: 4 }, toolCallId: "c2" }
              ])
            case 1:
              return FunctionModel.toolCall("charge", { amount: 5 }, "c3")
            default:
              return FunctionModel.text(`done after ${describeReturn(lastReturn(messages))}`)
          }
        })
        const charge = Tool.make("charge", {
          parameters: Schema.Struct({ amount: Schema.Number }),
          handler: ({ amount }) =>
            Effect.gen(function* () {
              const ctx = yield* RunContext.RunContext
              counts.started++
              keys.push(RunContext.idempotencyKey(ctx))
              conversations.add(ctx.conversationId)
              if (amount === 5 && hang !== undefined) {
                yield* Deferred.succeed(hang, undefined)
                yield* Effect.never
              }
              counts.completed++
              return { charged: amount }
            })
        })
        const durable = DurableAgent.make(Agent.make({ model, tools: [charge] }), {
          name: "review-resume"
        })
        const input = { id: "order-77", prompt: "charge 3, 4 then 5" }

        // Uninterrupted, on its own database.
        const plain = yield* onRunner(durable, yield* tempDb, durable.run(input))
        const plainCounts = { ...counts }
        const plainKeys = [...keys]
        counts.model = counts.started = counts.completed = 0
        keys.length = 0

        // Interrupted while the third call executes: its runner stops, a new one takes over.
        const filename = yield* tempDb
        hang = yield* Deferred.make<void>()
        const started = hang
        yield* onRunner(
          durable,
          filename,
          Effect.zipRight(durable.start(input), Deferred.await(started))
        )
        hang = undefined
        const resumed = yield* onRunner(durable, filename, durable.run(input))

        assert.deepStrictEqual(plainCounts, { model: 3, started: 3, completed: 3 })
        // No model request twice; the call cut short runs again, the completed ones do not.
        assert.deepStrictEqual(counts, { model: 3, started: 4, completed: 3 })
        assert.strictEqual(resumed.output, plain.output)
        assert.strictEqual(resumed.output, 'done after charge c3 success {"charged":5}')
        assert.strictEqual(resumed.executionId, plain.executionId)
        assert.strictEqual(resumed.executionId, yield* durable.executionId("order-77"))
        assert.deepStrictEqual(shape(resumed.allMessages()), shape(plain.allMessages()))
        assert.deepStrictEqual(shape(resumed.newMessages()), shape(plain.newMessages()))
        assert.strictEqual(resumed.allMessages().length, 6)
        assert.deepStrictEqual(resumed.usage, plain.usage)
        assert.strictEqual(resumed.usage.requests, 3)
        assert.strictEqual(resumed.usage.toolCalls, 3)
        assert.deepStrictEqual(plainKeys, [
          `${plain.executionId}/c1`,
          `${plain.executionId}/c2`,
          `${plain.executionId}/c3`
        ])
        // The call executed twice had the same key both times.
        assert.deepStrictEqual(keys, [...plainKeys, `${plain.executionId}/c3`])
        // One conversation, on both runners: the one stamped on the messages.
        assert.deepStrictEqual(
          [...conversations],
          [...new Set(resumed.allMessages().map((m) => m.conversationId))]
        )
      }),
    120_000
  )
})

describe("a failed run", () => {
  it.scopedLive(
    "a model 5xx is a typed error with the messages so far; the same id gives it again",
    () =>
      Effect.gen(function* () {
        let requests = 0
        const model = yield* FunctionModel.make((messages) => {
          requests++
          return responsesIn(messages) === 0
            ? FunctionModel.toolCall("lookup", { order: "A" }, "l1")
            : Effect.fail(
                new AgentError.ModelHTTPError({
                  status: 503,
                  modelName: "function",
                  body: { error: "overloaded" }
                })
              )
        })
        let lookups = 0
        const lookup = Tool.make("lookup", {
          parameters: Schema.Struct({ order: Schema.String }),
          handler: ({ order }) => Effect.sync(() => `${order}: shipped (${++lookups})`)
        })
        const durable = DurableAgent.make(Agent.make({ model, tools: [lookup] }), {
          name: "review-5xx"
        })
        const filename = yield* tempDb
        const input = { id: "t-503", prompt: "where is A?" }
        const first = yield* onRunner(durable, filename, Effect.flip(durable.run(input)))
        assert.strictEqual(first._tag, "ModelHTTPError")
        const http = first as AgentError.ModelHTTPError
        assert.strictEqual(http.status, 503)
        assert.deepStrictEqual(http.body, { error: "overloaded" })
        // The conversation up to the failure: prompt, call, its return.
        assert.deepStrictEqual(
          http.messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse", "ModelRequest"]
        )
        // A second runner: the stored failure, nothing asked or executed again.
        const again = yield* onRunner(
          durable,
          filename,
          Effect.gen(function* () {
            const error = yield* Effect.flip(durable.run(input))
            const status = yield* durable.poll(yield* durable.executionId("t-503"))
            return { error, status }
          })
        )
        assert.strictEqual(again.error._tag, "ModelHTTPError")
        assert.deepStrictEqual(
          (again.error as AgentError.ModelHTTPError).messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse", "ModelRequest"]
        )
        assert.strictEqual(again.status._tag, "Done")
        if (again.status._tag === "Done") assert.isTrue(Exit.isFailure(again.status.exit))
        assert.strictEqual(requests, 2)
        assert.strictEqual(lookups, 1)
      }),
    120_000
  )

  it.scopedLive("a usage limit fails the run with UsageLimitExceeded and its messages", () =>
    Effect.gen(function* () {
      const model = yield* FunctionModel.make(() => FunctionModel.toolCall("noop", {}, "n"))
      const noop = Tool.make("noop", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const durable = DurableAgent.make(Agent.make({ model, tools: [noop] }), {
        name: "review-limit"
      })
      const error = yield* onRunner(
        durable,
        yield* tempDb,
        Effect.flip(
          durable.run({
            id: "limit-1",
            prompt: "loop",
            usageLimits: Usage.UsageLimits.make({ requestLimit: 2 })
          })
        )
      )
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      const limit = error as AgentError.UsageLimitExceeded
      assert.strictEqual(limit.limit, "requestLimit")
      assert.strictEqual(limit.limitValue, 2)
      assert.strictEqual(limit.messages.filter((m) => m._tag === "ModelResponse").length, 2)
    })
  )
})

/** A model asking for `refund` (approval needed) once, then telling what it got back. */
const approvalModel = () =>
  FunctionModel.make((messages) =>
    responsesIn(messages) === 0
      ? FunctionModel.toolCall("refund", { amount: 100 }, "r1")
      : FunctionModel.text(describeReturn(lastReturn(messages)))
  )

const refundTool = (refunds: Array<number>) =>
  Tool.make("refund", {
    parameters: Schema.Struct({ amount: Schema.Number }),
    requiresApproval: true,
    handler: ({ amount }) =>
      Effect.sync(() => {
        refunds.push(amount)
        return `refunded ${amount}`
      })
  })

describe("deferred calls", () => {
  it.scopedLive(
    "approve with overrideArgs, deny with a message; resolved twice, the first wins",
    () =>
      Effect.gen(function* () {
        const refunds: Array<number> = []
        const durable = DurableAgent.make(
          Agent.make({ model: yield* approvalModel(), tools: [refundTool(refunds)] }),
          { name: "review-approve" }
        )
        const out = yield* onRunner(
          durable,
          yield* tempDb,
          Effect.gen(function* () {
            const waitFor = (id: string) =>
              Effect.flatMap(durable.start({ id, prompt: "refund" }), (executionId) =>
                awaitStatus(durable, executionId, "Waiting")
              )
            yield* waitFor("a-1")
            yield* DurableAgent.approve(yield* durable.token("a-1", "r1"), {
              overrideArgs: { amount: 60 }
            })
            const approved = yield* durable.run({ id: "a-1", prompt: "refund" })
            yield* waitFor("a-2")
            yield* DurableAgent.deny(yield* durable.token("a-2", "r1"), "Over the limit.")
            const denied = yield* durable.run({ id: "a-2", prompt: "refund" })
            yield* waitFor("a-3")
            const token = yield* durable.token("a-3", "r1")
            yield* DurableAgent.deny(token, "No.")
            yield* DurableAgent.approve(token)
            const twice = yield* durable.run({ id: "a-3", prompt: "refund" })
            return { approved, denied, twice }
          })
        )
        assert.strictEqual(out.approved.output, "refund r1 success refunded 60")
        assert.strictEqual(out.approved.usage.toolCalls, 1)
        assert.strictEqual(out.approved.usage.requests, 2)
        assert.strictEqual(out.denied.output, "refund r1 denied Over the limit.")
        assert.strictEqual(out.denied.usage.toolCalls, 0)
        assert.strictEqual(out.twice.output, "refund r1 denied No.")
        assert.deepStrictEqual(refunds, [60])
      })
  )

  it.scopedLive("an interrupted run: the caller, poll and the stream all see it end", () =>
    Effect.gen(function* () {
      const refunds: Array<number> = []
      const durable = DurableAgent.make(
        Agent.make({ model: yield* approvalModel(), tools: [refundTool(refunds)] }),
        { name: "review-interrupt" }
      )
      const out = yield* onRunner(
        durable,
        yield* tempDb,
        Effect.gen(function* () {
          const executionId = yield* durable.start({ id: "i-1", prompt: "refund" })
          yield* awaitStatus(durable, executionId, "Waiting")
          yield* durable.interrupt(executionId)
          const status = yield* awaitStatus(durable, executionId, "Done")
          const joined = yield* Effect.exit(durable.run({ id: "i-1", prompt: "refund" }))
          const streamed = yield* Effect.exit(
            Stream.runCollect(durable.stream("i-1")).pipe(Effect.timeout("20 seconds"))
          )
          return { status, joined, streamed }
        })
      )
      assert.strictEqual(out.status._tag, "Done")
      if (out.status._tag === "Done") {
        assert.isTrue(Exit.isInterrupted(out.status.exit), String(out.status.exit))
      }
      assert.isTrue(Exit.isInterrupted(out.joined), String(out.joined))
      assert.isTrue(Exit.isFailure(out.streamed), String(out.streamed))
      assert.deepStrictEqual(refunds, [])
    })
  )
})

describe("the conversation id of a durable run", () => {
  it.scopedLive("is the same in every execution: before and after a wait, given or continued", () =>
    Effect.gen(function* () {
      const refunds: Array<number> = []
      const notified: Array<string | undefined> = []
      const durable = DurableAgent.make(
        Agent.make({ model: yield* approvalModel(), tools: [refundTool(refunds)] }),
        {
          name: "review-conversation",
          onDeferred: (request) =>
            Effect.sync(() => void notified.push(request.messages.at(-1)?.conversationId))
        }
      )
      const out = yield* onRunner(
        durable,
        yield* tempDb,
        Effect.gen(function* () {
          const approved = (input: DurableAgent.RunInput) =>
            Effect.gen(function* () {
              const executionId = yield* durable.start(input)
              yield* awaitStatus(durable, executionId, "Waiting")
              yield* DurableAgent.approve(yield* durable.token(input.id, "r1"))
              const result = yield* durable.run(input)
              return [...new Set(result.allMessages().map((m) => m.conversationId))]
            })
          const fresh = yield* approved({ id: "conv-1", prompt: "refund" })
          const given = yield* approved({
            id: "conv-2",
            prompt: "refund",
            conversationId: "support-42"
          })
          return { fresh, given, executionId: yield* durable.executionId("conv-1") }
        })
      )
      // Told at the stop (first execution) and stored at the end (the replay): the same id.
      assert.deepStrictEqual(out.fresh, [out.executionId])
      assert.deepStrictEqual(out.given, ["support-42"])
      assert.deepStrictEqual(notified, [out.executionId, "support-42"])
      assert.deepStrictEqual(refunds, [100, 100])
    })
  )
})

describe("tools a user writes", () => {
  it.scopedLive("a tool returning nothing, bad arguments retried: stored and replayed alike", () =>
    Effect.gen(function* () {
      let requests = 0
      const model = yield* FunctionModel.make((messages) => {
        requests++
        switch (responsesIn(messages)) {
          case 0:
            return FunctionModel.toolCall("notify", { to: 7 }, "n1")
          case 1:
            return FunctionModel.toolCall("notify", { to: "ops" }, "n2")
          default:
            return FunctionModel.text(describeReturn(lastReturn(messages)))
        }
      })
      const sent: Array<string> = []
      const notify = Tool.make("notify", {
        parameters: Schema.Struct({ to: Schema.String }),
        handler: ({ to }) => Effect.sync(() => void sent.push(to))
      })
      const durable = DurableAgent.make(Agent.make({ model, tools: [notify] }), {
        name: "review-void"
      })
      const filename = yield* tempDb
      const input = { id: "void-1", prompt: "notify ops" }
      const first = yield* onRunner(durable, filename, durable.run(input))
      // The stored result, read by a new runner.
      const stored = yield* onRunner(durable, filename, durable.run(input))
      for (const result of [first, stored]) {
        assert.strictEqual(result.output, "notify n2 success ")
        assert.strictEqual(result.usage.requests, 3)
        assert.strictEqual(result.usage.toolCalls, 1)
        const parts = result
          .allMessages()
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        assert.deepStrictEqual(
          parts.map((p) => p._tag),
          ["UserPromptPart", "RetryPromptPart", "ToolReturnPart"]
        )
      }
      assert.deepStrictEqual(shape(stored.allMessages()), shape(first.allMessages()))
      assert.deepStrictEqual(sent, ["ops"])
      assert.strictEqual(requests, 3)
    })
  )
})

describe("a call id the model uses again", () => {
  it.scopedLive(
    "a second approval of the same call id waits for its own decision",
    () =>
      Effect.gen(function* () {
        // The model names every call `call_refund` (FunctionModel's default id, like providers
        // that number calls per response): two refunds of one run, each needing approval.
        const model = yield* FunctionModel.make((messages) =>
          responsesIn(messages) < 2
            ? FunctionModel.toolCall("refund", { amount: 10 * (responsesIn(messages) + 1) })
            : FunctionModel.text(describeReturn(lastReturn(messages)))
        )
        const refunds: Array<number> = []
        const stops: Array<DurableAgent.DeferredRequest> = []
        const durable = DurableAgent.make(Agent.make({ model, tools: [refundTool(refunds)] }), {
          name: "review-reused-id",
          onDeferred: (request) => Effect.sync(() => void stops.push(request))
        })
        const out = yield* onRunner(
          durable,
          yield* tempDb,
          Effect.gen(function* () {
            const executionId = yield* durable.start({ id: "reuse-1", prompt: "refund twice" })
            yield* awaitStatus(durable, executionId, "Waiting")
            assert.strictEqual(stops.length, 1)
            yield* DurableAgent.approve(stops[0]!.calls[0]!.token)
            // The second refund stops for its own approval, not approved by the first one's.
            for (let i = 0; i < 500 && stops.length < 2; i++) yield* Effect.sleep("20 millis")
            assert.strictEqual(stops.length, 2)
            yield* awaitStatus(durable, executionId, "Waiting")
            assert.deepStrictEqual(refunds, [10])
            assert.notStrictEqual(stops[1]!.calls[0]!.token, stops[0]!.calls[0]!.token)
            yield* DurableAgent.deny(stops[1]!.calls[0]!.token, "One refund is enough.")
            return yield* durable.run({ id: "reuse-1", prompt: "refund twice" })
          })
        )
        assert.strictEqual(out.output, "refund call_refund denied One refund is enough.")
        assert.deepStrictEqual(refunds, [10])
        assert.strictEqual(out.usage.requests, 3)
        assert.strictEqual(out.usage.toolCalls, 1)
      }),
    120_000
  )
})
