import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { afterEach, beforeEach } from "vitest"
import { Agent, AgentError, Cost, FunctionModel, Messages, Tool, Usage } from "@agentfx/core"

/** Answers with the given usage: a tool call first (when `tool`), then text. */
const model = (name: string, usage: { inputTokens: number; outputTokens: number }, tool = false) =>
  FunctionModel.layer(
    (messages) => {
      const first = messages.filter((m) => m._tag === "ModelResponse").length === 0
      return new Messages.ModelResponse({
        parts:
          first && tool
            ? [new Messages.ToolCallPart({ toolName: "ping", args: {}, toolCallId: "c1" })]
            : [new Messages.TextPart({ content: "done" })],
        usage: new Usage.RequestUsage(usage),
        modelName: name
      })
    },
    { modelName: name }
  )

const ping = Tool.make("ping", {
  parameters: Schema.Struct({}),
  handler: () => Effect.succeed("pong")
})
const agent = Agent.make({ tools: [ping] })

// Pricing must never go to the network: any fetch during these tests fails them.
let fetches = 0
const realFetch = globalThis.fetch
beforeEach(() => {
  fetches = 0
  globalThis.fetch = (() => {
    fetches++
    return Promise.reject(new Error("no network in tests"))
  }) as typeof fetch
})
afterEach(() => {
  globalThis.fetch = realFetch
  assert.strictEqual(fetches, 0)
})

/** Collects the warnings logged while `effect` runs. */
const warningsOf = <A, E>(effect: Effect.Effect<A, E>) => {
  const seen: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (logLevel._tag === "Warning") seen.push(String(message))
  })
  return Effect.map(
    effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))),
    (a) => [a, seen] as const
  )
}

describe("Cost", () => {
  it.effect("genai-prices (bundled data, offline) prices each response and the run", () =>
    Effect.gen(function* () {
      const result = yield* agent
        .run("go")
        .pipe(
          Cost.withPricing(),
          Effect.provide(model("gpt-4o", { inputTokens: 1000, outputTokens: 500 }, true))
        )
      // gpt-4o in genai-prices 0.1.8: $2.50 / M input, $10 / M output.
      const responses = result
        .allMessages()
        .filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")
      assert.strictEqual(responses.length, 2)
      for (const r of responses) assert.closeTo(r.usage.cost!, 0.0075, 1e-12)
      assert.closeTo(result.usage.cost!, 0.015, 1e-12)
      assert.strictEqual(result.usage.requests, 2)
    })
  )

  it.effect("without a pricing installed there is no cost", () =>
    Effect.gen(function* () {
      const result = yield* agent
        .run("go")
        .pipe(Effect.provide(model("gpt-4o", { inputTokens: 1000, outputTokens: 500 })))
      assert.isUndefined(result.usage.cost)
      assert.isUndefined(result.response.usage.cost)
    })
  )

  it.effect("an unknown model: cost undefined and one warning per model", () =>
    Effect.gen(function* () {
      const run = agent
        .run("go")
        .pipe(
          Cost.withPricing(),
          Effect.provide(model("no-such-model-xyz", { inputTokens: 10, outputTokens: 5 }))
        )
      const [first, warnings] = yield* warningsOf(Effect.zip(run, run))
      assert.isUndefined(first[0].usage.cost)
      assert.isUndefined(first[1].usage.cost)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0]!, "no-such-model-xyz")
      assert.include(warnings[0]!, "function")
    })
  )

  it.effect("a table pricing: per-million prices with cached input at its own rate", () =>
    Effect.gen(function* () {
      const pricing = Cost.fromTable({
        "custom-model": { inputPerMillion: 1, outputPerMillion: 4, cacheReadPerMillion: 0.5 }
      })
      const price = yield* pricing.forModel("any", "custom-model")
      const usage = new Usage.RequestUsage({
        inputTokens: 1_000_000,
        cacheReadTokens: 400_000,
        outputTokens: 250_000
      })
      // 600k × $1 + 400k × $0.5 + 250k × $4, per million.
      assert.closeTo(price!(usage), 0.6 + 0.2 + 1, 1e-12)
    })
  )

  it.effect("streamed runs are priced too", () =>
    Effect.gen(function* () {
      const streamed = FunctionModel.layer(undefined, {
        modelName: "m-stream",
        stream: () => Stream.make("a", "b")
      })
      const result = yield* agent
        .runStream("go")
        .pipe(
          Stream.runLast,
          Effect.flatten,
          Cost.withPricing(
            Cost.fromTable({ "m-stream": { inputPerMillion: 1e6, outputPerMillion: 0 } })
          ),
          Effect.provide(streamed)
        )
      assert.strictEqual(result._tag, "AgentRunResultEvent")
      if (result._tag !== "AgentRunResultEvent") return
      const input = result.result.usage.inputTokens
      assert.isAbove(input, 0)
      assert.strictEqual(result.result.usage.cost, input)
      assert.strictEqual(result.result.response.usage.cost, input)
    })
  )
})

/** A tool call (100 in / 10 out) then "done", counting the requests it answers. */
const countingModel = () => {
  let requests = 0
  const counting = FunctionModel.layer(
    (messages) => {
      requests++
      return messages.filter((m) => m._tag === "ModelResponse").length === 0
        ? new Messages.ModelResponse({
            parts: [new Messages.ToolCallPart({ toolName: "ping", args: {}, toolCallId: "c1" })],
            usage: new Usage.RequestUsage({ inputTokens: 100, outputTokens: 10 })
          })
        : FunctionModel.text("done")
    },
    { modelName: "m-limit" }
  )
  return { counting, requests: () => requests }
}

describe("UsageLimits.costLimit", () => {
  const table = Cost.fromTable({ "m-limit": { inputPerMillion: 2, outputPerMillion: 10 } })
  // Each response: 100 in, 10 out → $0.0003.

  it.effect("after a response: a run over the limit fails naming the cost, messages kept", () =>
    Effect.gen(function* () {
      const exit = yield* agent
        .run("go", { usageLimits: Usage.UsageLimits.make({ costLimit: 0.0002 }) })
        .pipe(
          Cost.withPricing(table),
          Effect.provide(model("m-limit", { inputTokens: 100, outputTokens: 10 }, true)),
          Effect.exit
        )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, AgentError.UsageLimitExceeded)
      const e = error as AgentError.UsageLimitExceeded
      assert.strictEqual(e.limit, "costLimit")
      assert.strictEqual(e.limitValue, 0.0002)
      assert.closeTo(e.value, 0.0003, 1e-12)
      assert.include(e.message, "cost_limit of $0.0002")
      assert.deepStrictEqual(
        e.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )

  it.effect("before a request: a run that has spent its budget sends no further request", () =>
    Effect.gen(function* () {
      const { counting, requests } = countingModel()
      const exit = yield* agent
        .run("go", { usageLimits: Usage.UsageLimits.make({ costLimit: 0.0003 }) })
        .pipe(Cost.withPricing(table), Effect.provide(counting), Effect.exit)
      assert.strictEqual(requests(), 1)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail")
        return assert.fail("expected a failure")
      const e = exit.cause.error as AgentError.UsageLimitExceeded
      assert.strictEqual(e._tag, "UsageLimitExceeded")
      assert.strictEqual(e.limit, "costLimit")
      assert.include(e.message, "The next request would exceed the cost_limit of $0.0003")
      // The tool call was answered before the check: the history is complete up to the request.
      assert.deepStrictEqual(
        e.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
    })
  )

  it.effect("before a request: the estimate (previous input + output sent again) counts", () =>
    Effect.gen(function* () {
      const { counting, requests } = countingModel()
      // Spent $0.0003; the next request sends at least 110 input tokens ($0.00022): $0.00052.
      const exit = yield* agent
        .run("go", { usageLimits: Usage.UsageLimits.make({ costLimit: 0.0005 }) })
        .pipe(Cost.withPricing(table), Effect.provide(counting), Effect.exit)
      assert.strictEqual(requests(), 1)
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail")
        return assert.fail("expected a failure")
      const e = exit.cause.error as AgentError.UsageLimitExceeded
      assert.strictEqual(e._tag, "UsageLimitExceeded")
      assert.strictEqual(e.limit, "costLimit")
      assert.closeTo(e.value, 0.00052, 1e-12)
      assert.include(e.message, "at least $0.00022")
      assert.deepStrictEqual(
        e.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
      // With room for it, the same run completes.
      const again = countingModel()
      const ok = yield* agent
        .run("go", { usageLimits: Usage.UsageLimits.make({ costLimit: 0.001 }) })
        .pipe(Cost.withPricing(table), Effect.provide(again.counting))
      assert.strictEqual(again.requests(), 2)
      assert.strictEqual(ok.output, "done")
    })
  )

  it.effect("a cost limit turns the bundled prices on when no pricing is installed", () =>
    Effect.gen(function* () {
      const exit = yield* agent
        .run("go", { usageLimits: Usage.UsageLimits.make({ costLimit: 0.001 }) })
        .pipe(
          Effect.provide(model("gpt-4o", { inputTokens: 1000, outputTokens: 500 })),
          Effect.exit
        )
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail")
        return assert.fail("expected a failure")
      const e = exit.cause.error as AgentError.UsageLimitExceeded
      assert.strictEqual(e.limit, "costLimit")
      assert.closeTo(e.value, 0.0075, 1e-12)
    })
  )

  it("RunUsage sums known prices; unknown ones add nothing", () => {
    const priced = new Usage.RequestUsage({ inputTokens: 1, cost: 0.5 })
    const unpriced = new Usage.RequestUsage({ inputTokens: 1 })
    assert.isUndefined(Usage.RunUsage.empty.addRequest(unpriced).cost)
    const run = Usage.RunUsage.empty.addRequest(priced).addRequest(unpriced).addRequest(priced)
    assert.strictEqual(run.cost, 1)
    assert.strictEqual(run.add(Usage.RunUsage.empty).cost, 1)
    assert.strictEqual(priced.add(unpriced).cost, 0.5)
    assert.strictEqual(run.requests, 3)
  })
})
