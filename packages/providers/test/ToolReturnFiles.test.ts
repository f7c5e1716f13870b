/**
 * Tools that return files (images, documents, audio…): the content survives the agent loop and
 * the JSON round trip as file classes, and each provider sends it the way its API accepts —
 * natively inside the tool result where it can, else "See file {id}." plus a user turn with the
 * files (the pydantic-ai rendering).
 */
import { Agent, Messages, Model, TestModel, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Anthropic from "../src/internal/anthropic.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as ChatWire from "../src/internal/openaiChat.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { loopbackServer } from "./support/replay.js"

const png = new Messages.BinaryContent({ data: new Uint8Array([1, 2, 3]), mediaType: "image/png" })
const pdfUrl = new Messages.DocumentUrl({ url: "https://pdfobject.com/pdf/sample.pdf" })
const wav = new Messages.BinaryContent({
  data: new Uint8Array([9, 9]),
  mediaType: "audio/wav",
  identifier: "clip"
})
const pngId = Messages.fileIdentifier(png)

/** A conversation whose last request holds a tool result with text, an image and a JSON value. */
const conversation = (content: unknown): ReadonlyArray<Messages.ModelMessage> => [
  Messages.userPrompt("Show me"),
  new Messages.ModelResponse({
    parts: [new Messages.ToolCallPart({ toolName: "get_file", args: {}, toolCallId: "call_1" })]
  }),
  new Messages.ModelRequest({
    parts: [new Messages.ToolReturnPart({ toolName: "get_file", toolCallId: "call_1", content })]
  })
]
const mixed = ["Here is the image:", png, { marker: 42 }]
const params = Model.ModelRequestParameters.empty

describe("tool results holding files", () => {
  it("name files like pydantic-ai (SHA-1 of the URL / bytes, 6 hex digits) unless named", () => {
    // The recorded pydantic-ai traffic says "See file 99631f." for this URL.
    assert.strictEqual(Messages.fileIdentifier(pdfUrl), "99631f")
    assert.strictEqual(Messages.fileIdentifier(wav), "clip")
    assert.match(pngId, /^[0-9a-f]{6}$/)
  })

  it.effect("survive the JSON round trip as file classes, in order", () =>
    Effect.gen(function* () {
      const json = Messages.encodeJson([
        ...conversation(mixed),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({ toolName: "a", toolCallId: "2", content: pdfUrl }),
            new Messages.ToolReturnPart({
              toolName: "b",
              toolCallId: "3",
              content: { _tag: "Mine", n: [1] }
            })
          ]
        })
      ])
      const back = yield* Messages.decodeJson(json)
      const mixedBack = (back[2] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
      const content = mixedBack.content as ReadonlyArray<unknown>
      assert.strictEqual(content[0], "Here is the image:")
      assert.instanceOf(content[1], Messages.BinaryContent)
      assert.deepStrictEqual((content[1] as Messages.BinaryContent).data, png.data)
      assert.deepStrictEqual(content[2], { marker: 42 })
      assert.strictEqual(mixedBack.files.length, 1)
      const [single, plain] = (back[3] as Messages.ModelRequest)
        .parts as ReadonlyArray<Messages.ToolReturnPart>
      assert.instanceOf(single!.content, Messages.DocumentUrl)
      // A user object that merely looks tagged stays a plain value.
      assert.deepStrictEqual(plain!.content, { _tag: "Mine", n: [1] })
      assert.strictEqual(plain!.files.length, 0)
      // The text rendering names files instead of dumping their bytes.
      assert.strictEqual(
        mixedBack.contentText,
        `["Here is the image:","See file ${pngId}.",{"marker":42}]`
      )
      assert.strictEqual(single!.contentText, "See file 99631f.")
    })
  )

  it.effect(
    "a tool's file return reaches the history as class instances through the agent loop",
    () =>
      Effect.gen(function* () {
        const snapshot = Tool.make("snapshot", {
          description: "Take a picture",
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed(["Here it is:", png])
        })
        const result = yield* Agent.make({ tools: [snapshot] }).run("take one")
        const request = result.allMessages()[2] as Messages.ModelRequest
        const ret = request.parts[0] as Messages.ToolReturnPart
        assert.strictEqual(ret._tag, "ToolReturnPart")
        assert.instanceOf((ret.content as ReadonlyArray<unknown>)[1], Messages.BinaryContent)
        const back = yield* Messages.decodeJson(result.allMessagesJson())
        const again = (back[2] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
        assert.deepStrictEqual(
          again.files.map((f) => f._tag),
          ["BinaryContent"]
        )
      }).pipe(Effect.provide(TestModel.layer()))
  )
})

describe("provider encodings of tool results with files", () => {
  it("OpenAI Responses: function_call_output content items, in order", () => {
    const body = OpenAiResponses.encodeRequest(conversation(mixed), {}, params, {
      modelName: "gpt-5",
      profile: OpenAiResponses.profileFor("gpt-5"),
      stream: false
    }) as any
    const output = body.input.find((i: any) => i.type === "function_call_output")
    assert.deepStrictEqual(output.output, [
      { type: "input_text", text: "Here is the image:" },
      { type: "input_image", image_url: png.dataUrl, detail: "auto" },
      { type: "input_text", text: '{"marker":42}' }
    ])
    const doc = OpenAiResponses.encodeRequest(conversation(pdfUrl), {}, params, {
      modelName: "gpt-5",
      profile: OpenAiResponses.profileFor("gpt-5"),
      stream: false
    }) as any
    assert.deepStrictEqual(doc.input.at(-1).output, [{ type: "input_file", file_url: pdfUrl.url }])
  })

  it("Anthropic: tool_result content blocks with the image inside", () => {
    const body = Anthropic.encodeRequest(conversation(mixed), {}, params, {
      modelName: "claude-sonnet-4-5",
      stream: false
    }) as any
    const result = body.messages.at(-1).content[0]
    assert.strictEqual(result.type, "tool_result")
    assert.deepStrictEqual(result.content, [
      { type: "text", text: "Here is the image:" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: png.base64 } },
      { type: "text", text: '{"marker":42}' }
    ])
  })

  it("Gemini 3: images inside functionResponse.parts; audio as a named file in a user turn", () => {
    const body = Google.encodeRequest(conversation([...mixed, wav]), {}, params, {
      modelName: "gemini-3-flash-preview"
    }) as any
    const last = body.contents.at(-2)
    assert.deepStrictEqual(last.parts[0].functionResponse, {
      name: "get_file",
      id: "call_1",
      response: { files: ["See file clip."], return_value: ["Here is the image:", { marker: 42 }] },
      parts: [{ inlineData: { mimeType: "image/png", data: png.base64 } }]
    })
    assert.deepStrictEqual(body.contents.at(-1), {
      role: "user",
      parts: [
        { text: "This is file clip:" },
        { inlineData: { mimeType: "audio/wav", data: wav.base64 } }
      ]
    })
  })

  it("Gemini 2.5: every file named in response.files and sent after the results", () => {
    const body = Google.encodeRequest(conversation(png), {}, params, {
      modelName: "gemini-2.5-flash"
    }) as any
    assert.deepStrictEqual(body.contents.at(-2).parts[0].functionResponse.response, {
      files: [`See file ${pngId}.`]
    })
    assert.deepStrictEqual(body.contents.at(-1).parts, [
      { text: `This is file ${pngId}:` },
      { inlineData: { mimeType: "image/png", data: png.base64 } }
    ])
  })

  it("OpenAI Chat: 'See file {id}.' in the tool message, the files in a user message after all tool messages", () => {
    const messages: ReadonlyArray<Messages.ModelMessage> = [
      Messages.userPrompt("Show me"),
      new Messages.ModelResponse({
        parts: [
          new Messages.ToolCallPart({ toolName: "get_file", args: {}, toolCallId: "call_1" }),
          new Messages.ToolCallPart({ toolName: "other", args: {}, toolCallId: "call_2" })
        ]
      }),
      new Messages.ModelRequest({
        parts: [
          new Messages.ToolReturnPart({ toolName: "get_file", toolCallId: "call_1", content: png }),
          new Messages.ToolReturnPart({ toolName: "other", toolCallId: "call_2", content: "ok" })
        ]
      })
    ]
    const body = ChatWire.encodeRequest(messages, {}, params, {
      modelName: "gpt-4o",
      system: "openai",
      profile: OpenAiChat.openAiProfile("gpt-4o"),
      stream: false
    }) as any
    assert.deepStrictEqual(body.messages.slice(2), [
      { role: "tool", tool_call_id: "call_1", content: `See file ${pngId}.` },
      { role: "tool", tool_call_id: "call_2", content: "ok" },
      {
        role: "user",
        content: [
          { type: "text", text: `This is file ${pngId}:` },
          { type: "image_url", image_url: { url: png.dataUrl } }
        ]
      }
    ])
  })
})

describe("Gemini model with a tool result holding a file URL", () => {
  it.scoped("downloads the file, names it after its URL and sends it after the tool results", () =>
    Effect.gen(function* () {
      const pdf = Buffer.from("%PDF-1.4 tiny")
      const server = yield* loopbackServer((req, res) => {
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "application/pdf" })
          res.end(pdf)
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            candidates: [
              { content: { role: "model", parts: [{ text: "A PDF." }] }, finishReason: "STOP" }
            ]
          })
        )
      })
      const doc = new Messages.DocumentUrl({ url: `${server.baseUrl}/files/report.pdf` })
      const layer = Google.model("gemini-2.5-flash").pipe(
        Layer.provide(
          GoogleClient.layer({ apiKey: Redacted.make("k"), baseUrl: server.baseUrl, retry: false })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const response = yield* Effect.flatMap(Model.Model, (m) =>
        m.request(conversation(doc), {}, params)
      ).pipe(Effect.provide(layer))
      assert.strictEqual(response.text, "A PDF.")
      assert.deepStrictEqual(
        server.requests.map((r) => r.method),
        ["GET", "POST"]
      )
      const contents = (server.requests[1]!.body as any).contents
      const id = Messages.fileIdentifier(doc)
      assert.deepStrictEqual(contents.at(-2).parts[0].functionResponse.response, {
        files: [`See file ${id}.`]
      })
      assert.deepStrictEqual(contents.at(-1).parts, [
        { text: `This is file ${id}:` },
        { inlineData: { mimeType: "application/pdf", data: pdf.toString("base64") } }
      ])
    })
  )
})
