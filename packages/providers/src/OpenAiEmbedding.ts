/**
 * OpenAI embeddings (`POST /embeddings`) as core's `EmbeddingModel`, through `OpenAiClient` (so
 * every OpenAI-compatible server with an embeddings endpoint works too: point the client at it).
 * Vectors are asked for as base64 float32 (a quarter of the bytes of JSON numbers); a server
 * that answers with number arrays is read as well.
 *
 * The same wire serves Voyage AI's own dialect (`input_type`, `output_dimension`, `truncation`):
 * see `VoyageEmbedding`.
 *
 * @example
 * ```ts
 * import { EmbeddingModel } from "@agentfx/core"
 * import { OpenAiClient, OpenAiEmbedding } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 *
 * const EmbedderLive = OpenAiEmbedding.model("text-embedding-3-small").pipe(
 *   Layer.provide(OpenAiClient.layerConfig()), // OPENAI_API_KEY
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * const program = EmbeddingModel.embed(["What is agentfx?"], { inputType: "query", dimensions: 256 })
 * // Effect.runPromise(program.pipe(Effect.provide(EmbedderLive)))
 * ```
 *
 * @since 0.1.0
 */
import { type AgentError, EmbeddingModel, Usage } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as OpenAiClient from "./OpenAiClient.js"
import * as Embedding from "./internal/embedding.js"

/** Which request fields the server takes. */
export type Dialect = "openai" | "voyage"

/** Options of `make` / `model`. */
export interface Options {
  /** Defaults for every call. */
  readonly settings?: EmbeddingModel.EmbeddingSettings | undefined
  /** Texts per request (default 2048, OpenAI's limit; 1000 for Voyage). */
  readonly maxBatchSize?: number | undefined
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number | undefined
  /** Provider name on results and spans (default `openai`, or `voyage` for that dialect). */
  readonly provider?: string | undefined
  /** Path under the client's base URL (default `/embeddings`). */
  readonly path?: string | undefined
  /** Default `openai`. */
  readonly dialect?: Dialect | undefined
  /** `base64` (default) or `float` (for servers that do not take base64). */
  readonly encodingFormat?: "base64" | "float" | undefined
}

/** The body of one request (pure). */
export const encodeRequest = (
  modelName: string,
  texts: ReadonlyArray<string>,
  settings: EmbeddingModel.BatchSettings,
  options: Pick<Options, "dialect" | "encodingFormat"> = {}
): Record<string, unknown> => {
  const body: Record<string, unknown> = {
    model: modelName,
    input: texts,
    encoding_format: options.encodingFormat ?? "base64"
  }
  if (options.dialect === "voyage") {
    body.input_type = settings.inputType
    if (settings.dimensions !== undefined) body.output_dimension = settings.dimensions
    body.truncation = settings.truncate === true
  } else if (settings.dimensions !== undefined) body.dimensions = settings.dimensions
  return body
}

/** Decodes a response (pure): vectors in input order, usage, the model that answered. */
export const decodeResponse = (
  json: unknown,
  modelName: string,
  provider = "openai"
): EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior => {
  const body = Embedding.record(json)
  const data = body?.data
  if (!Array.isArray(data)) return Embedding.malformed(provider, modelName, "no `data` array")
  const vectors: Array<Array<number>> = new Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const item = Embedding.record(data[i])
    const index = Embedding.num(item?.index) ?? i
    const raw = item?.embedding
    const vector =
      typeof raw === "string"
        ? Embedding.decodeBase64Floats(raw)
        : Embedding.isVector(raw)
          ? raw
          : undefined
    if (vector === undefined || index < 0 || index >= data.length || vectors[index] !== undefined)
      return Embedding.malformed(provider, modelName, `bad embedding at data[${i}]`)
    vectors[index] = vector
  }
  const usage = Embedding.record(body?.usage)
  const inputTokens = Embedding.num(usage?.prompt_tokens) ?? Embedding.num(usage?.total_tokens)
  return {
    vectors,
    usage:
      inputTokens === undefined
        ? Usage.RequestUsage.empty
        : new Usage.RequestUsage({ inputTokens }),
    model: typeof body?.model === "string" ? body.model : undefined
  }
}

/** Builds the embedding model service (the client from the context). */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, never, OpenAiClient.OpenAiClient> =>
  Effect.map(OpenAiClient.OpenAiClient, (client) => {
    const voyage = options.dialect === "voyage"
    const provider = options.provider ?? (voyage ? "voyage" : "openai")
    const path = options.path ?? "/embeddings"
    return EmbeddingModel.make({
      modelName,
      provider,
      maxBatchSize: options.maxBatchSize ?? (voyage ? 1000 : 2048),
      concurrency: options.concurrency,
      settings: options.settings,
      embedBatch: (texts, settings) =>
        client.postJson(
          {
            modelName,
            path,
            body: encodeRequest(modelName, texts, settings, options),
            settings: EmbeddingModel.httpSettings(settings)
          },
          Embedding.decoded((json) => decodeResponse(json, modelName, provider))
        )
    })
  })

/** A Layer providing `EmbeddingModel`, e.g. `OpenAiEmbedding.model("text-embedding-3-small")`. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, OpenAiClient.OpenAiClient> =>
  Layer.effect(EmbeddingModel.EmbeddingModel, make(modelName, options))
