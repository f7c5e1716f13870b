/**
 * The HTTP plumbing every provider shares: JSON POSTs with typed errors and retries, SSE
 * streams parsed once per network read, and the bridge from SSE events to a
 * `Model.StreamedResponse`.
 *
 * Hot path notes: the SSE stream does one pass of plain code per network read (decode the
 * bytes, split plain events or feed `eventsource-parser`, collect events) and emits the events
 * of that read as one `Chunk`. `streamedResponse` also works a whole read at a time through a
 * channel loop. Over `NodeHttpClient.layerUndici`, the body is read by a `BodyReader` (one
 * `Effect.async` per wake-up, no latch, no extra channel stage) and `streamedResponse` turns the
 * bytes into part events in that same channel; every other client goes through
 * `response.stream`.
 *
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { AgentError, Messages, type Model, ModelSettings, PartsManager } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser"
import * as BodyReader from "./bodyReader.js"
import * as Redact from "./redact.js"

// ---------------------------------------------------------------------------
// Retry policy
// ---------------------------------------------------------------------------

/** Exponential backoff with jitter, capped, honouring `Retry-After`. */
export interface RetryPolicy {
  /** Maximum number of retries (default 2); 0 disables retrying. */
  readonly times: number
  /** First delay (default 500 millis); doubles on each retry. */
  readonly base: Duration.DurationInput
  /** Longest delay between attempts (default 30 seconds), also caps `Retry-After`. */
  readonly cap: Duration.DurationInput
  /** A user's own schedule (see `Retry.ts`); replaces the three knobs above. */
  readonly schedule?: Schedule.Schedule<unknown, RequestError> | undefined
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

type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** Connection-level failures worth retrying (refused, reset before a response). */
const retryableApiErrors = new WeakSet<AgentError.ModelAPIError>()

/** Whether a request error is worth another attempt. */
export const isRetryable = (error: RequestError): boolean =>
  error._tag === "ModelHTTPError" ? error.isRetryable : retryableApiErrors.has(error)

/**
 * The retry schedule of a policy: exponential from `base`, jittered, capped at `cap`, at most
 * `times` retries. When the failed attempt carried `Retry-After`, that delay is used
 * instead (capped at `cap`).
 */
export const retrySchedule = (policy: RetryPolicy): Schedule.Schedule<unknown, RequestError> => {
  if (policy.schedule !== undefined) return policy.schedule
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

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/** One provider HTTP call. */
export interface RequestOptions {
  readonly modelName: string
  /** Absolute URL. */
  readonly url: string
  /** Includes auth; built at call time from a `Redacted` key. */
  readonly headers: Record<string, string>
  /** JSON body; `settings.extraBody` is merged into it (top level) here. */
  readonly body: unknown
  /**
   * The body exactly as sent, already serialized (and `extraBody` already merged): for signed
   * requests (AWS SigV4), whose signature covers these bytes. `body` is then not used.
   */
  readonly bodyText?: string | undefined
  /** `timeout`, `idleTimeout` and `extraHeaders` are honoured here. */
  readonly settings: ModelSettings.ModelSettings
  readonly retry: RetryPolicy
  /**
   * Whether the `@effect/platform` client makes its own `http.client` span (one attribute per
   * header, trace propagation headers). Off by default: the provider's `Module.request` span
   * already carries `url.path` and the status, and the platform span costs about as much CPU
   * as the request itself.
   */
  readonly httpClientSpans?: boolean | undefined
}

/**
 * Per call: with platform spans on, their header attributes are redacted with the vendor key
 * headers too; with them off, the platform client makes no span (nor propagation headers).
 */
const transportRegion = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: RequestOptions
): Effect.Effect<A, E, R> =>
  options.httpClientSpans === true
    ? Effect.locally(effect, Headers.currentRedactedNames, redactedHeaderNames)
    : Effect.locally(effect, HttpClient.currentTracerDisabledWhen, constTrue)

/** Header names whose values never reach spans (the platform's defaults plus vendor key headers). */
const redactedHeaderNames: ReadonlyArray<string | RegExp> = [
  "authorization",
  "cookie",
  "set-cookie",
  "x-api-key",
  "api-key",
  "x-goog-api-key",
  "x-amz-security-token",
  "proxy-authorization"
]

const buildRequest = (options: RequestOptions): HttpClientRequest.HttpClientRequest => {
  const text = options.bodyText ?? JSON.stringify(mergeExtraBody(options))
  const headers =
    options.settings.extraHeaders === undefined
      ? options.headers
      : { ...options.headers, ...options.settings.extraHeaders }
  return HttpClientRequest.post(options.url).pipe(
    HttpClientRequest.setHeaders(headers),
    HttpClientRequest.bodyText(text, "application/json")
  )
}

/** The JSON body with `settings.extraBody` merged into it (top level). */
export const mergeExtraBody = (options: Pick<RequestOptions, "body" | "settings">): unknown => {
  const extraBody = options.settings.extraBody
  const body =
    extraBody !== undefined &&
    options.body !== null &&
    typeof options.body === "object" &&
    !Array.isArray(options.body)
      ? { ...(options.body as Record<string, unknown>), ...extraBody }
      : options.body
  return body
}

/** Parses `Retry-After` (delta seconds or an HTTP date) and OpenAI's `retry-after-ms`. */
export const parseRetryAfter = (
  headers: Headers.Headers,
  nowMillis: number
): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined) {
    const n = Number(ms)
    if (Number.isFinite(n) && n >= 0) return n
  }
  const value = headers["retry-after"]
  if (value === undefined) return undefined
  const seconds = Number(value)
  if (value.trim() !== "" && Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMillis)
}

const parseBody = (text: string): unknown => {
  if (text === "") return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The credentials of a request (collected only when an error is made). */
const secretsOf = (options: RequestOptions): Array<string> =>
  Redact.secretsOf(
    options.settings.extraHeaders === undefined
      ? options.headers
      : { ...options.headers, ...options.settings.extraHeaders },
    options.url
  )

/**
 * A request timeout setting resolved: the default when unset, `undefined` when infinite (no
 * limit).
 */
const limitOf = (
  input: Duration.DurationInput | undefined,
  fallback: Duration.Duration
): Duration.Duration | undefined => {
  const duration = input === undefined ? fallback : Duration.decode(input)
  return Duration.isFinite(duration) ? duration : undefined
}

/**
 * A transport error as a `ModelAPIError`; never carries the request (its headers hold the key),
 * and its text is redacted of the request's credentials.
 */
const transportError = (
  options: RequestOptions,
  error: HttpClientError.HttpClientError
): AgentError.ModelAPIError => {
  const cause = error.cause
  const detail =
    cause instanceof Error
      ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ""}`
      : cause === undefined
        ? ""
        : String(cause)
  const e = new AgentError.ModelAPIError({
    modelName: options.modelName,
    reason: Redact.redactText(
      `Connection error (${error.reason})${detail ? `: ${detail}` : ""}`,
      secretsOf(options)
    )
  })
  if (error._tag === "RequestError" && error.reason === "Transport") retryableApiErrors.add(e)
  return e
}

/** A non-2xx answer as a `ModelHTTPError`, its body redacted of the request's credentials. */
const statusError = (
  options: RequestOptions,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<never, RequestError> =>
  Effect.flatMap(
    Effect.orElseSucceed(response.text, () => ""),
    (text) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const retryAfterMillis = parseRetryAfter(response.headers, now)
        const body = parseBody(Redact.redactText(text, secretsOf(options)))
        return Effect.fail(
          new AgentError.ModelHTTPError({
            status: response.status,
            modelName: options.modelName,
            ...(body !== undefined ? { body } : {}),
            ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {})
          })
        )
      })
  )

const timeoutError = (modelName: string, timeout: Duration.Duration) =>
  new AgentError.ModelAPIError({
    modelName,
    reason: `Request timed out after ${Duration.format(timeout)}`
  })

/**
 * Sets an attribute on the current span, if there is one. `Effect.annotateCurrentSpan` without
 * a span fails internally with a `NoSuchElementException` it then ignores: an `Error` (with its
 * stack trace) per call, ≈ 6 µs each, on every request made with no span open (the default when
 * no tracer is installed, since agentfx then opens none).
 */
const annotateSpan = (key: string, value: unknown): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const span = fiber.currentContext.unsafeMap.get(Tracer.ParentSpan.key) as
      | Tracer.AnySpan
      | undefined
    if (span !== undefined && span._tag === "Span") span.attribute(key, value)
    return Effect.void
  })

/** The URL path only: queries may carry keys on some gateways, so they never reach spans. */
const urlPath = (url: string): string => {
  const start = url.indexOf("/", url.indexOf("//") + 2)
  if (start < 0) return "/"
  const end = url.indexOf("?", start)
  return end < 0 ? url.slice(start) : url.slice(start, end)
}

/**
 * Counts the attempts of one call and records transport-level attributes on the caller's span
 * (`url.path`, `http.response.status_code`, `http.request.resend_count`); never headers or keys.
 */
interface AttemptCounter {
  count: number
}

/**
 * One attempt: send, turn a transport failure into a `ModelAPIError` and a non-2xx status into a
 * `ModelHTTPError`, and continue with `onOk(response)` for a 2xx one.
 *
 * All of that is ONE continuation (`matchCauseEffect`) on the fiber's stack while the request is in
 * flight: each pending continuation is held by every request in flight, so `mapError` + `tap` +
 * `flatMap` + the caller's `flatMap` (four frames) would cost memory under load.
 */
const attempt = <A, E, R>(
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError, R>,
  options: RequestOptions,
  request: HttpClientRequest.HttpClientRequest,
  withTimeout: boolean,
  counter: AttemptCounter,
  onOk: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | RequestError, R> => {
  const sent = Effect.suspend(() => {
    const resends = counter.count++
    const annotate =
      resends === 0
        ? annotateSpan("url.path", urlPath(options.url))
        : annotateSpan("http.request.resend_count", resends)
    return Effect.zipRight(
      annotate,
      Effect.matchCauseEffect(client.execute(request), {
        // the failures mapped, defects and interruptions kept (what `mapError` does)
        onFailure: (cause) => Effect.failCause(Cause.map(cause, (e) => transportError(options, e))),
        onSuccess: (response): Effect.Effect<A, E | RequestError, R> =>
          Effect.zipRight(
            annotateSpan("http.response.status_code", response.status),
            response.status >= 200 && response.status < 300
              ? (onOk(response) as Effect.Effect<A, E | RequestError, R>)
              : statusError(options, response)
          )
      })
    )
  })
  const timeout = withTimeout
    ? limitOf(options.settings.timeout, ModelSettings.defaultTimeout)
    : undefined
  return timeout === undefined
    ? sent
    : Effect.timeoutFail(sent, {
        duration: timeout,
        onTimeout: () => timeoutError(options.modelName, timeout)
      })
}

/** Schedules are immutable values: one per policy (a client's), not one per request. */
const schedules = new WeakMap<RetryPolicy, Schedule.Schedule<unknown, RequestError>>()

const withRetry = <A, R>(
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

/**
 * POSTs JSON and decodes the JSON answer. Non-2xx → `ModelHTTPError` (status, parsed body,
 * `retryAfterMillis`); transport failures → `ModelAPIError`. Retries 408/409/429/5xx and
 * connection errors per the policy; `settings.timeout` bounds each attempt.
 *
 * `decode` turns the parsed body into the result (in the same continuation as the parse, so
 * it adds no frame while the request is in flight). Its failures are not retried unless they
 * are retryable `ModelHTTPError`s, which decoders do not produce.
 */
export const postJson: {
  (client: HttpClient.HttpClient, options: RequestOptions): Effect.Effect<unknown, RequestError>
  <A, E>(
    client: HttpClient.HttpClient,
    options: RequestOptions,
    decode: (json: unknown) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | RequestError>
} = <A, E>(
  client: HttpClient.HttpClient,
  options: RequestOptions,
  decode?: (json: unknown) => Effect.Effect<A, E>
): Effect.Effect<unknown, E | RequestError> => {
  const request = buildRequest(options)
  const onOk = (
    response: HttpClientResponse.HttpClientResponse
  ): Effect.Effect<unknown, E | RequestError> =>
    Effect.flatMap(
      Effect.mapError(response.text, (e) => transportError(options, e)),
      (text): Effect.Effect<unknown, E | RequestError> => {
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          return Effect.fail(
            new AgentError.ModelAPIError({
              modelName: options.modelName,
              reason: Redact.redactText(
                `Invalid JSON in the response body: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`,
                secretsOf(options)
              )
            })
          )
        }
        return decode === undefined
          ? Effect.succeed(json)
          : Effect.mapError(decode(json), (e) => Redact.redactError(e, secretsOf(options)))
      }
    )
  const timeout = limitOf(options.settings.timeout, ModelSettings.defaultTimeout)
  // A fresh attempt counter per run of the returned effect. The timeout covers sending, reading
  // and decoding the body of each attempt.
  return transportRegion(
    Effect.suspend(() => {
      const once = attempt(client, options, request, false, { count: 0 }, onOk)
      return withRetry(
        (timeout === undefined
          ? once
          : Effect.timeoutFail(once, {
              duration: timeout,
              onTimeout: () => timeoutError(options.modelName, timeout)
            })) as Effect.Effect<unknown, RequestError>,
        options.retry
      )
    }),
    options
  )
}

// ---------------------------------------------------------------------------
// SSE
// ---------------------------------------------------------------------------

/** One Server-Sent Event. */
export interface SseEvent {
  readonly event: string | undefined
  readonly data: string
  readonly id: string | undefined
}

/** Incremental SSE decoding: bytes in, complete events out. */
export interface SseDecoder {
  /** The events completed by these reads. */
  readonly feed: (reads: Iterable<Uint8Array>) => Array<SseEvent>
  /** The events left at the end (a last event without its blank line). */
  readonly end: () => Array<SseEvent>
}

/**
 * The SSE decoder. Streams of plain events (OpenAI Chat's `data:` lines, the Responses API's
 * and Anthropic's `event:` + `data:` pairs) are split here, a few `indexOf`s per event: a block
 * that is one `data: …` line, optionally after one `event: …` line, both values non-empty, is
 * an event with that data and type. The first block that is anything else (`id:` / `retry:`
 * fields, comments, more lines, an empty value, `\r` line ends) hands the rest of the stream
 * to `eventsource-parser` for good, starting at that block's first byte, so the parser sees
 * whole events and keeps the spec's state (last event id, multi-line data) from there on.
 * Measured: `eventsource-parser` costs about as much per event as the provider's `JSON.parse`
 * of it on a paced stream in a fresh process (bench/paced.mjs, profile).
 */
export const makeSseDecoder = (): SseDecoder => {
  const decoder = new TextDecoder()
  let pending: Array<SseEvent> = []
  let parser: EventSourceParser | undefined
  /** Fast mode: the text after the last complete block. */
  let rest = ""
  const toParser = (text: string) => {
    parser ??= createParser({
      onEvent: (e: EventSourceMessage) => {
        pending.push({ event: e.event, data: e.data, id: e.id })
      }
    })
    parser.feed(text)
  }
  const scan = (text: string) => {
    if (parser !== undefined) return parser.feed(text)
    const buf = rest.length === 0 ? text : rest + text
    if (buf.includes("\r")) {
      rest = ""
      return toParser(buf)
    }
    let start = 0
    for (;;) {
      const end = buf.indexOf("\n\n", start)
      if (end === -1) break
      // `event: name` (optional, non-empty) then `data: value` (non-empty), nothing else.
      let event: string | undefined
      let line = start
      if (buf.startsWith("event:", start)) {
        const nl = buf.indexOf("\n", start)
        const nameAt = buf.charCodeAt(start + 6) === 32 ? start + 7 : start + 6
        if (nl < end && nameAt < nl) {
          event = buf.slice(nameAt, nl)
          line = nl + 1
        } else line = -1
      }
      const valueAt = buf.charCodeAt(line + 5) === 32 ? line + 6 : line + 5
      if (
        line === -1 ||
        !buf.startsWith("data:", line) ||
        valueAt >= end ||
        buf.indexOf("\n", line) !== end
      ) {
        rest = ""
        return toParser(buf.slice(start))
      }
      pending.push({ event, data: buf.slice(valueAt, end), id: undefined })
      start = end + 2
    }
    rest = start === 0 ? buf : buf.slice(start)
  }
  const take = (): Array<SseEvent> => {
    const out = pending
    pending = []
    return out
  }
  return {
    feed: (reads) => {
      for (const read of reads) scan(decoder.decode(read, { stream: true }))
      return take()
    },
    end: () => {
      // Terminate a last event that lacks its blank line (no-op after a clean end).
      const tail = decoder.decode()
      if (parser !== undefined) parser.feed(`${tail}\n\n`)
      else if (rest.length > 0 || tail.length > 0) toParser(`${rest}${tail}\n\n`)
      rest = ""
      return take()
    }
  }
}

/**
 * What a `parseSse` stream reads (a byte stream, or a `BodyReader` over the response body)
 * and its error mapping, so that `streamedResponse` can parse the bytes in its own channel
 * (one channel stage per network read instead of two).
 */
type SseSource = (
  | {
      readonly bytes: Stream.Stream<Uint8Array, unknown, unknown>
      readonly reader?: undefined
    }
  | {
      readonly bytes?: undefined
      readonly reader: BodyReader.BodyReader
    }
) & {
  readonly mapError: ((error: unknown) => unknown) | undefined
  readonly makeDecoder: () => SseDecoder
  /** The request's credentials, redacted from the errors of stream events. */
  readonly secrets: (() => ReadonlyArray<string>) | undefined
}

const sseSources = new WeakMap<Stream.Stream<SseEvent, unknown, unknown>, SseSource>()

/**
 * A channel that pulls a `BodyReader` until the body ends: `onReads` turns each batch of reads
 * into the channel that writes their output and continues with `next`; `onEnd` is the
 * channel after the end. The body is released when the channel ends, fails or is interrupted.
 * One `Effect.async` per wake-up, no channel stage between the body and `onReads`.
 */
const readerChannel = <Out, E, In = unknown>(
  pull: Effect.Effect<Array<Uint8Array> | undefined, E>,
  close: Effect.Effect<void>,
  onReads: (
    reads: Array<Uint8Array>,
    next: Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>
  ) => Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>,
  onEnd: () => Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>
): Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown> => {
  const loop: Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown> = Channel.flatMap(
    Channel.fromEffect(pull),
    (reads) => (reads === undefined ? onEnd() : onReads(reads, loop))
  )
  return Channel.ensuring(loop, close)
}

/**
 * SSE events read from a `BodyReader` (the fast path of `postSse` over undici): the same
 * events, chunks and errors as `parseSse(response.stream, mapError)`.
 */
const parseSseReader = <E>(
  reader: BodyReader.BodyReader,
  mapError: (error: unknown) => E,
  makeDecoder: () => SseDecoder,
  secrets: () => ReadonlyArray<string>
): Stream.Stream<SseEvent, E> => {
  const events = Stream.suspend(() => {
    const sse = makeDecoder()
    return Stream.fromChannel(
      readerChannel<SseEvent, E>(
        reader.pull(mapError),
        reader.close,
        (reads, next) => {
          const out = sse.feed(reads)
          return out.length === 0
            ? next
            : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
        },
        () => {
          const out = sse.end()
          return out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        }
      )
    )
  })
  sseSources.set(events as Stream.Stream<SseEvent, unknown, unknown>, {
    reader,
    mapError: mapError as (error: unknown) => unknown,
    makeDecoder,
    secrets
  })
  return events
}

/**
 * Parses a byte stream into SSE events: one `Chunk` of events per network read. Handles
 * `\r\n`, comments, any field order and events split across reads; a final event without
 * its blank line is still delivered. `mapError` maps the byte stream's failures in the same
 * pass (one channel stage per read, not a `Stream.mapError` stage plus this one).
 * `makeDecoder` replaces the SSE decoder by another framing with the same shape (the AWS
 * event stream). `secrets` (the request's credentials) are redacted from the errors
 * `streamedResponse` makes of events.
 */
export const parseSse: {
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<SseEvent, E, R>
  <E, E2, R>(
    bytes: Stream.Stream<Uint8Array, E, R>,
    mapError: (error: E) => E2,
    makeDecoder?: () => SseDecoder,
    secrets?: () => ReadonlyArray<string>
  ): Stream.Stream<SseEvent, E2, R>
} = <E, E2, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  mapError?: (error: E) => E2,
  makeDecoder: () => SseDecoder = makeSseDecoder,
  secrets?: () => ReadonlyArray<string>
): Stream.Stream<SseEvent, E | E2, R> => {
  const events = Stream.suspend(() => {
    const sse = makeDecoder()
    type Loop = Channel.Channel<
      Chunk.Chunk<SseEvent>,
      Chunk.Chunk<Uint8Array>,
      E | E2,
      E,
      unknown,
      unknown
    >
    const loop: Loop = Channel.readWithCause({
      onInput: (reads: Chunk.Chunk<Uint8Array>) => {
        const out = sse.feed(reads)
        return out.length === 0
          ? loop
          : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
      },
      onFailure: (cause: Cause.Cause<E>) =>
        Channel.failCause<E | E2>(mapError === undefined ? cause : Cause.map(cause, mapError)),
      onDone: () =>
        Channel.suspend(() => {
          const out = sse.end()
          return out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        })
    })
    return Stream.pipeThroughChannel(bytes, loop)
  })
  sseSources.set(events as Stream.Stream<SseEvent, unknown, unknown>, {
    bytes: bytes as Stream.Stream<Uint8Array, unknown, unknown>,
    mapError: mapError as ((error: unknown) => unknown) | undefined,
    makeDecoder,
    secrets
  })
  return events
}

/**
 * POSTs and opens an SSE stream. Status errors and retries happen before the stream is
 * returned. The stream emits one `Chunk` of events per network read and fails with a
 * `ModelAPIError` when the connection breaks, `settings.idleTimeout` (default
 * `ModelSettings.defaultIdleTimeout`) passes while waiting for the next read, or
 * `settings.timeout` (default `ModelSettings.defaultTimeout`) passes since the request started.
 * The connection is bound to the `Scope`: closing it (or interrupting the consumer) aborts the
 * request. `makeDecoder` frames the body (default: SSE; Bedrock passes its binary event-stream
 * decoder).
 */
export const postSse = (
  client: HttpClient.HttpClient,
  options: RequestOptions,
  makeDecoder: () => SseDecoder = makeSseDecoder
): Effect.Effect<Stream.Stream<SseEvent, AgentError.ModelAPIError>, RequestError, Scope.Scope> => {
  const request = buildRequest(options)
  const timeout = limitOf(options.settings.timeout, ModelSettings.defaultTimeout)
  const idleTimeout = limitOf(options.settings.idleTimeout, ModelSettings.defaultIdleTimeout)
  const modelName = options.modelName
  // Ties the connection to the caller's scope: closing it aborts the request.
  const scopedClient = HttpClient.withScope(client)
  const idleError = () =>
    new AgentError.ModelAPIError({
      modelName,
      reason: `Stream idle for more than ${Duration.format(idleTimeout!)}`
    })
  return Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const response = yield* withRetry(
      attempt(scopedClient, options, request, true, { count: 0 }, Effect.succeed),
      options.retry
    )
    // The limits' own errors pass through as they are.
    const broke = (e: unknown): AgentError.ModelAPIError =>
      e instanceof AgentError.ModelAPIError
        ? e
        : new AgentError.ModelAPIError({
            modelName,
            reason: `Stream broke: ${transportError(options, e as HttpClientError.HttpClientError).reason}`
          })
    const deadline = timeout === undefined ? undefined : started + Duration.toMillis(timeout)
    // Fast path: the body of undici's response read directly (see `BodyReader`), the limits
    // checked by one watchdog fiber per body; any other client's response through its `stream`.
    const reader = BodyReader.fromResponse(
      response,
      idleTimeout === undefined && deadline === undefined
        ? undefined
        : {
            idleMillis: idleTimeout === undefined ? undefined : Duration.toMillis(idleTimeout),
            onIdle: idleError,
            deadlineMillis: deadline,
            onDeadline: () => timeoutError(modelName, timeout!)
          }
    )
    if (reader !== undefined)
      return parseSseReader(reader, broke, makeDecoder, () => secretsOf(options))
    let bytes: Stream.Stream<Uint8Array, unknown> = response.stream
    if (idleTimeout !== undefined) bytes = Stream.timeoutFail(bytes, idleError, idleTimeout)
    if (deadline !== undefined) {
      const expired = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(
          Effect.sleep(Duration.millis(Math.max(0, deadline - now))),
          Effect.fail(timeoutError(modelName, timeout!))
        )
      )
      bytes = Stream.interruptWhen(bytes, expired)
    }
    return parseSse(bytes, broke, makeDecoder, () => secretsOf(options))
  }).pipe((effect) => transportRegion(effect, options))
}

// ---------------------------------------------------------------------------
// Streamed responses
// ---------------------------------------------------------------------------

/** Attaches the partial response to errors that can carry one. */
const withPartial = (
  error: AgentError.ModelError,
  partial: Messages.ModelResponse
): AgentError.ModelError => {
  if (error._tag === "ModelAPIError" && error.partialResponse === undefined) {
    return new AgentError.ModelAPIError({ ...error, partialResponse: partial }, true)
  }
  if (error._tag === "UnexpectedModelBehavior" && error.partialResponse === undefined) {
    return new AgentError.UnexpectedModelBehavior({ ...error, partialResponse: partial }, true)
  }
  return error
}

/**
 * Builds a `Model.StreamedResponse` from SSE events. `onEvent` turns each event into part
 * events (through the parts manager) pushed into `out`, and may return an error (e.g. a
 * provider `error` event) that fails the stream keeping the partial response. `onEnd` runs
 * when the SSE stream ends and may return an error (stream ended before its terminal event).
 * The stream ends with `PartEndEvent`s for open parts and a `ResponseCompleteEvent`.
 */
export const streamedResponse = (options: {
  readonly modelName: string
  readonly providerName: string
  readonly events: Stream.Stream<SseEvent, AgentError.ModelAPIError>
  readonly onEvent: (
    event: SseEvent,
    manager: PartsManager.PartsManager,
    out: Array<Messages.ModelResponseStreamEvent>,
    /** Reports a skipped (unknown) event; logged at debug level once per network read. */
    skip: (reason: string) => void
  ) => AgentError.ModelError | undefined
  readonly onEnd?: (manager: PartsManager.PartsManager) => AgentError.ModelError | undefined
}): Model.StreamedResponse => {
  const manager = PartsManager.make()
  let final: Messages.ModelResponse | undefined
  const snapshot = (): Messages.ModelResponse =>
    final ??
    manager.response({
      modelName: manager.info.modelName ?? options.modelName,
      providerName: manager.info.providerName ?? options.providerName,
      state: "incomplete"
    })

  type Out = Messages.ModelResponseStreamEvent
  let skipped: Array<string> = []
  const skip = (reason: string) => {
    skipped.push(reason)
  }
  // The input is either SSE events, or (fused with `parseSse`) the raw bytes, parsed here.
  const source = sseSources.get(options.events as Stream.Stream<SseEvent, unknown, unknown>)
  const sse = source === undefined ? undefined : source.makeDecoder()
  type Loop = Channel.Channel<
    Chunk.Chunk<Out>,
    Chunk.Chunk<any>,
    AgentError.ModelError,
    unknown,
    unknown,
    unknown
  >
  const secrets = source?.secrets
  /** An error made of an event (it may quote the provider's answer): partial kept, key redacted. */
  const eventError = (error: AgentError.ModelError): AgentError.ModelError =>
    withPartial(secrets === undefined ? error : Redact.redactError(error, secrets()), snapshot())
  const handle = (out: Array<Out>, error: AgentError.ModelError | undefined, next: Loop): Loop => {
    if (error !== undefined) {
      const failed = Channel.fail(eventError(error))
      return out.length === 0
        ? failed
        : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), failed)
    }
    return out.length === 0
      ? next
      : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
  }
  /** Runs `onEvent` over events; logs skipped events once per read. */
  const handleEvents = (events: Iterable<SseEvent>, next: Loop): Loop => {
    const out: Array<Out> = []
    let error: AgentError.ModelError | undefined
    for (const event of events) {
      error = options.onEvent(event, manager, out, skip)
      if (error !== undefined) break
    }
    if (skipped.length > 0) {
      const reasons = skipped
      skipped = []
      const log = Channel.fromEffect(
        Effect.logDebug(`${options.providerName}: skipped stream events`, ...reasons)
      )
      return Channel.zipRight(log, handle(out, error, next))
    }
    return handle(out, error, next)
  }
  const done: Loop = Channel.suspend(() => {
    const error = options.onEnd?.(manager)
    if (error !== undefined) return Channel.fail(eventError(error))
    const out: Array<Out> = manager.finish()
    final = manager.response({
      modelName: manager.info.modelName ?? options.modelName,
      providerName: manager.info.providerName ?? options.providerName,
      state: "complete"
    })
    out.push(new Messages.ResponseCompleteEvent({ response: final }, true))
    return Channel.write(Chunk.unsafeFromArray(out))
  })
  const mapError = source?.mapError
  const failWith = (e: unknown): AgentError.ModelError =>
    withPartial((mapError === undefined ? e : mapError(e)) as AgentError.ModelError, snapshot())
  const loop: Loop = Channel.readWithCause({
    onInput: (input: Chunk.Chunk<any>) =>
      handleEvents(sse === undefined ? (input as Chunk.Chunk<SseEvent>) : sse.feed(input), loop),
    onFailure: (cause: Cause.Cause<unknown>) => Channel.failCause(Cause.map(cause, failWith)),
    onDone: () => (sse === undefined ? done : Channel.suspend(() => handleEvents(sse.end(), done)))
  })
  const reader = source?.reader
  const channel: Channel.Channel<Chunk.Chunk<Out>, unknown, AgentError.ModelError> = reader !==
    undefined && sse !== undefined
    ? // Fused over a `BodyReader`: body → SSE → part events in one channel (which never
      // reads its input, hence the cast).
      (readerChannel<Out, AgentError.ModelError, Chunk.Chunk<any>>(
        reader.pull(failWith),
        reader.close,
        (reads, next) => handleEvents(sse.feed(reads), next),
        () => Channel.suspend(() => handleEvents(sse.end(), done))
      ) as Channel.Channel<Chunk.Chunk<Out>, unknown, AgentError.ModelError>)
    : Channel.pipeTo(
        Stream.toChannel(
          (source === undefined ? options.events : source.bytes) as Stream.Stream<unknown>
        ),
        loop
      )

  return {
    modelName: options.modelName,
    events: Stream.fromChannel(channel) as Stream.Stream<
      Messages.ModelResponseStreamEvent,
      AgentError.ModelError
    >,
    response: Effect.sync(snapshot)
  }
}
