import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Mistral from "../src/Mistral.js"
import { resolveModel } from "./support/registry.js"
import { loopbackServer } from "./support/replay.js"

type Json = Record<string, any>

const encode = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: Record<string, unknown> = {},
  parameters = Model.ModelRequestParameters.empty,
  modelName = "mistral-large-latest"
): Json => {
  const body = Mistral.encodeRequest(messages, settings, parameters, {
    modelName,
    stream: false,
    capabilities: { reasoningEffort: Mistral.hasReasoningEffort(modelName) }
  })
  if (body._tag === "UserError") return assert.fail(String(body.reason))
  return body
}

const weather = new Tool.ToolDefinition({
  name: "get_weather",
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

describe("Mistral encoding", () => {
  it("has no top-k or service tier: topK / serviceTier are not sent", () => {
    const body = encode([Messages.userPrompt("hi")], { topK: 7, serviceTier: "flex", topP: 0.5 })
    assert.strictEqual(body.top_p, 0.5)
    assert.isUndefined(body.top_k)
    assert.isUndefined(body.k)
    assert.isUndefined(body.service_tier)
  })

  it("maps tool call ids from other providers to one stable 9-character id; Mistral's stay", () => {
    const history = [
      new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: "weather?" })] }),
      new Messages.ModelResponse({
        parts: [
          new Messages.ThinkingPart({
            content: "foreign",
            providerName: "anthropic",
            signature: "s"
          }),
          new Messages.ToolCallPart({
            toolName: "get_weather",
            args: { city: "Paris" },
            toolCallId: "toolu_01ABC-def"
          }),
          new Messages.ToolCallPart({
            toolName: "get_weather",
            args: "{}",
            toolCallId: "abcDEF123"
          })
        ],
        providerName: "anthropic"
      }),
      new Messages.ModelRequest({
        parts: [
          new Messages.ToolReturnPart({
            toolName: "get_weather",
            toolCallId: "toolu_01ABC-def",
            content: "sunny"
          }),
          new Messages.ToolReturnPart({
            toolName: "get_weather",
            toolCallId: "abcDEF123",
            content: "rain"
          })
        ]
      })
    ]
    const body = encode(history)
    const assistant = body.messages[1]
    const id = assistant.tool_calls[0].id
    assert.match(id, /^[a-zA-Z0-9]{9}$/)
    assert.strictEqual(id, Mistral.toolCallIdFor("toolu_01ABC-def"))
    assert.strictEqual(assistant.tool_calls[1].id, "abcDEF123")
    // the foreign thinking is dropped; tool calls carry type, index and JSON arguments
    assert.deepStrictEqual(assistant, {
      role: "assistant",
      content: [],
      prefix: false,
      tool_calls: [
        {
          id,
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          index: 0
        },
        {
          id: "abcDEF123",
          type: "function",
          function: { name: "get_weather", arguments: "{}" },
          index: 1
        }
      ]
    })
    assert.deepStrictEqual(body.messages.slice(2), [
      { role: "tool", tool_call_id: id, content: "sunny" },
      { role: "tool", tool_call_id: "abcDEF123", content: "rain" }
    ])
  })

  it("a conversation ending on the model's words is sent with prefix: true; Mistral thinking goes back as a chunk", () => {
    const body = encode([
      new Messages.ModelRequest({
        parts: [new Messages.UserPromptPart({ content: "Write a haiku" })],
        instructions: "Be brief."
      }),
      new Messages.ModelResponse({
        parts: [
          new Messages.ThinkingPart({ content: "five syllables", providerName: "mistral" }),
          new Messages.TextPart({ content: "Autumn moonlight" })
        ]
      })
    ])
    assert.deepStrictEqual(body.messages, [
      { role: "system", content: "Be brief." },
      { role: "user", content: "Write a haiku" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: [{ type: "text", text: "five syllables" }] },
          { type: "text", text: "Autumn moonlight" }
        ],
        prefix: true
      }
    ])
  })

  it("files returned by a tool: referenced in the tool message, sent after an assistant OK", () => {
    const image = new Messages.BinaryContent({
      data: new Uint8Array([1, 2, 3]),
      mediaType: "image/png"
    })
    const id = Messages.fileIdentifier(image)
    const body = encode([
      new Messages.ModelRequest({
        parts: [
          new Messages.ToolReturnPart({
            toolName: "get_file",
            toolCallId: "abcDEF123",
            content: image
          })
        ]
      })
    ])
    assert.deepStrictEqual(body.messages, [
      { role: "tool", tool_call_id: "abcDEF123", content: `See file ${id}.` },
      { role: "assistant", content: [{ type: "text", text: "OK" }], prefix: false },
      {
        role: "user",
        content: [
          { type: "text", text: `This is file ${id}:` },
          { type: "image_url", image_url: { url: image.dataUrl } }
        ]
      }
    ])
  })

  it("documents are document_url chunks; text files are inlined; audio and video are a UserError", () => {
    const pdf = new Messages.BinaryContent({
      data: new Uint8Array([37, 80]),
      mediaType: "application/pdf"
    })
    const txt = new Messages.BinaryContent({
      data: new TextEncoder().encode("hello"),
      mediaType: "text/plain",
      identifier: "notes"
    })
    const body = encode([
      Messages.userPrompt([pdf, txt, new Messages.DocumentUrl({ url: "https://x.test/a.pdf" })])
    ])
    assert.deepStrictEqual(body.messages[0].content, [
      { type: "document_url", document_url: pdf.dataUrl },
      {
        type: "text",
        text: '-----BEGIN FILE id="notes" type="text/plain"-----\nhello\n-----END FILE id="notes"-----'
      },
      { type: "document_url", document_url: "https://x.test/a.pdf" }
    ])
    const audio = Mistral.encodeRequest(
      [Messages.userPrompt([new Messages.AudioUrl({ url: "https://x.test/a.mp3" })])],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "mistral-small-latest", stream: false, capabilities: { reasoningEffort: true } }
    )
    assert.strictEqual(audio._tag, "UserError")
    assert.include((audio as { reason: string }).reason, "mistral-small-latest")
  })

  it("tool_choice: auto / any when text is not allowed / a list keeps only those tools / none keeps output tools", () => {
    const params = (allowTextOutput: boolean, outputTools: Array<Tool.ToolDefinition> = []) =>
      new Model.ModelRequestParameters({
        functionTools: [weather, other],
        outputTools,
        allowTextOutput
      })
    const names = (b: Json) => (b.tools ?? []).map((t: Json) => t.function.name)
    const prompt = [Messages.userPrompt("hi")]
    const auto = encode(prompt, {}, params(true))
    assert.deepStrictEqual([auto.tool_choice, names(auto)], ["auto", ["get_weather", "other"]])
    assert.deepStrictEqual(auto.tools[0], {
      function: { name: "get_weather", description: "", parameters: weather.parametersJsonSchema }
    })
    const forced = encode(prompt, {}, params(false, [output]))
    assert.deepStrictEqual(
      [forced.tool_choice, names(forced)],
      ["any", ["get_weather", "other", "final_result"]]
    )
    const list = encode(prompt, { toolChoice: ["other"] }, params(true))
    assert.deepStrictEqual([list.tool_choice, names(list)], ["any", ["other"]])
    const none = encode(prompt, { toolChoice: "none" }, params(false, [output]))
    assert.deepStrictEqual([none.tool_choice, names(none)], ["any", ["final_result"]])
    const noneAtAll = encode(prompt, { toolChoice: "none" }, params(true))
    assert.isUndefined(noneAtAll.tools)
    assert.isUndefined(noneAtAll.tool_choice)
  })

  it("settings, structured output, reasoning effort and safe_prompt", () => {
    const native = new Model.ModelRequestParameters({
      outputMode: "native",
      outputObject: new Model.OutputObjectDefinition({
        jsonSchema: { type: "object", properties: { a: { type: "string" } } },
        name: "Answer",
        strict: true
      })
    })
    const body = encode(
      [Messages.userPrompt("hi")],
      {
        maxTokens: 10,
        temperature: 0.2,
        topP: 0.9,
        seed: 7,
        stopSequences: ["x"],
        thinking: "low"
      },
      native,
      "mistral-small-latest"
    )
    assert.deepStrictEqual(
      {
        response_format: body.response_format,
        max_tokens: body.max_tokens,
        temperature: body.temperature,
        top_p: body.top_p,
        random_seed: body.random_seed,
        stop: body.stop,
        reasoning_effort: body.reasoning_effort
      },
      {
        response_format: {
          type: "json_schema",
          json_schema: { name: "Answer", schema: native.outputObject!.jsonSchema, strict: true }
        },
        max_tokens: 10,
        temperature: 0.2,
        top_p: 0.9,
        random_seed: 7,
        stop: ["x"],
        reasoning_effort: "high"
      }
    )
    assert.strictEqual(
      encode([Messages.userPrompt("hi")], { thinking: false }, undefined, "mistral-small-latest")
        .reasoning_effort,
      "none"
    )
    // magistral always thinks: nothing to send
    assert.isUndefined(
      encode([Messages.userPrompt("hi")], { thinking: true }, undefined, "magistral-medium-latest")
        .reasoning_effort
    )
    const prompted = encode(
      [Messages.userPrompt("hi")],
      {},
      new Model.ModelRequestParameters({ outputMode: "prompted" })
    )
    assert.deepStrictEqual(prompted.response_format, { type: "json_object" })
    const safe = Mistral.encodeRequest(
      [Messages.userPrompt("hi")],
      {},
      Model.ModelRequestParameters.empty,
      {
        modelName: "mistral-large-latest",
        stream: true,
        capabilities: { reasoningEffort: false },
        safePrompt: true
      }
    ) as Json
    assert.strictEqual(safe.safe_prompt, true)
    assert.strictEqual(safe.stream, true)
    const bias = Mistral.encodeRequest(
      [Messages.userPrompt("hi")],
      { logitBias: { "1": 1 } },
      Model.ModelRequestParameters.empty,
      {
        modelName: "mistral-large-latest",
        stream: false,
        capabilities: { reasoningEffort: false }
      }
    )
    assert.strictEqual(bias._tag, "UserError")
    assert.isTrue(Mistral.profileFor("magistral-small-latest").supportsThinking)
    assert.isFalse(Mistral.profileFor("mistral-large-latest").supportsThinking)
  })
})

describe("Mistral decoding", () => {
  it("content as chunks (magistral): thinking then text; model_length is length; cache hits from num_cached_tokens", () => {
    const r = Mistral.decodeResponse(
      {
        id: "r1",
        model: "magistral-medium-latest",
        created: 1_700_000_000,
        choices: [
          {
            index: 0,
            finish_reason: "model_length",
            message: {
              role: "assistant",
              content: [
                {
                  type: "thinking",
                  thinking: [
                    { type: "text", text: "Let me " },
                    { type: "text", text: "think" }
                  ]
                },
                { type: "text", text: "4" },
                { type: "text", text: "2" }
              ]
            }
          }
        ],
        usage: { prompt_tokens: 10, completion_tokens: 5, num_cached_tokens: 4 }
      },
      "magistral-medium-latest"
    )
    if (r._tag !== "ModelResponse") return assert.fail(r.reason)
    assert.deepStrictEqual(
      r.parts.map((p) => [
        p._tag,
        p._tag === "ToolCallPart" ? p.toolName : "content" in p ? p.content : p._tag
      ]),
      [
        ["ThinkingPart", "Let me think"],
        ["TextPart", "42"]
      ]
    )
    assert.strictEqual(r.thinking[0]!.providerName, "mistral")
    assert.strictEqual(r.finishReason, "length")
    assert.strictEqual(r.providerFinishReason, "model_length")
    assert.deepStrictEqual(
      [r.usage.inputTokens, r.usage.outputTokens, r.usage.cacheReadTokens],
      [10, 5, 4]
    )
    assert.strictEqual(r.providerResponseId, "r1")
    assert.strictEqual(r.timestamp.getTime(), 1_700_000_000_000)
  })

  it("a body without choices is UnexpectedModelBehavior", () => {
    assert.strictEqual(
      Mistral.decodeResponse({ object: "list" }, "m")._tag,
      "UnexpectedModelBehavior"
    )
  })
})

const sse = (chunks: Array<unknown>) =>
  `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`

describe("Mistral over loopback", () => {
  it.scoped("streams thinking, text and a tool call; sends the key as a bearer token", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(
          sse([
            {
              id: "s1",
              model: "magistral-small-latest",
              choices: [{ index: 0, delta: { role: "assistant", content: "" } }]
            },
            {
              id: "s1",
              choices: [
                {
                  index: 0,
                  delta: {
                    content: [{ type: "thinking", thinking: [{ type: "text", text: "Hmm" }] }]
                  }
                }
              ]
            },
            {
              id: "s1",
              choices: [
                {
                  index: 0,
                  delta: {
                    content: [{ type: "thinking", thinking: [{ type: "text", text: ", ok" }] }]
                  }
                }
              ]
            },
            { id: "s1", choices: [{ index: 0, delta: { content: "Calling" } }] },
            {
              id: "s1",
              choices: [
                {
                  index: 0,
                  delta: {
                    tool_calls: [
                      {
                        id: "AbC123xyZ",
                        index: 0,
                        function: { name: "get_weather", arguments: '{"city":"Paris"}' }
                      }
                    ]
                  },
                  finish_reason: "tool_calls"
                }
              ],
              usage: {
                prompt_tokens: 12,
                completion_tokens: 8,
                prompt_tokens_details: { cached_tokens: 3 }
              }
            }
          ])
        )
      })
      const model = yield* Mistral.make("magistral-small-latest").pipe(
        Effect.provide(
          Mistral.layer({
            baseUrl: `${server.baseUrl}/v1`,
            apiKey: Redacted.make("mk-secret"),
            retry: false
          })
        )
      )
      const s = yield* model.requestStream(
        [Messages.userPrompt("weather in Paris?")],
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
          ["ThinkingPart", "Hmm, ok"],
          ["TextPart", "Calling"],
          ["ToolCallPart", '{"city":"Paris"}']
        ]
      )
      assert.strictEqual(r.toolCalls[0]!.toolCallId, "AbC123xyZ")
      assert.deepStrictEqual(
        [r.usage.inputTokens, r.usage.outputTokens, r.usage.cacheReadTokens],
        [12, 8, 3]
      )
      assert.strictEqual(r.finishReason, "tool_call")
      assert.strictEqual(r.providerResponseId, "s1")
      assert.strictEqual(r.modelName, "magistral-small-latest")
      assert.isAtLeast(events.filter((e) => e._tag === "PartStartEvent").length, 3)
      const sent = server.requests[0]!
      assert.strictEqual(sent.path, "/v1/chat/completions")
      assert.strictEqual(sent.headers.authorization, "Bearer mk-secret")
      assert.strictEqual((sent.body as Json).stream, true)
      assert.strictEqual((sent.body as Json).tool_choice, "auto")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("a 400 is a ModelHTTPError with Mistral's body, without the key", () =>
    Effect.gen(function* () {
      const body = {
        object: "error",
        message: "Invalid model: nope",
        type: "invalid_model",
        code: "1500"
      }
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(400, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      })
      const model = yield* Mistral.make("nope").pipe(
        Effect.provide(
          Mistral.layer({
            baseUrl: server.baseUrl,
            apiKey: Redacted.make("mk-secret"),
            retry: false
          })
        )
      )
      const error = yield* Effect.flip(
        model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
      )
      assert.strictEqual(error._tag, "ModelHTTPError")
      if (error._tag === "ModelHTTPError") {
        assert.strictEqual(error.status, 400)
        assert.deepStrictEqual(error.body, body)
      }
      assert.notInclude(JSON.stringify(error), "mk-secret")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})

describe("Mistral in the registry", () => {
  const resolve = resolveModel
  it.effect("mistral:<model> reads MISTRAL_API_KEY; a missing key names it", () =>
    Effect.gen(function* () {
      const model = yield* resolve("mistral:mistral-large-latest", { MISTRAL_API_KEY: "k" })
      assert.strictEqual(model.modelName, "mistral-large-latest")
      assert.strictEqual(model.system, "mistral")
      const error = yield* Effect.flip(resolve("mistral:mistral-large-latest", {}))
      assert.include(error.message, "MISTRAL_API_KEY")
    })
  )
})
