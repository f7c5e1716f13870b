/**
 * OpenAI-compatible vendors: the Chat Completions client pointed at another base URL, with a
 * small per-vendor profile (where reasoning comes back, whether strict tools are accepted,
 * which max-tokens field…). Ollama, vLLM and any local server need no key.
 *
 * No client of its own: every vendor's model talks through an `OpenAiClient`; `layer(vendor)` /
 * `layerConfig(vendor)` (and `azureLayer`) build one with the vendor's base URL and key.
 *
 * @example
 * ```ts
 * import { OpenAiCompatible } from "@agentfx/providers"
 * // Ollama on localhost:
 * const ModelLive = OpenAiCompatible.model("ollama", "llama3.2").pipe(
 *   Layer.provide(OpenAiCompatible.layer("ollama")),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * // DeepSeek with DEEPSEEK_API_KEY from the environment:
 * const DeepSeek = OpenAiCompatible.model("deepseek", "deepseek-chat").pipe(
 *   Layer.provide(OpenAiCompatible.layerConfig("deepseek"))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Model, ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as OpenAiChat from "./OpenAiChat.js"
import * as OpenAiClient from "./OpenAiClient.js"
import * as Client from "./internal/client.js"
import * as CerebrasWire from "./internal/cerebras.js"
import * as GroqWire from "./internal/groq.js"
import * as OpenRouterWire from "./internal/openrouter.js"
import * as ZaiWire from "./internal/zai.js"
import { secret } from "./internal/secret.js"

/** A vendor speaking the OpenAI Chat Completions protocol. */
export interface Vendor {
  /** Provider name on responses and spans (`deepseek`, `groq`…). */
  readonly name: string
  readonly baseUrl: string
  /** Environment variable of the API key; `undefined` for keyless local servers. */
  readonly apiKeyEnv: string | undefined
  /** Environment variable overriding the base URL. */
  readonly baseUrlEnv?: string | undefined
  /** The profile of one of the vendor's models. */
  readonly profile: (modelName: string) => OpenAiChat.ChatProfile
}

const compat =
  (overrides: Partial<OpenAiChat.ChatProfile> = {}) =>
  (_modelName: string) => ({
    ...OpenAiChat.compatibleProfile,
    ...overrides
  })

/** The built-in vendors. */
export const vendors: Readonly<Record<string, Vendor>> = {
  ollama: {
    name: "ollama",
    baseUrl: "http://localhost:11434/v1",
    apiKeyEnv: undefined,
    baseUrlEnv: "OLLAMA_BASE_URL",
    profile: compat({ supportsThinking: true })
  },
  vllm: {
    name: "vllm",
    baseUrl: "http://localhost:8000/v1",
    apiKeyEnv: undefined,
    baseUrlEnv: "VLLM_BASE_URL",
    profile: compat()
  },
  deepseek: {
    name: "deepseek",
    baseUrl: "https://api.deepseek.com",
    apiKeyEnv: "DEEPSEEK_API_KEY",
    // DeepSeek's thinking mode wants its `reasoning_content` back with tool-call turns.
    profile: compat({ supportsThinking: true, sendThinkingField: "reasoning_content" })
  },
  openrouter: {
    name: "openrouter",
    baseUrl: "https://openrouter.ai/api/v1",
    apiKeyEnv: "OPENROUTER_API_KEY",
    // Cache breakpoints go on to Anthropic and Gemini models; Gemini's reject a `ttl`.
    profile: (modelName) => ({
      ...compat({
        maxTokensField: "max_completion_tokens",
        supportsThinking: true,
        sendThinkingField: "reasoning",
        documentUrlAsFileData: true,
        videoUrl: true
      })(modelName),
      cacheControl: modelName.startsWith("google/") ? "without-ttl" : "with-ttl",
      builtinTools: "openrouter",
      // routing, fallback models, presets, transforms, reasoning, usage (`OpenRouter.Settings`)
      requestFields: OpenRouterWire.requestFields
    })
  },
  groq: {
    name: "groq",
    baseUrl: "https://api.groq.com/openai/v1",
    apiKeyEnv: "GROQ_API_KEY",
    // Qwen3 and other open reasoning models inline their thinking in <think> tags.
    // `reasoning_effort` / `reasoning_format` from `thinking` / `Groq.Settings`.
    profile: (modelName) => ({
      ...compat({
        maxTokensField: "max_completion_tokens",
        supportsStreamOptions: false,
        builtinTools: "groq",
        thinkingTags: ["<think>", "</think>"]
      })(modelName),
      requestFields: GroqWire.requestFields(modelName)
    })
  },
  together: {
    name: "together",
    baseUrl: "https://api.together.xyz/v1",
    apiKeyEnv: "TOGETHER_API_KEY",
    profile: compat()
  },
  fireworks: {
    name: "fireworks",
    baseUrl: "https://api.fireworks.ai/inference/v1",
    apiKeyEnv: "FIREWORKS_API_KEY",
    profile: compat()
  },
  cerebras: {
    name: "cerebras",
    baseUrl: "https://api.cerebras.ai/v1",
    apiKeyEnv: "CEREBRAS_API_KEY",
    // Reasoning models (gpt-oss, zai-glm) take their thinking back in `reasoning`; reasoning
    // on / off from `thinking` / `Cerebras.Settings`.
    profile: (modelName) => ({
      ...compat({ maxTokensField: "max_completion_tokens", sendThinkingField: "reasoning" })(
        modelName
      ),
      requestFields: CerebrasWire.requestFields(modelName)
    })
  },
  zai: {
    name: "zai",
    baseUrl: "https://api.z.ai/api/paas/v4",
    apiKeyEnv: "ZAI_API_KEY",
    // GLM's preserved thinking: `reasoning_content` goes back with the history; `thinking` and
    // `reasoning_effort` from `thinking` / `Zai.Settings`.
    profile: (modelName) => ({
      ...compat({ sendThinkingField: "reasoning_content" })(modelName),
      supportsThinking: ZaiWire.thinks(modelName),
      requestFields: ZaiWire.requestFields(modelName)
    })
  },
  xai: {
    name: "xai",
    baseUrl: "https://api.x.ai/v1",
    apiKeyEnv: "XAI_API_KEY",
    // Grok's reasoning comes back in `reasoning_content`; the effort each model takes differs
    // (grok-3-mini low / high, later models more, some none), so it is not derived from
    // `thinking`: send it with `extraBody: { reasoning_effort }`.
    profile: compat({ maxTokensField: "max_completion_tokens" })
  },
  crusoe: {
    name: "crusoe",
    baseUrl: "https://api.inference.crusoecloud.com/v1",
    apiKeyEnv: "CRUSOE_API_KEY",
    profile: compat({ supportsThinking: true, sendThinkingField: "reasoning" })
  },
  huggingface: {
    name: "huggingface",
    baseUrl: "https://router.huggingface.co/v1",
    apiKeyEnv: "HF_TOKEN",
    // DeepSeek-R1, Qwen3 and other open reasoning models inline their thinking in <think> tags.
    profile: compat({ thinkingTags: ["<think>", "</think>"] })
  }
}

/** Looks a vendor up by name, or returns the names known. */
export const vendor = (name: string): Vendor | undefined => vendors[name]

/** Client options for a vendor (its base URL; the key and the rest from `options`). */
export const clientOptions = (
  v: Vendor,
  options: OpenAiClient.Options = {}
): OpenAiClient.Options => ({
  ...options,
  baseUrl: options.baseUrl ?? v.baseUrl
})

/** A client layer for a vendor. */
export const layer = (
  vendorName: string | Vendor,
  options: OpenAiClient.Options = {}
): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient> => {
  const v = typeof vendorName === "string" ? vendors[vendorName] : vendorName
  if (v === undefined)
    return Layer.die(new Error(`Unknown OpenAI-compatible vendor: ${String(vendorName)}`))
  return OpenAiClient.layer(clientOptions(v, options))
}

/**
 * A client layer reading the vendor's key (e.g. `DEEPSEEK_API_KEY`) and optional base-URL
 * override from configuration. Keyless vendors (Ollama, vLLM) read no key.
 */
export const layerConfig = (
  vendorName: string | Vendor,
  options: Omit<OpenAiClient.Options, "apiKey"> & {
    readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
  } = {}
): Layer.Layer<OpenAiClient.OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> => {
  const v = typeof vendorName === "string" ? vendors[vendorName] : vendorName
  if (v === undefined)
    return Layer.die(new Error(`Unknown OpenAI-compatible vendor: ${String(vendorName)}`))
  return Layer.unwrapEffect(
    Effect.gen(function* () {
      const { apiKey: apiKeyConfig, ...rest } = options
      const keyConfig =
        apiKeyConfig ?? (v.apiKeyEnv !== undefined ? secret(v.apiKeyEnv) : undefined)
      const apiKey =
        keyConfig === undefined ? undefined : yield* Client.keyConfig(keyConfig, v.name)
      const baseUrl =
        options.baseUrl ??
        (v.baseUrlEnv !== undefined
          ? Option.getOrUndefined(yield* Config.option(Config.string(v.baseUrlEnv)))
          : undefined)
      return OpenAiClient.layer(
        clientOptions(v, {
          ...rest,
          ...(apiKey !== undefined ? { apiKey } : {}),
          ...(baseUrl ? { baseUrl } : {})
        })
      )
    })
  )
}

/** A Chat Completions model of a vendor; requires the vendor's `OpenAiClient`. */
export const model = (
  vendorName: string | Vendor,
  modelName: string,
  options: OpenAiChat.ModelOptions = {}
): Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> => {
  const v = typeof vendorName === "string" ? vendors[vendorName] : vendorName
  if (v === undefined)
    return Layer.die(new Error(`Unknown OpenAI-compatible vendor: ${String(vendorName)}`))
  return OpenAiChat.model(modelName, {
    ...options,
    system: options.system ?? v.name,
    profile: { ...v.profile(modelName), ...options.profile }
  })
}

/** Builds a vendor's model service. */
export const make = (
  vendorName: Vendor,
  modelName: string,
  options: OpenAiChat.ModelOptions = {}
): Effect.Effect<Model.Service, never, OpenAiClient.OpenAiClient> =>
  OpenAiChat.make(modelName, {
    ...options,
    system: options.system ?? vendorName.name,
    profile: { ...vendorName.profile(modelName), ...options.profile }
  })

// ---------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------

/** How to reach an Azure OpenAI resource. */
export interface AzureOptions {
  /** `https://<resource>.openai.azure.com` */
  readonly endpoint: string
  readonly apiKey: Redacted.Redacted
  /** e.g. `2024-10-21`; sent as `api-version`. */
  readonly apiVersion: string
  readonly retry?: OpenAiClient.Options["retry"]
  readonly headers?: Record<string, string> | undefined
}

/** An Azure OpenAI client: `api-key` header, `api-version` query parameter. */
export const azureLayer = (
  options: AzureOptions
): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient> =>
  OpenAiClient.layer({
    baseUrl: `${options.endpoint.replace(/\/+$/, "")}/openai`,
    apiKey: options.apiKey,
    authHeader: "api-key",
    queryParams: { "api-version": options.apiVersion },
    headers: options.headers,
    retry: options.retry
  })

/** An Azure deployment (`/openai/deployments/<deployment>/chat/completions`). */
export const azureModel = (
  deployment: string,
  options: OpenAiChat.ModelOptions = {}
): Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> =>
  OpenAiChat.model(deployment, {
    system: "azure",
    path: `/deployments/${encodeURIComponent(deployment)}/chat/completions`,
    ...options,
    profile: { ...OpenAiChat.openAiProfile(deployment), ...options.profile }
  })

/**
 * The client layers and the model of one vendor whose models take settings of their own
 * (`S`): what `Groq`, `Cerebras` and `Zai` export.
 */
export const vendorApi = <S extends ModelSettings.ModelSettings>(v: Vendor) => ({
  /** A client layer with this key. */
  layer: (
    options: Omit<OpenAiClient.Options, "apiKey"> & { readonly apiKey: Redacted.Redacted }
  ): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient> => layer(v, options),
  /** A client layer reading the vendor's key variable (or `apiKey`) from configuration. */
  layerConfig: (
    options: Omit<OpenAiClient.Options, "apiKey"> & {
      readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
    } = {}
  ): Layer.Layer<OpenAiClient.OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
    layerConfig(v, options),
  /** A model by name, with the vendor's settings; requires the vendor's `OpenAiClient`. */
  model: (
    modelName: string,
    options: Omit<OpenAiChat.ModelOptions, "settings"> & { readonly settings?: S | undefined } = {}
  ): Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> => model(v, modelName, options)
})
