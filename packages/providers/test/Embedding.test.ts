/**
 * The embedders over real HTTP (undici, loopback): batching and concurrency on the wire,
 * transport retries, timeouts, interruption and key redaction — the chat models' behaviour —
 * and embedder strings resolved by the registry.
 */
import { EmbeddingModel } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Chunk from "effect/Chunk"
import type * as Http from "node:http"
import * as CohereEmbedding from "../src/CohereEmbedding.js"
import * as ModelRegistry from "../src/ModelRegistry.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiEmbedding from "../src/OpenAiEmbedding.js"
import { loopbackServer, tick } from "./support/replay.js"

const json = (res: Http.ServerResponse, status: number, body: unknown, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

/** An OpenAI `/embeddings` answer: text `t` gets the vector `[t.length, index in batch]`. */
const answer = (res: Http.ServerResponse, body: any) =>
  json(res, 200, {
    object: "list",
    model: body.model,
    // answered in reverse order: the client must sort by `index`
    data: (body.input as Array<string>)
      .map((t, index) => ({ object: "embedding", index, embedding: [t.length, index] }))
      .reverse(),
    usage: { prompt_tokens: body.input.length * 2, total_tokens: body.input.length * 2 }
  })

const openAi = (baseUrl: string, options: OpenAiEmbedding.Options = {}, retry?: any) =>
  OpenAiEmbedding.make("text-embedding-3-small", options).pipe(
    Effect.provide(
      OpenAiClient.layer({
        apiKey: Redacted.make("sk-secret-embedding-key-123456"),
        baseUrl,
        retry: retry ?? false
      })
    )
  )

const waitForSleep = Effect.gen(function* () {
  for (let i = 0; i < 10_000; i++) {
    if (Chunk.isNonEmpty(yield* TestClock.sleeps())) return
    yield* tick
  }
})

describe("embedders over HTTP", () => {
  it.scoped("batches on the wire: batchSize texts per request, in order, concurrently", () =>
    Effect.gen(function* () {
      let inFlight = 0
      let peak = 0
      const pending: Array<() => void> = []
      const server = yield* loopbackServer((req, res) => {
        inFlight++
        peak = Math.max(peak, inFlight)
        pending.push(() => {
          inFlight--
          answer(res, req.body)
        })
        // Answer once two requests wait (or the last, odd one): proves two are in flight at once.
        if (pending.length >= 2 || (req.body as any).input.includes("e"))
          for (const f of pending.splice(0)) f()
      })
      const model = yield* openAi(server.baseUrl, { concurrency: 2 })
      const texts = ["a", "bb", "ccc", "dddd", "e"]
      const result = yield* model.embed(texts, { inputType: "document", batchSize: 2 })
      assert.strictEqual(server.requests.length, 3)
      assert.deepStrictEqual(
        server.requests.map((r) => (r.body as any).input).sort(),
        [["a", "bb"], ["ccc", "dddd"], ["e"]].sort()
      )
      assert.strictEqual(peak, 2)
      assert.deepStrictEqual(result.vectors, [
        [1, 0],
        [2, 1],
        [3, 0],
        [4, 1],
        [1, 0]
      ])
      assert.strictEqual(result.usage.inputTokens, 10)
      assert.strictEqual(result.requests, 3)
      assert.strictEqual(result.model, "text-embedding-3-small")
      assert.deepStrictEqual(server.requests[0]!.body, {
        model: "text-embedding-3-small",
        input: (server.requests[0]!.body as any).input,
        encoding_format: "base64"
      })
      assert.strictEqual(
        server.requests[0]!.headers.authorization,
        "Bearer sk-secret-embedding-key-123456"
      )
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("retries a 429 as chat models do, waiting its Retry-After", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((req, res, i) =>
        i === 0
          ? json(res, 429, { error: { message: "slow down" } }, { "retry-after": "2" })
          : answer(res, req.body)
      )
      const model = yield* openAi(server.baseUrl, {}, { times: 2, base: "1 millis" })
      const fiber = yield* Effect.fork(model.embed(["hi"], { inputType: "query" }))
      yield* server.waitRequests(1)
      yield* waitForSleep
      yield* TestClock.adjust("1 second")
      for (let i = 0; i < 20; i++) yield* tick
      assert.strictEqual(server.requests.length, 1)
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result.vectors, [[2, 0]])
      assert.strictEqual(server.requests.length, 2)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("a 4xx is a ModelHTTPError whose body never shows the key", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) =>
        json(res, 401, { error: { message: "Incorrect API key: sk-secret-embedding-key-123456" } })
      )
      const model = yield* openAi(server.baseUrl)
      const error = yield* Effect.flip(model.embed(["hi"], { inputType: "query" }))
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.notInclude(error.message, "sk-secret-embedding-key-123456")
      assert.include(error.message, "[REDACTED]")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("a malformed answer is UnexpectedModelBehavior", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) =>
        json(res, 200, { data: [{ index: 0, embedding: "not base64!" }] })
      )
      const model = yield* openAi(server.baseUrl)
      const error = yield* Effect.flip(model.embed(["hi"], { inputType: "query" }))
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.include(error.message, "bad embedding at data[0]")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("the timeout setting bounds each attempt", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer(() => {
        /* never answers */
      })
      const model = yield* openAi(server.baseUrl)
      const fiber = yield* Effect.fork(
        model.embed(["hi"], { inputType: "query", timeout: "5 seconds" })
      )
      yield* server.waitRequests(1)
      yield* waitForSleep
      yield* TestClock.adjust("5 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.include(error.message, "timed out after 5s")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.scoped("interrupting the call closes the connection", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer(() => {
        /* never answers */
      })
      const model = yield* CohereEmbedding.make("embed-v4.0").pipe(
        Effect.provide(CohereEmbedding.layer({ baseUrl: server.baseUrl, retry: false }))
      )
      const fiber = yield* Effect.fork(model.embed(["hi"], { inputType: "query" }))
      yield* server.waitRequests(1)
      assert.strictEqual(server.closedSockets(), 0)
      yield* Fiber.interrupt(fiber)
      yield* server.waitClosed(1)
      assert.strictEqual(server.closedSockets(), 1)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("ModelRegistry embedders", () => {
  const resolve = (name: string, env: Record<string, string> = {}) =>
    ModelRegistry.resolveEmbedder(name).pipe(
      Effect.provide(withEnv(env)),
      Effect.provide(NodeHttpClient.layerUndici)
    )

  it.effect("resolves each provider's strings with its key", () =>
    Effect.gen(function* () {
      const cases: Array<[string, Record<string, string>, string, string]> = [
        [
          "openai:text-embedding-3-small",
          { OPENAI_API_KEY: "k" },
          "openai",
          "text-embedding-3-small"
        ],
        ["google:gemini-embedding-001", { GEMINI_API_KEY: "k" }, "google", "gemini-embedding-001"],
        ["gemini:gemini-embedding-001", { GOOGLE_API_KEY: "k" }, "google", "gemini-embedding-001"],
        ["cohere:embed-v4.0", { CO_API_KEY: "k" }, "cohere", "embed-v4.0"],
        ["voyage:voyage-3.5", { VOYAGE_API_KEY: "k" }, "voyage", "voyage-3.5"],
        ["test", {}, "test", "test-embedding"]
      ]
      for (const [name, env, provider, modelName] of cases) {
        const model = yield* resolve(name, env)
        assert.strictEqual(model.provider, provider, name)
        assert.strictEqual(model.modelName, modelName, name)
      }
    })
  )

  it.effect("a missing key or an unknown provider is a UserError that says what to do", () =>
    Effect.gen(function* () {
      const missing = yield* Effect.flip(resolve("cohere:embed-v4.0"))
      assert.strictEqual(missing._tag, "UserError")
      assert.include(missing.message, "CO_API_KEY")
      const unknown = yield* Effect.flip(resolve("opneai:text-embedding-3-small"))
      assert.include(unknown.message, 'Unknown embedding model provider "opneai"')
      assert.include(unknown.message, 'Did you mean "openai"')
      const bare = yield* Effect.flip(resolve("voyage", { VOYAGE_API_KEY: "k" }))
      assert.include(bare.message, 'has no model name; use "voyage:<model>"')
    })
  )

  it.scoped(
    "a resolved embedder talks to the configured base URL; fromString reads the layer",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((req, res) => answer(res, req.body))
        const env = { OPENAI_API_KEY: "sk-from-env-0000", OPENAI_BASE_URL: server.baseUrl }
        const result = yield* EmbeddingModel.embed(["abc"], { inputType: "query" }).pipe(
          Effect.provide(ModelRegistry.embedder("openai:text-embedding-3-small")),
          Effect.provide(ModelRegistry.embeddingLayer()),
          Effect.provide(withEnv(env))
        )
        assert.deepStrictEqual(result.vectors, [[3, 0]])
        assert.strictEqual(server.requests[0]!.path, "/embeddings")
        assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer sk-from-env-0000")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})
