/**
 * `forEachConcurrent`: `Effect.forEach(items, f, { concurrency })` for the run's concurrent
 * tool calls, at a third of its cost per item.
 *
 * `Effect.forEach` with a concurrency forks one fiber per item through its general machinery
 * (each start scheduled as a task, request-batching steps, a supervising fiber, and at the end
 * every child's fiber refs diffed and joined into the caller's): ≈ 20 µs of CPU per item, where
 * a fork and an observer cost ≈ 8 (`bench/ANALYSIS.md`, "Concurrent tool calls"). Here `k`
 * workers (`k` = the concurrency, at most the number of items) are forked as children of the
 * caller; each takes the next item until none are left. Semantics kept from `forEach`:
 * - results in the items' order;
 * - the first failure interrupts the other workers; once all have ended the caller fails with
 *   the failures in item order (`Cause.parallel`), interruptions of the siblings left out;
 * - interrupting the caller interrupts every worker and waits for them to end;
 * - the items run with the caller's interruptibility and context.
 * Not kept: the workers' fiber-ref changes are not merged back into the caller (a tool call
 * opens and restores its own context; nothing of the run is kept in fiber refs).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

export const forEachConcurrent = <A, B, E, R>(
  items: ReadonlyArray<A>,
  f: (item: A, index: number) => Effect.Effect<B, E, R>,
  concurrency: number | "unbounded"
): Effect.Effect<Array<B>, E, R> => {
  const n = items.length
  const k = concurrency === "unbounded" ? n : Math.min(Math.max(1, concurrency), n)
  if (k <= 1) return Effect.forEach(items, f)
  return Effect.suspend(() => {
    const results = new Array<B>(n)
    // the item each worker is on (a failing worker's failure is that item's)
    const at = new Array<number>(k)
    let next = 0
    const work = (w: number): Effect.Effect<void, E, R> => {
      if (next >= n) return Effect.void
      const i = next++
      at[w] = i
      return Effect.flatMap(f(items[i]!, i), (b) => {
        results[i] = b
        return work(w)
      })
    }
    return Effect.uninterruptibleMask((restore) => {
      const fibers: Array<Fiber.RuntimeFiber<void, E>> = []
      let forks: Effect.Effect<void, never, R> = Effect.void
      for (let w = 0; w < k; w++) {
        forks = Effect.zipRight(
          forks,
          Effect.map(Effect.fork(restore(Effect.suspend(() => work(w)))), (fiber) => {
            fibers.push(fiber)
          })
        )
      }
      return Effect.zipRight(
        forks,
        Effect.onInterrupt(
          restore(
            Effect.async<Array<B>, E>((resume) => {
              let ended = 0
              let failing = false
              const failures: Array<[number, Cause.Cause<E>]> = []
              fibers.forEach((fiber, w) =>
                fiber.addObserver((exit) => {
                  ended++
                  if (exit._tag === "Failure") {
                    failures.push([at[w]!, exit.cause])
                    if (!failing) {
                      failing = true
                      for (const other of fibers) {
                        if (other !== fiber) other.unsafeInterruptAsFork(fiber.id())
                      }
                    }
                  }
                  if (ended === k)
                    resume(failing ? Effect.failCause(combine(failures)) : Effect.succeed(results))
                })
              )
            })
          ),
          () => Fiber.interruptAll(fibers)
        )
      )
    })
  })
}

/** The workers' failures in order; a sibling's interruption only when nothing else failed. */
const combine = <E>(failures: Array<[number, Cause.Cause<E>]>): Cause.Cause<E> => {
  failures.sort((a, b) => a[0] - b[0])
  const real = failures.filter(([, cause]) => !Cause.isInterruptedOnly(cause))
  return (real.length > 0 ? real : failures).map(([, cause]) => cause).reduce(Cause.parallel)
}
