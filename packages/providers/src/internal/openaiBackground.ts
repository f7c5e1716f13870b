/**
 * Background responses of the Responses API: poll `GET /responses/{id}` until the job ends,
 * cancel it (`POST /responses/{id}/cancel`) when the caller is interrupted, and turn a failed
 * or cancelled job into a typed error.
 *
 * @internal
 */
import { AgentError, type ModelSettings } from "@agentfx/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type { Service } from "../OpenAiClient.js"
import type { WireResponse } from "./openaiResponses.js"
import { postJson } from "./request.js"

type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** Statuses after which a background response no longer changes. */
const TERMINAL = new Set(["completed", "incomplete", "failed", "cancelled"])

/** Whether a response is still queued or running. */
export const isPending = (r: WireResponse): boolean =>
  r.status !== undefined && r.status !== null && !TERMINAL.has(r.status)

/** The polling schedule: 100 ms, growing by half each time, at most 2 s apart, `maxPolls` times. */
export const pollSchedule = (maxPolls: number) =>
  Schedule.exponential(Duration.millis(100), 1.5).pipe(
    Schedule.union(Schedule.spaced(Duration.seconds(2))),
    Schedule.intersect(Schedule.recurs(Math.max(0, maxPolls - 1)))
  )

const options = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  path: string,
  method: "GET" | "POST"
) => ({
  modelName,
  url: client.url(path),
  headers: client.headers(),
  body: {},
  settings,
  retry: client.retry,
  method
})

/**
 * Waits for a background response: polls it until it ends (a `ModelAPIError` when it failed,
 * was cancelled or is still pending after `maxPolls` polls); an interruption cancels the job.
 */
export const awaitBackground = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  first: WireResponse,
  maxPolls: number
): Effect.Effect<WireResponse, RequestError> => {
  const id = first.id
  if (!isPending(first) || id === undefined) return settled(modelName, first)
  const path = `/responses/${encodeURIComponent(id)}`
  const get = postJson(
    client.httpClient,
    options(client, modelName, settings, `${path}?stream=false`, "GET")
  ) as Effect.Effect<WireResponse, RequestError>
  const cancel = postJson(
    client.httpClient,
    options(client, modelName, settings, `${path}/cancel`, "POST")
  ).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)
  const schedule = Schedule.passthrough(
    pollSchedule(maxPolls).pipe(Schedule.whileInput((r: WireResponse) => isPending(r)))
  )
  return Effect.repeat(get, schedule).pipe(
    Effect.onInterrupt(() => cancel),
    Effect.flatMap((r) =>
      isPending(r)
        ? Effect.fail(
            new AgentError.ModelAPIError({
              modelName,
              reason: `Background response ${id} was still ${r.status} after ${maxPolls} polls`
            })
          )
        : settled(modelName, r)
    )
  )
}

/** A finished background response, or the typed error of a failed / cancelled one. */
const settled = (modelName: string, r: WireResponse): Effect.Effect<WireResponse, RequestError> => {
  if (r.background !== true || (r.status !== "failed" && r.status !== "cancelled"))
    return Effect.succeed(r)
  const err = r.error
  return Effect.fail(
    new AgentError.ModelAPIError({
      modelName,
      reason:
        r.status === "cancelled"
          ? `Background response ${r.id} was cancelled`
          : `Background response ${r.id} failed: ${err?.code ?? "unknown"}: ${err?.message ?? ""}`
    })
  )
}
