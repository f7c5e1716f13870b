import { assert, describe, it } from "@effect/vitest"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, Cost, FunctionModel, Messages, Telemetry, Tool, Usage } from "@agentfx/core"

/** A metric reader the test collects from by hand. */
class TestReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const otel = () => {
  const exporter = new InMemorySpanExporter()
  const reader = new TestReader()
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "agentfx-test" },
    spanProcessor: new SimpleSpanProcessor(exporter),
    metricReader: reader
  }))
  return { exporter, reader, layer }
}

/**
 * Runs `body` under an OpenTelemetry SDK exporting to memory. Assertions run inside: the SDK's
 * shutdown (when the layer closes) empties the in-memory exporter.
 */
const withOtel = <A, E>(
  body: (o: { exporter: InMemorySpanExporter; reader: TestReader }) => Effect.Effect<A, E>
) =>
  Effect.suspend(() => {
    const { exporter, reader, layer } = otel()
    return body({ exporter, reader }).pipe(Effect.provide(layer))
  })

const SECRET = "sk-live-0123456789abcdef"

const weather = Tool.make("weather", {
  description: "The weather in a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`sunny in ${city}`)
})

/** Calls `weather` for Paris, then answers; usage 100/10 then 150/20. */
const model = (name: string) =>
  FunctionModel.layer(
    (messages) => {
      const responses = messages.filter((m) => m._tag === "ModelResponse").length
      return responses === 0
        ? new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({
                toolName: "weather",
                args: { city: "Paris" },
                toolCallId: "call_1"
              })
            ],
            usage: new Usage.RequestUsage({ inputTokens: 100, outputTokens: 10 }),
            modelName: name,
            providerResponseId: "resp_a",
            finishReason: "tool_call"
          })
        : new Messages.ModelResponse({
            parts: [new Messages.TextPart({ content: "It is sunny in Paris." })],
            usage: new Usage.RequestUsage({ inputTokens: 150, outputTokens: 20 }),
            modelName: name,
            providerResponseId: "resp_b",
            finishReason: "stop"
          })
    },
    { modelName: name }
  )

const agent = Agent.make({
  name: "forecaster",
  instructions: "Answer about the weather.",
  tools: [weather]
})

const byName = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const found = spans.filter((s) => s.name === name)
  assert.isAbove(found.length, 0, `no span ${name}`)
  return found
}
const parentId = (s: ReadableSpan) => s.parentSpanContext?.spanId

describe("OpenTelemetry export (GenAI semantic conventions)", () => {
  it.live("a run exports invoke_agent → chat / execute_tool spans with the GenAI attributes", () =>
    withOtel(({ exporter }) =>
      Effect.gen(function* () {
        const result = yield* agent.run("Weather in Paris?").pipe(Effect.provide(model("m-tree")))
        assert.strictEqual(result.output, "It is sunny in Paris.")
        const spans = exporter.getFinishedSpans()
        const [run] = byName(spans, "invoke_agent forecaster")
        const chats = byName(spans, "chat m-tree")
        const [tool] = byName(spans, "execute_tool weather")
        assert.strictEqual(chats.length, 2)
        // The tree: chats and the tool call under the run.
        for (const chat of chats) assert.strictEqual(parentId(chat), run!.spanContext().spanId)
        assert.strictEqual(parentId(tool!), run!.spanContext().spanId)
        assert.isUndefined(parentId(run!))
        assert.strictEqual(chats[0]!.kind, 2 /* CLIENT */)
        assert.strictEqual(run!.kind, 0 /* INTERNAL */)

        const a = run!.attributes
        assert.strictEqual(a["gen_ai.operation.name"], "invoke_agent")
        assert.strictEqual(a["gen_ai.agent.name"], "forecaster")
        assert.strictEqual(a["gen_ai.provider.name"], "function")
        assert.strictEqual(a["gen_ai.request.model"], "m-tree")
        assert.strictEqual(a["gen_ai.response.model"], "m-tree")
        assert.strictEqual(a["gen_ai.response.id"], "resp_b")
        // @effect/opentelemetry 0.64 exports array attributes as JSON text.
        assert.deepStrictEqual(JSON.parse(a["gen_ai.response.finish_reasons"] as string), ["stop"])
        // The run's usage: both requests.
        assert.strictEqual(a["gen_ai.usage.input_tokens"], 250)
        assert.strictEqual(a["gen_ai.usage.output_tokens"], 30)
        const definitions = JSON.parse(a["gen_ai.tool.definitions"] as string)
        assert.deepStrictEqual(definitions, [
          {
            type: "function",
            name: "weather",
            description: "The weather in a city.",
            parameters: definitions[0].parameters
          }
        ])
        assert.deepStrictEqual(definitions[0].parameters.required, ["city"])
        // Content is off by default.
        for (const span of spans) {
          for (const key of [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result"
          ]) {
            assert.notProperty(span.attributes, key, `${span.name} has ${key}`)
          }
        }

        const c = chats[0]!.attributes
        assert.strictEqual(c["gen_ai.operation.name"], "chat")
        assert.strictEqual(c["gen_ai.provider.name"], "function")
        assert.strictEqual(c["gen_ai.request.model"], "m-tree")
        assert.strictEqual(c["gen_ai.response.id"], "resp_a")
        assert.deepStrictEqual(JSON.parse(c["gen_ai.response.finish_reasons"] as string), [
          "tool_call"
        ])
        assert.strictEqual(c["gen_ai.usage.input_tokens"], 100)
        assert.strictEqual(c["gen_ai.usage.output_tokens"], 10)
        assert.isString(c["gen_ai.tool.definitions"])

        const t = tool!.attributes
        assert.strictEqual(t["gen_ai.operation.name"], "execute_tool")
        assert.strictEqual(t["gen_ai.tool.name"], "weather")
        assert.strictEqual(t["gen_ai.tool.call.id"], "call_1")
        assert.strictEqual(t["gen_ai.tool.type"], "function")
        assert.strictEqual(t["gen_ai.tool.description"], "The weather in a city.")
      })
    )
  )

  it.live("with includeContent: messages, instructions, tool arguments and result, capped", () =>
    withOtel(({ exporter }) =>
      Effect.gen(function* () {
        yield* agent
          .run("Weather in Paris?")
          .pipe(
            Telemetry.withTelemetry({ includeContent: true }),
            Effect.provide(model("m-content"))
          )
        const spans = exporter.getFinishedSpans()
        const [run] = byName(spans, "invoke_agent forecaster")
        const [tool] = byName(spans, "execute_tool weather")
        const a = run!.attributes
        assert.deepStrictEqual(JSON.parse(a["gen_ai.system_instructions"] as string), [
          { type: "text", content: "Answer about the weather." }
        ])
        assert.deepStrictEqual(JSON.parse(a["gen_ai.input.messages"] as string), [
          { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] }
        ])
        assert.deepStrictEqual(JSON.parse(a["gen_ai.output.messages"] as string), [
          {
            role: "assistant",
            parts: [{ type: "text", content: "It is sunny in Paris." }],
            finish_reason: "stop"
          }
        ])
        const chats = byName(spans, "chat m-content")
        // The second request carries the tool call and its result.
        assert.deepStrictEqual(
          JSON.parse(chats[1]!.attributes["gen_ai.input.messages"] as string),
          [
            { role: "user", parts: [{ type: "text", content: "Weather in Paris?" }] },
            {
              role: "assistant",
              parts: [
                { type: "tool_call", id: "call_1", name: "weather", arguments: { city: "Paris" } }
              ]
            },
            {
              role: "tool",
              parts: [{ type: "tool_call_response", id: "call_1", response: "sunny in Paris" }]
            }
          ]
        )
        assert.strictEqual(tool!.attributes["gen_ai.tool.call.arguments"], '{"city":"Paris"}')
        assert.strictEqual(tool!.attributes["gen_ai.tool.call.result"], "sunny in Paris")

        // The cap: every content attribute is cut at maxContentLength characters.
        exporter.reset()
        const long = "x".repeat(5_000)
        yield* agent
          .run(long)
          .pipe(
            Telemetry.withTelemetry({ includeContent: true, maxContentLength: 100 }),
            Effect.provide(model("m-cap"))
          )
        const capped = byName(exporter.getFinishedSpans(), "invoke_agent forecaster")[0]!
        const input = capped.attributes["gen_ai.input.messages"] as string
        assert.isAtMost(input.length, 100 + 40)
        assert.match(input, /…\[truncated \d+ characters\]$/)
      })
    )
  )

  it.live("streamed runs annotate the chat span and the run span the same way", () =>
    withOtel(({ exporter }) =>
      Effect.gen(function* () {
        const streamModel = FunctionModel.layer(undefined, {
          modelName: "m-stream",
          stream: () => Stream.make("Sunny", " today.")
        })
        const events = yield* agent
          .runStream("Weather?")
          .pipe(Stream.runCollect, Effect.provide(streamModel))
        assert.isAbove(events.length, 0)
        const spans = exporter.getFinishedSpans()
        const [run] = byName(spans, "invoke_agent forecaster")
        const [chat] = byName(spans, "chat m-stream")
        assert.strictEqual(parentId(chat!), run!.spanContext().spanId)
        assert.isNumber(chat!.attributes["gen_ai.usage.output_tokens"])
        assert.strictEqual(
          run!.attributes["gen_ai.usage.output_tokens"],
          chat!.attributes["gen_ai.usage.output_tokens"]
        )
      })
    )
  )

  it.live(
    "metrics: gen_ai.client.token.usage by token type and gen_ai.client.operation.duration",
    () =>
      withOtel(({ reader }) =>
        Effect.gen(function* () {
          const { resourceMetrics } = yield* Effect.gen(function* () {
            yield* agent.run("Weather in Paris?").pipe(Effect.provide(model("m-metrics")))
            return yield* Effect.promise(() => reader.collect())
          })
          const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
          const usage = metrics.find((m) => m.descriptor.name === "gen_ai.client.token.usage")!
          const duration = metrics.find(
            (m) => m.descriptor.name === "gen_ai.client.operation.duration"
          )!
          assert.isDefined(usage)
          assert.isDefined(duration)
          const points = (m: typeof usage) =>
            (m.dataPoints as ReadonlyArray<any>).filter(
              (p) => p.attributes["gen_ai.request.model"] === "m-metrics"
            )
          const byType = (type: string) =>
            points(usage).find((p) => p.attributes["gen_ai.token.type"] === type)!
          const input = byType("input")
          const output = byType("output")
          assert.strictEqual(input.value.count, 2)
          assert.strictEqual(input.value.sum, 250)
          assert.strictEqual(output.value.count, 2)
          assert.strictEqual(output.value.sum, 30)
          assert.strictEqual(input.attributes["gen_ai.operation.name"], "chat")
          assert.strictEqual(input.attributes["gen_ai.provider.name"], "function")
          const [d] = points(duration)
          assert.strictEqual(d.value.count, 2)
          assert.isAtLeast(d.value.sum, 0)
        })
      )
  )

  it.live("priced runs put operation.cost on the chat and run spans", () =>
    withOtel(({ exporter }) =>
      Effect.gen(function* () {
        const result = yield* agent
          .run("Weather in Paris?")
          .pipe(
            Cost.withPricing(
              Cost.fromTable({ "function:m-cost": { inputPerMillion: 2, outputPerMillion: 10 } })
            ),
            Effect.provide(model("m-cost"))
          )
        // (250 × 2 + 30 × 10) / 1e6
        assert.closeTo(result.usage.cost!, 0.0008, 1e-12)
        const spans = exporter.getFinishedSpans()
        const [run] = byName(spans, "invoke_agent forecaster")
        assert.closeTo(run!.attributes["operation.cost"] as number, 0.0008, 1e-12)
        const chats = byName(spans, "chat m-cost")
        assert.closeTo(chats[0]!.attributes["operation.cost"] as number, 0.0003, 1e-12)
      })
    )
  )

  it.live("secrets never reach an attribute, an event or a status, even with content on", () =>
    withOtel(({ exporter, reader }) =>
      Effect.gen(function* () {
        // A key in the settings (headers, body extras) and in a tool's definition metadata.
        const secretTool = Tool.make("vault", {
          description: "Opens the vault.",
          parameters: Schema.Struct({}),
          metadata: { apiKey: SECRET },
          handler: () => Effect.succeed("opened")
        })
        const leaky = Agent.make({
          name: "leaky",
          tools: [secretTool],
          modelSettings: {
            extraHeaders: { Authorization: `Bearer ${SECRET}`, "x-api-key": SECRET },
            extraBody: { api_key: SECRET }
          }
        })
        let calls = 0
        const m = FunctionModel.layer(
          () => {
            calls++
            return calls === 1 ? FunctionModel.toolCall("vault", {}) : FunctionModel.text("done")
          },
          { modelName: "m-secret" }
        )
        const { resourceMetrics } = yield* Effect.gen(function* () {
          yield* leaky.run("open it").pipe(Effect.provide(m))
          return yield* Effect.promise(() => reader.collect())
        }).pipe(Telemetry.withTelemetry({ includeContent: true, metrics: true }))
        const spans = exporter.getFinishedSpans()
        assert.isAbove(spans.length, 2)
        const dump = JSON.stringify(
          spans.map((s) => ({ a: s.attributes, e: s.events, st: s.status, n: s.name })),
          (_k, v) => (typeof v === "bigint" ? v.toString() : v)
        )
        const metricsDump = JSON.stringify(resourceMetrics)
        for (const text of [dump, metricsDump]) {
          assert.notInclude(text, SECRET)
          assert.notInclude(text.toLowerCase(), "bearer")
          assert.notInclude(text.toLowerCase(), "authorization")
        }
      })
    )
  )
})

describe("telemetry of composed and streamed runs (#18)", () => {
  const child = Agent.make({
    name: "helper",
    model: FunctionModel.layer(() => "42", { modelName: "m-helper" })
  })
  const parent = Agent.make({
    name: "boss",
    model: FunctionModel.layer(
      (messages) =>
        messages.length === 1
          ? FunctionModel.toolCall("ask_helper", { prompt: "the answer?" }, "call_h")
          : "done",
      { modelName: "m-boss" }
    ),
    tools: [Agent.asTool(child, { name: "ask_helper" })]
  })

  it.live(
    "a sub-agent's invoke_agent span nests under the caller's execute_tool span; the conversation id is on every run and request span",
    () =>
      withOtel(({ exporter }) =>
        Effect.gen(function* () {
          const result = yield* parent.run("go", { conversationId: "conv-7" })
          assert.strictEqual(result.output, "done")
          const spans = exporter.getFinishedSpans()
          const [boss] = byName(spans, "invoke_agent boss")
          const [tool] = byName(spans, "execute_tool ask_helper")
          const [helper] = byName(spans, "invoke_agent helper")
          const [helperChat] = byName(spans, "chat m-helper")
          assert.strictEqual(parentId(tool!), boss!.spanContext().spanId)
          assert.strictEqual(parentId(helper!), tool!.spanContext().spanId)
          assert.strictEqual(parentId(helperChat!), helper!.spanContext().spanId)
          for (const span of [boss!, helper!, helperChat!, ...byName(spans, "chat m-boss")]) {
            assert.strictEqual(span.attributes["gen_ai.conversation.id"], "conv-7", span.name)
          }
          // the sub-agent's span describes its own model
          assert.strictEqual(helper!.attributes["gen_ai.request.model"], "m-helper")
          // without a conversation id the run generates one: on its span and its messages
          const fresh = yield* parent.run("go")
          const [again] = byName(exporter.getFinishedSpans(), "invoke_agent boss").slice(-1)
          const generated = again!.attributes["gen_ai.conversation.id"]
          assert.match(String(generated), /^[0-9a-f-]{36}$/)
          assert.notStrictEqual(generated, "conv-7")
          for (const m of fresh.allMessages()) assert.strictEqual(m.conversationId, generated)
        })
      )
  )

  it.live(
    "gen_ai.agent.description from the description option, gen_ai.agent.call.id = the run id; asTool describes the agent by its description",
    () =>
      withOtel(({ exporter }) =>
        Effect.gen(function* () {
          const researcher = Agent.make({
            name: "researcher",
            description: "Finds facts and cites them.",
            model: FunctionModel.layer(() => "42", { modelName: "m-research" })
          })
          assert.strictEqual(researcher.description, "Finds facts and cites them.")
          const tool = Agent.asTool(researcher, { name: "research" })
          assert.strictEqual(tool.definition.description, "Finds facts and cites them.")
          // An explicit tool description still wins.
          assert.strictEqual(
            Agent.asTool(researcher, { name: "r2", description: "Other." }).definition.description,
            "Other."
          )
          const lead = Agent.make({
            name: "lead",
            model: FunctionModel.layer(
              (messages, info) =>
                messages.length === 1
                  ? FunctionModel.toolCall("research", { prompt: "q" }, "call_r")
                  : String(info.functionTools[0]?.description),
              { modelName: "m-lead" }
            ),
            tools: [tool]
          })
          const result = yield* lead.run("go", { runId: "run-lead-1" })
          // The lead's model saw the sub-agent's description as the tool's.
          assert.strictEqual(result.output, "Finds facts and cites them.")
          const spans = exporter.getFinishedSpans()
          const [leadSpan] = byName(spans, "invoke_agent lead")
          const [sub] = byName(spans, "invoke_agent researcher")
          assert.strictEqual(
            sub!.attributes["gen_ai.agent.description"],
            "Finds facts and cites them."
          )
          assert.isUndefined(leadSpan!.attributes["gen_ai.agent.description"])
          assert.strictEqual(leadSpan!.attributes["gen_ai.agent.call.id"], "run-lead-1")
          assert.strictEqual(leadSpan!.attributes["gen_ai.agent.call.id"], result.runId)
          const subCall = sub!.attributes["gen_ai.agent.call.id"]
          assert.isString(subCall)
          assert.notStrictEqual(subCall, result.runId)
        })
      )
  )

  it.live("a handoff target's invoke_agent span is a child of the run that handed off", () =>
    withOtel(({ exporter }) =>
      Effect.gen(function* () {
        const desk = Agent.make({
          name: "desk",
          model: FunctionModel.layer(() => FunctionModel.toolCall("transfer_to_helper", {}, "h1"))
        }).pipe(Agent.withHandoffs([Agent.handoff(child)]))
        const result = yield* desk.run("go", { conversationId: "conv-8" })
        assert.strictEqual(result.output, "42")
        const spans = exporter.getFinishedSpans()
        const [deskSpan] = byName(spans, "invoke_agent desk")
        const [helper] = byName(spans, "invoke_agent helper")
        assert.strictEqual(parentId(helper!), deskSpan!.spanContext().spanId)
        assert.strictEqual(helper!.attributes["gen_ai.conversation.id"], "conv-8")
      })
    )
  )

  it.effect(
    "gen_ai.client.operation.time_to_first_chunk: streamed requests only, from the request to the first chunk",
    () =>
      withOtel(({ reader }) =>
        Effect.gen(function* () {
          const slow = FunctionModel.layer(() => "not streamed", {
            modelName: "m-ttfc",
            stream: () =>
              Stream.fromEffect(Effect.as(Effect.sleep("1500 millis"), "Sun")).pipe(
                Stream.concat(Stream.make("ny"))
              )
          })
          const streaming = Agent.make({ name: "s", model: slow })
          const fiber = yield* Effect.fork(
            Stream.runDrain(streaming.runStream("Weather?")).pipe(
              Telemetry.withTelemetry({ metrics: true })
            )
          )
          yield* TestClock.adjust("1500 millis")
          yield* Fiber.join(fiber)
          // a non-streamed request records no time to first chunk
          yield* streaming.run("Weather?").pipe(Telemetry.withTelemetry({ metrics: true }))
          const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
          const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)
          const ttfc = metrics.find(
            (m) => m.descriptor.name === "gen_ai.client.operation.time_to_first_chunk"
          )
          assert.isDefined(ttfc)
          const points = (ttfc!.dataPoints as ReadonlyArray<any>).filter(
            (p) => p.attributes["gen_ai.request.model"] === "m-ttfc"
          )
          assert.strictEqual(points.length, 1)
          assert.strictEqual(points[0].value.count, 1)
          assert.strictEqual(points[0].value.sum, 1.5)
          assert.strictEqual(points[0].attributes["gen_ai.operation.name"], "chat")
          assert.strictEqual(points[0].attributes["gen_ai.provider.name"], "function")
          const duration = metrics.find(
            (m) => m.descriptor.name === "gen_ai.client.operation.duration"
          )!
          const durations = (duration.dataPoints as ReadonlyArray<any>).filter(
            (p) => p.attributes["gen_ai.request.model"] === "m-ttfc"
          )
          // both requests have a duration
          assert.strictEqual(durations[0].value.count, 2)
        })
      )
  )
})
