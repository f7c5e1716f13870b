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
 * Signing mantle requests with AWS credentials (SigV4) is not supported: use an API key, or the
 * Converse API (`Bedrock`) with the credential chain.
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
import { Model, type ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
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
  /** A Bedrock API key, sent as `Authorization: Bearer`. */
  readonly apiKey: Redacted.Redacted
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
  /** Default `Config.redacted("AWS_BEARER_TOKEN_BEDROCK")`. */
  readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
  /** Default: the optional `AWS_ENDPOINT_URL_BEDROCK_MANTLE`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/** A layer reading the region (`AWS_REGION`) and the Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`). */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<BedrockMantleClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    BedrockMantleClient,
    Effect.gen(function* () {
      const region = yield* options.region ??
        Config.string("AWS_REGION").pipe(Config.orElse(() => Config.string("AWS_DEFAULT_REGION")))
      const apiKey = yield* Client.keyConfig(
        options.apiKey ?? Config.redacted("AWS_BEARER_TOKEN_BEDROCK"),
        "Bedrock mantle"
      )
      const baseUrl = yield* options.baseUrl ??
        Client.optionalString("AWS_ENDPOINT_URL_BEDROCK_MANTLE")
      const httpClient = yield* HttpClient.HttpClient
      return { options: { ...options, region, apiKey, baseUrl }, httpClient }
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

/** Builds the model service from a client. */
export const makeWith = (
  client: ClientService,
  modelId: string,
  options: Options = {}
): Effect.Effect<Model.Service> => {
  const o = client.options
  const openAi = OpenAiClient.makeWith(client.httpClient, {
    apiKey: o.apiKey,
    baseUrl: `${Client.baseUrlOf(o.baseUrl, endpointOf(o.region))}${options.pathPrefix ?? pathPrefixOf(modelId)}`,
    headers: o.headers,
    retry: o.retry,
    httpClientSpans: o.httpClientSpans
  })
  const settings = options.settings !== undefined ? { settings: options.settings } : {}
  if ((options.api ?? apiOf(modelId)) === "responses")
    return Effect.succeed(OpenAiResponses.makeWith(openAi, modelId, settings))
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
