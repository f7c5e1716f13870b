/**
 * OpenAI Chat Completions (`POST /chat/completions`) as a `Model`: request encoding, response
 * and stream decoding, and the per-model profile. OpenAI-compatible vendors (Ollama, DeepSeek,
 * Groq, OpenRouter…) reuse it with their own profile (see `OpenAiCompatible`).
 *
 * The wire format (encoding, decoding, the stream decoder) is in `internal/openaiChat.ts`;
 * `encodeRequest`, `decodeResponse`, … are re-exported here, deprecated.
 *
 * @example
 * ```ts
 * import { OpenAiChat, OpenAiClient } from "@agentfx/providers"
 * const program = agent.run("hi").pipe(
 *   Effect.provide(OpenAiChat.model("gpt-4o")),
 *   Effect.provide(OpenAiClient.layerConfig()),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Model, ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpModel from "./internal/httpModel.js"
import * as Wire from "./internal/openaiChat.js"
import * as StreamDecoder from "./internal/streamDecoder.js"
import type { CacheSetting } from "./internal/wire.js"
import * as OpenAiClientModule from "./OpenAiClient.js"
import { OpenAiClient } from "./OpenAiClient.js"
import * as OpenAiSchema from "./OpenAiSchema.js"

// ---------------------------------------------------------------------------
// Profiles
// ---------------------------------------------------------------------------

/** What an OpenAI-protocol chat model supports, beyond core's `ModelProfile`. */
export interface ChatProfile extends Model.ModelProfile {
  /** Role of system prompts and instructions: `developer` for o-series / gpt-5; `user` for models without system prompts. */
  readonly systemRole: "system" | "developer" | "user"
  /** Which body field carries `maxTokens`. */
  readonly maxTokensField: "max_completion_tokens" | "max_tokens"
  /** Tools may carry `strict: true`. */
  readonly supportsStrictTools: boolean
  /** `tool_choice: "required"` is accepted. */
  readonly supportsToolChoiceRequired: boolean
  /** `stream_options: { include_usage: true }` is accepted. */
  readonly supportsStreamOptions: boolean
  /** Temperature / top_p etc. are accepted (reasoning models reject them). */
  readonly supportsSamplingSettings: boolean
  /** `reasoning_effort` is accepted. */
  readonly supportsReasoningEffort: boolean
  /**
   * Thinking sent back in history as this assistant-message field (DeepSeek
   * `reasoning_content`, OpenRouter/Groq `reasoning`); `undefined` drops thinking parts.
   */
  readonly sendThinkingField: "reasoning_content" | "reasoning" | undefined
  /** A `DocumentUrl` may be sent as `file.file_data` by URL (OpenRouter); otherwise it must be inline bytes. */
  readonly documentUrlAsFileData: boolean
  /** A `VideoUrl` may be sent as a `video_url` part (OpenRouter); otherwise it is refused. */
  readonly videoUrl: boolean
  /**
   * How cache breakpoints are sent: a `Messages.CachePoint` in a user prompt (and the
   * `cacheInstructions` / `cacheTools` options) as `cache_control: { type: "ephemeral", ttl }`
   * on the content part before it, `"with-ttl"` or `"without-ttl"` (OpenRouter, which passes
   * it on to Anthropic and Gemini models; Gemini models reject `ttl`). `undefined` drops them:
   * OpenAI and most compatible servers cache prompt prefixes by themselves and reject unknown
   * part fields.
   */
  readonly cacheControl: "with-ttl" | "without-ttl" | undefined
  /**
   * OpenAI's explicit prompt cache breakpoints: a `Messages.CachePoint` in a user prompt marks
   * the content part before it with `prompt_cache_breakpoint: { mode: "explicit" }` (the
   * cache's lifetime is the request's `prompt_cache_options`, e.g. via `extraBody`). Used when
   * `cacheControl` is unset.
   */
  readonly promptCacheBreakpoints?: boolean | undefined
  /**
   * Which built-in tools the vendor runs, in its own form: `openai` (`WebSearch` as
   * `web_search_options`, search-preview models), `openrouter` (`WebSearch` as the
   * `openrouter:web_search` tool), `groq` (compound models search by themselves; `WebSearch`
   * domains go in `search_settings`, `executed_tools` come back as built-in parts). Absent: none.
   */
  readonly builtinTools?: "openai" | "openrouter" | "groq" | undefined
  /**
   * Thinking the model inlines in its text between these tags (`["<think>", "</think>"]`:
   * Qwen, DeepSeek-R1 and other open models on vLLM, Ollama, Groq, Hugging Face…) becomes
   * `ThinkingPart`s, streamed or not (a tag cut between two chunks included); thinking parts
   * go back in the same tags, in the assistant's text, unless `sendThinkingField` is set.
   * Absent: text is text (pydantic-ai's `thinking_tags`).
   */
  readonly thinkingTags?: readonly [open: string, close: string] | undefined
  /**
   * The vendor's own request fields from its own settings (OpenRouter's routing, fallback
   * models, presets, transforms, reasoning and usage accounting): called last, with the
   * request's merged settings and the body to add them to.
   */
  readonly requestFields?:
    | ((settings: ModelSettings.ModelSettings, body: Record<string, unknown>) => void)
    | undefined
}

const reasoningModel = (name: string): boolean => /^(o\d|gpt-5)/.test(name.replace(/^.*\//, ""))

/** The profile of an OpenAI model, by name. */
export const openAiProfile = (modelName: string): ChatProfile => {
  const reasoning = reasoningModel(modelName)
  return {
    ...Model.defaultProfile,
    supportsTools: true,
    supportsJsonSchemaOutput: true,
    supportsJsonObjectOutput: true,
    supportsThinking: reasoning,
    defaultStructuredOutputMode: "tool",
    jsonSchemaTransformer: OpenAiSchema.transform,
    // o1-mini accepts no system/developer messages at all.
    systemRole: /^o1-mini/.test(modelName) ? "user" : reasoning ? "developer" : "system",
    maxTokensField: "max_completion_tokens",
    supportsStrictTools: true,
    supportsToolChoiceRequired: true,
    supportsStreamOptions: true,
    supportsSamplingSettings: !reasoning,
    supportsReasoningEffort: reasoning,
    sendThinkingField: undefined,
    documentUrlAsFileData: false,
    videoUrl: false,
    cacheControl: undefined,
    promptCacheBreakpoints: true,
    builtinTools: "openai"
  }
}

/** A conservative profile for any OpenAI-compatible server. */
export const compatibleProfile: ChatProfile = {
  ...Model.defaultProfile,
  supportsTools: true,
  supportsJsonSchemaOutput: true,
  supportsJsonObjectOutput: true,
  supportsThinking: false,
  defaultStructuredOutputMode: "tool",
  jsonSchemaTransformer: OpenAiSchema.transform,
  systemRole: "system",
  maxTokensField: "max_tokens",
  supportsStrictTools: false,
  supportsToolChoiceRequired: true,
  supportsStreamOptions: true,
  supportsSamplingSettings: true,
  supportsReasoningEffort: false,
  sendThinkingField: undefined,
  documentUrlAsFileData: false,
  videoUrl: false,
  cacheControl: undefined
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/** Options of a chat model. */
export interface ModelOptions {
  /** Settings of the model itself (the run's settings win). */
  readonly settings?: ModelSettings.ModelSettings | undefined
  /** Overrides of the profile (by default from the model name). */
  readonly profile?: Partial<ChatProfile> | undefined
  /** Provider name reported on responses and spans (default `openai`). */
  readonly system?: string | undefined
  /** Path of the endpoint under the base URL (default `/chat/completions`). */
  readonly path?: string | undefined
  /**
   * Cache the prefix up to the first system message (the system prompt, or the instructions
   * when there is none): `true` (5 minutes) or `"1h"`. Sent as `cache_control` where the
   * profile has `cacheControl` (OpenRouter); other servers cache prefixes by themselves and
   * it is not sent.
   */
  readonly cacheInstructions?: CacheSetting | undefined
  /** Cache the tool definitions (`cache_control` on the last one); as `cacheInstructions`. */
  readonly cacheTools?: CacheSetting | undefined
}

/** Builds a Chat Completions model talking through the `OpenAiClient` in context. */
export const make = (
  modelName: string,
  options: ModelOptions = {}
): Effect.Effect<Model.Service, never, OpenAiClient> =>
  Effect.map(OpenAiClient, (client) => {
    const system = options.system ?? "openai"
    const profile: ChatProfile = { ...openAiProfile(modelName), ...options.profile }
    const path = options.path ?? "/chat/completions"
    return HttpModel.make({
      modelName,
      system,
      profile,
      settings: options.settings,
      spanPrefix: "OpenAiChat",
      uploadedFileProviders: [system],
      encode: (messages, settings, parameters, stream) =>
        Wire.encodeRequest(messages, settings, parameters, {
          modelName,
          system,
          profile,
          stream,
          cacheInstructions: options.cacheInstructions,
          cacheTools: options.cacheTools
        }),
      post: HttpModel.viaClient(client, (body, settings) => ({ modelName, path, body, settings })),
      decode: (json) =>
        Wire.decodeResponse(json, { modelName, system, thinkingTags: profile.thinkingTags }),
      decoder: Wire.streamDecoder(system, profile.thinkingTags)
    })
  })

/** A layer providing `Model` with a Chat Completions model; requires an `OpenAiClient`. */
export const model = (
  modelName: string,
  options: ModelOptions = {}
): Layer.Layer<Model.Model, never, OpenAiClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/** The OpenAI client layer (same as `OpenAiClient.layer`), so `OpenAiChat` alone covers the common case. */
export const layer = OpenAiClientModule.layer

/** The OpenAI client layer from configuration (same as `OpenAiClient.layerConfig`). */
export const layerConfig = OpenAiClientModule.layerConfig

// ---------------------------------------------------------------------------
// The wire functions under their old public names (deprecated)
// ---------------------------------------------------------------------------

/** @deprecated Internal wire format; kept for existing callers. Encodes the messages. */
export const encodeMessages = Wire.encodeMessages
/** @deprecated Internal wire format; kept for existing callers. Encodes a tool definition. */
export const encodeTool = Wire.encodeTool
/** @deprecated Internal wire format; kept for existing callers. Options of `encodeRequest`. */
export type EncodeOptions = Wire.EncodeOptions
/** @deprecated Internal wire format; kept for existing callers. Encodes a request body. */
export const encodeRequest = Wire.encodeRequest
/** @deprecated Internal wire format; kept for existing callers. Maps a `finish_reason`. */
export const mapFinishReason = Wire.mapFinishReason
/** @deprecated Internal wire format; kept for existing callers. Decodes `usage`. */
export const decodeUsage = Wire.decodeUsage
/** @deprecated Internal wire format; kept for existing callers. Decodes a response body. */
export const decodeResponse = Wire.decodeResponse

/**
 * @deprecated Internal wire format; kept for existing callers. The stream handler of one
 * streamed Chat Completion (the stream decoder under the malformed-event policy, default
 * limit, skipped events not logged).
 */
export const makeStreamHandler = (options: {
  readonly modelName: string
  readonly system: string
}): StreamDecoder.StreamHandler =>
  StreamDecoder.handler(
    Wire.streamDecoder(options.system),
    options.modelName,
    ModelSettings.defaultMalformedEventLimit,
    { skip: () => {}, malformed: () => {} }
  )
