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
import { makeModelResponse, makeResponseCompleteEvent } from "./wire.js"

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
  /**
   * Fills the parts manager before the first event (a stream continuing a response already
   * partly received); the part events it returns go out first.
   */
  readonly seed?:
    | ((manager: PartsManager.PartsManager) => Array<Messages.ModelResponseStreamEvent>)
    | undefined
}): Model.StreamedResponse => {
  const manager = PartsManager.make()
  // The seeded part events, sent with the first read's (one check per read).
  let pending: Array<Messages.ModelResponseStreamEvent> | undefined = options.seed?.(manager)
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
  // The body being read and its framing: a resumable response moves on to the next body.
  let body = options.body
  let frames = body.makeDecoder()
  body.resumable?.attach(manager)
  type Loop = Channel.Channel<
    Chunk.Chunk<Out>,
    Chunk.Chunk<any>,
    AgentError.ModelError,
    unknown,
    unknown,
    unknown
  >
  /**
   * An error made of an event (it may quote the provider's answer): partial kept (named after
   * the model and provider when the decoder's own partial is not), key redacted.
   */
  const eventError = (error: AgentError.ModelError): AgentError.ModelError =>
    named(withPartial(Redact.redactError(error, body.secrets()), snapshot()))
  const named = (error: AgentError.ModelError): AgentError.ModelError => {
    if (error._tag !== "ModelAPIError" && error._tag !== "UnexpectedModelBehavior") return error
    const p = error.partialResponse
    if (p === undefined || (p.providerName !== undefined && p.modelName !== undefined)) return error
    const partialResponse = makeModelResponse({
      ...p,
      modelName: p.modelName ?? manager.info.modelName ?? options.modelName,
      providerName: p.providerName ?? manager.info.providerName ?? options.providerName
    })
    return error._tag === "ModelAPIError"
      ? new AgentError.ModelAPIError({ ...error, partialResponse }, true)
      : new AgentError.UnexpectedModelBehavior({ ...error, partialResponse }, true)
  }
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
    if (pending !== undefined) {
      for (const e of pending) out.push(e)
      pending = undefined
    }
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
    out.push(makeResponseCompleteEvent({ response: final }))
    body.resumable?.ended()
    return undefined
  }
  // A read of the body broke (set by `failWith`): only such errors resume, not decoded ones.
  let broken = false
  /**
   * The body going on with a resumable response after `error` (the body ended or broke before
   * the terminal event), or `undefined`: not resumable, or a total timeout (which is final).
   */
  const resumeAfter = (
    error: AgentError.ModelError
  ): Effect.Effect<StreamBody, AgentError.ModelError> | undefined => {
    const resumable = body.resumable
    if (resumable === undefined) return undefined
    if (error._tag === "ModelAPIError" && error.timeoutKind === "total") return undefined
    const next = resumable.resume(manager)
    // Opening the next body failed: that error, with the response so far.
    return next === undefined ? undefined : Effect.mapError(next, eventError)
  }
  const switchTo = (next: StreamBody): void => {
    body = next
    frames = next.makeDecoder()
  }
  /** Runs `onEvent` over the events of one read; logs skipped events once per read. */
  const handleEvents = (events: Array<SseEvent>, next: Loop): Loop => {
    const out: Array<Out> = []
    const error = decode(events, out)
    if (skipped.length > 0 || malformed.length > 0)
      return Channel.zipRight(Channel.fromEffect(logSkipped()), handle(out, error, next))
    return handle(out, error, next)
  }
  /**
   * The end of a body: the response's end, or its cut — the stream's error, or (a resumable
   * body) the done value, so the next body is opened after this one is closed.
   */
  const done: Loop = Channel.suspend(() => {
    const out: Array<Out> = []
    const error = complete(out)
    if (error !== undefined)
      return body.resumable !== undefined ? Channel.succeed(error) : Channel.fail(eventError(error))
    return Channel.write(Chunk.unsafeFromArray(out))
  })
  const loop: Loop = Channel.readWithCause({
    onInput: (input: Chunk.Chunk<any>) => handleEvents(frames.feed(input), loop),
    onFailure: (cause: Cause.Cause<unknown>) => Channel.failCause(Cause.map(cause, failWith)),
    onDone: () => Channel.suspend(() => handleEvents(frames.end(), done))
  })
  const failWith = (e: unknown): AgentError.ModelError => {
    broken = true
    return withPartial(body.mapError(e), snapshot())
  }
  type Out0 = Channel.Channel<
    Chunk.Chunk<Out>,
    unknown,
    AgentError.ModelError,
    unknown,
    unknown,
    unknown
  >
  /** body → frames → part events in one channel (which never reads its input: the casts). */
  const bodyChannel = (): Out0 => {
    const source = body.source
    const read: Out0 =
      source._tag === "Reader"
        ? (readerChannel<Out, AgentError.ModelError, Chunk.Chunk<any>>(
            source.reader.pull(failWith),
            source.reader.close,
            (reads, next) => handleEvents(frames.feed(reads), next),
            () => Channel.suspend(() => handleEvents(frames.end(), done))
          ) as Out0)
        : (Channel.pipeTo(Stream.toChannel(source.bytes), loop) as Out0)
    if (body.resumable === undefined) return read
    // A resumable response: a cut (the done value) or a broken read opens the next body.
    const next = (error: AgentError.ModelError): Out0 => {
      const resumed = resumeAfter(error)
      if (resumed === undefined) return Channel.fail(eventError(error))
      return Channel.flatMap(Channel.fromEffect(resumed), (b) => {
        switchTo(b)
        return bodyChannel()
      })
    }
    return Channel.flatMap(
      Channel.catchAll(read, (error) => {
        if (!broken) return Channel.fail(error)
        broken = false
        return next(error)
      }),
      (cut): Out0 => (cut === undefined ? Channel.void : next(cut as AgentError.ModelError))
    ) as Out0
  }
  const channel: Out0 = bodyChannel()

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
    const resumable = body.resumable !== undefined
    // A resumable body's cut ends its loop with the cut (`final` unset) for `resumeAfter`.
    let cut: AgentError.ModelError | undefined
    const step = (
      reads: Array<Uint8Array> | undefined
    ): Effect.Effect<Messages.ModelResponse | undefined, AgentError.ModelError> => {
      const out: Array<Out> = []
      let error = decode(reads === undefined ? frames.end() : frames.feed(reads), out)
      let ended = false
      if (reads === undefined && error === undefined) {
        error = complete(out)
        ended = error !== undefined
      }
      if (out.length > 0) onEvents(out)
      if (ended && resumable) cut = error
      const next: Effect.Effect<Messages.ModelResponse | undefined, AgentError.ModelError> =
        cut !== undefined
          ? Effect.succeed(undefined)
          : error !== undefined
            ? Effect.fail(eventError(error))
            : reads === undefined
              ? Effect.succeed(final!)
              : loop
      return skipped.length > 0 || malformed.length > 0 ? Effect.zipRight(logSkipped(), next) : next
    }
    const loop: Effect.Effect<Messages.ModelResponse | undefined, AgentError.ModelError> =
      Effect.flatMap(pull, step)
    const read = Effect.ensuring(loop, reader.close)
    if (!resumable) return read as Effect.Effect<Messages.ModelResponse, AgentError.ModelError>
    // A resumable response: a cut or a broken read goes on with the next body.
    const next = (
      error: AgentError.ModelError
    ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> => {
      const resumed = resumeAfter(error)
      if (resumed === undefined) return Effect.fail(eventError(error))
      return Effect.flatMap(resumed, (b) => {
        switchTo(b)
        return b.source._tag === "Reader"
          ? pushReader(b.source.reader, onEvents)
          : pushBytes(onEvents)
      })
    }
    return Effect.flatMap(
      Effect.catchAll(read, (error) => {
        if (!broken) return Effect.fail(error)
        broken = false
        return next(error)
      }),
      (response) => (response !== undefined ? Effect.succeed(response) : next(cut!))
    )
  }
  /** Any other client's bytes: through the channel (the same events), one call per chunk. */
  const pushBytes = (
    onEvents: Model.StreamEventsCallback
  ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =>
    Effect.zipRight(
      Stream.runForEachChunk(Stream.fromChannel(bodyChannel()) as typeof events, (chunk) =>
        Effect.sync(() => onEvents(Chunk.toReadonlyArray(chunk)))
      ),
      Effect.sync(snapshot)
    )
  let used = false
  const push = (
    onEvents: Model.StreamEventsCallback
  ): Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =>
    Effect.suspend(() => {
      if (used) return Effect.dieMessage("StreamedResponse.push: the events were read already")
      used = true
      const source = body.source
      return source._tag === "Reader" ? pushReader(source.reader, onEvents) : pushBytes(onEvents)
    })

  return {
    modelName: options.modelName,
    events,
    response: Effect.sync(snapshot),
    push
  }
}
