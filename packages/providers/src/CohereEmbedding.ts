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
import { type AgentError, EmbeddingModel, Usage } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CohereClientModule from "./CohereClient.js"
import { CohereClient } from "./CohereClient.js"
import * as Embedding from "./internal/embedding.js"

export {
  /** `CO_API_KEY`, or `COHERE_API_KEY` (same as `CohereClient.apiKeyConfig`). */
  apiKeyConfig,
  /** The client the embedder talks through (see `CohereClient`). */
  CohereClient,
  /** Cohere's API base URL. */
  defaultBaseUrl,
  /** A `CohereClient` from explicit options (same as `CohereClient.layer`). */
  layer,
  /** A `CohereClient` from configuration (same as `CohereClient.layerConfig`). */
  layerConfig
} from "./CohereClient.js"
export type { ClientOptions, CohereClientService, ConfigOptions } from "./CohereClient.js"

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

/** Builds a Cohere embedding model service (the client from the context). */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, never, CohereClient> =>
  Effect.map(CohereClient, (client) => {
    const posts = CohereClientModule.posts(client)
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
