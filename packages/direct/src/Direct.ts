/**
 * The direct API: one request to a model, no agent, no tools run, no retries of output —
 * for code that wants a model call and nothing else (pydantic-ai's `model_request`,
 * `model_request_stream` and their `_sync` twins).
 *
 * A model is a `Model.Service`, a `Layer` providing `Model.Model`, or a `"provider:name"`
 * string resolved through core's `Model.ModelRegistry`. Messages are a string (one user
 * prompt) or a conversation. Instructions come from the latest `ModelRequest.instructions`.
 *
 * @example
 * ```ts
 * import { Direct } from "@agentfx/direct"
 * import { TestModel } from "@agentfx/core"
 *
 * // Effect
 * const response = yield* Direct.modelRequest(TestModel.layer(), "What is the capital of France?")
 * // Stream
 * const events = Direct.modelRequestEvents(TestModel.layer(), "Hello")
 * // Promise / AsyncIterable, no Effect runtime needed
 * const r = await Direct.modelRequestPromise(TestModel.layer(), "Hello")
 * const stream = Direct.modelRequestStreamIterable(TestModel.layer(), "Hello")
 * for await (const event of stream) console.log(event._tag)
 * const final = await stream.response()
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Agent, AgentError, Messages, Model, ModelSettings } from "@agentfx/core"

/**
 * A model: a service value, a Layer providing `Model.Model`, or a `"provider:name"` string.
 *
 * @deprecated Use `Model.Input` from `@agentfx/core`.
 */
export type ModelSpec = Model.Input

/**
 * The errors of obtaining the model of a spec.
 *
 * @deprecated Use `Model.InputError` from `@agentfx/core`.
 */
export type SpecError<M> = Model.InputError<M>

/**
 * The services needed to obtain the model of a spec.
 *
 * @deprecated Use `Model.InputContext` from `@agentfx/core`.
 */
export type SpecContext<M> = Model.InputContext<M>

/** What to send: a user prompt, or a whole conversation. */
export type MessagesInput = string | ReadonlyArray<Messages.ModelMessage>

/** Options of a request. */
export interface RequestOptions {
  /** Merged over the model's own settings. */
  readonly settings?: ModelSettings.ModelSettings
  /** Tools and output offered to the model; plain objects are turned into `ModelRequestParameters`. */
  readonly parameters?:
    | Model.ModelRequestParameters
    | ConstructorParameters<typeof Model.ModelRequestParameters>[0]
}

/** Options of the Promise / AsyncIterable twins. */
export interface PromiseOptions extends RequestOptions {
  /**
   * A runtime providing what the model needs (a `Model.ModelRegistry` for model strings, an
   * `HttpClient` for provider layers…).
   */
  readonly runtime?: ManagedRuntime.ManagedRuntime<any, any>
  /** A layer providing what the model needs, built for this call only. */
  readonly layer?: Layer.Layer<any, any, never>
  /** Cancels the request (and closes the stream). */
  readonly signal?: AbortSignal
}

/** Normalises the messages argument. */
export const toMessages = (messages: MessagesInput): ReadonlyArray<Messages.ModelMessage> =>
  typeof messages === "string" ? [Messages.userPrompt(messages)] : messages

const toParameters = (p: RequestOptions["parameters"]): Model.ModelRequestParameters =>
  p === undefined
    ? Model.ModelRequestParameters.empty
    : p instanceof Model.ModelRequestParameters
      ? p
      : new Model.ModelRequestParameters(p)

/**
 * The model of a spec. A Layer is built in the current scope (its resources live as long as
 * the scope); a string is resolved by the `ModelRegistry`.
 *
 * @deprecated Use `Model.resolve` from `@agentfx/core` (this is it).
 */
export const resolveModel: <M extends Model.Input>(
  model: M
) => Effect.Effect<Model.Service, Model.InputError<M>, Model.InputContext<M> | Scope.Scope> =
  Model.resolve

/** Sends one request and waits for the whole response. */
export const modelRequest = <M extends Model.Input>(
  model: M,
  messages: MessagesInput,
  options: RequestOptions = {}
): Effect.Effect<
  Messages.ModelResponse,
  AgentError.ModelError | Model.InputError<M>,
  Model.InputContext<M>
> =>
  Effect.scoped(
    Effect.flatMap(Model.resolve(model), (service) =>
      service.request(
        toMessages(messages),
        ModelSettings.merge(service.settings, options.settings),
        toParameters(options.parameters)
      )
    )
  ).pipe(Effect.withSpan("Direct.modelRequest")) as any

/**
 * Opens a streamed response (pydantic-ai's `model_request_stream` context manager): the
 * stream and the model's resources live as long as the scope. `events` ends with a
 * `ResponseCompleteEvent`; `response` is a snapshot of what has arrived.
 */
export const modelRequestStream = <M extends Model.Input>(
  model: M,
  messages: MessagesInput,
  options: RequestOptions = {}
): Effect.Effect<
  Model.StreamedResponse,
  AgentError.ModelError | Model.InputError<M>,
  Model.InputContext<M> | Scope.Scope
> =>
  Effect.flatMap(Model.resolve(model), (service) =>
    service.requestStream(
      toMessages(messages),
      ModelSettings.merge(service.settings, options.settings),
      toParameters(options.parameters)
    )
  ).pipe(Effect.withSpan("Direct.modelRequestStream"))

/**
 * The events of a streamed response as a self-contained `Stream` (the model is opened when
 * the stream starts and released when it ends or is interrupted). The last event is a
 * `ResponseCompleteEvent` holding the final response; `finalResponse` extracts it.
 */
export const modelRequestEvents = <M extends Model.Input>(
  model: M,
  messages: MessagesInput,
  options: RequestOptions = {}
): Stream.Stream<
  Messages.ModelResponseStreamEvent,
  AgentError.ModelError | Model.InputError<M>,
  Model.InputContext<M>
> => Stream.unwrapScoped(Effect.map(modelRequestStream(model, messages, options), (s) => s.events))

/** Runs a stream of response events and returns the final response (from `ResponseCompleteEvent`). */
export const finalResponse = <E, R>(
  events: Stream.Stream<Messages.ModelResponseStreamEvent, E, R>
): Effect.Effect<Messages.ModelResponse, E | AgentError.UnexpectedModelBehavior, R> =>
  Effect.flatMap(
    Stream.runFold(events, Option.none<Messages.ModelResponse>(), (last, event) =>
      event._tag === "ResponseCompleteEvent" ? Option.some(event.response) : last
    ),
    Option.match({
      onNone: () =>
        Effect.fail(
          new AgentError.UnexpectedModelBehavior({
            reason: "The stream ended without a ResponseCompleteEvent"
          })
        ),
      onSome: Effect.succeed
    })
  )

// ---------------------------------------------------------------------------
// Promise / AsyncIterable twins
// ---------------------------------------------------------------------------

/** Runs an effect; a failure rejects with the typed error itself (not a `FiberFailure`). */
const runPromise = <A>(effect: Effect.Effect<A, unknown>, options: PromiseOptions): Promise<A> => {
  const run = { ...(options.signal !== undefined ? { signal: options.signal } : {}) }
  const exit =
    options.runtime !== undefined
      ? options.runtime.runPromiseExit(effect, run)
      : Effect.runPromiseExit(effect, run)
  return exit.then((exit) =>
    Exit.isSuccess(exit)
      ? exit.value
      : Promise.reject(Agent.promiseError(exit.cause, options.signal))
  )
}

/**
 * `modelRequest` for code without an Effect runtime. Rejects with the typed error
 * (`ModelHTTPError`, `UserError`…) itself.
 */
export const modelRequestPromise = (
  model: Model.Input,
  messages: MessagesInput,
  options: PromiseOptions = {}
): Promise<Messages.ModelResponse> =>
  runPromise(
    // A model string with no registry anywhere fails with `Model.resolve`'s `UserError`.
    modelRequest(model, messages, options).pipe(
      options.layer !== undefined ? Effect.provide(options.layer) : (e) => e
    ) as Effect.Effect<Messages.ModelResponse, unknown>,
    options
  )

/** A streamed response for code without an Effect runtime. Single use. */
export interface StreamedResponseIterable extends AsyncIterable<Messages.ModelResponseStreamEvent> {
  /**
   * The final response. If the events were not iterated, they are consumed first. Rejects
   * if the stream failed or was closed (`break`) before it completed.
   */
  readonly response: () => Promise<Messages.ModelResponse>
}

/**
 * `modelRequestEvents` as an `AsyncIterable`. Breaking out of `for await` interrupts the
 * stream and releases the model (the connection, the layer's resources).
 */
export const modelRequestStreamIterable = (
  model: Model.Input,
  messages: MessagesInput,
  options: PromiseOptions = {}
): StreamedResponseIterable => {
  const guarded: Stream.Stream<Messages.ModelResponseStreamEvent, unknown, any> =
    modelRequestEvents(model, messages, options)
  const withLayer =
    options.layer !== undefined ? Stream.provideLayer(guarded, options.layer) : guarded
  const runtime = options.runtime
  const events =
    runtime !== undefined
      ? Stream.unwrap(
          Effect.map(runtime.runtimeEffect, (rt) => Stream.provideContext(withLayer, rt.context))
        )
      : withLayer
  const iterable = Stream.toAsyncIterable(
    events as Stream.Stream<Messages.ModelResponseStreamEvent, unknown>
  )

  let resolveFinal!: (r: Messages.ModelResponse) => void
  let rejectFinal!: (e: unknown) => void
  let settled = false
  const final = new Promise<Messages.ModelResponse>((resolve, reject) => {
    resolveFinal = (r) => {
      settled = true
      resolve(r)
    }
    rejectFinal = (e) => {
      if (settled) return
      settled = true
      reject(e)
    }
  })
  // A rejection nobody asked for is not an unhandled error.
  final.catch(() => {})

  let started = false
  const iterate = (): AsyncIterator<Messages.ModelResponseStreamEvent> => {
    if (started) throw new Error("modelRequestStreamIterable: the stream can be iterated once")
    started = true
    // A signal aborted before the first step: the model is never called (`abort` will not fire).
    if (options.signal?.aborted === true) {
      const reason = options.signal.reason ?? new Error("aborted")
      rejectFinal(reason)
      return {
        next: () => Promise.reject(reason),
        return: () => Promise.resolve({ done: true as const, value: undefined })
      }
    }
    const inner = iterable[Symbol.asyncIterator]()
    // Settles a `next()` that is waiting on a silent model when the signal aborts.
    let abortWaiting: ((reason: unknown) => void) | undefined
    const abortedWait = new Promise<never>((_, reject) => {
      abortWaiting = reject
    })
    abortedWait.catch(() => {})
    const onAbort = () => {
      const reason = options.signal?.reason ?? new Error("aborted")
      void inner.return?.()
      rejectFinal(reason)
      abortWaiting?.(reason)
    }
    options.signal?.addEventListener("abort", onAbort, { once: true })
    const closed = (reason: unknown) => {
      options.signal?.removeEventListener("abort", onAbort)
      rejectFinal(reason)
    }
    return {
      next: () =>
        Promise.race([inner.next(), abortedWait]).then(
          (result) => {
            if (result.done) closed(new Error("The stream ended without a ResponseCompleteEvent"))
            else if (result.value._tag === "ResponseCompleteEvent") {
              options.signal?.removeEventListener("abort", onAbort)
              resolveFinal(result.value.response)
            }
            return result
          },
          (error) => {
            closed(error)
            throw error
          }
        ),
      return: () =>
        (inner.return?.() ?? Promise.resolve({ done: true as const, value: undefined })).then(
          (result) => {
            closed(new Error("The stream was closed before the response completed"))
            return result
          }
        )
    }
  }

  return {
    [Symbol.asyncIterator]: iterate,
    response: () => {
      if (started) return final
      const it = iterate()
      const drain = (): Promise<Messages.ModelResponse> =>
        it.next().then((r) => (r.done ? final : drain()))
      return drain()
    }
  }
}
