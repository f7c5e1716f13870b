/**
 * Incremental decoding of the binary AWS event stream (`application/vnd.amazon.eventstream`,
 * Bedrock's `ConverseStream`): bytes in, one event per complete message out, decoded per
 * network read.
 *
 * A message is a prelude (total length, headers length, CRC32 of those 8 bytes), headers,
 * payload and a CRC32 of everything before it. The prelude CRC is checked here as soon as its
 * 12 bytes arrive (a corrupt length must not make the decoder wait for bytes that never come);
 * the whole message is then split and checked again (both CRCs) by `@smithy/core`'s
 * `EventStreamCodec`, which also parses the typed headers.
 *
 * The decoder has the `FrameDecoder` shape (`sse.ts`) so that the shared streaming machinery
 * (`postSse` / `streamedResponse`) carries it unchanged: a message becomes an
 * `SseEvent` whose `event` is its `:event-type` (`exception:<type>` for exception messages,
 * `error:<code>` for error messages) and whose `data` is the UTF-8 payload. A framing error (bad
 * CRC, impossible lengths, bytes left at the end) becomes one `FRAME_ERROR` event whose data is
 * the reason, after which the decoder ignores the rest of the stream: the provider's handler
 * fails the stream with a typed error that keeps the partial response.
 *
 * `@smithy/core` is loaded with this module, on the first Bedrock stream (see `Bedrock.ts`).
 *
 * @internal
 */
import { Crc32 } from "@smithy/core/checksum"
import { EventStreamCodec } from "@smithy/core/event-streams"
import { FRAME_ERROR } from "./bedrock.js"
import type { FrameDecoder, SseEvent } from "./sse.js"

export { FRAME_ERROR } from "./bedrock.js"

const PRELUDE = 12
const OVERHEAD = 16

const utf8 = new TextDecoder()
const encoder = new TextEncoder()
const codec = new EventStreamCodec(
  (bytes: Uint8Array) => utf8.decode(bytes),
  (text: string) => encoder.encode(text)
)

const preludeCrc = (bytes: Uint8Array, offset: number): number => {
  const crc = new Crc32()
  crc.update(bytes.subarray(offset, offset + 8))
  return crc.digestSync()
}

const headerString = (
  headers: Record<string, { readonly type: string; readonly value: unknown }>,
  name: string
): string | undefined => {
  const h = headers[name]
  return h !== undefined && h.type === "string" ? (h.value as string) : undefined
}

/** The event of one complete, checked message. */
const eventOf = (message: ReturnType<typeof codec.decode>): SseEvent => {
  const headers = message.headers as Record<string, { type: string; value: unknown }>
  const messageType = headerString(headers, ":message-type") ?? "event"
  const data = utf8.decode(message.body)
  switch (messageType) {
    case "exception":
      return {
        event: `exception:${headerString(headers, ":exception-type") ?? "unknown"}`,
        data,
        id: undefined
      }
    case "error":
      return {
        event: `error:${headerString(headers, ":error-code") ?? "unknown"}`,
        data: headerString(headers, ":error-message") ?? data,
        id: undefined
      }
    default:
      return { event: headerString(headers, ":event-type") ?? "", data, id: undefined }
  }
}

/** A fresh incremental decoder (one per response). */
export const makeDecoder = (): FrameDecoder => {
  /**
   * Reads not yet decoded (the start of an incomplete message), joined only once `need` bytes
   * are there: a message split over many small reads is copied once, not once per read.
   */
  let parts: Array<Uint8Array> = []
  let size = 0
  /** Bytes needed before decoding can progress: a prelude, or the message whose prelude was read. */
  let need = PRELUDE
  let failed = false
  /** Whether the prelude of the message at the start of `parts` was already checked. */
  let checked = false

  const fail = (out: Array<SseEvent>, reason: string) => {
    failed = true
    parts = []
    size = 0
    out.push({ event: FRAME_ERROR, data: reason, id: undefined })
  }

  const scan = (bytes: Uint8Array, out: Array<SseEvent>) => {
    let offset = 0
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    need = PRELUDE
    while (bytes.length - offset >= PRELUDE) {
      const total = view.getUint32(offset, false)
      if (!checked) {
        const headersLength = view.getUint32(offset + 4, false)
        if (view.getUint32(offset + 8, false) !== preludeCrc(bytes, offset)) {
          return fail(out, "Event stream prelude checksum mismatch (corrupt message length)")
        }
        if (total < OVERHEAD || headersLength > total - OVERHEAD) {
          return fail(
            out,
            `Event stream message has impossible lengths (${total}, ${headersLength})`
          )
        }
        checked = true
      }
      if (bytes.length - offset < total) {
        need = total
        break
      }
      let message: ReturnType<typeof codec.decode>
      try {
        // Checks both CRCs again and parses the typed headers.
        message = codec.decode(bytes.subarray(offset, offset + total))
      } catch (e) {
        return fail(out, `Event stream message is corrupt: ${(e as Error).message}`)
      }
      out.push(eventOf(message))
      offset += total
      checked = false
    }
    // Keep the incomplete rest (a copy: the read's buffer is not ours to hold on to).
    const rest = bytes.length - offset
    parts = rest === 0 ? [] : [bytes.slice(offset)]
    size = rest
  }

  return {
    feed: (reads) => {
      const out: Array<SseEvent> = []
      for (const read of reads) {
        if (failed) break
        if (read.length === 0) continue
        parts.push(read)
        size += read.length
        if (size < need) continue
        if (parts.length === 1) scan(read, out)
        else {
          const joined = new Uint8Array(size)
          let o = 0
          for (const p of parts) {
            joined.set(p, o)
            o += p.length
          }
          scan(joined, out)
        }
      }
      return out
    },
    end: () => {
      if (failed || size === 0) return []
      const out: Array<SseEvent> = []
      fail(out, `The event stream ended inside a message (${size} bytes of an incomplete message)`)
      return out
    }
  }
}
