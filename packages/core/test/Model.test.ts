import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { AgentError, Model, TestModel } from "@agentfx/core"

describe("Model.resolve", () => {
  it.scoped("a service is used as is", () =>
    Effect.gen(function* () {
      const service = (yield* TestModel.make()).model
      assert.strictEqual(yield* Model.resolve(service), service)
    })
  )

  it.scoped("a string goes through the ModelRegistry; without one, a UserError naming it", () =>
    Effect.gen(function* () {
      const service = (yield* TestModel.make()).model
      const asked: Array<string> = []
      const registry = Layer.succeed(
        Model.ModelRegistry,
        Model.ModelRegistry.of({
          resolve: (name) => {
            asked.push(name)
            return Effect.succeed(service)
          }
        })
      )
      const resolved = yield* Model.resolve("test:any").pipe(Effect.provide(registry))
      assert.strictEqual(resolved, service)
      assert.deepStrictEqual(asked, ["test:any"])
      const exit = yield* Effect.exit(
        Model.resolve("openai:gpt-4o") as Effect.Effect<Model.Service, AgentError.UserError>
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = Option.getOrUndefined(Cause.failureOption(exit.cause))
        assert.instanceOf(error, AgentError.UserError)
        assert.strictEqual(error!.reason, Model.noRegistryReason("openai:gpt-4o"))
      }
    })
  )

  it.effect("a Layer is built in the given scope and released when it closes", () =>
    Effect.gen(function* () {
      const events: Array<string> = []
      const layer = Layer.scoped(
        Model.Model,
        Effect.acquireRelease(
          Effect.map(TestModel.make(), ({ model: m }) => {
            events.push("built")
            return m
          }),
          () =>
            Effect.sync(() => {
              events.push("released")
            })
        )
      )
      const scope = yield* Scope.make()
      const service = yield* Model.resolve(layer, { scope })
      assert.strictEqual(service.system, "test")
      assert.deepStrictEqual(events, ["built"])
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(events, ["built", "released"])
      // without a scope option: the current Scope
      yield* Effect.scoped(Model.resolve(layer))
      assert.deepStrictEqual(events, ["built", "released", "built", "released"])
    })
  )
})
