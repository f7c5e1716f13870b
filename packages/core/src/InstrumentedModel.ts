/**
 * OpenTelemetry for model calls: wraps a model so each request (and each streamed response)
 * runs in a `chat {model}` span (kind `client`) carrying the GenAI semantic-convention
 * attributes: `gen_ai.operation.name`, `gen_ai.system` / `gen_ai.provider.name`,
 * `gen_ai.request.model`, request settings (`gen_ai.request.temperature`,
 * `gen_ai.request.max_tokens`, …), then `gen_ai.response.model`, `gen_ai.response.id`,
 * `gen_ai.response.finish_reasons` and `gen_ai.usage.input_tokens` / `output_tokens`, and
 * `gen_ai.tool.definitions`. Message contents and system instructions are recorded only with
 * `includeContent: true` (here, or `Telemetry.withTelemetry`), capped at
 * `Telemetry`'s `maxContentLength`; headers, extra body fields and keys never are. When the
 * request runs under an agent's `invoke_agent` span, that span gets the run's totals from it
 * (see `Telemetry`). Each request also records the `gen_ai.client.token.usage` and
 * `gen_ai.client.operation.duration` metrics, and with a pricing installed (`Cost`) its
 * response's usage carries its `cost`.
 *
 * Spans are opened only when they are recorded: a tracer is installed (`@effect/opentelemetry`,
 * `Effect.withTracer`, DevTools) and tracing is enabled. Under Effect's built-in tracer, which
 * exports nothing, requests run without a span (and without the context change a span needs).
 *
 * Agents instrument their model themselves, so every agent run already has one `chat` span per
 * request. Wrapping a model yourself never produces a second span for the same call: when a
 * `chat` span is already open for the call (an instrumented model wrapped in a `WrapperModel`
 * or a `FallbackModel`, then used by an agent), inner instrumentation delegates without a span,
 * and an agent given an instrumented model uses it as is (so its `includeContent` applies).
 *
 * @example
 * ```ts
 * import { InstrumentedModel } from "@agentfx/core"
 * // wrap a model service…
 * const traced = InstrumentedModel.make(model, { includeContent: true })
 * // …or the Model a layer provides
 * const layer = InstrumentedModel.layer({ includeContent: true }).pipe(Layer.provide(modelLayer))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"
import type { ModelError } from "./AgentError.js"
import * as Cost from "./Cost.js"
import * as genai from "./internal/genai.js"
import * as pricing_ from "./internal/pricing.js"
import { type ModelMessage, type ModelResponse, ResponseCompleteEvent } from "./Messages.js"
import { spansRecorded, withSpanAndContext } from "./internal/spanRegion.js"
import * as Model from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import type * as Telemetry from "./Telemetry.js"

/** Marks instrumented models, so wrapping one again replaces its options instead of nesting spans. */
export const TypeId: unique symbol = Symbol.for("@agentfx/core/InstrumentedModel")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** Options of `make` / `layer`. */
export interface Options {
  /**
   * Record the messages sent and the response received as the span attributes
   * `gen_ai.input.messages` and `gen_ai.output.messages` (JSON), and the system instructions.
   * They may hold personal data. Unset: `Telemetry`'s `includeContent` (off by default).
   */
  readonly includeContent?: boolean
}

/** An instrumented model: a `Model.Service` that knows what it wraps. */
export interface InstrumentedService extends Model.Service {
  readonly [TypeId]: { readonly inner: Model.Service; readonly options: Options }
}

/** Is this model already instrumented by `make`? */
export const isInstrumented = (model: Model.Service): model is InstrumentedService =>
  TypeId in model

/** Set while a `chat` span is open for the current call; inner instrumentation then stays quiet. */
class InsideChatSpan extends Context.Reference<InsideChatSpan>()(
  "@agentfx/core/InstrumentedModel/InsideChatSpan",
  { defaultValue: () => false }
) {}

/**
 * Runs `effect` under `span` with inner instrumentation quiet: the parent span and the marker
 * are set in one context change (each `provideService` / `locally` is a costly region).
 */
const inChatSpan = <X, E, R>(
  effect: Effect.Effect<X, E, R>,
  span: Tracer.Span
): Effect.Effect<X, E, R> =>
  Effect.mapInputContext(
    effect,
    (context: Context.Context<R>) => chatContext(context, span) as Context.Context<R>
  )

/** The context inside a chat span: one copy of the context's map (each `Context.add` copies it). */
const chatContext = (
  context: Context.Context<any>,
  span: Tracer.Span | undefined
): Context.Context<any> => {
  const map = new Map(context.unsafeMap)
  if (span !== undefined) map.set(Tracer.ParentSpan.key, span)
  map.set(InsideChatSpan.key, true)
  return Context.unsafeMake(map)
}

const providerSpanOptions = { captureStackTrace: false } as const

/**
 * Wraps a provider's request in the provider's own span (`Module.request`), for calls made
 * outside a `chat` span while spans are recorded. Inside one (an agent's run, or any
 * instrumented model), the provider's transport attributes (`url.path`, status, resend count)
 * go on the `chat` span instead: one span per request instead of two, and two fewer context
 * regions held by every request in flight. With no tracer installed there is no span at all.
 */
export const withProviderSpan =
  (name: string) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime((fiber) =>
      quiet(fiber) ? effect : Effect.withSpan(effect, name, providerSpanOptions)
    )

/**
 * No span for this call: a `chat` span is already open for it, or spans are not recorded
 * (no tracer installed; see the module docs).
 */
const quiet = (fiber: Fiber.RuntimeFiber<any, any>): boolean =>
  Context.get(fiber.currentContext, InsideChatSpan) || !spansRecorded(fiber)

const settingAttributes: ReadonlyArray<readonly [keyof ModelSettings, string]> = [
  ["maxTokens", "gen_ai.request.max_tokens"],
  ["temperature", "gen_ai.request.temperature"],
  ["topP", "gen_ai.request.top_p"],
  ["topK", "gen_ai.request.top_k"],
  ["seed", "gen_ai.request.seed"],
  ["presencePenalty", "gen_ai.request.presence_penalty"],
  ["frequencyPenalty", "gen_ai.request.frequency_penalty"],
  ["stopSequences", "gen_ai.request.stop_sequences"]
]

/** The attributes known before the call: operation, system, model and request settings. */
export const requestAttributes = (
  model: Model.Service,
  settings: ModelSettings
): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {
    "gen_ai.operation.name": "chat",
    "gen_ai.system": model.system,
    "gen_ai.provider.name": model.system,
    "gen_ai.request.model": model.modelName
  }
  for (const [key, name] of settingAttributes) {
    const value = settings[key]
    if (value !== undefined) attributes[name] = value
  }
  return attributes
}

/** The attributes known after the call: response model and id, finish reason, usage. */
export const responseAttributes = (response: ModelResponse): Record<string, unknown> => {
  const attributes: Record<string, unknown> = {}
  genai.annotateResponse(
    {
      attribute: (key, value) => {
        attributes[key] = value
      }
    },
    response
  )
  return attributes
}

/** The pricing in force for a call, if any (see `Cost`). */
const pricingOf = (fiber: Fiber.RuntimeFiber<any, any>): Cost.Pricing | undefined =>
  Context.get(fiber.currentContext, Cost.CurrentPricing)

/** The error type of a failed request, for the duration metric's `error.type`. */
const errorType = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const tag = (failure.value as { readonly _tag?: unknown })._tag
    return typeof tag === "string" ? tag : "_OTHER"
  }
  return Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "_OTHER"
}

/**
 * Wraps `inner` in `chat {model}` spans. Wrapping an instrumented model again replaces its
 * options instead of nesting a second span. The wrapper also prices responses when a pricing
 * is installed (`Cost`), and records the `gen_ai.client.*` metrics (see `Telemetry`).
 */
export const make = (inner: Model.Service, options: Options = {}): InstrumentedService => {
  const base = isInstrumented(inner) ? inner[TypeId].inner : inner
  const spanName = `chat ${base.modelName}`
  /** The telemetry options of a call: the fiber's, with this wrapper's `includeContent` over them. */
  const telemetryOf = (fiber: Fiber.RuntimeFiber<any, any>): Telemetry.Resolved => {
    const resolved = genai.optionsOf(fiber.currentContext)
    return options.includeContent === undefined
      ? resolved
      : { ...resolved, includeContent: options.includeContent }
  }

  const startAttributes = (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters,
    telemetry: Telemetry.Resolved,
    agent: Tracer.Span | undefined
  ): Record<string, unknown> => {
    const attributes = requestAttributes(base, settings)
    // [compose #18] the run's conversation, on each of its requests
    const conversation = agent?.attributes.get("gen_ai.conversation.id")
    if (conversation !== undefined) attributes["gen_ai.conversation.id"] = conversation
    genai.requestContent(attributes, messages, parameters, telemetry)
    return attributes
  }
  const annotateEnd = (
    span: Tracer.Span,
    agent: Tracer.Span | undefined,
    messages: ReadonlyArray<ModelMessage>,
    parameters: Model.ModelRequestParameters,
    response: ModelResponse,
    telemetry: Telemetry.Resolved
  ): void => {
    genai.annotateResponse(span, response)
    if (telemetry.includeContent) {
      span.attribute(
        "gen_ai.output.messages",
        genai.outputMessages(response, telemetry.maxContentLength)
      )
    }
    if (agent !== undefined) {
      genai.annotateAgent(agent, base, messages, parameters, response, telemetry)
    }
  }

  /**
   * `base.request` with the response priced (when a pricing is installed), after the run's
   * cost budget (if any) was checked against the request's lower bound.
   */
  const pricedRequest = (
    fiber: Fiber.RuntimeFiber<any, any>,
    pricing: Cost.Pricing | undefined,
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<ModelResponse, ModelError> => {
    if (pricing === undefined) return base.request(messages, settings, parameters)
    const budget = pricing_.budgetOf(fiber.currentContext)
    return Effect.flatMap(pricing.forModel(base.system, base.modelName), (price) =>
      Effect.zipRight(
        // A budget failure travels as the run's `UsageLimitExceeded` (the loop adds the messages).
        price === undefined
          ? Effect.void
          : (pricing_.preflight(budget, messages, price) as Effect.Effect<void, never>),
        Effect.flatMap(base.request(messages, settings, parameters), (response) =>
          response.modelName === undefined || response.modelName === base.modelName
            ? Effect.succeed(
                price === undefined ? response : pricing_.withCost(response, price(response.usage))
              )
            : Effect.map(pricing.forModel(base.system, response.modelName), (actual) =>
                (actual ?? price) === undefined
                  ? response
                  : pricing_.withCost(response, (actual ?? price)!(response.usage))
              )
        )
      )
    )
  }

  /** Records the request's metrics when it exits. */
  const measured = <X extends ModelResponse>(
    effect: Effect.Effect<X, ModelError>
  ): Effect.Effect<X, ModelError> =>
    Effect.flatMap(Clock.currentTimeNanos, (start) =>
      Effect.onExit(effect, (exit) =>
        Effect.flatMap(Clock.currentTimeNanos, (end) =>
          genai.recordRequest(
            base,
            Number(end - start) / 1e9,
            Exit.isSuccess(exit) ? exit.value : undefined,
            errorType(exit)
          )
        )
      )
    )

  const request = (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<ModelResponse, ModelError> =>
    Effect.withFiberRuntime((fiber) => {
      // Inside another instrumented model's span: that one records (and prices) the call.
      if (Context.get(fiber.currentContext, InsideChatSpan)) {
        return base.request(messages, settings, parameters)
      }
      const pricing = pricingOf(fiber)
      if (!spansRecorded(fiber)) {
        // No tracer: no span, no attribute; metrics only when asked for.
        const call = pricedRequest(fiber, pricing, messages, settings, parameters)
        return genai.optionsOf(fiber.currentContext).metrics === true ? measured(call) : call
      }
      const telemetry = telemetryOf(fiber)
      const agent = genai.agentSpanOf(fiber.currentContext)
      const call = pricedRequest(fiber, pricing, messages, settings, parameters)
      // The span and the context change in one region (see internal/spanRegion.ts).
      return withSpanAndContext(
        spanName,
        {
          kind: "client",
          captureStackTrace: false,
          attributes: startAttributes(messages, settings, parameters, telemetry, agent)
        },
        chatContext,
        () => (telemetry.metrics === false ? call : measured(call)),
        (span, response) => annotateEnd(span, agent, messages, parameters, response, telemetry)
      )
    })

  /** The stream with its final response priced (when a pricing is installed and knows the model). */
  const pricedStream = (
    fiber: Fiber.RuntimeFiber<any, any>,
    pricing: Cost.Pricing | undefined,
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<Model.StreamedResponse, ModelError, Scope.Scope> => {
    if (pricing === undefined) return base.requestStream(messages, settings, parameters)
    const budget = pricing_.budgetOf(fiber.currentContext)
    return Effect.flatMap(pricing.forModel(base.system, base.modelName), (price) =>
      price === undefined
        ? base.requestStream(messages, settings, parameters)
        : Effect.zipRight(
            pricing_.preflight(budget, messages, price) as Effect.Effect<void, never>,
            Effect.map(base.requestStream(messages, settings, parameters), (streamed) => {
              const priced = (r: ModelResponse) => pricing_.withCost(r, price(r.usage))
              return {
                ...streamed,
                events: Stream.map(streamed.events, (e) =>
                  e._tag === "ResponseCompleteEvent"
                    ? new ResponseCompleteEvent({ response: priced(e.response) }, true)
                    : e
                ),
                response: Effect.map(streamed.response, priced)
              } satisfies Model.StreamedResponse
            })
          )
    )
  }

  const requestStream = (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<Model.StreamedResponse, ModelError, Scope.Scope> =>
    Effect.withFiberRuntime<Model.StreamedResponse, ModelError, Scope.Scope>((fiber) => {
      if (Context.get(fiber.currentContext, InsideChatSpan)) {
        return base.requestStream(messages, settings, parameters)
      }
      const pricing = pricingOf(fiber)
      const recorded = spansRecorded(fiber)
      const telemetry = telemetryOf(fiber)
      const metrics = recorded ? telemetry.metrics !== false : telemetry.metrics === true
      if (!recorded && !metrics) return pricedStream(fiber, pricing, messages, settings, parameters)
      const agent = recorded ? genai.agentSpanOf(fiber.currentContext) : undefined
      return Effect.gen(function* () {
        const start = yield* Clock.currentTimeNanos
        // The span lives until the stream's scope closes; a failure to open ends it at once,
        // so a fallback to another model does not leave it open under a later success.
        const span = recorded
          ? yield* Effect.makeSpan(spanName, {
              kind: "client",
              captureStackTrace: false,
              attributes: startAttributes(messages, settings, parameters, telemetry, agent)
            })
          : undefined
        const end = (exit: Exit.Exit<unknown, unknown>) =>
          Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => span?.end(now, exit)))
        const failed = (exit: Exit.Exit<unknown, unknown>) =>
          Effect.zipRight(
            metrics
              ? Effect.flatMap(Clock.currentTimeNanos, (now) =>
                  genai.recordRequest(base, Number(now - start) / 1e9, undefined, errorType(exit))
                )
              : Effect.void,
            end(exit)
          )
        const opened = pricedStream(fiber, pricing, messages, settings, parameters)
        const streamed = yield* (
          span === undefined
            ? Effect.provideService(opened, InsideChatSpan, true)
            : inChatSpan(opened, span)
        ).pipe(Effect.onError((cause) => failed(Exit.failCause(cause))))
        yield* Effect.addFinalizer(end)
        // [compose #18] `gen_ai.client.operation.time_to_first_chunk`: the clock is read once,
        // on the first non-empty chunk (a flag test per chunk after that), recorded at the end.
        let firstChunkAt: bigint | undefined
        const clock = yield* Effect.clock
        const timed = metrics
          ? Stream.mapChunks(streamed.events, (chunk) => {
              if (firstChunkAt === undefined && chunk.length > 0) {
                firstChunkAt = clock.unsafeCurrentTimeNanos()
              }
              return chunk
            })
          : streamed.events
        // Attributes and metrics are taken once from the final snapshot: no per-chunk work.
        const events = timed.pipe(
          Stream.ensuring(
            Effect.suspend(() =>
              firstChunkAt === undefined
                ? Effect.void
                : genai.recordFirstChunk(base, Number(firstChunkAt - start) / 1e9)
            )
          ),
          Stream.ensuring(
            Effect.flatMap(streamed.response, (response) =>
              Effect.zipRight(
                Effect.sync(() => {
                  if (span !== undefined) {
                    annotateEnd(span, agent, messages, parameters, response, telemetry)
                  }
                }),
                metrics
                  ? Effect.flatMap(Clock.currentTimeNanos, (now) =>
                      genai.recordRequest(base, Number(now - start) / 1e9, response, undefined)
                    )
                  : Effect.void
              )
            )
          )
        )
        return { ...streamed, events } satisfies Model.StreamedResponse
      })
    })

  return {
    [TypeId]: { inner: base, options },
    modelName: base.modelName,
    system: base.system,
    profile: base.profile,
    settings: base.settings,
    request,
    requestStream,
    countTokens: base.countTokens
  }
}

/** `model` itself when already instrumented, else `make(model)`: what agents do with their model. */
export const instrument = (model: Model.Service): Model.Service => {
  if (isInstrumented(model)) return model
  // One instrumented wrapper per model (it is stateless): runs over the same model share it
  // instead of building its closures and span name per run.
  let wrapped = instrumentedByModel.get(model)
  if (wrapped === undefined) {
    wrapped = make(model)
    instrumentedByModel.set(model, wrapped)
  }
  return wrapped
}

const instrumentedByModel = new WeakMap<Model.Service, Model.Service>()

/** Instruments the `Model` of the context: `InstrumentedModel.layer().pipe(Layer.provide(modelLayer))`. */
export const layer = (options: Options = {}): Layer.Layer<Model.Model, never, Model.Model> =>
  Layer.effect(
    Model.Model,
    Effect.map(Model.Model, (model) => make(model, options))
  )
