import { AgentError, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as OpenRouter from "../src/OpenRouter.js"
import { loopbackServer } from "./support/replay.js"

type Json = Record<string, any>

/** One Chat Completions SSE event. */
const ev = (data: Json): string => `data: ${JSON.stringify(data)}\n\n`

const completion = (extra: Json = {}) => ({
  id: "gen-1",
  object: "chat.completion",
  created: 1759509677,
  model: "x-ai/grok-4",
  provider: "xAI",
  choices: [
    {
      index: 0,
      finish_reason: "stop",
      native_finish_reason: "completed",
      message: { role: "assistant", content: "Hi." }
    }
  ],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15, cost: 0.00042 },
  ...extra
})

/** One OpenRouter model over a loopback stand-in, the key and app attribution set. */
const withModel = <A, E, R>(
  baseUrl: string,
  settings: OpenRouter.Settings,
  use: (model: Model.Service) => Effect.Effect<A, E, R>,
  retry: OpenRouter.ClientOptions["retry"] = false
) =>
  Effect.flatMap(Model.Model, use).pipe(
    Effect.provide(
      OpenRouter.model("google/gemini-2.0-flash-exp:free", { settings }).pipe(
        Layer.provide(
          OpenRouter.layer({
            apiKey: Redacted.make("sk-or-test"),
            baseUrl,
            appUrl: "https://example.com",
            appTitle: "Example",
            retry
          })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
  )

const prompt = [Messages.userPrompt("Who are you")]

describe("OpenRouter", () => {
  it.scoped("sends its own settings and app attribution; decodes the gateway's details", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(completion()))
      })
      const response = yield* withModel(
        `${server.baseUrl}/api/v1`,
        {
          openrouterModels: ["x-ai/grok-4"],
          openrouterProvider: { only: ["xai"], allow_fallbacks: false },
          openrouterPreset: "@preset/comedian",
          openrouterTransforms: ["middle-out"],
          openrouterUsage: { include: true },
          thinking: true
        },
        (model) => model.request(prompt, {}, Model.ModelRequestParameters.empty)
      )
      const req = server.requests[0]!
      assert.strictEqual(req.path, "/api/v1/chat/completions")
      const body = req.body as Json
      assert.deepStrictEqual(body.models, ["x-ai/grok-4"])
      assert.deepStrictEqual(body.provider, { only: ["xai"], allow_fallbacks: false })
      assert.strictEqual(body.preset, "@preset/comedian")
      assert.deepStrictEqual(body.transforms, ["middle-out"])
      assert.deepStrictEqual(body.usage, { include: true })
      assert.deepStrictEqual(body.reasoning, { effort: "medium", enabled: true })
      assert.strictEqual(body.reasoning_effort, undefined)
      assert.strictEqual(req.headers["http-referer"], "https://example.com")
      assert.strictEqual(req.headers["x-title"], "Example")
      assert.strictEqual(req.headers.authorization, "Bearer sk-or-test")
      // the model that answered (a fallback), the provider that served it, its own reason, the cost
      assert.strictEqual(response.modelName, "x-ai/grok-4")
      assert.strictEqual(response.providerName, "openrouter")
      assert.strictEqual(response.text, "Hi.")
      assert.deepStrictEqual(response.providerDetails, {
        downstream_provider: "xAI",
        native_finish_reason: "completed"
      })
      assert.strictEqual(response.finishReason, "stop")
      assert.strictEqual(response.usage.cost, 0.00042)
      assert.strictEqual(response.usage.inputTokens, 12)
    })
  )

  it.scoped("the portable thinking setting becomes OpenRouter's reasoning object", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(completion()))
      })
      const cases: ReadonlyArray<readonly [OpenRouter.Settings, unknown]> = [
        [{ thinking: false }, { effort: "none" }],
        [{ thinking: "low" }, { effort: "low", enabled: true }],
        [{ thinking: { budgetTokens: 2048 } }, { max_tokens: 2048, enabled: true }],
        // an explicit reasoning object wins over `thinking`
        [{ thinking: true, openrouterReasoning: { exclude: true } }, { exclude: true }],
        [{}, undefined]
      ]
      for (const [settings] of cases)
        yield* withModel(`${server.baseUrl}/api/v1`, settings, (model) =>
          model.request(prompt, {}, Model.ModelRequestParameters.empty)
        )
      assert.deepStrictEqual(
        server.requests.map((r) => (r.body as Json).reasoning),
        cases.map(([, expected]) => expected)
      )
    })
  )

  it.scoped("streamed: the gateway's details and cost are on the final response", () =>
    Effect.gen(function* () {
      const chunk = (delta: Json, extra: Json = {}) =>
        ev({
          id: "gen-2",
          object: "chat.completion.chunk",
          created: 1759509677,
          model: "anthropic/claude-sonnet-4.5",
          provider: "Amazon Bedrock",
          choices: [{ index: 0, delta, finish_reason: null, native_finish_reason: null }],
          ...extra
        })
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(chunk({ role: "assistant", content: "He" }))
        res.write(chunk({ content: "llo" }))
        res.write(
          chunk(
            {},
            {
              choices: [
                { index: 0, delta: {}, finish_reason: "length", native_finish_reason: "max_tokens" }
              ],
              usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, cost: 0.0001 }
            }
          )
        )
        res.end("data: [DONE]\n\n")
      })
      const response = yield* withModel(`${server.baseUrl}/api/v1`, {}, (model) =>
        Effect.flatMap(model.requestStream(prompt, {}, Model.ModelRequestParameters.empty), (s) =>
          Effect.zipRight(Stream.runDrain(s.events), s.response)
        )
      )
      assert.strictEqual(response.text, "Hello")
      assert.strictEqual(response.finishReason, "length")
      assert.deepStrictEqual(response.providerDetails, {
        downstream_provider: "Amazon Bedrock",
        native_finish_reason: "max_tokens"
      })
      assert.strictEqual(response.usage.cost, 0.0001)
    })
  )

  it.scoped("an error answered with status 200 is a ModelHTTPError with its code", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { code: 429, message: "Rate limit exceeded" } }))
      })
      const error = yield* Effect.flip(
        withModel(`${server.baseUrl}/api/v1`, {}, (model) =>
          model.request(prompt, {}, Model.ModelRequestParameters.empty)
        )
      )
      assert(error instanceof AgentError.ModelHTTPError)
      assert.strictEqual(error.status, 429)
      assert.deepStrictEqual(error.body, { code: 429, message: "Rate limit exceeded" })
      // without an HTTP-like code it is a ModelAPIError naming the error
      const other = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: "upstream broke" } }))
      })
      const apiError = yield* Effect.flip(
        withModel(`${other.baseUrl}/api/v1`, {}, (model) =>
          model.request(prompt, {}, Model.ModelRequestParameters.empty)
        )
      )
      assert(apiError instanceof AgentError.ModelAPIError)
      assert.include(apiError.message, "upstream broke")
    })
  )

  // real clock: the retry waits its backoff
  it.scopedLive("a 429 error object in a 200 answer is retried like a 429", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, index) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify(
            index === 0 ? { error: { code: 429, message: "Rate limit exceeded" } } : completion()
          )
        )
      })
      const response = yield* withModel(
        `${server.baseUrl}/api/v1`,
        {},
        (model) => model.request(prompt, {}, Model.ModelRequestParameters.empty),
        { times: 1, base: "10 millis", cap: "10 millis" }
      )
      assert.strictEqual(response.text, "Hi.")
      assert.strictEqual(server.requests.length, 2)
    })
  )
})
