/**
 * The retry policy of every provider request: exponential backoff with jitter, capped,
 * honouring `Retry-After`, and the rule of which failures are worth another attempt.
 *
 * @internal
 */
import { AgentError } from "@agentfx/core"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/** Exponential backoff with jitter, capped, honouring `Retry-After`. */
export interface RetryPolicy {
  /** Maximum number of retries (default 2); 0 disables retrying. */
  readonly times: number
  /** First delay (default 500 millis); doubles on each retry. */
  readonly base: Duration.DurationInput
  /** Longest delay between attempts (default 30 seconds), also caps `Retry-After`. */
  readonly cap: Duration.DurationInput
}

/** Two retries, 500 ms base, 30 s cap. */
export const defaultRetryPolicy: RetryPolicy = {
  times: 2,
  base: "500 millis",
  cap: "30 seconds"
}

/** No retries at all. */
export const noRetry: RetryPolicy = { times: 0, base: 0, cap: 0 }

/** A provider option `retry?: RetryPolicy | false` resolved to a policy. */
export const resolveRetry = (retry: Partial<RetryPolicy> | false | undefined): RetryPolicy =>
  retry === false ? noRetry : { ...defaultRetryPolicy, ...retry }

/** The failures of one request: a status error or a transport / timeout error. */
export type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** Connection-level failures worth retrying (refused, reset before a response). */
const retryableApiErrors = new WeakSet<AgentError.ModelAPIError>()

/** Marks a transport error as worth another attempt (a connection refused or reset). */
export const markRetryable = (error: AgentError.ModelAPIError): void => {
  retryableApiErrors.add(error)
}

/** Whether a request error is worth another attempt. */
export const isRetryable = (error: RequestError): boolean =>
  error._tag === "ModelHTTPError" ? error.isRetryable : retryableApiErrors.has(error)

/**
 * The retry schedule of a policy: exponential from `base`, jittered, capped at `cap`, at most
 * `times` retries. When the failed attempt carried `Retry-After`, that delay is used
 * instead (capped at `cap`).
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, RequestError> => {
  const cap = Duration.toMillis(policy.cap)
  return Schedule.exponential(policy.base).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.identity<RequestError>()),
    Schedule.intersect(Schedule.recurs(policy.times)),
    Schedule.modifyDelay(([[, error]], delay) => {
      const after = error._tag === "ModelHTTPError" ? error.retryAfterMillis : undefined
      const millis = after !== undefined ? after : Duration.toMillis(delay)
      return Duration.millis(Math.max(0, Math.min(millis, cap)))
    })
  )
}

/** Schedules are immutable values: one per policy (a client's), not one per request. */
const schedules = new WeakMap<RetryPolicy, Schedule.Schedule<unknown, RequestError>>()

/**
 * Runs `effect` again per the policy while it fails with a retryable error; the last error of a
 * retried `ModelHTTPError` says how often and for how long it was retried.
 */
export const withRetry = <A, R>(
  effect: Effect.Effect<A, RequestError, R>,
  policy: RetryPolicy
): Effect.Effect<A, RequestError, R> => {
  if (policy.times <= 0) return effect
  let schedule = schedules.get(policy)
  if (schedule === undefined) {
    schedule = retrySchedule(policy)
    schedules.set(policy, schedule)
  }
  // Performance: the retry machinery starts only after a retryable failure (most calls succeed
  // at once). The failed first attempt is replayed into `Effect.retry` as its first failure, so
  // the schedule sees exactly the errors and attempts it would have seen.
  return Effect.catchIf(effect, isRetryable, (first) =>
    Effect.flatMap(Clock.currentTimeMillis, (firstFailedAt) => {
      let attempts = 0
      const attempt = Effect.suspend(() => {
        attempts++
        return attempts === 1 ? Effect.fail(first) : effect
      })
      // The last error says how often and how long it was retried ("retried 2 times over 3.1 s").
      return Effect.catchAll(Effect.retry(attempt, { schedule, while: isRetryable }), (error) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.fail(
            error._tag === "ModelHTTPError" && attempts > 1
              ? new AgentError.ModelHTTPError(
                  { ...error, retries: attempts - 1, retriedMillis: now - firstFailedAt },
                  true
                )
              : error
          )
        )
      )
    })
  )
}
