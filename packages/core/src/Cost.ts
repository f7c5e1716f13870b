/**
 * What model requests cost, in US dollars. With a pricing installed, every response's usage
 * carries its price (`response.usage.cost`), a run's usage sums them (`RunUsage.cost`), the
 * `chat` and `invoke_agent` spans record it (`operation.cost`), and `UsageLimits.costLimit`
 * can stop a run that spends too much.
 *
 * `genaiPrices` prices requests from the data bundled with `@pydantic/genai-prices` (the price
 * database pydantic-ai uses). It never goes to the network: its data is the one of the
 * installed package version. The package (≈ 100 ms to load) is imported on the first priced
 * request, never before: runs without a pricing do no pricing work at all. A model whose price
 * is unknown gets `cost: undefined`, and a warning is logged once per provider and model.
 *
 * Pricing is off unless installed (`Cost.layer()`, `Cost.withPricing()`), except for a run with
 * a `costLimit`, which turns `genaiPrices` on for itself when no pricing is installed.
 *
 * @example
 * ```ts
 * import { Agent, Cost, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const agent = Agent.make({})
 * const program = Effect.gen(function* () {
 *   const result = yield* agent.run("Hello")
 *   return result.usage.cost // undefined: the test model has no price
 * }).pipe(Cost.withPricing(), Effect.provide(TestModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { RequestUsage } from "./Usage.js"

/** Prices the requests of one model: the dollars a request with this usage costs. */
export type ModelPrice = (usage: RequestUsage) => number

/** Knows the prices of models. */
export interface Pricing {
  /**
   * The price function of `model` served by `provider` (a `Model.Service`'s `system` and
   * `modelName`); `undefined` when the price is unknown.
   */
  readonly forModel: (provider: string, model: string) => Effect.Effect<ModelPrice | undefined>
}

/** The pricing runs use; `undefined` (the default) prices nothing. */
export class CurrentPricing extends Context.Reference<CurrentPricing>()(
  "@agentfx/core/Cost/CurrentPricing",
  { defaultValue: (): Pricing | undefined => undefined }
) {}

/** A run's cost budget: its `costLimit` and what it has spent so far. */
export interface Budget {
  readonly limit: number
  /** The run's `RunUsage.cost` now. */
  readonly spent: Effect.Effect<number | undefined>
}

/**
 * The budget of the run a model request belongs to (set by the run loop for runs with a
 * `costLimit`): priced requests are checked against it before they are sent.
 */
export class CurrentBudget extends Context.Reference<CurrentBudget>()(
  "@agentfx/core/Cost/CurrentBudget",
  { defaultValue: (): Budget | undefined => undefined }
) {}

/** `Model.Service.system` names whose genai-prices provider id differs. */
const providerIds: Readonly<Record<string, string>> = {
  "google-gla": "google",
  "google-vertex": "google",
  gemini: "google",
  bedrock: "aws",
  "openai-responses": "openai",
  "openai-chat": "openai"
}

type GenaiPrices = typeof import("@pydantic/genai-prices")

/** The package, imported on first use (one import for the process). */
let loading: Promise<GenaiPrices> | undefined
const loadGenaiPrices: Effect.Effect<GenaiPrices> = Effect.promise(() => {
  if (loading === undefined) loading = import("@pydantic/genai-prices")
  return loading
})

/** The usage keys genai-prices reads. */
const priceUsage = (usage: RequestUsage): Record<string, number> => ({
  input_tokens: usage.inputTokens,
  output_tokens: usage.outputTokens,
  cache_read_tokens: usage.cacheReadTokens,
  cache_write_tokens: usage.cacheWriteTokens,
  input_audio_tokens: usage.inputAudioTokens,
  output_audio_tokens: usage.outputAudioTokens
})

/** Models already warned about (one warning per provider and model for the process). */
const warned = new Set<string>()

const unknownPrice = (provider: string, model: string): Effect.Effect<undefined> => {
  const key = `${provider}:${model}`
  if (warned.has(key)) return Effect.succeed(undefined)
  warned.add(key)
  return Effect.as(
    Effect.logWarning(
      `No price known for model '${model}' of provider '${provider}': its requests are not priced by it.`
    ),
    undefined
  )
}

/**
 * Prices from `@pydantic/genai-prices`' bundled data (no network). The provider is matched
 * by id first (`system`, with Google and Bedrock names mapped), then by the model name alone.
 * Prices that depend on the date or time of day use the time of the request.
 */
export const genaiPrices: Pricing = {
  forModel: (provider, model) => {
    const key = `${provider}:${model}`
    if (resolvedPrices.has(key)) return Effect.succeed(resolvedPrices.get(key))
    return Effect.flatMap(loadGenaiPrices, (gp) => {
      const providerId = providerIds[provider] ?? provider
      const probe = priceUsage({
        inputTokens: 0,
        outputTokens: 0,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        inputAudioTokens: 0,
        outputAudioTokens: 0
      } as RequestUsage)
      const byProvider = gp.calcPrice(probe, model, { providerId }) !== null
      if (!byProvider && gp.calcPrice(probe, model) === null) {
        resolvedPrices.set(key, undefined)
        return unknownPrice(provider, model)
      }
      const options = byProvider ? { providerId } : undefined
      const price: ModelPrice = (usage) =>
        gp.calcPrice(priceUsage(usage), model, options)?.total_price ?? 0
      resolvedPrices.set(key, price)
      return Effect.succeed(price)
    })
  }
}

/** `genaiPrices`' answers per `provider:model`, once the package is loaded. */
const resolvedPrices = new Map<string, ModelPrice | undefined>()

/** Prices per million tokens, for `fromTable`. */
export interface TablePrice {
  readonly inputPerMillion: number
  readonly outputPerMillion: number
  /** Cached input tokens read; defaults to the input price. */
  readonly cacheReadPerMillion?: number
  /** Cached input tokens written; defaults to the input price. */
  readonly cacheWritePerMillion?: number
}

/**
 * A pricing from your own table, keyed by `provider:model` or by model name alone (private
 * deployments, negotiated prices, tests). Input tokens include cached ones, which are priced
 * at their own rates when given.
 */
export const fromTable = (table: Readonly<Record<string, TablePrice>>): Pricing => ({
  forModel: (provider, model) => {
    const entry = table[`${provider}:${model}`] ?? table[model]
    if (entry === undefined) return unknownPrice(provider, model)
    const read = entry.cacheReadPerMillion ?? entry.inputPerMillion
    const write = entry.cacheWritePerMillion ?? entry.inputPerMillion
    const price: ModelPrice = (u) =>
      ((u.inputTokens - u.cacheReadTokens - u.cacheWriteTokens) * entry.inputPerMillion +
        u.cacheReadTokens * read +
        u.cacheWriteTokens * write +
        u.outputTokens * entry.outputPerMillion) /
      1_000_000
    return Effect.succeed(price)
  }
})

/** Installs `pricing` (default `genaiPrices`) for everything run under the layer. */
export const layer = (pricing: Pricing = genaiPrices): Layer.Layer<never> =>
  Layer.succeed(CurrentPricing, pricing)

/** Runs `effect` with `pricing` (default `genaiPrices`) installed. */
export const withPricing =
  (pricing: Pricing = genaiPrices) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, CurrentPricing, pricing)
