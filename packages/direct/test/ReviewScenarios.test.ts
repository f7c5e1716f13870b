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
