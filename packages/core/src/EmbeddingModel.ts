/**
 * The `EmbeddingModel` service: one embedding model behind one interface, the way `Model` is one
 * chat model. Providers (`@agentfx/providers`: `OpenAiEmbedding`, `GoogleEmbedding`,
 * `CohereEmbedding`, `VoyageEmbedding`) and `TestEmbeddingModel` are Layers that provide it.
 *
 * `embed(texts, { inputType })` splits the texts into batches no larger than the provider accepts
 * (`maxBatchSize`, or a smaller `batchSize`), sends up to `concurrency` batches at a time and
 * returns the vectors in input order with the summed usage. Transport retries, timeouts and
 * interruption behave as for chat models (the providers share the same HTTP helpers).
 *
 * Called from inside an agent run (a tool handler, say), the usage is also added to the run's
 * `RunUsage` (found through `Agent.CurrentUsage`): the input tokens count towards the run's
 * token limits, and `details.embeddingRequests` / `details.embeddingInputTokens` tell them apart
 * from the chat model's.
 *
 * With a pricing installed (`Cost.layer()`, `Cost.withPricing()`, or a run with a `costLimit`),
 * each request's usage carries its price (`result.usage.cost`) and the price is added to the
 * run's `RunUsage.cost`, so a run's `costLimit` counts what its embeddings spent.
 *
 * @example
 * ```ts
 * import { EmbeddingModel, TestEmbeddingModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const embedder = yield* EmbeddingModel.EmbeddingModel
 *   const result = yield* embedder.embed(["hello", "world"], { inputType: "document" })
 *   return result.vectors.length // 2
 * }).pipe(Effect.provide(TestEmbeddingModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { CurrentUsage } from "./Agent.js"
import { CurrentPricing } from "./Cost.js"
import {
  type ModelAPIError,
  type ModelHTTPError,
  UnexpectedModelBehavior,
  UserError
} from "./AgentError.js"
import type { ModelSettings } from "./ModelSettings.js"
import { RequestUsage, RunUsage } from "./Usage.js"

/** What the texts are: search queries, or documents to be searched. */
export const InputType = Schema.Literal("query", "document")
/** `"query"` (a search query) or `"document"` (a text to be retrieved). */
export type InputType = typeof InputType.Type

/** What embedding can fail with: the chat models' errors, reused. */
export type EmbeddingError = ModelHTTPError | ModelAPIError | UnexpectedModelBehavior | UserError

/**
 * Settings of an embedding request. A model's own settings are defaults; a call's win, key by key.
 * Providers map each field to their parameter and ignore the ones they lack.
 */
export interface EmbeddingSettings {
  /** Length of the vectors, for models that can shorten them (OpenAI `text-embedding-3-*`, Gemini, Cohere v4, Voyage). */
  readonly dimensions?: number | undefined
  /**
   * Whether the provider may cut texts longer than the model's input limit (Cohere `truncate:
   * "END"`, Voyage `truncation: true`). Default `false`: a too-long text is an error, not silently
   * shortened.
   */
  readonly truncate?: boolean | undefined
  /** Title of the documents, for providers that use one (Google, for `inputType: "document"`). */
  readonly title?: string | undefined
  /** Deadline of each HTTP attempt (default `ModelSettings.defaultTimeout`). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Sent with every request. */
  readonly extraHeaders?: Record<string, string> | undefined
  /** Merged into the JSON body (top level), after the provider's own fields. */
  readonly extraBody?: Record<string, unknown> | undefined
}

/** Options of one `embed` call. */
export interface EmbedOptions extends EmbeddingSettings {
  readonly inputType: InputType
  /** Texts per request; capped at the model's `maxBatchSize`. */
  readonly batchSize?: number | undefined
  /** Requests in flight at once (default: the model's `concurrency`, 4 unless set). */
  readonly concurrency?: number | undefined
}

/** The result of `embed`: one vector per text, in input order. */
export class EmbeddingResult extends Schema.Class<EmbeddingResult>("EmbeddingResult")({
  vectors: Schema.Array(Schema.Array(Schema.Number)),
  inputType: InputType,
  /** Summed over the requests; providers that report no usage (the Gemini API) leave it empty. */
  usage: RequestUsage,
  /** The model name, as the provider reported it when it did. */
  model: Schema.String,
  /** The provider (`openai`, `google`, `cohere`, `voyage`, `test`…). */
  provider: Schema.String,
  /** How many HTTP requests (batches) were made. */
  requests: Schema.Number
}) {}

/** What a provider's single request returns. */
export interface BatchResult {
  readonly vectors: ReadonlyArray<ReadonlyArray<number>>
  readonly usage: RequestUsage
  /** The model name the provider reported, if any. */
  readonly model?: string | undefined
}

/** The settings one batch request is made with (the model's merged with the call's). */
export interface BatchSettings extends EmbeddingSettings {
  readonly inputType: InputType
}

/** The service an embedding model provides. */
export interface Service {
  /** The model's name as the provider knows it (`text-embedding-3-small`). */
  readonly modelName: string
  /** The provider name (`openai`, `google`, `cohere`, `voyage`, `test`). */
  readonly provider: string
  /** The most texts one request may carry. */
  readonly maxBatchSize: number
  /** Requests in flight at once when a call does not say. */
  readonly concurrency: number
  /** The model's own settings; a call's are merged over them. */
  readonly settings: EmbeddingSettings | undefined
  /** Embeds texts (batched, concurrently); the vectors come back in input order. */
  readonly embed: (
    texts: ReadonlyArray<string>,
    options: EmbedOptions
  ) => Effect.Effect<EmbeddingResult, EmbeddingError>
  /** Counts the tokens of a text, for providers that can (`None` otherwise). */
  readonly countTokens: Option.Option<(text: string) => Effect.Effect<number, EmbeddingError>>
}

/** The embedding model a program talks to. */
export class EmbeddingModel extends Context.Tag("@agentfx/core/EmbeddingModel")<
  EmbeddingModel,
  Service
>() {}

/** What a provider plugs into `make`. */
export interface MakeOptions {
  readonly modelName: string
  readonly provider: string
  /** The provider's limit of texts per request. */
  readonly maxBatchSize: number
  /** Default requests in flight (default 4). */
  readonly concurrency?: number | undefined
  readonly settings?: EmbeddingSettings | undefined
  /** One request for at most `maxBatchSize` texts. */
  readonly embedBatch: (
    texts: ReadonlyArray<string>,
    settings: BatchSettings
  ) => Effect.Effect<BatchResult, EmbeddingError>
  readonly countTokens?: ((text: string) => Effect.Effect<number, EmbeddingError>) | undefined
}

/** The `ModelSettings` fields of embedding settings, for the providers' HTTP helpers. */
export const httpSettings = (settings: EmbeddingSettings): ModelSettings => {
  const out: { -readonly [K in keyof ModelSettings]: ModelSettings[K] } = {}
  if (settings.timeout !== undefined) out.timeout = settings.timeout
  if (settings.extraHeaders !== undefined) out.extraHeaders = settings.extraHeaders
  if (settings.extraBody !== undefined) out.extraBody = settings.extraBody
  return out
}

/** `overrides` merged over `base`, key by key (`extraHeaders` / `extraBody` one level deep). */
export const mergeSettings = (
  base: EmbeddingSettings | undefined,
  overrides: EmbeddingSettings
): EmbeddingSettings => {
  if (base === undefined) return overrides
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) out[k] = v
  if (base.extraHeaders !== undefined && overrides.extraHeaders !== undefined)
    out.extraHeaders = { ...base.extraHeaders, ...overrides.extraHeaders }
  if (base.extraBody !== undefined && overrides.extraBody !== undefined)
    out.extraBody = { ...base.extraBody, ...overrides.extraBody }
  return out as EmbeddingSettings
}

/**
 * The run's usage plus one embedding request: input tokens count as input tokens (so token
 * limits see them), `details.embeddingRequests` and `details.embeddingInputTokens` keep them
 * apart. A priced request adds its `cost`. `requests` (chat model requests, `requestLimit`) is
 * not touched.
 */
export const addToRunUsage = (run: RunUsage, usage: RequestUsage): RunUsage => {
  const details = { ...run.details }
  details.embeddingRequests = (details.embeddingRequests ?? 0) + 1
  details.embeddingInputTokens = (details.embeddingInputTokens ?? 0) + usage.inputTokens
  const cost =
    usage.cost === undefined
      ? run.cost
      : run.cost === undefined
        ? usage.cost
        : run.cost + usage.cost
  return new RunUsage(
    {
      ...run,
      inputTokens: run.inputTokens + usage.inputTokens,
      details,
      ...(cost === undefined ? {} : { cost })
    },
    true
  )
}

/** `result` with its price on its usage, when a pricing is installed and knows the model. */
const priced = (
  provider: string,
  modelName: string,
  result: BatchResult
): Effect.Effect<BatchResult> =>
  Effect.flatMap(CurrentPricing, (pricing) =>
    pricing === undefined
      ? Effect.succeed(result)
      : Effect.map(pricing.forModel(provider, result.model ?? modelName), (price) =>
          price === undefined
            ? result
            : {
                ...result,
                usage: new RequestUsage({ ...result.usage, cost: price(result.usage) }, true)
              }
        )
  )

const invalid = (reason: string) => Effect.fail(new UserError({ reason }))

const positiveInt = (n: number | undefined): boolean =>
  n === undefined || (Number.isInteger(n) && n > 0)

/**
 * Builds an embedding model service from a provider's single-request function: validation,
 * batching, concurrency, run-usage accounting and the `embeddings {model}` span (OpenTelemetry
 * GenAI names) are done here, once for every provider.
 */
export const make = (options: MakeOptions): Service => {
  const { modelName, provider, maxBatchSize } = options
  const defaultConcurrency = options.concurrency ?? 4
  const embed = (
    texts: ReadonlyArray<string>,
    call: EmbedOptions
  ): Effect.Effect<EmbeddingResult, EmbeddingError> => {
    if (call.inputType !== "query" && call.inputType !== "document")
      return invalid(
        `inputType must be "query" or "document", got ${JSON.stringify(call.inputType)}`
      )
    const { batchSize: _b, concurrency: _c, inputType, ...callSettings } = call
    const settings: BatchSettings = { ...mergeSettings(options.settings, callSettings), inputType }
    if (!positiveInt(settings.dimensions))
      return invalid(`dimensions must be a positive integer, got ${settings.dimensions}`)
    if (!positiveInt(call.batchSize))
      return invalid(`batchSize must be a positive integer, got ${call.batchSize}`)
    if (!positiveInt(call.concurrency))
      return invalid(`concurrency must be a positive integer, got ${call.concurrency}`)
    const bad = texts.findIndex((t) => typeof t !== "string")
    if (bad >= 0) return invalid(`texts[${bad}] is not a string`)
    const size = Math.min(call.batchSize ?? maxBatchSize, maxBatchSize)
    const batches: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < texts.length; i += size) batches.push(texts.slice(i, i + size))
    const one = (batch: ReadonlyArray<string>) =>
      Effect.flatMap(options.embedBatch(batch, settings), (unpriced) =>
        unpriced.vectors.length !== batch.length
          ? Effect.fail(
              new UnexpectedModelBehavior({
                reason: `${provider} embedding model ${modelName} returned ${unpriced.vectors.length} vectors for ${batch.length} texts`
              })
            )
          : // Counted per request, so an interrupted call still counts what it spent.
            Effect.tap(priced(provider, modelName, unpriced), (result) =>
              Effect.flatMap(Effect.serviceOption(CurrentUsage), (ref) =>
                Option.isSome(ref)
                  ? Ref.update(ref.value, (u) => addToRunUsage(u, result.usage))
                  : Effect.void
              )
            )
      )
    return Effect.forEach(batches, one, {
      concurrency: call.concurrency ?? defaultConcurrency
    }).pipe(
      Effect.map((results) => {
        const vectors: Array<ReadonlyArray<number>> = []
        let usage = RequestUsage.empty
        let model = modelName
        for (const r of results) {
          for (const v of r.vectors) vectors.push(v)
          usage = usage.add(r.usage)
          if (r.model !== undefined) model = r.model
        }
        return new EmbeddingResult(
          { vectors, inputType, usage, model, provider, requests: results.length },
          true
        )
      }),
      Effect.tap((r) =>
        Effect.annotateCurrentSpan({
          "gen_ai.usage.input_tokens": r.usage.inputTokens,
          "gen_ai.response.model": r.model,
          ...(r.vectors[0] !== undefined
            ? { "gen_ai.embeddings.dimension.count": r.vectors[0].length }
            : {})
        })
      ),
      Effect.withSpan(`embeddings ${modelName}`, {
        kind: "client",
        attributes: {
          "gen_ai.operation.name": "embeddings",
          "gen_ai.provider.name": provider,
          "gen_ai.request.model": modelName,
          "agentfx.embeddings.input_type": inputType,
          "agentfx.embeddings.input_count": texts.length
        }
      })
    )
  }
  return {
    modelName,
    provider,
    maxBatchSize,
    concurrency: defaultConcurrency,
    settings: options.settings,
    embed,
    countTokens: Option.fromNullable(options.countTokens)
  }
}

/** Embeds with the `EmbeddingModel` of the context. */
export const embed = (
  texts: ReadonlyArray<string>,
  options: EmbedOptions
): Effect.Effect<EmbeddingResult, EmbeddingError, EmbeddingModel> =>
  Effect.flatMap(EmbeddingModel, (model) => model.embed(texts, options))

/** Cosine similarity of two vectors of the same length (0 when either is all zeros). */
export const cosineSimilarity = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a[i]!
    const y = b[i]!
    dot += x * y
    na += x * x
    nb += y * y
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/** `"provider:model"` strings resolved to embedding models; implemented by providers. */
export interface RegistryService {
  readonly resolve: (name: string) => Effect.Effect<Service, UserError>
}

/** Resolves embedding model strings. `@agentfx/providers` ships a Layer for it. */
export class EmbeddingRegistry extends Context.Tag("@agentfx/core/EmbeddingRegistry")<
  EmbeddingRegistry,
  RegistryService
>() {}

/** The embedding model named by a string (`"openai:text-embedding-3-small"`), from the registry. */
export const fromString = (name: string): Effect.Effect<Service, UserError, EmbeddingRegistry> =>
  Effect.flatMap(EmbeddingRegistry, (registry) => registry.resolve(name))
