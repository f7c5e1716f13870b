/**
 * `Messages.FilePart` (a file the model generated) and `Messages.TextContent` (user text with
 * application metadata): JSON round trips with every field, the parts manager emitting a file
 * whole, the response helpers, FunctionModel streaming a file, and TextContent reaching a model
 * as its text while its metadata stays in the history.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Agent from "../src/Agent.js"
import * as FunctionModel from "../src/FunctionModel.js"
import * as Messages from "../src/Messages.js"
import * as PartsManager from "../src/PartsManager.js"
import { inputMessages, outputMessages } from "../src/internal/genai.js"

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])
const image = new Messages.FilePart({
  content: new Messages.BinaryContent({ data: png, mediaType: "image/png" }),
  id: "ig_1",
  providerName: "openai",
  providerDetails: { thoughtSignature: "sig" }
})
const pdf = new Messages.FilePart({
  content: new Messages.BinaryContent({
    data: new Uint8Array([37, 80]),
    mediaType: "application/pdf"
  })
})

describe("FilePart", () => {
  it("survives a JSON round trip with every field, bytes as base64", () => {
    const messages = [
      Messages.userPrompt("Draw a cat"),
      new Messages.ModelResponse({
        parts: [new Messages.TextPart({ content: "Here:" }), image, pdf]
      })
    ]
    const json = Messages.encodeJson(messages)
    assert.include(json, Buffer.from(png).toString("base64"))
    const back = Effect.runSync(Messages.decodeJson(json))
    const response = back[1] as Messages.ModelResponse
    assert.deepStrictEqual(response.parts[1], image)
    assert.deepStrictEqual(response.parts[2], pdf)
    const file = response.parts[1] as Messages.FilePart
    assert.instanceOf(file.content, Messages.BinaryContent)
    assert.deepStrictEqual([...file.content.data], [...png])
  })

  it("is emitted whole by the parts manager: one start and one end event", () => {
    const manager = PartsManager.make()
    const text = manager.textDelta("t", "Here:")
    const start = manager.part("f", image)
    const end = manager.endPart("f")
    assert.strictEqual(text?._tag, "PartStartEvent")
    assert.strictEqual(start._tag, "PartStartEvent")
    if (start._tag !== "PartStartEvent") return
    assert.strictEqual(start.index, 1)
    assert.deepStrictEqual(start.part, image)
    assert.deepStrictEqual(end?.part, image)
    assert.strictEqual(end?.index, 1)
    assert.deepStrictEqual(manager.response({}).parts[1], image)
  })

  it("ModelResponse.files and .images list the generated files in order", () => {
    const response = new Messages.ModelResponse({
      parts: [pdf, new Messages.TextPart({ content: "x" }), image]
    })
    assert.deepStrictEqual(response.files, [pdf.content, image.content])
    assert.deepStrictEqual(response.images, [image.content])
    assert.strictEqual(response.text, "x")
  })

  it.effect("FunctionModel streams a file part whole, between text deltas", () =>
    Effect.gen(function* () {
      const script = () =>
        new Messages.ModelResponse({
          parts: [new Messages.TextPart({ content: "Here:" }), image]
        })
      const agent = Agent.make({})
      const events = yield* agent
        .runStream("Draw")
        .pipe(
          Stream.runCollect,
          Effect.provide(FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) }))
        )
      const starts = [...events].filter(
        (e): e is Messages.PartStartEvent => e._tag === "PartStartEvent"
      )
      assert.deepStrictEqual(
        starts.map((e) => e.part._tag),
        ["TextPart", "FilePart"]
      )
      assert.deepStrictEqual(starts[1]!.part, image)
      const ends = [...events].filter((e): e is Messages.PartEndEvent => e._tag === "PartEndEvent")
      assert.deepStrictEqual(ends.map((e) => e.part._tag).sort(), ["FilePart", "TextPart"])
      const result = [...events].at(-1) as Agent.AgentRunResultEvent<string>
      assert.strictEqual(result.result.output, "Here:")
      assert.deepStrictEqual(result.result.response.images, [image.content])
    })
  )
})

describe("FilePart and TextContent in telemetry", () => {
  it("a file is a blob part (media type, no bytes); tagged text is text without its metadata", () => {
    const input = inputMessages(
      [
        Messages.userPrompt([
          new Messages.TextContent({ content: "Draw a cat.", metadata: { secret: "meta-XYZ" } })
        ])
      ],
      10_000
    )
    assert.deepStrictEqual(JSON.parse(input), [
      { role: "user", parts: [{ type: "text", content: "Draw a cat." }] }
    ])
    const output = outputMessages(
      new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "Here:" }), image] }),
      10_000
    )
    assert.include(output, '{"type":"blob","mime_type":"image/png","modality":"image"}')
    assert.notInclude(output, Buffer.from(png).toString("base64"))
  })
})

describe("TextContent", () => {
  const tagged = new Messages.TextContent({
    content: "Summarise ticket 42.",
    metadata: { ticketId: 42, tags: ["billing"] }
  })

  it("survives a JSON round trip with its metadata", () => {
    const messages = [Messages.userPrompt([tagged, "Be brief."])]
    const back = Effect.runSync(Messages.decodeJson(Messages.encodeJson(messages)))
    const part = (back[0] as Messages.ModelRequest).parts[0] as Messages.UserPromptPart
    assert.deepStrictEqual(part.content, [tagged, "Be brief."])
    const item = (part.content as ReadonlyArray<Messages.UserContent>)[0] as Messages.TextContent
    assert.instanceOf(item, Messages.TextContent)
    assert.deepStrictEqual(item.metadata, { ticketId: 42, tags: ["billing"] })
  })

  it("userText gives the text a model gets: strings and TextContent, nothing else", () => {
    assert.strictEqual(Messages.userText("hi"), "hi")
    assert.strictEqual(Messages.userText(tagged), "Summarise ticket 42.")
    assert.isUndefined(
      Messages.userText(new Messages.ImageUrl({ url: "https://example.com/cat.png" }))
    )
    assert.isUndefined(Messages.userText(new Messages.CachePoint({})))
  })

  it("is kept by sanitize (it is text, not a file)", () => {
    const history = [Messages.userPrompt([tagged])]
    const clean = Messages.sanitize(history)
    assert.deepStrictEqual(
      ((clean[0] as Messages.ModelRequest).parts[0] as Messages.UserPromptPart).content,
      [tagged]
    )
  })

  it.effect("reaches the model in the prompt; the run keeps the metadata in its history", () =>
    Effect.gen(function* () {
      let seen: ReadonlyArray<Messages.UserContent> | string | undefined
      const model = FunctionModel.layer((messages) => {
        const part = (messages[0] as Messages.ModelRequest).parts.find(
          (p) => p._tag === "UserPromptPart"
        ) as Messages.UserPromptPart
        seen = part.content
        return "done"
      })
      const result = yield* Agent.make({}).run([tagged]).pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(seen, [tagged])
      const prompt = (result.allMessages()[0] as Messages.ModelRequest).parts.find(
        (p) => p._tag === "UserPromptPart"
      ) as Messages.UserPromptPart
      assert.deepStrictEqual(
        ((prompt.content as ReadonlyArray<Messages.UserContent>)[0] as Messages.TextContent)
          .metadata,
        { ticketId: 42, tags: ["billing"] }
      )
      // the test models' usage estimate counts it as the same text given as a string
      const plain = yield* Agent.make({}).run(["Summarise ticket 42."]).pipe(Effect.provide(model))
      assert.strictEqual(result.usage.inputTokens, plain.usage.inputTokens)
      assert.strictEqual(result.usage.inputTokens, 54)
    })
  )
})
