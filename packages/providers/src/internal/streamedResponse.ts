/**
 * The bridge from a streamed body to a `Model.StreamedResponse`: bytes → frames (SSE or the
 * AWS event stream) → the provider's stream handler (its `StreamDecoder` under the
 * malformed-event policy, see `streamDecoder.ts`) → the parts manager → part events, all in
 * ONE channel, a whole network read per step.
 *
 * Hot path: over a `BodyReader` (undici), one `Effect.async` per wake-up delivers every read
 * buffered so far; they are framed, decoded and turned into part events in plain code and
 * written as one `Chunk`. No channel stage between the body and the part events.
 *
 * @internal
 */
import { AgentError, Messages, type Model, PartsManager } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Redact from "./redact.js"
import { readerChannel, type SseEvent } from "./sse.js"
import type { StreamBody } from "./streamBody.js"
import type { SkipLog, StreamHandler } from "./streamDecoder.js"

/** Attaches the partial response to errors that can carry one. */
const withPartial = (
  error: AgentError.ModelError,
  partial: Messages.ModelResponse
): AgentError.ModelError => {
  if (error._tag === "ModelAPIError" && error.partialResponse === undefined) {
    return new AgentError.ModelAPIError({ ...error, partialResponse: partial }, true)
  }
  if (error._tag === "UnexpectedModelBehavior" && error.partialResponse === undefined) {
    return new AgentError.UnexpectedModelBehavior({ ...error, partialResponse: partial }, true)
  }
  return error
}

/**
 * Builds a `Model.StreamedResponse` from a streamed body. `handler` (built once, with the
 * stream's `SkipLog`) turns each framed event into part events pushed into `out`, and may
 * return an error (a provider `error` event, too many malformed events) that fails the stream
 * keeping the partial response; its `onEnd` may return an error (the stream ended before its
 * terminal event). Skipped events are logged once per network read (unknown ones at debug
 * level, malformed ones at warning level). The stream ends with `PartEndEvent`s for open parts
 * and a `ResponseCompleteEvent`.
 */
export const streamedResponse = (options: {
  readonly modelName: string
  readonly providerName: string
  readonly body: StreamBody
  readonly handler: (log: SkipLog) => StreamHandler
}): Model.StreamedResponse => {
  const manager = PartsManager.make()
  let final: Messages.ModelResponse | undefined
  const snapshot = (): Messages.ModelResponse =>
    final ??
    manager.response({
      modelName: manager.info.modelName ?? options.modelName,
      providerName: manager.info.providerName ?? options.providerName,
      state: "incomplete"
    })

  type Out = Messages.ModelResponseStreamEvent
  let skipped: Array<string> = []
  let malformed: Array<string> = []
  const { onEvent, onEnd } = options.handler({
    skip: (reason) => {
      skipped.push(reason)
    },
    malformed: (reason) => {
      malformed.push(reason)
    }
  })
  const body = options.body
  const frames = body.makeDecoder()
  type Loop = Channel.Channel<
    Chunk.Chunk<Out>,
    Chunk.Chunk<any>,
    AgentError.ModelError,
    unknown,
    unknown,
    unknown
  >
  /** An error made of an event (it may quote the provider's answer): partial kept, key redacted. */
  const eventError = (error: AgentError.ModelError): AgentError.ModelError =>
    withPartial(Redact.redactError(error, body.secrets()), snapshot())
  const handle = (out: Array<Out>, error: AgentError.ModelError | undefined, next: Loop): Loop => {
    if (error !== undefined) {
      const failed = Channel.fail(eventError(error))
      return out.length === 0
        ? failed
        : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), failed)
    }
    return out.length === 0
      ? next
      : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
  }
  /** The log lines of the events skipped since the last read (rare: off the hot path). */
  const logSkipped = (): Effect.Effect<void> => {
    const debug = skipped
    const warn = malformed
    skipped = []
    malformed = []
    return Effect.zipRight(
      debug.length === 0
        ? Effect.void
        : Effect.logDebug(`${options.providerName}: skipped stream events`, ...debug),
      warn.length === 0
        ? Effect.void
        : Effect.logWarning(`${options.providerName}: malformed stream events`, ...warn)
    )
  }
  /** Runs `onEvent` over the events of one read; logs skipped events once per read. */
  const handleEvents = (events: Array<SseEvent>, next: Loop): Loop => {
    const out: Array<Out> = []
    let error: AgentError.ModelError | undefined
    for (let i = 0; i < events.length; i++) {
      error = onEvent(events[i]!, manager, out)
      if (error !== undefined) break
    }
    if (skipped.length > 0 || malformed.length > 0)
      return Channel.zipRight(Channel.fromEffect(logSkipped()), handle(out, error, next))
    return handle(out, error, next)
  }
  const done: Loop = Channel.suspend(() => {
    const error = onEnd(manager)
    if (error !== undefined) return Channel.fail(eventError(error))
    const out: Array<Out> = manager.finish()
    final = manager.response({
      modelName: manager.info.modelName ?? options.modelName,
      providerName: manager.info.providerName ?? options.providerName,
      state: "complete"
    })
    out.push(new Messages.ResponseCompleteEvent({ response: final }, true))
    return Channel.write(Chunk.unsafeFromArray(out))
  })
  const loop: Loop = Channel.readWithCause({
    onInput: (input: Chunk.Chunk<any>) => handleEvents(frames.feed(input), loop),
    onFailure: (cause: Cause.Cause<unknown>) => Channel.failCause(Cause.map(cause, failWith)),
    onDone: () => Channel.suspend(() => handleEvents(frames.end(), done))
  })
  const failWith = (e: unknown): AgentError.ModelError => withPartial(body.mapError(e), snapshot())
  const source = body.source
  const channel: Channel.Channel<Chunk.Chunk<Out>, unknown, AgentError.ModelError> = source._tag ===
  "Reader"
    ? // body → frames → part events in one channel (which never reads its input: the cast).
      (readerChannel<Out, AgentError.ModelError, Chunk.Chunk<any>>(
        source.reader.pull(failWith),
        source.reader.close,
        (reads, next) => handleEvents(frames.feed(reads), next),
        () => Channel.suspend(() => handleEvents(frames.end(), done))
      ) as Channel.Channel<Chunk.Chunk<Out>, unknown, AgentError.ModelError>)
    : Channel.pipeTo(Stream.toChannel(source.bytes), loop)

  return {
    modelName: options.modelName,
    events: Stream.fromChannel(channel) as Stream.Stream<
      Messages.ModelResponseStreamEvent,
      AgentError.ModelError
    >,
    response: Effect.sync(snapshot)
  }
}
