/**
 * The message model shared by every provider: requests the agent sends, responses the
 * model returns, and the events of a streamed response. Every type is a Schema, so a
 * conversation round-trips through JSON without loss:
 *
 * @example
 * ```ts
 * import { Messages } from "@agentfx/core"
 * const json = Messages.encodeJson(history)          // string
 * const back = yield* Messages.decodeJson(json)      // Effect<ReadonlyArray<ModelMessage>, ParseError>
 * ```
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as construct from "./internal/construct.js"
import { RequestUsage } from "./Usage.js"

/** Provider-specific data kept on a part so it can be sent back unchanged (signatures, item ids…). */
export const ProviderDetails = Schema.Record({ key: Schema.String, value: Schema.Unknown })
/** The type of `ProviderDetails`: opaque provider data echoed back on the next request. */
export type ProviderDetails = typeof ProviderDetails.Type

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

// ---------------------------------------------------------------------------
// User content
// ---------------------------------------------------------------------------

/**
 * Per-file options of one provider, sent by the providers that take them and ignored by the
 * others: `detail` (`"low" | "high" | "auto"`: OpenAI's image detail, on Chat Completions,
 * Responses and the compatible vendors that accept it, e.g. Groq); on Gemini, the fields of
 * `videoMetadata` for a video (`fps`, `startOffset`, `endOffset`).
 */
export const VendorMetadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })
/** Per-file options of one provider (see `VendorMetadata`). */
export type VendorMetadata = typeof VendorMetadata.Type

const urlFields = {
  url: Schema.String,
  /** IANA media type; inferred from the URL extension by providers when absent. */
  mediaType: optional(Schema.String),
  /** Stable name the model can use to refer to the file. */
  identifier: optional(Schema.String),
  /** Per-file provider options: OpenAI image `detail`, Gemini `videoMetadata` fields. */
  vendorMetadata: optional(VendorMetadata),
  /**
   * Download the file before the call and send its bytes inline, instead of sending the URL
   * (for URLs the provider cannot reach, or to pin the content). The media type then comes from
   * the part, else the response's `content-type`, else the URL's extension.
   */
  forceDownload: optional(Schema.Boolean)
}

/** An image the model should look at, by URL. */
export class ImageUrl extends Schema.TaggedClass<ImageUrl>()("ImageUrl", urlFields) {}
/** An audio file by URL. */
export class AudioUrl extends Schema.TaggedClass<AudioUrl>()("AudioUrl", urlFields) {}
/** A video file by URL. */
export class VideoUrl extends Schema.TaggedClass<VideoUrl>()("VideoUrl", urlFields) {}
/** A document (PDF, text…) by URL. */
export class DocumentUrl extends Schema.TaggedClass<DocumentUrl>()("DocumentUrl", urlFields) {}

/** Inline bytes (an image, a PDF, audio…). Encoded as base64 in JSON. */
export class BinaryContent extends Schema.TaggedClass<BinaryContent>()("BinaryContent", {
  data: Schema.Uint8ArrayFromBase64,
  mediaType: Schema.String,
  identifier: optional(Schema.String),
  /** Per-file provider options: OpenAI image `detail`, Gemini `videoMetadata` fields. */
  vendorMetadata: optional(VendorMetadata)
}) {
  get isImage(): boolean {
    return this.mediaType.startsWith("image/")
  }
  get isAudio(): boolean {
    return this.mediaType.startsWith("audio/")
  }
  get isVideo(): boolean {
    return this.mediaType.startsWith("video/")
  }
  get isDocument(): boolean {
    return !this.isImage && !this.isAudio && !this.isVideo
  }
  /** `data:` URL of the content. */
  get dataUrl(): string {
    return `data:${this.mediaType};base64,${Buffer.from(this.data).toString("base64")}`
  }
  get base64(): string {
    return Buffer.from(this.data).toString("base64")
  }
}

// ---------------------------------------------------------------------------
// Uploaded provider files
// ---------------------------------------------------------------------------

/**
 * A file already uploaded to a provider (its Files API, a Gemini `files/…` URI, an S3 object for
 * Bedrock), referred to by id instead of being sent again: OpenAI `file_id` (Chat `file`,
 * Responses `input_file` / `input_image`), Anthropic `source: {type: "file"}`, Bedrock
 * `s3Location`, Gemini `fileData`. It only works with the provider it belongs to
 * (`providerName`); sent to another, the request fails with a `UserError` before anything is sent.
 */
export class UploadedFile extends Schema.TaggedClass<UploadedFile>()("UploadedFile", {
  /** The provider's id of the file (`file-…`, `file_…`, `s3://…`, `https://…/files/…`). */
  fileId: Schema.String,
  /** The provider it was uploaded to: `openai`, `anthropic`, `bedrock`, `google`. */
  providerName: Schema.String,
  /** IANA media type; `application/octet-stream` when absent. */
  mediaType: optional(Schema.String),
  /** Stable name the model can use to refer to the file. */
  identifier: optional(Schema.String),
  /** Per-file provider options: OpenAI image `detail`, Gemini `videoMetadata` fields. */
  vendorMetadata: optional(VendorMetadata)
}) {
  /** The media type, `application/octet-stream` when unknown. */
  get effectiveMediaType(): string {
    return this.mediaType ?? "application/octet-stream"
  }
  get isImage(): boolean {
    return this.effectiveMediaType.startsWith("image/")
  }
  get isAudio(): boolean {
    return this.effectiveMediaType.startsWith("audio/")
  }
  get isVideo(): boolean {
    return this.effectiveMediaType.startsWith("video/")
  }
  get isDocument(): boolean {
    return !this.isImage && !this.isAudio && !this.isVideo
  }
}

/**
 * A prompt-caching breakpoint: the content before it may be cached by providers that support
 * explicit cache points (Anthropic's `cache_control`, also sent through OpenRouter; OpenAI's
 * `prompt_cache_breakpoint`). Other providers (Gemini, compatible servers) cache prefixes by
 * themselves and drop it.
 */
export class CachePoint extends Schema.TaggedClass<CachePoint>()("CachePoint", {
  /** Cache lifetime; Anthropic accepts "5m" (default) and "1h". */
  ttl: Schema.optionalWith(Schema.Literal("5m", "1h"), { exact: true })
}) {}

/**
 * User text tagged with application data (pydantic-ai's `TextContent`): `content` is sent to the
 * model as plain text, `metadata` stays with the message for the application (it survives the
 * JSON round trip) and is never sent to any provider.
 *
 * @example
 * ```ts
 * const prompt = [new Messages.TextContent({ content: "Summarise ticket 42.", metadata: { ticketId: 42 } })]
 * ```
 */
export class TextContent extends Schema.TaggedClass<TextContent>()("TextContent", {
  /** The text the model sees. */
  content: Schema.String,
  /** Application data; never sent to the model. */
  metadata: optional(Schema.Unknown)
}) {}

/** The text a user-content item sends to the model: a string, or a `TextContent`'s `content`. */
export const userText = (item: UserContent): string | undefined =>
  typeof item === "string" ? item : item._tag === "TextContent" ? item.content : undefined

/** One item of a multimodal user prompt. */
export const UserContent = Schema.Union(
  Schema.String,
  TextContent,
  ImageUrl,
  AudioUrl,
  VideoUrl,
  DocumentUrl,
  BinaryContent,
  UploadedFile,
  CachePoint
)
/** One item of a user prompt: text (a string or `TextContent`), a file by URL, inline bytes, an uploaded file, or a `CachePoint`. */
export type UserContent = typeof UserContent.Type

/** A file given by URL. */
export type FileUrl = ImageUrl | AudioUrl | VideoUrl | DocumentUrl

/** A file: by URL, inline bytes or uploaded. Tools may return these (alone or in an array) as well. */
export const FileContent = Schema.Union(
  ImageUrl,
  AudioUrl,
  VideoUrl,
  DocumentUrl,
  BinaryContent,
  UploadedFile
)
/** A file given to or returned by a tool: by URL, inline bytes or uploaded to the provider. */
export type FileContent = typeof FileContent.Type

/** The OpenAI image detail of a file (`vendorMetadata.detail`), if it names one. */
export const imageDetailOf = (file: FileContent): "low" | "high" | "auto" | undefined => {
  const d = file.vendorMetadata?.detail
  return d === "low" || d === "high" || d === "auto" ? d : undefined
}

/** Whether a value is a file (`ImageUrl`, `AudioUrl`, `VideoUrl`, `DocumentUrl`, `BinaryContent` or `UploadedFile`). */
export const isFileContent = (u: unknown): u is FileContent =>
  u instanceof ImageUrl ||
  u instanceof BinaryContent ||
  u instanceof UploadedFile ||
  u instanceof DocumentUrl ||
  u instanceof AudioUrl ||
  u instanceof VideoUrl

/**
 * The name a model can use to refer to a file: its `identifier`, or the first 6 hex digits of
 * the SHA-1 of its URL / bytes / uploaded file id (as pydantic-ai names them, so "See file
 * 241a70." matches).
 */
export const fileIdentifier = (file: FileContent): string => {
  if (file.identifier !== undefined) return file.identifier
  const hash = createHash("sha1")
  hash.update(
    file._tag === "BinaryContent"
      ? file.data
      : file._tag === "UploadedFile"
        ? file.fileId
        : file.url
  )
  return hash.digest("hex").slice(0, 6)
}

/**
 * A deferred tool (`ToolDefinition.deferLoading`) that a tool search found, returned by a
 * client-side search tool (`Toolset.withToolSearch`) in its tool return: the provider loads the
 * tool's definition for the model from here on (Anthropic `tool_reference` blocks, OpenAI
 * Responses `tool_search_output`); elsewhere the run loop sends the found tools as ordinary tools.
 */
export class ToolReference extends Schema.TaggedClass<ToolReference>()("ToolReference", {
  toolName: Schema.String
}) {}

/** Is this value a `ToolReference`? */
export const isToolReference = (u: unknown): u is ToolReference => u instanceof ToolReference

/**
 * What a tool returned: any JSON value, a file, or an array mixing files, tool references and
 * values. Files and references (top level or array items) keep their classes through the JSON
 * round trip.
 */
export const ToolReturnContent = Schema.Union(
  FileContent,
  Schema.Array(Schema.Union(FileContent, ToolReference, Schema.Unknown)),
  Schema.Unknown
)

// ---------------------------------------------------------------------------
// Request parts
// ---------------------------------------------------------------------------

/** A system prompt. Kept in history (unlike instructions, which are recomputed every request). */
export class SystemPromptPart extends Schema.TaggedClass<SystemPromptPart>()("SystemPromptPart", {
  content: Schema.String,
  /** Set for dynamic system prompts so they can be re-evaluated when the history is reused. */
  dynamicRef: optional(Schema.String)
}) {}

/** What the user said: text or a list of multimodal items. */
export class UserPromptPart extends Schema.TaggedClass<UserPromptPart>()("UserPromptPart", {
  content: Schema.Union(Schema.String, Schema.Array(UserContent))
}) {}

/** How a tool call ended. */
export const ToolOutcome = Schema.Literal("success", "failed", "denied", "interrupted")
/** How a tool call ended; `interrupted` marks calls answered by history repair. */
export type ToolOutcome = typeof ToolOutcome.Type

/** The result of a tool call, sent back to the model. */
export class ToolReturnPart extends Schema.TaggedClass<ToolReturnPart>()("ToolReturnPart", {
  toolName: Schema.String,
  toolCallId: Schema.String,
  /**
   * Any JSON value; strings are sent as is, other values as JSON. A file, or an array holding
   * files, is sent natively where the provider accepts files in tool results, else as
   * "See file {id}." plus a user message carrying the files.
   */
  content: ToolReturnContent,
  outcome: Schema.optionalWith(ToolOutcome, { default: () => "success" as const }),
  /** Data for the application; never sent to the model. */
  metadata: optional(Schema.Unknown)
}) {
  /** The text the model sees (files rendered as "See file {id}."). */
  get contentText(): string {
    return renderToolContent(this.content)
  }
  /** The files in `content` (the content itself, or the file items of an array), in order. */
  get files(): ReadonlyArray<FileContent> {
    const c = this.content
    if (isFileContent(c)) return [c]
    return Array.isArray(c) ? c.filter(isFileContent) : []
  }
  /** The tools a tool search found (`ToolReference` items of an array `content`), in order. */
  get toolReferences(): ReadonlyArray<ToolReference> {
    const c = this.content
    return Array.isArray(c) ? c.filter(isToolReference) : []
  }
}

const fileReference = (file: FileContent): string => `See file ${fileIdentifier(file)}.`

/** How a found tool reads as text, for providers without tool references. */
const toolReferenceText = (ref: ToolReference): string => `Tool loaded: ${ref.toolName}`

const renderItem = (c: unknown): unknown =>
  isFileContent(c) ? fileReference(c) : isToolReference(c) ? toolReferenceText(c) : c

/** Renders a tool return value as the string a model sees: strings as is, `undefined`/`null` as "", else JSON. */
export const renderToolContent = (content: unknown): string =>
  typeof content === "string"
    ? content
    : content === undefined || content === null
      ? ""
      : isFileContent(content)
        ? fileReference(content)
        : Array.isArray(content) && content.some((c) => isFileContent(c) || isToolReference(c))
          ? JSON.stringify(content.map(renderItem))
          : JSON.stringify(content)

/** One validation problem reported back to the model. */
export class ValidationIssue extends Schema.Class<ValidationIssue>("ValidationIssue")({
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String,
  input: optional(Schema.Unknown)
}) {}

/**
 * Asks the model to try again: bad tool arguments, a tool or validator that failed with
 * `ModelRetry`, or output that did not validate.
 */
export class RetryPromptPart extends Schema.TaggedClass<RetryPromptPart>()("RetryPromptPart", {
  content: Schema.Union(Schema.String, Schema.Array(ValidationIssue)),
  toolName: optional(Schema.String),
  toolCallId: optional(Schema.String)
}) {
  /** The text the model sees (pydantic-ai's wording, so prompts tuned for it keep working). */
  get modelResponse(): string {
    let description: string
    if (typeof this.content === "string") {
      description =
        this.toolName === undefined ? `Validation feedback:\n${this.content}` : this.content
    } else {
      const n = this.content.length
      const issues = this.content.map((i) => {
        const o: Record<string, unknown> = { loc: i.path, msg: i.message }
        if (i.input !== undefined && !(this.toolName === undefined && i.path.length === 0)) {
          o.input = i.input
        }
        return o
      })
      description = `${n} validation error${n === 1 ? "" : "s"}:\n\`\`\`json\n${JSON.stringify(issues, null, 2)}\n\`\`\``
    }
    return `${description}\n\nFix the errors and try again.`
  }
}

/**
 * Deferred tools (`ToolDefinition.deferLoading`) made available to the model at this point of
 * the conversation, without a tool search result: Anthropic gets a `tool_addition` system
 * block, OpenAI Responses an `additional_tools` item with the definitions; elsewhere the run
 * loop sends these tools as ordinary tools from here on. Additions only.
 */
export class ToolAvailabilityDeltaPart extends Schema.TaggedClass<ToolAvailabilityDeltaPart>()(
  "ToolAvailabilityDeltaPart",
  {
    /** Names of the tools that became available. */
    added: Schema.Array(Schema.String),
    /** The tool call that made them available, if any. */
    toolCallId: optional(Schema.String)
  }
) {}

/**
 * The deferred tools the conversation has made available so far: the `ToolReference`s of tool
 * returns and the names of `ToolAvailabilityDeltaPart`s.
 */
export const loadedToolNames = (messages: ReadonlyArray<ModelMessage>): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const m of messages) {
    if (m._tag !== "ModelRequest") continue
    for (const p of m.parts) {
      if (p._tag === "ToolReturnPart") for (const r of p.toolReferences) names.add(r.toolName)
      else if (p._tag === "ToolAvailabilityDeltaPart") for (const n of p.added) names.add(n)
    }
  }
  return names
}

/** Any part of a request. */
export const ModelRequestPart = Schema.Union(
  SystemPromptPart,
  UserPromptPart,
  ToolReturnPart,
  RetryPromptPart,
  ToolAvailabilityDeltaPart
)
/** Any part of a request: what the `parts` of a `ModelRequest` may hold. */
export type ModelRequestPart = typeof ModelRequestPart.Type

// ---------------------------------------------------------------------------
// Response parts
// ---------------------------------------------------------------------------

/** Plain text from the model. */
export class TextPart extends Schema.TaggedClass<TextPart>()("TextPart", {
  content: Schema.String,
  id: optional(Schema.String),
  providerDetails: optional(ProviderDetails)
}) {}

/**
 * The model's reasoning. `signature` (Anthropic, Gemini, OpenAI encrypted reasoning) must be
 * sent back unchanged; a redacted block keeps its opaque data in `signature` with `redacted: true`.
 */
export class ThinkingPart extends Schema.TaggedClass<ThinkingPart>()("ThinkingPart", {
  content: Schema.String,
  id: optional(Schema.String),
  signature: optional(Schema.String),
  redacted: optional(Schema.Boolean),
  /** The provider that produced the signature; other providers drop it. */
  providerName: optional(Schema.String),
  providerDetails: optional(ProviderDetails)
}) {}

/** Tool arguments: a JSON string as streamed by most providers, or an already-parsed object. */
export const ToolArgs = Schema.Union(
  Schema.String,
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
/** Tool arguments as the model sent them: a JSON string or a parsed object. */
export type ToolArgs = typeof ToolArgs.Type

/** The model asks for a tool to be called. */
export class ToolCallPart extends Schema.TaggedClass<ToolCallPart>()("ToolCallPart", {
  toolName: Schema.String,
  args: Schema.optionalWith(ToolArgs, { default: () => ({}) }),
  toolCallId: Schema.String,
  id: optional(Schema.String),
  providerName: optional(Schema.String),
  providerDetails: optional(ProviderDetails)
}) {
  /** Arguments as an object; a string is parsed as JSON (throws `SyntaxError` on bad JSON). */
  argsAsObject(): Record<string, unknown> {
    if (typeof this.args !== "string") return this.args
    if (this.args.trim() === "") return {}
    return JSON.parse(this.args)
  }
  /** Arguments as a JSON string. */
  argsAsJson(): string {
    return typeof this.args === "string"
      ? this.args === ""
        ? "{}"
        : this.args
      : JSON.stringify(this.args)
  }
}

/**
 * A call of a built-in tool that the provider runs itself (web search, code execution, a
 * provider-run MCP server…). The agent does not execute it; it is kept in history and sent
 * back to the same provider (`providerName`) in that provider's wire form, and dropped when
 * the history goes to another provider.
 */
export class BuiltinToolCallPart extends Schema.TaggedClass<BuiltinToolCallPart>()(
  "BuiltinToolCallPart",
  {
    /** The provider's name of the tool (`web_search`, `code_execution`, an MCP tool name…). */
    toolName: Schema.String,
    args: Schema.optionalWith(ToolArgs, { default: () => ({}) }),
    toolCallId: Schema.String,
    /** The provider that ran the tool; only it gets the part back. */
    providerName: Schema.String,
    id: optional(Schema.String),
    /** Wire data needed to send the part back unchanged (block type, server name…). */
    providerDetails: optional(ProviderDetails)
  }
) {
  /** Arguments as an object; a string is parsed as JSON (`{}` when it is not an object). */
  argsAsObject(): Record<string, unknown> {
    if (typeof this.args !== "string") return this.args
    if (this.args.trim() === "") return {}
    const parsed: unknown = JSON.parse(this.args)
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {}
  }
}

/**
 * What a built-in tool returned (search results, code output…), as the provider reported it.
 * `content` is the provider's own JSON; it goes back only to `providerName`.
 */
export class BuiltinToolReturnPart extends Schema.TaggedClass<BuiltinToolReturnPart>()(
  "BuiltinToolReturnPart",
  {
    toolName: Schema.String,
    content: Schema.Unknown,
    toolCallId: Schema.String,
    providerName: Schema.String,
    id: optional(Schema.String),
    providerDetails: optional(ProviderDetails)
  }
) {}

// --- Compaction -------------------------------------------------------------

/**
 * A provider's compaction of the conversation so far (Anthropic's `compaction` block with its
 * summary, OpenAI Responses' `compaction` item with encrypted content). It replaces the history
 * before it on the provider's side, is kept in history, and goes back only to `providerName`;
 * another provider gets a readable `content` as assistant text and nothing for opaque content.
 */
export class CompactionPart extends Schema.TaggedClass<CompactionPart>()("CompactionPart", {
  /** The readable summary (Anthropic), when the provider gives one. */
  content: optional(Schema.String),
  /** Opaque content to send back unchanged (OpenAI's `encrypted_content`). */
  encryptedContent: optional(Schema.String),
  /** The provider that made the compaction; only it gets the part back. */
  providerName: Schema.String,
  id: optional(Schema.String),
  providerDetails: optional(ProviderDetails)
}) {}

// --- Files -------------------------------------------------------------------

/**
 * A file the model generated (pydantic-ai's `FilePart`): an image from OpenAI's
 * `image_generation` tool, a Gemini image model's `inlineData`. `content` holds the bytes and
 * media type. Kept in history and sent back where the wire takes files from the model: Gemini
 * gets it back as `inlineData` (with its thought signature when it is Gemini's own); OpenAI
 * Responses sends it back inside its `image_generation_call` item (matched by `id`); every other
 * provider drops it (their assistant turns hold no files).
 */
export class FilePart extends Schema.TaggedClass<FilePart>()("FilePart", {
  content: BinaryContent,
  /** The provider's id of the file (OpenAI: the `image_generation_call` item id). */
  id: optional(Schema.String),
  /** The provider that generated the file. */
  providerName: optional(Schema.String),
  /** Wire data needed to send the part back unchanged (Gemini's `thoughtSignature`…). */
  providerDetails: optional(ProviderDetails)
}) {}

/** Any part of a response. */
export const ModelResponsePart = Schema.Union(
  TextPart,
  ThinkingPart,
  ToolCallPart,
  BuiltinToolCallPart,
  BuiltinToolReturnPart,
  CompactionPart,
  FilePart
)
/** Any part of a response: text, thinking, a tool call, a built-in tool's call / return, a compaction, a file. */
export type ModelResponsePart = typeof ModelResponsePart.Type

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/** A request sent to the model. `instructions` are the ones in force for this request. */
export class ModelRequest extends Schema.TaggedClass<ModelRequest>()("ModelRequest", {
  parts: Schema.Array(ModelRequestPart),
  instructions: optional(Schema.String),
  runId: optional(Schema.String),
  /** When the agent sent this request (Effect's `Clock`); absent on requests it did not send. */
  timestamp: optional(Schema.Date),
  /** The conversation this request belongs to (see `RunOptions.conversationId`). */
  conversationId: optional(Schema.String),
  /** Application data kept with the message; never sent to the model. */
  metadata: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}) {}

/** Why the model stopped. */
export const FinishReason = Schema.Literal("stop", "length", "content_filter", "tool_call", "error")
/** Why the model stopped, normalised across providers. */
export type FinishReason = typeof FinishReason.Type

/** `interrupted`: the run was cancelled while this response streamed; it may be incomplete. */
export const ResponseState = Schema.Literal("complete", "incomplete", "interrupted")
/** Whether a response arrived whole, or was cut by an error or an interruption. */
export type ResponseState = typeof ResponseState.Type

/** A response from the model. */
export class ModelResponse extends Schema.TaggedClass<ModelResponse>()("ModelResponse", {
  parts: Schema.Array(ModelResponsePart),
  usage: Schema.optionalWith(RequestUsage, { default: () => RequestUsage.empty }),
  modelName: optional(Schema.String),
  providerName: optional(Schema.String),
  providerResponseId: optional(Schema.String),
  finishReason: optional(FinishReason),
  /** The provider's own finish reason, verbatim. */
  providerFinishReason: optional(Schema.String),
  timestamp: Schema.optionalWith(Schema.Date, { default: () => new Date() }),
  state: Schema.optionalWith(ResponseState, { default: () => "complete" as const }),
  providerDetails: optional(ProviderDetails),
  runId: optional(Schema.String),
  /** The base URL of the provider's API that answered, when the model records it. */
  providerUrl: optional(Schema.String),
  /** The conversation this response belongs to (see `RunOptions.conversationId`). */
  conversationId: optional(Schema.String),
  /** Application data kept with the message; never sent to the model. */
  metadata: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}) {
  /** All text parts joined (no separator), as most users want it. */
  get text(): string {
    let out = ""
    for (const p of this.parts) if (p._tag === "TextPart") out += p.content
    return out
  }
  /** The tool calls of this response, in emission order. */
  get toolCalls(): ReadonlyArray<ToolCallPart> {
    return this.parts.filter((p): p is ToolCallPart => p._tag === "ToolCallPart")
  }
  /** The thinking parts of this response. */
  get thinking(): ReadonlyArray<ThinkingPart> {
    return this.parts.filter((p): p is ThinkingPart => p._tag === "ThinkingPart")
  }
  /** The files the model generated in this response (`FilePart` contents), in order. */
  get files(): ReadonlyArray<BinaryContent> {
    const out: Array<BinaryContent> = []
    for (const p of this.parts) if (p._tag === "FilePart") out.push(p.content)
    return out
  }
  /** The images among `files`. */
  get images(): ReadonlyArray<BinaryContent> {
    return this.files.filter((f) => f.isImage)
  }
  /** The built-in (provider-executed) tool calls and returns of this response, in order. */
  get builtinToolParts(): ReadonlyArray<BuiltinToolCallPart | BuiltinToolReturnPart> {
    return this.parts.filter(
      (p): p is BuiltinToolCallPart | BuiltinToolReturnPart =>
        p._tag === "BuiltinToolCallPart" || p._tag === "BuiltinToolReturnPart"
    )
  }
}

/** A message of a conversation. */
export const ModelMessage = Schema.Union(ModelRequest, ModelResponse)
/** A message of a conversation: a request or a response. */
export type ModelMessage = typeof ModelMessage.Type

/** A conversation. */
export const ModelMessages = Schema.Array(ModelMessage)

/** A conversation as a JSON string. */
export const ModelMessagesFromJson = Schema.parseJson(ModelMessages)

/** Encodes a conversation to a JSON string. */
export const encodeJson = (messages: ReadonlyArray<ModelMessage>): string =>
  Schema.encodeSync(ModelMessagesFromJson)(messages)

/** Encodes a conversation to plain JSON values (for storage in a JSON column, say). */
export const encode = (messages: ReadonlyArray<ModelMessage>): ReadonlyArray<unknown> =>
  Schema.encodeSync(ModelMessages)(messages)

/** Decodes a conversation from a JSON string; a corrupt document fails with a `ParseError` naming the path. */
export const decodeJson = (
  json: string
): Effect.Effect<ReadonlyArray<ModelMessage>, ParseResult.ParseError> =>
  Schema.decodeUnknown(ModelMessagesFromJson)(json)

/** Decodes a conversation from plain JSON values. */
export const decode = (
  value: unknown
): Effect.Effect<ReadonlyArray<ModelMessage>, ParseResult.ParseError> =>
  Schema.decodeUnknown(ModelMessages)(value)

// ---------------------------------------------------------------------------
// Stream events
// ---------------------------------------------------------------------------

/** More text for a `TextPart`. */
export class TextPartDelta extends Schema.TaggedClass<TextPartDelta>()("TextPartDelta", {
  contentDelta: Schema.String
}) {}

/** More reasoning, or its signature. */
export class ThinkingPartDelta extends Schema.TaggedClass<ThinkingPartDelta>()(
  "ThinkingPartDelta",
  {
    contentDelta: optional(Schema.String),
    signatureDelta: optional(Schema.String)
  }
) {}

/** More of a tool call: usually an arguments fragment. */
export class ToolCallPartDelta extends Schema.TaggedClass<ToolCallPartDelta>()(
  "ToolCallPartDelta",
  {
    toolNameDelta: optional(Schema.String),
    argsDelta: optional(ToolArgs),
    toolCallId: optional(Schema.String)
  }
) {}

/** Any delta of a streamed part, as carried by `PartDeltaEvent`. */
export const ModelResponsePartDelta = Schema.Union(
  TextPartDelta,
  ThinkingPartDelta,
  ToolCallPartDelta
)
/** A delta of a streamed part: text, thinking or tool-call arguments. */
export type ModelResponsePartDelta = typeof ModelResponsePartDelta.Type

/** A new part starts at `index` of the response. */
export class PartStartEvent extends Schema.TaggedClass<PartStartEvent>()("PartStartEvent", {
  index: Schema.Number,
  part: ModelResponsePart
}) {}

/** The part at `index` grows. */
export class PartDeltaEvent extends Schema.TaggedClass<PartDeltaEvent>()("PartDeltaEvent", {
  index: Schema.Number,
  delta: ModelResponsePartDelta
}) {}

/** The part at `index` is complete; `part` is its final value. */
export class PartEndEvent extends Schema.TaggedClass<PartEndEvent>()("PartEndEvent", {
  index: Schema.Number,
  part: ModelResponsePart
}) {}

/** The streamed response is complete. Always the last event of a model stream. */
export class ResponseCompleteEvent extends Schema.TaggedClass<ResponseCompleteEvent>()(
  "ResponseCompleteEvent",
  { response: ModelResponse }
) {}

/** The events a model's stream emits. */
export const ModelResponseStreamEvent = Schema.Union(
  PartStartEvent,
  PartDeltaEvent,
  PartEndEvent,
  ResponseCompleteEvent
)
/** An event of a model's stream: part start / delta / end, then `ResponseCompleteEvent`. */
export type ModelResponseStreamEvent = typeof ModelResponseStreamEvent.Type

/**
 * The part that will become the run's result has started (text when text output is
 * allowed, or a call of an output tool). Emitted by the agent, not the model.
 */
export class FinalResultEvent extends Schema.TaggedClass<FinalResultEvent>()("FinalResultEvent", {
  toolName: optional(Schema.String),
  toolCallId: optional(Schema.String)
}) {}

/** The agent is about to call a function tool. */
export class FunctionToolCallEvent extends Schema.TaggedClass<FunctionToolCallEvent>()(
  "FunctionToolCallEvent",
  { part: ToolCallPart }
) {}

/** A function tool returned (or asked for a retry). */
export class FunctionToolResultEvent extends Schema.TaggedClass<FunctionToolResultEvent>()(
  "FunctionToolResultEvent",
  { result: Schema.Union(ToolReturnPart, RetryPromptPart) }
) {}

/**
 * Deferred tools became available to the model during the run: a tool return carried
 * `ToolReference`s (a tool search found them). Emitted right after that call's
 * `FunctionToolResultEvent`; `part.added` names the referenced tools in order (each once) and
 * `part.toolCallId` is the call that returned them (pydantic-ai's `ToolAvailabilityDeltaEvent`).
 */
export class ToolAvailabilityDeltaEvent extends Schema.TaggedClass<ToolAvailabilityDeltaEvent>()(
  "ToolAvailabilityDeltaEvent",
  { part: ToolAvailabilityDeltaPart }
) {}

/**
 * The `ToolAvailabilityDeltaEvent` of a tool result: the tools its `ToolReference`s name, or
 * `undefined` when it references none.
 */
export const toolAvailabilityDelta = (
  result: ToolReturnPart | RetryPromptPart
): ToolAvailabilityDeltaEvent | undefined => {
  if (result._tag !== "ToolReturnPart") return undefined
  const refs = result.toolReferences
  if (refs.length === 0) return undefined
  const added = [...new Set(refs.map((r) => r.toolName))]
  return new ToolAvailabilityDeltaEvent(
    { part: new ToolAvailabilityDeltaPart({ added, toolCallId: result.toolCallId }, true) },
    true
  )
}
// Output tool events ---------------------------------------------------------

/**
 * The agent is about to decode a call of an output tool (pydantic-ai's `OutputToolCallEvent`):
 * emitted for every output tool call of a response the agent handles, before its result event.
 */
export class OutputToolCallEvent extends Schema.TaggedClass<OutputToolCallEvent>()(
  "OutputToolCallEvent",
  { part: ToolCallPart }
) {}

/**
 * An output tool call was handled (pydantic-ai's `OutputToolResultEvent`): its decoding gave the
 * output (a `ToolReturnPart` "Final result processed."), was refused (a `RetryPromptPart`, counted
 * against the output retries), or was not used (a `ToolReturnPart` saying why). The same part
 * goes to the model in the next request, unless the run ends.
 */
export class OutputToolResultEvent extends Schema.TaggedClass<OutputToolResultEvent>()(
  "OutputToolResultEvent",
  { result: Schema.Union(ToolReturnPart, RetryPromptPart) }
) {}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** A request holding just a user prompt. */
export const userPrompt = (content: string | ReadonlyArray<UserContent>): ModelRequest =>
  new ModelRequest({ parts: [new UserPromptPart({ content })] })

/**
 * The conversation a history is in: the `conversationId` of its latest message that has one
 * (what a run continuing `history` takes when given no `conversationId`); `undefined` for none.
 */
export const conversationIdOf = (
  history: ReadonlyArray<ModelMessage> | undefined
): string | undefined => {
  if (history === undefined) return undefined
  for (let i = history.length - 1; i >= 0; i--) {
    const id = history[i]!.conversationId
    if (id !== undefined) return id
  }
  return undefined
}

/** The text of the last response of a conversation, or `undefined`. */
export const lastText = (messages: ReadonlyArray<ModelMessage>): string | undefined => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelResponse") return m.text
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Untrusted history
// ---------------------------------------------------------------------------

/** Options of `sanitize`: what an untrusted history may keep. */
export interface SanitizeOptions {
  /**
   * The URL schemes (without the colon) a file by URL may use; other files by URL are removed.
   * Default `["https"]`: no `http`, `file`, `gs`, `s3`… (inline `data:` files are
   * `BinaryContent`, not URLs, and are kept).
   */
  readonly allowedUrlSchemes?: ReadonlyArray<string>
  /** Keep system prompts and requests' `instructions` (default `false`: removed). */
  readonly keepSystemPrompts?: boolean
  /** Keep references to uploaded provider files (default `false`: removed). */
  readonly keepUploadedFiles?: boolean
}

/** What a tool return says of a file `sanitize` removed. */
export const removedFileText = "[file removed from an untrusted history]"

/**
 * Makes a history that comes from outside the server — a browser's chat, an API client — safe to
 * continue (pydantic-ai's `sanitize_messages`). Only the agent decides what the model is told
 * with authority, and a client must not make the server fetch or reveal anything:
 * - system prompts and requests' `instructions` are removed (`keepSystemPrompts` keeps them);
 * - files by URL whose scheme is not allowed (`allowedUrlSchemes`, default `https` only) are
 *   removed, and `forceDownload` is cleared on the others: the server never downloads a URL
 *   because a client asked;
 * - `UploadedFile`s are removed (they name files of the server's provider account;
 *   `keepUploadedFiles` keeps them);
 * - in user prompts a removed file is dropped; in a tool return it is replaced by
 *   `removedFileText`, so every tool call keeps its return. A request left with no part is
 *   dropped. Responses are kept as they are.
 *
 * @example
 * ```ts
 * const history = Messages.sanitize(yield* Messages.decodeJson(body))
 * ```
 */
export const sanitize = (
  messages: ReadonlyArray<ModelMessage>,
  options: SanitizeOptions = {}
): ReadonlyArray<ModelMessage> => {
  const schemes = new Set((options.allowedUrlSchemes ?? ["https"]).map((s) => s.toLowerCase()))
  const keepSystem = options.keepSystemPrompts === true
  const keepUploaded = options.keepUploadedFiles === true
  /** The file as it may stay, or `undefined` when it goes. */
  const file = <F extends FileContent>(f: F): F | undefined => {
    if (f._tag === "UploadedFile") return keepUploaded ? f : undefined
    if (f._tag === "BinaryContent") return f
    const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(f.url)?.[1]?.toLowerCase()
    if (scheme === undefined || !schemes.has(scheme)) return undefined
    if (f.forceDownload === undefined) return f
    const { forceDownload: _, ...rest } = f
    return new (f.constructor as new (fields: typeof rest) => F)(rest)
  }
  const userItem = (c: UserContent): UserContent | undefined =>
    typeof c === "string" || c._tag === "CachePoint" || c._tag === "TextContent" ? c : file(c)
  const returnItem = (c: unknown): unknown => (isFileContent(c) ? (file(c) ?? removedFileText) : c)
  const part = (p: ModelRequestPart): ModelRequestPart | undefined => {
    switch (p._tag) {
      case "SystemPromptPart":
        return keepSystem ? p : undefined
      case "UserPromptPart": {
        if (typeof p.content === "string") return p
        const content: Array<UserContent> = []
        let changed = false
        for (const c of p.content) {
          const kept = userItem(c)
          if (kept !== c) changed = true
          if (kept !== undefined) content.push(kept)
        }
        if (!changed) return p
        return content.length === 0 ? undefined : new UserPromptPart({ content }, true)
      }
      case "ToolReturnPart": {
        const c = p.content
        const content = Array.isArray(c) ? c.map(returnItem) : returnItem(c)
        const changed = Array.isArray(c)
          ? (content as Array<unknown>).some((x, i) => x !== c[i])
          : content !== c
        return changed ? new ToolReturnPart({ ...p, content }, true) : p
      }
      default:
        return p
    }
  }
  const out: Array<ModelMessage> = []
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      out.push(m)
      continue
    }
    const parts: Array<ModelRequestPart> = []
    for (const p of m.parts) {
      const kept = part(p)
      if (kept !== undefined) parts.push(kept)
    }
    if (parts.length === 0) continue
    const dropInstructions = !keepSystem && m.instructions !== undefined
    const samePartsKept = parts.length === m.parts.length && parts.every((p, i) => p === m.parts[i])
    if (samePartsKept && !dropInstructions) {
      out.push(m)
      continue
    }
    const { instructions, ...fields } = m
    out.push(
      new ModelRequest(
        { ...fields, parts, ...(keepSystem && instructions !== undefined ? { instructions } : {}) },
        true
      )
    )
  }
  return out
}

/**
 * A maker of instances of a message or usage class, `unvalidated(C)`, for code that builds many
 * of them from data it trusts (a provider's decoder, a `FunctionModel`):
 * `unvalidated(C)(props)` is `new C(props, true)` — the same prototype, fields, key order and
 * defaults, no validation — without the Schema constructor's per-call work (a copy of the
 * props, and a new hidden class for each default it fills in: ≈ 1 µs per default, several µs a
 * message); `.copy(from, changes)` is `new C({ ...from, ...changes }, true)` without the
 * intermediate object. Make the maker once (at module level) and call it per message.
 *
 * @example
 * ```ts
 * import { Messages } from "@agentfx/core"
 *
 * const makeResponse = Messages.unvalidated(Messages.ModelResponse)
 * const makeText = Messages.unvalidated(Messages.TextPart)
 * const response = makeResponse({ parts: [makeText({ content: "Hello" })], modelName: "mine" })
 * const labelled = makeResponse.copy(response, { runId: "run-1" })
 * ```
 *
 * @since 0.1.0
 */
export interface Unvalidated<P, A> {
  /** `new C(props, true)` */
  (props: P): A
  /** `new C({ ...from, ...changes }, true)` */
  readonly copy: (from: A, changes: Partial<P>) => A
}

/**
 * See `Unvalidated`: `new C(props, true)` for a message or usage class `C`, made fast.
 *
 * @since 0.1.0
 */
export const unvalidated: <P, A>(klass: construct.SchemaClass<P, A>) => Unvalidated<P, A> =
  construct.unvalidated
