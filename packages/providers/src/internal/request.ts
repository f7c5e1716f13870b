/**
 * One provider HTTP request: the request built from its options (body with `extraBody`,
 * headers with `extraHeaders`), one attempt through the transport (typed errors for transport
 * failures, non-2xx statuses and timeouts, redacted of the request's credentials), and
 * `postJson`, the JSON POST with retries.
 *
 * @internal
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { AgentError, ModelSettings } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { constTrue } from "effect/Function"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import * as Deadline from "./deadline.js"
import * as Redact from "./redact.js"
import { markRetryable, type RequestError, type RetryPolicy, withRetry } from "./retry.js"

/** One provider HTTP call. */
export interface RequestOptions {
  readonly modelName: string
  /** Absolute URL. */
  readonly url: string
  /** Includes auth; built at call time from a `Redacted` key. */
  readonly headers: Record<string, string>
  /** JSON body; `settings.extraBody` is merged into it (top level) here. */
  readonly body: unknown
  /** `GET` sends no body (`body` is ignored); the default is `POST`. */
  readonly method?: "GET" | "POST" | undefined
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
export const transportRegion = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: RequestOptions
): Effect.Effect<A, E, R> => {
  const local = transportLocal(options)
  return Effect.locally(effect, local.ref, local.value)
}

/**
 * The fiber ref `transportRegion` sets and its value, also for a region that sets it itself
 * (the deadline of a JSON request).
 */
const transportLocal = (
  options: RequestOptions
): { readonly ref: FiberRef.FiberRef<any>; readonly value: unknown } =>
  options.httpClientSpans === true ? redactedHeadersLocal : tracerDisabledLocal

const tracerDisabledLocal = { ref: HttpClient.currentTracerDisabledWhen, value: constTrue }

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
const redactedHeadersLocal = { ref: Headers.currentRedactedNames, value: redactedHeaderNames }

export const buildRequest = (options: RequestOptions): HttpClientRequest.HttpClientRequest => {
  if (options.method === "GET") {
    return HttpClientRequest.get(options.url).pipe(
      HttpClientRequest.setHeaders({ ...options.headers, ...options.settings.extraHeaders })
    )
  }
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
export const secretsOf = (options: RequestOptions): Array<string> =>
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
export const limitOf = (
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
export const transportError = (
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
    ),
    ...(isConnectTimeout(cause) ? { timeoutKind: "connect" as const } : {})
  })
  if (error._tag === "RequestError" && error.reason === "Transport") markRetryable(e)
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

/** undici's error code for a connection not opened within its connect timeout. */
const connectTimeoutCode = "UND_ERR_CONNECT_TIMEOUT"

/** Whether a transport failure (or its cause) is undici's connect timeout. */
const isConnectTimeout = (cause: unknown): boolean => {
  for (let c = cause, depth = 0; c !== null && typeof c === "object" && depth < 3; depth++) {
    if ((c as { readonly code?: unknown }).code === connectTimeoutCode) return true
    c = (c as { readonly cause?: unknown }).cause
  }
  return false
}

/** The `timeout` setting passed: the whole request (`timeoutKind: "total"`). */
export const timeoutError = (modelName: string, timeout: Duration.Duration) =>
  new AgentError.ModelAPIError({
    modelName,
    reason: `Request timed out after ${Duration.format(timeout)}`,
    timeoutKind: "total"
  })

/** The `idleTimeout` setting passed between two reads of a stream (`timeoutKind: "idle"`). */
export const idleTimeoutError = (modelName: string, idleTimeout: Duration.Duration) =>
  new AgentError.ModelAPIError({
    modelName,
    reason: `Stream idle for more than ${Duration.format(idleTimeout)}`,
    timeoutKind: "idle"
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
export interface AttemptCounter {
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
export const attempt = <A, E, R>(
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
    : Deadline.timeoutFail(sent, timeout, () => timeoutError(options.modelName, timeout))
}

/**
 * `HttpClient.withScope(client)`, made once per client: a request in flight holds its client, and
 * one made per call (an object and two closures) was held by every one of them (#14 memory).
 */
const scopedClients = new WeakMap<
  HttpClient.HttpClient,
  HttpClient.HttpClient.With<HttpClientError.HttpClientError, Scope.Scope>
>()
const scopedClientOf = (client: HttpClient.HttpClient) => {
  let scoped = scopedClients.get(client)
  if (scoped === undefined) {
    scoped = HttpClient.withScope(client)
    scopedClients.set(client, scoped)
  }
  return scoped
}

/**
 * POSTs JSON and decodes the JSON answer. Non-2xx → `ModelHTTPError` (status, parsed body,
 * `retryAfterMillis`); transport failures → `ModelAPIError`. Retries 408/409/429/5xx and
 * connection errors per the policy; `settings.timeout` bounds each attempt.
 *
 * `decode` turns the parsed body into the result (in the same continuation as the parse, so
 * it adds no frame while the request is in flight). Its failures are not retried unless they
 * are retryable `ModelHTTPError`s (a gateway's error object in a 200 answer, OpenRouter's `{ error:
 * { code: 429 } }`, is retried as a 429 would be).
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
  // and decoding the body of each attempt: each attempt's request is aborted by closing the scope
  // the deadline owns (`withScope`), so no fiber is forked per request (bench/ANALYSIS.md, #14).
  if (timeout === undefined) {
    return transportRegion(
      Effect.suspend(() =>
        withRetry(
          attempt(client, options, request, false, { count: 0 }, onOk) as Effect.Effect<
            unknown,
            RequestError
          >,
          options.retry
        )
      ),
      options
    )
  }
  // With a deadline, the transport's span setting is set and restored by the deadline's own
  // region around each attempt (no `Effect.locally` region held per request in flight).
  const local = transportLocal(options)
  const scoped = scopedClientOf(client)
  return Effect.suspend(() => {
    const counter = { count: 0 }
    return withRetry(
      Deadline.timeoutFailAborting(
        client,
        scoped,
        (bound) => attempt(bound, options, request, false, counter, onOk),
        timeout,
        () => timeoutError(options.modelName, timeout),
        local
      ) as Effect.Effect<unknown, RequestError>,
      options.retry
    )
  })
}
