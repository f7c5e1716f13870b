/**
 * Messages API request options, replayed against pydantic-ai's recordings:
 * - automatic prompt caching (`autoCache`: a top-level `cache_control`): the recorded count
 *   request and message request through one model, each body equal to the recorded one;
 * - a non-streamed request with a large `max_tokens` is sent streamed and assembled.
 */
import { Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Wire from "../src/internal/anthropic.js"
import { loadCase, replayServer } from "./support/replay.js"

describe("Anthropic automatic caching", () => {
  it.scoped("autoCache sends a top-level cache_control on counts and requests (recorded)", () =>
    Effect.gen(function* () {
      const c = loadCase("anthropic", "models.test_anthropic.test_anthropic_cache_count_tokens")
      const [count, message] = c.interactions
      const body = message!.request.body as Record<string, any>
      const server = yield* replayServer(c)
      const model = yield* Model.resolve(
        Anthropic.model("claude-sonnet-4-5", { autoCache: true }).pipe(
          Layer.provide(
            AnthropicClient.layer({
              baseUrl: server.baseUrl,
              apiKey: Redacted.make("sk-ant-x"),
              retry: false
            })
          ),
          Layer.provide(NodeHttpClient.layerUndici)
        )
      )
      const messages = [
        new Messages.ModelRequest({
          parts: [
            new Messages.SystemPromptPart({ content: body.system }),
            new Messages.UserPromptPart({ content: body.messages[0].content[0].text })
          ]
        })
      ]
      const counted = yield* model.countTokens!(messages, {}, Model.ModelRequestParameters.empty)
      assert.strictEqual(counted.inputTokens, 1114)
      const response = yield* model.request(messages, {}, Model.ModelRequestParameters.empty)
      assert.strictEqual(response.usage.cacheReadTokens, 1111)
      assert.strictEqual(response.usage.inputTokens, 1114)
      assert.strictEqual(response.usage.outputTokens, 414)
      assert.strictEqual(server.received.length, 2)
      assert.deepStrictEqual(server.received[0]!.body, count!.request.body)
      assert.deepStrictEqual(server.received[1]!.body, body)
    })
  )

  it("1h lifetime; no cache_control without the option", () => {
    const hello = [Messages.userPrompt("Hi")]
    const encode = (autoCache?: Anthropic.Options["autoCache"]) =>
      Anthropic.encodeRequest(hello, {}, Model.ModelRequestParameters.empty, {
        modelName: "claude-sonnet-4-5",
        stream: false,
        autoCache
      }) as Record<string, unknown>
    assert.deepStrictEqual(encode("1h").cache_control, { type: "ephemeral", ttl: "1h" })
    assert.isUndefined(encode().cache_control)
    assert.isUndefined(encode(false).cache_control)
  })
})

describe("Anthropic large max_tokens", () => {
  const modelAt = (baseUrl: string, options: Anthropic.Options = {}) =>
    Model.resolve(
      Anthropic.model("claude-sonnet-4-5", options).pipe(
        Layer.provide(
          AnthropicClient.layer({ baseUrl, apiKey: Redacted.make("sk-ant-x"), retry: false })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )

  it.scoped("a request over 21,333 tokens is streamed and assembled (recorded)", () =>
    Effect.gen(function* () {
      const c = loadCase(
        "anthropic",
        "models.test_anthropic.test_request_stream_fallback_for_high_max_tokens"
      )
      const recorded = c.interactions[0]!.request.body as Record<string, any>
      const server = yield* replayServer(c)
      // The model's own settings count too.
      const model = yield* modelAt(server.baseUrl, { settings: { maxTokens: 32_000 } })
      const response = yield* model.request(
        [Messages.userPrompt(recorded.messages[0].content[0].text)],
        {},
        Model.ModelRequestParameters.empty
      )
      assert.strictEqual(server.received.length, 1)
      assert.deepStrictEqual(server.received[0]!.body, recorded)
      assert.strictEqual(response.text, "2")
      assert.strictEqual(response.modelName, "claude-sonnet-4-5-20250929")
      assert.strictEqual(response.providerResponseId, "msg_018E1hg8GoVTGEKQY3ovMcSJ")
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.usage.inputTokens, 20)
      assert.strictEqual(response.usage.outputTokens, 5)
    })
  )

  it("the threshold: 21,333 tokens go unstreamed, 21,334 (or a thinking budget above) streamed", () => {
    assert.isFalse(Wire.needsStreaming({ maxTokens: 21_333 }, "claude-sonnet-4-5"))
    assert.isTrue(Wire.needsStreaming({ maxTokens: 21_334 }, "claude-sonnet-4-5"))
    assert.isFalse(Wire.needsStreaming({}, "claude-sonnet-4-5"))
    assert.isTrue(Wire.needsStreaming({ thinking: { budgetTokens: 20_000 } }, "claude-sonnet-4-5"))
  })
})
