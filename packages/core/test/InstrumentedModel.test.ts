import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  FallbackModel,
  FunctionModel,
  InstrumentedModel,
  Messages,
  Model,
  TestModel,
  Tool,
  Usage,
  WrapperModel
} from "@agentfx/core"
import * as Schema from "effect/Schema"
import { recordingTracer } from "./support/tracer.js"

const answer = (text: string) =>
  new Messages.ModelResponse({
    parts: [new Messages.TextPart({ content: text })],
    usage: new Usage.RequestUsage({ inputTokens: 12, outputTokens: 3 }),
    modelName: "m-2024-01-01",
    providerResponseId: "resp_1",
    finishReason: "stop"
  })

describe("InstrumentedModel", () => {
  it.effect("a request runs in a client `chat {model}` span with GenAI attributes", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = InstrumentedModel.make(
        yield* FunctionModel.make(() => answer("hello"), { modelName: "m" })
      )
      const response = yield* model
        .request(
          [Messages.userPrompt("hi, my card is 4111")],
          {
            temperature: 0.2,
            maxTokens: 50,
            topK: 40,
            serviceTier: "flex",
            extraHeaders: { authorization: "Bearer sk-secret" },
            extraBody: { api_key: "sk-secret" }
          },
          Model.ModelRequestParameters.empty
        )
        .pipe(Effect.withTracer(tracer))
      assert.strictEqual(response.text, "hello")
      assert.strictEqual(chats().length, 1)
      const span = chats()[0]!
      assert.strictEqual(span.name, "chat m")
      assert.strictEqual(span.kind, "client")
      const a = span.attributes
      assert.strictEqual(a.get("gen_ai.operation.name"), "chat")
      assert.strictEqual(a.get("gen_ai.system"), "function")
      assert.strictEqual(a.get("gen_ai.request.model"), "m")
      assert.strictEqual(a.get("gen_ai.request.temperature"), 0.2)
      assert.strictEqual(a.get("gen_ai.request.max_tokens"), 50)
      assert.strictEqual(a.get("gen_ai.request.top_k"), 40)
      assert.strictEqual(a.get("gen_ai.response.model"), "m-2024-01-01")
      assert.strictEqual(a.get("gen_ai.response.id"), "resp_1")
      assert.deepStrictEqual(a.get("gen_ai.response.finish_reasons"), ["stop"])
      assert.strictEqual(a.get("gen_ai.usage.input_tokens"), 12)
      assert.strictEqual(a.get("gen_ai.usage.output_tokens"), 3)
      // Content is off by default; headers and body extras are never recorded.
      assert.isFalse(a.has("gen_ai.input.messages"))
      assert.isFalse(a.has("gen_ai.output.messages"))
      const everything = JSON.stringify([...a.values()])
      assert.notInclude(everything, "sk-secret")
      assert.notInclude(everything, "4111")
      assert.isTrue(span.exit !== undefined && Exit.isSuccess(span.exit))
    })
  )

  it.effect(
    "with no tracer installed, no chat or agent span is opened (their spans would be recorded nowhere)",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const model = Model.make({
          modelName: "m",
          system: "function",
          profile: Model.defaultProfile,
          settings: undefined,
          request: () =>
            Effect.map(
              Effect.orElseSucceed(
                Effect.map(Effect.currentSpan, (s) => s.name),
                () => "(none)"
              ),
              (name) => {
                seen.push(name)
                return answer("hello")
              }
            ),
          requestStream: () => Effect.die("not used")
        })
        // Effect's built-in tracer: the caller's span stays current inside the model and the run
        yield* InstrumentedModel.make(model)
          .request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
          .pipe(Effect.withSpan("caller"))
        const result = yield* Agent.make({ model }).run("hi").pipe(Effect.withSpan("handler"))
        assert.strictEqual(result.output, "hello")
        assert.deepStrictEqual(seen, ["caller", "handler"])
        // the same calls with a tracer installed: chat (and invoke_agent) spans as usual
        const { spans, tracer } = recordingTracer()
        yield* Agent.make({ model })
          .run("hi")
          .pipe(Effect.withSpan("handler"), Effect.withTracer(tracer))
        assert.deepStrictEqual(seen.slice(2), ["chat m"])
        assert.deepStrictEqual(
          spans.map((s) => [s.name, s.parent]),
          [
            ["handler", undefined],
            ["invoke_agent agent", "handler"],
            ["chat m", "invoke_agent agent"]
          ]
        )
      })
  )

  it.effect("runStream and tool calls: no spans without a tracer, spans with one", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const whereAmI = Tool.make("where_am_i", {
        description: "Names the current span",
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.map(Effect.currentSpan, (s) => {
            seen.push(s.name)
            return s.name
          })
      })
      const agent = Agent.make({ tools: [whereAmI] })
      const drain = Stream.runDrain(agent.runStream("where?")).pipe(
        Effect.withSpan("handler"),
        Effect.provide(TestModel.layer())
      )
      yield* drain
      assert.deepStrictEqual(seen, ["handler"])
      const { spans, tracer } = recordingTracer()
      yield* drain.pipe(Effect.withTracer(tracer))
      assert.deepStrictEqual(seen.slice(1), ["execute_tool where_am_i"])
      assert.deepStrictEqual(
        spans.map((s) => s.name),
        [
          "handler",
          "invoke_agent agent",
          "chat test",
          "TestModel.requestStream", // the test double's own span
          "execute_tool where_am_i",
          "chat test",
          "TestModel.requestStream"
        ]
      )
    })
  )

  it.effect("includeContent records the messages sent and received", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = InstrumentedModel.make(
        yield* FunctionModel.make(() => answer("the capital is Paris"), { modelName: "m" }),
        { includeContent: true }
      )
      yield* model
        .request(
          [Messages.userPrompt("capital of France?")],
          {},
          Model.ModelRequestParameters.empty
        )
        .pipe(Effect.withTracer(tracer))
      const a = chats()[0]!.attributes
      assert.include(String(a.get("gen_ai.input.messages")), "capital of France?")
      assert.include(String(a.get("gen_ai.output.messages")), "the capital is Paris")
    })
  )

  it.effect("a failed request ends its span with the failure", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = InstrumentedModel.make(
        yield* FunctionModel.make(
          () => Effect.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "m" })),
          { modelName: "m" }
        )
      )
      const error = yield* model
        .request([Messages.userPrompt("x")], {}, Model.ModelRequestParameters.empty)
        .pipe(Effect.withTracer(tracer), Effect.flip)
      assert.strictEqual(error._tag, "ModelHTTPError")
      const exit = chats()[0]!.exit
      assert.isTrue(exit !== undefined && Exit.isFailure(exit))
    })
  )

  it.effect("a streamed response: the span lasts until the stream ends and gets the usage", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = InstrumentedModel.make(
        yield* FunctionModel.make(undefined, {
          modelName: "m",
          stream: () => Stream.make("one ", "two ", "three")
        })
      )
      const events = yield* Effect.scoped(
        Effect.gen(function* () {
          const streamed = yield* model.requestStream(
            [Messages.userPrompt("count")],
            { maxTokens: 5 },
            Model.ModelRequestParameters.empty
          )
          const events = yield* Stream.runCollect(streamed.events)
          // Still open while the scope is: the stream's connection lives as long.
          assert.isUndefined(chats()[0]!.exit)
          return events
        })
      ).pipe(Effect.withTracer(tracer))
      assert.isAbove(events.length, 1)
      const span = chats()[0]!
      assert.isTrue(span.exit !== undefined && Exit.isSuccess(span.exit))
      assert.strictEqual(span.attributes.get("gen_ai.request.max_tokens"), 5)
      assert.isNumber(span.attributes.get("gen_ai.usage.output_tokens"))
      assert.isAbove(span.attributes.get("gen_ai.usage.output_tokens") as number, 0)
    })
  )

  it.effect("a stream that fails to open ends its span at once, with the failure", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const failing = WrapperModel.make(yield* FunctionModel.make(undefined, { modelName: "a" }), {
        requestStream: () =>
          Effect.fail(new AgentError.ModelHTTPError({ status: 503, modelName: "a" }))
      })
      const model = InstrumentedModel.make(failing)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const error = yield* Effect.flip(
            model.requestStream([Messages.userPrompt("x")], {}, Model.ModelRequestParameters.empty)
          )
          assert.strictEqual(error._tag, "ModelHTTPError")
          const exit = chats()[0]!.exit
          assert.isTrue(exit !== undefined && Exit.isFailure(exit))
        })
      ).pipe(Effect.withTracer(tracer))
    })
  )

  it.effect(
    "an agent given an instrumented model makes one chat span per request, with its options",
    () =>
      Effect.gen(function* () {
        const { chats, tracer } = recordingTracer()
        const model = InstrumentedModel.make(
          yield* FunctionModel.make(() => answer("hi there"), { modelName: "m" }),
          { includeContent: true }
        )
        yield* Agent.make({ name: "a" }).run("hello", { model }).pipe(Effect.withTracer(tracer))
        assert.strictEqual(chats().length, 1)
        assert.strictEqual(chats()[0]!.parent, "invoke_agent a")
        assert.include(String(chats()[0]!.attributes.get("gen_ai.input.messages")), "hello")
      })
  )

  it.effect("a streamed agent run: one chat span per request, under the agent span", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = yield* FunctionModel.make(undefined, {
        modelName: "s",
        stream: () => Stream.make("streamed ", "answer")
      })
      const result = yield* Agent.make({ name: "streamer" })
        .runStream("hi", { model })
        .pipe(Agent.finalResult, Effect.withTracer(tracer))
      assert.strictEqual(result.output, "streamed answer")
      assert.deepStrictEqual(
        chats().map((s) => [s.name, s.parent]),
        [["chat s", "invoke_agent streamer"]]
      )
      const span = chats()[0]!
      assert.isTrue(span.exit !== undefined && Exit.isSuccess(span.exit))
      assert.isAbove(span.attributes.get("gen_ai.usage.output_tokens") as number, 0)
    })
  )

  it.effect("instrumented models inside a wrapper or a fallback chain: still one chat span", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const a = InstrumentedModel.make(
        yield* FunctionModel.make(
          () => Effect.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "a" })),
          { modelName: "a" }
        )
      )
      const b = InstrumentedModel.make(
        yield* FunctionModel.make(() => answer("from b"), { modelName: "b" })
      )
      const wrapped = WrapperModel.make(FallbackModel.make([a, b]), { modelName: "chain" })
      const result = yield* Agent.make({})
        .run("x", { model: wrapped })
        .pipe(Effect.withTracer(tracer))
      assert.strictEqual(result.output, "from b")
      assert.deepStrictEqual(
        chats().map((s) => s.name),
        ["chat chain"]
      )
      assert.strictEqual(chats()[0]!.attributes.get("gen_ai.response.model"), "m-2024-01-01")
    })
  )

  it.effect("wrapping twice replaces the options instead of nesting spans", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const inner = yield* FunctionModel.make(() => answer("ok"), { modelName: "m" })
      const twice = InstrumentedModel.make(InstrumentedModel.make(inner), { includeContent: true })
      yield* twice
        .request([Messages.userPrompt("q")], {}, Model.ModelRequestParameters.empty)
        .pipe(Effect.withTracer(tracer))
      assert.strictEqual(chats().length, 1)
      assert.isTrue(chats()[0]!.attributes.has("gen_ai.input.messages"))
    })
  )

  it.effect("layer instruments the Model of the context", () =>
    Effect.gen(function* () {
      const { chats, tracer } = recordingTracer()
      const model = yield* Model.Model
      assert.isTrue(InstrumentedModel.isInstrumented(model))
      yield* Agent.make({}).run("x").pipe(Effect.withTracer(tracer))
      assert.strictEqual(chats().length, 1)
    }).pipe(
      Effect.provide(
        InstrumentedModel.layer().pipe(Layer.provide(FunctionModel.layer(() => answer("ok"))))
      )
    )
  )
})

describe("WrapperModel", () => {
  it.effect("delegates what it does not override", () =>
    Effect.gen(function* () {
      const inner = yield* FunctionModel.make(() => "inner answer", {
        modelName: "inner",
        settings: { temperature: 1 }
      })
      const renamed = WrapperModel.make(inner, { modelName: "renamed" })
      assert.strictEqual(renamed.modelName, "renamed")
      assert.strictEqual(renamed.system, "function")
      assert.deepStrictEqual(renamed.settings, { temperature: 1 })
      const result = yield* Agent.make({}).run("x", { model: renamed })
      assert.strictEqual(result.output, "inner answer")
    })
  )

  it.effect("overrides computed from the inner model can rewrite requests", () =>
    Effect.gen(function* () {
      const seen: Array<number | undefined> = []
      const inner = yield* FunctionModel.make((_, info) => {
        seen.push(info.modelSettings.temperature)
        return "ok"
      })
      const pinned = WrapperModel.make(inner, (m) => ({
        request: (messages, settings, parameters) =>
          m.request(messages, { ...settings, temperature: 0 }, parameters)
      }))
      yield* Agent.make({ modelSettings: { temperature: 0.9 } }).run("x", { model: pinned })
      assert.deepStrictEqual(seen, [0])
    })
  )

  it.effect("layer wraps the Model of the context", () =>
    Effect.gen(function* () {
      const result = yield* Agent.make({}).run("x")
      assert.strictEqual(result.output, "ok")
      assert.strictEqual((yield* Model.Model).modelName, "wrapped")
    }).pipe(
      Effect.provide(
        WrapperModel.layer({ modelName: "wrapped" }).pipe(
          Layer.provide(FunctionModel.layer(() => "ok"))
        )
      )
    )
  )
})
