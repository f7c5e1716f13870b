/**
 * A model that tries several models in order: when one fails with an error worth falling back
 * on (by default a `ModelHTTPError` or `ModelAPIError`: a status, a dropped connection), the
 * next one gets the same request. Other errors propagate at once. Streams fall back only on
 * errors while opening the stream; once events flow, an error ends the stream.
 *
 * When every model fails, the request fails with a `ModelAPIError` whose `cause` is a
 * `FallbackExhausted` holding each model's error, in order (see `failures`).
 *
 * @example
 * ```ts
 * import { FallbackModel } from "@agentfx/core"
 * const model = FallbackModel.make([primary, backup])
 * const program = agent.run("hi", { model })
 * // or, from layers:
 * const layer = FallbackModel.layer([OpenAi.model("gpt-4o"), Anthropic.model("claude-sonnet-4")])
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { ModelAPIError, type ModelError } from "./AgentError.js"
import type { ModelMessage, ModelResponse } from "./Messages.js"
import * as Model from "./Model.js"
import * as ModelSettings from "./ModelSettings.js"
import type { RequestUsage } from "./Usage.js"

/** Every model of a fallback chain failed; `errors` holds each model's error, in order. */
export class FallbackExhausted extends Schema.TaggedError<FallbackExhausted>()(
  "FallbackExhausted",
  {
    modelNames: Schema.Array(Schema.String),
    errors: Schema.Array(Schema.Unknown)
  }
) {
  override get message(): string {
    return `All models of the fallback chain failed: ${this.errors
      .map((e, i) => `${this.modelNames[i]}: ${describe(e)}`)
      .join("; ")}`
  }
}

const describe = (e: unknown): string => {
  if (e !== null && typeof e === "object") {
    const tag = (e as { _tag?: unknown })._tag
    const message = (e as { message?: unknown }).message
    return `${typeof tag === "string" ? `${tag}: ` : ""}${typeof message === "string" ? message : String(e)}`
  }
  return String(e)
}

/** Options of `make` / `layer`. */
export interface Options {
  /** Which errors make the chain try the next model. Default: `defaultFallbackOn`. */
  readonly fallbackOn?: (error: ModelError) => boolean
}

/** Falls back on provider failures (`ModelHTTPError`, `ModelAPIError`), not on misuse or content filters. */
export const defaultFallbackOn = (error: ModelError): boolean =>
  error._tag === "ModelHTTPError" || error._tag === "ModelAPIError"

/** The errors of every model when a fallback chain failed as a whole, else `undefined`. */
export const failures = (error: unknown): ReadonlyArray<ModelError> | undefined => {
  if (error instanceof FallbackExhausted) return error.errors as ReadonlyArray<ModelError>
  if (error instanceof ModelAPIError && error.cause instanceof FallbackExhausted) {
    return error.cause.errors as ReadonlyArray<ModelError>
  }
  return undefined
}

/** A non-empty list. */
export type NonEmpty<A> = readonly [A, ...Array<A>]

/**
 * A model trying `models` in order. Its name is `fallback:a,b`, its system `fallback`; its
 * profile is the first model's (the request is prepared once, for the first model). Each model's
 * own `settings` are applied under the run's settings when that model is tried.
 */
export const make = (models: NonEmpty<Model.Service>, options: Options = {}): Model.Service => {
  const fallbackOn = options.fallbackOn ?? defaultFallbackOn
  const modelName = `fallback:${models.map((m) => m.modelName).join(",")}`

  const exhausted = (
    errors: ReadonlyArray<ModelError>,
    tried: ReadonlyArray<Model.Service> = models
  ) => {
    const cause = new FallbackExhausted({ modelNames: tried.map((m) => m.modelName), errors })
    return new ModelAPIError({ modelName, reason: cause.message, cause })
  }

  /** `models[i]`, else the next on a matching error, … else all errors. An orElse chain. */
  const chain = <A, R>(
    attempt: (model: Model.Service) => Effect.Effect<A, ModelError, R>,
    i: number,
    errors: ReadonlyArray<ModelError>
  ): Effect.Effect<A, ModelError, R> =>
    i >= models.length
      ? Effect.fail(exhausted(errors))
      : Effect.catchIf(attempt(models[i]!), fallbackOn, (error) =>
          chain(attempt, i + 1, [...errors, error])
        )

  const settingsFor = (model: Model.Service, settings: ModelSettings.ModelSettings) =>
    model.settings === undefined ? settings : ModelSettings.merge(model.settings, settings)

  const request = (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings.ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<ModelResponse, ModelError> =>
    chain((model) => model.request(messages, settingsFor(model, settings), parameters), 0, []).pipe(
      Effect.withSpan("FallbackModel.request", {
        captureStackTrace: false,
        attributes: { "fallback.models": modelName }
      })
    )

  const requestStream = (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings.ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<Model.StreamedResponse, ModelError, Scope.Scope> =>
    chain(
      (model) => model.requestStream(messages, settingsFor(model, settings), parameters),
      0,
      []
    ).pipe(
      Effect.withSpan("FallbackModel.requestStream", {
        captureStackTrace: false,
        attributes: { "fallback.models": modelName }
      })
    )

  // Token counting: the models that can count, tried in order like requests.
  const counters = models.filter((m) => m.countTokens !== undefined)
  const countTokens =
    counters.length === 0
      ? undefined
      : (
          messages: ReadonlyArray<ModelMessage>,
          settings: ModelSettings.ModelSettings,
          parameters: Model.ModelRequestParameters
        ): Effect.Effect<RequestUsage, ModelError> => {
          const count = (
            i: number,
            errors: ReadonlyArray<ModelError>
          ): Effect.Effect<RequestUsage, ModelError> =>
            i >= counters.length
              ? Effect.fail(exhausted(errors, counters))
              : Effect.catchIf(
                  counters[i]!.countTokens!(
                    messages,
                    settingsFor(counters[i]!, settings),
                    parameters
                  ),
                  fallbackOn,
                  (error) => count(i + 1, [...errors, error])
                )
          return count(0, [])
        }

  return Model.make({
    modelName,
    system: "fallback",
    profile: models[0].profile,
    settings: undefined,
    request,
    requestStream,
    countTokens
  })
}

/** What `layer` accepts: a model service or a Layer providing one. */
export type Input = Model.Service | Layer.Layer<Model.Model, any, any>

type InputError<I> = I extends Layer.Layer<Model.Model, infer E, any> ? E : never
type InputRequirements<I> = I extends Layer.Layer<Model.Model, any, infer R> ? R : never

/**
 * A Layer providing a fallback `Model` built from model services and / or model Layers (each
 * Layer is built on its own, so two providers' `Model` layers can be combined).
 */
export const layer = <const Inputs extends NonEmpty<Input>>(
  inputs: Inputs,
  options: Options = {}
): Layer.Layer<Model.Model, InputError<Inputs[number]>, InputRequirements<Inputs[number]>> =>
  Layer.scoped(
    Model.Model,
    Effect.map(
      Effect.forEach(inputs, (input) =>
        Layer.isLayer(input)
          ? Effect.map(Layer.build(input as Layer.Layer<Model.Model, any, any>), (ctx) =>
              Context.get(ctx, Model.Model)
            )
          : Effect.succeed(input as Model.Service)
      ),
      (models) => make(models as unknown as NonEmpty<Model.Service>, options)
    )
  )
