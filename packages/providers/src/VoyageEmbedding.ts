/**
 * Voyage AI embeddings (`POST https://api.voyageai.com/v1/embeddings`) as core's
 * `EmbeddingModel`: OpenAI's wire shape with Voyage's own fields (`input_type`,
 * `output_dimension`, `truncation`). The client is an `OpenAiClient` pointed at Voyage, built
 * by `layer` / `layerConfig` here; provide it to the model locally so it does not replace the
 * OpenAI client of your chat models.
 *
 * @example
 * ```ts
 * import { EmbeddingModel } from "@agentfx/core"
 * import { VoyageEmbedding } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const EmbedderLive = VoyageEmbedding.model("voyage-3.5").pipe(
 *   Layer.provide(VoyageEmbedding.layerConfig()), // VOYAGE_API_KEY
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * const program = EmbeddingModel.embed(["agentfx docs"], { inputType: "document" })
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { EmbeddingModel } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiEmbedding from "./OpenAiEmbedding.js"
import * as Client from "./internal/client.js"
import { secret } from "./internal/secret.js"

/** Voyage's API base URL. */
export const defaultBaseUrl = "https://api.voyageai.com/v1"

/** An `OpenAiClient` for Voyage from explicit options (base URL defaults to Voyage's). */
export const layer = (
  options: OpenAiClient.Options = {}
): Layer.Layer<OpenAiClient.OpenAiClient, never, HttpClient.HttpClient> =>
  OpenAiClient.layer({ ...options, baseUrl: options.baseUrl ?? defaultBaseUrl })

/**
 * An `OpenAiClient` for Voyage from configuration: the key `VOYAGE_API_KEY`, the base URL the
 * optional `VOYAGE_BASE_URL` (default Voyage's).
 */
export const layerConfig = (
  options: OpenAiClient.ConfigOptions = {}
): Layer.Layer<OpenAiClient.OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  OpenAiClient.layerConfig({
    ...options,
    apiKey: options.apiKey ?? secret("VOYAGE_API_KEY"),
    baseUrl:
      options.baseUrl ??
      Client.optionalString("VOYAGE_BASE_URL").pipe(Config.map((u) => u ?? defaultBaseUrl))
  })

/** Options of `make` / `model` (the dialect is Voyage's). */
export type Options = Omit<OpenAiEmbedding.Options, "dialect">

/** Builds a Voyage embedding model service (the client from the context). */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<EmbeddingModel.Service, never, OpenAiClient.OpenAiClient> =>
  OpenAiEmbedding.make(modelName, { ...options, dialect: "voyage" })

/** A Layer providing `EmbeddingModel`, e.g. `VoyageEmbedding.model("voyage-3.5")`. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel, never, OpenAiClient.OpenAiClient> =>
  OpenAiEmbedding.model(modelName, { ...options, dialect: "voyage" })
