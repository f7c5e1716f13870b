/**
 * Pure wire conversion for the OpenAI Responses API (`POST /v1/responses`): agentfx messages,
 * settings and request parameters → request body; response JSON → `ModelResponse`; SSE events →
 * `PartsManager` deltas. No I/O here, so conformance tests call these directly.
 *
 * Wire types are small hand-written interfaces for the fields we read; everything else is
 * ignored, and unknown output items / stream events are skipped.
 */
import {
  AgentError,
  BuiltinTool,
  Messages,
  type Model,
  type ModelSettings,
  type PartsManager,
  type Tool,
  Toolset,
  Usage
} from "@agentfx/core"
import {
  builtinCallPart,
  builtinReturnPart,
  completeResponse,
  makeFilePart,
  makeRequestUsage,
  type Out,
  push,
  str,
  streamError,
  textPart,
  thinkingPart,
  toolCallPart
} from "./wire.js"
import * as Redacted from "effect/Redacted"
import { cutError, type StreamDecoder } from "./streamDecoder.js"

/** The provider name recorded on parts and responses. */
export const PROVIDER_NAME = "openai"

// ---------------------------------------------------------------------------
// Wire types (the fields we use)
// ---------------------------------------------------------------------------

/** One item of `input` / `output`. */
export type WireItem = Record<string, unknown> & { readonly type?: string; readonly role?: string }

/** The usage block of a response. */
export interface WireUsage {
  readonly input_tokens?: number
  readonly output_tokens?: number
  readonly input_tokens_details?: {
    readonly cached_tokens?: number
    readonly cache_write_tokens?: number
  } | null
  readonly output_tokens_details?: { readonly reasoning_tokens?: number } | null
}

/** A response object (non-streaming body, or inside `response.completed`). */
export interface WireResponse {
  readonly id?: string
  readonly model?: string
  readonly created_at?: number
  readonly status?: string
  /** Whether the response runs as a background job. */
  readonly background?: boolean | null
  readonly output?: ReadonlyArray<WireItem>
  readonly usage?: WireUsage | null
  readonly incomplete_details?: { readonly reason?: string } | null
  readonly error?: { readonly code?: string; readonly message?: string } | null
  /** The server-side conversation the response was added to. */
  readonly conversation?: { readonly id?: string } | null
}

/**
 * `providerDetails` of a response: the id of its server-side conversation, if any, and
 * `background: true` for a background job (pydantic-ai's marker: such a response can be
 * resumed or cancelled on the server).
 */
const responseDetails = (r: WireResponse): Messages.ProviderDetails | undefined => {
  const id = r.conversation?.id
  const conversation = typeof id === "string" ? { conversation_id: id } : undefined
  return r.background === true ? { ...conversation, background: true } : conversation
}

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

const isReasoningModel = (name: string): boolean => /^(o\d|gpt-5|codex)/.test(name)

/** Whether `modelName` reasons (o-series, gpt-5): enables encrypted reasoning round trips. */
export const supportsReasoning = isReasoningModel

/** Whether `modelName` can call the `image_generation` tool (gpt-5*, o3, gpt-4.1, gpt-4o). */
export const supportsImageGeneration = (name: string): boolean =>
  name.startsWith("gpt-5") || name.includes("o3") || name.includes("4.1") || name.includes("4o")

const encodeUserContent = (item: Messages.UserContent): Record<string, unknown> | undefined => {
  if (typeof item === "string") return { type: "input_text", text: item }
  switch (item._tag) {
    case "TextContent":
      return { type: "input_text", text: item.content }
    case "ImageUrl":
      return {
        type: "input_image",
        image_url: item.url,
        detail: Messages.imageDetailOf(item) ?? "auto"
      }
    case "DocumentUrl":
      return { type: "input_file", file_url: item.url }
    case "UploadedFile":
      // A file of the Files API: images by `input_image`, anything else by `input_file`.
      return item.isImage
        ? {
            type: "input_image",
            file_id: item.fileId,
            detail: Messages.imageDetailOf(item) ?? "auto"
          }
        : { type: "input_file", file_id: item.fileId }
    case "BinaryContent":
      if (item.isImage)
        return {
          type: "input_image",
          image_url: item.dataUrl,
          detail: Messages.imageDetailOf(item) ?? "auto"
        }
      return {
        type: "input_file",
        file_data: item.dataUrl,
        filename: item.identifier ?? `filename.${item.mediaType.split("/")[1] ?? "bin"}`
      }
    case "CachePoint":
      return undefined
    default:
      // Audio / video URLs are not accepted by the Responses API: send a pointer as text.
      return { type: "input_text", text: item.url }
  }
}

/**
 * A tool result holding files, as `function_call_output` content items (the Responses API
 * accepts images and files there): text and JSON values become `input_text`, files go natively.
 */
const encodeToolOutputItems = (content: unknown): Array<Record<string, unknown>> => {
  const items = Array.isArray(content) ? content : [content]
  const out: Array<Record<string, unknown>> = []
  for (const item of items) {
    if (Messages.isFileContent(item)) {
      if (item._tag === "AudioUrl" || item._tag === "VideoUrl") {
        out.push({ type: "input_file", file_url: item.url })
      } else {
        out.push(encodeUserContent(item)!)
      }
    } else if (item !== undefined && item !== null) {
      out.push({ type: "input_text", text: Messages.renderToolContent(item) })
    }
  }
  return out
}

const thinkingGroupKey = (p: Messages.ThinkingPart): string | undefined => p.id

/** `providerDetails` of a thinking part holding raw reasoning (`reasoning_text` content). */
const rawReasoning = { reasoning_text: true } as const

const isRawReasoning = (p: Messages.ThinkingPart): boolean =>
  p.providerDetails?.reasoning_text === true

/**
 * The annotations OpenAI attached to a text part (`url_citation`, `file_citation`,
 * `container_file_citation`, `file_path`; as sent, with their character offsets), or `[]`.
 * Kept in `providerDetails.annotations` and sent back with the message when the history goes
 * back to the Responses API.
 */
export const annotationsOf = (part: Messages.TextPart): ReadonlyArray<Record<string, unknown>> => {
  const a = part.providerDetails?.annotations
  return Array.isArray(a) ? (a as ReadonlyArray<Record<string, unknown>>) : []
}

/** Encodes one response of the history into input items (reasoning, messages, function calls). */
const encodeResponse = (m: Messages.ModelResponse, out: Array<WireItem>): void => {
  let reasoning: (WireItem & { summary: Array<unknown> }) | undefined
  const builtinItems = new Map<string, WireItem>()
  for (const part of m.parts) {
    switch (part._tag) {
      case "TextPart": {
        reasoning = undefined
        if (part.id?.startsWith("msg_")) {
          const phase = part.providerDetails?.phase
          out.push({
            type: "message",
            role: "assistant",
            id: part.id,
            status: "completed",
            content: [
              { type: "output_text", text: part.content, annotations: annotationsOf(part) }
            ],
            ...(typeof phase === "string" ? { phase } : {})
          })
        } else {
          out.push({ role: "assistant", content: part.content })
        }
        break
      }
      case "ToolCallPart": {
        reasoning = undefined
        if (isClientToolSearchCall(part)) {
          out.push(encodeClientToolSearchCall(part))
          break
        }
        const namespace = part.providerDetails?.namespace
        const item: Record<string, unknown> = {
          type: "function_call",
          call_id: part.toolCallId,
          name: part.toolName,
          arguments: part.argsAsJson(),
          ...(typeof namespace === "string" ? { namespace } : {})
        }
        if (
          part.id?.startsWith("fc_") &&
          (part.providerName === undefined || part.providerName === PROVIDER_NAME)
        ) {
          item.id = part.id
        }
        out.push(item)
        break
      }
      case "BuiltinToolCallPart": {
        // A built-in tool's item goes back whole (its call fields, then its results merged in
        // from the return part); other providers' built-in parts are dropped.
        reasoning = undefined
        if (part.providerName !== PROVIDER_NAME) break
        if (isToolSearchItem(part.providerDetails)) {
          out.push({ ...part.providerDetails, arguments: part.argsAsObject() })
          break
        }
        const item: WireItem = {
          type: builtinItemType(part),
          id: part.toolCallId,
          ...part.argsAsObject()
        }
        builtinItems.set(part.toolCallId, item)
        out.push(item)
        break
      }
      case "BuiltinToolReturnPart": {
        reasoning = undefined
        if (part.providerName === PROVIDER_NAME && isToolSearchItem(part.providerDetails)) {
          out.push({ ...part.providerDetails, ...(part.content as Record<string, unknown>) })
          break
        }
        const item = builtinItems.get(part.toolCallId)
        if (part.providerName !== PROVIDER_NAME || item === undefined) break
        if (part.content !== null && typeof part.content === "object")
          Object.assign(item, part.content)
        break
      }
      case "FilePart": {
        // An image our `image_generation` tool made goes back inside its call item (as the
        // item's `result`); the Responses API takes no other file from the assistant: dropped.
        const item = part.id === undefined ? undefined : builtinItems.get(part.id)
        if (part.providerName === PROVIDER_NAME && item?.type === "image_generation_call")
          item.result = part.content.base64
        break
      }
      case "CompactionPart": {
        // Our own compaction item goes back with its encrypted content (the server restores
        // the history it stands for); another provider's readable summary goes as text.
        reasoning = undefined
        if (part.providerName === PROVIDER_NAME && part.encryptedContent !== undefined) {
          out.push({
            type: "compaction",
            ...(part.id !== undefined ? { id: part.id } : {}),
            encrypted_content: part.encryptedContent
          })
        } else if (part.providerName !== PROVIDER_NAME && part.content) {
          out.push({ role: "assistant", content: part.content })
        }
        break
      }
      case "ThinkingPart": {
        // Only our own reasoning items can go back (they are tied to the encrypted content).
        if (part.providerName !== PROVIDER_NAME || part.id === undefined) {
          reasoning = undefined
          break
        }
        const key = thinkingGroupKey(part)
        if (reasoning === undefined || reasoning.id !== key) {
          reasoning = { type: "reasoning", id: part.id, summary: [] }
          out.push(reasoning)
        }
        if (isRawReasoning(part)) {
          const content = (reasoning.content ?? []) as Array<unknown>
          content.push({ type: "reasoning_text", text: part.content })
          reasoning.content = content
        } else if (part.content !== "")
          reasoning.summary.push({ type: "summary_text", text: part.content })
        if (part.signature !== undefined) reasoning.encrypted_content = part.signature
        break
      }
    }
  }
}

/**
 * What a `CachePoint` adds to the content item before it: OpenAI's explicit prompt cache
 * breakpoint (the cache's lifetime is the request's `prompt_cache_options`, e.g. via
 * `extraBody`).
 */
export const promptCacheBreakpoint = { prompt_cache_breakpoint: { mode: "explicit" } } as const

/**
 * Encodes the conversation into the `input` items and the `instructions` string. `tools` are the
 * request's function tools by name, as encoded (for the definitions a tool search found and the
 * tools made available mid-conversation).
 */
export const encodeInput = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  tools: ReadonlyMap<string, WireItem> = new Map()
): { readonly input: Array<WireItem>; readonly instructions: string | undefined } => {
  const input: Array<WireItem> = []
  let instructions: string | undefined
  // Client-executed tool searches by call id: their returns go back as `tool_search_output`.
  const searches = new Set<string>()
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      encodeResponse(m, input)
      for (const p of m.parts)
        if (p._tag === "ToolCallPart" && isClientToolSearchCall(p)) searches.add(p.toolCallId)
      continue
    }
    if (m.instructions !== undefined) instructions = m.instructions
    for (const part of m.parts) {
      switch (part._tag) {
        case "SystemPromptPart":
          input.push({ role: "system", content: part.content })
          break
        case "UserPromptPart":
          if (typeof part.content === "string") {
            input.push({ role: "user", content: part.content })
          } else {
            const content: Array<Record<string, unknown>> = []
            for (const c of part.content) {
              const e = encodeUserContent(c)
              if (e !== undefined) content.push(e)
              else if (typeof c !== "string" && c._tag === "CachePoint" && content.length > 0)
                // OpenAI's explicit cache breakpoint: the prefix ends with the item before it.
                content[content.length - 1] = { ...content.at(-1), ...promptCacheBreakpoint }
            }
            input.push({ role: "user", content })
          }
          break
        case "ToolReturnPart":
          if (searches.has(part.toolCallId) && part.toolReferences.length > 0) {
            input.push(encodeToolSearchOutput(part, tools))
            break
          }
          input.push({
            type: "function_call_output",
            call_id: part.toolCallId,
            output: part.files.length > 0 ? encodeToolOutputItems(part.content) : part.contentText
          })
          break
        case "RetryPromptPart":
          if (part.toolName !== undefined && part.toolCallId !== undefined) {
            input.push({
              type: "function_call_output",
              call_id: part.toolCallId,
              output: part.modelResponse
            })
          } else {
            input.push({ role: "user", content: part.modelResponse })
          }
          break
        case "ToolAvailabilityDeltaPart":
          input.push(encodeAdditionalTools(part, tools))
          break
      }
    }
  }
  return { input, instructions }
}

/**
 * Encodes one tool definition. With a schema transformer (OpenAI's strict one by default) the
 * tool is strict when it asks to be (`strict: true`, schema rewritten) or, when it does not say,
 * when its schema is already strict-compatible (as pydantic-ai decides); `strict: false` opts out.
 */
export const encodeTool = (
  tool: Tool.ToolDefinition,
  profile: Model.ModelProfile
): Record<string, unknown> => {
  let parameters: Record<string, unknown> = tool.parametersJsonSchema
  let strict = tool.strict === true
  if (profile.jsonSchemaTransformer !== undefined) {
    const t = profile.jsonSchemaTransformer(
      parameters,
      tool.strict === undefined ? {} : { strict: tool.strict }
    )
    parameters = t.schema
    strict = tool.strict === false ? false : t.isStrictCompatible
  }
  return {
    type: "function",
    name: tool.name,
    description: tool.description ?? "",
    parameters,
    strict
  }
}

const effortOf = (thinking: ModelSettings.ThinkingSetting): string | undefined => {
  if (thinking === false) return undefined
  if (thinking === true) return "medium"
  if (typeof thinking === "string") return thinking
  const b = thinking.budgetTokens
  return b <= 2048 ? "low" : b <= 16384 ? "medium" : "high"
}

// ---------------------------------------------------------------------------
// Built-in tools
// ---------------------------------------------------------------------------

/** The item type of a built-in tool part (kept in `providerDetails.type`, else `<tool>_call`). */
const builtinItemType = (part: Messages.BuiltinToolCallPart): string => {
  const type = part.providerDetails?.type
  return typeof type === "string" ? type : `${part.toolName}_call`
}

/** Output item types of built-in tools, with the fields that are the tool's results. */
const BUILTIN_ITEMS: Record<string, ReadonlyArray<string>> = {
  web_search_call: ["status"],
  code_interpreter_call: ["status", "outputs"],
  file_search_call: ["status", "results"],
  image_generation_call: ["status", "result", "revised_prompt"],
  mcp_call: ["status", "output", "error"],
  mcp_list_tools: ["tools", "error"],
  local_shell_call: ["status"]
}

/** Whether an output item is a built-in tool's (web search, code interpreter, MCP…). */
export const isBuiltinItem = (item: WireItem): boolean =>
  item.type !== undefined && item.type in BUILTIN_ITEMS

/**
 * A built-in tool item as a call part (its input fields: `action`, `code` + `container_id`,
 * `queries`, MCP `server_label` / `name` / `arguments`…) and a return part (its result fields,
 * with `status`). The tool name is the item type without `_call`.
 */
export const decodeBuiltinItem = (
  item: WireItem
): readonly [Messages.BuiltinToolCallPart, Messages.BuiltinToolReturnPart] => {
  const type = item.type ?? ""
  const resultKeys = BUILTIN_ITEMS[type] ?? ["status"]
  const args: Record<string, unknown> = {}
  const content: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(item)) {
    if (k === "type" || k === "id") continue
    if (resultKeys.includes(k)) content[k] = v
    else args[k] = v
  }
  const toolName = type.replace(/_call$/, "")
  const id = str(item.id) ?? ""
  const details = `${toolName}_call` === type ? undefined : { type }
  return [
    builtinCallPart({
      toolName,
      args,
      toolCallId: id,
      providerName: PROVIDER_NAME,
      ...(details !== undefined ? { providerDetails: details } : {})
    }),
    builtinReturnPart({ toolName, content, toolCallId: id, providerName: PROVIDER_NAME })
  ]
}

/**
 * The image of an `image_generation_call` item as a `FilePart` (its base64 `result`, media type
 * `image/<output_format>`, png by default; `id` = the item's, to send it back inside the item),
 * or `undefined` when the item holds no image.
 */
export const imageFileOf = (item: WireItem): Messages.FilePart | undefined => {
  const result = str(item.result)
  if (item.type !== "image_generation_call" || result === undefined || result === "")
    return undefined
  const id = str(item.id)
  return makeFilePart({
    content: new Messages.BinaryContent(
      {
        data: new Uint8Array(Buffer.from(result, "base64")),
        mediaType: `image/${str(item.output_format) ?? "png"}`
      },
      true
    ),
    ...(id !== undefined ? { id } : {}),
    providerName: PROVIDER_NAME
  })
}

/**
 * A built-in tool item as parts: its call, the generated image of an `image_generation_call`
 * (a `FilePart`: the image is kept there, not in the return part's content), and its return.
 */
export const decodeBuiltinParts = (
  item: WireItem
): {
  readonly call: Messages.BuiltinToolCallPart
  readonly file: Messages.FilePart | undefined
  readonly result: Messages.BuiltinToolReturnPart
} => {
  const [call, result] = decodeBuiltinItem(item)
  const file = imageFileOf(item)
  if (file === undefined) return { call, file, result }
  // The streamed item may still say `generating` although its image is complete.
  const { result: _, ...content } = result.content as Record<string, unknown>
  return {
    call,
    file,
    result: builtinReturnPart({
      toolName: result.toolName,
      content: { ...content, status: "completed" },
      toolCallId: result.toolCallId,
      providerName: PROVIDER_NAME
    })
  }
}

/** The `UserError` for the first built-in tool (or option) the Responses API lacks, if any. */
export const builtinToolsError = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>
): AgentError.UserError | undefined => {
  for (const tool of builtinTools) {
    switch (tool._tag) {
      case "WebSearch":
        if (tool.blockedDomains !== undefined || tool.maxUses !== undefined)
          return BuiltinTool.unsupported(
            "OpenAI Responses",
            tool,
            "blockedDomains and maxUses are Anthropic's"
          )
        break
      case "UrlContext":
      case "WebFetch":
      case "Memory":
      case "Advisor":
        return BuiltinTool.unsupported("OpenAI Responses", tool)
      case "ToolSearch":
        if (tool.variant !== undefined)
          return BuiltinTool.unsupported(
            "OpenAI Responses",
            tool,
            "the bm25 / regex variants are Anthropic's"
          )
        break
      default:
        break
    }
  }
  return undefined
}

/**
 * The Responses API `tools` entries of the built-in tools. Tools it lacks are left out here;
 * `builtinToolsError` names them (the model fails the request).
 */
export const encodeBuiltinTools = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>
): Array<Record<string, unknown>> => {
  const out: Array<Record<string, unknown>> = []
  for (const tool of builtinTools) {
    switch (tool._tag) {
      case "WebSearch":
        out.push({
          type: "web_search",
          ...(tool.searchContextSize !== undefined
            ? { search_context_size: tool.searchContextSize }
            : {}),
          ...(tool.userLocation !== undefined
            ? { user_location: { type: "approximate", ...tool.userLocation } }
            : {}),
          ...(tool.allowedDomains !== undefined
            ? { filters: { allowed_domains: tool.allowedDomains } }
            : {}),
          ...(tool.externalWebAccess !== undefined
            ? { external_web_access: tool.externalWebAccess }
            : {})
        })
        break
      case "CodeExecution":
        out.push({ type: "code_interpreter", container: { type: "auto" } })
        break
      case "FileSearch":
        out.push({ type: "file_search", vector_store_ids: tool.fileStoreIds })
        break
      case "ImageGeneration":
        out.push({
          type: "image_generation",
          ...(tool.background !== undefined ? { background: tool.background } : {}),
          ...(tool.quality !== undefined ? { quality: tool.quality } : {}),
          ...(tool.size !== undefined ? { size: tool.size } : {}),
          ...(tool.outputFormat !== undefined ? { output_format: tool.outputFormat } : {}),
          ...(tool.partialImages !== undefined ? { partial_images: tool.partialImages } : {})
        })
        break
      case "McpServer":
        out.push({
          type: "mcp",
          server_label: tool.id,
          server_url: tool.url,
          require_approval: "never",
          ...(tool.authorization !== undefined
            ? { authorization: Redacted.value(tool.authorization) }
            : {}),
          ...(tool.description !== undefined ? { server_description: tool.description } : {}),
          ...(tool.allowedTools !== undefined ? { allowed_tools: tool.allowedTools } : {})
        })
        break
      default:
        break
    }
  }
  return out
}

// ---------------------------------------------------------------------------
// Tool search
// ---------------------------------------------------------------------------

/**
 * Function tools and tool search entries of `tools`. Tool search comes first: the provider's
 * (`BuiltinTool.ToolSearch` → `tool_search`) or the agent's (`Toolset.withToolSearch` → a
 * client-executed `tool_search` with the tool's description and parameters). Deferred tools
 * carry `defer_loading` when a search can find them; without one they are left out and reach
 * the model only through `additional_tools` items. `byName` holds every function tool as
 * encoded, for the found tools of `tool_search_output` and for `additional_tools`.
 */
const encodeFunctionTools = (
  tools: ReadonlyArray<Tool.ToolDefinition>,
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>,
  profile: Model.ModelProfile
) => {
  const searchTools: Array<WireItem> = []
  if (builtinTools.some((t) => t._tag === "ToolSearch")) searchTools.push({ type: "tool_search" })
  for (const t of tools) {
    if (t.toolSearch !== true) continue
    searchTools.push({
      type: "tool_search",
      execution: "client",
      description: t.description ?? "",
      parameters: t.parametersJsonSchema
    })
  }
  const functionTools: Array<WireItem> = []
  const byName = new Map<string, WireItem>()
  for (const t of tools) {
    if (t.toolSearch === true) continue
    const encoded: WireItem =
      t.deferLoading === true
        ? { ...encodeTool(t, profile), defer_loading: true }
        : encodeTool(t, profile)
    byName.set(t.name, encoded)
    if (t.deferLoading !== true || searchTools.length > 0) functionTools.push(encoded)
  }
  return { searchTools, functionTools, byName }
}

/** Is this `providerDetails` a tool search item kept whole (`tool_search_call` / `_output`)? */
const isToolSearchItem = (d: Messages.ProviderDetails | undefined): d is WireItem =>
  d?.type === "tool_search_call" || d?.type === "tool_search_output"

/** A client-executed tool search call (the agent's `Toolset.withToolSearch` runs it). */
const isClientToolSearchCall = (p: Messages.ModelResponsePart): boolean =>
  p._tag === "ToolCallPart" && p.providerDetails?.type === "tool_search_call"

const encodeClientToolSearchCall = (part: Messages.ToolCallPart): WireItem => ({
  ...part.providerDetails,
  ...(part.id !== undefined ? { id: part.id } : {}),
  call_id: part.toolCallId,
  arguments: part.argsAsObject()
})

/** The agent's answer to a client tool search: the definitions of the tools it found. */
const encodeToolSearchOutput = (
  part: Messages.ToolReturnPart,
  tools: ReadonlyMap<string, WireItem>
): WireItem => ({
  type: "tool_search_output",
  call_id: part.toolCallId,
  execution: "client",
  status: "completed",
  tools: part.toolReferences.flatMap((r) => {
    const t = tools.get(r.toolName)
    return t === undefined ? [] : [t]
  })
})

/** Deferred tools made available at this point: their definitions, as a developer item. */
const encodeAdditionalTools = (
  part: Messages.ToolAvailabilityDeltaPart,
  tools: ReadonlyMap<string, WireItem>
): WireItem => ({
  type: "additional_tools",
  role: "developer",
  tools: part.added.flatMap((name) => {
    const t = tools.get(name)
    if (t === undefined) return []
    const { defer_loading: _, ...definition } = t
    return [definition]
  })
})

/**
 * A tool search output item as a part. The provider's search (`execution: "server"`): a
 * built-in `tool_search` call (its `arguments`) and return (the `tools` found), each keeping
 * the item's other fields to go back unchanged. A client search call: a call of the agent's
 * search tool (`Toolset.toolSearchName`). `lastSearch`: the id of the call an output answers.
 */
export const decodeToolSearchItem = (
  item: WireItem,
  lastSearch: string | undefined
): Messages.ModelResponsePart => {
  const { arguments: args, tools, ...rest } = item
  const toolArgs =
    typeof args === "string" || (typeof args === "object" && args !== null)
      ? (args as Messages.ToolArgs)
      : {}
  if (item.type === "tool_search_call" && item.execution === "client") {
    const { id, call_id, ...details } = rest
    return toolCallPart({
      toolName: Toolset.toolSearchName,
      args: toolArgs,
      toolCallId: str(call_id) ?? str(id) ?? "",
      ...(typeof id === "string" ? { id } : {}),
      providerName: PROVIDER_NAME,
      providerDetails: details
    })
  }
  if (item.type === "tool_search_call") {
    return builtinCallPart({
      toolName: "tool_search",
      args: toolArgs,
      toolCallId: str(item.id) ?? str(item.call_id) ?? "",
      providerName: PROVIDER_NAME,
      providerDetails: rest
    })
  }
  return builtinReturnPart({
    toolName: "tool_search",
    content: { tools: Array.isArray(tools) ? tools : [] },
    toolCallId: str(item.call_id) ?? lastSearch ?? str(item.id) ?? "",
    providerName: PROVIDER_NAME,
    providerDetails: rest
  })
}

/**
 * Settings only the Responses API has, on top of the portable ones (pass them wherever model
 * settings go: the model's options, the agent, a run; they merge like the others).
 */
export interface ResponsesSettings extends ModelSettings.ModelSettings {
  /**
   * Continue from a response stored on OpenAI's side (`previous_response_id`), so the history
   * it holds is not sent again. A response id sends it with every message given; `"auto"`
   * takes the id of the last OpenAI response of the history (its `providerResponseId`) and
   * sends only the messages after it, or everything when there is none (pydantic-ai's
   * `openai_previous_response_id`).
   */
  readonly openaiPreviousResponseId?: string | undefined
  /**
   * Run in a server-side conversation (`conversation`, created with `POST /v1/conversations`):
   * OpenAI keeps its items, so only the messages after the last response of that conversation
   * in the history are sent. `"auto"` continues the conversation of the last OpenAI response of
   * the history (its `providerDetails.conversation_id`) that belongs to the agent conversation
   * being run (`RunOptions.conversationId`, stamped on the messages): a history forked into a
   * new conversation (`conversationId: "new"`) is sent whole, without `conversation`.
   */
  readonly openaiConversationId?: string | undefined
  /**
   * Background mode (`background: true`): OpenAI runs the response as a job. Non-streamed, it
   * answers at once with the job's id and the model polls `GET /responses/{id}` (backing off
   * from 100 ms to 2 s) until the job completes, fails or is cancelled. Streamed, the events
   * come as usual; when the connection drops before the end, the model reconnects with
   * `GET /responses/{id}?starting_after=<last sequence number>&stream=true` and the parts go
   * on where they were cut (`openaiBackgroundMaxResumes` times). A failed or cancelled job is a
   * `ModelAPIError` naming it; interrupting the request cancels the job
   * (`POST /responses/{id}/cancel`). A response of a job that did not end (`state` not
   * `complete`, `providerDetails.background`) continues the job when it is the last message of
   * the history given to the model, instead of starting a new one.
   */
  readonly openaiBackground?: boolean | undefined
  /**
   * The most polls of a background response before giving up (default 600). `0` does not wait:
   * a job still queued or running comes back at once as an `incomplete` response (no parts,
   * `providerDetails.background`), to be continued later by sending it back as the last message.
   */
  readonly openaiBackgroundMaxPolls?: number | undefined
  /** The most reconnections of a dropped background stream (default 3). */
  readonly openaiBackgroundMaxResumes?: number | undefined
}

/** The conversation a response belongs to (Responses `conversation.id`), if any. */
export const conversationIdOf = (m: Messages.ModelResponse): string | undefined =>
  m.providerName === PROVIDER_NAME ? str(m.providerDetails?.conversation_id) : undefined

/**
 * The id `pick` finds on the last response of the history that has one, and the messages
 * after that response; `undefined` and every message when none has one.
 */
const afterLast = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  pick: (m: Messages.ModelResponse) => string | undefined
): { readonly id: string | undefined; readonly messages: ReadonlyArray<Messages.ModelMessage> } => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    const id = m._tag === "ModelResponse" ? pick(m) : undefined
    if (id !== undefined) return { id, messages: messages.slice(i + 1) }
  }
  return { id: undefined, messages }
}

/**
 * The `conversation` to send and the messages to encode: the messages after the last response
 * of that conversation (all of them when the history has none).
 */
export const conversationOf = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  setting: string | undefined
): {
  readonly conversationId: string | undefined
  readonly messages: ReadonlyArray<Messages.ModelMessage>
} => {
  if (setting === undefined) return { conversationId: undefined, messages }
  // `auto` continues only the agent conversation being run (stamped by the run on the request
  // it sends last): responses of another one (a forked history) are not continued.
  const current = setting === "auto" ? messages.at(-1)?.conversationId : undefined
  const last = afterLast(messages, (m) => {
    if (current !== undefined && m.conversationId !== undefined && m.conversationId !== current)
      return undefined
    const id = conversationIdOf(m)
    return setting === "auto" || id === setting ? id : undefined
  })
  return {
    conversationId: last.id ?? (setting === "auto" ? undefined : setting),
    messages: last.messages
  }
}

/**
 * The `previous_response_id` to send and the messages to encode: with `"auto"`, the last
 * OpenAI response of the history that has an id, and only the messages after it.
 */
export const chainOf = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  setting: string | undefined
): {
  readonly previousResponseId: string | undefined
  readonly messages: ReadonlyArray<Messages.ModelMessage>
} => {
  if (setting !== "auto") return { previousResponseId: setting, messages }
  const last = afterLast(messages, (m) =>
    m.providerName === PROVIDER_NAME ? m.providerResponseId : undefined
  )
  return { previousResponseId: last.id, messages: last.messages }
}

/** Options of `encodeRequest`. */
export interface EncodeOptions {
  readonly modelName: string
  readonly profile: Model.ModelProfile
  readonly stream: boolean
}

/**
 * Builds the JSON body of a Responses API call. `settings.extraBody` is not merged here (the
 * HTTP layer does that last).
 */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Record<string, unknown> => {
  const builtin = encodeBuiltinTools(parameters.builtinTools)
  // Image output needs the image generation tool: added unless the agent gave its own.
  if (parameters.allowImageOutput && !builtin.some((t) => t.type === "image_generation"))
    builtin.push({ type: "image_generation" })
  const own = settings as ResponsesSettings
  const conversation = conversationOf(messages, own.openaiConversationId)
  const chain = chainOf(conversation.messages, own.openaiPreviousResponseId)
  const tools = parameters.allTools
  const { searchTools, functionTools, byName } = encodeFunctionTools(
    tools,
    parameters.builtinTools,
    options.profile
  )
  const { input, instructions } = encodeInput(chain.messages, byName)
  const body: Record<string, unknown> = { model: options.modelName, input, stream: options.stream }
  if (instructions !== undefined) body.instructions = instructions
  if (chain.previousResponseId !== undefined) body.previous_response_id = chain.previousResponseId
  if (conversation.conversationId !== undefined) body.conversation = conversation.conversationId

  if (searchTools.length > 0 || functionTools.length > 0 || builtin.length > 0) {
    body.tools = [...searchTools, ...functionTools, ...builtin]
    body.tool_choice = encodeToolChoice(settings, parameters)
  }

  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    const o = parameters.outputObject
    let schema: Record<string, unknown> = o.jsonSchema
    let strict = o.strict ?? true
    if (strict && options.profile.jsonSchemaTransformer !== undefined) {
      const t = options.profile.jsonSchemaTransformer(schema, { strict: true })
      schema = t.schema
      strict = t.isStrictCompatible
    }
    body.text = {
      format: {
        type: "json_schema",
        name: o.name ?? "final_result",
        schema,
        strict,
        ...(o.description !== undefined ? { description: o.description } : {})
      }
    }
  } else if (parameters.outputMode === "prompted" && options.profile.supportsJsonObjectOutput) {
    body.text = { format: { type: "json_object" } }
  }

  if (settings.maxTokens !== undefined) body.max_output_tokens = settings.maxTokens
  if (settings.temperature !== undefined) body.temperature = settings.temperature
  if (settings.topP !== undefined) body.top_p = settings.topP
  if (settings.serviceTier !== undefined) body.service_tier = settings.serviceTier
  if (own.openaiBackground === true) body.background = true
  if (settings.parallelToolCalls !== undefined && tools.length > 0)
    body.parallel_tool_calls = settings.parallelToolCalls

  const reasoningModel = options.profile.supportsThinking || isReasoningModel(options.modelName)
  if (settings.thinking !== undefined) {
    const effort = effortOf(settings.thinking)
    if (effort !== undefined) body.reasoning = { effort, summary: "auto" }
  }
  const include: Array<string> = reasoningModel ? ["reasoning.encrypted_content"] : []
  // Code interpreter outputs (logs, images) come back only when asked for.
  if (builtin.some((t) => t.type === "code_interpreter"))
    include.push("code_interpreter_call.outputs")
  if (include.length > 0) body.include = include
  return body
}

/** The `tool_choice` value: explicit setting first, then `required` when text is not allowed. */
export const encodeToolChoice = (
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters
): unknown => {
  const choice = settings.toolChoice
  const direct = parameters.allowDirectOutput
  if (choice === undefined || choice === "auto") {
    return direct ? "auto" : "required"
  }
  if (choice === "none") {
    // Output tools must stay callable when text is not allowed.
    if (!direct && parameters.outputTools.length > 0) {
      return parameters.outputTools.length === 1
        ? { type: "function", name: parameters.outputTools[0]!.name }
        : {
            type: "allowed_tools",
            mode: "required",
            tools: parameters.outputTools.map((t) => ({ type: "function", name: t.name }))
          }
    }
    return "none"
  }
  if (choice === "required") return "required"
  const names = direct
    ? choice
    : [...choice, ...parameters.outputTools.map((t) => t.name).filter((n) => !choice.includes(n))]
  if (names.length === 1) return { type: "function", name: names[0] }
  return {
    type: "allowed_tools",
    mode: direct ? "auto" : "required",
    tools: names.map((name) => ({ type: "function", name }))
  }
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/** Converts the usage block. `inputTokens` includes cached tokens (OpenAI counts them in). */
export const decodeUsage = (u: WireUsage | null | undefined): Usage.RequestUsage => {
  if (u === null || u === undefined) return Usage.RequestUsage.empty
  const details: Record<string, number> = {}
  const reasoning = u.output_tokens_details?.reasoning_tokens
  if (reasoning !== undefined && reasoning > 0) details.reasoning_tokens = reasoning
  return makeRequestUsage({
    inputTokens: u.input_tokens ?? 0,
    outputTokens: u.output_tokens ?? 0,
    cacheReadTokens: u.input_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: u.input_tokens_details?.cache_write_tokens ?? 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    details
  })
}

/** Maps the response status (and incomplete reason) to a finish reason. */
export const decodeFinishReason = (
  r: WireResponse,
  hasToolCalls: boolean
): {
  finishReason: Messages.FinishReason | undefined
  providerFinishReason: string | undefined
} => {
  const status = r.status
  if (status === "incomplete") {
    const reason = r.incomplete_details?.reason
    return {
      finishReason:
        reason === "max_output_tokens"
          ? "length"
          : reason === "content_filter"
            ? "content_filter"
            : "length",
      providerFinishReason: reason ?? status
    }
  }
  if (status === "completed")
    return { finishReason: hasToolCalls ? "tool_call" : "stop", providerFinishReason: status }
  if (status === "failed" || status === "cancelled")
    return { finishReason: "error", providerFinishReason: status }
  return { finishReason: undefined, providerFinishReason: status }
}

/** A `compaction` item as a part: its id and encrypted content, sent back unchanged. */
export const compactionOf = (item: WireItem): Messages.CompactionPart =>
  new Messages.CompactionPart({
    ...(typeof item.encrypted_content === "string"
      ? { encryptedContent: item.encrypted_content }
      : {}),
    providerName: PROVIDER_NAME,
    ...(typeof item.id === "string" ? { id: item.id } : {})
  })

/**
 * Converts a `/responses/compact` answer: its `compaction` items as parts (the input items it
 * echoes are not kept: the compaction stands for them), with the compaction's usage.
 */
export const decodeCompaction = (
  body: WireResponse,
  requestedModelName: string
): Messages.ModelResponse =>
  completeResponse({
    parts: (body.output ?? []).filter((i) => i.type === "compaction").map(compactionOf),
    usage: decodeUsage(body.usage),
    modelName: body.model ?? requestedModelName,
    providerName: PROVIDER_NAME,
    providerResponseId: body.id,
    finishReason: "stop",
    providerFinishReason: undefined,
    timestamp: body.created_at !== undefined ? new Date(body.created_at * 1000) : undefined
  })

/** Converts the output items of a response into parts. */
export const decodeOutput = (
  output: ReadonlyArray<WireItem>
): Array<Messages.ModelResponsePart> => {
  const parts: Array<Messages.ModelResponsePart> = []
  // The provider's last tool search call: its output item does not name it (`call_id: null`).
  let lastSearch: string | undefined
  for (const item of output) {
    switch (item.type) {
      case "message": {
        const content = Array.isArray(item.content) ? item.content : []
        const phase = str(item.phase)
        for (const c of content as Array<Record<string, unknown>>) {
          const text =
            c.type === "output_text"
              ? str(c.text)
              : c.type === "refusal"
                ? str(c.refusal)
                : undefined
          if (text === undefined) continue
          const annotations = Array.isArray(c.annotations) ? c.annotations : []
          parts.push(
            textPart({
              content: text,
              ...(typeof item.id === "string" ? { id: item.id } : {}),
              ...(phase !== undefined || annotations.length > 0
                ? {
                    providerDetails: {
                      ...(phase !== undefined ? { phase } : {}),
                      ...(annotations.length > 0 ? { annotations } : {})
                    }
                  }
                : {})
            })
          )
        }
        break
      }
      case "reasoning": {
        const id = str(item.id)
        let signature = str(item.encrypted_content)
        const summary = Array.isArray(item.summary)
          ? (item.summary as Array<{ text?: string }>)
          : []
        // Raw reasoning (DeepSeek, OpenRouter, gpt-oss): `content` of `reasoning_text`.
        const raw = (Array.isArray(item.content) ? (item.content as Array<WireItem>) : []).filter(
          (c) => c.type === "reasoning_text" && typeof c.text === "string"
        )
        const base = {
          ...(id !== undefined ? { id } : {}),
          providerName: PROVIDER_NAME
        }
        if (summary.length === 0 && raw.length === 0) {
          if (signature !== undefined) parts.push(thinkingPart({ content: "", ...base, signature }))
          break
        }
        const pieces = [
          ...summary.map((s) => ({ text: s.text ?? "", raw: false })),
          ...raw.map((c) => ({ text: c.text as string, raw: true }))
        ]
        for (const piece of pieces) {
          parts.push(
            thinkingPart({
              content: piece.text,
              ...base,
              ...(signature !== undefined ? { signature } : {}),
              ...(piece.raw ? { providerDetails: rawReasoning } : {})
            })
          )
          // The signature belongs to the whole item: keep it once, on the first piece.
          signature = undefined
        }
        break
      }
      case "function_call": {
        const namespace = str(item.namespace)
        parts.push(
          toolCallPart({
            toolName: str(item.name) ?? "",
            args: str(item.arguments) ?? "",
            toolCallId: str(item.call_id) ?? str(item.id) ?? "",
            ...(typeof item.id === "string" ? { id: item.id } : {}),
            providerName: PROVIDER_NAME,
            ...(namespace !== undefined ? { providerDetails: { namespace } } : {})
          })
        )
        break
      }
      case "compaction":
        parts.push(compactionOf(item))
        break
      case "tool_search_call":
      case "tool_search_output": {
        const part = decodeToolSearchItem(item, lastSearch)
        if (part._tag === "BuiltinToolCallPart") lastSearch = part.toolCallId
        parts.push(part)
        break
      }
      default:
        if (isBuiltinItem(item)) {
          const { call, file, result } = decodeBuiltinParts(item)
          parts.push(call)
          if (file !== undefined) parts.push(file)
          parts.push(result)
        }
        break
    }
  }
  return parts
}

/** Converts a whole (non-streaming) response body. */
export const decodeResponse = (
  body: WireResponse,
  requestedModelName: string
): Messages.ModelResponse => {
  const parts = decodeOutput(body.output ?? [])
  const { finishReason, providerFinishReason } = decodeFinishReason(
    body,
    parts.some((p) => p._tag === "ToolCallPart")
  )
  return completeResponse({
    parts,
    usage: decodeUsage(body.usage),
    modelName: body.model ?? requestedModelName,
    providerName: PROVIDER_NAME,
    providerResponseId: body.id,
    finishReason,
    providerFinishReason,
    timestamp: body.created_at !== undefined ? new Date(body.created_at * 1000) : undefined,
    providerDetails: responseDetails(body)
  })
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream decoder state. */
export interface StreamState {
  completed: boolean
  /** Whether the first event was seen (a continued stream's manager says it is a background job). */
  started: boolean
  /** A background job's stream: its cursor (`last_sequence_number`) is kept on the response. */
  background: boolean
  hasToolCalls: boolean
  /** Function-call item ids that received argument deltas. */
  readonly argsStreamed: Set<string>
  /** The `phase` of message items (`commentary`, `final_answer`), by item id. */
  readonly phases: Map<string, string>
  /** The id of the provider's last tool search call (its output does not name it). */
  lastSearch: string | undefined
  /** The annotations streamed so far per text part (`<item id>:<content index>`). */
  readonly annotations: Map<string, Array<unknown>>
}

/** Fresh state for one stream. */
export const makeStreamState = (): StreamState => ({
  completed: false,
  started: false,
  background: false,
  hasToolCalls: false,
  argsStreamed: new Set(),
  phases: new Map(),
  lastSearch: undefined,
  annotations: new Map()
})

const applyResponseInfo = (
  manager: PartsManager.PartsManager,
  r: WireResponse | undefined,
  state: StreamState
) => {
  if (r === undefined) return
  if (r.id !== undefined) manager.info.providerResponseId = r.id
  if (r.model !== undefined) manager.info.modelName = r.model
  if (r.created_at !== undefined) manager.info.timestamp = new Date(r.created_at * 1000)
  if (r.background === true) state.background = true
  const details = responseDetails(r)
  if (details !== undefined)
    manager.info.providerDetails = { ...manager.info.providerDetails, ...details }
}

/** The cursor of a background stream: the sequence number of the last event decoded. */
export const cursorKey = "last_sequence_number"

/**
 * Feeds one parsed SSE event to the parts manager. Returns an error for `response.failed` /
 * `error` events (carrying the partial response); unknown events are skipped. A background
 * job's stream keeps its cursor (`providerDetails.last_sequence_number`) until it ends, so a
 * cut response says where to resume.
 */
export const handleStreamEvent = (
  data: Record<string, any>,
  state: StreamState,
  manager: PartsManager.PartsManager,
  out: Out,
  modelName: string
): AgentError.ModelError | undefined => {
  if (!state.started) {
    state.started = true
    // A continued job's stream may start past `response.created`: its manager says it is one.
    state.background = manager.info.providerDetails?.background === true
  }
  const error = handleEvent(data, state, manager, out, modelName)
  if (state.background) {
    const seq = data.sequence_number
    const details = manager.info.providerDetails
    if (state.completed) {
      if (details !== undefined && cursorKey in details) {
        const { [cursorKey]: _, ...rest } = details
        manager.info.providerDetails = rest
      }
    } else if (typeof seq === "number") {
      manager.info.providerDetails = { ...details, [cursorKey]: seq }
    }
  }
  return error
}

const handleEvent = (
  data: Record<string, any>,
  state: StreamState,
  manager: PartsManager.PartsManager,
  out: Out,
  modelName: string
): AgentError.ModelError | undefined => {
  switch (data.type as string) {
    case "response.created":
    case "response.queued":
    case "response.in_progress":
      applyResponseInfo(manager, data.response, state)
      return undefined
    case "response.output_item.added": {
      const item = data.item as WireItem
      if (item.type === "message" && typeof item.phase === "string") {
        state.phases.set(str(item.id) ?? "", item.phase)
      } else if (item.type === "function_call") {
        state.hasToolCalls = true
        const args = str(item.arguments)
        const namespace = str(item.namespace)
        push(
          out,
          manager.toolCallDelta(str(item.id), {
            toolName: str(item.name),
            toolCallId: str(item.call_id),
            id: str(item.id),
            providerName: PROVIDER_NAME,
            ...(args ? { args } : {}),
            ...(namespace !== undefined ? { providerDetails: { namespace } } : {})
          })
        )
        if (args) state.argsStreamed.add(str(item.id) ?? "")
      } else if (isBuiltinItem(item)) {
        // The call starts now; its final fields and results come with `output_item.done`.
        const [call] = decodeBuiltinItem(item)
        push(
          out,
          manager.toolCallDelta(call.toolCallId, {
            toolName: call.toolName,
            toolCallId: call.toolCallId,
            providerName: PROVIDER_NAME,
            builtin: true,
            args: call.args,
            ...(call.providerDetails !== undefined ? { providerDetails: call.providerDetails } : {})
          })
        )
      }
      return undefined
    }
    case "response.output_text.delta": {
      const phase = state.phases.get(data.item_id)
      push(
        out,
        manager.textDelta(`${data.item_id}:${data.content_index ?? 0}`, data.delta ?? "", {
          id: data.item_id,
          ...(phase !== undefined ? { providerDetails: { phase } } : {})
        })
      )
      return undefined
    }
    case "response.output_text.annotation.added": {
      // A citation for text already streamed: kept on the part, as in the non-streamed body.
      const key = `${data.item_id}:${data.content_index ?? 0}`
      const list = [...(state.annotations.get(key) ?? []), data.annotation]
      state.annotations.set(key, list)
      const phase = state.phases.get(data.item_id)
      push(
        out,
        manager.textDelta(key, "", {
          providerDetails: { ...(phase !== undefined ? { phase } : {}), annotations: list }
        })
      )
      return undefined
    }
    case "response.refusal.delta":
      push(
        out,
        manager.textDelta(`${data.item_id}:${data.content_index ?? 0}`, data.delta ?? "", {
          id: data.item_id
        })
      )
      return undefined
    case "response.function_call_arguments.delta":
      state.argsStreamed.add(data.item_id)
      push(out, manager.toolCallDelta(data.item_id, { args: data.delta ?? "" }))
      return undefined
    case "response.reasoning_text.delta":
      push(
        out,
        manager.thinkingDelta(`${data.item_id}:raw:${data.content_index ?? 0}`, {
          content: data.delta ?? "",
          id: data.item_id,
          providerName: PROVIDER_NAME,
          providerDetails: rawReasoning
        })
      )
      return undefined
    case "response.reasoning_summary_text.delta":
      push(
        out,
        manager.thinkingDelta(`${data.item_id}:${data.summary_index ?? 0}`, {
          content: data.delta ?? "",
          id: data.item_id,
          providerName: PROVIDER_NAME
        })
      )
      return undefined
    case "response.output_item.done": {
      const item = data.item as WireItem
      const id = str(item.id) ?? ""
      if (item.type === "function_call") {
        if (!state.argsStreamed.has(id)) {
          push(out, manager.toolCallDelta(id, { args: str(item.arguments) ?? "" }))
        }
        push(out, manager.endPart(id))
      } else if (item.type === "reasoning") {
        const signature = str(item.encrypted_content)
        const summary = Array.isArray(item.summary) ? (item.summary as Array<unknown>) : []
        const raw = Array.isArray(item.content) ? (item.content as Array<unknown>) : []
        if (signature !== undefined) {
          // On the first piece streamed: a summary, else the raw reasoning.
          const first = summary.length === 0 && raw.length > 0 ? `${id}:raw:0` : `${id}:0`
          push(out, manager.thinkingDelta(first, { signature, id, providerName: PROVIDER_NAME }))
        }
        for (let i = 0; i < Math.max(raw.length > 0 ? 0 : 1, summary.length); i++)
          push(out, manager.endPart(`${id}:${i}`))
        for (let i = 0; i < raw.length; i++) push(out, manager.endPart(`${id}:raw:${i}`))
      } else if (item.type === "message") {
        const content = Array.isArray(item.content) ? item.content : []
        for (let i = 0; i < content.length; i++) push(out, manager.endPart(`${id}:${i}`))
      } else if (item.type === "compaction") {
        push(out, manager.part(id, compactionOf(item)))
        push(out, manager.endPart(id))
      } else if (item.type === "tool_search_call" || item.type === "tool_search_output") {
        // Tool search items arrive whole: one part each, started and ended here.
        const part = decodeToolSearchItem(item, state.lastSearch)
        if (part._tag === "BuiltinToolCallPart") state.lastSearch = part.toolCallId
        if (part._tag === "ToolCallPart") state.hasToolCalls = true
        push(out, manager.part(id, part))
        push(out, manager.endPart(id))
      } else if (isBuiltinItem(item)) {
        const { call, file, result } = decodeBuiltinParts(item)
        push(out, manager.toolCallDelta(id, { builtin: true, args: call.args }))
        push(out, manager.endPart(id))
        // the generated image (if any), then the tool's return: each arrives whole
        if (file !== undefined) {
          push(out, manager.part(`${id}:file`, file))
          push(out, manager.endPart(`${id}:file`))
        }
        push(out, manager.part(`${id}:result`, result))
        push(out, manager.endPart(`${id}:result`))
      }
      return undefined
    }
    case "response.completed":
    case "response.incomplete": {
      const r = data.response as WireResponse
      state.completed = true
      applyResponseInfo(manager, r, state)
      manager.info.usage = decodeUsage(r.usage)
      const { finishReason, providerFinishReason } = decodeFinishReason(r, state.hasToolCalls)
      if (finishReason !== undefined) manager.info.finishReason = finishReason
      if (providerFinishReason !== undefined)
        manager.info.providerFinishReason = providerFinishReason
      return undefined
    }
    case "response.failed": {
      const r = data.response as WireResponse | undefined
      state.completed = true
      applyResponseInfo(manager, r, state)
      if (r?.usage) manager.info.usage = decodeUsage(r.usage)
      const err = r?.error
      return streamError(
        modelName,
        manager,
        `response.failed: ${err?.code ?? "unknown"}: ${err?.message ?? "the response failed"}`,
        err ?? undefined,
        manager.response({ finishReason: "error" })
      )
    }
    case "error":
      return streamError(
        modelName,
        manager,
        `stream error: ${data.code ?? data.error?.code ?? "unknown"}: ${data.message ?? data.error?.message ?? ""}`,
        data
      )
    default:
      return undefined
  }
}

/** The stream decoder of the Responses API: no `response.completed` means the response was cut. */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: makeStreamState,
  handleEvent: handleStreamEvent,
  end: (state, manager, modelName) =>
    state.completed
      ? undefined
      : cutError(modelName, manager, "The stream ended before response.completed")
}
