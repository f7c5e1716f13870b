/**
 * Generated files (`Messages.FilePart`) and image output on the wire, against loopback servers
 * serving the documented shapes (no recorded image-generation traffic exists):
 * - OpenAI Responses: an `image_generation_call` item becomes the built-in call, a FilePart and
 *   the built-in return (the image kept once, in the FilePart), streamed or not; image output
 *   adds the `image_generation` tool with `tool_choice: "auto"`; the image goes back inside its
 *   item on the next request.
 * - Gemini: `inlineData` in a candidate becomes a FilePart with its thought signature, streamed
 *   or not; image output asks for `IMAGE` in `responseModalities`; the file goes back inline.
 * - `TextContent`: every provider sends its text as plain text and never its metadata.
 */
import { Agent, BuiltinTool, Messages, Model } from "@agentfx/core"
import { ImageOutput } from "@agentfx/output"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Anthropic from "../src/Anthropic.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import * as BedrockWire from "../src/internal/bedrock.js"
import * as CohereWire from "../src/internal/cohere.js"
import * as GoogleWire from "../src/internal/google.js"
import * as MistralWire from "../src/internal/mistral.js"
import * as ResponsesWire from "../src/internal/openaiResponses.js"
import { responsesModelLayer } from "./support/models.js"
import { loopbackServer, sseEvent } from "./support/replay.js"

type Json = Record<string, any>

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7, 7])
const b64 = Buffer.from(png).toString("base64")

/** Answers every request with `body` (JSON, or SSE when a string), recording the requests. */
const serve = (body: Json | string) =>
  loopbackServer((_req, res) => {
    if (typeof body === "string") {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.end(body)
    } else {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(body))
    }
  })

/** Streams an image-output run against a server answering `sse`: the server and every event. */
const streamImage = (sse: string, layer: (baseUrl: string) => Layer.Layer<Model.Model, unknown>) =>
  Effect.gen(function* () {
    const server = yield* serve(sse)
    const events = Chunk.toReadonlyArray(
      yield* Agent.make({ output: ImageOutput.make() })
        .runStream("Draw a cat")
        .pipe(Stream.runCollect, Effect.provide(layer(server.baseUrl)))
    )
    return { server, events }
  })

// ---------------------------------------------------------------------------
// OpenAI Responses
// ---------------------------------------------------------------------------

const imageItem = {
  id: "ig_1",
  type: "image_generation_call",
  status: "completed",
  background: "opaque",
  output_format: "png",
  quality: "high",
  size: "1024x1024",
  revised_prompt: "A small cat",
  result: b64
}
const messageItem = {
  id: "msg_1",
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text: "Here is your cat.", annotations: [] }]
}
const responsesBody = {
  id: "resp_img",
  model: "gpt-5",
  status: "completed",
  created_at: 1700000000,
  output: [imageItem, messageItem],
  usage: { input_tokens: 12, output_tokens: 40 }
}
const responsesSse =
  sseEvent("response.created", {
    response: { id: "resp_img", model: "gpt-5", status: "in_progress" }
  }) +
  sseEvent("response.output_item.added", {
    output_index: 0,
    item: { id: "ig_1", type: "image_generation_call", status: "in_progress" }
  }) +
  sseEvent("response.image_generation_call.generating", { item_id: "ig_1", output_index: 0 }) +
  sseEvent("response.image_generation_call.partial_image", {
    item_id: "ig_1",
    output_index: 0,
    partial_image_index: 0,
    partial_image_b64: b64
  }) +
  // the streamed item may still say `generating` although its image is complete
  sseEvent("response.output_item.done", {
    output_index: 0,
    item: { ...imageItem, status: "generating" }
  }) +
  sseEvent("response.output_item.added", {
    output_index: 1,
    item: { ...messageItem, status: "in_progress", content: [] }
  }) +
  sseEvent("response.output_text.delta", {
    item_id: "msg_1",
    output_index: 1,
    content_index: 0,
    delta: "Here is your cat."
  }) +
  sseEvent("response.output_item.done", { output_index: 1, item: messageItem }) +
  sseEvent("response.completed", { response: responsesBody })

const responsesLayer = (baseUrl: string) => responsesModelLayer(baseUrl, "gpt-5")

/** The parts an image generation call decodes to, with or without streaming. */
const assertImageParts = (parts: ReadonlyArray<Messages.ModelResponsePart>) => {
  assert.deepStrictEqual(
    parts.map((p) => p._tag),
    ["BuiltinToolCallPart", "FilePart", "BuiltinToolReturnPart", "TextPart"]
  )
  const [call, file, ret] = parts as [
    Messages.BuiltinToolCallPart,
    Messages.FilePart,
    Messages.BuiltinToolReturnPart
  ]
  assert.strictEqual(call.toolName, "image_generation")
  assert.strictEqual(call.toolCallId, "ig_1")
  assert.strictEqual(call.providerName, "openai")
  assert.deepStrictEqual(call.args, {
    background: "opaque",
    output_format: "png",
    quality: "high",
    size: "1024x1024"
  })
  assert.strictEqual(file.id, "ig_1")
  assert.strictEqual(file.providerName, "openai")
  assert.strictEqual(file.content.mediaType, "image/png")
  assert.deepStrictEqual([...file.content.data], [...png])
  // the image is kept once: not in the return's content
  assert.deepStrictEqual(ret.content, { status: "completed", revised_prompt: "A small cat" })
  assert.strictEqual(ret.toolCallId, "ig_1")
}

describe("OpenAI Responses image generation", () => {
  it("decodes an image_generation_call item as call, file and return parts", () => {
    const response = ResponsesWire.decodeResponse(responsesBody, "gpt-5")
    assertImageParts(response.parts)
    assert.strictEqual(response.text, "Here is your cat.")
    assert.deepStrictEqual(
      response.images.map((i) => i.mediaType),
      ["image/png"]
    )
    // webp output keeps its media type
    const webp = ResponsesWire.decodeOutput([{ ...imageItem, output_format: "webp" }])
    assert.strictEqual((webp[1] as Messages.FilePart).content.mediaType, "image/webp")
    // an item without an image (failed) has no file part
    const failed = ResponsesWire.decodeOutput([
      { id: "ig_2", type: "image_generation_call", status: "failed" }
    ])
    assert.deepStrictEqual(
      failed.map((p) => p._tag),
      ["BuiltinToolCallPart", "BuiltinToolReturnPart"]
    )
  })

  it("image output adds the image_generation tool once, with tool_choice auto", () => {
    const params = new Model.ModelRequestParameters({
      allowTextOutput: false,
      allowImageOutput: true,
      outputMode: "image"
    })
    const profile = OpenAiResponses.profileFor("gpt-5")
    assert.isTrue(profile.supportsImageOutput)
    assert.isFalse(OpenAiResponses.profileFor("gpt-3.5-turbo").supportsImageOutput ?? false)
    const body = ResponsesWire.encodeRequest([Messages.userPrompt("Draw")], {}, params, {
      modelName: "gpt-5",
      profile,
      stream: false
    }) as Json
    assert.deepStrictEqual(body.tools, [{ type: "image_generation" }])
    assert.strictEqual(body.tool_choice, "auto")
    // the agent's own ImageGeneration tool is used as given, not doubled
    const own = ResponsesWire.encodeRequest(
      [Messages.userPrompt("Draw")],
      {},
      new Model.ModelRequestParameters({
        ...params,
        builtinTools: [new BuiltinTool.ImageGeneration({ quality: "low" })]
      }),
      { modelName: "gpt-5", profile, stream: false }
    ) as Json
    assert.deepStrictEqual(own.tools, [{ type: "image_generation", quality: "low" }])
  })

  it.scoped("agent.run with image output ends with the image; it goes back inside its item", () =>
    Effect.gen(function* () {
      const server = yield* serve(responsesBody)
      const result = yield* Agent.make({ output: ImageOutput.make() })
        .run("Draw a cat")
        .pipe(Effect.provide(responsesLayer(server.baseUrl)))
      assert.strictEqual(result.output.mediaType, "image/png")
      assert.deepStrictEqual([...result.output.data], [...png])
      const sent = server.requests[0]!.body as Json
      assert.deepStrictEqual(sent.tools, [{ type: "image_generation" }])
      assert.strictEqual(sent.tool_choice, "auto")
      // the next request carries the item whole: call fields, status, the image as `result`
      const next = ResponsesWire.encodeRequest(
        [...result.allMessages(), Messages.userPrompt("Make it blue")],
        {},
        Model.ModelRequestParameters.empty,
        { modelName: "gpt-5", profile: OpenAiResponses.profileFor("gpt-5"), stream: false }
      ) as Json
      const item = (next.input as Array<Json>).find((i) => i.type === "image_generation_call")
      assert.deepStrictEqual(item, {
        type: "image_generation_call",
        id: "ig_1",
        background: "opaque",
        output_format: "png",
        quality: "high",
        size: "1024x1024",
        result: b64,
        status: "completed",
        revised_prompt: "A small cat"
      })
    })
  )

  it.scoped("streamed: the file part arrives whole after its call; the run ends with it", () =>
    Effect.gen(function* () {
      const { server, events } = yield* streamImage(responsesSse, responsesLayer)
      const starts = events.flatMap((e) => (e._tag === "PartStartEvent" ? [e.part._tag] : []))
      assert.deepStrictEqual(starts, [
        "BuiltinToolCallPart",
        "FilePart",
        "BuiltinToolReturnPart",
        "TextPart"
      ])
      const fileStart = events.findIndex(
        (e) => e._tag === "PartStartEvent" && e.part._tag === "FilePart"
      )
      assert.strictEqual(events[fileStart + 1]?._tag, "FinalResultEvent")
      const last = events.at(-1) as Agent.AgentRunResultEvent<Messages.BinaryContent>
      assert.deepStrictEqual([...last.result.output.data], [...png])
      assertImageParts(last.result.response.parts)
      assert.strictEqual((server.requests[0]!.body as Json).stream, true)
    })
  )
})

// ---------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------

const geminiBody = {
  candidates: [
    {
      content: {
        role: "model",
        parts: [
          { text: "Here is a cat." },
          { inlineData: { mimeType: "image/png", data: b64 }, thoughtSignature: "sig-img" }
        ]
      },
      finishReason: "STOP",
      index: 0
    }
  ],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 1290, totalTokenCount: 1295 },
  modelVersion: "gemini-2.5-flash-image",
  responseId: "g1"
}
const geminiSse =
  `data: ${JSON.stringify({
    candidates: [{ content: { role: "model", parts: [{ text: "Here is a cat." }] }, index: 0 }],
    responseId: "g1"
  })}\r\n\r\n` +
  `data: ${JSON.stringify({
    candidates: [
      {
        content: {
          role: "model",
          parts: [
            // an interim image of the model's thinking is not kept
            { inlineData: { mimeType: "image/png", data: "AAAA" }, thought: true },
            { inlineData: { mimeType: "image/png", data: b64 }, thoughtSignature: "sig-img" }
          ]
        },
        finishReason: "STOP",
        index: 0
      }
    ],
    usageMetadata: geminiBody.usageMetadata,
    responseId: "g1"
  })}\r\n\r\n`

const geminiLayer = (baseUrl: string, modelName = "gemini-2.5-flash-image") =>
  Google.model(modelName).pipe(
    Layer.provide(GoogleClient.layer({ apiKey: Redacted.make("g-secret"), baseUrl, retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const assertGeminiParts = (parts: ReadonlyArray<Messages.ModelResponsePart>) => {
  assert.deepStrictEqual(
    parts.map((p) => p._tag),
    ["TextPart", "FilePart"]
  )
  const file = parts[1] as Messages.FilePart
  assert.strictEqual(file.providerName, "google")
  assert.deepStrictEqual(file.providerDetails, { thoughtSignature: "sig-img" })
  assert.strictEqual(file.content.mediaType, "image/png")
  assert.deepStrictEqual([...file.content.data], [...png])
}

describe("Gemini image output", () => {
  it("asks image models for images; image output without text asks for images only", () => {
    const encode = (modelName: string, params: Model.ModelRequestParameters) =>
      GoogleWire.encodeRequest([Messages.userPrompt("Draw")], {}, params, { modelName })
        .generationConfig.responseModalities
    const imageOnly = new Model.ModelRequestParameters({
      allowTextOutput: false,
      allowImageOutput: true,
      outputMode: "image"
    })
    assert.deepStrictEqual(encode("gemini-2.5-flash-image", imageOnly), ["IMAGE"])
    assert.deepStrictEqual(encode("gemini-2.5-flash-image", Model.ModelRequestParameters.empty), [
      "TEXT",
      "IMAGE"
    ])
    assert.deepStrictEqual(encode("gemini-2.5-flash", Model.ModelRequestParameters.empty), ["TEXT"])
    assert.isTrue(GoogleWire.profile("gemini-2.5-flash-image").supportsImageOutput)
    assert.isFalse(GoogleWire.profile("gemini-2.5-flash").supportsImageOutput)
  })

  it.scoped(
    "agent.run decodes inlineData as a FilePart; it goes back inline with its signature",
    () =>
      Effect.gen(function* () {
        const server = yield* serve(geminiBody)
        const result = yield* Agent.make({ output: ImageOutput.make() })
          .run("Draw a cat")
          .pipe(Effect.provide(geminiLayer(server.baseUrl)))
        assert.deepStrictEqual([...result.output.data], [...png])
        assertGeminiParts(result.response.parts)
        const sent = server.requests[0]!.body as Json
        assert.deepStrictEqual(sent.generationConfig.responseModalities, ["IMAGE"])
        const next = GoogleWire.encodeRequest(
          [...result.allMessages(), Messages.userPrompt("Make it blue")],
          {},
          Model.ModelRequestParameters.empty,
          { modelName: "gemini-2.5-flash-image" }
        )
        assert.deepStrictEqual(next.contents[1], {
          role: "model",
          parts: [
            { text: "Here is a cat." },
            { inlineData: { mimeType: "image/png", data: b64 }, thoughtSignature: "sig-img" }
          ]
        })
        // another provider's file goes inline too, without a signature
        const foreign = GoogleWire.encodeRequest(
          [
            Messages.userPrompt("Draw"),
            new Messages.ModelResponse({
              parts: [
                new Messages.FilePart({
                  content: new Messages.BinaryContent({ data: png, mediaType: "image/png" }),
                  id: "ig_1",
                  providerName: "openai"
                })
              ],
              providerName: "openai"
            })
          ],
          {},
          Model.ModelRequestParameters.empty,
          { modelName: "gemini-2.5-flash-image" }
        )
        assert.deepStrictEqual(foreign.contents[1]!.parts, [
          { inlineData: { mimeType: "image/png", data: b64 } }
        ])
      })
  )

  it.scoped("streamed: the image arrives as a FilePart, thought images left out", () =>
    Effect.gen(function* () {
      const { server, events } = yield* streamImage(geminiSse, geminiLayer)
      const last = events.at(-1) as Agent.AgentRunResultEvent<Messages.BinaryContent>
      assert.deepStrictEqual([...last.result.output.data], [...png])
      assertGeminiParts(last.result.response.parts)
      const fileStart = events.findIndex(
        (e) => e._tag === "PartStartEvent" && e.part._tag === "FilePart"
      )
      assert.strictEqual(events[fileStart + 1]?._tag, "FinalResultEvent")
      assert.include(server.requests[0]!.path, ":streamGenerateContent")
    })
  )
})

// ---------------------------------------------------------------------------
// Other providers and TextContent
// ---------------------------------------------------------------------------

describe("FilePart for providers without assistant files", () => {
  it("Anthropic and Chat Completions drop a generated file, keeping the response's text", () => {
    const history = [
      Messages.userPrompt("Draw"),
      new Messages.ModelResponse({
        parts: [
          new Messages.TextPart({ content: "Here:" }),
          new Messages.FilePart({
            content: new Messages.BinaryContent({ data: png, mediaType: "image/png" })
          })
        ]
      }),
      Messages.userPrompt("Thanks")
    ]
    const params = Model.ModelRequestParameters.empty
    const anthropic = Anthropic.encodeRequest(history, {}, params, {
      modelName: "claude-sonnet-4-6",
      stream: false
    }) as Json
    assert.deepStrictEqual(anthropic.messages[1], {
      role: "assistant",
      content: [{ type: "text", text: "Here:" }]
    })
    const chat = OpenAiChat.encodeRequest(history, {}, params, {
      modelName: "gpt-4o",
      system: "openai",
      profile: OpenAiChat.compatibleProfile,
      stream: false
    }) as Json
    assert.strictEqual(chat.messages[1].role, "assistant")
    assert.strictEqual(chat.messages[1].content, "Here:")
    assert.notInclude(JSON.stringify(chat), b64)
  })
})

describe("TextContent", () => {
  const marker = "meta-never-sent-XYZ"
  const history = [
    Messages.userPrompt([
      new Messages.TextContent({ content: "Hello there", metadata: { note: marker } }),
      "and more"
    ])
  ]
  const params = Model.ModelRequestParameters.empty

  const bodies: Record<string, () => unknown> = {
    "openai-responses": () =>
      ResponsesWire.encodeRequest(history, {}, params, {
        modelName: "gpt-5",
        profile: OpenAiResponses.profileFor("gpt-5"),
        stream: false
      }),
    "openai-chat": () =>
      OpenAiChat.encodeRequest(history, {}, params, {
        modelName: "gpt-4o",
        system: "openai",
        profile: OpenAiChat.compatibleProfile,
        stream: false
      }),
    anthropic: () =>
      Anthropic.encodeRequest(history, {}, params, {
        modelName: "claude-sonnet-4-6",
        stream: false
      }),
    google: () => GoogleWire.encodeRequest(history, {}, params, { modelName: "gemini-2.5-flash" }),
    bedrock: () =>
      BedrockWire.encodeRequest(history, {}, params, {
        modelId: "anthropic.claude-3-5-sonnet-20240620-v1:0"
      }),
    mistral: () =>
      MistralWire.encodeRequest(history, {}, params, {
        modelName: "mistral-large-latest",
        stream: false,
        capabilities: { reasoningEffort: false }
      }),
    cohere: () =>
      CohereWire.encodeRequest(history, {}, params, {
        modelName: "command-a-03-2025",
        stream: false,
        thinking: false
      })
  }

  for (const [provider, body] of Object.entries(bodies)) {
    it(`${provider} sends the text as plain text, never the metadata`, () => {
      const json = JSON.stringify(body())
      assert.include(json, '"Hello there"')
      assert.include(json, '"and more"')
      assert.notInclude(json, marker)
      assert.notInclude(json, "TextContent")
    })
  }

  it("the exact text items: Responses input_text, Gemini text parts", () => {
    const responses = bodies["openai-responses"]!() as Json
    assert.deepStrictEqual(responses.input[0].content, [
      { type: "input_text", text: "Hello there" },
      { type: "input_text", text: "and more" }
    ])
    const google = bodies.google!() as Json
    assert.deepStrictEqual(google.contents[0].parts, [
      { text: "Hello there" },
      { text: "and more" }
    ])
  })
})
