/**
 * Amazon Bedrock's OpenAI-compatible "mantle" endpoint (`https://bedrock-mantle.{region}.api.aws`)
 * as a `Model`: the models Bedrock serves there (OpenAI's GPT-5.x and gpt-oss, Qwen, DeepSeek,
 * Mistral…) over OpenAI Chat Completions, or the OpenAI Responses API for the models served
 * with it, authenticated with a Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`, sent as a bearer
 * token). The wire is OpenAI's, so the models are `OpenAiChat` / `OpenAiResponses` models on an
 * `OpenAiClient` pointed at the endpoint; this module picks the API and the path prefix.
 *
 * - API: `openai.gpt-5*` models use the Responses API (reasoning items round-trip, provider
 *   `openai` on their parts), every other model Chat Completions (provider `bedrock-mantle`);
 *   `api` overrides it.
 * - Path prefix: mantle serves most models under `/v1` and OpenAI's GPT-5.x under `/openai/v1`
 *   (a wrong prefix is refused with "model … isn't supported on this route"); `pathPrefix`
 *   overrides it.
 *
 * Without an API key, requests are signed with AWS Signature V4 (service `bedrock-mantle`) by the
 * signer `Bedrock` uses (`@smithy/signature-v4`), with credentials given explicitly, by any AWS
 * credential provider, or from the AWS SDK's Node chain (environment, profiles, SSO…); each
 * attempt (retries too) is signed afresh.
 *
 * @example
 * ```ts
 * import { BedrockMantle } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = BedrockMantle.model("openai.gpt-oss-120b").pipe(
 *   Layer.provide(BedrockMantle.layerConfig()), // AWS_REGION, AWS_BEARER_TOKEN_BEDROCK
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { Model, type ModelSettings } from "@agentfx/core"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Signer from "./internal/awsSigner.js"
import * as Client from "./internal/client.js"
import * as OpenAiChat from "./OpenAiChat.js"
import * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiResponses from "./OpenAiResponses.js"
import type * as RetryOption from "./Retry.js"

/** The provider name of Chat Completions models on mantle. */
export const providerName = "bedrock-mantle"

/** The mantle endpoint of a region. */
export const endpointOf = (region: string): string => `https://bedrock-mantle.${region}.api.aws`

/** Which OpenAI API a model is used through. */
export type Api = "chat" | "responses"

/** The API of a model: Responses for OpenAI's GPT-5.x, Chat Completions for the others. */
export const apiOf = (modelId: string): Api =>
  /^openai\.gpt-5/.test(modelId) ? "responses" : "chat"

/** The path prefix a model is served under: `/openai/v1` for OpenAI's GPT-5.x, else `/v1`. */
export const pathPrefixOf = (modelId: string): string =>
  /^openai\.gpt-5/.test(modelId) ? "/openai/v1" : "/v1"

/** The Chat Completions profile of a mantle model (gpt-oss and Qwen / DeepSeek reason). */
export const chatProfile = (modelId: string): OpenAiChat.ChatProfile => ({
  ...OpenAiChat.compatibleProfile,
  supportsThinking: /gpt-oss|qwen|deepseek|kimi|glm/.test(modelId)
})

/** How to reach mantle. */
export interface ClientOptions {
  /** The AWS region (`us-east-1`), naming the endpoint. */
  readonly region: string
  /** A Bedrock API key, sent as `Authorization: Bearer`; without one, requests are signed (SigV4). */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * For SigV4 (no `apiKey`): static credentials, or an AWS credential provider (`fromIni`,
   * `fromSSO()`…). Default: the AWS SDK's Node chain.
   */
  readonly credentials?: Signer.CredentialsOption
  /** Default `https://bedrock-mantle.{region}.api.aws`. */
  readonly baseUrl?: string | undefined
  /** Sent with every request. */
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry`). */
  readonly retry?: RetryOption.Option
  /** Whether the `@effect/platform` client makes its own `http.client` span (default `false`). */
  readonly httpClientSpans?: boolean | undefined
}

/** The mantle client: its options and the transport; models build their OpenAI client from it. */
export interface ClientService {
  readonly options: ClientOptions
  readonly httpClient: HttpClient.HttpClient
}

/** The mantle client a model talks through. */
export class BedrockMantleClient extends Context.Tag("@agentfx/providers/BedrockMantleClient")<
  BedrockMantleClient,
  ClientService
>() {}

/** A layer of the client from explicit options. */
export const layer = (
  options: ClientOptions
): Layer.Layer<BedrockMantleClient, never, HttpClient.HttpClient> =>
  Layer.effect(
    BedrockMantleClient,
    Effect.map(HttpClient.HttpClient, (httpClient) => ({ options, httpClient }))
  )

/** Options read from configuration. */
export interface ConfigOptions extends Omit<ClientOptions, "region" | "apiKey" | "baseUrl"> {
  /** Default `AWS_REGION` (or `AWS_DEFAULT_REGION`). */
  readonly region?: Config.Config<string> | undefined
  /** Default: `AWS_BEARER_TOKEN_BEDROCK` if set (else requests are signed). */
  readonly apiKey?: Config.Config<Redacted.Redacted | undefined> | undefined
  /** Default: the optional `AWS_ENDPOINT_URL_BEDROCK_MANTLE`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/**
 * A layer reading the region (`AWS_REGION`, or `AWS_DEFAULT_REGION`), a Bedrock API key from
 * `AWS_BEARER_TOKEN_BEDROCK` if set, else (SigV4) static credentials from `AWS_ACCESS_KEY_ID` /
 * `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` if set, else the AWS SDK's Node chain; the
 * endpoint from `AWS_ENDPOINT_URL_BEDROCK_MANTLE` if set.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<BedrockMantleClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    BedrockMantleClient,
    Effect.gen(function* () {
      const region = yield* options.region ??
        Config.string("AWS_REGION").pipe(Config.orElse(() => Config.string("AWS_DEFAULT_REGION")))
      const apiKey = yield* options.apiKey ?? Signer.apiKeyConfig
      const baseUrl = yield* options.baseUrl ??
        Client.optionalString("AWS_ENDPOINT_URL_BEDROCK_MANTLE")
      const credentials =
        options.credentials ?? (apiKey === undefined ? yield* Signer.credentialsConfig : undefined)
      const httpClient = yield* HttpClient.HttpClient
      return { options: { ...options, region, apiKey, baseUrl, credentials }, httpClient }
    })
  )

/** Options of a mantle model. */
export interface Options {
  /** Settings of the model itself; the run's settings are merged over them. */
  readonly settings?: ModelSettings.ModelSettings | undefined
  /** The API (default `apiOf(modelId)`). */
  readonly api?: Api | undefined
  /** The path prefix (default `pathPrefixOf(modelId)`). */
  readonly pathPrefix?: string | undefined
  /** Overrides of the Chat Completions profile. */
  readonly profile?: Partial<OpenAiChat.ChatProfile> | undefined
}

/** The AWS SigV4 service name of the mantle endpoint. */
export const signingService = "bedrock-mantle"

/**
 * The transport signing each request (every attempt) with SigV4 for mantle; a failure to
 * resolve the credentials fails the request (not retried), naming no secret.
 */
export const signingClient = (
  httpClient: HttpClient.HttpClient,
  region: string,
  credentials: Signer.CredentialsOption
): HttpClient.HttpClient => {
  const sign = Signer.makeSigner({ region, service: signingService, credentials })
  return HttpClient.mapRequestEffect(httpClient, (request) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({
        try: async () => {
          const url = new URL(request.url)
          for (const [k, v] of request.urlParams) url.searchParams.append(k, v)
          const body = request.body._tag === "Uint8Array" ? request.body.body : ""
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(request.headers))
            if (k !== "authorization") headers[k] = v
          if (request.body._tag === "Uint8Array") headers["content-type"] = request.body.contentType
          const signed = await sign(
            { method: request.method, url: url.toString(), headers, body },
            new Date(now)
          )
          return HttpClientRequest.setHeaders(request, signed)
        },
        catch: (e) =>
          new HttpClientError.RequestError({
            request,
            reason: "Encode",
            cause: new Error(
              `AWS credentials could not be resolved or the request signed: ${
                e instanceof Error ? e.message : String(e)
              }`
            )
          })
      })
    )
  )
}

/** Builds the model service from a client. */
export const makeWith = (
  client: ClientService,
  modelId: string,
  options: Options = {}
): Effect.Effect<Model.Service> => {
  const o = client.options
  const http =
    o.apiKey === undefined
      ? signingClient(client.httpClient, o.region, o.credentials)
      : client.httpClient
  const openAi = OpenAiClient.makeWith(http, {
    apiKey: o.apiKey,
    baseUrl: `${Client.baseUrlOf(o.baseUrl, endpointOf(o.region))}${options.pathPrefix ?? pathPrefixOf(modelId)}`,
    headers: o.headers,
    retry: o.retry,
    httpClientSpans: o.httpClientSpans
  })
  const settings = options.settings !== undefined ? { settings: options.settings } : {}
  if ((options.api ?? apiOf(modelId)) === "responses")
    // Mantle has no recorded `responses/input_tokens`: no `countTokens` (budgets estimate).
    return Effect.succeed({
      ...OpenAiResponses.makeWith(openAi, modelId, settings),
      countTokens: undefined
    })
  return Effect.provideService(
    OpenAiChat.make(modelId, {
      ...settings,
      system: providerName,
      profile: { ...chatProfile(modelId), ...options.profile }
    }),
    OpenAiClient.OpenAiClient,
    openAi
  )
}

/** Builds a mantle model service from the `BedrockMantleClient` in context. */
export const make = (
  modelId: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, BedrockMantleClient> =>
  Effect.flatMap(BedrockMantleClient, (client) => makeWith(client, modelId, options))

/** A layer providing `Model.Model` backed by a mantle model. */
export const model = (
  modelId: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, BedrockMantleClient> =>
  Layer.effect(Model.Model, make(modelId, options))

/** The factory the model registry calls for `"bedrock-mantle:<model id>"` strings. */
export const fromModelString = (
  modelId: string
): Effect.Effect<Model.Service, never, BedrockMantleClient> => make(modelId)
