/**
 * Resolves `"provider:model"` strings (`"openai:gpt-4o"`, `"groq:llama-3.3-70b-versatile"`,
 * `"ollama:llama3.2"`, `"test"`) to models, reading keys from configuration. Implements core's
 * `Model.ModelRegistry`, so `Agent.make({ model: "openai:gpt-4o" })` works without core
 * depending on providers.
 *
 * The registry is a table of prefix → `Factory`; add providers with `layer({ factories })`.
 *
 * @example
 * ```ts
 * import { ModelRegistry } from "@agentfx/providers"
 * const program = Effect.gen(function* () {
 *   const registry = yield* Model.ModelRegistry
 *   const model = yield* registry.resolve("openai:gpt-4o")   // needs OPENAI_API_KEY
 * }).pipe(Effect.provide(ModelRegistry.layer()), Effect.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { AgentError, EmbeddingModel, Model, TestEmbeddingModel, TestModel } from "@agentfx/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Anthropic from "./Anthropic.js"
import * as AnthropicClient from "./AnthropicClient.js"
import * as Bedrock from "./Bedrock.js"
import * as BedrockClient from "./BedrockClient.js"
import * as BedrockEmbedding from "./BedrockEmbedding.js"
import * as BedrockMantle from "./BedrockMantle.js"
import * as BedrockMantleClient from "./BedrockMantleClient.js"
import * as Cohere from "./Cohere.js"
import * as CohereClient from "./CohereClient.js"
import * as CohereEmbedding from "./CohereEmbedding.js"
import * as Google from "./Google.js"
import * as GoogleClient from "./GoogleClient.js"
import * as GoogleEmbedding from "./GoogleEmbedding.js"
import * as Mistral from "./Mistral.js"
import * as MistralClient from "./MistralClient.js"
import * as OpenAiChat from "./OpenAiChat.js"
import * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"
import * as OpenAiEmbedding from "./OpenAiEmbedding.js"
import * as OpenAiResponses from "./OpenAiResponses.js"
import * as Snowflake from "./Snowflake.js"
import * as VoyageEmbedding from "./VoyageEmbedding.js"
import { secret } from "./internal/secret.js"

/**
 * Builds the model named after the prefix (`gpt-4o` for `"openai:gpt-4o"`). It reads its keys
 * with `Config` (so a missing key becomes a `UserError` naming it) and gets the `HttpClient`
 * from the registry's context.
 */
export type Factory = (
  modelName: string
) => Effect.Effect<
  Model.Service,
  AgentError.UserError | ConfigError.ConfigError,
  HttpClient.HttpClient
>

/** Reads a required secret; a missing one fails with a `ConfigError` naming the variable. */
const key = (name: string): Effect.Effect<Redacted.Redacted, ConfigError.ConfigError> =>
  secret(name)
const optionalString = (name: string): Effect.Effect<string | undefined, ConfigError.ConfigError> =>
  Effect.map(Config.option(Config.string(name)), Option.getOrUndefined)

const withClient = (
  options: OpenAiClient.Options,
  build: Effect.Effect<Model.Service, never, OpenAiClient.OpenAiClient>
): Effect.Effect<Model.Service, never, HttpClient.HttpClient> =>
  Effect.flatMap(OpenAiClient.make(options), (client) =>
    Effect.provideService(build, OpenAiClient.OpenAiClient, client)
  )

/**
 * A factory from a client layer (usually the provider's `layerConfig()`) and a model builder
 * that needs that client, e.g. `fromLayer(AnthropicClient.layerConfig(), Anthropic.fromModelString)`.
 * Builds embedders the same way (`EmbedderFactory`).
 */
export const fromLayer =
  <Client, E extends AgentError.UserError | ConfigError.ConfigError, S = Model.Service>(
    clientLayer: Layer.Layer<Client, E, HttpClient.HttpClient>,
    build: (modelName: string) => Effect.Effect<S, never, Client>
  ) =>
  (modelName: string): Effect.Effect<S, E, HttpClient.HttpClient> =>
    Effect.scoped(
      Effect.flatMap(Layer.build(clientLayer), (context) =>
        Effect.provide(build(modelName), context)
      )
    )

/**
 * `openai:<model>` (Chat Completions, deliberately — pydantic-ai V2 uses Responses; see
 * docs/PARITY.md, deliberate change 7): `OPENAI_API_KEY`, optional `OPENAI_BASE_URL`.
 */
export const openAiChatFactory: Factory = (modelName) =>
  Effect.gen(function* () {
    const apiKey = yield* key("OPENAI_API_KEY")
    const baseUrl = yield* optionalString("OPENAI_BASE_URL")
    return yield* withClient({ apiKey, baseUrl }, OpenAiChat.make(modelName))
  })

/** A factory for an OpenAI-compatible vendor (its key from the vendor's environment variable). */
export const compatibleFactory =
  (vendor: OpenAiCompatible.Vendor): Factory =>
  (modelName) =>
    Effect.gen(function* () {
      const apiKey = vendor.apiKeyEnv !== undefined ? yield* key(vendor.apiKeyEnv) : undefined
      const baseUrl =
        vendor.baseUrlEnv !== undefined ? yield* optionalString(vendor.baseUrlEnv) : undefined
      return yield* withClient(
        OpenAiCompatible.clientOptions(vendor, { apiKey, baseUrl }),
        OpenAiCompatible.make(vendor, modelName)
      )
    })

/** `azure:<deployment>`: `AZURE_OPENAI_ENDPOINT`, `AZURE_OPENAI_API_KEY`, `OPENAI_API_VERSION`. */
export const azureFactory: Factory = (deployment) =>
  Effect.gen(function* () {
    const endpoint = yield* Config.string("AZURE_OPENAI_ENDPOINT")
    const apiKey = yield* key("AZURE_OPENAI_API_KEY")
    const apiVersion = yield* Config.string("OPENAI_API_VERSION").pipe(
      Config.withDefault("2024-10-21")
    )
    return yield* withClient(
      {
        baseUrl: `${endpoint.replace(/\/+$/, "")}/openai`,
        apiKey,
        authHeader: "api-key",
        queryParams: { "api-version": apiVersion }
      },
      OpenAiChat.make(deployment, {
        system: "azure",
        path: `/deployments/${encodeURIComponent(deployment)}/chat/completions`
      })
    )
  })

/** `test` / `test:<name>`: core's `TestModel` (no network, no key). */
export const testFactory: Factory = (modelName) =>
  Effect.map(TestModel.make(modelName === "" ? {} : { modelName }), (test) => test.model)

/** The factories registered by default. */
export const defaultFactories: Readonly<Record<string, Factory>> = {
  openai: openAiChatFactory,
  "openai-chat": openAiChatFactory,
  "openai-responses": fromLayer(OpenAiClient.layerConfig(), OpenAiResponses.fromModelString),
  anthropic: fromLayer(AnthropicClient.layerConfig(), Anthropic.fromModelString),
  bedrock: fromLayer(BedrockClient.layerConfig(), Bedrock.fromModelString),
  "bedrock-mantle": fromLayer(BedrockMantleClient.layerConfig(), BedrockMantle.fromModelString),
  mistral: fromLayer(MistralClient.layerConfig(), Mistral.fromModelString),
  cohere: fromLayer(CohereClient.layerConfig(), Cohere.fromModelString),
  google: Google.registryFactory,
  gemini: Google.registryFactory,
  "google-vertex": fromLayer(GoogleClient.vertexLayerConfig(), Google.fromModelString),
  snowflake: fromLayer(Snowflake.layerConfig(), Snowflake.fromModelString),
  azure: azureFactory,
  test: testFactory,
  ...Object.fromEntries(
    Object.entries(OpenAiCompatible.vendors).map(([name, vendor]) => [
      name,
      compatibleFactory(vendor)
    ])
  )
}

const distance = (a: string, b: string): number => {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!
    dp[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return dp[b.length]!
}

/** Known names close to `name` (edit distance ≤ 2, or sharing a prefix). */
export const suggest = (name: string, known: ReadonlyArray<string>): Array<string> =>
  known
    .map((k) => ({ k, d: distance(name.toLowerCase(), k) }))
    .filter(
      ({ k, d }) => d <= 2 || (name.length >= 3 && (k.startsWith(name) || name.startsWith(k)))
    )
    .sort((a, b) => a.d - b.d)
    .map(({ k }) => k)

const configReason = (error: ConfigError.ConfigError, model: string): string => {
  const missing: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "MissingData":
        missing.push(e.path.join("_"))
        return
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      default:
        return
    }
  }
  walk(error)
  return missing.length > 0
    ? `Cannot create model "${model}": set ${missing.join(", ")} (missing configuration)`
    : `Cannot create model "${model}": invalid configuration (${String(error)})`
}

/**
 * Resolves `name` with a factory table: splits the prefix off, suggests close prefixes for an
 * unknown one, turns a configuration error into a `UserError` naming the missing variables.
 */
const resolveWith = <S>(
  factories: Readonly<
    Record<
      string,
      (
        modelName: string
      ) => Effect.Effect<S, AgentError.UserError | ConfigError.ConfigError, HttpClient.HttpClient>
    >
  >,
  http: HttpClient.HttpClient,
  name: string,
  noun: string,
  span: string
): Effect.Effect<S, AgentError.UserError> => {
  const at = name.indexOf(":")
  const prefix = at < 0 ? name : name.slice(0, at)
  const modelName = at < 0 ? "" : name.slice(at + 1)
  const factory = factories[prefix]
  if (factory === undefined) {
    const close = suggest(prefix, Object.keys(factories))
    return Effect.fail(
      new AgentError.UserError({
        reason: `Unknown ${noun} provider "${prefix}" in "${name}".${close.length > 0 ? ` Did you mean ${close.map((c) => `"${c}"`).join(" or ")}?` : ""} Known providers: ${Object.keys(factories).sort().join(", ")}.`
      })
    )
  }
  if (modelName === "" && prefix !== "test") {
    return Effect.fail(
      new AgentError.UserError({
        reason: `${noun[0]!.toUpperCase()}${noun.slice(1)} string "${name}" has no model name; use "${prefix}:<model>"`
      })
    )
  }
  return factory(modelName).pipe(
    Effect.catchIf(ConfigError.isConfigError, (e) =>
      Effect.fail(new AgentError.UserError({ reason: configReason(e, name) }))
    ),
    Effect.provideService(HttpClient.HttpClient, http),
    Effect.withSpan(span, { attributes: { "agentfx.model": name } })
  )
}

/** The registry service over a factory table. */
export const make = (
  factories: Readonly<Record<string, Factory>> = defaultFactories
): Effect.Effect<Model.RegistryService, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (http) => ({
    resolve: (name: string) => resolveWith(factories, http, name, "model", "ModelRegistry.resolve")
  }))

/**
 * A `Model.ModelRegistry` layer with the default factories plus `factories` (which win on
 * the same prefix).
 */
export const layer = (
  options: { readonly factories?: Readonly<Record<string, Factory>> } = {}
): Layer.Layer<Model.ModelRegistry, never, HttpClient.HttpClient> =>
  Layer.effect(Model.ModelRegistry, make({ ...defaultFactories, ...options.factories }))

/** A layer providing `Model` resolved from a model string (fails with `UserError`). */
export const model = (
  name: string
): Layer.Layer<Model.Model, AgentError.UserError, Model.ModelRegistry> =>
  Layer.effect(
    Model.Model,
    Effect.flatMap(Model.ModelRegistry, (registry) => registry.resolve(name))
  )

// ---------------------------------------------------------------------------
// Embedding models
// ---------------------------------------------------------------------------

/** Builds the embedding model named after the prefix (`text-embedding-3-small` for `"openai:text-embedding-3-small"`). */
export type EmbedderFactory = (
  modelName: string
) => Effect.Effect<
  EmbeddingModel.Service,
  AgentError.UserError | ConfigError.ConfigError,
  HttpClient.HttpClient
>

/** `test` / `test:<name>`: core's `TestEmbeddingModel` (no network, no key). */
export const testEmbedderFactory: EmbedderFactory = (modelName) =>
  Effect.map(TestEmbeddingModel.make(modelName === "" ? {} : { modelName }), (t) => t.model)

/**
 * The embedder factories registered by default: `openai:` (`OPENAI_API_KEY`), `google:` /
 * `gemini:` (`GEMINI_API_KEY` or `GOOGLE_API_KEY`), `google-vertex:` (Vertex AI `:predict`;
 * `GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION` and `GOOGLE_APPLICATION_CREDENTIALS` or
 * `GOOGLE_CLOUD_API_KEY`), `cohere:` (`CO_API_KEY` or
 * `COHERE_API_KEY`), `bedrock:` (Titan, Cohere and Nova embeddings; `AWS_REGION` and the AWS
 * credential chain), `voyage:` (`VOYAGE_API_KEY`), `test`.
 */
export const defaultEmbedderFactories: Readonly<Record<string, EmbedderFactory>> = {
  openai: fromLayer(OpenAiClient.layerConfig(), (name) => OpenAiEmbedding.make(name)),
  google: fromLayer(GoogleClient.layerConfig(), (name) => GoogleEmbedding.make(name)),
  gemini: fromLayer(GoogleClient.layerConfig(), (name) => GoogleEmbedding.make(name)),
  "google-vertex": fromLayer(GoogleClient.vertexLayerConfig(), (name) =>
    GoogleEmbedding.make(name)
  ),
  cohere: fromLayer(CohereEmbedding.layerConfig(), (name) => CohereEmbedding.make(name)),
  bedrock: (name) =>
    Effect.scoped(
      Effect.flatMap(Layer.build(BedrockClient.layerConfig()), (context) =>
        Effect.provide(BedrockEmbedding.make(name), context)
      )
    ),
  voyage: fromLayer(VoyageEmbedding.layerConfig(), (name) => VoyageEmbedding.make(name)),
  test: testEmbedderFactory
}

/** The embedding registry service over a factory table. */
export const makeEmbedders = (
  factories: Readonly<Record<string, EmbedderFactory>> = defaultEmbedderFactories
): Effect.Effect<EmbeddingModel.RegistryService, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (http) => ({
    resolve: (name: string) =>
      resolveWith(factories, http, name, "embedding model", "ModelRegistry.resolveEmbedder")
  }))

/**
 * Resolves an embedding model string with the default factories, e.g.
 * `resolveEmbedder("openai:text-embedding-3-small")`. A missing key or an unknown provider is a
 * `UserError` that names it.
 */
export const resolveEmbedder = (
  name: string
): Effect.Effect<EmbeddingModel.Service, AgentError.UserError, HttpClient.HttpClient> =>
  Effect.flatMap(makeEmbedders(), (registry) => registry.resolve(name))

/**
 * An `EmbeddingModel.EmbeddingRegistry` layer with the default embedder factories plus
 * `factories` (which win on the same prefix); `EmbeddingModel.fromString(name)` reads it.
 */
export const embeddingLayer = (
  options: { readonly factories?: Readonly<Record<string, EmbedderFactory>> } = {}
): Layer.Layer<EmbeddingModel.EmbeddingRegistry, never, HttpClient.HttpClient> =>
  Layer.effect(
    EmbeddingModel.EmbeddingRegistry,
    makeEmbedders({ ...defaultEmbedderFactories, ...options.factories })
  )

/** A layer providing `EmbeddingModel` resolved from a string (fails with `UserError`). */
export const embedder = (
  name: string
): Layer.Layer<
  EmbeddingModel.EmbeddingModel,
  AgentError.UserError,
  EmbeddingModel.EmbeddingRegistry
> => Layer.effect(EmbeddingModel.EmbeddingModel, EmbeddingModel.fromString(name))
