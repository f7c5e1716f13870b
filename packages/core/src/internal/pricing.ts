/**
 * Pricing of model requests (see `Cost.ts`): the response's usage gets its `cost`, and a run
 * with a `costLimit` checks before each request that the budget still allows it, with a lower
 * bound of the request's price.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { UsageLimitExceeded } from "../AgentError.js"
import * as Cost from "../Cost.js"
import { type ModelMessage, ModelResponse } from "../Messages.js"
import * as Ref from "effect/Ref"
import type { RunUsage, UsageLimits } from "../Usage.js"
import { makeModelResponse, makeRequestUsage } from "./makers.js"

/** `response` with its price on its usage. */
export const withCost = (response: ModelResponse, cost: number): ModelResponse =>
  makeModelResponse.copy(response, { usage: makeRequestUsage.copy(response.usage, { cost }) })

/**
 * The least a request sending `messages` will cost: its input is at least the previous
 * request's input plus the previous response (both are sent again), cached input priced as
 * before. Zero when there was no previous response.
 */
export const lowerBound = (
  messages: ReadonlyArray<ModelMessage>,
  price: Cost.ModelPrice
): number => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelResponse") {
      const u = m.usage
      return price(
        makeRequestUsage({
          inputTokens: u.inputTokens + u.outputTokens,
          cacheReadTokens: u.cacheReadTokens,
          cacheWriteTokens: 0,
          outputTokens: 0
        })
      )
    }
  }
  return 0
}

/**
 * Fails with `UsageLimitExceeded` (`costLimit`) when the run's budget cannot pay for the
 * request about to be sent: spent so far plus its lower bound exceeds the limit. The run loop
 * attaches the messages to the error as to any other.
 */
export const preflight = (
  budget: Cost.Budget | undefined,
  messages: ReadonlyArray<ModelMessage>,
  price: Cost.ModelPrice
): Effect.Effect<void, UsageLimitExceeded> =>
  budget === undefined
    ? Effect.void
    : Effect.flatMap(budget.spent, (spent) => {
        const next = lowerBound(messages, price)
        const total = (spent ?? 0) + next
        return next > 0 && total > budget.limit
          ? Effect.fail(
              new UsageLimitExceeded({
                limit: "costLimit",
                limitValue: budget.limit,
                value: total,
                reason: `The next request would exceed the cost_limit of $${budget.limit} (estimated cost=$${total}: $${spent ?? 0} spent, at least $${next} for the next request)`
              })
            )
          : Effect.void
      })

/**
 * For a run with a `costLimit`: puts in its context map the bundled genai-prices (unless a
 * pricing is already installed) and the run's budget (the limit and its usage's cost).
 */
export const budgetInto = (
  map: Map<string, unknown>,
  limits: UsageLimits,
  usage: Ref.Ref<RunUsage>
): void => {
  const limit = limits.costLimit
  if (limit === undefined) return
  if (!map.has(Cost.CurrentPricing.key)) map.set(Cost.CurrentPricing.key, Cost.genaiPrices)
  const budget: Cost.Budget = { limit, spent: Effect.map(Ref.get(usage), (u) => u.cost) }
  map.set(Cost.CurrentBudget.key, budget)
}

/** The budget of the run a call belongs to, if it has a cost limit. */
export const budgetOf = (context: Context.Context<never>): Cost.Budget | undefined =>
  Context.get(context, Cost.CurrentBudget)
