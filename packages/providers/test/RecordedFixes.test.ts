/**
 * Hand-made recordings (shaped like real vendor traffic) for the decoding defects found by a
 * held-back check of real recordings: each test serves the body over loopback, decodes it
 * through the real model and checks the fields a user relies on, and where the defect was
 * about history, the body sent back.
 */
import { Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiCompatible from "../src/OpenAiCompatible.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { loopbackServer } from "./support/replay.js"

type Json = Record<string, any>

/** A reply of the loopback server: a JSON body or an SSE body. */
type Reply = { readonly json: unknown } | { readonly sse: ReadonlyArray<unknown> }

const sseBody = (events: ReadonlyArray<unknown>): string =>
  `${events.map((e) => `data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`).join("")}`

/**
 * Serves `replies` in order and runs `use` with the model built by `model(baseUrl)`; returns
 * its result and the request bodies the server received.
 */
const withServer = <A>(
  replies: ReadonlyArray<Reply>,
  model: (baseUrl: string) => Layer.Layer<Model.Model>,
  use: (model: Model.Service) => Effect.Effect<A, unknown>
) =>
  Effect.gen(function* () {
    const server = yield* loopbackServer((_req, res, index) => {
      const reply = replies[index]
      if (reply === undefined) {
        res.writeHead(500)
        res.end()
      } else if ("json" in reply) {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(reply.json))
      } else {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(sseBody(reply.sse))
      }
    })
    const result = yield* Effect.flatMap(Model.Model, use).pipe(
      Effect.provide(model(server.baseUrl))
    )
    return { result, bodies: server.requests.map((r) => r.body as Json) }
  }).pipe(Effect.scoped)

const streamed = (m: Model.Service, messages: ReadonlyArray<Messages.ModelMessage>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const s = yield* m.requestStream(messages, {}, Model.ModelRequestParameters.empty)
      const events = Chunk.toArray(yield* Stream.runCollect(s.events))
      return (events[events.length - 1] as Messages.ResponseCompleteEvent).response
    })
  )

const requested = (m: Model.Service, messages: ReadonlyArray<Messages.ModelMessage>) =>
  m.request(messages, {}, Model.ModelRequestParameters.empty)

/** Gets a response with `first`, then sends it back in the history of a second request. */
const thenSentBack =
  (first: (m: Model.Service) => Effect.Effect<Messages.ModelResponse, unknown>) =>
  (m: Model.Service) =>
    Effect.gen(function* () {
      const response = yield* first(m)
      yield* requested(m, [...hello, response, Messages.userPrompt("more")])
      return response
    })

const vendorModel = (vendor: string, name: string) => (baseUrl: string) =>
  OpenAiCompatible.model(vendor, name).pipe(
    Layer.provide(OpenAiClient.layer({ baseUrl, retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const hello = [Messages.userPrompt("hello")]

// ---------------------------------------------------------------------------
// OpenAI Chat: reasoning_details
// ---------------------------------------------------------------------------

const signedText = {
  type: "reasoning.text",
  text: "Think about it.",
  signature: "sig-abc",
  format: "anthropic-claude-v1",
  index: 0
}
const encrypted = {
  type: "reasoning.encrypted",
  data: "gAAAA-blob",
  id: "rs_1",
  format: "openai-responses-v1",
  index: 1
}
const summary = { type: "reasoning.summary", summary: "A summary.", format: "x", index: 2 }

const chatJson = (message: Json, usage?: Json) => ({
  id: "gen-1",
  model: "anthropic/claude-sonnet-4",
  choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", ...message } }],
  ...(usage !== undefined ? { usage } : {})
})

describe("OpenAI Chat reasoning_details", () => {
  it.effect(
    "decodes text (signed), encrypted and summary items and sends them back as they came",
    () =>
      Effect.gen(function* () {
        const { result, bodies } = yield* withServer(
          [
            {
              json: chatJson({
                content: "Hi.",
                // The plain field repeats the text: it must not be decoded twice.
                reasoning: "Think about it.",
                reasoning_details: [signedText, encrypted, summary]
              })
            },
            { json: chatJson({ content: "Again." }) }
          ],
          vendorModel("openrouter", "anthropic/claude-sonnet-4"),
          thenSentBack((m) => requested(m, hello))
        )
        const thinking = result.thinking
        assert.deepStrictEqual(
          thinking.map((t) => [t.content, t.signature]),
          [
            ["Think about it.", "sig-abc"],
            ["", "gAAAA-blob"],
            ["A summary.", undefined]
          ]
        )
        assert.strictEqual(result.text, "Hi.")
        const sentBack = bodies[1]!.messages[1]
        assert.deepStrictEqual(sentBack.reasoning_details, [signedText, encrypted, summary])
        assert.strictEqual(sentBack.reasoning, undefined, "the text is not sent twice")
        assert.strictEqual(sentBack.content, "Hi.")
      })
  )

  it.effect("streams reasoning_details per index (text deltas, signature, encrypted blob)", () =>
    Effect.gen(function* () {
      const chunk = (delta: Json, extra: Json = {}) => ({
        id: "gen-2",
        model: "m",
        choices: [{ index: 0, delta, finish_reason: null }],
        ...extra
      })
      const { result, bodies } = yield* withServer(
        [
          {
            sse: [
              chunk({
                reasoning: "Think ",
                reasoning_details: [
                  {
                    type: "reasoning.text",
                    text: "Think ",
                    format: "anthropic-claude-v1",
                    index: 0
                  }
                ]
              }),
              chunk({
                reasoning: "about it.",
                reasoning_details: [{ type: "reasoning.text", text: "about it.", index: 0 }]
              }),
              chunk({
                reasoning_details: [{ type: "reasoning.text", signature: "sig-abc", index: 0 }]
              }),
              chunk({ reasoning_details: [encrypted] }),
              chunk({ content: "Hi." }),
              {
                id: "gen-2",
                choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
                usage: {
                  prompt_tokens: 10,
                  completion_tokens: 5,
                  prompt_tokens_details: { cached_tokens: 3, cache_write_tokens: 7 }
                }
              },
              "[DONE]"
            ]
          },
          { json: chatJson({ content: "ok" }) }
        ],
        vendorModel("openrouter", "anthropic/claude-sonnet-4"),
        thenSentBack((m) => streamed(m, hello))
      )
      assert.deepStrictEqual(
        result.thinking.map((t) => [t.content, t.signature]),
        [
          ["Think about it.", "sig-abc"],
          ["", "gAAAA-blob"]
        ]
      )
      assert.strictEqual(result.text, "Hi.")
      // OpenRouter's cache-write tokens
      assert.strictEqual(result.usage.cacheReadTokens, 3)
      assert.strictEqual(result.usage.cacheWriteTokens, 7)
      assert.deepStrictEqual(bodies[1]!.messages[1].reasoning_details, [
        { ...signedText, text: "Think about it." },
        encrypted
      ])
    })
  )

  it.effect(
    "reasoning_content and reasoning fields still decode, and round-trip in their field",
    () =>
      Effect.gen(function* () {
        const { result, bodies } = yield* withServer(
          [
            { json: chatJson({ content: "4", reasoning: "2+2" }) },
            { json: chatJson({ content: "ok" }) }
          ],
          // Cerebras takes thinking back in `reasoning`
          vendorModel("cerebras", "gpt-oss-120b"),
          thenSentBack((m) => requested(m, hello))
        )
        assert.strictEqual(result.thinking[0]!.content, "2+2")
        assert.strictEqual(bodies[1]!.messages[1].reasoning, "2+2")
      })
  )
})

// ---------------------------------------------------------------------------
// Groq streamed usage, OpenRouter cache writes (JSON), video_url
// ---------------------------------------------------------------------------

describe("OpenAI-compatible vendors", () => {
  it.effect("Groq: streamed usage comes from x_groq.usage", () =>
    Effect.gen(function* () {
      const { result } = yield* withServer(
        [
          {
            sse: [
              { id: "c", choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }] },
              {
                id: "c",
                choices: [{ index: 0, delta: {}, finish_reason: "stop" }],
                x_groq: { id: "req_1", usage: { prompt_tokens: 12, completion_tokens: 4 } }
              },
              "[DONE]"
            ]
          }
        ],
        vendorModel("groq", "llama-3.3-70b-versatile"),
        (m) => streamed(m, hello)
      )
      assert.strictEqual(result.text, "Hi")
      assert.strictEqual(result.usage.inputTokens, 12)
      assert.strictEqual(result.usage.outputTokens, 4)
    })
  )

  it.effect("OpenRouter: cache_write_tokens of a JSON response", () =>
    Effect.gen(function* () {
      const { result } = yield* withServer(
        [
          {
            json: chatJson(
              { content: "Hi" },
              {
                prompt_tokens: 2572,
                completion_tokens: 63,
                prompt_tokens_details: { cache_write_tokens: 2569, cached_tokens: 0 }
              }
            )
          }
        ],
        vendorModel("openrouter", "anthropic/claude-sonnet-4"),
        (m) => requested(m, hello)
      )
      assert.strictEqual(result.usage.cacheWriteTokens, 2569)
      assert.strictEqual(result.usage.inputTokens, 2572)
    })
  )

  it.effect("OpenRouter sends a VideoUrl as video_url; OpenAI refuses it with a UserError", () =>
    Effect.gen(function* () {
      const video = "https://upload.wikimedia.org/wikipedia/commons/8/8f/Panda.webm"
      const prompt = [
        new Messages.ModelRequest({
          parts: [
            new Messages.UserPromptPart({
              content: ["What is in it?", new Messages.VideoUrl({ url: video })]
            })
          ]
        })
      ]
      const { bodies } = yield* withServer(
        [{ json: chatJson({ content: "A panda." }) }],
        vendorModel("openrouter", "google/gemini-2.5-flash"),
        (m) => requested(m, prompt)
      )
      assert.deepStrictEqual(bodies[0]!.messages[0].content[1], {
        type: "video_url",
        video_url: { url: video }
      })
      const refused = yield* withServer([], vendorModel("groq", "llama-3.3-70b-versatile"), (m) =>
        Effect.flip(requested(m, prompt))
      )
      assert.strictEqual((refused.result as any)._tag, "UserError")
      assert.strictEqual(refused.bodies.length, 0, "nothing was sent")
    })
  )
})

// ---------------------------------------------------------------------------
// OpenAI Responses: raw reasoning content
// ---------------------------------------------------------------------------

const responsesModel = (name: string) => (baseUrl: string) =>
  OpenAiResponses.model(name).pipe(
    Layer.provide(OpenAiClient.layer({ baseUrl, retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const rawItem = {
  type: "reasoning",
  id: "rs_raw",
  summary: [],
  content: [{ type: "reasoning_text", text: "The user wants done." }],
  encrypted_content: "enc-1"
}
const messageItem = {
  type: "message",
  id: "msg_1",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text: "done", annotations: [] }]
}
const responseBody = (output: ReadonlyArray<unknown>) => ({
  id: "resp_1",
  object: "response",
  model: "deepseek-v4-flash",
  status: "completed",
  output,
  usage: { input_tokens: 5, output_tokens: 9, output_tokens_details: { reasoning_tokens: 6 } }
})

describe("OpenAI Responses raw reasoning", () => {
  it.effect("reasoning_text content is decoded and sent back as content, not as a summary", () =>
    Effect.gen(function* () {
      const { result, bodies } = yield* withServer(
        [{ json: responseBody([rawItem, messageItem]) }, { json: responseBody([messageItem]) }],
        responsesModel("deepseek-v4-flash"),
        thenSentBack((m) => requested(m, hello))
      )
      assert.deepStrictEqual(
        result.thinking.map((t) => [t.content, t.signature]),
        [["The user wants done.", "enc-1"]]
      )
      const sent = (bodies[1]!.input as Array<Json>).find((i) => i.type === "reasoning")!
      assert.deepStrictEqual(sent.content, rawItem.content)
      assert.deepStrictEqual(sent.summary, [])
      assert.strictEqual(sent.encrypted_content, "enc-1")
    })
  )

  it.effect("response.reasoning_text.delta events are streamed into thinking", () =>
    Effect.gen(function* () {
      const ev = (type: string, fields: Json) => ({ type, ...fields })
      const { result } = yield* withServer(
        [
          {
            sse: [
              ev("response.created", { response: { id: "resp_2", model: "m", output: [] } }),
              ev("response.output_item.added", {
                output_index: 0,
                item: { type: "reasoning", id: "rs_2", summary: [], content: [] }
              }),
              ev("response.reasoning_text.delta", {
                item_id: "rs_2",
                content_index: 0,
                delta: "Raw "
              }),
              ev("response.reasoning_text.delta", {
                item_id: "rs_2",
                content_index: 0,
                delta: "thought."
              }),
              ev("response.output_item.done", {
                output_index: 0,
                item: {
                  type: "reasoning",
                  id: "rs_2",
                  summary: [],
                  content: [{ type: "reasoning_text", text: "Raw thought." }]
                }
              }),
              ev("response.output_text.delta", {
                item_id: "msg_2",
                content_index: 0,
                delta: "done"
              }),
              ev("response.completed", {
                response: { ...responseBody([]), id: "resp_2" }
              })
            ]
          }
        ],
        responsesModel("deepseek-v4-flash"),
        (m) => streamed(m, hello)
      )
      assert.deepStrictEqual(
        result.thinking.map((t) => t.content),
        ["Raw thought."]
      )
      assert.strictEqual(result.text, "done")
      assert.strictEqual(result.usage.outputTokens, 9)
    })
  )
})

// ---------------------------------------------------------------------------
// Gemini
// ---------------------------------------------------------------------------

const googleModel = (baseUrl: string) =>
  Google.model("gemini-2.5-flash").pipe(
    Layer.provide(GoogleClient.layer({ apiKey: Redacted.make("k"), baseUrl, retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const geminiJson = (parts: ReadonlyArray<unknown>) => ({
  candidates: [{ content: { role: "model", parts }, finishReason: "STOP" }],
  usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2 },
  modelVersion: "gemini-2.5-flash"
})

describe("Gemini", () => {
  it.each([
    "https://www.youtube.com/watch?v=lCdaVNyHtjU",
    "https://m.youtube.com/watch?v=lCdaVNyHtjU",
    "https://youtube.com/shorts/abc",
    "https://music.youtube.com/watch?v=x",
    "https://youtu.be/lCdaVNyHtjU"
  ])("YouTube URL %s is sent as fileData, not downloaded", (url) => {
    assert.isTrue(Google.isFetchableByGemini(url))
    const body = Google.encodeRequest(
      [
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: [new Messages.VideoUrl({ url })] })]
        })
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gemini-2.5-flash" }
    )
    assert.deepStrictEqual(body.contents[0]!.parts[0], {
      fileData: { fileUri: url, mimeType: "video/mp4" }
    })
  })

  it("other hosts that merely contain 'youtube' are not fetchable", () => {
    assert.isFalse(Google.isFetchableByGemini("https://notyoutube.com/watch?v=x"))
    assert.isFalse(Google.isFetchableByGemini("https://youtube.com.evil.example/v.mp4"))
  })

  it("a tool schema keeps its top-level title; nested titles are dropped", () => {
    const tool = new Tool.ToolDefinition({
      name: "get_weather",
      parametersJsonSchema: {
        title: "WeatherArgs",
        type: "object",
        properties: { city: { title: "City", type: "string" } },
        required: ["city"]
      }
    })
    const body = Google.encodeRequest(
      [Messages.userPrompt("hi")],
      {},
      new Model.ModelRequestParameters({ functionTools: [tool] }),
      { modelName: "gemini-2.5-flash" }
    )
    const schema = (body.tools as Array<Json>)[0]!.functionDeclarations[0].parametersJsonSchema
    assert.strictEqual(schema.title, "WeatherArgs")
    assert.deepStrictEqual(schema.properties.city, { type: "string" })
  })

  it.effect(
    "ids generated for id-less function calls are not sent back; Gemini's own ids are",
    () =>
      Effect.gen(function* () {
        const { result, bodies } = yield* withServer(
          [
            {
              json: geminiJson([
                { functionCall: { name: "get_weather", args: { city: "Paris" } } },
                { functionCall: { name: "get_time", args: {}, id: "g-1" } }
              ])
            },
            { json: geminiJson([{ text: "Sunny." }]) }
          ],
          googleModel,
          (m) =>
            Effect.gen(function* () {
              const first = yield* requested(m, hello)
              const [a, b] = first.toolCalls
              const results = new Messages.ModelRequest({
                parts: [
                  new Messages.ToolReturnPart({
                    toolName: a!.toolName,
                    toolCallId: a!.toolCallId,
                    content: "sunny"
                  }),
                  new Messages.ToolReturnPart({
                    toolName: b!.toolName,
                    toolCallId: b!.toolCallId,
                    content: "noon"
                  })
                ]
              })
              yield* requested(m, [...hello, first, results])
              return first
            })
        )
        // agentfx still gives every call an id to match results with
        assert.isTrue(result.toolCalls[0]!.toolCallId.length > 0)
        assert.strictEqual(result.toolCalls[1]!.toolCallId, "g-1")
        const [, model, user] = bodies[1]!.contents as Array<Json>
        assert.deepStrictEqual(model!.parts[0].functionCall, {
          name: "get_weather",
          args: { city: "Paris" }
        })
        assert.strictEqual(model!.parts[1].functionCall.id, "g-1")
        assert.deepStrictEqual(user!.parts[0].functionResponse, {
          name: "get_weather",
          response: { return_value: "sunny" }
        })
        assert.strictEqual(user!.parts[1].functionResponse.id, "g-1")
      })
  )
})
