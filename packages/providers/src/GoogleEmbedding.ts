/**
 * Gemini API embeddings (`models/{model}:batchEmbedContents`, one request per batch of up to
 * 100 texts) as core's `EmbeddingModel`, through `GoogleClient`; token counting through
 * `:countTokens`.
 *
 * How a call's `inputType` reaches the model:
 * - most models (`gemini-embedding-001`, `gemini-embedding-2-preview`, `text-embedding-005`…)
 *   take a `taskType`: `RETRIEVAL_QUERY` for queries, `RETRIEVAL_DOCUMENT` for documents (or the
 *   model option `taskType`), and `title` for documents;
 * - `gemini-embedding-2` is conditioned by a prefix of the text instead (`task` option, default
 *   `"search result"`): a query becomes `task: search result | query: {text}`, a document
 *   `title: {title or none} | text: {text}`; symmetric tasks (`classification`, `clustering`,
 *   `sentence similarity`) use the query form for both; `raw` sends the text as is.
 *
 * The Gemini API reports no token usage for embeddings: results carry empty usage.
 *
 * @example
 * ```ts
 * import { EmbeddingModel } from "@agentfx/core"
 * import { GoogleClient, GoogleEmbedding } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const EmbedderLive = GoogleEmbedding.model("gemini-embedding-001").pipe(
 *   Layer.provide(GoogleClient.layerConfig()), // GEMINI_API_KEY (or GOOGLE_API_KEY)
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * const program = EmbeddingModel.embed(["agentfx docs"], { inputType: "document", title: "README" })
 * ```
 *
 * @since 0.1.0
 */
import { type AgentError, EmbeddingModel, Usage } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { GoogleClient } from "./GoogleClient.js"
import * as GoogleClientPosts from "./internal/googleClient.js"
import * as HttpModel from "./internal/httpModel.js"
import * as Embedding from "./internal/embedding.js"

/** What `gemini-embedding-2` is conditioned on, as a text prefix (see the module docs). */
export type Task =
  | "search result"
  | "question answering"
  | "fact checking"
  | "code retrieval"
  | "classification"
  | "clustering"
  | "sentence similarity"
  | "raw"

const symmetricTasks: ReadonlySet<Task> = new Set([
  "classification",
  "clustering",
  "sentence similarity"
])

/** The only model conditioned by a text prefix rather than `taskType`. */
export const taskPrefixModel = "gemini-embedding-2"

/** Options of `make` / `model`. */
export interface Options {
  readonly settings?: EmbeddingModel.EmbeddingSettings | undefined
  /** `gemini-embedding-2` only: the task prefix (default `"search result"`). */
  readonly task?: Task | undefined
  /** Other models only: a `taskType` instead of `RETRIEVAL_QUERY` / `RETRIEVAL_DOCUMENT`. */
  readonly taskType?: string | undefined
  /** Texts per request (default 100, the API's limit). */
  readonly maxBatchSize?: number | undefined
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number | undefined
}

/** The text as sent to `gemini-embedding-2` for a task and input type. */
export const conditionText = (
  text: string,
  task: Task,
  inputType: EmbeddingModel.InputType,
  title: string | undefined
): string =>
  task === "raw"
    ? text
    : inputType === "document" && !symmetricTasks.has(task)
      ? `title: ${title ?? "none"} | text: ${text}`
      : `task: ${task} | query: ${text}`

/** The `batchEmbedContents` body of one batch (pure). */
export const encodeRequest = (
  modelName: string,
  texts: ReadonlyArray<string>,
  settings: EmbeddingModel.BatchSettings,
  options: Pick<Options, "task" | "taskType"> = {}
): { readonly requests: Array<Record<string, unknown>> } => {
  const model = `models/${modelName}`
  const prefixed = modelName === taskPrefixModel
  const requests = texts.map((text) => {
    const r: Record<string, unknown> = {
      model,
      content: {
        parts: [
          {
            text: prefixed
              ? conditionText(
                  text,
                  options.task ?? "search result",
                  settings.inputType,
                  settings.title
                )
              : text
          }
        ]
      }
    }
    if (!prefixed) {
      r.taskType =
        options.taskType ??
        (settings.inputType === "document" ? "RETRIEVAL_DOCUMENT" : "RETRIEVAL_QUERY")
      if (settings.title !== undefined && r.taskType === "RETRIEVAL_DOCUMENT")
        r.title = settings.title
    }
    if (settings.dimensions !== undefined) r.outputDimensionality = settings.dimensions
    return r
  })
  return { requests }
}

/** Decodes a `batchEmbedContents` answer (pure). */
export const decodeResponse = (
  json: unknown,
  modelName: string
): EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior => {
  const embeddings = Embedding.record(json)?.embeddings
  if (!Array.isArray(embeddings))
    return Embedding.malformed("google", modelName, "no `embeddings` array")
  const vectors: Array<Array<number>> = []
  for (let i = 0; i < embeddings.length; i++) {
    const values = Embedding.record(embeddings[i])?.values
    if (!Embedding.isVector(values))
      return Embedding.malformed("google", modelName, `bad values at embeddings[${i}]`)
    vectors.push(values)
  }
  return { vectors, usage: Usage.RequestUsage.empty }
}

interface Call {
  readonly modelName: string
  readonly body: unknown
  readonly settings: import("@agentfx/core").ModelSettings.ModelSettings
  readonly method: "batchEmbedContents" | "predict" | "countTokens"
}

/**
 * The body of Vertex AI's `:predict` for embeddings: one instance per text (`content`, and
 * `task_type` / `title` as on the Gemini API), `outputDimensionality` in `parameters`.
 */
export const encodeVertexRequest = (
  modelName: string,
  texts: ReadonlyArray<string>,
  settings: EmbeddingModel.BatchSettings,
  options: Pick<Options, "task" | "taskType"> = {}
): {
  readonly instances: Array<Record<string, unknown>>
  readonly parameters?: Record<string, unknown>
} => {
  const { requests } = encodeRequest(modelName, texts, settings, options)
  const instances = requests.map((r) => {
    const parts = (r.content as { parts: Array<{ text: string }> }).parts
    return {
      content: parts[0]!.text,
      ...(r.taskType !== undefined ? { task_type: r.taskType } : {}),
      ...(r.title !== undefined ? { title: r.title } : {})
    }
  })
  return settings.dimensions !== undefined
    ? { instances, parameters: { outputDimensionality: settings.dimensions } }
    : { instances }
}

/**
 * Decodes Vertex AI's `:predict` answer: `predictions[i].embeddings.values`; the input tokens
 * are the sum of `embeddings.statistics.token_count`.
 */
export const decodeVertexResponse = (
  json: unknown,
  modelName: string
): EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior => {
  const predictions = Embedding.record(json)?.predictions
  if (!Array.isArray(predictions))
    return Embedding.malformed("google", modelName, "no `predictions` array")
  const vectors: Array<Array<number>> = []
  let tokens = 0
  for (let i = 0; i < predictions.length; i++) {
    const embeddings = Embedding.record(Embedding.record(predictions[i])?.embeddings)
    const values = embeddings?.values
    if (!Embedding.isVector(values))
      return Embedding.malformed("google", modelName, `bad values at predictions[${i}]`)
    vectors.push(values)
    tokens += Embedding.num(Embedding.record(embeddings?.statistics)?.token_count) ?? 0
  }
  return {
    vectors,
    usage: tokens === 0 ? Usage.RequestUsage.empty : new Usage.RequestUsage({ inputTokens: tokens })
  }
}

/** Builds the embedding model service of a Gemini model (the client from the context). */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, never, GoogleClient> =>
  Effect.map(GoogleClient, (client) => {
    const modelUrl = `${GoogleClientPosts.modelsUrl(client)}${encodeURIComponent(modelName)}:`
    const posts = GoogleClientPosts.posts(
      client,
      modelName,
      (call: Call) => `${modelUrl}${call.method}`
    )
    const vertex = client.vertex !== undefined
    const gemini = modelName.startsWith("gemini")
    return EmbeddingModel.make({
      modelName,
      provider: "google",
      // Gemini embedding models on Vertex take one input per request.
      maxBatchSize: options.maxBatchSize ?? (vertex && gemini ? 1 : 100),
      concurrency: options.concurrency,
      settings: options.settings,
      embedBatch: (texts, settings) =>
        vertex
          ? posts.postJson(
              {
                modelName,
                method: "predict",
                body: encodeVertexRequest(modelName, texts, settings, options),
                settings: EmbeddingModel.httpSettings(settings)
              },
              Embedding.decoded((json) => decodeVertexResponse(json, modelName))
            )
          : posts.postJson(
              {
                modelName,
                method: "batchEmbedContents",
                body: encodeRequest(modelName, texts, settings, options),
                settings: EmbeddingModel.httpSettings(settings)
              },
              Embedding.decoded((json) => decodeResponse(json, modelName))
            ),
      countTokens: (text) =>
        posts.postJson(
          {
            modelName,
            method: "countTokens",
            // Vertex counts other publisher models' inputs as `instances`.
            body:
              vertex && !gemini
                ? { instances: [{ content: text }] }
                : { contents: [{ role: "user", parts: [{ text }] }] },
            settings: EmbeddingModel.httpSettings(options.settings ?? {})
          },
          (json) => {
            const n = HttpModel.readTokenCount(json, "totalTokens")
            return n === undefined
              ? Effect.fail(Embedding.malformed("google", modelName, "no `totalTokens`"))
              : Effect.succeed(n)
          }
        )
    })
  })

/** A Layer providing `EmbeddingModel`, e.g. `GoogleEmbedding.model("gemini-embedding-001")`. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, GoogleClient> =>
  Layer.effect(EmbeddingModel.EmbeddingModel, make(modelName, options))
