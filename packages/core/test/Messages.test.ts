import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ParseResult from "effect/ParseResult"
import { Messages, Usage } from "@agentfx/core"

const timestamp = new Date("2025-01-02T03:04:05.678Z")

const history: ReadonlyArray<Messages.ModelMessage> = [
  new Messages.ModelRequest({
    parts: [
      new Messages.SystemPromptPart({ content: "You are helpful." }),
      new Messages.SystemPromptPart({ content: "Dynamic", dynamicRef: "ref1" }),
      new Messages.UserPromptPart({ content: "plain text" }),
      new Messages.UserPromptPart({
        content: [
          "look at these",
          new Messages.ImageUrl({ url: "https://x.test/a.png" }),
          new Messages.AudioUrl({ url: "https://x.test/a.mp3", mediaType: "audio/mpeg" }),
          new Messages.VideoUrl({ url: "https://x.test/a.mp4", identifier: "vid" }),
          new Messages.DocumentUrl({ url: "https://x.test/a.pdf", mediaType: "application/pdf" }),
          new Messages.BinaryContent({
            data: new Uint8Array([0, 1, 2, 250, 255]),
            mediaType: "image/png",
            identifier: "img1"
          })
        ]
      })
    ],
    instructions: "Be brief.",
    runId: "run-1"
  }),
  new Messages.ModelResponse({
    parts: [
      new Messages.ThinkingPart({ content: "hmm", signature: "sig", providerName: "anthropic" }),
      new Messages.ThinkingPart({ content: "", signature: "opaque", redacted: true }),
      new Messages.TextPart({ content: "Calling tools", id: "t1", providerDetails: { a: 1 } }),
      new Messages.ToolCallPart({ toolName: "a", args: '{"x":1}', toolCallId: "c1" }),
      new Messages.ToolCallPart({
        toolName: "b",
        args: { nested: { y: [1, 2] } },
        toolCallId: "c2",
        id: "item_1"
      })
    ],
    usage: new Usage.RequestUsage({
      inputTokens: 10,
      outputTokens: 5,
      cacheReadTokens: 2,
      details: { reasoning_tokens: 3 }
    }),
    modelName: "gpt-test",
    providerName: "openai",
    providerResponseId: "resp_1",
    finishReason: "tool_call",
    providerFinishReason: "tool_calls",
    timestamp,
    state: "complete",
    providerDetails: { region: "eu" }
  }),
  new Messages.ModelRequest({
    parts: [
      new Messages.ToolReturnPart({
        toolName: "a",
        toolCallId: "c1",
        content: { temperature: 21, tags: ["x"] },
        outcome: "failed",
        metadata: { raw: true }
      }),
      new Messages.RetryPromptPart({ content: "try again", toolName: "b", toolCallId: "c2" }),
      new Messages.RetryPromptPart({
        content: [
          new Messages.ValidationIssue({ path: ["x", 0], message: "Expected number", input: "s" })
        ]
      })
    ]
  }),
  new Messages.ModelResponse({
    parts: [new Messages.TextPart({ content: "done" })],
    timestamp,
    state: "interrupted"
  })
]

describe("Messages JSON", () => {
  it.effect("every part kind round-trips through JSON", () =>
    Effect.gen(function* () {
      const json = Messages.encodeJson(history)
      assert.isString(json)
      const back = yield* Messages.decodeJson(json)
      assert.deepStrictEqual(back, history)
      // plain-values encoding too
      const values = Messages.encode(history)
      assert.deepStrictEqual(yield* Messages.decode(JSON.parse(JSON.stringify(values))), history)
    })
  )

  it.effect(
    "a file's vendorMetadata survives the JSON round trip; imageDetailOf reads a known detail only",
    () =>
      Effect.gen(function* () {
        const image = new Messages.ImageUrl({
          url: "https://x/a.png",
          vendorMetadata: { detail: "low" }
        })
        const video = new Messages.BinaryContent({
          data: new Uint8Array([1, 2]),
          mediaType: "video/mp4",
          vendorMetadata: { fps: 0.2 }
        })
        const conversation = [Messages.userPrompt(["look", image, video])]
        const back = yield* Messages.decodeJson(Messages.encodeJson(conversation))
        assert.deepStrictEqual(back, conversation)
        const [, img, vid] = (back[0]!.parts[0] as Messages.UserPromptPart).content as Array<any>
        assert.deepStrictEqual(img.vendorMetadata, { detail: "low" })
        assert.deepStrictEqual(vid.vendorMetadata, { fps: 0.2 })
        assert.strictEqual(Messages.imageDetailOf(image), "low")
        assert.isUndefined(Messages.imageDetailOf(video))
        assert.isUndefined(
          Messages.imageDetailOf(new Messages.ImageUrl({ url: "u", vendorMetadata: { detail: 3 } }))
        )
      })
  )

  it.effect("binary content is base64 in JSON and keeps its bytes", () =>
    Effect.gen(function* () {
      const json = JSON.parse(Messages.encodeJson(history))
      const binary = json[0].parts[3].content[5]
      assert.strictEqual(binary._tag, "BinaryContent")
      assert.strictEqual(binary.data, "AAEC+v8=")
      const back = yield* Messages.decodeJson(JSON.stringify(json))
      const part = (back[0] as Messages.ModelRequest).parts[3] as Messages.UserPromptPart
      const content = (
        part.content as ReadonlyArray<Messages.UserContent>
      )[5] as Messages.BinaryContent
      assert.deepStrictEqual(Array.from(content.data), [0, 1, 2, 250, 255])
      assert.isTrue(content.isImage)
      assert.strictEqual(content.dataUrl, "data:image/png;base64,AAEC+v8=")
    })
  )

  it.effect("defaults fill in missing fields when decoding", () =>
    Effect.gen(function* () {
      const back = yield* Messages.decode([
        { _tag: "ModelResponse", parts: [{ _tag: "ToolCallPart", toolName: "t", toolCallId: "1" }] }
      ])
      const response = back[0] as Messages.ModelResponse
      assert.deepStrictEqual(response.toolCalls[0]!.args, {})
      assert.strictEqual(response.state, "complete")
      assert.strictEqual(response.usage.inputTokens, 0)
      assert.instanceOf(response.timestamp, Date)
    })
  )

  it.effect("a corrupt history fails with a ParseError naming the path", () =>
    Effect.gen(function* () {
      const json = JSON.parse(Messages.encodeJson(history))
      json[2].parts[0].toolCallId = 42
      const exit = yield* Effect.exit(Messages.decodeJson(JSON.stringify(json)))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Messages.decodeJson(JSON.stringify(json)))
      assert.isTrue(ParseResult.isParseError(error))
      assert.include(error.message, "[2]")
      assert.include(error.message, '["parts"]')
      assert.include(error.message, '["toolCallId"]')

      const notJson = yield* Effect.flip(Messages.decodeJson("{not json"))
      assert.isTrue(ParseResult.isParseError(notJson))

      const unknownTag = yield* Effect.flip(Messages.decode([{ _tag: "Nope", parts: [] }]))
      assert.include(unknownTag.message, "[0]")
    })
  )
})

describe("Messages helpers", () => {
  it("RetryPromptPart.modelResponse uses pydantic-ai's wording", () => {
    assert.strictEqual(
      new Messages.RetryPromptPart({ content: "bad", toolName: "t" }).modelResponse,
      "bad\n\nFix the errors and try again."
    )
    assert.strictEqual(
      new Messages.RetryPromptPart({ content: "bad" }).modelResponse,
      "Validation feedback:\nbad\n\nFix the errors and try again."
    )
    const issues = [
      new Messages.ValidationIssue({ path: ["a"], message: "Expected number", input: "x" })
    ]
    assert.strictEqual(
      new Messages.RetryPromptPart({ content: issues, toolName: "t" }).modelResponse,
      '1 validation error:\n```json\n[\n  {\n    "loc": [\n      "a"\n    ],\n    "msg": "Expected number",\n    "input": "x"\n  }\n]\n```\n\nFix the errors and try again.'
    )
    const two = [
      new Messages.ValidationIssue({ path: [], message: "bad", input: "whole" }),
      new Messages.ValidationIssue({ path: ["b"], message: "missing" })
    ]
    const text = new Messages.RetryPromptPart({ content: two }).modelResponse
    assert.isTrue(text.startsWith("2 validation errors:"))
    // top-level input dropped for non-tool retries
    assert.notInclude(text, "whole")
  })

  it("ModelResponse accessors and tool call args", () => {
    const response = history[1] as Messages.ModelResponse
    assert.strictEqual(response.text, "Calling tools")
    assert.deepStrictEqual(
      response.toolCalls.map((c) => c.argsAsObject()),
      [{ x: 1 }, { nested: { y: [1, 2] } }]
    )
    assert.strictEqual(response.toolCalls[1]!.argsAsJson(), '{"nested":{"y":[1,2]}}')
    assert.strictEqual(response.thinking.length, 2)
    assert.strictEqual(
      new Messages.ToolCallPart({ toolName: "x", args: "", toolCallId: "1" }).argsAsJson(),
      "{}"
    )
    assert.strictEqual(Messages.lastText(history), "done")
    assert.strictEqual(Messages.renderToolContent(null), "")
    assert.strictEqual(Messages.renderToolContent({ a: 1 }), '{"a":1}')
    assert.strictEqual(
      new Messages.ToolReturnPart({ toolName: "a", toolCallId: "1", content: "s" }).outcome,
      "success"
    )
  })
})
