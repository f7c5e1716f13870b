/**
 * How MCP content becomes agentfx message content. A tool result becomes a tool return value:
 * `structuredContent` (JSON) when the server sent it, else its content blocks — text as
 * strings, images and audio as `BinaryContent` (sent to the model as files), embedded
 * resources as their text or bytes, resource links as the resource they point to (read from
 * the server). One block is returned as is, several as an array. A result with
 * `isError: true` becomes a `ModelRetry`, so the model sees the error text and may try again.
 *
 * @example
 * ```ts
 * import { McpContent } from "@agentfx/mcp"
 * const value = McpContent.blockValue({ type: "text", text: "42" }) // "42"
 * ```
 *
 * @since 0.1.0
 */
import { ModelRetry } from "@agentfx/core/AgentError"
import {
  BinaryContent,
  type ModelMessage,
  ModelRequest,
  ModelResponse,
  SystemPromptPart,
  TextPart,
  type UserContent,
  UserPromptPart
} from "@agentfx/core/Messages"
import type {
  CallToolResult,
  ContentBlock,
  GetPromptResult,
  ReadResourceResult
} from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import type { McpError } from "./McpError.js"
import { immediateReturn, needsRead } from "./internal/callInRun.js"

/** One item of a resource's contents (`resources/read`). */
export type ResourceContents = ReadResourceResult["contents"][number]

/** Reads a resource by URI (used to resolve `resource_link` blocks). */
export type ReadResource = (uri: string) => Effect.Effect<ReadResourceResult, McpError>

const bytes = (base64: string, mediaType: string): BinaryContent =>
  new BinaryContent({ data: Buffer.from(base64, "base64"), mediaType }, true)

/** The value of a resource's contents: its text, or its bytes as `BinaryContent`. */
export const resourceValue = (contents: ResourceContents): string | BinaryContent =>
  "text" in contents && typeof contents.text === "string"
    ? contents.text
    : bytes(
        (contents as { readonly blob: string }).blob,
        contents.mimeType ?? "application/octet-stream"
      )

/**
 * The value of one content block, when it needs no request: text as a string, image / audio
 * as `BinaryContent`, an embedded resource as its text or bytes. A `resource_link` has no
 * content of its own: it is returned as its JSON description.
 */
export const blockValue = (block: ContentBlock): unknown => {
  switch (block.type) {
    case "text":
      return block.text
    case "image":
    case "audio":
      return bytes(block.data, block.mimeType)
    case "resource":
      return resourceValue(block.resource)
    default:
      return block
  }
}

const blockEffect = (
  block: ContentBlock,
  readResource: ReadResource | undefined
): Effect.Effect<unknown, McpError> =>
  block.type === "resource_link" && readResource !== undefined
    ? Effect.map(readResource(block.uri), (r) => {
        const values = r.contents.map(resourceValue)
        return values.length === 1 ? values[0] : values
      })
    : Effect.succeed(blockValue(block))

/** The text of an error result: its text blocks joined, or a generic sentence. */
export const errorText = (result: CallToolResult): string => {
  const texts = result.content.flatMap((b) => (b.type === "text" ? [b.text] : []))
  return texts.length > 0 ? texts.join("\n") : "The tool reported an error."
}

/**
 * A `tools/call` result as a tool return value (see the module doc). `readResource` resolves
 * `resource_link` blocks; without it they stay their JSON description.
 */
export const toolReturn = (
  result: CallToolResult,
  readResource?: ReadResource
): Effect.Effect<unknown, ModelRetry | McpError> => {
  if (result.isError === true) return Effect.fail(new ModelRetry({ reason: errorText(result) }))
  const now = immediateReturn(result, readResource !== undefined, blockValue)
  if (now !== needsRead) return Effect.succeed(now)
  const content = result.content
  return content.length === 1
    ? blockEffect(content[0]!, readResource)
    : Effect.forEach(content, (b) => blockEffect(b, readResource))
}

/** A block as user content (text, or a file), for prompts and sampling requests. */
export const userContent = (block: ContentBlock): UserContent => {
  const v = blockValue(block)
  return typeof v === "string" || v instanceof BinaryContent ? v : JSON.stringify(v)
}

/** The text of a block for an assistant turn (files cannot be said by a model: described). */
const assistantText = (block: ContentBlock): string => {
  const v = blockValue(block)
  return typeof v === "string"
    ? v
    : v instanceof BinaryContent
      ? `[${v.mediaType} content]`
      : JSON.stringify(v)
}

/** One role-tagged turn with one content block or several (prompts and sampling requests). */
export interface Turn {
  readonly role: "user" | "assistant"
  readonly content: ContentBlock | ReadonlyArray<unknown>
}

const blocksOf = (content: Turn["content"]): ReadonlyArray<ContentBlock> =>
  (Array.isArray(content) ? content : [content]).filter(
    (b): b is ContentBlock =>
      typeof b === "object" &&
      b !== null &&
      ["text", "image", "audio", "resource", "resource_link"].includes((b as any).type)
  )

/**
 * Role-tagged MCP turns as agentfx messages: consecutive user turns form one `ModelRequest`,
 * each assistant turn a `ModelResponse` of text. `system` becomes a system prompt at the start.
 */
export const messages = (turns: ReadonlyArray<Turn>, system?: string): Array<ModelMessage> => {
  const out: Array<ModelMessage> = []
  let user: Array<UserPromptPart | SystemPromptPart> =
    system !== undefined && system !== "" ? [new SystemPromptPart({ content: system })] : []
  const flush = () => {
    if (user.length > 0) out.push(new ModelRequest({ parts: user }))
    user = []
  }
  for (const turn of turns) {
    const blocks = blocksOf(turn.content)
    if (turn.role === "user") {
      const items = blocks.map(userContent)
      user.push(
        new UserPromptPart({
          content: items.length === 1 && typeof items[0] === "string" ? (items[0] as string) : items
        })
      )
    } else {
      flush()
      out.push(
        new ModelResponse({ parts: blocks.map((b) => new TextPart({ content: assistantText(b) })) })
      )
    }
  }
  flush()
  return out
}

/** A prompt (`prompts/get`) as agentfx messages, ready for `messageHistory` or a model request. */
export const promptMessages = (prompt: GetPromptResult): Array<ModelMessage> =>
  messages(prompt.messages)
