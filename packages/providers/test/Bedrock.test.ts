import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { EventStreamCodec } from "@smithy/core/event-streams"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"

import * as fc from "fast-check"
import * as Bedrock from "../src/Bedrock.js"
import * as BedrockClient from "../src/BedrockClient.js"
import * as ModelRegistry from "../src/ModelRegistry.js"
import * as EventStream from "../src/internal/eventStream.js"
import {
  apiErrorOf,
  type ConformanceCase,
  collectStream,
  loadCase,
  replayServer
} from "./support/replay.js"
import { assertSigned } from "./support/sigv4.js"
import { recordingTracer } from "./support/tracer.js"

const MODEL = "us.amazon.nova-micro-v1:0"
const KEY_ID = "AKIDUNITTEST"
const SECRET = "unit-test-secret-access-key"
const TOKEN = "unit-test-session-token"

const credentials: BedrockClient.Credentials = {
  accessKeyId: KEY_ID,
  secretAccessKey: Redacted.make(SECRET),
  sessionToken: Redacted.make(TOKEN)
}

const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (s) => new TextEncoder().encode(s)
)

/** One event-stream message (encoded by the reference encoder). */
const frame = (type: string, payload: unknown, messageType = "event"): Uint8Array =>
  codec.encode({
    headers: {
      ":message-type": { type: "string", value: messageType },
      [messageType === "exception" ? ":exception-type" : ":event-type"]: {
        type: "string",
        value: type
      },
      ":content-type": { type: "string", value: "application/json" }
    },
    body: new TextEncoder().encode(JSON.stringify(payload))
  })

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

const helloFrames = [
  frame("messageStart", { role: "assistant" }),
  frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: "Hello" } }),
  frame("contentBlockDelta", { contentBlockIndex: 0, delta: { text: " world" } })
]
const endFrames = [
  frame("contentBlockStop", { contentBlockIndex: 0 }),
  frame("messageStop", { stopReason: "end_turn" }),
  frame("metadata", { usage: { inputTokens: 7, outputTokens: 2, totalTokens: 9 } })
]

const streamCase = (bytes: Uint8Array): ConformanceCase => ({
  id: "synthetic",
  provider: "bedrock",
  providers: ["bedrock"],
  stream: true,
  interactions: [
    {
      endpoint: "converse-stream",
      provider: "bedrock",
      request: {
        method: "POST",
        path: BedrockClient.conversePath(MODEL, true),
        headers: {},
        body: null
      },
      response: {
        status: 200,
        contentType: "application/vnd.amazon.eventstream",
        json: null,
        sse: null,
        text: null,
        base64: Buffer.from(bytes).toString("base64")
      }
    }
  ]
})

const jsonCase = (status: number, json: unknown): ConformanceCase => ({
  id: "synthetic",
  provider: "bedrock",
  providers: ["bedrock"],
  stream: false,
  interactions: [
    {
      endpoint: "converse",
      provider: "bedrock",
      request: {
        method: "POST",
        path: BedrockClient.conversePath(MODEL, false),
        headers: {},
        body: null
      },
      response: { status, contentType: "application/json", json, sse: null, text: null }
    }
  ]
})

const modelLayer = (baseUrl: string, options: Partial<BedrockClient.Options> = {}) =>
  Bedrock.model(MODEL).pipe(
    Layer.provide(
      BedrockClient.layer({ region: "us-east-1", baseUrl, credentials, retry: false, ...options })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const ask = (layer: Layer.Layer<Model.Model>) =>
  Effect.gen(function* () {
    const model = yield* Model.Model
    return yield* Effect.exit(
      model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
    )
  }).pipe(Effect.provide(layer))

const decodeAll = (reads: ReadonlyArray<Uint8Array>) => {
  const d = EventStream.makeDecoder()
  return [...d.feed(reads), ...d.end()]
}

describe("Bedrock event stream decoder", () => {
  const recorded = Buffer.from(
    loadCase("bedrock", "models.test_bedrock.test_bedrock_model_iter_stream").interactions[0]!
      .response.base64!,
    "base64"
  )
  const whole = decodeAll([recorded])

  it("decodes a recorded ConverseStream body into its typed events", () => {
    assert.strictEqual(whole.length, 26)
    assert.deepStrictEqual(
      whole.map((e) => e.event).filter((t, i, a) => a.indexOf(t) === i),
      [
        "messageStart",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "messageStop",
        "metadata"
      ]
    )
    assert.strictEqual(JSON.parse(whole[1]!.data).delta.text, "<thinking")
  })

  it("any byte split of a valid stream gives the same events (property)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: recorded.length - 1 }), { maxLength: 40 }),
        (cuts) => {
          const points = [0, ...[...cuts].sort((a, b) => a - b), recorded.length]
          const reads = points.slice(1).map((end, i) => recorded.subarray(points[i]!, end))
          // one read at a time, as the network delivers them
          const d = EventStream.makeDecoder()
          const events = [...reads.flatMap((r) => d.feed([r])), ...d.end()]
          assert.deepStrictEqual(events, whole)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("a bad prelude CRC is a frame error at once, without waiting for the claimed length", () => {
    const bad = concat(helloFrames)
    bad[helloFrames[0]!.length + 3]! ^= 0xff // the total length of the second message
    const events = EventStream.makeDecoder().feed([bad])
    assert.strictEqual(events.length, 2)
    assert.strictEqual(events[0]!.event, "messageStart")
    assert.strictEqual(events[1]!.event, EventStream.FRAME_ERROR)
    assert.include(events[1]!.data, "prelude checksum")
  })

  it("a bad message CRC is a frame error; later bytes are ignored", () => {
    const bad = concat(helloFrames)
    bad[helloFrames[0]!.length + 20]! ^= 0x01 // inside the second message's headers
    const d = EventStream.makeDecoder()
    const events = d.feed([bad])
    assert.deepStrictEqual(
      events.map((e) => e.event),
      ["messageStart", EventStream.FRAME_ERROR]
    )
    assert.include(events[1]!.data, "checksum")
    assert.deepStrictEqual(d.feed([concat(endFrames)]), [])
    assert.deepStrictEqual(d.end(), [])
  })

  it("a stream cut inside a message is a frame error at the end", () => {
    const all = concat(helloFrames)
    const d = EventStream.makeDecoder()
    assert.strictEqual(d.feed([all.subarray(0, all.length - 5)]).length, 2)
    const end = d.end()
    assert.strictEqual(end[0]!.event, EventStream.FRAME_ERROR)
    assert.include(end[0]!.data, "ended inside a message")
  })
})

describe("Bedrock model", () => {
  it.scopedLive("streams text, finish reason and usage from ConverseStream", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(streamCase(concat([...helloFrames, ...endFrames])), {
        rechunkSeed: 5
      })
      const exit = yield* collectStream(modelLayer(server.baseUrl))
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? [...exit.value] : []
      const done = events.at(-1) as Messages.ResponseCompleteEvent
      assert.strictEqual(done._tag, "ResponseCompleteEvent")
      assert.strictEqual(done.response.text, "Hello world")
      assert.strictEqual(done.response.finishReason, "stop")
      assert.strictEqual(done.response.providerFinishReason, "end_turn")
      assert.strictEqual(done.response.usage.inputTokens, 7)
      assert.strictEqual(done.response.usage.outputTokens, 2)
      assert.strictEqual(done.response.providerName, "bedrock")
      assert.strictEqual(server.received[0]!.headers.accept, "application/vnd.amazon.eventstream")
    })
  )

  it.scopedLive(
    "a corrupt message mid-stream fails with ModelAPIError keeping the text so far",
    () =>
      Effect.gen(function* () {
        const bytes = concat([...helloFrames, ...endFrames])
        bytes[concat(helloFrames).length + 20]! ^= 0x01 // inside contentBlockStop
        const server = yield* replayServer(streamCase(bytes))
        const error = apiErrorOf(yield* collectStream(modelLayer(server.baseUrl)))
        assert.include(error.reason, "checksum")
        assert.strictEqual(error.partialResponse?.text, "Hello world")
      })
  )

  it.scopedLive("an exception message mid-stream fails keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        streamCase(
          concat([
            ...helloFrames,
            frame("throttlingException", { message: "Too many tokens" }, "exception")
          ])
        )
      )
      const error = apiErrorOf(yield* collectStream(modelLayer(server.baseUrl)))
      assert.include(error.reason, "throttlingException: Too many tokens")
      assert.strictEqual(error.partialResponse?.text, "Hello world")
      assert.notInclude(JSON.stringify(error), SECRET)
    })
  )

  it.scopedLive(
    "a message whose payload is not JSON is skipped; more than malformedEventLimit fail typed",
    () =>
      Effect.gen(function* () {
        /** An event message with a raw (non-JSON) payload. */
        const rawFrame = codec.encode({
          headers: {
            ":message-type": { type: "string", value: "event" },
            ":event-type": { type: "string", value: "contentBlockDelta" },
            ":content-type": { type: "string", value: "application/json" }
          },
          body: new TextEncoder().encode("{not json")
        })
        const once = yield* replayServer(
          streamCase(concat([...helloFrames, rawFrame, ...endFrames]))
        )
        const ok = yield* collectStream(modelLayer(once.baseUrl))
        assert(Exit.isSuccess(ok))
        const done = [...ok.value].at(-1) as Messages.ResponseCompleteEvent
        assert.strictEqual(done.response.text, "Hello world")
        const many = yield* replayServer(
          streamCase(concat([...helloFrames, rawFrame, rawFrame, rawFrame, rawFrame, ...endFrames]))
        )
        const exit = yield* collectStream(modelLayer(many.baseUrl))
        assert(Exit.isFailure(exit) && exit.cause._tag === "Fail")
        const error = exit.cause.error
        assert(error._tag === "UnexpectedModelBehavior")
        assert.include(error.reason, "4 malformed stream events")
        assert.strictEqual(error.partialResponse?.text, "Hello world")
        // `malformedEventLimit: 0` (a model setting): the first one fails
        const strict = yield* replayServer(
          streamCase(concat([...helloFrames, rawFrame, ...endFrames]))
        )
        const strictExit = yield* collectStream(
          Bedrock.model(MODEL, { settings: { malformedEventLimit: 0 } }).pipe(
            Layer.provide(
              BedrockClient.layer({
                region: "us-east-1",
                baseUrl: strict.baseUrl,
                credentials,
                retry: false
              })
            ),
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
        assert(Exit.isFailure(strictExit) && strictExit.cause._tag === "Fail")
        assert.strictEqual(strictExit.cause.error._tag, "UnexpectedModelBehavior")
      })
  )

  it.scopedLive("a stream ending without messageStop fails keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(streamCase(concat(helloFrames)))
      const error = apiErrorOf(yield* collectStream(modelLayer(server.baseUrl)))
      assert.include(error.reason, "messageStop")
      assert.strictEqual(error.partialResponse?.text, "Hello world")
    })
  )

  it.scopedLive("signs requests with SigV4: the signature verifies over the body sent", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        jsonCase(200, {
          output: { message: { role: "assistant", content: [{ text: "hi" }] } },
          stopReason: "end_turn",
          usage: { inputTokens: 3, outputTokens: 1, totalTokens: 4 }
        })
      )
      const exit = yield* ask(modelLayer(server.baseUrl))
      assert.isTrue(Exit.isSuccess(exit))
      // An independent signer with the same secret and date signs what the server received.
      yield* Effect.promise(() =>
        assertSigned(server.received[0]!, server.baseUrl, {
          service: "bedrock",
          region: "us-east-1",
          accessKeyId: KEY_ID,
          secretAccessKey: SECRET,
          sessionToken: TOKEN
        })
      )
    })
  )

  it.scopedLive(
    "with the platform's HTTP spans on, no span carries a secret, token or signature",
    () =>
      Effect.gen(function* () {
        const server = yield* replayServer(
          jsonCase(200, {
            output: { message: { content: [{ text: "ok" }] } },
            stopReason: "end_turn"
          })
        )
        const { spans, tracer } = yield* recordingTracer
        const exit = yield* ask(modelLayer(server.baseUrl, { httpClientSpans: true })).pipe(
          Effect.withTracer(tracer)
        )
        assert.isTrue(Exit.isSuccess(exit))
        const names = spans.map((s) => s.name)
        assert.include(names, "Bedrock.request")
        assert.isTrue(names.some((n) => n.startsWith("http.client")))
        const signature = /Signature=([0-9a-f]{64})/.exec(
          server.received[0]!.headers.authorization!
        )![1]!
        const attributes = JSON.stringify(spans.map((s) => [...s.attributes.entries()]))
        assert.include(attributes, "http.request.header.x-amz-date")
        for (const secret of [SECRET, TOKEN, signature]) assert.notInclude(attributes, secret)
      })
  )

  it.scopedLive("a Bedrock API key is sent as a bearer token instead of a signature", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        jsonCase(200, {
          output: { message: { content: [{ text: "ok" }] } },
          stopReason: "end_turn"
        })
      )
      const exit = yield* ask(
        modelLayer(server.baseUrl, { apiKey: Redacted.make("bedrock-api-key-123") })
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(server.received[0]!.headers.authorization, "Bearer bedrock-api-key-123")
      assert.isUndefined(server.received[0]!.headers["x-amz-date"])
    })
  )

  it.scopedLive("an HTTP error carries status and body, never the credentials", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        jsonCase(400, { message: "The provided model identifier is invalid." })
      )
      const exit = yield* ask(modelLayer(server.baseUrl))
      assert.isTrue(Exit.isFailure(exit))
      const error =
        Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.strictEqual(error?._tag, "ModelHTTPError")
      if (error?._tag === "ModelHTTPError") {
        assert.strictEqual(error.status, 400)
        assert.deepStrictEqual(error.body, { message: "The provided model identifier is invalid." })
      }
      const text = `${JSON.stringify(error)} ${String(error)}`
      assert.notInclude(text, SECRET)
      assert.notInclude(text, TOKEN)
      assert.notInclude(text, "Signature=")
    })
  )

  it.scopedLive("failing credential resolution is a typed ModelAPIError; nothing is sent", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(jsonCase(200, {}))
      const exit = yield* ask(
        modelLayer(server.baseUrl, {
          credentials: () => Promise.reject(new Error("Could not load credentials"))
        })
      )
      const error = apiErrorOf(exit)
      assert.include(error.reason, "AWS credentials could not be resolved")
      assert.include(error.reason, "Could not load credentials")
      assert.strictEqual(server.received.length, 0)
    })
  )

  it.scopedLive(
    "layerConfig reads region and credentials from configuration; bedrock: resolves",
    () =>
      Effect.gen(function* () {
        const server = yield* replayServer(
          jsonCase(200, {
            output: { message: { content: [{ text: "ok" }] } },
            stopReason: "end_turn"
          })
        )
        const config = ConfigProvider.fromMap(
          new Map([
            ["AWS_REGION", "eu-west-3"],
            ["AWS_ACCESS_KEY_ID", "AKIDFROMCONFIG"],
            ["AWS_SECRET_ACCESS_KEY", "config-secret"],
            ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.baseUrl]
          ])
        )
        const r = yield* Effect.gen(function* () {
          const registry = yield* Model.ModelRegistry
          const model = yield* registry.resolve(`bedrock:${MODEL}`)
          assert.strictEqual(model.system, "bedrock")
          return yield* model.request(
            [Messages.userPrompt("hi")],
            {},
            Model.ModelRequestParameters.empty
          )
        }).pipe(
          Effect.provide(
            ModelRegistry.layer().pipe(Layer.provideMerge(NodeHttpClient.layerUndici))
          ),
          Effect.withConfigProvider(config)
        )
        assert.strictEqual(r.text, "ok")
        assert.match(
          server.received[0]!.headers.authorization!,
          /Credential=AKIDFROMCONFIG\/\d{8}\/eu-west-3\/bedrock\/aws4_request/
        )
      })
  )
})

describe("Bedrock model families", () => {
  const tool = new Tool.ToolDefinition({
    name: "final_result",
    parametersJsonSchema: { type: "object", properties: {} }
  })
  const forced = new Model.ModelRequestParameters({ outputTools: [tool], allowTextOutput: false })
  const prompt = [
    new Messages.ModelRequest({
      parts: [
        new Messages.UserPromptPart({ content: ["a long prefix", new Messages.CachePoint({})] })
      ]
    })
  ]
  const encode = (
    modelId: string,
    settings = {},
    parameters = forced,
    messages: ReadonlyArray<Messages.ModelMessage> = prompt
  ) => Bedrock.encodeRequest(messages, settings, parameters, { modelId }) as Record<string, any>

  it("forces the output tool where the family takes tool choices, not on Llama / Mistral", () => {
    assert.deepStrictEqual(
      encode("us.anthropic.claude-sonnet-4-5-20250929-v1:0").toolConfig.toolChoice,
      {
        any: {}
      }
    )
    assert.deepStrictEqual(encode(MODEL).toolConfig.toolChoice, { any: {} })
    assert.isUndefined(encode("us.meta.llama4-maverick-17b-instruct-v1:0").toolConfig.toolChoice)
    assert.isUndefined(encode("mistral.mistral-large-3-675b-instruct").toolConfig.toolChoice)
  })

  it("topK: Claude's top_k beside thinking, Nova's inferenceConfig.topK, ignored elsewhere; serviceTier as { type }", () => {
    assert.deepStrictEqual(
      encode("us.anthropic.claude-sonnet-4-20250514-v1:0", {
        topK: 40,
        thinking: { budgetTokens: 4000 }
      }).additionalModelRequestFields,
      { thinking: { type: "enabled", budget_tokens: 4000 }, top_k: 40 }
    )
    assert.deepStrictEqual(
      encode("us.amazon.nova-micro-v1:0", { topK: 20 }).additionalModelRequestFields,
      { inferenceConfig: { topK: 20 } }
    )
    assert.isUndefined(
      encode("us.meta.llama4-maverick-17b-instruct-v1:0", { topK: 5 }).additionalModelRequestFields
    )
    assert.deepStrictEqual(
      encode("us.amazon.nova-micro-v1:0", { serviceTier: "flex" }).serviceTier,
      {
        type: "flex"
      }
    )
    assert.isUndefined(encode("us.amazon.nova-micro-v1:0").serviceTier)
  })

  it("asks Claude for thinking in additionalModelRequestFields and then does not force tools", () => {
    const body = encode("us.anthropic.claude-sonnet-4-20250514-v1:0", {
      thinking: { budgetTokens: 4000 }
    })
    assert.deepStrictEqual(body.additionalModelRequestFields, {
      thinking: { type: "enabled", budget_tokens: 4000 }
    })
    assert.deepStrictEqual(body.toolConfig.toolChoice, { auto: {} })
    assert.deepStrictEqual(
      encode("openai.gpt-oss-120b-1:0", { thinking: "high" }).additionalModelRequestFields,
      {
        reasoning_effort: "high"
      }
    )
    assert.isUndefined(
      encode("us.meta.llama4-maverick-17b-instruct-v1:0", { thinking: true })
        .additionalModelRequestFields
    )
  })

  it("keeps cache points for Claude and Nova, drops them for Llama", () => {
    const content = (id: string) => encode(id).messages[0].content
    assert.deepStrictEqual(content(MODEL), [
      { text: "a long prefix" },
      { cachePoint: { type: "default" } }
    ])
    assert.deepStrictEqual(content("us.meta.llama4-maverick-17b-instruct-v1:0"), [
      { text: "a long prefix" }
    ])
  })

  it("sends files as bytes or S3 locations; un-downloaded URLs and audio are a UserError", () => {
    const withContent = (content: Messages.UserContent) => [
      new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: [content] })] })
    ]
    const p = Model.ModelRequestParameters.empty
    const s3 = encode(
      MODEL,
      {},
      p,
      withContent(new Messages.DocumentUrl({ url: "s3://b/k/report.pdf" }))
    )
    assert.deepStrictEqual(s3.messages[0].content[0], {
      document: {
        name: "Document 1",
        format: "pdf",
        source: { s3Location: { uri: "s3://b/k/report.pdf" } }
      }
    })
    const https = encode(
      MODEL,
      {},
      p,
      withContent(new Messages.ImageUrl({ url: "https://x/y.png" }))
    )
    assert.strictEqual(https._tag, "UserError")
    assert.include(https.reason, "s3://")
    const audio = encode(
      MODEL,
      {},
      p,
      withContent(new Messages.BinaryContent({ data: new Uint8Array([1]), mediaType: "audio/wav" }))
    )
    assert.strictEqual(audio._tag, "UserError")
  })

  it("profiles follow the family", () => {
    assert.isTrue(
      Bedrock.profileFor("us.anthropic.claude-sonnet-4-5-20250929-v1:0").supportsJsonSchemaOutput
    )
    assert.isTrue(
      Bedrock.profileFor("us.anthropic.claude-sonnet-4-5-20250929-v1:0").supportsThinking
    )
    assert.isFalse(
      Bedrock.profileFor("us.anthropic.claude-3-7-sonnet-20250219-v1:0").supportsJsonSchemaOutput
    )
    assert.isFalse(Bedrock.profileFor(MODEL).supportsThinking)
  })
})

describe("Bedrock request fields beyond the portable settings", () => {
  it.scopedLive(
    "requestMetadata, promptVariables, additionalModelRequestFields and additionalModelResponseFieldPaths go out through extraBody (recorded)",
    () =>
      Effect.gen(function* () {
        const c = loadCase("bedrock", "models.test_bedrock.test_bedrock_model_other_parameters")
        const recordedCall = c.interactions[0]!
        // The recorded body lost its closing brace (so the case keeps it as text): its fields.
        const recorded = JSON.parse(`${recordedCall.request.bodyText}}`)
        const server = yield* replayServer(c)
        const layer = Bedrock.model("us.amazon.nova-micro-v1:0").pipe(
          Layer.provide(
            BedrockClient.layer({
              region: "us-east-1",
              baseUrl: server.baseUrl,
              credentials,
              retry: false
            })
          ),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        const extraBody = {
          requestMetadata: recorded.requestMetadata,
          additionalModelResponseFieldPaths: recorded.additionalModelResponseFieldPaths,
          additionalModelRequestFields: recorded.additionalModelRequestFields,
          promptVariables: recorded.promptVariables
        }
        const response = yield* Effect.flatMap(Model.Model, (model) =>
          model.request(
            [
              new Messages.ModelRequest({
                parts: [
                  new Messages.SystemPromptPart({ content: "You are a helpful chatbot." }),
                  new Messages.UserPromptPart({ content: "What is the capital of France?" })
                ]
              })
            ],
            { extraBody },
            Model.ModelRequestParameters.empty
          )
        ).pipe(Effect.provide(layer))
        // agentfx always sends an inferenceConfig (empty here); the rest is the recorded body.
        const { inferenceConfig, ...sent } = server.received[0]!.body as Record<string, unknown>
        assert.deepStrictEqual(inferenceConfig, {})
        assert.deepStrictEqual(sent, recorded)
        assert.strictEqual(server.received[0]!.path, recordedCall.request.path)
        const answer = recordedCall.response.json as {
          output: { message: { content: Array<{ text: string }> } }
        }
        assert.strictEqual(response.text, answer.output.message.content[0]!.text)
      })
  )
})
