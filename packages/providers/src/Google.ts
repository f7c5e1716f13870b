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
import * as Client from "./internal/client.js"
import * as Download from "./internal/download.js"
import * as Wire from "./internal/google.js"
import * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
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
export const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = Config.redacted(
  "GEMINI_API_KEY"
).pipe(Config.orElse(() => Config.redacted("GOOGLE_API_KEY")))

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

/** Builds the `Model` service of a Gemini model. */
export const make = (
  modelName: string,
  options: ModelOptions = {}
): Effect.Effect<Model.Service, never, GoogleClient> =>
  Effect.map(GoogleClient, (client) => {
    const p: Wire.GoogleProfile = { ...Wire.profile(modelName), ...options.profile }
    const modelUrl = `${client.baseUrl}/v1beta/models/${encodeURIComponent(modelName)}:`
    const posts = Client.posts(
      client.httpClient,
      client.retry,
      (call: Client.Call & { readonly stream: boolean; readonly count?: boolean }) =>
        `${modelUrl}${
          call.count === true
            ? "countTokens"
            : call.stream
              ? "streamGenerateContent?alt=sse"
              : "generateContent"
        }`,
      () => Client.setKey({ ...client.headers }, "x-goog-api-key", client.apiKey),
      client.httpClientSpans === true
    )
    return HttpModel.make({
      modelName,
      system: Wire.providerName,
      profile: p,
      settings: options.settings,
      spanPrefix: "Google",
      uploadedFileProviders: Wire.uploadedFileProviders,
      prepare: (messages) => downloadFileUrls(client.httpClient, messages, modelName),
      encode: (messages, settings, parameters) =>
        Wire.builtinToolsError(parameters.builtinTools) ??
        Wire.encodeRequest(messages, settings, parameters, { modelName, profile: p }),
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
            body: countTokensBody(modelName, body as unknown as Record<string, unknown>),
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
