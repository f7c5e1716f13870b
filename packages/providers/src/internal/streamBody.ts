/**
 * A streamed response body as an explicit value: `postSse` sends the request (with retries and
 * the total timeout up to the headers) and returns a `StreamBody` — how to read the bytes (a
 * `BodyReader` over undici's body, or the platform's byte stream), with the idle and total
 * limits already attached to that reading, how to frame them into events, and how to map a
 * read failure. `streamedResponse` consumes it directly (body → frames → part events in one
 * channel); `events` turns it into a plain `Stream` of framed events for anyone else.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import { AgentError, ModelSettings } from "@agentfx/core"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as BodyReader from "./bodyReader.js"
import {
  attempt,
  buildRequest,
  idleTimeoutError,
  limitOf,
  type RequestOptions,
  secretsOf,
  timeoutError,
  transportError,
  transportRegion
} from "./request.js"
import { type RequestError, withRetry } from "./retry.js"
import { type FrameDecoder, makeSseDecoder, parseSse, readerChannel, type SseEvent } from "./sse.js"

/** Where the bytes of a body come from. */
export type BodySource =
  /** undici's body read directly (the fast path: one `Effect.async` per wake-up). */
  | { readonly _tag: "Reader"; readonly reader: BodyReader.BodyReader }
  /** Any other client's `response.stream`, the limits applied as stream operators. */
  | { readonly _tag: "Bytes"; readonly bytes: Stream.Stream<Uint8Array, unknown> }

/** An opened streamed response body, not read yet (reading it is what the consumer does). */
export interface StreamBody {
  readonly modelName: string
  readonly source: BodySource
  /**
   * A read failure as the stream's error: the limits' own errors (`timeoutKind` set) pass
   * through, anything else becomes "Stream broke: …" (redacted of the credentials).
   */
  readonly mapError: (error: unknown) => AgentError.ModelAPIError
  /** A fresh framing of the bytes (SSE, or Bedrock's binary event stream). */
  readonly makeDecoder: () => FrameDecoder
  /** The request's credentials, redacted from the errors made of stream events. */
  readonly secrets: () => ReadonlyArray<string>
}

/**
 * POSTs and opens a streamed body. Status errors and retries happen before the body is
 * returned. Reading it fails with a `ModelAPIError` when the connection breaks,
 * `settings.idleTimeout` (default `ModelSettings.defaultIdleTimeout`) passes while waiting for
 * the next read (`timeoutKind: "idle"`), or `settings.timeout` (default
 * `ModelSettings.defaultTimeout`) passes since the request started (`timeoutKind: "total"`).
 * The connection is bound to the `Scope`: closing it (or interrupting the consumer) aborts the
 * request. `makeDecoder` frames the body (default: SSE; Bedrock passes its binary event-stream
 * decoder).
 */
export const postSse = (
  client: HttpClient.HttpClient,
  options: RequestOptions,
  makeDecoder: () => FrameDecoder = makeSseDecoder
): Effect.Effect<StreamBody, RequestError, Scope.Scope> => {
  const request = buildRequest(options)
  const timeout = limitOf(options.settings.timeout, ModelSettings.defaultTimeout)
  const idleTimeout = limitOf(options.settings.idleTimeout, ModelSettings.defaultIdleTimeout)
  const modelName = options.modelName
  const idleError = () => idleTimeoutError(modelName, idleTimeout!)
  const totalError = () => timeoutError(modelName, timeout!)
  // The limits' own errors pass through as they are.
  const mapError = (e: unknown): AgentError.ModelAPIError =>
    e instanceof AgentError.ModelAPIError
      ? e
      : new AgentError.ModelAPIError({
          modelName,
          reason: `Stream broke: ${transportError(options, e as HttpClientError.HttpClientError).reason}`
        })
  const secrets = () => secretsOf(options)
  // Ties the connection to a scope of its own, closed with the caller's scope (aborting the
  // request) unless undici's body was read to its end: aborting a finished request costs a
  // `DOMException` and undici's abort handling per stream (bench/ANALYSIS.md, #14).
  const scopedClient = HttpClient.withScope(client)
  return Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    const requestScope = yield* Scope.make()
    let readBody: BodyReader.BodyReader | undefined
    yield* Effect.addFinalizer(() =>
      readBody?.ended === true ? Effect.void : Scope.close(requestScope, Exit.void)
    )
    const response = yield* Effect.provideService(
      withRetry(
        attempt(scopedClient, options, request, true, { count: 0 }, Effect.succeed),
        options.retry
      ),
      Scope.Scope,
      requestScope
    )
    const deadline = timeout === undefined ? undefined : started + Duration.toMillis(timeout)
    // Fast path: undici's body read directly (see `BodyReader`), the limits checked by one
    // watchdog fiber per body; any other client's response through its `stream`.
    const reader = BodyReader.fromResponse(
      response,
      idleTimeout === undefined && deadline === undefined
        ? undefined
        : {
            idleMillis: idleTimeout === undefined ? undefined : Duration.toMillis(idleTimeout),
            onIdle: idleError,
            deadlineMillis: deadline,
            onDeadline: totalError
          }
    )
    if (reader !== undefined) {
      readBody = reader
      const body: StreamBody = {
        modelName,
        source: { _tag: "Reader", reader },
        mapError,
        makeDecoder,
        secrets
      }
      return body
    }
    let bytes: Stream.Stream<Uint8Array, unknown> = response.stream
    if (idleTimeout !== undefined) bytes = Stream.timeoutFail(bytes, idleError, idleTimeout)
    if (deadline !== undefined) {
      const expired = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(
          Effect.sleep(Duration.millis(Math.max(0, deadline - now))),
          Effect.fail(totalError())
        )
      )
      bytes = Stream.interruptWhen(bytes, expired)
    }
    const body: StreamBody = {
      modelName,
      source: { _tag: "Bytes", bytes },
      mapError,
      makeDecoder,
      secrets
    }
    return body
  }).pipe((effect) => transportRegion(effect, options))
}

/**
 * The framed events of a body as a stream: one `Chunk` of events per network read, failing
 * with the body's `mapError`. For consumers other than `streamedResponse` (tests, tools).
 */
export const events = (body: StreamBody): Stream.Stream<SseEvent, AgentError.ModelAPIError> => {
  if (body.source._tag === "Bytes")
    return parseSse(body.source.bytes, body.mapError, body.makeDecoder)
  const reader = body.source.reader
  return Stream.suspend(() => {
    const frames = body.makeDecoder()
    return Stream.fromChannel(
      readerChannel<SseEvent, AgentError.ModelAPIError>(
        reader.pull(body.mapError),
        reader.close,
        (reads, next) => {
          const out = frames.feed(reads)
          return out.length === 0
            ? next
            : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
        },
        () => {
          const out = frames.end()
          return out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        }
      )
    )
  })
}
