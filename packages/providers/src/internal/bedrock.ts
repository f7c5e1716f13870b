/**
 * Pure wire conversion for the Bedrock Converse API (`POST /model/{id}/converse` and
 * `/converse-stream`): agentfx messages, settings and request parameters → request body;
 * response JSON → `ModelResponse`; event-stream events → `PartsManager` deltas. No I/O here
 * (signing and the binary framing live in `Bedrock.ts` and `eventStream.ts`).
 *
 * Model families differ (see `familyOf`): which tool choices they take, how thinking is asked
 * for (`additionalModelRequestFields`), whether cache points are accepted, whether tool results
 * are sent as text or JSON.
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
import * as BedrockSchema from "../BedrockSchema.js"
import { supportsStructuredOutput, thinkingConfigOf } from "./anthropic.js"
import type { SseEvent } from "./sse.js"
import { cutError, type DecodeContext, type StreamDecoder } from "./streamDecoder.js"
import {
  type CacheSetting,
  cachedUsage,
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

/** The provider name recorded on parts and responses. */
export const PROVIDER_NAME = "bedrock"

/**
 * The `event` of the synthetic event the event-stream decoder emits for a framing error (bad
 * CRC, impossible lengths, a cut message); its data is the reason.
 */
export const FRAME_ERROR = "agentfx:frame-error"

/** A content block (one key naming its kind: `text`, `toolUse`, `image`…). */
export type Block = Record<string, any>

/** A message of the `messages` array. */
export interface WireMessage {
  role: "user" | "assistant"
  content: Array<Block>
}

/** The usage block of a response or of the stream's `metadata` event. */
export interface WireUsage {
  readonly inputTokens?: number | null
  readonly outputTokens?: number | null
  readonly totalTokens?: number | null
  readonly cacheReadInputTokens?: number | null
  readonly cacheWriteInputTokens?: number | null
  /** Provider-run tool counters. */
  readonly serverToolUsage?: Record<string, unknown> | null
}

/** A Converse response. */
export interface WireResponse {
  readonly output?: { readonly message?: { readonly content?: ReadonlyArray<Block> } }
  readonly stopReason?: string | null
  readonly usage?: WireUsage | null
}

// ---------------------------------------------------------------------------
// Model families
// ---------------------------------------------------------------------------

/** How a model family takes thinking settings. */
export type ThinkingStyle =
  /** `thinking: { type: "enabled", budget_tokens }` (Claude). */
  | "anthropic"
  /** `reasoning_effort: "low" | "medium" | "high"` (OpenAI gpt-oss). */
  | "reasoning-effort"
  /** `reasoning_config: "low" | "medium" | "high"` (Qwen 3). */
  | "reasoning-config"
  /** Always thinks, takes no setting (DeepSeek R1). */
  | "always"
  /** No thinking. */
  | "none"

/** What differs between the model families served by Converse. */
export interface Family {
  readonly name: string
  /** `toolChoice` `any` / `tool` are accepted (else only `auto`, sent as no choice). */
  readonly toolChoice: boolean
  readonly thinking: ThinkingStyle
  /** `cachePoint` blocks are accepted (else they are dropped). */
  readonly cachePoints: boolean
  /** Tool results go as `{ json }` blocks for non-string values (else as text). */
  readonly jsonToolResults: boolean
  /** Native JSON-schema output (`outputConfig.textFormat`). */
  readonly structuredOutput: boolean
  /** Signed thinking blocks must be sent back (Claude). */
  readonly sendBackThinking: boolean
}

/** Claude 4.5+ / Opus 4.1 (not Claude v2 / instant, whose ids have no version number). */
const claudeStructured = (id: string): boolean =>
  /claude-(?:[a-z]+-)?\d/.test(id) && supportsStructuredOutput(id)

/**
 * The family of a model id (`us.anthropic.claude-…`, `amazon.nova-…`, `meta.llama…`,
 * `mistral.…`, an inference profile ARN…): by the vendor segment of the id. Unknown vendors
 * (and ARNs, which do not name the model) get the conservative defaults: `auto` tool choice
 * only, no thinking setting, no cache points.
 */
export const familyOf = (modelId: string): Family => {
  const id = decodeURIComponent(modelId).toLowerCase()
  const base: Family = {
    name: "other",
    toolChoice: false,
    thinking: "none",
    cachePoints: false,
    jsonToolResults: false,
    structuredOutput: false,
    sendBackThinking: false
  }
  if (id.includes("anthropic.")) {
    return {
      ...base,
      name: "anthropic",
      toolChoice: true,
      thinking: "anthropic",
      cachePoints: true,
      structuredOutput: claudeStructured(id),
      sendBackThinking: true
    }
  }
  if (id.includes("amazon.nova")) {
    return { ...base, name: "nova", toolChoice: true, cachePoints: true }
  }
  if (id.includes("meta.llama")) return { ...base, name: "llama" }
  if (id.includes("mistral.") || id.includes("pixtral")) {
    return { ...base, name: "mistral", jsonToolResults: true, structuredOutput: true }
  }
  if (id.includes("openai.")) return { ...base, name: "openai", thinking: "reasoning-effort" }
  if (id.includes("qwen.")) return { ...base, name: "qwen", thinking: "reasoning-config" }
  if (id.includes("deepseek.")) return { ...base, name: "deepseek", thinking: "always" }
  if (/(minimax|nvidia|zai|moonshot)\./.test(id)) return { ...base, structuredOutput: true }
  return base
}

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

const imageFormats: Record<string, string> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/jpg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp"
}

const documentFormats: Record<string, string> = {
  "application/pdf": "pdf",
  "text/csv": "csv",
  "application/msword": "doc",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "application/vnd.ms-excel": "xls",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
  "text/html": "html",
  "text/plain": "txt",
  "text/markdown": "md"
}

const videoFormats: Record<string, string> = {
  "video/x-matroska": "mkv",
  "video/quicktime": "mov",
  "video/mp4": "mp4",
  "video/webm": "webm",
  "video/x-flv": "flv",
  "video/mpeg": "mpeg",
  "video/x-ms-wmv": "wmv",
  "video/3gpp": "three_gp"
}

const extension = (url: string): string =>
  (/\.([a-z0-9]+)(?:[?#].*)?$/i.exec(url)?.[1] ?? "").toLowerCase()

/** Per-request encoding state: documents are numbered across the conversation. */
interface Encoder {
  documents: number
  readonly family: Family
}

const unsupported = (what: string): AgentError.UserError =>
  new AgentError.UserError({ reason: `Bedrock Converse does not accept ${what}` })

/** A file as a Converse block (`image` / `document` / `video`), or a `UserError`. */
const fileBlock = (item: Messages.FileContent, enc: Encoder): Block | AgentError.UserError => {
  if (item._tag === "BinaryContent") {
    const source = { bytes: item.base64 }
    if (item.isImage) {
      const format = imageFormats[item.mediaType]
      return format === undefined
        ? unsupported(`images of type ${item.mediaType}`)
        : { image: { format, source } }
    }
    if (item.isVideo) {
      const format = videoFormats[item.mediaType]
      return format === undefined
        ? unsupported(`videos of type ${item.mediaType}`)
        : { video: { format, source } }
    }
    if (item.isAudio) return unsupported("audio input")
    const format = documentFormats[item.mediaType]
    if (format === undefined) return unsupported(`documents of type ${item.mediaType}`)
    return { document: { name: `Document ${++enc.documents}`, format, source } }
  }
  if (item._tag === "UploadedFile") return uploadedFileBlock(item, enc)
  // URLs: only S3 locations are read by Bedrock itself (HTTP URLs are downloaded before).
  if (!item.url.startsWith("s3://")) {
    return unsupported(`file URLs other than s3:// and http(s):// (${item._tag} ${item.url})`)
  }
  const source = { s3Location: { uri: item.url } }
  const ext = extension(item.url)
  switch (item._tag) {
    case "ImageUrl":
      return { image: { format: ext === "jpg" ? "jpeg" : ext, source } }
    case "VideoUrl":
      return { video: { format: ext === "3gp" ? "three_gp" : ext, source } }
    case "DocumentUrl":
      return { document: { name: `Document ${++enc.documents}`, format: ext, source } }
    default:
      return unsupported("audio input")
  }
}

/**
 * A file uploaded to S3 (`UploadedFile` of provider "bedrock", its id an `s3://` URI): an S3
 * location, its format from the media type (else the URI's extension).
 */
const uploadedFileBlock = (
  item: Messages.UploadedFile,
  enc: Encoder
): Block | AgentError.UserError => {
  if (!item.fileId.startsWith("s3://")) {
    return unsupported(`uploaded files other than s3:// URIs (${item.fileId})`)
  }
  const source = { s3Location: { uri: item.fileId } }
  const ext = extension(item.fileId)
  if (item.isImage) {
    return { image: { format: imageFormats[item.effectiveMediaType] ?? ext, source } }
  }
  if (item.isVideo) {
    return { video: { format: videoFormats[item.effectiveMediaType] ?? ext, source } }
  }
  if (item.isAudio) return unsupported("audio input")
  const format = documentFormats[item.effectiveMediaType] ?? ext
  return { document: { name: `Document ${++enc.documents}`, format, source } }
}

/**
 * Whether a user-content item is a URL Bedrock cannot read itself (anything but `s3://`): it is
 * downloaded before the request and sent as bytes.
 */
export const needsDownload = (item: Messages.UserContent): item is Messages.FileUrl =>
  typeof item !== "string" &&
  item._tag !== "BinaryContent" &&
  item._tag !== "UploadedFile" &&
  item._tag !== "CachePoint" &&
  item._tag !== "TextContent" &&
  /^https?:\/\//.test(item.url)

const cachePointBlock = { cachePoint: { type: "default" } }

const encodeUserContent = (
  item: Messages.UserContent,
  out: Array<Block>,
  enc: Encoder
): AgentError.UserError | undefined => {
  const text = Messages.userText(item)
  if (text !== undefined) {
    if (text !== "") out.push({ text })
    return undefined
  }
  if (typeof item === "string" || item._tag === "TextContent") return undefined
  if (item._tag === "CachePoint") {
    // A cache point after some content, on families that take them.
    if (enc.family.cachePoints && out.length > 0) out.push(cachePointBlock)
    return undefined
  }
  const block = fileBlock(item, enc)
  if (block instanceof AgentError.UserError) return block
  out.push(block)
  return undefined
}

/** The content of a `toolResult`: text (or JSON where the family wants it), then files. */
const toolResultContent = (
  part: Messages.ToolReturnPart,
  enc: Encoder
): Array<Block> | AgentError.UserError => {
  const files = part.files
  if (files.length === 0) {
    const c = part.content
    return enc.family.jsonToolResults &&
      c !== null &&
      typeof c === "object" &&
      part.toolReferences.length === 0
      ? [{ json: c }]
      : [{ text: part.contentText }]
  }
  const out: Array<Block> = []
  for (const item of Array.isArray(part.content) ? part.content : [part.content]) {
    if (Messages.isFileContent(item)) {
      const block = fileBlock(item, enc)
      if (block instanceof AgentError.UserError) return block
      out.push(block)
    } else if (item !== undefined && item !== null) {
      out.push({ text: Messages.renderToolContent(item) })
    }
  }
  return out
}

const encodeAssistant = (m: Messages.ModelResponse, family: Family): Array<Block> => {
  const blocks: Array<Block> = []
  for (const part of m.parts) {
    switch (part._tag) {
      case "TextPart":
        if (part.content !== "") blocks.push({ text: part.content })
        break
      case "ToolCallPart": {
        let input: unknown
        try {
          input = part.argsAsObject()
        } catch {
          // Malformed arguments (already reported back to the model as a retry): send them raw.
          input = { INVALID_JSON: part.args }
        }
        blocks.push({ toolUse: { toolUseId: part.toolCallId, name: part.toolName, input } })
        break
      }
      case "BuiltinToolCallPart":
        // Provider-run tools (Nova's code interpreter) go back to Bedrock only.
        if (part.providerName !== PROVIDER_NAME) break
        blocks.push({
          toolUse: {
            toolUseId: part.toolCallId,
            name: part.toolName,
            input: part.argsAsObject(),
            type: part.providerDetails?.type ?? "server_tool_use"
          }
        })
        break
      case "BuiltinToolReturnPart":
        if (part.providerName !== PROVIDER_NAME) break
        blocks.push({
          toolResult: {
            toolUseId: part.toolCallId,
            content: part.content,
            ...part.providerDetails
          }
        })
        break
      case "ThinkingPart":
        // Only this provider's signed thinking goes back, and only where the family needs it.
        if (
          family.sendBackThinking &&
          part.providerName === PROVIDER_NAME &&
          part.signature !== undefined
        ) {
          blocks.push({
            reasoningContent:
              part.redacted === true
                ? { redactedContent: part.signature }
                : { reasoningText: { text: part.content, signature: part.signature } }
          })
        }
        break
    }
  }
  return blocks
}

/**
 * Encodes the conversation into `system` blocks and `messages` (consecutive roles merged: the
 * API requires alternating roles). Fails with a `UserError` on content Bedrock cannot take.
 */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  family: Family
):
  | { readonly system: Array<string>; readonly messages: Array<WireMessage> }
  | AgentError.UserError => {
  const enc: Encoder = { documents: 0, family }
  const system: Array<string> = []
  const out: Array<WireMessage> = []
  let instructions: string | undefined
  const leading = messages.find((m) => m._tag === "ModelRequest")
  const append = (role: "user" | "assistant", content: Array<Block>) => {
    if (content.length === 0) return
    const last = out[out.length - 1]
    if (last !== undefined && last.role === role) last.content.push(...content)
    else out.push({ role, content })
  }
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      append("assistant", encodeAssistant(m, family))
      continue
    }
    if (m.instructions !== undefined) instructions = m.instructions
    const content: Array<Block> = []
    // Only the system prompts opening the first request are the standing system prompt; a later
    // one (added mid-conversation) stays where it was authored as `<system>` text, so the cached
    // prefix ahead of it is untouched (Converse has no system role inside `messages`).
    let standing = m === leading
    for (const part of m.parts) {
      if (part._tag !== "SystemPromptPart") standing = false
      switch (part._tag) {
        case "SystemPromptPart":
          if (standing) system.push(part.content)
          else content.push({ text: `<system>${part.content}</system>` })
          break
        case "UserPromptPart": {
          const items = typeof part.content === "string" ? [part.content] : part.content
          for (const c of items) {
            const error = encodeUserContent(c, content, enc)
            if (error !== undefined) return error
          }
          break
        }
        case "ToolReturnPart": {
          const result = toolResultContent(part, enc)
          if (result instanceof AgentError.UserError) return result
          content.push({
            toolResult: {
              toolUseId: part.toolCallId,
              content: result,
              status: part.outcome === "failed" ? "error" : "success"
            }
          })
          break
        }
        case "RetryPromptPart":
          if (part.toolName !== undefined && part.toolCallId !== undefined) {
            content.push({
              toolResult: {
                toolUseId: part.toolCallId,
                content: [{ text: part.modelResponse }],
                status: "error"
              }
            })
          } else content.push({ text: part.modelResponse })
          break
      }
    }
    append("user", content)
  }
  if (instructions !== undefined) system.unshift(instructions)
  return { system, messages: out }
}

/**
 * Encodes a tool definition as a `toolSpec`; a strict tool (where the model takes them) with its
 * schema rewritten for strict mode (`BedrockSchema.transform`).
 */
export const encodeTool = (tool: Tool.ToolDefinition, strict: boolean): Block => ({
  toolSpec: {
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    inputSchema: {
      json:
        tool.strict === true && strict
          ? BedrockSchema.transform(tool.parametersJsonSchema, { strict: true }).schema
          : tool.parametersJsonSchema
    },
    ...(tool.strict === true && strict ? { strict: true } : {})
  }
})

const effortOf = (
  thinking: ModelSettings.ThinkingSetting
): "low" | "medium" | "high" | undefined => {
  if (thinking === false) return undefined
  if (thinking === true) return "medium"
  if (typeof thinking === "string") {
    return thinking === "minimal" || thinking === "low"
      ? "low"
      : thinking === "medium"
        ? "medium"
        : "high"
  }
  const b = thinking.budgetTokens
  return b <= 2048 ? "low" : b <= 8192 ? "medium" : "high"
}

/**
 * The `additionalModelRequestFields` asking for thinking, by family; `undefined` for none. Claude
 * takes the Messages API's fields, mapped per model as there (adaptive thinking and
 * `output_config.effort` on the models that have them, else a budget).
 */
export const thinkingFields = (
  family: Family,
  thinking: ModelSettings.ThinkingSetting | undefined,
  modelId = ""
): Record<string, unknown> | undefined => {
  if (thinking === undefined) return undefined
  switch (family.thinking) {
    case "anthropic": {
      const config = thinkingConfigOf(thinking, decodeURIComponent(modelId).toLowerCase())
      if (config.thinking === undefined) return undefined
      return {
        thinking: config.thinking,
        ...(config.effort !== undefined ? { output_config: { effort: config.effort } } : {})
      }
    }
    case "reasoning-effort": {
      const effort = effortOf(thinking)
      return effort === undefined ? undefined : { reasoning_effort: effort }
    }
    case "reasoning-config": {
      const effort = effortOf(thinking)
      return effort === undefined ? undefined : { reasoning_config: effort }
    }
    default:
      return undefined
  }
}

/** Options of `encodeRequest`. */
export interface EncodeOptions {
  readonly modelId: string
  /** Default: `familyOf(modelId)`. */
  readonly family?: Family | undefined
  /** Put a cache point after the system prompt (families with cache points). */
  readonly cacheInstructions?: CacheSetting | undefined
  /** Put a cache point after the tool definitions (families with cache points). */
  readonly cacheTools?: CacheSetting | undefined
}

/**
 * The `toolChoice`, or `undefined` for none (`auto`, the API's default, is sent explicitly
 * where the family takes tool choices). Output tools are forced (`any`, or `tool` for one)
 * when text is not allowed, except with Claude thinking on (the API rejects forced tools then)
 * or on families without tool choice: the run loop's output retry asks again.
 */
export const encodeToolChoice = (
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  family: Family,
  thinking: boolean
): Record<string, unknown> | undefined => {
  if (!family.toolChoice) return undefined
  const auto = { auto: {} }
  const canForce = !thinking
  const forceOutput = !parameters.allowTextOutput && canForce
  const choice = settings.toolChoice
  if (choice === undefined || choice === "auto") return forceOutput ? { any: {} } : auto
  if (choice === "required") return canForce ? { any: {} } : auto
  if (choice === "none") {
    // Output tools stay callable (see `encodeRequest`).
    const out = parameters.outputTools
    if (out.length === 1 && canForce) return { tool: { name: out[0]!.name } }
    return forceOutput ? { any: {} } : auto
  }
  if (choice.length === 1 && canForce && parameters.allowTextOutput) {
    return { tool: { name: choice[0] } }
  }
  return forceOutput ? { any: {} } : auto
}

/**
 * The `systemTool` entries of the built-in tools: Nova's code interpreter for `CodeExecution`
 * on Nova models; a `UserError` for any other.
 */
const encodeBuiltinTools = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>,
  modelId: string
): Array<Block> | AgentError.UserError => {
  const out: Array<Block> = []
  for (const tool of builtinTools) {
    if (tool._tag === "CodeExecution" && modelId.includes("nova"))
      out.push({ systemTool: { name: "nova_code_interpreter" } })
    else return BuiltinTool.unsupported(`Bedrock (${modelId})`, tool)
  }
  return out
}

/**
 * Builds the JSON body of a Converse / ConverseStream call (the same body for both). Returns a
 * `UserError` for input Bedrock cannot take (audio, non-S3 file URLs, unknown media types).
 */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Record<string, unknown> | AgentError.UserError => {
  const family = options.family ?? familyOf(options.modelId)
  const builtin = encodeBuiltinTools(parameters.builtinTools, options.modelId)
  if (builtin instanceof AgentError.UserError) return builtin
  const encoded = encodeMessages(messages, family)
  if (encoded instanceof AgentError.UserError) return encoded
  const body: Record<string, unknown> = { messages: encoded.messages }

  const system: Array<Block> = encoded.system.map((text) => ({ text }))
  if (system.length > 0 && family.cachePoints && isCaching(options.cacheInstructions)) {
    system.push(cachePointBlock)
  }
  if (system.length > 0) body.system = system

  const inference: Record<string, unknown> = {}
  if (settings.maxTokens !== undefined) inference.maxTokens = settings.maxTokens
  if (settings.temperature !== undefined) inference.temperature = settings.temperature
  if (settings.topP !== undefined) inference.topP = settings.topP
  if (settings.stopSequences !== undefined) inference.stopSequences = settings.stopSequences
  body.inferenceConfig = inference

  const thinking = thinkingFields(family, settings.thinking, options.modelId)
  // Extended thinking rejects a forced tool choice; adaptive thinking takes one.
  const claudeThinking =
    family.thinking === "anthropic" &&
    (thinking?.thinking as { readonly type?: string } | undefined)?.type === "enabled"

  // `toolChoice: "none"`: Converse has no such choice, so no tools are sent, unless output tools
  // must stay callable (then all are sent, the output tool forced where it is the only one).
  const tools =
    settings.toolChoice === "none" && parameters.outputTools.length === 0 ? [] : parameters.allTools
  if (tools.length > 0 || builtin.length > 0) {
    const wire = [...tools.map((t) => encodeTool(t, family.structuredOutput)), ...builtin]
    if (family.cachePoints && isCaching(options.cacheTools)) wire.push(cachePointBlock)
    const toolConfig: Record<string, unknown> = { tools: wire }
    const choice = encodeToolChoice(settings, parameters, family, claudeThinking)
    if (choice !== undefined) toolConfig.toolChoice = choice
    body.toolConfig = toolConfig
  }

  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    const o = parameters.outputObject
    body.outputConfig = {
      textFormat: {
        type: "json_schema",
        structure: {
          jsonSchema: {
            name: o.name ?? "output",
            // Native output is always strict: the schema in the form Bedrock enforces.
            schema: JSON.stringify(BedrockSchema.transform(o.jsonSchema, { strict: true }).schema),
            ...(o.description !== undefined ? { description: o.description } : {})
          }
        }
      }
    }
  }

  const topK = topKFields(family, settings.topK)
  if (thinking !== undefined || topK !== undefined) {
    body.additionalModelRequestFields = { ...thinking, ...topK }
  }
  if (settings.serviceTier !== undefined) body.serviceTier = { type: settings.serviceTier }
  return body
}

/**
 * `topK` in `additionalModelRequestFields`, where the family has it: Claude's own `top_k`,
 * Nova's `inferenceConfig.topK`; other families ignore it.
 */
const topKFields = (
  family: Family,
  topK: number | undefined
): Record<string, unknown> | undefined =>
  topK === undefined
    ? undefined
    : family.name === "anthropic"
      ? { top_k: topK }
      : family.name === "nova"
        ? { inferenceConfig: { topK } }
        : undefined

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/**
 * Converts usage. `inputTokens` counts every input token: uncached + cache reads + cache
 * writes (Bedrock reports them separately, like Anthropic).
 */
export const decodeUsage = (u: WireUsage | null | undefined): Usage.RequestUsage =>
  u === null || u === undefined
    ? Usage.RequestUsage.empty
    : withDetails(
        cachedUsage(
          u.inputTokens ?? 0,
          u.outputTokens ?? 0,
          u.cacheReadInputTokens ?? 0,
          u.cacheWriteInputTokens ?? 0
        ),
        u.serverToolUsage
      )

/** Maps `stopReason`. */
export const decodeFinishReason = (
  reason: string | null | undefined
): Messages.FinishReason | undefined => {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "stop"
    case "max_tokens":
    case "model_context_window_exceeded":
      return "length"
    case "tool_use":
      return "tool_call"
    case "guardrail_intervened":
    case "content_filtered":
      return "content_filter"
    case "malformed_model_output":
    case "malformed_tool_use":
      return "error"
    default:
      return undefined
  }
}

/** A provider-run tool's call block (`toolUse` with `type: "server_tool_use"`) as a part. */
const builtinCall = (t: Record<string, any>, input: unknown) =>
  builtinCallPart({
    toolName: str(t.name) ?? "",
    args: (input ?? {}) as Record<string, unknown>,
    toolCallId: str(t.toolUseId) ?? "",
    providerName: PROVIDER_NAME,
    ...(t.type !== "server_tool_use" ? { providerDetails: { type: t.type } } : {})
  })

/**
 * A provider-run tool's result block (`toolResult` with a `type`, e.g.
 * `nova_code_interpreter_result`) as a part: its content verbatim; type and status kept.
 */
const builtinResult = (r: Record<string, any>, content: unknown) => {
  const { toolUseId, content: _, ...rest } = r
  return builtinReturnPart({
    toolName: (str(r.type) ?? "").replace(/_result$/, ""),
    content: content ?? null,
    toolCallId: str(toolUseId) ?? "",
    providerName: PROVIDER_NAME,
    providerDetails: rest
  })
}

/** Converts the content blocks of a response into parts (provider-run tools included). */
export const decodeContent = (content: ReadonlyArray<Block>): Array<Messages.ModelResponsePart> => {
  const parts: Array<Messages.ModelResponsePart> = []
  for (const b of content) {
    if (typeof b.text === "string") {
      parts.push(textPart({ content: b.text }))
    } else if (b.toolUse !== undefined && b.toolUse.type === "server_tool_use") {
      parts.push(builtinCall(b.toolUse, b.toolUse.input))
    } else if (b.toolResult !== undefined && b.toolResult.type !== undefined) {
      parts.push(builtinResult(b.toolResult, b.toolResult.content))
    } else if (b.toolUse !== undefined) {
      // (`type` is `server_tool_use` on provider-run system tools, else absent or `tool_use`)
      parts.push(
        toolCallPart({
          toolName: str(b.toolUse.name) ?? "",
          args: (b.toolUse.input ?? {}) as Record<string, unknown>,
          toolCallId: str(b.toolUse.toolUseId) ?? "",
          providerName: PROVIDER_NAME
        })
      )
    } else if (b.reasoningContent !== undefined) {
      const r = b.reasoningContent
      if (typeof r.redactedContent === "string") {
        parts.push(
          thinkingPart({
            content: "",
            signature: r.redactedContent,
            redacted: true,
            providerName: PROVIDER_NAME
          })
        )
      } else {
        parts.push(
          thinkingPart({
            content: str(r.reasoningText?.text) ?? "",
            ...(typeof r.reasoningText?.signature === "string"
              ? { signature: r.reasoningText.signature }
              : {}),
            providerName: PROVIDER_NAME
          })
        )
      }
    }
  }
  return parts
}

/** Converts a whole (non-streaming) response body. */
export const decodeResponse = (body: WireResponse, modelName: string): Messages.ModelResponse =>
  completeResponse({
    parts: decodeContent(body.output?.message?.content ?? []),
    usage: decodeUsage(body.usage),
    modelName,
    providerName: PROVIDER_NAME,
    providerResponseId: undefined,
    finishReason: decodeFinishReason(body.stopReason),
    providerFinishReason: str(body.stopReason),
    timestamp: undefined
  })

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream decoder state. */
export interface StreamState {
  stopped: boolean
  /** Blocks started as provider-run tools (their deltas are skipped). */
  readonly skipped: Set<number>
  /** Provider-run tool results being streamed, by block index: start fields, content so far. */
  readonly results?: Map<number, { start: Record<string, any>; content: Array<unknown> }>
}

/**
 * Feeds one event-stream event (`ctx.event.event` = its type, `data` = its JSON payload) to
 * the parts manager; unknown events are skipped.
 */
export const handleStreamEvent = (
  data: Record<string, any>,
  state: StreamState,
  manager: PartsManager.PartsManager,
  out: Out,
  _modelName: string,
  ctx: DecodeContext
): AgentError.ModelError | undefined => {
  const type = ctx.event.event ?? ""
  const skip = ctx.skip
  switch (type) {
    case "messageStart":
      return undefined
    case "contentBlockStart": {
      const index = Number(data.contentBlockIndex)
      const tool = data.start?.toolUse
      const result = data.start?.toolResult
      if (result !== undefined && result.type !== undefined) {
        // A provider-run tool's result: its content streams as `toolResult` deltas.
        state.results?.set(index, { start: result, content: [] })
        return undefined
      }
      if (tool !== undefined) {
        if (tool.type === "server_tool_use") {
          push(
            out,
            manager.toolCallDelta(String(index), {
              toolName: str(tool.name),
              toolCallId: str(tool.toolUseId),
              providerName: PROVIDER_NAME,
              builtin: true
            })
          )
          return undefined
        }
        if (tool.type !== undefined && tool.type !== "tool_use") {
          state.skipped.add(index)
          return undefined
        }
        push(
          out,
          manager.toolCallDelta(String(index), {
            toolName: str(tool.name),
            toolCallId: str(tool.toolUseId),
            providerName: PROVIDER_NAME
          })
        )
      }
      return undefined
    }
    case "contentBlockDelta": {
      const index = Number(data.contentBlockIndex)
      if (state.skipped.has(index)) return undefined
      const id = String(index)
      const d = data.delta ?? {}
      const pending = state.results?.get(index)
      if (pending !== undefined) {
        if (Array.isArray(d.toolResult)) pending.content.push(...d.toolResult)
        return undefined
      }
      if (typeof d.text === "string") push(out, manager.textDelta(id, d.text))
      else if (d.toolUse !== undefined) {
        if (typeof d.toolUse.input === "string" && d.toolUse.input !== "") {
          push(out, manager.toolCallDelta(id, { args: d.toolUse.input }))
        }
      } else if (d.reasoningContent !== undefined) {
        const r = d.reasoningContent
        if (typeof r.text === "string") {
          push(out, manager.thinkingDelta(id, { content: r.text, providerName: PROVIDER_NAME }))
        } else if (typeof r.signature === "string") {
          push(out, manager.thinkingDelta(id, { signature: r.signature }))
        } else if (typeof r.redactedContent === "string") {
          push(
            out,
            manager.thinkingDelta(id, {
              content: "",
              signature: r.redactedContent,
              redacted: true,
              providerName: PROVIDER_NAME
            })
          )
        }
      } else skip(`contentBlockDelta: unknown delta ${Object.keys(d).join(",")}`)
      return undefined
    }
    case "contentBlockStop": {
      const index = Number(data.contentBlockIndex)
      const pending = state.results?.get(index)
      if (pending !== undefined) {
        state.results?.delete(index)
        const part = builtinResult(pending.start, pending.content)
        push(out, manager.part(String(index), part))
        push(out, manager.endPart(String(index)))
        return undefined
      }
      if (!state.skipped.has(index)) push(out, manager.endPart(String(index)))
      return undefined
    }
    case "messageStop": {
      state.stopped = true
      const reason = str(data.stopReason)
      if (reason !== undefined) {
        manager.info.providerFinishReason = reason
        const f = decodeFinishReason(reason)
        if (f !== undefined) manager.info.finishReason = f
      }
      return undefined
    }
    case "metadata":
      manager.info.usage = decodeUsage(data.usage)
      return undefined
    default:
      skip(`unknown event ${type}`)
      return undefined
  }
}

/**
 * Exceptions and framing errors, whatever their payload: they fail the stream with a
 * `ModelAPIError` keeping the partial response.
 */
const previewEvent = (
  event: SseEvent,
  _state: StreamState,
  manager: PartsManager.PartsManager,
  modelName: string
): AgentError.ModelError | undefined => {
  const type = event.event ?? ""
  if (type === FRAME_ERROR) return streamError(modelName, manager, event.data, undefined)
  if (type.startsWith("exception:") || type.startsWith("error:")) {
    let data: Record<string, unknown> | undefined
    try {
      const v = JSON.parse(event.data)
      data = v !== null && typeof v === "object" ? v : undefined
    } catch {
      data = undefined
    }
    const message = str(data?.message) ?? event.data
    return streamError(
      modelName,
      manager,
      `Stream error: ${type.slice(type.indexOf(":") + 1)}: ${message}`,
      data ?? event.data
    )
  }
  return undefined
}

/** The stream decoder of one ConverseStream response: no `messageStop` means it was cut. */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: () => ({ stopped: false, skipped: new Set(), results: new Map() }),
  preview: previewEvent,
  handleEvent: handleStreamEvent,
  end: (state, manager, modelName) =>
    state.stopped ? undefined : cutError(modelName, manager, "The stream ended before messageStop")
}
