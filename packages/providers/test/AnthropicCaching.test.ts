/**
 * Automatic prompt caching on the Messages API (`autoCache`: a top-level `cache_control`): the
 * recorded count request and message request of pydantic-ai's `anthropic_cache` case replayed
 * through one model, each request body equal to the recorded one, the cache read decoded.
 */
import { Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../src/Anthropic.js"
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
            Anthropic.layer({
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
