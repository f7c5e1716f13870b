/**
 * Conformance of the Anthropic provider against pydantic-ai's recorded traffic:
 * - request fidelity: each recorded request body is converted back into agentfx messages,
 *   tools and settings, re-encoded by `encodeRequest`, and compared structurally (system,
 *   messages, tools, tool_choice, output_config.format, thinking, max_tokens, stream);
 * - response decoding: every recorded exchange is replayed from a loopback server through the
 *   real model (`request` / `requestStream`, SSE verbatim and re-chunked), and the decoded
 *   response is checked against the recorded body; recorded 4xx → `ModelHTTPError`.
 *
 * Documented differences we normalize away: a `tool_result` whose content is a bare string is
 * compared as one text block; `system` as a list of text blocks is compared as their joined text;
 * `tools` are compared as a set (pydantic-ai appends tools loaded mid-run after built-in ones).
 */
import { BuiltinTool, Messages, Model, Tool } from "@agentfx/core"
import { assert } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../../src/Anthropic.js"
import * as AnthropicClient from "../../src/AnthropicClient.js"
import {
  canonical,
  describeCases,
  replayInteractions,
  sentFor,
  skipReasonOf
} from "../support/conformance.js"
import type { ConformanceCase, Interaction } from "../support/replay.js"

const PROVIDER = "anthropic"

/** Cases using features out of scope, matched by substring of the id, with the reason. */
const SKIPS: ReadonlyArray<readonly [string, string]> = [
  ["count_tokens_error", "a count request only: replayed by CountTokens.test.ts"],
  ["count_tokens_keeps_memory_tool", "a count request only: replayed by CountTokens.test.ts"],
  ["count_tokens_with_tool_search", "a count request only: replayed by CountTokens.test.ts"],
  [
    "usage_limit_",
    "a count request (and, within the limit, the generation) through an agent run with UsageLimits.countTokensBeforeRequest: replayed by CountTokens.test.ts"
  ],
  ["test_gateway", "pydantic gateway routing is out of scope"]
]

const isOurs = (it: Interaction) =>
  it.endpoint === "messages" && it.request.method === "POST" && it.provider === PROVIDER

const skipReason = skipReasonOf(SKIPS, isOurs, "Messages API")

// ---------------------------------------------------------------------------
// Recorded wire body → agentfx inputs
// ---------------------------------------------------------------------------

type Json = Record<string, any>

const cachePoint = (b: Json): Array<Messages.CachePoint> =>
  b.cache_control
    ? [new Messages.CachePoint({ ...(b.cache_control.ttl ? { ttl: b.cache_control.ttl } : {}) })]
    : []

/** A file of the Files API (`source.type: file`): an image, else a PDF document. */
const uploaded = (fileId: string, mediaType?: string) =>
  new Messages.UploadedFile({
    fileId,
    providerName: "anthropic",
    ...(mediaType !== undefined ? { mediaType } : {})
  })

const userContent = (b: Json): Array<Messages.UserContent> => {
  if (b.source?.type === "file") {
    return [uploaded(b.source.file_id, b.type === "image" ? "image/png" : "application/pdf")]
  }
  switch (b.type) {
    case "container_upload":
      return [uploaded(b.file_id), ...cachePoint(b)]
    case "text":
      return [b.text, ...cachePoint(b)]
    case "image":
      return [
        b.source.type === "url"
          ? new Messages.ImageUrl({ url: b.source.url })
          : new Messages.BinaryContent({
              data: new Uint8Array(Buffer.from(b.source.data, "base64")),
              mediaType: b.source.media_type
            }),
        ...cachePoint(b)
      ]
    case "document":
      return [
        b.source.type === "url"
          ? new Messages.DocumentUrl({ url: b.source.url })
          : b.source.type === "text"
            ? new Messages.BinaryContent({
                data: new TextEncoder().encode(b.source.data),
                mediaType: "text/plain"
              })
            : new Messages.BinaryContent({
                data: new Uint8Array(Buffer.from(b.source.data, "base64")),
                mediaType: b.source.media_type
              }),
        ...cachePoint(b)
      ]
  }
  throw new Error(`unsupported user block ${b.type}`)
}

/**
 * A tool result's content: text, or (when it holds images / documents / tool references) the
 * list of items.
 */
const toolResultContent = (content: unknown): unknown =>
  typeof content === "string"
    ? content
    : (content as Array<Json>).every((c) => c.type === "text")
      ? (content as Array<Json>).map((c) => c.text).join("")
      : (content as Array<Json>).map((c) =>
          c.type === "text"
            ? c.text
            : c.type === "tool_reference"
              ? new Messages.ToolReference({ toolName: c.tool_name })
              : userContent(c)[0]
        )

/** Decodes a recorded request body into what the agent would have passed to the model. */
const fromWire = (body: Json) => {
  const messages: Array<Messages.ModelMessage> = []
  const toolNames = new Map<string, string>()
  const systemText =
    body.system === undefined
      ? undefined
      : typeof body.system === "string"
        ? body.system
        : (body.system as Array<Json>).map((b) => b.text).join("\n\n")
  let first = true
  // A cache breakpoint on the last block of an assistant turn: a `CachePoint` opening the next
  // request (it marks the end of the message before it).
  let cacheAfterAssistant: Messages.CachePoint | undefined
  for (const m of body.messages as Array<Json>) {
    const blocks: Array<Json> =
      typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content
    if (m.role === "system" && blocks.every((b) => b.type === "tool_addition")) {
      // Deferred tools made available mid-conversation (`tool_addition` blocks).
      const added = blocks.map((b) => b.tool.name as string)
      messages.push(
        new Messages.ModelRequest({ parts: [new Messages.ToolAvailabilityDeltaPart({ added })] })
      )
      continue
    }
    if (m.role === "system") {
      // A mid-conversation system message: a request of system prompts (a breakpoint on its last
      // block is a `CachePoint` right after them).
      messages.push(
        new Messages.ModelRequest({
          parts: [
            ...blocks.map((b) => {
              if (b.type !== "text") throw new Error(`unsupported system block ${b.type}`)
              return new Messages.SystemPromptPart({ content: b.text })
            }),
            ...cachePoint(blocks.at(-1)!).map((p) => new Messages.UserPromptPart({ content: [p] }))
          ]
        })
      )
      continue
    }
    if (m.role === "assistant") {
      cacheAfterAssistant = cachePoint(blocks.at(-1) ?? {})[0]
      const parts: Array<Messages.ModelResponsePart> = []
      for (const b of blocks) {
        if (b.type === "text") parts.push(new Messages.TextPart({ content: b.text }))
        else if (b.type === "tool_use") {
          toolNames.set(b.id, b.name)
          parts.push(
            new Messages.ToolCallPart({
              toolName: b.name,
              args: b.input,
              toolCallId: b.id,
              providerName: "anthropic"
            })
          )
        } else if (b.type === "thinking") {
          parts.push(
            new Messages.ThinkingPart({
              content: b.thinking,
              signature: b.signature,
              providerName: "anthropic"
            })
          )
        } else if (b.type === "server_tool_use" || b.type === "mcp_tool_use") {
          parts.push(
            new Messages.BuiltinToolCallPart({
              toolName: b.name,
              args: b.input,
              toolCallId: b.id,
              providerName: "anthropic",
              ...(b.type === "mcp_tool_use"
                ? { providerDetails: { type: b.type, server_name: b.server_name } }
                : {})
            })
          )
        } else if (typeof b.type === "string" && b.type.endsWith("_tool_result")) {
          const { type, tool_use_id, content, ...rest } = b
          parts.push(
            new Messages.BuiltinToolReturnPart({
              toolName: type.replace(/_tool_result$/, ""),
              content,
              toolCallId: tool_use_id,
              providerName: "anthropic",
              providerDetails: { type, ...rest }
            })
          )
        } else if (b.type === "compaction") {
          parts.push(
            new Messages.CompactionPart({
              ...(typeof b.content === "string" ? { content: b.content } : {}),
              providerName: "anthropic"
            })
          )
        } else if (b.type === "redacted_thinking") {
          parts.push(
            new Messages.ThinkingPart({
              content: "",
              signature: b.data,
              redacted: true,
              providerName: "anthropic"
            })
          )
        } else throw new Error(`unsupported assistant block ${b.type}`)
      }
      messages.push(new Messages.ModelResponse({ parts }))
      continue
    }
    if (m.role === "system") {
      // Deferred tools made available mid-conversation (`tool_addition` blocks).
      const added = blocks.map((b) => {
        if (b.type !== "tool_addition") throw new Error(`unsupported system block ${b.type}`)
        return b.tool.name as string
      })
      messages.push(
        new Messages.ModelRequest({ parts: [new Messages.ToolAvailabilityDeltaPart({ added })] })
      )
      continue
    }
    const parts: Array<Messages.ModelRequestPart> = []
    if (first && systemText !== undefined)
      parts.push(new Messages.SystemPromptPart({ content: systemText }))
    first = false
    let user: Array<Messages.UserContent> | undefined =
      cacheAfterAssistant === undefined ? undefined : [cacheAfterAssistant]
    cacheAfterAssistant = undefined
    const flushUser = () => {
      if (user !== undefined) parts.push(new Messages.UserPromptPart({ content: user }))
      user = undefined
    }
    for (const b of blocks) {
      if (b.type === "tool_result") {
        flushUser()
        parts.push(
          new Messages.ToolReturnPart({
            toolName: toolNames.get(b.tool_use_id) ?? "tool",
            toolCallId: b.tool_use_id,
            content: toolResultContent(b.content),
            outcome: b.is_error ? "failed" : "success"
          })
        )
      } else {
        user = [...(user ?? []), ...userContent(b)]
      }
    }
    flushUser()
    messages.push(new Messages.ModelRequest({ parts }))
  }

  const builtinTools: Array<BuiltinTool.BuiltinTool> = []
  for (const t of body.tools ?? []) {
    const type: string | undefined = t.type
    if (type === undefined || type === "custom") continue
    if (type.startsWith("web_search_")) {
      builtinTools.push(
        new BuiltinTool.WebSearch({
          ...(t.allowed_domains ? { allowedDomains: t.allowed_domains } : {}),
          ...(t.blocked_domains ? { blockedDomains: t.blocked_domains } : {}),
          ...(t.max_uses ? { maxUses: t.max_uses } : {})
        })
      )
    } else if (type.startsWith("web_fetch_")) {
      builtinTools.push(
        new BuiltinTool.WebFetch({
          ...(t.allowed_domains ? { allowedDomains: t.allowed_domains } : {}),
          ...(t.citations ? { enableCitations: t.citations.enabled } : {}),
          ...(t.max_content_tokens ? { maxContentTokens: t.max_content_tokens } : {})
        })
      )
    } else if (type.startsWith("code_execution_"))
      builtinTools.push(new BuiltinTool.CodeExecution())
    else if (type.startsWith("memory_")) builtinTools.push(new BuiltinTool.Memory())
    else if (type.startsWith("advisor_"))
      builtinTools.push(
        new BuiltinTool.Advisor({
          model: t.model,
          ...(t.max_tokens !== undefined ? { maxTokens: t.max_tokens } : {}),
          ...(t.max_uses !== undefined ? { maxUses: t.max_uses } : {})
        })
      )
    else if (type.startsWith("tool_search_tool_"))
      builtinTools.push(
        new BuiltinTool.ToolSearch({ variant: type.includes("regex") ? "regex" : "bm25" })
      )
    else throw new Error(`unsupported tool type ${type}`)
  }
  for (const m of body.mcp_servers ?? []) {
    builtinTools.push(
      new BuiltinTool.McpServer({
        id: m.name,
        url: m.url,
        ...(m.tool_configuration?.allowed_tools
          ? { allowedTools: m.tool_configuration.allowed_tools }
          : {})
      })
    )
  }
  const tools: Array<Tool.ToolDefinition> = (body.tools ?? [])
    .filter((t: Json) => t.type === undefined || t.type === "custom")
    .map(
      (t: Json) =>
        new Tool.ToolDefinition({
          name: t.name,
          ...(t.description ? { description: t.description } : {}),
          parametersJsonSchema: t.input_schema,
          ...(t.strict === true ? { strict: true } : {}),
          ...(t.defer_loading === true ? { deferLoading: true } : {})
        })
    )
  const choice = body.tool_choice
  const settings: Record<string, unknown> = { maxTokens: body.max_tokens }
  let allowTextOutput = true
  if (choice?.type === "any") allowTextOutput = false
  else if (choice?.type === "none") settings.toolChoice = "none"
  else if (choice?.type === "tool") settings.toolChoice = [choice.name]
  if (choice?.disable_parallel_tool_use) settings.parallelToolCalls = false
  if (body.thinking?.type === "enabled")
    settings.thinking = { budgetTokens: body.thinking.budget_tokens }
  // Adaptive thinking is the portable setting on models that have it; an effort it maps to
  // (low / medium / high) is an effort-level setting, any other effort the model option.
  let effort: Anthropic.Effort | undefined = body.output_config?.effort
  if (body.thinking?.type === "adaptive") {
    settings.thinking = effort === "low" || effort === "medium" || effort === "high" ? effort : true
    if (settings.thinking !== true) effort = undefined
  }
  if (effort !== undefined) settings.anthropicEffort = effort
  const taskBudget = body.output_config?.task_budget
  if (taskBudget !== undefined) {
    settings.anthropicTaskBudget = {
      total: taskBudget.total,
      ...(taskBudget.remaining !== undefined ? { remaining: taskBudget.remaining } : {})
    }
  }
  for (const edit of body.context_management?.edits ?? []) {
    if (edit.type === "compact_20260112") {
      settings.anthropicCompaction =
        edit.trigger === undefined && edit.pause_after_compaction === undefined
          ? true
          : {
              ...(edit.trigger !== undefined ? { triggerInputTokens: edit.trigger.value } : {}),
              ...(edit.pause_after_compaction !== undefined
                ? { pauseAfterCompaction: edit.pause_after_compaction }
                : {})
            }
    } else {
      settings.anthropicContextEdits = [...((settings.anthropicContextEdits as []) ?? []), edit]
    }
  }
  if (body.temperature !== undefined) settings.temperature = body.temperature
  if (body.top_p !== undefined) settings.topP = body.top_p
  if (body.top_k !== undefined) settings.topK = body.top_k
  if (body.service_tier !== undefined) settings.serviceTier = body.service_tier
  if (body.stop_sequences !== undefined) settings.stopSequences = body.stop_sequences
  const format = body.output_config?.format
  const parameters = new Model.ModelRequestParameters({
    functionTools: tools,
    builtinTools,
    allowTextOutput,
    ...(format?.type === "json_schema"
      ? {
          outputMode: "native" as const,
          outputObject: new Model.OutputObjectDefinition({ jsonSchema: format.schema })
        }
      : {})
  })
  // A container sent back: the one the latest Anthropic response of the history ran in (set
  // explicitly when there is no response before it).
  if (typeof body.container === "string") {
    const last = messages.map((m) => m._tag).lastIndexOf("ModelResponse")
    if (last >= 0) {
      const r = messages[last] as Messages.ModelResponse
      messages[last] = new Messages.ModelResponse({
        ...r,
        providerName: "anthropic",
        providerDetails: { ...r.providerDetails, container_id: body.container }
      })
    } else (settings as { anthropicContainer?: string }).anthropicContainer = body.container
  }
  const systemCache = Array.isArray(body.system) ? body.system.at(-1)?.cache_control : undefined
  const toolCache = body.tools?.at(-1)?.cache_control
  return {
    messages,
    parameters,
    settings,
    options: {
      ...(systemCache ? { cacheInstructions: systemCache.ttl ?? true } : {}),
      ...(toolCache ? { cacheTools: toolCache.ttl ?? true } : {}),
      ...(body.cache_control ? { autoCache: body.cache_control.ttl ?? true } : {})
    }
  }
}

const normalizeBlock = (b: Json): Json =>
  b.type === "tool_result" && typeof b.content === "string"
    ? { ...b, content: [{ type: "text", text: b.content }] }
    : b

/**
 * Drops `null` members (pydantic-ai's SDK sends unset optional fields of built-in tools and
 * their echoed results as `null`; we leave them out).
 */
const dropNulls = (v: unknown): any =>
  Array.isArray(v)
    ? v.map(dropNulls)
    : v !== null && typeof v === "object"
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== null)
            .map(([k, x]) => [k, dropNulls(x)])
        )
      : v

const normalize = (body: Json): Json => dropNulls(normalizeBody(body))

const normalizeBody = (body: Json): Json => ({
  system:
    body.system === undefined || typeof body.system === "string"
      ? body.system
      : (body.system as Array<Json>).map((b) => b.text).join("\n\n"),
  // pydantic-ai sometimes sends two user messages in a row (after an empty response); we merge
  // consecutive same-role messages as the API does, so compare merged.
  messages: (body.messages as Array<Json>).reduce((acc: Array<Json>, m) => {
    const content = (
      typeof m.content === "string" ? [{ type: "text", text: m.content }] : m.content
    ).map(normalizeBlock)
    const last = acc[acc.length - 1]
    if (last !== undefined && last.role === m.role) last.content = [...last.content, ...content]
    else acc.push({ role: m.role, content })
    return acc
  }, []),
  stream: body.stream ?? false,
  max_tokens: body.max_tokens,
  // As a set: pydantic-ai appends tools loaded mid-run after its built-in tools.
  tools: [...(body.tools ?? [])].sort((a: Json, b: Json) =>
    canonical(a) < canonical(b) ? -1 : canonical(a) > canonical(b) ? 1 : 0
  ),
  tool_choice:
    body.tools && body.tools.length > 0 ? (body.tool_choice ?? { type: "auto" }) : undefined,
  output_config: body.output_config,
  thinking: body.thinking,
  mcp_servers: body.mcp_servers,
  cache_control: body.cache_control,
  context_management: body.context_management,
  container: body.container
})

// ---------------------------------------------------------------------------
// Expectations from the recorded response
// ---------------------------------------------------------------------------

/** Folds a recorded SSE body into the message it describes (independently of the provider code). */
const messageFromSse = (sse: string): Json => {
  let message: Json = {}
  const blocks: Array<Json> = []
  for (const line of sse.split(/\r?\n/)) {
    if (!line.startsWith("data:")) continue
    const d = JSON.parse(line.slice(5))
    if (d.type === "message_start") message = { ...d.message, usage: { ...d.message.usage } }
    else if (d.type === "content_block_start") blocks[d.index] = { ...d.content_block, _json: "" }
    else if (d.type === "content_block_delta") {
      const b = blocks[d.index]!
      if (d.delta.type === "text_delta") b.text += d.delta.text
      if (d.delta.type === "thinking_delta") b.thinking += d.delta.thinking
      if (d.delta.type === "signature_delta") b.signature = (b.signature ?? "") + d.delta.signature
      if (d.delta.type === "input_json_delta") b._json += d.delta.partial_json
      if (d.delta.type === "compaction_delta") b.content = (b.content ?? "") + d.delta.content
    } else if (d.type === "message_delta") {
      message.stop_reason = d.delta.stop_reason
      if (d.delta.container != null) message.container = d.delta.container
      for (const [k, v] of Object.entries(d.usage ?? {}))
        if (typeof v === "number" || k === "server_tool_use") message.usage[k] = v
    }
  }
  message.content = blocks.map((b) =>
    (b.type === "tool_use" || b.type === "server_tool_use" || b.type === "mcp_tool_use") &&
    b._json !== ""
      ? { ...b, input: JSON.parse(b._json) }
      : b
  )
  return message
}

const checkResponse = (response: Messages.ModelResponse, r: Json) => {
  const content: Array<Json> = r.content ?? []
  assert.strictEqual(
    response.text,
    content
      .filter((b) => b.type === "text")
      .map((b) => b.text)
      .join("")
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => ({
      name: c.toolName,
      id: c.toolCallId,
      input: c.argsAsObject()
    })),
    content
      .filter((b) => b.type === "tool_use")
      .map((b) => ({ name: b.name, id: b.id, input: b.input }))
  )
  assert.deepStrictEqual(
    response.thinking.map((t) => ({
      content: t.content,
      signature: t.signature,
      redacted: t.redacted ?? false
    })),
    content
      .filter((b) => b.type === "thinking" || b.type === "redacted_thinking")
      .map((b) =>
        b.type === "thinking"
          ? { content: b.thinking, signature: b.signature, redacted: false }
          : { content: "", signature: b.data, redacted: true }
      )
  )
  // Built-in tool calls and results: every field, in order.
  assert.deepStrictEqual(
    response.builtinToolParts.map((p) =>
      p._tag === "BuiltinToolCallPart"
        ? { id: p.toolCallId, name: p.toolName, input: p.argsAsObject(), provider: p.providerName }
        : { id: p.toolCallId, name: p.toolName, content: p.content, provider: p.providerName }
    ),
    content
      .filter(
        (b) =>
          b.type === "server_tool_use" ||
          b.type === "mcp_tool_use" ||
          (typeof b.type === "string" && b.type.endsWith("_tool_result"))
      )
      .map((b) =>
        b.type.endsWith("_tool_result")
          ? {
              id: b.tool_use_id,
              name: b.type.replace(/_tool_result$/, ""),
              content: b.content,
              provider: "anthropic"
            }
          : { id: b.id, name: b.name, input: b.input, provider: "anthropic" }
      )
  )
  // Compaction blocks: their summary, in order, from Anthropic.
  assert.deepStrictEqual(
    response.parts
      .filter((p) => p._tag === "CompactionPart")
      .map((p) => ({ content: p.content, provider: p.providerName })),
    content
      .filter((b) => b.type === "compaction")
      .map((b) => ({ content: b.content, provider: "anthropic" }))
  )
  const u = r.usage ?? {}
  const serverTools = Object.fromEntries(
    Object.entries(u.server_tool_use ?? {}).filter(([, v]) => typeof v === "number" && v !== 0)
  )
  // With compaction iterations the billed usage is the sum over all iterations (the top level
  // leaves compaction out); the compaction's own share is in the details.
  const iterations: Array<Json> = u.iterations ?? []
  const compactions = iterations.filter((i) => i.type === "compaction")
  const total = (k: string): number =>
    compactions.length > 0 ? iterations.reduce((n, i) => n + (i[k] ?? 0), 0) : (u[k] ?? 0)
  const ofCompactions = (k: string): number => compactions.reduce((n, i) => n + (i[k] ?? 0), 0)
  const compactionDetails = Object.fromEntries(
    Object.entries({
      compaction_iterations: compactions.length,
      compaction_input_tokens: ofCompactions("input_tokens"),
      compaction_output_tokens: ofCompactions("output_tokens"),
      compaction_cache_read_tokens: ofCompactions("cache_read_input_tokens"),
      compaction_cache_write_tokens: ofCompactions("cache_creation_input_tokens")
    }).filter(([, v]) => v !== 0)
  )
  assert.deepStrictEqual(response.usage.details, { ...serverTools, ...compactionDetails })
  const read = total("cache_read_input_tokens")
  const write = total("cache_creation_input_tokens")
  assert.strictEqual(response.usage.inputTokens, total("input_tokens") + read + write)
  assert.strictEqual(response.usage.cacheReadTokens, read)
  assert.strictEqual(response.usage.cacheWriteTokens, write)
  assert.strictEqual(response.usage.outputTokens, total("output_tokens"))
  assert.strictEqual(response.providerResponseId, r.id)
  assert.strictEqual(response.providerFinishReason, r.stop_reason)
  const finish: Record<string, string> = {
    end_turn: "stop",
    stop_sequence: "stop",
    max_tokens: "length",
    tool_use: "tool_call",
    refusal: "content_filter"
  }
  if (r.stop_reason in finish) assert.strictEqual(response.finishReason, finish[r.stop_reason])
}

// ---------------------------------------------------------------------------

const modelFor = (baseUrl: string, path: string, modelName: string, options: Anthropic.Options) =>
  Effect.map(HttpClient.HttpClient, (http) =>
    Anthropic.makeWith(
      AnthropicClient.makeWith(http, {
        baseUrl: baseUrl + path.replace(/\/v1\/messages.*$/, ""),
        apiKey: Redacted.make("sk-ant-test"),
        retry: false
      }),
      modelName,
      options
    )
  )

const replayCase = (c: ConformanceCase, rechunkSeed?: number) =>
  replayInteractions(c, rechunkSeed, {
    isOurs,
    fromWire,
    model: (baseUrl, path, body, { options }) => modelFor(baseUrl, path, body.model, options),
    check: (response, it, body, _inputs, received) => {
      const recorded = it.response.sse
        ? messageFromSse(it.response.sse)
        : (it.response.json as Json)
      checkResponse(response, recorded)
      const sent = sentFor(c.id, received, it, (b) => normalize(b).messages)
      assert.strictEqual(sent.headers["anthropic-version"], AnthropicClient.apiVersion)
      assert.strictEqual(sent.headers["x-api-key"], "sk-ant-test")
      // The compaction edit is a beta: its flag goes with it.
      if (body.context_management !== undefined) {
        assert.include(sent.headers["anthropic-beta"] ?? "", "compact-2026-01-12")
      }
      // The container the response ran in is kept (to send back on the next request).
      assert.strictEqual(response.providerDetails?.container_id, recorded.container?.id)
      // Sampling settings, the service tier and the container reach the wire as recorded.
      for (const key of ["temperature", "top_p", "top_k", "service_tier", "container"]) {
        assert.strictEqual((sent.body as Json)[key], body[key], `${c.id}: ${key}`)
      }
    }
  })

describeCases({
  title: "Anthropic conformance",
  provider: PROVIDER,
  skipReason,
  fidelity: (c) => {
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const { messages, parameters, settings, options } = fromWire(body)
      const encoded = Anthropic.encodeRequest(messages, settings, parameters, {
        modelName: body.model,
        stream: body.stream === true,
        ...options
      })
      assert.deepStrictEqual(
        JSON.parse(canonical(normalize(encoded))),
        JSON.parse(canonical(normalize(body)))
      )
    }
  },
  replay: replayCase,
  rechunkSeed: 11
})
