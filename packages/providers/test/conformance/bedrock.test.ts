/**
 * Conformance of the Bedrock Converse provider against pydantic-ai's recorded traffic:
 * - request fidelity: each recorded Converse body is converted back into agentfx messages, tools
 *   and settings, re-encoded by `encodeRequest`, and compared structurally (system, messages,
 *   toolConfig, inferenceConfig, outputConfig, additionalModelRequestFields);
 * - response decoding: every recorded Converse / ConverseStream exchange is replayed from a
 *   loopback server through the real, SigV4-signing model (the binary event stream verbatim and
 *   re-chunked at random byte boundaries), and the decoded response is checked against the
 *   recorded body, folded here independently of the provider code; recorded 4xx →
 *   `ModelHTTPError`. The request must arrive at the recorded path, signed.
 *
 * Documented differences we normalize away: an empty `system` list and an empty
 * `inferenceConfig` are the same as none; consecutive same-role messages are merged.
 */
import { BuiltinTool, Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Bedrock from "../../src/Bedrock.js"
import * as BedrockClient from "../../src/BedrockClient.js"
import {
  canonical,
  checkRecordedError,
  describeCases,
  exchange,
  skipReasonOf,
  withDownloads,
  successOf
} from "../support/conformance.js"
import { type ConformanceCase, type Interaction, replayServer } from "../support/replay.js"

const PROVIDER = "bedrock"

/** Cases out of scope, matched by substring of the id, with the reason. */
const SKIPS: ReadonlyArray<readonly [string, string]> = [
  ["count_tokens_tool_config", "a CountTokens request only: replayed by CountTokens.test.ts"],
  [
    "usage_limit_exceeded",
    "a CountTokens request through an agent run with UsageLimits.countTokensBeforeRequest: replayed by CountTokens.test.ts"
  ],
  [
    "count_tokens_rejects_server_tools",
    "the Anthropic SDK's InvokeModel counting (input.invokeModel) is not modelled: Bedrock models count through Converse"
  ],
  ["test_gateway", "pydantic gateway routing is out of scope"],
  [
    "mid_conversation_system",
    "not built: the Anthropic Messages API over Bedrock InvokeModel (Anthropic's Bedrock client); Converse sends a mid-conversation system prompt as <system> text (AnthropicSystemMessages.test.ts)"
  ],
  [
    "model_other_parameters",
    "the recorded request body lost its closing brace (kept as text): replayed by Bedrock.test.ts, its fields sent through extraBody"
  ],
  [
    "test_video_url_input",
    'the recorded "video" is a JPEG served as image/jpeg, sent with format "video/mp4" (a media type where Converse takes "mp4")'
  ]
]

const isOurs = (it: Interaction) =>
  (it.endpoint === "converse" || it.endpoint === "converse-stream") &&
  it.request.method === "POST" &&
  it.provider === PROVIDER

const sharedSkipReason = skipReasonOf(SKIPS, isOurs, "Converse")

/** The shared skip reasons, except downloads: Bedrock downloads http(s) file URLs itself. */
const isConverse = (r: { readonly path: string }) => r.path.startsWith("/model/")

const skipReason = (c: ConformanceCase): string | undefined => {
  const reason = sharedSkipReason(c)
  if (reason === undefined || !reason.startsWith("downloads media")) return reason
  return sharedSkipReason({
    ...c,
    interactions: c.interactions.filter((i) => i.endpoint !== "download")
  })
}

// ---------------------------------------------------------------------------
// Recorded wire body → agentfx inputs
// ---------------------------------------------------------------------------

type Json = Record<string, any>

const mediaTypes: Record<string, string> = {
  pdf: "application/pdf",
  csv: "text/csv",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  html: "text/html",
  txt: "text/plain",
  md: "text/markdown"
}

const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, "base64"))

/** A recorded file block as agentfx content. */
const fileOf = (b: Json): Messages.FileContent => {
  const s3 = (b.image ?? b.video ?? b.document).source.s3Location?.uri
  // pydantic-ai's uploaded-file tests put their files in this bucket (`UploadedFile` of bedrock)
  if (s3?.startsWith("s3://pydantic-ai-test-files/") === true) {
    const format: string = (b.image ?? b.video ?? b.document).format
    return new Messages.UploadedFile({
      fileId: s3,
      providerName: "bedrock",
      mediaType: b.image
        ? `image/${format}`
        : b.video
          ? `video/${format}`
          : (mediaTypes[format] ?? "application/pdf")
    })
  }
  if (s3 !== undefined) {
    return b.image
      ? new Messages.ImageUrl({ url: s3 })
      : b.video
        ? new Messages.VideoUrl({ url: s3 })
        : new Messages.DocumentUrl({ url: s3 })
  }
  if (b.image) {
    return new Messages.BinaryContent({
      data: bytes(b.image.source.bytes),
      mediaType: `image/${b.image.format}`
    })
  }
  if (b.video) {
    const f = String(b.video.format).replace(/^video\//, "")
    return new Messages.BinaryContent({
      data: bytes(b.video.source.bytes),
      mediaType: `video/${f}`
    })
  }
  return new Messages.BinaryContent({
    data: bytes(b.document.source.bytes),
    mediaType: mediaTypes[b.document.format] ?? "application/pdf"
  })
}

const modelIdOf = (path: string): string => decodeURIComponent(path.split("/")[2]!)

/** Decodes a recorded request body into what the agent would have passed to the model. */
const fromWire = (body: Json, modelId: string) => {
  const family = Bedrock.familyOf(modelId)
  const messages: Array<Messages.ModelMessage> = []
  const toolNames = new Map<string, string>()
  const system: Array<Json> = body.system ?? []
  const systemTexts = system.filter((b) => b.text !== undefined).map((b) => b.text as string)
  let first = true
  for (const m of body.messages as Array<Json>) {
    if (m.role === "assistant") {
      const parts: Array<Messages.ModelResponsePart> = []
      for (const b of m.content as Array<Json>) {
        if (b.text !== undefined) parts.push(new Messages.TextPart({ content: b.text }))
        else if (b.toolUse?.type === "server_tool_use") {
          parts.push(
            new Messages.BuiltinToolCallPart({
              toolName: b.toolUse.name,
              args: b.toolUse.input,
              toolCallId: b.toolUse.toolUseId,
              providerName: "bedrock"
            })
          )
        } else if (b.toolResult?.type !== undefined) {
          const { toolUseId, content, ...rest } = b.toolResult
          parts.push(
            new Messages.BuiltinToolReturnPart({
              toolName: rest.type.replace(/_result$/, ""),
              content,
              toolCallId: toolUseId,
              providerName: "bedrock",
              providerDetails: rest
            })
          )
        } else if (b.toolUse) {
          toolNames.set(b.toolUse.toolUseId, b.toolUse.name)
          parts.push(
            new Messages.ToolCallPart({
              toolName: b.toolUse.name,
              args: b.toolUse.input,
              toolCallId: b.toolUse.toolUseId,
              providerName: "bedrock"
            })
          )
        } else if (b.reasoningContent) {
          const r = b.reasoningContent
          parts.push(
            r.redactedContent !== undefined
              ? new Messages.ThinkingPart({
                  content: "",
                  signature: r.redactedContent,
                  redacted: true,
                  providerName: "bedrock"
                })
              : new Messages.ThinkingPart({
                  content: r.reasoningText.text,
                  ...(r.reasoningText.signature !== undefined
                    ? { signature: r.reasoningText.signature }
                    : {}),
                  providerName: "bedrock"
                })
          )
        } else throw new Error(`unsupported assistant block ${Object.keys(b)}`)
      }
      messages.push(new Messages.ModelResponse({ parts }))
      continue
    }
    const parts: Array<Messages.ModelRequestPart> = []
    if (first)
      for (const t of systemTexts) parts.push(new Messages.SystemPromptPart({ content: t }))
    first = false
    let user: Array<Messages.UserContent> | undefined
    const flushUser = () => {
      if (user !== undefined) parts.push(new Messages.UserPromptPart({ content: user }))
      user = undefined
    }
    for (const b of m.content as Array<Json>) {
      if (b.toolResult) {
        flushUser()
        const r = b.toolResult
        const items = r.content as Array<Json>
        const content: unknown =
          items.length === 1 && items[0]!.json !== undefined
            ? items[0]!.json
            : items.every((c) => c.text !== undefined)
              ? items.map((c) => c.text).join("")
              : items.map((c) => (c.text !== undefined ? c.text : fileOf(c)))
        parts.push(
          new Messages.ToolReturnPart({
            toolName: toolNames.get(r.toolUseId) ?? "tool",
            toolCallId: r.toolUseId,
            content,
            outcome: r.status === "error" ? "failed" : "success"
          })
        )
      } else if (b.text !== undefined) user = [...(user ?? []), b.text]
      else if (b.cachePoint) user = [...(user ?? []), new Messages.CachePoint({})]
      else user = [...(user ?? []), fileOf(b)]
    }
    flushUser()
    messages.push(new Messages.ModelRequest({ parts }))
  }

  const wireTools: Array<Json> = body.toolConfig?.tools ?? []
  const toolDef = (t: Json) =>
    new Tool.ToolDefinition({
      name: t.toolSpec.name,
      ...(t.toolSpec.description ? { description: t.toolSpec.description } : {}),
      parametersJsonSchema: t.toolSpec.inputSchema.json,
      ...(t.toolSpec.strict === true ? { strict: true } : {})
    })
  const specs = wireTools.filter((t) => t.toolSpec)
  const outputTools = specs.filter((t) => t.toolSpec.name.startsWith("final_result")).map(toolDef)
  const functionTools = specs
    .filter((t) => !t.toolSpec.name.startsWith("final_result"))
    .map(toolDef)
  const builtinTools = wireTools
    .filter((t) => t.systemTool)
    .map((t) => {
      if (t.systemTool.name !== "nova_code_interpreter")
        throw new Error(`unsupported system tool ${t.systemTool.name}`)
      return new BuiltinTool.CodeExecution()
    })
  const choice = body.toolConfig?.toolChoice
  const settings: Record<string, unknown> = {}
  let allowTextOutput = true
  if (choice?.any) allowTextOutput = false
  else if (choice?.tool) {
    if (choice.tool.name.startsWith("final_result")) {
      allowTextOutput = false
      if (functionTools.length > 0) settings.toolChoice = "none"
    } else settings.toolChoice = [choice.tool.name]
  }
  const inference = body.inferenceConfig ?? {}
  if (inference.maxTokens !== undefined) settings.maxTokens = inference.maxTokens
  if (inference.temperature !== undefined) settings.temperature = inference.temperature
  if (inference.topP !== undefined) settings.topP = inference.topP
  if (inference.stopSequences !== undefined) settings.stopSequences = inference.stopSequences
  const extra: Json = {}
  const additional: Json = { ...body.additionalModelRequestFields }
  if (additional.thinking?.type === "enabled" && family.thinking === "anthropic") {
    settings.thinking = { budgetTokens: additional.thinking.budget_tokens }
    delete additional.thinking
  }
  // Adaptive thinking (Claude 4.6+), with the effort an effort-level setting maps to.
  if (additional.thinking?.type === "adaptive" && family.thinking === "anthropic") {
    const effort = additional.output_config?.effort
    settings.thinking = effort ?? true
    delete additional.thinking
    if (effort !== undefined && Object.keys(additional.output_config).length === 1)
      delete additional.output_config
  }
  for (const key of ["reasoning_effort", "reasoning_config"]) {
    if (additional[key] !== undefined) {
      settings.thinking = additional[key] === "medium" ? true : additional[key]
      delete additional[key]
    }
  }
  // `topK`: Claude's `top_k`, Nova's `inferenceConfig.topK`.
  if (additional.top_k !== undefined && family.name === "anthropic") {
    settings.topK = additional.top_k
    delete additional.top_k
  }
  if (additional.inferenceConfig?.topK !== undefined && family.name === "nova") {
    settings.topK = additional.inferenceConfig.topK
    const { topK: _, ...rest } = additional.inferenceConfig
    if (Object.keys(rest).length > 0) additional.inferenceConfig = rest
    else delete additional.inferenceConfig
  }
  if (body.serviceTier?.type !== undefined) settings.serviceTier = body.serviceTier.type
  // Fields with no portable setting travel in extraBody.
  if (Object.keys(additional).length > 0) extra.additionalModelRequestFields = additional
  for (const key of ["performanceConfig", "guardrailConfig"]) {
    if (body[key] !== undefined) extra[key] = body[key]
  }
  if (Object.keys(extra).length > 0) settings.extraBody = extra
  const format = body.outputConfig?.textFormat
  const schema = format?.structure?.jsonSchema
  const parameters = new Model.ModelRequestParameters({
    functionTools,
    outputTools,
    builtinTools,
    allowTextOutput,
    ...(schema !== undefined
      ? {
          outputMode: "native" as const,
          outputObject: new Model.OutputObjectDefinition({
            jsonSchema: JSON.parse(schema.schema),
            ...(schema.name !== undefined ? { name: schema.name } : {}),
            ...(schema.description !== undefined ? { description: schema.description } : {})
          })
        }
      : {})
  })
  return {
    messages,
    parameters,
    settings,
    options: {
      ...(system.some((b) => b.cachePoint) ? { cacheInstructions: true } : {}),
      ...(wireTools.some((t) => t.cachePoint) ? { cacheTools: true } : {})
    }
  }
}

/** Consecutive text blocks of a tool result as one (pydantic-ai sends a list's strings apart). */
const joinTexts = (blocks: Array<Json>): Array<Json> =>
  blocks.reduce((acc: Array<Json>, b) => {
    const last = acc[acc.length - 1]
    if (b.text !== undefined && last?.text !== undefined)
      acc[acc.length - 1] = { text: last.text + b.text }
    else acc.push(b)
    return acc
  }, [])

const normalizeBlock = (b: Json): Json =>
  b.toolResult ? { toolResult: { ...b.toolResult, content: joinTexts(b.toolResult.content) } } : b

/**
 * The recorded (or encoded) body, compared on the fields we model. Equivalent forms are made
 * equal: an absent tool choice is `auto`; the output schema string is compared parsed (Python's
 * JSON separators differ); consecutive same-role messages are merged.
 */
const normalize = (body: Json): Json => {
  const jsonSchema = body.outputConfig?.textFormat?.structure?.jsonSchema
  return {
    system: body.system && body.system.length > 0 ? body.system : undefined,
    messages: (body.messages as Array<Json>).reduce((acc: Array<Json>, m) => {
      const content = (m.content as Array<Json>).map(normalizeBlock)
      const last = acc[acc.length - 1]
      if (last !== undefined && last.role === m.role) last.content = [...last.content, ...content]
      else acc.push({ role: m.role, content })
      return acc
    }, []),
    inferenceConfig:
      body.inferenceConfig && Object.keys(body.inferenceConfig).length > 0
        ? body.inferenceConfig
        : undefined,
    toolConfig:
      body.toolConfig === undefined ? undefined : { toolChoice: { auto: {} }, ...body.toolConfig },
    outputConfig:
      jsonSchema === undefined
        ? body.outputConfig
        : {
            textFormat: {
              ...body.outputConfig.textFormat,
              structure: { jsonSchema: { ...jsonSchema, schema: undefined } }
            }
          },
    outputSchema: jsonSchema === undefined ? undefined : JSON.parse(jsonSchema.schema),
    additionalModelRequestFields: body.additionalModelRequestFields
  }
}

// ---------------------------------------------------------------------------
// Expectations from the recorded response
// ---------------------------------------------------------------------------

/** The messages of a recorded event stream (a plain parser: no CRC, string headers only). */
const framesOf = (b64: string): Array<{ type: string; payload: Json }> => {
  const buf = Buffer.from(b64, "base64")
  const out: Array<{ type: string; payload: Json }> = []
  let o = 0
  while (o < buf.length) {
    const total = buf.readUInt32BE(o)
    const headersLength = buf.readUInt32BE(o + 4)
    const headers: Record<string, string> = {}
    let h = o + 12
    while (h < o + 12 + headersLength) {
      const n = buf[h]!
      const name = buf.subarray(h + 1, h + 1 + n).toString()
      h += 1 + n
      const type = buf[h]!
      h += 1
      if (type !== 7) throw new Error(`header type ${type}`)
      const len = buf.readUInt16BE(h)
      headers[name] = buf.subarray(h + 2, h + 2 + len).toString()
      h += 2 + len
    }
    const payload = buf.subarray(o + 12 + headersLength, o + total - 4).toString()
    out.push({ type: headers[":event-type"] ?? "", payload: JSON.parse(payload) })
    o += total
  }
  return out
}

/** Folds a recorded event stream into the Converse response it describes. */
const responseFromStream = (b64: string): Json => {
  const blocks: Array<Json> = []
  const response: Json = { output: { message: { content: blocks } } }
  for (const { type, payload: p } of framesOf(b64)) {
    const i = p.contentBlockIndex
    if (type === "contentBlockStart" && p.start?.toolUse) {
      blocks[i] = { toolUse: { ...p.start.toolUse, input: "" } }
    } else if (type === "contentBlockStart" && p.start?.toolResult) {
      blocks[i] = { toolResult: { ...p.start.toolResult, content: [] } }
    } else if (type === "contentBlockDelta") {
      const d = p.delta
      if (d.toolResult) blocks[i]!.toolResult.content.push(...d.toolResult)
      else if (d.text !== undefined) blocks[i] = { text: (blocks[i]?.text ?? "") + d.text }
      else if (d.toolUse) blocks[i]!.toolUse.input += d.toolUse.input
      else if (d.reasoningContent) {
        const r = d.reasoningContent
        const b = (blocks[i] ??= { reasoningContent: {} }).reasoningContent
        if (r.redactedContent !== undefined) b.redactedContent = r.redactedContent
        else {
          b.reasoningText ??= { text: "" }
          if (r.text !== undefined) b.reasoningText.text += r.text
          if (r.signature !== undefined) b.reasoningText.signature = r.signature
        }
      }
    } else if (type === "messageStop") response.stopReason = p.stopReason
    else if (type === "metadata") response.usage = p.usage
  }
  for (const b of blocks) {
    if (b?.toolUse) b.toolUse.input = b.toolUse.input === "" ? {} : JSON.parse(b.toolUse.input)
  }
  return response
}

const checkResponse = (response: Messages.ModelResponse, r: Json) => {
  const content: Array<Json> = (r.output?.message?.content ?? []).filter(
    (b: Json) => b !== undefined
  )
  assert.strictEqual(
    response.text,
    content
      .filter((b) => b.text !== undefined)
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
      .filter((b) => b.toolUse && b.toolUse.type !== "server_tool_use")
      .map((b) => ({ name: b.toolUse.name, id: b.toolUse.toolUseId, input: b.toolUse.input }))
  )
  // Provider-run tools (Nova's code interpreter): call, then result, every field.
  assert.deepStrictEqual(
    response.builtinToolParts.map((p) =>
      p._tag === "BuiltinToolCallPart"
        ? { id: p.toolCallId, name: p.toolName, input: p.argsAsObject(), by: p.providerName }
        : {
            id: p.toolCallId,
            name: p.toolName,
            content: p.content,
            details: p.providerDetails,
            by: p.providerName
          }
    ),
    content
      .filter((b) => b.toolUse?.type === "server_tool_use" || b.toolResult?.type !== undefined)
      .map((b) => {
        if (b.toolUse !== undefined)
          return {
            id: b.toolUse.toolUseId,
            name: b.toolUse.name,
            input: b.toolUse.input,
            by: "bedrock"
          }
        const { toolUseId, content, ...details } = b.toolResult
        return {
          id: toolUseId,
          name: details.type.replace(/_result$/, ""),
          content,
          details,
          by: "bedrock"
        }
      })
  )
  assert.deepStrictEqual(
    response.thinking.map((t) => ({
      content: t.content,
      signature: t.signature,
      redacted: t.redacted ?? false
    })),
    content
      .filter((b) => b.reasoningContent)
      .map((b) =>
        b.reasoningContent.redactedContent !== undefined
          ? { content: "", signature: b.reasoningContent.redactedContent, redacted: true }
          : {
              content: b.reasoningContent.reasoningText.text,
              signature: b.reasoningContent.reasoningText.signature,
              redacted: false
            }
      )
  )
  const u = r.usage ?? {}
  const read = u.cacheReadInputTokens ?? 0
  const write = u.cacheWriteInputTokens ?? 0
  assert.strictEqual(response.usage.inputTokens, (u.inputTokens ?? 0) + read + write)
  assert.strictEqual(response.usage.cacheReadTokens, read)
  assert.strictEqual(response.usage.cacheWriteTokens, write)
  assert.strictEqual(response.usage.outputTokens, u.outputTokens ?? 0)
  assert.strictEqual(response.providerFinishReason, r.stopReason)
  const finish: Record<string, string> = {
    end_turn: "stop",
    stop_sequence: "stop",
    max_tokens: "length",
    tool_use: "tool_call",
    guardrail_intervened: "content_filter",
    content_filtered: "content_filter"
  }
  if (r.stopReason in finish) assert.strictEqual(response.finishReason, finish[r.stopReason])
  assert.strictEqual(response.providerName, "bedrock")
}

// ---------------------------------------------------------------------------

const ACCESS_KEY = "AKIDCONFORMANCE"
const SECRET = "conformance-secret-key"

const replayCase = (c: ConformanceCase, rechunkSeed?: number) =>
  Effect.gen(function* () {
    const server = yield* replayServer(c, rechunkSeed === undefined ? {} : { rechunkSeed })
    const http = yield* HttpClient.HttpClient
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const modelId = modelIdOf(it.request.path)
      const { messages, parameters, settings, options } = fromWire(body, modelId)
      const client = BedrockClient.makeWith(http, {
        region: "us-east-1",
        baseUrl: server.baseUrl,
        credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: Redacted.make(SECRET) },
        retry: false
      })
      const model = Bedrock.makeWith(client, modelId, options)
      const before = server.received.filter(isConverse).length
      const exit = yield* exchange(
        model,
        withDownloads(c, server.baseUrl, messages, false),
        settings,
        parameters,
        it.endpoint === "converse-stream"
      )
      // The request went to the recorded path, signed for bedrock in the region.
      const sent = server.received.filter(isConverse)[before]
      assert.isDefined(sent, `${c.id}: no request reached the server`)
      assert.strictEqual(sent!.path, it.request.path)
      assert.match(
        sent!.headers.authorization ?? "",
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${ACCESS_KEY}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`
        )
      )
      assert.deepStrictEqual(
        JSON.parse(canonical(normalize(sent!.body as Json))),
        JSON.parse(canonical(normalize(body))),
        `${c.id}: the replayed request body differs from the recording`
      )
      if (checkRecordedError(c.id, exit, it.response)) continue
      const recorded = it.response.base64
        ? responseFromStream(it.response.base64)
        : (it.response.json as Json)
      checkResponse(successOf(c.id, exit), recorded)
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

/** Cases whose recorded request we cannot reproduce, with the reason (response still replayed). */
const FIDELITY_SKIPS: ReadonlyArray<readonly [string, string]> = []

/**
 * The cases of other Bedrock APIs are registered by their own suites: embeddings (InvokeModel)
 * by `bedrock-embeddings.test.ts`, the OpenAI-compatible mantle endpoint by
 * `bedrock-mantle.test.ts`.
 */
const isOtherSuites = (c: ConformanceCase) =>
  c.id.startsWith("test_embeddings.") || c.id.includes("test_bedrock_mantle")

describeCases({
  title: "Bedrock conformance",
  provider: PROVIDER,
  include: (c) => !isOtherSuites(c),
  skipReason,
  fidelity: (c) => {
    for (const [pattern] of FIDELITY_SKIPS) if (c.id.includes(pattern)) return
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const modelId = modelIdOf(it.request.path)
      const { messages, parameters, settings, options } = fromWire(body, modelId)
      const encoded = Bedrock.encodeRequest(messages, settings, parameters, { modelId, ...options })
      if (encoded._tag === "UserError") assert.fail(`${c.id}: ${encoded.reason}`)
      const withExtra = { ...encoded, ...(settings.extraBody as Json | undefined) }
      assert.deepStrictEqual(
        JSON.parse(canonical(normalize(withExtra))),
        JSON.parse(canonical(normalize(body)))
      )
    }
  },
  replay: replayCase,
  rechunkSeed: 23
})
