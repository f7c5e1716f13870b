/**
 * Small helpers the pure wire conversions of every provider share: a complete `ModelResponse`
 * from decoded fields, usage with cache counts, cache settings, part constructors and the
 * error of a provider's in-stream error event. (The stream decoder shape and its policy are
 * in `streamDecoder.ts`.)
 *
 * @internal
 */
import {
  AgentError,
  BuiltinTool,
  Messages,
  type Model,
  type PartsManager,
  Usage
} from "@agentfx/core"

/** Where a stream decoder pushes the part events of one network read. */
export type { Out } from "./streamDecoder.js"
import type { Out } from "./streamDecoder.js"

// The makers of the message classes the decoders build (`Messages.unvalidated`: no Schema
// constructor work per message), shared by every provider's wire module.
export const makeBuiltinToolCallPart = Messages.unvalidated(Messages.BuiltinToolCallPart)
export const makeBuiltinToolReturnPart = Messages.unvalidated(Messages.BuiltinToolReturnPart)
export const makeFilePart = Messages.unvalidated(Messages.FilePart)
export const makeModelResponse = Messages.unvalidated(Messages.ModelResponse)
export const makeRequestUsage = Messages.unvalidated(Usage.RequestUsage)
export const makeResponseCompleteEvent = Messages.unvalidated(Messages.ResponseCompleteEvent)
export const makeTextPart = Messages.unvalidated(Messages.TextPart)
export const makeThinkingPart = Messages.unvalidated(Messages.ThinkingPart)
export const makeToolCallPart = Messages.unvalidated(Messages.ToolCallPart)

/** Pushes a part event when the parts manager produced one. */
export const push = (out: Out, e: Messages.ModelResponseStreamEvent | undefined): void => {
  if (e !== undefined) out.push(e)
}

/** A prompt-cache option: `true` (5 minutes), `"5m"`, `"1h"`, or `false` / absent for none. */
export type CacheSetting = boolean | "5m" | "1h"

/** The lifetime a set `CacheSetting` asks for. */
export const cacheTtl = (s: CacheSetting): "5m" | "1h" => (s === "1h" ? "1h" : "5m")

/**
 * The `cache_control` of a cache breakpoint (Anthropic's, which OpenRouter passes on); `ttl` is
 * left out for servers that reject it (Gemini models on OpenRouter).
 */
export const cacheControl = (
  ttl: "5m" | "1h" = "5m",
  withTtl = true
): { readonly type: "ephemeral"; readonly ttl?: "5m" | "1h" } =>
  withTtl ? { type: "ephemeral", ttl } : { type: "ephemeral" }

/** Whether a `CacheSetting` asks for caching. */
export const isCaching = (s: CacheSetting | undefined): s is true | "5m" | "1h" =>
  s !== undefined && s !== false

/**
 * Usage of a provider that reports uncached input, cache reads and cache writes apart
 * (Anthropic, Bedrock): `inputTokens` counts all three, as pydantic-ai sums them.
 */
export const cachedUsage = (
  uncachedInput: number,
  output: number,
  cacheRead: number,
  cacheWrite: number
): Usage.RequestUsage =>
  makeRequestUsage({
    inputTokens: uncachedInput + cacheRead + cacheWrite,
    outputTokens: output,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    details: {}
  })

/** A string, or `undefined` for anything else. */
export const str = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)

/** The fields of a complete response, as decoded from a provider's body. */
export interface ResponseFields {
  readonly parts: ReadonlyArray<Messages.ModelResponsePart>
  readonly usage: Usage.RequestUsage
  readonly modelName: string
  readonly providerName: string
  readonly providerResponseId: string | undefined
  readonly finishReason: Messages.FinishReason | undefined
  readonly providerFinishReason: string | undefined
  /** When the provider did not say, the time of decoding. */
  readonly timestamp: Date | undefined
  /** Provider-specific facts about the whole response (left out when absent or empty). */
  readonly providerDetails?: Messages.ProviderDetails | undefined
}

/** A complete `ModelResponse` (constructed without validation: the decoder built every part). */
export const completeResponse = (f: ResponseFields): Messages.ModelResponse =>
  makeModelResponse({
    parts: f.parts,
    usage: f.usage,
    modelName: f.modelName,
    providerName: f.providerName,
    ...(f.providerResponseId !== undefined ? { providerResponseId: f.providerResponseId } : {}),
    ...(f.finishReason !== undefined ? { finishReason: f.finishReason } : {}),
    ...(f.providerFinishReason !== undefined
      ? { providerFinishReason: f.providerFinishReason }
      : {}),
    timestamp: f.timestamp ?? new Date(),
    state: "complete",
    ...(f.providerDetails !== undefined && Object.keys(f.providerDetails).length > 0
      ? { providerDetails: f.providerDetails }
      : {})
  })

/** The failure of a provider's error event, carrying the response so far and the event's error. */
export const streamError = (
  modelName: string,
  manager: PartsManager.PartsManager,
  reason: string,
  cause: unknown,
  partialResponse: Messages.ModelResponse = manager.response()
): AgentError.ModelAPIError =>
  new AgentError.ModelAPIError({ modelName, reason, partialResponse, cause })

/** A text part built by a decoder (constructed without validation, like every decoded part). */
export const textPart = (
  fields: ConstructorParameters<typeof Messages.TextPart>[0]
): Messages.TextPart => makeTextPart(fields)

/** A thinking part built by a decoder. */
export const thinkingPart = (
  fields: ConstructorParameters<typeof Messages.ThinkingPart>[0]
): Messages.ThinkingPart => makeThinkingPart(fields)

/** A tool-call part built by a decoder. */
export const toolCallPart = (
  fields: ConstructorParameters<typeof Messages.ToolCallPart>[0]
): Messages.ToolCallPart => makeToolCallPart(fields)

/** A built-in tool call part built by a decoder. */
export const builtinCallPart = (
  fields: ConstructorParameters<typeof Messages.BuiltinToolCallPart>[0]
): Messages.BuiltinToolCallPart => makeBuiltinToolCallPart(fields)

/** A built-in tool return part built by a decoder. */
export const builtinReturnPart = (
  fields: ConstructorParameters<typeof Messages.BuiltinToolReturnPart>[0]
): Messages.BuiltinToolReturnPart => makeBuiltinToolReturnPart(fields)

/** Usage with provider-reported counters (built-in tool requests…) in `details`; zeros are left out. */
export const withDetails = (
  usage: Usage.RequestUsage,
  counters: Readonly<Record<string, unknown>> | null | undefined
): Usage.RequestUsage => {
  if (counters === null || counters === undefined) return usage
  const details: Record<string, number> = { ...usage.details }
  let any = false
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v === "number" && v !== 0) {
      details[k] = v
      any = true
    }
  }
  return any ? makeRequestUsage.copy(usage, { details }) : usage
}

/** The `UserError` of a provider without built-in tools, when a request asks for one. */
export const noBuiltinTools = (
  provider: string,
  parameters: Model.ModelRequestParameters
): AgentError.UserError | undefined =>
  parameters.builtinTools.length === 0
    ? undefined
    : BuiltinTool.unsupported(provider, parameters.builtinTools[0]!)

/**
 * The `UserError` for an uploaded file (found by `scanHistory`) that does not belong to one of
 * the `accepted` providers (none: the model takes no uploaded files).
 */
export const uploadedFileError = (
  wrong: Messages.UploadedFile,
  modelName: string,
  accepted: ReadonlyArray<string>
): AgentError.UserError => {
  return new AgentError.UserError({
    reason:
      accepted.length === 0
        ? `${modelName} does not take uploaded files (UploadedFile ${wrong.fileId} of provider "${wrong.providerName}")`
        : `UploadedFile ${wrong.fileId} belongs to provider "${wrong.providerName}"; ${modelName} only takes files uploaded to ${accepted.map((a) => `"${a}"`).join(" or ")}`
  })
}
