/**
 * The `Model.Service` of an HTTP provider, shared by every provider module: merge the model's
 * settings under the run's, encode the body, POST it (JSON or SSE), then decode the answer or
 * bridge the SSE events to a `StreamedResponse`. Both operations are traced as
 * `<spanPrefix>.request` / `<spanPrefix>.requestStream`.
 *
 * A provider supplies only what differs: its encoder, decoder, stream decoder and how it
 * posts (URL, headers).
 *
 * @internal
 */
import { AgentError, InstrumentedModel, type Messages, Model, ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Posts } from "./client.js"
import type { StreamBody } from "./streamBody.js"
import * as StreamDecoder from "./streamDecoder.js"
import { streamedResponse } from "./streamedResponse.js"

type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** How a provider sends an encoded body (settings are the merged ones: timeouts, extras). */
export interface Post<Body> {
  /** POSTs the body and decodes the JSON answer with `decode` (in the same continuation). */
  readonly json: <A, E>(
    body: Body,
    settings: ModelSettings.ModelSettings,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | RequestError>
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
  sse: (body, settings) => client.postSse(call(body, settings, true))
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
  /** Rewrites the messages before encoding (e.g. downloads files the provider cannot fetch). */
  readonly prepare?:
    | ((
        messages: ReadonlyArray<Messages.ModelMessage>
      ) => Effect.Effect<ReadonlyArray<Messages.ModelMessage>, AgentError.ModelError>)
    | undefined
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
}

/** Builds the model service of an HTTP provider. */
export const make = <Body>(options: Options<Body>): Model.Service => {
  const { modelName, post, prepare, system } = options
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
  ): Effect.Effect<Body, AgentError.ModelError> =>
    prepare === undefined
      ? encode(messages, settings, parameters, stream)
      : Effect.flatMap(prepare(messages), (resolved) =>
          encode(resolved, settings, parameters, stream)
        )
  const decode = (json: unknown): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> => {
    const r = options.decode(json)
    return r._tag === "ModelResponse" ? Effect.succeed(r) : Effect.fail(r)
  }
  // The provider's own spans (no stack trace; folded into the `chat` span inside one).
  const requestSpan = InstrumentedModel.withProviderSpan(`${options.spanPrefix}.request`)
  const requestStreamSpan = InstrumentedModel.withProviderSpan(
    `${options.spanPrefix}.requestStream`
  )
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
    }
  })
}
