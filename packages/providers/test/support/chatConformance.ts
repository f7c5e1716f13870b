/**
 * The Chat Completions conformance harness shared by the openai-chat, groq, openrouter,
 * deepseek and huggingface replays. For every recorded `chat.completions` interaction:
 *
 * - decoding: the recorded response is served by the replay server and decoded through the
 *   real model (`request` or `requestStream`, the stream also re-chunked at random byte
 *   boundaries); text, thinking, tool calls, usage and finish reason must equal what an
 *   independent reading of the raw body says; recorded 4xx/5xx become `ModelHTTPError`.
 * - request fidelity: the recorded request's messages/tools/settings are converted to agentfx
 *   values, sent through the model, and the body the server received must equal the
 *   recorded one on messages, tools, tool_choice, response_format and stream (after the
 *   normalizations listed in `normalizeMessage`).
 */
import { AgentError, BuiltinTool, Messages, Model, type ModelSettings, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as OpenAiChat from "../../src/OpenAiChat.js"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiCompatible from "../../src/OpenAiCompatible.js"
import * as Snowflake from "../../src/Snowflake.js"
import type * as Zai from "../../src/Zai.js"
import type * as Groq from "../../src/Groq.js"
import type * as Cerebras from "../../src/Cerebras.js"
import type * as OpenRouter from "../../src/OpenRouter.js"
import { type ConformanceCase, type Interaction, listCases, replayServer } from "./replay.js"

type Json = Record<string, any>

/** A recorded chat.completions exchange to check. */
export interface ChatInteraction {
  readonly caseId: string
  readonly index: number
  readonly interaction: Interaction
  readonly case: ConformanceCase
  /** Why request fidelity is not checked for this interaction (undefined: checked). */
  readonly fidelitySkip: string | undefined
}

/** Chat interactions of every case filed under `provider`. */
export const chatInteractions = (
  provider: string,
  vendorOf: (it: Interaction) => VendorSetup
): Array<ChatInteraction> => {
  const out: Array<ChatInteraction> = []
  for (const c of listCases(provider)) {
    c.interactions.forEach((interaction, index) => {
      if (interaction.endpoint !== "chat.completions") return
      out.push({
        caseId: c.id,
        index,
        interaction,
        case: c,
        fidelitySkip: fidelitySkipReason(interaction, vendorOf(interaction))
      })
    })
  }
  return out
}

/**
 * Why an interaction that is neither Chat Completions nor Responses is not replayed: it is not
 * a model call (media downloads, MCP servers, model listings) or an API agentfx has no client
 * for. Responses interactions are replayed by `responsesConformance.ts`.
 */
export const otherEndpointReason = (it: Interaction): string | undefined => {
  switch (it.endpoint) {
    case "chat.completions":
    case "responses":
      return undefined
    case "download":
      return "a media download by the test, not model traffic"
    case "mcp":
      return "an MCP server's traffic, not a model call (MCP is @agentfx/mcp's)"
    case "models":
      return "a model listing, not a model call"
    default:
      return `${it.endpoint}: an endpoint agentfx has no client for`
  }
}

/** Interactions whose response cannot be decoded as a chat completion, with the reason. */
export const decodeSkipReason = (it: Interaction): string | undefined => {
  const r = it.response
  if (
    r.status < 400 &&
    r.json === null &&
    r.sse === null &&
    r.text !== null &&
    !r.text.trim().startsWith("{")
  )
    return "the recorded 200 body is a gateway's plain-text echo, not a chat completion"
  return undefined
}

/** A system message sent as one text part with `cache_control` (`cacheInstructions`). */
const isCachedSystemMessage = (m: Json): boolean =>
  m.role === "system" &&
  Array.isArray(m.content) &&
  m.content.length === 1 &&
  m.content[0].type === "text" &&
  m.content[0].cache_control !== undefined

/** The model's cache options a recorded request implies (OpenRouter's `cache_control`). */
export const cacheOptionsOf = (
  body: Json
): { cacheInstructions?: "5m" | "1h"; cacheTools?: "5m" | "1h" } => {
  const ttl = (c: Json): "5m" | "1h" => (c.ttl === "1h" ? "1h" : "5m")
  const first = (body.messages ?? [])[0]
  const tools = (body.tools ?? []) as Array<Json>
  const lastTool = tools[tools.length - 1]
  return {
    ...(first !== undefined && isCachedSystemMessage(first)
      ? { cacheInstructions: ttl(first.content[0].cache_control) }
      : {}),
    ...(lastTool?.cache_control !== undefined ? { cacheTools: ttl(lastTool.cache_control) } : {})
  }
}

/** Features of recorded requests that agentfx messages cannot express (yet), with the reason. */
const fidelitySkipReason = (it: Interaction, vendor: VendorSetup): string | undefined => {
  const body = it.request.body as Json | null
  if (body === null || typeof body !== "object") return "request body is not JSON"
  // Whether the vendor's profile sends cache breakpoints (`cache_control`) at all
  const caching = vendor.profile(body.model ?? "").cacheControl !== undefined
  const tools = (body.tools ?? []) as Array<Json>
  for (const [i, t] of tools.entries()) {
    if (t.type === "openrouter:web_search") continue
    if (t.type !== "function") return `built-in tool ${t.type} is not modelled`
    if (t.cache_control !== undefined && !(caching && i === tools.length - 1))
      return "cache_control on a tool other than the last, or for a vendor that sends none"
  }
  for (const [i, m] of ((body.messages ?? []) as Array<Json>).entries()) {
    // cacheInstructions: the first system message as one cached text part
    if (caching && i === 0 && isCachedSystemMessage(m)) continue
    // (`tool_calls: null` on a user message, as Hugging Face recordings have, is none)
    if (m.role === "user" && m.tool_calls !== undefined && m.tool_calls !== null)
      return "user message with tool_calls (vendor quirk)"
    if (Array.isArray(m.content)) {
      for (const p of m.content) {
        if (m.role !== "user") return `${m.role} message with content parts`
        if (p.type === "video_url" && !vendor.profile(body.model ?? "").videoUrl)
          return "video_url content for a vendor whose profile refuses it"
        if (p.type === "file" && typeof p.file?.file_data !== "string" && !p.file?.file_id)
          return "a file part with neither file_data nor file_id"
        // profiles with `cacheControl` send cache points as `cache_control`; others drop them
        if (p.cache_control !== undefined && !caching)
          return "cache_control markers, which this vendor's profile does not send"
        if (
          p.prompt_cache_breakpoint !== undefined &&
          vendor.profile(body.model ?? "").promptCacheBreakpoints !== true
        )
          return "explicit prompt cache breakpoints for a vendor whose profile sends none"
      }
    }
    if (
      typeof m.content === "string" &&
      /<think>/.test(m.content) &&
      m.role === "assistant" &&
      vendor.profile(body.model ?? "").thinkingTags === undefined
    )
      return "thinking replayed as <think> tags, for a vendor whose profile has no thinkingTags"
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Recorded request → agentfx values
// ---------------------------------------------------------------------------

const parseDataUrl = (url: string): { mediaType: string; data: Uint8Array } | undefined => {
  const m = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(url)
  if (!m) return undefined
  return { mediaType: m[1]!, data: Buffer.from(m[3]!, m[2] ? "base64" : "utf8") }
}

const textOf = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((p: Json) => (p.type === "text" ? p.text : "")).join("")
      : ""

/**
 * An assistant message whose thinking was sent back in tags, pydantic-ai's way
 * (`{open}\n{thinking}\n{close}` and the text, joined by a blank line): its thinking and text.
 */
const fromThinkTags = (
  content: unknown,
  [open, close]: readonly [string, string]
): { thinking: string; text: string } | undefined => {
  if (typeof content !== "string" || !content.startsWith(`${open}\n`)) return undefined
  const end = content.indexOf(`\n${close}`)
  if (end < 0) return undefined
  const rest = content.slice(end + close.length + 1)
  return {
    thinking: content.slice(open.length + 1, end),
    text: rest.startsWith("\n\n") ? rest.slice(2) : rest
  }
}

/** Recorded wire messages → agentfx messages. */
export const wireToMessages = (
  wire: ReadonlyArray<Json>,
  system: string,
  thinkingTags?: readonly [string, string]
): Array<Messages.ModelMessage> => {
  const out: Array<Messages.ModelMessage> = []
  let parts: Array<Messages.ModelRequestPart> = []
  const toolNames = new Map<string, string>()
  const flush = () => {
    if (parts.length > 0) out.push(new Messages.ModelRequest({ parts }))
    parts = []
  }
  for (const m of wire) {
    switch (m.role) {
      case "system":
      case "developer":
        parts.push(new Messages.SystemPromptPart({ content: textOf(m.content) }))
        break
      case "user":
        if (typeof m.content === "string")
          parts.push(new Messages.UserPromptPart({ content: m.content }))
        else {
          const items: Array<Messages.UserContent> = []
          for (const p of m.content as Array<Json>) {
            if (p.type === "text") items.push(p.text)
            else if (p.type === "video_url")
              items.push(new Messages.VideoUrl({ url: p.video_url.url }))
            else if (p.type === "image_url") {
              const d = parseDataUrl(p.image_url.url)
              // OpenAI image detail: the file's vendor metadata
              const vendor =
                p.image_url.detail !== undefined
                  ? { vendorMetadata: { detail: p.image_url.detail } }
                  : {}
              items.push(
                d
                  ? new Messages.BinaryContent({ data: d.data, mediaType: d.mediaType, ...vendor })
                  : new Messages.ImageUrl({ url: p.image_url.url, ...vendor })
              )
            } else if (p.type === "input_audio") {
              const format =
                p.input_audio.format === "mp3" ? "audio/mpeg" : `audio/${p.input_audio.format}`
              items.push(
                new Messages.BinaryContent({
                  data: Buffer.from(p.input_audio.data, "base64"),
                  mediaType: format
                })
              )
            } else if (p.type === "file" && p.file.file_id !== undefined) {
              items.push(
                new Messages.UploadedFile({
                  fileId: p.file.file_id,
                  providerName: system,
                  mediaType: "application/pdf"
                })
              )
            } else if (p.type === "file") {
              const d = parseDataUrl(p.file.file_data)
              items.push(
                d === undefined
                  ? new Messages.DocumentUrl({ url: p.file.file_data })
                  : new Messages.BinaryContent({
                      data: d.data,
                      mediaType: d.mediaType,
                      ...(p.file.filename !== undefined ? { identifier: p.file.filename } : {})
                    })
              )
            }
            // `cache_control` or OpenAI's `prompt_cache_breakpoint` on a part: a cache point
            // right after it
            if (p.prompt_cache_breakpoint !== undefined) items.push(new Messages.CachePoint())
            else if (p.cache_control !== undefined)
              items.push(
                new Messages.CachePoint(
                  p.cache_control.ttl !== undefined ? { ttl: p.cache_control.ttl } : {}
                )
              )
          }
          parts.push(new Messages.UserPromptPart({ content: items }))
        }
        break
      case "tool":
        parts.push(
          new Messages.ToolReturnPart({
            toolName: toolNames.get(m.tool_call_id) ?? "unknown",
            toolCallId: m.tool_call_id,
            content: textOf(m.content)
          })
        )
        break
      case "assistant": {
        flush()
        const rparts: Array<Messages.ModelResponsePart> = []
        if (Array.isArray(m.reasoning_details))
          for (const d of m.reasoning_details as Array<Json>) {
            const { text, summary, data, signature, ...detail } = d
            const sig = d.type === "reasoning.encrypted" ? data : signature
            rparts.push(
              new Messages.ThinkingPart({
                content: (d.type === "reasoning.summary" ? summary : text) ?? "",
                id: "reasoning_details",
                providerName: system,
                ...(typeof sig === "string" ? { signature: sig } : {}),
                providerDetails: { reasoning_details: detail }
              })
            )
          }
        for (const field of ["reasoning_content", "reasoning"] as const) {
          if (typeof m[field] === "string")
            rparts.push(
              new Messages.ThinkingPart({ content: m[field], id: field, providerName: system })
            )
        }
        const tagged =
          thinkingTags !== undefined ? fromThinkTags(m.content, thinkingTags) : undefined
        if (tagged !== undefined) {
          rparts.push(new Messages.ThinkingPart({ content: tagged.thinking, providerName: system }))
          if (tagged.text !== "") rparts.push(new Messages.TextPart({ content: tagged.text }))
        } else if (typeof m.content === "string" && m.content !== "")
          rparts.push(new Messages.TextPart({ content: m.content }))
        for (const call of m.tool_calls ?? []) {
          toolNames.set(call.id, call.function.name)
          rparts.push(
            new Messages.ToolCallPart({
              toolName: call.function.name,
              args: call.function.arguments,
              toolCallId: call.id
            })
          )
        }
        out.push(new Messages.ModelResponse({ parts: rparts, providerName: system }))
        break
      }
    }
  }
  flush()
  return out
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v)

/** Recorded tools / tool_choice / response_format → request parameters and settings. */
export const wireToParameters = (
  body: Json
): { parameters: Model.ModelRequestParameters; settings: ModelSettings.ModelSettings } => {
  const functionTools = ((body.tools ?? []) as Array<Json>)
    .filter((t) => t.type === "function")
    .map(
      (t) =>
        new Tool.ToolDefinition({
          name: t.function.name,
          ...(t.function.description !== undefined ? { description: t.function.description } : {}),
          parametersJsonSchema: t.function.parameters ?? { type: "object", properties: {} },
          ...(t.function.strict === true
            ? { strict: true }
            : t.function.strict === false
              ? { strict: false }
              : {})
        })
    )
  const settings: {
    -readonly [K in keyof ModelSettings.ModelSettings]: ModelSettings.ModelSettings[K]
  } = {}
  let allowTextOutput = true
  const tc = body.tool_choice
  if (tc === "required") allowTextOutput = false
  else if (tc === "none") settings.toolChoice = "none"
  else if (tc !== undefined && tc !== null && typeof tc === "object" && tc.function?.name)
    settings.toolChoice = [tc.function.name]
  let outputMode: Model.OutputMode = "text"
  let outputObject: Model.OutputObjectDefinition | undefined
  const rf = body.response_format
  if (rf?.type === "json_schema") {
    outputMode = "native"
    outputObject = new Model.OutputObjectDefinition({
      jsonSchema: rf.json_schema.schema,
      name: rf.json_schema.name,
      ...(rf.json_schema.description !== undefined
        ? { description: rf.json_schema.description }
        : {}),
      ...(typeof rf.json_schema.strict === "boolean" ? { strict: rf.json_schema.strict } : {})
    })
  } else if (rf?.type === "json_object") outputMode = "prompted"
  // Built-in web search in each vendor's form (OpenAI, OpenRouter, Groq).
  const builtinTools: Array<BuiltinTool.BuiltinTool> = []
  const location = (l: Json | undefined) =>
    l === undefined
      ? {}
      : {
          userLocation: new BuiltinTool.UserLocation(
            Object.fromEntries(Object.entries(l).filter(([k]) => k !== "type")) as any
          )
        }
  if (body.web_search_options !== undefined) {
    const o = body.web_search_options
    builtinTools.push(
      new BuiltinTool.WebSearch({
        ...(o.search_context_size ? { searchContextSize: o.search_context_size } : {}),
        ...location(o.user_location?.approximate)
      })
    )
  }
  for (const t of (body.tools ?? []) as Array<Json>) {
    if (t.type !== "openrouter:web_search") continue
    const o = t.parameters ?? {}
    builtinTools.push(
      new BuiltinTool.WebSearch({
        ...(o.search_context_size ? { searchContextSize: o.search_context_size } : {}),
        ...(o.max_uses !== undefined ? { maxUses: o.max_uses } : {}),
        ...(o.allowed_domains ? { allowedDomains: o.allowed_domains } : {}),
        ...(o.excluded_domains ? { blockedDomains: o.excluded_domains } : {}),
        ...location(o.user_location)
      })
    )
  }
  if (body.search_settings !== undefined) {
    const o = body.search_settings
    builtinTools.push(
      new BuiltinTool.WebSearch({
        ...(o.include_domains ? { allowedDomains: o.include_domains } : {}),
        ...(o.exclude_domains ? { blockedDomains: o.exclude_domains } : {})
      })
    )
  }
  if (typeof body.max_completion_tokens === "number")
    settings.maxTokens = body.max_completion_tokens
  if (typeof body.max_tokens === "number") settings.maxTokens = body.max_tokens
  if (typeof body.temperature === "number") settings.temperature = body.temperature
  if (Array.isArray(body.stop)) settings.stopSequences = body.stop
  if (typeof body.service_tier === "string") settings.serviceTier = body.service_tier
  // OpenRouter's own fields, through its typed settings (`OpenRouter.Settings`).
  const openrouter: { -readonly [K in keyof OpenRouter.Settings]: OpenRouter.Settings[K] } = {}
  if (Array.isArray(body.models)) openrouter.openrouterModels = body.models
  if (isObject(body.provider)) openrouter.openrouterProvider = body.provider
  if (typeof body.preset === "string") openrouter.openrouterPreset = body.preset
  if (Array.isArray(body.transforms)) openrouter.openrouterTransforms = body.transforms
  if (isObject(body.reasoning)) openrouter.openrouterReasoning = body.reasoning
  if (isObject(body.usage)) openrouter.openrouterUsage = body.usage as { include: boolean }
  Object.assign(settings, openrouter)
  // Z.AI's `thinking` and `reasoning_effort`, through the portable `thinking` and `Zai.Settings`;
  // Cerebras's `disable_reasoning` through `Cerebras.Settings`.
  if (isObject(body.thinking)) {
    const t = body.thinking
    const zai: { -readonly [K in keyof Zai.Settings]: Zai.Settings[K] } = {}
    if (t.type === "enabled") zai.thinking = true
    if (t.type === "disabled") zai.thinking = false
    if (typeof t.clear_thinking === "boolean") zai.zaiClearThinking = t.clear_thinking
    if (typeof body.reasoning_effort === "string")
      zai.zaiReasoningEffort = body.reasoning_effort as Zai.Settings["zaiReasoningEffort"]
    Object.assign(settings, zai)
  }
  // Groq's `reasoning_effort` / `reasoning_format`, through `Groq.Settings`.
  const groq: { -readonly [K in keyof Groq.Settings]: Groq.Settings[K] } = {}
  if (typeof body.reasoning_format === "string")
    groq.groqReasoningFormat = body.reasoning_format as Groq.Settings["groqReasoningFormat"]
  if (typeof body.reasoning_effort === "string" && !isObject(body.thinking))
    groq.groqReasoningEffort = body.reasoning_effort as Groq.Settings["groqReasoningEffort"]
  Object.assign(settings, groq)
  if (typeof body.disable_reasoning === "boolean")
    Object.assign(settings, {
      cerebrasDisableReasoning: body.disable_reasoning
    } satisfies Cerebras.Settings)
  // Snowflake Cortex's `reasoning` (Claude models), through `Snowflake.Settings`.
  if (isObject(body.reasoning))
    Object.assign(settings, {
      snowflakeReasoning: body.reasoning as Snowflake.Reasoning
    } satisfies Snowflake.Settings)
  return {
    parameters: new Model.ModelRequestParameters({
      functionTools,
      builtinTools,
      outputMode,
      ...(outputObject !== undefined ? { outputObject } : {}),
      allowTextOutput
    }),
    settings
  }
}

// ---------------------------------------------------------------------------
// Request fidelity
// ---------------------------------------------------------------------------

/**
 * Normalizations of legitimate differences with pydantic-ai:
 * - `content: null` on an assistant message with tool calls is the same as no `content`;
 * - `name` on messages is not sent by agentfx;
 * - thinking fields are sent back only for vendors whose profile asks for it, and an empty
 *   thinking field (`""`) equals its absence;
 * - `tool_calls: []` equals no tool calls.
 * Signed reasoning (`reasoning_details`) must come back exactly as recorded, for every vendor.
 */
const normalizeMessage = (m: Json, keepThinking: boolean): Json => {
  const out: Json = { role: m.role === "developer" ? "system" : m.role }
  if (
    m.content !== null &&
    m.content !== undefined &&
    !(m.role === "assistant" && m.content === "" && m.tool_calls?.length)
  )
    out.content = m.content
  if (m.role === "assistant" && out.content === undefined && !m.tool_calls?.length) out.content = ""
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id
  if (Array.isArray(m.tool_calls) && m.tool_calls.length > 0)
    out.tool_calls = m.tool_calls.map((c: Json) => ({
      id: c.id,
      type: c.type ?? "function",
      function: { name: c.function.name, arguments: c.function.arguments }
    }))
  if (keepThinking) {
    for (const f of ["reasoning_content", "reasoning"])
      if (typeof m[f] === "string" && m[f] !== "") out[f] = m[f]
  }
  if (Array.isArray(m.reasoning_details) && m.reasoning_details.length > 0)
    out.reasoning_details = m.reasoning_details
  return out
}

const normalizeTool = (t: Json, recordedStrict: boolean): Json => ({
  name: t.function.name,
  description: t.function.description ?? "",
  parameters: t.function.parameters,
  // Only a recorded `strict: true` must be reproduced; agentfx may add `strict: true` where
  // the schema is strict-compatible (as pydantic-ai's OpenAI profile does).
  ...(recordedStrict ? { strict: t.function.strict === true } : {}),
  ...(t.cache_control !== undefined ? { cache_control: t.cache_control } : {})
})

const normalizeToolChoice = (tc: unknown, hasTools: boolean): unknown =>
  !hasTools ? undefined : tc === undefined || tc === null ? "auto" : tc

/** Asserts the received body equals the recorded one on the compared fields. */
export const assertRequestFidelity = (
  recorded: Json,
  received: Json,
  keepThinking: boolean,
  vendorFields = false
) => {
  assert.deepStrictEqual(
    (received.messages as Array<Json>).map((m) => normalizeMessage(m, keepThinking)),
    (recorded.messages as Array<Json>).map((m) => normalizeMessage(m, keepThinking)),
    "messages"
  )
  const recordedTools = (recorded.tools ?? []) as Array<Json>
  const receivedTools = (received.tools ?? []) as Array<Json>
  // Vendor built-in tools (`openrouter:web_search`) are compared whole.
  const normalizeAny = (t: Json, strict: boolean) =>
    t.type === "function" ? normalizeTool(t, strict) : t
  assert.deepStrictEqual(
    receivedTools.map((t, i) => normalizeAny(t, recordedTools[i]?.function?.strict === true)),
    recordedTools.map((t) => normalizeAny(t, t.function?.strict === true)),
    "tools"
  )
  // Built-in tool fields of the body (OpenAI `web_search_options`, Groq `search_settings`).
  for (const key of ["web_search_options", "search_settings"])
    assert.deepStrictEqual(received[key], recorded[key], key)
  const hasTools = recordedTools.length > 0
  const recordedChoice = normalizeToolChoice(recorded.tool_choice, hasTools)
  const receivedChoice = normalizeToolChoice(received.tool_choice, hasTools)
  // `{function: {name}}` without `type` (a vendor quirk) equals the typed form.
  const typed = (c: any) =>
    c && typeof c === "object" && c.function ? { type: "function", function: c.function } : c
  assert.deepStrictEqual(typed(receivedChoice), typed(recordedChoice), "tool_choice")
  assert.deepStrictEqual(received.response_format, recorded.response_format, "response_format")
  assert.strictEqual(received.stream, recorded.stream ?? false, "stream")
  assert.strictEqual(received.service_tier, recorded.service_tier, "service_tier")
  // OpenRouter's own fields (routing, fallback models, preset, transforms, reasoning, usage),
  // for a vendor whose profile sends its own fields (`ChatProfile.requestFields`)
  if (vendorFields)
    for (const key of [
      ...["models", "provider", "preset", "transforms", "reasoning", "usage"],
      // Z.AI's, Cerebras's and Groq's
      ...["thinking", "reasoning_effort", "disable_reasoning", "reasoning_format"]
    ])
      assert.deepStrictEqual(received[key], recorded[key], key)
}

// ---------------------------------------------------------------------------
// Expected values from the raw body (an independent, simple reading)
// ---------------------------------------------------------------------------

/** What a response must decode to. */
export interface Expected {
  text: string
  thinking: string
  /** Signatures / encrypted blobs of the reasoning, in order. */
  signatures: Array<string>
  toolCalls: Array<{ id: string | undefined; name: string; args: unknown }>
  inputTokens: number
  outputTokens: number
  cachedTokens: number
  cacheWriteTokens: number
  reasoningTokens: number
  /** Built-in tool requests the vendor counted (OpenRouter `server_tool_use_details`). */
  serverToolUse: Record<string, number>
  /** Tools the vendor ran (Groq `executed_tools`): call, then result once it has an output. */
  builtin: Array<Json>
  finishReason: string | undefined
  /** What the gateway charged (OpenRouter `usage.cost`). */
  cost: number | undefined
  /** The provider that served the request (OpenRouter `provider`). */
  downstreamProvider: string | undefined
  /** That provider's own finish reason (OpenRouter `native_finish_reason`). */
  nativeFinishReason: string | undefined
}

const parseArgs = (s: unknown): unknown => {
  if (typeof s !== "string") return s ?? {}
  if (s.trim() === "") return {}
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

const usageOf = (u: Json | undefined) => ({
  inputTokens: u?.prompt_tokens ?? 0,
  outputTokens: u?.completion_tokens ?? 0,
  cachedTokens: u?.prompt_tokens_details?.cached_tokens || u?.prompt_cache_hit_tokens || 0,
  cacheWriteTokens: u?.prompt_tokens_details?.cache_write_tokens ?? 0,
  reasoningTokens: u?.completion_tokens_details?.reasoning_tokens ?? 0,
  cost: typeof u?.cost === "number" ? u.cost : undefined,
  serverToolUse: Object.fromEntries(
    Object.entries(u?.server_tool_use_details ?? {}).filter(
      ([, v]) => typeof v === "number" && v !== 0
    )
  ) as Record<string, number>
})

/** Expected built-in parts of executed tools (merged by index across chunks). */
const executedParts = (tools: ReadonlyArray<Json>): Array<Json> =>
  tools.flatMap((t) => {
    const { index, type, arguments: args, ...result } = t
    const call = { kind: "call", id: `executed_tool_${index}`, name: type, args }
    return t.output === undefined
      ? [call]
      : [call, { kind: "return", id: `executed_tool_${index}`, name: type, content: result }]
  })

/** A reasoning piece of a `reasoning_details` item: its text and its signature or blob. */
const detailPiece = (d: Json): { text: string; signature: string | undefined } => ({
  text:
    (d.type === "reasoning.summary" ? d.summary : d.type === "reasoning.text" ? d.text : "") ?? "",
  signature: d.type === "reasoning.encrypted" ? d.data : d.signature
})

/** Thinking text and signatures of a message: `reasoning_details` when present, else the text fields. */
const thinkingOf = (m: Json): { thinking: string; signatures: Array<string> } => {
  if (Array.isArray(m.reasoning_details) && m.reasoning_details.length > 0) {
    const pieces = (m.reasoning_details as Array<Json>).map(detailPiece)
    return {
      thinking: pieces.map((p) => p.text).join(""),
      signatures: pieces.flatMap((p) => (p.signature !== undefined ? [p.signature] : []))
    }
  }
  return { thinking: m.reasoning_content ?? m.reasoning ?? "", signatures: [] }
}

/** Expected values of a JSON response. */
export const expectedFromJson = (json: Json): Expected => {
  const choice = json.choices?.[0] ?? {}
  const m = choice.message ?? {}
  return {
    text: typeof m.content === "string" ? m.content : "",
    ...thinkingOf(m),
    toolCalls: (m.tool_calls ?? []).map((c: Json) => ({
      id: c.id,
      name: c.function.name,
      args: parseArgs(c.function.arguments)
    })),
    ...usageOf(json.usage),
    builtin: executedParts(m.executed_tools ?? []),
    finishReason: choice.finish_reason ?? undefined,
    downstreamProvider: typeof json.provider === "string" ? json.provider : undefined,
    nativeFinishReason: choice.native_finish_reason ?? undefined
  }
}

/** Expected values of an SSE body, read line by line. */
export const expectedFromSse = (sse: string): Expected => {
  let text = ""
  let thinking = ""
  // reasoning_details by index: text and signature accumulate per item
  const details = new Map<number, { text: string; signature: string }>()
  let usage: Json | undefined
  let finishReason: string | undefined
  let downstreamProvider: string | undefined
  let nativeFinishReason: string | undefined
  const calls = new Map<number, { id: string | undefined; name: string; args: string }>()
  // Executed tools by index: the latest chunk's view of each (its output comes last).
  const executed = new Map<number, Json>()
  for (const line of sse.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue
    const data = line.slice(5).trim()
    if (!data.startsWith("{")) continue
    const chunk = JSON.parse(data)
    if (chunk.usage) usage = chunk.usage
    else if (chunk.x_groq?.usage) usage = chunk.x_groq.usage
    if (typeof chunk.provider === "string" && chunk.provider !== "")
      downstreamProvider = chunk.provider
    for (const choice of chunk.choices ?? []) {
      if ((choice.index ?? 0) !== 0) continue
      if (choice.finish_reason) finishReason = choice.finish_reason
      if (typeof choice.native_finish_reason === "string")
        nativeFinishReason = choice.native_finish_reason
      const d = choice.delta ?? {}
      if (typeof d.content === "string") text += d.content
      for (const t of d.executed_tools ?? []) executed.set(t.index, t)
      if (Array.isArray(d.reasoning_details) && d.reasoning_details.length > 0) {
        d.reasoning_details.forEach((item: Json, position: number) => {
          const key = item.index ?? position
          const cur = details.get(key) ?? { text: "", signature: "" }
          const piece = detailPiece(item)
          cur.text += piece.text
          cur.signature += piece.signature ?? ""
          details.set(key, cur)
        })
      } else {
        const r = d.reasoning_content ?? d.reasoning
        if (typeof r === "string") thinking += r
      }
      for (const tc of d.tool_calls ?? []) {
        const idx = tc.index ?? 0
        const cur = calls.get(idx) ?? { id: undefined, name: "", args: "" }
        if (tc.id) cur.id = tc.id
        if (tc.function?.name) cur.name += tc.function.name
        if (typeof tc.function?.arguments === "string") cur.args += tc.function.arguments
        calls.set(idx, cur)
      }
    }
  }
  const ordered = [...details.entries()].sort(([a], [b]) => a - b).map(([, v]) => v)
  return {
    text,
    thinking: thinking + ordered.map((d) => d.text).join(""),
    signatures: ordered.flatMap((d) => (d.signature !== "" ? [d.signature] : [])),
    toolCalls: [...calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, c]) => ({ id: c.id, name: c.name, args: parseArgs(c.args) })),
    ...usageOf(usage),
    builtin: executedParts([...executed.values()]),
    finishReason,
    downstreamProvider,
    nativeFinishReason
  }
}

const finishMap: Record<string, string> = {
  stop: "stop",
  length: "length",
  tool_calls: "tool_call",
  function_call: "tool_call",
  content_filter: "content_filter",
  error: "error"
}

/**
 * The expected values for a vendor whose profile splits `<think>…</think>` out of the text
 * (an independent reading: the text between the tags is thinking, after any reasoning field).
 */
const splitThinkTags = (expected: Expected, [open, close]: readonly [string, string]): Expected => {
  let text = ""
  let thinking = ""
  let rest = expected.text
  for (;;) {
    const start = rest.indexOf(open)
    const end = start < 0 ? -1 : rest.indexOf(close, start + open.length)
    if (end < 0) break
    text += rest.slice(0, start)
    thinking += rest.slice(start + open.length, end)
    rest = rest.slice(end + close.length)
  }
  return { ...expected, text: text + rest, thinking: expected.thinking + thinking }
}

/** Asserts a decoded response equals the expected values. */
export const assertDecoded = (response: Messages.ModelResponse, expected: Expected) => {
  assert.strictEqual(response.text, expected.text, "text")
  assert.strictEqual(
    response.thinking.map((t) => t.content).join(""),
    expected.thinking,
    "thinking"
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => ({
      id:
        expected.toolCalls.find((e) => e.name === c.toolName)?.id === undefined
          ? undefined
          : c.toolCallId,
      name: c.toolName,
      args: parseArgs(c.args)
    })),
    expected.toolCalls.map((c) => ({ id: c.id, name: c.name, args: c.args })),
    "tool calls"
  )
  assert.strictEqual(response.usage.inputTokens, expected.inputTokens, "input tokens")
  assert.strictEqual(response.usage.outputTokens, expected.outputTokens, "output tokens")
  assert.deepStrictEqual(
    response.thinking.flatMap((t) => (t.signature !== undefined ? [t.signature] : [])),
    expected.signatures,
    "thinking signatures"
  )
  assert.strictEqual(response.usage.cacheReadTokens, expected.cachedTokens, "cached tokens")
  assert.strictEqual(response.usage.cacheWriteTokens, expected.cacheWriteTokens, "cache writes")
  assert.strictEqual(
    response.usage.details.reasoning_tokens ?? 0,
    expected.reasoningTokens,
    "reasoning tokens"
  )
  assert.deepStrictEqual(
    response.builtinToolParts.map((p) =>
      p._tag === "BuiltinToolCallPart"
        ? { kind: "call", id: p.toolCallId, name: p.toolName, args: p.args }
        : { kind: "return", id: p.toolCallId, name: p.toolName, content: p.content }
    ),
    expected.builtin,
    "built-in tool parts"
  )
  for (const [k, v] of Object.entries(expected.serverToolUse))
    assert.strictEqual(response.usage.details[k], v, `usage ${k}`)
  assert.strictEqual(response.usage.cost, expected.cost, "usage cost")
  assert.strictEqual(
    response.providerDetails?.downstream_provider,
    expected.downstreamProvider,
    "downstream provider"
  )
  assert.strictEqual(
    response.providerDetails?.native_finish_reason,
    expected.nativeFinishReason,
    "native finish reason"
  )
  // An empty `finish_reason` (Snowflake Cortex's Claude models) is no reason from the vendor;
  // the response reads as a tool call when it has one, else as a stop.
  const recorded = expected.finishReason === "" ? undefined : expected.finishReason
  assert.strictEqual(response.providerFinishReason, recorded, "provider finish reason")
  assert.strictEqual(
    response.finishReason,
    expected.finishReason === ""
      ? expected.toolCalls.length > 0
        ? "tool_call"
        : "stop"
      : recorded === undefined
        ? undefined
        : finishMap[recorded],
    "finish reason"
  )
}

// ---------------------------------------------------------------------------
// Running one interaction
// ---------------------------------------------------------------------------

/** How a vendor is set up for the replay. */
export interface VendorSetup {
  readonly system: string
  /** Profile for a recorded model name. */
  readonly profile: (modelName: string) => OpenAiChat.ChatProfile
}

/** Hosts of OpenAI-compatible vendors in the recordings → the vendor table's entry. */
const vendorByHost: Record<string, string> = {
  "api.cerebras.ai": "cerebras",
  "ollama.com": "ollama",
  "api.z.ai": "zai",
  "api.inference.crusoecloud.com": "crusoe",
  "api.groq.com": "groq",
  "openrouter.ai": "openrouter",
  "api.deepseek.com": "deepseek",
  "router.huggingface.co": "huggingface",
  // Snowflake Cortex has an account-specific URL (its vendor is not in the table).
  "myorg-myaccount.snowflakecomputing.com": "snowflake"
}

/**
 * The real setup of the vendor an interaction was recorded against: OpenAI's own profile
 * (`OpenAiChat.openAiProfile`) for api.openai.com and gateways in front of it, else the vendor
 * table's entry (`OpenAiCompatible.vendors`) by host, or by the folder for a local gateway.
 */
export const vendorOf =
  (folder: string) =>
  (it: Interaction): VendorSetup => {
    const name = vendorByHost[it.host ?? ""] ?? (folder === "openai-chat" ? undefined : folder)
    if (name === undefined) return { system: "openai", profile: OpenAiChat.openAiProfile }
    if (name === "snowflake") return { system: "snowflake", profile: Snowflake.profile }
    const v = OpenAiCompatible.vendors[name]
    if (v === undefined) throw new Error(`no vendor ${name} for ${it.host}`)
    return { system: v.name, profile: v.profile }
  }

/**
 * Replays one interaction through the model: returns the decoded response (or the error)
 * and the body the server received.
 */
export const runInteraction = (
  ci: ChatInteraction,
  vendor: VendorSetup,
  options: { readonly rechunkSeed?: number; readonly useRecordedMessages: boolean }
) =>
  Effect.gen(function* () {
    const it = ci.interaction
    const path = it.request.path
    const prefix = path.replace(/\/chat\/completions(\?.*)?$/, "")
    const single: ConformanceCase = { ...ci.case, interactions: [it] }
    const server = yield* replayServer(
      single,
      options.rechunkSeed !== undefined ? { rechunkSeed: options.rechunkSeed } : {}
    )
    const body = (it.request.body ?? {}) as Json
    const modelName: string = body.model ?? "model"
    const stream = body.stream === true
    const messages = options.useRecordedMessages
      ? wireToMessages(body.messages ?? [], vendor.system, vendor.profile(modelName).thinkingTags)
      : [Messages.userPrompt("hello")]
    const { parameters, settings } = options.useRecordedMessages
      ? wireToParameters(body)
      : { parameters: Model.ModelRequestParameters.empty, settings: {} }
    const query = path.includes("?")
      ? Object.fromEntries(new URLSearchParams(path.split("?")[1]))
      : undefined
    const layer = OpenAiChat.model(modelName, {
      system: vendor.system,
      profile: vendor.profile(modelName),
      ...(options.useRecordedMessages ? cacheOptionsOf(body) : {})
    }).pipe(
      Layer.provide(
        OpenAiClient.layer({
          baseUrl: `${server.baseUrl}${prefix}`,
          retry: false,
          ...(query ? { queryParams: query } : {})
        })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    )
    const result = yield* Effect.gen(function* () {
      const model = yield* Model.Model
      if (!stream) return yield* model.request(messages, settings, parameters)
      return yield* Effect.scoped(
        Effect.gen(function* () {
          const streamed = yield* model.requestStream(messages, settings, parameters)
          const events = Chunk.toArray(yield* Stream.runCollect(streamed.events))
          const last = events[events.length - 1]
          assert.strictEqual(
            last?._tag,
            "ResponseCompleteEvent",
            "stream ends with ResponseCompleteEvent"
          )
          return (last as Messages.ResponseCompleteEvent).response
        })
      )
    }).pipe(Effect.provide(layer), Effect.either)
    return { result, received: server.received, unused: server.unused() }
  }).pipe(Effect.scoped)

/** The full check of one interaction (decoding and, unless skipped, request fidelity). */
export const checkInteraction = (
  ci: ChatInteraction,
  vendor: VendorSetup,
  options: { readonly rechunkSeed?: number; readonly fidelity: boolean }
) =>
  Effect.gen(function* () {
    const it = ci.interaction
    const useRecorded = options.fidelity && ci.fidelitySkip === undefined
    const { result, received, unused } = yield* runInteraction(ci, vendor, {
      useRecordedMessages: useRecorded,
      ...(options.rechunkSeed !== undefined ? { rechunkSeed: options.rechunkSeed } : {})
    })
    assert.strictEqual(received.length, 1, "one request")
    assert.strictEqual(unused, 0, "the interaction was used")
    const r = it.response
    if (r.status >= 400) {
      assert.strictEqual(result._tag, "Left", "a recorded error fails the request")
      const error = (result as any).left as AgentError.ModelError
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert(error._tag === "ModelHTTPError")
      assert.strictEqual(error.status, r.status)
      const expectedBody = r.json ?? (r.text !== null ? parseArgs(r.text) : undefined)
      assert.deepStrictEqual(error.body, expectedBody)
    } else if (r.sse && /^data:\s*\{"error"/m.test(r.sse)) {
      // An `error` object inside a 200 stream fails the stream with a typed error that keeps
      // what arrived before it.
      assert.strictEqual(result._tag, "Left", "an in-stream error fails the stream")
      const error = (result as any).left as AgentError.ModelError
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "Provider error in stream")
      assert.isDefined(error.partialResponse)
      assert.strictEqual(error.partialResponse!.text, expectedFromSse(r.sse).text)
    } else {
      if (result._tag === "Left") assert.fail(`decoding failed: ${String(result.left)}`)
      const expected =
        r.sse !== null && r.sse !== undefined
          ? expectedFromSse(r.sse)
          : expectedFromJson((r.json ?? (r.text ? JSON.parse(r.text) : {})) as Json)
      const tags = vendor.profile((it.request.body as Json | null)?.model ?? "").thinkingTags
      assertDecoded(result.right, tags === undefined ? expected : splitThinkTags(expected, tags))
    }
    if (useRecorded) {
      const profile = vendor.profile((it.request.body as Json).model ?? "")
      assertRequestFidelity(
        it.request.body as Json,
        received[0]!.body as Json,
        profile.sendThinkingField !== undefined,
        profile.requestFields !== undefined
      )
    }
  })

/**
 * Registers the conformance tests of one recorded provider folder: per interaction, decoding
 * plus request fidelity, and for streams a re-chunked replay. Data-driven skips carry the reason
 * from `decodeSkipReason`.
 */
export const describeConformance = (
  provider: string,
  vendorOf: (it: Interaction) => VendorSetup
): void => {
  describe(`${provider} conformance`, () => {
    for (const c of listCases(provider))
      c.interactions.forEach((interaction, index) => {
        const reason = otherEndpointReason(interaction)
        // Data-driven skip: see `otherEndpointReason` for the reason.
        if (reason !== undefined) it.skip(`${c.id}#${index}: ${reason}`, () => {})
      })
    for (const ci of chatInteractions(provider, vendorOf)) {
      const vendor = vendorOf(ci.interaction)
      const name = `${ci.caseId}#${ci.index}`
      const skip = decodeSkipReason(ci.interaction)
      if (skip !== undefined) {
        // Data-driven skip: see `decodeSkipReason` for the reason.
        it.skip(`${name}: ${skip}`, () => {})
        continue
      }
      it.effect(
        `decode + request: ${name}${ci.fidelitySkip ? ` (fidelity skipped: ${ci.fidelitySkip})` : ""}`,
        () => checkInteraction(ci, vendor, { fidelity: true })
      )
      if (ci.interaction.response.sse) {
        it.effect(`decode re-chunked stream: ${name}`, () =>
          checkInteraction(ci, vendor, { fidelity: false, rechunkSeed: ci.index + 17 })
        )
      }
    }
  })
}
