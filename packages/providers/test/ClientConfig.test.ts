/** The client layers' `layerConfig()`: what they read, and what a missing key says. */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiCompatible from "../src/OpenAiCompatible.js"

/** Builds `layer` with only `env` as configuration; returns the failure's pretty text. */
const failureOf = (layer: Layer.Layer<any, any, any>, env: Record<string, string> = {}) =>
  Effect.gen(function* () {
    const exit = yield* Effect.exit(
      Effect.scoped(Layer.build(layer.pipe(Layer.provide(NodeHttpClient.layerUndici)))).pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
      )
    )
    assert(Exit.isFailure(exit), "expected the layer to fail")
    return Cause.pretty(exit.cause)
  })

const howTo =
  'in the environment, or pass the key to the client layer — layerConfig({ apiKey: Config.redacted("YOUR_VARIABLE") }) or layer({ apiKey: Redacted.make(key) })'

describe("layerConfig without a key", () => {
  it.effect("OpenAI names the provider, the variable and both ways to pass a key", () =>
    Effect.gen(function* () {
      const text = yield* failureOf(OpenAiChat.layerConfig())
      assert.include(
        text,
        `(Missing data at OPENAI_API_KEY: "OpenAI needs an API key: set OPENAI_API_KEY ${howTo}")`
      )
    })
  )

  it.effect("Anthropic", () =>
    Effect.gen(function* () {
      const text = yield* failureOf(AnthropicClient.layerConfig())
      assert.include(text, `"Anthropic needs an API key: set ANTHROPIC_API_KEY ${howTo}"`)
    })
  )

  it.effect("Google names both variables it reads", () =>
    Effect.gen(function* () {
      const text = yield* failureOf(GoogleClient.layerConfig())
      assert.include(
        text,
        `"Google needs an API key: set GEMINI_API_KEY or GOOGLE_API_KEY ${howTo}"`
      )
    })
  )

  it.effect("an OpenAI-compatible vendor names itself and its variable", () =>
    Effect.gen(function* () {
      const text = yield* failureOf(OpenAiCompatible.layerConfig("deepseek"))
      assert.include(text, `"deepseek needs an API key: set DEEPSEEK_API_KEY ${howTo}"`)
    })
  )

  it.effect("a key given as a Config is reported under its own name", () =>
    Effect.gen(function* () {
      const text = yield* failureOf(
        OpenAiChat.layerConfig({ apiKey: Config.redacted("MY_OPENAI_KEY") })
      )
      assert.include(text, "OpenAI needs an API key: set MY_OPENAI_KEY in the environment")
    })
  )
})

describe("GoogleClient.layerConfig", () => {
  const keyOf = (
    layer: Layer.Layer<GoogleClient.GoogleClient, any, any>,
    env: Record<string, string>
  ) =>
    Effect.scoped(
      Effect.flatMap(Layer.build(layer.pipe(Layer.provide(NodeHttpClient.layerUndici))), (ctx) => {
        const client = Context.get(ctx, GoogleClient.GoogleClient)
        return Effect.succeed({
          key: client.apiKey === undefined ? undefined : Redacted.value(client.apiKey),
          baseUrl: client.baseUrl
        })
      })
    ).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))

  it.effect("defaults its key like every provider: GEMINI_API_KEY, then GOOGLE_API_KEY", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* keyOf(GoogleClient.layerConfig(), { GEMINI_API_KEY: "g1" }), {
        key: "g1",
        baseUrl: "https://generativelanguage.googleapis.com"
      })
      const fallback = yield* keyOf(GoogleClient.layerConfig(), {
        GOOGLE_API_KEY: "g2",
        GEMINI_BASE_URL: "http://127.0.0.1:1/"
      })
      assert.deepStrictEqual(fallback, { key: "g2", baseUrl: "http://127.0.0.1:1" })
      // the deprecated alias reads the same
      assert.strictEqual((yield* keyOf(Google.layerFromEnv, { GEMINI_API_KEY: "g3" })).key, "g3")
    })
  )
})
