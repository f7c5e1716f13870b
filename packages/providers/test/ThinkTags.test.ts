/**
 * `ChatProfile.thinkingTags`: `<think>…</think>` inlined in Chat Completions text becomes
 * `ThinkingPart`s (whole responses and streams, a tag cut anywhere between chunks), and goes
 * back in the same tags. Recorded Hugging Face / Groq traffic with tags is replayed by the
 * conformance suites (huggingface.test.ts, groq.test.ts).
 */
import { Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ThinkTags from "../src/internal/thinkTags.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiCompatible from "../src/OpenAiCompatible.js"
import { loopbackServer } from "./support/replay.js"

const tags = ["<think>", "</think>"] as const

/** Segments merged by kind into runs (what the parts of a response hold). */
const runs = (segments: ReadonlyArray<ThinkTags.Segment>) => {
  const out: Array<ThinkTags.Segment> = []
  for (const s of segments) {
    const last = out[out.length - 1]
    if (last !== undefined && last.kind === s.kind)
      out[out.length - 1] = { kind: s.kind, content: last.content + s.content }
    else out.push({ kind: s.kind, content: s.content })
  }
  return out
}

describe("thinking tags: splitting", () => {
  it("split: thinking between the tags, text around it, whitespace kept", () => {
    assert.deepStrictEqual(ThinkTags.split("<think>\nplan\n</think>\nAnswer", tags), [
      { kind: "thinking", content: "\nplan\n" },
      { kind: "text", content: "\nAnswer" }
    ])
    assert.deepStrictEqual(ThinkTags.split("a<think>b</think>c<think>d</think>", tags), [
      { kind: "text", content: "a" },
      { kind: "thinking", content: "b" },
      { kind: "text", content: "c" },
      { kind: "thinking", content: "d" }
    ])
    // No tags: all text; an unclosed tag: the rest is text (pydantic-ai).
    assert.deepStrictEqual(ThinkTags.split("plain", tags), [{ kind: "text", content: "plain" }])
    assert.deepStrictEqual(ThinkTags.split("x<think>never closed", tags), [
      { kind: "text", content: "x" },
      { kind: "text", content: "never closed" }
    ])
  })

  it("TagSplitter: the same runs as split, however the text is cut into chunks", () => {
    const text = "Hi <think>plan <b> A</think>Answer <thi <think>more</think> end<"
    const whole = ThinkTags.split(text, tags)
    // Every cut into three chunks (tags split at every position included).
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const splitter = new ThinkTags.TagSplitter(tags)
        const segments = [
          ...splitter.push(text.slice(0, i)),
          ...splitter.push(text.slice(i, j)),
          ...splitter.push(text.slice(j)),
          ...splitter.flush()
        ]
        assert.deepStrictEqual(runs(segments), runs(whole), `cut at ${i}, ${j}`)
      }
    }
  })

  it("TagSplitter: a new block at every tag; a partial tag at the end is content", () => {
    const splitter = new ThinkTags.TagSplitter(tags)
    assert.deepStrictEqual(splitter.push("a<th"), [{ kind: "text", content: "a", block: 0 }])
    assert.deepStrictEqual(splitter.push("ink>b</"), [{ kind: "thinking", content: "b", block: 1 }])
    assert.deepStrictEqual(splitter.push("think>c"), [{ kind: "text", content: "c", block: 2 }])
    assert.deepStrictEqual(splitter.push("<thi"), [])
    assert.deepStrictEqual(splitter.flush(), [{ kind: "text", content: "<thi", block: 2 }])
  })
})

const profile: OpenAiChat.ChatProfile = { ...OpenAiChat.compatibleProfile, thinkingTags: tags }

const modelAt = (baseUrl: string, p: OpenAiChat.ChatProfile = profile) =>
  OpenAiChat.model("qwen3-32b", { system: "vllm", profile: p }).pipe(
    Layer.provide(OpenAiClient.layer({ baseUrl, apiKey: Redacted.make("sk-test"), retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const sse = (contents: ReadonlyArray<string>) =>
  [
    ...contents.map((content) => ({
      id: "c1",
      choices: [{ index: 0, delta: { content }, finish_reason: null }]
    })),
    { id: "c1", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }
  ]
    .map((c) => `data: ${JSON.stringify(c)}\n\n`)
    .join("")
    .concat("data: [DONE]\n\n")

const shape = (r: Messages.ModelResponse) =>
  r.parts.map((p) =>
    p._tag === "TextPart"
      ? ["text", p.content]
      : p._tag === "ThinkingPart"
        ? ["thinking", p.content, p.providerName]
        : [p._tag]
  )

describe("thinking tags: OpenAI-compatible chat models", () => {
  it.scoped(
    "a streamed response whose tags are cut between chunks: thinking, then text parts",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(sse(["<th", "ink>\nStep 1.", " Step 2.\n</th", "ink>\n\nThe answer", " is 4."]))
        })
        const model = yield* Model.resolve(modelAt(`${server.baseUrl}/v1`))
        const events = yield* Effect.scoped(
          Effect.flatMap(
            model.requestStream(
              [Messages.userPrompt("2+2?")],
              {},
              Model.ModelRequestParameters.empty
            ),
            (streamed) => Stream.runCollect(streamed.events)
          )
        )
        const list = Chunk.toReadonlyArray(events)
        const done = list[list.length - 1] as Messages.ResponseCompleteEvent
        assert.strictEqual(done._tag, "ResponseCompleteEvent")
        assert.deepStrictEqual(shape(done.response), [
          ["thinking", "\nStep 1. Step 2.\n", "vllm"],
          ["text", "\n\nThe answer is 4."]
        ])
        // The thinking part started first, as a thinking part.
        const starts = list.filter((e) => e._tag === "PartStartEvent")
        assert.deepStrictEqual(
          starts.map((e) => (e as Messages.PartStartEvent).part._tag),
          ["ThinkingPart", "TextPart"]
        )
      })
  )

  it.scoped("a whole response: split the same way; without thinkingTags the text stays as is", () =>
    Effect.gen(function* () {
      const content = "<think>\nhmm\n</think>\nHello"
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: "c2",
            choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content } }]
          })
        )
      })
      const tagged = yield* Model.resolve(modelAt(`${server.baseUrl}/v1`))
      const r = yield* tagged.request(
        [Messages.userPrompt("hi")],
        {},
        Model.ModelRequestParameters.empty
      )
      assert.deepStrictEqual(shape(r), [
        ["thinking", "\nhmm\n", "vllm"],
        ["text", "\nHello"]
      ])
      const plain = yield* Model.resolve(
        modelAt(`${server.baseUrl}/v1`, OpenAiChat.compatibleProfile)
      )
      const p = yield* plain.request(
        [Messages.userPrompt("hi")],
        {},
        Model.ModelRequestParameters.empty
      )
      assert.deepStrictEqual(shape(p), [["text", content]])
    })
  )

  it("thinking goes back in the tags, before the text (pydantic-ai's form); other vendors' is dropped", () => {
    const history = [
      Messages.userPrompt("hi"),
      new Messages.ModelResponse({
        parts: [
          new Messages.ThinkingPart({ content: "\nhmm\n", providerName: "vllm" }),
          new Messages.TextPart({ content: "\nHello" }),
          new Messages.ThinkingPart({ content: "secret", providerName: "anthropic" })
        ]
      }),
      Messages.userPrompt("again")
    ]
    const encode = (p: OpenAiChat.ChatProfile) =>
      OpenAiChat.encodeRequest(history, {}, Model.ModelRequestParameters.empty, {
        modelName: "qwen3-32b",
        system: "vllm",
        profile: p,
        stream: false
      }) as { messages: Array<{ role: string; content?: string }> }
    assert.deepStrictEqual(encode(profile).messages[1], {
      role: "assistant",
      content: "<think>\n\nhmm\n\n</think>\n\n\nHello"
    })
    assert.deepStrictEqual(encode(OpenAiChat.compatibleProfile).messages[1], {
      role: "assistant",
      content: "\nHello"
    })
  })

  it("Hugging Face and Groq profiles split <think> tags; OpenAI's does not", () => {
    assert.deepStrictEqual(OpenAiCompatible.vendors.huggingface!.profile("x").thinkingTags, tags)
    assert.deepStrictEqual(
      OpenAiCompatible.vendors.groq!.profile("qwen/qwen3-32b").thinkingTags,
      tags
    )
    assert.isUndefined(OpenAiChat.openAiProfile("gpt-4o").thinkingTags)
  })
})
