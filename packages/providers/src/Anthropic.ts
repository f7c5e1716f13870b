/**
 * Anthropic Messages API models (`POST /v1/messages`): system prompt and instructions, text /
 * image / PDF input, tools with forced output tools, extended thinking (signed and redacted
 * blocks kept and sent back unchanged), prompt caching (module options and the
 * `Messages.CachePoint` marker), native JSON-schema output (`output_config.format`), SSE
 * streaming, and token counting (`Model.countTokens`, `POST /v1/messages/count_tokens`).
 *
 * The client (key, base URL, headers, retry policy) is `AnthropicClient`; the wire format is in
 * `internal/anthropic.ts`. The client's names are re-exported here, deprecated; `layer` and
 * `layerConfig` stay, so `Anthropic` alone covers the common case.
 *
 * @example
 * ```ts
 * import { Anthropic, AnthropicClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 *
 * const ModelLive = Anthropic.model("claude-sonnet-4-5", { cacheInstructions: true }).pipe(
 *   Layer.provide(AnthropicClient.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Model, ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as AnthropicClientModule from "./AnthropicClient.js"
import { AnthropicClient } from "./AnthropicClient.js"
import * as AnthropicSchema from "./AnthropicSchema.js"
import * as Wire from "./internal/anthropic.js"
import * as HttpModel from "./internal/httpModel.js"

export {
  /** Converts a Messages API body into a `ModelResponse` (pure). */
  decodeResponse,
  /** Builds the request body (pure; built-in tools it lacks are named by `builtinToolsError`). */
  encodeRequest,
  /** The `UserError` for the first built-in tool the Messages API lacks, if any. */
  builtinToolsError,
  /** Whether a Claude model takes structured outputs and strict tools (Claude 4.5+, Opus 4.1). */
  supportsStructuredOutput,
  /** Whether a Claude model takes mid-conversation system messages (`{role: "system"}` entries). */
  supportsInlineSystemPrompts,
  /** Whether a Claude model takes adaptive thinking (Sonnet / Opus 4.6+). */
  supportsAdaptiveThinking,
  /** Whether a Claude model takes `output_config.effort` (Opus 4.5+, Sonnet 4.6+). */
  supportsEffort
} from "./internal/anthropic.js"

/** The provider name on responses and parts. */
export const providerName = Wire.PROVIDER_NAME

/** The token counting path (`Model.countTokens`). */
export const countTokensPath = "/v1/messages/count_tokens?beta=true"

/** The fields of a Messages body the count_tokens endpoint takes (it rejects the others). */
const countTokensFields = [
  "model",
  "messages",
  "system",
  "tools",
  "tool_choice",
  "thinking",
  "mcp_servers",
  "cache_control"
]

/** Options of an Anthropic model. */
export interface Options {
  /** Settings of the model itself; the run's settings are merged over them. */
  readonly settings?: ModelSettings.ModelSettings | undefined
  /** Overrides of the model's profile. */
  readonly profile?: Partial<Model.ModelProfile> | undefined
  /** Cache the system prompt + instructions (`true` = 5 minutes, or `"1h"`). */
  readonly cacheInstructions?: Wire.CacheSetting | undefined
  /** Cache the tool definitions (`true` = 5 minutes, or `"1h"`). */
  readonly cacheTools?: Wire.CacheSetting | undefined
  /**
   * Automatic prompt caching (`true` = 5 minutes, or `"1h"`): a top-level `cache_control`; the
   * server caches up to the last cacheable block and moves the breakpoint as the conversation
   * grows (it takes one of the 4 breakpoints of a request).
   */
  readonly autoCache?: Wire.CacheSetting | undefined
}

/**
 * Model settings with Anthropic's own: `anthropicEffort` (`output_config.effort`) and
 * `anthropicTaskBudget` (`output_config.task_budget`), at any level (model, agent, run).
 */
export type Settings = Wire.AnthropicSettings

/** An `output_config.effort` level. */
export type Effort = Wire.Effort

/** A task budget (`output_config.task_budget`). */
export type TaskBudget = Wire.TaskBudget

/**
 * The profile of an Anthropic model: tools, thinking, and native JSON-schema output (plus strict
 * tools) only on the models that support structured outputs (Claude 4.5+, Opus 4.1); older
 * models use tool output.
 */
export const profileFor = (modelName: string): Model.ModelProfile =>
  Model.profile({
    supportsTools: true,
    supportsJsonSchemaOutput: Wire.supportsStructuredOutput(modelName),
    supportsJsonObjectOutput: false,
    supportsThinking: true,
    defaultStructuredOutputMode: "tool",
    jsonSchemaTransformer: AnthropicSchema.transform,
    supportsToolDeferral: true
  })

/** Beta flags the body needs (structured outputs / strict tools, built-in tools). */
const betaHeaders = (body: Record<string, unknown>): Record<string, string> | undefined => {
  const strictTools =
    Array.isArray(body.tools) && body.tools.some((t: Record<string, unknown>) => t.strict === true)
  const betas = Wire.builtinBetas(body)
  const outputConfig = body.output_config as Record<string, unknown> | undefined
  if (outputConfig?.format !== undefined || strictTools)
    betas.unshift("structured-outputs-2025-11-13")
  if (outputConfig?.task_budget !== undefined) betas.push("task-budgets-2026-03-13")
  if (Wire.usesFiles(body)) betas.push("files-api-2025-04-14")
  return betas.length > 0 ? { "anthropic-beta": betas.join(",") } : undefined
}

/** Builds the model service from a client. */
export const makeWith = (
  client: AnthropicClientModule.Service,
  modelName: string,
  options: Options = {}
): Model.Service => {
  const profile = { ...profileFor(modelName), ...options.profile }
  const service = HttpModel.make({
    modelName,
    system: Wire.PROVIDER_NAME,
    profile,
    settings: options.settings,
    spanPrefix: "Anthropic",
    uploadedFileProviders: [Wire.PROVIDER_NAME],
    encode: (messages, settings, parameters, stream) =>
      Wire.builtinToolsError(parameters.builtinTools) ??
      Wire.encodeRequest(messages, settings, parameters, {
        modelName,
        stream,
        cacheInstructions: options.cacheInstructions,
        cacheTools: options.cacheTools,
        strictTools: profile.supportsJsonSchemaOutput,
        autoCache: options.autoCache
      }),
    post: HttpModel.viaClient(client, (body: Record<string, unknown>, settings) => ({
      modelName,
      body,
      settings,
      headers: betaHeaders(body)
    })),
    decode: (json) => Wire.decodeResponse(json as Wire.WireResponse, modelName),
    decoder: Wire.streamDecoder,
    countTokens: (body: Record<string, unknown>, settings) =>
      client.postJson(
        {
          modelName,
          path: countTokensPath,
          body: HttpModel.pick(body, countTokensFields),
          settings,
          headers: betaHeaders(body)
        },
        HttpModel.decodeTokenCount("Anthropic", modelName, "input_tokens")
      )
  })
  return {
    ...service,
    // A long generation (large max_tokens) is streamed and assembled: see `needsStreaming`.
    request: (messages, settings, parameters) =>
      Wire.needsStreaming(ModelSettings.merge(options.settings, settings), modelName)
        ? Effect.scoped(
            Effect.flatMap(service.requestStream(messages, settings, parameters), (s) =>
              Effect.zipRight(Stream.runDrain(s.events), s.response)
            )
          )
        : service.request(messages, settings, parameters)
  }
}

/** Builds an Anthropic model service from the `AnthropicClient` in context. */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, AnthropicClient> =>
  Effect.map(AnthropicClient, (client) => makeWith(client, modelName, options))

/** A layer providing `Model.Model` backed by the Messages API. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, AnthropicClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/** The factory the model registry calls for `"anthropic:<model>"` strings. */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, AnthropicClient> => make(modelName)

/** The Anthropic client layer (same as `AnthropicClient.layer`). */
export const layer = AnthropicClientModule.layer

/** The Anthropic client layer from configuration (same as `AnthropicClient.layerConfig`). */
export const layerConfig = AnthropicClientModule.layerConfig

// ---------------------------------------------------------------------------
// The client under its old names here (deprecated: it lives in `AnthropicClient`)
// ---------------------------------------------------------------------------

export {
  /** @deprecated Moved to `AnthropicClient.AnthropicClient`. The client a model talks through. */
  AnthropicClient,
  /** @deprecated Moved to `AnthropicClient.makeWith`. Builds the client service. */
  makeWith as makeClientWith,
  /** @deprecated Moved to `AnthropicClient.make`. Builds the client service. */
  make as makeClient,
  /** @deprecated Moved to `AnthropicClient.defaultBaseUrl`. The public Anthropic endpoint. */
  defaultBaseUrl,
  /** @deprecated Moved to `AnthropicClient.apiVersion`. The `anthropic-version` header value. */
  apiVersion,
  /** @deprecated Moved to `AnthropicClient.messagesPath`. The messages path. */
  messagesPath
} from "./AnthropicClient.js"

/** @deprecated Moved to `AnthropicClient.Options`. How to reach the Anthropic API. */
export type ClientOptions = AnthropicClientModule.Options

/** @deprecated Moved to `AnthropicClient.CallOptions`. A call made through the client. */
export type CallOptions = AnthropicClientModule.CallOptions

/** @deprecated Moved to `AnthropicClient.Service`. The client service. */
export type ClientService = AnthropicClientModule.Service

/** @deprecated Moved to `AnthropicClient.ConfigOptions`. Client options read from configuration. */
export type ConfigOptions = AnthropicClientModule.ConfigOptions
