/**
 * The Amazon Bedrock runtime client service (`https://bedrock-runtime.{region}.amazonaws.com`),
 * shared by every `Bedrock` model and `BedrockEmbedding`: region, endpoint, extra headers, the
 * retry policy, and how requests are authorized — signed with AWS Signature V4
 * (`@smithy/signature-v4`) with explicit credentials, any AWS credential provider function
 * (e.g. `fromSSO()` of `@aws-sdk/credential-providers`) or by default the AWS SDK's Node chain
 * (`@aws-sdk/credential-provider-node`: environment, shared config / credentials files and
 * profiles, SSO, web identity, ECS / EC2 metadata, loaded on first use); or with a Bedrock API
 * key (`AWS_BEARER_TOKEN_BEDROCK`) sent as a bearer token instead of signing.
 *
 * @example
 * ```ts
 * import { Bedrock, BedrockClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // Region from AWS_REGION; credentials from the environment, profile or SSO.
 * const ModelLive = Bedrock.model("us.anthropic.claude-sonnet-4-5-20250929-v1:0").pipe(
 *   Layer.provide(BedrockClient.layerConfig()),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { AgentError, type ModelSettings } from "@agentfx/core"
import type { AwsCredentialIdentityProvider } from "@smithy/types"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Signer from "./internal/awsSigner.js"
import * as Client from "./internal/client.js"
import type * as EventStream from "./internal/eventStream.js"
import * as Request from "./internal/request.js"
import type * as Retry from "./internal/retry.js"
import * as StreamBody from "./internal/streamBody.js"
import * as RetryOption from "./Retry.js"

/** Static AWS credentials; the secret parts stay `Redacted`. */
export interface Credentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted
  readonly sessionToken?: Redacted.Redacted | undefined
}

/** How to reach Bedrock. */
export interface Options {
  /** The AWS region (`us-east-1`); names the endpoint and the signing scope. */
  readonly region: string
  /**
   * Static credentials, or an AWS credential provider (any `@aws-sdk/credential-providers`
   * function: `fromIni({ profile })`, `fromSSO()`…). Default: the AWS SDK's Node chain.
   */
  readonly credentials?: Credentials | AwsCredentialIdentityProvider | undefined
  /** A Bedrock API key, sent as `Authorization: Bearer` instead of signing the request. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `https://bedrock-runtime.{region}.amazonaws.com`. */
  readonly baseUrl?: string | undefined
  /** Sent with every request (signed). */
  readonly headers?: Record<string, string> | undefined
  /** Transport retries (429, 5xx, resets): `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry` in `@agentfx/providers`). */
  readonly retry?: RetryOption.Option
  /** Whether the `@effect/platform` client makes its own `http.client` span (keys redacted). */
  readonly httpClientSpans?: boolean | undefined
}

type RequestError = AgentError.ModelHTTPError | AgentError.ModelAPIError

/** The client service: signed Converse and ConverseStream calls. */
export interface Service {
  /** The transport (also used to download file URLs Bedrock cannot read). */
  readonly httpClient: HttpClient.HttpClient
  readonly baseUrl: string
  readonly region: string
  readonly retry: Retry.RetryPolicy
  /** POSTs a Converse body and decodes the JSON answer with `decode`. */
  readonly converse: <A, E>(
    modelId: string,
    body: Record<string, unknown>,
    settings: ModelSettings.ModelSettings,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | RequestError>
  /** POSTs an InvokeModel body (`/model/{id}/invoke`: the model's own JSON, e.g. embeddings). */
  readonly invoke: <A, E>(
    modelId: string,
    body: Record<string, unknown>,
    settings: ModelSettings.ModelSettings,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | RequestError>
  /**
   * POSTs a CountTokens body (`/model/{base model id}/count-tokens`, `Bedrock.countTokensBody`)
   * and decodes the JSON answer with `decode`.
   */
  readonly countTokens: <A, E>(
    modelId: string,
    body: Record<string, unknown>,
    settings: ModelSettings.ModelSettings,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | RequestError>
  /** POSTs a ConverseStream body; the body is framed by the AWS event-stream decoder. */
  readonly converseStream: (
    modelId: string,
    body: Record<string, unknown>,
    settings: ModelSettings.ModelSettings
  ) => Effect.Effect<StreamBody.StreamBody, RequestError, Scope.Scope>
}

/** The Bedrock client a model talks through. */
export class BedrockClient extends Context.Tag("@agentfx/providers/BedrockClient")<
  BedrockClient,
  Service
>() {}

/** The Bedrock runtime endpoint of a region. */
export const endpointOf = (region: string): string =>
  `https://bedrock-runtime.${region}.amazonaws.com`

/** The Converse path of a model id, ARN or inference profile (URL-encoded once). */
export const conversePath = (modelId: string, stream: boolean): string =>
  `/model/${encodeURIComponent(modelId)}/${stream ? "converse-stream" : "converse"}`

/**
 * The model id without its cross-region inference profile prefix (`us.`, `eu.`, `apac.`,
 * `global.`…): CountTokens takes base model ids only.
 */
export const baseModelIdOf = (modelId: string): string =>
  modelId.replace(/^(?:us|us-gov|eu|apac|ap|jp|au|ca|global)\./, "")

/** The CountTokens path of a model id: its base model id, URL-encoded once. */
export const countTokensPath = (modelId: string): string =>
  `/model/${encodeURIComponent(baseModelIdOf(modelId))}/count-tokens`

/** The InvokeModel path of a model id (URL-encoded once). */
export const invokePath = (modelId: string): string =>
  `/model/${encodeURIComponent(modelId)}/invoke`

/** The event-stream codec, imported on the first ConverseStream call. */
const loadEventStream = (() => {
  let loaded: Promise<typeof EventStream> | undefined
  return () => (loaded ??= import("./internal/eventStream.js"))
})()

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service => {
  const baseUrl = Client.baseUrlOf(options.baseUrl, endpointOf(options.region))
  const retry = RetryOption.resolve(options.retry)
  const httpClientSpans = options.httpClientSpans === true
  const sign = Signer.makeSigner({
    region: options.region,
    service: "bedrock",
    credentials: options.credentials
  })

  /** The request of one call: URL, body text and (signed or bearer) headers. */
  const prepare = (
    modelId: string,
    body: Record<string, unknown>,
    settings: ModelSettings.ModelSettings,
    stream: boolean,
    path: string = conversePath(modelId, stream)
  ): Effect.Effect<Request.RequestOptions, AgentError.ModelAPIError> => {
    const url = `${baseUrl}${path}`
    const bodyText = JSON.stringify(Request.mergeExtraBody({ body, settings }))
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: stream ? "application/vnd.amazon.eventstream" : "application/json",
      ...options.headers
    }
    const request = (h: Record<string, string>): Request.RequestOptions => ({
      modelName: modelId,
      url,
      headers: h,
      body: undefined,
      bodyText,
      settings,
      retry,
      httpClientSpans
    })
    if (options.apiKey !== undefined) {
      return Effect.succeed(
        request(Client.setKey(headers, "authorization", options.apiKey, "Bearer "))
      )
    }
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({
        try: async () => {
          const signed = await sign({ method: "POST", url, headers, body: bodyText }, new Date(now))
          return request(signed)
        },
        // Never the request or the credentials: only what went wrong.
        catch: (e) =>
          new AgentError.ModelAPIError({
            modelName: modelId,
            reason: `AWS credentials could not be resolved or the request signed: ${
              e instanceof Error ? e.message : String(e)
            }`
          })
      })
    )
  }

  return {
    httpClient,
    baseUrl,
    region: options.region,
    retry,
    converse: (modelId, body, settings, decode) =>
      Effect.flatMap(prepare(modelId, body, settings, false), (request) =>
        Request.postJson(httpClient, request, decode)
      ),
    invoke: (modelId, body, settings, decode) =>
      Effect.flatMap(prepare(modelId, body, settings, false, invokePath(modelId)), (request) =>
        Request.postJson(httpClient, request, decode)
      ),
    countTokens: (modelId, body, settings, decode) =>
      Effect.flatMap(prepare(modelId, body, settings, false, countTokensPath(modelId)), (request) =>
        Request.postJson(httpClient, request, decode)
      ),
    converseStream: (modelId, body, settings) =>
      Effect.flatMap(prepare(modelId, body, settings, true), (request) =>
        Effect.flatMap(Effect.promise(loadEventStream), (eventStream) =>
          StreamBody.postSse(httpClient, request, eventStream.makeDecoder)
        )
      )
  }
}

/** Builds the service, requiring an `HttpClient`. */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => makeWith(client, options))

/** A layer of the client. */
export const layer = (options: Options): Layer.Layer<BedrockClient, never, HttpClient.HttpClient> =>
  Layer.effect(BedrockClient, make(options))

/** Options read from configuration. */
export interface ConfigOptions
  extends Omit<Options, "region" | "apiKey" | "baseUrl" | "credentials"> {
  /** Default `AWS_REGION` (or `AWS_DEFAULT_REGION`). */
  readonly region?: Config.Config<string> | undefined
  /** Default: `AWS_BEARER_TOKEN_BEDROCK` if set (else requests are signed). */
  readonly apiKey?: Config.Config<Redacted.Redacted | undefined> | undefined
  /** Default: the optional `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
  /** Explicit credentials or a provider; default: from configuration, then the Node chain. */
  readonly credentials?: Credentials | AwsCredentialIdentityProvider | undefined
}

/**
 * A layer reading its settings from configuration: the region from `AWS_REGION` (or
 * `AWS_DEFAULT_REGION`), a Bedrock API key from `AWS_BEARER_TOKEN_BEDROCK` if set, else static
 * credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` if set,
 * else the AWS SDK's Node chain (shared profile files, SSO, web identity, instance metadata);
 * the endpoint from `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` if set.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<BedrockClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    BedrockClient,
    Effect.gen(function* () {
      const region = yield* options.region ?? Signer.regionConfig
      const apiKey = yield* options.apiKey ?? Signer.apiKeyConfig
      const baseUrl = yield* options.baseUrl ??
        Client.optionalString("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
      const credentials =
        options.credentials ?? (apiKey === undefined ? yield* Signer.credentialsConfig : undefined)
      return yield* make({ ...options, region, apiKey, baseUrl, credentials })
    })
  )
