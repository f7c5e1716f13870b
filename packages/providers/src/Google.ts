/**
 * Google Gemini through the Gemini API (`generateContent`,
 * `streamGenerateContent?alt=sse`, and `countTokens` for `Model.countTokens`). `GoogleClient` holds the key and base URL; `model(name)`
 * is a Layer providing core's `Model` service.
 *
 * @example
 * ```ts
 * import { Google } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 *
 * const program = agent.run("Hello").pipe(
 *   Effect.provide(Google.model("gemini-2.5-flash")),
 *   Effect.provide(Google.layerConfig()), // GEMINI_API_KEY (or GOOGLE_API_KEY)
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * Vertex AI: `vertexLayer({ credentials, project, location })` (credentials from `GoogleAuth`)
 * is a `GoogleClient` for the same model on Google Cloud; `vertexSettings` adds Vertex-only
 * request fields (`labels`, Model Armor, log probabilities).
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
import * as HttpClient from "@effect/platform/HttpClient"
import { AgentError, Messages, Model, type ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as GoogleAuth from "./GoogleAuth.js"
import * as Client from "./internal/client.js"
import * as Download from "./internal/download.js"
import * as Wire from "./internal/google.js"
import * as GoogleClientPosts from "./internal/googleClient.js"
import * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
import * as HttpModel from "./internal/httpModel.js"
import { secret } from "./internal/secret.js"

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
  /** The Gemini API's default base URL. */
  defaultBaseUrl,
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
// Client service
// ---------------------------------------------------------------------------

/** What `GoogleClient` holds. */
export interface GoogleClientService {
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly retry: Retry.RetryPolicy
  readonly httpClient: HttpClient.HttpClient
  /** Whether the `@effect/platform` client makes its own spans (see `ClientOptions`). */
  readonly httpClientSpans?: boolean | undefined
  /** Set for Vertex AI (`vertexLayer`): where the models are and how requests are authorized. */
  readonly vertex?: VertexTarget | undefined
}

/** Where a Vertex AI client sends requests and the bearer token it sends (OAuth credentials). */
export interface VertexTarget {
  /** Up to and including `…/publishers/google/models/`. */
  readonly modelsUrl: string
  /** The cached access token (absent in express mode, which sends the API key). */
  readonly token?: Effect.Effect<Redacted.Redacted<string>, GoogleAuth.GoogleAuthError> | undefined
  /** Drops the cached token (a 401 answer: the next request fetches a new one). */
  readonly invalidateToken?: Effect.Effect<void> | undefined
}

/** The Gemini API client configuration: key, base URL, extra headers, retry policy. */
export class GoogleClient extends Context.Tag("@agentfx/providers/GoogleClient")<
  GoogleClient,
  GoogleClientService
>() {}

/** Options of `layer`. */
export interface ClientOptions {
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default `https://generativelanguage.googleapis.com`. */
  readonly baseUrl?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry` in `@agentfx/providers`). */
  readonly retry?: RetryOption.Option
  /**
   * Whether the `@effect/platform` client makes its own `http.client` span per request (with
   * header attributes, keys redacted) and sends trace propagation headers. Default `false`:
   * the provider's own `Module.request` span carries `url.path` and the status.
   */
  readonly httpClientSpans?: boolean | undefined
}

const makeClient = (options: ClientOptions) =>
  Effect.map(HttpClient.HttpClient, (httpClient) =>
    GoogleClient.of({
      apiKey: options.apiKey,
      baseUrl: Client.baseUrlOf(options.baseUrl, Wire.defaultBaseUrl),
      headers: options.headers ?? {},
      retry: RetryOption.resolve(options.retry),
      httpClient,
      httpClientSpans: options.httpClientSpans === true
    })
  )

/** A `GoogleClient` from explicit options. */
export const layer = (
  options: ClientOptions
): Layer.Layer<GoogleClient, never, HttpClient.HttpClient> =>
  Layer.effect(GoogleClient, makeClient(options))

/** Options of `layerConfig`: every field is optional. */
export interface ConfigOptions extends Omit<ClientOptions, "apiKey" | "baseUrl"> {
  /** Default: `apiKeyConfig` (`GEMINI_API_KEY`, or `GOOGLE_API_KEY` when it is not set). */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default: the optional `GEMINI_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/**
 * A `GoogleClient` from configuration: by default the key is `GEMINI_API_KEY` (or
 * `GOOGLE_API_KEY`) and the base URL the optional `GEMINI_BASE_URL`, as every provider's
 * `layerConfig()`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<GoogleClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    GoogleClient,
    Effect.gen(function* () {
      const apiKey = yield* Client.keyConfig(options.apiKey ?? apiKeyConfig, "Google")
      const baseUrl = yield* options.baseUrl ?? Client.optionalString("GEMINI_BASE_URL")
      return yield* makeClient({ ...options, apiKey, baseUrl })
    })
  )

/** `GEMINI_API_KEY`, or `GOOGLE_API_KEY` when it is not set. */
export const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = secret("GEMINI_API_KEY").pipe(
  Config.orElse(() => secret("GOOGLE_API_KEY"))
)

// ---------------------------------------------------------------------------
// Vertex AI
// ---------------------------------------------------------------------------

/** Options of `vertexLayer`. */
export interface VertexOptions {
  /** How requests are authorized (see `GoogleAuth`): API key (express mode) or OAuth. */
  readonly credentials: GoogleAuth.Credentials
  /** The Google Cloud project (OAuth credentials need one; express mode uses none). */
  readonly project?: string | undefined
  /** `global` (default) or a region such as `europe-west4`; it picks the host too. */
  readonly location?: string | undefined
  /** Default: `vertexBaseUrl(location)` (express mode: the global host). */
  readonly baseUrl?: string | undefined
  /** Default `v1beta1`. */
  readonly apiVersion?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false`. */
  readonly retry?: RetryOption.Option
  /** See `ClientOptions.httpClientSpans`. */
  readonly httpClientSpans?: boolean | undefined
  /** How long before its expiry a cached access token is refreshed (default one minute). */
  readonly refreshMarginMillis?: number | undefined
}

/**
 * The Vertex AI host of a location: `aiplatform.googleapis.com` for `global`,
 * `{location}-aiplatform.googleapis.com` for a region.
 */
export const vertexBaseUrl = (location: string): string =>
  location === "global"
    ? "https://aiplatform.googleapis.com"
    : `https://${location}-aiplatform.googleapis.com`

/**
 * The models URL of a Vertex target (up to `…/publishers/google/models/`): with a project,
 * `{base}/{version}/projects/{project}/locations/{location}/publishers/google/models/`;
 * without (express mode, gateways), `{base}/{version}/publishers/google/models/`.
 */
export const vertexModelsUrl = (
  baseUrl: string,
  options: {
    readonly project?: string | undefined
    readonly location?: string | undefined
    readonly apiVersion?: string | undefined
  }
): string => {
  const version = options.apiVersion ?? "v1beta1"
  const scope =
    options.project === undefined
      ? ""
      : `projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location ?? "global")}/`
  return `${Client.baseUrlOf(baseUrl, baseUrl)}/${version}/${scope}publishers/google/models/`
}

/**
 * A `GoogleClient` for Gemini on Vertex AI. The same `Google.model(name)` then calls
 * `…/publishers/google/models/{model}:generateContent` (and `streamGenerateContent`,
 * `countTokens`) with a bearer token (cached, refreshed before expiry, one refresh at a time,
 * dropped after a 401) or, in express mode, the API key. Vertex reads `gs://` and `http(s)` file URLs itself, so
 * nothing is downloaded.
 *
 * A missing project with OAuth credentials is a `UserError` when the layer is built.
 */
export const vertexLayer = (
  options: VertexOptions
): Layer.Layer<GoogleClient, AgentError.UserError, HttpClient.HttpClient> =>
  Layer.effect(
    GoogleClient,
    Effect.gen(function* () {
      const httpClient = yield* HttpClient.HttpClient
      const location = options.location ?? "global"
      const c = options.credentials
      if (c._tag === "OAuth" && options.project === undefined) {
        return yield* new AgentError.UserError({
          reason:
            "Vertex AI with OAuth credentials needs a project: pass `project` (or set GOOGLE_CLOUD_PROJECT for `google-vertex:` model strings)"
        })
      }
      const express = c._tag === "ApiKey"
      const baseUrl = options.baseUrl ?? vertexBaseUrl(express ? "global" : location)
      const token =
        c._tag === "OAuth"
          ? yield* GoogleAuth.cached(
              Effect.provideService(c.token, HttpClient.HttpClient, httpClient),
              {
                refreshMarginMillis: options.refreshMarginMillis
              }
            )
          : undefined
      const client = yield* makeClient({
        apiKey: express ? c.apiKey : undefined,
        baseUrl,
        headers: options.headers,
        retry: options.retry,
        httpClientSpans: options.httpClientSpans
      })
      return GoogleClient.of({
        ...client,
        vertex: {
          modelsUrl: vertexModelsUrl(baseUrl, {
            project: express ? undefined : options.project,
            location,
            apiVersion: options.apiVersion
          }),
          ...(token !== undefined ? { token: token.get, invalidateToken: token.invalidate } : {})
        }
      })
    })
  )

/** Options of `vertexLayerConfig`: each falls back to the environment. */
export interface VertexConfigOptions
  extends Omit<VertexOptions, "credentials" | "project" | "location"> {
  /** Default: `vertexCredentialsConfig`. */
  readonly credentials?: GoogleAuth.Credentials | undefined
  /** Default: `GOOGLE_CLOUD_PROJECT`. */
  readonly project?: string | undefined
  /** Default: `GOOGLE_CLOUD_LOCATION`, else `global`. */
  readonly location?: string | undefined
}

/**
 * The credentials of `google-vertex:` model strings and `vertexLayerConfig`: Application
 * Default Credentials when `GOOGLE_APPLICATION_CREDENTIALS` is set, else express mode with
 * `GOOGLE_CLOUD_API_KEY`; neither is a `UserError` naming both.
 */
export const vertexCredentialsConfig: Effect.Effect<GoogleAuth.Credentials, AgentError.UserError> =
  Effect.gen(function* () {
    const adc = yield* Effect.orElseSucceed(
      Client.optionalString("GOOGLE_APPLICATION_CREDENTIALS"),
      () => undefined
    )
    if (adc !== undefined)
      return yield* Effect.mapError(
        GoogleAuth.applicationDefault,
        (e) => new AgentError.UserError({ reason: `Vertex AI credentials: ${e.reason}` })
      )
    return yield* secret("GOOGLE_CLOUD_API_KEY").pipe(
      Effect.map(GoogleAuth.apiKey),
      Effect.mapError(
        () =>
          new AgentError.UserError({
            reason:
              "Vertex AI needs credentials: set GOOGLE_APPLICATION_CREDENTIALS (a service-account key or authorized-user file) or GOOGLE_CLOUD_API_KEY (express mode), or pass `credentials` to Google.vertexLayer"
          })
      )
    )
  })

/** A Vertex AI `GoogleClient` from the environment (`GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION`, credentials). */
export const vertexLayerConfig = (
  options: VertexConfigOptions = {}
): Layer.Layer<GoogleClient, AgentError.UserError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const credentials = options.credentials ?? (yield* vertexCredentialsConfig)
      const env = (name: string) =>
        Effect.orElseSucceed(Client.optionalString(name), () => undefined)
      const project = options.project ?? (yield* env("GOOGLE_CLOUD_PROJECT"))
      const location = options.location ?? (yield* env("GOOGLE_CLOUD_LOCATION"))
      return vertexLayer({ ...options, credentials, project, location })
    })
  )

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
 * A `GoogleClient` keyed by `GEMINI_API_KEY` (falling back to `GOOGLE_API_KEY`).
 *
 * @deprecated Use `layerConfig()`, which reads the same variables (as every provider's does).
 */
export const layerFromEnv: Layer.Layer<
  GoogleClient,
  ConfigError.ConfigError,
  HttpClient.HttpClient
> = layerConfig()

/**
 * A registry factory for the `google:` / `gemini:` prefixes: builds the model with a client
 * from `GEMINI_API_KEY` (or `GOOGLE_API_KEY`) and optional `GEMINI_BASE_URL`.
 */
export const registryFactory = (
  modelName: string
): Effect.Effect<Model.Service, AgentError.UserError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const apiKey = yield* Effect.mapError(
      apiKeyConfig,
      () =>
        new AgentError.UserError({
          reason: `Set GEMINI_API_KEY (or GOOGLE_API_KEY) to use the Google model "${modelName}"`
        })
    )
    const baseUrl = yield* Effect.orElseSucceed(
      Client.optionalString("GEMINI_BASE_URL"),
      () => undefined
    )
    const client = yield* makeClient({ apiKey, baseUrl })
    return yield* Effect.provideService(make(modelName), GoogleClient, client)
  })
