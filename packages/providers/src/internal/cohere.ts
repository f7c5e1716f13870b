/**
 * The Cohere v2 chat wire format (`POST /v2/chat`): request encoding, response decoding and the
 * stream decoder. Pure functions; `Cohere` builds the model.
 *
 * Decisions (see `Cohere`'s module comment): the `tool_plan` Cohere writes before tool calls is
 * a `ThinkingPart` (`id: "tool_plan"`, provider `cohere`) and goes back to Cohere as the
 * assistant message's `tool_plan`; citations stay out of the text (so JSON output still
 * parses) and are kept, as Cohere sent them, in the text part's `providerDetails.citations`.
 * Usage is `usage.tokens` (what the model processed; `cached_tokens` counts within it), with
 * Cohere's billed units in `details` (`billed_input_tokens`, `billed_output_tokens`).
 *
 * @internal
 */
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
export const PROVIDER_NAME = "cohere"

/** The `ThinkingPart` id of a tool plan. */
export const TOOL_PLAN_ID = "tool_plan"

const { isObj, num } = Chat

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

/** Everything `encodeRequest` needs. */
export interface EncodeOptions {
  readonly modelName: string
  readonly stream: boolean
  /** The model takes `thinking` (command-a-reasoning). */
  readonly thinking: boolean
}

const userChunk = (item: Messages.UserContent, modelName: string): Json | AgentError.UserError => {
  if (typeof item === "string") return { type: "text", text: item }
  if (item._tag === "TextContent") return { type: "text", text: item.content }
  switch (item._tag) {
    case "ImageUrl":
      return { type: "image_url", image_url: { url: item.url } }
    case "BinaryContent":
      if (item.isImage) return { type: "image_url", image_url: { url: item.dataUrl } }
      if (item.isDocument && Chat.isTextDocument(item.mediaType))
        return { type: "text", text: Chat.inlineTextFile(item) }
      return new AgentError.UserError({
        reason: `${modelName}: Cohere chat does not accept ${item.mediaType} content (images and text files only)`
      })
    case "DocumentUrl":
    case "AudioUrl":
    case "VideoUrl":
      return new AgentError.UserError({
        reason: `${modelName}: Cohere chat does not accept ${item._tag} (images and text files only)`
      })
  }
  return new AgentError.UserError({ reason: `${modelName}: unsupported user content` })
}

const assistantMessage = (message: Messages.ModelResponse): Json => {
  const content: Array<Json> = []
  const toolCalls: Array<Json> = []
  let toolPlan: string | undefined
  for (const part of message.parts) {
    switch (part._tag) {
      case "TextPart":
        content.push({ type: "text", text: part.content })
        break
      case "ThinkingPart":
        // Cohere's own tool plan and thinking go back; another provider's are dropped.
        if (part.providerName !== PROVIDER_NAME) break
        if (part.id === TOOL_PLAN_ID) toolPlan = (toolPlan ?? "") + part.content
        else content.push({ type: "thinking", thinking: part.content })
        break
      case "ToolCallPart":
        toolCalls.push({
          id: part.toolCallId,
          type: "function",
          function: { name: part.toolName, arguments: part.argsAsJson() }
        })
        break
    }
  }
  const m: Json = { role: "assistant" }
  if (content.length > 0) m.content = content
  if (toolCalls.length > 0) {
    m.tool_calls = toolCalls
    if (toolPlan !== undefined) m.tool_plan = toolPlan
  }
  if (m.content === undefined && m.tool_calls === undefined)
    m.content = [{ type: "text", text: "" }]
  return m
}

/** Encodes a conversation as Cohere v2 `messages`. */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  modelName: string
): Array<Json> | AgentError.UserError =>
  Chat.encodeMessages(messages, {
    userChunk: (item) => userChunk(item, modelName),
    toolCallId: (id) => id,
    assistant: assistantMessage
  })

/** A tool definition in Cohere's shape. */
export const encodeTool = (tool: {
  readonly name: string
  readonly description?: string | undefined
  readonly parametersJsonSchema: Record<string, unknown>
}): Json => ({
  type: "function",
  function: {
    name: tool.name,
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    parameters: tool.parametersJsonSchema
  }
})

/** Encodes a request body. `settings.extraBody` is not merged here (the HTTP layer does it). */
/**
 * A document for retrieval-augmented generation: a string, or fields (`title`, `snippet`,
 * `url`…) under `data` with an optional `id` that citations name.
 */
export type CohereDocument =
  | string
  | { readonly id?: string | undefined; readonly data: Readonly<Record<string, unknown>> }

/** Model settings with Cohere's own. */
export interface CohereSettings extends ModelSettings.ModelSettings {
  /**
   * Documents the model answers from (`documents`): its answer cites them, and the citations
   * (on the text parts, `citationsOf`) name each document in their `sources`.
   */
  readonly cohereDocuments?: ReadonlyArray<CohereDocument> | undefined
}

export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Json | AgentError.UserError => {
  const encoded = encodeMessages(messages, options.modelName)
  if (encoded instanceof AgentError.UserError) return encoded
  const body: Json = { model: options.modelName, messages: encoded, stream: options.stream }
  // Cohere has `REQUIRED` and `NONE`; absent is auto.
  const { tools, choice } = Chat.selectTools(settings, parameters)
  if (tools.length > 0) {
    body.tools = tools.map(encodeTool)
    if (tools.some((t) => t.strict === true)) body.strict_tools = true
    if (choice !== "auto") body.tool_choice = choice === "required" ? "REQUIRED" : "NONE"
  }
  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    body.response_format = { type: "json_object", json_schema: parameters.outputObject.jsonSchema }
  } else if (parameters.outputMode === "prompted") {
    body.response_format = { type: "json_object" }
  }
  if (settings.maxTokens !== undefined) body.max_tokens = settings.maxTokens
  if (settings.temperature !== undefined) body.temperature = settings.temperature
  if (settings.topP !== undefined) body.p = settings.topP
  if (settings.topK !== undefined) body.k = settings.topK
  if (settings.seed !== undefined) body.seed = settings.seed
  if (settings.presencePenalty !== undefined) body.presence_penalty = settings.presencePenalty
  if (settings.frequencyPenalty !== undefined) body.frequency_penalty = settings.frequencyPenalty
  if (settings.stopSequences !== undefined) body.stop_sequences = settings.stopSequences
  if (settings.logitBias !== undefined)
    return new AgentError.UserError({
      reason: `${options.modelName}: Cohere chat does not support logitBias`
    })
  if (settings.thinking !== undefined && options.thinking) {
    const t = settings.thinking
    body.thinking =
      t === false
        ? { type: "disabled" }
        : typeof t === "object"
          ? { type: "enabled", token_budget: t.budgetTokens }
          : { type: "enabled" }
  }
  const documents = (settings as CohereSettings).cohereDocuments
  if (documents !== undefined && documents.length > 0) body.documents = documents
  return body
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/** Cohere `finish_reason` → agentfx finish reason. */
export const mapFinishReason = (reason: unknown): Messages.FinishReason | undefined => {
  switch (reason) {
    case "COMPLETE":
    case "STOP_SEQUENCE":
      return "stop"
    case "MAX_TOKENS":
      return "length"
    case "TOOL_CALL":
      return "tool_call"
    case "ERROR":
    case "TIMEOUT":
      return "error"
    default:
      return undefined
  }
}

/** Cohere `usage` → `RequestUsage`: `tokens` and `cached_tokens`, billed units in `details`. */
export const decodeUsage = (usage: unknown): Usage.RequestUsage => {
  if (!isObj(usage)) return Usage.RequestUsage.empty
  const tokens = isObj(usage.tokens) ? usage.tokens : {}
  const billed = isObj(usage.billed_units) ? usage.billed_units : {}
  const details: Record<string, number> = {}
  if (typeof billed.input_tokens === "number") details.billed_input_tokens = billed.input_tokens
  if (typeof billed.output_tokens === "number") details.billed_output_tokens = billed.output_tokens
  return makeRequestUsage({
    inputTokens: num(tokens.input_tokens),
    outputTokens: num(tokens.output_tokens),
    cacheReadTokens: num(usage.cached_tokens),
    cacheWriteTokens: 0,
    inputAudioTokens: 0,
    outputAudioTokens: 0,
    details
  })
}

/** The citations of a text part (Cohere's `citations`, kept as sent), or `[]`. */
export const citationsOf = (part: Messages.TextPart): ReadonlyArray<Record<string, unknown>> => {
  const c = part.providerDetails?.citations
  return Array.isArray(c) ? (c as ReadonlyArray<Record<string, unknown>>) : []
}

/** Decodes a (non-streamed) Cohere v2 chat response. */
export const decodeResponse = (
  json: unknown,
  modelName: string
): Messages.ModelResponse | AgentError.UnexpectedModelBehavior => {
  const body = isObj(json) ? json : {}
  const message = body.message
  if (!isObj(message)) {
    return new AgentError.UnexpectedModelBehavior({
      reason: "Cohere chat response has no message",
      body: JSON.stringify(json).slice(0, 2000)
    })
  }
  const parts: Array<Messages.ModelResponsePart> = []
  const citations = Array.isArray(message.citations) ? message.citations.filter(isObj) : []
  if (typeof message.tool_plan === "string" && message.tool_plan !== "")
    parts.push(
      makeThinkingPart({
        content: message.tool_plan,
        id: TOOL_PLAN_ID,
        providerName: PROVIDER_NAME
      })
    )
  const content = Array.isArray(message.content) ? message.content : []
  const textIndexes: Array<number> = []
  content.forEach((c: unknown, i: number) => {
    if (!isObj(c)) return
    if (c.type === "text" && typeof c.text === "string") {
      // Citations point into the text by content index (the only text item when absent).
      const own = citations.filter((x) =>
        typeof x.content_index === "number" ? x.content_index === i : true
      )
      textIndexes.push(parts.length)
      parts.push(
        makeTextPart(
          own.length > 0
            ? { content: c.text, providerDetails: { citations: own } }
            : { content: c.text }
        )
      )
    } else if (c.type === "thinking" && typeof c.thinking === "string")
      parts.push(makeThinkingPart({ content: c.thinking, providerName: PROVIDER_NAME }))
  })
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObj(call) || !isObj(call.function)) continue
      const fn = call.function
      parts.push(
        makeToolCallPart({
          toolName: str(fn.name) ?? "",
          args: typeof fn.arguments === "string" || isObj(fn.arguments) ? fn.arguments : {},
          toolCallId: str(call.id) ?? `call_${parts.length}`
        })
      )
    }
  }
  return completeResponse({
    parts,
    usage: decodeUsage(body.usage),
    modelName,
    providerName: PROVIDER_NAME,
    providerResponseId: str(body.id),
    finishReason: mapFinishReason(body.finish_reason),
    providerFinishReason: str(body.finish_reason),
    timestamp: undefined
  })
}

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

/** Per-stream state of the Cohere decoder. */
export interface StreamState {
  /** `message-end` arrived. */
  ended: boolean
  /** Citations so far, by content index. */
  readonly citations: Map<number, Array<Json>>
}

const messageOf = (event: Json): Json => {
  const delta = isObj(event.delta) ? event.delta : {}
  return isObj(delta.message) ? delta.message : {}
}

/**
 * The stream decoder of Cohere's v2 events: `message-start` (id), `content-start` /
 * `content-delta` (text or thinking, by content index), `tool-plan-delta`,
 * `tool-call-start` / `tool-call-delta` / `tool-call-end` (by tool index), `citation-start`
 * (attached to its text part), `message-end` (finish reason, usage). Other event types
 * (`content-end`, `citation-end`, `debug`) carry nothing we keep and are skipped.
 */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: () => ({ ended: false, citations: new Map() }),
  handleEvent: (event, state, manager, out, modelName, ctx) => {
    const type = typeof event.type === "string" ? event.type : ctx.event.event
    const index = typeof event.index === "number" ? event.index : 0
    const info = manager.info
    switch (type) {
      case "message-start":
        if (typeof event.id === "string") info.providerResponseId = event.id
        return undefined
      case "content-start":
      case "content-delta": {
        const c = messageOf(event).content
        if (!isObj(c)) return undefined
        if (typeof c.thinking === "string" || c.type === "thinking") {
          const e = manager.thinkingDelta(`content-${index}`, {
            content: str(c.thinking) ?? "",
            providerName: PROVIDER_NAME
          })
          if (e) out.push(e)
        } else if (typeof c.text === "string") {
          // The part starts with its first text (no empty parts)
          const e = c.text !== "" ? manager.textDelta(`content-${index}`, c.text) : undefined
          if (e) out.push(e)
        }
        return undefined
      }
      case "tool-plan-delta": {
        const plan = str(messageOf(event).tool_plan)
        if (plan !== undefined && plan !== "") {
          const e = manager.thinkingDelta(TOOL_PLAN_ID, {
            content: plan,
            id: TOOL_PLAN_ID,
            providerName: PROVIDER_NAME
          })
          if (e) out.push(e)
        }
        return undefined
      }
      case "tool-call-start":
      case "tool-call-delta": {
        const call = messageOf(event).tool_calls
        if (!isObj(call)) return undefined
        const fn = isObj(call.function) ? call.function : {}
        const e = manager.toolCallDelta(`tool-${index}`, {
          toolName: type === "tool-call-start" ? str(fn.name) : undefined,
          args: str(fn.arguments),
          toolCallId: str(call.id)
        })
        if (e) out.push(e)
        return undefined
      }
      case "tool-call-end": {
        const e = manager.endPart(`tool-${index}`)
        if (e) out.push(e)
        return undefined
      }
      case "citation-start": {
        const citation = messageOf(event).citations
        if (!isObj(citation)) return undefined
        const at = typeof citation.content_index === "number" ? citation.content_index : 0
        const list = [...(state.citations.get(at) ?? []), citation]
        state.citations.set(at, list)
        manager.textDelta(`content-${at}`, "", { providerDetails: { citations: list } })
        return undefined
      }
      case "message-end": {
        state.ended = true
        const delta = isObj(event.delta) ? event.delta : {}
        if (delta.error !== undefined && delta.error !== null)
          return new AgentError.ModelAPIError({
            modelName,
            reason: `Cohere error in stream: ${JSON.stringify(delta.error).slice(0, 1000)}`,
            partialResponse: manager.response()
          })
        if (typeof delta.finish_reason === "string") {
          info.providerFinishReason = delta.finish_reason
          info.finishReason = mapFinishReason(delta.finish_reason)
        }
        if (isObj(delta.usage)) info.usage = decodeUsage(delta.usage)
        return undefined
      }
      case "error":
        return new AgentError.ModelAPIError({
          modelName,
          reason: `Cohere error in stream: ${JSON.stringify(event).slice(0, 1000)}`,
          partialResponse: manager.response()
        })
      case "content-end":
      case "citation-end":
      case "debug":
        return undefined
      default:
        ctx.skip(`unknown Cohere event ${String(type)}`)
        return undefined
    }
  },
  end: (state, manager, modelName) =>
    state.ended
      ? undefined
      : new AgentError.ModelAPIError({
          modelName,
          reason: "Cohere stream ended before message-end",
          partialResponse: manager.response()
        })
}
