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
 * `HttpClient.withScope`, whose abort signal closes with a scope the deadline owns (non-streamed
 * JSON requests).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
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
 * The deadline of an effect whose waits all end when `Scope` closes: requests (and the reading
 * of their bodies) sent through `HttpClient.withScope`, whose abort signal is tied to that
 * scope. Under the live clock nothing is forked: a plain timer closes the attempt's scope (the
 * request is aborted, so `self` ends with its transport failure), and that failure becomes
 * `onTimeout()`. The caller's interruption and every exit clear the timer and close the scope.
 * Under any other clock (`TestClock`) it is `Effect.timeoutFail` over `Effect.scoped(self)`.
 *
 * A transport that ignores the abort signal is not stopped by it (every `@effect/platform`
 * client honours it); the callers keep `timeoutFail` for anything else.
 */
export const timeoutFailAborting = <A, E, R, E1>(
  self: Effect.Effect<A, E, R | Scope.Scope>,
  duration: Duration.Duration,
  onTimeout: () => E1
): Effect.Effect<A, E | E1, Exclude<R, Scope.Scope>> =>
  Effect.clockWith((clock) => {
    if (clock.constructor !== LiveClock)
      return Effect.timeoutFail(Effect.scoped(self), { duration, onTimeout })
    const millis = Duration.toMillis(duration)
    if (millis > MAX_TIMER_MILLIS) return Effect.scoped(self)
    return Effect.flatMap(Scope.make(), (scope) =>
      Effect.withFiberRuntime<A, E | E1, Exclude<R, Scope.Scope>>((fiber) => {
        let fired = false
        const timer = setTimeout(() => {
          fired = true
          // the scope's finalizers abort the request; they are synchronous
          Effect.runFork(Scope.close(scope, Exit.void))
        }, millis)
        // The scope is provided by setting the fiber's context for the attempt and restoring it
        // in the one continuation below (what `Scope.extend` does with an
        // `acquireUseRelease` region: several frames held by every request in flight).
        const context = fiber.getFiberRef(FiberRef.currentContext)
        const done = () => {
          clearTimeout(timer)
          return Effect.zipRight(
            FiberRef.set(FiberRef.currentContext, context),
            Scope.close(scope, Exit.void)
          )
        }
        return Effect.zipRight(
          FiberRef.set(FiberRef.currentContext, Context.add(context, Scope.Scope, scope)),
          Effect.uninterruptibleMask((restore) =>
            Effect.matchCauseEffect(restore(self as Effect.Effect<A, E>), {
              // after the deadline the abort's transport failure is the timeout
              onFailure: (cause) => {
                const failed: Effect.Effect<never, E | E1> = fired
                  ? Effect.fail(onTimeout())
                  : Effect.failCause(cause)
                return Effect.zipRight(done(), failed)
              },
              onSuccess: (a) => Effect.as(done(), a)
            })
          )
        )
      })
    )
  })
