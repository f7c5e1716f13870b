/**
 * Cohere embeddings (`POST /v2/embed`, float vectors) as core's `EmbeddingModel`, with token
 * counting through `/v1/tokenize`. `CohereClient` holds the key and base URL.
 *
 * `inputType` becomes Cohere's `input_type` (`search_query` / `search_document`), `dimensions`
 * its `output_dimension` (embed v4), `truncate` its `truncate` (`END`; `NONE` by default, so a
 * too-long text fails instead of being cut). Usage is Cohere's billed input tokens.
 *
 * @example
 * ```ts
 * import { EmbeddingModel } from "@agentfx/core"
 * import { CohereEmbedding } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const EmbedderLive = CohereEmbedding.model("embed-v4.0").pipe(
 *   Layer.provide(CohereEmbedding.layerConfig()), // CO_API_KEY (or COHERE_API_KEY)
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * const program = EmbeddingModel.embed(["agentfx docs"], { inputType: "document" })
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { type AgentError, EmbeddingModel, type ModelSettings, Usage } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Client from "./internal/client.js"
import * as Embedding from "./internal/embedding.js"
import * as Http from "./internal/http.js"

/** Cohere's API base URL. */
export const defaultBaseUrl = "https://api.cohere.com"

/** What `CohereClient` holds. */
export interface CohereClientService {
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly retry: Http.RetryPolicy
  readonly httpClient: HttpClient.HttpClient
  readonly httpClientSpans: boolean
}

/** The Cohere API client configuration: key, base URL, extra headers, retry policy. */
export class CohereClient extends Context.Tag("@agentfx/providers/CohereClient")<
  CohereClient,
  CohereClientService
>() {}

/** Options of `layer`. */
export interface ClientOptions {
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default `https://api.cohere.com`. */
  readonly baseUrl?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries; `false` disables them. Default: 2 retries, 500 ms base, 30 s cap. */
  readonly retry?: Partial<Http.RetryPolicy> | false | undefined
  /** Whether the `@effect/platform` client makes its own `http.client` span (default `false`). */
  readonly httpClientSpans?: boolean | undefined
}

const makeClient = (options: ClientOptions) =>
  Effect.map(HttpClient.HttpClient, (httpClient) =>
    CohereClient.of({
      apiKey: options.apiKey,
      baseUrl: Client.baseUrlOf(options.baseUrl, defaultBaseUrl),
      headers: options.headers ?? {},
      retry: Http.resolveRetry(options.retry),
      httpClient,
      httpClientSpans: options.httpClientSpans === true
    })
  )

/** A `CohereClient` from explicit options. */
export const layer = (
  options: ClientOptions = {}
): Layer.Layer<CohereClient, never, HttpClient.HttpClient> =>
  Layer.effect(CohereClient, makeClient(options))

/** `CO_API_KEY`, or `COHERE_API_KEY` when it is not set. */
export const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = Config.redacted(
  "CO_API_KEY"
).pipe(Config.orElse(() => Config.redacted("COHERE_API_KEY")))

/** Options of `layerConfig`: every field is optional. */
export interface ConfigOptions extends Omit<ClientOptions, "apiKey" | "baseUrl"> {
  /** Default: `apiKeyConfig`. */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default: the optional `COHERE_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/** A `CohereClient` from configuration (`CO_API_KEY` / `COHERE_API_KEY`, optional `COHERE_BASE_URL`). */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<CohereClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    CohereClient,
    Effect.gen(function* () {
      const apiKey = yield* Client.keyConfig(options.apiKey ?? apiKeyConfig, "Cohere")
      const baseUrl = yield* options.baseUrl ?? Client.optionalString("COHERE_BASE_URL")
      return yield* makeClient({ ...options, apiKey, baseUrl })
    })
  )

/** Options of `make` / `model`. */
export interface Options {
  readonly settings?: EmbeddingModel.EmbeddingSettings | undefined
  /** Texts per request (default 96, Cohere's limit). */
  readonly maxBatchSize?: number | undefined
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number | undefined
}

/** The `/v2/embed` body of one batch (pure). */
export const encodeRequest = (
  modelName: string,
  texts: ReadonlyArray<string>,
  settings: EmbeddingModel.BatchSettings
): Record<string, unknown> => {
  const body: Record<string, unknown> = {
    model: modelName,
    texts,
    input_type: settings.inputType === "document" ? "search_document" : "search_query",
    embedding_types: ["float"],
    truncate: settings.truncate === true ? "END" : "NONE"
  }
  if (settings.dimensions !== undefined) body.output_dimension = settings.dimensions
  return body
}

/** Decodes a `/v2/embed` answer (pure): float vectors and billed input tokens. */
export const decodeResponse = (
  json: unknown,
  modelName: string
): EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior => {
  const body = Embedding.record(json)
  const floats = Embedding.record(body?.embeddings)?.float
  if (!Array.isArray(floats) || !floats.every(Embedding.isVector))
    return Embedding.malformed("cohere", modelName, "no `embeddings.float` vectors")
  const billed = Embedding.record(Embedding.record(body?.meta)?.billed_units)
  const inputTokens = Embedding.num(billed?.input_tokens)
  return {
    vectors: floats,
    usage:
      inputTokens === undefined ? Usage.RequestUsage.empty : new Usage.RequestUsage({ inputTokens })
  }
}

interface Call {
  readonly modelName: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
  readonly path: string
}

/** Builds a Cohere embedding model service (the client from the context). */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, never, CohereClient> =>
  Effect.map(CohereClient, (client) => {
    const posts = Client.posts(
      client.httpClient,
      client.retry,
      (call: Call) => `${client.baseUrl}${call.path}`,
      () => Client.setKey({ ...client.headers }, "authorization", client.apiKey, "Bearer "),
      client.httpClientSpans
    )
    return EmbeddingModel.make({
      modelName,
      provider: "cohere",
      maxBatchSize: options.maxBatchSize ?? 96,
      concurrency: options.concurrency,
      settings: options.settings,
      embedBatch: (texts, settings) =>
        posts.postJson(
          {
            modelName,
            path: "/v2/embed",
            body: encodeRequest(modelName, texts, settings),
            settings: EmbeddingModel.httpSettings(settings)
          },
          Embedding.decoded((json) => decodeResponse(json, modelName))
        ),
      countTokens: (text) =>
        posts.postJson(
          {
            modelName,
            path: "/v1/tokenize",
            body: { model: modelName, text },
            settings: EmbeddingModel.httpSettings(options.settings ?? {})
          },
          (json) => {
            const tokens = Embedding.record(json)?.tokens
            return Array.isArray(tokens)
              ? Effect.succeed(tokens.length)
              : Effect.fail(Embedding.malformed("cohere", modelName, "no `tokens` array"))
          }
        )
    })
  })

/** A Layer providing `EmbeddingModel`, e.g. `CohereEmbedding.model("embed-v4.0")`. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, CohereClient> =>
  Layer.effect(EmbeddingModel.EmbeddingModel, make(modelName, options))
