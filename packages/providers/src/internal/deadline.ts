/**
 * The per-attempt deadline of an HTTP request (`settings.timeout`, 10 minutes by default).
 *
 * `Effect.timeoutFail` races the effect against a sleep: it forks two fibers per call, and
 * every request in flight holds them (≈ 8 KB of heap per request, 16 MB over 2000 concurrent
 * runs — bench/ANALYSIS.md, #14 peak RSS). Under Effect's live `Clock` this module forks one
 * fiber for the request and waits for it on a plain timer (the live clock's own `setTimeout`,
 * same limits); under any other clock (`TestClock`) it is `Effect.timeoutFail` itself, so
 * tests drive the deadline with `TestClock.adjust` as before.
 *
 * `timeoutFailAborting` has no fork at all: for requests sent through
 * `HttpClient.withScope`, whose abort signal is tied to a scope the deadline owns (non-streamed
 * JSON requests); a request that succeeded is not aborted afterwards.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

/** The class of Effect's live clock (the default service): its sleeps are plain timers. */
const LiveClock = Clock.make().constructor

/** Node's and the live clock's largest timer; a longer deadline never fires (as with `Effect.sleep`). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * Runs `self` and fails with `onTimeout()` if it has not ended after `duration`; `self` is
 * then interrupted (and awaited) first. Success, failure, interruption and the fiber refs
 * `self` sets reach the caller as with `Effect.timeoutFail`.
 */
export const timeoutFail = <A, E, R, E1>(
  self: Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E1
): Effect.Effect<A, E | E1, R> =>
  Effect.clockWith((clock) => {
    if (clock.constructor !== LiveClock) return Effect.timeoutFail(self, { duration, onTimeout })
    const millis = Duration.toMillis(duration)
    if (millis > MAX_TIMER_MILLIS) return self
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.fork(restore(self)), (fiber) =>
        restore(
          Effect.async<A, E | E1, R>((resume) => {
            let settled = false
            const timer = setTimeout(() => {
              if (settled) return
              settled = true
              fiber.removeObserver(onExit)
              resume(Effect.zipRight(Fiber.interrupt(fiber), Effect.fail(onTimeout())))
            }, millis)
            const onExit = () => {
              if (settled) return
              settled = true
              clearTimeout(timer)
              // the exit and the fiber refs `self` set, as a join gives them
              resume(Fiber.join(fiber))
            }
            fiber.addObserver(onExit)
            // the caller interrupted: stop the timer and the request
            return Effect.suspend(() => {
              settled = true
              clearTimeout(timer)
              fiber.removeObserver(onExit)
              return Fiber.interrupt(fiber)
            })
          })
        )
      )
    )
  })

/**
 * The deadline of one HTTP attempt whose request is aborted by a scope the deadline owns.
 * `self` is given `scoped` (`HttpClient.withScope(client)`), and the deadline's scope is the
 * `Scope` in context while `self` runs. `self` must add no finalizer of its own to it (the JSON
 * attempt of `request.ts` adds none: it sends, reads the body and decodes). Under the
 * live clock nothing is forked: a plain timer closes the scope (the request is aborted, so
 * `self` ends with its transport failure), and that failure becomes `onTimeout()`. A failure
 * or the caller's interruption clears the timer and closes the scope (aborting the request).
 * On success the timer is cleared and the scope is dropped unclosed: its one finalizer is the
 * abort of a request that has finished, and aborting it anyway costs a `DOMException` (with its
 * stack trace) per request and undici's abort handling — ≈ 12–15 % of a loopback round trip's
 * CPU (bench/ANALYSIS.md, #14 sixth session). Under any other clock (`TestClock`) it is
 * `Effect.timeoutFail` over `Effect.scoped`.
 *
 * `self` must read the whole response body before it succeeds (a body left unread would keep
 * its connection until the server ends it). A transport that ignores the abort signal is not
 * stopped by it (every `@effect/platform` client honours it).
 */
export const timeoutFailAborting = <A, E, R, E1, L = never>(
  client: HttpClient.HttpClient,
  scoped: HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>,
  self: (client: HttpClient.HttpClient) => Effect.Effect<A, E, R>,
  duration: Duration.Duration,
  onTimeout: () => E1,
  /**
   * A fiber ref set for the attempt, as `Effect.locally` would (the transport's span settings,
   * `request.ts`): set and restored with the scope, with no region of its own.
   */
  local?: { readonly ref: FiberRef.FiberRef<L>; readonly value: L }
): Effect.Effect<A, E | E1, R> =>
  Effect.clockWith((clock) => {
    // `scoped`'s `Scope` is provided below (or by `Effect.scoped`), not by `self`'s caller
    const bound = scoped as unknown as HttpClient.HttpClient
    const locally = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) =>
      local === undefined ? effect : Effect.locally(effect, local.ref, local.value)
    if (clock.constructor !== LiveClock)
      return locally(Effect.timeoutFail(Effect.scoped(self(bound)), { duration, onTimeout }))
    const millis = Duration.toMillis(duration)
    if (millis > MAX_TIMER_MILLIS) return locally(self(client))
    return Effect.withFiberRuntime<A, E | E1, R>((fiber) => {
      const scope = new AbortScope()
      const timer = setTimeout(() => scope.abort(), millis)
      // The scope is provided by setting the fiber's context for the attempt and restoring it in
      // the one continuation below: `Effect.provideService` would hold an `acquireUseRelease`
      // region (four frames, a context copy and closures) per request in flight, and so would
      // an `Effect.locally` for `local` (#14 memory).
      const context = fiber.currentContext
      const setContext = FiberRef.set(
        FiberRef.currentContext,
        Context.add(context, Scope.Scope, scope)
      )
      const restoreOnly = FiberRef.set(FiberRef.currentContext, context)
      let enter: Effect.Effect<void> = setContext
      let restoreContext: Effect.Effect<void> = restoreOnly
      if (local !== undefined) {
        const previous = fiber.getFiberRef(local.ref)
        enter = Effect.zipRight(setContext, FiberRef.set(local.ref, local.value))
        restoreContext = Effect.zipRight(restoreOnly, FiberRef.set(local.ref, previous))
      }
      return Effect.zipRight(
        enter,
        Effect.uninterruptibleMask((restore) =>
          Effect.matchCauseEffect(restore(self(bound)), {
            // after the deadline the abort's transport failure is the timeout
            onFailure: (cause) => {
              clearTimeout(timer)
              const failed: Effect.Effect<never, E | E1> = scope.fired
                ? Effect.fail(onTimeout())
                : Effect.failCause(cause)
              return Effect.zipRight(
                Effect.zipRight(restoreContext, scope.close(Exit.void)),
                failed
              )
            },
            // the scope is dropped unclosed: see above
            onSuccess: (a) => {
              clearTimeout(timer)
              return Effect.as(restoreContext, a)
            }
          })
        )
      )
    })
  })

/**
 * The deadline's scope: what `HttpClient.withScope` needs of a `Scope` (it adds one finalizer,
 * the abort of its request), without `Scope.make`'s state object and finalizer `Map` per request
 * in flight. Finalizers run in reverse order when it closes; `fork` makes an ordinary child scope
 * closed with it. `abort()` is the deadline's timer: it closes the scope outside any fiber (the
 * platform's finalizer is `Effect.sync(() => controller.abort())`).
 */
class AbortScope implements Scope.CloseableScope {
  readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId = Scope.ScopeTypeId
  readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId = Scope.CloseableScopeTypeId
  readonly strategy: ExecutionStrategy.ExecutionStrategy = ExecutionStrategy.sequential
  /** set once the deadline has passed */
  fired = false
  private finalizers: Array<Scope.Scope.Finalizer> | undefined = undefined
  private closed: Exit.Exit<unknown, unknown> | undefined = undefined

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closed !== undefined) return finalizer(this.closed)
      if (this.finalizers === undefined) this.finalizers = [finalizer]
      else this.finalizers.push(finalizer)
      return Effect.void
    })
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closed !== undefined) return Effect.void
      this.closed = exit
      const finalizers = this.finalizers
      this.finalizers = undefined
      if (finalizers === undefined) return Effect.void
      // each finalizer runs whatever the others' exits; their failures are combined
      return Effect.flatMap(
        Effect.forEach(finalizers.reverse(), (f) => Effect.exit(f(exit))),
        (exits) => Option.getOrElse(Exit.all(exits), () => Exit.void)
      )
    })
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(Scope.make(strategy), (child) =>
      Effect.as(
        this.addFinalizer((exit) => Scope.close(child, exit)),
        child
      )
    )
  }

  pipe() {
    return pipeArguments(this, arguments)
  }

  /** The deadline: closes the scope from the timer (the request is aborted). */
  abort(): void {
    this.fired = true
    Effect.runFork(this.close(Exit.void))
  }
}
