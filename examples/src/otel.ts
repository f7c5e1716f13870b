/**
 * otel — an agent run exported through OpenTelemetry with the GenAI semantic conventions, and
 * what it cost.
 *
 * `@effect/opentelemetry`'s `NodeSdk.layer` installs a tracer and a metrics reader; from then
 * on every run is an `invoke_agent` span, every model request a `chat` span and every tool call
 * an `execute_tool` span, with `gen_ai.*` attributes, and every request records the
 * `gen_ai.client.token.usage` and `gen_ai.client.operation.duration` metrics. Here spans go to
 * an in-memory exporter and are printed as a tree; in production use an OTLP exporter
 * (`@opentelemetry/exporter-trace-otlp-http`) instead. Message contents are recorded because
 * this example asks for them (`Telemetry.withTelemetry({ includeContent: true })`); they are off
 * by default. `Cost.withPricing()` prices each request from `@pydantic/genai-prices`' bundled
 * data (no network).
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/otel.ts   (from the repo root)
 */
import { Agent, Cost, FunctionModel, Messages, Telemetry, Tool, Usage } from "@agentfx/core"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { NodeRuntime } from "@effect/platform-node"
import { MetricReader } from "@opentelemetry/sdk-metrics"
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"

/** A reader the example collects from on demand (a real app uses a periodic OTLP reader). */
class OnDemandReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

const exporter = new InMemorySpanExporter()
const reader = new OnDemandReader()
const Otel = NodeSdk.layer(() => ({
  resource: { serviceName: "agentfx-otel-example" },
  spanProcessor: new SimpleSpanProcessor(exporter),
  metricReader: reader
}))

const weather = Tool.make("weather", {
  description: "Today's weather in a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed({ city, sky: "sunny", celsius: 21 })
})

const agent = Agent.make({
  name: "forecaster",
  instructions: "Answer in one sentence. Use the weather tool.",
  tools: [weather]
})

/** Offline: a model that calls the tool, then answers, reporting gpt-4o-mini-like usage. */
const scripted = FunctionModel.layer(
  (messages) =>
    messages.some((m) => m._tag === "ModelResponse")
      ? new Messages.ModelResponse({
          parts: [new Messages.TextPart({ content: "It is sunny and 21 °C in Paris." })],
          usage: new Usage.RequestUsage({ inputTokens: 180, outputTokens: 14 }),
          modelName: "gpt-4o-mini",
          finishReason: "stop"
        })
      : new Messages.ModelResponse({
          parts: [
            new Messages.ToolCallPart({
              toolName: "weather",
              args: { city: "Paris" },
              toolCallId: "call_1"
            })
          ],
          usage: new Usage.RequestUsage({ inputTokens: 120, outputTokens: 9 }),
          modelName: "gpt-4o-mini",
          finishReason: "tool_call"
        }),
  { modelName: "gpt-4o-mini" }
)

/** The finished spans as an indented tree, with a few attributes each. */
const tree = (spans: ReadonlyArray<ReadableSpan>): string => {
  const children = new Map<string | undefined, Array<ReadableSpan>>()
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  for (const s of spans) {
    const parent = s.parentSpanContext?.spanId
    const key = parent !== undefined && ids.has(parent) ? parent : undefined
    children.set(key, [...(children.get(key) ?? []), s])
  }
  const shown = [
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "operation.cost",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result"
  ]
  const lines: Array<string> = []
  const walk = (parent: string | undefined, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) =>
      a.startTime[0] === b.startTime[0]
        ? a.startTime[1] - b.startTime[1]
        : a.startTime[0] - b.startTime[0]
    )
    for (const s of list) {
      const attrs = shown
        .filter((k) => s.attributes[k] !== undefined)
        .map((k) => `${k}=${s.attributes[k]}`)
      lines.push(`${"  ".repeat(depth)}${s.name}  ${attrs.join(" ")}`)
      walk(s.spanContext().spanId, depth + 1)
    }
  }
  walk(undefined, 0)
  return lines.join("\n")
}

const program = Effect.gen(function* () {
  const picked = yield* pickModel({ name: "otel", layer: scripted })
  yield* Console.log(`model: ${picked.description}`)
  const result = yield* agent.run("What's the weather in Paris?").pipe(Effect.provide(picked.layer))
  yield* Console.log(`output: ${result.output}`)
  const cost = result.usage.cost
  yield* Console.log(
    `usage: ${result.usage.inputTokens} in / ${result.usage.outputTokens} out, cost: ${
      cost === undefined ? "unknown" : `$${cost.toFixed(6)}`
    }`
  )
  yield* Console.log(`\nspans:\n${tree(exporter.getFinishedSpans())}`)
  const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
  const names = resourceMetrics.scopeMetrics
    .flatMap((s) => s.metrics)
    .map((m) => m.descriptor.name)
    .filter((n) => n.startsWith("gen_ai."))
  yield* Console.log(`\nmetrics: ${[...new Set(names)].join(", ")}`)
}).pipe(
  Telemetry.withTelemetry({ includeContent: true, maxContentLength: 2_000 }),
  Cost.withPricing(),
  // The SDK's shutdown (when the layer closes) empties the in-memory exporter: read it inside.
  Effect.provide(Otel)
)

NodeRuntime.runMain(program)
