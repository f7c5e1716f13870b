/**
 * A model that sends at most N requests at once (pydantic-ai's `ConcurrencyLimitedModel`): a
 * provider's rate or connection limit, shared by every agent and run that uses the model. Further
 * requests wait in FIFO order (a `model.concurrency.wait` span), at most `maxQueued` of them — one
 * more fails at once with `ConcurrencyLimitExceeded`. A streamed request holds its slot until its
 * stream's scope closes. Pass one `limiter` to several models to share the slots between them
 * (e.g. two models behind one API key).
 *
 * @example
 * ```ts
 * import { ConcurrencyLimitedModel } from "@agentfx/core"
 * import { OpenAiChat } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * // At most 8 requests to gpt-4o in flight, whatever agents and runs send them.
 * const Model = ConcurrencyLimitedModel.layer({ maxRunning: 8, maxQueued: 1000 }).pipe(
 *   Layer.provide(OpenAiChat.model("gpt-4o")),
 *   Layer.provide(OpenAiChat.layerConfig()),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Limiter from "./ConcurrencyLimiter.js"
import * as Model from "./Model.js"
import * as WrapperModel from "./WrapperModel.js"

/** The limit: a number of requests at once, the options of a new limiter, or a shared limiter. */
export type Limit =
  | number
  | { readonly maxRunning: number; readonly maxQueued?: number }
  | Limiter.ConcurrencyLimiter

/** A limiter for model requests (its waits show as `model.concurrency.wait` spans). */
export const limiter = (options: {
  readonly maxRunning: number
  readonly maxQueued?: number
}): Limiter.ConcurrencyLimiter => Limiter.make({ ...options, name: "model", what: "requests" })

const toLimiter = (limit: Limit): Limiter.ConcurrencyLimiter =>
  typeof limit === "number"
    ? limiter({ maxRunning: limit })
    : "acquire" in limit
      ? limit
      : limiter(limit)

/** `model` with at most `limit` requests at once (streams hold a slot until they close). */
export const make = (model: Model.Service, limit: Limit): Model.Service => {
  const slots = toLimiter(limit)
  return WrapperModel.make(model, {
    request: (messages, settings, parameters) =>
      Effect.scoped(Effect.zipRight(slots.acquire, model.request(messages, settings, parameters))),
    // The slot is taken in the stream's own scope: released when the stream is done with.
    requestStream: (messages, settings, parameters) =>
      Effect.zipRight(slots.acquire, model.requestStream(messages, settings, parameters)),
    // Counting tokens is a request to the provider too: it takes a slot.
    countTokens:
      model.countTokens === undefined
        ? undefined
        : (messages, settings, parameters) =>
            Effect.scoped(
              Effect.zipRight(slots.acquire, model.countTokens!(messages, settings, parameters))
            )
  })
}

/** Limits the `Model` of the context: `ConcurrencyLimitedModel.layer(8).pipe(Layer.provide(modelLayer))`. */
export const layer = (limit: Limit): Layer.Layer<Model.Model, never, Model.Model> =>
  Layer.effect(
    Model.Model,
    Effect.map(Model.Model, (model) => make(model, limit))
  )
