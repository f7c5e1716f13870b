/**
 * Mistral chat models (`POST /v1/chat/completions`, Mistral's own dialect) as a `Model`: tools
 * and `tool_choice`, JSON mode and JSON-schema structured output, thinking (magistral models
 * always think and answer with `thinking` chunks; mistral-small 4, medium 3.5 and large 4 take
 * `reasoning_effort`), streaming, usage with cache hits, finish reasons, and typed errors
 * (`ModelHTTPError` with status and body; `Retry-After` honoured by the retry policy).
 *
 * Tool call ids from other providers are mapped to Mistral's 9-character form (stably, so
 * history from OpenAI, Anthropic… round-trips); a conversation that ends on an assistant
 * message is sent with `prefix: true`, so the model continues it; `safePrompt` turns on
 * Mistral's safety prompt.
 *
 * @example
 * ```ts
 * import { Mistral, MistralClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = Mistral.model("mistral-large-latest", { safePrompt: true }).pipe(
 *   Layer.provide(MistralClient.layerConfig()), // MISTRAL_API_KEY
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Model, type ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as HttpModel from "./internal/httpModel.js"
import * as Wire from "./internal/mistral.js"
import { noBuiltinTools } from "./internal/wire.js"
import * as MistralClientModule from "./MistralClient.js"
import { MistralClient } from "./MistralClient.js"

export {
  /** Decodes a Mistral chat completion into a `ModelResponse` (pure). */
  decodeResponse,
  /** Builds the request body (pure); a `UserError` for input Mistral cannot take. */
  encodeRequest,
  /** The 9-character tool call id Mistral accepts for any id (stable). */
  toolCallIdFor
} from "./internal/mistral.js"

/** The provider name on responses and parts. */
export const providerName = Wire.PROVIDER_NAME

/** Magistral models: reasoning is always on (no setting turns it off). */
export const isMagistral = (modelName: string): boolean => /magistral/.test(modelName)

/** Models with adjustable reasoning (`reasoning_effort`: `high` / `none`). */
export const hasReasoningEffort = (modelName: string): boolean =>
  /^(mistral-small-(latest|2603)|mistral-medium-3-5|mistral-large-4)/.test(modelName)

/** The profile of a Mistral model, by name. */
export const profileFor = (modelName: string): Model.ModelProfile =>
  Model.profile({
    supportsTools: true,
    supportsJsonSchemaOutput: true,
    supportsJsonObjectOutput: true,
    supportsThinking: isMagistral(modelName) || hasReasoningEffort(modelName),
    defaultStructuredOutputMode: "tool"
  })

/** Options of a Mistral model. */
export interface Options {
  /** Settings of the model itself; the run's settings are merged over them. */
  readonly settings?: ModelSettings.ModelSettings | undefined
  /** Overrides of the model's profile. */
  readonly profile?: Partial<Model.ModelProfile> | undefined
  /** Sent as `safe_prompt`: Mistral prepends its safety system prompt. */
  readonly safePrompt?: boolean | undefined
}

/** Builds the model service from a client. */
export const makeWith = (
  client: MistralClientModule.Service,
  modelName: string,
  options: Options = {}
): Model.Service => {
  const profile = { ...profileFor(modelName), ...options.profile }
  const capabilities: Wire.Capabilities = { reasoningEffort: hasReasoningEffort(modelName) }
  return HttpModel.make({
    modelName,
    system: Wire.PROVIDER_NAME,
    profile,
    settings: options.settings,
    spanPrefix: "Mistral",
    encode: (messages, settings, parameters, stream) =>
      noBuiltinTools("Mistral", parameters) ??
      Wire.encodeRequest(messages, settings, parameters, {
        modelName,
        stream,
        capabilities,
        safePrompt: options.safePrompt
      }),
    post: HttpModel.viaClient(client, (body, settings) => ({
      modelName,
      path: "/chat/completions",
      body,
      settings
    })),
    decode: (json) => Wire.decodeResponse(json, modelName),
    decoder: Wire.streamDecoder
  })
}

/** Builds a Mistral model service from the `MistralClient` in context. */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, MistralClient> =>
  Effect.map(MistralClient, (client) => makeWith(client, modelName, options))

/** A layer providing `Model.Model` backed by a Mistral chat model. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, MistralClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/** The Mistral client layer (same as `MistralClient.layer`). */
export const layer = MistralClientModule.layer

/** The Mistral client layer from configuration (same as `MistralClient.layerConfig`). */
export const layerConfig = MistralClientModule.layerConfig

/** The factory the model registry calls for `"mistral:<model>"` strings. */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, MistralClient> => make(modelName)
