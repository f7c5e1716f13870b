import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { FunctionModel } from "@agentfx/core"
import { Direct } from "@agentfx/direct"

describe("Direct review scenarios", () => {
  it("an already-aborted signal: the iterable does not call the model", async () => {
    let calls = 0
    const model = FunctionModel.layer(undefined, {
      stream: () => {
        calls++
        return Stream.make("a ", "b")
      }
    })
    const controller = new AbortController()
    controller.abort()
    const stream = Direct.modelRequestStreamIterable(model, "hi", { signal: controller.signal })
    const seen: Array<string> = []
    const error = await (async () => {
      for await (const event of stream) seen.push(event._tag)
    })().then(
      () => undefined,
      (e) => e
    )
    assert.isDefined(error)
    assert.deepStrictEqual(seen, [])
    assert.strictEqual(calls, 0)
    const final = await stream.response().then(
      () => undefined,
      (e) => e
    )
    assert.isDefined(final)
  })

  it("an already-aborted signal: the promise does not call the model", async () => {
    let calls = 0
    const model = FunctionModel.layer(() => {
      calls++
      return "x"
    })
    const controller = new AbortController()
    controller.abort()
    const error = await Direct.modelRequestPromise(model, "hi", { signal: controller.signal }).then(
      () => undefined,
      (e) => e
    )
    assert.isDefined(error)
    assert.strictEqual(calls, 0)
  })

  it.effect("finalResponse of a streamed request: text, model name, usage", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make("The capital ", "is Paris."),
        modelName: "fm"
      })
      const r = yield* Direct.finalResponse(Direct.modelRequestEvents(model, "Capital?"))
      assert.strictEqual(r.text, "The capital is Paris.")
      assert.strictEqual(r.modelName, "fm")
      assert.isTrue(r.usage.totalTokens > 0)
    })
  )
})

describe("Direct review scenarios: abort while waiting", () => {
  it("an abort settles a next() that waits on a silent model, and releases the stream", async () => {
    const released: Array<string> = []
    const model = FunctionModel.layer(undefined, {
      stream: () =>
        Stream.make("a ").pipe(
          Stream.concat(Stream.never),
          Stream.ensuring(Effect.sync(() => released.push("stream")))
        )
    })
    const controller = new AbortController()
    const stream = Direct.modelRequestStreamIterable(model, "hi", { signal: controller.signal })
    const iterator = stream[Symbol.asyncIterator]()
    assert.isFalse((await iterator.next()).done)
    const pending = iterator.next().then(
      () => "resolved",
      () => "rejected"
    )
    setTimeout(() => controller.abort(), 5)
    const outcome = await Promise.race([
      pending,
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 500))
    ])
    assert.strictEqual(outcome, "rejected")
    await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepStrictEqual(released, ["stream"])
  })
})
