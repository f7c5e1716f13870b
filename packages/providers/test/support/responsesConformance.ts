/**
 * The Responses API conformance harness, for OpenAI's folder and for the Responses
 * interactions recorded under gateway vendors (DeepSeek, OpenRouter), against pydantic-ai's
 * recorded traffic:
 * - request fidelity: each recorded request body is converted back into agentfx messages,
 *   tools and settings, re-encoded by `encodeRequest`, and compared structurally (input,
 *   instructions, tools, tool_choice, text.format, stream);
 * - response decoding: every recorded exchange is replayed from a loopback server through the
 *   real model (`request` / `requestStream`, SSE verbatim and re-chunked), and the decoded
 *   response is checked against the recorded body; recorded 4xx → `ModelHTTPError`.
 *
 * Documented differences we normalize away: `status` on replayed items, `description: null` vs
 * `""`. Tools keep their `strict` flag: recorded tools carry no hint, so the flag must come out
 * of agentfx's own strict-compatibility check, as pydantic-ai's did.
 */
import { BuiltinTool, Messages, Model, Tool, Toolset } from "@agentfx/core"
import { assert } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiResponses from "../../src/OpenAiResponses.js"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import {
  checkRecordedError,
  describeCases,
  exchange,
  replayInteractions,
  sentFor,
  skipReasonOf,
  successOf
} from "./conformance.js"
import { type ConformanceCase, type Interaction, replayServer } from "./replay.js"

/** Cases using features out of scope, matched by substring of the id, with the reason. */
const SKIPS: ReadonlyArray<readonly [string, string]> = [
  [
    "native_tool_search_with_deferred_capability",
    "tools of a pydantic-ai capability (announced by additional_tools only, never in tools nor searchable) are not modelled"
  ],
  [
    "test_native_tool_search_vcr",
    "tool namespaces (`namespace` tools grouping function tools) are not modelled"
  ],
  ["count_tokens", "a count request only: replayed by CountTokens.test.ts"],
  [
    "usage_limit_not_exceeded",
    "a count request, then the generation, through an agent run with UsageLimits.countTokensBeforeRequest: replayed by CountTokens.test.ts"
  ],
  ["test_gateway", "pydantic gateway routing is out of scope"]
]

/** The Responses calls of a folder's cases (the vendor's own, not other providers' traffic). */
const isOursIn = (folder: string) => (it: Interaction) =>
  it.endpoint === "responses" && it.request.method === "POST" && it.provider === folder

// ---------------------------------------------------------------------------
// Recorded wire body → agentfx inputs
// ---------------------------------------------------------------------------

type Json = Record<string, any>

/** A content item, and a `CachePoint` after it when it carries an explicit cache breakpoint. */
const userItems = (c: Json): Array<Messages.UserContent> =>
  c.prompt_cache_breakpoint !== undefined ? [userItem(c), new Messages.CachePoint()] : [userItem(c)]

const userItem = (c: Json): Messages.UserContent => {
  switch (c.type) {
    case "input_text":
      return c.text
    case "input_image": {
      // A detail other than the default is the file's vendor metadata.
      const vendor =
        c.detail !== undefined && c.detail !== "auto"
          ? { vendorMetadata: { detail: c.detail } }
          : {}
      if (c.file_id !== undefined) {
        return new Messages.UploadedFile({
          fileId: c.file_id,
          providerName: "openai",
          mediaType: "image/png",
          ...vendor
        })
      }
      return c.image_url.startsWith("data:")
        ? new Messages.BinaryContent({ ...binary(c.image_url), ...vendor })
        : new Messages.ImageUrl({ url: c.image_url, ...vendor })
    }
    case "input_file":
      if (c.file_id !== undefined) {
        return new Messages.UploadedFile({
          fileId: c.file_id,
          providerName: "openai",
          mediaType: "application/pdf"
        })
      }
      if (c.file_data) return binary(c.file_data, c.filename)
      return new Messages.DocumentUrl({ url: c.file_url })
  }
  throw new Error(`unsupported user content ${c.type}`)
}

/** A tool output item: file URLs are told apart by extension (audio / video / document). */
const toolOutputItem = (c: Json): unknown =>
  c.type === "input_file" && c.file_url !== undefined && /\.(mp3|wav|ogg)$/.test(c.file_url)
    ? new Messages.AudioUrl({ url: c.file_url })
    : c.type === "input_file" && c.file_url !== undefined && /\.(mp4|mov|webm)$/.test(c.file_url)
      ? new Messages.VideoUrl({ url: c.file_url })
      : userItem(c)

const binary = (dataUrl: string, identifier?: string): Messages.BinaryContent => {
  const m = /^data:([^;]+);base64,(.*)$/s.exec(dataUrl)!
  return new Messages.BinaryContent({
    data: new Uint8Array(Buffer.from(m[2]!, "base64")),
    mediaType: m[1]!,
    ...(identifier !== undefined ? { identifier } : {})
  })
}

/** The result fields of built-in tool items (as `OpenAiResponses.decodeBuiltinItem` splits them). */
const BUILTIN_RESULTS: Record<string, ReadonlyArray<string>> = {
  code_interpreter_call: ["outputs"],
  file_search_call: ["results"],
  image_generation_call: ["result", "revised_prompt"],
  mcp_call: ["output", "error"],
  mcp_list_tools: ["tools", "error"]
}

const extraBodyKeys = ["moderation", "prompt_cache_key", "prompt_cache_options"]

/** Decodes a recorded request body into what the agent would have passed to the model. */
const fromWire = (body: Json) => {
  const messages: Array<Messages.ModelMessage> = []
  let requestParts: Array<Messages.ModelRequestPart> = []
  let responseParts: Array<Messages.ModelResponsePart> = []
  const toolNames = new Map<string, string>()
  const flushRequest = () => {
    if (requestParts.length > 0) messages.push(new Messages.ModelRequest({ parts: requestParts }))
    requestParts = []
  }
  const flushResponse = () => {
    if (responseParts.length > 0)
      messages.push(new Messages.ModelResponse({ parts: responseParts }))
    responseParts = []
  }
  const input: Array<Json> =
    typeof body.input === "string" ? [{ role: "user", content: body.input }] : body.input
  // Tools made available mid-conversation (`additional_tools`): deferred tools of the request.
  const additional: Array<Json> = []
  let lastSearch: string | undefined
  for (const item of input) {
    const builtin = typeof item.type === "string" && OpenAiResponses.isBuiltinItem(item)
    const isResponse =
      item.role === "assistant" ||
      builtin ||
      ["message", "reasoning", "function_call", "tool_search_call", "compaction"].includes(
        item.type
      ) ||
      (item.type === "tool_search_output" && item.execution !== "client")
    if (isResponse) flushRequest()
    else flushResponse()
    if (item.type === "tool_search_call" && item.execution === "client") {
      // The agent's own search (client-executed): a call of its search tool.
      const { type, id, call_id, arguments: args, ...rest } = item
      toolNames.set(call_id, Toolset.toolSearchName)
      responseParts.push(
        new Messages.ToolCallPart({
          toolName: Toolset.toolSearchName,
          args,
          toolCallId: call_id,
          ...(id !== undefined ? { id } : {}),
          providerName: "openai",
          providerDetails: { type, ...rest }
        })
      )
    } else if (item.type === "tool_search_call") {
      const { arguments: args, ...rest } = item
      lastSearch = item.id ?? item.call_id
      responseParts.push(
        new Messages.BuiltinToolCallPart({
          toolName: "tool_search",
          args,
          toolCallId: lastSearch!,
          providerName: "openai",
          providerDetails: rest
        })
      )
    } else if (item.type === "tool_search_output" && item.execution === "client") {
      requestParts.push(
        new Messages.ToolReturnPart({
          toolName: toolNames.get(item.call_id) ?? "tool",
          toolCallId: item.call_id,
          content: item.tools.map((t: Json) => new Messages.ToolReference({ toolName: t.name }))
        })
      )
    } else if (item.type === "tool_search_output") {
      const { tools, ...rest } = item
      responseParts.push(
        new Messages.BuiltinToolReturnPart({
          toolName: "tool_search",
          content: { tools },
          toolCallId: item.call_id ?? lastSearch,
          providerName: "openai",
          providerDetails: rest
        })
      )
    } else if (item.type === "additional_tools") {
      additional.push(...item.tools)
      requestParts.push(
        new Messages.ToolAvailabilityDeltaPart({ added: item.tools.map((t: Json) => t.name) })
      )
    } else if (builtin) {
      // A built-in tool's item: its input fields on the call, its results on the return.
      const { type, id, status, ...fields } = item
      const results = BUILTIN_RESULTS[type] ?? []
      const args = Object.fromEntries(Object.entries(fields).filter(([k]) => !results.includes(k)))
      const content = Object.fromEntries([
        ...(status !== undefined ? [["status", status]] : []),
        ...Object.entries(fields).filter(([k]) => results.includes(k))
      ])
      const toolName = type.replace(/_call$/, "")
      responseParts.push(
        new Messages.BuiltinToolCallPart({
          toolName,
          args,
          toolCallId: id,
          providerName: "openai"
        }),
        new Messages.BuiltinToolReturnPart({
          toolName,
          content,
          toolCallId: id,
          providerName: "openai"
        })
      )
    } else if (item.type === "compaction") {
      responseParts.push(
        new Messages.CompactionPart({
          encryptedContent: item.encrypted_content,
          id: item.id,
          providerName: "openai"
        })
      )
    } else if (item.type === "function_call") {
      toolNames.set(item.call_id, item.name)
      responseParts.push(
        new Messages.ToolCallPart({
          toolName: item.name,
          args: item.arguments,
          toolCallId: item.call_id,
          ...(item.id ? { id: item.id } : {}),
          providerName: "openai",
          ...(item.namespace !== undefined
            ? { providerDetails: { namespace: item.namespace } }
            : {})
        })
      )
    } else if (item.type === "reasoning") {
      const raw: Array<Json> = (item.content ?? []).filter((c: Json) => c.type === "reasoning_text")
      // Summaries, then raw reasoning (`reasoning_text`), as agentfx decodes them.
      const summary: Array<Json> = [
        ...(item.summary ?? []),
        ...raw.map((c) => ({ text: c.text, raw: true }))
      ]
      const base = { id: item.id, providerName: "openai" }
      if (summary.length === 0) {
        responseParts.push(
          new Messages.ThinkingPart({
            content: "",
            ...base,
            ...(item.encrypted_content ? { signature: item.encrypted_content } : {})
          })
        )
      }
      summary.forEach((s, i) =>
        responseParts.push(
          new Messages.ThinkingPart({
            content: s.text,
            ...base,
            ...(i === 0 && item.encrypted_content ? { signature: item.encrypted_content } : {}),
            ...(s.raw ? { providerDetails: { reasoning_text: true } } : {})
          })
        )
      )
    } else if (item.type === "message") {
      for (const c of item.content)
        responseParts.push(
          new Messages.TextPart({
            content: c.text,
            id: item.id,
            ...(item.phase !== undefined || c.annotations?.length > 0
              ? {
                  providerDetails: {
                    ...(item.phase !== undefined ? { phase: item.phase } : {}),
                    ...(c.annotations?.length > 0 ? { annotations: c.annotations } : {})
                  }
                }
              : {})
          })
        )
    } else if (item.role === "assistant") {
      responseParts.push(new Messages.TextPart({ content: item.content }))
    } else if (item.type === "function_call_output") {
      requestParts.push(
        new Messages.ToolReturnPart({
          toolName: toolNames.get(item.call_id) ?? "tool",
          toolCallId: item.call_id,
          // A list output carries files: text items stay strings, the rest become files.
          content: Array.isArray(item.output) ? item.output.map(toolOutputItem) : item.output
        })
      )
    } else if (item.role === "system" || item.role === "developer") {
      requestParts.push(new Messages.SystemPromptPart({ content: item.content }))
    } else if (item.role === "user") {
      requestParts.push(
        new Messages.UserPromptPart({
          content: typeof item.content === "string" ? item.content : item.content.flatMap(userItems)
        })
      )
    } else {
      throw new Error(`unsupported input item ${JSON.stringify(item).slice(0, 100)}`)
    }
  }
  flushResponse()
  if (requestParts.length > 0 || body.instructions !== undefined) {
    messages.push(
      new Messages.ModelRequest({
        parts: requestParts,
        ...(typeof body.instructions === "string" ? { instructions: body.instructions } : {})
      })
    )
  }
  requestParts = []

  const builtinTools: Array<BuiltinTool.BuiltinTool> = []
  for (const t of body.tools ?? []) {
    if (t.type === "web_search") {
      builtinTools.push(
        new BuiltinTool.WebSearch({
          ...(t.search_context_size ? { searchContextSize: t.search_context_size } : {}),
          ...(t.user_location
            ? {
                userLocation: new BuiltinTool.UserLocation(
                  Object.fromEntries(
                    Object.entries(t.user_location).filter(([k]) => k !== "type")
                  ) as any
                )
              }
            : {}),
          ...(t.filters?.allowed_domains ? { allowedDomains: t.filters.allowed_domains } : {}),
          ...(t.external_web_access !== undefined
            ? { externalWebAccess: t.external_web_access }
            : {})
        })
      )
    } else if (t.type === "tool_search" && t.execution === undefined)
      builtinTools.push(new BuiltinTool.ToolSearch())
    else if (t.type === "tool_search")
      continue // the agent's own search: a function tool
    else if (t.type === "code_interpreter") builtinTools.push(new BuiltinTool.CodeExecution())
    else if (t.type === "file_search")
      builtinTools.push(new BuiltinTool.FileSearch({ fileStoreIds: t.vector_store_ids }))
    else if (t.type !== "function") throw new Error(`unsupported tool type ${t.type}`)
  }
  const tools: Array<Tool.ToolDefinition> = (body.tools ?? [])
    .filter((t: Json) => t.type === "function" || (t.type === "tool_search" && t.execution))
    .map((t: Json) =>
      t.type === "tool_search"
        ? new Tool.ToolDefinition({
            name: Toolset.toolSearchName,
            description: t.description,
            parametersJsonSchema: t.parameters,
            toolSearch: true
          })
        : new Tool.ToolDefinition({
            name: t.name,
            ...(t.description ? { description: t.description } : {}),
            parametersJsonSchema: t.parameters,
            ...(t.defer_loading === true ? { deferLoading: true } : {})
          })
    )
  // Tools made available mid-conversation and not in `tools`: deferred tools of the agent.
  for (const t of additional) {
    if (tools.some((d) => d.name === t.name)) continue
    tools.push(
      new Tool.ToolDefinition({
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        parametersJsonSchema: t.parameters,
        deferLoading: true
      })
    )
  }
  const choice = body.tool_choice
  let toolChoice: any
  let allowTextOutput = true
  if (choice === "required") allowTextOutput = false
  else if (choice === "none") toolChoice = "none"
  else if (choice?.type === "function") toolChoice = [choice.name]
  else if (choice?.type === "allowed_tools") {
    toolChoice = choice.tools.map((t: Json) => t.name)
    allowTextOutput = choice.mode !== "required"
  }
  const format = body.text?.format
  const parameters = new Model.ModelRequestParameters({
    functionTools: tools,
    builtinTools,
    allowTextOutput,
    ...(format?.type === "json_schema"
      ? {
          outputMode: "native" as const,
          outputObject: new Model.OutputObjectDefinition({
            jsonSchema: format.schema,
            name: format.name,
            strict: format.strict ?? true,
            ...(format.description ? { description: format.description } : {})
          })
        }
      : format?.type === "json_object"
        ? { outputMode: "prompted" as const }
        : {})
  })
  // Responses-only request fields have no portable setting: they travel in extraBody.
  const extraBody: Record<string, unknown> = {}
  for (const key of extraBodyKeys) if (body[key] !== undefined) extraBody[key] = body[key]
  if (
    Array.isArray(body.include) &&
    body.include.some(
      (i: string) => i !== "reasoning.encrypted_content" && i !== "code_interpreter_call.outputs"
    )
  ) {
    extraBody.include = body.include
  }
  // A chained request (or one in a server-side conversation): the history holds an earlier
  // turn ending in the stored response (of that conversation), which must not be sent again.
  const earlierTurn = (fields: Partial<Messages.ModelResponse>) =>
    messages.unshift(
      Messages.userPrompt("an earlier turn, stored on OpenAI's side"),
      new Messages.ModelResponse({
        parts: [new Messages.TextPart({ content: "an earlier answer" })],
        providerName: "openai",
        ...fields
      })
    )
  if (typeof body.previous_response_id === "string")
    earlierTurn({ providerResponseId: body.previous_response_id })
  if (typeof body.conversation === "string")
    earlierTurn({ providerDetails: { conversation_id: body.conversation } })
  const settings: OpenAiResponses.Settings = {
    ...(typeof body.conversation === "string" ? { openaiConversationId: body.conversation } : {}),
    ...(toolChoice === undefined ? {} : { toolChoice }),
    ...(body.service_tier !== undefined ? { serviceTier: body.service_tier } : {}),
    ...(Object.keys(extraBody).length > 0 ? { extraBody } : {}),
    ...(typeof body.previous_response_id === "string" ? { openaiPreviousResponseId: "auto" } : {}),
    ...(body.background === true ? { openaiBackground: true } : {})
  }
  return { messages, parameters, settings }
}

const normalizeItem = (item: Json): Json => {
  const { status: _s, ...rest } = item
  // `encrypted_content: null` equals its absence.
  if (rest.type === "reasoning" && rest.encrypted_content === null) delete rest.encrypted_content
  if (rest.type === "message") {
    // Annotations (citations) go back with the text they point into.
    const annotations = rest.content.flatMap((c: Json) => c.annotations ?? [])
    return {
      role: "assistant",
      content: rest.content.map((c: Json) => c.text).join(""),
      ...(rest.phase !== undefined ? { phase: rest.phase } : {}),
      ...(annotations.length > 0 ? { annotations } : {})
    }
  }
  if (rest.role === "developer") return { ...rest, role: "system" }
  return rest
}

const normalize = (body: Json): Json => ({
  input: (typeof body.input === "string"
    ? [{ role: "user", content: body.input }]
    : body.input
  ).map(normalizeItem),
  instructions: body.instructions,
  previous_response_id: body.previous_response_id ?? undefined,
  conversation: body.conversation,
  stream: body.stream ?? false,
  tools: (body.tools ?? []).map((t: Json) =>
    t.type === "function"
      ? {
          type: t.type,
          name: t.name,
          description: t.description ?? "",
          parameters: t.parameters,
          strict: t.strict ?? false,
          ...(t.defer_loading === true ? { defer_loading: true } : {})
        }
      : t
  ),
  // `include` beyond encrypted reasoning (which pydantic-ai left out for some reasoning models).
  include: (body.include ?? []).filter((i: string) => i !== "reasoning.encrypted_content"),
  tool_choice: body.tools && body.tools.length > 0 ? (body.tool_choice ?? "auto") : undefined,
  text: body.text?.format?.type === "text" ? undefined : body.text?.format,
  service_tier: body.service_tier
})

// ---------------------------------------------------------------------------
// Expectations from the recorded response
// ---------------------------------------------------------------------------

const expected = (r: Json) => {
  const output: Array<Json> = r.output ?? []
  let text = ""
  const calls: Array<{ name: string; id: string; args: string }> = []
  // Each output text (and refusal) is a text part: its content and annotations.
  const texts: Array<Json> = []
  let signatures = 0
  let thinking = ""
  for (const item of output) {
    if (item.type === "reasoning") {
      for (const s of item.summary ?? []) thinking += s.text ?? ""
      for (const c of item.content ?? []) if (c.type === "reasoning_text") thinking += c.text
    }
    if (item.type === "message")
      for (const c of item.content) {
        if (c.type === "output_text") text += c.text
        if (c.type === "output_text" || c.type === "refusal")
          texts.push({
            content: c.text ?? c.refusal,
            id: item.id,
            annotations: c.annotations ?? []
          })
      }
    if (item.type === "function_call")
      calls.push({ name: item.name, id: item.call_id, args: item.arguments })
    // A client-executed tool search is a call of the agent's search tool.
    if (item.type === "tool_search_call" && item.execution === "client")
      calls.push({
        name: Toolset.toolSearchName,
        id: item.call_id,
        args: JSON.stringify(item.arguments)
      })
    if (item.type === "reasoning" && item.encrypted_content) signatures++
  }
  // Built-in tool items: the call (input fields) then the return (status + result fields).
  const builtin: Array<Json> = []
  let lastSearch: string | undefined
  for (const item of output) {
    // The provider's tool search: the call (its arguments), then the output (the tools found).
    if (item.type === "tool_search_call" && item.execution !== "client") {
      lastSearch = item.id
      builtin.push({ kind: "call", id: item.id, name: "tool_search", args: item.arguments })
    }
    if (item.type === "tool_search_output") {
      builtin.push({
        kind: "return",
        id: item.call_id ?? lastSearch,
        name: "tool_search",
        content: { tools: item.tools }
      })
    }
    if (!OpenAiResponses.isBuiltinItem(item)) continue
    const { type, id, status, ...fields } = item
    const results = BUILTIN_RESULTS[type] ?? []
    const name = type.replace(/_call$/, "")
    builtin.push({
      kind: "call",
      id,
      name,
      args: Object.fromEntries(Object.entries(fields).filter(([k]) => !results.includes(k)))
    })
    builtin.push({
      kind: "return",
      id,
      name,
      content: Object.fromEntries([
        ["status", status],
        ...Object.entries(fields).filter(([k]) => results.includes(k))
      ])
    })
  }
  return {
    text,
    texts,
    calls,
    builtin,
    // Message phases (`commentary`, `final_answer`) and function call namespaces, in order.
    phases: output.filter((i) => i.type === "message").flatMap((i) => i.content.map(() => i.phase)),
    namespaces: output
      .filter(
        (i) =>
          i.type === "function_call" || (i.type === "tool_search_call" && i.execution === "client")
      )
      .map((i) => i.namespace),
    signatures,
    thinking,
    inputTokens: r.usage?.input_tokens ?? 0,
    outputTokens: r.usage?.output_tokens ?? 0,
    cached: r.usage?.input_tokens_details?.cached_tokens ?? 0,
    cacheWrite: r.usage?.input_tokens_details?.cache_write_tokens ?? 0,
    reasoningTokens: r.usage?.output_tokens_details?.reasoning_tokens ?? 0,
    id: r.id
  }
}

const completedFromSse = (sse: string): Json | undefined => {
  for (const line of sse.split("\n")) {
    if (!line.startsWith("data:")) continue
    const data = JSON.parse(line.slice(5))
    if (data.type === "response.completed") return data.response
  }
  return undefined
}

/** The `providerDetails` a decoded response carries: its conversation, the background marker. */
const expectedDetails = (r: Json): Json | undefined => {
  const details = {
    ...(r.conversation?.id !== undefined ? { conversation_id: r.conversation.id } : {}),
    ...(r.background === true ? { background: true } : {})
  }
  return Object.keys(details).length > 0 ? details : undefined
}

const checkResponse = (response: Messages.ModelResponse, r: Json) => {
  const e = expected(r)
  assert.strictEqual(response.text, e.text)
  assert.deepStrictEqual(
    response.parts
      .filter((p) => p._tag === "TextPart")
      .map((p) => ({
        content: p.content,
        id: p.id,
        annotations: OpenAiResponses.annotationsOf(p)
      })),
    e.texts,
    "text parts and their annotations"
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => ({ name: c.toolName, id: c.toolCallId, args: c.argsAsJson() })),
    e.calls
  )
  assert.deepStrictEqual(
    response.builtinToolParts.map((p) =>
      p._tag === "BuiltinToolCallPart"
        ? { kind: "call", id: p.toolCallId, name: p.toolName, args: p.argsAsObject() }
        : { kind: "return", id: p.toolCallId, name: p.toolName, content: p.content }
    ),
    e.builtin,
    "built-in tool parts"
  )
  assert.isTrue(response.builtinToolParts.every((p) => p.providerName === "openai"))
  assert.deepStrictEqual(
    response.parts.filter((p) => p._tag === "TextPart").map((p) => p.providerDetails?.phase),
    e.phases,
    "message phases"
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => c.providerDetails?.namespace),
    e.namespaces,
    "function call namespaces"
  )
  assert.strictEqual(
    response.thinking.filter((t) => t.signature !== undefined).length,
    e.signatures
  )
  assert.strictEqual(response.thinking.map((t) => t.content).join(""), e.thinking, "thinking")
  assert.strictEqual(response.usage.inputTokens, e.inputTokens)
  assert.strictEqual(response.usage.outputTokens, e.outputTokens)
  assert.strictEqual(response.usage.cacheReadTokens, e.cached)
  assert.strictEqual(response.usage.cacheWriteTokens, e.cacheWrite, "cache writes")
  assert.strictEqual(response.usage.details.reasoning_tokens ?? 0, e.reasoningTokens, "reasoning")
  assert.strictEqual(response.providerResponseId, e.id)
  assert.deepStrictEqual(
    response.providerDetails,
    expectedDetails(r),
    "the response's conversation and background marker"
  )
  assert.strictEqual(response.providerName, "openai")
  assert.strictEqual(
    response.finishReason,
    e.calls.length > 0 ? "tool_call" : r.status === "completed" ? "stop" : response.finishReason
  )
}

// ---------------------------------------------------------------------------

const modelFor = (baseUrl: string, path: string, modelName: string) =>
  Effect.map(HttpClient.HttpClient, (http) =>
    OpenAiResponses.makeWith(
      OpenAiClient.makeWith(http, {
        baseUrl: baseUrl + path.replace(/\/responses$/, ""),
        apiKey: Redacted.make("sk-test"),
        retry: false
      }),
      modelName
    )
  )

/** Builds the model of a replayed interaction (server base URL, recorded path, model name). */
export type ModelFor = (
  baseUrl: string,
  path: string,
  modelName: string
) => Effect.Effect<Model.Service, never, HttpClient.HttpClient>

const replayCase = (
  isOurs: (it: Interaction) => boolean,
  c: ConformanceCase,
  rechunkSeed: number | undefined,
  model: ModelFor
) =>
  replayInteractions(c, rechunkSeed, {
    isOurs,
    fromWire,
    model: (baseUrl, path, body) => model(baseUrl, path, body.model),
    check: (response, it, body, { settings }, received) => {
      const recorded = it.response.sse
        ? completedFromSse(it.response.sse)
        : (it.response.json as Json)
      assert.isDefined(recorded)
      checkResponse(response, recorded!)
      // The request we sent carries the same conversation.
      const sent = sentFor(c.id, received, it, (b) => [
        normalize(b).input,
        b.previous_response_id ?? null,
        b.conversation ?? null
      ])
      // Responses-only fields given through extraBody reach the wire as recorded.
      const extra: Record<string, unknown> =
        (settings as { extraBody?: Record<string, unknown> }).extraBody ?? {}
      for (const key of Object.keys(extra)) {
        assert.deepStrictEqual((sent.body as Json)[key], body[key], `${c.id}: ${key}`)
      }
      // The service tier setting reaches the wire as recorded.
      assert.strictEqual(
        (sent.body as Json).service_tier,
        body.service_tier,
        `${c.id}: service_tier`
      )
    }
  })

// ---------------------------------------------------------------------------
// Background jobs: polled, streamed and resumed, continued from the history
// ---------------------------------------------------------------------------

/** The events of an SSE body (split at blank lines), without empty ones. */
const sseEvents = (sse: string): Array<string> =>
  sse.split(/\r?\n\r?\n/).filter((e) => e.trim() !== "")

const sequenceOf = (event: string): number | undefined => {
  const m = /"sequence_number":\s*(\d+)/.exec(event)
  return m === null ? undefined : Number(m[1])
}

/** The SSE body cut after the event numbered `n`: the connection dropped there. */
const cutAfter = (sse: string, n: number): string => {
  const kept: Array<string> = []
  for (const e of sseEvents(sse)) {
    kept.push(e)
    if (sequenceOf(e) === n) break
  }
  return `${kept.join("\n\n")}\n\n`
}

/** The job id a recorded background POST answered with (JSON, or the first SSE event). */
const jobIdOf = (post: Interaction): string => {
  if (post.response.sse) {
    const first = sseEvents(post.response.sse)[0]!
    return JSON.parse(first.slice(first.indexOf("data:") + 5)).response.id
  }
  return (post.response.json as Json).id
}

/** A recorded retrieve: streamed from a cursor (`starting_after`), or whole (`stream=false`). */
const cursorOf = (it: Interaction): number | undefined => {
  const q = new URLSearchParams(it.request.path.split("?")[1] ?? "")
  return q.get("stream") === "true" ? Number(q.get("starting_after") ?? "0") : undefined
}

/**
 * The final response a run of recorded exchanges ends with: the `response.completed` (or
 * `incomplete`) of the last streamed body, or the last retrieved JSON; `undefined` when the job
 * was still pending there.
 */
const recordedEnd = (it: Interaction): Json | undefined => {
  if (it.response.sse) return completedFromSse(it.response.sse)
  const r = it.response.json as Json
  return ["queued", "in_progress"].includes(r.status) ? undefined : r
}

/** Whole retrieves (no cursor) of a job that ended at the last one: one request polls them all. */
const polledToEnd = (retrieves: ReadonlyArray<Interaction>): boolean =>
  retrieves.length > 0 &&
  retrieves.every((r) => cursorOf(r) === undefined) &&
  recordedEnd(retrieves.at(-1)!) !== undefined

/**
 * Replays a case of background jobs as pydantic-ai ran it. Per job (a recorded POST and the
 * retrieves of its id, in order):
 * - a streamed POST: the streamed retrieves right after it (`starting_after=N`) are the resumed
 *   connections of ONE `requestStream`: each earlier body is cut after event N (the drop), and
 *   the model must reconnect from its cursor on its own, exactly as often as recorded;
 * - a JSON POST: one `request` polling every recorded retrieve when the job ended there, else
 *   not waiting (`openaiBackgroundMaxPolls: 0`): it comes back `incomplete`;
 * - the retrieves left are continuations of the job from the history (its response, with no
 *   cursor for a `stream=false` retrieve, as its last message), through `requestStream`.
 * Each exchange's response is checked against the recorded end (a pending job: `incomplete`,
 * the job's id and background marker), and the requests sent must be the recorded ones.
 */
const replayBackgroundCase = (
  c: ConformanceCase,
  rechunkSeed: number | undefined,
  model: ModelFor,
  isOurs: (it: Interaction) => boolean
) =>
  Effect.gen(function* () {
    const posts = c.interactions.filter(isOurs)
    // The bodies the server sends: streamed ones cut where the recorded client resumed.
    const cut = new Map<Interaction, string>()
    const plans = posts.map((post) => {
      const id = jobIdOf(post)
      const retrieves = c.interactions.filter(
        (i) => i.endpoint === "responses.retrieve" && i.request.path.includes(`/responses/${id}?`)
      )
      return { post, id, retrieves }
    })
    /** The streamed retrieves continuing `from` (index into retrieves) as resumed connections. */
    const resumesAfter = (
      previous: Interaction,
      retrieves: ReadonlyArray<Interaction>,
      from: number
    ): number => {
      let k = from
      let body = previous
      while (k < retrieves.length && cursorOf(retrieves[k]!) !== undefined) {
        cut.set(body, cutAfter(cut.get(body) ?? body.response.sse!, cursorOf(retrieves[k]!)!))
        body = retrieves[k]!
        k++
      }
      return k - from
    }
    // Plan the cuts first (the server is built from the cut case).
    const steps = plans.map(({ post, id, retrieves }) => {
      const body = post.request.body as Json
      const exchanges: Array<{
        readonly kind: "post" | "continue"
        readonly stream: boolean
        readonly cursor: number | undefined
        readonly resumes: number
        readonly maxPolls: number | undefined
        readonly end: Interaction
      }> = []
      /**
       * Whole retrieves from `rest`: one exchange polling them all when the job ended there,
       * else not waiting (`pending` is then the recorded end); the retrieves it consumes.
       */
      const whole = (
        kind: "post" | "continue",
        stream: boolean,
        rest: ReadonlyArray<Interaction>,
        pending: Interaction
      ): number => {
        const all = polledToEnd(rest)
        exchanges.push({
          kind,
          stream,
          cursor: undefined,
          resumes: 0,
          maxPolls: all ? undefined : 0,
          end: all ? rest.at(-1)! : pending
        })
        return all ? rest.length : kind === "post" ? 0 : 1
      }
      let next = 0
      if (body.stream === true) {
        const resumes = resumesAfter(post, retrieves, 0)
        next = resumes
        exchanges.push({
          kind: "post",
          stream: true,
          cursor: undefined,
          resumes,
          maxPolls: undefined,
          end: resumes > 0 ? retrieves[resumes - 1]! : post
        })
      } else {
        next = whole("post", false, retrieves, post)
      }
      while (next < retrieves.length) {
        const first = retrieves[next]!
        const cursor = cursorOf(first)
        if (cursor !== undefined) {
          const resumes = resumesAfter(first, retrieves, next + 1)
          exchanges.push({
            kind: "continue",
            stream: true,
            cursor,
            resumes,
            maxPolls: undefined,
            end: retrieves[next + resumes]!
          })
          next += 1 + resumes
        } else {
          // Whole retrieves: polled to the end when the job ended there, else one at a time.
          next += whole("continue", true, retrieves.slice(next), first)
        }
      }
      return { post, id, exchanges }
    })
    const replayed: ConformanceCase = {
      ...c,
      interactions: c.interactions.map((i) =>
        cut.has(i) ? { ...i, response: { ...i.response, sse: cut.get(i)! } } : i
      )
    }
    const server = yield* replayServer(replayed, rechunkSeed === undefined ? {} : { rechunkSeed })
    for (const { post, id, exchanges } of steps) {
      const body = post.request.body as Json
      const inputs = fromWire(body)
      const m = yield* model(server.baseUrl, post.request.path, body.model)
      for (const x of exchanges) {
        const settings: OpenAiResponses.Settings = {
          ...inputs.settings,
          openaiBackgroundMaxResumes: x.resumes,
          ...(x.maxPolls !== undefined ? { openaiBackgroundMaxPolls: x.maxPolls } : {})
        }
        // A continuation: the job's response so far (its cursor, or none) ends the history.
        const messages =
          x.kind === "post"
            ? inputs.messages
            : [
                ...inputs.messages,
                new Messages.ModelResponse({
                  parts: [],
                  providerName: "openai",
                  providerResponseId: id,
                  state: "incomplete",
                  providerDetails: {
                    background: true,
                    ...(x.cursor !== undefined ? { last_sequence_number: x.cursor } : {})
                  }
                })
              ]
        const exit = yield* exchange(m, messages, settings, inputs.parameters, x.stream)
        if (checkRecordedError(c.id, exit, x.end.response)) continue
        const end = recordedEnd(x.end)
        if (end !== undefined) {
          const response = successOf(c.id, exit)
          checkResponse(response, end)
          assert.strictEqual(response.state, "complete")
          continue
        }
        // Still pending: an incomplete response naming the job, to be continued (a stream
        // that ended there fails with it as its partial response).
        const pending = Exit.isSuccess(exit)
          ? exit.value
          : exit.cause._tag === "Fail" && "partialResponse" in exit.cause.error
            ? exit.cause.error.partialResponse
            : undefined
        assert.isDefined(pending, `${c.id}: a pending job's response`)
        assert.strictEqual(pending!.state, "incomplete", `${c.id}: a pending job`)
        assert.strictEqual(pending!.providerResponseId, id)
        assert.strictEqual(pending!.providerDetails?.background, true)
      }
    }
    // Every recorded exchange of the jobs was made, in order, and no other.
    const ours = c.interactions.filter((i) => isOurs(i) || i.endpoint === "responses.retrieve")
    assert.deepStrictEqual(
      server.received
        .filter((r) => !r.path.endsWith("/cancel"))
        .map((r) => `${r.method} ${r.path}`),
      ours.map((i) => `${i.request.method} ${i.request.path}`),
      `${c.id}: the requests sent`
    )
    assert.strictEqual(server.unused(), c.interactions.length - ours.length)
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

/** Whether a case runs background jobs (a recorded POST with `background: true`). */
const isBackgroundCase = (c: ConformanceCase, isOurs: (it: Interaction) => boolean): boolean =>
  c.interactions.some((i) => isOurs(i) && (i.request.body as Json | null)?.background === true)

/**
 * Registers the Responses conformance tests of a folder (`onlyResponsesCases`: a gateway
 * vendor's folder, where the other cases are Chat's): its own Responses calls, per case
 * skipped with a reason, or checked for request fidelity and replayed (streams re-chunked too).
 */
export const describeResponsesConformance = (
  folder: string,
  minCases: number,
  options: {
    readonly onlyResponsesCases?: boolean
    /** The model under test (default: `OpenAiResponses` on a client at the recorded path). */
    readonly model?: ModelFor
    readonly title?: string
  } = {}
): void => {
  const isOurs = isOursIn(folder)
  describeCases({
    // A gateway vendor's folder: only its cases with a Responses call (the rest are Chat's).
    ...(options.onlyResponsesCases ? { include: (c) => c.interactions.some(isOurs) } : {}),
    title: options.title ?? `${folder} Responses conformance`,
    provider: folder,
    minCases,
    skipReason: skipReasonOf(SKIPS, isOurs, "Responses API"),
    fidelity: (c) => {
      for (const it of c.interactions.filter(isOurs)) {
        const body = it.request.body as Json
        const { messages, parameters, settings } = fromWire(body)
        // extraBody goes over the body last, as the HTTP layer merges it.
        const encoded = {
          ...OpenAiResponses.encodeRequest(messages, settings, parameters, {
            modelName: body.model,
            profile: OpenAiResponses.profileFor(body.model),
            stream: body.stream === true
          }),
          ...(settings as { extraBody?: Record<string, unknown> }).extraBody
        }
        assert.deepStrictEqual(normalize(encoded), normalize(body))
      }
    },
    replay: (c, seed) =>
      isBackgroundCase(c, isOurs)
        ? replayBackgroundCase(c, seed, options.model ?? modelFor, isOurs)
        : replayCase(isOurs, c, seed, options.model ?? modelFor),
    rechunkSeed: 7
  })
}
