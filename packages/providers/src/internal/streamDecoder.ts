/**
 * The one shape of a provider's stream decoder (framed events → part events), and the one
 * policy for what is not a decodable event, decided here for every provider:
 *
 * - `[DONE]` is the end marker of OpenAI-style streams: passed to the decoder's `done`.
 * - A payload that is not a JSON object is malformed: skipped and logged at warning level (the
 *   event type and size only, never the payload); after `malformedEventLimit` of them
 *   (`ModelSettings`, default `ModelSettings.defaultMalformedEventLimit` = 3) the next one fails
 *   the stream with an `UnexpectedModelBehavior` that keeps the partial response. Never silent.
 * - An event the decoder does not know is the decoder's to skip (`ctx.skip`, logged at debug).
 * - An error object sent inside the stream is the decoder's to return as a typed error.
 *
 * Hot path: `onEvent` runs once per event, plain code; one `JSON.parse` per event.
 *
 * @internal
 */
import { AgentError, type Messages, ModelSettings, type PartsManager } from "@agentfx/core"
import type { SseEvent } from "./sse.js"

/** Where a decoder pushes the part events of one network read. */
export type Out = Array<Messages.ModelResponseStreamEvent>

/** What a decoder gets besides the parsed payload (one object per stream, updated per event). */
export interface DecodeContext {
  readonly modelName: string
  /** The framed event (its `event` type, raw `data`). */
  event: SseEvent
  /** Reports an event the decoder does not know (logged at debug level once per read). */
  readonly skip: (reason: string) => void
}

/** A provider's stream decoder: per-stream state, one JSON event at a time, then an end check. */
export interface StreamDecoder<S> {
  readonly makeState: () => S
  /**
   * Sees an event before its payload is parsed (optional): an error fails the stream, `true`
   * consumes the event (its payload is not parsed). For framings whose events may carry a
   * non-JSON payload by design (Bedrock's exception frames).
   */
  readonly preview?: (
    event: SseEvent,
    state: S,
    manager: PartsManager.PartsManager,
    modelName: string
  ) => AgentError.ModelError | true | undefined
  /** `[DONE]` arrived (OpenAI-style end marker); skipped when absent. */
  readonly done?: (state: S) => void
  /** One event whose payload is a JSON object; may return an error (an in-stream error object). */
  readonly handleEvent: (
    data: Record<string, any>,
    state: S,
    manager: PartsManager.PartsManager,
    out: Out,
    modelName: string,
    ctx: DecodeContext
  ) => AgentError.ModelError | undefined
  /** At the end of the stream: an error when it was cut (no terminal event), else `undefined`. */
  readonly end: (
    state: S,
    manager: PartsManager.PartsManager,
    modelName: string
  ) => AgentError.ModelError | undefined
}

/** What `streamedResponse` runs per event and at the end of the stream. */
export interface StreamHandler {
  readonly onEvent: (
    event: SseEvent,
    manager: PartsManager.PartsManager,
    out: Out
  ) => AgentError.ModelError | undefined
  readonly onEnd: (manager: PartsManager.PartsManager) => AgentError.ModelError | undefined
}

/** Where the policy reports what it skipped (collected per network read, logged once). */
export interface SkipLog {
  /** An unknown event (debug level). */
  readonly skip: (reason: string) => void
  /** A malformed event (warning level). */
  readonly malformed: (reason: string) => void
}

/** The JSON object of a payload, or `undefined` when it is not one. */
const parseObject = (data: string): Record<string, any> | undefined => {
  const c = data.charCodeAt(0)
  // `{` after optional whitespace: anything else cannot be an object (no exception thrown).
  if (c !== 123 && c !== 32 && c !== 10 && c !== 13 && c !== 9) return undefined
  try {
    const v = JSON.parse(data)
    return v !== null && typeof v === "object" && !Array.isArray(v) ? v : undefined
  } catch {
    return undefined
  }
}

/**
 * The handler of one stream: `decoder` with fresh state under the malformed-event policy
 * (`limit`: malformed events skipped before the stream fails).
 */
export const handler = <S>(
  decoder: StreamDecoder<S>,
  modelName: string,
  limit: number,
  log: SkipLog
): StreamHandler => {
  const state = decoder.makeState()
  let malformed = 0
  const ctx: DecodeContext = {
    modelName,
    event: { event: undefined, data: "", id: undefined },
    skip: log.skip
  }
  const { preview, done, handleEvent } = decoder
  return {
    onEvent: (event, manager, out) => {
      if (preview !== undefined) {
        const r = preview(event, state, manager, modelName)
        if (r === true) return undefined
        if (r !== undefined) return r
      }
      const text = event.data
      if (text === "[DONE]") {
        done?.(state)
        return undefined
      }
      const data = parseObject(text)
      if (data === undefined) {
        malformed++
        const what = `${event.event === undefined ? "event" : `event ${event.event}`} (${text.length} chars)`
        if (malformed > limit)
          return new AgentError.UnexpectedModelBehavior({
            reason:
              `${malformed} malformed stream events (payload not a JSON object), more than ` +
              `malformedEventLimit (${limit}); the last: ${what}`
          })
        log.malformed(`skipped a malformed stream ${what}, ${malformed} of at most ${limit}`)
        return undefined
      }
      ctx.event = event
      return handleEvent(data, state, manager, out, modelName, ctx)
    },
    onEnd: (manager) => decoder.end(state, manager, modelName)
  }
}

/** The malformed-event limit of merged settings. */
export const malformedEventLimitOf = (settings: ModelSettings.ModelSettings): number =>
  settings.malformedEventLimit ?? ModelSettings.defaultMalformedEventLimit

/** The `ModelAPIError` of a stream cut before its terminal event, keeping the response so far. */
export const cutError = (
  modelName: string,
  manager: PartsManager.PartsManager,
  reason: string
): AgentError.ModelAPIError =>
  new AgentError.ModelAPIError({ modelName, reason, partialResponse: manager.response() })
