import { Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as BedrockMantle from "../src/BedrockMantle.js"
import * as BedrockMantleClient from "../src/BedrockMantleClient.js"
import { resolveModel } from "./support/registry.js"
import { loopbackServer } from "./support/replay.js"
import { assertSigned } from "./support/sigv4.js"

const chatAnswer = {
  id: "c1",
  model: "openai.gpt-oss-120b",
  choices: [
    {
      index: 0,
      finish_reason: "stop",
      message: { role: "assistant", content: "Hi", reasoning: "Say hi." }
    }
  ],
  usage: { prompt_tokens: 3, completion_tokens: 2 }
}
const responsesAnswer = {
  id: "resp_1",
  model: "openai.gpt-5.5",
  status: "completed",
  output: [
    {
      type: "message",
      id: "msg_1",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello" }]
    }
  ],
  usage: { input_tokens: 4, output_tokens: 1 }
}

const SECRET = "mantle-secret-access-key"
const TOKEN = "mantle-session-token"

describe("BedrockMantle", () => {
  it("routes OpenAI's GPT-5.x to Responses under /openai/v1, other models to Chat Completions under /v1", () => {
    assert.deepStrictEqual(
      ["openai.gpt-5.5", "openai.gpt-oss-120b", "qwen.qwen3-32b"].map((m) => [
        BedrockMantle.apiOf(m),
        BedrockMantle.pathPrefixOf(m)
      ]),
      [
        ["responses", "/openai/v1"],
        ["chat", "/v1"],
        ["chat", "/v1"]
      ]
    )
    assert.strictEqual(
      BedrockMantleClient.endpointOf("eu-west-1"),
      "https://bedrock-mantle.eu-west-1.api.aws"
    )
  })

  it.scoped("each model reaches its path with the Bedrock API key as a bearer token", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(req.path.endsWith("/responses") ? responsesAnswer : chatAnswer))
      })
      const client = BedrockMantleClient.layer({
        region: "us-east-1",
        baseUrl: server.baseUrl,
        apiKey: Redacted.make("bedrock-api-key"),
        retry: false
      })
      const ask = (modelId: string) =>
        Effect.flatMap(BedrockMantle.make(modelId), (m) =>
          m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        ).pipe(Effect.provide(client))
      const chat = yield* ask("openai.gpt-oss-120b")
      assert.strictEqual(chat.text, "Hi")
      assert.strictEqual(chat.thinking[0]!.content, "Say hi.")
      assert.strictEqual(chat.providerName, "bedrock-mantle")
      const responses = yield* ask("openai.gpt-5.5")
      assert.strictEqual(responses.text, "Hello")
      assert.strictEqual(responses.usage.inputTokens, 4)
      assert.deepStrictEqual(
        server.requests.map((r) => [r.path, r.headers.authorization]),
        [
          ["/v1/chat/completions", "Bearer bedrock-api-key"],
          ["/openai/v1/responses", "Bearer bedrock-api-key"]
        ]
      )
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect(
    "bedrock-mantle:<model> reads AWS_REGION and AWS_BEARER_TOKEN_BEDROCK; without a key it signs (no key needed up front); a missing region names it",
    () => {
      const resolve = (env: Record<string, string>) =>
        resolveModel("bedrock-mantle:openai.gpt-oss-120b", env)
      return Effect.gen(function* () {
        const model = yield* resolve({ AWS_REGION: "us-east-1", AWS_BEARER_TOKEN_BEDROCK: "k" })
        assert.strictEqual(model.system, "bedrock-mantle")
        assert.isTrue(model.profile.supportsThinking)
        const signing = yield* resolve({ AWS_REGION: "us-east-1" })
        assert.strictEqual(signing.system, "bedrock-mantle")
        const error = yield* Effect.flip(resolve({}))
        assert.include(error.message, "AWS_REGION")
      })
    }
  )

  it.scopedLive(
    "without an API key, each request (every retry too) is signed with SigV4 for bedrock-mantle over the body sent; no bearer",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const server = yield* loopbackServer((req, res) => {
          calls++
          // The first attempt fails with a 503: the retry must be signed again.
          if (calls === 1) {
            res.writeHead(503, { "content-type": "application/json" })
            res.end(JSON.stringify({ message: "busy" }))
            return
          }
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(req.path.endsWith("/responses") ? responsesAnswer : chatAnswer))
        })
        const client = BedrockMantleClient.layer({
          region: "us-west-2",
          baseUrl: server.baseUrl,
          credentials: {
            accessKeyId: "AKIDMANTLE",
            secretAccessKey: Redacted.make(SECRET),
            sessionToken: Redacted.make(TOKEN)
          },
          retry: { times: 1, base: "1 millis", cap: "1 millis" }
        })
        const response = yield* Effect.flatMap(BedrockMantle.make("openai.gpt-5.5"), (m) =>
          m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        ).pipe(Effect.provide(client))
        assert.strictEqual(response.text, "Hello")
        assert.strictEqual(server.requests.length, 2)
        for (const sent of server.requests) {
          assert.strictEqual(sent.path, "/openai/v1/responses")
          // An independent signer with the same secret and date signs what the server received.
          yield* Effect.promise(() =>
            assertSigned(sent, server.baseUrl, {
              service: "bedrock-mantle",
              region: "us-west-2",
              accessKeyId: "AKIDMANTLE",
              secretAccessKey: SECRET,
              sessionToken: TOKEN
            })
          )
        }
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scopedLive(
    "credentials that cannot be resolved fail the request before anything is sent, naming no secret",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(chatAnswer))
        })
        const client = BedrockMantleClient.layer({
          region: "us-east-1",
          baseUrl: server.baseUrl,
          credentials: () => Promise.reject(new Error("no profile named prod")),
          retry: { times: 2, base: "1 millis", cap: "1 millis" }
        })
        const error = yield* Effect.flatMap(BedrockMantle.make("openai.gpt-oss-120b"), (m) =>
          m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
        ).pipe(Effect.provide(client), Effect.flip)
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.include(error.message, "AWS credentials could not be resolved")
        assert.include(error.message, "no profile named prod")
        assert.strictEqual(server.requests.length, 0)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})
