/**
 * A `toolChoice` forcing a tool call on every request of a run (`"required"`, a list of names)
 * would keep the run from ending: every entry point rejects it with a `UserError` before any
 * request; `auto` / `none`, or a run's `auto` over the agent's `required`, run as usual.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Agent, TestModel } from "@agentfx/core"

const expectForced = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(effect)
    assert.strictEqual(error._tag, "UserError")
    assert.match(
      (error as unknown as { reason: string }).reason,
      /would force a tool call on every request/
    )
  })

describe("toolChoice in a run's settings", () => {
  it.effect(
    "required or a list of names is a UserError from every entry point, before any request",
    () =>
      Effect.gen(function* () {
        const forced = Agent.make({ modelSettings: { toolChoice: "required" } })
        yield* expectForced(forced.run("go"))
        yield* expectForced(Stream.runDrain(forced.runStream("go")))
        yield* expectForced(Stream.runDrain(forced.streamOutput("go")))
        yield* expectForced(Effect.scoped(forced.iter("go")))
        const plain = Agent.make({})
        yield* expectForced(plain.run("go", { modelSettings: { toolChoice: ["search"] } }))
        const test = yield* TestModel.TestModel
        assert.strictEqual((yield* test.requests).length, 0)
      }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("auto and none run; a run's auto replaces the agent's required", () =>
    Effect.gen(function* () {
      const forced = Agent.make({ modelSettings: { toolChoice: "required" } })
      const over = yield* forced.run("go", { modelSettings: { toolChoice: "auto" } })
      assert.isString(over.output)
      const none = yield* Agent.make({ modelSettings: { toolChoice: "none" } }).run("go")
      assert.isString(none.output)
    }).pipe(Effect.provide(TestModel.layer()))
  )
})
