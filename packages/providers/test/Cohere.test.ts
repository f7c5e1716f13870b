import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Cohere from "../src/Cohere.js"
import { resolveModel } from "./support/registry.js"
import { loopbackServer, sseEvent as ev } from "./support/replay.js"

type Json = Record<string, any>

const encode = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: Record<string, unknown> = {},
  parameters = Model.ModelRequestParameters.empty,
  modelName = "command-a-03-2025"
): Json => {
  const body = Cohere.encodeRequest(messages, settings, parameters, {
    modelName,
    stream: false,
    thinking: Cohere.isReasoningModel(modelName)
  })
  if (body._tag === "UserError") return assert.fail(String(body.reason))
  return body
}

const weather = new Tool.ToolDefinition({
  name: "get_weather",
  description: "Weather of a city",
  parametersJsonSchema: { type: "object", properties: { city: { type: "string" } } }
})
const other = new Tool.ToolDefinition({
  name: "other",
  parametersJsonSchema: { type: "object", properties: {} }
})
const output = new Tool.ToolDefinition({
  name: "final_result",
  parametersJsonSchema: { type: "object", properties: {} }
})

const citation = {
  start: 24,
  end: 29,
  text: "sunny",
  type: "TEXT_CONTENT",
  sources: [{ type: "tool", id: "get_weather_1:0", tool_output: { content: "Sunny" } }]
}

describe("Cohere encoding", () => {
  it("the tool plan goes back as tool_plan; other providers' thinking is dropped", () => {
    const body = encode([
      Messages.userPrompt("weather?"),
      new Messages.ModelResponse({
        parts: [
          new Messages.ThinkingPart({
            content: "I will look it up.",
            id: "tool_plan",
            providerName: "cohere"
          }),
          new Messages.ThinkingPart({ content: "foreign", providerName: "openai" }),
          new Messages.ToolCallPart({
            toolName: "get_weather",
            args: { city: "Paris" },
            toolCallId: "get_weather_1"
          })
        ]
      }),
      new Messages.ModelRequest({
        parts: [
          new Messages.ToolReturnPart({
            toolName: "get_weather",
            toolCallId: "get_weather_1",
            content: "Sunny"
          })
        ]
      })
    ])
    assert.deepStrictEqual(body.messages, [
      { role: "user", content: "weather?" },
      {
        role: "assistant",
        tool_plan: "I will look it up.",
        tool_calls: [
          {
            id: "get_weather_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' }
          }
        ]
      },
      { role: "tool", tool_call_id: "get_weather_1", content: "Sunny" }
    ])
  })

  it("tool_choice: absent (auto) / REQUIRED / a list keeps those tools / none keeps output tools or sends NONE", () => {
    const params = (allowTextOutput: boolean, outputTools: Array<Tool.ToolDefinition> = []) =>
      new Model.ModelRequestParameters({
        functionTools: [weather, other],
        outputTools,
        allowTextOutput
      })
    const names = (b: Json) => (b.tools ?? []).map((t: Json) => t.function.name)
    const prompt = [Messages.userPrompt("hi")]
    const auto = encode(prompt, {}, params(true))
    assert.deepStrictEqual([auto.tool_choice, names(auto)], [undefined, ["get_weather", "other"]])
    assert.deepStrictEqual(auto.tools[0], {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather of a city",
        parameters: weather.parametersJsonSchema
      }
    })
    const forced = encode(prompt, {}, params(false, [output]))
    assert.deepStrictEqual(
      [forced.tool_choice, names(forced)],
      ["REQUIRED", ["get_weather", "other", "final_result"]]
    )
    const list = encode(prompt, { toolChoice: ["other"] }, params(true))
    assert.deepStrictEqual([list.tool_choice, names(list)], ["REQUIRED", ["other"]])
    const noneOut = encode(prompt, { toolChoice: "none" }, params(false, [output]))
    assert.deepStrictEqual([noneOut.tool_choice, names(noneOut)], ["REQUIRED", ["final_result"]])
    const none = encode(prompt, { toolChoice: "none" }, params(true))
    assert.deepStrictEqual([none.tool_choice, names(none)], ["NONE", ["get_weather", "other"]])
  })

  it("topK is Cohere's k; serviceTier is ignored", () => {
    const body = encode([Messages.userPrompt("hi")], { topK: 7, topP: 0.5, serviceTier: "flex" })
    assert.strictEqual(body.k, 7)
    assert.strictEqual(body.p, 0.5)
    assert.isUndefined(body.service_tier)
    assert.isUndefined(encode([Messages.userPrompt("hi")]).k)
  })

  it("settings, structured output and thinking (reasoning models only)", () => {
    const native = new Model.ModelRequestParameters({
      outputMode: "native",
      outputObject: new Model.OutputObjectDefinition({ jsonSchema: { type: "object" }, name: "A" })
    })
    const body = encode(
      [Messages.userPrompt("hi")],
      {
        maxTokens: 5,
        temperature: 0.1,
        topP: 0.8,
        seed: 3,
        stopSequences: ["Paris"],
        thinking: { budgetTokens: 2000 }
      },
      native,
      "command-a-reasoning-08-2025"
    )
    const { model: _m, messages: _x, ...rest } = body
    assert.deepStrictEqual(rest, {
      stream: false,
      response_format: { type: "json_object", json_schema: { type: "object" } },
      max_tokens: 5,
      temperature: 0.1,
      p: 0.8,
      seed: 3,
      stop_sequences: ["Paris"],
      thinking: { type: "enabled", token_budget: 2000 }
    })
    assert.isUndefined(encode([Messages.userPrompt("hi")], { thinking: true }).thinking)
    assert.deepStrictEqual(
      encode(
        [Messages.userPrompt("hi")],
        { thinking: false },
        undefined,
        "command-a-reasoning-08-2025"
      ).thinking,
      { type: "disabled" }
    )
    assert.deepStrictEqual(
      encode(
        [Messages.userPrompt("hi")],
        {},
        new Model.ModelRequestParameters({ outputMode: "prompted" })
      ).response_format,
      { type: "json_object" }
    )
    const pdf = Cohere.encodeRequest(
      [
        Messages.userPrompt([
          new Messages.BinaryContent({ data: new Uint8Array([1]), mediaType: "application/pdf" })
        ])
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "command-a-03-2025", stream: false, thinking: false }
    )
    assert.strictEqual(pdf._tag, "UserError")
    assert.include((pdf as { reason: string }).reason, "command-a-03-2025")
  })
})

describe("Cohere decoding", () => {
  it("keeps citations on the text part (text unchanged); markdown markers on request; billed units in details", () => {
    const r = Cohere.decodeResponse(
      {
        id: "c1",
        finish_reason: "MAX_TOKENS",
        message: {
          role: "assistant",
          content: [{ type: "text", text: "The weather in Paris is sunny." }],
          citations: [citation]
        },
        usage: {
          billed_units: { input_tokens: 3, output_tokens: 4 },
          tokens: { input_tokens: 30, output_tokens: 6 },
          cached_tokens: 20
        }
      },
      "command-a-03-2025"
    )
    if (r._tag !== "ModelResponse") return assert.fail(r.reason)
    assert.strictEqual(r.text, "The weather in Paris is sunny.")
    const part = r.parts[0] as Messages.TextPart
    assert.deepStrictEqual(Cohere.citationsOf(part), [citation])
    assert.strictEqual(
      Cohere.withCitationMarkers(part),
      "The weather in Paris is sunny[1].\n\n[1]: get_weather_1:0"
    )
    assert.deepStrictEqual(
      [r.usage.inputTokens, r.usage.outputTokens, r.usage.cacheReadTokens, r.usage.details],
      [30, 6, 20, { billed_input_tokens: 3, billed_output_tokens: 4 }]
    )
    assert.strictEqual(r.finishReason, "length")
    assert.strictEqual(r.providerFinishReason, "MAX_TOKENS")
    // the part and its citations survive the JSON round trip of history
    const back = Effect.runSync(Messages.decodeJson(Messages.encodeJson([r])))
    assert.deepStrictEqual(
      Cohere.citationsOf((back[0] as Messages.ModelResponse).parts[0] as Messages.TextPart),
      [citation]
    )
  })

  it("a body without a message is UnexpectedModelBehavior", () => {
    assert.strictEqual(Cohere.decodeResponse({ id: "x" }, "m")._tag, "UnexpectedModelBehavior")
  })
})

describe("Cohere over loopback", () => {
  it.scoped(
    "RAG: cohereDocuments go out as documents; the answer's document citations are kept and rendered (hand-made exchange: no recorded case)",
    () =>
      Effect.gen(function* () {
        const docCitation = {
          start: 0,
          end: 32,
          text: "Emperor penguins are the tallest",
          type: "TEXT_CONTENT",
          sources: [
            {
              type: "document",
              id: "penguins",
              document: {
                id: "penguins",
                snippet: "Emperor penguins are the tallest.",
                title: "Tall penguins"
              }
            }
          ]
        }
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(
            JSON.stringify({
              id: "r1",
              finish_reason: "COMPLETE",
              message: {
                role: "assistant",
                content: [{ type: "text", text: "Emperor penguins are the tallest." }],
                citations: [docCitation]
              },
              usage: { tokens: { input_tokens: 50, output_tokens: 8 } }
            })
          )
        })
        const documents: ReadonlyArray<Cohere.Document> = [
          {
            id: "penguins",
            data: { title: "Tall penguins", snippet: "Emperor penguins are the tallest." }
          },
          "Penguins live in the southern hemisphere."
        ]
        const settings: Cohere.Settings = { cohereDocuments: documents }
        const model = yield* Cohere.make("command-a-03-2025", { settings }).pipe(
          Effect.provide(
            Cohere.layer({ baseUrl: server.baseUrl, apiKey: Redacted.make("k"), retry: false })
          )
        )
        const r = yield* model.request(
          [Messages.userPrompt("Which penguins are the tallest?")],
          {},
          Model.ModelRequestParameters.empty
        )
        assert.deepStrictEqual((server.requests[0]!.body as Json).documents, documents)
        const text = r.parts[0] as Messages.TextPart
        assert.strictEqual(text.content, "Emperor penguins are the tallest.")
        assert.deepStrictEqual(Cohere.citationsOf(text), [docCitation])
        assert.strictEqual(
          Cohere.withCitationMarkers(text),
          "Emperor penguins are the tallest[1].\n\n[1]: penguins"
        )
        // No documents: no `documents` key.
        assert.isFalse("documents" in encode([Messages.userPrompt("hi")]))
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped(
    "streams the tool plan, a tool call, text with citations, usage and finish reason",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(
            ev("message-start", { id: "s1", delta: { message: { role: "assistant" } } }) +
              ev("tool-plan-delta", { delta: { message: { tool_plan: "I will " } } }) +
              ev("tool-plan-delta", { delta: { message: { tool_plan: "check." } } }) +
              ev("tool-call-start", {
                index: 0,
                delta: {
                  message: {
                    tool_calls: {
                      id: "get_weather_1",
                      type: "function",
                      function: { name: "get_weather", arguments: "" }
                    }
                  }
                }
              }) +
              ev("tool-call-delta", {
                index: 0,
                delta: { message: { tool_calls: { function: { arguments: '{"city":' } } } }
              }) +
              ev("tool-call-delta", {
                index: 0,
                delta: { message: { tool_calls: { function: { arguments: '"Paris"}' } } } }
              }) +
              ev("tool-call-end", { index: 0 }) +
              ev("content-start", {
                index: 0,
                delta: { message: { content: { type: "text", text: "" } } }
              }) +
              ev("content-delta", {
                index: 0,
                delta: { message: { content: { text: "The weather in Paris " } } }
              }) +
              ev("content-delta", {
                index: 0,
                delta: { message: { content: { text: "is sunny." } } }
              }) +
              ev("citation-start", { index: 0, delta: { message: { citations: citation } } }) +
              ev("citation-end", { index: 0 }) +
              ev("content-end", { index: 0 }) +
              ev("debug", { whatever: 1 }) +
              ev("message-end", {
                delta: {
                  finish_reason: "TOOL_CALL",
                  usage: {
                    billed_units: { input_tokens: 2, output_tokens: 3 },
                    tokens: { input_tokens: 20, output_tokens: 9 }
                  }
                }
              })
          )
        })
        const model = yield* Cohere.make("command-a-03-2025").pipe(
          Effect.provide(
            Cohere.layer({
              baseUrl: server.baseUrl,
              apiKey: Redacted.make("co-secret"),
              retry: false
            })
          )
        )
        const s = yield* model.requestStream(
          [Messages.userPrompt("weather?")],
          {},
          new Model.ModelRequestParameters({ functionTools: [weather] })
        )
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(s.events))
        const r = yield* s.response
        assert.deepStrictEqual(
          r.parts.map((p) => [
            p._tag,
            p._tag === "ToolCallPart" ? p.argsAsJson() : "content" in p ? p.content : p._tag
          ]),
          [
            ["ThinkingPart", "I will check."],
            ["ToolCallPart", '{"city":"Paris"}'],
            ["TextPart", "The weather in Paris is sunny."]
          ]
        )
        assert.strictEqual(r.thinking[0]!.id, "tool_plan")
        assert.strictEqual(r.toolCalls[0]!.toolCallId, "get_weather_1")
        assert.deepStrictEqual(Cohere.citationsOf(r.parts[2] as Messages.TextPart), [citation])
        assert.deepStrictEqual(
          [r.usage.inputTokens, r.usage.outputTokens, r.usage.details.billed_input_tokens],
          [20, 9, 2]
        )
        assert.strictEqual(r.finishReason, "tool_call")
        assert.strictEqual(r.providerResponseId, "s1")
        // the tool call part ended at tool-call-end, before the text started
        const toolEnd = events.findIndex(
          (e) => e._tag === "PartEndEvent" && e.part._tag === "ToolCallPart"
        )
        const textStart = events.findIndex(
          (e) => e._tag === "PartStartEvent" && e.part._tag === "TextPart"
        )
        assert.isTrue(toolEnd >= 0 && toolEnd < textStart)
        const sent = server.requests[0]!
        assert.strictEqual(sent.path, "/v2/chat")
        assert.strictEqual(sent.headers.authorization, "Bearer co-secret")
        assert.strictEqual((sent.body as Json).stream, true)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped(
    "a 429 with Retry-After is a ModelHTTPError carrying it (retries off), without the key",
    () =>
      Effect.gen(function* () {
        const body = { message: "trial key rate limit" }
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(429, { "content-type": "application/json", "retry-after": "7" })
          res.end(JSON.stringify(body))
        })
        const model = yield* Cohere.make("command-a-03-2025").pipe(
          Effect.provide(
            Cohere.layer({
              baseUrl: server.baseUrl,
              apiKey: Redacted.make("co-secret"),
              retry: false
            })
          )
        )
        const error = yield* Effect.flip(
          model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        )
        assert.strictEqual(error._tag, "ModelHTTPError")
        if (error._tag === "ModelHTTPError") {
          assert.strictEqual(error.status, 429)
          assert.strictEqual(error.retryAfterMillis, 7000)
          assert.deepStrictEqual(error.body, body)
        }
        assert.notInclude(JSON.stringify(error), "co-secret")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})

describe("Cohere in the registry", () => {
  const resolve = resolveModel
  it.effect(
    "cohere:<model> reads CO_API_KEY or COHERE_API_KEY; a missing key names CO_API_KEY",
    () =>
      Effect.gen(function* () {
        const a = yield* resolve("cohere:command-a-03-2025", { CO_API_KEY: "k" })
        assert.strictEqual(a.system, "cohere")
        const b = yield* resolve("cohere:command-a-reasoning-08-2025", { COHERE_API_KEY: "k" })
        assert.isTrue(b.profile.supportsThinking)
        const error = yield* Effect.flip(resolve("cohere:command-a-03-2025", {}))
        assert.include(error.message, "CO_API_KEY")
      })
  )
})
