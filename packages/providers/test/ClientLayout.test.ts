/**
 * Every provider family with a client of its own is laid out alike (issue #14): a `<P>Client`
 * module (the client tag, `make` / `makeWith`, `layer`, `layerConfig`, and the types `Options`,
 * `Service`, `ConfigOptions`), a `<P>` model module that needs the tag, and the wire in
 * `internal/`. The families that reuse another's client define no tag. The names the client
 * modules took over from Anthropic, Google, Bedrock and BedrockMantle are still exported there
 * (deprecated) and are the very same values, and a model built on each client layer talks to
 * the loopback server replaying recorded traffic.
 */
import { Messages, Model } from "@agentfx/core"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Bedrock from "../src/Bedrock.js"
import * as BedrockClient from "../src/BedrockClient.js"
import * as BedrockMantle from "../src/BedrockMantle.js"
import * as BedrockMantleClient from "../src/BedrockMantleClient.js"
import * as Cohere from "../src/Cohere.js"
import * as CohereClient from "../src/CohereClient.js"
import * as Google from "../src/Google.js"
import * as GoogleAuth from "../src/GoogleAuth.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as Providers from "../src/index.js"
import * as Mistral from "../src/Mistral.js"
import * as MistralClient from "../src/MistralClient.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { loadCase, replayServer } from "./support/replay.js"
import { assertSigned } from "./support/sigv4.js"

/** Compile-time half of the layout: a client module missing one of these fails `tsc -b`. */
type ClientTypes<M extends { Options: unknown; Service: unknown; ConfigOptions: unknown }> = M
export type AllClientTypes = [
  ClientTypes<{
    Options: OpenAiClient.Options
    Service: OpenAiClient.Service
    ConfigOptions: OpenAiClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: MistralClient.Options
    Service: MistralClient.Service
    ConfigOptions: MistralClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: CohereClient.Options
    Service: CohereClient.Service
    ConfigOptions: CohereClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: AnthropicClient.Options
    Service: AnthropicClient.Service
    ConfigOptions: AnthropicClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: GoogleClient.Options
    Service: GoogleClient.Service
    ConfigOptions: GoogleClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: BedrockClient.Options
    Service: BedrockClient.Service
    ConfigOptions: BedrockClient.ConfigOptions
  }>,
  ClientTypes<{
    Options: BedrockMantleClient.Options
    Service: BedrockMantleClient.Service
    ConfigOptions: BedrockMantleClient.ConfigOptions
  }>
]

type Module = Record<string, unknown>

/** The families with a client of their own: the client module's name and its model modules. */
const families: ReadonlyArray<{
  readonly client: string
  readonly models: ReadonlyArray<string>
}> = [
  { client: "OpenAiClient", models: ["OpenAiChat", "OpenAiResponses"] },
  { client: "MistralClient", models: ["Mistral"] },
  { client: "CohereClient", models: ["Cohere"] },
  { client: "AnthropicClient", models: ["Anthropic"] },
  { client: "GoogleClient", models: ["Google"] },
  { client: "BedrockClient", models: ["Bedrock"] },
  { client: "BedrockMantleClient", models: ["BedrockMantle"] }
]

const providers = Providers as unknown as Record<string, Module>

/** The provider tags (`@agentfx/providers/…`) among a module's exports. */
const tagsOf = (module: Module): Array<Context.Tag<unknown, unknown>> =>
  Object.values(module).filter(
    (v): v is Context.Tag<unknown, unknown> =>
      Context.isTag(v) && String(v.key).startsWith("@agentfx/providers/")
  )

describe("provider layout: a <P>Client module per client", () => {
  for (const { client, models } of families) {
    it(`${client} exports its tag, make / makeWith, layer and layerConfig`, () => {
      const module = providers[client]!
      const tag = module[client]
      assert.isTrue(Context.isTag(tag), `${client}.${client} is a Context.Tag`)
      assert.strictEqual((tag as Context.Tag<unknown, unknown>).key, `@agentfx/providers/${client}`)
      for (const name of ["make", "makeWith", "layer", "layerConfig"])
        assert.strictEqual(typeof module[name], "function", `${client}.${name}`)
      assert.isTrue(Layer.isLayer((module.layerConfig as () => unknown)()))
      // The model modules give the same client layers, and own no tag of their own.
      for (const m of models) {
        assert.strictEqual(providers[m]!.layer, module.layer, `${m}.layer`)
        assert.strictEqual(providers[m]!.layerConfig, module.layerConfig, `${m}.layerConfig`)
        for (const t of tagsOf(providers[m]!)) assert.strictEqual(t, tag, `a tag in ${m}`)
      }
    })
  }

  it("every provider tag is a client, exported by the module named after it", () => {
    const clients = new Set(families.map((f) => f.client))
    for (const [name, module] of Object.entries(providers))
      for (const tag of tagsOf(module)) {
        const owner = String(tag.key).slice("@agentfx/providers/".length)
        assert.isTrue(clients.has(owner), `${name} exports ${tag.key}, not a known client`)
        assert.strictEqual(tag, providers[owner]![owner], `${name} exports ${owner}'s own tag`)
      }
  })

  it("the families without a client of their own define no tag", () => {
    for (const name of [
      "Groq",
      "Cerebras",
      "Zai",
      "OpenRouter",
      "Snowflake",
      "OpenAiCompatible",
      "OpenAiEmbedding",
      "VoyageEmbedding",
      "GoogleEmbedding",
      "CohereEmbedding",
      "BedrockEmbedding"
    ]) {
      assert.isDefined(providers[name], name)
      const own = tagsOf(providers[name]!).filter(
        (t) => !families.some((f) => providers[f.client]![f.client] === t)
      )
      assert.deepStrictEqual(own, [], `${name} has no client tag of its own`)
    }
  })
})

describe("provider layout: the moved names, deprecated, are the same values", () => {
  /** [model module, old name, client module, new name] */
  const moved: ReadonlyArray<readonly [Module, string, Module, string]> = [
    ...(
      [
        ["AnthropicClient", "AnthropicClient"],
        ["makeClientWith", "makeWith"],
        ["makeClient", "make"],
        ["defaultBaseUrl", "defaultBaseUrl"],
        ["apiVersion", "apiVersion"],
        ["messagesPath", "messagesPath"]
      ] as const
    ).map(([from, to]) => [Anthropic, from, AnthropicClient, to] as const),
    ...(
      [
        ["GoogleClient", "GoogleClient"],
        ["defaultBaseUrl", "defaultBaseUrl"],
        ["apiKeyConfig", "apiKeyConfig"],
        ["layerFromEnv", "layerFromEnv"],
        ["vertexBaseUrl", "vertexBaseUrl"],
        ["vertexModelsUrl", "vertexModelsUrl"],
        ["vertexLayer", "vertexLayer"],
        ["vertexCredentialsConfig", "vertexCredentialsConfig"],
        ["vertexLayerConfig", "vertexLayerConfig"]
      ] as const
    ).map(([from, to]) => [Google, from, GoogleClient, to] as const),
    ...(
      [
        ["BedrockClient", "BedrockClient"],
        ["makeClientWith", "makeWith"],
        ["makeClient", "make"],
        ["endpointOf", "endpointOf"],
        ["conversePath", "conversePath"],
        ["baseModelIdOf", "baseModelIdOf"],
        ["countTokensPath", "countTokensPath"],
        ["invokePath", "invokePath"]
      ] as const
    ).map(([from, to]) => [Bedrock, from, BedrockClient, to] as const),
    ...(
      [
        ["BedrockMantleClient", "BedrockMantleClient"],
        ["endpointOf", "endpointOf"],
        ["signingService", "signingService"],
        ["signingClient", "signingClient"]
      ] as const
    ).map(([from, to]) => [BedrockMantle, from, BedrockMantleClient, to] as const)
  ]

  it("each old name is the new module's value itself", () => {
    for (const [model, from, client, to] of moved) {
      assert.isDefined(client[to], to)
      assert.strictEqual(model[from], client[to], from)
    }
  })

  it("the index and the subpath modules share them", () => {
    assert.strictEqual(Providers.AnthropicClient.AnthropicClient, Anthropic.AnthropicClient)
    assert.strictEqual(Providers.GoogleClient.GoogleClient, Google.GoogleClient)
    assert.strictEqual(Providers.BedrockClient.BedrockClient, Bedrock.BedrockClient)
    assert.strictEqual(
      Providers.BedrockMantleClient.BedrockMantleClient,
      BedrockMantle.BedrockMantleClient
    )
  })
})

// ---------------------------------------------------------------------------
// A model on each client layer, against recorded traffic
// ---------------------------------------------------------------------------

const KEY = "sk-layout-secret"
const credentials = {
  accessKeyId: "AKIDLAYOUT",
  secretAccessKey: Redacted.make("layout-secret-access-key"),
  sessionToken: Redacted.make("layout-session-token")
}

/** Client options pointing at the replay server with the test key and no retries. */
const keyed = (baseUrl: string) => ({ baseUrl, apiKey: Redacted.make(KEY), retry: false as const })

/** What the server received. */
interface Sent {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: unknown
}

const bearer =
  (key: string) =>
  (sent: Sent): Effect.Effect<void> =>
    Effect.sync(() => assert.strictEqual(sent.headers.authorization, `Bearer ${key}`))

const signedFor =
  (service: string) =>
  (sent: Sent, baseUrl: string): Effect.Effect<void> =>
    Effect.promise(() =>
      assertSigned(sent, baseUrl, {
        service,
        region: "us-east-1",
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: Redacted.value(credentials.secretAccessKey),
        sessionToken: Redacted.value(credentials.sessionToken)
      })
    )

const chatText = (json: any): string => json.choices[0].message.content

/** One recorded exchange replayed through a model built on a client layer. */
interface ReplayCase {
  readonly title: string
  readonly folder: string
  readonly id: string
  /** The model on the client layer pointed at the server. */
  readonly layer: (baseUrl: string) => Layer.Layer<Model.Model, unknown, HttpClient.HttpClient>
  /** The recorded answer's text. */
  readonly text: (json: any) => string
  /** Checks how the request was authorized. */
  readonly sent: (sent: Sent, baseUrl: string) => Effect.Effect<void>
}

const cases: ReadonlyArray<ReplayCase> = [
  {
    title: "OpenAiClient → OpenAiChat",
    folder: "openai-chat",
    id: "models.test_openai.test_extra_headers",
    layer: (url) =>
      OpenAiChat.model("gpt-4o").pipe(Layer.provide(OpenAiClient.layer(keyed(`${url}/v1`)))),
    text: chatText,
    sent: bearer(KEY)
  },
  {
    title: "MistralClient → Mistral",
    folder: "mistral",
    id: "models.test_mistral.test_mistral_forwards_penalties",
    layer: (url) =>
      Mistral.model("mistral-large-latest").pipe(
        Layer.provide(MistralClient.layer(keyed(`${url}/v1`)))
      ),
    text: chatText,
    sent: bearer(KEY)
  },
  {
    title: "CohereClient → Cohere",
    folder: "cohere",
    id: "models.test_cohere.test_cohere_model_instructions",
    layer: (url) =>
      Cohere.model("command-r7b-12-2024").pipe(Layer.provide(CohereClient.layer(keyed(url)))),
    text: (json) => json.message.content[0].text,
    sent: bearer(KEY)
  },
  {
    title: "AnthropicClient → Anthropic",
    folder: "anthropic",
    id: "models.test_anthropic.test_anthropic_model_instructions",
    layer: (url) =>
      Anthropic.model("claude-3-opus-latest").pipe(
        Layer.provide(AnthropicClient.layer(keyed(url)))
      ),
    text: (json) => json.content[0].text,
    sent: (sent) =>
      Effect.sync(() => {
        assert.strictEqual(sent.headers["x-api-key"], KEY)
        assert.strictEqual(sent.headers["anthropic-version"], AnthropicClient.apiVersion)
        assert.isUndefined(sent.headers.authorization)
      })
  },
  {
    title: "GoogleClient → Google (Gemini API key)",
    folder: "google",
    id: "models.test_google.test_google_model",
    layer: (url) =>
      Google.model("gemini-2.5-flash").pipe(Layer.provide(GoogleClient.layer(keyed(url)))),
    text: (json) => json.candidates[0].content.parts[0].text,
    sent: (sent) => Effect.sync(() => assert.strictEqual(sent.headers["x-goog-api-key"], KEY))
  },
  {
    title: "GoogleClient.vertexLayer → Google (Vertex AI, OAuth token)",
    folder: "google",
    id: "models.test_google.test_google_model_vertex_provider",
    layer: (url) =>
      Google.model("gemini-2.0-flash").pipe(
        Layer.provide(
          GoogleClient.vertexLayer({
            credentials: GoogleAuth.accessToken(Redacted.make("ya29.layout-token")),
            project: "pydantic-ai",
            baseUrl: url,
            retry: false
          })
        )
      ),
    text: (json) => json.candidates[0].content.parts[0].text,
    sent: bearer("ya29.layout-token")
  },
  {
    title: "BedrockClient → Bedrock (SigV4)",
    folder: "bedrock",
    id: "models.test_bedrock.test_bedrock_top_k_nova_variant",
    layer: (url) =>
      Bedrock.model("us.amazon.nova-micro-v1:0").pipe(
        Layer.provide(
          BedrockClient.layer({ region: "us-east-1", baseUrl: url, credentials, retry: false })
        )
      ),
    text: (json) => json.output.message.content[0].text,
    sent: signedFor("bedrock")
  },
  {
    title: "BedrockMantleClient → BedrockMantle (SigV4, Chat Completions under /v1)",
    folder: "bedrock",
    id: "models.test_bedrock_mantle.test_safeguard_chat_routing",
    layer: (url) =>
      BedrockMantle.model("openai.gpt-oss-safeguard-20b").pipe(
        Layer.provide(
          BedrockMantleClient.layer({
            region: "us-east-1",
            baseUrl: url,
            credentials,
            retry: false
          })
        )
      ),
    text: chatText,
    sent: signedFor(BedrockMantleClient.signingService)
  }
]

describe("provider layout: a model on each <P>Client layer replays recorded traffic", () => {
  for (const c of cases)
    it.scopedLive(c.title, () =>
      Effect.gen(function* () {
        const recorded = loadCase(c.folder, c.id)
        const server = yield* replayServer(recorded)
        const response = yield* Effect.flatMap(Model.Model, (m) =>
          m.request([Messages.userPrompt("hello")], {}, Model.ModelRequestParameters.empty)
        ).pipe(
          Effect.provide(c.layer(server.baseUrl).pipe(Layer.provide(NodeHttpClient.layerUndici)))
        )
        assert.strictEqual(response.text, c.text(recorded.interactions[0]!.response.json))
        assert.strictEqual(server.unused(), 0)
        yield* c.sent(server.received[0]!, server.baseUrl)
      })
    )
})
