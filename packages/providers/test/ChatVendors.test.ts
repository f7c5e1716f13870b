/**
 * The Chat Completions vendors with settings of their own — Cerebras, Z.AI and Snowflake Cortex
 * (pydantic-ai's `CerebrasModel`, `ZaiModel`, `SnowflakeModel`): what each request carries for
 * the portable `thinking` setting and the vendor's own, and what comes back, over a loopback
 * stand-in for the vendor.
 */
import { AgentError, Messages, Model, ModelSettings } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Cerebras from "../src/Cerebras.js"
import * as OpenAiCompatible from "../src/OpenAiCompatible.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as Snowflake from "../src/Snowflake.js"
import * as Zai from "../src/Zai.js"
import { loopbackServer } from "./support/replay.js"

type Json = Record<string, any>

const completion = (message: Json, finishReason: string | null = "stop") => ({
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1759509677,
  model: "m",
  choices: [{ index: 0, finish_reason: finishReason, message: { role: "assistant", ...message } }],
  usage: { prompt_tokens: 10, completion_tokens: 2, total_tokens: 12 }
})

/** A loopback vendor answering every request with `answer(i)`; the request bodies kept. */
const vendorServer = (answer: (i: number) => Json) =>
  loopbackServer((_req, res, i) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify(answer(i)))
  })

const prompt = [Messages.userPrompt("Hello")]
const noParams = Model.ModelRequestParameters.empty

/** Runs `use` with the model layer over a client of this base URL. */
const withModel = <A, E>(
  modelLayer: Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient>,
  baseUrl: string,
  use: (model: Model.Service) => Effect.Effect<A, E>
) =>
  Effect.flatMap(Model.Model, use).pipe(
    Effect.provide(
      modelLayer.pipe(
        Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("k"), baseUrl, retry: false })),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
  )

/** The bodies sent for each settings, one request each. */
const bodiesFor = (
  modelLayer: Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient>,
  settings: ReadonlyArray<ModelSettings.ModelSettings>
) =>
  Effect.gen(function* () {
    const server = yield* vendorServer(() => completion({ content: "Hi" }))
    yield* withModel(modelLayer, server.baseUrl, (model) =>
      Effect.forEach(settings, (s) => model.request(prompt, s, noParams))
    )
    return server.requests.map((r) => r.body as Json)
  })

describe("Cerebras", () => {
  it.scoped("disable_reasoning from cerebrasDisableReasoning or the portable thinking", () =>
    Effect.gen(function* () {
      const settings: ReadonlyArray<Cerebras.Settings> = [
        { cerebrasDisableReasoning: true },
        { cerebrasDisableReasoning: false, thinking: false },
        { thinking: false },
        { thinking: "high" },
        { thinking: { budgetTokens: 1000 } },
        {}
      ]
      const bodies = yield* bodiesFor(Cerebras.model("qwen-3-32b"), settings)
      assert.deepStrictEqual(
        bodies.map((b) => b.disable_reasoning),
        [true, false, true, false, false, undefined]
      )
      // Cerebras takes no reasoning effort from `thinking`
      for (const b of bodies) assert.strictEqual(b.reasoning_effort, undefined)
      assert.strictEqual(bodies[0]!.model, "qwen-3-32b")
    })
  )

  it.scoped("gpt-oss always reasons; GLM is turned off with reasoning_effort none", () =>
    Effect.gen(function* () {
      const pick = (b: Json) => ({
        disable_reasoning: b.disable_reasoning,
        reasoning_effort: b.reasoning_effort,
        clear_thinking: b.clear_thinking
      })
      const none = {
        disable_reasoning: undefined,
        reasoning_effort: undefined,
        clear_thinking: undefined
      }
      const gptOssSettings: ReadonlyArray<Cerebras.Settings> = [
        { thinking: false },
        { thinking: "high" },
        { cerebrasDisableReasoning: false }
      ]
      const gptOss = yield* bodiesFor(Cerebras.model("gpt-oss-120b"), gptOssSettings)
      assert.deepStrictEqual(gptOss.map(pick), [none, none, { ...none, disable_reasoning: false }])
      // the vendor by name (ModelRegistry's `cerebras:`) sends the same fields
      const glm = yield* bodiesFor(OpenAiCompatible.model("cerebras", "zai-glm-4.7"), [
        { thinking: false },
        { thinking: true },
        {}
      ])
      assert.deepStrictEqual(glm.map(pick), [
        { ...none, reasoning_effort: "none", clear_thinking: false },
        { ...none, clear_thinking: false },
        { ...none, clear_thinking: false }
      ])
    })
  )
})

describe("Zai", () => {
  it.scoped("thinking type, preserved thinking and reasoning effort per GLM model", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, Zai.Settings, Json]> = [
        // thinking models keep the reasoning of earlier turns unless told to clear it
        ["glm-4.7", {}, { thinking: { clear_thinking: false } }],
        ["glm-4.7", { thinking: true }, { thinking: { type: "enabled", clear_thinking: false } }],
        ["glm-4.7", { thinking: false }, { thinking: { type: "disabled", clear_thinking: false } }],
        [
          "glm-4.7",
          { thinking: "high", zaiClearThinking: true },
          { thinking: { type: "enabled", clear_thinking: true } }
        ],
        // effort levels go to GLM-5.2 as they are, to GLM-5.3 mapped onto its own
        [
          "glm-5.2",
          { thinking: "low" },
          { thinking: { type: "enabled", clear_thinking: false }, reasoning_effort: "low" }
        ],
        [
          "glm-5.3",
          { thinking: "medium" },
          { thinking: { type: "enabled", clear_thinking: false }, reasoning_effort: "high" }
        ],
        // GLM-5.3 always thinks: `false` is not sent
        ["glm-5.3", { thinking: false }, { thinking: { clear_thinking: false } }],
        // a level GLM-5.3 has and `thinking` has not
        [
          "glm-5.3",
          { thinking: true, zaiReasoningEffort: "max" },
          { thinking: { type: "enabled", clear_thinking: false }, reasoning_effort: "max" }
        ],
        // models before GLM-4.5 do not think: nothing unless asked
        ["glm-4-32b-0414-128k", {}, {}],
        ["glm-4-32b-0414-128k", { thinking: false }, { thinking: { type: "disabled" } }]
      ]
      for (const [name, settings, want] of cases) {
        const [body] = yield* bodiesFor(Zai.model(name), [settings])
        assert.deepStrictEqual(
          { thinking: body!.thinking, reasoning_effort: body!.reasoning_effort },
          { thinking: undefined, reasoning_effort: undefined, ...want },
          `${name} ${JSON.stringify(settings)}`
        )
      }
    })
  )

  it.scoped("reasoning comes back and goes back as reasoning_content; Z.AI's finish reasons", () =>
    Effect.gen(function* () {
      const server = yield* vendorServer((i) =>
        i === 0
          ? completion({ content: "4", reasoning_content: "2 and 2" }, "stop")
          : completion(
              { content: "" },
              ["sensitive", "model_context_window_exceeded", "network_error"][i - 1]!
            )
      )
      const reasons = yield* withModel(Zai.model("glm-4.7"), server.baseUrl, (model) =>
        Effect.gen(function* () {
          const first = yield* model.request(prompt, { thinking: true }, noParams)
          const thinking = first.parts.find((p) => p._tag === "ThinkingPart")
          assert.strictEqual(
            thinking?._tag === "ThinkingPart" ? thinking.content : undefined,
            "2 and 2"
          )
          const history = [...prompt, first, Messages.userPrompt("Why?")]
          const out: Array<readonly [unknown, unknown]> = []
          for (let i = 0; i < 3; i++) {
            const r = yield* model.request(history, {}, noParams)
            out.push([r.finishReason, r.providerFinishReason])
          }
          return out
        })
      )
      const assistant = (server.requests[1]!.body as Json).messages.find(
        (m: Json) => m.role === "assistant"
      )
      assert.strictEqual(assistant.reasoning_content, "2 and 2")
      assert.strictEqual(assistant.content, "4")
      assert.deepStrictEqual(reasons, [
        ["content_filter", "sensitive"],
        ["length", "model_context_window_exceeded"],
        ["error", "network_error"]
      ])
    })
  )
})

describe("Snowflake", () => {
  it.scoped("Claude: reasoning from snowflakeReasoning or thinking, temperature 1 with it", () =>
    Effect.gen(function* () {
      const settings: ReadonlyArray<Snowflake.Settings> = [
        { thinking: true },
        { thinking: "minimal" },
        { thinking: { budgetTokens: 2048 } },
        { snowflakeReasoning: { effort: "high" }, thinking: "low", temperature: 0.5 },
        { thinking: false },
        {}
      ]
      const bodies = yield* bodiesFor(Snowflake.model("claude-sonnet-4-5"), settings)
      assert.deepStrictEqual(
        bodies.map((b) => [b.reasoning, b.temperature]),
        [
          [{ effort: "medium" }, 1],
          [{ effort: "low" }, 1],
          [{ max_tokens: 2048 }, 1],
          [{ effort: "high" }, 0.5],
          [undefined, undefined],
          [undefined, undefined]
        ]
      )
      for (const b of bodies) assert.strictEqual(b.reasoning_effort, undefined)
      // other families take no `reasoning`
      const [llama] = yield* bodiesFor(Snowflake.model("llama3.1-70b"), [{ thinking: true }])
      assert.strictEqual(llama!.reasoning, undefined)
    })
  )

  it("profiles per model family, as Cortex serves them", () => {
    const claude = Snowflake.profile("claude-sonnet-4-5")
    assert.deepStrictEqual(
      [claude.supportsTools, claude.supportsJsonSchemaOutput, claude.supportsJsonObjectOutput],
      [true, true, false]
    )
    assert.isTrue(claude.supportsThinking)
    assert.isFalse(claude.supportsStrictTools)
    const gpt = Snowflake.profile("openai-gpt-5")
    assert.isTrue(gpt.supportsReasoningEffort)
    assert.isFalse(gpt.supportsStrictTools)
    assert.strictEqual(gpt.builtinTools, undefined)
    const llama = Snowflake.profile("llama3.1-70b")
    assert.deepStrictEqual(
      [llama.supportsTools, llama.supportsJsonSchemaOutput, llama.defaultStructuredOutputMode],
      [false, false, "prompted"]
    )
  })

  it.scoped(
    "an empty finish_reason (Cortex's Claude) is a tool call or a stop; reasoning_details round-trip",
    () =>
      Effect.gen(function* () {
        const detail = {
          type: "reasoning.text",
          text: "think",
          signature: "sig",
          index: 0,
          format: "anthropic-claude-v1"
        }
        const server = yield* vendorServer((i) =>
          i === 0
            ? completion(
                {
                  content: null,
                  reasoning_details: [detail],
                  tool_calls: [
                    { id: "t1", type: "function", function: { name: "get", arguments: '{"a":1}' } }
                  ]
                },
                ""
              )
            : completion({ content: "done" }, "")
        )
        const [first, second] = yield* withModel(
          Snowflake.model("claude-sonnet-4-5"),
          server.baseUrl,
          (model) =>
            Effect.gen(function* () {
              const first = yield* model.request(prompt, {}, noParams)
              const second = yield* model.request([...prompt, first], {}, noParams)
              return [first, second] as const
            })
        )
        assert.strictEqual(first.finishReason, "tool_call")
        assert.strictEqual(first.providerFinishReason, undefined)
        assert.strictEqual(second.finishReason, "stop")
        assert.strictEqual(first.providerName, "snowflake")
        const thinking = first.parts.find((p) => p._tag === "ThinkingPart")
        assert.strictEqual(
          thinking?._tag === "ThinkingPart" ? thinking.signature : undefined,
          "sig"
        )
        const assistant = (server.requests[1]!.body as Json).messages.find(
          (m: Json) => m.role === "assistant"
        )
        assert.deepStrictEqual(assistant.reasoning_details, [detail])
      })
  )

  it.effect("the account becomes Cortex's URL; an identifier that is not one fails the layer", () =>
    Effect.gen(function* () {
      const clientOf = (account: string) =>
        Effect.exit(
          Effect.provide(
            OpenAiClient.OpenAiClient,
            Snowflake.layer({ account, apiKey: Redacted.make("token") }).pipe(
              Layer.provide(NodeHttpClient.layerUndici)
            )
          )
        )
      for (const account of ["myorg-acct", "https://myorg-acct.snowflakecomputing.com/"]) {
        const exit = yield* clientOf(account)
        assert.isTrue(Exit.isSuccess(exit), account)
        if (Exit.isSuccess(exit)) {
          assert.strictEqual(
            exit.value.baseUrl,
            "https://myorg-acct.snowflakecomputing.com/api/v2/cortex/v1"
          )
        }
      }
      const bad = yield* clientOf("evil.example/path")
      assert.isTrue(Exit.isFailure(bad))
      if (Exit.isFailure(bad)) {
        const error = bad.cause._tag === "Fail" ? bad.cause.error : undefined
        assert.instanceOf(error, AgentError.UserError)
        assert.include(String(error?.message), "evil.example/path")
        assert.notInclude(String(error?.message), "token")
      }
    })
  )
})

describe("xAI", () => {
  it.scoped("Grok on xAI's Chat Completions: reasoning_content decoded, effort only as sent", () =>
    Effect.gen(function* () {
      const server = yield* vendorServer(() =>
        completion({ content: "555", reasoning_content: "15 * 37 = 555" })
      )
      const response = yield* withModel(
        OpenAiCompatible.model("xai", "grok-3-mini"),
        server.baseUrl,
        (model) =>
          model.request(
            prompt,
            { maxTokens: 100, thinking: true, extraBody: { reasoning_effort: "high" } },
            noParams
          )
      )
      const body = server.requests[0]!.body as Json
      assert.strictEqual(server.requests[0]!.path, "/chat/completions")
      assert.strictEqual(body.max_completion_tokens, 100)
      assert.strictEqual(body.reasoning_effort, "high")
      assert.strictEqual(response.providerName, "xai")
      assert.strictEqual(response.text, "555")
      const thinking = response.parts.find((p) => p._tag === "ThinkingPart")
      assert.strictEqual(
        thinking?._tag === "ThinkingPart" ? thinking.content : undefined,
        "15 * 37 = 555"
      )
      assert.strictEqual(OpenAiCompatible.vendors.xai?.apiKeyEnv, "XAI_API_KEY")
    })
  )
})
