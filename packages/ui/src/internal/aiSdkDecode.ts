/**
 * AI SDK UI messages (what `useChat` posts) → agentfx message history. Each part is checked
 * against a small Schema of the fields we use; unknown part types (data, sources) are skipped.
 */
import { AgentError, DeferredTools, Messages } from "@agentfx/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import {
  compactionDataType,
  compactionPartOf,
  dataUrlContent,
  thinkingPartOf,
  toolContentOfJson,
  urlContent
} from "./common.js"

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })
const Metadata = Schema.Record({ key: Schema.String, value: Schema.Unknown })

const TextPart = Schema.Struct({ type: Schema.Literal("text"), text: Schema.String })
const ReasoningPart = Schema.Struct({
  type: Schema.Literal("reasoning"),
  text: Schema.String,
  providerMetadata: optional(Metadata)
})
const FilePart = Schema.Struct({
  type: Schema.Literal("file"),
  mediaType: Schema.String,
  url: Schema.String,
  filename: optional(Schema.String),
  providerMetadata: optional(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
const ToolPart = Schema.Struct({
  type: Schema.String,
  toolName: optional(Schema.String),
  toolCallId: Schema.String,
  state: Schema.Literal(
    "input-streaming",
    "input-available",
    "approval-requested",
    "approval-responded",
    "output-available",
    "output-error",
    "output-denied"
  ),
  input: optional(Schema.Unknown),
  rawInput: optional(Schema.Unknown),
  output: optional(Schema.Unknown),
  errorText: optional(Schema.String),
  toolMetadata: optional(Metadata),
  providerExecuted: optional(Schema.Boolean),
  callProviderMetadata: optional(Metadata),
  preliminary: optional(Schema.Boolean),
  approval: optional(
    Schema.Struct({
      id: Schema.String,
      approved: optional(Schema.Boolean),
      reason: optional(Schema.String)
    })
  )
})

/** A compaction's data part (see the encoder): its fields are read by `compactionPartOf`. */
const CompactionData = Schema.Struct({
  type: Schema.String,
  data: Schema.Struct(
    { content: optional(Schema.String), encryptedContent: optional(Schema.String) },
    { key: Schema.String, value: Schema.Unknown }
  )
})

/** The data part a run stopped on deferred calls sends (see the encoder). */
const DeferredData = Schema.Struct({
  type: Schema.String,
  data: Schema.Struct({ calls: Schema.Array(Schema.String) })
})

/** The envelope of one UI message; its parts are checked one by one. */
const UiMessage = Schema.Struct({
  id: optional(Schema.String),
  role: Schema.Literal("system", "user", "assistant"),
  parts: Schema.Array(
    Schema.Struct({ type: Schema.String }, { key: Schema.String, value: Schema.Unknown })
  )
})

/** What went wrong, and where (`messages[2].parts[0]`). */
export interface DecodeIssue {
  readonly path: string
  readonly message: string
}

const decodeWith = <A, I>(
  schema: Schema.Schema<A, I>,
  value: unknown,
  path: string
): Either.Either<A, DecodeIssue> =>
  Either.mapLeft(Schema.decodeUnknownEither(schema)(value), (e) => ({
    path,
    message: ParseResult.TreeFormatter.formatErrorSync(e)
  }))

const outcomes = new Set(["failed", "denied", "interrupted"])

/** A file part as agentfx user content: `data:` URLs become bytes, others a URL by media type. */
const fileContent = (part: typeof FilePart.Type): Messages.UserContent => {
  const identifier = part.filename !== undefined ? { identifier: part.filename } : {}
  // `data:[<media type>][;<parameter>…][;base64],<data>` (parameters such as `charset` included)
  const inline = dataUrlContent(part.url)
  if (inline !== undefined) {
    return new Messages.BinaryContent({
      data: inline.data,
      mediaType: part.mediaType,
      ...identifier
    })
  }
  return urlContent({ url: part.url, mediaType: part.mediaType, ...identifier })
}

const toolArgs = (part: typeof ToolPart.Type): Messages.ToolArgs => {
  const input = part.input ?? part.rawInput
  if (input === undefined || input === null) return {}
  if (typeof input === "string") return input
  if (typeof input === "object" && !Array.isArray(input)) return input as Record<string, unknown>
  return JSON.stringify(input)
}

/** A conversation of UI messages as agentfx history, and the deferred results it answers. */
export interface Conversation {
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  /**
   * When the last UI message is an assistant message whose tool calls were answered on the
   * client (`approval-responded`, or an output for a call listed in the message's last
   * `data-deferred-tool-requests` part): those answers, to resume the stopped run with.
   */
  readonly deferredToolResults: DeferredTools.DeferredToolResults | undefined
}

/** The history of a list of UI messages, or the first problem found. */
export const decodeUiMessages = (
  value: unknown
): Either.Either<ReadonlyArray<Messages.ModelMessage>, DecodeIssue> =>
  Either.map(decodeUiConversation(value), (c) => c.messages)

/** The ids of the external calls the last `data-deferred-tool-requests` part lists. */
const externalCalls = (
  parts: ReadonlyArray<{ readonly type: string }>,
  path: string
): Either.Either<ReadonlySet<string>, DecodeIssue> => {
  for (let j = parts.length - 1; j >= 0; j--) {
    if (parts[j]!.type !== deferredDataType) continue
    return Either.map(
      decodeWith(DeferredData, parts[j], `${path}.parts[${j}]`),
      (d) => new Set(d.data.calls)
    )
  }
  return Either.right(new Set())
}

/** The data part type listing a stopped run's deferred calls. */
export const deferredDataType = "data-deferred-tool-requests"

/** The history of a list of UI messages and the deferred results it answers. */
export const decodeUiConversation = (value: unknown): Either.Either<Conversation, DecodeIssue> => {
  const list = decodeWith(Schema.Array(Schema.Unknown), value, "messages")
  if (Either.isLeft(list)) return Either.left(list.left)
  const approvals: Record<string, DeferredTools.ApprovalResult> = {}
  const calls: Record<string, DeferredTools.CallResult> = {}
  let answered = false
  const out: Array<Messages.ModelMessage> = []
  let system: Array<Messages.SystemPromptPart> = []
  for (let i = 0; i < list.right.length; i++) {
    const msgPath = `messages[${i}]`
    const message = decodeWith(UiMessage, list.right[i], msgPath)
    if (Either.isLeft(message)) return Either.left(message.left)
    const { role, parts } = message.right
    if (role === "system") {
      for (let j = 0; j < parts.length; j++) {
        const text = decodeWith(TextPart, parts[j], `${msgPath}.parts[${j}]`)
        if (Either.isLeft(text)) return Either.left(text.left)
        system.push(new Messages.SystemPromptPart({ content: text.right.text }))
      }
      continue
    }
    if (role === "user") {
      const content: Array<Messages.UserContent> = []
      for (let j = 0; j < parts.length; j++) {
        const path = `${msgPath}.parts[${j}]`
        const type = parts[j]!.type
        if (type === "text") {
          const text = decodeWith(TextPart, parts[j], path)
          if (Either.isLeft(text)) return Either.left(text.left)
          content.push(text.right.text)
        } else if (type === "file") {
          const file = decodeWith(FilePart, parts[j], path)
          if (Either.isLeft(file)) return Either.left(file.left)
          content.push(fileContent(file.right))
        }
      }
      const prompt = content.length === 1 && typeof content[0] === "string" ? content[0] : content
      out.push(
        new Messages.ModelRequest({
          parts: [...system, new Messages.UserPromptPart({ content: prompt })]
        })
      )
      system = []
      continue
    }
    // assistant: one response per step, then a request with the step's tool returns. Without
    // step markers (other producers), text after answered tool calls starts a new response.
    if (system.length > 0) {
      out.push(new Messages.ModelRequest({ parts: system }))
      system = []
    }
    // only the last message can answer deferred calls: a new user message abandons them
    const last = i === list.right.length - 1
    let external: ReadonlySet<string> = new Set()
    if (last) {
      const e = externalCalls(parts, msgPath)
      if (Either.isLeft(e)) return Either.left(e.left)
      external = e.right
    }
    let response: Array<Messages.ModelResponsePart> = []
    let returns: Array<Messages.ModelRequestPart> = []
    const flush = () => {
      if (response.length > 0) out.push(new Messages.ModelResponse({ parts: response }))
      if (returns.length > 0) out.push(new Messages.ModelRequest({ parts: returns }))
      response = []
      returns = []
    }
    for (let j = 0; j < parts.length; j++) {
      const path = `${msgPath}.parts[${j}]`
      const type = parts[j]!.type
      if (type === "step-start") {
        flush()
      } else if (type === "text") {
        const text = decodeWith(TextPart, parts[j], path)
        if (Either.isLeft(text)) return Either.left(text.left)
        if (returns.length > 0) flush()
        response.push(new Messages.TextPart({ content: text.right.text }))
      } else if (type === "reasoning") {
        const r = decodeWith(ReasoningPart, parts[j], path)
        if (Either.isLeft(r)) return Either.left(r.left)
        if (returns.length > 0) flush()
        const meta: unknown = r.right.providerMetadata?.agentfx
        const signature = (meta as { signature?: unknown } | undefined)?.signature
        response.push(
          thinkingPartOf(r.right.text, typeof signature === "string" ? signature : undefined, meta)
        )
      } else if (type === "dynamic-tool" || type.startsWith("tool-")) {
        const t = decodeWith(ToolPart, parts[j], path)
        if (Either.isLeft(t)) return Either.left(t.left)
        const part = t.right
        const toolName = type === "dynamic-tool" ? part.toolName : type.slice("tool-".length)
        if (toolName === undefined || toolName === "") {
          return Either.left({ path, message: "a dynamic-tool part needs a toolName" })
        }
        const ids = { toolName, toolCallId: part.toolCallId }
        if (part.providerExecuted === true) {
          // a built-in tool the provider ran: call and return stay in the response
          if (returns.length > 0) flush()
          const meta = part.callProviderMetadata?.agentfx as Record<string, unknown> | undefined
          const providerName = typeof meta?.providerName === "string" ? meta.providerName : ""
          response.push(
            new Messages.BuiltinToolCallPart({ ...ids, args: toolArgs(part), providerName })
          )
          if (part.state === "output-available" && part.preliminary !== true) {
            response.push(
              new Messages.BuiltinToolReturnPart({
                ...ids,
                content: part.output ?? null,
                providerName
              })
            )
          }
          continue
        }
        response.push(new Messages.ToolCallPart({ ...ids, args: toolArgs(part) }))
        if (last && part.state === "approval-responded" && part.approval !== undefined) {
          const { approved, reason } = part.approval
          approvals[part.toolCallId] =
            approved === true
              ? true
              : new DeferredTools.ToolDenied(reason !== undefined ? { message: reason } : {})
          answered = true
          continue
        }
        if (last && external.has(part.toolCallId)) {
          if (part.state === "output-available") {
            calls[part.toolCallId] = toolContentOfJson(part.output ?? null)
            answered = true
          } else if (part.state === "output-error") {
            calls[part.toolCallId] = new AgentError.ModelRetry({ reason: part.errorText ?? "" })
            answered = true
          }
          continue
        }
        // a preliminary output (a sub-agent's message so far) is not the tool's result
        switch (part.preliminary === true ? "input-available" : part.state) {
          case "output-available":
            returns.push(
              new Messages.ToolReturnPart({
                ...ids,
                content: toolContentOfJson(part.output ?? null)
              })
            )
            break
          case "output-error": {
            const outcome = part.toolMetadata?.outcome
            const errorText = part.errorText ?? ""
            returns.push(
              typeof outcome === "string" && outcomes.has(outcome)
                ? new Messages.ToolReturnPart({
                    ...ids,
                    content: errorText,
                    outcome: outcome as Messages.ToolOutcome
                  })
                : new Messages.RetryPromptPart({ ...ids, content: errorText })
            )
            break
          }
          case "output-denied":
            // the denial's reason is what the model was told (`ToolDenied.message`)
            returns.push(
              new Messages.ToolReturnPart({
                ...ids,
                content: part.approval?.reason ?? DeferredTools.deniedMessage,
                outcome: "denied"
              })
            )
            break
          default:
            // no output yet: the run's history repair answers it as interrupted
            break
        }
      } else if (type === compactionDataType) {
        // a provider's compaction of the history, in its place in the response
        const c = decodeWith(CompactionData, parts[j], path)
        if (Either.isLeft(c)) return Either.left(c.left)
        const part = compactionPartOf(
          c.right.data.content,
          c.right.data.encryptedContent,
          c.right.data
        )
        if (part === undefined) {
          return Either.left({ path: `${path}.data`, message: "a compaction needs a providerName" })
        }
        if (returns.length > 0) flush()
        response.push(part)
      } else if (type === "file") {
        // a file the model generated (a `data:` URL): back into the response as a FilePart
        const f = decodeWith(FilePart, parts[j], path)
        if (Either.isLeft(f)) return Either.left(f.left)
        const content = fileContent(f.right)
        if (content instanceof Messages.BinaryContent) {
          if (returns.length > 0) flush()
          const meta = f.right.providerMetadata?.agentfx as Record<string, unknown> | undefined
          const details = meta?.providerDetails
          response.push(
            new Messages.FilePart({
              content,
              ...(typeof meta?.id === "string" ? { id: meta.id } : {}),
              ...(typeof meta?.providerName === "string"
                ? { providerName: meta.providerName }
                : {}),
              ...(details !== null && typeof details === "object" && !Array.isArray(details)
                ? { providerDetails: details as Record<string, unknown> }
                : {})
            })
          )
        }
      }
      // other data-*, source-* parts and files by URL of the assistant: application data, not
      // model history
    }
    flush()
  }
  if (system.length > 0) out.push(new Messages.ModelRequest({ parts: system }))
  return Either.right({
    messages: out,
    deferredToolResults: answered
      ? new DeferredTools.DeferredToolResults({ approvals, calls })
      : undefined
  })
}
