/**
 * Snowflake Cortex (`https://<account>.snowflakecomputing.com/api/v2/cortex/v1`, Chat
 * Completions): Claude, OpenAI, Llama, Mistral, DeepSeek and Snowflake's own models, run inside
 * your Snowflake account (pydantic-ai's `SnowflakeModel` / `SnowflakeModelSettings`).
 *
 * Per model family, as Cortex serves them: Claude models take `reasoning` (`snowflakeReasoning`,
 * or the portable `thinking` setting as an effort level or a token budget; `temperature: 1` is
 * sent with it unless you set one), give JSON Schema output only, and return their reasoning as
 * `reasoning_details` (`ThinkingPart`s, sent back as they came); OpenAI models (`openai-…`) get
 * the OpenAI profile of their name; other families take no tools and no `response_format`, so
 * structured output is prompted. No tool definition is sent `strict` (Cortex does not document
 * it). The key is a programmatic access token, OAuth token or key-pair JWT (`Bearer`).
 *
 * No client of its own: a Cortex model talks through an `OpenAiClient`; `layer` / `layerConfig`
 * here build one at the account's Cortex URL with its token.
 *
 * @example
 * ```ts
 * import { Snowflake } from "@agentfx/providers"
 *
 * // SNOWFLAKE_ACCOUNT (e.g. myorg-myaccount) and SNOWFLAKE_TOKEN from the environment:
 * const ModelLive = Snowflake.model("claude-sonnet-4-5", {
 *   settings: { snowflakeReasoning: { effort: "high" } }
 * }).pipe(Layer.provide(Snowflake.layerConfig()))
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { AgentError, Model, ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as OpenAiChat from "./OpenAiChat.js"
import * as OpenAiClient from "./OpenAiClient.js"
import type * as OpenAiCompatible from "./OpenAiCompatible.js"
import * as Client from "./internal/client.js"
import * as SnowflakeWire from "./internal/snowflake.js"
import { secret } from "./internal/secret.js"

/** Cortex's `reasoning` object (Claude models): an effort level or a token budget. */
export type Reasoning =
  | { readonly effort: "low" | "medium" | "high" }
  | { readonly max_tokens: number }

/** Settings of a Snowflake Cortex model: the portable ones plus Cortex's own. */
export interface Settings extends ModelSettings.ModelSettings {
  /**
   * Reasoning of Claude models (`reasoning`). Without it, the portable `thinking` setting is sent
   * as an effort (`true` → medium, `minimal` → low) or a token budget (`max_tokens`).
   */
  readonly snowflakeReasoning?: Reasoning | undefined
}

/** The profile of a model on Cortex, by name. */
export const profile = (modelName: string): OpenAiChat.ChatProfile => {
  const cortex = {
    supportsStrictTools: false,
    requestFields: SnowflakeWire.requestFields(modelName)
  }
  if (SnowflakeWire.isOpenAi(modelName)) {
    return {
      ...OpenAiChat.openAiProfile(modelName.slice("openai-".length)),
      ...cortex,
      builtinTools: undefined,
      promptCacheBreakpoints: false
    }
  }
  if (SnowflakeWire.isClaude(modelName)) {
    return {
      ...OpenAiChat.compatibleProfile,
      ...cortex,
      supportsJsonSchemaOutput: true,
      supportsJsonObjectOutput: false,
      supportsThinking: true
    }
  }
  return {
    ...OpenAiChat.compatibleProfile,
    ...cortex,
    supportsTools: false,
    supportsJsonSchemaOutput: false,
    supportsJsonObjectOutput: false,
    defaultStructuredOutputMode: "prompted"
  }
}

/** The vendor entry of the Cortex endpoint at `baseUrl`. */
export const vendor = (baseUrl: string): OpenAiCompatible.Vendor => ({
  name: "snowflake",
  baseUrl,
  apiKeyEnv: "SNOWFLAKE_TOKEN",
  profile
})

/** Where Cortex is: an account identifier (`myorg-myaccount`), or the base URL itself. */
export type Endpoint = { readonly account: string } | { readonly baseUrl: string }

/** Client options of Snowflake Cortex: the OpenAI client's, with the account or base URL. */
export type ClientOptions = Omit<OpenAiClient.Options, "apiKey" | "baseUrl"> & Endpoint

const baseUrlOf = (endpoint: Endpoint): string | AgentError.UserError =>
  "baseUrl" in endpoint ? endpoint.baseUrl : SnowflakeWire.baseUrlOf(endpoint.account)

const clientLayer = (
  options: ClientOptions,
  apiKey: Redacted.Redacted
): Layer.Layer<OpenAiClient.OpenAiClient, AgentError.UserError, HttpClient.HttpClient> => {
  const {
    account: _a,
    baseUrl: _b,
    ...rest
  } = options as ClientOptions & {
    account?: string
    baseUrl?: string
  }
  const baseUrl = baseUrlOf(options)
  if (typeof baseUrl !== "string") return Layer.fail(baseUrl)
  return OpenAiClient.layer({ ...rest, apiKey, baseUrl })
}

/**
 * A Cortex client layer with this token; an account identifier that is not one (which would send
 * the token to another host) fails the layer with a `UserError`.
 */
export const layer = (
  options: ClientOptions & { readonly apiKey: Redacted.Redacted }
): Layer.Layer<OpenAiClient.OpenAiClient, AgentError.UserError, HttpClient.HttpClient> =>
  clientLayer(options, options.apiKey)

/**
 * A Cortex client layer from configuration: the token from `SNOWFLAKE_TOKEN` (or `apiKey`), the
 * account from `SNOWFLAKE_ACCOUNT` unless `account` or `baseUrl` is given.
 */
export const layerConfig = (
  options: Omit<OpenAiClient.Options, "apiKey" | "baseUrl"> & {
    readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
    readonly account?: string | undefined
    readonly baseUrl?: string | undefined
  } = {}
): Layer.Layer<
  OpenAiClient.OpenAiClient,
  ConfigError.ConfigError | AgentError.UserError,
  HttpClient.HttpClient
> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const { apiKey: keyOption, account, baseUrl, ...rest } = options
      const apiKey = yield* Client.keyConfig(keyOption ?? secret("SNOWFLAKE_TOKEN"), "snowflake")
      const endpoint: Endpoint =
        baseUrl !== undefined
          ? { baseUrl }
          : { account: account ?? (yield* Config.string("SNOWFLAKE_ACCOUNT")) }
      return clientLayer({ ...rest, ...endpoint }, apiKey)
    })
  )

/** Options of a Cortex model: Chat Completions model options with Cortex's settings. */
export interface ModelOptions extends Omit<OpenAiChat.ModelOptions, "settings"> {
  readonly settings?: Settings | undefined
}

const modelOptions = (modelName: string, options: ModelOptions): OpenAiChat.ModelOptions => ({
  ...options,
  system: options.system ?? "snowflake",
  profile: { ...profile(modelName), ...options.profile }
})

/** A Cortex model by name (`claude-sonnet-4-5`, `openai-gpt-5`, `llama3.1-70b`…). */
export const model = (
  modelName: string,
  options: ModelOptions = {}
): Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> =>
  OpenAiChat.model(modelName, modelOptions(modelName, options))

/** The model for `snowflake:<name>` (`ModelRegistry`); requires a Cortex `OpenAiClient`. */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, OpenAiClient.OpenAiClient> =>
  OpenAiChat.make(modelName, modelOptions(modelName, {}))
