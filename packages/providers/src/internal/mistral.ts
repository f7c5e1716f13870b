/**
 * The Mistral chat-completions wire format (`POST /v1/chat/completions`): request encoding,
 * response decoding and the stream decoder. Pure functions; `Mistral` builds the model.
 *
 * Where Mistral differs from OpenAI's Chat Completions (so `openaiChat.ts` is not reused):
 * - tool call ids are 9 alphanumeric characters: ids from other providers are mapped to a
 *   stable 9-character id (the same for a call and its return), Mistral's own pass unchanged;
 * - assistant messages carry content as a list of chunks (`text`, `thinking` with its own
 *   text chunks) and `prefix`: a conversation ending on an assistant message is sent with
 *   `prefix: true` so the model continues it;
 * - documents are `document_url` chunks (a URL or a data URL); text files are inlined as text;
 * - a user message may not follow a tool message: an assistant `OK` goes between them;
 * - `tool_choice` is `auto` or `any` (a list of tools is sent as only those tools with `any`;
 *   `toolChoice: "none"` sends no function tools at all); `random_seed`, `safe_prompt`,
 *   `reasoning_effort` (`high` / `none`, adjustable models);
 * - responses: content is a string or a list of chunks (magistral: `thinking` chunks), usage
 *   may report cache hits as `num_cached_tokens`, finish reason `model_length` means length.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import { AgentError, Messages, type Model, type ModelSettings, Usage } from "@agentfx/core"
import * as Chat from "./chatMessages.js"
import type { StreamDecoder } from "./streamDecoder.js"
import {
  completeResponse,
  makeRequestUsage,
  makeTextPart,
  makeThinkingPart,
  makeToolCallPart,
  str
} from "./wire.js"

type Json = Record<string, unknown>

/** The provider name on responses and parts. */
export const PROVIDER_NAME = "mistral"

const { isObj, num, timestampOf } = Chat

// ---------------------------------------------------------------------------
// Tool call ids
// ---------------------------------------------------------------------------

const VALID_ID = /^[a-zA-Z0-9]{9}$/
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * The tool call id Mistral accepts for `id`: unchanged when it is already 9 alphanumeric
 * characters, else 9 base-62 digits of its SHA-256 (stable, so a call and its return agree).
 */
export const toolCallIdFor = (id: string): string => {
  if (VALID_ID.test(id)) return id
  const digest = createHash("sha256").update(id).digest()
  let out = ""
  for (let i = 0; i < 9; i++) out += BASE62[digest[i]! % 62]
  return out
}

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

/** What a model supports, as far as the encoder cares. */
export interface Capabilities {
  /** `reasoning_effort` is accepted (adjustable reasoning: mistral-small 4, medium 3.5, large 4). */
  readonly reasoningEffort: boolean
}

/** Everything `encodeRequest` needs. */
export interface EncodeOptions {
  readonly modelName: string
  readonly stream: boolean
  readonly capabilities: Capabilities
  /** Sent as `safe_prompt` (Mistral's safety system prompt) when set. */
  readonly safePrompt?: boolean | undefined
}

const userChunk = (item: Messages.UserContent, modelName: string): Json | AgentError.UserError => {
  if (typeof item === "string") return { type: "text", text: item }
  if (item._tag === "TextContent") return { type: "text", text: item.content }
  switch (item._tag) {
    case "ImageUrl":
      return { type: "image_url", image_url: { url: item.url } }
    case "DocumentUrl":
      return { type: "document_url", document_url: item.url }
    case "BinaryContent":
      if (item.isImage) return { type: "image_url", image_url: { url: item.dataUrl } }
      if (item.isDocument) {
        return Chat.isTextDocument(item.mediaType)
          ? { type: "text", text: Chat.inlineTextFile(item) }
          : { type: "document_url", document_url: item.dataUrl }
      }
      return new AgentError.UserError({
        reason: `${modelName}: Mistral chat does not accept ${item.mediaType} content (images and documents only)`
      })
    case "AudioUrl":
    case "VideoUrl":
      return new AgentError.UserError({
        reason: `${modelName}: Mistral chat does not accept ${item._tag} (images and documents only)`
      })
  }
  return new AgentError.UserError({ reason: `${modelName}: unsupported user content` })
}

const assistantMessage = (message: Messages.ModelResponse): Json => {
  const content: Array<Json> = []
  const toolCalls: Array<Json> = []
  for (const part of message.parts) {
    switch (part._tag) {
      case "TextPart":
        content.push({ type: "text", text: part.content })
        break
      case "ThinkingPart":
        // Mistral's own reasoning goes back as a thinking chunk; another provider's is dropped
        // (its signature or format means nothing here).
        if (part.providerName === undefined || part.providerName === PROVIDER_NAME)
          content.push({ type: "thinking", thinking: [{ type: "text", text: part.content }] })
        break
      case "ToolCallPart":
        toolCalls.push({
          id: toolCallIdFor(part.toolCallId),
          type: "function",
          function: { name: part.toolName, arguments: part.argsAsJson() },
          index: toolCalls.length
        })
        break
    }
  }
  // Text next to tool calls is kept (Mistral takes both), in the order it came.
  const m: Json = { role: "assistant", content }
  if (toolCalls.length > 0) m.tool_calls = toolCalls
  m.prefix = false
  return m
}

/** Encodes a conversation as Mistral `messages`. */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  modelName: string
): Array<Json> | AgentError.UserError => {
  const encoded = Chat.encodeMessages(messages, {
    userChunk: (item) => userChunk(item, modelName),
    toolCallId: toolCallIdFor,
    assistant: assistantMessage
  })
  if (encoded instanceof AgentError.UserError) return encoded
  // Mistral refuses a user message right after a tool message: an assistant `OK` goes between.
  const out: Array<Json> = []
  for (const m of encoded) {
    if (m.role === "user" && out[out.length - 1]?.role === "tool")
      out.push({ role: "assistant", content: [{ type: "text", text: "OK" }], prefix: false })
    out.push(m)
  }
  // A conversation ending on the model's own words: continue them (`prefix`).
  const last = out[out.length - 1]
  if (last?.role === "assistant" && last.tool_calls === undefined) last.prefix = true
  return out
}

/** A tool definition in Mistral's shape (`type` defaults to `function` and is left out). */
export const encodeTool = (tool: {
  readonly name: string
  readonly description?: string | undefined
  readonly parametersJsonSchema: Record<string, unknown>
  readonly strict?: boolean | undefined
}): Json => {
  const fn: Json = {
    name: tool.name,
    description: tool.description ?? "",
    parameters: tool.parametersJsonSchema
  }
  if (tool.strict === true) fn.strict = true
  return { function: fn }
}

const effortOf = (thinking: ModelSettings.ThinkingSetting): "high" | "none" =>
  thinking === false ? "none" : "high"

/** Encodes a request body. `settings.extraBody` is not merged here (the HTTP layer does it). */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Json | AgentError.UserError => {
  const encoded = encodeMessages(messages, options.modelName)
  if (encoded instanceof AgentError.UserError) return encoded
  const body: Json = { model: options.modelName, messages: encoded }
  // `none` without output tools: no tools at all (Mistral's `none` would still describe them)
  const selected = Chat.selectTools(settings, parameters)
  const tools = selected.choice === "none" ? [] : selected.tools
  if (tools.length > 0) {
    body.tools = tools.map(encodeTool)
    body.tool_choice = selected.choice === "required" ? "any" : "auto"
  }
  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    const o = parameters.outputObject
    const jsonSchema: Json = { name: o.name ?? "final_result", schema: o.jsonSchema }
    if (o.description !== undefined) jsonSchema.description = o.description
    if (o.strict !== undefined) jsonSchema.strict = o.strict
    body.response_format = { type: "json_schema", json_schema: jsonSchema }
  } else if (parameters.outputMode === "prompted") {
    body.response_format = { type: "json_object" }
  }
  body.stream = options.stream
  if (settings.maxTokens !== undefined) body.max_tokens = settings.maxTokens
  if (settings.temperature !== undefined) body.temperature = settings.temperature
  if (settings.topP !== undefined) body.top_p = settings.topP
  if (settings.presencePenalty !== undefined) body.presence_penalty = settings.presencePenalty
  if (settings.frequencyPenalty !== undefined) body.frequency_penalty = settings.frequencyPenalty
  if (settings.seed !== undefined) body.random_seed = settings.seed
  if (settings.stopSequences !== undefined) body.stop = settings.stopSequences
  if (settings.parallelToolCalls !== undefined && tools.length > 0)
    body.parallel_tool_calls = settings.parallelToolCalls
  if (settings.logitBias !== undefined)
    return new AgentError.UserError({
      reason: `${options.modelName}: Mistral does not support logitBias`
    })
  if (settings.thinking !== undefined && options.capabilities.reasoningEffort)
    body.reasoning_effort = effortOf(settings.thinking)
  if (options.safePrompt !== undefined) body.safe_prompt = options.safePrompt
  return body
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/** Mistral `finish_reason` → agentfx finish reason. */
export const mapFinishReason = (reason: unknown): Messages.FinishReason | undefined => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
    case "model_length":
      return "length"
    case "tool_calls":
      return "tool_call"
    case "error":
      return "error"
    default:
      return undefined
  }
}

/** Mistral `usage` → `RequestUsage`; cache hits from `prompt_tokens_details` or `num_cached_tokens`. */
export const decodeUsage = (usage: unknown): Usage.RequestUsage => {
  if (!isObj(usage)) return Usage.RequestUsage.empty
  const details = isObj(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {}
  return makeRequestUsage({
    inputTokens: num(usage.prompt_tokens),
    outputTokens: num(usage.completion_tokens),
    cacheReadTokens: num(details.cached_tokens) || num(usage.num_cached_tokens),
    cacheWriteTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    details: {}
  })
}

/** The text of a `thinking` chunk (its inner text chunks). */
const thinkingText = (chunk: Json): string =>
  Array.isArray(chunk.thinking)
    ? chunk.thinking
        .map((t: unknown) => (isObj(t) && typeof t.text === "string" ? t.text : ""))
        .join("")
    : typeof chunk.thinking === "string"
      ? chunk.thinking
      : ""

/** A content piece of a message or delta: text or thinking. */
type Piece = { readonly kind: "text" | "thinking"; readonly text: string }

/** The pieces of `content`: a string, or a list of chunks (`text`, `thinking`; others ignored). */
const piecesOf = (content: unknown): Array<Piece> => {
  if (typeof content === "string") return content === "" ? [] : [{ kind: "text", text: content }]
  if (!Array.isArray(content)) return []
  const out: Array<Piece> = []
  for (const c of content) {
    if (!isObj(c)) continue
    if (c.type === "text" && typeof c.text === "string") out.push({ kind: "text", text: c.text })
    else if (c.type === "thinking") out.push({ kind: "thinking", text: thinkingText(c) })
  }
  return out
}

/** Decodes a (non-streamed) Mistral chat completion. */
export const decodeResponse = (
  json: unknown,
  modelName: string
): Messages.ModelResponse | AgentError.UnexpectedModelBehavior => {
  const body = isObj(json) ? json : {}
  const choice = Array.isArray(body.choices) ? body.choices[0] : undefined
  if (!isObj(choice) || !isObj(choice.message)) {
    return new AgentError.UnexpectedModelBehavior({
      reason: "Mistral chat completion has no choices",
      body: JSON.stringify(json).slice(0, 2000)
    })
  }
  const message = choice.message
  const parts: Array<Messages.ModelResponsePart> = []
  for (const p of piecesOf(message.content)) {
    const last = parts[parts.length - 1]
    if (p.kind === "text") {
      if (p.text === "") continue
      // Adjacent text chunks are one text part.
      if (last?._tag === "TextPart")
        parts[parts.length - 1] = makeTextPart({ content: last.content + p.text })
      else parts.push(makeTextPart({ content: p.text }))
    } else parts.push(makeThinkingPart({ content: p.text, providerName: PROVIDER_NAME }))
  }
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObj(call) || !isObj(call.function)) continue
      const fn = call.function
      parts.push(
        makeToolCallPart({
          toolName: str(fn.name) ?? "",
          args: typeof fn.arguments === "string" || isObj(fn.arguments) ? fn.arguments : {},
          toolCallId: str(call.id) ?? toolCallIdFor(`call_${parts.length}`)
        })
      )
    }
  }
  return completeResponse({
    parts,
    usage: decodeUsage(body.usage),
    modelName: str(body.model) ?? modelName,
    providerName: PROVIDER_NAME,
    providerResponseId: str(body.id),
    finishReason: mapFinishReason(choice.finish_reason),
    providerFinishReason: str(choice.finish_reason),
    timestamp: timestampOf(body.created)
  })
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream state of the Mistral decoder. */
export interface StreamState {
  /** `[DONE]` arrived. */
  done: boolean
  /** A choice carried a `finish_reason`. */
  finished: boolean
}

/**
 * The stream decoder: content deltas (a string, or chunks with `thinking`), whole or partial
 * tool calls by index, usage from the last chunk, finish reason; an in-stream error object
 * (`object: "error"` or `error`) fails the stream with the response so far.
 */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: () => ({ done: false, finished: false }),
  done: (state) => {
    state.done = true
  },
  handleEvent: (chunk, state, manager, out, modelName, ctx) => {
    if (chunk.object === "error" || (chunk.error !== undefined && chunk.error !== null)) {
      return new AgentError.ModelAPIError({
        modelName,
        reason: `Mistral error in stream: ${JSON.stringify(chunk.error ?? chunk).slice(0, 1000)}`,
        partialResponse: manager.response()
      })
    }
    const info = manager.info
    if (info.providerResponseId === undefined && typeof chunk.id === "string")
      info.providerResponseId = chunk.id
    if (typeof chunk.model === "string" && chunk.model !== "") info.modelName = chunk.model
    if (info.timestamp === undefined) {
      const t = timestampOf(chunk.created)
      if (t !== undefined) info.timestamp = t
    }
    if (isObj(chunk.usage)) info.usage = decodeUsage(chunk.usage)
    if (!Array.isArray(chunk.choices)) {
      if (!isObj(chunk.usage)) ctx.skip(`event without choices: ${ctx.event.data.slice(0, 100)}`)
      return undefined
    }
    for (const choice of chunk.choices) {
      if (!isObj(choice)) continue
      if (typeof choice.index === "number" && choice.index !== 0) continue
      if (typeof choice.finish_reason === "string") {
        state.finished = true
        info.providerFinishReason = choice.finish_reason
        info.finishReason = mapFinishReason(choice.finish_reason)
      }
      const delta = choice.delta
      if (!isObj(delta)) continue
      for (const p of piecesOf(delta.content)) {
        if (p.text === "") continue
        // No vendor ids: a piece continues the latest part of its kind when it is the last
        // part, so interleaved thinking and text become separate parts in order.
        const e =
          p.kind === "text"
            ? manager.textDelta(undefined, p.text)
            : manager.thinkingDelta(undefined, { content: p.text, providerName: PROVIDER_NAME })
        if (e) out.push(e)
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const [position, call] of delta.tool_calls.entries()) {
          if (!isObj(call)) continue
          const fn = isObj(call.function) ? call.function : {}
          const index = typeof call.index === "number" ? call.index : position
          const e = manager.toolCallDelta(`tool-${index}`, {
            toolName: str(fn.name),
            args:
              typeof fn.arguments === "string" || isObj(fn.arguments) ? fn.arguments : undefined,
            toolCallId: typeof call.id === "string" && call.id !== "" ? call.id : undefined
          })
          if (e) out.push(e)
        }
      }
    }
    return undefined
  },
  end: (state, manager, modelName) =>
    state.done || state.finished
      ? undefined
      : new AgentError.ModelAPIError({
          modelName,
          reason: "Mistral stream ended before the response finished",
          partialResponse: manager.response()
        })
}
