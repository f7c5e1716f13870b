// The deadline of a JSON request under the live clock (internal/deadline.ts): its scope is a
// small `Scope` of its own (no `Scope.make` state per request in flight), so what a `Scope` user
// relies on is checked here directly: finalizers in reverse order when it closes, a forked child
// closed with it, a finalizer added after the close run at once, nothing run on success.
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Exit from "effect/Exit"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Scope from "effect/Scope"
import * as Deadline from "../src/internal/deadline.js"

const client = HttpClient.make(() => Effect.never)
const scoped = HttpClient.withScope(client)

class Late {
  readonly _tag = "Late"
}

/** Fails as a transport does when its request is aborted: once `aborted()` holds. */
const abortedWhen = (aborted: () => boolean) =>
  Effect.async<never, Error>((resume) => {
    const poll = setInterval(() => {
      if (aborted()) {
        clearInterval(poll)
        resume(Effect.fail(new Error("aborted")))
      }
    }, 5)
    return Effect.sync(() => clearInterval(poll))
  })

/** Runs `body` with the deadline's scope in context, as an HTTP attempt runs. */
const withDeadline = <A, E>(millis: number, body: Effect.Effect<A, E, Scope.Scope>) =>
  Deadline.timeoutFailAborting(
    client,
    scoped,
    () => body as Effect.Effect<A, E>,
    Duration.millis(millis),
    () => new Late()
  )

describe("Deadline.timeoutFailAborting (live clock)", () => {
  it.live("at the deadline the finalizers run in reverse order and the error is onTimeout's", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const error = yield* Effect.flip(
        withDeadline(
          30,
          Effect.gen(function* () {
            const scope = yield* Effect.scope
            yield* Scope.addFinalizer(
              scope,
              Effect.sync(() => ran.push("first"))
            )
            yield* Scope.addFinalizer(
              scope,
              Effect.sync(() => ran.push("second"))
            )
            // a transport fails once its request is aborted; here: once both ran
            yield* abortedWhen(() => ran.length === 2)
          })
        )
      )
      assert.instanceOf(error, Late)
      assert.deepStrictEqual(ran, ["second", "first"])
    })
  )

  it.live("a scope forked from it is closed with it, with the deadline's exit", () =>
    Effect.gen(function* () {
      const exits: Array<Exit.Exit<unknown, unknown>> = []
      const error = yield* Effect.flip(
        withDeadline(
          30,
          Effect.gen(function* () {
            const child = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
            yield* Scope.addFinalizerExit(child, (exit) => Effect.sync(() => exits.push(exit)))
            yield* abortedWhen(() => exits.length === 1)
          })
        )
      )
      assert.instanceOf(error, Late)
      assert.strictEqual(exits.length, 1)
      assert.isTrue(Exit.isSuccess(exits[0]!))
    })
  )

  it.live("a failure before the deadline closes the scope and keeps its own error", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const error = yield* Effect.flip(
        withDeadline(
          10_000,
          Effect.gen(function* () {
            const scope = yield* Effect.scope
            yield* Scope.addFinalizer(
              scope,
              Effect.sync(() => ran.push("abort"))
            )
            return yield* Effect.fail("HTTP 500" as const)
          })
        )
      )
      assert.strictEqual(error, "HTTP 500")
      assert.deepStrictEqual(ran, ["abort"])
    })
  )

  it.live("a success leaves the finalizers unrun (an answered request is not aborted)", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      let captured: Scope.Scope | undefined
      const value = yield* withDeadline(
        10_000,
        Effect.gen(function* () {
          captured = yield* Effect.scope
          yield* Scope.addFinalizer(
            captured,
            Effect.sync(() => ran.push("abort"))
          )
          return 42
        })
      )
      assert.strictEqual(value, 42)
      yield* Effect.sleep("20 millis")
      assert.deepStrictEqual(ran, [])
      // the caller's context is back: the deadline's scope is not the caller's
      const after = yield* Effect.serviceOption(Scope.Scope)
      assert.isTrue(after._tag === "None" || after.value !== captured)
    })
  )

  it.live("a finalizer added after the deadline passed runs at once", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const error = yield* Effect.flip(
        withDeadline(
          10,
          Effect.gen(function* () {
            const scope = yield* Effect.scope
            yield* Effect.sleep("60 millis")
            yield* Scope.addFinalizer(
              scope,
              Effect.sync(() => ran.push("late"))
            )
            return yield* Effect.fail(new Error("aborted"))
          })
        )
      )
      assert.instanceOf(error, Late)
      assert.deepStrictEqual(ran, ["late"])
    })
  )
})
