import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import {
  Agent,
  ConcurrencyLimitedModel,
  FunctionModel,
  Messages,
  Model,
  TestModel
} from "../src/index.js"

const prompt = [Messages.userPrompt("hi")]
const params = Model.ModelRequestParameters.empty

/** A model whose requests wait for `gate`, counting how many are in flight at once. */
const gatedModel = (gate: Deferred.Deferred<void>) => {
  const stats = { inFlight: 0, max: 0, started: 0 }
  const model = FunctionModel.make((messages) =>
    Effect.gen(function* () {
      stats.started += 1
      stats.inFlight += 1
      stats.max = Math.max(stats.max, stats.inFlight)
      yield* Deferred.await(gate)
      stats.inFlight -= 1
      return new Messages.ModelResponse({
        parts: [new Messages.TextPart({ content: `answer ${messages.length}` })]
      })
    })
  )
  return { model, stats }
}

describe("ConcurrencyLimitedModel", () => {
  it.live("lets at most maxRunning requests go at once; the others wait and then run", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const { model, stats } = gatedModel(gate)
      const limited = ConcurrencyLimitedModel.make(yield* model, 2)
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: 5 }), () => limited.request(prompt, {}, params), {
          concurrency: "unbounded"
        })
      )
      yield* Effect.sleep("20 millis")
      assert.strictEqual(stats.started, 2)
      yield* Deferred.succeed(gate, undefined)
      const responses = yield* Fiber.join(fiber)
      assert.strictEqual(responses.length, 5)
      assert.strictEqual(stats.started, 5)
      assert.strictEqual(stats.max, 2)
    })
  )

  it.live("a full queue fails the next request at once with ConcurrencyLimitExceeded", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const { model } = gatedModel(gate)
      const limited = ConcurrencyLimitedModel.make(yield* model, { maxRunning: 1, maxQueued: 1 })
      const running = yield* Effect.fork(limited.request(prompt, {}, params))
      yield* Effect.sleep("10 millis")
      const queued = yield* Effect.fork(limited.request(prompt, {}, params))
      yield* Effect.sleep("10 millis")
      const third = yield* Effect.exit(limited.request(prompt, {}, params))
      assert(Exit.isFailure(third))
      const error = third.cause._tag === "Fail" ? third.cause.error : undefined
      assert.strictEqual(error?._tag, "ConcurrencyLimitExceeded")
      assert.include(error?.message, "1 requests running and 1 waiting")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(running)
      yield* Fiber.join(queued)
    })
  )

  it.live("a streamed request holds its slot until its scope closes", () =>
    Effect.gen(function* () {
      const limiter = ConcurrencyLimitedModel.limiter({ maxRunning: 1 })
      const test = yield* TestModel.make({ customOutputText: "ok" })
      const limited = ConcurrencyLimitedModel.make(test.model, limiter)
      const events = yield* Effect.scoped(
        Effect.gen(function* () {
          const streamed = yield* limited.requestStream(prompt, {}, params)
          assert.strictEqual(yield* limiter.running, 1)
          // A second request waits while this stream is open.
          const second = yield* Effect.fork(limited.request(prompt, {}, params))
          yield* Effect.sleep("10 millis")
          assert.strictEqual(yield* limiter.waiting, 1)
          const collected = yield* Stream.runCollect(streamed.events)
          return { collected, second }
        })
      )
      // The scope closed: the waiting request got the slot and finished.
      const response = yield* Fiber.join(events.second)
      assert.strictEqual(response.text, "ok")
      assert.isAbove(events.collected.length, 0)
      assert.strictEqual(yield* limiter.running, 0)
    })
  )

  it.live("one limiter shared by two models, and by every run of an agent", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const a = gatedModel(gate)
      const b = gatedModel(gate)
      const limiter = ConcurrencyLimitedModel.limiter({ maxRunning: 3 })
      const modelA = ConcurrencyLimitedModel.make(yield* a.model, limiter)
      const modelB = ConcurrencyLimitedModel.make(yield* b.model, limiter)
      const agent = Agent.make({ name: "limited" })
      const fiber = yield* Effect.fork(
        Effect.all(
          [
            ...Array.from({ length: 4 }, () => agent.run("hi", { model: modelA })),
            ...Array.from({ length: 4 }, () => agent.run("hi", { model: modelB }))
          ],
          { concurrency: "unbounded" }
        )
      )
      yield* Effect.sleep("20 millis")
      assert.strictEqual(a.stats.started + b.stats.started, 3)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(fiber)
      assert.strictEqual(results.length, 8)
      assert.strictEqual(a.stats.started + b.stats.started, 8)
      assert.strictEqual(results[0]!.output, "answer 1")
    })
  )

  it("a limit that is not a positive integer is refused when the limiter is built", () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => ConcurrencyLimitedModel.limiter({ maxRunning: bad }), RangeError)
      assert.throws(() => Agent.make({ maxConcurrentRuns: bad }), RangeError)
    }
  })

  it.effect("layer limits the Model of the context", () =>
    Effect.gen(function* () {
      const model = yield* Model.Model
      const response = yield* model.request(prompt, {}, params)
      assert.strictEqual(response.text, "limited")
      assert.strictEqual(model.modelName, "test")
    }).pipe(
      Effect.provide(
        ConcurrencyLimitedModel.layer(1).pipe(
          Layer.provide(TestModel.layer({ customOutputText: "limited" }))
        )
      )
    )
  )
})
