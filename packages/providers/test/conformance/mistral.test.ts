/**
 * Conformance of the Mistral provider against pydantic-ai's recorded traffic:
 * - request fidelity: each recorded chat body is converted back into agentfx messages, tools and
 *   settings, re-encoded by `encodeRequest`, and compared structurally with the recording;
 * - response decoding: every recorded exchange is replayed from a loopback server through the
 *   real model (the SSE body verbatim and re-chunked at random byte boundaries); the decoded
 *   text, thinking, tool calls, usage, finish reason, response id and model name must equal an
 *   independent reading of the recorded body; the request that reached the server must equal
 *   the recorded one and carry the key as a bearer token.
 *
 * Documented differences we normalize away: pydantic-ai sends `n: 1` and `null` for unset
 * settings; an empty `tool_calls` list is the same as none.
 */
import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Mistral from "../../src/Mistral.js"
import * as MistralClient from "../../src/MistralClient.js"
import {
  canonical,
  checkRecordedError,
  describeCases,
  exchange,
  skipReasonOf,
  successOf
} from "../support/conformance.js"
import { type ConformanceCase, type Interaction, replayServer } from "../support/replay.js"

type Json = Record<string, any>

const PROVIDER = "mistral"
const KEY = "mistral-conformance-key"

/** Cases out of scope, matched by substring of the id, with the reason (none today). */
const SKIPS: ReadonlyArray<readonly [string, string]> = []

const isOurs = (it: Interaction) =>
  it.endpoint === "chat.completions" && it.request.method === "POST" && it.provider === PROVIDER

const sharedSkipReason = skipReasonOf(SKIPS, isOurs, "Mistral chat")

/**
 * The shared skip reasons, except downloads: pydantic-ai downloaded the file and sent it inline;
 * the recorded request holds the bytes, so the chat calls replay as they are.
 */
const skipReason = (c: ConformanceCase): string | undefined =>
  sharedSkipReason({ ...c, interactions: c.interactions.filter((i) => i.endpoint !== "download") })

// ---------------------------------------------------------------------------
// Recorded wire body → agentfx inputs
// ---------------------------------------------------------------------------

const parseDataUrl = (url: string): { mediaType: string; data: Uint8Array } | undefined => {
  const m = /^data:([^;,]+)(;base64)?,(.*)$/s.exec(url)
  return m ? { mediaType: m[1]!, data: Buffer.from(m[3]!, m[2] ? "base64" : "utf8") } : undefined
}

const INLINE_FILE =
  /^-----BEGIN FILE id="([^"]+)" type="([^"]+)"-----\n([\s\S]*)\n-----END FILE id="\1"-----$/

const userItem = (p: Json): Messages.UserContent => {
  if (p.type === "text") {
    const file = INLINE_FILE.exec(p.text)
    return file === null
      ? p.text
      : new Messages.BinaryContent({
          data: new TextEncoder().encode(file[3]!),
          mediaType: file[2]!,
          identifier: file[1]!
        })
  }
  const url: string = p.type === "image_url" ? p.image_url.url : p.document_url
  const d = parseDataUrl(url)
  if (d !== undefined) return new Messages.BinaryContent(d)
  return p.type === "image_url" ? new Messages.ImageUrl({ url }) : new Messages.DocumentUrl({ url })
}

/** The assistant `OK` the encoder puts between a tool message and a user message. */
const isBridge = (wire: Array<Json>, i: number): boolean => {
  const m = wire[i]!
  return (
    m.role === "assistant" &&
    wire[i - 1]?.role === "tool" &&
    wire[i + 1]?.role === "user" &&
    canonical(m.content) === canonical([{ type: "text", text: "OK" }])
  )
}

const fromWire = (body: Json) => {
  const wire = body.messages as Array<Json>
  const messages: Array<Messages.ModelMessage> = []
  const toolNames = new Map<string, string>()
  let parts: Array<Messages.ModelRequestPart> = []
  const flush = () => {
    if (parts.length > 0) messages.push(new Messages.ModelRequest({ parts }))
    parts = []
  }
  wire.forEach((m, i) => {
    if (m.role === "assistant") {
      if (isBridge(wire, i)) return
      flush()
      const rparts: Array<Messages.ModelResponsePart> = []
      for (const c of m.content as Array<Json>) {
        if (c.type === "text") rparts.push(new Messages.TextPart({ content: c.text }))
        else if (c.type === "thinking")
          rparts.push(
            new Messages.ThinkingPart({
              content: c.thinking.map((t: Json) => t.text).join(""),
              providerName: "mistral"
            })
          )
      }
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
      messages.push(new Messages.ModelResponse({ parts: rparts, providerName: "mistral" }))
    } else if (m.role === "system")
      parts.push(new Messages.SystemPromptPart({ content: m.content }))
    else if (m.role === "tool")
      parts.push(
        new Messages.ToolReturnPart({
          toolName: toolNames.get(m.tool_call_id) ?? "unknown",
          toolCallId: m.tool_call_id,
          content: m.content
        })
      )
    else
      parts.push(
        new Messages.UserPromptPart({
          content: typeof m.content === "string" ? m.content : m.content.map(userItem)
        })
      )
  })
  flush()

  const toolDef = (t: Json) =>
    new Tool.ToolDefinition({
      name: t.function.name,
      ...(t.function.description !== "" ? { description: t.function.description } : {}),
      parametersJsonSchema: t.function.parameters,
      ...(t.function.strict === true ? { strict: true } : {})
    })
  const tools = (body.tools ?? []) as Array<Json>
  const isOutput = (t: Json) => String(t.function.name).startsWith("final_result")
  const outputTools = tools.filter(isOutput).map(toolDef)
  const functionTools = tools.filter((t) => !isOutput(t)).map(toolDef)
  const settings: Record<string, unknown> = {}
  let allowTextOutput = true
  if (body.tool_choice === "any") {
    if (outputTools.length > 0) allowTextOutput = false
    else settings.toolChoice = "required"
  } else if (body.tool_choice === "none") settings.toolChoice = "none"
  if (body.max_tokens != null) settings.maxTokens = body.max_tokens
  if (body.temperature != null) settings.temperature = body.temperature
  if (body.top_p != null) settings.topP = body.top_p
  if (body.presence_penalty != null) settings.presencePenalty = body.presence_penalty
  if (body.frequency_penalty != null) settings.frequencyPenalty = body.frequency_penalty
  if (body.random_seed != null) settings.seed = body.random_seed
  if (body.stop != null) settings.stopSequences = body.stop
  if (body.prompt_cache_key != null)
    settings.extraBody = { prompt_cache_key: body.prompt_cache_key }
  const rf = body.response_format
  const parameters = new Model.ModelRequestParameters({
    functionTools,
    outputTools,
    allowTextOutput,
    ...(rf?.type === "json_schema"
      ? {
          outputMode: "native" as const,
          outputObject: new Model.OutputObjectDefinition({
            jsonSchema: rf.json_schema.schema,
            name: rf.json_schema.name
          })
        }
      : rf?.type === "json_object"
        ? { outputMode: "prompted" as const }
        : {})
  })
  return { messages, parameters, settings }
}

/** The body compared: `n: 1` and `null` settings dropped, empty `tool_calls` as none. */
const normalize = (body: Json): Json => {
  const out: Json = {}
  for (const [k, v] of Object.entries(body)) if (v !== null && k !== "n") out[k] = v
  out.messages = (body.messages as Array<Json>).map((m) => {
    const { tool_calls, ...rest } = m
    return Array.isArray(tool_calls) && tool_calls.length > 0 ? { ...rest, tool_calls } : rest
  })
  return JSON.parse(canonical(out))
}

// ---------------------------------------------------------------------------
// Expectations from the recorded response, read independently
// ---------------------------------------------------------------------------

interface Expected {
  text: string
  thinking: Array<string>
  toolCalls: Array<{ name: string; id: string; args: unknown }>
  usage: Json
  finish: string | undefined
  id: string | undefined
  model: string | undefined
}

const contentPieces = (content: unknown, e: Expected, last: { kind?: string }) => {
  const list = typeof content === "string" ? [{ type: "text", text: content }] : (content ?? [])
  for (const c of list as Array<Json>) {
    if (c.type === "text") {
      e.text += c.text
      if (c.text !== "") last.kind = "text"
    } else if (c.type === "thinking") {
      const t = c.thinking.map((x: Json) => x.text).join("")
      if (last.kind === "thinking") e.thinking[e.thinking.length - 1] += t
      else e.thinking.push(t)
      last.kind = "thinking"
    }
  }
}

const expectedOf = (it: Interaction): Expected => {
  const e: Expected = {
    text: "",
    thinking: [],
    toolCalls: [],
    usage: {},
    finish: undefined,
    id: undefined,
    model: undefined
  }
  if (it.response.sse !== null) {
    const calls = new Map<number, { name: string; id: string; args: string }>()
    const last: { kind?: string } = {}
    const chunks = it.response.sse
      .split(/\r?\n/)
      .filter((l) => l.startsWith("data:") && l.slice(5).trim() !== "[DONE]")
      .map((l) => JSON.parse(l.slice(5)))
    for (const chunk of chunks) {
      e.id ??= chunk.id
      e.model = chunk.model ?? e.model
      if (chunk.usage) e.usage = chunk.usage
      const choice = chunk.choices?.[0]
      if (choice === undefined) continue
      if (choice.finish_reason) e.finish = choice.finish_reason
      contentPieces(choice.delta?.content, e, last)
      for (const call of choice.delta?.tool_calls ?? []) {
        const c = calls.get(call.index) ?? { name: "", id: "", args: "" }
        c.name += call.function?.name ?? ""
        c.id = call.id ?? c.id
        c.args += call.function?.arguments ?? ""
        calls.set(call.index, c)
      }
    }
    e.toolCalls = [...calls.values()].map((c) => ({ ...c, args: JSON.parse(c.args || "{}") }))
    return e
  }
  const r = it.response.json as Json
  const message = r.choices[0].message
  contentPieces(message.content, e, {})
  e.toolCalls = (message.tool_calls ?? []).map((c: Json) => ({
    name: c.function.name,
    id: c.id,
    args: JSON.parse(c.function.arguments)
  }))
  e.usage = r.usage ?? {}
  e.finish = r.choices[0].finish_reason
  e.id = r.id
  e.model = r.model
  return e
}

const checkResponse = (response: Messages.ModelResponse, e: Expected) => {
  assert.strictEqual(response.text, e.text)
  assert.deepStrictEqual(
    response.thinking.map((t) => ({ content: t.content, provider: t.providerName })),
    e.thinking.map((content) => ({ content, provider: "mistral" }))
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => ({ name: c.toolName, id: c.toolCallId, args: c.argsAsObject() })),
    e.toolCalls
  )
  assert.strictEqual(response.usage.inputTokens, e.usage.prompt_tokens ?? 0)
  assert.strictEqual(response.usage.outputTokens, e.usage.completion_tokens ?? 0)
  assert.strictEqual(
    response.usage.cacheReadTokens,
    e.usage.prompt_tokens_details?.cached_tokens || e.usage.num_cached_tokens || 0
  )
  assert.strictEqual(response.providerFinishReason, e.finish)
  const finish: Record<string, string> = {
    stop: "stop",
    length: "length",
    model_length: "length",
    tool_calls: "tool_call",
    error: "error"
  }
  assert.strictEqual(response.finishReason, e.finish === undefined ? undefined : finish[e.finish])
  assert.strictEqual(response.providerResponseId, e.id)
  assert.strictEqual(response.modelName, e.model)
  assert.strictEqual(response.providerName, "mistral")
  assert.strictEqual(response.state, "complete")
}

const replayCase = (c: ConformanceCase, rechunkSeed?: number) =>
  Effect.gen(function* () {
    const server = yield* replayServer(c, rechunkSeed === undefined ? {} : { rechunkSeed })
    const http = yield* HttpClient.HttpClient
    const client = MistralClient.makeWith(http, {
      baseUrl: `${server.baseUrl}/v1`,
      apiKey: Redacted.make(KEY),
      retry: false
    })
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const { messages, parameters, settings } = fromWire(body)
      const model = Mistral.makeWith(client, body.model)
      const before = server.received.length
      const exit = yield* exchange(model, messages, settings, parameters, body.stream === true)
      const sent = server.received[before]
      assert.isDefined(sent, `${c.id}: no request reached the server`)
      assert.strictEqual(sent!.path, it.request.path)
      assert.strictEqual(sent!.headers.authorization, `Bearer ${KEY}`)
      assert.deepStrictEqual(normalize(sent!.body as Json), normalize(body))
      if (checkRecordedError(c.id, exit, it.response)) continue
      checkResponse(successOf(c.id, exit), expectedOf(it))
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

describeCases({
  title: "Mistral conformance",
  provider: PROVIDER,
  minCases: 29,
  skipReason,
  fidelity: (c) => {
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const { messages, parameters, settings } = fromWire(body)
      const encoded = Mistral.encodeRequest(messages, settings, parameters, {
        modelName: body.model,
        stream: body.stream === true,
        capabilities: { reasoningEffort: Mistral.hasReasoningEffort(body.model) }
      })
      if (encoded._tag === "UserError") assert.fail(`${c.id}: ${encoded.reason}`)
      const withExtra = { ...encoded, ...(settings.extraBody as Json | undefined) }
      assert.deepStrictEqual(normalize(withExtra), normalize(body))
    }
  },
  replay: replayCase,
  rechunkSeed: 31
})
