/**
 * AG-UI `RunAgentInput.messages` → agentfx message history: user / system / developer text,
 * assistant text with tool calls, the model's reasoning and a provider's compactions (reasoning
 * messages), tool results (named after the call they answer); each response's parts back in the
 * order the encoder numbered them.
 */
import { AgentError, DeferredTools, Messages } from "@agentfx/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { approvalReason, fileActivityType, resultReason } from "./agUi.js"
import type { DecodeIssue } from "./aiSdkDecode.js"
import { compactionPartOf, dataUrlContent, thinkingPartOf, toolContentOfJson } from "./common.js"

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

/** Where a media part's bytes are (`InputContentSource`: inline, by URL, or at the provider). */
const Source = Schema.Struct(
  {
    type: Schema.String,
    value: Schema.String,
    mimeType: optional(Schema.String),
    provider: optional(Schema.String)
  },
  { key: Schema.String, value: Schema.Unknown }
)
/** A content part (`InputContent`): text, or an image / audio / video / document by its source. */
const ContentPart = Schema.Struct(
  { type: Schema.String, text: optional(Schema.String), source: optional(Source) },
  { key: Schema.String, value: Schema.Unknown }
)
const Content = Schema.Union(Schema.String, Schema.Array(ContentPart))
const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const ToolCall = Schema.Struct({
  id: Schema.String,
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String }),
  metadata: optional(Metadata)
})

/**
 * Where the encoder said a part was (`metadata.agentfx.position`, or `position` in a file
 * activity's content): its response and its index there; `undefined` when it said nothing.
 */
interface Position {
  readonly response: string
  readonly index: number
}
const positionOf = (holder: unknown): Position | undefined => {
  if (typeof holder !== "object" || holder === null) return undefined
  const p = (holder as { position?: unknown }).position
  if (typeof p !== "object" || p === null) return undefined
  const { response, index } = p as { response?: unknown; index?: unknown }
  return typeof response === "string" && Number.isSafeInteger(index) && (index as number) >= 0
    ? { response, index: index as number }
    : undefined
}
/** The position in `metadata.agentfx` of a message or tool call. */
const positionInMetadata = (metadata: typeof Metadata.Type | undefined) =>
  positionOf(metadata?.agentfx)

/** The provider of a built-in tool call: `metadata.agentfx` of the encoder's events, kept by the client. */
const builtinProvider = (metadata: typeof Metadata.Type | undefined): string | undefined => {
  const agentfx = metadata?.agentfx as Record<string, unknown> | undefined
  return agentfx?.providerExecuted === true && typeof agentfx.providerName === "string"
    ? agentfx.providerName
    : undefined
}

/** A built-in tool's rendered return, back to its JSON when it is JSON. */
const builtinContent = (content: unknown): unknown => {
  if (typeof content !== "string") return content
  try {
    return JSON.parse(content)
  } catch {
    return content
  }
}
/**
 * A tool message's content: the JSON the encoder kept in `metadata.agentfx.content` when the
 * return named found tools (its references come back), else the text.
 */
const toolReturnContent = (content: unknown, metadata: typeof Metadata.Type | undefined) => {
  const agentfx = metadata?.agentfx as Record<string, unknown> | undefined
  return agentfx !== undefined && "content" in agentfx
    ? toolContentOfJson(agentfx.content)
    : content
}

const Message = Schema.Union(
  Schema.Struct({
    role: Schema.Literal("user", "system", "developer"),
    content: Content
  }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: optional(Schema.NullOr(Schema.String)),
    toolCalls: optional(Schema.Array(ToolCall)),
    metadata: optional(Metadata)
  }),
  Schema.Struct({
    role: Schema.Literal("tool"),
    toolCallId: Schema.String,
    content: Content,
    error: optional(Schema.String),
    metadata: optional(Metadata)
  }),
  Schema.Struct({
    role: Schema.Literal("activity"),
    activityType: Schema.String,
    content: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  }),
  Schema.Struct({
    role: Schema.Literal("reasoning"),
    content: Schema.String,
    encryptedValue: optional(Schema.String),
    metadata: optional(Metadata)
  }),
  Schema.Struct({ role: Schema.Literal("activity") })
)

/**
 * A reasoning message as the thinking part it was: its text, the provider's encrypted value
 * (`REASONING_ENCRYPTED_VALUE`, the part's `signature`) and what the encoder put in
 * `metadata.agentfx`; `undefined` for one with nothing to send back.
 */
const thinkingOf = (
  content: string,
  encryptedValue: string | undefined,
  metadata: typeof Metadata.Type | undefined
): Messages.ThinkingPart | undefined => {
  const agentfx: unknown = metadata?.agentfx
  const id = (agentfx as { id?: unknown } | undefined)?.id
  if (content === "" && encryptedValue === undefined && typeof id !== "string") return undefined
  return thinkingPartOf(content, encryptedValue, agentfx)
}

/**
 * A generated file our encoder sent as an activity (`agentfx_file`, a `data:` URL): the
 * `FilePart` it stands for, or `undefined` for any other activity.
 */
const fileOfActivity = (
  activityType: string,
  content: Readonly<Record<string, unknown>>
): Messages.FilePart | undefined => {
  if (activityType !== fileActivityType || typeof content.url !== "string") return undefined
  const data = /^data:([^;,]*);base64,(.*)$/s.exec(content.url)
  if (data === null) return undefined
  const mediaType = typeof content.mediaType === "string" ? content.mediaType : data[1]!
  return new Messages.FilePart({
    content: new Messages.BinaryContent({
      data: new Uint8Array(Buffer.from(data[2]!, "base64")),
      mediaType
    }),
    ...(typeof content.id === "string" ? { id: content.id } : {}),
    ...(typeof content.providerName === "string" ? { providerName: content.providerName } : {})
  })
}

/** A message a sub-agent wrote (marked with its `subagentRunId` by the client). */
const isSubAgentMessage = (message: unknown): boolean =>
  typeof message === "object" &&
  message !== null &&
  typeof (message as { subagentRunId?: unknown }).subagentRunId === "string"

const text = (content: typeof Content.Type): string =>
  typeof content === "string"
    ? content
    : content.flatMap((p) => (p.type === "text" && p.text !== undefined ? [p.text] : [])).join("")

const urlClasses = {
  image: Messages.ImageUrl,
  audio: Messages.AudioUrl,
  video: Messages.VideoUrl,
  document: Messages.DocumentUrl
} as const

/**
 * A media part as agentfx content: inline data → `BinaryContent`, a URL → the URL type of its
 * kind (a `data:` URL → `BinaryContent`), a provider's file → `UploadedFile`; `undefined` for a
 * part of another type or a source it cannot name.
 */
const mediaOf = (part: typeof ContentPart.Type): Messages.UserContent | undefined => {
  const kind = part.type
  const source = part.source
  if (source === undefined || !Object.hasOwn(urlClasses, kind)) return undefined
  const mediaType = source.mimeType
  if (source.type === "data") {
    return new Messages.BinaryContent({
      data: new Uint8Array(Buffer.from(source.value, "base64")),
      mediaType: mediaType ?? "application/octet-stream"
    })
  }
  if (source.type === "url") {
    const inline = dataUrlContent(source.value)
    if (inline !== undefined) {
      return new Messages.BinaryContent({
        data: inline.data,
        mediaType: mediaType ?? (inline.mediaType || "application/octet-stream")
      })
    }
    const Url = urlClasses[kind as keyof typeof urlClasses]
    return new Url({ url: source.value, ...(mediaType !== undefined ? { mediaType } : {}) })
  }
  if (source.type === "file" && source.provider !== undefined) {
    return new Messages.UploadedFile({
      fileId: source.value,
      providerName: source.provider,
      ...(mediaType !== undefined ? { mediaType } : {})
    })
  }
  return undefined
}

/**
 * A user (or tool) message's content: its text as one string, or — when it has media parts —
 * its text and files in order.
 */
const userContent = (content: typeof Content.Type): string | Array<Messages.UserContent> => {
  if (typeof content === "string") return content
  const out: Array<Messages.UserContent> = []
  let media = false
  for (const p of content) {
    if (p.type === "text") {
      if (p.text !== undefined) out.push(p.text)
      continue
    }
    const file = mediaOf(p)
    if (file !== undefined) {
      out.push(file)
      media = true
    }
  }
  return media ? out : text(content)
}

/** A response being decoded: its parts, each with its index in the response when it came with one. */
interface Draft {
  readonly _tag: "Draft"
  readonly parts: Array<Messages.ModelResponsePart>
  readonly indices: Array<number | undefined>
  /** the response its parts' positions name */
  response: string | undefined
}

/**
 * A decoded response. When every part came with its index (what the encoder gives), the parts
 * are in that order — a client keeps the reasoning apart from the assistant message and the tool
 * results inside the response, and a provider checks the order of thinking blocks. Otherwise
 * (an older client, messages written by hand) they are in the order of the messages.
 */
const responseOf = (draft: Draft): Messages.ModelResponse => {
  const { parts, indices } = draft
  if (indices.some((i) => i === undefined)) return new Messages.ModelResponse({ parts })
  const order = parts.map((_, i) => i).sort((a, b) => indices[a]! - indices[b]! || a - b)
  return new Messages.ModelResponse({ parts: order.map((i) => parts[i]!) })
}

/** The history of AG-UI messages, or the first problem found. */
export const decodeAgUiMessages = (
  value: unknown
): Either.Either<ReadonlyArray<Messages.ModelMessage>, DecodeIssue> => {
  const list = Schema.decodeUnknownEither(Schema.Array(Schema.Unknown))(value)
  if (Either.isLeft(list)) {
    return Either.left({
      path: "messages",
      message: ParseResult.TreeFormatter.formatErrorSync(list.left)
    })
  }
  const out: Array<Messages.ModelRequest | Draft> = []
  const toolNames = new Map<string, string>()
  /** built-in call id → its provider and the response holding it */
  const builtins = new Map<string, { readonly providerName: string; readonly response: Draft }>()
  let request: Array<Messages.ModelRequestPart> = []
  const flush = () => {
    if (request.length > 0) out.push(new Messages.ModelRequest({ parts: request }))
    request = []
  }
  /** The last response, until a user or system message: later parts of it may still come. */
  let open: Draft | undefined
  /**
   * The response a part at `position` belongs to. A part of the last response (by its position)
   * joins it across the tool results after it: a client puts a call's results right after the
   * message holding the call, before the reasoning and text that followed the call. Otherwise a
   * part joins the response the messages so far end with (a client keeps one response in several
   * messages) unless its position names another response, or starts a response of its own.
   */
  const responseFor = (position: Position | undefined): Draft => {
    if (position !== undefined && open?.response === position.response) return open
    flush()
    const last = out.at(-1)
    if (
      last?._tag === "Draft" &&
      (position === undefined || last.response === undefined || last.response === position.response)
    ) {
      last.response ??= position?.response
      return last
    }
    const draft: Draft = { _tag: "Draft", parts: [], indices: [], response: position?.response }
    out.push(draft)
    open = draft
    return draft
  }
  const add = (
    response: Draft,
    part: Messages.ModelResponsePart,
    position: Position | undefined
  ) => {
    response.parts.push(part)
    response.indices.push(position?.index)
  }
  for (let i = 0; i < list.right.length; i++) {
    // A sub-agent's own messages (an AG-UI client keeps the events carrying a `subagentRunId`
    // as messages marked with it): the sub-agent's conversation, not this agent's — what it
    // gave back is the tool message answering the parent's call.
    if (isSubAgentMessage(list.right[i])) continue
    const decoded = Schema.decodeUnknownEither(Message)(list.right[i])
    if (Either.isLeft(decoded)) {
      return Either.left({
        path: `messages[${i}]`,
        message: ParseResult.TreeFormatter.formatErrorSync(decoded.left)
      })
    }
    const m = decoded.right
    switch (m.role) {
      case "system":
      case "developer":
        open = undefined
        request.push(new Messages.SystemPromptPart({ content: text(m.content) }))
        break
      case "user":
        open = undefined
        request.push(new Messages.UserPromptPart({ content: userContent(m.content) }))
        flush()
        break
      case "tool": {
        const toolName = toolNames.get(m.toolCallId) ?? "unknown"
        // text, or the text and files a tool gave (one file alone is the return itself)
        const parts = userContent(m.content)
        const content = Array.isArray(parts) && parts.length === 1 ? parts[0]! : parts
        const builtin = builtins.get(m.toolCallId)
        if (builtin !== undefined) {
          // a built-in tool's return belongs to the response that holds its call
          add(
            builtin.response,
            new Messages.BuiltinToolReturnPart({
              toolName,
              toolCallId: m.toolCallId,
              content: builtinContent(content),
              providerName: builtin.providerName
            }),
            positionInMetadata(m.metadata)
          )
          break
        }
        request.push(
          m.error !== undefined
            ? new Messages.RetryPromptPart({
                content: m.error,
                toolName,
                toolCallId: m.toolCallId
              })
            : new Messages.ToolReturnPart({
                toolName,
                toolCallId: m.toolCallId,
                content: toolReturnContent(content, m.metadata)
              })
        )
        break
      }
      case "assistant": {
        const calls = m.toolCalls ?? []
        const hasText = m.content !== undefined && m.content !== null && m.content !== ""
        if (!hasText && calls.length === 0) {
          flush()
          break
        }
        // the message's metadata is its text's (a client folds the text's events into it)
        const textPosition = hasText ? positionInMetadata(m.metadata) : undefined
        const callPositions = calls.map((c) => positionInMetadata(c.metadata))
        // An assistant message right after another is the same response (a client may keep a
        // response's text and its tool calls as two messages): its parts join that response.
        const response = responseFor(textPosition ?? callPositions.find((p) => p !== undefined))
        if (hasText) add(response, new Messages.TextPart({ content: m.content! }), textPosition)
        calls.forEach((c, j) => {
          toolNames.set(c.id, c.function.name)
          const providerName = builtinProvider(c.metadata)
          if (providerName !== undefined) {
            builtins.set(c.id, { providerName, response })
          }
          add(
            response,
            providerName !== undefined
              ? new Messages.BuiltinToolCallPart({
                  toolName: c.function.name,
                  toolCallId: c.id,
                  args: c.function.arguments,
                  providerName
                })
              : new Messages.ToolCallPart({
                  toolName: c.function.name,
                  toolCallId: c.id,
                  args: c.function.arguments
                }),
            callPositions[j]
          )
        })
        break
      }
      case "activity": {
        // a generated file: part of the assistant's response before it (or its own)
        if (!("activityType" in m)) break
        const file = fileOfActivity(m.activityType, m.content)
        if (file !== undefined) {
          const position = positionOf(m.content)
          add(responseFor(position), file, position)
        }
        break
      }
      case "reasoning": {
        // The model's thinking, which a client keeps as a message before the response's
        // assistant message: it starts that response (which the assistant message joins), or
        // joins the response before it — or, with its position, goes back to its place in its
        // response. Providers need it back, signed, in order, with the tool calls.
        // A compaction the encoder sent as a reasoning message (`compaction: true`) is that
        // compaction again, in its place in its response.
        const agentfx = m.metadata?.agentfx as { compaction?: unknown } | undefined
        const part =
          agentfx?.compaction === true
            ? compactionPartOf(m.content, m.encryptedValue, agentfx)
            : thinkingOf(m.content, m.encryptedValue, m.metadata)
        if (part !== undefined) {
          const position = positionInMetadata(m.metadata)
          add(responseFor(position), part, position)
        }
        break
      }
      default:
        break
    }
  }
  flush()
  return Either.right(out.map((m) => (m._tag === "Draft" ? responseOf(m) : m)))
}

const ResumeEntry = Schema.Struct({
  interruptId: Schema.String,
  status: Schema.Literal("resolved", "cancelled"),
  payload: optional(Schema.Unknown)
})
const ApprovalPayload = Schema.Struct({
  approved: Schema.Boolean,
  reason: optional(Schema.String),
  editedArgs: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
const ResultPayload = Schema.Union(
  Schema.Struct({ error: Schema.String }),
  Schema.Struct({ result: Schema.Unknown })
)

/**
 * `RunAgentInput.resume` (answers to the interrupts of a run stopped on deferred calls) as
 * `DeferredToolResults`; `undefined` when there is none. An approval interrupt takes
 * `{ approved, reason?, editedArgs? }` (cancelled = denied); a result interrupt takes
 * `{ result }` or `{ error }` (the model is asked to try again; cancelled = an error too).
 */
export const decodeAgUiResume = (
  value: unknown
): Either.Either<DeferredTools.DeferredToolResults | undefined, DecodeIssue> => {
  if (value === undefined || value === null) return Either.right(undefined)
  const fail = (path: string, e: ParseResult.ParseError) =>
    Either.left({ path, message: ParseResult.TreeFormatter.formatErrorSync(e) })
  const list = Schema.decodeUnknownEither(Schema.Array(ResumeEntry))(value)
  if (Either.isLeft(list)) return fail("resume", list.left)
  if (list.right.length === 0) return Either.right(undefined)
  const approvals: Record<string, DeferredTools.ApprovalResult> = {}
  const calls: Record<string, DeferredTools.CallResult> = {}
  for (let i = 0; i < list.right.length; i++) {
    const entry = list.right[i]!
    const path = `resume[${i}]`
    const colon = entry.interruptId.indexOf(":")
    const reason = entry.interruptId.slice(0, colon)
    const id = entry.interruptId.slice(colon + 1)
    if (colon < 0 || (reason !== approvalReason && reason !== resultReason)) {
      return Either.left({
        path: `${path}.interruptId`,
        message: `'${entry.interruptId}' is not an interrupt of this agent (expected '${approvalReason}:<toolCallId>' or '${resultReason}:<toolCallId>')`
      })
    }
    if (reason === approvalReason) {
      if (entry.status === "cancelled") {
        approvals[id] = new DeferredTools.ToolDenied({})
        continue
      }
      const p = Schema.decodeUnknownEither(ApprovalPayload)(entry.payload)
      if (Either.isLeft(p)) return fail(`${path}.payload`, p.left)
      const { approved, reason: why, editedArgs } = p.right
      approvals[id] = !approved
        ? new DeferredTools.ToolDenied(why !== undefined ? { message: why } : {})
        : editedArgs !== undefined
          ? new DeferredTools.ToolApproved({ overrideArgs: editedArgs })
          : true
    } else {
      if (entry.status === "cancelled") {
        calls[id] = new AgentError.ModelRetry({ reason: "The user cancelled this tool call." })
        continue
      }
      const p = Schema.decodeUnknownEither(ResultPayload)(entry.payload)
      if (Either.isLeft(p)) return fail(`${path}.payload`, p.left)
      calls[id] =
        "error" in p.right ? new AgentError.ModelRetry({ reason: p.right.error }) : p.right.result
    }
  }
  return Either.right(new DeferredTools.DeferredToolResults({ approvals, calls }))
}
