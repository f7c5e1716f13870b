import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { Agent, AgentError, FunctionModel, Tool, Usage } from "@agentfx/core"

const runWith = (fields: Partial<ConstructorParameters<typeof Usage.RunUsage>[0]>) =>
  new Usage.RunUsage(fields ?? {})

describe("RequestUsage / RunUsage", () => {
  it("adds usages, including details", () => {
    const a = new Usage.RequestUsage({
      inputTokens: 10,
      outputTokens: 2,
      details: { reasoning: 1 }
    })
    const b = new Usage.RequestUsage({
      inputTokens: 5,
      cacheReadTokens: 3,
      details: { reasoning: 2, x: 1 }
    })
    const sum = a.add(b)
    assert.strictEqual(sum.inputTokens, 15)
    assert.strictEqual(sum.outputTokens, 2)
    assert.strictEqual(sum.cacheReadTokens, 3)
    assert.strictEqual(sum.totalTokens, 17)
    assert.deepStrictEqual(sum.details, { reasoning: 3, x: 1 })
  })

  it("a run counts requests and tool calls", () => {
    const run = Usage.RunUsage.empty
      .addRequest(new Usage.RequestUsage({ inputTokens: 10, outputTokens: 1 }))
      .addRequest(new Usage.RequestUsage({ inputTokens: 20, outputTokens: 2 }))
      .addToolCalls(3)
    assert.strictEqual(run.requests, 2)
    assert.strictEqual(run.toolCalls, 3)
    assert.strictEqual(run.totalTokens, 33)
    const both = run.add(run)
    assert.strictEqual(both.requests, 4)
    assert.strictEqual(both.toolCalls, 6)
    assert.strictEqual(both.inputTokens, 60)
  })

  it("round-trips through JSON with defaults", () => {
    const decoded = Schema.decodeUnknownSync(Usage.RunUsage)({ requests: 1 })
    assert.strictEqual(decoded.inputTokens, 0)
    assert.deepStrictEqual(decoded.details, {})
    const encoded = Schema.encodeSync(Usage.RunUsage)(decoded)
    assert.deepStrictEqual(Schema.decodeUnknownSync(Usage.RunUsage)(encoded), decoded)
  })
})

describe("UsageLimits", () => {
  it("a request_limit of N allows exactly N requests", () => {
    const limits = new Usage.UsageLimits({ requestLimit: 3 })
    let usage = Usage.RunUsage.empty
    let allowed = 0
    while (Option.isNone(limits.checkBeforeRequest(usage))) {
      allowed++
      usage = usage.addRequest(Usage.RequestUsage.empty)
      if (allowed > 10) break
    }
    assert.strictEqual(allowed, 3)
    const violation = Option.getOrThrow(limits.checkBeforeRequest(usage))
    assert.strictEqual(violation.limit, "requestLimit")
    assert.strictEqual(violation.limitValue, 3)
    assert.strictEqual(violation.value, 4)
    assert.include(violation.message, "request_limit of 3")
  })

  it("the default request limit is 50; null disables it", () => {
    assert.strictEqual(Usage.UsageLimits.default.requestLimit, 50)
    assert.isTrue(
      Option.isSome(Usage.UsageLimits.default.checkBeforeRequest(runWith({ requests: 50 })))
    )
    assert.isTrue(
      Option.isNone(Usage.UsageLimits.default.checkBeforeRequest(runWith({ requests: 49 })))
    )
    const unlimited = new Usage.UsageLimits({ requestLimit: null })
    assert.isTrue(Option.isNone(unlimited.checkBeforeRequest(runWith({ requests: 10_000 }))))
  })

  it("token limits allow exactly the limit and fail above it", () => {
    const limits = new Usage.UsageLimits({
      requestLimit: null,
      inputTokensLimit: 10,
      outputTokensLimit: 5,
      totalTokensLimit: 12
    })
    assert.isTrue(Option.isNone(limits.checkTokens(runWith({ inputTokens: 10 }))))
    const input = Option.getOrThrow(limits.checkTokens(runWith({ inputTokens: 11 })))
    assert.strictEqual(input.limit, "inputTokensLimit")
    assert.include(input.message, "input_tokens=11")
    const output = Option.getOrThrow(limits.checkTokens(runWith({ outputTokens: 6 })))
    assert.strictEqual(output.limit, "outputTokensLimit")
    assert.isTrue(Option.isNone(limits.checkTokens(runWith({ inputTokens: 7, outputTokens: 5 }))))
    const totalOnly = Option.getOrThrow(
      limits.checkTokens(runWith({ inputTokens: 9, outputTokens: 4 }))
    )
    assert.strictEqual(totalOnly.limit, "totalTokensLimit")
    assert.strictEqual(totalOnly.value, 13)
    // tokens already over the limit also block the next request
    assert.isTrue(Option.isSome(limits.checkBeforeRequest(runWith({ inputTokens: 11 }))))
  })

  it("tool call limits are checked with the projected calls", () => {
    const limits = new Usage.UsageLimits({ toolCallsLimit: 3 })
    assert.isTrue(Option.isNone(limits.checkToolCalls(runWith({ toolCalls: 1 }), 2)))
    const v = Option.getOrThrow(limits.checkToolCalls(runWith({ toolCalls: 2 }), 2))
    assert.strictEqual(v.limit, "toolCallsLimit")
    assert.strictEqual(v.value, 4)
    assert.isTrue(
      Option.isNone(new Usage.UsageLimits({}).checkToolCalls(runWith({ toolCalls: 99 }), 99))
    )
  })
})

describe("a caller's usage Ref", () => {
  it.scoped(
    "a SubscriptionRef sees each change of the run's usage once, no equal values republished",
    () =>
      Effect.gen(function* () {
        const echo = Tool.make("echo", {
          description: "Echo a text",
          parameters: Schema.Struct({ text: Schema.String }),
          handler: ({ text }) => Effect.succeed(text)
        })
        const model = yield* FunctionModel.make((messages) =>
          messages.length > 2
            ? FunctionModel.text("done")
            : FunctionModel.toolCalls([
                { toolName: "echo", args: { text: "a" }, toolCallId: "c1" },
                { toolName: "echo", args: { text: "b" }, toolCallId: "c2" }
              ])
        )
        const usage = yield* SubscriptionRef.make(Usage.RunUsage.empty)
        const seen: Array<Usage.RunUsage> = []
        const subscribed = yield* Deferred.make<void>()
        const last = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkScoped(
          Stream.runForEach(usage.changes, (u) =>
            Effect.andThen(
              Effect.sync(() => seen.push(u)),
              Effect.andThen(
                Deferred.succeed(subscribed, undefined),
                u.requests === 2 ? Deferred.succeed(last, undefined) : Effect.void
              )
            )
          )
        )
        yield* Deferred.await(subscribed)
        const result = yield* Agent.make({ model, tools: [echo] }).run("go", { usage })
        yield* Deferred.await(last)
        yield* Fiber.interrupt(fiber)
        assert.strictEqual(result.output, "done")
        assert.strictEqual(result.usage.requests, 2)
        assert.strictEqual(result.usage.toolCalls, 2)
        // the initial value, then one value per change: two requests, two tool calls
        assert.deepStrictEqual(
          seen.map((u) => [u.requests, u.toolCalls]),
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [1, 2],
            [2, 2]
          ]
        )
        assert.deepStrictEqual(yield* SubscriptionRef.get(usage), result.usage)
      })
  )
})

const broke = () => new AgentError.ModelHTTPError({ status: 502, modelName: "fn" })

describe("a streamed request that does not complete", () => {
  it.live(
    "an interrupted stream counts its request with what arrived; a stream that failed first does not",
    () =>
      Effect.gen(function* () {
        // the first answer streams a word, then waits; the run is interrupted there
        const seen = yield* Deferred.make<void>()
        const hanging = FunctionModel.layer(undefined, {
          stream: () =>
            Stream.concat(
              Stream.make("Hello there "),
              Stream.fromEffect(Effect.zipRight(Deferred.succeed(seen, undefined), Effect.never))
            )
        })
        const cut = yield* Effect.gen(function* () {
          const usage = yield* SubscriptionRef.make(Usage.RunUsage.empty)
          const fiber = yield* Agent.make({})
            .runStream("hi", { usage })
            .pipe(Stream.runDrain, Effect.provide(hanging), Effect.fork)
          yield* Deferred.await(seen)
          yield* Fiber.interrupt(fiber)
          return yield* SubscriptionRef.get(usage)
        })
        assert.strictEqual(cut.requests, 1)
        assert.isAbove(cut.outputTokens, 0)
        assert.isAbove(cut.inputTokens, 0)

        // a stream broken after some text: the run fails, the request is counted
        const broken = FunctionModel.layer(undefined, {
          stream: () => Stream.concat(Stream.make("Half an "), Stream.fail(broke()))
        })
        const brokenUsage = yield* SubscriptionRef.make(Usage.RunUsage.empty)
        const exit = yield* Agent.make({})
          .run("hi", { usage: brokenUsage, onEvent: () => Effect.void })
          .pipe(Effect.provide(broken), Effect.exit)
        assert.isTrue(exit._tag === "Failure")
        const spent = yield* SubscriptionRef.get(brokenUsage)
        assert.strictEqual(spent.requests, 1)
        assert.isAbove(spent.outputTokens, 0)

        // a stream that fails before any answer: no request counted (as without streaming)
        const refused = FunctionModel.layer(undefined, { stream: () => Stream.fail(broke()) })
        const none = yield* SubscriptionRef.make(Usage.RunUsage.empty)
        yield* Agent.make({})
          .runStream("hi", { usage: none })
          .pipe(Stream.runDrain, Effect.provide(refused), Effect.exit)
        assert.strictEqual((yield* SubscriptionRef.get(none)).requests, 0)
      })
  )
})
