/**
 * The framing of streamed bodies: Server-Sent Events decoded a network read at a time (a fast
 * split of plain events, `eventsource-parser` for everything else), the `FrameDecoder` shape
 * other framings share (Bedrock's binary event stream), and `parseSse` over a byte stream.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import type * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { createParser, type EventSourceMessage, type EventSourceParser } from "eventsource-parser"

/** One Server-Sent Event. */
export interface SseEvent {
  readonly event: string | undefined
  readonly data: string
  readonly id: string | undefined
}

/**
 * Incremental framing of a streamed body: bytes in, complete events out. SSE's (`makeSseDecoder`)
 * and the AWS event stream's (Bedrock) have this shape.
 */
export interface FrameDecoder {
  /** The events completed by these reads. */
  readonly feed: (reads: Iterable<Uint8Array>) => Array<SseEvent>
  /** The events left at the end (a last event without its blank line). */
  readonly end: () => Array<SseEvent>
}

/**
 * The SSE decoder. Streams of plain events (OpenAI Chat's `data:` lines, the Responses API's
 * and Anthropic's `event:` + `data:` pairs) are split here, a few `indexOf`s per event: a block
 * that is one `data: …` line, optionally after one `event: …` line, both values non-empty, is
 * an event with that data and type. The first block that is anything else (`id:` / `retry:`
 * fields, comments, more lines, an empty value, `\r` line ends) hands the rest of the stream
 * to `eventsource-parser` for good, starting at that block's first byte, so the parser sees
 * whole events and keeps the spec's state (last event id, multi-line data) from there on.
 * Measured: `eventsource-parser` costs about as much per event as the provider's `JSON.parse`
 * of it on a paced stream in a fresh process (bench/paced.mjs, profile).
 */
export const makeSseDecoder = (): FrameDecoder => {
  const decoder = new TextDecoder()
  let pending: Array<SseEvent> = []
  let parser: EventSourceParser | undefined
  /** Fast mode: the text after the last complete block. */
  let rest = ""
  const toParser = (text: string) => {
    parser ??= createParser({
      onEvent: (e: EventSourceMessage) => {
        pending.push({ event: e.event, data: e.data, id: e.id })
      }
    })
    parser.feed(text)
  }
  const scan = (text: string) => {
    if (parser !== undefined) return parser.feed(text)
    const buf = rest.length === 0 ? text : rest + text
    if (buf.includes("\r")) {
      rest = ""
      return toParser(buf)
    }
    let start = 0
    for (;;) {
      const end = buf.indexOf("\n\n", start)
      if (end === -1) break
      // `event: name` (optional, non-empty) then `data: value` (non-empty), nothing else.
      let event: string | undefined
      let line = start
      if (buf.startsWith("event:", start)) {
        const nl = buf.indexOf("\n", start)
        const nameAt = buf.charCodeAt(start + 6) === 32 ? start + 7 : start + 6
        if (nl < end && nameAt < nl) {
          event = buf.slice(nameAt, nl)
          line = nl + 1
        } else line = -1
      }
      const valueAt = buf.charCodeAt(line + 5) === 32 ? line + 6 : line + 5
      if (
        line === -1 ||
        !buf.startsWith("data:", line) ||
        valueAt >= end ||
        buf.indexOf("\n", line) !== end
      ) {
        rest = ""
        return toParser(buf.slice(start))
      }
      pending.push({ event, data: buf.slice(valueAt, end), id: undefined })
      start = end + 2
    }
    rest = start === 0 ? buf : buf.slice(start)
  }
  const take = (): Array<SseEvent> => {
    const out = pending
    pending = []
    return out
  }
  return {
    feed: (reads) => {
      for (const read of reads) scan(decoder.decode(read, { stream: true }))
      return take()
    },
    end: () => {
      // Terminate a last event that lacks its blank line (no-op after a clean end).
      const tail = decoder.decode()
      if (parser !== undefined) parser.feed(`${tail}\n\n`)
      else if (rest.length > 0 || tail.length > 0) toParser(`${rest}${tail}\n\n`)
      rest = ""
      return take()
    }
  }
}

/**
 * A channel that pulls a `BodyReader` until the body ends: `onReads` turns each batch of reads
 * into the channel that writes their output and continues with `next`; `onEnd` is the
 * channel after the end. The body is released when the channel ends, fails or is interrupted.
 * One `Effect.async` per wake-up, no channel stage between the body and `onReads`.
 */
export const readerChannel = <Out, E, In = unknown>(
  pull: Effect.Effect<Array<Uint8Array> | undefined, E>,
  close: Effect.Effect<void>,
  onReads: (
    reads: Array<Uint8Array>,
    next: Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>
  ) => Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>,
  onEnd: () => Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown>
): Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown> => {
  const loop: Channel.Channel<Chunk.Chunk<Out>, In, E, unknown, unknown, unknown> = Channel.flatMap(
    Channel.fromEffect(pull),
    (reads) => (reads === undefined ? onEnd() : onReads(reads, loop))
  )
  return Channel.ensuring(loop, close)
}

/**
 * Parses a byte stream into events: one `Chunk` of events per network read. Handles `\r\n`,
 * comments, any field order and events split across reads; a final event without its blank
 * line is still delivered. `mapError` maps the byte stream's failures in the same pass (one
 * channel stage per read, not a `Stream.mapError` stage plus this one). `makeDecoder` replaces
 * the SSE decoder by another framing (the AWS event stream).
 */
export const parseSse: {
  <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<SseEvent, E, R>
  <E, E2, R>(
    bytes: Stream.Stream<Uint8Array, E, R>,
    mapError: (error: E) => E2,
    makeDecoder?: () => FrameDecoder
  ): Stream.Stream<SseEvent, E2, R>
} = <E, E2, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  mapError?: (error: E) => E2,
  makeDecoder: () => FrameDecoder = makeSseDecoder
): Stream.Stream<SseEvent, E | E2, R> =>
  Stream.suspend(() => {
    const frames = makeDecoder()
    type Loop = Channel.Channel<
      Chunk.Chunk<SseEvent>,
      Chunk.Chunk<Uint8Array>,
      E | E2,
      E,
      unknown,
      unknown
    >
    const loop: Loop = Channel.readWithCause({
      onInput: (reads: Chunk.Chunk<Uint8Array>) => {
        const out = frames.feed(reads)
        return out.length === 0
          ? loop
          : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
      },
      onFailure: (cause: Cause.Cause<E>) =>
        Channel.failCause<E | E2>(mapError === undefined ? cause : Cause.map(cause, mapError)),
      onDone: () =>
        Channel.suspend(() => {
          const out = frames.end()
          return out.length === 0 ? Channel.void : Channel.write(Chunk.unsafeFromArray(out))
        })
    })
    return Stream.pipeThroughChannel(bytes, loop)
  })
