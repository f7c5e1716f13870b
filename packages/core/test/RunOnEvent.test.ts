/**
 * `run` with `RunOptions.onEvent`: the same events as `runStream` for the same run, the same
 * result, errors and messages — over a model whose streamed responses offer `push` (read with it)
 * and over one without (read through its `events` stream).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  Cost,
  FunctionModel,
  Model,
  OutputSpec,
  Telemetry,
  Tool,
  Usage
} from "@agentfx/core"
import { describeEvent } from "./support/events.js"
import { recordingTracer } from "./support/tracer.js"

/** A metric reader the test collects from by hand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Times of day differ between two runs: everything else must not. */
const normalize = (u: unknown): unknown =>
  JSON.parse(JSON.stringify(u, (k, v) => (k === "timestamp" || k === "conversationId" ? 0 : v)))

/**
 * `layer`'s model with `push` on its streamed responses, served from the response's `events`
 * (one callback per chunk, as a provider calls it per network read); `pushes` counts the uses.
 */
const withPush = (layer: Layer.Layer<Model.Model>) => {
  const pushes = { n: 0 }
  const wrapped = Layer.effect(
    Model.Model,
    Effect.map(Model.Model, (inner) =>
      Model.make({
        ...inner,
        requestStream: (messages, settings, parameters) =>
          Effect.map(inner.requestStream(messages, settings, parameters), (streamed) => ({
            ...streamed,
            push: (onEvents: Model.StreamEventsCallback) => {
              pushes.n++
              return Effect.zipRight(
                Stream.runForEachChunk(streamed.events, (chunk) =>
                  Effect.sync(() => onEvents(Chunk.toReadonlyArray(chunk)))
                ),
                streamed.response
              )
            }
          }))
      })
    )
  ).pipe(Layer.provide(layer))
  return { layer: wrapped, pushes }
}

/** The same run through `runStream` and through `run` + `onEvent`: both exits and event lists. */
const both = <A, E>(
  agent: Agent.Agent<A, E, never>,
  prompt: string,
  layer: Layer.Layer<Model.Model>,
  options: Agent.RunOptions = {}
) =>
  Effect.gen(function* () {
    const streamed: Array<Agent.AgentStreamEvent<A>> = []
    const streamExit = yield* CaptureRunMessages.capture(
      Stream.runForEach(agent.runStream(prompt, { runId: "r", ...options }), (e) =>
        Effect.sync(() => {
          streamed.push(e)
        })
      ).pipe(Effect.provide(layer))
    )
    const pushed: Array<Agent.AgentStreamEvent<unknown>> = []
    const runExit = yield* CaptureRunMessages.capture(
      agent
        .run(prompt, { runId: "r", ...options, onEvent: (e) => pushed.push(e) })
        .pipe(Effect.provide(layer))
    )
    return { streamed, pushed, streamExit, runExit }
  })

/** Asserts equal event sequences, equal results (or errors) and equal captured messages. */
const assertSame = (r: Effect.Effect.Success<ReturnType<typeof both>>) => {
  assert.isAbove(r.pushed.length, 0)
  assert.deepStrictEqual(r.pushed.map(describeEvent), r.streamed.map(describeEvent))
  assert.deepStrictEqual(normalize(r.pushed), normalize(r.streamed))
  assert.deepStrictEqual(normalize(r.runExit.messages), normalize(r.streamExit.messages))
  const { exit } = r.runExit
  if (Exit.isSuccess(exit)) {
    assert.isTrue(Exit.isSuccess(r.streamExit.exit))
    const last = r.streamed[r.streamed.length - 1]!
    assert.strictEqual(last._tag, "AgentRunResultEvent")
    if (last._tag !== "AgentRunResultEvent") return
    assert.deepStrictEqual(normalize(exit.value.output), normalize(last.result.output))
    assert.deepStrictEqual(
      normalize(exit.value.allMessages()),
      normalize(last.result.allMessages())
    )
    assert.deepStrictEqual(normalize(exit.value.usage), normalize(last.result.usage))
  } else {
    assert.isTrue(Exit.isFailure(r.streamExit.exit))
    assert.deepStrictEqual(
      normalize(Cause.squash(exit.cause)),
      normalize(Cause.squash((r.streamExit.exit as Exit.Failure<unknown, unknown>).cause))
    )
  }
}

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const responses = (messages: ReadonlyArray<{ readonly _tag: string }>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

const textModel = FunctionModel.layer(undefined, {
  stream: () => Stream.make("Hello", " wor", "ld").pipe(Stream.rechunk(1))
})

const thinkingModel = FunctionModel.layer(undefined, {
  stream: () =>
    Stream.make<Array<FunctionModel.StreamItem>>(
      { 0: { content: "Let me " } },
      { 0: { content: "think.", signature: "sig" } },
      "The answer",
      " is 4."
    ).pipe(Stream.rechunk(1))
})

/** Two calls of `add` in one response, then the answer. */
const parallelModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    responses(messages) === 0
      ? Stream.make<Array<FunctionModel.StreamItem>>(
          { 0: { name: "add", toolCallId: "c1" } },
          { 1: { name: "add", toolCallId: "c2", jsonArgs: '{"a":2,' } },
          { 0: { jsonArgs: '{"a":1,"b":1}' } },
          { 1: { jsonArgs: '"b":2}' } }
        ).pipe(Stream.rechunk(1))
      : Stream.make("2 and ", "4")
})

/** A structured output through the output tool `final_result`. */
const city = OutputSpec.make<{ readonly city: string }>({
  mode: "tool",
  allowTextOutput: false,
  toolDefinitions: () => [
    new Tool.ToolDefinition({
      name: "final_result",
      parametersJsonSchema: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"]
      }
    })
  ],
  handleText: () => Effect.die("no text output"),
  handleToolCall: (call) => Effect.succeed(call.argsAsObject() as { readonly city: string })
})

const cityModel = FunctionModel.layer(undefined, {
  stream: () =>
    Stream.make<Array<FunctionModel.StreamItem>>(
      { 0: { name: "final_result", toolCallId: "o1" } },
      { 0: { jsonArgs: '{"city":' } },
      { 0: { jsonArgs: '"Paris"}' } }
    ).pipe(Stream.rechunk(1))
})

describe("run with onEvent: the same events as runStream", () => {
  for (const push of [true, false]) {
    const over = (layer: Layer.Layer<Model.Model>) =>
      push ? withPush(layer) : { layer, pushes: undefined }
    const label = push ? "(model with push)" : "(model without push: its events stream)"

    it.effect(`text ${label}`, () =>
      Effect.gen(function* () {
        const { layer, pushes } = over(textModel)
        const r = yield* both(Agent.make({}), "hi", layer)
        assertSame(r)
        assert.deepStrictEqual(r.pushed.map(describeEvent).slice(0, 2), [
          "start 0 TextPart",
          "final text"
        ])
        assert.strictEqual(r.pushed[r.pushed.length - 1]!._tag, "AgentRunResultEvent")
        // One request, read with `push` by `run` (never by `runStream`).
        if (pushes !== undefined) assert.strictEqual(pushes.n, 1)
        const exit = r.runExit.exit
        assert.isTrue(Exit.isSuccess(exit) && exit.value.output === "Hello world")
      })
    )

    it.effect(`thinking then text ${label}`, () =>
      Effect.gen(function* () {
        const { layer } = over(thinkingModel)
        const r = yield* both(Agent.make({}), "2+2?", layer)
        assertSame(r)
        const kinds = r.pushed.map(describeEvent)
        assert.strictEqual(kinds[0], "start 0 ThinkingPart")
        assert.include(kinds, "final text")
      })
    )

    it.effect(`parallel tool calls, then text ${label}`, () =>
      Effect.gen(function* () {
        const { layer, pushes } = over(parallelModel)
        const r = yield* both(Agent.make({ tools: [add] }), "add", layer)
        assertSame(r)
        const kinds = r.pushed.map(describeEvent)
        assert.strictEqual(kinds.filter((k) => k === "call add").length, 2)
        assert.strictEqual(kinds.filter((k) => k === "result ToolReturnPart").length, 2)
        assert.isTrue(kinds.lastIndexOf("result ToolReturnPart") < kinds.indexOf("final text"))
        if (pushes !== undefined) assert.strictEqual(pushes.n, 2)
        const exit = r.runExit.exit
        assert.isTrue(Exit.isSuccess(exit) && exit.value.usage.requests === 2)
      })
    )

    it.effect(`structured output through an output tool ${label}`, () =>
      Effect.gen(function* () {
        const { layer } = over(cityModel)
        const r = yield* both(Agent.make({ output: city }), "where?", layer)
        assertSame(r)
        const final = r.pushed.find((e) => e._tag === "FinalResultEvent")
        assert.isTrue(final !== undefined && final._tag === "FinalResultEvent")
        if (final?._tag === "FinalResultEvent") assert.strictEqual(final.toolName, "final_result")
        const exit = r.runExit.exit
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) assert.deepStrictEqual(exit.value.output, { city: "Paris" })
      })
    )

    it.effect(`deferred tool (approval): the run stops the same way ${label}`, () =>
      Effect.gen(function* () {
        const pay = Tool.make("pay", {
          parameters: Schema.Struct({}),
          requiresApproval: true,
          handler: () => Effect.succeed("paid")
        })
        const { layer } = over(
          FunctionModel.layer(undefined, {
            stream: () => Stream.make({ 0: { name: "pay", toolCallId: "p1", jsonArgs: "{}" } })
          })
        )
        const r = yield* both(Agent.make({ tools: [pay] }), "pay", layer)
        assertSame(r)
        const exit = r.runExit.exit
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) {
          const out = exit.value.output as { readonly approvals: ReadonlyArray<unknown> }
          assert.strictEqual(out.approvals.length, 1)
        }
      })
    )

    it.effect(`usage limit: the same UsageLimitExceeded and messages ${label}`, () =>
      Effect.gen(function* () {
        const { layer } = over(parallelModel)
        const r = yield* both(Agent.make({ tools: [add] }), "add", layer, {
          usageLimits: new Usage.UsageLimits({ requestLimit: 1 })
        })
        assertSame(r)
        const exit = r.runExit.exit
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const e = Cause.squash(exit.cause)
          assert.instanceOf(e, AgentError.UsageLimitExceeded)
        }
        assert.deepStrictEqual(
          r.runExit.messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse", "ModelRequest"]
        )
      })
    )

    it.effect(`a model error mid-stream: the same typed error, the partial kept ${label}`, () =>
      Effect.gen(function* () {
        const { layer } = over(
          FunctionModel.layer(undefined, {
            stream: () =>
              Stream.concat(
                Stream.make("Hel"),
                Stream.fail(
                  new AgentError.ModelAPIError({ modelName: "function", reason: "Stream broke" })
                )
              )
          })
        )
        const r = yield* both(Agent.make({}), "hi", layer)
        assertSame(r)
        const exit = r.runExit.exit
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const e = Cause.squash(exit.cause) as AgentError.ModelAPIError
          assert.strictEqual(e._tag, "ModelAPIError")
          assert.strictEqual(e.reason, "Stream broke")
        }
        const last = r.runExit.messages[r.runExit.messages.length - 1]!
        assert.strictEqual(last._tag, "ModelResponse")
        if (last._tag === "ModelResponse") {
          assert.strictEqual(last.state, "interrupted")
          assert.strictEqual(last.text, "Hel")
        }
      })
    )

    it.effect(`interrupted mid-stream: exit interrupted, the partial response kept ${label}`, () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const { layer } = over(
          FunctionModel.layer(undefined, {
            stream: () => Stream.concat(Stream.make("Hel"), Stream.never)
          })
        )
        const seen: Array<string> = []
        const { exit: outer, messages } = yield* CaptureRunMessages.capture(
          Effect.gen(function* () {
            const fiber = yield* Effect.fork(
              Agent.make({})
                .run("hi", {
                  onEvent: (e) => {
                    seen.push(describeEvent(e))
                    Deferred.unsafeDone(started, Exit.void)
                  }
                })
                .pipe(Effect.provide(layer))
            )
            yield* Deferred.await(started)
            return yield* Fiber.interrupt(fiber)
          })
        )
        assert.isTrue(Exit.isSuccess(outer))
        if (Exit.isFailure(outer)) return
        const exit = outer.value
        assert.isTrue(Exit.isInterrupted(exit))
        assert.deepStrictEqual(seen.slice(0, 2), ["start 0 TextPart", "final text"])
        const last = messages[messages.length - 1]!
        assert.strictEqual(last._tag, "ModelResponse")
        if (last._tag === "ModelResponse") {
          assert.strictEqual(last.state, "interrupted")
          assert.strictEqual(last.text, "Hel")
        }
      })
    )
  }

  it.effect("the invoke_agent and chat spans are those of runStream", () =>
    Effect.gen(function* () {
      const { layer } = withPush(parallelModel)
      const agent = Agent.make({ name: "adder", tools: [add] })
      const onStream = recordingTracer()
      yield* Stream.runDrain(agent.runStream("add")).pipe(
        Effect.provide(layer),
        Effect.withTracer(onStream.tracer)
      )
      const onRun = recordingTracer()
      yield* agent
        .run("add", { onEvent: () => {} })
        .pipe(Effect.provide(layer), Effect.withTracer(onRun.tracer))
      // The run's own spans (a FunctionModel's `requestStream` span is on its events stream:
      // its parent is whoever reads it).
      const shape = (spans: ReturnType<typeof recordingTracer>["spans"]) =>
        spans
          .filter((s) => !s.name.startsWith("FunctionModel."))
          .map((s) => `${s.name} < ${s.parent ?? "-"} ${s.ended ? "ended" : "open"}`)
          .sort()
      assert.deepStrictEqual(shape(onRun.spans), shape(onStream.spans))
      assert.include(shape(onRun.spans), "invoke_agent adder < - ended")
      assert.strictEqual(onRun.chats().length, 2)
      const usage = (s: (typeof onRun.spans)[number]) =>
        s.attributes.get("gen_ai.usage.output_tokens")
      assert.deepStrictEqual(onRun.chats().map(usage), onStream.chats().map(usage))
      assert.isDefined(usage(onRun.chats()[0]!))
    })
  )

  it.effect("pricing: the pushed run's cost is runStream's (InstrumentedModel prices push)", () =>
    Effect.gen(function* () {
      const { layer, pushes } = withPush(
        FunctionModel.layer(undefined, { modelName: "m-push", stream: () => Stream.make("a", "b") })
      )
      const r = yield* both(Agent.make({}), "go", layer).pipe(
        Cost.withPricing(
          Cost.fromTable({ "m-push": { inputPerMillion: 1e6, outputPerMillion: 0 } })
        )
      )
      assertSame(r)
      assert.strictEqual(pushes.n, 1)
      const exit = r.runExit.exit
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isFailure(exit)) return
      const input = exit.value.usage.inputTokens
      assert.isAbove(input, 0)
      assert.strictEqual(exit.value.usage.cost, input)
      assert.strictEqual(exit.value.response.usage.cost, input)
    })
  )

  it.effect("metrics: duration and time to first chunk recorded for a pushed request", () =>
    Effect.gen(function* () {
      const reader = new TestReader()
      const otel = NodeSdk.layer(() => ({
        resource: { serviceName: "agentfx-test" },
        spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()),
        metricReader: reader
      }))
      const { layer, pushes } = withPush(
        FunctionModel.layer(undefined, {
          modelName: "m-ttfc-push",
          stream: () =>
            Stream.fromEffect(Effect.as(Effect.sleep("1500 millis"), "Sun")).pipe(
              Stream.concat(Stream.make("ny"))
            )
        })
      )
      yield* Effect.gen(function* () {
        const fiber = yield* Effect.fork(
          Agent.make({})
            .run("Weather?", { onEvent: () => {} })
            .pipe(Effect.provide(layer), Telemetry.withTelemetry({ metrics: true }))
        )
        yield* TestClock.adjust("1500 millis")
        yield* Fiber.join(fiber)
        assert.strictEqual(pushes.n, 1)
        const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
        const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
        const points = (name: string) =>
          (metrics.find((m) => m.descriptor.name === name)?.dataPoints ?? []).filter(
            (p: any) => p.attributes["gen_ai.request.model"] === "m-ttfc-push"
          ) as ReadonlyArray<any>
        const ttfc = points("gen_ai.client.operation.time_to_first_chunk")
        assert.strictEqual(ttfc.length, 1)
        assert.strictEqual(ttfc[0].value.count, 1)
        assert.strictEqual(ttfc[0].value.sum, 1.5)
        const duration = points("gen_ai.client.operation.duration")
        assert.strictEqual(duration[0]?.value.count, 1)
      }).pipe(Effect.provide(otel))
    })
  )

  it.effect("maxConcurrentRuns holds a run with onEvent like any other run", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const agent = Agent.make({ maxConcurrentRuns: 1 })
      const layer = FunctionModel.layer(undefined, {
        stream: () =>
          Stream.concat(
            Stream.make("a"),
            Stream.fromEffect(Deferred.await(gate)).pipe(Stream.as("b"))
          )
      })
      const seen: Array<string> = []
      const first = yield* Effect.fork(
        agent.run("1", { onEvent: () => seen.push("first") }).pipe(Effect.provide(layer))
      )
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      const second = yield* Effect.fork(
        agent.run("2", { onEvent: () => seen.push("second") }).pipe(Effect.provide(layer))
      )
      yield* Effect.yieldNow().pipe(Effect.repeatN(20))
      assert.isAbove(seen.length, 0)
      assert.notInclude(seen, "second")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      assert.include(seen, "second")
      assert.isBelow(seen.indexOf("first"), seen.indexOf("second"))
      assert.strictEqual(seen.lastIndexOf("first") < seen.indexOf("second"), true)
    })
  )

  it.effect("a callback that throws: the run dies with that defect, the partial kept", () =>
    Effect.gen(function* () {
      const { layer } = withPush(textModel)
      const { exit, messages } = yield* CaptureRunMessages.capture(
        Agent.make({})
          .run("hi", {
            onEvent: (e) => {
              if (e._tag === "PartDeltaEvent") throw new Error("callback bug")
            }
          })
          .pipe(Effect.provide(layer))
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      const defect = Cause.dieOption(exit.cause)
      assert.isTrue(defect._tag === "Some" && (defect.value as Error).message === "callback bug")
      const last = messages[messages.length - 1]!
      assert.isTrue(last._tag === "ModelResponse" && last.state === "interrupted")
    })
  )

  it.effect("onEvent and eventStreamHandler together: a UserError", () =>
    Effect.gen(function* () {
      const error = yield* Agent.make({})
        .run("hi", { onEvent: () => {}, eventStreamHandler: () => Effect.void })
        .pipe(Effect.provide(textModel), Effect.flip)
      assert.strictEqual(error._tag, "UserError")
    })
  )
})
