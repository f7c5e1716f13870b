/**
 * What the OpenTelemetry instrumentation records. Agents and instrumented models follow the
 * OpenTelemetry GenAI semantic conventions (`SEMCONV_VERSION`; the conventions are still at
 * "Development" status):
 *
 * - `invoke_agent {agent}` (internal span) per run: `gen_ai.operation.name`, `gen_ai.agent.name`,
 *   `gen_ai.agent.description` (the agent's `description` option), `gen_ai.agent.call.id` (the run id),
 *   `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
 *   `gen_ai.response.id` and `gen_ai.response.finish_reasons` (of the last response), the run's
 *   `gen_ai.usage.input_tokens` / `output_tokens` (and cache tokens), `operation.cost` when
 *   priced (see `Cost`), `gen_ai.tool.definitions`, `gen_ai.conversation.id` (the run's
 *   `conversationId` option); with `includeContent`, `gen_ai.system_instructions`,
 *   `gen_ai.input.messages` and `gen_ai.output.messages`. A sub-agent's run (`Agent.asTool`, a
 *   handoff) opens its own `invoke_agent` span under the caller's `execute_tool` span.
 * - `chat {model}` (client span) per model request: the same attributes for that request, plus
 *   the request settings (`gen_ai.request.temperature`, `max_tokens`, …) and the run's
 *   `gen_ai.conversation.id`.
 * - `execute_tool {tool}` (internal span) per tool call: `gen_ai.tool.name`,
 *   `gen_ai.tool.call.id`, `gen_ai.tool.type`, `gen_ai.tool.description`; with `includeContent`,
 *   `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`.
 * - Metrics (Effect `Metric`s, exported by `@effect/opentelemetry`'s metrics layer):
 *   `gen_ai.client.token.usage` (histogram, `{token}`, by `gen_ai.token.type` = `input` /
 *   `output`), `gen_ai.client.operation.duration` (histogram, seconds) and, for streamed
 *   requests only, `gen_ai.client.operation.time_to_first_chunk` (histogram, seconds from
 *   sending the request to its first chunk), with the convention's bucket boundaries.
 *
 * Content (messages, instructions, tool arguments and results) may hold personal data, so it
 * is off by default, and each content attribute is capped at `maxContentLength` characters.
 * Headers, API keys and provider-specific extras are never recorded.
 *
 * Nothing is recorded without a tracer: with Effect's built-in tracer (nothing exported), no
 * span is opened and no attribute is built. Metrics follow the spans unless `metrics` says
 * otherwise.
 *
 * @example
 * ```ts
 * import { Agent, Telemetry, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const agent = Agent.make({ name: "support" })
 * const program = agent.run("Hello").pipe(
 *   Telemetry.withTelemetry({ includeContent: true, maxContentLength: 4_096 }),
 *   Effect.provide(TestModel.layer())
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The version of the OpenTelemetry GenAI semantic conventions the attributes follow. */
export const SEMCONV_VERSION =
  "GenAI semantic conventions v0.1.0 (open-telemetry/semantic-conventions-genai, on semantic-conventions v1.45.0)"

/** What to record (see the module docs). */
export interface Options {
  /**
   * Record messages, system instructions, tool arguments and tool results. They may hold
   * personal data: off by default.
   */
  readonly includeContent?: boolean
  /** Cap, in characters, of each content attribute (longer values are cut and marked). Default 32 768. */
  readonly maxContentLength?: number
  /** Record `gen_ai.tool.definitions` (names, descriptions, JSON schemas). Default true. */
  readonly includeToolDefinitions?: boolean
  /**
   * Record the `gen_ai.client.*` metrics: `true` always, `false` never; by default only when
   * spans are recorded (a tracer is installed), so runs without telemetry do no metric work.
   */
  readonly metrics?: boolean
}

/** `Options` with the defaults filled in. */
export interface Resolved {
  readonly includeContent: boolean
  readonly maxContentLength: number
  readonly includeToolDefinitions: boolean
  readonly metrics: boolean | undefined
}

/** The defaults: no content, 32 768-character cap, tool definitions on, metrics with spans. */
export const defaults: Resolved = {
  includeContent: false,
  maxContentLength: 32_768,
  includeToolDefinitions: true,
  metrics: undefined
}

/** Fills in the defaults. */
export const resolve = (options: Options): Resolved => ({
  includeContent: options.includeContent ?? defaults.includeContent,
  maxContentLength: Math.max(16, options.maxContentLength ?? defaults.maxContentLength),
  includeToolDefinitions: options.includeToolDefinitions ?? defaults.includeToolDefinitions,
  metrics: options.metrics
})

/** The telemetry options in force (a fiber-context reference; `defaults` unless provided). */
export class CurrentTelemetry extends Context.Reference<CurrentTelemetry>()(
  "@agentfx/core/Telemetry/CurrentTelemetry",
  { defaultValue: (): Resolved => defaults }
) {}

/** Sets the telemetry options for everything run under the layer. */
export const layer = (options: Options): Layer.Layer<never> =>
  Layer.succeed(CurrentTelemetry, resolve(options))

/** Runs `effect` with these telemetry options. */
export const withTelemetry =
  (options: Options) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.provideService(effect, CurrentTelemetry, resolve(options))
