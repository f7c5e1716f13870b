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
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

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
