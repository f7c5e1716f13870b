/**
 * Pure wire conversion for the Anthropic Messages API (`POST /v1/messages`): agentfx messages,
 * settings and request parameters → request body; response JSON → `ModelResponse`; SSE events →
 * `PartsManager` deltas. No I/O here, so conformance tests call these directly.
 */
import {
  AgentError,
  BuiltinTool,
  Messages,
  type Model,
  type ModelSettings,
  type PartsManager,
  type Tool,
  Usage
} from "@agentfx/core"
import {
  type CacheSetting,
  cacheControl,
  cachedUsage,
  cacheTtl,
  completeResponse,
  isCaching,
  type Out,
  push,
  str,
  streamError,
  textPart,
  thinkingPart,
  toolCallPart,
  builtinCallPart,
  builtinReturnPart,
  withDetails
} from "./wire.js"
import * as Redacted from "effect/Redacted"
import * as AnthropicSchema from "../AnthropicSchema.js"
import { cutError, type StreamDecoder } from "./streamDecoder.js"

/** The provider name recorded on parts and responses. */
export const PROVIDER_NAME = "anthropic"

/** Default `max_tokens` (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096

/** A content block. */
export type Block = Record<string, unknown> & { readonly type?: string }

/** A message of the `messages` array. */
export interface WireMessage {
  /**
   * `system`: a mid-conversation system message (models that take one, see `encodeMessages`) or
   * the `tool_addition` blocks of a `ToolAvailabilityDeltaPart`.
   */
  role: "user" | "assistant" | "system"
  content: Array<Block>
}

/** The usage block. */
export interface WireUsage {
  readonly input_tokens?: number | null
  readonly output_tokens?: number | null
  readonly cache_read_input_tokens?: number | null
  readonly cache_creation_input_tokens?: number | null
  /** Built-in tool counters (`web_search_requests`, `web_fetch_requests`…). */
  readonly server_tool_use?: Record<string, unknown> | null
  /**
   * Per-iteration usage when the server compacted the context (`type: "compaction"` and
   * `"message"` entries); the top-level counts leave the compaction iterations out.
   */
  readonly iterations?: ReadonlyArray<WireUsage & { readonly type?: string }> | null
}

/** A message response. */
export interface WireResponse {
  readonly id?: string
  readonly model?: string
  readonly content?: ReadonlyArray<Block>
  readonly stop_reason?: string | null
  readonly usage?: WireUsage | null
  /** The code execution container the response ran in (reused by sending its id back). */
  readonly container?: { readonly id?: string; readonly expires_at?: string } | null
}

/** `providerDetails` of a response: the id of its code execution container, if any. */
const containerDetails = (
  container: WireResponse["container"]
): Messages.ProviderDetails | undefined =>
  typeof container?.id === "string" ? { container_id: container.id } : undefined

/**
 * The container to send (`container`): the `anthropicContainer` setting, else the one the
 * latest Anthropic response of the history ran in (so a run's code execution keeps its files);
 * `false` sends none.
 */
export const containerOf = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  setting: string | false | undefined
): string | undefined => {
  if (setting === false) return undefined
  if (setting !== undefined) return setting
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag !== "ModelResponse" || m.providerName !== PROVIDER_NAME) continue
    const id = m.providerDetails?.container_id
    if (typeof id === "string") return id
  }
  return undefined
}

/** A cache lifetime: `true` means the default (5 minutes). */
export type { CacheSetting } from "./wire.js"

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

const textDocumentTypes = new Set(["text/plain", "text/markdown", "text/csv", "text/html"])

const encodeUserContent = (item: Messages.UserContent, out: Array<Block>): void => {
  const text = Messages.userText(item)
  if (text !== undefined) {
    if (text !== "") out.push({ type: "text", text })
    return
  }
  if (typeof item === "string" || item._tag === "TextContent") return
  switch (item._tag) {
    case "CachePoint": {
      const last = out[out.length - 1]
      // A cache point marks the end of the prefix to cache: the block before it.
      if (last !== undefined)
        (last as Record<string, unknown>).cache_control = cacheControl(item.ttl)
      return
    }
    case "ImageUrl":
      out.push({ type: "image", source: { type: "url", url: item.url } })
      return
    case "DocumentUrl":
      out.push({ type: "document", source: { type: "url", url: item.url } })
      return
    case "UploadedFile":
      // A file of the Files API: images and documents (PDF, plain text) by `source.type: file`;
      // any other file goes to the code execution container (`container_upload`).
      if (item.isImage) {
        out.push({ type: "image", source: { type: "file", file_id: item.fileId } })
      } else if (
        item.effectiveMediaType === "application/pdf" ||
        item.effectiveMediaType === "text/plain"
      ) {
        out.push({ type: "document", source: { type: "file", file_id: item.fileId } })
      } else {
        out.push({ type: "container_upload", file_id: item.fileId })
      }
      return
    case "BinaryContent":
      if (item.isImage) {
        out.push({
          type: "image",
          source: { type: "base64", media_type: item.mediaType, data: item.base64 }
        })
      } else if (textDocumentTypes.has(item.mediaType)) {
        out.push({
          type: "document",
          source: {
            type: "text",
            media_type: "text/plain",
            data: new TextDecoder().decode(item.data)
          }
        })
      } else {
        out.push({
          type: "document",
          source: { type: "base64", media_type: item.mediaType, data: item.base64 }
        })
      }
      return
    default:
      // Audio and video are not accepted by the Messages API: send a pointer as text.
      out.push({ type: "text", text: item.url })
  }
}

/** A tool found by a client-side tool search: Anthropic loads its deferred definition. */
const toolReferenceBlock = (ref: Messages.ToolReference): Block => ({
  type: "tool_reference",
  tool_name: ref.toolName
})

/**
 * Deferred tools made available mid-conversation (`ToolAvailabilityDeltaPart`): a system
 * message of `tool_addition` blocks, one per tool.
 */
const toolAdditionBlocks = (part: Messages.ToolAvailabilityDeltaPart): Array<Block> =>
  part.added.map((name) => ({ type: "tool_addition", tool: { type: "tool_reference", name } }))

/**
 * A tool result holding files or tool references, as `tool_result` content blocks in order: images and documents
 * natively, strings as text, other values as JSON text.
 */
const encodeToolResultBlocks = (content: unknown): Array<Block> => {
  const out: Array<Block> = []
  for (const item of Array.isArray(content) ? content : [content]) {
    if (Messages.isToolReference(item)) out.push(toolReferenceBlock(item))
    else if (Messages.isFileContent(item) || typeof item === "string") encodeUserContent(item, out)
    else if (item !== undefined && item !== null) {
      out.push({ type: "text", text: Messages.renderToolContent(item) })
    }
  }
  return out
}

const encodeAssistant = (m: Messages.ModelResponse): Array<Block> => {
  const blocks: Array<Block> = []
  for (const part of m.parts) {
    switch (part._tag) {
      case "TextPart":
        if (part.content !== "") blocks.push({ type: "text", text: part.content })
        break
      case "ToolCallPart": {
        let input: unknown
        try {
          input = part.argsAsObject()
        } catch {
          // Malformed arguments (already reported back to the model as a retry): send them raw.
          input = { INVALID_JSON: part.args }
        }
        blocks.push({ type: "tool_use", id: part.toolCallId, name: part.toolName, input })
        break
      }
      case "BuiltinToolCallPart": {
        // Built-in tool parts go back to Anthropic in its own form; other providers' are dropped
        // (Anthropic cannot replay a search it did not run; the text that used it stays).
        if (part.providerName !== PROVIDER_NAME) break
        const { type, ...rest } = (part.providerDetails ?? {}) as Record<string, unknown>
        blocks.push({
          type: typeof type === "string" ? type : "server_tool_use",
          id: part.toolCallId,
          name: part.toolName,
          input: part.argsAsObject(),
          ...rest
        })
        break
      }
      case "BuiltinToolReturnPart": {
        if (part.providerName !== PROVIDER_NAME) break
        const { type, ...rest } = (part.providerDetails ?? {}) as Record<string, unknown>
        blocks.push({
          type: typeof type === "string" ? type : `${part.toolName}_tool_result`,
          tool_use_id: part.toolCallId,
          content: part.content,
          ...rest
        })
        break
      }
      case "CompactionPart":
        // Our own compaction goes back as its block (the server drops what precedes it);
        // another provider's readable summary goes as text, opaque content is dropped.
        if (part.providerName === PROVIDER_NAME) {
          blocks.push({ type: "compaction", content: part.content ?? null })
        } else if (part.content !== undefined && part.content !== "") {
          blocks.push({ type: "text", text: part.content })
        }
        break
      case "ThinkingPart":
        // Signed thinking blocks go back unchanged; thinking from other providers is dropped
        // (Anthropic cannot verify it, and it is not ours to replay).
        if (part.providerName === PROVIDER_NAME && part.signature !== undefined) {
          blocks.push(
            part.redacted === true
              ? { type: "redacted_thinking", data: part.signature }
              : { type: "thinking", thinking: part.content, signature: part.signature }
          )
        }
        break
    }
  }
  return blocks
}

/**
 * Claude models that honour a `{role: "system"}` entry inside `messages` (Anthropic's published
 * list for mid-conversation system messages; a Bedrock `[geo.]anthropic.` prefix is ignored).
 */
const INLINE_SYSTEM_MODEL_PREFIXES = [
  "claude-fable-5",
  "claude-mythos-5",
  "claude-opus-4-8",
  "claude-opus-5"
]

/** Whether the model takes mid-conversation system messages as `system` entries of `messages`. */
export const supportsInlineSystemPrompts = (modelName: string): boolean => {
  const base = modelName.replace(/^(?:[a-z]{2,}\.)?anthropic\./, "")
  return INLINE_SYSTEM_MODEL_PREFIXES.some((p) => base.startsWith(p))
}

/** Options of `encodeMessages`. */
export interface EncodeMessagesOptions {
  /**
   * Send a system prompt that is not at the start of the history as a `{role: "system"}` entry
   * of `messages` (default `false`: it is sent in place as `<system>…</system>` user text).
   */
  readonly inlineSystemPrompts?: boolean | undefined
}

/** A message of the encoded conversation: `system` entries only with inline system prompts. */
interface EncodedMessage {
  role: "user" | "assistant" | "system"
  content: Array<Block>
}

type Ttl = "5m" | "1h"

/** Puts a cache breakpoint on the last block of `blocks` (no block: nothing to cache, ignored). */
const markLast = (blocks: ReadonlyArray<Block>, ttl: Ttl): void => {
  const last = blocks[blocks.length - 1]
  if (last !== undefined) (last as Record<string, unknown>).cache_control = cacheControl(ttl)
}

/** How many of the first request's opening parts are the run's standing system prompt. */
const standingSystemCount = (request: Messages.ModelRequest): number => {
  let n = 0
  while (request.parts[n]?._tag === "SystemPromptPart") n++
  return n
}

/**
 * Moves each `system` entry past the user turns behind it, to just before the assistant turn it
 * governs (the API takes one only right before an assistant turn or at the end). Only user turns
 * are passed, so two entries keep their order. A moved entry leaves its cache breakpoint on the
 * message it sat behind, so the cached prefix never grows over the turns it passed.
 */
const placeSystemEntries = (out: Array<EncodedMessage>): void => {
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]!.role !== "system") continue
    let target = i + 1
    while (target < out.length && out[target]!.role === "user") target++
    if (target === i + 1) continue
    const entry = out[i]!
    const last = entry.content[entry.content.length - 1] as Record<string, unknown> | undefined
    const cache = last?.cache_control as { readonly ttl?: Ttl } | undefined
    if (last !== undefined && cache !== undefined) {
      delete last.cache_control
      if (i > 0) markLast(out[i - 1]!.content, cache.ttl ?? "5m")
    }
    out.splice(i, 1)
    out.splice(target - 1, 0, entry)
  }
}

/** Gives each `system` section a user turn to follow: a minimal `.` turn where none precedes it. */
const anchorSystemEntries = (out: Array<EncodedMessage>): void => {
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i]!.role !== "system") continue
    const before = out[i - 1]?.role
    if (before === "user" || before === "system") continue
    out.splice(i, 0, { role: "user", content: [{ type: "text", text: "." }] })
  }
}

/** Merges consecutive user turns (a moved `system` entry can leave two behind each other). */
const mergeUserTurns = (out: ReadonlyArray<EncodedMessage>): Array<WireMessage> => {
  const merged: Array<EncodedMessage> = []
  for (const m of out) {
    const last = merged[merged.length - 1]
    if (last !== undefined && last.role === "user" && m.role === "user")
      last.content.push(...m.content)
    else merged.push(m)
  }
  return merged as Array<WireMessage>
}

/**
 * Encodes the conversation into `system` text and `messages` (consecutive user / assistant turns
 * merged). The system prompt parts that open the first request, and the latest instructions, go
 * to the top-level `system`. A later system prompt (added mid-conversation) stays in the history,
 * so the cached prefix ahead of it is untouched: as a `{role: "system"}` entry on models that take
 * one (placed before the generation it governs, after a `.` user turn if no user turn precedes
 * it), else as `<system>…</system>` user text where it was authored.
 */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  options: EncodeMessagesOptions = {}
): { readonly system: string | undefined; readonly messages: Array<WireMessage> } => {
  const inline = options.inlineSystemPrompts === true
  const systemParts: Array<string> = []
  const out: Array<EncodedMessage> = []
  let instructions: string | undefined
  const leading = messages.find((m) => m._tag === "ModelRequest")
  const append = (role: WireMessage["role"], content: Array<Block>) => {
    if (content.length === 0) return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...content)
    else out.push({ role, content })
  }
  const previousContent = (): ReadonlyArray<Block> => out[out.length - 1]?.content ?? []
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      append("assistant", encodeAssistant(m))
      continue
    }
    if (m.instructions !== undefined) instructions = m.instructions
    const standing = m === leading ? standingSystemCount(m) : 0
    const content: Array<Block> = []
    const midSystem: Array<string> = []
    // Cache points authored after a mid-conversation system prompt, as the number of user blocks
    // before each: the `system` entry renders after this request's blocks, so a point ending the
    // request covers it, and one with content after it stays where it was authored.
    const deferred: Array<readonly [number, Ttl]> = []
    m.parts.forEach((part, index) => {
      switch (part._tag) {
        case "SystemPromptPart":
          if (index < standing) systemParts.push(part.content)
          else if (inline) midSystem.push(part.content)
          else content.push({ type: "text", text: `<system>${part.content}</system>` })
          break
        case "UserPromptPart":
          for (const c of typeof part.content === "string" ? [part.content] : part.content) {
            if (typeof c !== "string" && c._tag === "CachePoint") {
              const ttl = cacheTtl(c.ttl ?? true)
              if (midSystem.length > 0) deferred.push([content.length, ttl])
              // A cache point opening a request marks the end of the message before it.
              else markLast(content.length > 0 ? content : previousContent(), ttl)
            } else encodeUserContent(c, content)
          }
          break
        case "ToolReturnPart":
          content.push({
            type: "tool_result",
            tool_use_id: part.toolCallId,
            content:
              part.files.length > 0 || part.toolReferences.length > 0
                ? encodeToolResultBlocks(part.content)
                : [{ type: "text", text: part.contentText }],
            is_error: part.outcome === "failed"
          })
          break
        case "RetryPromptPart":
          if (part.toolName !== undefined && part.toolCallId !== undefined) {
            content.push({
              type: "tool_result",
              tool_use_id: part.toolCallId,
              content: part.modelResponse,
              is_error: true
            })
          } else {
            content.push({ type: "text", text: part.modelResponse })
          }
          break
        case "ToolAvailabilityDeltaPart":
          // A system message at this point of the conversation, after what came before it.
          append("user", content.splice(0))
          append("system", toolAdditionBlocks(part))
          break
      }
    })
    let systemTtl: Ttl | undefined
    for (const [at, ttl] of deferred) {
      if (at === content.length) systemTtl = ttl
      else markLast(at > 0 ? content.slice(0, at) : previousContent(), ttl)
    }
    append("user", content)
    if (midSystem.length > 0) {
      const entry: Array<Block> = midSystem.map((text) => ({ type: "text", text }))
      if (systemTtl !== undefined) markLast(entry, systemTtl)
      out.push({ role: "system", content: entry })
    }
  }
  placeSystemEntries(out)
  anchorSystemEntries(out)
  if (instructions !== undefined) systemParts.unshift(instructions)
  return {
    system: systemParts.length > 0 ? systemParts.join("\n\n") : undefined,
    messages: mergeUserTurns(out)
  }
}

/**
 * Whether a Claude model takes structured outputs (`output_config.format`) and strict tools:
 * Claude 4.5+ (Sonnet, Haiku, Opus) and Opus 4.1; Claude 3.x, Sonnet 4.0 and Opus 4.0 do not.
 * Names that do not look like a Claude version are assumed to be new models.
 */
export const supportsStructuredOutput = (modelName: string): boolean => {
  const m = /claude-(?:([a-z]+)-)?(\d+)(?:-(\d{1,2})(?!\d))?/.exec(modelName)
  if (m === null) return true
  const family = m[1]
  const major = Number(m[2])
  const minor = m[3] === undefined ? 0 : Number(m[3])
  if (major >= 5) return true
  if (major < 4) return false
  return minor >= 5 || (family === "opus" && minor >= 1)
}

/**
 * Encodes a tool definition; `strict` only goes out where the model supports strict tools, with
 * the schema rewritten for strict mode (`AnthropicSchema.transform`).
 */
export const encodeTool = (tool: Tool.ToolDefinition, strictTools = true): Block => ({
  name: tool.name,
  description: tool.description ?? "",
  input_schema:
    tool.strict === true && strictTools
      ? AnthropicSchema.transform(tool.parametersJsonSchema, { strict: true }).schema
      : tool.parametersJsonSchema,
  ...(tool.strict === true && strictTools ? { strict: true } : {}),
  ...(tool.deferLoading === true ? { defer_loading: true } : {})
})

/** The built-in tools the Messages API has. */
const SUPPORTED = new Set([
  "WebSearch",
  "WebFetch",
  "CodeExecution",
  "Memory",
  "McpServer",
  "ToolSearch",
  "Advisor"
])

/** The `UserError` for the first built-in tool the Messages API does not have, if any. */
export const builtinToolsError = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>
): AgentError.UserError | undefined => {
  const tool = builtinTools.find((t) => !SUPPORTED.has(t._tag))
  return tool === undefined ? undefined : BuiltinTool.unsupported("Anthropic", tool)
}

/**
 * The Messages API form of the built-in tools: `tools` entries and `mcp_servers`. Tools it does
 * not have are left out here; `builtinToolsError` names them (the model fails the request).
 */
export const encodeBuiltinTools = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>,
  modelName: string
): { readonly tools: Array<Block>; readonly mcpServers: Array<Block> } => {
  const tools: Array<Block> = []
  const mcpServers: Array<Block> = []
  for (const tool of builtinTools) {
    switch (tool._tag) {
      case "WebSearch":
        tools.push({
          type: "web_search_20250305",
          name: "web_search",
          ...(tool.allowedDomains !== undefined ? { allowed_domains: tool.allowedDomains } : {}),
          ...(tool.blockedDomains !== undefined ? { blocked_domains: tool.blockedDomains } : {}),
          ...(tool.maxUses !== undefined ? { max_uses: tool.maxUses } : {}),
          ...(tool.userLocation !== undefined
            ? { user_location: { type: "approximate", ...tool.userLocation } }
            : {})
        })
        break
      case "WebFetch":
        tools.push({
          type: "web_fetch_20250910",
          name: "web_fetch",
          ...(tool.allowedDomains !== undefined ? { allowed_domains: tool.allowedDomains } : {}),
          ...(tool.blockedDomains !== undefined ? { blocked_domains: tool.blockedDomains } : {}),
          ...(tool.maxUses !== undefined ? { max_uses: tool.maxUses } : {}),
          ...(tool.enableCitations !== undefined
            ? { citations: { enabled: tool.enableCitations } }
            : {}),
          ...(tool.maxContentTokens !== undefined
            ? { max_content_tokens: tool.maxContentTokens }
            : {})
        })
        break
      case "CodeExecution":
        // Claude 4.5+ take the current code execution tool (bash + file editing); older, the first.
        if (supportsStructuredOutput(modelName)) {
          tools.push({ type: "code_execution_20260120", name: "code_execution" })
        } else {
          tools.push({ type: "code_execution_20250522", name: "code_execution" })
        }
        break
      case "Memory":
        // The model calls `memory` as a client tool: the agent needs a function tool of that name.
        tools.push({ type: "memory_20250818", name: "memory" })
        break
      case "ToolSearch": {
        const variant = tool.variant ?? "bm25"
        tools.push({
          type: `tool_search_tool_${variant}_20251119`,
          name: `tool_search_tool_${variant}`
        })
        break
      }
      case "Advisor":
        tools.push(encodeAdvisor(tool))
        break
      case "McpServer":
        mcpServers.push({
          type: "url",
          name: tool.id,
          url: tool.url,
          ...(tool.authorization !== undefined
            ? { authorization_token: Redacted.value(tool.authorization) }
            : {}),
          ...(tool.allowedTools !== undefined
            ? { tool_configuration: { enabled: true, allowed_tools: tool.allowedTools } }
            : {})
        })
        break
      default:
        break
    }
  }
  return { tools, mcpServers }
}

/** The advisor tool entry: the advisor model, its token budget per call and its uses. */
const encodeAdvisor = (tool: BuiltinTool.Advisor): Block => ({
  type: "advisor_20260301",
  name: "advisor",
  model: tool.model,
  ...(tool.maxTokens !== undefined ? { max_tokens: tool.maxTokens } : {}),
  ...(tool.maxUses !== undefined ? { max_uses: tool.maxUses } : {})
})

/** Whether a block refers to a Files API file (`source.type: file`, `container_upload`). */
const isFileBlock = (b: unknown): boolean => {
  if (b === null || typeof b !== "object") return false
  const block = b as Record<string, unknown>
  if (block.type === "container_upload") return true
  if ((block.source as Record<string, unknown> | undefined)?.type === "file") return true
  return (
    block.type === "tool_result" && Array.isArray(block.content) && block.content.some(isFileBlock)
  )
}

/** Whether a request body refers to files of the Files API (they need its beta flag). */
export const usesFiles = (body: Record<string, unknown>): boolean =>
  Array.isArray(body.messages) &&
  body.messages.some(
    (m: Record<string, unknown>) => Array.isArray(m.content) && m.content.some(isFileBlock)
  )

/** Beta flags of the built-in tools in a request body (by tool type; MCP servers). */
export const builtinBetas = (body: Record<string, unknown>): Array<string> => {
  const betas: Array<string> = []
  const types = new Set(
    Array.isArray(body.tools) ? body.tools.map((t: Record<string, unknown>) => t.type) : []
  )
  if (types.has("web_fetch_20250910")) betas.push("web-fetch-2025-09-10")
  if (types.has("code_execution_20260120")) betas.push("code-execution-2025-08-25")
  if (types.has("code_execution_20250522")) betas.push("code-execution-2025-05-22")
  if (types.has("memory_20250818")) betas.push("context-management-2025-06-27")
  if (body.mcp_servers !== undefined) betas.push("mcp-client-2025-04-04")
  if (types.has("tool_search_tool_bm25_20251119") || types.has("tool_search_tool_regex_20251119"))
    betas.push("advanced-tool-use-2025-11-20")
  if (types.has("advisor_20260301")) betas.push("advisor-tool-2026-03-01")
  const edits = (
    body.context_management as { edits?: ReadonlyArray<{ type?: string }> } | undefined
  )?.edits
  if (edits?.some((e) => e.type?.startsWith("compact_") === true)) betas.push("compact-2026-01-12")
  if (edits?.some((e) => e.type?.startsWith("compact_") !== true) === true)
    betas.push("context-management-2025-06-27")
  return [...new Set(betas)]
}

/** The thinking budget (tokens) of a thinking setting; `undefined` for off. Bedrock's Claude too. */
export const budgetOf = (thinking: ModelSettings.ThinkingSetting): number | undefined => {
  if (thinking === false) return undefined
  if (thinking === true) return 2048
  if (typeof thinking === "string") {
    return thinking === "minimal"
      ? 1024
      : thinking === "low"
        ? 2048
        : thinking === "medium"
          ? 8192
          : 16384
  }
  return thinking.budgetTokens
}

/** An `output_config.effort` level (`xhigh` only on the models that take it). */
export type Effort = "low" | "medium" | "high" | "xhigh" | "max"

/** A task budget (`output_config.task_budget`, tokens; Opus 4.7+). */
export interface TaskBudget {
  readonly total: number
  readonly remaining?: number | undefined
}

/** Model settings with Anthropic's own (per request, like the portable ones). */
export interface AnthropicSettings extends ModelSettings.ModelSettings {
  /**
   * `output_config.effort` (Opus 4.5+, Sonnet 4.6+; `xhigh` on Opus 4.7+), with or without
   * thinking; over the effort an effort-level `thinking` setting (`"low"`…`"high"`) maps to.
   */
  readonly anthropicEffort?: Effort | undefined
  /** A token budget for the whole agentic task (`output_config.task_budget`, Opus 4.7+). */
  readonly anthropicTaskBudget?: TaskBudget | undefined
  /**
   * Server-side context compaction (`context_management` edit `compact_20260112`, beta
   * `compact-2026-01-12`): `true` for the server's defaults, or when to compact and how. The
   * response then starts with a `CompactionPart` that replaces the history before it.
   */
  readonly anthropicCompaction?: true | CompactionSetting | undefined
  /**
   * Other `context_management` edits, sent verbatim after the compaction edit (e.g.
   * `{type: "clear_tool_uses_20250919"}`).
   */
  readonly anthropicContextEdits?: ReadonlyArray<Record<string, unknown>> | undefined
  /**
   * The code execution container (`container`): an id to reuse, or `false` for a fresh one.
   * Default: the container of the latest Anthropic response of the history.
   */
  readonly anthropicContainer?: string | false | undefined
}

/** When and how the server compacts the context (`anthropicCompaction`). */
export interface CompactionSetting {
  /** Compact once the input reaches this many tokens (`trigger: {type: "input_tokens"}`). */
  readonly triggerInputTokens?: number | undefined
  /** Stop after the compaction block (`pause_after_compaction`), to add to it before going on. */
  readonly pauseAfterCompaction?: boolean | undefined
  /** Instructions for the summary, replacing the server's own. */
  readonly instructions?: string | undefined
}

/** The `context_management` object of the settings, or `undefined` when none applies. */
export const contextManagementOf = (
  settings: AnthropicSettings
): Record<string, unknown> | undefined => {
  const edits: Array<Record<string, unknown>> = []
  const compaction = settings.anthropicCompaction
  if (compaction !== undefined) {
    const c: CompactionSetting = compaction === true ? {} : compaction
    edits.push({
      type: "compact_20260112",
      ...(c.triggerInputTokens !== undefined
        ? { trigger: { type: "input_tokens", value: c.triggerInputTokens } }
        : {}),
      ...(c.pauseAfterCompaction !== undefined
        ? { pause_after_compaction: c.pauseAfterCompaction }
        : {}),
      ...(c.instructions !== undefined ? { instructions: c.instructions } : {})
    })
  }
  edits.push(...(settings.anthropicContextEdits ?? []))
  return edits.length > 0 ? { edits } : undefined
}

/** A model name without a Bedrock `[geo.]anthropic.` prefix. */
const claudeName = (modelName: string): string =>
  modelName.replace(/^(?:[a-z]{2,}\.)?anthropic\./, "")

const startsWithAny = (modelName: string, prefixes: ReadonlyArray<string>): boolean => {
  const name = claudeName(modelName)
  return prefixes.some((p) => name.startsWith(p))
}

const LATEST = ["claude-fable-5", "claude-mythos-5", "claude-opus-5", "claude-sonnet-5"]

/** Whether the model takes adaptive thinking (`thinking: {type: "adaptive"}`): Sonnet / Opus 4.6+. */
export const supportsAdaptiveThinking = (modelName: string): boolean =>
  startsWithAny(modelName, [
    ...LATEST,
    "claude-sonnet-4-6",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8"
  ])

/** Whether the model takes `output_config.effort`: Opus 4.5+, Sonnet 4.6+. */
export const supportsEffort = (modelName: string): boolean =>
  startsWithAny(modelName, [
    ...LATEST,
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-opus-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8"
  ])

/** Models that take the `xhigh` effort and reject budget thinking (adaptive only): Opus 4.7+. */
const adaptiveOnly = (modelName: string): boolean =>
  startsWithAny(modelName, [...LATEST, "claude-opus-4-7", "claude-opus-4-8"])

/** The Anthropic thinking of a thinking setting for a model. */
export interface ThinkingConfig {
  /** The `thinking` object (`undefined`: thinking off). */
  readonly thinking?: Record<string, unknown> | undefined
  /** The budget of extended (`enabled`) thinking; adaptive thinking has none. */
  readonly budget?: number | undefined
  /** The effort an effort level maps to, on models that take `output_config.effort`. */
  readonly effort?: Effort | undefined
}

/**
 * Maps the portable thinking setting per model family (as pydantic-ai does): models with adaptive
 * thinking get `{type: "adaptive"}` (a token budget stays extended thinking, except on models
 * that only think adaptively); older models get extended thinking with a budget. An effort level
 * (`"low"`…) also sets `output_config.effort` where the model takes it (`minimal` → `low`).
 */
export const thinkingConfigOf = (
  thinking: ModelSettings.ThinkingSetting | undefined,
  modelName: string
): ThinkingConfig => {
  if (thinking === undefined || thinking === false) return {}
  const effort: Effort | undefined =
    typeof thinking === "string" && supportsEffort(modelName)
      ? thinking === "minimal"
        ? "low"
        : thinking
      : undefined
  const adaptive =
    supportsAdaptiveThinking(modelName) && (typeof thinking !== "object" || adaptiveOnly(modelName))
  if (adaptive) return { thinking: { type: "adaptive" }, effort }
  const budget = budgetOf(thinking)
  return {
    ...(budget !== undefined
      ? { thinking: { type: "enabled", budget_tokens: budget }, budget }
      : {}),
    effort
  }
}

/** The `max_tokens` of a request: the setting (default 4096), above a thinking budget. */
export const maxTokensOf = (settings: ModelSettings.ModelSettings, modelName: string): number => {
  const budget = thinkingConfigOf(settings.thinking, modelName).budget
  const maxTokens = settings.maxTokens ?? DEFAULT_MAX_TOKENS
  return budget !== undefined && maxTokens <= budget ? budget + DEFAULT_MAX_TOKENS : maxTokens
}

/**
 * Whether a non-streamed request would run past what the API serves without streaming: the
 * expected time of `max_tokens` (an hour per 128,000 tokens) over 10 minutes, i.e. more than
 * 21,333 tokens. Such requests are streamed and the response assembled (as Anthropic's SDK
 * requires and pydantic-ai does), so a long generation is not cut by an idle connection.
 */
export const needsStreaming = (settings: ModelSettings.ModelSettings, modelName: string): boolean =>
  (3600 * maxTokensOf(settings, modelName)) / 128_000 > 600

/** Options of `encodeRequest`. */
export interface EncodeOptions {
  readonly modelName: string
  readonly stream: boolean
  /** Put a cache point after the system prompt. */
  readonly cacheInstructions?: CacheSetting | undefined
  /** Put a cache point after the last tool definition. */
  readonly cacheTools?: CacheSetting | undefined
  /**
   * Whether the model takes strict tools (default: by model name, see
   * `supportsStructuredOutput`). Without it, `strict: true` on a tool is dropped.
   */
  readonly strictTools?: boolean | undefined
  /**
   * Whether mid-conversation system prompts go as `system` entries of `messages` (default: by
   * model name, see `supportsInlineSystemPrompts`).
   */
  readonly inlineSystemPrompts?: boolean | undefined
  /**
   * Automatic prompt caching: a top-level `cache_control`, which the server applies to the last
   * cacheable block and moves forward as the conversation grows.
   */
  readonly autoCache?: CacheSetting | undefined
}

/**
 * Builds the JSON body of a Messages API call.
 *
 * Output tools are forced (`tool_choice: any`) when text is not allowed, except with extended
 * thinking on: the API rejects forced tool use then, so `auto` is sent and the run loop's output
 * retry asks again if the model answers in text (pydantic-ai does the same).
 */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Record<string, unknown> => {
  const builtin = encodeBuiltinTools(parameters.builtinTools, options.modelName)
  const encoded = encodeMessages(messages, {
    inlineSystemPrompts:
      options.inlineSystemPrompts ?? supportsInlineSystemPrompts(options.modelName)
  })
  const thinking = thinkingConfigOf(settings.thinking, options.modelName)
  const budget = thinking.budget
  const maxTokens = maxTokensOf(settings, options.modelName)
  const body: Record<string, unknown> = {
    model: options.modelName,
    max_tokens: maxTokens,
    messages: encoded.messages,
    stream: options.stream
  }
  if (encoded.system !== undefined) {
    body.system = isCaching(options.cacheInstructions)
      ? [
          {
            type: "text",
            text: encoded.system,
            cache_control: cacheControl(cacheTtl(options.cacheInstructions))
          }
        ]
      : encoded.system
  }
  if (thinking.thinking !== undefined) body.thinking = thinking.thinking
  if (isCaching(options.autoCache)) body.cache_control = cacheControl(cacheTtl(options.autoCache))

  const tools = parameters.allTools
  if (tools.length > 0 || builtin.tools.length > 0) {
    const strictTools = options.strictTools ?? supportsStructuredOutput(options.modelName)
    const wire = [...tools.map((t) => encodeTool(t, strictTools)), ...builtin.tools]
    if (isCaching(options.cacheTools)) {
      wire[wire.length - 1] = {
        ...wire[wire.length - 1],
        cache_control: cacheControl(cacheTtl(options.cacheTools))
      }
    }
    body.tools = wire
    const choice = encodeToolChoice(settings, parameters, budget !== undefined)
    if (settings.parallelToolCalls === false && choice.type !== "none") {
      choice.disable_parallel_tool_use = true
    }
    body.tool_choice = choice
  }

  if (builtin.mcpServers.length > 0) body.mcp_servers = builtin.mcpServers

  const outputConfig: Record<string, unknown> = {}
  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    // Structured outputs are always strict: the schema in the form Claude enforces.
    outputConfig.format = {
      type: "json_schema",
      schema: AnthropicSchema.transform(parameters.outputObject.jsonSchema, { strict: true }).schema
    }
  }
  const own = settings as AnthropicSettings
  const effort = own.anthropicEffort ?? thinking.effort
  if (effort !== undefined) outputConfig.effort = effort
  if (own.anthropicTaskBudget !== undefined) {
    const { total, remaining } = own.anthropicTaskBudget
    outputConfig.task_budget = {
      type: "tokens",
      total,
      ...(remaining !== undefined ? { remaining } : {})
    }
  }
  if (Object.keys(outputConfig).length > 0) body.output_config = outputConfig
  const contextManagement = contextManagementOf(own)
  if (contextManagement !== undefined) body.context_management = contextManagement
  const container = containerOf(messages, own.anthropicContainer)
  if (container !== undefined) body.container = container

  if (settings.temperature !== undefined) body.temperature = settings.temperature
  if (settings.topP !== undefined) body.top_p = settings.topP
  if (settings.topK !== undefined) body.top_k = settings.topK
  if (settings.serviceTier !== undefined) body.service_tier = settings.serviceTier
  if (settings.stopSequences !== undefined) body.stop_sequences = settings.stopSequences
  return body
}

/** The `tool_choice` object. */
export const encodeToolChoice = (
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  thinking: boolean
): Record<string, unknown> => {
  const forceOutput = !parameters.allowTextOutput && !thinking
  const choice = settings.toolChoice
  if (choice === undefined || choice === "auto") return { type: forceOutput ? "any" : "auto" }
  if (choice === "required") return { type: thinking ? "auto" : "any" }
  if (choice === "none") {
    if (!parameters.allowTextOutput && parameters.outputTools.length > 0) {
      // Output tools stay callable; only function tools are switched off.
      return parameters.outputTools.length === 1 && !thinking
        ? { type: "tool", name: parameters.outputTools[0]!.name }
        : { type: forceOutput ? "any" : "auto" }
    }
    return { type: "none" }
  }
  if (choice.length === 1 && !thinking && parameters.allowTextOutput)
    return { type: "tool", name: choice[0] }
  return { type: forceOutput ? "any" : "auto" }
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/**
 * Converts usage. `inputTokens` counts every input token: uncached + cache reads + cache
 * writes (Anthropic reports them separately; pydantic-ai sums them the same way).
 */
export const decodeUsage = (u: WireUsage | null | undefined): Usage.RequestUsage => {
  if (u === null || u === undefined) return Usage.RequestUsage.empty
  const iterations = u.iterations ?? []
  const compactions = iterations.filter((i) => i.type === "compaction")
  // With compaction iterations, the billed total is the sum over every iteration.
  const sum = (
    k: "input_tokens" | "output_tokens" | "cache_read_input_tokens" | "cache_creation_input_tokens"
  ) => (compactions.length > 0 ? iterations.reduce((n, i) => n + (i[k] ?? 0), 0) : (u[k] ?? 0))
  const usage = withDetails(
    cachedUsage(
      sum("input_tokens"),
      sum("output_tokens"),
      sum("cache_read_input_tokens"),
      sum("cache_creation_input_tokens")
    ),
    u.server_tool_use
  )
  if (compactions.length === 0) return usage
  const of = (
    k: "input_tokens" | "output_tokens" | "cache_read_input_tokens" | "cache_creation_input_tokens"
  ) => compactions.reduce((n, i) => n + (i[k] ?? 0), 0)
  return withDetails(usage, {
    compaction_iterations: compactions.length,
    compaction_input_tokens: of("input_tokens"),
    compaction_output_tokens: of("output_tokens"),
    compaction_cache_read_tokens: of("cache_read_input_tokens"),
    compaction_cache_write_tokens: of("cache_creation_input_tokens")
  })
}

/** A `compaction` block as a part (its summary kept to send back). */
const compactionOf = (content: unknown): Messages.CompactionPart =>
  new Messages.CompactionPart({
    ...(typeof content === "string" ? { content } : {}),
    providerName: PROVIDER_NAME
  })

/** Maps `stop_reason`. */
export const decodeFinishReason = (
  reason: string | null | undefined
): Messages.FinishReason | undefined => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
    case "pause_turn":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_call"
    case "refusal":
      return "content_filter"
    default:
      return undefined
  }
}

/** A `redacted_thinking` block as thinking: no text, the opaque data kept as the signature. */
const redactedThinking = (b: Block) => ({
  content: "",
  signature: str(b.data) ?? "",
  redacted: true,
  providerName: PROVIDER_NAME
})

/** Is this block a built-in tool's call (`server_tool_use`, `mcp_tool_use`)? */
const isBuiltinCall = (type: string | undefined): boolean =>
  type === "server_tool_use" || type === "mcp_tool_use"

/** Is this block a built-in tool's result (`web_search_tool_result`, `mcp_tool_result`…)? */
const isBuiltinResult = (type: string | undefined): boolean =>
  type?.endsWith("_tool_result") === true

/** Wire fields kept on a built-in call part to send it back (`mcp_tool_use` keeps its server). */
const callDetails = (b: Block): Messages.ProviderDetails | undefined =>
  b.type === "server_tool_use"
    ? undefined
    : { type: b.type, ...(b.server_name !== undefined ? { server_name: b.server_name } : {}) }

/** A built-in tool call block as a part. */
const builtinCall = (b: Block) => {
  const details = callDetails(b)
  return builtinCallPart({
    toolName: str(b.name) ?? "",
    args: (b.input ?? {}) as Record<string, unknown>,
    toolCallId: str(b.id) ?? "",
    providerName: PROVIDER_NAME,
    ...(details !== undefined ? { providerDetails: details } : {})
  })
}

/**
 * A built-in tool result block as a part: `content` verbatim, the block type (and any other
 * wire field, e.g. `is_error`) kept to send it back. The tool name is the type without
 * `_tool_result` (`web_search`, `bash_code_execution`, `mcp`…).
 */
const builtinResult = (b: Block) => {
  const { type, tool_use_id, content, ...rest } = b
  return builtinReturnPart({
    toolName: (type ?? "").replace(/_tool_result$/, ""),
    content: content ?? null,
    toolCallId: str(tool_use_id) ?? "",
    providerName: PROVIDER_NAME,
    providerDetails: { type, ...rest }
  })
}

/** Converts the content blocks of a response into parts (built-in tool blocks included). */
export const decodeContent = (content: ReadonlyArray<Block>): Array<Messages.ModelResponsePart> => {
  const parts: Array<Messages.ModelResponsePart> = []
  for (const b of content) {
    switch (b.type) {
      case "text":
        parts.push(textPart({ content: str(b.text) ?? "" }))
        break
      case "tool_use":
        parts.push(
          toolCallPart({
            toolName: str(b.name) ?? "",
            args: (b.input ?? {}) as Record<string, unknown>,
            toolCallId: str(b.id) ?? "",
            providerName: PROVIDER_NAME
          })
        )
        break
      case "thinking":
        parts.push(
          thinkingPart({
            content: str(b.thinking) ?? "",
            ...(typeof b.signature === "string" ? { signature: b.signature } : {}),
            providerName: PROVIDER_NAME
          })
        )
        break
      case "redacted_thinking":
        parts.push(thinkingPart(redactedThinking(b)))
        break
      case "compaction":
        parts.push(compactionOf(b.content))
        break
      default:
        if (isBuiltinCall(b.type)) parts.push(builtinCall(b))
        else if (isBuiltinResult(b.type)) parts.push(builtinResult(b))
        break
    }
  }
  return parts
}

/** Converts a whole (non-streaming) response body. */
export const decodeResponse = (
  body: WireResponse,
  requestedModelName: string
): Messages.ModelResponse =>
  completeResponse({
    parts: decodeContent(body.content ?? []),
    usage: decodeUsage(body.usage),
    modelName: body.model ?? requestedModelName,
    providerName: PROVIDER_NAME,
    providerResponseId: body.id,
    finishReason: decodeFinishReason(body.stop_reason),
    providerFinishReason: str(body.stop_reason),
    timestamp: undefined,
    providerDetails: containerDetails(body.container)
  })

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream decoder state. */
export interface StreamState {
  stopped: boolean
  /** Usage fields seen so far (message_delta updates overwrite message_start's). */
  readonly usage: { -readonly [K in keyof WireUsage]: WireUsage[K] }
  /** Compaction blocks being streamed, by block index: their content so far. */
  readonly compactions: Map<string, string>
}

/** Fresh state for one stream. */
export const makeStreamState = (): StreamState => ({
  stopped: false,
  usage: {},
  compactions: new Map()
})

const mergeUsage = (state: StreamState, u: WireUsage | null | undefined) => {
  if (u === null || u === undefined) return
  for (const k of [
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens"
  ] as const) {
    const v = u[k]
    if (typeof v === "number") state.usage[k] = v
  }
  if (u.server_tool_use !== null && u.server_tool_use !== undefined)
    state.usage.server_tool_use = u.server_tool_use
  if (u.iterations !== null && u.iterations !== undefined) state.usage.iterations = u.iterations
}

/**
 * Feeds one parsed SSE event to the parts manager. `error` events fail the stream with a
 * `ModelAPIError` carrying the partial response; `ping` and unknown events are skipped.
 */
export const handleStreamEvent = (
  data: Record<string, any>,
  state: StreamState,
  manager: PartsManager.PartsManager,
  out: Out,
  modelName: string
): AgentError.ModelError | undefined => {
  switch (data.type as string) {
    case "message_start": {
      const m = data.message ?? {}
      if (typeof m.id === "string") manager.info.providerResponseId = m.id
      if (typeof m.model === "string") manager.info.modelName = m.model
      const started = containerDetails(m.container)
      if (started !== undefined) manager.info.providerDetails = started
      mergeUsage(state, m.usage)
      manager.info.usage = decodeUsage(state.usage)
      return undefined
    }
    case "content_block_start": {
      const id = String(data.index)
      const b = (data.content_block ?? {}) as Block
      switch (b.type) {
        case "text":
          push(out, manager.textDelta(id, str(b.text) ?? ""))
          break
        case "tool_use":
          push(
            out,
            manager.toolCallDelta(id, {
              toolName: str(b.name),
              toolCallId: str(b.id),
              providerName: PROVIDER_NAME
            })
          )
          break
        case "thinking":
          push(
            out,
            manager.thinkingDelta(id, {
              content: str(b.thinking) ?? "",
              signature: str(b.signature) || undefined,
              providerName: PROVIDER_NAME
            })
          )
          break
        case "redacted_thinking":
          push(out, manager.thinkingDelta(id, redactedThinking(b)))
          break
        case "compaction":
          // Emitted whole at `content_block_stop`, once its content has arrived.
          state.compactions.set(id, str(b.content) ?? "")
          break
        default:
          if (isBuiltinCall(b.type)) {
            const details = callDetails(b)
            // The input streams as `input_json_delta`s (the start block holds `{}`).
            const input = b.input as Record<string, unknown> | undefined
            push(
              out,
              manager.toolCallDelta(id, {
                toolName: str(b.name),
                toolCallId: str(b.id),
                providerName: PROVIDER_NAME,
                builtin: true,
                ...(input !== undefined && Object.keys(input).length > 0 ? { args: input } : {}),
                ...(details !== undefined ? { providerDetails: details } : {})
              })
            )
          } else if (isBuiltinResult(b.type)) push(out, manager.part(id, builtinResult(b)))
          break
      }
      return undefined
    }
    case "content_block_delta": {
      const id = String(data.index)
      const d = data.delta ?? {}
      switch (d.type) {
        case "text_delta":
          push(out, manager.textDelta(id, d.text ?? ""))
          break
        case "input_json_delta":
          if (d.partial_json) push(out, manager.toolCallDelta(id, { args: d.partial_json }))
          break
        case "thinking_delta":
          push(out, manager.thinkingDelta(id, { content: d.thinking ?? "" }))
          break
        case "signature_delta":
          push(out, manager.thinkingDelta(id, { signature: d.signature ?? "" }))
          break
        case "compaction_delta": {
          const soFar = state.compactions.get(id)
          if (soFar !== undefined && typeof d.content === "string")
            state.compactions.set(id, soFar + d.content)
          break
        }
        default:
          break
      }
      return undefined
    }
    case "content_block_stop": {
      const id = String(data.index)
      const compaction = state.compactions.get(id)
      if (compaction !== undefined) {
        state.compactions.delete(id)
        push(out, manager.part(id, compactionOf(compaction)))
      }
      push(out, manager.endPart(id))
      return undefined
    }
    case "message_delta": {
      const reason = data.delta?.stop_reason
      if (typeof reason === "string") {
        manager.info.providerFinishReason = reason
        const f = decodeFinishReason(reason)
        if (f !== undefined) manager.info.finishReason = f
      }
      const container = containerDetails(data.delta?.container)
      if (container !== undefined) manager.info.providerDetails = container
      mergeUsage(state, data.usage)
      manager.info.usage = decodeUsage(state.usage)
      return undefined
    }
    case "message_stop":
      state.stopped = true
      return undefined
    case "error": {
      const e = data.error ?? {}
      return streamError(
        modelName,
        manager,
        `Stream error: ${e.type ?? "error"}: ${e.message ?? ""}`,
        e
      )
    }
    default:
      return undefined
  }
}

/** The stream decoder of the Messages API: no `message_stop` means the response was cut. */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: makeStreamState,
  handleEvent: handleStreamEvent,
  end: (state, manager, modelName) =>
    state.stopped ? undefined : cutError(modelName, manager, "The stream ended before message_stop")
}
