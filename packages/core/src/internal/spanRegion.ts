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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"

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

/** The fiber's context (typed loosely: a run's context holds any services). */
const currentContext = FiberRef.currentContext as unknown as FiberRef.FiberRef<Context.Context<any>>

/** Sets the fiber's context; returns the previous one. */
const swapContext = (context: Context.Context<any>): Effect.Effect<Context.Context<any>> =>
  FiberRef.getAndSet(currentContext, context)

/**
 * Opens the span `name` and a scope, then runs `prepare(span, scope)` (interruptible; it may
 * fail) which returns the body and the context to run it in. The body runs with the fiber's
 * context replaced; afterwards the context is restored, the scope closed and the span ended,
 * whatever the exit.
 */
export const withSpanScopeAndContext = <A, E, R, E2, R2>(
  name: string,
  options: Tracer.SpanOptions,
  prepare: (
    span: Tracer.Span,
    scope: Scope.CloseableScope
  ) => Effect.Effect<
    { readonly context: Context.Context<any>; readonly body: Effect.Effect<A, E, any> },
    E2,
    R2
  >
): Effect.Effect<A, E | E2, R | R2> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.makeSpan(name, options), (span) =>
      Effect.flatMap(Scope.make(), (scope) => {
        const finish = (exit: Exit.Exit<A, E | E2>): Effect.Effect<A, E | E2> =>
          Effect.zipRight(Scope.close(scope, exit), Effect.zipRight(endSpan(span, exit), exit))
        return Effect.flatMap(Effect.exit(restore(prepare(span, scope))), (prepared) =>
          Exit.isFailure(prepared)
            ? finish(prepared as Exit.Exit<never, E2>)
            : Effect.flatMap(swapContext(prepared.value.context), (previous) =>
                Effect.flatMap(Effect.exit(restore(prepared.value.body)), (exit) =>
                  Effect.zipRight(swapContext(previous), finish(exit))
                )
              )
        )
      })
    )
  )

/**
 * Runs `body(span)` inside the span `name` with the fiber's context set to
 * `context(callerContext, span)`; the context is restored and the span ended with the body's
 * exit (what `useSpan` + `mapInputContext` do in two regions).
 */
export const withSpanAndContext = <A, E, R>(
  name: string,
  options: Tracer.SpanOptions,
  context: (caller: Context.Context<any>, span: Tracer.Span) => Context.Context<any>,
  body: (span: Tracer.Span) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.makeSpan(name, options), (span) =>
      Effect.flatMap(
        FiberRef.modify(currentContext, (previous) => [previous, context(previous, span)]),
        (previous) =>
          Effect.flatMap(Effect.exit(restore(body(span))), (exit) =>
            Effect.zipRight(swapContext(previous), Effect.zipRight(endSpan(span, exit), exit))
          )
      )
    )
  )
