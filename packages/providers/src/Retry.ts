/**
 * Transport retries of the provider clients (`retry` on `OpenAiClient.layer`,
 * `AnthropicClient.layer`, `GoogleClient.layer`, `BedrockClient.layer`, the OpenAI-compatible vendors): what
 * the option accepts and how it becomes the client's policy.
 *
 * - `{ times, base, cap }` (each optional): exponential backoff from `base`, jittered, capped at
 *   `cap`, at most `times` retries, honouring `Retry-After` (default 2 retries, 500 ms, 30 s).
 * - a `Schedule`: your own policy, composed with Effect's `Schedule` combinators. It is fed each
 *   retryable failure (`ModelHTTPError` 408/409/429/5xx, connection errors); non-retryable
 *   failures are never retried whatever the schedule says. `Retry.withRetryAfter` makes a
 *   schedule honour the server's `Retry-After`.
 * - `false`: no retries.
 *
 * @example
 * ```ts
 * import { OpenAiClient, Retry } from "@agentfx/providers"
 * import { Redacted, Schedule } from "effect"
 *
 * // 5 retries, 1 s apart, but never sooner than the server's Retry-After (capped at 20 s)
 * const client = OpenAiClient.layer({
 *   apiKey: Redacted.make("sk-..."),
 *   retry: Retry.withRetryAfter(
 *     Schedule.spaced("1 second").pipe(Schedule.intersect(Schedule.recurs(5))),
 *     "20 seconds"
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { AgentError } from "@agentfx/core"
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import * as Internal from "./internal/retry.js"

/** The failures a retry schedule is fed. */
export type RetryableError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** The built-in policy's knobs: exponential backoff with jitter, capped, honouring `Retry-After`. */
export type Policy = Internal.RetryPolicy

/** What a client's `retry` option accepts (see the module docs). */
export type Option =
  | Partial<Pick<Internal.RetryPolicy, "times" | "base" | "cap">>
  | Schedule.Schedule<unknown, RetryableError>
  | false
  | undefined

/** The client's policy for a `retry` option. */
export const resolve = (option: Option): Internal.RetryPolicy =>
  Schedule.isSchedule(option)
    ? // The schedule decides how often and when; `times` only lets the transport try at all.
      { times: Number.POSITIVE_INFINITY, base: 0, cap: 0, schedule: option }
    : Internal.resolveRetry(option)

/**
 * `schedule`, except that after a response carrying `Retry-After` the next attempt waits that
 * long instead (capped at `cap`, default 30 seconds).
 */
export const withRetryAfter = <Out>(
  schedule: Schedule.Schedule<Out, RetryableError>,
  cap: Duration.DurationInput = "30 seconds"
): Schedule.Schedule<[Out, RetryableError], RetryableError> => {
  const capMillis = Duration.toMillis(cap)
  return schedule.pipe(
    Schedule.intersect(Schedule.identity<RetryableError>()),
    Schedule.modifyDelay(([, error], delay) => {
      const after = error._tag === "ModelHTTPError" ? error.retryAfterMillis : undefined
      return after === undefined ? delay : Duration.millis(Math.max(0, Math.min(after, capMillis)))
    })
  )
}
