import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { Agent, FunctionModel, type Messages, Tool } from "@agentfx/core"
import { LazyScope } from "../src/internal/lazyScope.js"

/** The part of the scope's state a test may look at (what Effect's own code reads). */
const stateOf = (scope: LazyScope) =>
  (scope as unknown as { readonly state: { readonly _tag: string } }).state._tag

describe("LazyScope", () => {
  it.effect("builds no state until something is put in it; closes empty", () =>
    Effect.gen(function* () {
      const scope = new LazyScope()
      assert.strictEqual((scope as unknown as { opened: unknown }).opened, undefined)
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((scope as unknown as { opened: unknown }).opened, undefined)
      assert.strictEqual(stateOf(scope), "Closed")
    })
  )

  it.effect(
    "runs finalizers in reverse order with the close's exit; a second close does nothing",
    () =>
      Effect.gen(function* () {
        const scope = new LazyScope()
        const seen: Array<string> = []
        for (const name of ["a", "b", "c"]) {
          yield* Scope.addFinalizerExit(scope, (exit) =>
            Effect.sync(() => seen.push(`${name}:${Exit.isFailure(exit) ? "failed" : "ok"}`))
          )
        }
        yield* Scope.close(scope, Exit.fail("boom"))
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(seen, ["c:failed", "b:failed", "a:failed"])
      })
  )

  it.effect(
    "runs every finalizer whatever the others do; the close fails with their failures",
    () =>
      Effect.gen(function* () {
        const scope = new LazyScope()
        const seen: Array<string> = []
        yield* Scope.addFinalizer(
          scope,
          Effect.sync(() => seen.push("first added"))
        )
        yield* Scope.addFinalizer(scope, Effect.die("finalizer died"))
        yield* Scope.addFinalizer(
          scope,
          Effect.sync(() => seen.push("last added"))
        )
        const exit = yield* Effect.exit(Scope.close(scope, Exit.void))
        assert.deepStrictEqual(seen, ["last added", "first added"])
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          assert.deepStrictEqual(
            [...Cause.defects(exit.cause)].map((d) => String(d)),
            ["finalizer died"]
          )
        }
      })
  )

  it.effect("a finalizer added after the close runs at once with the close's exit", () =>
    Effect.gen(function* () {
      const scope = new LazyScope()
      yield* Scope.close(scope, Exit.fail("closed failing"))
      const seen: Array<unknown> = []
      yield* Scope.addFinalizerExit(scope, (exit) => Effect.sync(() => seen.push(exit)))
      assert.strictEqual(seen.length, 1)
      assert.deepStrictEqual(seen[0], Exit.fail("closed failing"))
    })
  )

  it.effect("fork: the child closes with the parent; a child closed first is forgotten", () =>
    Effect.gen(function* () {
      const scope = new LazyScope()
      const seen: Array<string> = []
      const early = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      yield* Scope.addFinalizer(
        early,
        Effect.sync(() => seen.push("early"))
      )
      const late = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      yield* Scope.addFinalizerExit(late, (exit) =>
        Effect.sync(() => seen.push(`late:${Exit.isFailure(exit) ? "failed" : "ok"}`))
      )
      yield* Scope.close(early, Exit.void)
      assert.deepStrictEqual(seen, ["early"])
      const parentState = (scope as unknown as { opened: { finalizers: Map<object, unknown> } })
        .opened
      // the late child's finalizer is what is left in the parent
      assert.strictEqual(parentState.finalizers.size, 1)
      yield* Scope.close(scope, Exit.fail("parent failed"))
      assert.deepStrictEqual(seen, ["early", "late:failed"])
      // forked after the close: closed already
      const after = yield* Scope.fork(scope, ExecutionStrategy.sequential)
      yield* Scope.addFinalizer(
        after,
        Effect.sync(() => seen.push("after"))
      )
      assert.deepStrictEqual(seen, ["early", "late:failed", "after"])
    })
  )

  it.effect(
    "Effect.forkIn: the fiber is interrupted when the scope closes; an ended one is forgotten",
    () =>
      Effect.gen(function* () {
        const scope = new LazyScope()
        const ended = yield* Effect.forkIn(Effect.void, scope)
        yield* Fiber.await(ended)
        const running = yield* Effect.forkIn(Effect.never, scope)
        const parentState = (scope as unknown as { opened: { finalizers: Map<object, unknown> } })
          .opened
        assert.strictEqual(parentState.finalizers.size, 1)
        yield* Scope.close(scope, Exit.void)
        const exit = yield* Fiber.await(running)
        assert.isTrue(Exit.isInterrupted(exit))
        // forked into a closed scope: interrupted at once
        const late = yield* Effect.forkIn(Effect.never, scope)
        assert.isTrue(Exit.isInterrupted(yield* Fiber.await(late)))
      })
  )
})

describe("a run's scope (LazyScope)", () => {
  it.effect(
    "a tool's scoped resources and forkScoped fibers live until the run ends, then close",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const background = yield* Deferred.make<Fiber.RuntimeFiber<never>>()
        const open = Tool.make("open", {
          description: "Opens a resource for the rest of the run.",
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.gen(function* () {
              yield* Effect.addFinalizer(() => Effect.sync(() => seen.push("resource closed")))
              const fiber = yield* Effect.forkScoped(Effect.never)
              yield* Deferred.succeed(background, fiber)
              return "opened"
            })
        })
        const respond = (messages: ReadonlyArray<Messages.ModelMessage>) => {
          if (messages.filter((m) => m._tag === "ModelResponse").length === 0) {
            return FunctionModel.toolCall("open", {})
          }
          // the run is still going: nothing closed yet
          seen.push(`answer (closed: ${seen.includes("resource closed")})`)
          return "done"
        }
        // The run provides the tool's `Scope` (its own): the run requires none.
        const run: Effect.Effect<unknown, unknown, never> = Agent.make({
          name: "scoped",
          tools: [open]
        })
          .run("go")
          .pipe(Effect.provide(FunctionModel.layer(respond)))
        const result = (yield* run) as { readonly output: string }
        assert.strictEqual(result.output, "done")
        assert.deepStrictEqual(seen, ["answer (closed: false)", "resource closed"])
        const fiber = yield* Deferred.await(background)
        assert.isTrue(Exit.isInterrupted(yield* Fiber.await(fiber)))
      })
  )
})
