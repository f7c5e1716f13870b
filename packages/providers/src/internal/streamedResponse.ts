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
 * The same response can instead be read with `push` (`Model.StreamedResponse.push`): the same
 * per-read decoding (`decode` / `complete`) driven by a plain Effect loop over the reader's
 * pull, each read's events handed to a callback — no channel at all.
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
import type { BodyReader } from "./bodyReader.js"
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
  /** Runs `onEvent` over the events of one read into `out`; the error that ends the stream, if any. */
  const decode = (events: Array<SseEvent>, out: Array<Out>): AgentError.ModelError | undefined => {
    for (let i = 0; i < events.length; i++) {
      const error = onEvent(events[i]!, manager, out)
      if (error !== undefined) return error
    }
    return undefined
  }
  /**
   * The end of the stream: the decoder's end check, else the `PartEndEvent`s of open parts and
   * the `ResponseCompleteEvent` into `out` (the final response is then set).
   */
  const complete = (out: Array<Out>): AgentError.ModelError | undefined => {
    const error = onEnd(manager)
    if (error !== undefined) return error
    for (const e of manager.finish()) out.push(e)
    final = manager.response({
      modelName: manager.info.modelName ?? options.modelName,
      providerName: manager.info.providerName ?? options.providerName,
      state: "complete"
    })
    out.push(new Messages.ResponseCompleteEvent({ response: final }, true))
    return undefined
  }
  /** Runs `onEvent` over the events of one read; logs skipped events once per read. */
  const handleEvents = (events: Array<SseEvent>, next: Loop): Loop => {
    const out: Array<Out> = []
    const error = decode(events, out)
    if (skipped.length > 0 || malformed.length > 0)
      return Channel.zipRight(Channel.fromEffect(logSkipped()), handle(out, error, next))
    return handle(out, error, next)
  }
  const done: Loop = Channel.suspend(() => {
    const out: Array<Out> = []
    const error = complete(out)
    if (error !== undefined) return Channel.fail(eventError(error))
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

  const events = Stream.fromChannel(channel) as Stream.Stream<
    Messages.ModelResponseStreamEvent,
    AgentError.ModelError
  >

  /**
   * `push` over undici's body: one `Effect.async` resume per wake-up (the reader's pull), the
   * reads framed and decoded in plain code and handed to `onEvents` — no channel, no `Stream`.
   * The same decoding, errors (mapped where they are made) and end as the channel above.
   */
  const pushReader = (
    reader: BodyReader,
    onEvents: Model.StreamEventsCallback
  ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> => {
    const pull = reader.pull(failWith)
    const step = (
      reads: Array<Uint8Array> | undefined
    ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> => {
      const out: Array<Out> = []
      let error = decode(reads === undefined ? frames.end() : frames.feed(reads), out)
      if (reads === undefined && error === undefined) error = complete(out)
      if (out.length > 0) onEvents(out)
      const next: Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =
        error !== undefined
          ? Effect.fail(eventError(error))
          : reads === undefined
            ? Effect.succeed(final!)
            : loop
      return skipped.length > 0 || malformed.length > 0 ? Effect.zipRight(logSkipped(), next) : next
    }
    const loop = Effect.flatMap(pull, step)
    return Effect.ensuring(loop, reader.close)
  }
  let used = false
  const push = (
    onEvents: Model.StreamEventsCallback
  ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =>
    Effect.suspend(() => {
      if (used) return Effect.dieMessage("StreamedResponse.push: the events were read already")
      used = true
      return source._tag === "Reader"
        ? pushReader(source.reader, onEvents)
        : // Any other client's bytes: through the channel (the same events), one call per chunk.
          Effect.zipRight(
            Stream.runForEachChunk(events, (chunk) =>
              Effect.sync(() => onEvents(Chunk.toReadonlyArray(chunk)))
            ),
            Effect.sync(snapshot)
          )
    })

  return {
    modelName: options.modelName,
    events,
    response: Effect.sync(snapshot),
    push
  }
}
