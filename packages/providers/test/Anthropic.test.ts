import { Agent, Messages, Model, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import {
  apiErrorOf,
  collectStream,
  loadCase,
  replayServer,
  sseCase as replaySseCase,
  sseEvent as ev
} from "./support/replay.js"

const modelLayer = (baseUrl: string, name: string, options: Anthropic.Options = {}) =>
  Anthropic.model(name, options).pipe(
    Layer.provide(
      AnthropicClient.layer({ baseUrl, apiKey: Redacted.make("sk-ant-secret"), retry: false })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const cityParams = Schema.Struct({ city: Schema.String })

const sseCase = (sse: string) =>
  replaySseCase("anthropic", "messages", "/v1/messages?beta=true", sse)

const streamStart =
  ev("message_start", {
    message: {
      id: "msg_1",
      model: "claude-x",
      usage: { input_tokens: 10, cache_read_input_tokens: 5, output_tokens: 1 }
    }
  }) +
  ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }) +
  ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "Hello " } }) +
  ev("ping", {}) +
  ev("content_block_delta", { index: 0, delta: { type: "text_delta", text: "world" } })

const runStream = (baseUrl: string) => collectStream(modelLayer(baseUrl, "claude-x"))

describe("Anthropic request encoding", () => {
  const tool = new Tool.ToolDefinition({
    name: "lookup",
    parametersJsonSchema: { type: "object", properties: {} }
  })
  const output = new Tool.ToolDefinition({
    name: "final_result",
    parametersJsonSchema: { type: "object" },
    kind: "output"
  })

  it("system prompt + instructions go to `system`, consecutive user turns merge, tool results ride in a user message", () => {
    const body = Anthropic.encodeRequest(
      [
        new Messages.ModelRequest({
          parts: [
            new Messages.SystemPromptPart({ content: "Be brief." }),
            new Messages.UserPromptPart({ content: "hi" })
          ]
        }),
        new Messages.ModelResponse({
          parts: [
            new Messages.ToolCallPart({ toolName: "lookup", args: '{"q":1}', toolCallId: "t1" })
          ]
        }),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({
              toolName: "lookup",
              toolCallId: "t1",
              content: { ok: true }
            }),
            new Messages.RetryPromptPart({ content: "bad", toolName: "lookup", toolCallId: "t2" })
          ]
        }),
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: "more" })],
          instructions: "Answer in French."
        })
      ],
      {},
      new Model.ModelRequestParameters({ functionTools: [tool] }),
      { modelName: "claude-x", stream: false }
    )
    assert.strictEqual(body.system, "Answer in French.\n\nBe brief.")
    const messages = body.messages as Array<any>
    assert.deepStrictEqual(
      messages.map((m) => m.role),
      ["user", "assistant", "user"]
    )
    assert.deepStrictEqual(messages[1].content[0], {
      type: "tool_use",
      id: "t1",
      name: "lookup",
      input: { q: 1 }
    })
    assert.deepStrictEqual(messages[2].content, [
      {
        type: "tool_result",
        tool_use_id: "t1",
        content: [{ type: "text", text: '{"ok":true}' }],
        is_error: false
      },
      {
        type: "tool_result",
        tool_use_id: "t2",
        content: "bad\n\nFix the errors and try again.",
        is_error: true
      },
      { type: "text", text: "more" }
    ])
    assert.deepStrictEqual(body.tool_choice, { type: "auto" })
    assert.strictEqual(body.max_tokens, 4096)
  })

  it("forces output tools with `any`, but not with extended thinking (the API rejects it)", () => {
    const params = new Model.ModelRequestParameters({
      outputTools: [output],
      allowTextOutput: false,
      outputMode: "tool"
    })
    const plain = Anthropic.encodeRequest([Messages.userPrompt("x")], {}, params, {
      modelName: "m",
      stream: false
    })
    assert.deepStrictEqual(plain.tool_choice, { type: "any" })
    const thinking = Anthropic.encodeRequest(
      [Messages.userPrompt("x")],
      { thinking: { budgetTokens: 2000 } },
      params,
      {
        modelName: "m",
        stream: false
      }
    )
    assert.deepStrictEqual(thinking.tool_choice, { type: "auto" })
    assert.deepStrictEqual(thinking.thinking, { type: "enabled", budget_tokens: 2000 })
    assert.isAbove(thinking.max_tokens as number, 2000)
  })

  it("cache points: CachePoint marks the block before it; cacheInstructions / cacheTools mark system and the last tool", () => {
    const body = Anthropic.encodeRequest(
      [
        new Messages.ModelRequest({
          parts: [
            new Messages.SystemPromptPart({ content: "Long context" }),
            new Messages.UserPromptPart({
              content: ["doc text", new Messages.CachePoint({}), "question"]
            })
          ]
        })
      ],
      {},
      new Model.ModelRequestParameters({ functionTools: [tool] }),
      { modelName: "m", stream: false, cacheInstructions: true, cacheTools: "1h" }
    )
    assert.deepStrictEqual(body.system, [
      { type: "text", text: "Long context", cache_control: { type: "ephemeral", ttl: "5m" } }
    ])
    assert.deepStrictEqual((body.messages as Array<any>)[0].content, [
      { type: "text", text: "doc text", cache_control: { type: "ephemeral", ttl: "5m" } },
      { type: "text", text: "question" }
    ])
    assert.deepStrictEqual((body.tools as Array<any>)[0].cache_control, {
      type: "ephemeral",
      ttl: "1h"
    })
  })

  it("thinking from another provider is dropped; ours goes back unchanged (redacted too)", () => {
    const body = Anthropic.encodeRequest(
      [
        Messages.userPrompt("q"),
        new Messages.ModelResponse({
          parts: [
            new Messages.ThinkingPart({
              content: "theirs",
              signature: "x",
              providerName: "openai"
            }),
            new Messages.ThinkingPart({
              content: "mine",
              signature: "sig",
              providerName: "anthropic"
            }),
            new Messages.ThinkingPart({
              content: "",
              signature: "opaque",
              redacted: true,
              providerName: "anthropic"
            }),
            new Messages.TextPart({ content: "answer" })
          ]
        }),
        Messages.userPrompt("again")
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "m", stream: false }
    )
    assert.deepStrictEqual((body.messages as Array<any>)[1].content, [
      { type: "thinking", thinking: "mine", signature: "sig" },
      { type: "redacted_thinking", data: "opaque" },
      { type: "text", text: "answer" }
    ])
  })
})

describe("Anthropic over the wire", () => {
  it.scopedLive(
    "thinking round trip: the signed thinking block comes back in the next request unchanged",
    () =>
      Effect.gen(function* () {
        const c = loadCase("anthropic", "models.test_anthropic.test_anthropic_model_thinking_part")
        const server = yield* replayServer(c)
        const agent = Agent.make({ modelSettings: { thinking: { budgetTokens: 1024 } } })
        const layer = modelLayer(server.baseUrl, "claude-sonnet-4-5")
        const first = yield* agent.run("How do I cross the street?").pipe(Effect.provide(layer))
        const thinking = (first.allMessages()[1] as Messages.ModelResponse).thinking[0]!
        const recorded = (c.interactions[0]!.response.json as any).content[0]
        assert.strictEqual(thinking.signature, recorded.signature)
        assert.strictEqual(thinking.content, recorded.thinking)
        const second = yield* agent
          .run("Considering the way to cross the street, analogously, how do I cross the river?", {
            messageHistory: first.allMessages()
          })
          .pipe(Effect.provide(layer))
        const sent = server.received[1]!.body as any
        assert.deepStrictEqual(sent.messages[1].content[0], {
          type: "thinking",
          thinking: recorded.thinking,
          signature: recorded.signature
        })
        assert.deepStrictEqual(sent.thinking, { type: "enabled", budget_tokens: 1024 })
        assert.isTrue(second.output.startsWith("# How to Cross a River"))
        assert.strictEqual(server.unused(), 0)
        // The key travels in x-api-key and nowhere else.
        assert.strictEqual(server.received[0]!.headers["x-api-key"], "sk-ant-secret")
        assert.strictEqual(server.received[0]!.headers["anthropic-version"], "2023-06-01")
      })
  )

  it.scopedLive("multi-turn agent run: tool calls → tool results → final text", () =>
    Effect.gen(function* () {
      const c = loadCase("anthropic", "models.anthropic.test_output.test_mixed_tools_no_output")
      const server = yield* replayServer(c)
      const weather = Tool.make("get_weather", {
        parameters: cityParams,
        strict: true,
        handler: ({ city }) => Effect.succeed(`Weather in ${city}: Sunny, 22°C`)
      })
      const elevation = Tool.make("get_elevation", {
        parameters: cityParams,
        handler: ({ city }) => Effect.succeed(`Elevation of ${city}: 650m above sea level`)
      })
      const agent = Agent.make({ tools: [weather, elevation] })
      const result = yield* agent
        .run("What's the weather and elevation in Denver?")
        .pipe(Effect.provide(modelLayer(server.baseUrl, "claude-sonnet-4-5")))
      assert.isTrue(result.output.startsWith("The weather in Denver is **Sunny**"))
      assert.strictEqual(result.usage.requests, 2)
      assert.strictEqual(result.usage.toolCalls, 2)
      const sent = server.received[1]!.body as any
      assert.deepStrictEqual(
        sent.messages[2].content.map((b: any) => [b.tool_use_id, b.content[0].text]),
        [
          ["toolu_01BBTvQnxdxk7vPHD1ytXyGs", "Weather in Denver: Sunny, 22°C"],
          ["toolu_017Q9pGQ9Hx126pyyLLnVqJV", "Elevation of Denver: 650m above sea level"]
        ]
      )
    })
  )

  it.scopedLive("streaming: text deltas, usage with cache reads counted in input tokens", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        sseCase(
          streamStart +
            ev("content_block_stop", { index: 0 }) +
            ev("message_delta", {
              delta: { stop_reason: "end_turn" },
              usage: { output_tokens: 7 }
            }) +
            ev("message_stop", {})
        ),
        { rechunkSeed: 3 }
      )
      const exit = yield* runStream(server.baseUrl)
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? [...exit.value] : []
      const done = events.at(-1)!
      assert.strictEqual(done._tag, "ResponseCompleteEvent")
      if (done._tag !== "ResponseCompleteEvent") return
      assert.strictEqual(done.response.text, "Hello world")
      assert.strictEqual(done.response.finishReason, "stop")
      assert.strictEqual(done.response.usage.inputTokens, 15)
      assert.strictEqual(done.response.usage.cacheReadTokens, 5)
      assert.strictEqual(done.response.usage.outputTokens, 7)
      assert.strictEqual(done.response.providerResponseId, "msg_1")
    })
  )

  it.scopedLive(
    "an `error` event mid-stream fails with ModelAPIError keeping the partial response",
    () =>
      Effect.gen(function* () {
        const server = yield* replayServer(
          sseCase(
            streamStart +
              ev("error", { error: { type: "overloaded_error", message: "Overloaded" } })
          )
        )
        const exit = yield* runStream(server.baseUrl)
        assert.isTrue(Exit.isFailure(exit))
        const error = apiErrorOf(exit)
        assert.include(error.reason, "overloaded_error")
        assert.strictEqual(error.partialResponse?.text, "Hello world")
        assert.notInclude(JSON.stringify(error), "sk-ant-secret")
      })
  )

  it.scopedLive("a stream that ends without message_stop fails keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(sseCase(streamStart))
      const exit = yield* runStream(server.baseUrl)
      assert.strictEqual(apiErrorOf(exit).partialResponse?.text, "Hello world")
    })
  )
})

describe("Anthropic structured-output support by model", () => {
  it("native JSON-schema output and strict tools only on Claude 4.5+ / Opus 4.1", () => {
    const supported = [
      "claude-sonnet-4-5",
      "claude-sonnet-4-5-20250929",
      "claude-haiku-4-5",
      "claude-opus-4-1-20250805",
      "claude-opus-4-6",
      "claude-sonnet-5"
    ]
    const unsupported = [
      "claude-sonnet-4-0",
      "claude-sonnet-4-20250514",
      "claude-opus-4-0",
      "claude-3-5-sonnet-latest",
      "claude-3-opus-latest"
    ]
    for (const m of supported) assert.isTrue(Anthropic.profileFor(m).supportsJsonSchemaOutput, m)
    for (const m of unsupported) assert.isFalse(Anthropic.profileFor(m).supportsJsonSchemaOutput, m)
    // Older models get tool output by default.
    assert.strictEqual(
      Anthropic.profileFor("claude-sonnet-4-0").defaultStructuredOutputMode,
      "tool"
    )
  })

  it("strict: true on a tool is dropped for models without strict tools (as pydantic-ai does)", () => {
    const params = new Model.ModelRequestParameters({
      functionTools: [
        new Tool.ToolDefinition({
          name: "get_population",
          parametersJsonSchema: {
            type: "object",
            properties: { city: { type: "string" } },
            required: ["city"],
            additionalProperties: false
          },
          strict: true
        })
      ]
    })
    const old = Anthropic.encodeRequest([Messages.userPrompt("x")], {}, params, {
      modelName: "claude-sonnet-4-0",
      stream: false
    }) as any
    const recent = Anthropic.encodeRequest([Messages.userPrompt("x")], {}, params, {
      modelName: "claude-sonnet-4-5",
      stream: false
    }) as any
    assert.isUndefined(old.tools[0].strict)
    assert.strictEqual(recent.tools[0].strict, true)
  })
})
