/**
 * OpenRouter (`https://openrouter.ai/api/v1`, Chat Completions): any of its models by
 * `vendor/model` name, with OpenRouter's own settings — fallback models, provider routing,
 * presets, transforms, reasoning and usage accounting (pydantic-ai's `OpenRouterModel` /
 * `OpenRouterModelSettings`).
 *
 * What comes back beyond the Chat Completions fields: the model that answered as the
 * response's `modelName` (a fallback model when one was used), the provider that served it as
 * `providerDetails.downstream_provider`, that provider's own finish reason as
 * `providerDetails.native_finish_reason`, and OpenRouter's charge for the request as
 * `usage.cost` (US dollars, when OpenRouter reports it). An error OpenRouter answers with a
 * status 200 (`{ error: { code, message } }`) is a `ModelHTTPError` with that code, so
 * retries and `FallbackModel` treat a 429 or a 5xx as such.
 *
 * No client of its own: an OpenRouter model talks through an `OpenAiClient`; `layer` /
 * `layerConfig` here build one at OpenRouter's base URL with its key (`OPENROUTER_API_KEY`) and
 * the app attribution headers.
 *
 * @example
 * ```ts
 * import { OpenRouter } from "@agentfx/providers"
 *
 * const settings: OpenRouter.Settings = {
 *   openrouterModels: ["anthropic/claude-sonnet-4.5"],
 *   openrouterProvider: { order: ["anthropic"], allow_fallbacks: false },
 *   openrouterTransforms: ["middle-out"]
 * }
 * const ModelLive = OpenRouter.model("openai/gpt-5-mini", { settings }).pipe(
 *   Layer.provide(OpenRouter.layerConfig({ appUrl: "https://example.com", appTitle: "Example" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Model, ModelSettings } from "@agentfx/core"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as OpenAiChat from "./OpenAiChat.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/**
 * Which providers may serve a request and how they are chosen (OpenRouter's `provider`
 * object, in its own field names). Fields OpenRouter adds later pass through as they are.
 */
export interface ProviderRouting {
  /** Providers to try first, in this order (e.g. `["anthropic", "amazon-bedrock"]`). */
  readonly order?: ReadonlyArray<string> | undefined
  /** Whether other providers may serve the request when those fail (default true). */
  readonly allow_fallbacks?: boolean | undefined
  /** Only providers that support every parameter of the request. */
  readonly require_parameters?: boolean | undefined
  /** `deny`: only providers that do not store or train on the data. */
  readonly data_collection?: "allow" | "deny" | undefined
  /** Only zero-data-retention endpoints. */
  readonly zdr?: boolean | undefined
  /** Only these providers. */
  readonly only?: ReadonlyArray<string> | undefined
  /** Never these providers. */
  readonly ignore?: ReadonlyArray<string> | undefined
  /** Only these quantizations (`int4`, `fp8`, …). */
  readonly quantizations?: ReadonlyArray<string> | undefined
  /** Rank providers by price, throughput or latency instead of OpenRouter's default. */
  readonly sort?: "price" | "throughput" | "latency" | undefined
  /** The most to pay, in US dollars per million tokens (`prompt`, `completion`, …). */
  readonly max_price?: Readonly<Record<string, number>> | undefined
  readonly [field: string]: unknown
}

/** OpenRouter's `reasoning` object. */
export interface Reasoning {
  readonly effort?: "xhigh" | "high" | "medium" | "low" | "minimal" | "none" | undefined
  /** A token budget for the reasoning (models that take one). */
  readonly max_tokens?: number | undefined
  /** Reason, but leave the reasoning out of the response. */
  readonly exclude?: boolean | undefined
  readonly enabled?: boolean | undefined
}

/** Settings of an OpenRouter model: the portable ones plus OpenRouter's own. */
export interface Settings extends ModelSettings.ModelSettings {
  /** Models to fall back to, in order, when the first is unavailable (`models`). */
  readonly openrouterModels?: ReadonlyArray<string> | undefined
  /** Provider routing (`provider`). */
  readonly openrouterProvider?: ProviderRouting | undefined
  /** A preset configured on openrouter.ai (`preset`, e.g. `@preset/my-preset`). */
  readonly openrouterPreset?: string | undefined
  /** Prompt transforms (`transforms`, e.g. `["middle-out"]`; `[]` turns the default off). */
  readonly openrouterTransforms?: ReadonlyArray<string> | undefined
  /**
   * Reasoning (`reasoning`). Without it, the portable `thinking` setting is sent as OpenRouter's
   * reasoning: `false` as `effort: "none"`, `true` as medium effort, an effort level as such,
   * a token budget as `max_tokens`.
   */
  readonly openrouterReasoning?: Reasoning | undefined
  /** Usage accounting (`usage: { include: true }`: the cost comes back in `usage.cost`). */
  readonly openrouterUsage?: { readonly include: boolean } | undefined
}

/** The vendor entry (`OpenAiCompatible.vendors.openrouter`). */
export const vendor: OpenAiCompatible.Vendor = OpenAiCompatible.vendors.openrouter!

/** Client options of OpenRouter: the OpenAI client's, plus app attribution. */
export interface ClientOptions extends Omit<OpenAiClient.Options, "apiKey"> {
  /** Your app's URL, sent as `HTTP-Referer` (OpenRouter's app attribution). */
  readonly appUrl?: string | undefined
  /** Your app's name, sent as `X-Title`. */
  readonly appTitle?: string | undefined
}

const withAttribution = <O extends ClientOptions>(options: O): Omit<O, "appUrl" | "appTitle"> => {
  const { appUrl, appTitle, ...rest } = options
  if (appUrl === undefined && appTitle === undefined) return rest
  return {
    ...rest,
    headers: {
      ...(appUrl !== undefined ? { "HTTP-Referer": appUrl } : {}),
      ...(appTitle !== undefined ? { "X-Title": appTitle } : {}),
      ...rest.headers
    }
  }
}

/** An OpenRouter client layer with this key. */
export const layer = (
  options: ClientOptions & { readonly apiKey: Redacted.Redacted }
): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient> =>
  OpenAiCompatible.layer(vendor, withAttribution(options))

/** An OpenRouter client layer reading `OPENROUTER_API_KEY` (or `apiKey`) from configuration. */
export const layerConfig = (
  options: ClientOptions & {
    readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
  } = {}
): Layer.Layer<OpenAiClient.OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  OpenAiCompatible.layerConfig(vendor, withAttribution(options))

/** Options of an OpenRouter model: Chat Completions model options with OpenRouter's settings. */
export interface ModelOptions extends Omit<OpenAiChat.ModelOptions, "settings"> {
  readonly settings?: Settings | undefined
}

/** An OpenRouter model by name (`vendor/model`); requires an OpenRouter `OpenAiClient`. */
export const model = (
  modelName: string,
  options: ModelOptions = {}
): Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> =>
  OpenAiCompatible.model(vendor, modelName, options)
