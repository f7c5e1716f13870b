/**
 * AG-UI `RunAgentInput.messages` → agentfx message history: user / system / developer text,
 * assistant text with tool calls, tool results (named after the call they answer).
 */
import { Messages } from "@agentfx/core"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { DecodeIssue } from "./aiSdkDecode.js"

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

const Content = Schema.Union(
  Schema.String,
  Schema.Array(
    Schema.Struct(
      { type: Schema.String, text: optional(Schema.String) },
      {
        key: Schema.String,
        value: Schema.Unknown
      }
    )
  )
)
const ToolCall = Schema.Struct({
  id: Schema.String,
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})
const Message = Schema.Union(
  Schema.Struct({
    role: Schema.Literal("user", "system", "developer"),
    content: Content
  }),
  Schema.Struct({
    role: Schema.Literal("assistant"),
    content: optional(Schema.NullOr(Schema.String)),
    toolCalls: optional(Schema.Array(ToolCall))
  }),
  Schema.Struct({
    role: Schema.Literal("tool"),
    toolCallId: Schema.String,
    content: Schema.String,
    error: optional(Schema.String)
  }),
  Schema.Struct({ role: Schema.Literal("reasoning", "activity") })
)

const text = (content: typeof Content.Type): string =>
  typeof content === "string"
    ? content
    : content.flatMap((p) => (p.type === "text" && p.text !== undefined ? [p.text] : [])).join("")

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
  const out: Array<Messages.ModelMessage> = []
  const toolNames = new Map<string, string>()
  let request: Array<Messages.ModelRequestPart> = []
  const flush = () => {
    if (request.length > 0) out.push(new Messages.ModelRequest({ parts: request }))
    request = []
  }
  for (let i = 0; i < list.right.length; i++) {
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
        request.push(new Messages.SystemPromptPart({ content: text(m.content) }))
        break
      case "user":
        request.push(new Messages.UserPromptPart({ content: text(m.content) }))
        flush()
        break
      case "tool": {
        const toolName = toolNames.get(m.toolCallId) ?? "unknown"
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
                content: m.content
              })
        )
        break
      }
      case "assistant": {
        flush()
        const parts: Array<Messages.ModelResponsePart> = []
        if (m.content !== undefined && m.content !== null && m.content !== "") {
          parts.push(new Messages.TextPart({ content: m.content }))
        }
        for (const c of m.toolCalls ?? []) {
          toolNames.set(c.id, c.function.name)
          parts.push(
            new Messages.ToolCallPart({
              toolName: c.function.name,
              toolCallId: c.id,
              args: c.function.arguments
            })
          )
        }
        if (parts.length > 0) out.push(new Messages.ModelResponse({ parts }))
        break
      }
      default:
        break
    }
  }
  flush()
  return Either.right(out)
}
