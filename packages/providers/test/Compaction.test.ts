/**
 * Context compaction: Anthropic's
 * streamed `compaction` block and its handling for other providers, and OpenAI's
 * `/responses/compact` replayed from the recorded traffic: the compact request sent, the
 * compaction item decoded, and the next request carrying it back as recorded.
 */
import { Messages, Model, PartsManager } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicWire from "../src/internal/anthropic.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { loadCase, replayServer } from "./support/replay.js"

type Json = Record<string, any>

/** Anthropic's compaction (a readable summary) and OpenAI's (opaque, with an id). */
const [anthropicCompaction, openaiCompaction] = [
  { content: "Summary: the user said hello.", providerName: "anthropic" },
  { encryptedContent: "gAAAA-opaque", id: "cmp_1", providerName: "openai" }
].map((fields) => new Messages.CompactionPart(fields)) as [
  Messages.CompactionPart,
  Messages.CompactionPart
]

const history = (part: Messages.CompactionPart): Array<Messages.ModelMessage> => [
  Messages.userPrompt("Hello!"),
  new Messages.ModelResponse({ parts: [part, new Messages.TextPart({ content: "Hi!" })] }),
  Messages.userPrompt("What did I say?")
]

const params = new Model.ModelRequestParameters({})

describe("Anthropic compaction", () => {
  it("sends its own compaction back as a block, another provider's summary as text only", () => {
    const own = Anthropic.encodeRequest(history(anthropicCompaction), {}, params, {
      modelName: "claude-sonnet-4-6",
      stream: false
    }) as Json
    assert.deepStrictEqual(own.messages[1].content, [
      { type: "compaction", content: "Summary: the user said hello." },
      { type: "text", text: "Hi!" }
    ])
    // OpenAI's encrypted compaction means nothing to Anthropic: dropped, the text stays.
    const foreign = Anthropic.encodeRequest(history(openaiCompaction), {}, params, {
      modelName: "claude-sonnet-4-6",
      stream: false
    }) as Json
    assert.deepStrictEqual(foreign.messages[1].content, [{ type: "text", text: "Hi!" }])
    const readable = Anthropic.encodeRequest(
      history(new Messages.CompactionPart({ content: "S", providerName: "other" })),
      {},
      params,
      { modelName: "claude-sonnet-4-6", stream: false }
    ) as Json
    assert.deepStrictEqual(readable.messages[1].content, [
      { type: "text", text: "S" },
      { type: "text", text: "Hi!" }
    ])
  })

  it("encodes the compaction setting as a context_management edit with its beta", () => {
    const settings: Anthropic.Settings = {
      anthropicCompaction: {
        triggerInputTokens: 50000,
        pauseAfterCompaction: true,
        instructions: "Keep names."
      },
      anthropicContextEdits: [{ type: "clear_tool_uses_20250919" }]
    }
    const body = Anthropic.encodeRequest([Messages.userPrompt("hi")], settings, params, {
      modelName: "claude-sonnet-4-6",
      stream: false
    })
    assert.deepStrictEqual(body.context_management, {
      edits: [
        {
          type: "compact_20260112",
          trigger: { type: "input_tokens", value: 50000 },
          pause_after_compaction: true,
          instructions: "Keep names."
        },
        { type: "clear_tool_uses_20250919" }
      ]
    })
    assert.deepStrictEqual(AnthropicWire.builtinBetas(body), [
      "compact-2026-01-12",
      "context-management-2025-06-27"
    ])
    const compactOnly: Anthropic.Settings = { anthropicCompaction: true }
    const plain = Anthropic.encodeRequest([Messages.userPrompt("hi")], compactOnly, params, {
      modelName: "claude-sonnet-4-6",
      stream: false
    })
    assert.deepStrictEqual(plain.context_management, { edits: [{ type: "compact_20260112" }] })
  })

  it("decodes a streamed compaction block into one part with start and end events", () => {
    const state = AnthropicWire.makeStreamState()
    const manager = PartsManager.make()
    const out: Array<Messages.ModelResponseStreamEvent> = []
    const events: Array<Json> = [
      { type: "message_start", message: { id: "msg_1", model: "claude-sonnet-4-6", usage: {} } },
      { type: "content_block_start", index: 0, content_block: { type: "compaction" } },
      {
        type: "content_block_delta",
        index: 0,
        delta: { type: "compaction_delta", content: "Sum" }
      },
      {
        type: "content_block_delta",
        index: 0,
        delta: { type: "compaction_delta", content: "mary." }
      },
      { type: "content_block_stop", index: 0 },
      { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
      { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "Hello!" } },
      { type: "content_block_stop", index: 1 },
      {
        type: "message_delta",
        delta: { stop_reason: "end_turn" },
        usage: {
          input_tokens: 229,
          output_tokens: 5,
          iterations: [
            { type: "compaction", input_tokens: 100, output_tokens: 131 },
            { type: "message", input_tokens: 229, output_tokens: 5 }
          ]
        }
      },
      { type: "message_stop" }
    ]
    for (const e of events) {
      assert.isUndefined(
        AnthropicWire.handleStreamEvent(e, state, manager, out, "claude-sonnet-4-6")
      )
    }
    const response = manager.response({})
    assert.deepStrictEqual(response.parts, [
      new Messages.CompactionPart({ content: "Summary.", providerName: "anthropic" }),
      new Messages.TextPart({ content: "Hello!" })
    ])
    const tags = out.map((e) => `${e._tag}:${"index" in e ? e.index : ""}`)
    assert.deepStrictEqual(tags.slice(0, 2), ["PartStartEvent:0", "PartEndEvent:0"])
    assert.strictEqual(response.usage.inputTokens, 329)
    assert.strictEqual(response.usage.outputTokens, 136)
    assert.deepStrictEqual(response.usage.details, {
      compaction_iterations: 1,
      compaction_input_tokens: 100,
      compaction_output_tokens: 131
    })
  })
})

describe("OpenAI Responses compaction", () => {
  const caseIds = [
    "models.test_openai_responses.test_openai_responses_compact_messages",
    "models.test_openai_responses.test_openai_responses_compact_messages_direct"
  ]
  for (const id of caseIds) {
    it.scoped(`${id}: compactMessages sends the recorded request and the item goes back`, () =>
      Effect.gen(function* () {
        const c = loadCase("openai-responses", id)
        const compact = c.interactions.find((i) => i.endpoint === "responses.compact")!
        const recorded = compact.request.body as Json
        const server = yield* replayServer(c)
        // The history as the agent holds it: the recorded input, as requests and responses.
        const messages: Array<Messages.ModelMessage> = []
        for (const item of recorded.input as Array<Json>) {
          if (item.role === "user") {
            messages.push(
              new Messages.ModelRequest({
                parts: [new Messages.UserPromptPart({ content: item.content })],
                instructions: recorded.instructions
              })
            )
          } else {
            messages.push(
              new Messages.ModelResponse({
                parts: [new Messages.TextPart({ content: item.content })]
              })
            )
          }
        }
        const compacted = yield* OpenAiResponses.compactMessages(recorded.model, messages).pipe(
          Effect.provide(
            OpenAiClient.layer({
              baseUrl: `${server.baseUrl}/v1`,
              apiKey: Redacted.make("sk-x"),
              retry: false
            }).pipe(Layer.provide(NodeHttpClient.layerUndici))
          )
        )
        const sent = server.received.find((r) => r.path === "/v1/responses/compact")!
        assert.deepStrictEqual(sent.body, recorded)
        const answer = compact.response.json as Json
        const items = (answer.output as Array<Json>).filter((i) => i.type === "compaction")
        assert.deepStrictEqual(
          compacted.parts,
          items.map(
            (i) =>
              new Messages.CompactionPart({
                encryptedContent: i.encrypted_content,
                id: i.id,
                providerName: "openai"
              })
          )
        )
        assert.strictEqual(compacted.providerResponseId, answer.id)
        assert.strictEqual(compacted.usage.inputTokens, answer.usage.input_tokens)
        assert.strictEqual(compacted.usage.outputTokens, answer.usage.output_tokens)
        // The next request (when recorded): the compaction item, then the new prompt.
        const last = c.interactions.at(-1)!
        if (last.endpoint !== "responses") return
        const next = last.request.body as Json
        const body = OpenAiResponses.encodeRequest(
          [
            compacted,
            new Messages.ModelRequest({
              parts: [new Messages.UserPromptPart({ content: next.input.at(-1).content })],
              instructions: next.instructions
            })
          ],
          {},
          params,
          {
            modelName: next.model,
            profile: OpenAiResponses.profileFor(next.model),
            stream: false
          }
        ) as Json
        assert.deepStrictEqual(body.input, next.input)
        assert.strictEqual(body.instructions, next.instructions)
        // Anthropic cannot read OpenAI's encrypted compaction: it is dropped there.
        const other = Anthropic.encodeRequest([compacted, Messages.userPrompt("x")], {}, params, {
          modelName: "claude-sonnet-4-6",
          stream: false
        }) as Json
        assert.deepStrictEqual(other.messages, [
          { role: "user", content: [{ type: "text", text: "x" }] }
        ])
      })
    )
  }
})
