import { Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as GoogleClient from "../src/GoogleClient.js"
import * as ModelRegistry from "../src/ModelRegistry.js"
import { chatCompletionServer } from "./support/chatServer.js"

const withEnv = (env: Record<string, string>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

const resolveWith = (name: string, env: Record<string, string> = {}) =>
  Effect.flatMap(Model.ModelRegistry, (r) => r.resolve(name)).pipe(
    Effect.provide(ModelRegistry.layer()),
    Effect.provide(withEnv(env))
  )
const resolve = (name: string, env: Record<string, string> = {}) =>
  Effect.provide(resolveWith(name, env), NodeHttpClient.layerUndici)

describe("ModelRegistry", () => {
  it.effect("openai:<model> builds a chat model from OPENAI_API_KEY", () =>
    Effect.gen(function* () {
      const model = yield* resolve("openai:gpt-4o", { OPENAI_API_KEY: "sk-x" })
      assert.strictEqual(model.modelName, "gpt-4o")
      assert.strictEqual(model.system, "openai")
      assert.isTrue(model.profile.supportsJsonSchemaOutput)
    })
  )

  it.effect("a missing key is a UserError naming the variable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(resolve("groq:llama-3.3-70b-versatile"))
      assert.strictEqual(error._tag, "UserError")
      assert.include(error.message, "GROQ_API_KEY")
      assert.include(error.message, "groq:llama-3.3-70b-versatile")
    })
  )

  it.effect(
    "a key set but blank (`OPENAI_API_KEY=` in an env file) is not set: a UserError naming it",
    () =>
      Effect.gen(function* () {
        for (const [name, env] of [
          ["openai:gpt-4o", { OPENAI_API_KEY: "" }],
          ["groq:llama-3.3-70b-versatile", { GROQ_API_KEY: "  " }],
          ["anthropic:claude-sonnet-4-5", { ANTHROPIC_API_KEY: "" }]
        ] as const) {
          const error = yield* Effect.flip(resolve(name, env))
          assert.strictEqual(error._tag, "UserError")
          assert.include(error.message, `set ${Object.keys(env)[0]}`)
          assert.include(error.message, name)
        }
        // Gemini's key falls back to GOOGLE_API_KEY when GEMINI_API_KEY is blank, as when unset
        const key = yield* Effect.provide(
          GoogleClient.apiKeyConfig,
          withEnv({ GEMINI_API_KEY: "", GOOGLE_API_KEY: "g-key" })
        )
        assert.strictEqual(Redacted.value(key), "g-key")
      })
  )

  it.effect("an unknown provider suggests close names", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(resolve("opneai:gpt-4o"))
      assert.strictEqual(error._tag, "UserError")
      assert.include(error.message, 'Unknown model provider "opneai"')
      assert.include(error.message, 'Did you mean "openai"')
    })
  )

  it.effect("a model string without a model name is rejected", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(resolve("openai", { OPENAI_API_KEY: "sk" }))
      assert.include(error.message, "openai:<model>")
    })
  )

  it.effect("test resolves to core's TestModel without any key", () =>
    Effect.gen(function* () {
      const model = yield* resolve("test")
      const response = yield* model.request(
        [Messages.userPrompt("hi")],
        {},
        Model.ModelRequestParameters.empty
      )
      assert.strictEqual(response._tag, "ModelResponse")
    })
  )

  it.scoped("ollama needs no key and honours OLLAMA_BASE_URL", () =>
    Effect.gen(function* () {
      const server = yield* chatCompletionServer("hey", { model: "llama3.2" })
      const response = yield* Effect.flatMap(
        resolveWith("ollama:llama3.2", { OLLAMA_BASE_URL: `${server.baseUrl}/v1` }),
        (model) =>
          model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
      ).pipe(Effect.provide(NodeHttpClient.layerUndici))
      assert.strictEqual(response.text, "hey")
      assert.strictEqual(response.providerName, "ollama")
      assert.strictEqual(server.requests[0]!.path, "/v1/chat/completions")
      assert.isUndefined(server.requests[0]!.headers.authorization)
    })
  )

  it.effect("custom factories extend the table and win on the same prefix", () =>
    Effect.gen(function* () {
      const registry = yield* Effect.provide(
        ModelRegistry.make({ ...ModelRegistry.defaultFactories, mine: ModelRegistry.testFactory }),
        NodeHttpClient.layerUndici
      )
      const model = yield* registry.resolve("mine:custom")
      assert.strictEqual(model.modelName, "custom")
    })
  )

  it("suggest finds near misses", () => {
    assert.deepStrictEqual(ModelRegistry.suggest("grok", ["groq", "openai", "ollama"]), ["groq"])
    assert.deepStrictEqual(ModelRegistry.suggest("zzz", ["groq", "openai"]), [])
  })

  it.effect("openai-responses, anthropic and google are registered and name their keys", () =>
    Effect.gen(function* () {
      const responses = yield* resolve("openai-responses:gpt-5", { OPENAI_API_KEY: "sk" })
      assert.strictEqual(responses.modelName, "gpt-5")
      const anthropic = yield* Effect.flip(resolve("anthropic:claude-sonnet-4-5"))
      assert.include(anthropic.message, "ANTHROPIC_API_KEY")
      const claude = yield* resolve("anthropic:claude-sonnet-4-5", { ANTHROPIC_API_KEY: "k" })
      assert.strictEqual(claude.modelName, "claude-sonnet-4-5")
      const gemini = yield* Effect.flip(resolve("gemini:gemini-2.5-flash"))
      assert.include(gemini.message, "GEMINI_API_KEY")
    })
  )
})
