/**
 * A model that delegates to another one, overriding some of it: the base for model wrappers
 * (rename a model, pin settings, rewrite messages, add logging or caching, cap concurrency).
 * What is not overridden is the inner model's.
 *
 * @example
 * ```ts
 * import { WrapperModel } from "@agentfx/core"
 * // pin temperature 0 under whatever the run asks for
 * const deterministic = WrapperModel.make(model, (inner) => ({
 *   request: (messages, settings, parameters) =>
 *     inner.request(messages, { ...settings, temperature: 0 }, parameters)
 * }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Model from "./Model.js"

/** What a wrapper may override: any field of the model service. */
export type Overrides = Partial<Model.Service>

/**
 * A model delegating to `inner`, with `overrides` (or the overrides computed from `inner`)
 * replacing the matching fields.
 */
export const make = (
  inner: Model.Service,
  overrides: Overrides | ((inner: Model.Service) => Overrides)
): Model.Service => {
  const o = typeof overrides === "function" ? overrides(inner) : overrides
  return Model.make({
    modelName: o.modelName ?? inner.modelName,
    system: o.system ?? inner.system,
    profile: o.profile ?? inner.profile,
    settings: "settings" in o ? o.settings : inner.settings,
    request: o.request ?? inner.request,
    requestStream: o.requestStream ?? inner.requestStream,
    // Token counting is a capability: kept unless overridden (`countTokens: undefined` drops it).
    countTokens: "countTokens" in o ? o.countTokens : inner.countTokens
  })
}

/** Wraps the `Model` of the context: `WrapperModel.layer(f).pipe(Layer.provide(modelLayer))`. */
export const layer = (
  overrides: Overrides | ((inner: Model.Service) => Overrides)
): Layer.Layer<Model.Model, never, Model.Model> =>
  Layer.effect(
    Model.Model,
    Effect.map(Model.Model, (inner) => make(inner, overrides))
  )
