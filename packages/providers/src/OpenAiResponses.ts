/**
 * OpenAI Responses API models (`POST /v1/responses`): input items, function calls, reasoning
 * items kept and sent back (id + encrypted content in `ThinkingPart.signature`), native
 * structured output through `text.format`, SSE streaming, and token counting
 * (`Model.countTokens`, `POST /v1/responses/input_tokens`).
 *
 * @example
 * ```ts
 * import { OpenAiClient, OpenAiResponses } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 *
 * const ModelLive = OpenAiResponses.model("gpt-5", { settings: { thinking: "low" } }).pipe(
 *   Layer.provide(OpenAiClient.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { AgentError, InstrumentedModel, Messages, Model, ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Background from "./internal/openaiBackground.js"
import * as HttpModel from "./internal/httpModel.js"
import * as Wire from "./internal/openaiResponses.js"
import * as StreamDecoder from "./internal/streamDecoder.js"
import { streamedResponse } from "./internal/streamedResponse.js"
import * as OpenAiClientModule from "./OpenAiClient.js"
import { OpenAiClient } from "./OpenAiClient.js"
import * as OpenAiSchema from "./OpenAiSchema.js"

export {
  /** Converts a Responses API body into a `ModelResponse` (pure). */
  decodeResponse,
  /** Builds the request body (pure; built-in tools it lacks are named by `builtinToolsError`). */
  encodeRequest,
  /** The `UserError` for the first built-in tool the Responses API lacks, if any. */
  builtinToolsError,
  /** Whether an output item is a built-in tool's (web search, code interpreter, MCP…). */
  isBuiltinItem,
  /** The annotations (web search `url_citation`s, file citations) on a text part, or `[]`. */
  annotationsOf
} from "./internal/openaiResponses.js"

/**
 * Model settings with the Responses API's own: `openaiPreviousResponseId` (a response id, or
 * `"auto"`: chain to the last OpenAI response of the history and send only what follows it).
 */
export type Settings = Wire.ResponsesSettings

/** The provider name on responses and parts. */
export const providerName = Wire.PROVIDER_NAME

/** Options of a Responses model. */
export interface Options {
  /** Settings of the model itself (with the Responses-only ones); the run's are merged over them. */
  readonly settings?: Settings | undefined
  /** Overrides of the model's profile. */
  readonly profile?: Partial<Model.ModelProfile> | undefined
}

/**
 * The profile of a Responses model: tools (strict when compatible, through OpenAI's strict
 * schema transformer), native JSON schema output, reasoning for o-series / gpt-5, image output
 * through the `image_generation` tool for the models that have it (gpt-5*, o3, gpt-4.1, gpt-4o).
 */
export const profileFor = (modelName: string): Model.ModelProfile =>
  Model.profile({
    supportsImageOutput: Wire.supportsImageGeneration(modelName),
    supportsTools: true,
    supportsJsonSchemaOutput: true,
    supportsJsonObjectOutput: true,
    supportsThinking: Wire.supportsReasoning(modelName),
    defaultStructuredOutputMode: "tool",
    jsonSchemaTransformer: OpenAiSchema.transform,
    supportsToolDeferral: true
  })

/** The fields of a Responses body `/responses/input_tokens` takes (it rejects the others). */
const countTokensFields = [
  "model",
  "input",
  "instructions",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "text",
  "reasoning",
  "truncation",
  "conversation",
  "previous_response_id"
]

/** Builds the model service from a client (no tracing of construction; requests are traced). */
export const makeWith = (
  client: OpenAiClient["Type"],
  modelName: string,
  options: Options = {}
): Model.Service => {
  const profile = { ...profileFor(modelName), ...options.profile }
  const decode = (wire: Wire.WireResponse) =>
    Effect.sync(() => Wire.decodeResponse(wire, modelName))
  const base = HttpModel.make({
    modelName,
    system: Wire.PROVIDER_NAME,
    profile,
    settings: options.settings,
    spanPrefix: "OpenAiResponses",
    uploadedFileProviders: [Wire.PROVIDER_NAME],
    encode: (messages, settings, parameters, stream) =>
      Wire.builtinToolsError(parameters.builtinTools) ??
      Wire.encodeRequest(messages, settings, parameters, { modelName, profile, stream }),
    post: {
      json: (body, settings, decode) =>
        (body as Record<string, unknown>).background === true
          ? // A background job: its first answer is only queued; poll it to its end.
            client
              .postJson({ modelName, path: "/responses", body, settings }, (json) =>
                Effect.succeed(json as Wire.WireResponse)
              )
              .pipe(
                Effect.flatMap((first) =>
                  Background.awaitBackground(
                    client,
                    modelName,
                    settings,
                    first,
                    Background.maxPollsOf(settings)
                  )
                ),
                Effect.flatMap((wire) =>
                  Effect.map(decode(wire), (r) =>
                    r instanceof Messages.ModelResponse
                      ? (Background.markPending(wire, r) as typeof r)
                      : r
                  )
                )
              )
          : client.postJson({ modelName, path: "/responses", body, settings }, decode),
      sse: (body, settings) =>
        (body as Record<string, unknown>).background === true
          ? // A background job: a dropped stream resumes from its cursor.
            Background.openStream(client, modelName, settings, body)
          : client.postSse({ modelName, path: "/responses", body, settings }),
      httpClient: client.httpClient
    },
    decode: (json) => Wire.decodeResponse(json as Wire.WireResponse, modelName),
    decoder: Wire.streamDecoder,
    countTokens: (body, settings) =>
      client.postJson(
        {
          modelName,
          path: "/responses/input_tokens",
          body: HttpModel.pick(body as Record<string, unknown>, countTokensFields),
          settings
        },
        HttpModel.decodeTokenCount("OpenAI", modelName, "input_tokens")
      )
  })
  // A history ending in the response of an unfinished background job continues that job.
  const requestSpan = InstrumentedModel.withProviderSpan("OpenAiResponses.request")
  const requestStreamSpan = InstrumentedModel.withProviderSpan("OpenAiResponses.requestStream")
  return Model.make({
    ...base,
    request: (messages, runSettings, parameters) => {
      const job = Background.continuationOf(messages)
      if (job === undefined) return base.request(messages, runSettings, parameters)
      const settings = ModelSettings.merge(options.settings, runSettings)
      return Background.continueRequest(client, modelName, settings, job, decode).pipe(requestSpan)
    },
    requestStream: (messages, runSettings, parameters) => {
      const job = Background.continuationOf(messages)
      if (job === undefined) return base.requestStream(messages, runSettings, parameters)
      const settings = ModelSettings.merge(options.settings, runSettings)
      const cursor = job.cursor
      if (cursor === undefined) {
        // No cursor (never streamed): retrieved and polled whole, then given as one stream.
        return Background.continueRequest(client, modelName, settings, job, decode).pipe(
          Effect.map((r) => Background.wholeStream(modelName, r)),
          requestStreamSpan
        )
      }
      return Background.openContinuation(client, modelName, settings, { ...job, cursor }).pipe(
        Effect.map((body) =>
          streamedResponse({
            modelName,
            providerName: Wire.PROVIDER_NAME,
            body,
            handler: (log) =>
              StreamDecoder.handler(
                Wire.streamDecoder,
                modelName,
                StreamDecoder.malformedEventLimitOf(settings),
                log
              ),
            seed: (manager) => Background.seedParts(manager, job.response)
          })
        ),
        requestStreamSpan
      )
    }
  })
}

/** Options of `compactMessages`. */
export interface CompactOptions {
  /** Settings for the call (`extraHeaders`, `timeout`, `openaiPreviousResponseId`…). */
  readonly settings?: Settings | undefined
}

/**
 * Compacts a conversation with OpenAI (`POST /v1/responses/compact`): the history (with the
 * instructions of its last request) goes in, and a `ModelResponse` holding the server's
 * `CompactionPart` (an encrypted stand-in for the whole history, with its id) comes back. Use
 * `[compacted, ...next]` as the new history: the compaction item is sent back unchanged and the
 * server restores the context from it. The compaction's token usage is on the response.
 */
export const compactMessages = (
  modelName: string,
  messages: ReadonlyArray<Messages.ModelMessage>,
  options: CompactOptions = {}
): Effect.Effect<Messages.ModelResponse, AgentError.ModelError, OpenAiClient> =>
  Effect.flatMap(OpenAiClient, (client) => {
    const settings = options.settings ?? {}
    const profile = profileFor(modelName)
    const body = Wire.encodeRequest(messages, settings, new Model.ModelRequestParameters({}), {
      modelName,
      profile,
      stream: false
    })
    return client.postJson(
      {
        modelName,
        path: "/responses/compact",
        body: HttpModel.pick(body, ["model", "input", "instructions", "previous_response_id"]),
        settings
      },
      (json) => Effect.succeed(Wire.decodeCompaction(json as Wire.WireResponse, modelName))
    )
  })

/** Builds a Responses model service from the `OpenAiClient` in context. */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, OpenAiClient> =>
  Effect.map(OpenAiClient, (client) => makeWith(client, modelName, options))

/** A layer providing `Model.Model` backed by the Responses API. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, OpenAiClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/**
 * The factory the model registry calls for `"openai-responses:<model>"` strings.
 */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, OpenAiClient> => make(modelName)

/** The OpenAI client layer (same as `OpenAiClient.layer`), so `OpenAiResponses` alone covers the common case. */
export const layer = OpenAiClientModule.layer

/** The OpenAI client layer from configuration (same as `OpenAiClient.layerConfig`). */
export const layerConfig = OpenAiClientModule.layerConfig
