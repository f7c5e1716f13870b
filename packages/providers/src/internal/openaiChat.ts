/**
 * The Chat Completions wire format: request encoding, response decoding and the stream
 * decoder. Pure functions; `OpenAiChat` builds the model from them (and re-exports the
 * encoders and decoders under their old public names, deprecated).
 *
 * @internal
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
import type { ChatProfile } from "../OpenAiChat.js"
import { instructionsOf, isObj, num, timestampOf } from "./chatMessages.js"
import { promptCacheBreakpoint } from "./openaiResponses.js"
import type { Out, StreamDecoder } from "./streamDecoder.js"
import * as ThinkTags from "./thinkTags.js"
import {
  cacheControl,
  type CacheSetting,
  cacheTtl,
  completeResponse,
  isCaching,
  makeBuiltinToolCallPart,
  makeBuiltinToolReturnPart,
  makeRequestUsage,
  makeTextPart,
  makeThinkingPart,
  makeToolCallPart,
  str
} from "./wire.js"

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

type Json = Record<string, unknown>

const audioFormat = (mediaType: string): string => {
  const sub = mediaType.split("/")[1] ?? "wav"
  return sub === "mpeg" ? "mp3" : sub.replace(/^x-/, "")
}

const extension = (mediaType: string): string => {
  const sub = mediaType.split("/")[1] ?? "bin"
  return sub.replace(/^x-/, "").split("+")[0]!
}

/** An `image_url` chunk, with the file's OpenAI `detail` when it names one. */
const imageChunk = (url: string, file: Messages.FileContent): Json => {
  const detail = Messages.imageDetailOf(file)
  return { type: "image_url", image_url: detail === undefined ? { url } : { url, detail } }
}

const userContent = (
  item: Messages.UserContent,
  modelName: string,
  profile: ChatProfile
): Json | AgentError.UserError => {
  if (typeof item === "string") return { type: "text", text: item }
  switch (item._tag) {
    case "TextContent":
      return { type: "text", text: item.content }
    case "ImageUrl":
      return imageChunk(item.url, item)
    case "BinaryContent":
      if (item.isImage) return imageChunk(item.dataUrl, item)
      if (item.isAudio)
        return {
          type: "input_audio",
          input_audio: { data: item.base64, format: audioFormat(item.mediaType) }
        }
      if (item.isDocument) {
        return {
          type: "file",
          file: {
            file_data: item.dataUrl,
            filename: item.identifier ?? `filename.${extension(item.mediaType)}`
          }
        }
      }
      return new AgentError.UserError({
        reason: `${modelName}: OpenAI chat does not accept ${item.mediaType} content`
      })
    case "DocumentUrl":
      if (profile.documentUrlAsFileData) {
        const name =
          item.identifier ?? `filename.${item.url.split(/[?#]/)[0]!.split(".").pop() ?? "pdf"}`
        return { type: "file", file: { file_data: item.url, filename: name } }
      }
      return new AgentError.UserError({
        reason: `${modelName}: OpenAI chat accepts DocumentUrl only as inline bytes; download it and pass BinaryContent`
      })
    case "VideoUrl":
      if (profile.videoUrl) return { type: "video_url", video_url: { url: item.url } }
      return new AgentError.UserError({
        reason: `${modelName}: OpenAI chat accepts VideoUrl only as inline bytes; download it and pass BinaryContent`
      })
    case "AudioUrl":
      return new AgentError.UserError({
        reason: `${modelName}: OpenAI chat accepts ${item._tag} only as inline bytes; download it and pass BinaryContent`
      })
    case "UploadedFile":
      // A file of the Files API, by id (the `file` part takes any uploaded file).
      return { type: "file", file: { file_id: item.fileId } }
  }
  return new AgentError.UserError({ reason: `${modelName}: unsupported user content` })
}

/** Encodes a conversation as Chat Completions `messages`. */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  profile: ChatProfile,
  options: { readonly modelName: string; readonly system: string }
): Array<Json> | AgentError.UserError => {
  const out: Array<Json> = []
  for (const message of messages) {
    if (message._tag === "ModelRequest") {
      // Chat tool messages are text only: files returned by tools are referenced there
      // ("See file {id}.") and sent in a user message after the tool messages.
      let files: Array<Json> = []
      const flushFiles = () => {
        if (files.length > 0) out.push({ role: "user", content: files })
        files = []
      }
      for (const part of message.parts) {
        if (part._tag === "SystemPromptPart" || part._tag === "UserPromptPart") flushFiles()
        else if (part._tag === "RetryPromptPart" && part.toolCallId === undefined) flushFiles()
        switch (part._tag) {
          case "SystemPromptPart":
            out.push({ role: profile.systemRole, content: part.content })
            break
          case "UserPromptPart": {
            if (typeof part.content === "string") {
              out.push({ role: "user", content: part.content })
              break
            }
            const content: Array<Json> = []
            for (const item of part.content) {
              if (typeof item !== "string" && item._tag === "CachePoint") {
                // The end of the prefix to cache: the part before it (none: nothing to mark).
                const last = content.length - 1
                if (profile.cacheControl !== undefined && last >= 0)
                  content[last] = {
                    ...content[last],
                    cache_control: cacheControl(item.ttl, profile.cacheControl === "with-ttl")
                  }
                else if (profile.promptCacheBreakpoints === true && last >= 0)
                  content[last] = { ...content[last], ...promptCacheBreakpoint }
                continue
              }
              const c = userContent(item, options.modelName, profile)
              if (c instanceof AgentError.UserError) return c
              content.push(c)
            }
            out.push({ role: "user", content })
            break
          }
          case "ToolReturnPart":
            out.push({ role: "tool", tool_call_id: part.toolCallId, content: part.contentText })
            for (const file of part.files) {
              const c = userContent(file, options.modelName, profile)
              if (c instanceof AgentError.UserError) return c
              files.push(
                { type: "text", text: `This is file ${Messages.fileIdentifier(file)}:` },
                c
              )
            }
            break
          case "RetryPromptPart":
            out.push(
              part.toolName === undefined || part.toolCallId === undefined
                ? { role: "user", content: part.modelResponse }
                : { role: "tool", tool_call_id: part.toolCallId, content: part.modelResponse }
            )
            break
        }
      }
      flushFiles()
    } else {
      const texts: Array<string> = []
      const toolCalls: Array<Json> = []
      const thinking: Array<string> = []
      const details: Array<Json> = []
      let thinkingField = profile.sendThinkingField
      for (const part of message.parts) {
        const sameProvider = part._tag === "ThinkingPart" && part.providerName === options.system
        const detail = sameProvider ? reasoningDetailOf(part) : undefined
        if (part._tag === "TextPart") texts.push(part.content)
        else if (
          part._tag === "ThinkingPart" &&
          profile.thinkingTags !== undefined &&
          profile.sendThinkingField === undefined &&
          detail === undefined &&
          (part.providerName === undefined || part.providerName === options.system)
        )
          // Thinking the model wrote in tags goes back in them (pydantic-ai's form).
          texts.push(ThinkTags.wrap(part.content, profile.thinkingTags))
        else if (part._tag === "ToolCallPart")
          toolCalls.push({
            id: part.toolCallId,
            type: "function",
            function: { name: part.toolName, arguments: part.argsAsJson() }
          })
        // Signed / encrypted reasoning goes back to the vendor that sent it, as it came.
        else if (detail !== undefined) details.push(detail)
        else if (
          part._tag === "ThinkingPart" &&
          profile.sendThinkingField !== undefined &&
          (part.providerName === undefined || part.providerName === options.system)
        ) {
          thinking.push(part.content)
          if (part.id === "reasoning" || part.id === "reasoning_content") thinkingField = part.id
        }
      }
      const m: Json = { role: "assistant" }
      if (texts.length > 0) m.content = texts.join("\n\n")
      else if (toolCalls.length === 0) m.content = ""
      if (thinking.length > 0 && thinkingField !== undefined)
        m[thinkingField] = thinking.join("\n\n")
      if (details.length > 0) m.reasoning_details = details
      if (toolCalls.length > 0) m.tool_calls = toolCalls
      out.push(m)
    }
  }
  const instructions = instructionsOf(messages)
  if (instructions !== undefined) {
    // After leading system prompts, before the conversation (as pydantic-ai does).
    let at = 0
    while (profile.systemRole !== "user" && at < out.length && out[at]!.role === profile.systemRole)
      at++
    out.splice(at, 0, { role: profile.systemRole, content: instructions })
  }
  return out
}

const transformSchema = (
  profile: ChatProfile,
  schema: Tool.JsonSchema,
  strict: boolean | undefined
): { schema: Tool.JsonSchema; strict: boolean | undefined } => {
  if (profile.jsonSchemaTransformer === undefined) return { schema, strict }
  if (!profile.supportsStrictTools && strict !== true) {
    return {
      schema: profile.jsonSchemaTransformer(schema, { strict: false }).schema,
      strict: undefined
    }
  }
  const t = profile.jsonSchemaTransformer(schema, strict === undefined ? {} : { strict })
  return {
    schema: t.schema,
    strict: strict ?? (t.isStrictCompatible && profile.supportsStrictTools ? true : undefined)
  }
}

/** A tool definition in the Chat Completions shape. */
export const encodeTool = (tool: Tool.ToolDefinition, profile: ChatProfile): Json => {
  const { schema, strict } = transformSchema(profile, tool.parametersJsonSchema, tool.strict)
  const fn: Json = { name: tool.name, description: tool.description ?? "", parameters: schema }
  // Auto-detected strictness only where the profile supports it; an explicit `strict: true` is always sent.
  if (strict === true && (profile.supportsStrictTools || tool.strict === true)) fn.strict = true
  return { type: "function", function: fn }
}

const effortOf = (thinking: ModelSettings.ThinkingSetting): string | undefined => {
  if (thinking === false) return undefined
  if (thinking === true) return "medium"
  if (typeof thinking === "string") return thinking
  return thinking.budgetTokens <= 1024 ? "low" : thinking.budgetTokens <= 8192 ? "medium" : "high"
}

const toolChoiceOf = (
  choice: ModelSettings.ToolChoice | undefined,
  hasTools: boolean,
  allowText: boolean,
  profile: ChatProfile
): unknown => {
  if (!hasTools) return undefined
  if (choice === undefined) {
    return !allowText && profile.supportsToolChoiceRequired ? "required" : "auto"
  }
  if (typeof choice === "string") return choice
  if (choice.length === 1) return { type: "function", function: { name: choice[0] } }
  return {
    type: "allowed_tools",
    allowed_tools: {
      mode: allowText ? "auto" : "required",
      tools: choice.map((name) => ({ type: "function", function: { name } }))
    }
  }
}

/** Everything `encodeRequest` needs. */
export interface EncodeOptions {
  readonly modelName: string
  readonly system: string
  readonly profile: ChatProfile
  readonly stream: boolean
  /** See `ModelOptions.cacheInstructions`. */
  readonly cacheInstructions?: CacheSetting | undefined
  /** See `ModelOptions.cacheTools`. */
  readonly cacheTools?: CacheSetting | undefined
}

/** A user location in the `{ type: "approximate", … }` form OpenAI and OpenRouter take. */
const approximate = (l: BuiltinTool.UserLocation): Json => ({ type: "approximate", ...l })

/**
 * The built-in tools in the vendor's form (see `ChatProfile.builtinTools`): `tools` entries
 * returned, body fields (`web_search_options`, `search_settings`) set on `body`; a `UserError`
 * naming the vendor and the tool for one it does not run.
 */
const encodeBuiltinTools = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>,
  profile: ChatProfile,
  system: string,
  body: Json
): Array<Json> | AgentError.UserError => {
  const tools: Array<Json> = []
  const vendor = `${system} (Chat Completions)`
  for (const tool of builtinTools) {
    if (tool._tag !== "WebSearch" || profile.builtinTools === undefined)
      return BuiltinTool.unsupported(vendor, tool)
    const options = (keys: ReadonlyArray<keyof BuiltinTool.WebSearch>) =>
      keys.filter((k) => tool[k] !== undefined)
    const extra =
      profile.builtinTools === "openai"
        ? options(["allowedDomains", "blockedDomains", "maxUses", "externalWebAccess"])
        : profile.builtinTools === "openrouter"
          ? options(["externalWebAccess"])
          : options(["searchContextSize", "maxUses", "userLocation", "externalWebAccess"])
    if (extra.length > 0)
      return BuiltinTool.unsupported(vendor, tool, `it takes no ${extra.join(", ")}`)
    switch (profile.builtinTools) {
      case "openai":
        body.web_search_options = {
          ...(tool.searchContextSize !== undefined
            ? { search_context_size: tool.searchContextSize }
            : {}),
          ...(tool.userLocation !== undefined
            ? { user_location: { type: "approximate", approximate: { ...tool.userLocation } } }
            : {})
        }
        break
      case "openrouter":
        tools.push({
          type: "openrouter:web_search",
          parameters: {
            ...(tool.searchContextSize !== undefined
              ? { search_context_size: tool.searchContextSize }
              : {}),
            ...(tool.maxUses !== undefined ? { max_uses: tool.maxUses } : {}),
            ...(tool.allowedDomains !== undefined ? { allowed_domains: tool.allowedDomains } : {}),
            ...(tool.blockedDomains !== undefined ? { excluded_domains: tool.blockedDomains } : {}),
            ...(tool.userLocation !== undefined
              ? { user_location: approximate(tool.userLocation) }
              : {})
          }
        })
        break
      case "groq":
        if (tool.allowedDomains !== undefined || tool.blockedDomains !== undefined) {
          body.search_settings = {
            ...(tool.blockedDomains !== undefined ? { exclude_domains: tool.blockedDomains } : {}),
            ...(tool.allowedDomains !== undefined ? { include_domains: tool.allowedDomains } : {})
          }
        }
        break
    }
  }
  return tools
}

/**
 * Encodes a request body. `settings.extraBody` is not merged here (the HTTP layer does it).
 */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): Json | AgentError.UserError => {
  const { profile } = options
  const encoded = encodeMessages(messages, profile, options)
  if (encoded instanceof AgentError.UserError) return encoded
  const body: Json = { model: options.modelName, messages: encoded }
  const tools = parameters.allTools.map((t) => encodeTool(t, profile))
  const builtin = encodeBuiltinTools(parameters.builtinTools, profile, options.system, body)
  if (builtin instanceof AgentError.UserError) return builtin
  if (profile.cacheControl !== undefined) {
    // Cache prefixes end at the first system message and at the last tool definition.
    const withTtl = profile.cacheControl === "with-ttl"
    const first = encoded[0]
    if (
      isCaching(options.cacheInstructions) &&
      profile.systemRole !== "user" &&
      first?.role === profile.systemRole &&
      typeof first.content === "string"
    ) {
      const control = cacheControl(cacheTtl(options.cacheInstructions), withTtl)
      encoded[0] = {
        ...first,
        content: [{ type: "text", text: first.content, cache_control: control }]
      }
    }
    if (isCaching(options.cacheTools) && tools.length > 0) {
      const control = cacheControl(cacheTtl(options.cacheTools), withTtl)
      tools[tools.length - 1] = { ...tools[tools.length - 1], cache_control: control }
    }
  }
  if (tools.length > 0 || builtin.length > 0) body.tools = [...tools, ...builtin]
  const toolChoice = toolChoiceOf(
    settings.toolChoice,
    tools.length > 0,
    parameters.allowTextOutput,
    profile
  )
  if (toolChoice !== undefined) body.tool_choice = toolChoice
  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    const o = parameters.outputObject
    const { schema, strict } = transformSchema(profile, o.jsonSchema, o.strict)
    const jsonSchema: Json = { name: o.name ?? "final_result", schema }
    if (o.description !== undefined) jsonSchema.description = o.description
    if (strict !== undefined) jsonSchema.strict = strict
    body.response_format = { type: "json_schema", json_schema: jsonSchema }
  } else if (parameters.outputMode === "prompted" && profile.supportsJsonObjectOutput) {
    body.response_format = { type: "json_object" }
  }
  body.stream = options.stream
  if (options.stream && profile.supportsStreamOptions) body.stream_options = { include_usage: true }
  if (settings.maxTokens !== undefined) body[profile.maxTokensField] = settings.maxTokens
  if (profile.supportsSamplingSettings) {
    if (settings.temperature !== undefined) body.temperature = settings.temperature
    if (settings.topP !== undefined) body.top_p = settings.topP
    if (settings.presencePenalty !== undefined) body.presence_penalty = settings.presencePenalty
    if (settings.frequencyPenalty !== undefined) body.frequency_penalty = settings.frequencyPenalty
    if (settings.logitBias !== undefined) body.logit_bias = settings.logitBias
  }
  if (settings.seed !== undefined) body.seed = settings.seed
  if (settings.serviceTier !== undefined) body.service_tier = settings.serviceTier
  if (settings.stopSequences !== undefined) body.stop = settings.stopSequences
  if (settings.parallelToolCalls !== undefined && tools.length > 0)
    body.parallel_tool_calls = settings.parallelToolCalls
  if (settings.thinking !== undefined && profile.supportsReasoningEffort) {
    const effort = effortOf(settings.thinking)
    if (effort !== undefined) body.reasoning_effort = effort
  }
  profile.requestFields?.(settings, body)
  return body
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

/** Chat Completions `finish_reason` → agentfx finish reason. */
export const mapFinishReason = (reason: unknown): Messages.FinishReason | undefined => {
  switch (reason) {
    case "stop":
      return "stop"
    case "length":
      return "length"
    case "tool_calls":
    case "function_call":
      return "tool_call"
    case "content_filter":
    case "sensitive": // Z.AI's moderation
      return "content_filter"
    case "model_context_window_exceeded": // Z.AI
      return "length"
    case "error":
    case "network_error": // Z.AI: inference cut off
      return "error"
    default:
      return undefined
  }
}

/** Chat Completions `usage` → `RequestUsage`. */
export const decodeUsage = (usage: unknown): Usage.RequestUsage => {
  if (!isObj(usage)) return Usage.RequestUsage.empty
  const prompt = isObj(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {}
  const completion = isObj(usage.completion_tokens_details) ? usage.completion_tokens_details : {}
  const details: Record<string, number> = {}
  for (const [k, v] of Object.entries(completion)) {
    if (k !== "audio_tokens" && typeof v === "number" && v !== 0) details[k] = v
  }
  // Built-in tool counters (OpenRouter `server_tool_use_details.web_search_requests`).
  if (isObj(usage.server_tool_use_details)) {
    for (const [k, v] of Object.entries(usage.server_tool_use_details)) {
      if (typeof v === "number" && v !== 0) details[k] = v
    }
  }
  // Some vendors (DeepSeek) report cache hits at the top level.
  const cached = num(prompt.cached_tokens) || num(usage.prompt_cache_hit_tokens)
  return makeRequestUsage({
    // What the gateway charged for the request, in US dollars (OpenRouter `usage.cost`).
    ...(typeof usage.cost === "number" && Number.isFinite(usage.cost) ? { cost: usage.cost } : {}),
    inputTokens: num(usage.prompt_tokens),
    outputTokens: num(usage.completion_tokens),
    cacheReadTokens: cached,
    // OpenRouter reports tokens written to the cache (Anthropic, Gemini models).
    cacheWriteTokens: num(prompt.cache_write_tokens),
    inputAudioTokens: num(prompt.audio_tokens),
    outputAudioTokens: num(completion.audio_tokens),
    details
  })
}

/** One piece of reasoning in a message or delta: its text or signed blob, and where it came from. */
interface Reasoning {
  /** Key of the part while streaming (one per `reasoning_details` index). */
  readonly key: string
  /** The field it came in: `reasoning_content`, `reasoning` or `reasoning_details`. */
  readonly field: string
  readonly text: string
  readonly signature?: string | undefined
  /** A `reasoning_details` item without its text / summary / data (type, id, format, index). */
  readonly detail?: Json | undefined
}

/**
 * The reasoning of a message or delta, in every form vendors send it: `reasoning_details`
 * (OpenRouter and other gateways: `reasoning.text` with an optional signature,
 * `reasoning.summary`, `reasoning.encrypted` blobs) wins over the plain `reasoning_content` /
 * `reasoning` text fields, which then repeat the same text.
 */
const reasoningOf = (m: Json): Array<Reasoning> => {
  if (Array.isArray(m.reasoning_details) && m.reasoning_details.length > 0) {
    const out: Array<Reasoning> = []
    m.reasoning_details.forEach((d: unknown, position: number) => {
      if (!isObj(d)) return
      const { text, summary, data, signature, ...detail } = d
      const content =
        d.type === "reasoning.summary" ? str(summary) : d.type === "reasoning.text" ? str(text) : ""
      const sig = d.type === "reasoning.encrypted" ? str(data) : str(signature)
      out.push({
        key: `reasoning_details:${typeof d.index === "number" ? d.index : position}`,
        field: "reasoning_details",
        text: content ?? "",
        signature: sig,
        detail
      })
    })
    return out
  }
  for (const field of ["reasoning_content", "reasoning"] as const) {
    const text = m[field]
    if (typeof text === "string") return [{ key: "reasoning", field, text }]
  }
  return []
}

/** The `reasoning_details` item a thinking part came from, with its text or blob put back. */
const reasoningDetailOf = (part: Messages.ThinkingPart): Json | undefined => {
  const detail = part.providerDetails?.reasoning_details
  if (part.id !== "reasoning_details" || !isObj(detail)) return undefined
  switch (detail.type) {
    case "reasoning.encrypted":
      return { ...detail, data: part.signature ?? "" }
    case "reasoning.summary":
      return { ...detail, summary: part.content }
    default:
      return {
        ...detail,
        text: part.content,
        ...(part.signature !== undefined ? { signature: part.signature } : {})
      }
  }
}

/** A thinking part for one piece of reasoning. */
const thinkingFields = (r: Reasoning, system: string) => ({
  content: r.text,
  id: r.field,
  providerName: system,
  ...(r.signature !== undefined ? { signature: r.signature } : {}),
  ...(r.detail !== undefined ? { providerDetails: { reasoning_details: r.detail } } : {})
})

/** The id of a tool a vendor ran (Groq's `executed_tools` have none): by its index. */
const executedId = (tool: Json, position: number): string =>
  `executed_tool_${typeof tool.index === "number" ? tool.index : position}`

/** A tool the vendor ran (Groq `executed_tools`) as a built-in call: its type and arguments. */
const executedCall = (tool: Json, position: number, system: string) =>
  makeBuiltinToolCallPart({
    toolName: str(tool.type) ?? "tool",
    args: typeof tool.arguments === "string" ? tool.arguments : {},
    toolCallId: executedId(tool, position),
    providerName: system
  })

/** Its result (`output`, `search_results`…), once the tool has an `output`. */
const executedResult = (
  tool: Json,
  position: number,
  system: string
): Messages.BuiltinToolReturnPart | undefined => {
  if (tool.output === undefined) return undefined
  const { index: _i, type: _t, arguments: _a, ...content } = tool
  return makeBuiltinToolReturnPart({
    toolName: str(tool.type) ?? "tool",
    content,
    toolCallId: executedId(tool, position),
    providerName: system
  })
}

/**
 * Gateway details of a response or stream chunk (OpenRouter): the provider that served it
 * (`provider` → `downstream_provider`) and that provider's own finish reason
 * (`native_finish_reason`). Added to `details`; nothing for vendors that send neither.
 */
const gatewayDetails = (body: Json, choice: Json | undefined, details: Record<string, unknown>) => {
  if (typeof body.provider === "string" && body.provider !== "")
    details.downstream_provider = body.provider
  if (choice !== undefined && typeof choice.native_finish_reason === "string")
    details.native_finish_reason = choice.native_finish_reason
}

/**
 * An error object a gateway answers with a 200 (OpenRouter `{ error: { code, message } }`):
 * a `ModelHTTPError` with the error's HTTP-like code as its status when it has one (so retries
 * and fallbacks treat a 429 / 5xx as such), else a `ModelAPIError`.
 */
const bodyError = (modelName: string, error: unknown): AgentError.ModelError => {
  const code = isObj(error) ? error.code : undefined
  return typeof code === "number" && code >= 400 && code < 600
    ? new AgentError.ModelHTTPError({ status: code, modelName, body: error })
    : new AgentError.ModelAPIError({
        modelName,
        reason: `Provider error: ${JSON.stringify(error).slice(0, 1000)}`
      })
}

/** Decodes a (non-streamed) Chat Completions response. */
export const decodeResponse = (
  json: unknown,
  options: {
    readonly modelName: string
    readonly system: string
    /** Split `<think>…</think>` out of the text (`ChatProfile.thinkingTags`). */
    readonly thinkingTags?: ThinkTags.ThinkingTags | undefined
  }
): Messages.ModelResponse | AgentError.UnexpectedModelBehavior | AgentError.ModelError => {
  const body = isObj(json) ? json : {}
  const choices = Array.isArray(body.choices) ? body.choices : []
  const choice = choices[0]
  if (!isObj(choice) && isObj(body.error)) return bodyError(options.modelName, body.error)
  if (!isObj(choice) || !isObj(choice.message)) {
    return new AgentError.UnexpectedModelBehavior({
      reason: "Chat completion response has no choices",
      body: JSON.stringify(json).slice(0, 2000)
    })
  }
  const message = choice.message
  const parts: Array<Messages.ModelResponsePart> = []
  for (const r of reasoningOf(message)) {
    if (r.text !== "" || r.signature !== undefined)
      parts.push(makeThinkingPart(thinkingFields(r, options.system)))
  }
  if (Array.isArray(message.executed_tools)) {
    for (const [position, tool] of message.executed_tools.entries()) {
      if (!isObj(tool)) continue
      parts.push(executedCall(tool, position, options.system))
      const result = executedResult(tool, position, options.system)
      if (result !== undefined) parts.push(result)
    }
  }
  if (typeof message.content === "string" && message.content !== "") {
    const tags = options.thinkingTags
    if (tags === undefined) parts.push(makeTextPart({ content: message.content }))
    else {
      for (const s of ThinkTags.split(message.content, tags)) {
        parts.push(
          s.kind === "text"
            ? makeTextPart({ content: s.content })
            : makeThinkingPart({ content: s.content, providerName: options.system })
        )
      }
    }
  }
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObj(call) || !isObj(call.function)) continue
      const fn = call.function
      parts.push(
        makeToolCallPart({
          toolName: typeof fn.name === "string" ? fn.name : "",
          args:
            typeof fn.arguments === "string"
              ? fn.arguments
              : isObj(fn.arguments)
                ? fn.arguments
                : {},
          toolCallId:
            typeof call.id === "string" && call.id !== "" ? call.id : `call_${parts.length}`
        })
      )
    }
  }
  const providerDetails: Record<string, unknown> = {}
  gatewayDetails(body, choice, providerDetails)
  return completeResponse({
    parts,
    usage: decodeUsage(body.usage),
    providerDetails,
    modelName: typeof body.model === "string" ? body.model : options.modelName,
    providerName: options.system,
    providerResponseId: str(body.id),
    // an empty `finish_reason` (Snowflake Cortex's Claude models): a tool call or a stop
    finishReason:
      choice.finish_reason === ""
        ? parts.some((p) => p._tag === "ToolCallPart")
          ? "tool_call"
          : "stop"
        : mapFinishReason(choice.finish_reason),
    providerFinishReason: str(choice.finish_reason) || undefined,
    timestamp: timestampOf(body.created)
  })
}

/** An error object sent inside a 200 stream or body (OpenRouter, some gateways). */
const streamError = (modelName: string, error: unknown): AgentError.ModelAPIError =>
  new AgentError.ModelAPIError({
    modelName,
    reason: `Provider error in stream: ${JSON.stringify(error).slice(0, 1000)}`
  })

/**
 * The stream decoder of a streamed Chat Completion: text, reasoning and tool-call argument
 * deltas (by index), usage from the final chunk, finish reason. Unknown or non-JSON events are
 * skipped.
 */
/** Per-stream state of the Chat Completions decoder. */
export interface StreamState {
  /** `[DONE]` arrived. */
  done: boolean
  /** A choice carried a `finish_reason`. */
  finished: boolean
  /** Reasoning details by key: a detail's id / format may come in one chunk only. */
  readonly details: Map<string, Json>
  /** Ids of the vendor-run tools (Groq `executed_tools`) already started. */
  executed?: Set<string>
  /** Splits `<think>…</think>` out of the streamed text (`ChatProfile.thinkingTags`). */
  readonly think?: ThinkTags.TagSplitter
}

/**
 * Runs of streamed text split at thinking tags: each block its own part (text of block 0 is
 * the usual `content` part).
 */
const taggedDeltas = (
  segments: ReadonlyArray<ThinkTags.Segment & { readonly block: number }>,
  manager: PartsManager.PartsManager,
  out: Out,
  system: string
): void => {
  for (const s of segments) {
    const e =
      s.kind === "text"
        ? manager.textDelta(s.block === 0 ? "content" : `content-${s.block}`, s.content)
        : manager.thinkingDelta(`think-${s.block}`, { content: s.content, providerName: system })
    if (e) out.push(e)
  }
}

/** The stream decoder of Chat Completions for a provider name (`system`). */
export const streamDecoder = (
  system: string,
  thinkingTags?: ThinkTags.ThinkingTags | undefined
): StreamDecoder<StreamState> => ({
  makeState: () =>
    thinkingTags === undefined
      ? { done: false, finished: false, details: new Map() }
      : {
          done: false,
          finished: false,
          details: new Map(),
          think: new ThinkTags.TagSplitter(thinkingTags)
        },
  done: (state) => {
    state.done = true
  },
  handleEvent: (chunk, state, manager, out, modelName, ctx) => {
    if (chunk.error !== undefined && chunk.error !== null)
      return streamError(modelName, chunk.error)
    const info = manager.info
    if (info.providerResponseId === undefined && typeof chunk.id === "string")
      info.providerResponseId = chunk.id
    if (typeof chunk.model === "string" && chunk.model !== "") info.modelName = chunk.model
    if (typeof chunk.provider === "string" && chunk.provider !== "") {
      info.providerDetails = { ...info.providerDetails, downstream_provider: chunk.provider }
    }
    if (info.timestamp === undefined) {
      const t = timestampOf(chunk.created)
      if (t !== undefined) info.timestamp = t
    }
    // Groq streams report usage in `x_groq.usage` of the last chunk, not in `usage`.
    const usage = isObj(chunk.usage)
      ? chunk.usage
      : isObj(chunk.x_groq) && isObj(chunk.x_groq.usage)
        ? chunk.x_groq.usage
        : undefined
    if (usage !== undefined) info.usage = decodeUsage(usage)
    const choices = chunk.choices
    if (!Array.isArray(choices)) {
      if (usage === undefined) ctx.skip(`event without choices: ${ctx.event.data.slice(0, 100)}`)
      return undefined
    }
    const details = state.details
    for (const choice of choices) {
      if (!isObj(choice)) continue
      if (typeof choice.index === "number" && choice.index !== 0) continue
      // (an empty `finish_reason` — Snowflake Cortex's Claude models — is no reason)
      if (typeof choice.finish_reason === "string" && choice.finish_reason !== "") {
        state.finished = true
        info.providerFinishReason = choice.finish_reason
        info.finishReason = mapFinishReason(choice.finish_reason)
      }
      if (typeof choice.native_finish_reason === "string") {
        info.providerDetails = {
          ...info.providerDetails,
          native_finish_reason: choice.native_finish_reason
        }
      }
      const delta = choice.delta
      if (!isObj(delta)) continue
      for (const r of reasoningOf(delta)) {
        // A detail's id / format may come in one chunk only: keep what each chunk added.
        const detail = r.detail !== undefined ? { ...details.get(r.key), ...r.detail } : undefined
        if (detail !== undefined) details.set(r.key, detail)
        if (r.text === "" && r.signature === undefined && detail === undefined) continue
        const e = manager.thinkingDelta(r.key, thinkingFields({ ...r, detail }, system))
        if (e) out.push(e)
      }
      if (Array.isArray(delta.executed_tools)) {
        // Groq: a tool's call (arguments) comes first, its output in a later chunk.
        for (const [position, tool] of delta.executed_tools.entries()) {
          if (!isObj(tool)) continue
          const id = executedId(tool, position)
          const executed = (state.executed ??= new Set())
          if (!executed.has(id)) {
            executed.add(id)
            const call = executedCall(tool, position, system)
            const started = manager.toolCallDelta(id, {
              toolName: call.toolName,
              toolCallId: call.toolCallId,
              providerName: system,
              builtin: true,
              args: call.args
            })
            if (started) out.push(started)
          }
          const result = executedResult(tool, position, system)
          if (result !== undefined) {
            const end = manager.endPart(id)
            if (end) out.push(end)
            out.push(manager.part(`${id}:result`, result))
          }
        }
      }
      if (typeof delta.content === "string" && delta.content !== "") {
        if (state.think === undefined) {
          const e = manager.textDelta("content", delta.content)
          if (e) out.push(e)
        } else taggedDeltas(state.think.push(delta.content), manager, out, system)
      }
      // The end of the answer: a partial tag held back is plain content.
      if (state.finished && state.think !== undefined)
        taggedDeltas(state.think.flush(), manager, out, system)
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls) {
          if (!isObj(call)) continue
          const fn = isObj(call.function) ? call.function : {}
          const index = typeof call.index === "number" ? call.index : 0
          const args =
            typeof fn.arguments === "string"
              ? fn.arguments
              : isObj(fn.arguments)
                ? fn.arguments
                : undefined
          const e = manager.toolCallDelta(`tool-${index}`, {
            toolName: typeof fn.name === "string" ? fn.name : undefined,
            args,
            toolCallId: typeof call.id === "string" && call.id !== "" ? call.id : undefined
          })
          if (e) out.push(e)
        }
      }
    }
    return undefined
  },
  end: (state, _manager, modelName) =>
    state.done || state.finished
      ? undefined
      : new AgentError.ModelAPIError({
          modelName,
          reason: "Stream ended before the response finished"
        })
})
