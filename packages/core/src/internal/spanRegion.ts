/**
 * A span, optionally a scope, and a context for the fiber, opened and closed in ONE
 * uninterruptible region around an interruptible body.
 *
 * `Effect.useSpan` + `Effect.scopedWith` + `Effect.provide` do the same in three nested regions
 * (`onExit`, `onExit`, `acquireUseRelease`), and each region's continuation frames stay on the
 * fiber's stack while the body runs: for an agent run waiting on its model that was ≈ 4.5 KB
 * of the heap per run in flight (`bench/retained.mjs`), a third of what a run held.
 *
 * Semantics match the nested version: the span's parent is the caller's span, the span ends
 * with the body's exit (with the clock's time when tracer timing is on); the scope closes with
 * the body's exit before the span ends; the caller's context is restored before either.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Fiber from "effect/Fiber"
import * as Tracer from "effect/Tracer"
import { LazyScope } from "./lazyScope.js"

/** Ends `span` with `exit`, as `Effect.useSpan` does. */
const endSpan = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    if (span.status._tag !== "Ended") {
      const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      span.end(timing ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
    }
    return Effect.void
  })

/**
 * Flattens a string built by repeated `+=` (Effect's native tracer builds span and trace ids one
 * character at a time): V8 keeps such a string as a tree of concatenations, ≈ 680 bytes for a
 * 32-character trace id, which every span holds while open. Reading a character flattens it in
 * place (≈ 90 bytes).
 */
const flatten = (id: string): void => {
  id.charCodeAt(0)
}

/** Opens the span (`Effect.makeSpan`, ids flattened) when spans are recorded; else undefined. */
const openSpan = (
  fiber: Fiber.RuntimeFiber<any, any>,
  name: string,
  options: Tracer.SpanOptions
): Effect.Effect<Tracer.Span | undefined> =>
  spansRecorded(fiber)
    ? Effect.map(Effect.makeSpan(name, options), (span) => {
        flatten(span.traceId)
        flatten(span.spanId)
        return span
      })
    : noSpan

const noSpan: Effect.Effect<Tracer.Span | undefined> = Effect.succeed(undefined)

/** Ends the span (if one was opened) with `exit`, then exits with it. */
const closeSpan = <A, E>(
  span: Tracer.Span | undefined,
  exit: Exit.Exit<A, E>
): Effect.Effect<A, E> => (span === undefined ? exit : Effect.zipRight(endSpan(span, exit), exit))

/** Effect's built-in tracer: what every fiber has unless a tracer is installed. */
const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

/**
 * Whether spans opened by this fiber are recorded anywhere: tracing is enabled and a tracer
 * other than Effect's built-in one is installed (`@effect/opentelemetry`, `Effect.withTracer`,
 * DevTools, …). The built-in tracer keeps its spans in memory only, for `Effect.currentSpan`;
 * spans whose only reader would be the library itself can be skipped under it.
 */
export const spansRecorded = (fiber: Fiber.RuntimeFiber<any, any>): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled) &&
  Context.get(fiber.currentDefaultServices, Tracer.Tracer) !== nativeTracer

/**
 * `Effect.withSpan(name, options)` (no stack trace captured) when the fiber's spans are recorded
 * (`spansRecorded`); else the effect as is. For spans of the test doubles (`FunctionModel`,
 * `TestModel`), which cost a run more than the rest of the double's request when nobody reads them.
 */
export const withSpanIfRecorded =
  (name: string, options: Tracer.SpanOptions) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiberRuntime<A, E, R>((fiber) =>
      spansRecorded(fiber)
        ? Effect.withSpan(effect, name, { ...options, captureStackTrace: false })
        : effect
    )

/**
 * The stream form of `withSpanIfRecorded`, decided by `fiber` (the one opening the stream):
 * `Stream.withSpan` (which also provides the span on every pull) only when its spans are
 * recorded.
 */
export const streamSpanIfRecorded =
  (fiber: Fiber.RuntimeFiber<any, any>, name: string, options: Tracer.SpanOptions) =>
  <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E, R> =>
    spansRecorded(fiber)
      ? Stream.withSpan(stream, name, { ...options, captureStackTrace: false })
      : stream

/** The fiber's context (typed loosely: a run's context holds any services). */
const currentContext = FiberRef.currentContext as unknown as FiberRef.FiberRef<Context.Context<any>>

/** Sets the fiber's context; returns the previous one. */
const swapContext = (context: Context.Context<any>): Effect.Effect<Context.Context<any>> =>
  FiberRef.getAndSet(currentContext, context)

/** What `prepare` of `withSpanScopeAndContext` returns. */
export interface Prepared<A, E, E3> {
  /** The fiber's context while `body` runs. */
  readonly context: Context.Context<any>
  readonly body: Effect.Effect<A, E, any>
  /** Maps the body's typed failures (as `Effect.mapError` would, without its own region). */
  readonly mapError?: ((error: E) => E3) | undefined
}

/**
 * Opens the span `name` when spans are recorded (see `spansRecorded`; else `undefined`, and
 * nothing is added to `scope`); the span ends with the scope's exit. Added to the scope before
 * anything else the caller puts there, it is the last thing to close.
 */
export const openSpanIn = (
  scope: Scope.Scope,
  name: string,
  options: Tracer.SpanOptions
): Effect.Effect<Tracer.Span | undefined> =>
  Effect.withFiberRuntime((fiber) =>
    spansRecorded(fiber)
      ? Effect.tap(openSpan(fiber, name, options), (span) =>
          Scope.addFinalizerExit(scope, (exit) => endSpan(span!, exit))
        )
      : noSpan
  )

/**
 * Opens a scope, then runs `prepare(scope)` (interruptible; it may fail) which returns the body
 * and the context to run it in. The body runs with the fiber's context replaced; afterwards the
 * context is restored and the scope closed with the body's exit, whatever it is. The body's
 * failures are mapped with `mapError` when one is given.
 *
 * What the region holds while the body runs is what every agent run in flight holds: one
 * object (`ScopeRegion`: the scope, the caller's context, `mapError`) and the two handlers of
 * the body's exit, no finalizer map until something is put in the scope (`LazyScope`).
 */
export const withScopeAndContext = <A, E, E2, R2, E3 = E>(
  prepare: (scope: Scope.CloseableScope) => Effect.Effect<Prepared<A, E, E3>, E2, R2>
): Effect.Effect<A, E3 | E2, R2> =>
  Effect.uninterruptibleMask((restore) => {
    const region = new ScopeRegion<A, E, E3 | E2>()
    return Effect.matchCauseEffect(restore(prepare(region)), {
      onFailure: (cause) => region.finish(Exit.failCause(cause)),
      onSuccess: (prepared) => region.enter(prepared, restore)
    })
  })

/** The scope of `withScopeAndContext` and the state of its region. */
class ScopeRegion<A, E, E3> extends LazyScope {
  private previous: Context.Context<any> | undefined = undefined
  private mapError: ((error: E) => E3) | undefined = undefined

  /** Closes the scope with `exit`, then ends with it. */
  finish(exit: Exit.Exit<A, E3>): Effect.Effect<A, E3> {
    return Effect.zipRight(this.close(exit), exit)
  }

  enter(
    prepared: Prepared<A, E, E3>,
    restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>
  ): Effect.Effect<A, E3> {
    this.mapError = prepared.mapError
    return Effect.flatMap(swapContext(prepared.context), (previous) => {
      this.previous = previous
      return Effect.matchCauseEffect(restore(prepared.body as Effect.Effect<A, E>), this.handlers())
    })
  }

  /** The body's exit handlers: their one closure context holds only the region. */
  private handlers() {
    return {
      onFailure: (cause: Cause.Cause<E>) => {
        const mapError = this.mapError
        return this.done(
          Exit.failCause(
            mapError === undefined
              ? (cause as unknown as Cause.Cause<E3>)
              : Cause.map(cause, mapError)
          )
        )
      },
      onSuccess: (value: A) => this.done(Exit.succeed(value))
    }
  }

  /** Restores the caller's context, then closes the scope with `exit`. */
  private done(exit: Exit.Exit<A, E3>): Effect.Effect<A, E3> {
    return Effect.zipRight(swapContext(this.previous!), this.finish(exit))
  }
}

/**
 * `withScopeAndContext` with the span `name` opened first in the scope (`openSpanIn`): the
 * scope's other finalizers run before the span ends.
 */
export const withSpanScopeAndContext = <A, E, E2, R2, E3 = E>(
  name: string,
  options: Tracer.SpanOptions,
  prepare: (
    span: Tracer.Span | undefined,
    scope: Scope.CloseableScope
  ) => Effect.Effect<Prepared<A, E, E3>, E2, R2>
): Effect.Effect<A, E3 | E2, R2> =>
  withScopeAndContext((scope) =>
    Effect.flatMap(openSpanIn(scope, name, options), (span) => prepare(span, scope))
  )

/**
 * Runs `body(span)` inside the span `name` with the fiber's context set to
 * `context(callerContext, span)`; the context is restored and the span ended with the body's
 * exit (what `useSpan` + `mapInputContext` do in two regions). `onSuccess(span, value)` runs
 * before the span ends (to annotate it with the result, without a `tap` frame of its own).
 * `onExit()` runs first whatever the exit (interruption included), inside the region; if it
 * throws, a success becomes that defect.
 * When spans are not recorded (`spansRecorded`), no span is opened and `span` is undefined.
 */
export const withSpanAndContext = <A, E, R>(
  name: string,
  options: Tracer.SpanOptions,
  context: (caller: Context.Context<any>, span: Tracer.Span | undefined) => Context.Context<any>,
  body: (span: Tracer.Span | undefined) => Effect.Effect<A, E, R>,
  onSuccess?: (span: Tracer.Span, value: A) => void,
  onExit?: () => void
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const inSpan = (span: Tracer.Span | undefined) =>
        Effect.flatMap(
          FiberRef.modify(currentContext, (previous) => [previous, context(previous, span)]),
          (previous) => {
            const done = (exit0: Exit.Exit<A, E>) => {
              let exit = exit0
              if (onExit !== undefined) {
                try {
                  onExit()
                } catch (defect) {
                  if (Exit.isSuccess(exit)) exit = Exit.die(defect)
                }
              }
              return Effect.zipRight(swapContext(previous), closeSpan(span, exit))
            }
            return Effect.matchCauseEffect(restore(body(span)), {
              onFailure: (cause) => done(Exit.failCause(cause)),
              onSuccess: (value) => {
                if (onSuccess !== undefined && span !== undefined) {
                  try {
                    onSuccess(span, value)
                  } catch (defect) {
                    return done(Exit.die(defect))
                  }
                }
                return done(Exit.succeed(value))
              }
            })
          }
        )
      // no span: straight into the region (no `noSpan` step)
      return spansRecorded(fiber)
        ? Effect.flatMap(openSpan(fiber, name, options), inSpan)
        : inSpan(undefined)
    })
  )
