/**
 * A FIFO concurrency limit with an optional bound on the queue, shared by whatever holds it:
 * agents (`Agent.make({ maxConcurrentRuns })`, `Agent.concurrencyLimiter`) and models
 * (`ConcurrencyLimitedModel`). A slot is held until the `Scope` of `acquire` closes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { ConcurrencyLimitExceeded } from "./AgentError.js"

/** Limits how many operations go at once. */
export interface ConcurrencyLimiter {
  /** Operations allowed at once. */
  readonly maxRunning: number
  /** Operations allowed to wait for a slot; beyond it one fails with `ConcurrencyLimitExceeded`. */
  readonly maxQueued: number | undefined
  /** Waits for a slot, held until the scope closes. Interrupting the wait leaves the queue. */
  readonly acquire: Effect.Effect<void, ConcurrencyLimitExceeded, Scope.Scope>
  /** Operations holding a slot now. */
  readonly running: Effect.Effect<number>
  /** Operations waiting for a slot now. */
  readonly waiting: Effect.Effect<number>
}

/**
 * At most `maxRunning` operations at once; others wait in FIFO order, at most `maxQueued` of
 * them (default: unbounded) — one more fails at once with `ConcurrencyLimitExceeded`. A free slot
 * is taken without a span; waiting shows as a `{name}.concurrency.wait` span. `what` names the
 * operations in the error message ("runs", "requests").
 */
export const make = (options: {
  readonly maxRunning: number
  readonly maxQueued?: number | undefined
  readonly name: string
  readonly what: string
}): ConcurrencyLimiter => {
  const { maxRunning, maxQueued, name, what } = options
  if (!Number.isInteger(maxRunning) || maxRunning < 1) {
    throw new RangeError(`maxRunning must be a positive integer, got ${maxRunning}`)
  }
  const semaphore = Effect.unsafeMakeSemaphore(maxRunning)
  let running = 0
  let waiting = 0
  const release = Effect.suspend(() => {
    running -= 1
    return semaphore.release(1)
  })
  const take = Effect.uninterruptibleMask((restore) =>
    Effect.zipRight(
      restore(semaphore.take(1)),
      Effect.zipRight(
        Effect.sync(() => {
          running += 1
        }),
        Effect.addFinalizer(() => release)
      )
    )
  )
  const spanName = `${name}.concurrency.wait`
  const wait = Effect.suspend(() => {
    waiting += 1
    return take.pipe(
      Effect.ensuring(
        Effect.sync(() => {
          waiting -= 1
        })
      ),
      Effect.withSpan(spanName, {
        captureStackTrace: false,
        attributes: {
          "agentfx.concurrency.max_running": maxRunning,
          "agentfx.concurrency.waiting": waiting
        }
      })
    )
  })
  return {
    maxRunning,
    maxQueued,
    acquire: Effect.suspend(() => {
      if (running + waiting < maxRunning) return take
      if (maxQueued !== undefined && waiting >= maxQueued) {
        return Effect.fail(
          new ConcurrencyLimitExceeded({
            maxRunning,
            maxQueued,
            reason: `Concurrency limit exceeded: ${maxRunning} ${what} running and ${waiting} waiting (maxQueued ${maxQueued})`
          })
        )
      }
      return wait
    }),
    running: Effect.sync(() => running),
    waiting: Effect.sync(() => waiting)
  }
}
