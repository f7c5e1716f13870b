/**
 * Pieces shared by the UI encoders: JSON-safe tool outputs, error texts, the messages an error
 * carries, and SSE framing.
 */
import type { Agent } from "@agentfx/core"
import { Messages } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"

/** The one UTF-8 encoder. */
export const encoder = new TextEncoder()

/** An event of `agent.runStream`. */
export type RunEvent<A> = Agent.AgentStreamEvent<A>

/** A file as a JSON value a browser can show (`BinaryContent` as a `data:` URL). */
const fileJson = (file: Messages.FileContent) =>
  file._tag === "BinaryContent"
    ? { type: "file", mediaType: file.mediaType, url: file.dataUrl }
    : file._tag === "UploadedFile"
      ? {
          type: "file",
          fileId: file.fileId,
          providerName: file.providerName,
          mediaType: file.effectiveMediaType
        }
      : {
          type: "file",
          url: file.url,
          ...(file.mediaType !== undefined ? { mediaType: file.mediaType } : {})
        }

/** A found tool (`Messages.ToolReference`) as JSON: `{ type: "tool-reference", toolName }`. */
const toolReferenceJson = (ref: Messages.ToolReference) => ({
  type: "tool-reference",
  toolName: ref.toolName
})

/**
 * A tool's return value as JSON: files become `{ type: "file", mediaType, url }`, tool
 * references (what a tool search found) `{ type: "tool-reference", toolName }`.
 */
export const toolOutputJson = (content: unknown): unknown => {
  if (Messages.isFileContent(content)) return fileJson(content)
  if (
    Array.isArray(content) &&
    content.some((c) => Messages.isFileContent(c) || Messages.isToolReference(c))
  ) {
    return content.map((c) =>
      Messages.isFileContent(c)
        ? fileJson(c)
        : Messages.isToolReference(c)
          ? toolReferenceJson(c)
          : c
    )
  }
  return content === undefined ? null : content
}

const isToolReferenceJson = (u: unknown): u is { type: "tool-reference"; toolName: string } =>
  typeof u === "object" &&
  u !== null &&
  (u as { type?: unknown }).type === "tool-reference" &&
  typeof (u as { toolName?: unknown }).toolName === "string" &&
  Object.keys(u).length === 2

/**
 * The bytes and media type of a `data:` URL (`data:[<media type>][;<parameter>…][;base64],<data>`),
 * `undefined` for any other URL.
 */
export const dataUrlContent = (
  url: string
): { readonly data: Uint8Array; readonly mediaType: string } | undefined => {
  const data = /^data:([^,]*?)(;base64)?,(.*)$/s.exec(url)
  if (data === null) return undefined
  const bytes =
    data[2] !== undefined
      ? Buffer.from(data[3]!, "base64")
      : Buffer.from(decodeURIComponent(data[3]!), "utf8")
  return { data: new Uint8Array(bytes), mediaType: data[1]!.split(";")[0]! }
}

/** The kind of file a media type names: image, audio or video, else a document. */
export const mediaKind = (
  mediaType: string | undefined
): "image" | "audio" | "video" | "document" => {
  const kind = mediaType?.split("/")[0]
  return kind === "image" || kind === "audio" || kind === "video" ? kind : "document"
}

/** A file at a URL as the URL content of its media type's kind (a document for any other). */
export const urlContent = (fields: {
  readonly url: string
  readonly mediaType: string
  readonly identifier?: string
}): Messages.FileContent => {
  const kind = mediaKind(fields.mediaType)
  return kind === "image"
    ? new Messages.ImageUrl(fields)
    : kind === "audio"
      ? new Messages.AudioUrl(fields)
      : kind === "video"
        ? new Messages.VideoUrl(fields)
        : new Messages.DocumentUrl(fields)
}

const hasOnly = (u: object, keys: ReadonlyArray<string>): boolean =>
  Object.keys(u).every((k) => keys.includes(k))

/**
 * A file as `toolOutputJson` writes it (`{ type: "file", mediaType, url }`, or an uploaded
 * file's `{ type: "file", fileId, providerName, mediaType }`) back to file content: a `data:`
 * URL → `BinaryContent`, another URL → the URL type of its media type; `undefined` for any other
 * value (a URL without a media type stays JSON: its kind is unknown).
 */
const fileOfJson = (u: unknown): Messages.FileContent | undefined => {
  if (typeof u !== "object" || u === null || (u as { type?: unknown }).type !== "file") {
    return undefined
  }
  const f = u as { url?: unknown; mediaType?: unknown; fileId?: unknown; providerName?: unknown }
  const mediaType = typeof f.mediaType === "string" ? f.mediaType : undefined
  if (typeof f.url === "string" && hasOnly(u, ["type", "url", "mediaType"])) {
    const inline = dataUrlContent(f.url)
    if (inline !== undefined) {
      return new Messages.BinaryContent({
        data: inline.data,
        mediaType: mediaType ?? inline.mediaType
      })
    }
    if (mediaType === undefined) return undefined
    return urlContent({ url: f.url, mediaType })
  }
  if (
    typeof f.fileId === "string" &&
    typeof f.providerName === "string" &&
    hasOnly(u, ["type", "fileId", "providerName", "mediaType"])
  ) {
    return new Messages.UploadedFile({
      fileId: f.fileId,
      providerName: f.providerName,
      ...(mediaType !== undefined ? { mediaType } : {})
    })
  }
  return undefined
}

/** An item of a tool output back to what the tool returned: a file or a found tool. */
const toolItemOfJson = (c: unknown): unknown =>
  isToolReferenceJson(c)
    ? new Messages.ToolReference({ toolName: c.toolName })
    : (fileOfJson(c) ?? c)

/**
 * A tool output from a client back to a tool return's content: files and the `tool-reference`
 * items of an array (as `toolOutputJson` writes them) become `Messages` file content and
 * `Messages.ToolReference`s again, so a continued conversation sends the model the file a tool
 * returned (not its JSON) and keeps the tools a search found loaded.
 */
export const toolContentOfJson = (output: unknown): unknown => {
  if (Array.isArray(output)) {
    const items = output.map(toolItemOfJson)
    return items.some((c, i) => c !== output[i]) ? items : output
  }
  return fileOfJson(output) ?? output
}

/** The AI SDK data part type of a `ToolAvailabilityDeltaEvent` (tools made available). */
export const toolAvailabilityDataType = "data-agentfx-tool-availability"
/** The AG-UI `CUSTOM` event name of a `ToolAvailabilityDeltaEvent` (tools made available). */
export const toolAvailabilityEventName = "agentfx.tool_availability"

/**
 * The AI SDK data part type of a `CompactionPart` (a provider's compaction of the history):
 * `data` is its `compactionFields` plus `content` / `encryptedContent` when set.
 */
export const compactionDataType = "data-agentfx-compaction"

/** What both protocols carry of a `ToolAvailabilityDeltaEvent`. */
export const toolAvailabilityJson = (part: Messages.ToolAvailabilityDeltaPart) => ({
  added: [...part.added],
  ...(part.toolCallId !== undefined ? { toolCallId: part.toolCallId } : {})
})

/**
 * The text shown for a failed run: a typed error's `_tag` and message (agentfx errors carry no
 * secrets), a generic text for defects, which may hold anything.
 */
export const defaultErrorText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e !== null && typeof e === "object") {
      const tag = (e as { _tag?: unknown })._tag
      const message = (e as { message?: unknown }).message
      if (typeof tag === "string") {
        return typeof message === "string" && message !== "" ? `${tag}: ${message}` : tag
      }
      if (typeof message === "string") return message
    }
    return String(e)
  }
  return Cause.isInterruptedOnly(cause) ? "The run was interrupted." : "An error occurred."
}

/** The failure of a cause, if any (a defect or an interruption has none). */
export const failureOf = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrUndefined(Cause.failureOption(cause))

/** The messages an agentfx error carries (`UsageLimitExceeded`, `ModelHTTPError`, …), else `[]`. */
export const messagesOf = (error: unknown): ReadonlyArray<Messages.ModelMessage> => {
  if (error !== null && typeof error === "object" && "messages" in error) {
    const m = (error as { messages: unknown }).messages
    if (Array.isArray(m)) return m as ReadonlyArray<Messages.ModelMessage>
  }
  return []
}

/** What a finished stream reports to `onFinish`: the result, or the error and its messages. */
export type Outcome<A> =
  | {
      readonly _tag: "Success"
      readonly result: Agent.AgentRunResult<A>
      readonly messages: ReadonlyArray<Messages.ModelMessage>
    }
  | {
      readonly _tag: "Failure"
      readonly error: unknown
      readonly errorText: string
      readonly messages: ReadonlyArray<Messages.ModelMessage>
    }

/** The arguments of a tool call as an object, or the parse error of its JSON. */
export const parseArgs = (part: {
  readonly args: Messages.ToolArgs
}):
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string } => {
  if (typeof part.args !== "string") return { ok: true, value: part.args }
  if (part.args.trim() === "") return { ok: true, value: {} }
  try {
    return { ok: true, value: JSON.parse(part.args) }
  } catch (e) {
    return { ok: false, error: `Invalid JSON arguments: ${(e as Error).message}` }
  }
}

/**
 * Where an encoder writes. `delta` is the hot path (one call per text / reasoning / argument
 * fragment): the SSE sink appends a prefix serialised once per part and the fragment's JSON,
 * with no object built; the object sink builds the chunk.
 */
export interface Sink<O> {
  push(value: O): void
  delta(target: DeltaTarget, value: string): void
}

/**
 * A streamed part's delta chunk: its fixed fields, the SSE prefix serialised once, and a
 * builder of the chunk object (a literal: spreading with a computed key is 20× slower).
 */
export interface DeltaTarget {
  readonly fields: Readonly<Record<string, string>>
  /** `data: {…fields,"<valueKey>":` as UTF-8. */
  readonly sseBytes: Uint8Array
  readonly make: (value: string) => { readonly type: string; readonly [key: string]: unknown }
}

/** The delta target of a part whose chunks are `make(fragment)` = `{ ...fields, [valueKey]: fragment }`. */
export const deltaTarget = (
  fields: Readonly<Record<string, string>>,
  valueKey: string,
  make: DeltaTarget["make"]
): DeltaTarget => ({
  fields,
  make,
  sseBytes: encoder.encode(
    `data: ${JSON.stringify(fields).slice(0, -1)},${JSON.stringify(valueKey)}:`
  )
})

/** A sink collecting objects. */
export class ObjectSink<O> implements Sink<O> {
  out: Array<O> = []
  push(value: O): void {
    this.out.push(value)
  }
  delta(target: DeltaTarget, value: string): void {
    this.out.push(target.make(value) as O)
  }
  take(): Array<O> {
    const out = this.out
    this.out = []
    return out
  }
}

const SLAB = 16 * 1024
const DATA = encoder.encode("data: ")
const END = encoder.encode("\n\n")

/**
 * A sink writing SSE `data:` lines straight into bytes, taken once per network chunk. A delta
 * is the part's prefix (encoded once) + the fragment as a JSON string, written byte by byte
 * when it is plain ASCII (the common case: no string is built, nothing to escape, no
 * `TextEncoder` call) and through `JSON.stringify` + `encodeInto` otherwise.
 *
 * The bytes go into a slab (16 KiB, or twice the pending bytes if larger) and `take` hands out a view
 * of the part written since the last take — no copy, no buffer of its own per chunk. A full
 * slab is left to the views already taken (they stay valid: nothing is written twice) and the
 * pending bytes move to a fresh one. A copy per chunk (`slice`) cost ≈ 1 µs more once the chunk
 * passed V8's 64-byte limit for typed arrays kept on the JS heap (a backing store of its own,
 * allocated outside the heap and freed by the GC): every AG-UI text delta
 * (`TEXT_MESSAGE_CONTENT` with a message id is ≈ 80 bytes) took that path, the AI SDK's shorter
 * `text-delta` did not.
 */
export class SseSink<O> implements Sink<O> {
  private buffer = new Uint8Array(SLAB)
  /** where the bytes not taken yet start */
  private start = 0
  private offset = 0

  private reserve(bytes: number): void {
    const needed = this.offset + bytes
    if (needed <= this.buffer.length) return
    const pending = this.offset - this.start
    // Room for twice what is needed: a chunk larger than a slab (a network read carrying
    // hundreds of events) would otherwise move its whole pending part at every later write.
    const slab = new Uint8Array(Math.max(SLAB, 2 * (pending + bytes)))
    slab.set(this.buffer.subarray(this.start, this.offset))
    this.buffer = slab
    this.start = 0
    this.offset = pending
  }

  private bytes(b: Uint8Array): void {
    this.reserve(b.length)
    this.buffer.set(b, this.offset)
    this.offset += b.length
  }

  /** UTF-8 of `s` (no escaping): ASCII byte by byte, the rest through `encodeInto`. */
  private text(s: string): void {
    this.reserve(s.length * 3)
    const buffer = this.buffer
    let offset = this.offset
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        offset += encoder.encodeInto(s.slice(i), buffer.subarray(offset)).written
        break
      }
      buffer[offset++] = c
    }
    this.offset = offset
  }

  push(value: O): void {
    this.bytes(DATA)
    this.text(JSON.stringify(value))
    this.bytes(END)
  }

  delta(target: DeltaTarget, value: string): void {
    this.bytes(target.sseBytes)
    // a JSON string: quote, the characters, quote — when none needs escaping or is non-ASCII
    this.reserve(value.length + 5)
    const buffer = this.buffer
    const start = this.offset
    let offset = start
    buffer[offset++] = 0x22
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c < 0x20 || c >= 0x80 || c === 0x22 || c === 0x5c) {
        offset = -1
        break
      }
      buffer[offset++] = c
    }
    if (offset < 0) {
      this.offset = start
      this.text(JSON.stringify(value))
      this.reserve(3)
      offset = this.offset
    } else {
      buffer[offset++] = 0x22
    }
    this.buffer[offset++] = 0x7d // }
    this.buffer[offset++] = 0x0a
    this.buffer[offset++] = 0x0a
    this.offset = offset
  }

  /** The bytes written since the last take (a view of the slab; never written again). */
  take(): Uint8Array {
    // a view made with the constructor: `subarray` looks up the species constructor (2× slower)
    const out = new Uint8Array(this.buffer.buffer, this.start, this.offset - this.start)
    this.start = this.offset
    return out
  }
}

/** The text a part delta adds (text, reasoning or argument fragment), `undefined` when none. */
export const fragmentOf = (delta: Messages.ModelResponsePartDelta): string | undefined => {
  const fragment =
    delta._tag === "TextPartDelta"
      ? delta.contentDelta
      : delta._tag === "ThinkingPartDelta"
        ? delta.contentDelta
        : typeof delta.argsDelta === "string"
          ? delta.argsDelta
          : undefined
  return fragment === "" ? undefined : fragment
}

/**
 * What a thinking part carries besides its text and signature, for a client to send back: its
 * own id (an OpenAI reasoning item's, which the next request references), the provider that
 * signed it, whether it is redacted, its provider details — each only when set. Both encoders put
 * it in their `agentfx` metadata; `thinkingPartOf` reads it back.
 */
export const thinkingFields = (part: Messages.ThinkingPart): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  if (part.id !== undefined) fields.id = part.id
  if (part.providerName !== undefined) fields.providerName = part.providerName
  if (part.redacted !== undefined) fields.redacted = part.redacted
  if (part.providerDetails !== undefined) fields.providerDetails = part.providerDetails
  return fields
}

/**
 * A thinking part sent back by a UI client: its text, its signature (an AI SDK part's
 * `providerMetadata.agentfx.signature`, AG-UI's encrypted value) and the other fields the
 * encoders put in `agentfx` metadata (its own id, provider, `redacted`, details), each taken
 * only when it has its type.
 */
export const thinkingPartOf = (
  content: string,
  signature: string | undefined,
  agentfx: unknown
): Messages.ThinkingPart => {
  const meta = (
    typeof agentfx === "object" && agentfx !== null && !Array.isArray(agentfx) ? agentfx : {}
  ) as Record<string, unknown>
  const { id, providerName, redacted, providerDetails } = meta
  return new Messages.ThinkingPart({
    content,
    ...(signature !== undefined ? { signature } : {}),
    ...(typeof id === "string" ? { id } : {}),
    ...(typeof providerName === "string" ? { providerName } : {}),
    ...(typeof redacted === "boolean" ? { redacted } : {}),
    ...(typeof providerDetails === "object" &&
    providerDetails !== null &&
    !Array.isArray(providerDetails)
      ? { providerDetails: providerDetails as Messages.ProviderDetails }
      : {})
  })
}

/**
 * What a compaction carries besides its summary and opaque content, for a client to send back:
 * the provider that made it (only it gets it back), its id and provider details when set.
 */
export const compactionFields = (part: Messages.CompactionPart): Record<string, unknown> => {
  const fields: Record<string, unknown> = { providerName: part.providerName }
  if (part.id !== undefined) fields.id = part.id
  if (part.providerDetails !== undefined) fields.providerDetails = part.providerDetails
  return fields
}

/**
 * A compaction sent back by a UI client: its summary (`undefined` or empty: none), its opaque
 * content and the `compactionFields`, each taken only when it has its type; `undefined` without
 * a provider (a compaction goes back only to the provider that made it).
 */
export const compactionPartOf = (
  content: string | undefined,
  encryptedContent: string | undefined,
  fields: unknown
): Messages.CompactionPart | undefined => {
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) return undefined
  const { providerName, id, providerDetails } = fields as Record<string, unknown>
  if (typeof providerName !== "string") return undefined
  return new Messages.CompactionPart({
    providerName,
    ...(content !== undefined && content !== "" ? { content } : {}),
    ...(encryptedContent !== undefined ? { encryptedContent } : {}),
    ...(typeof id === "string" ? { id } : {}),
    ...(typeof providerDetails === "object" &&
    providerDetails !== null &&
    !Array.isArray(providerDetails)
      ? { providerDetails: providerDetails as Messages.ProviderDetails }
      : {})
  })
}
