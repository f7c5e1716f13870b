/**
 * A cheap reader of a streamed response body for the SSE hot path, when the body is a Node
 * `Readable` (the response of `@effect/platform-node`'s undici client, `NodeHttpClient.layerUndici`).
 *
 * Why: `response.stream` of that client (`NodeStream.fromReadable`) wakes the consumer through a
 * latch per network read (a `'readable'` event on the next tick, the latch's scheduled open, then
 * the fiber's scheduled resume) and runs each read through a channel stage of its own. On a
 * stream whose reads arrive one by one (tokens from a model) that machinery runs once per token
 * (`bench/paced.mjs --ops`: `model.requestStream` costs 23 Effect instructions and 3.9 ticks
 * per chunk over `response.stream`, 14 and 2.9 over this reader). This reader takes the body's `'data'` events as they come (no
 * extra tick), buffers them in an array, and hands a waiting pull everything buffered so far
 * through one `Effect.async` resume. Back-pressure: when nobody pulls and the buffer passes
 * `highWaterMark` bytes, the body is paused (undici then stops reading the socket) until the
 * next pull.
 *
 * Any other response (fetch client, Node `http` client, test clients) is not recognised and
 * the caller falls back to `response.stream`.
 *
 * @internal
 */
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"

/** The part of a Node `Readable` this reader uses (duck-typed: no `node:` import here). */
interface NodeReadable {
  readonly readable: boolean
  readonly destroyed: boolean
  readonly errored: unknown
  on(event: string, listener: (...args: Array<any>) => void): unknown
  off(event: string, listener: (...args: Array<any>) => void): unknown
  pause(): unknown
  resume(): unknown
  destroy(error?: Error): unknown
}

/** Reads of one response body. */
export interface BodyReader {
  /**
   * The pull of this body, its failures mapped by `onError` (mapped where they are made: no
   * extra instruction per read). Each run waits until bytes are there and takes every read
   * buffered so far (at least one), or `undefined` once the body has ended. It fails with
   * `onError` of the platform's `ResponseError` (reason `Decode`, as `response.stream` would)
   * when the body breaks, or of the error of a passed `Limits` limit. One pull at a time.
   */
  readonly pull: <E>(
    onError: (error: HttpClientError.ResponseError | unknown) => E
  ) => Effect.Effect<Array<Uint8Array> | undefined, E>
  /** Stops reading: detaches from the body and destroys it if still open. Idempotent. */
  readonly close: Effect.Effect<void>
  /** Whether the body was read to its end (its request then needs no abort). */
  readonly ended: boolean
}

/**
 * Time limits on the reads of a body, checked by ONE watchdog fiber per body (started by the
 * first pull, stopped by `close`), not per read: a timer per read would cost more than the read.
 * A limit that passes fails the waiting pull (or the next one) with the error given here, passed
 * through the pull's `onError` like any other failure, and destroys the body.
 */
export interface Limits {
  /** Longest time a pull may wait for bytes (from the start of that pull). */
  readonly idleMillis: number | undefined
  readonly onIdle: () => unknown
  /** Clock time (`Clock.currentTimeMillis`) after which pulls fail. */
  readonly deadlineMillis: number | undefined
  readonly onDeadline: () => unknown
}

type Resume = (effect: Effect.Effect<Array<Uint8Array> | undefined, any>) => void

/** Bytes buffered before the body is paused while nobody pulls (undici's own default). */
const highWaterMark = 64 * 1024

const isNodeReadable = (u: unknown): u is NodeReadable => {
  if (u === null || typeof u !== "object") return false
  const r = u as Record<string, unknown>
  return (
    typeof r.on === "function" &&
    typeof r.off === "function" &&
    typeof r.pause === "function" &&
    typeof r.resume === "function" &&
    typeof r.destroy === "function" &&
    typeof r.read === "function" &&
    typeof r.readable === "boolean"
  )
}

/**
 * The Node `Readable` behind a response of platform-node's undici client (its `source` is
 * undici's `ResponseData`: `statusCode`, `headers`, `body`), or `undefined` for any other
 * response.
 */
export const nodeBodyOf = (response: HttpClientResponse.HttpClientResponse): unknown => {
  const source = (response as unknown as { readonly source?: unknown }).source
  if (source === null || typeof source !== "object") return undefined
  const data = source as { readonly statusCode?: unknown; readonly body?: unknown }
  if (data.statusCode !== response.status) return undefined
  return isNodeReadable(data.body) ? data.body : undefined
}

/**
 * A reader over the response's body when it is a Node `Readable` (see `nodeBodyOf`), else
 * `undefined`. Nothing is attached to the body before the first pull.
 */
export const fromResponse = (
  response: HttpClientResponse.HttpClientResponse,
  limits?: Limits | undefined
): BodyReader | undefined => {
  const body = nodeBodyOf(response)
  return body === undefined ? undefined : make(response, body as NodeReadable, limits)
}

const make = (
  response: HttpClientResponse.HttpClientResponse,
  body: NodeReadable,
  limits: Limits | undefined
): BodyReader => {
  let reads: Array<Uint8Array> = []
  let size = 0
  let started = false
  let closed = false
  let ended = false
  let failed = false
  let failure: unknown
  let paused = false
  let waiting: Resume | undefined
  /** Set by the watchdog when a limit passed: every pull fails with it from then on. */
  let aborted: { readonly error: unknown } | undefined
  let clock: Clock.Clock | undefined
  /** When the latest pull started (clock millis); the idle limit counts from there. */
  let pullStarted = 0
  let watchdog: Fiber.RuntimeFiber<void> | undefined

  /** The error mapping of the pull in progress (set by each run of a pull). */
  let mapError: (error: unknown) => unknown = (e) => e
  const fail = (cause: unknown) =>
    mapError(
      new HttpClientError.ResponseError({
        request: response.request,
        response,
        reason: "Decode",
        cause
      })
    )
  const take = (): Array<Uint8Array> => {
    const out = reads
    reads = []
    size = 0
    return out
  }
  /**
   * One step of a pull: the reads buffered so far, else the failure, else the end, else wait.
   * Evaluated when the pulling fiber runs, so that a pull interrupted while waiting (its fiber
   * never runs `resumed`) leaves the buffered reads to the next pull.
   */
  const step = (): Effect.Effect<Array<Uint8Array> | undefined, unknown> => {
    if (aborted !== undefined) return Effect.fail(mapError(aborted.error))
    if (reads.length > 0) return Effect.succeed(take())
    if (failed) return Effect.fail(fail(failure))
    if (ended || closed) return Effect.succeed(undefined)
    if (paused) {
      paused = false
      body.resume()
    }
    return Effect.async<Array<Uint8Array> | undefined, unknown>(register)
  }
  const resumed = Effect.suspend(step)
  /** Wakes the waiting pull, if any (it takes what there is when it runs). */
  const wake = () => {
    const resume = waiting
    if (resume === undefined) return
    waiting = undefined
    resume(resumed)
  }
  const register = (resume: Resume) => {
    waiting = resume
  }
  const onData = (chunk: Uint8Array) => {
    reads.push(chunk)
    size += chunk.length
    if (waiting !== undefined) wake()
    else if (size >= highWaterMark && !paused) {
      paused = true
      body.pause()
    }
  }
  const onEnd = () => {
    ended = true
    wake()
  }
  const onError = (error: unknown) => {
    if (ended || failed) return
    failed = true
    failure = error
    wake()
  }
  // A body destroyed without an error (nor an end) would otherwise leave the pull waiting.
  const onClose = () => {
    if (!ended && !failed) onError(new Error("Response body closed before its end"))
  }
  const start = () => {
    started = true
    if (!body.readable) {
      // Already over before anything was read: as `NodeStream.fromReadable`, an empty body,
      // unless it broke.
      if (body.errored != null) onError(body.errored)
      else ended = true
      return
    }
    body.on("end", onEnd)
    body.on("error", onError)
    body.on("close", onClose)
    // Last: `'data'` switches the body to flowing mode.
    body.on("data", onData)
  }
  const detach = () => {
    waiting = undefined
    if (!started) return
    body.off("data", onData)
    body.off("end", onEnd)
    body.off("error", onError)
    body.off("close", onClose)
    if (!body.destroyed) body.destroy()
  }
  const abort = (error: unknown) => {
    if (aborted !== undefined || closed) return
    aborted = { error }
    wake()
    detach()
  }
  /** Sleeps until the next limit may pass, checks, and again; one sleep per idle period. */
  const watch = (limits: Limits, clock: Clock.Clock): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (aborted !== undefined || closed || ended || failed) return Effect.void
      const now = clock.unsafeCurrentTimeMillis()
      const { deadlineMillis, idleMillis } = limits
      if (deadlineMillis !== undefined && now >= deadlineMillis) {
        abort(limits.onDeadline())
        return Effect.void
      }
      let due = deadlineMillis ?? Number.POSITIVE_INFINITY
      if (idleMillis !== undefined) {
        if (waiting !== undefined && now - pullStarted >= idleMillis) {
          abort(limits.onIdle())
          return Effect.void
        }
        // Nobody waiting (the consumer is busy): look again one idle period later.
        const idleDue = waiting !== undefined ? pullStarted + idleMillis : now + idleMillis
        due = Math.min(due, Math.max(idleDue, now + 1))
      }
      return Effect.zipRight(clock.sleep(Duration.millis(due - now)), watch(limits, clock))
    })
  const startWatchdog = (limits: Limits) =>
    Effect.clockWith((c) => {
      clock = c
      pullStarted = c.unsafeCurrentTimeMillis()
      return Effect.map(Effect.forkDaemon(watch(limits, c)), (fiber) => {
        watchdog = fiber
      })
    })
  // No canceler on the wait (it would cost more per read than the wait itself): an interrupted
  // pull's callback is dropped by its fiber, and the reads it would have taken stay buffered.
  const pullWith = (f: (error: unknown) => unknown) =>
    Effect.suspend(() => {
      mapError = f
      if (clock !== undefined) pullStarted = clock.unsafeCurrentTimeMillis()
      if (!started) {
        start()
        if (limits !== undefined) return Effect.zipRight(startWatchdog(limits), resumed)
      }
      return step()
    })
  const close: BodyReader["close"] = Effect.withFiberRuntime((fiber) => {
    if (watchdog !== undefined) {
      watchdog.unsafeInterruptAsFork(fiber.id())
      watchdog = undefined
    }
    if (closed) return Effect.void
    detach()
    closed = true
    return Effect.void
  })
  return {
    pull: <E>(f: (error: unknown) => E) =>
      pullWith(f) as Effect.Effect<Array<Uint8Array> | undefined, E>,
    close,
    get ended() {
      return ended
    }
  }
}
