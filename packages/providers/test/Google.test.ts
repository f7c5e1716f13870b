import { Agent, AgentError, Messages, Model, PartsManager, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import { type ConformanceCase, loadCase, replayServer, sseData } from "./support/replay.js"

const loadInteractions = (id: string) => [...loadCase("google", id).interactions] as Array<any>

const params = (fields: ConstructorParameters<typeof Model.ModelRequestParameters>[0]) =>
  new Model.ModelRequestParameters(fields)

const tool = (name: string, strict?: boolean) =>
  new Tool.ToolDefinition({
    name,
    parametersJsonSchema: {
      type: "object",
      properties: { city: { type: "string", title: "City" } }
    },
    ...(strict !== undefined ? { strict } : {})
  })

const decode = (json: unknown) => Google.decodeResponse(json, { modelName: "gemini-2.5-flash" })

describe("Google.encodeRequest", () => {
  it("puts instructions and system prompts in systemInstruction and user content in contents", () => {
    const body = Google.encodeRequest(
      [
        new Messages.ModelRequest({
          parts: [
            new Messages.SystemPromptPart({ content: "Be terse." }),
            new Messages.UserPromptPart({
              content: [
                "Look:",
                new Messages.BinaryContent({
                  data: new Uint8Array([1, 2, 3]),
                  mediaType: "image/png"
                }),
                new Messages.VideoUrl({ url: "https://youtu.be/abc" }),
                new Messages.DocumentUrl({ url: "gs://bucket/file.pdf" })
              ]
            })
          ],
          instructions: "You are a chatbot."
        })
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gemini-2.5-flash" }
    )
    assert.deepStrictEqual(body.systemInstruction, {
      role: "user",
      parts: [{ text: "You are a chatbot." }, { text: "Be terse." }]
    })
    assert.deepStrictEqual(body.contents, [
      {
        role: "user",
        parts: [
          { text: "Look:" },
          { inlineData: { mimeType: "image/png", data: "AQID" } },
          { fileData: { fileUri: "https://youtu.be/abc", mimeType: "video/mp4" } },
          { fileData: { fileUri: "gs://bucket/file.pdf", mimeType: "application/pdf" } }
        ]
      }
    ])
    assert.deepStrictEqual(body.generationConfig, { responseModalities: ["TEXT"] })
    assert.isUndefined(body.tools)
  })

  it("sends a placeholder content when there is nothing to send (Gemini needs one)", () => {
    const body = Google.encodeRequest([], {}, Model.ModelRequestParameters.empty, {
      modelName: "gemini-2.5-flash"
    })
    assert.deepStrictEqual(body.contents, [{ role: "user", parts: [{ text: "" }] }])
  })

  it("encodes tool calls, tool returns and retry prompts", () => {
    const body = Google.encodeRequest(
      [
        Messages.userPrompt("weather?"),
        new Messages.ModelResponse({
          parts: [
            new Messages.ToolCallPart({
              toolName: "weather",
              args: '{"city":"Paris"}',
              toolCallId: "c1"
            }),
            new Messages.ToolCallPart({ toolName: "time", args: { tz: "CET" }, toolCallId: "c2" })
          ],
          providerName: "google"
        }),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({
              toolName: "weather",
              toolCallId: "c1",
              content: "sunny"
            }),
            new Messages.ToolReturnPart({
              toolName: "time",
              toolCallId: "c2",
              content: { hour: 12 }
            }),
            new Messages.RetryPromptPart({
              content: "bad city",
              toolName: "weather",
              toolCallId: "c3"
            }),
            new Messages.RetryPromptPart({ content: "not JSON" })
          ]
        })
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gemini-2.5-flash" }
    )
    assert.deepStrictEqual(body.contents[1], {
      role: "model",
      parts: [
        { functionCall: { name: "weather", args: { city: "Paris" }, id: "c1" } },
        { functionCall: { name: "time", args: { tz: "CET" }, id: "c2" } }
      ]
    })
    assert.deepStrictEqual(body.contents[2], {
      role: "user",
      parts: [
        { functionResponse: { name: "weather", response: { return_value: "sunny" }, id: "c1" } },
        { functionResponse: { name: "time", response: { hour: 12 }, id: "c2" } },
        {
          functionResponse: {
            name: "weather",
            response: { error: "bad city\n\nFix the errors and try again." },
            id: "c3"
          }
        },
        { text: "Validation feedback:\nnot JSON\n\nFix the errors and try again." }
      ]
    })
  })

  it("sends thought signatures back only to Google, and signs foreign function calls for Gemini 3", () => {
    const response = (providerName: string) =>
      new Messages.ModelResponse({
        parts: [
          new Messages.ThinkingPart({ content: "hmm", signature: "SIG1", providerName }),
          new Messages.TextPart({ content: "Hi", providerDetails: { thoughtSignature: "SIG2" } }),
          new Messages.ToolCallPart({
            toolName: "f",
            args: {},
            toolCallId: "c",
            providerDetails: { thoughtSignature: "SIG3" }
          })
        ],
        providerName
      })
    const encode = (r: Messages.ModelResponse, modelName: string) =>
      Google.encodeRequest([Messages.userPrompt("q"), r], {}, Model.ModelRequestParameters.empty, {
        modelName
      }).contents[1]
    assert.deepStrictEqual(encode(response("google"), "gemini-2.5-flash"), {
      role: "model",
      parts: [
        { text: "hmm", thought: true, thoughtSignature: "SIG1" },
        { text: "Hi", thoughtSignature: "SIG2" },
        { functionCall: { name: "f", args: {}, id: "c" }, thoughtSignature: "SIG3" }
      ]
    })
    assert.deepStrictEqual(encode(response("anthropic"), "gemini-2.5-flash"), {
      role: "model",
      parts: [
        { text: "hmm", thought: true },
        { text: "Hi" },
        { functionCall: { name: "f", args: {}, id: "c" } }
      ]
    })
    assert.deepStrictEqual(encode(response("anthropic"), "gemini-3-pro-preview")!.parts[2], {
      functionCall: { name: "f", args: {}, id: "c" },
      thoughtSignature: Google.skipSignatureValidator
    })
  })

  it("declares tools with the Gemini schema transformer", () => {
    const body = Google.encodeRequest(
      [Messages.userPrompt("q")],
      {},
      params({ functionTools: [tool("weather", false)] }),
      { modelName: "gemini-2.0-flash" }
    )
    assert.deepStrictEqual(body.tools, [
      {
        functionDeclarations: [
          {
            name: "weather",
            description: "",
            parametersJsonSchema: { type: "object", properties: { city: { type: "string" } } }
          }
        ]
      }
    ])
    assert.isUndefined(body.toolConfig)
  })

  it("sends a tool's return schema as responseJsonSchema when it asks for it", () => {
    const returning = (include: boolean) =>
      new Tool.ToolDefinition({
        ...tool("weather"),
        returnSchema: {
          type: "object",
          properties: { sky: { type: "string", title: "Sky" } },
          required: ["sky"]
        },
        includeReturnSchema: include
      })
    const declared = (include: boolean) =>
      (
        Google.encodeRequest(
          [Messages.userPrompt("q")],
          {},
          params({ functionTools: [returning(include)] }),
          { modelName: "gemini-2.5-flash" }
        ).tools as unknown as Array<{ functionDeclarations: Array<Record<string, unknown>> }>
      )[0]!.functionDeclarations[0]!
    assert.deepStrictEqual(declared(true).responseJsonSchema, {
      type: "object",
      properties: { sky: { type: "string" } },
      required: ["sky"]
    })
    assert.strictEqual(declared(true).description, "")
    assert.isFalse("responseJsonSchema" in declared(false))
    assert.isTrue(Google.profile("gemini-2.5-flash").supportsToolReturnSchema)
  })

  it("picks the function calling mode from tool choice and output", () => {
    const mode = (
      fields: ConstructorParameters<typeof Model.ModelRequestParameters>[0],
      settings: Parameters<typeof Google.encodeRequest>[1] = {},
      modelName = "gemini-2.5-flash"
    ) =>
      Google.encodeRequest([Messages.userPrompt("q")], settings, params(fields), { modelName })
        .toolConfig
    const fns = [tool("a"), tool("b")]
    // Function tools plus an output tool, and text not allowed: the model must call a tool.
    const mustCall = {
      functionTools: fns,
      outputTools: [tool("final_result")],
      allowTextOutput: false,
      outputMode: "tool"
    } as const
    // Gemini 2.5+: VALIDATED when no tool opted out of strict.
    assert.deepStrictEqual(mode({ functionTools: fns }), {
      functionCallingConfig: { mode: "VALIDATED" }
    })
    assert.isUndefined(mode({ functionTools: [tool("a", false)] }))
    assert.isUndefined(mode({ functionTools: fns }, {}, "gemini-2.0-flash"))
    assert.deepStrictEqual(mode({ functionTools: [tool("a", false)] }, { toolChoice: "auto" }), {
      functionCallingConfig: { mode: "AUTO" }
    })
    assert.deepStrictEqual(mode(mustCall), { functionCallingConfig: { mode: "ANY" } })
    assert.deepStrictEqual(mode({ functionTools: fns }, { toolChoice: "required" }), {
      functionCallingConfig: { mode: "ANY" }
    })
    assert.deepStrictEqual(mode({ functionTools: fns }, { toolChoice: "none" }), {
      functionCallingConfig: { mode: "NONE" }
    })
    assert.deepStrictEqual(mode({ functionTools: fns }, { toolChoice: ["b"] }), {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["b"] }
    })
    assert.deepStrictEqual(mode(mustCall, { toolChoice: "none" }), {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["final_result"] }
    })
    assert.deepStrictEqual(mode(mustCall, { toolChoice: ["a"] }), {
      functionCallingConfig: { mode: "ANY", allowedFunctionNames: ["final_result", "a"] }
    })
  })

  it("maps settings, thinking and native output into generationConfig", () => {
    const body = Google.encodeRequest(
      [Messages.userPrompt("q")],
      {
        maxTokens: 100,
        temperature: 0.2,
        topP: 0.9,
        seed: 7,
        presencePenalty: 0.1,
        frequencyPenalty: 0.3,
        stopSequences: ["END"],
        thinking: { budgetTokens: 1024 },
        extraBody: { generationConfig: { topK: 40 } }
      },
      params({
        outputMode: "native",
        outputObject: new Model.OutputObjectDefinition({
          jsonSchema: { type: "object", properties: { city: { type: "string" } } },
          name: "CityLocation",
          description: "A city."
        })
      }),
      { modelName: "gemini-2.5-flash" }
    )
    assert.deepStrictEqual(body.generationConfig, {
      maxOutputTokens: 100,
      temperature: 0.2,
      topP: 0.9,
      seed: 7,
      presencePenalty: 0.1,
      frequencyPenalty: 0.3,
      stopSequences: ["END"],
      thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 },
      responseModalities: ["TEXT"],
      responseMimeType: "application/json",
      responseJsonSchema: {
        type: "object",
        properties: { city: { type: "string" } },
        title: "CityLocation",
        description: "A city."
      },
      topK: 40
    })
    const thinking = (t: any, modelName: string) =>
      Google.encodeRequest(
        [Messages.userPrompt("q")],
        { thinking: t },
        Model.ModelRequestParameters.empty,
        { modelName }
      ).generationConfig.thinkingConfig
    assert.deepStrictEqual(thinking(false, "gemini-2.5-flash"), { thinkingBudget: 0 })
    assert.deepStrictEqual(thinking(true, "gemini-2.5-flash"), { includeThoughts: true })
    assert.deepStrictEqual(thinking("high", "gemini-3-pro-preview"), {
      includeThoughts: true,
      thinkingLevel: "HIGH"
    })
    const prompted = Google.encodeRequest(
      [Messages.userPrompt("q")],
      {},
      params({
        outputMode: "prompted",
        outputObject: new Model.OutputObjectDefinition({ jsonSchema: { type: "object" } })
      }),
      { modelName: "gemini-2.5-flash" }
    )
    assert.strictEqual(prompted.generationConfig.responseMimeType, "application/json")
    assert.isUndefined(prompted.generationConfig.responseJsonSchema)
  })
})

describe("Google.decodeResponse", () => {
  it("decodes a recorded text response with usage counting thoughts as output", () => {
    const [i] = loadInteractions("models.test_google.test_google_model")
    const r = Either.getOrThrow(decode(i.response.json))
    assert.strictEqual(r.text, "Hello! How can I help you today?")
    assert.strictEqual(r.finishReason, "stop")
    assert.strictEqual(r.providerFinishReason, "STOP")
    assert.strictEqual(r.providerResponseId, "bzlXaa_EE_aHqtsPi_zw8Ao")
    assert.strictEqual(r.modelName, "gemini-2.5-flash")
    assert.strictEqual(r.providerName, "google")
    assert.strictEqual(r.usage.inputTokens, 9)
    assert.strictEqual(r.usage.outputTokens, 9 + 34)
    assert.deepStrictEqual(r.usage.details, { thoughts_tokens: 34, text_prompt_tokens: 9 })
  })

  it("decodes thoughts and keeps the text part's signature for the round trip", () => {
    const [first, second] = loadInteractions("models.test_google.test_google_model_thinking_part")
    const r = Either.getOrThrow(decode(first.response.json))
    assert.deepStrictEqual(
      r.parts.map((p) => p._tag),
      ["ThinkingPart", "TextPart"]
    )
    const wire = first.response.json.candidates[0].content.parts
    assert.strictEqual(r.thinking[0]!.content, wire[0].text)
    assert.strictEqual(
      (r.parts[1] as Messages.TextPart).providerDetails?.thoughtSignature,
      wire[1].thoughtSignature
    )
    // Round trip: the next request carries the model turn exactly as Gemini sent it.
    const messages = [
      new Messages.ModelRequest({
        parts: [new Messages.UserPromptPart({ content: "How do I cross the street?" })],
        instructions: "You are a helpful assistant."
      }),
      r,
      new Messages.ModelRequest({
        parts: [
          new Messages.UserPromptPart({
            content:
              "Considering the way to cross the street, analogously, how do I cross the river?"
          })
        ],
        instructions: "You are a helpful assistant."
      })
    ]
    // History survives JSON storage too.
    const restored = Schema.decodeUnknownSync(Messages.ModelMessages)(Messages.encode(messages))
    const body = Google.encodeRequest(restored, {}, Model.ModelRequestParameters.empty, {
      modelName: "gemini-3-pro-preview"
    })
    assert.deepStrictEqual(body.contents[1], { role: "model", parts: wire })
    assert.deepStrictEqual(
      body.contents,
      second.request.body.contents.map((c: any, i: number) =>
        // pydantic-ai re-encodes signatures as URL-safe base64; we send back the bytes Gemini sent.
        i === 1 ? { role: "model", parts: wire } : c
      )
    )
  })

  it("maps finish reasons", () => {
    const reasons = {
      STOP: "stop",
      MAX_TOKENS: "length",
      SAFETY: "content_filter",
      RECITATION: "content_filter",
      BLOCKLIST: "content_filter",
      PROHIBITED_CONTENT: "content_filter",
      SPII: "content_filter",
      MALFORMED_FUNCTION_CALL: "error",
      OTHER: undefined
    } as const
    for (const [wire, ours] of Object.entries(reasons)) {
      assert.strictEqual(Google.mapFinishReason(wire), ours, wire)
    }
    const [i] = loadInteractions("models.test_google.test_google_model_max_tokens")
    const r = Either.getOrThrow(decode(i.response.json))
    assert.strictEqual(r.finishReason, "length")
    assert.strictEqual(r.text, "The capital of France is")
  })

  it("fails with ContentFilterError when a block left nothing usable", () => {
    const blocked = decode({
      candidates: [{ finishReason: "SAFETY", index: 0 }],
      usageMetadata: { promptTokenCount: 3 }
    })
    assert.isTrue(Either.isLeft(blocked))
    const e = (blocked as Either.Left<AgentError.ModelError, unknown>).left
    assert.strictEqual(e._tag, "ContentFilterError")
    assert.include(e.message, "SAFETY")
    const prompt = decode({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" } })
    assert.strictEqual(Either.flip(prompt).pipe(Either.getOrThrow)._tag, "ContentFilterError")
    // Partial text that was cut by the filter is kept, with the finish reason.
    const partial = Either.getOrThrow(
      decode({
        candidates: [{ content: { parts: [{ text: "Once" }] }, finishReason: "RECITATION" }]
      })
    )
    assert.strictEqual(partial.text, "Once")
    assert.strictEqual(partial.finishReason, "content_filter")
    const none = decode({ candidates: [] })
    assert.strictEqual(Either.flip(none).pipe(Either.getOrThrow)._tag, "UnexpectedModelBehavior")
  })

  it("decodes function calls (args as objects) with their signatures, generating ids when absent", () => {
    const r = Either.getOrThrow(
      decode({
        candidates: [
          {
            content: {
              role: "model",
              parts: [
                { functionCall: { name: "a", args: { x: 1 } }, thoughtSignature: "S" },
                { functionCall: { name: "b", id: "given" } }
              ]
            },
            finishReason: "STOP"
          }
        ],
        usageMetadata: {
          promptTokenCount: 10,
          candidatesTokenCount: 5,
          cachedContentTokenCount: 4,
          thoughtsTokenCount: 2
        }
      })
    )
    const [a, b] = r.toolCalls
    assert.deepStrictEqual(a!.args, { x: 1 })
    assert.deepStrictEqual(a!.providerDetails, { thoughtSignature: "S", generatedId: true })
    assert.isTrue(a!.toolCallId.length > 0)
    assert.notStrictEqual(a!.toolCallId, b!.toolCallId)
    assert.strictEqual(b!.toolCallId, "given")
    assert.deepStrictEqual(b!.args, {})
    assert.strictEqual(r.usage.cacheReadTokens, 4)
    assert.strictEqual(r.usage.outputTokens, 7)
    assert.strictEqual(r.usage.details.cached_content_tokens, 4)
  })
})

describe("Google grounding metadata", () => {
  it("a grounded answer keeps its grounding metadata; citations resolve each span to its sources (UTF-8 byte offsets)", () => {
    const [i] = loadInteractions("models.test_google.test_google_model_web_search_tool")
    const json = i.response.json
    const candidate = json.candidates[0]
    const response = Either.getOrThrow(decode(json))
    assert.deepStrictEqual(response.providerDetails, {
      grounding_metadata: candidate.groundingMetadata
    })
    const citations = Google.groundingCitationsOf(response)
    const g = candidate.groundingMetadata
    assert.strictEqual(citations.length, g.groundingSupports.length)
    const bytes = Buffer.from(response.text, "utf8")
    citations.forEach((c, n) => {
      const support = g.groundingSupports[n]
      assert.strictEqual(c.text, support.segment.text)
      assert.strictEqual(c.endIndex, support.segment.endIndex)
      // The offsets count UTF-8 bytes of the response text.
      assert.strictEqual(bytes.subarray(c.startIndex, c.endIndex).toString("utf8"), c.text)
      assert.deepStrictEqual(
        c.sources,
        support.groundingChunkIndices.map((k: number) => g.groundingChunks[k].web)
      )
    })
    assert.isString(citations[0]!.sources[0]!.uri)
    // No grounding: no details, no citations.
    const plain = Either.getOrThrow(
      decode({ candidates: [{ content: { parts: [{ text: "hi" }] }, finishReason: "STOP" }] })
    )
    assert.isUndefined(plain.providerDetails)
    assert.deepStrictEqual(Google.groundingCitationsOf(plain), [])
  })

  it("streamed: file search grounding keeps the retrieved passages and their store", () => {
    const i = loadInteractions(
      "models.test_google.test_google_model_file_search_grounding_gemini_3-True"
    ).find((x) => x.response.sse !== null)
    const chunks = sseData(i.response.sse)
    const manager = PartsManager.make()
    const state: Google.StreamState = { sawFinish: false, chunks: 0 }
    for (const chunk of chunks) Google.streamChunk(chunk, manager, [], state)
    const response = manager.response()
    const last = [...chunks]
      .reverse()
      .find((c: any) => c.candidates?.[0]?.groundingMetadata !== undefined)
    assert.deepStrictEqual(response.providerDetails, {
      grounding_metadata: last.candidates[0].groundingMetadata
    })
    const [citation] = Google.groundingCitationsOf(response)
    assert.strictEqual(citation!.text, "The capital of France is **Paris**.")
    assert.strictEqual(citation!.startIndex, 0)
    assert.strictEqual(
      citation!.sources[0]!.fileSearchStore,
      "fileSearchStores/testfilesearchgroundingstre-p2hcv3cs2i69"
    )
  })
})

describe("Google.streamChunk", () => {
  const run = (chunks: Array<any>) => {
    const manager = PartsManager.make()
    const out: Array<Messages.ModelResponseStreamEvent> = []
    const state: Google.StreamState = { sawFinish: false, chunks: 0 }
    for (const c of chunks) {
      const error = Google.streamChunk(c, manager, out, state)
      if (error) return { error, manager, out }
    }
    out.push(...manager.finish())
    return { error: undefined, manager, out }
  }

  it("accumulates recorded text deltas into one part with the final usage", () => {
    const [i] = loadInteractions("models.test_google.test_google_model_stream")
    const { manager, out } = run(sseData(i.response.sse))
    const r = manager.response({ state: "complete" })
    assert.strictEqual(r.text, "The capital of France is Paris.\n")
    assert.deepStrictEqual(
      out.map((e) => e._tag),
      ["PartStartEvent", "PartDeltaEvent", "PartDeltaEvent", "PartEndEvent"]
    )
    assert.strictEqual(r.finishReason, "stop")
    assert.strictEqual(r.usage.inputTokens, 13)
    assert.strictEqual(r.usage.outputTokens, 8)
    assert.strictEqual(r.providerResponseId, "w1peaMz6INOvnvgPgYfPiQY")
  })

  it("keeps a streamed function call's signature and skips empty text", () => {
    const [i] = loadInteractions(
      "models.test_google.test_google_streaming_tool_call_thought_signature"
    )
    const { manager } = run(sseData(i.response.sse))
    const r = manager.response({ state: "complete" })
    assert.strictEqual(r.parts.length, 1)
    const call = r.toolCalls[0]!
    assert.strictEqual(call.toolName, "get_country")
    assert.isTrue(String(call.providerDetails?.thoughtSignature).startsWith("EpwICpkIAXLI2nxl"))
    assert.strictEqual(r.usage.outputTokens, 10 + 202)
  })

  it("fails a stream blocked before any content", () => {
    const { error } = run([{ candidates: [{ finishReason: "PROHIBITED_CONTENT" }] }])
    assert.strictEqual(error?._tag, "ContentFilterError")
  })

  it("streams thoughts then text as separate parts", () => {
    const { manager } = run([
      { candidates: [{ content: { parts: [{ text: "Let me ", thought: true }] } }] },
      { candidates: [{ content: { parts: [{ text: "think.", thought: true }] } }] },
      {
        candidates: [
          {
            content: { parts: [{ text: "Answer", thoughtSignature: "SIG" }] },
            finishReason: "STOP"
          }
        ]
      }
    ])
    const r = manager.response({ state: "complete" })
    assert.strictEqual(r.thinking[0]!.content, "Let me think.")
    assert.strictEqual(r.text, "Answer")
    assert.deepStrictEqual((r.parts[1] as Messages.TextPart).providerDetails, {
      thoughtSignature: "SIG"
    })
  })
})

const apiKey = "gk-secret-test-key-123"
const modelLayer = (modelName: string, baseUrl: string) =>
  Google.model(modelName).pipe(
    Layer.provide(GoogleClient.layer({ apiKey: Redacted.make(apiKey), baseUrl, retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )
/** URL-safe base64 (as pydantic-ai re-encodes signatures) → standard base64 (as Gemini sends them). */
/**
 * Sends "hi" to a Gemini model at `baseUrl`: a plain request, or a stream whose events are
 * drained (each passed to `onEvent`). The exit of the exchange.
 */
const sendHi = (
  baseUrl: string,
  stream: boolean,
  onEvent: (event: Messages.ModelResponseStreamEvent) => void = () => {}
) =>
  Effect.gen(function* () {
    const model = yield* Model.Model
    const messages = [Messages.userPrompt("hi")]
    if (!stream)
      return yield* Effect.asVoid(model.request(messages, {}, Model.ModelRequestParameters.empty))
    const sr = yield* model.requestStream(messages, {}, Model.ModelRequestParameters.empty)
    return yield* Stream.runForEach(sr.events, (e) => Effect.sync(() => onEvent(e)))
  }).pipe(Effect.scoped, Effect.provide(modelLayer("gemini-2.5-flash", baseUrl)), Effect.exit)

const stdBase64 = (body: unknown): unknown =>
  JSON.parse(JSON.stringify(body), (k, v) =>
    k === "thoughtSignature" ? String(v).replace(/-/g, "+").replace(/_/g, "/") : v
  )

describe("Google model over HTTP (loopback replay)", () => {
  it.scoped(
    "round-trips thought signatures: the second request carries the first response as Gemini sent it",
    () =>
      Effect.gen(function* () {
        const c = loadCase("google", "models.test_google.test_google_model_thinking_part")
        const server = yield* replayServer(c)
        const [first, second] = c.interactions as any
        const dummy = new Tool.ToolDefinition({
          name: "dummy",
          parametersJsonSchema: { additionalProperties: false, properties: {}, type: "object" },
          strict: false
        })
        const parameters = new Model.ModelRequestParameters({ functionTools: [dummy] })
        const instructions = "You are a helpful assistant."
        const messages: Array<Messages.ModelMessage> = [
          new Messages.ModelRequest({
            parts: [new Messages.UserPromptPart({ content: "How do I cross the street?" })],
            instructions
          })
        ]
        const response = yield* Effect.gen(function* () {
          const model = yield* Model.Model
          const r1 = yield* model.request(messages, { thinking: true }, parameters)
          messages.push(r1)
          messages.push(
            new Messages.ModelRequest({
              parts: [
                new Messages.UserPromptPart({
                  content:
                    "Considering the way to cross the street, analogously, how do I cross the river?"
                })
              ],
              instructions
            })
          )
          // The history survives JSON storage between the two requests.
          const restored = yield* Messages.decodeJson(Messages.encodeJson(messages))
          yield* model.request(restored, { thinking: true }, parameters)
          return r1
        }).pipe(Effect.provide(modelLayer("gemini-3-pro-preview", server.baseUrl)))
        assert.deepStrictEqual(
          response.parts.map((p) => p._tag),
          ["ThinkingPart", "TextPart"]
        )
        assert.strictEqual(server.received.length, 2)
        assert.strictEqual(
          server.received[0]!.path,
          "/v1beta/models/gemini-3-pro-preview:generateContent"
        )
        assert.strictEqual(server.received[0]!.headers["x-goog-api-key"], apiKey)
        const firstSent = server.received[0]!.body as any
        assert.deepStrictEqual(firstSent.contents, first.request.body.contents)
        // pydantic-ai's SDK spells it `include_thoughts`; the API takes both, we send camelCase.
        assert.deepStrictEqual(firstSent.generationConfig.thinkingConfig, { includeThoughts: true })
        assert.deepStrictEqual(
          firstSent.tools[0].functionDeclarations[0].parametersJsonSchema,
          first.request.body.tools[0].functionDeclarations[0].parameters_json_schema
        )
        const sent = server.received[1]!.body as any
        const recorded = stdBase64(second.request.body) as any
        assert.deepStrictEqual(sent.contents, recorded.contents)
        assert.deepStrictEqual(sent.systemInstruction, recorded.systemInstruction)
        assert.strictEqual(server.unused(), 0)
      })
  )

  it.scoped(
    "runs an agent through a streamed tool call, the tool result and the final answer",
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "google",
          "models.test_google.test_google_streaming_tool_call_thought_signature"
        )
        const server = yield* replayServer(c, { rechunkSeed: 3 })
        const calls: Array<string> = []
        const getCountry = Tool.make("get_country", {
          parameters: Schema.Struct({}),
          strict: false,
          handler: () =>
            Effect.sync(() => {
              calls.push("get_country")
              return "Mexico"
            })
        })
        const agent = Agent.make({ tools: [getCountry] })
        const events = yield* agent
          .runStream("What is the capital of the user country? Call the tool")
          .pipe(
            Stream.runCollect,
            Effect.provide(modelLayer("gemini-3-pro-preview", server.baseUrl))
          )
        const all = Chunk.toReadonlyArray(events) as ReadonlyArray<any>
        const last = all[all.length - 1]
        assert.strictEqual(last._tag, "AgentRunResultEvent")
        assert.strictEqual(last.result.output, "The capital of Mexico is Mexico City.")
        assert.deepStrictEqual(calls, ["get_country"])
        assert.isTrue(
          all.some((e) => e._tag === "FunctionToolCallEvent" && e.part.toolName === "get_country")
        )
        // The second request sends the call back with its signature; Gemini gave the call no id,
        // so neither the call nor its result carries the one agentfx generated.
        const recordedSig = (c.interactions[0]!.response.sse as string).match(
          /"thoughtSignature": "([^"]+)"/
        )![1]
        const sent = server.received[1]!.body as any
        const call = sent.contents[1].parts[0]
        assert.strictEqual(call.thoughtSignature, recordedSig)
        assert.strictEqual(call.functionCall.name, "get_country")
        assert.isFalse("id" in call.functionCall)
        assert.deepStrictEqual(sent.contents[2].parts[0].functionResponse, {
          name: "get_country",
          response: { return_value: "Mexico" }
        })
        const usage = last.result.usage
        assert.strictEqual(usage.requests, 2)
        assert.strictEqual(usage.outputTokens, 10 + 202 + 8)
      })
  )

  it.scoped(
    "downloads file URLs Gemini cannot fetch and sends them inline; YouTube and gs:// stay URLs",
    () =>
      Effect.gen(function* () {
        const c = loadCase("google", "models.test_google.test_google_model_image_url_input")
        const server = yield* replayServer(c)
        const [download, generate] = c.interactions as any
        const response = yield* Effect.gen(function* () {
          const model = yield* Model.Model
          return yield* model.request(
            [
              Messages.userPrompt([
                "What is this vegetable?",
                new Messages.ImageUrl({ url: `${server.baseUrl}${download.request.path}` })
              ])
            ],
            {},
            Model.ModelRequestParameters.empty
          )
        }).pipe(Effect.provide(modelLayer("gemini-2.0-flash", server.baseUrl)))
        assert.isAbove(response.text.length, 0)
        assert.deepStrictEqual(
          server.received.map((r) => r.method),
          ["GET", "POST"]
        )
        const sent = (server.received[1]!.body as any).contents[0].parts
        const recorded = generate.request.body.contents[0].parts
        assert.deepStrictEqual(sent[0], recorded[0])
        assert.strictEqual(sent[1].inlineData.mimeType, "image/jpeg")
        assert.strictEqual(
          sent[1].inlineData.data,
          recorded[1].inlineData.data.replace(/-/g, "+").replace(/_/g, "/")
        )
        assert.isTrue(Google.isFetchableByGemini("https://youtu.be/lCdaVNyHtjU"))
        assert.isTrue(Google.isFetchableByGemini("gs://bucket/a.pdf"))
        assert.isFalse(Google.isFetchableByGemini("https://example.com/a.pdf"))
      })
  )

  const errorCase = (status: number, json: unknown, stream: boolean): ConformanceCase => ({
    id: "synthetic-error",
    provider: "google",
    providers: ["google"],
    stream,
    interactions: [
      {
        endpoint: stream ? "streamGenerateContent" : "generateContent",
        provider: "google",
        request: {
          method: "POST",
          path: `/v1beta/models/gemini-2.5-flash:${stream ? "streamGenerateContent?alt=sse" : "generateContent"}`,
          headers: {},
          body: null
        },
        response: { status, contentType: "application/json", json, sse: null, text: null }
      }
    ]
  })

  for (const stream of [false, true]) {
    it.scoped(
      `a 4xx becomes ModelHTTPError with status and body, without the key (${stream ? "stream" : "request"})`,
      () =>
        Effect.gen(function* () {
          const body = {
            error: { code: 400, message: "API key not valid.", status: "INVALID_ARGUMENT" }
          }
          const server = yield* replayServer(errorCase(400, body, stream))
          const exit = yield* sendHi(server.baseUrl, stream)
          assert.isTrue(Exit.isFailure(exit))
          const error = (exit as any).cause.error as AgentError.ModelHTTPError
          assert.strictEqual(error._tag, "ModelHTTPError")
          assert.strictEqual(error.status, 400)
          assert.deepStrictEqual(error.body, body)
          assert.notInclude(`${error.message} ${JSON.stringify(error)} ${String(exit)}`, apiKey)
        })
    )
  }

  it.scoped(
    "a stream cut before its finishReason fails with ModelAPIError keeping the partial response",
    () =>
      Effect.gen(function* () {
        const base = errorCase(200, null, true).interactions[0]!
        const server = yield* replayServer({
          ...errorCase(200, null, true),
          interactions: [
            {
              ...base,
              response: {
                status: 200,
                contentType: "text/event-stream",
                json: null,
                sse: 'data: {"candidates": [{"content": {"parts": [{"text": "The capital"}],"role": "model"},"index": 0}],"responseId": "r2"}\r\n\r\n',
                text: null
              }
            }
          ]
        })
        const seen: Array<string> = []
        const exit = yield* sendHi(server.baseUrl, true, (e) => seen.push(e._tag))
        const error = (exit as any).cause.error as AgentError.ModelAPIError
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.strictEqual(error.partialResponse?.text, "The capital")
        assert.deepStrictEqual(seen, ["PartStartEvent"])
      })
  )

  it.scoped("a stream blocked by the safety filter fails with ContentFilterError", () =>
    Effect.gen(function* () {
      const c: ConformanceCase = {
        ...errorCase(200, null, true),
        interactions: [
          {
            ...errorCase(200, null, true).interactions[0]!,
            response: {
              status: 200,
              contentType: "text/event-stream",
              json: null,
              sse: 'data: {"candidates": [{"finishReason": "SAFETY","index": 0}],"usageMetadata": {"promptTokenCount": 5,"totalTokenCount": 5},"modelVersion": "gemini-2.5-flash","responseId": "r1"}\r\n\r\n',
              text: null
            }
          }
        ]
      }
      const server = yield* replayServer(c)
      const exit = yield* sendHi(server.baseUrl, true)
      assert.strictEqual((exit as any).cause.error?._tag, "ContentFilterError")
    })
  )
})

describe("Google.registryFactory", () => {
  const resolve = (env: Record<string, string>) =>
    Google.registryFactory("gemini-2.5-flash").pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
      Effect.provide(NodeHttpClient.layerUndici),
      Effect.either
    )

  it.effect("builds the model from GEMINI_API_KEY, or GOOGLE_API_KEY as a fallback", () =>
    Effect.gen(function* () {
      for (const env of [{ GEMINI_API_KEY: "k1" }, { GOOGLE_API_KEY: "k2" }]) {
        const model = Either.getOrThrow(yield* resolve(env))
        assert.strictEqual(model.modelName, "gemini-2.5-flash")
        assert.strictEqual(model.system, "google")
        assert.isTrue(model.profile.supportsThinking)
        assert.isTrue(model.profile.supportsJsonSchemaOutput)
      }
    })
  )

  it.effect("fails with a UserError naming the key when none is set", () =>
    Effect.gen(function* () {
      const result = yield* resolve({})
      assert.isTrue(Either.isLeft(result))
      const error = Either.flip(result).pipe(Either.getOrThrow)
      assert.strictEqual(error._tag, "UserError")
      assert.include(error.message, "GEMINI_API_KEY")
    })
  )
})
