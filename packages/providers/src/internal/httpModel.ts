/**
 * The `Model.Service` of an HTTP provider, shared by every provider module: merge the model's
 * settings under the run's, encode the body, POST it (JSON or SSE), then decode the answer or
 * bridge the SSE events to a `StreamedResponse`. Both operations are traced as
 * `<spanPrefix>.request` / `<spanPrefix>.requestStream`.
 *
 * A provider supplies only what differs: its encoder, decoder, stream decoder and how it
 * posts (URL, headers) — and, when its API counts tokens, how to post the encoded body to its
 * counting endpoint (`countTokens`, traced as `<spanPrefix>.countTokens`).
 *
 * @internal
 */
import { AgentError, InstrumentedModel, Messages, Model, ModelSettings, Usage } from "@agentfx/core"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Posts } from "./client.js"
import { isForced, makeDownloadCache, replaceFileUrls, scanHistory } from "./download.js"
import type { StreamBody } from "./streamBody.js"
import * as StreamDecoder from "./streamDecoder.js"
import { streamedResponse } from "./streamedResponse.js"
import { makeRequestUsage, uploadedFileError } from "./wire.js"

type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** How a provider sends an encoded body (settings are the merged ones: timeouts, extras). */
export interface Post<Body> {
  /** POSTs the body and decodes the JSON answer with `decode` (in the same continuation). */
  readonly json: <A, E>(
    body: Body,
    settings: ModelSettings.ModelSettings,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | RequestError>
  /**
   * The transport, used to download files marked `forceDownload` before the call. Required (a
   * hand-built `Post` that forgot it would silently send forced URLs as URLs); `undefined` only
   * for a client without one.
   */
  readonly httpClient: HttpClient.HttpClient | undefined
  readonly sse: (
    body: Body,
    settings: ModelSettings.ModelSettings
  ) => Effect.Effect<StreamBody, RequestError, Scope.Scope>
}

/** `Post` through a client's `postJson` / `postSse`: `call` builds the client call of a body. */
export const viaClient = <Body, Call>(
  client: Posts<Call>,
  call: (body: Body, settings: ModelSettings.ModelSettings, stream: boolean) => Call
): Post<Body> => ({
  json: (body, settings, decode) => client.postJson(call(body, settings, false), decode),
  sse: (body, settings) => client.postSse(call(body, settings, true)),
  httpClient: client.httpClient
})

/** What a provider plugs into `make`. */
export interface Options<Body> {
  readonly modelName: string
  /** Provider name of the service and of streamed responses. */
  readonly system: string
  readonly profile: Model.ModelProfile
  /** The model's own settings; the run's are merged over them. */
  readonly settings: ModelSettings.ModelSettings | undefined
  /** Span names are `<spanPrefix>.request` and `<spanPrefix>.requestStream`. */
  readonly spanPrefix: string
  /**
   * The file URLs the provider cannot fetch itself, downloaded and sent inline like the ones
   * marked `forceDownload` (through the model's download cache). Default: none.
   */
  readonly needsDownload?: ((item: Messages.UserContent) => item is Messages.FileUrl) | undefined
  /**
   * The providers whose uploaded files (`UploadedFile.providerName`) the model takes; an uploaded
   * file of any other fails the request with a `UserError` before anything is sent. Default: none.
   */
  readonly uploadedFileProviders?: ReadonlyArray<string> | undefined
  /** Builds the body (pure); a `UserError` fails the request before anything is sent. */
  readonly encode: (
    messages: ReadonlyArray<Messages.ModelMessage>,
    settings: ModelSettings.ModelSettings,
    parameters: Model.ModelRequestParameters,
    stream: boolean
  ) => Body | AgentError.UserError
  readonly post: Post<Body>
  /** Decodes a JSON answer (pure). */
  readonly decode: (json: unknown) => Messages.ModelResponse | AgentError.ModelError
  /** The stream decoder (fresh state per streamed response, under the malformed-event policy). */
  readonly decoder: StreamDecoder.StreamDecoder<any>
  /**
   * Counts the input tokens of an encoded (non-streaming) request body with the provider's
   * counting endpoint; the model has no `countTokens` without it.
   */
  readonly countTokens?:
    | ((
        body: Body,
        settings: ModelSettings.ModelSettings
      ) => Effect.Effect<Usage.RequestUsage, AgentError.ModelError>)
    | undefined
}

/**
 * Reads a token count (a non-negative integer) from `field` of a JSON answer — the shared
 * decoder of every counting endpoint (`input_tokens`, `totalTokens`, …).
 */
export const readTokenCount = (json: unknown, field: string): number | undefined => {
  const n =
    json !== null && typeof json === "object" && !Array.isArray(json)
      ? (json as Record<string, unknown>)[field]
      : undefined
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : undefined
}

/** A counting endpoint's answer as the input tokens of a `RequestUsage`. */
export const decodeTokenCount =
  (provider: string, modelName: string, field: string) =>
  (json: unknown): Effect.Effect<Usage.RequestUsage, AgentError.UnexpectedModelBehavior> => {
    const n = readTokenCount(json, field)
    return n === undefined
      ? Effect.fail(
          new AgentError.UnexpectedModelBehavior({
            reason: `Malformed ${provider} token count for ${modelName}: no \`${field}\` count`
          })
        )
      : Effect.succeed(makeRequestUsage({ inputTokens: n }))
  }

/** Keeps only the listed fields of a body (counting endpoints reject generation settings). */
export const pick = (
  body: Record<string, unknown>,
  fields: ReadonlyArray<string>
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const f of fields) if (body[f] !== undefined) out[f] = body[f]
  return out
}

/** Builds the model service of an HTTP provider. */
export const make = <Body>(options: Options<Body>): Model.Service => {
  const { modelName, post, system } = options
  // One pass over the history per request finds the files to download (`forceDownload`, or
  // ones the provider cannot fetch) and an uploaded file of another provider (fails at once).
  // Downloads go through the model instance's bounded cache, so a run's later requests reuse them.
  const httpClient = post.httpClient
  const cache = httpClient === undefined ? undefined : makeDownloadCache(httpClient, modelName)
  const own = options.needsDownload
  const needsDownload = (item: Messages.UserContent): item is Messages.FileUrl =>
    isForced(item) || own?.(item) === true
  const accepted = options.uploadedFileProviders ?? []
  const accepts = (providerName: string) => accepted.includes(providerName)
  const encode = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    settings: ModelSettings.ModelSettings,
    parameters: Model.ModelRequestParameters,
    stream: boolean
  ): Effect.Effect<Body, AgentError.UserError> => {
    const body = options.encode(messages, settings, parameters, stream)
    return body instanceof AgentError.UserError ? Effect.fail(body) : Effect.succeed(body)
  }
  const body = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    settings: ModelSettings.ModelSettings,
    parameters: Model.ModelRequestParameters,
    stream: boolean
  ): Effect.Effect<Body, AgentError.ModelError> => {
    const scan = scanHistory(messages, needsDownload as (item: unknown) => boolean, accepts)
    if (scan.wrongFile !== undefined) {
      return Effect.fail(uploadedFileError(scan.wrongFile, modelName, accepted))
    }
    if (!scan.download || cache === undefined) return encode(messages, settings, parameters, stream)
    return Effect.flatMap(replaceFileUrls(messages, needsDownload, cache.download), (resolved) =>
      encode(resolved, settings, parameters, stream)
    )
  }
  const decode = (json: unknown): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> => {
    const r = options.decode(json)
    return r._tag === "ModelResponse" ? Effect.succeed(r) : Effect.fail(r)
  }
  // The provider's own spans (no stack trace; folded into the `chat` span inside one).
  const requestSpan = InstrumentedModel.withProviderSpan(`${options.spanPrefix}.request`)
  const requestStreamSpan = InstrumentedModel.withProviderSpan(
    `${options.spanPrefix}.requestStream`
  )
  const count = options.countTokens
  const countSpan = InstrumentedModel.withProviderSpan(`${options.spanPrefix}.countTokens`)
  return Model.make({
    modelName,
    system,
    profile: options.profile,
    settings: options.settings,
    request: (messages, runSettings, parameters) => {
      const settings = ModelSettings.merge(options.settings, runSettings)
      return body(messages, settings, parameters, false).pipe(
        Effect.flatMap((b) => post.json(b, settings, decode)),
        requestSpan
      )
    },
    requestStream: (messages, runSettings, parameters) => {
      const settings = ModelSettings.merge(options.settings, runSettings)
      return body(messages, settings, parameters, true).pipe(
        Effect.flatMap((b) => post.sse(b, settings)),
        Effect.map((streamBody) =>
          streamedResponse({
            modelName,
            providerName: system,
            body: streamBody,
            handler: (log) =>
              StreamDecoder.handler(
                options.decoder,
                modelName,
                StreamDecoder.malformedEventLimitOf(settings),
                log
              )
          })
        ),
        requestStreamSpan
      )
    },
    countTokens:
      count === undefined
        ? undefined
        : (messages, runSettings, parameters) => {
            const settings = ModelSettings.merge(options.settings, runSettings)
            // `extraBody` is for generation requests: counting endpoints reject unknown fields.
            const { extraBody: _, ...countSettings } = settings
            return body(messages, settings, parameters, false).pipe(
              Effect.flatMap((b) => count(b, countSettings)),
              countSpan
            )
          }
  })
}
