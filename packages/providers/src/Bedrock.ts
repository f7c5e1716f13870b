/**
 * Amazon Bedrock models through the Converse API (`POST /model/{id}/converse`) and
 * ConverseStream (the binary AWS event stream, decoded per network read with both CRC32s
 * checked): Claude, Nova, Llama, Mistral, gpt-oss, Qwen, DeepSeek and the other models Bedrock
 * serves, with tools, native JSON-schema output where the family has it, thinking, cache
 * points, images / documents / video and usage, and token counting (`Model.countTokens`, CountTokens).
 *
 * The client (region, endpoint, AWS Signature V4 with explicit credentials, a credential provider
 * or the AWS SDK's Node chain, or a Bedrock API key) is `BedrockClient`; the wire format is in
 * `internal/bedrock.ts`. The client's names are re-exported here, deprecated; `layer` and
 * `layerConfig` stay, so `Bedrock` alone covers the common case.
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
import { Model, type ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BedrockClientModule from "./BedrockClient.js"
import { BedrockClient } from "./BedrockClient.js"
import * as BedrockSchema from "./BedrockSchema.js"
import * as Wire from "./internal/bedrock.js"
import * as HttpModel from "./internal/httpModel.js"

export {
  /** Converts a Converse response body into a `ModelResponse` (pure). */
  decodeResponse,
  /** Builds the Converse request body (pure); a `UserError` for input Bedrock cannot take. */
  encodeRequest,
  /** The model family of a Bedrock model id (tool choice, thinking, cache points…). */
  familyOf
} from "./internal/bedrock.js"

/** What differs between model families (see `familyOf`). */
export type Family = Wire.Family

/** The provider name on responses and parts. */
export const providerName = Wire.PROVIDER_NAME

/**
 * The CountTokens body of a Converse body: its messages, system blocks (`[]` when none) and
 * tool configuration, under `input.converse`; no inference or output settings.
 */
export const countTokensBody = (body: Record<string, unknown>): Record<string, unknown> => ({
  input: {
    converse: {
      messages: body.messages,
      system: body.system ?? [],
      ...(body.toolConfig !== undefined ? { toolConfig: body.toolConfig } : {})
    }
  }
})

/** Options of a Bedrock model. */
export interface Options {
  /** Settings of the model itself; the run's settings are merged over them. */
  readonly settings?: ModelSettings.ModelSettings | undefined
  /** Overrides of the model's profile. */
  readonly profile?: Partial<Model.ModelProfile> | undefined
  /** Overrides of the model family's behaviour (e.g. for an inference profile ARN). */
  readonly family?: Partial<Family> | undefined
  /** Put a cache point after the system prompt (families with cache points: Claude, Nova). */
  readonly cacheInstructions?: boolean | undefined
  /** Put a cache point after the tool definitions (families with cache points). */
  readonly cacheTools?: boolean | undefined
}

/** The profile of a Bedrock model, from its family. */
export const profileFor = (
  modelId: string,
  family: Family = Wire.familyOf(modelId)
): Model.ModelProfile =>
  Model.profile({
    supportsTools: true,
    supportsJsonSchemaOutput: family.structuredOutput,
    supportsJsonObjectOutput: false,
    supportsThinking: family.thinking !== "none",
    defaultStructuredOutputMode: "tool",
    jsonSchemaTransformer: BedrockSchema.transform
  })

/** Builds the model service from a client. */
export const makeWith = (
  client: BedrockClientModule.Service,
  modelId: string,
  options: Options = {}
): Model.Service => {
  const family: Family = { ...Wire.familyOf(modelId), ...options.family }
  const profile = { ...profileFor(modelId, family), ...options.profile }
  return HttpModel.make<Record<string, unknown>>({
    modelName: modelId,
    system: Wire.PROVIDER_NAME,
    profile,
    settings: options.settings,
    spanPrefix: "Bedrock",
    uploadedFileProviders: [Wire.PROVIDER_NAME],
    // http(s) file URLs are downloaded and sent as bytes (Bedrock reads only s3:// itself)
    needsDownload: Wire.needsDownload,
    encode: (messages, settings, parameters) =>
      Wire.encodeRequest(messages, settings, parameters, {
        modelId,
        family,
        cacheInstructions: options.cacheInstructions,
        cacheTools: options.cacheTools
      }),
    post: {
      json: (body, settings, decode) => client.converse(modelId, body, settings, decode),
      sse: (body, settings) => client.converseStream(modelId, body, settings),
      httpClient: client.httpClient
    },
    decode: (json) => Wire.decodeResponse(json as Wire.WireResponse, modelId),
    decoder: Wire.streamDecoder,
    countTokens: (body, settings) =>
      client.countTokens(
        modelId,
        countTokensBody(body),
        settings,
        HttpModel.decodeTokenCount("Bedrock", modelId, "inputTokens")
      )
  })
}

/** Builds a Bedrock model service from the `BedrockClient` in context. */
export const make = (
  modelId: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, BedrockClient> =>
  Effect.map(BedrockClient, (client) => makeWith(client, modelId, options))

/** A layer providing `Model.Model` backed by the Converse API. */
export const model = (
  modelId: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, BedrockClient> =>
  Layer.effect(Model.Model, make(modelId, options))

/** The factory the model registry calls for `"bedrock:<model id>"` strings. */
export const fromModelString = (
  modelId: string
): Effect.Effect<Model.Service, never, BedrockClient> => make(modelId)

/** The Bedrock client layer (same as `BedrockClient.layer`). */
export const layer = BedrockClientModule.layer

/** The Bedrock client layer from configuration (same as `BedrockClient.layerConfig`). */
export const layerConfig = BedrockClientModule.layerConfig

// ---------------------------------------------------------------------------
// The client under its old names here (deprecated: it lives in `BedrockClient`)
// ---------------------------------------------------------------------------

export {
  /** @deprecated Moved to `BedrockClient.BedrockClient`. The client a model talks through. */
  BedrockClient,
  /** @deprecated Moved to `BedrockClient.makeWith`. Builds the client service. */
  makeWith as makeClientWith,
  /** @deprecated Moved to `BedrockClient.make`. Builds the client service. */
  make as makeClient,
  /** @deprecated Moved to `BedrockClient.endpointOf`. The Bedrock runtime endpoint of a region. */
  endpointOf,
  /** @deprecated Moved to `BedrockClient.conversePath`. The Converse path of a model id. */
  conversePath,
  /** @deprecated Moved to `BedrockClient.baseModelIdOf`. A model id without its inference profile prefix. */
  baseModelIdOf,
  /** @deprecated Moved to `BedrockClient.countTokensPath`. The CountTokens path of a model id. */
  countTokensPath,
  /** @deprecated Moved to `BedrockClient.invokePath`. The InvokeModel path of a model id. */
  invokePath
} from "./BedrockClient.js"

/** @deprecated Moved to `BedrockClient.Credentials`. Static AWS credentials. */
export type Credentials = BedrockClientModule.Credentials

/** @deprecated Moved to `BedrockClient.Options`. How to reach Bedrock. */
export type ClientOptions = BedrockClientModule.Options

/** @deprecated Moved to `BedrockClient.Service`. The client service. */
export type ClientService = BedrockClientModule.Service

/** @deprecated Moved to `BedrockClient.ConfigOptions`. Client options read from configuration. */
export type ConfigOptions = BedrockClientModule.ConfigOptions
