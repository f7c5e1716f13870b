import { Agent, AgentError, Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as ChatWire from "../src/internal/openaiChat.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiCompatible from "../src/OpenAiCompatible.js"
import { loopbackServer } from "./support/replay.js"
import { chatCompletionBody, chatCompletionServer } from "./support/chatServer.js"
import { recordingTracer } from "./support/tracer.js"

const gpt = {
  modelName: "gpt-4o",
  system: "openai",
  profile: OpenAiChat.openAiProfile("gpt-4o"),
  stream: false
}

const weather = new Tool.ToolDefinition({
  name: "get_weather",
  description: "Weather of a city",
  parametersJsonSchema: Tool.jsonSchema(Schema.Struct({ city: Schema.String }))
})
const search = new Tool.ToolDefinition({
  name: "search",
  parametersJsonSchema: Tool.jsonSchema(
    Schema.Struct({ q: Schema.String, limit: Schema.optional(Schema.Number) })
  )
})

const conversation: ReadonlyArray<Messages.ModelMessage> = [
  new Messages.ModelRequest({
    parts: [
      new Messages.SystemPromptPart({ content: "Be brief." }),
      new Messages.UserPromptPart({
        content: [
          "What is in this picture, and the weather?",
          new Messages.ImageUrl({ url: "https://example.com/cat.png" }),
          new Messages.BinaryContent({ data: new Uint8Array([1, 2, 3]), mediaType: "image/png" }),
          new Messages.BinaryContent({ data: new Uint8Array([4, 5]), mediaType: "audio/wav" }),
          new Messages.BinaryContent({
            data: new Uint8Array([6]),
            mediaType: "application/pdf",
            identifier: "doc.pdf"
          })
        ]
      })
    ]
  }),
  new Messages.ModelResponse({
    parts: [
      new Messages.ThinkingPart({ content: "hmm", providerName: "openai" }),
      new Messages.TextPart({ content: "A cat." }),
      new Messages.ToolCallPart({
        toolName: "get_weather",
        args: { city: "Paris" },
        toolCallId: "call_1"
      })
    ]
  }),
  new Messages.ModelRequest({
    parts: [
      new Messages.ToolReturnPart({
        toolName: "get_weather",
        toolCallId: "call_1",
        content: { temp: 21 }
      }),
      new Messages.RetryPromptPart({
        content: "bad args",
        toolName: "search",
        toolCallId: "call_2"
      }),
      new Messages.RetryPromptPart({ content: "Answer in JSON" })
    ],
    instructions: "You are a weather bot."
  })
]

/** The current tracer, wrapped to keep every span it starts (to assert names and attributes). */

describe("encodeRequest", () => {
  it("maps every message part to the Chat Completions shape", () => {
    const body = ChatWire.encodeRequest(
      conversation,
      {},
      Model.ModelRequestParameters.empty,
      gpt
    ) as any
    assert.deepStrictEqual(body.messages[0], { role: "system", content: "Be brief." })
    // Instructions of the last request come right after leading system prompts.
    assert.deepStrictEqual(body.messages[1], { role: "system", content: "You are a weather bot." })
    assert.deepStrictEqual(body.messages[2].content, [
      { type: "text", text: "What is in this picture, and the weather?" },
      { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
      { type: "image_url", image_url: { url: "data:image/png;base64,AQID" } },
      { type: "input_audio", input_audio: { data: "BAU=", format: "wav" } },
      { type: "file", file: { file_data: "data:application/pdf;base64,Bg==", filename: "doc.pdf" } }
    ])
    // Thinking is dropped for OpenAI; text and tool calls kept.
    assert.deepStrictEqual(body.messages[3], {
      role: "assistant",
      content: "A cat.",
      tool_calls: [
        {
          id: "call_1",
          type: "function",
          function: { name: "get_weather", arguments: '{"city":"Paris"}' }
        }
      ]
    })
    assert.deepStrictEqual(body.messages[4], {
      role: "tool",
      tool_call_id: "call_1",
      content: '{"temp":21}'
    })
    assert.deepStrictEqual(body.messages[5], {
      role: "tool",
      tool_call_id: "call_2",
      content: "bad args\n\nFix the errors and try again."
    })
    assert.deepStrictEqual(body.messages[6], {
      role: "user",
      content: "Validation feedback:\nAnswer in JSON\n\nFix the errors and try again."
    })
    assert.strictEqual(body.stream, false)
    assert.isUndefined(body.stream_options)
    assert.isUndefined(body.tools)
    assert.isUndefined(body.tool_choice)
  })

  it("uses the developer role for reasoning models", () => {
    const body = ChatWire.encodeRequest(
      conversation,
      { thinking: "high", temperature: 0.5 },
      Model.ModelRequestParameters.empty,
      { ...gpt, modelName: "o3-mini", profile: OpenAiChat.openAiProfile("o3-mini") }
    ) as any
    assert.strictEqual(body.messages[0].role, "developer")
    assert.strictEqual(body.reasoning_effort, "high")
    // Reasoning models reject sampling settings.
    assert.isUndefined(body.temperature)
  })

  it("sends reasoning back in the vendor's field when the profile asks (DeepSeek)", () => {
    const profile = OpenAiCompatible.vendors.deepseek!.profile("deepseek-reasoner")
    const body = ChatWire.encodeRequest(conversation, {}, Model.ModelRequestParameters.empty, {
      modelName: "deepseek-reasoner",
      system: "openai",
      profile,
      stream: false
    }) as any
    assert.strictEqual(body.messages[3].reasoning_content, "hmm")
  })

  it("tools: strict when compatible, tool_choice required when text is not allowed, settings mapped", () => {
    const body = ChatWire.encodeRequest(
      [Messages.userPrompt("hi")],
      {
        maxTokens: 100,
        temperature: 0.2,
        topP: 0.9,
        seed: 7,
        presencePenalty: 0.1,
        frequencyPenalty: 0.3,
        logitBias: { "50256": -100 },
        stopSequences: ["END"],
        parallelToolCalls: false
      },
      new Model.ModelRequestParameters({
        functionTools: [weather, search],
        allowTextOutput: false
      }),
      { ...gpt, stream: true }
    ) as any
    assert.deepStrictEqual(body.tools[0], {
      type: "function",
      function: {
        name: "get_weather",
        description: "Weather of a city",
        parameters: weather.parametersJsonSchema,
        strict: true
      }
    })
    // An optional parameter is not strict-compatible: no `strict`.
    assert.isUndefined(body.tools[1].function.strict)
    assert.strictEqual(body.tools[1].function.description, "")
    assert.strictEqual(body.tool_choice, "required")
    assert.deepStrictEqual(body.stream_options, { include_usage: true })
    assert.strictEqual(body.max_completion_tokens, 100)
    assert.strictEqual(body.temperature, 0.2)
    assert.strictEqual(body.top_p, 0.9)
    assert.strictEqual(body.seed, 7)
    assert.strictEqual(body.presence_penalty, 0.1)
    assert.strictEqual(body.frequency_penalty, 0.3)
    assert.deepStrictEqual(body.logit_bias, { "50256": -100 })
    assert.deepStrictEqual(body.stop, ["END"])
    assert.strictEqual(body.parallel_tool_calls, false)
  })

  it("toolChoice setting: names restrict the tools", () => {
    const params = new Model.ModelRequestParameters({ functionTools: [weather, search] })
    const one = ChatWire.encodeRequest(
      [Messages.userPrompt("hi")],
      { toolChoice: ["search"] },
      params,
      gpt
    ) as any
    assert.deepStrictEqual(one.tool_choice, { type: "function", function: { name: "search" } })
    const none = ChatWire.encodeRequest(
      [Messages.userPrompt("hi")],
      { toolChoice: "none" },
      params,
      gpt
    ) as any
    assert.strictEqual(none.tool_choice, "none")
    const auto = ChatWire.encodeRequest([Messages.userPrompt("hi")], {}, params, gpt) as any
    assert.strictEqual(auto.tool_choice, "auto")
  })

  it("native output becomes response_format json_schema; compat vendors use max_tokens", () => {
    const params = new Model.ModelRequestParameters({
      outputMode: "native",
      outputObject: new Model.OutputObjectDefinition({
        name: "City",
        jsonSchema: Tool.jsonSchema(Schema.Struct({ city: Schema.String })),
        description: "A city"
      })
    })
    const body = ChatWire.encodeRequest([Messages.userPrompt("hi")], { maxTokens: 5 }, params, {
      modelName: "llama3.2",
      system: "ollama",
      profile: OpenAiCompatible.vendors.ollama!.profile("llama3.2"),
      stream: false
    }) as any
    assert.deepStrictEqual(body.response_format, {
      type: "json_schema",
      json_schema: {
        name: "City",
        description: "A city",
        schema: params.outputObject!.jsonSchema
      }
    })
    assert.strictEqual(body.max_tokens, 5)
    // OpenAI itself gets `strict: true` for a strict-compatible schema.
    const openai = ChatWire.encodeRequest([Messages.userPrompt("hi")], {}, params, gpt) as any
    assert.strictEqual(openai.response_format.json_schema.strict, true)
  })

  it("a DocumentUrl is a UserError for OpenAI (must be inline bytes)", () => {
    const out = ChatWire.encodeRequest(
      [Messages.userPrompt([new Messages.DocumentUrl({ url: "https://x/a.pdf" })])],
      {},
      Model.ModelRequestParameters.empty,
      gpt
    )
    assert.instanceOf(out, AgentError.UserError)
  })

  describe("CachePoint", () => {
    const prompt = [
      Messages.userPrompt([
        "Long context to cache.",
        new Messages.CachePoint({}),
        new Messages.ImageUrl({ url: "https://example.com/cat.png" }),
        new Messages.CachePoint({ ttl: "1h" }),
        "The question."
      ])
    ]
    const encode = (modelName: string, profile: OpenAiChat.ChatProfile) =>
      ChatWire.encodeRequest(prompt, {}, Model.ModelRequestParameters.empty, {
        modelName,
        system: "openai",
        profile,
        stream: false
      }) as any

    it("is OpenAI's explicit prompt_cache_breakpoint on the part before it; compatible servers drop it", () => {
      const body = encode("gpt-4o", gpt.profile)
      assert.deepStrictEqual(body.messages, [
        {
          role: "user",
          content: [
            {
              type: "text",
              text: "Long context to cache.",
              prompt_cache_breakpoint: { mode: "explicit" }
            },
            {
              type: "image_url",
              image_url: { url: "https://example.com/cat.png" },
              prompt_cache_breakpoint: { mode: "explicit" }
            },
            { type: "text", text: "The question." }
          ]
        }
      ])
      const compatible = JSON.stringify(encode("llama3", OpenAiChat.compatibleProfile))
      assert.notInclude(compatible, "cache_control")
      assert.notInclude(compatible, "prompt_cache_breakpoint")
    })

    it("marks the part before it with cache_control on OpenRouter (no ttl for Gemini)", () => {
      const profile = OpenAiCompatible.vendors.openrouter!.profile("anthropic/claude-sonnet-4.6")
      const claude = encode("anthropic/claude-sonnet-4.6", profile).messages[0].content
      assert.deepStrictEqual(claude, [
        {
          type: "text",
          text: "Long context to cache.",
          cache_control: { type: "ephemeral", ttl: "5m" }
        },
        {
          type: "image_url",
          image_url: { url: "https://example.com/cat.png" },
          cache_control: { type: "ephemeral", ttl: "1h" }
        },
        { type: "text", text: "The question." }
      ])
      const gemini = encode(
        "google/gemini-2.5-flash",
        OpenAiCompatible.vendors.openrouter!.profile("google/gemini-2.5-flash")
      ).messages[0].content
      assert.deepStrictEqual(gemini[0].cache_control, { type: "ephemeral" })
      assert.deepStrictEqual(gemini[1].cache_control, { type: "ephemeral" })
      // A cache point with nothing before it marks nothing.
      const first = ChatWire.encodeRequest(
        [Messages.userPrompt([new Messages.CachePoint({}), "Hi"])],
        {},
        Model.ModelRequestParameters.empty,
        { modelName: "anthropic/claude-sonnet-4.6", system: "openai", profile, stream: false }
      ) as any
      assert.deepStrictEqual(first.messages[0].content, [{ type: "text", text: "Hi" }])
    })

    it("cacheInstructions / cacheTools: the first system message and the last tool on OpenRouter only", () => {
      const parameters = new Model.ModelRequestParameters({ functionTools: [weather, search] })
      const messages = [
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: "Hi" })],
          instructions: "Be brief."
        })
      ]
      const encodeWith = (modelName: string, profile: OpenAiChat.ChatProfile) =>
        ChatWire.encodeRequest(messages, {}, parameters, {
          modelName,
          system: "openai",
          profile,
          stream: false,
          cacheInstructions: "1h",
          cacheTools: true
        }) as any
      const router = OpenAiCompatible.vendors.openrouter!.profile("anthropic/claude-sonnet-4.6")
      const body = encodeWith("anthropic/claude-sonnet-4.6", router)
      assert.deepStrictEqual(body.messages[0], {
        role: "system",
        content: [
          { type: "text", text: "Be brief.", cache_control: { type: "ephemeral", ttl: "1h" } }
        ]
      })
      assert.isUndefined(body.tools[0].cache_control)
      assert.deepStrictEqual(body.tools[1].cache_control, { type: "ephemeral", ttl: "5m" })
      const openai = encodeWith("gpt-4o", gpt.profile)
      assert.deepStrictEqual(openai.messages[0], { role: "system", content: "Be brief." })
      assert.notInclude(JSON.stringify(openai), "cache_control")
    })
  })
})

describe("decodeResponse", () => {
  it("reads reasoning, text, tool calls, usage with cached and reasoning tokens, finish reason", () => {
    const r = ChatWire.decodeResponse(
      {
        id: "chatcmpl-1",
        created: 1_700_000_000,
        model: "deepseek-reasoner",
        choices: [
          {
            index: 0,
            finish_reason: "tool_calls",
            message: {
              role: "assistant",
              reasoning_content: "think",
              content: "Calling.",
              tool_calls: [
                { id: "c1", type: "function", function: { name: "f", arguments: '{"a":1}' } }
              ]
            }
          }
        ],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 5,
          prompt_tokens_details: { cached_tokens: 4 },
          completion_tokens_details: { reasoning_tokens: 3 }
        }
      },
      { modelName: "deepseek-reasoner", system: "deepseek" }
    ) as Messages.ModelResponse
    assert.deepStrictEqual(
      r.parts.map((p) => p._tag),
      ["ThinkingPart", "TextPart", "ToolCallPart"]
    )
    assert.strictEqual(r.thinking[0]!.content, "think")
    assert.strictEqual(r.text, "Calling.")
    assert.deepStrictEqual(r.toolCalls[0]!.argsAsObject(), { a: 1 })
    assert.strictEqual(r.finishReason, "tool_call")
    assert.strictEqual(r.providerFinishReason, "tool_calls")
    assert.strictEqual(r.providerResponseId, "chatcmpl-1")
    assert.strictEqual(r.usage.inputTokens, 10)
    assert.strictEqual(r.usage.outputTokens, 5)
    assert.strictEqual(r.usage.cacheReadTokens, 4)
    assert.strictEqual(r.usage.details.reasoning_tokens, 3)
    assert.strictEqual(r.timestamp.getTime(), 1_700_000_000_000)
  })

  it("no choices is UnexpectedModelBehavior", () => {
    const r = ChatWire.decodeResponse({ error: "x" }, { modelName: "m", system: "openai" })
    assert.instanceOf(r, AgentError.UnexpectedModelBehavior)
  })
})

const sse = (...chunks: Array<unknown>) =>
  chunks.map((c) => `data: ${typeof c === "string" ? c : JSON.stringify(c)}\n\n`).join("")
const delta = (d: unknown, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-s",
  model: "gpt-4o",
  choices: [{ index: 0, delta: d, finish_reason: null, ...extra }]
})

const modelLayer = (baseUrl: string, apiKey = "sk-test", httpClientSpans = false) =>
  OpenAiChat.model("gpt-4o").pipe(
    Layer.provide(
      OpenAiClient.layer({ baseUrl, apiKey: Redacted.make(apiKey), retry: false, httpClientSpans })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

describe("OpenAiChat.model", () => {
  it.scoped("streams text and interleaved tool-call argument deltas by index", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(
          sse(
            delta({ role: "assistant", content: "" }),
            delta({ content: "Let me" }),
            delta({ content: " check." }),
            delta({
              tool_calls: [
                {
                  index: 0,
                  id: "call_a",
                  type: "function",
                  function: { name: "get_weather", arguments: "" }
                }
              ]
            }),
            delta({
              tool_calls: [
                {
                  index: 1,
                  id: "call_b",
                  type: "function",
                  function: { name: "search", arguments: '{"q":' }
                }
              ]
            }),
            delta({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
            delta({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
            delta({ tool_calls: [{ index: 1, function: { arguments: '"x"}' } }] }),
            delta({}, { finish_reason: "tool_calls" }),
            {
              id: "chatcmpl-s",
              model: "gpt-4o",
              choices: [],
              usage: {
                prompt_tokens: 9,
                completion_tokens: 4,
                prompt_tokens_details: { cached_tokens: 2 }
              }
            },
            "[DONE]"
          )
        )
      })
      const events = yield* Effect.gen(function* () {
        const model = yield* Model.Model
        const streamed = yield* model.requestStream(
          [Messages.userPrompt("hi")],
          {},
          new Model.ModelRequestParameters({ functionTools: [weather, search] })
        )
        return Chunk.toArray(yield* Stream.runCollect(streamed.events))
      }).pipe(Effect.provide(modelLayer(server.baseUrl)))
      const body = server.requests[0]!.body as any
      assert.strictEqual(body.stream, true)
      assert.deepStrictEqual(body.stream_options, { include_usage: true })
      const done = events.at(-1) as Messages.ResponseCompleteEvent
      assert.strictEqual(done._tag, "ResponseCompleteEvent")
      const r = done.response
      assert.strictEqual(r.text, "Let me check.")
      assert.deepStrictEqual(
        r.toolCalls.map((c) => [c.toolCallId, c.toolName, c.argsAsObject()]),
        [
          ["call_a", "get_weather", { city: "Paris" }],
          ["call_b", "search", { q: "x" }]
        ]
      )
      assert.strictEqual(r.finishReason, "tool_call")
      assert.strictEqual(r.usage.inputTokens, 9)
      assert.strictEqual(r.usage.cacheReadTokens, 2)
      assert.strictEqual(r.providerResponseId, "chatcmpl-s")
      const deltas = events.filter((e) => e._tag === "PartDeltaEvent")
      assert.isAtLeast(deltas.length, 4)
    })
  )

  it.scoped("the API key never appears in errors, logs or spans", () =>
    Effect.gen(function* () {
      const secret = "sk-secret-KEY-1234567890"
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(401, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: "Incorrect API key provided" } }))
      })
      const logs: Array<string> = []
      const logger = Logger.make(({ message, annotations, cause }) => {
        logs.push(JSON.stringify({ message, annotations: [...annotations] }))
        logs.push(Cause.pretty(cause))
      })
      const { spans, tracer } = yield* recordingTracer
      const observe = Layer.mergeAll(
        Logger.replace(Logger.defaultLogger, logger),
        Logger.minimumLogLevel(LogLevel.All),
        Layer.setTracer(tracer)
      )
      const run = (stream: boolean) =>
        Effect.gen(function* () {
          const model = yield* Model.Model
          yield* Effect.logDebug("calling the model")
          return stream
            ? yield* Effect.scoped(
                Effect.flatMap(
                  model.requestStream(
                    [Messages.userPrompt("hi")],
                    {},
                    Model.ModelRequestParameters.empty
                  ),
                  (s) => Stream.runDrain(s.events)
                )
              )
            : yield* model.request(
                [Messages.userPrompt("hi")],
                {},
                Model.ModelRequestParameters.empty
              )
        }).pipe(
          Effect.tapErrorCause((cause) => Effect.logError("model failed", cause)),
          Effect.withSpan("test"),
          // The platform's own http.client span (header attributes) is on here, so the
          // redaction of its header attributes is checked too.
          Effect.provide(modelLayer(server.baseUrl, secret, true)),
          Effect.provide(observe),
          Effect.exit
        )
      const exits = [yield* run(false), yield* run(true)]
      const exit = exits[0]!
      assert(exit._tag === "Failure")
      const error = Cause.squash(exit.cause) as AgentError.ModelHTTPError
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual(error.status, 401)
      // The key did go over the wire (so this test can fail)…
      assert.strictEqual(server.requests[0]!.headers.authorization, `Bearer ${secret}`)
      // …but nowhere else.
      const streamExit = exits[1]!
      assert(streamExit._tag === "Failure")
      const texts = [
        Cause.pretty(streamExit.cause),
        JSON.stringify(Cause.squash(streamExit.cause)),
        String(error),
        error.message,
        JSON.stringify(error),
        Cause.pretty(exit.cause),
        ...logs,
        ...spans.flatMap((s) => [s.name, JSON.stringify([...s.attributes.entries()])])
      ]
      assert.isAbove(spans.length, 1)
      assert.isTrue(
        spans.some((s) => [...s.attributes.keys()].some((k) => k.startsWith("http.request.header")))
      )
      // Provider spans are named Module.method (core's InstrumentedModel owns `chat {model}`)
      // and carry transport attributes only.
      const names = spans.map((s) => s.name)
      assert.include(names, "OpenAiChat.request")
      assert.include(names, "OpenAiChat.requestStream")
      assert.isFalse(names.some((n) => n.startsWith("chat ")))
      const request = spans.find((s) => s.name === "OpenAiChat.request")!
      assert.strictEqual(request.attributes.get("url.path"), "/chat/completions")
      assert.strictEqual(request.attributes.get("http.response.status_code"), 401)
      assert.isFalse([...request.attributes.keys()].some((k) => k.startsWith("gen_ai.")))
      for (const t of texts) assert.notInclude(t, secret)
      assert.notInclude(texts.join("\n"), secret.slice(3))
    })
  )

  it.live("the provider span records the retry count and the final status", () =>
    Effect.gen(function* () {
      let calls = 0
      const server = yield* loopbackServer((_req, res) => {
        calls++
        if (calls === 1) {
          res.writeHead(503, { "content-type": "application/json", "retry-after-ms": "0" })
          res.end(JSON.stringify({ error: { message: "overloaded" } }))
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(chatCompletionBody("ok"))
      })
      const { spans, tracer } = yield* recordingTracer
      const layer = OpenAiChat.model("gpt-4o").pipe(
        Layer.provide(
          OpenAiClient.layer({
            baseUrl: server.baseUrl,
            apiKey: Redacted.make("sk-x"),
            retry: { times: 2, base: 0 }
          })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const r = yield* Effect.flatMap(Model.Model, (m) =>
        m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
      ).pipe(Effect.provide(layer), Effect.withTracer(tracer), Effect.scoped)
      assert.strictEqual(r.text, "ok")
      assert.strictEqual(calls, 2)
      const span = spans.find((s) => s.name === "OpenAiChat.request")!
      assert.strictEqual(span.attributes.get("http.request.resend_count"), 1)
      assert.strictEqual(span.attributes.get("http.response.status_code"), 200)
    }).pipe(Effect.scoped)
  )

  it.scoped(
    "inside an agent run the provider's attributes go on the chat span (one span per request)",
    () =>
      Effect.gen(function* () {
        const server = yield* chatCompletionServer("ok")
        const { spans, tracer } = yield* recordingTracer
        const agent = Agent.make({ name: "spans" })
        const run = (prompt: string) =>
          agent
            .run(prompt)
            .pipe(Effect.provide(modelLayer(server.baseUrl)), Effect.withTracer(tracer))
        const result = yield* run("hi")
        assert.strictEqual(result.output, "ok")
        const names = spans.map((s) => s.name)
        assert.deepStrictEqual(names, ["invoke_agent spans", "chat gpt-4o"])
        const chat = spans[1]!
        assert.strictEqual(chat.parent._tag === "Some" && chat.parent.value, spans[0])
        assert.strictEqual(chat.attributes.get("url.path"), "/chat/completions")
        assert.strictEqual(chat.attributes.get("http.response.status_code"), 200)
        assert.strictEqual(chat.attributes.get("gen_ai.request.model"), "gpt-4o")
        // The same model called directly keeps its own span.
        spans.length = 0
        yield* Effect.flatMap(Model.Model, (m) =>
          m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        ).pipe(Effect.provide(modelLayer(server.baseUrl)), Effect.withTracer(tracer))
        assert.deepStrictEqual(
          spans.map((s) => s.name),
          ["OpenAiChat.request"]
        )
        assert.strictEqual(spans[0]!.attributes.get("url.path"), "/chat/completions")
      })
  )

  it.scoped(
    "the platform client's own http.client span and trace headers are off unless httpClientSpans",
    () =>
      Effect.gen(function* () {
        const server = yield* chatCompletionServer("ok")
        const run = (httpClientSpans: boolean) =>
          Effect.gen(function* () {
            const { spans, tracer } = yield* recordingTracer
            yield* Effect.flatMap(Model.Model, (m) =>
              m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
            ).pipe(
              Effect.withSpan("test"),
              Effect.provide(modelLayer(server.baseUrl, "sk-x", httpClientSpans)),
              Effect.withTracer(tracer)
            )
            return spans.map((s) => s.name)
          })
        const off = yield* run(false)
        const on = yield* run(true)
        assert.include(off, "OpenAiChat.request")
        assert.isFalse(off.some((n) => n.startsWith("http.client")))
        assert.isUndefined(server.requests[0]!.headers.traceparent)
        assert.include(on, "OpenAiChat.request")
        assert.isTrue(on.some((n) => n.startsWith("http.client")))
        assert.isString(server.requests[1]!.headers.traceparent)
      })
  )

  it.scoped(
    "a prompt with a CachePoint runs on OpenAI: the text before it is the explicit cache breakpoint",
    () =>
      Effect.gen(function* () {
        const server = yield* chatCompletionServer("ok")
        const agent = Agent.make({ name: "cache" })
        const result = yield* agent
          .run(["A long context.", new Messages.CachePoint({}), "The question."])
          .pipe(Effect.provide(modelLayer(server.baseUrl)))
        assert.strictEqual(result.output, "ok")
        const body = server.requests[0]!.body as any
        assert.deepStrictEqual(body.messages.at(-1), {
          role: "user",
          content: [
            {
              type: "text",
              text: "A long context.",
              prompt_cache_breakpoint: { mode: "explicit" }
            },
            { type: "text", text: "The question." }
          ]
        })
      })
  )

  it.scoped(
    "settings.extraBody and extraHeaders reach the wire; model settings merge under run settings",
    () =>
      Effect.gen(function* () {
        const server = yield* chatCompletionServer("ok", { finishReason: "length" })
        const layer = OpenAiChat.model("gpt-4o", {
          settings: { temperature: 1, maxTokens: 10 }
        }).pipe(
          Layer.provide(
            OpenAiClient.layer({
              baseUrl: server.baseUrl,
              organization: "org-1",
              headers: { "x-app": "a" }
            })
          ),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        const r = yield* Effect.flatMap(Model.Model, (m) =>
          m.request(
            [Messages.userPrompt("hi")],
            { temperature: 0, extraBody: { service_tier: "flex" }, extraHeaders: { "x-run": "r" } },
            Model.ModelRequestParameters.empty
          )
        ).pipe(Effect.provide(layer))
        assert.strictEqual(r.finishReason, "length")
        const req = server.requests[0]!
        const body = req.body as any
        assert.strictEqual(body.temperature, 0)
        assert.strictEqual(body.max_completion_tokens, 10)
        assert.strictEqual(body.service_tier, "flex")
        assert.strictEqual(req.headers["x-run"], "r")
        assert.strictEqual(req.headers["x-app"], "a")
        assert.strictEqual(req.headers["openai-organization"], "org-1")
        assert.isUndefined(req.headers.authorization)
      })
  )

  it.scoped("Azure: deployment path, api-version query and api-key header", () =>
    Effect.gen(function* () {
      const server = yield* chatCompletionServer("hi")
      const layer = OpenAiCompatible.azureModel("my-gpt4o").pipe(
        Layer.provide(
          OpenAiCompatible.azureLayer({
            endpoint: server.baseUrl,
            apiKey: Redacted.make("az-key"),
            apiVersion: "2024-10-21"
          })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const r = yield* Effect.flatMap(Model.Model, (m) =>
        m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
      ).pipe(Effect.provide(layer))
      assert.strictEqual(r.text, "hi")
      assert.strictEqual(r.providerName, "azure")
      const req = server.requests[0]!
      assert.strictEqual(
        req.path,
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
      )
      assert.strictEqual(req.headers["api-key"], "az-key")
      assert.isUndefined(req.headers.authorization)
    })
  )

  it.scoped(
    "layerConfig reads OPENAI_API_KEY and OPENAI_BASE_URL; a missing key is a ConfigError",
    () =>
      Effect.gen(function* () {
        const server = yield* chatCompletionServer("ok")
        const env = (m: Record<string, string>) =>
          Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(m))))
        const call = Effect.flatMap(Model.Model, (m) =>
          m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        )
        const layer = OpenAiChat.model("gpt-4o").pipe(
          Layer.provide(OpenAiChat.layerConfig()),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        yield* call.pipe(
          Effect.provide(layer),
          Effect.provide(env({ OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: `${server.baseUrl}/v1` }))
        )
        assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer sk-env")
        assert.strictEqual(server.requests[0]!.path, "/v1/chat/completions")
        const error = yield* Effect.flip(call.pipe(Effect.provide(layer), Effect.provide(env({}))))
        assert.strictEqual((error as any)._op, "MissingData")
        assert.include(String(error), "OPENAI_API_KEY")
      })
  )

  it.scoped("interrupting a non-streamed request closes the connection", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer(() => {
        /* never answers */
      })
      // The HTTP client stays alive throughout: only the request's abort can close the socket.
      yield* Effect.gen(function* () {
        const model = yield* Model.Model
        const fiber = yield* Effect.fork(
          model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        )
        yield* server.waitRequests(1)
        assert.strictEqual(server.closedSockets(), 0)
        yield* Fiber.interrupt(fiber)
        yield* server.waitClosed(1)
        assert.strictEqual(server.closedSockets(), 1)
      }).pipe(Effect.provide(modelLayer(server.baseUrl)))
    })
  )
})
