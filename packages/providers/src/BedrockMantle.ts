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
 * The client is `BedrockMantleClient`: region, endpoint, the API key, or else AWS Signature V4
 * (service `bedrock-mantle`) by the signer `BedrockClient` uses, with credentials given
 * explicitly, by any AWS credential provider, or from the AWS SDK's Node chain. The client's names
 * are re-exported here, deprecated; `layer` and `layerConfig` stay, so `BedrockMantle` alone
 * covers the common case.
 *
 * @example
 * ```ts
 * import { BedrockMantle, BedrockMantleClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = BedrockMantle.model("openai.gpt-oss-120b").pipe(
 *   Layer.provide(BedrockMantleClient.layerConfig()), // AWS_REGION, AWS_BEARER_TOKEN_BEDROCK
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Model, type ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BedrockMantleClientModule from "./BedrockMantleClient.js"
import { BedrockMantleClient } from "./BedrockMantleClient.js"
import * as OpenAiChat from "./OpenAiChat.js"
import * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiResponses from "./OpenAiResponses.js"

/** The provider name of Chat Completions models on mantle. */
export const providerName = "bedrock-mantle"

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
  client: BedrockMantleClientModule.Service,
  modelId: string,
  options: Options = {}
): Effect.Effect<Model.Service> => {
  const openAi = BedrockMantleClientModule.openAiClientOf(
    client,
    options.pathPrefix ?? pathPrefixOf(modelId)
  )
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

/** The mantle client layer (same as `BedrockMantleClient.layer`). */
export const layer = BedrockMantleClientModule.layer

/** The mantle client layer from configuration (same as `BedrockMantleClient.layerConfig`). */
export const layerConfig = BedrockMantleClientModule.layerConfig

// ---------------------------------------------------------------------------
// The client under its old names here (deprecated: it lives in `BedrockMantleClient`)
// ---------------------------------------------------------------------------

export {
  /** @deprecated Moved to `BedrockMantleClient.BedrockMantleClient`. The client a model talks through. */
  BedrockMantleClient,
  /** @deprecated Moved to `BedrockMantleClient.endpointOf`. The mantle endpoint of a region. */
  endpointOf,
  /** @deprecated Moved to `BedrockMantleClient.signingService`. The AWS SigV4 service name of mantle. */
  signingService,
  /** @deprecated Moved to `BedrockMantleClient.signingClient`. The transport signing each request. */
  signingClient
} from "./BedrockMantleClient.js"

/** @deprecated Moved to `BedrockMantleClient.Options`. How to reach mantle. */
export type ClientOptions = BedrockMantleClientModule.Options

/** @deprecated Moved to `BedrockMantleClient.Service`. The mantle client. */
export type ClientService = BedrockMantleClientModule.Service

/** @deprecated Moved to `BedrockMantleClient.ConfigOptions`. Options read from configuration. */
export type ConfigOptions = BedrockMantleClientModule.ConfigOptions
