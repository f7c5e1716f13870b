import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { Agent, FunctionModel, TestModel } from "@agentfx/core"
import {
  streamSpanIfRecorded,
  withSpanAndContext,
  withSpanIfRecorded,
  withSpanScopeAndContext
} from "../src/internal/spanRegion.js"
import { recordingTracer } from "./support/tracer.js"

class Marker extends Context.Tag("test/Marker")<Marker, string>() {}

/** The marker in the current context, or "none". */
const marker = Effect.map(Effect.serviceOption(Marker), (m) =>
  m._tag === "Some" ? m.value : "none"
)

const withMarker = (context: Context.Context<any>, value: string) =>
  Context.add(context, Marker, value)

describe("withSpanScopeAndContext", () => {
  it.effect(
    "runs the body in the prepared context, then restores it, closes the scope, ends the span",
    () =>
      Effect.gen(function* () {
        const { spans, tracer } = recordingTracer()
        const closed: Array<string> = []
        const out = yield* withSpanScopeAndContext("outer", {}, (span, scope) =>
          Effect.map(Effect.context<any>(), (caller) => ({
            context: Context.add(withMarker(caller, "inside"), Tracer.ParentSpan, span!),
            body: Effect.zipRight(
              Scope.addFinalizer(
                scope,
                Effect.sync(() => closed.push("scope"))
              ),
              Effect.zip(marker, Effect.currentSpan)
            )
          }))
        ).pipe(Effect.withTracer(tracer))
        assert.strictEqual(out[0], "inside")
        assert.strictEqual(out[1].name, "outer")
        assert.strictEqual(yield* marker, "none")
        assert.deepStrictEqual(closed, ["scope"])
        assert.strictEqual(spans[0]!.ended, true)
        assert.isTrue(Exit.isSuccess(spans[0]!.exit!))
      })
  )

  it.effect("maps the body's failures with mapError; the span ends with the mapped failure", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const exit = yield* withSpanScopeAndContext("outer", {}, () =>
        Effect.map(Effect.context<any>(), (caller) => ({
          context: withMarker(caller, "inside"),
          body: Effect.fail("boom" as const),
          mapError: (e: "boom") => ({ wrapped: e })
        }))
      ).pipe(Effect.withTracer(tracer), Effect.exit)
      assert.deepStrictEqual(exit, Exit.fail({ wrapped: "boom" }))
      assert.deepStrictEqual(spans[0]!.exit, Exit.fail({ wrapped: "boom" }))
      assert.strictEqual(yield* marker, "none")
    })
  )

  it.effect("a defect is not mapped; a failing prepare ends the span and closes the scope", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const died = yield* withSpanScopeAndContext("a", {}, () =>
        Effect.succeed({
          context: Context.empty() as Context.Context<any>,
          body: Effect.die("bug"),
          mapError: () => "mapped"
        })
      ).pipe(Effect.withTracer(tracer), Effect.exit)
      assert.isTrue(Exit.isFailure(died) && Cause.isDie(died.cause))
      const closed: Array<string> = []
      const failed = yield* withSpanScopeAndContext("b", {}, (_span, scope) =>
        Effect.zipRight(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => closed.push("scope"))
          ),
          Effect.fail("no model")
        )
      ).pipe(Effect.withTracer(tracer), Effect.exit)
      assert.deepStrictEqual(failed, Exit.fail("no model"))
      assert.deepStrictEqual(closed, ["scope"])
      assert.deepStrictEqual(
        spans.map((s) => s.ended),
        [true, true]
      )
    })
  )

  it.effect("interrupting the body restores the context, closes the scope and ends the span", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const started = yield* Deferred.make<void>()
      const closed: Array<string> = []
      const fiber = yield* withSpanScopeAndContext("outer", {}, (_span, scope) =>
        Effect.as(
          Scope.addFinalizer(
            scope,
            Effect.sync(() => closed.push("scope"))
          ),
          {
            context: Context.empty() as Context.Context<any>,
            body: Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
          }
        )
      ).pipe(Effect.withTracer(tracer), Effect.fork)
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(closed, ["scope"])
      assert.strictEqual(spans[0]!.ended, true)
    })
  )
})

describe("spans only when recorded", () => {
  it.effect(
    "under Effect's built-in tracer no span is opened; the caller's span stays current",
    () =>
      Effect.gen(function* () {
        const seen = yield* withSpanScopeAndContext("outer", {}, (span) =>
          Effect.map(Effect.context<any>(), (caller) => ({
            context: caller,
            body: Effect.map(Effect.currentSpan, (current) => ({ span, current: current.name }))
          }))
        ).pipe(Effect.withSpan("caller"))
        assert.isUndefined(seen.span)
        assert.strictEqual(seen.current, "caller")
      })
  )

  it.effect(
    "withSpanAndContext under the built-in tracer: no span, the context still changes",
    () =>
      Effect.gen(function* () {
        let annotated = false
        const out = yield* withSpanAndContext(
          "execute_tool t",
          {},
          (caller, span) => withMarker(caller, span === undefined ? "no span" : "span"),
          (span) => Effect.map(marker, (m) => ({ m, span })),
          () => {
            annotated = true
          }
        )
        assert.strictEqual(out.m, "no span")
        assert.isUndefined(out.span)
        assert.isFalse(annotated)
        assert.strictEqual(yield* marker, "none")
      })
  )

  it.effect("with tracing disabled no span is opened either", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const span = yield* withSpanScopeAndContext("outer", {}, (span) =>
        Effect.succeed({
          context: Context.empty() as Context.Context<any>,
          body: Effect.succeed(span)
        })
      ).pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))
      assert.isUndefined(span)
      assert.strictEqual(spans.length, 0)
    })
  )
})

describe("withSpanAndContext", () => {
  it.effect("onSuccess annotates the span before it ends; the caller's context comes back", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const out = yield* withSpanAndContext(
        "chat m",
        {},
        (caller) => withMarker(caller, "chat"),
        () => marker,
        (span, value) => span.attribute("seen", value)
      ).pipe(Effect.withTracer(tracer))
      assert.strictEqual(out, "chat")
      assert.strictEqual(spans[0]!.attributes.get("seen"), "chat")
      assert.strictEqual(spans[0]!.ended, true)
      assert.strictEqual(yield* marker, "none")
    })
  )

  it.effect(
    "a throwing onSuccess is a defect; the span still ends and the context is restored",
    () =>
      Effect.gen(function* () {
        const { spans, tracer } = recordingTracer()
        const exit = yield* withSpanAndContext(
          "chat m",
          {},
          (caller) => withMarker(caller, "chat"),
          () => Effect.succeed(1),
          () => {
            throw new Error("annotate failed")
          }
        ).pipe(Effect.withTracer(tracer), Effect.exit)
        assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
        assert.strictEqual(spans[0]!.ended, true)
        assert.isTrue(Exit.isFailure(spans[0]!.exit!))
        assert.strictEqual(yield* marker, "none")
      })
  )

  it.effect("a failing body skips onSuccess and ends the span with the failure", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      let called = false
      const exit = yield* withSpanAndContext(
        "chat m",
        {},
        (caller) => caller,
        () => Effect.fail("http 500"),
        () => {
          called = true
        }
      ).pipe(Effect.withTracer(tracer), Effect.exit)
      assert.deepStrictEqual(exit, Exit.fail("http 500"))
      assert.isFalse(called)
      assert.deepStrictEqual(spans[0]!.exit, Exit.fail("http 500"))
    })
  )
})

describe("the test doubles' request spans", () => {
  it.effect("are recorded, with their model attribute, when a tracer records spans", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      yield* Agent.make({})
        .run("hi")
        .pipe(Effect.provide(FunctionModel.layer(() => "hello")), Effect.withTracer(tracer))
      yield* Agent.make({})
        .run("hi")
        .pipe(Effect.provide(TestModel.layer()), Effect.withTracer(tracer))
      const fn = spans.find((s) => s.name === "FunctionModel.request")
      const test = spans.find((s) => s.name === "TestModel.request")
      assert.isDefined(fn)
      assert.isDefined(test)
      assert.isTrue(fn!.ended && test!.ended)
      assert.isTrue(String(fn!.attributes.get("gen_ai.request.model")).startsWith("function:"))
      assert.strictEqual(test!.attributes.get("gen_ai.request.model"), "test")
    })
  )

  it.effect("withSpanIfRecorded / streamSpanIfRecorded: a span only when a tracer records", () =>
    Effect.gen(function* () {
      const name = (span: Option.Option<Tracer.Span>) =>
        span._tag === "Some" ? span.value.name : "none"
      const inEffect = withSpanIfRecorded("double", {})(Effect.option(Effect.currentSpan))
      const inStream = Effect.flatMap(
        Effect.withFiberRuntime<Stream.Stream<Option.Option<Tracer.Span>>>((fiber) =>
          Effect.succeed(
            streamSpanIfRecorded(
              fiber,
              "double",
              {}
            )(Stream.fromEffect(Effect.option(Effect.currentSpan)))
          )
        ),
        (stream) => Stream.runHead(stream)
      )
      // Effect's built-in tracer: nobody reads the span, none is opened
      assert.strictEqual(name(yield* inEffect), "none")
      assert.strictEqual(name(Option.flatten(yield* inStream)), "none")
      const { spans, tracer } = recordingTracer()
      assert.strictEqual(name(yield* inEffect.pipe(Effect.withTracer(tracer))), "double")
      assert.strictEqual(
        name(Option.flatten(yield* inStream.pipe(Effect.withTracer(tracer)))),
        "double"
      )
      assert.deepStrictEqual(
        spans.map((s) => [s.name, s.ended]),
        [
          ["double", true],
          ["double", true]
        ]
      )
    })
  )

  it.effect("streamed: recorded, with their model attribute, under a tracer", () =>
    Effect.gen(function* () {
      const fn = FunctionModel.layer(undefined, { stream: () => Stream.make("hello") })
      const drain = (layer: typeof fn) =>
        Stream.runDrain(Agent.make({}).runStream("hi").pipe(Stream.provideLayer(layer)))
      const { spans, tracer } = recordingTracer()
      yield* drain(fn).pipe(Effect.withTracer(tracer))
      yield* drain(TestModel.layer()).pipe(Effect.withTracer(tracer))
      const fnSpan = spans.find((s) => s.name === "FunctionModel.requestStream")
      const testSpan = spans.find((s) => s.name === "TestModel.requestStream")
      assert.isTrue(fnSpan?.ended === true && testSpan?.ended === true)
      assert.isTrue(String(fnSpan!.attributes.get("gen_ai.request.model")).startsWith("function:"))
      assert.strictEqual(testSpan!.attributes.get("gen_ai.request.model"), "test")
    })
  )
})
