/**
 * Small helpers the pure wire conversions of every provider share: a complete `ModelResponse`
 * from decoded fields, the JSON parse of an SSE `data:` payload, and the stream handler of the
 * providers whose decoders keep their own per-stream state (Anthropic, OpenAI Responses).
 *
 * Hot path notes: `parseEventData` and the `onEvent` built by `statefulStreamHandler` run once
 * per SSE event: plain code, no allocation beyond the parsed JSON.
 *
 * @internal
 */
import { AgentError, Messages, type PartsManager, Usage } from "@agentfx/core"
import type * as Http from "./http.js"

/** Where a stream handler pushes the part events of one network read. */
export type Out = Array<Messages.ModelResponseStreamEvent>

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
  new Usage.RequestUsage(
    {
      inputTokens: uncachedInput + cacheRead + cacheWrite,
      outputTokens: output,
      cacheReadTokens: cacheRead,
      cacheWriteTokens: cacheWrite,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      details: {}
    },
    true
  )

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
}

/** A complete `ModelResponse` (constructed without validation: the decoder built every part). */
export const completeResponse = (f: ResponseFields): Messages.ModelResponse =>
  new Messages.ModelResponse(
    {
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
      state: "complete"
    },
    true
  )

/** The JSON object of an SSE `data:` payload; `undefined` for `[DONE]`, non-JSON and non-objects. */
export const parseEventData = (data: string): Record<string, unknown> | undefined => {
  if (data === "[DONE]") return undefined
  try {
    const v = JSON.parse(data)
    return v !== null && typeof v === "object" ? v : undefined
  } catch {
    return undefined
  }
}

/** What `Http.streamedResponse` calls per event and at the end of the stream. */
export type StreamHandler = Pick<Parameters<typeof Http.streamedResponse>[0], "onEvent" | "onEnd">

/** A stream decoder that keeps its own state: one event at a time, then an end check. */
export interface StatefulDecoder<S> {
  readonly makeState: () => S
  readonly handleEvent: (
    data: Record<string, any>,
    state: S,
    manager: PartsManager.PartsManager,
    out: Out,
    modelName: string
  ) => AgentError.ModelError | undefined
  /** Whether the stream saw its terminal event; a stream that ends without it was cut. */
  readonly ended: (state: S) => boolean
  /** The `ModelAPIError` reason of a cut stream. */
  readonly cutReason: string
}

/**
 * The stream handler of a stateful decoder, with fresh state: JSON events go to `handleEvent`,
 * other events (`[DONE]`, keep-alives, bad JSON) are skipped.
 */
export const statefulStreamHandler = <S>(
  decoder: StatefulDecoder<S>,
  modelName: string
): StreamHandler => {
  const state = decoder.makeState()
  return {
    onEvent: (event, manager, out) => {
      const data = parseEventData(event.data)
      return data === undefined
        ? undefined
        : decoder.handleEvent(data, state, manager, out, modelName)
    },
    onEnd: (manager) =>
      decoder.ended(state)
        ? undefined
        : new AgentError.ModelAPIError({
            modelName,
            reason: decoder.cutReason,
            partialResponse: manager.response()
          })
  }
}

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
): Messages.TextPart => new Messages.TextPart(fields, true)

/** A thinking part built by a decoder. */
export const thinkingPart = (
  fields: ConstructorParameters<typeof Messages.ThinkingPart>[0]
): Messages.ThinkingPart => new Messages.ThinkingPart(fields, true)

/** A tool-call part built by a decoder. */
export const toolCallPart = (
  fields: ConstructorParameters<typeof Messages.ToolCallPart>[0]
): Messages.ToolCallPart => new Messages.ToolCallPart(fields, true)
