/**
 * Google Gemini through the Gemini API (`generateContent`,
 * `streamGenerateContent?alt=sse`, and `countTokens` for `Model.countTokens`). `GoogleClient` holds
 * the key and base URL; `model(name)` is a Layer providing core's `Model` service. The wire format
 * is in `internal/google.ts`. The client's names are re-exported here, deprecated; `layer` and
 * `layerConfig` stay, so `Google` alone covers the common case.
 *
 * @example
 * ```ts
 * import { Google, GoogleClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 *
 * const program = agent.run("Hello").pipe(
 *   Effect.provide(Google.model("gemini-2.5-flash")),
 *   Effect.provide(GoogleClient.layerConfig()), // GEMINI_API_KEY (or GOOGLE_API_KEY)
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * Vertex AI: `GoogleClient.vertexLayer({ credentials, project, location })` (credentials from
 * `GoogleAuth`) is a `GoogleClient` for the same model on Google Cloud; `vertexSettings` adds
 * Vertex-only request fields (`labels`, Model Armor, log probabilities).
 *
 * Thought signatures: Gemini signs its reasoning and may attach the signature (`thoughtSignature`)
 * to a thought, a text or a function-call part. A thought's signature lands in
 * `ThinkingPart.signature`; a text or function call's in the part's
 * `providerDetails.thoughtSignature`. Both go back unchanged, and only to Google, on the next
 * request.
 *
 * The request and response conversions (`encodeRequest`, `decodeResponse`, `streamChunk`) are
 * pure and exported, so they can be tested and reused without HTTP.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { AgentError, type Messages, Model, type ModelSettings } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as GoogleClientModule from "./GoogleClient.js"
import { GoogleClient } from "./GoogleClient.js"
import * as Client from "./internal/client.js"
import * as Download from "./internal/download.js"
import * as Wire from "./internal/google.js"
import * as GoogleClientPosts from "./internal/googleClient.js"
import * as HttpModel from "./internal/httpModel.js"

export type {
  /** Options of the decoders. */
  DecodeOptions,
  /** Options of `encodeRequest`. */
  EncodeOptions,
  /** A function declaration (tool) as sent. */
  FunctionDeclaration,
  /** The `generateContent` request body. */
  GenerateContentRequest,
  /** A `generateContent` response, or one chunk of a stream. */
  GenerateContentResponse,
  /** What a Gemini model supports, plus Gemini-only switches. */
  GoogleProfile,
  /** Streaming state kept across the chunks of one response. */
  StreamState,
  /** A turn of the conversation. */
  WireContent,
  /** A Gemini content part, as sent and received. */
  WirePart,
  /** `usageMetadata` of a response. */
  WireUsage
} from "./internal/google.js"

export {
  /** Decodes a `generateContent` response (pure); content-filter blocks and empty answers fail. */
  decodeResponse,
  /** Usage of a response (thinking tokens count as output, cached tokens as input). */
  decodeUsage,
  /** Encodes messages, settings and request parameters into a `generateContent` body (pure). */
  encodeRequest,
  /** Whether the Gemini API can read a file URL itself (YouTube, `gs://`, File API). */
  isFetchableByGemini,
  /** Maps a Gemini `finishReason` to agentfx's. */
  mapFinishReason,
  /** The media type of a file URL. */
  mediaTypeOf,
  /** The profile of a Gemini model, by name. */
  profile,
  /** The provider name recorded on responses and parts. */
  providerName,
  /** The signature Gemini 3 accepts on a function call that did not come from Gemini. */
  skipSignatureValidator,
  /** Feeds one streamed chunk to the parts manager (pure, once per event). */
  streamChunk,
  /** The `response` object of a `functionResponse`. */
  toolResponseObject,
  /** Built-in part names of Gemini's server-side tool types (`GOOGLE_SEARCH_WEB` → `web_search`). */
  toolTypeNames,
  /** The `UserError` for the first built-in tool (or option) Gemini lacks, if any. */
  builtinToolsError,
  /** The grounded spans of a response and their sources (`providerDetails.grounding_metadata`). */
  groundingCitationsOf,
  /** One grounded span of a Gemini answer and the sources behind it. */
  type GroundingCitation
} from "./internal/google.js"

/**
 * Downloads the file URLs of the user prompts that Gemini cannot fetch itself and replaces
 * them with inline `BinaryContent` (the Gemini API only reads YouTube, `gs://` and File API URLs).
 */
export const downloadFileUrls = (
  httpClient: HttpClient.HttpClient,
  messages: ReadonlyArray<Messages.ModelMessage>,
  modelName: string,
  /** Which URLs to download (default: the ones Gemini cannot fetch; Bedrock passes its own). */
  needsDownload: (item: Messages.UserContent) => item is Messages.FileUrl = Wire.needsDownload
): Effect.Effect<
  ReadonlyArray<Messages.ModelMessage>,
  AgentError.ModelAPIError | AgentError.ModelHTTPError
> => Download.downloadFileUrls(httpClient, messages, modelName, needsDownload)

// ---------------------------------------------------------------------------
// Vertex AI request options
// ---------------------------------------------------------------------------

/** Vertex-only request options, as settings (merged into `extraBody`; see `vertexSettings`). */
export interface VertexRequestOptions {
  /** Billing labels of the request (`labels`). */
  readonly labels?: Readonly<Record<string, string>> | undefined
  /** Model Armor templates screening the prompt and / or the response (`modelArmorConfig`). */
  readonly modelArmor?:
    | {
        readonly promptTemplateName?: string | undefined
        readonly responseTemplateName?: string | undefined
      }
    | undefined
  /**
   * Token log probabilities: `true` for the chosen tokens, a number (1–20) for that many
   * top candidates too. They come back in `providerDetails.logprobs` (and `avg_logprobs`).
   */
  readonly logprobs?: boolean | number | undefined
}

/**
 * Settings carrying Vertex-only request fields (`labels`, `modelArmorConfig`, log
 * probabilities), to pass as model or run settings. A Model Armor block fails the request with
 * `ContentFilterError` (finish reason or prompt block reason `MODEL_ARMOR`).
 */
export const vertexSettings = (options: VertexRequestOptions): ModelSettings.ModelSettings => {
  const extra: Record<string, unknown> = {}
  if (options.labels !== undefined) extra.labels = { ...options.labels }
  const armor = options.modelArmor
  if (armor !== undefined)
    extra.modelArmorConfig = {
      ...(armor.promptTemplateName !== undefined
        ? { promptTemplateName: armor.promptTemplateName }
        : {}),
      ...(armor.responseTemplateName !== undefined
        ? { responseTemplateName: armor.responseTemplateName }
        : {})
    }
  const lp = options.logprobs
  if (lp !== undefined && lp !== false)
    extra.generationConfig = {
      responseLogprobs: true,
      ...(typeof lp === "number" ? { logprobs: lp } : {})
    }
  return Object.keys(extra).length === 0 ? {} : { extraBody: extra }
}

// ---------------------------------------------------------------------------
// Model
// ---------------------------------------------------------------------------

/** Options of `model` / `make`. */
export interface ModelOptions {
  readonly settings?: ModelSettings.ModelSettings | undefined
  readonly profile?: Partial<Wire.GoogleProfile> | undefined
}

/** Splits Gemini's `generationConfig` extras out of `extraBody` (they go inside the config). */
const httpSettings = (settings: ModelSettings.ModelSettings): ModelSettings.ModelSettings => {
  const extra = settings.extraBody
  if (extra === undefined || !("generationConfig" in extra)) return settings
  const { generationConfig: _gc, ...rest } = extra
  return { ...settings, extraBody: rest }
}

/**
 * The body of `models/{model}:countTokens` from a `generateContent` body: the contents alone
 * when that is all there is (what pydantic-ai sends), else the whole request as
 * `generateContentRequest` (the Gemini API takes system instructions and tools only there).
 */
export const countTokensBody = (
  modelName: string,
  body: Record<string, unknown>
): Record<string, unknown> =>
  body.systemInstruction === undefined && body.tools === undefined
    ? { contents: body.contents }
    : { generateContentRequest: { model: `models/${modelName}`, ...body } }

/**
 * The body of Vertex AI's `:countTokens` from a `generateContent` body: contents, system
 * instruction, tools and generation config at the top level (Vertex takes them there; the
 * response modalities are not part of a count).
 */
export const vertexCountTokensBody = (
  _modelName: string,
  body: Record<string, unknown>
): Record<string, unknown> => {
  const { responseModalities: _m, ...generationConfig } = (body.generationConfig ?? {}) as Record<
    string,
    unknown
  >
  return {
    contents: body.contents,
    ...(body.systemInstruction !== undefined ? { systemInstruction: body.systemInstruction } : {}),
    ...(body.tools !== undefined ? { tools: body.tools } : {}),
    generationConfig
  }
}

/** Builds the `Model` service of a Gemini model. */
export const make = (
  modelName: string,
  options: ModelOptions = {}
): Effect.Effect<Model.Service, never, GoogleClient> =>
  Effect.map(GoogleClient, (client) => {
    const p: Wire.GoogleProfile = { ...Wire.profile(modelName), ...options.profile }
    const vertex = client.vertex
    const modelUrl = `${GoogleClientPosts.modelsUrl(client)}${encodeURIComponent(modelName)}:`
    const posts = GoogleClientPosts.posts(
      client,
      modelName,
      (call: Client.Call & { readonly stream: boolean; readonly count?: boolean }) =>
        `${modelUrl}${
          call.count === true
            ? "countTokens"
            : call.stream
              ? "streamGenerateContent?alt=sse"
              : "generateContent"
        }`
    )
    return HttpModel.make({
      modelName,
      system: Wire.providerName,
      profile: p,
      settings: options.settings,
      spanPrefix: "Google",
      uploadedFileProviders: Wire.uploadedFileProviders,
      // Vertex reads http(s) and gs:// URLs itself: only `forceDownload` files are downloaded.
      needsDownload: vertex !== undefined ? undefined : Wire.needsDownload,
      encode: (messages, settings, parameters) =>
        Wire.builtinToolsError(parameters.builtinTools) ??
        Wire.encodeRequest(messages, settings, parameters, {
          modelName,
          profile: p,
          vertex: vertex !== undefined
        }),
      post: HttpModel.viaClient(posts, (body, settings, stream) => ({
        modelName,
        body,
        settings: httpSettings(settings),
        stream
      })),
      decode: (json) => Either.merge(Wire.decodeResponse(json, { modelName })),
      decoder: Wire.streamDecoder,
      countTokens: (body, settings) =>
        posts.postJson(
          {
            modelName,
            body: (vertex !== undefined ? vertexCountTokensBody : countTokensBody)(
              modelName,
              body as unknown as Record<string, unknown>
            ),
            settings: httpSettings(settings),
            stream: false,
            count: true
          },
          HttpModel.decodeTokenCount("Google", modelName, "totalTokens")
        )
    })
  })

/** A Layer providing `Model.Model` for a Gemini model, e.g. `Google.model("gemini-2.5-flash")`. */
export const model = (
  modelName: string,
  options: ModelOptions = {}
): Layer.Layer<Model.Model, never, GoogleClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/** The factory the model registry calls for `"google:<model>"` / `"gemini:<model>"` strings (client from the context). */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, GoogleClient> => make(modelName)

/**
 * A registry factory for the `google:` / `gemini:` prefixes: builds the model with a client
 * from `GEMINI_API_KEY` (or `GOOGLE_API_KEY`) and optional `GEMINI_BASE_URL`.
 */
export const registryFactory = (
  modelName: string
): Effect.Effect<Model.Service, AgentError.UserError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const apiKey = yield* Effect.mapError(
      GoogleClientModule.apiKeyConfig,
      () =>
        new AgentError.UserError({
          reason: `Set GEMINI_API_KEY (or GOOGLE_API_KEY) to use the Google model "${modelName}"`
        })
    )
    const baseUrl = yield* Effect.orElseSucceed(
      Client.optionalString("GEMINI_BASE_URL"),
      () => undefined
    )
    const client = yield* GoogleClientModule.make({ apiKey, baseUrl })
    return yield* Effect.provideService(make(modelName), GoogleClient, client)
  })

/** The Google client layer (same as `GoogleClient.layer`). */
export const layer = GoogleClientModule.layer

/** The Google client layer from configuration (same as `GoogleClient.layerConfig`). */
export const layerConfig = GoogleClientModule.layerConfig

// ---------------------------------------------------------------------------
// The client under its old names here (deprecated: it lives in `GoogleClient`)
// ---------------------------------------------------------------------------

export {
  /** @deprecated Moved to `GoogleClient.GoogleClient`. The Gemini API client configuration. */
  GoogleClient,
  /** @deprecated Moved to `GoogleClient.defaultBaseUrl`. The Gemini API's default base URL. */
  defaultBaseUrl,
  /** @deprecated Moved to `GoogleClient.apiKeyConfig`. `GEMINI_API_KEY`, or `GOOGLE_API_KEY`. */
  apiKeyConfig,
  /** @deprecated Use `GoogleClient.layerConfig()`, which reads the same variables. */
  layerFromEnv,
  /** @deprecated Moved to `GoogleClient.vertexBaseUrl`. The Vertex AI host of a location. */
  vertexBaseUrl,
  /** @deprecated Moved to `GoogleClient.vertexModelsUrl`. The models URL of a Vertex target. */
  vertexModelsUrl,
  /** @deprecated Moved to `GoogleClient.vertexLayer`. A `GoogleClient` for Gemini on Vertex AI. */
  vertexLayer,
  /** @deprecated Moved to `GoogleClient.vertexCredentialsConfig`. Vertex AI credentials from the environment. */
  vertexCredentialsConfig,
  /** @deprecated Moved to `GoogleClient.vertexLayerConfig`. A Vertex AI `GoogleClient` from the environment. */
  vertexLayerConfig
} from "./GoogleClient.js"

/** @deprecated Moved to `GoogleClient.Service`. What `GoogleClient` holds. */
export type GoogleClientService = GoogleClientModule.Service

/** @deprecated Moved to `GoogleClient.VertexTarget`. Where a Vertex AI client sends requests. */
export type VertexTarget = GoogleClientModule.VertexTarget

/** @deprecated Moved to `GoogleClient.Options`. Options of `layer`. */
export type ClientOptions = GoogleClientModule.Options

/** @deprecated Moved to `GoogleClient.ConfigOptions`. Options of `layerConfig`. */
export type ConfigOptions = GoogleClientModule.ConfigOptions

/** @deprecated Moved to `GoogleClient.VertexOptions`. Options of `vertexLayer`. */
export type VertexOptions = GoogleClientModule.VertexOptions

/** @deprecated Moved to `GoogleClient.VertexConfigOptions`. Options of `vertexLayerConfig`. */
export type VertexConfigOptions = GoogleClientModule.VertexConfigOptions
