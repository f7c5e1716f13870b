/**
 * `Model.countTokens` of the providers that can count, against recorded traffic: the count
 * interactions of the conformance cases are replayed from a loopback server; the body the
 * server received must match the recorded one, and the recorded count (or error) comes back.
 * The generation interactions of the same cases are covered by the conformance suites.
 */
import {
  Agent,
  AgentError,
  BuiltinTool,
  HistoryProcessor,
  Messages,
  Model,
  Tool,
  Usage
} from "@agentfx/core"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Bedrock from "../src/Bedrock.js"
import * as BedrockClient from "../src/BedrockClient.js"
import * as BedrockMantle from "../src/BedrockMantle.js"
import * as BedrockMantleClient from "../src/BedrockMantleClient.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as GoogleAuth from "../src/GoogleAuth.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { type ConformanceCase, loadCase, loopbackServer, replayServer } from "./support/replay.js"

type Json = Record<string, unknown>

const anthropic = (baseUrl: string, name: string) =>
  Anthropic.model(name).pipe(
    Layer.provide(
      AnthropicClient.layer({ baseUrl, apiKey: Redacted.make("sk-ant-x"), retry: false })
    )
  )
const google = (baseUrl: string, name: string) =>
  Google.model(name).pipe(
    Layer.provide(GoogleClient.layer({ baseUrl, apiKey: Redacted.make("g-x"), retry: false }))
  )
const responses = (baseUrl: string, name: string) =>
  OpenAiResponses.model(name).pipe(
    Layer.provide(
      OpenAiClient.layer({ baseUrl: `${baseUrl}/v1`, apiKey: Redacted.make("sk-x"), retry: false })
    )
  )

const bedrock = (baseUrl: string, name: string) =>
  Bedrock.model(name).pipe(
    Layer.provide(
      BedrockClient.layer({
        region: "us-east-1",
        baseUrl,
        credentials: { accessKeyId: "AKIDCOUNT", secretAccessKey: Redacted.make("count-secret") },
        retry: false
      })
    )
  )

/** The case's first counting interaction. */
const countOf = (c: ConformanceCase) => {
  const it = c.interactions.find((i) => /count|input_tokens/i.test(i.endpoint))
  if (it === undefined) throw new Error(`${c.id}: no count interaction`)
  return it
}

/**
 * Counts with the model `make` builds over a loopback replay of a recorded count case, and
 * checks that the one request sent is the recorded one; the usage is returned.
 */
const countRecorded = (
  folder: string,
  caseId: string,
  make: (baseUrl: string) => Layer.Layer<Model.Model, never, HttpClient.HttpClient>,
  ...args: Parameters<NonNullable<Model.Service["countTokens"]>>
) =>
  Effect.gen(function* () {
    const c = loadCase(folder, caseId)
    const recorded = countOf(c)
    const server = yield* replayServer(c)
    const model = yield* Model.resolve(
      make(server.baseUrl).pipe(Layer.provide(NodeHttpClient.layerUndici))
    )
    const usage = yield* model.countTokens!(...args)
    assert.strictEqual(server.received.length, 1)
    assert.deepStrictEqual(server.received[0]!.body, recorded.request.body)
    return usage
  })

/** The recorded user prompt of a count request (text of the first user message). */
const promptOf = (body: Json): string => {
  const m = ((body.messages ?? body.contents ?? body.input) as Array<Json>)[0]!
  if (typeof m.content === "string") return m.content
  const parts = (m.content ?? m.parts) as Array<Json>
  return parts[0]!.text as string
}

const cases = [
  {
    provider: "anthropic",
    id: "models.test_anthropic.test_anthropic_model_usage_limit_not_exceeded",
    layer: anthropic,
    model: "claude-sonnet-4-5",
    tokens: 19
  },
  {
    provider: "google",
    id: "models.test_google.test_google_model_usage_limit_not_exceeded",
    layer: google,
    model: "gemini-2.5-flash",
    tokens: 12
  },
  {
    provider: "openai-responses",
    id: "models.test_openai_responses.test_responses_usage_limit_not_exceeded",
    layer: responses,
    model: "gpt-4.1-mini",
    tokens: 18
  }
] as const

describe("Model.countTokens (recorded)", () => {
  for (const k of cases) {
    it.scoped(`${k.provider}: ${k.id}`, () =>
      Effect.gen(function* () {
        const c = loadCase(k.provider, k.id)
        const recorded = countOf(c)
        const server = yield* replayServer(c)
        const model = yield* Model.resolve(
          k.layer(server.baseUrl, k.model).pipe(Layer.provide(NodeHttpClient.layerUndici))
        )
        assert.isDefined(model.countTokens)
        const usage = yield* model.countTokens!(
          [Messages.userPrompt(promptOf(recorded.request.body as Json))],
          { temperature: 0.5, maxTokens: 100, extraBody: { metadata: { x: 1 } } },
          Model.ModelRequestParameters.empty
        )
        assert.strictEqual(usage.inputTokens, k.tokens)
        assert.strictEqual(usage.outputTokens, 0)
        // One request, to the recorded path, with the recorded body: no generation settings,
        // no `extraBody` (counting endpoints reject fields they do not know).
        assert.strictEqual(server.received.length, 1)
        assert.strictEqual(server.received[0]!.path, recorded.request.path)
        const sent = server.received[0]!.body as Json
        const expected = recorded.request.body as Json
        assert.deepStrictEqual(sent, expected)
        assert.isUndefined(sent.max_tokens)
        assert.isUndefined(sent.temperature)
        assert.isUndefined(sent.metadata)
      })
    )
  }

  it.scoped("bedrock: the tool configuration is counted (recorded CountTokens)", () =>
    Effect.gen(function* () {
      const c = loadCase("bedrock", "models.test_bedrock.test_bedrock_count_tokens_tool_config")
      const recorded = countOf(c)
      const server = yield* replayServer(c)
      const model = yield* Model.resolve(
        bedrock(server.baseUrl, "us.anthropic.claude-sonnet-4-20250514-v1:0").pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      // The recorded tool's own JSON schema (pydantic-ai's, without `required`).
      const weather = new Tool.ToolDefinition({
        name: "get_weather",
        description: "Get the weather for a location",
        parametersJsonSchema: { type: "object", properties: { location: { type: "string" } } }
      })
      const usage = yield* model.countTokens!(
        [Messages.userPrompt("What is the weather in Paris?")],
        { maxTokens: 100, extraBody: { x: 1 } },
        new Model.ModelRequestParameters({ functionTools: [weather] })
      )
      assert.strictEqual(usage.inputTokens, 375)
      // The inference profile prefix (`us.`) is dropped: CountTokens takes base model ids.
      assert.strictEqual(server.received.length, 1)
      assert.strictEqual(server.received[0]!.path, recorded.request.path)
      assert.deepStrictEqual(server.received[0]!.body, recorded.request.body)
      assert.match(server.received[0]!.headers.authorization ?? "", /^AWS4-HMAC-SHA256 /)
      assert.notInclude(JSON.stringify(server.received[0]!.headers), "count-secret")
    })
  )

  it.scoped(
    "google vertex: native tools are counted, then the same request generates (recorded)",
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "google",
          "models.test_google.test_google_vertexai_count_tokens_forwards_native_tools"
        )
        const [count, generate] = c.interactions
        const server = yield* replayServer(c)
        const model = yield* Model.resolve(
          Google.model("gemini-2.5-flash").pipe(
            Layer.provide(
              GoogleClient.vertexLayer({
                credentials: GoogleAuth.accessToken(Redacted.make("vertex-count-token")),
                project: "pydantic-ai",
                baseUrl: server.baseUrl,
                retry: false
              })
            ),
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
        const messages = [
          new Messages.ModelRequest({
            parts: [
              new Messages.SystemPromptPart({ content: "You are a helpful chatbot." }),
              new Messages.UserPromptPart({ content: "What is the capital of France?" })
            ]
          })
        ]
        const parameters = new Model.ModelRequestParameters({
          builtinTools: [new BuiltinTool.WebSearch()]
        })
        const usage = yield* model.countTokens!(messages, {}, parameters)
        assert.strictEqual(usage.inputTokens, 13)
        // Vertex takes system instruction and tools at the top level of the count body.
        assert.strictEqual(server.received[0]!.path, count!.request.path)
        assert.deepStrictEqual(server.received[0]!.body, count!.request.body)
        assert.strictEqual(server.received[0]!.headers.authorization, "Bearer vertex-count-token")
        const response = yield* model.request(messages, {}, parameters)
        assert.strictEqual(response.text, "The capital of France is Paris.")
        assert.strictEqual(server.received[1]!.path, generate!.request.path)
        assert.deepStrictEqual(server.received[1]!.body, generate!.request.body)
        assert.strictEqual(server.received.length, 2)
      })
  )

  it.scoped("anthropic: built-in tools are counted too (the memory tool, recorded)", () =>
    Effect.gen(function* () {
      const usage = yield* countRecorded(
        "anthropic",
        "models.test_anthropic.test_anthropic_count_tokens_keeps_memory_tool",
        (baseUrl) => anthropic(baseUrl, "claude-sonnet-4-5"),
        [Messages.userPrompt("What is 2 + 2?")],
        {},
        new Model.ModelRequestParameters({ builtinTools: [new BuiltinTool.Memory()] })
      )
      assert.strictEqual(usage.inputTokens, 1581)
    })
  )

  it.scoped("anthropic: a history with a tool search's tool_reference is counted (recorded)", () =>
    Effect.gen(function* () {
      const usage = yield* countRecorded(
        "anthropic",
        "models.test_anthropic.test_anthropic_count_tokens_with_tool_search_replay",
        (baseUrl) => anthropic(baseUrl, "claude-sonnet-4-5"),
        [
          Messages.userPrompt("What is the USD to EUR rate?"),
          new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({
                toolName: "search_tools",
                args: { queries: ["exchange rate"] },
                toolCallId: "search-1"
              })
            ]
          }),
          new Messages.ModelRequest({
            parts: [
              new Messages.ToolReturnPart({
                toolName: "search_tools",
                toolCallId: "search-1",
                content: [new Messages.ToolReference({ toolName: "get_exchange_rate" })]
              })
            ]
          })
        ],
        {},
        new Model.ModelRequestParameters({
          functionTools: [
            new Tool.ToolDefinition({
              name: "get_exchange_rate",
              parametersJsonSchema: { type: "object" }
            })
          ]
        })
      )
      assert.strictEqual(usage.inputTokens, 641)
    })
  )

  it.scoped("openai-responses: instructions are counted (recorded)", () =>
    Effect.gen(function* () {
      const usage = yield* countRecorded(
        "openai-responses",
        "models.test_openai_responses.test_responses_count_tokens",
        (baseUrl) => responses(baseUrl, "gpt-4.1-mini"),
        [
          new Messages.ModelRequest({
            parts: [new Messages.UserPromptPart({ content: "" })],
            instructions: "Follow the system instructions."
          })
        ],
        {},
        Model.ModelRequestParameters.empty
      )
      assert.strictEqual(usage.inputTokens, 16)
    })
  )

  it.scoped("anthropic: a recorded 404 becomes a ModelHTTPError", () =>
    Effect.gen(function* () {
      const c = loadCase("anthropic", "models.test_anthropic.test_anthropic_count_tokens_error")
      const server = yield* replayServer(c)
      const model = yield* Model.resolve(
        anthropic(server.baseUrl, "claude-does-not-exist").pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      const error = yield* Effect.flip(
        model.countTokens!([Messages.userPrompt("hello")], {}, Model.ModelRequestParameters.empty)
      )
      assert.instanceOf(error, AgentError.ModelHTTPError)
      assert.strictEqual((error as AgentError.ModelHTTPError).status, 404)
      assert.deepStrictEqual(server.received[0]!.body, countOf(c).request.body)
      assert.notInclude(JSON.stringify(error), "sk-ant-x")
    })
  )

  it.scoped(
    "Bedrock mantle's Responses models do not claim to count (no such endpoint recorded)",
    () =>
      Effect.gen(function* () {
        const model = yield* Model.resolve(
          BedrockMantle.model("openai.gpt-5.4").pipe(
            Layer.provide(
              BedrockMantleClient.layer({
                region: "us-east-1",
                apiKey: Redacted.make("k"),
                retry: false
              })
            ),
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
        assert.strictEqual(BedrockMantle.apiOf("openai.gpt-5.4"), "responses")
        assert.isUndefined(model.countTokens)
      })
  )

  it("google: system instructions and tools go in generateContentRequest", () => {
    const body = { contents: [], systemInstruction: { parts: [{ text: "sys" }] } }
    assert.deepStrictEqual(Google.countTokensBody("gemini-2.5-flash", body), {
      generateContentRequest: { model: "models/gemini-2.5-flash", ...body }
    })
    assert.deepStrictEqual(
      Google.countTokensBody("gemini-2.5-flash", { contents: [1], generationConfig: {} }),
      { contents: [1] }
    )
  })

  it.scoped("tokenBudget trims with the provider's count; the model gets the trimmed history", () =>
    Effect.gen(function* () {
      // Counts are 10 tokens per message; the budget of 35 fits the last turn and one more.
      const server = yield* loopbackServer((req, res) => {
        const body = req.body as Json
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify(
            req.path.startsWith("/v1/messages/count_tokens")
              ? { input_tokens: 10 * (body.messages as Array<unknown>).length }
              : {
                  id: "msg_1",
                  type: "message",
                  role: "assistant",
                  model: "claude-sonnet-4-5",
                  content: [{ type: "text", text: "fine" }],
                  stop_reason: "end_turn",
                  usage: { input_tokens: 30, output_tokens: 1 }
                }
          )
        )
      })
      const agent = Agent.make({
        model: anthropic(server.baseUrl, "claude-sonnet-4-5").pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        ),
        historyProcessors: [HistoryProcessor.tokenBudget({ maxTokens: 35 })]
      })
      const said = (text: string) =>
        new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: text })] })
      const result = yield* agent.run("q3", {
        messageHistory: [
          Messages.userPrompt("q1"),
          said("a1"),
          Messages.userPrompt("q2"),
          said("a2")
        ]
      })
      assert.strictEqual(result.output, "fine")
      assert.deepStrictEqual(
        server.requests.map((r) => [
          r.path,
          (r.body as { messages: Array<unknown> }).messages.length
        ]),
        [
          [Anthropic.countTokensPath, 5],
          [Anthropic.countTokensPath, 3],
          [AnthropicClient.messagesPath, 3]
        ]
      )
      const text = (m: unknown) => ((m as Json).content as Array<Json>)[0]!.text
      assert.deepStrictEqual(
        (server.requests[2]!.body as { messages: Array<unknown> }).messages.map(text),
        ["q2", "a2", "q3"]
      )
      // The stored history keeps every message.
      assert.strictEqual(result.allMessages().length, 6)
    })
  )

  // UsageLimits.countTokensBeforeRequest end to end: the recorded count, then (within the
  // limit) the recorded generation, through an agent run.
  for (const k of cases) {
    it.scoped(`${k.provider}: countTokensBeforeRequest within the limit (${k.id})`, () =>
      Effect.gen(function* () {
        const c = loadCase(k.provider, k.id)
        const recorded = countOf(c)
        const generation = c.interactions.find((i) => i !== recorded)!
        const server = yield* replayServer(c)
        const agent = Agent.make({
          model: k.layer(server.baseUrl, k.model).pipe(Layer.provide(NodeHttpClient.layerUndici))
        })
        const result = yield* agent.run(promptOf(recorded.request.body as Json), {
          usageLimits: new Usage.UsageLimits({
            inputTokensLimit: 50,
            countTokensBeforeRequest: true
          })
        })
        // Counted first, then sent; every recorded interaction used once, in order.
        assert.deepStrictEqual(
          server.received.map((r) => r.path),
          [recorded.request.path, generation.request.path]
        )
        assert.deepStrictEqual(server.received[0]!.body, recorded.request.body)
        const sent = server.received[1]!.body as Json
        const expected = generation.request.body as Json
        for (const field of ["messages", "contents", "input", "model"]) {
          assert.deepStrictEqual(sent[field], expected[field], field)
        }
        assert.include(result.output, "pangram")
        assert.strictEqual(result.usage.requests, 1)
        assert.isAbove(result.usage.inputTokens, 0)
      })
    )
  }

  const exceeded = [
    {
      provider: "anthropic",
      id: "models.test_anthropic.test_anthropic_model_usage_limit_exceeded",
      layer: anthropic,
      model: "claude-sonnet-4-5",
      prompt: ["The quick brown fox jumps over the lazydog."],
      tokens: 19
    },
    {
      provider: "bedrock",
      id: "models.test_bedrock.test_bedrock_model_usage_limit_exceeded",
      layer: bedrock,
      model: "us.anthropic.claude-sonnet-4-20250514-v1:0",
      prompt: [
        "The quick brown fox jumps over the lazydog.",
        new Messages.CachePoint(),
        "What was next?"
      ],
      tokens: 23
    }
  ] as const

  for (const k of exceeded) {
    it.scoped(
      `${k.provider}: countTokensBeforeRequest over the limit: nothing sent (${k.id})`,
      () =>
        Effect.gen(function* () {
          const c = loadCase(k.provider, k.id)
          const server = yield* replayServer(c)
          const agent = Agent.make({
            model: k.layer(server.baseUrl, k.model).pipe(Layer.provide(NodeHttpClient.layerUndici))
          })
          const error = yield* agent
            .run([...k.prompt], {
              usageLimits: new Usage.UsageLimits({
                inputTokensLimit: 18,
                countTokensBeforeRequest: true
              })
            })
            .pipe(Effect.flip)
          assert.instanceOf(error, AgentError.UsageLimitExceeded)
          const e = error as AgentError.UsageLimitExceeded
          assert.strictEqual(
            e.message,
            `The next request would exceed the input_tokens_limit of 18 (input_tokens=${k.tokens})`
          )
          assert.strictEqual(e.limit, "inputTokensLimit")
          assert.strictEqual(e.value, k.tokens)
          assert.deepStrictEqual(
            e.messages.map((m) => m._tag),
            ["ModelRequest"]
          )
          // The count only: the generation request was never sent.
          assert.strictEqual(server.received.length, 1)
          assert.strictEqual(server.received[0]!.path, c.interactions[0]!.request.path)
          assert.deepStrictEqual(server.received[0]!.body, c.interactions[0]!.request.body)
        })
    )
  }
})
