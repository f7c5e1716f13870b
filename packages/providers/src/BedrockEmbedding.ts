/**
 * Amazon Bedrock embeddings through InvokeModel (`POST /model/{id}/invoke`, signed like every
 * Bedrock call by `BedrockClient`) as core's `EmbeddingModel`, for the three families Bedrock
 * serves, each with its own body (the model id picks it; a regional prefix such as `us.` is
 * ignored):
 *
 * | family | body | texts per request | `inputType` | usage |
 * | --- | --- | --- | --- | --- |
 * | Titan text v1 / v2 (`amazon.titan-embed-text-*`) | `inputText`, v2: `dimensions`, `normalize` | 1 | — | `inputTextTokenCount` |
 * | Cohere (`cohere.embed-*`) | `texts`, `input_type`, `truncate`, v4: `output_dimension` | 96 | `search_query` / `search_document` | none reported |
 * | Nova multimodal (`amazon.nova-*-embeddings-*`) | `singleEmbeddingParams`: `text`, `embeddingPurpose`, `embeddingDimension` | 1 | `GENERIC_RETRIEVAL` / `GENERIC_INDEX` | none reported |
 *
 * `truncate: true` lets the provider cut long texts (Cohere `END`, Nova `truncationMode: END`;
 * `NONE` otherwise, so a too-long text fails instead). Anything else a family takes (Cohere's
 * `classification` input type, Titan's `normalize: false`) goes in `extraBody`, which is merged
 * over the body.
 *
 * @example
 * ```ts
 * import { EmbeddingModel } from "@agentfx/core"
 * import { BedrockClient, BedrockEmbedding } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const EmbedderLive = BedrockEmbedding.model("amazon.titan-embed-text-v2:0").pipe(
 *   Layer.provide(BedrockClient.layerConfig()), // AWS_REGION + the AWS credential chain
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * const program = EmbeddingModel.embed(["agentfx docs"], { inputType: "document", dimensions: 256 })
 * ```
 *
 * @since 0.1.0
 */
import { AgentError, EmbeddingModel, Usage } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as BedrockClientModule from "./BedrockClient.js"
import { BedrockClient } from "./BedrockClient.js"
import * as Embedding from "./internal/embedding.js"

/** The provider name of the embedders. */
export const providerName = "bedrock"

/** The embedding families Bedrock serves (each has its own request body). */
export type Family = "titan-v1" | "titan-v2" | "cohere-v3" | "cohere-v4" | "nova"

/** The family of a Bedrock embedding model id (a regional prefix such as `us.` is ignored). */
export const familyOf = (modelId: string): Family | undefined => {
  const id = modelId.replace(/^(us|eu|apac|global|ap|ca|jp|au)\./, "")
  if (id.startsWith("amazon.titan-embed-text-v1")) return "titan-v1"
  if (id.startsWith("amazon.titan-embed")) return "titan-v2"
  if (id.startsWith("cohere.embed-v4")) return "cohere-v4"
  if (id.startsWith("cohere.embed")) return "cohere-v3"
  if (id.startsWith("amazon.nova") && id.includes("embed")) return "nova"
  return undefined
}

/** Texts per request of a family (Titan and Nova embed one text per call). */
export const maxBatchSizeOf = (family: Family): number =>
  family === "cohere-v3" || family === "cohere-v4" ? 96 : 1

/** The InvokeModel body of one batch (pure). */
export const encodeRequest = (
  family: Family,
  texts: ReadonlyArray<string>,
  settings: EmbeddingModel.BatchSettings
): Record<string, unknown> => {
  switch (family) {
    case "titan-v1":
      return { inputText: texts[0] ?? "" }
    case "titan-v2":
      return {
        inputText: texts[0] ?? "",
        ...(settings.dimensions !== undefined ? { dimensions: settings.dimensions } : {}),
        normalize: true
      }
    case "cohere-v3":
    case "cohere-v4":
      return {
        texts,
        input_type: settings.inputType === "document" ? "search_document" : "search_query",
        ...(family === "cohere-v4" && settings.dimensions !== undefined
          ? { output_dimension: settings.dimensions }
          : {}),
        truncate: settings.truncate === true ? "END" : "NONE"
      }
    case "nova":
      return {
        taskType: "SINGLE_EMBEDDING",
        singleEmbeddingParams: {
          embeddingPurpose:
            settings.inputType === "document" ? "GENERIC_INDEX" : "GENERIC_RETRIEVAL",
          text: {
            value: texts[0] ?? "",
            truncationMode: settings.truncate === true ? "END" : "NONE"
          },
          ...(settings.dimensions !== undefined ? { embeddingDimension: settings.dimensions } : {})
        }
      }
  }
}

/** Decodes an InvokeModel answer of a family (pure): the vectors and, for Titan, input tokens. */
export const decodeResponse = (
  family: Family,
  json: unknown,
  modelId: string
): EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior => {
  const body = Embedding.record(json)
  const fail = (what: string) => Embedding.malformed(providerName, modelId, what)
  switch (family) {
    case "titan-v1":
    case "titan-v2": {
      const vector = body?.embedding
      if (!Embedding.isVector(vector)) return fail("no `embedding` vector")
      const inputTokens = Embedding.num(body?.inputTextTokenCount)
      return {
        vectors: [vector],
        usage:
          inputTokens === undefined
            ? Usage.RequestUsage.empty
            : new Usage.RequestUsage({ inputTokens })
      }
    }
    case "cohere-v3":
    case "cohere-v4": {
      // v3 answers a list of vectors, v4 `{ float: [...] }`
      const e = body?.embeddings
      const vectors = Array.isArray(e) ? e : Embedding.record(e)?.float
      if (!Array.isArray(vectors) || !vectors.every(Embedding.isVector))
        return fail("no `embeddings` vectors")
      return { vectors, usage: Usage.RequestUsage.empty }
    }
    case "nova": {
      const first = Array.isArray(body?.embeddings)
        ? Embedding.record(body.embeddings[0])
        : undefined
      const vector = first?.embedding
      if (!Embedding.isVector(vector)) return fail("no `embeddings[0].embedding` vector")
      return { vectors: [vector], usage: Usage.RequestUsage.empty }
    }
  }
}

/** Options of `make` / `model`. */
export interface Options {
  readonly settings?: EmbeddingModel.EmbeddingSettings | undefined
  /** The family, when the model id does not say (an inference profile ARN). */
  readonly family?: Family | undefined
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number | undefined
}

/** Builds the embedder from a Bedrock client; `undefined` when the family is unknown. */
export const makeWith = (
  client: BedrockClientModule.Service,
  modelId: string,
  options: Options = {}
): EmbeddingModel.Service | undefined => {
  const family = options.family ?? familyOf(modelId)
  if (family === undefined) return undefined
  return EmbeddingModel.make({
    modelName: modelId,
    provider: providerName,
    maxBatchSize: maxBatchSizeOf(family),
    concurrency: options.concurrency,
    settings: options.settings,
    embedBatch: (texts, settings) =>
      client.invoke(
        modelId,
        encodeRequest(family, texts, settings),
        EmbeddingModel.httpSettings(settings),
        Embedding.decoded((json) => decodeResponse(family, json, modelId))
      )
  })
}

/**
 * Builds a Bedrock embedder from the `BedrockClient` in context. An id whose family is unknown
 * is a `UserError` naming the families (pass `family` for an inference profile ARN).
 */
export const make = (
  modelId: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, AgentError.UserError, BedrockClient> =>
  Effect.flatMap(BedrockClient, (client) => {
    const embedder = makeWith(client, modelId, options)
    return embedder === undefined
      ? Effect.fail(
          new AgentError.UserError({
            reason: `Bedrock embedding model "${modelId}" is of no known family (Titan text, Cohere embed, Nova embeddings); pass { family: "titan-v1" | "titan-v2" | "cohere-v3" | "cohere-v4" | "nova" }`
          })
        )
      : Effect.succeed(embedder)
  })

/** A Layer providing `EmbeddingModel`, e.g. `BedrockEmbedding.model("cohere.embed-v4:0")`. */
export const model = (
  modelId: string,
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel, AgentError.UserError, BedrockClient> =>
  Layer.effect(EmbeddingModel.EmbeddingModel, make(modelId, options))
