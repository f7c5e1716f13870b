/**
 * Background responses of the Responses API (`background: true`):
 *
 * - non-streamed: poll `GET /responses/{id}?stream=false` until the job ends (or return it at
 *   once, still pending, with `openaiBackgroundMaxPolls: 0`);
 * - streamed: the events as usual; a stream that drops before its terminal event reconnects with
 *   `GET /responses/{id}?starting_after=N&stream=true` (N: the sequence number of the last event
 *   decoded), the same decoder and parts manager going on with the new body;
 * - continued: a history whose last message is the response of a job that did not end (its
 *   `state` not `complete`, `providerDetails.background`) continues that job instead of
 *   starting a new one — streamed from its cursor (`providerDetails.last_sequence_number`) when
 *   it has one, else retrieved (and polled) whole;
 * - cancelled (`POST /responses/{id}/cancel`) when the caller is interrupted before the end;
 * - a failed or cancelled job is a typed `ModelAPIError` naming it, and so is a job gone from
 *   the server (a 404 on a retrieve: expired).
 *
 * @internal
 */
import {
  AgentError,
  Messages,
  type Model,
  type ModelSettings,
  type PartsManager
} from "@agentfx/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Service } from "../OpenAiClient.js"
import { cursorKey, PROVIDER_NAME, type WireResponse } from "./openaiResponses.js"
import { postJson } from "./request.js"
import { postSse, type Resumable, type StreamBody } from "./streamBody.js"

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

/** The settings' poll budget (default 600). */
export const maxPollsOf = (settings: ModelSettings.ModelSettings): number =>
  (settings as { openaiBackgroundMaxPolls?: number }).openaiBackgroundMaxPolls ?? 600

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

const jobPath = (id: string) => `/responses/${encodeURIComponent(id)}`

/**
 * A 404 on a retrieve: the job is gone (past OpenAI's retention) — a `ModelAPIError` saying so
 * (pydantic-ai's `SuspendedResponseExpired`); other errors pass through.
 */
const expired =
  (modelName: string, id: string) =>
  (e: RequestError): RequestError =>
    e._tag === "ModelHTTPError" && e.status === 404
      ? new AgentError.ModelAPIError({
          modelName,
          reason: `Background response ${id} could not be resumed: it is no longer on the server (it may have expired)`
        })
      : e

/** `GET /responses/{id}?stream=false`: the job as it is now. */
const retrieve = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  id: string
): Effect.Effect<WireResponse, RequestError> =>
  (
    postJson(
      client.httpClient,
      options(client, modelName, settings, `${jobPath(id)}?stream=false`, "GET")
    ) as Effect.Effect<WireResponse, RequestError>
  ).pipe(Effect.mapError(expired(modelName, id)))

/** `POST /responses/{id}/cancel`, at most 10 s, errors ignored (the job may have ended). */
const cancel = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  id: string
): Effect.Effect<void> =>
  postJson(
    client.httpClient,
    options(client, modelName, settings, `${jobPath(id)}/cancel`, "POST")
  ).pipe(Effect.timeout(Duration.seconds(10)), Effect.ignore)

/**
 * Waits for a background response: polls it until it ends (a `ModelAPIError` when it failed,
 * was cancelled or is still pending after `maxPolls` polls); an interruption cancels the job.
 * With `maxPolls` 0 a pending job is returned as it is.
 */
export const awaitBackground = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  first: WireResponse,
  maxPolls: number
): Effect.Effect<WireResponse, RequestError> => {
  const id = first.id
  if (!isPending(first) || id === undefined || maxPolls <= 0) return settled(modelName, first)
  const schedule = Schedule.passthrough(
    pollSchedule(maxPolls).pipe(Schedule.whileInput((r: WireResponse) => isPending(r)))
  )
  return Effect.repeat(retrieve(client, modelName, settings, id), schedule).pipe(
    Effect.onInterrupt(() => cancel(client, modelName, settings, id)),
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

/** A decoded response of a job still queued or running: `incomplete` (it is continued later). */
export const markPending = (
  wire: WireResponse,
  response: Messages.ModelResponse
): Messages.ModelResponse =>
  isPending(wire)
    ? new Messages.ModelResponse({ ...response, state: "incomplete" }, true)
    : response

// ---------------------------------------------------------------------------
// Continuing a job from the history
// ---------------------------------------------------------------------------

/** The job a history continues: its id, the response so far, and its stream cursor if any. */
export interface Continuation {
  readonly id: string
  readonly response: Messages.ModelResponse
  readonly cursor: number | undefined
}

/**
 * The background job the history continues: its last message is an OpenAI response that did
 * not end (`state` not `complete`) and is a background job's (`providerDetails.background`)
 * with an id; `undefined` otherwise.
 */
export const continuationOf = (
  messages: ReadonlyArray<Messages.ModelMessage>
): Continuation | undefined => {
  const last = messages.at(-1)
  if (
    last === undefined ||
    last._tag !== "ModelResponse" ||
    last.state === "complete" ||
    last.providerName !== PROVIDER_NAME ||
    last.providerDetails?.background !== true ||
    last.providerResponseId === undefined
  )
    return undefined
  const cursor = last.providerDetails?.[cursorKey]
  return {
    id: last.providerResponseId,
    response: last,
    cursor: typeof cursor === "number" && Number.isInteger(cursor) ? cursor : undefined
  }
}

/**
 * `request` on a continued job: retrieved, then polled to its end (`openaiBackgroundMaxPolls`;
 * with 0, returned as it is), decoded with `decode`.
 */
export const continueRequest = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  job: Continuation,
  decode: (wire: WireResponse) => Effect.Effect<Messages.ModelResponse, AgentError.ModelError>
): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =>
  retrieve(client, modelName, settings, job.id).pipe(
    Effect.flatMap((first) =>
      awaitBackground(client, modelName, settings, first, maxPollsOf(settings))
    ),
    Effect.flatMap((wire) => Effect.map(decode(wire), (r) => markPending(wire, r)))
  )

/**
 * The resumption of a background stream: each cut reconnects from the cursor of the response
 * so far, at most `openaiBackgroundMaxResumes` (default 3) times; an interruption before the
 * end cancels the job (a finalizer on the request's scope).
 */
const resumable = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  first: StreamBody,
  scope: Scope.Scope
): Effect.Effect<StreamBody> => {
  const max = (settings as { openaiBackgroundMaxResumes?: number }).openaiBackgroundMaxResumes ?? 3
  let resumes = 0
  let ended = false
  let manager: PartsManager.PartsManager | undefined
  const self: Resumable = {
    resume: (m) => {
      const id = m.info.providerResponseId
      const cursor = m.info.providerDetails?.[cursorKey]
      if (id === undefined || typeof cursor !== "number" || resumes >= max) return undefined
      resumes++
      return openCursor(client, modelName, settings, id, cursor).pipe(
        Scope.extend(scope),
        Effect.map((body): StreamBody => ({ ...body, resumable: self }))
      )
    },
    ended: () => {
      ended = true
    },
    attach: (m) => {
      manager = m
    }
  }
  return Scope.addFinalizerExit(scope, (exit) => {
    const id = manager?.info.providerResponseId
    return Exit.isInterrupted(exit) && !ended && id !== undefined
      ? cancel(client, modelName, settings, id)
      : Effect.void
  }).pipe(Effect.as({ ...first, resumable: self }))
}

/** `GET /responses/{id}?starting_after=N&stream=true`: the job's events after the cursor. */
const openCursor = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  id: string,
  cursor: number
): Effect.Effect<StreamBody, RequestError, Scope.Scope> =>
  postSse(
    client.httpClient,
    options(
      client,
      modelName,
      settings,
      `${jobPath(id)}?starting_after=${cursor}&stream=true`,
      "GET"
    )
  ).pipe(Effect.mapError(expired(modelName, id)))

/**
 * Opens a streamed background request (`POST /responses` with `background` and `stream`): the
 * body resumes from its cursor when it drops; the job is cancelled if the caller is interrupted
 * before the end.
 */
export const openStream = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  body: unknown
): Effect.Effect<StreamBody, RequestError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.flatMap(client.postSse({ modelName, path: "/responses", body, settings }), (first) =>
      resumable(client, modelName, settings, first, scope)
    )
  )

/**
 * Opens the stream continuing a job from its cursor (resumable like `openStream`); the response
 * so far seeds the parts manager (see `seedParts`).
 */
export const openContinuation = (
  client: Service,
  modelName: string,
  settings: ModelSettings.ModelSettings,
  job: Continuation & { readonly cursor: number }
): Effect.Effect<StreamBody, RequestError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) =>
    Effect.flatMap(openCursor(client, modelName, settings, job.id, job.cursor), (first) =>
      resumable(client, modelName, settings, first, scope)
    )
  )

/**
 * Fills a parts manager with a response received in part, under the keys the Responses stream
 * decoder uses (text `<item>:<n>`, reasoning `<item>:<n>` / `<item>:raw:<n>`, function calls
 * `<item>`), so the continued stream's deltas extend these parts; returns their start events.
 */
export const seedParts = (
  manager: PartsManager.PartsManager,
  response: Messages.ModelResponse
): Array<Messages.ModelResponseStreamEvent> => {
  const out: Array<Messages.ModelResponseStreamEvent> = []
  const add = (e: Messages.ModelResponseStreamEvent | undefined) => {
    if (e !== undefined) out.push(e)
  }
  const seen = new Map<string, number>()
  const next = (key: string) => {
    const n = seen.get(key) ?? 0
    seen.set(key, n + 1)
    return n
  }
  response.parts.forEach((p, i) => {
    switch (p._tag) {
      case "TextPart":
        add(
          manager.textDelta(p.id === undefined ? undefined : `${p.id}:${next(p.id)}`, p.content, {
            ...(p.id !== undefined ? { id: p.id } : {}),
            ...(p.providerDetails !== undefined ? { providerDetails: p.providerDetails } : {})
          })
        )
        return
      case "ThinkingPart": {
        const raw = p.providerDetails?.reasoning_text === true
        const key = p.id === undefined ? undefined : raw ? `${p.id}:raw` : p.id
        add(
          manager.thinkingDelta(key === undefined ? undefined : `${key}:${next(key)}`, {
            content: p.content,
            signature: p.signature,
            id: p.id,
            providerName: p.providerName,
            providerDetails: p.providerDetails
          })
        )
        return
      }
      case "ToolCallPart":
        add(
          manager.toolCallDelta(p.id ?? `seed:${i}`, {
            toolName: p.toolName,
            toolCallId: p.toolCallId,
            id: p.id,
            providerName: p.providerName,
            providerDetails: p.providerDetails,
            args: typeof p.args === "string" ? p.args : p.argsAsJson()
          })
        )
        return
      default:
        // Parts that arrive whole (built-in tools, compaction): already ended.
        add(manager.part(`seed:${i}`, p))
        add(manager.endPart(`seed:${i}`))
    }
  })
  const info = manager.info
  info.modelName = response.modelName
  info.providerResponseId = response.providerResponseId
  info.providerDetails = response.providerDetails
  info.timestamp = response.timestamp
  return out
}

/** A whole response as a streamed one: its parts started and ended, then the response. */
export const wholeStream = (
  modelName: string,
  response: Messages.ModelResponse
): Model.StreamedResponse => {
  const events: Array<Messages.ModelResponseStreamEvent> = []
  response.parts.forEach((part, index) =>
    events.push(new Messages.PartStartEvent({ index, part }, true))
  )
  response.parts.forEach((part, index) =>
    events.push(new Messages.PartEndEvent({ index, part }, true))
  )
  events.push(new Messages.ResponseCompleteEvent({ response }, true))
  let used = false
  return {
    modelName,
    events: Stream.fromIterable(events),
    response: Effect.succeed(response),
    push: (onEvents) =>
      Effect.suspend(() => {
        if (used) return Effect.dieMessage("StreamedResponse.push: the events were read already")
        used = true
        onEvents(events)
        return Effect.succeed(response)
      })
  }
}
