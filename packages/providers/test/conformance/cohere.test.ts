/**
 * Conformance of the Cohere v2 chat provider against pydantic-ai's recorded traffic (the four
 * embedding cases filed under cohere are replayed by `embeddings.test.ts`):
 * - request fidelity: each recorded `/v2/chat` body is converted back into agentfx messages,
 *   tools and settings, re-encoded by `encodeRequest`, and compared structurally;
 * - response decoding: every recorded exchange is replayed from a loopback server through the
 *   real model; text, tool plan (a thinking part), tool calls, citations, usage (tokens, cache
 *   reads, billed units), finish reason and response id must equal an independent reading of
 *   the recorded body; the request that reached the server must equal the recording and carry
 *   the key as a bearer token.
 */
import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Cohere from "../../src/Cohere.js"
import * as CohereClient from "../../src/CohereClient.js"
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

const PROVIDER = "cohere"
const KEY = "cohere-conformance-key"

/** Cases out of scope here, matched by substring of the id, with the reason. */
const SKIPS: ReadonlyArray<readonly [string, string]> = [
  ["test_embeddings", "embeddings: replayed by conformance/embeddings.test.ts"]
]

const isOurs = (it: Interaction) =>
  it.endpoint === "chat" && it.request.method === "POST" && it.provider === PROVIDER

const skipReason = skipReasonOf(SKIPS, isOurs, "Cohere /v2/chat")

const fromWire = (body: Json) => {
  const messages: Array<Messages.ModelMessage> = []
  const toolNames = new Map<string, string>()
  let parts: Array<Messages.ModelRequestPart> = []
  const flush = () => {
    if (parts.length > 0) messages.push(new Messages.ModelRequest({ parts }))
    parts = []
  }
  for (const m of body.messages as Array<Json>) {
    if (m.role === "assistant") {
      flush()
      const rparts: Array<Messages.ModelResponsePart> = []
      if (typeof m.tool_plan === "string")
        rparts.push(
          new Messages.ThinkingPart({
            content: m.tool_plan,
            id: "tool_plan",
            providerName: "cohere"
          })
        )
      for (const c of (m.content ?? []) as Array<Json>)
        if (c.type === "text") rparts.push(new Messages.TextPart({ content: c.text }))
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
      messages.push(new Messages.ModelResponse({ parts: rparts, providerName: "cohere" }))
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
    else parts.push(new Messages.UserPromptPart({ content: m.content }))
  }
  flush()
  const toolDef = (t: Json) =>
    new Tool.ToolDefinition({
      name: t.function.name,
      ...(t.function.description !== undefined ? { description: t.function.description } : {}),
      parametersJsonSchema: t.function.parameters
    })
  const tools = (body.tools ?? []) as Array<Json>
  const isOutput = (t: Json) => String(t.function.name).startsWith("final_result")
  const outputTools = tools.filter(isOutput).map(toolDef)
  const functionTools = tools.filter((t) => !isOutput(t)).map(toolDef)
  const settings: Record<string, unknown> = {}
  let allowTextOutput = true
  if (body.tool_choice === "REQUIRED") {
    if (outputTools.length > 0) allowTextOutput = false
    else settings.toolChoice = "required"
  } else if (body.tool_choice === "NONE") settings.toolChoice = "none"
  if (body.max_tokens !== undefined) settings.maxTokens = body.max_tokens
  if (body.temperature !== undefined) settings.temperature = body.temperature
  if (body.p !== undefined) settings.topP = body.p
  if (body.seed !== undefined) settings.seed = body.seed
  if (body.stop_sequences !== undefined) settings.stopSequences = body.stop_sequences
  const parameters = new Model.ModelRequestParameters({
    functionTools,
    outputTools,
    allowTextOutput
  })
  return { messages, parameters, settings }
}

const expectCitations = (message: Json, contentIndex: number) =>
  ((message.citations ?? []) as Array<Json>).filter(
    (c) => c.content_index === undefined || c.content_index === contentIndex
  )

const checkResponse = (response: Messages.ModelResponse, r: Json) => {
  const message = r.message
  const content = (message.content ?? []) as Array<Json>
  assert.strictEqual(
    response.text,
    content
      .filter((c) => c.type === "text")
      .map((c) => c.text)
      .join("")
  )
  // The tool plan is a thinking part (id tool_plan), first.
  assert.deepStrictEqual(
    response.thinking.map((t) => ({ content: t.content, id: t.id, provider: t.providerName })),
    message.tool_plan === undefined
      ? []
      : [{ content: message.tool_plan, id: "tool_plan", provider: "cohere" }]
  )
  assert.deepStrictEqual(
    response.toolCalls.map((c) => ({ name: c.toolName, id: c.toolCallId, args: c.argsAsObject() })),
    ((message.tool_calls ?? []) as Array<Json>).map((c) => ({
      name: c.function.name,
      id: c.id,
      args: JSON.parse(c.function.arguments)
    }))
  )
  // Citations stay on their text part, as sent; the text is unchanged.
  const texts = response.parts.filter((p): p is Messages.TextPart => p._tag === "TextPart")
  assert.deepStrictEqual(
    texts.map((p) => Cohere.citationsOf(p)),
    content.flatMap((c, i) => (c.type === "text" ? [expectCitations(message, i)] : []))
  )
  const u = r.usage ?? {}
  assert.strictEqual(response.usage.inputTokens, u.tokens?.input_tokens ?? 0)
  assert.strictEqual(response.usage.outputTokens, u.tokens?.output_tokens ?? 0)
  assert.strictEqual(response.usage.cacheReadTokens, u.cached_tokens ?? 0)
  assert.strictEqual(response.usage.details.billed_input_tokens, u.billed_units?.input_tokens)
  assert.strictEqual(response.usage.details.billed_output_tokens, u.billed_units?.output_tokens)
  const finish: Record<string, string> = {
    COMPLETE: "stop",
    STOP_SEQUENCE: "stop",
    MAX_TOKENS: "length",
    TOOL_CALL: "tool_call",
    ERROR: "error"
  }
  assert.strictEqual(response.providerFinishReason, r.finish_reason)
  assert.strictEqual(response.finishReason, finish[r.finish_reason])
  assert.strictEqual(response.providerResponseId, r.id)
  assert.strictEqual(response.providerName, "cohere")
  assert.strictEqual(response.state, "complete")
}

const replayCase = (c: ConformanceCase, rechunkSeed?: number) =>
  Effect.gen(function* () {
    const server = yield* replayServer(c, rechunkSeed === undefined ? {} : { rechunkSeed })
    const http = yield* HttpClient.HttpClient
    const client = CohereClient.makeWith(http, {
      baseUrl: server.baseUrl,
      apiKey: Redacted.make(KEY),
      retry: false
    })
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const { messages, parameters, settings } = fromWire(body)
      const model = Cohere.makeWith(client, body.model)
      const before = server.received.length
      const exit = yield* exchange(model, messages, settings, parameters, body.stream === true)
      const sent = server.received[before]
      assert.isDefined(sent, `${c.id}: no request reached the server`)
      assert.strictEqual(sent!.path, it.request.path)
      assert.strictEqual(sent!.headers.authorization, `Bearer ${KEY}`)
      assert.deepStrictEqual(JSON.parse(canonical(sent!.body)), JSON.parse(canonical(body)))
      if (checkRecordedError(c.id, exit, it.response)) continue
      checkResponse(successOf(c.id, exit), it.response.json as Json)
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

describeCases({
  title: "Cohere chat conformance",
  provider: PROVIDER,
  minCases: 11,
  skipReason,
  fidelity: (c) => {
    for (const it of c.interactions.filter(isOurs)) {
      const body = it.request.body as Json
      const { messages, parameters, settings } = fromWire(body)
      const encoded = Cohere.encodeRequest(messages, settings, parameters, {
        modelName: body.model,
        stream: body.stream === true,
        thinking: Cohere.isReasoningModel(body.model)
      })
      if (encoded._tag === "UserError") assert.fail(`${c.id}: ${encoded.reason}`)
      assert.deepStrictEqual(JSON.parse(canonical(encoded)), JSON.parse(canonical(body)))
    }
  },
  replay: replayCase,
  rechunkSeed: 37
})
