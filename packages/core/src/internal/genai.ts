/**
 * OpenTelemetry GenAI semantic conventions: the attributes of the `invoke_agent`, `chat` and
 * `execute_tool` spans and the `gen_ai.client.*` metrics (see `Telemetry.ts` for what is
 * recorded and `Telemetry.SEMCONV_VERSION` for the version). Everything here runs only when
 * spans (or metrics) are recorded: callers check first, so runs without a tracer do none of it.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as MetricLabel from "effect/MetricLabel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import type {
  ModelMessage,
  ModelRequest,
  ModelResponse,
  ToolCallPart,
  ToolReturnPart,
  UserContent
} from "../Messages.js"
import type * as Model from "../Model.js"
import { CurrentTelemetry, type Resolved } from "../Telemetry.js"

// -- Content ------------------------------------------------------------------

/** `text` cut to `max` characters, marked when cut. */
export const cap = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}…[truncated ${text.length - max} characters]`

/** JSON of any value: bytes are replaced by their length (never dumped into a span). */
const toJson = (value: unknown): string =>
  typeof value === "string"
    ? value
    : (JSON.stringify(value, (_key, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)) ??
      "null")

const userParts = (content: string | ReadonlyArray<UserContent>): Array<unknown> => {
  if (typeof content === "string") return [{ type: "text", content }]
  const parts: Array<unknown> = []
  for (const item of content) {
    if (typeof item === "string") parts.push({ type: "text", content: item })
    else if (item._tag === "TextContent") parts.push({ type: "text", content: item.content })
    else if (item._tag === "BinaryContent") {
      parts.push({ type: "blob", mime_type: item.mediaType, modality: modality(item.mediaType) })
    } else if (item._tag === "CachePoint") continue
    else if (item._tag === "UploadedFile") {
      parts.push({
        type: "file",
        file_id: item.fileId,
        mime_type: item.effectiveMediaType,
        modality: modality(item.effectiveMediaType)
      })
    } else {
      parts.push({
        type: "uri",
        uri: item.url,
        modality: modality(item.mediaType ?? item._tag.replace("Url", "").toLowerCase())
      })
    }
  }
  return parts
}

const modality = (mediaType: string): string => {
  const kind = mediaType.split("/")[0] ?? ""
  return kind === "image" || kind === "audio" || kind === "video" ? kind : "document"
}

const requestMessages = (request: ModelRequest, out: Array<unknown>): void => {
  for (const part of request.parts) {
    switch (part._tag) {
      case "SystemPromptPart":
        out.push({ role: "system", parts: [{ type: "text", content: part.content }] })
        break
      case "UserPromptPart":
        out.push({ role: "user", parts: userParts(part.content) })
        break
      case "ToolReturnPart":
        out.push({
          role: "tool",
          parts: [{ type: "tool_call_response", id: part.toolCallId, response: part.content }]
        })
        break
      case "RetryPromptPart":
        out.push(
          part.toolCallId === undefined
            ? { role: "user", parts: [{ type: "text", content: part.modelResponse }] }
            : {
                role: "tool",
                parts: [
                  { type: "tool_call_response", id: part.toolCallId, response: part.modelResponse }
                ]
              }
        )
        break
    }
  }
}

const responseParts = (response: ModelResponse): Array<unknown> =>
  response.parts.map((part) =>
    part._tag === "TextPart"
      ? { type: "text", content: part.content }
      : part._tag === "ThinkingPart"
        ? { type: "reasoning", content: part.content }
        : part._tag === "ToolCallPart"
          ? { type: "tool_call", id: part.toolCallId, name: part.toolName, arguments: part.args }
          : part._tag === "BuiltinToolCallPart"
            ? {
                type: "server_tool_call",
                id: part.toolCallId,
                name: part.toolName,
                arguments: part.args
              }
            : part._tag === "CompactionPart"
              ? { type: "compaction", content: part.content ?? "" }
              : part._tag === "FilePart"
                ? {
                    type: "blob",
                    mime_type: part.content.mediaType,
                    modality: modality(part.content.mediaType)
                  }
                : {
                    type: "server_tool_call_response",
                    id: part.toolCallId,
                    name: part.toolName,
                    response: part.content
                  }
  )

/** `gen_ai.input.messages`: the conversation in the conventions' `{ role, parts }` shape. */
export const inputMessages = (messages: ReadonlyArray<ModelMessage>, max: number): string => {
  const out: Array<unknown> = []
  for (const m of messages) {
    if (m._tag === "ModelRequest") requestMessages(m, out)
    else out.push({ role: "assistant", parts: responseParts(m) })
  }
  return cap(toJson(out), max)
}

/** `gen_ai.output.messages`: the response as one assistant message with its finish reason. */
export const outputMessages = (response: ModelResponse, max: number): string =>
  cap(
    toJson([
      {
        role: "assistant",
        parts: responseParts(response),
        ...(response.finishReason !== undefined ? { finish_reason: response.finishReason } : {})
      }
    ]),
    max
  )

/** `gen_ai.system_instructions`: the instructions of the last request, if any. */
export const systemInstructions = (
  messages: ReadonlyArray<ModelMessage>,
  max: number
): string | undefined => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelRequest") {
      return m.instructions === undefined
        ? undefined
        : cap(toJson([{ type: "text", content: m.instructions }]), max)
    }
  }
  return undefined
}

/** `gen_ai.tool.definitions`: name, description and JSON schema of every tool offered. */
export const toolDefinitions = (parameters: Model.ModelRequestParameters): string | undefined => {
  const tools = parameters.allTools
  if (tools.length === 0) return undefined
  return toJson(
    tools.map((t) => ({
      type: "function",
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      parameters: t.parametersJsonSchema
    }))
  )
}

// -- Spans --------------------------------------------------------------------

/** The content attributes of a request (messages, instructions, tools), as options say. */
export const requestContent = (
  attributes: Record<string, unknown>,
  messages: ReadonlyArray<ModelMessage>,
  parameters: Model.ModelRequestParameters,
  options: Resolved
): void => {
  if (options.includeToolDefinitions) {
    const tools = toolDefinitions(parameters)
    if (tools !== undefined) attributes["gen_ai.tool.definitions"] = tools
  }
  if (options.includeContent) {
    const instructions = systemInstructions(messages, options.maxContentLength)
    if (instructions !== undefined) attributes["gen_ai.system_instructions"] = instructions
    attributes["gen_ai.input.messages"] = inputMessages(messages, options.maxContentLength)
  }
}

/** The usage attributes of a response (or of a run so far). */
const usageAttributes = (
  span: Pick<Tracer.Span, "attribute">,
  usage: {
    readonly inputTokens: number
    readonly outputTokens: number
    readonly cacheReadTokens: number
    readonly cacheWriteTokens: number
    readonly cost?: number
  }
): void => {
  span.attribute("gen_ai.usage.input_tokens", usage.inputTokens)
  span.attribute("gen_ai.usage.output_tokens", usage.outputTokens)
  if (usage.cacheReadTokens > 0) {
    span.attribute("gen_ai.usage.cache_read.input_tokens", usage.cacheReadTokens)
  }
  if (usage.cacheWriteTokens > 0) {
    span.attribute("gen_ai.usage.cache_creation.input_tokens", usage.cacheWriteTokens)
  }
  if (usage.cost !== undefined) span.attribute("operation.cost", usage.cost)
}

/** The response attributes: model, id, finish reasons, usage (and cost). */
export const annotateResponse = (
  span: Pick<Tracer.Span, "attribute">,
  response: ModelResponse
): void => {
  if (response.modelName !== undefined) span.attribute("gen_ai.response.model", response.modelName)
  if (response.providerResponseId !== undefined) {
    span.attribute("gen_ai.response.id", response.providerResponseId)
  }
  if (response.finishReason !== undefined) {
    span.attribute("gen_ai.response.finish_reasons", [response.finishReason])
  }
  usageAttributes(span, response.usage)
}

/** The `invoke_agent` span a `chat` span is opened under, if it is one. */
export const agentSpanOf = (context: Context.Context<never>): Tracer.Span | undefined => {
  const parent = Option.getOrUndefined(Context.getOption(context, Tracer.ParentSpan))
  return parent !== undefined &&
    parent._tag === "Span" &&
    parent.attributes.get("gen_ai.operation.name") === "invoke_agent"
    ? parent
    : undefined
}

interface RunTotals {
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  cost?: number
}

const runTotals = new WeakMap<Tracer.Span, RunTotals>()

/**
 * Folds one request of a run into its `invoke_agent` span: provider and model (first request),
 * the last response's model, id and finish reasons, the run's token totals and cost, the
 * tool definitions, and (content) the run's input (first request) and output (last response).
 */
export const annotateAgent = (
  agent: Tracer.Span,
  model: Model.Service,
  messages: ReadonlyArray<ModelMessage>,
  parameters: Model.ModelRequestParameters,
  response: ModelResponse,
  options: Resolved
): void => {
  let totals = runTotals.get(agent)
  if (totals === undefined) {
    totals = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }
    runTotals.set(agent, totals)
    agent.attribute("gen_ai.provider.name", model.system)
    agent.attribute("gen_ai.request.model", model.modelName)
    if (options.includeContent) {
      agent.attribute("gen_ai.input.messages", inputMessages(messages, options.maxContentLength))
    }
  }
  const u = response.usage
  totals.inputTokens += u.inputTokens
  totals.outputTokens += u.outputTokens
  totals.cacheReadTokens += u.cacheReadTokens
  totals.cacheWriteTokens += u.cacheWriteTokens
  if (u.cost !== undefined) totals.cost = (totals.cost ?? 0) + u.cost
  if (response.modelName !== undefined) agent.attribute("gen_ai.response.model", response.modelName)
  if (response.providerResponseId !== undefined) {
    agent.attribute("gen_ai.response.id", response.providerResponseId)
  }
  if (response.finishReason !== undefined) {
    agent.attribute("gen_ai.response.finish_reasons", [response.finishReason])
  }
  usageAttributes(agent, totals)
  if (options.includeToolDefinitions) {
    const tools = toolDefinitions(parameters)
    if (tools !== undefined) agent.attribute("gen_ai.tool.definitions", tools)
  }
  if (options.includeContent) {
    const instructions = systemInstructions(messages, options.maxContentLength)
    if (instructions !== undefined) agent.attribute("gen_ai.system_instructions", instructions)
    agent.attribute("gen_ai.output.messages", outputMessages(response, options.maxContentLength))
  }
}

/** The telemetry options of a context. */
export const optionsOf = (context: Context.Context<never>): Resolved =>
  Context.get(context, CurrentTelemetry)

/** Tool spans whose result is recorded (content on when the span opened), with their cap. */
const contentToolSpans = new WeakMap<Tracer.Span, number>()

/**
 * Called when an `execute_tool` span opens: the tool type, and (content) the arguments.
 * `caller` is the context the call runs from (its telemetry options apply).
 */
export const toolSpanStarted = (
  span: Tracer.Span,
  call: ToolCallPart,
  caller: Context.Context<never>
): void => {
  span.attribute("gen_ai.tool.type", "function")
  const options = optionsOf(caller)
  if (options.includeContent) {
    contentToolSpans.set(span, options.maxContentLength)
    span.attribute("gen_ai.tool.call.arguments", cap(toJson(call.args), options.maxContentLength))
  }
}

/**
 * Called when an `execute_tool` span's body succeeds with the call's outcome: the result
 * (content), or `error.type` when the call is sent back to the model as a retry.
 */
export const toolSpanEnded = (span: Tracer.Span, outcome: unknown): void => {
  const tag = (outcome as { readonly _tag?: unknown })._tag
  if (tag === "RetryPromptPart") span.attribute("error.type", "ModelRetry")
  else if (tag === "ToolReturnPart") {
    const part = outcome as ToolReturnPart
    if (part.outcome !== "success") span.attribute("error.type", `tool_${part.outcome}`)
    const max = contentToolSpans.get(span)
    if (max !== undefined) span.attribute("gen_ai.tool.call.result", cap(toJson(part.content), max))
  }
}

// -- Metrics ------------------------------------------------------------------

/** The bucket boundaries the conventions give for `gen_ai.client.token.usage`. */
export const TOKEN_BUCKETS: ReadonlyArray<number> = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864
]
/** The bucket boundaries the conventions give for `gen_ai.client.operation.duration` (seconds). */
export const DURATION_BUCKETS: ReadonlyArray<number> = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92
]

/** `gen_ai.client.token.usage`: tokens per request, tagged by `gen_ai.token.type`. */
export const tokenUsage = Metric.histogram(
  "gen_ai.client.token.usage",
  MetricBoundaries.fromIterable(TOKEN_BUCKETS),
  "Number of input and output tokens used ({token})"
)

/** `gen_ai.client.operation.duration`: seconds per model request. */
export const operationDuration = Metric.histogram(
  "gen_ai.client.operation.duration",
  MetricBoundaries.fromIterable(DURATION_BUCKETS),
  "GenAI operation duration (s)"
)

/**
 * `gen_ai.client.operation.time_to_first_chunk`: seconds from sending a streamed request to its
 * first chunk (streamed requests only, as the conventions say).
 */
export const timeToFirstChunk = Metric.histogram(
  "gen_ai.client.operation.time_to_first_chunk",
  MetricBoundaries.fromIterable(DURATION_BUCKETS),
  "Time to receive the first chunk of a streamed response (s)"
)

/** Records a streamed request's time to its first chunk. */
export const recordFirstChunk = (model: Model.Service, seconds: number): Effect.Effect<void> =>
  Metric.update(
    Metric.taggedWithLabels(timeToFirstChunk, [
      MetricLabel.make("gen_ai.operation.name", "chat"),
      MetricLabel.make("gen_ai.provider.name", model.system),
      MetricLabel.make("gen_ai.request.model", model.modelName)
    ]),
    seconds
  )

/**
 * Records one model request's metrics: its duration (with `error.type` when it failed) and,
 * on success, its input and output tokens.
 */
export const recordRequest = (
  model: Model.Service,
  seconds: number,
  response: ModelResponse | undefined,
  errorType: string | undefined
): Effect.Effect<void> => {
  const labels = [
    MetricLabel.make("gen_ai.operation.name", "chat"),
    MetricLabel.make("gen_ai.provider.name", model.system),
    MetricLabel.make("gen_ai.request.model", model.modelName)
  ]
  if (response?.modelName !== undefined) {
    labels.push(MetricLabel.make("gen_ai.response.model", response.modelName))
  }
  if (errorType !== undefined) labels.push(MetricLabel.make("error.type", errorType))
  const duration = Metric.update(Metric.taggedWithLabels(operationDuration, labels), seconds)
  if (response === undefined) return duration
  return Effect.zipRight(
    duration,
    Effect.zipRight(
      Metric.update(
        Metric.taggedWithLabels(tokenUsage, [
          ...labels,
          MetricLabel.make("gen_ai.token.type", "input")
        ]),
        response.usage.inputTokens
      ),
      Metric.update(
        Metric.taggedWithLabels(tokenUsage, [
          ...labels,
          MetricLabel.make("gen_ai.token.type", "output")
        ]),
        response.usage.outputTokens
      )
    )
  )
}
