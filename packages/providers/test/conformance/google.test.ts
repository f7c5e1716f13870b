/**
 * Replays every recorded Gemini case of `../shared/conformance/cases/google` through the real
 * Google model (HTTP over undici against a loopback replay server):
 *
 * - request fidelity: each recorded request's contents, system instruction, tools, tool config
 *   and generation config are converted back into agentfx messages, settings and request
 *   parameters; the model must send a body structurally equal to the recorded one;
 * - response decoding: text, thinking, tool calls (name, args), signatures, usage and finish
 *   reason must equal what the raw recorded body says; recorded 4xx must become
 *   `ModelHTTPError` with the status and body. Streams are replayed verbatim and re-chunked at
 *   random byte boundaries.
 *
 * Legitimate differences, normalized before comparing:
 * - the Python SDK sends some keys in snake_case (`parameters_json_schema`, `thinking_budget`,
 *   `function_call` on Vertex); the API takes both, we send camelCase;
 * - pydantic-ai re-encodes thought signatures as URL-safe base64; we send back the exact string
 *   Gemini sent (same bytes);
 * - `allowedFunctionNames` naming every declared function is the same as none (older recordings
 *   list them all; newer ones omit them, as we do);
 * - `responseModalities` is absent from older recordings; we always send `["TEXT"]`;
 * - a server-side `toolCall` Gemini sent without `args` is echoed with `args: {}` by the
 *   Python SDK; we send it back as it came.
 */
import { AgentError, BuiltinTool, Messages, Model, type ModelSettings, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Google from "../../src/Google.js"
import * as GoogleClient from "../../src/GoogleClient.js"
import * as GoogleAuth from "../../src/GoogleAuth.js"
import { withDownloads } from "../support/conformance.js"
import {
  type ConformanceCase,
  type Interaction,
  listCases,
  replayServer,
  sseData
} from "../support/replay.js"

// ---------------------------------------------------------------------------
// Which cases are out of scope, and why (data-driven)
// ---------------------------------------------------------------------------

/** A Vertex AI path: `…/v1beta1/[projects/{p}/locations/{l}/]publishers/google/models/…`. */
const vertexPath =
  /^(.*?)\/v1beta1\/(?:projects\/([^/]+)\/locations\/([^/]+)\/)?publishers\/google\/models\//

const isGemini = (i: Interaction) =>
  (i.endpoint === "generateContent" || i.endpoint === "streamGenerateContent") &&
  (i.request.path.startsWith("/v1beta/models/") || vertexPath.test(i.request.path))

/** The OAuth token exchanges of a case (replayed through `GoogleAuth.authorizedUser`). */
const isToken = (i: Interaction) => i.request.method === "POST" && i.request.path === "/token"

const bodyText = (i: Interaction) => JSON.stringify(i.request.body ?? {})

const skipRules: ReadonlyArray<{
  readonly reason: string
  readonly test: (c: ConformanceCase) => boolean
}> = [
  {
    reason:
      "no Gemini API generateContent call (embeddings, count tokens, OpenAI-compatible endpoint)",
    test: (c) => !c.interactions.some(isGemini)
  },
  {
    reason:
      'an older pydantic-ai rendering of an uploaded file returned by a tool: `response: {output: [{}, "See file …"]}`, the file serialized as an empty object beside its reference; the current rendering (`response: {files: ["See file …"]}`, checked by the gemini3 document case) cannot produce an empty object for a file without sending a meaningless value to the model',
    test: (c) =>
      c.interactions.some((i) => isGemini(i) && /"output":\[\{\},"See file/.test(bodyText(i)))
  },
  {
    // File search store set-up (create, upload, delete) is not a model call: only the
    // generateContent calls that use the store are replayed.
    reason: "Gemini File API uploads are out of scope",
    test: (c) =>
      c.interactions.some(
        (i) =>
          i.endpoint === "files" ||
          (i.request.path.startsWith("/upload/") && !i.request.path.includes("/fileSearchStores/"))
      )
  },
  {
    reason:
      "a countTokens request, then the generation (through an agent run with UsageLimits.countTokensBeforeRequest, or on Vertex AI): replayed by CountTokens.test.ts",
    test: (c) => c.interactions.some((i) => i.endpoint === "countTokens")
  }
]

const skipReason = (c: ConformanceCase): string | undefined =>
  skipRules.find((r) => r.test(c))?.reason

// ---------------------------------------------------------------------------
// Normalizing recorded bodies
// ---------------------------------------------------------------------------

const camelKeys: Record<string, string> = {
  parameters_json_schema: "parametersJsonSchema",
  function_call: "functionCall",
  function_response: "functionResponse",
  thought_signature: "thoughtSignature",
  inline_data: "inlineData",
  file_data: "fileData",
  mime_type: "mimeType",
  file_uri: "fileUri",
  thinking_budget: "thinkingBudget",
  include_thoughts: "includeThoughts",
  thinking_level: "thinkingLevel",
  allowed_function_names: "allowedFunctionNames",
  tool_type: "toolType",
  file_search_store_names: "fileSearchStoreNames",
  executable_code: "executableCode",
  code_execution_result: "codeExecutionResult",
  function_calling_config: "functionCallingConfig",
  prompt_template_name: "promptTemplateName",
  response_template_name: "responseTemplateName"
}
/** Keys whose values are user data (arguments, results, schemas): left alone. */
const opaque = new Set([
  "args",
  "response",
  "parametersJsonSchema",
  "parameters",
  "responseJsonSchema",
  "responseSchema"
])

const normalize = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(normalize)
  if (value === null || typeof value !== "object") return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    const key = camelKeys[k] ?? k
    if (key === "thoughtSignature" && typeof v === "string")
      out[key] = v.replace(/-/g, "+").replace(/_/g, "/")
    else if (key === "data" && typeof v === "string")
      out[key] = v.replace(/-/g, "+").replace(/_/g, "/")
    else out[key] = opaque.has(key) ? v : normalize(v)
  }
  // A server-side tool call without arguments: the Python SDK echoes `args: {}`, we send none.
  const call = out.toolCall as Record<string, unknown> | undefined
  if (call?.args !== undefined && Object.keys(call.args as object).length === 0) {
    const { args: _, ...rest } = call
    out.toolCall = rest
  }
  return out
}

const normalizeToolConfig = (body: any): unknown => {
  const fcc = body.toolConfig?.functionCallingConfig
  if (fcc === undefined) return body.toolConfig
  const all: Array<string> = (body.tools ?? []).flatMap((t: any) =>
    (t.functionDeclarations ?? []).map((d: any) => d.name)
  )
  const names: Array<string> | undefined = fcc.allowedFunctionNames
  if (names !== undefined && all.length === names.length && all.every((n) => names.includes(n))) {
    return { ...body.toolConfig, functionCallingConfig: { mode: fcc.mode } }
  }
  return names === undefined
    ? body.toolConfig
    : {
        ...body.toolConfig,
        functionCallingConfig: { ...fcc, allowedFunctionNames: [...names].sort() }
      }
}

/** Top-level request fields outside the ones compared one by one (`labels`, `modelArmorConfig`). */
const topLevelExtras = (body: any): Record<string, unknown> => {
  const {
    contents: _c,
    systemInstruction: _s,
    tools: _t,
    toolConfig: _tc,
    generationConfig: _g,
    ...rest
  } = body
  return rest
}

const comparable = (raw: unknown) => {
  const body = normalize(raw) as any
  const { responseModalities: _m, ...generationConfig } = body.generationConfig ?? {}
  return {
    contents: body.contents,
    systemInstruction: body.systemInstruction,
    tools: body.tools,
    toolConfig: normalizeToolConfig(body),
    generationConfig,
    extras: topLevelExtras(body)
  }
}

// ---------------------------------------------------------------------------
// Recorded request → agentfx messages, settings, parameters
// ---------------------------------------------------------------------------

const retrySuffix = "\n\nFix the errors and try again."

/** A file of the Gemini File API (`…/v1beta/files/…`): pydantic-ai's `UploadedFile`. */
const filesApi = "https://generativelanguage.googleapis.com/v1beta/files/"

const fileUrl = (uri: string, mimeType: string | undefined): Messages.UserContent => {
  if (uri.startsWith(filesApi)) {
    return new Messages.UploadedFile({
      fileId: uri,
      providerName: "google",
      ...(mimeType !== undefined ? { mediaType: mimeType } : {})
    })
  }
  const fields = { url: uri, ...(mimeType !== undefined ? { mediaType: mimeType } : {}) }
  const kind = mimeType?.split("/")[0]
  return kind === "image"
    ? new Messages.ImageUrl(fields)
    : kind === "audio"
      ? new Messages.AudioUrl(fields)
      : kind === "video"
        ? new Messages.VideoUrl(fields)
        : new Messages.DocumentUrl(fields)
}

/** A recorded file part (`inlineData` / `fileData`) as a file, named `identifier` when given. */
const filePart = (p: any, identifier?: string): Messages.FileContent => {
  const id = identifier !== undefined ? { identifier } : {}
  if (p.inlineData !== undefined) {
    return new Messages.BinaryContent({
      data: Buffer.from(p.inlineData.data, "base64"),
      mediaType: p.inlineData.mimeType,
      ...id
    })
  }
  const f = fileUrl(p.fileData.fileUri, p.fileData.mimeType) as Messages.FileUrl
  return identifier === undefined ? f : new (f.constructor as any)({ ...f, ...id })
}

const filesTurn = /^This is file (\S+):$/

/**
 * The user turns that carry tool-result files for models without `functionResponse.parts`
 * ("This is file {id}:" + file, repeated): the files by id. The encoder writes these turns
 * itself, so they are not turned into user prompts.
 */
const filesTurns = (
  body: any
): { files: Map<string, Messages.FileContent>; turns: Set<unknown> } => {
  const files = new Map<string, Messages.FileContent>()
  const turns = new Set<unknown>()
  for (const content of body.contents) {
    const parts: Array<any> = content.parts ?? []
    if (content.role !== "user" || parts.length < 2 || parts.length % 2 !== 0) continue
    const pairs = parts.every((p, i) =>
      i % 2 === 0
        ? typeof p.text === "string" && filesTurn.test(p.text)
        : p.inlineData !== undefined || p.fileData !== undefined
    )
    if (!pairs) continue
    turns.add(content)
    for (let i = 0; i < parts.length; i += 2) {
      const id = filesTurn.exec(parts[i].text)![1]!
      files.set(id, filePart(parts[i + 1], id))
    }
  }
  return { files, turns }
}

const toMessages = (body: any): Array<Messages.ModelMessage> => {
  const named = filesTurns(body)
  const systemParts: Array<string> = (body.systemInstruction?.parts ?? []).map((p: any) => p.text)
  const instructions = systemParts[0]
  const systemPrompts = systemParts
    .slice(1)
    .map((content) => new Messages.SystemPromptPart({ content }))
  const messages: Array<Messages.ModelMessage> = []
  for (const content of body.contents) {
    if (named.turns.has(content)) continue
    if (content.role === "model") {
      const parts: Array<Messages.ModelResponsePart> = []
      for (const p of content.parts) {
        const sig: string | undefined = p.thoughtSignature
        const sigDetails = sig !== undefined ? { thoughtSignature: sig } : {}
        if (p.toolCall !== undefined || p.toolResponse !== undefined) {
          // Server-side tool invocations (Gemini 3), by tool type.
          const w = p.toolCall ?? p.toolResponse
          const toolName = builtinNames[w.toolType] ?? w.toolType.toLowerCase()
          const providerDetails = { toolType: w.toolType, ...sigDetails }
          parts.push(
            p.toolCall !== undefined
              ? new Messages.BuiltinToolCallPart({
                  toolName,
                  args: w.args ?? {},
                  toolCallId: w.id,
                  providerName: "google",
                  providerDetails
                })
              : new Messages.BuiltinToolReturnPart({
                  toolName,
                  content: w.response ?? null,
                  toolCallId: w.id,
                  providerName: "google",
                  providerDetails
                })
          )
        } else if (p.executableCode !== undefined) {
          parts.push(
            new Messages.BuiltinToolCallPart({
              toolName: "code_execution",
              args: p.executableCode,
              toolCallId: p.executableCode.id ?? "code",
              providerName: "google",
              ...(sig !== undefined ? { providerDetails: sigDetails } : {})
            })
          )
        } else if (p.codeExecutionResult !== undefined) {
          parts.push(
            new Messages.BuiltinToolReturnPart({
              toolName: "code_execution",
              content: p.codeExecutionResult,
              toolCallId: p.codeExecutionResult.id ?? "code",
              providerName: "google",
              ...(sig !== undefined ? { providerDetails: sigDetails } : {})
            })
          )
        } else if (p.functionCall !== undefined) {
          parts.push(
            new Messages.ToolCallPart({
              toolName: p.functionCall.name,
              args: p.functionCall.args ?? {},
              toolCallId: p.functionCall.id,
              ...(sig !== undefined ? { providerDetails: { thoughtSignature: sig } } : {})
            })
          )
        } else if (p.thought === true) {
          parts.push(
            new Messages.ThinkingPart({
              content: p.text,
              providerName: "google",
              ...(sig !== undefined ? { signature: sig } : {})
            })
          )
        } else {
          parts.push(
            new Messages.TextPart({
              content: p.text,
              ...(sig !== undefined ? { providerDetails: { thoughtSignature: sig } } : {})
            })
          )
        }
      }
      messages.push(new Messages.ModelResponse({ parts, providerName: "google" }))
      continue
    }
    const parts: Array<Messages.ModelRequestPart> = messages.length === 0 ? [...systemPrompts] : []
    let pending: Array<Messages.UserContent> = []
    const flush = () => {
      if (pending.length === 0) return
      parts.push(
        new Messages.UserPromptPart({
          content: pending.length === 1 && typeof pending[0] === "string" ? pending[0] : pending
        })
      )
      pending = []
    }
    for (const p of content.parts) {
      if (p.functionResponse !== undefined) {
        flush()
        const { id, name, response } = p.functionResponse
        const keys = Object.keys(response)
        if (
          keys.length === 1 &&
          keys[0] === "error" &&
          typeof response.error === "string" &&
          response.error.endsWith(retrySuffix)
        ) {
          parts.push(
            new Messages.RetryPromptPart({
              content: response.error.slice(0, -retrySuffix.length),
              toolName: name,
              toolCallId: id
            })
          )
        } else if (p.functionResponse.parts !== undefined || Array.isArray(response.files)) {
          // A result with files: inline parts (Gemini 3) and files named in `files`.
          const files: Array<Messages.FileContent> = [
            ...(p.functionResponse.parts ?? []).map((fp: any) => filePart(fp)),
            ...(response.files ?? []).map(
              (ref: string) => named.files.get(/^See file (\S+)\.$/.exec(ref)![1]!)!
            )
          ]
          const rest: Array<unknown> = response.return_value ?? []
          parts.push(
            new Messages.ToolReturnPart({
              toolName: name,
              toolCallId: id,
              content: rest.length === 0 && files.length === 1 ? files[0] : [...rest, ...files]
            })
          )
        } else {
          const value =
            keys.length === 1 && keys[0] === "return_value" ? response.return_value : response
          parts.push(
            new Messages.ToolReturnPart({ toolName: name, toolCallId: id, content: value })
          )
        }
      } else if (p.inlineData !== undefined) {
        pending.push(
          new Messages.BinaryContent({
            data: Buffer.from(p.inlineData.data, "base64"),
            mediaType: p.inlineData.mimeType
          })
        )
      } else if (p.fileData !== undefined) {
        const f = fileUrl(p.fileData.fileUri, p.fileData.mimeType) as Messages.FileUrl
        // A video's `videoMetadata` is the file's vendor metadata.
        pending.push(
          p.videoMetadata === undefined
            ? f
            : new (f.constructor as any)({ ...f, vendorMetadata: p.videoMetadata })
        )
      } else {
        pending.push(p.text)
      }
    }
    flush()
    messages.push(
      new Messages.ModelRequest({ parts, ...(instructions !== undefined ? { instructions } : {}) })
    )
  }
  return messages
}

/** Tool names of Gemini's server-side tool types (as the provider names its parts). */
const builtinNames = Google.toolTypeNames

/** The built-in tools of a recorded `tools` list. */
const builtinToolsOf = (body: any): Array<BuiltinTool.BuiltinTool> =>
  (body.tools ?? []).flatMap((t: any): Array<BuiltinTool.BuiltinTool> => {
    if (t.googleSearch !== undefined) return [new BuiltinTool.WebSearch()]
    if (t.codeExecution !== undefined) return [new BuiltinTool.CodeExecution()]
    if (t.urlContext !== undefined) return [new BuiltinTool.UrlContext()]
    if (t.fileSearch !== undefined)
      return [new BuiltinTool.FileSearch({ fileStoreIds: t.fileSearch.fileSearchStoreNames })]
    if (t.functionDeclarations !== undefined) return []
    throw new Error(`unsupported tool ${JSON.stringify(t)}`)
  })

const isOutputTool = (name: string) => name === "final_result" || name.startsWith("final_result_")

interface Decoded {
  readonly settings: ModelSettings.ModelSettings
  readonly parameters: Model.ModelRequestParameters
  /** Why the tool declarations cannot be compared (legacy OpenAPI `parameters`). */
  readonly legacyTools: boolean
  readonly legacySchema: boolean
}

const toRequest = (body: any): Decoded => {
  const gc = body.generationConfig ?? {}
  const fcc = body.toolConfig?.functionCallingConfig
  const mode: string | undefined = fcc?.mode
  const declarations: Array<any> = (body.tools ?? []).flatMap(
    (t: any) => t.functionDeclarations ?? []
  )
  const legacyTools = declarations.some((d) => d.parametersJsonSchema === undefined)
  // Without an explicit mode the recording predates VALIDATED (or the model lacks it): tools opted out of strict.
  const strict = mode === "VALIDATED" ? undefined : false
  const defs = declarations.map(
    (d) =>
      new Tool.ToolDefinition({
        name: d.name,
        ...(d.description !== undefined && d.description !== ""
          ? { description: d.description }
          : {}),
        parametersJsonSchema: d.parametersJsonSchema ?? d.parameters ?? {},
        ...(strict !== undefined ? { strict } : {})
      })
  )
  const outputTools = defs.filter((d) => isOutputTool(d.name))
  const functionTools = defs.filter((d) => !isOutputTool(d.name))
  const allNames = defs.map((d) => d.name)
  const names: Array<string> = fcc?.allowedFunctionNames ?? allNames
  const namesAll = allNames.every((n) => names.includes(n))

  const settings: {
    -readonly [K in keyof ModelSettings.ModelSettings]: ModelSettings.ModelSettings[K]
  } = {}
  let allowTextOutput = true
  if (mode === "NONE") settings.toolChoice = "none"
  else if (mode === "AUTO") settings.toolChoice = "auto"
  else if (mode === "ANY") {
    if (outputTools.length > 0) {
      allowTextOutput = false
      const chosen = names.filter((n) => !isOutputTool(n))
      if (!namesAll) settings.toolChoice = chosen.length === 0 ? "none" : chosen
    } else {
      settings.toolChoice = namesAll ? "required" : names
    }
  }
  if (gc.maxOutputTokens !== undefined) settings.maxTokens = gc.maxOutputTokens
  if (gc.temperature !== undefined) settings.temperature = gc.temperature
  if (gc.topP !== undefined) settings.topP = gc.topP
  if (gc.topK !== undefined) settings.topK = gc.topK
  if (gc.seed !== undefined) settings.seed = gc.seed
  if (gc.presencePenalty !== undefined) settings.presencePenalty = gc.presencePenalty
  if (gc.frequencyPenalty !== undefined) settings.frequencyPenalty = gc.frequencyPenalty
  if (gc.stopSequences !== undefined) settings.stopSequences = gc.stopSequences
  const tc = gc.thinkingConfig
  if (tc !== undefined) {
    settings.thinking =
      tc.thinkingBudget === 0
        ? false
        : tc.thinkingLevel !== undefined
          ? (String(tc.thinkingLevel).toLowerCase() as "low" | "medium" | "high")
          : tc.thinkingBudget !== undefined
            ? { budgetTokens: tc.thinkingBudget }
            : true
  }
  const known = new Set([
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "stopSequences",
    "thinkingConfig",
    "responseModalities",
    "responseMimeType",
    "responseJsonSchema",
    "responseSchema"
  ])
  const extra = Object.fromEntries(Object.entries(gc).filter(([k]) => !known.has(k)))
  const top = topLevelExtras(body)
  if (Object.keys(extra).length > 0 || Object.keys(top).length > 0)
    settings.extraBody = {
      ...top,
      ...(Object.keys(extra).length > 0 ? { generationConfig: extra } : {})
    }

  let outputMode: Model.OutputMode = outputTools.length > 0 ? "tool" : "text"
  let outputObject: Model.OutputObjectDefinition | undefined
  const schema = gc.responseJsonSchema ?? gc.responseSchema
  if (schema !== undefined) {
    const { title, description, ...rest } = schema
    outputMode = "native"
    outputObject = new Model.OutputObjectDefinition({
      jsonSchema: rest,
      ...(typeof title === "string" ? { name: title } : {}),
      ...(typeof description === "string" ? { description } : {})
    })
  } else if (gc.responseMimeType === "application/json") {
    outputMode = "prompted"
    outputObject = new Model.OutputObjectDefinition({ jsonSchema: {} })
  }
  return {
    settings,
    parameters: new Model.ModelRequestParameters({
      functionTools,
      outputTools,
      builtinTools: builtinToolsOf(body),
      outputMode,
      allowTextOutput,
      ...(outputObject !== undefined ? { outputObject } : {})
    }),
    legacyTools,
    legacySchema: gc.responseSchema !== undefined
  }
}

// ---------------------------------------------------------------------------
// The expected response, read straight from the recorded body
// ---------------------------------------------------------------------------

interface Expected {
  builtin: Array<unknown>
  text: string
  thinking: string
  toolCalls: Array<{ name: string; args: unknown }>
  signatures: Array<string>
  inputTokens: number
  outputTokens: number
  finishReason: string | undefined
  /** The prompt was blocked (`promptFeedback.blockReason`, no candidate). */
  promptBlock: string | undefined
  responseId: string | undefined
  /** The candidate's non-empty grounding / URL context metadata, merged over the chunks. */
  details: Record<string, unknown> | undefined
}

const expectedFrom = (chunks: ReadonlyArray<any>): Expected => {
  const e: Expected = {
    builtin: [],
    text: "",
    thinking: "",
    toolCalls: [],
    signatures: [],
    inputTokens: 0,
    outputTokens: 0,
    finishReason: undefined,
    promptBlock: undefined,
    responseId: undefined,
    details: undefined
  }
  for (const c of chunks) {
    if (c.usageMetadata !== undefined) {
      e.inputTokens = c.usageMetadata.promptTokenCount ?? 0
      e.outputTokens =
        (c.usageMetadata.candidatesTokenCount ?? 0) + (c.usageMetadata.thoughtsTokenCount ?? 0)
    }
    if (c.responseId !== undefined) e.responseId = c.responseId
    if (c.candidates === undefined && c.promptFeedback?.blockReason !== undefined)
      e.promptBlock = c.promptFeedback.blockReason
    const cand = c.candidates?.[0]
    // Vertex log probabilities: the recorded `logprobsResult` and `avgLogprobs`, as sent.
    if (cand?.logprobsResult !== undefined)
      e.details = {
        ...e.details,
        logprobs: cand.logprobsResult,
        ...(cand.avgLogprobs !== undefined ? { avg_logprobs: cand.avgLogprobs } : {})
      }
    if (cand?.finishReason !== undefined) e.finishReason = cand.finishReason
    for (const [wire, key] of [
      ["groundingMetadata", "grounding_metadata"],
      ["urlContextMetadata", "url_context_metadata"]
    ] as const) {
      if (cand?.[wire] === undefined || Object.keys(cand[wire]).length === 0) continue
      e.details = { ...e.details, [key]: { ...(e.details?.[key] as object), ...cand[wire] } }
    }
    for (const p of cand?.content?.parts ?? []) {
      if (p.thoughtSignature !== undefined) e.signatures.push(p.thoughtSignature)
      const server = p.toolCall ?? p.toolResponse
      if (server !== undefined)
        e.builtin.push({
          kind: p.toolCall !== undefined ? "call" : "return",
          name: builtinNames[server.toolType] ?? server.toolType.toLowerCase(),
          id: server.id,
          value: p.toolCall !== undefined ? (server.args ?? {}) : (server.response ?? null)
        })
      if (p.executableCode !== undefined)
        e.builtin.push({ kind: "call", name: "code_execution", value: p.executableCode })
      if (p.codeExecutionResult !== undefined)
        e.builtin.push({ kind: "return", name: "code_execution", value: p.codeExecutionResult })
      if (p.functionCall !== undefined)
        e.toolCalls.push({ name: p.functionCall.name, args: p.functionCall.args ?? {} })
      else if (p.thought === true) e.thinking += p.text
      else if (typeof p.text === "string") e.text += p.text
    }
  }
  return e
}

const signaturesOf = (r: Messages.ModelResponse): Array<string> => {
  const out: Array<string> = []
  for (const p of r.parts) {
    if (p._tag === "ThinkingPart" && p.signature !== undefined) out.push(p.signature)
    else if (p._tag !== "ThinkingPart" && typeof p.providerDetails?.thoughtSignature === "string")
      out.push(p.providerDetails.thoughtSignature)
  }
  return out
}

const checkResponse = (r: Messages.ModelResponse, e: Expected, label: string) => {
  assert.strictEqual(r.text, e.text, `${label}: text`)
  assert.strictEqual(r.thinking.map((t) => t.content).join(""), e.thinking, `${label}: thinking`)
  assert.deepStrictEqual(
    r.toolCalls.map((t) => ({ name: t.toolName, args: t.args })),
    e.toolCalls,
    `${label}: tool calls`
  )
  assert.deepStrictEqual(
    r.builtinToolParts.map((p) => ({
      kind: p._tag === "BuiltinToolCallPart" ? "call" : "return",
      name: p.toolName,
      ...(typeof p.providerDetails?.toolType === "string" ? { id: p.toolCallId } : {}),
      value: p._tag === "BuiltinToolCallPart" ? p.args : p.content
    })),
    e.builtin,
    `${label}: built-in tool parts`
  )
  // A code execution result belongs to the call before it.
  const parts = r.builtinToolParts
  parts.forEach((p, i) => {
    assert.strictEqual(p.providerName, "google")
    if (p._tag === "BuiltinToolReturnPart" && p.toolName === "code_execution")
      assert.strictEqual(p.toolCallId, parts[i - 1]?.toolCallId, `${label}: result id`)
  })
  assert.deepStrictEqual(signaturesOf(r), e.signatures, `${label}: signatures`)
  assert.strictEqual(r.usage.inputTokens, e.inputTokens, `${label}: input tokens`)
  assert.strictEqual(r.usage.outputTokens, e.outputTokens, `${label}: output tokens`)
  assert.strictEqual(r.providerFinishReason, e.finishReason, `${label}: finish reason`)
  assert.strictEqual(
    r.finishReason,
    Google.mapFinishReason(e.finishReason),
    `${label}: mapped finish reason`
  )
  assert.strictEqual(r.providerResponseId, e.responseId, `${label}: response id`)
  assert.deepStrictEqual(r.providerDetails, e.details, `${label}: grounding metadata`)
  assert.strictEqual(r.state, "complete")
}

// ---------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------

const modelNameOf = (path: string) =>
  decodeURIComponent(path.slice(path.indexOf("/models/") + "/models/".length).split(":")[0]!)

/**
 * The client of a recorded path: the Gemini API with a key; Vertex AI with a bearer token
 * (project and location from the path; an OAuth refresh-token exchange when the case recorded
 * one); Vertex express mode (no project in the path) with an API key under the path's prefix.
 */
const clientOf = (c: ConformanceCase, path: string, baseUrl: string) => {
  const v = vertexPath.exec(path)
  if (v === null)
    return {
      layer: GoogleClient.layer({
        apiKey: Redacted.make("test-gemini-key"),
        baseUrl,
        retry: false
      }),
      auth: ["x-goog-api-key", "test-gemini-key"] as const
    }
  const [, prefix, project, location] = v
  if (project === undefined)
    return {
      layer: GoogleClient.vertexLayer({
        credentials: GoogleAuth.apiKey(Redacted.make("test-vertex-key")),
        baseUrl: `${baseUrl}${prefix}`,
        retry: false
      }),
      auth: ["x-goog-api-key", "test-vertex-key"] as const
    }
  const exchange = c.interactions.some(isToken)
  return {
    layer: GoogleClient.vertexLayer({
      credentials: exchange
        ? GoogleAuth.authorizedUser({
            client_id: "scrubbed",
            client_secret: Redacted.make("scrubbed"),
            refresh_token: Redacted.make("scrubbed"),
            token_uri: `${baseUrl}/token`
          })
        : GoogleAuth.accessToken(Redacted.make("test-vertex-token")),
      project,
      location,
      baseUrl,
      retry: false
    }),
    // The recorded exchange answers with the (scrubbed) access token.
    auth: ["authorization", exchange ? "Bearer scrubbed" : "Bearer test-vertex-token"] as const
  }
}

const runInteraction = (
  c: ConformanceCase,
  i: Interaction,
  baseUrl: string,
  received: () => ReadonlyArray<{ path: string; body: unknown; headers: Record<string, string> }>
) =>
  Effect.gen(function* () {
    const modelName = modelNameOf(i.request.path)
    const body = normalize(i.request.body) as any
    const { legacySchema, legacyTools, parameters, settings } = toRequest(body)
    // Files the recording downloaded first (inline bytes of a recorded download) go back as
    // `forceDownload` URLs of the replay server: the model must fetch them (Vertex too).
    const messages = withDownloads(c, baseUrl, toMessages(body), true)
    const stream = i.endpoint === "streamGenerateContent"
    const client = clientOf(c, i.request.path, baseUrl)
    const layer = Google.model(modelName).pipe(
      Layer.provide(client.layer),
      Layer.provide(NodeHttpClient.layerUndici)
    )
    const label = `${i.endpoint} ${modelName}`
    const exit = yield* Effect.exit(
      Effect.gen(function* () {
        const model = yield* Model.Model
        if (!stream) return yield* model.request(messages, settings, parameters)
        return yield* Effect.scoped(
          Effect.gen(function* () {
            const sr = yield* model.requestStream(messages, settings, parameters)
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(sr.events))
            const last = events[events.length - 1]
            assert.strictEqual(
              last?._tag,
              "ResponseCompleteEvent",
              `${label}: stream ends with ResponseCompleteEvent`
            )
            const final = (last as Messages.ResponseCompleteEvent).response
            // Part starts are emitted in index order and every part ends.
            const starts = events.filter((e) => e._tag === "PartStartEvent").length
            const ends = events.filter((e) => e._tag === "PartEndEvent").length
            assert.strictEqual(starts, final.parts.length, `${label}: one start per part`)
            assert.strictEqual(ends, final.parts.length, `${label}: one end per part`)
            return final
          })
        )
      }).pipe(Effect.provide(layer))
    )

    // Request fidelity, on the body the server actually received.
    const sent = received()[received().length - 1]!
    assert.strictEqual(sent.path, i.request.path, `${label}: path`)
    assert.strictEqual(sent.headers[client.auth[0]], client.auth[1], `${label}: credentials`)
    if (client.auth[0] === "authorization") assert.isUndefined(sent.headers["x-goog-api-key"])
    const ours = comparable(sent.body)
    const theirs = comparable(i.request.body)
    assert.deepStrictEqual(ours.contents, theirs.contents, `${label}: contents`)
    assert.deepStrictEqual(
      ours.systemInstruction,
      theirs.systemInstruction,
      `${label}: systemInstruction`
    )
    if (legacyTools) {
      // Recorded with OpenAPI-style `parameters` (an older client); we send `parametersJsonSchema`.
      assert.deepStrictEqual(
        (ours.tools as any)?.[0].functionDeclarations.map((d: any) => d.name),
        (theirs.tools as any)?.[0].functionDeclarations.map((d: any) => d.name),
        `${label}: tool names`
      )
    } else {
      assert.deepStrictEqual(ours.tools, theirs.tools, `${label}: tools`)
    }
    assert.deepStrictEqual(ours.toolConfig, theirs.toolConfig, `${label}: toolConfig`)
    assert.deepStrictEqual(ours.extras, theirs.extras, `${label}: top-level fields`)
    if (legacySchema) {
      // Recorded with the legacy OpenAPI `responseSchema`; we send `responseJsonSchema`.
      const { responseJsonSchema, ...rest } = ours.generationConfig as any
      const { responseSchema, ...recorded } = theirs.generationConfig as any
      assert.isDefined(responseJsonSchema)
      assert.isDefined(responseSchema)
      assert.deepStrictEqual(rest, recorded, `${label}: generationConfig`)
    } else {
      assert.deepStrictEqual(
        ours.generationConfig,
        theirs.generationConfig,
        `${label}: generationConfig`
      )
    }

    // Response decoding.
    if (i.response.status >= 400) {
      assert.isTrue(Exit.isFailure(exit), `${label}: error status must fail`)
      const error = Exit.isFailure(exit) ? (exit.cause as any).error : undefined
      assert.strictEqual(error?._tag, "ModelHTTPError")
      const http = error as AgentError.ModelHTTPError
      assert.strictEqual(http.status, i.response.status)
      assert.deepStrictEqual(http.body, i.response.json ?? i.response.text)
      return
    }
    const chunks = i.response.sse !== null ? sseData(i.response.sse) : [i.response.json]
    const expected = expectedFrom(chunks)
    if (expected.promptBlock !== undefined) {
      assert.isTrue(Exit.isFailure(exit), `${label}: a blocked prompt fails`)
      const error = (exit as any).cause.error
      assert.strictEqual(error?._tag, "ContentFilterError")
      assert.include(error.reason, expected.promptBlock)
      return
    }
    const blocked =
      expected.text === "" &&
      expected.toolCalls.length === 0 &&
      expected.thinking === "" &&
      Google.mapFinishReason(expected.finishReason) === "content_filter"
    if (blocked) {
      assert.isTrue(Exit.isFailure(exit), `${label}: a content block with nothing usable fails`)
      assert.strictEqual((exit as any).cause.error?._tag, "ContentFilterError")
      assert.include((exit as any).cause.error.reason, expected.finishReason)
      return
    }
    if (Exit.isFailure(exit))
      assert.fail(`${label}: unexpected failure ${String((exit.cause as any).error ?? exit.cause)}`)
    checkResponse((exit as Exit.Success<Messages.ModelResponse, never>).value, expected, label)
  })

const cases = listCases("google")

describe("Google conformance (recorded Gemini traffic)", () => {
  it("finds the recorded cases", () => {
    assert.isAbove(cases.length, 100)
  })

  for (const c of cases) {
    const reason = skipReason(c)
    if (reason !== undefined) {
      // Data-driven skip: the reason is in the test name.
      it.skip(`${c.id} — skipped: ${reason}`, () => {})
      continue
    }
    const gemini = c.interactions.filter(isGemini)
    const seeds: ReadonlyArray<number | undefined> = c.stream ? [undefined, 7, 1234] : [undefined]
    for (const seed of seeds) {
      it.scoped(`${c.id}${seed === undefined ? "" : ` (re-chunked, seed ${seed})`}`, () =>
        Effect.gen(function* () {
          const server = yield* replayServer(
            c,
            seed === undefined ? undefined : { rechunkSeed: seed }
          )
          for (const i of gemini) {
            yield* runInteraction(c, i, server.baseUrl, () => server.received)
          }
          // The OAuth exchange sent the recorded form (refresh token grant).
          const tokens = c.interactions.filter(isToken)
          const exchanged = server.received.filter((r) => r.path === "/token")
          assert.deepStrictEqual(
            exchanged.map((r) => r.body),
            tokens.map((t) => t.request.bodyText)
          )
          // Every Gemini interaction was used, and nothing unexpected was requested.
          const downloads = c.interactions.filter((i) => i.endpoint === "download")
          const isDownload = (r: { readonly path: string }) =>
            downloads.some((d) => d.request.path === r.path)
          assert.strictEqual(
            server.received.filter((r) => !isDownload(r)).length,
            gemini.length + tokens.length
          )
          // Each recorded binary download whose bytes the recorded calls carry inline was fetched
          // (`withDownloads` turned them back into URLs).
          const inline = gemini.map((i) => JSON.stringify(i.request.body))
          for (const d of downloads) {
            const b64 = d.response.base64
            if (typeof b64 === "string" && inline.some((b) => b.includes(b64.slice(0, 200)))) {
              assert.isTrue(
                server.received.some((r) => r.path === d.request.path),
                `${c.id}: ${d.request.path} downloaded`
              )
            }
          }
        })
      )
    }
  }
})
