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
import { cutError, type StreamDecoder } from "./streamDecoder.js"

/** The provider name recorded on parts and responses. */
export const PROVIDER_NAME = "anthropic"

/** Default `max_tokens` (the API requires one). */
export const DEFAULT_MAX_TOKENS = 4096

/** A content block. */
export type Block = Record<string, unknown> & { readonly type?: string }

/** A message of the `messages` array. */
export interface WireMessage {
  role: "user" | "assistant"
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
}

/** A message response. */
export interface WireResponse {
  readonly id?: string
  readonly model?: string
  readonly content?: ReadonlyArray<Block>
  readonly stop_reason?: string | null
  readonly usage?: WireUsage | null
}

/** A cache lifetime: `true` means the default (5 minutes). */
export type { CacheSetting } from "./wire.js"

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

const textDocumentTypes = new Set(["text/plain", "text/markdown", "text/csv", "text/html"])

const encodeUserContent = (item: Messages.UserContent, out: Array<Block>): void => {
  if (typeof item === "string") {
    if (item !== "") out.push({ type: "text", text: item })
    return
  }
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

/**
 * A tool result holding files, as `tool_result` content blocks in order: images and documents
 * natively, strings as text, other values as JSON text.
 */
const encodeToolResultBlocks = (content: unknown): Array<Block> => {
  const out: Array<Block> = []
  for (const item of Array.isArray(content) ? content : [content]) {
    if (Messages.isFileContent(item) || typeof item === "string") encodeUserContent(item, out)
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

/** Encodes the conversation into `system` text and `messages` (consecutive roles merged). */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>
): { readonly system: string | undefined; readonly messages: Array<WireMessage> } => {
  const systemParts: Array<string> = []
  const out: Array<WireMessage> = []
  let instructions: string | undefined
  const append = (role: "user" | "assistant", content: Array<Block>) => {
    if (content.length === 0) return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...content)
    else out.push({ role, content })
  }
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      append("assistant", encodeAssistant(m))
      continue
    }
    if (m.instructions !== undefined) instructions = m.instructions
    const content: Array<Block> = []
    for (const part of m.parts) {
      switch (part._tag) {
        case "SystemPromptPart":
          systemParts.push(part.content)
          break
        case "UserPromptPart":
          if (typeof part.content === "string") encodeUserContent(part.content, content)
          else for (const c of part.content) encodeUserContent(c, content)
          break
        case "ToolReturnPart":
          content.push({
            type: "tool_result",
            tool_use_id: part.toolCallId,
            content:
              part.files.length > 0
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
      }
    }
    append("user", content)
  }
  if (instructions !== undefined) systemParts.unshift(instructions)
  return {
    system: systemParts.length > 0 ? systemParts.join("\n\n") : undefined,
    messages: out
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

/** Encodes a tool definition; `strict` only goes out where the model supports strict tools. */
export const encodeTool = (tool: Tool.ToolDefinition, strictTools = true): Block => ({
  name: tool.name,
  description: tool.description ?? "",
  input_schema: tool.parametersJsonSchema,
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
  return betas
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
  const encoded = encodeMessages(messages)
  const budget = settings.thinking === undefined ? undefined : budgetOf(settings.thinking)
  let maxTokens = settings.maxTokens ?? DEFAULT_MAX_TOKENS
  if (budget !== undefined && maxTokens <= budget) maxTokens = budget + DEFAULT_MAX_TOKENS
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
  if (budget !== undefined) body.thinking = { type: "enabled", budget_tokens: budget }

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

  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    body.output_config = {
      format: { type: "json_schema", schema: parameters.outputObject.jsonSchema }
    }
  }

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
export const decodeUsage = (u: WireUsage | null | undefined): Usage.RequestUsage =>
  u === null || u === undefined
    ? Usage.RequestUsage.empty
    : withDetails(
        cachedUsage(
          u.input_tokens ?? 0,
          u.output_tokens ?? 0,
          u.cache_read_input_tokens ?? 0,
          u.cache_creation_input_tokens ?? 0
        ),
        u.server_tool_use
      )

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
    timestamp: undefined
  })

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream decoder state. */
export interface StreamState {
  stopped: boolean
  /** Usage fields seen so far (message_delta updates overwrite message_start's). */
  readonly usage: { -readonly [K in keyof WireUsage]: WireUsage[K] }
}

/** Fresh state for one stream. */
export const makeStreamState = (): StreamState => ({ stopped: false, usage: {} })

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
        default:
          break
      }
      return undefined
    }
    case "content_block_stop":
      push(out, manager.endPart(String(data.index)))
      return undefined
    case "message_delta": {
      const reason = data.delta?.stop_reason
      if (typeof reason === "string") {
        manager.info.providerFinishReason = reason
        const f = decodeFinishReason(reason)
        if (f !== undefined) manager.info.finishReason = f
      }
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
