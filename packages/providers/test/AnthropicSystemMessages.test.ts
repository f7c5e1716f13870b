/**
 * Mid-conversation system prompts on the Messages API: where a `SystemPromptPart` that does not
 * open the history lands (a `system` entry on models that take one, `<system>` text elsewhere),
 * how entries move to stay legal, and where cache breakpoints go. Shapes match pydantic-ai's
 * (recorded ones are replayed by conformance/anthropic.test.ts).
 */
import { Messages, Model } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Anthropic from "../src/Anthropic.js"
import * as Bedrock from "../src/Bedrock.js"

const { CachePoint, ModelRequest, ModelResponse, SystemPromptPart, TextPart, UserPromptPart } =
  Messages

const encode = (messages: ReadonlyArray<Messages.ModelMessage>, modelName = "claude-opus-4-8") =>
  Anthropic.encodeRequest(messages, {}, new Model.ModelRequestParameters({}), {
    modelName,
    stream: false
  }) as { system?: string; messages: Array<{ role: string; content: Array<unknown> }> }

const text = (t: string, cached = false) => ({
  type: "text",
  text: t,
  ...(cached ? { cache_control: { type: "ephemeral", ttl: "5m" } } : {})
})

const INSTRUCTION = "Use type annotations."

const history = (last: Messages.ModelRequest): Array<Messages.ModelMessage> => [
  new ModelRequest({
    parts: [
      new SystemPromptPart({ content: "You are a code reviewer." }),
      new UserPromptPart({ content: "Review add." })
    ]
  }),
  new ModelResponse({ parts: [new TextPart({ content: "Looks fine." })] }),
  last
]

describe("Anthropic mid-conversation system prompts", () => {
  it("picks the inline form by model (Bedrock prefixes ignored)", () => {
    assert.isTrue(Anthropic.supportsInlineSystemPrompts("claude-opus-4-8"))
    assert.isTrue(Anthropic.supportsInlineSystemPrompts("us.anthropic.claude-opus-4-8"))
    assert.isTrue(Anthropic.supportsInlineSystemPrompts("claude-opus-5-20270101"))
    assert.isFalse(Anthropic.supportsInlineSystemPrompts("claude-sonnet-4-6"))
    assert.isFalse(Anthropic.supportsInlineSystemPrompts("claude-sonnet-5"))
  })

  it("other models get <system> text where the prompt was authored; the standing one is hoisted", () => {
    const body = encode(
      history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: INSTRUCTION }),
            new UserPromptPart({ content: "Again." })
          ]
        })
      ),
      "claude-sonnet-4-6"
    )
    assert.strictEqual(body.system, "You are a code reviewer.")
    assert.deepStrictEqual(body.messages, [
      { role: "user", content: [text("Review add.")] },
      { role: "assistant", content: [text("Looks fine.")] },
      { role: "user", content: [text(`<system>${INSTRUCTION}</system>`), text("Again.")] }
    ])
  })

  it("a system prompt after user content in the first request is mid-conversation", () => {
    const body = encode([
      new ModelRequest({
        parts: [new UserPromptPart({ content: "x" }), new SystemPromptPart({ content: "mid" })]
      })
    ])
    assert.isUndefined(body.system)
    assert.deepStrictEqual(body.messages, [
      { role: "user", content: [text("x")] },
      { role: "system", content: [text("mid")] }
    ])
  })

  it("without a user turn before it, the entry gets a '.' turn", () => {
    const body = encode(
      history(new ModelRequest({ parts: [new SystemPromptPart({ content: INSTRUCTION })] }))
    )
    assert.deepStrictEqual(body.messages.slice(2), [
      { role: "user", content: [text(".")] },
      { role: "system", content: [text(INSTRUCTION)] }
    ])
  })

  it("a response that renders to nothing is no assistant turn: the entry moves past the user turn", () => {
    const body = encode([
      ...history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: INSTRUCTION }),
            new UserPromptPart({ content: "Again." })
          ]
        })
      ),
      new ModelResponse({ parts: [new TextPart({ content: "" })] }),
      new ModelRequest({ parts: [new UserPromptPart({ content: "Once more." })] })
    ])
    assert.deepStrictEqual(
      body.messages.map((m) => m.role),
      ["user", "assistant", "user", "system"]
    )
    assert.deepStrictEqual(body.messages[2]!.content, [text("Again."), text("Once more.")])
  })

  it("the entry never splits a tool_use from its tool_result (no anchor needed after the move)", () => {
    const body = encode([
      new ModelRequest({
        parts: [
          new SystemPromptPart({ content: "You are a code reviewer." }),
          new UserPromptPart({ content: "Look it up." })
        ]
      }),
      new ModelResponse({
        parts: [new Messages.ToolCallPart({ toolName: "guide", args: {}, toolCallId: "call_1" })]
      }),
      new ModelRequest({ parts: [new SystemPromptPart({ content: INSTRUCTION })] }),
      new ModelRequest({
        parts: [
          new Messages.ToolReturnPart({ toolName: "guide", content: "ok", toolCallId: "call_1" })
        ]
      })
    ])
    assert.deepStrictEqual(
      body.messages.map((m) => m.role),
      ["user", "assistant", "user", "system"]
    )
    assert.strictEqual((body.messages[2]!.content[0] as { type: string }).type, "tool_result")
  })

  it("a cache point ending the request covers the entry; one with content after it stays put", () => {
    const ending = encode(
      history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: "S" }),
            new UserPromptPart({ content: ["context", new CachePoint({})] })
          ]
        })
      )
    )
    assert.deepStrictEqual(ending.messages.slice(2), [
      { role: "user", content: [text("context")] },
      { role: "system", content: [text("S", true)] }
    ])
    const middle = encode(
      history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: "S" }),
            new UserPromptPart({ content: ["before", new CachePoint({}), "after"] })
          ]
        })
      )
    )
    assert.deepStrictEqual(middle.messages.slice(2), [
      { role: "user", content: [text("before", true), text("after")] },
      { role: "system", content: [text("S")] }
    ])
  })

  it("a moving entry leaves its cache breakpoint on the turn it sat behind", () => {
    const body = encode([
      ...history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: "S" }),
            new UserPromptPart({ content: ["context", new CachePoint({})] })
          ]
        })
      ),
      new ModelRequest({ parts: [new UserPromptPart({ content: "later" })] })
    ])
    assert.deepStrictEqual(body.messages.slice(2), [
      { role: "user", content: [text("context", true), text("later")] },
      { role: "system", content: [text("S")] }
    ])
  })

  it("a cache point opening a request marks the end of the previous message", () => {
    const body = encode(
      history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: INSTRUCTION }),
            new UserPromptPart({ content: [new CachePoint({}), "Again."] })
          ]
        })
      )
    )
    assert.deepStrictEqual(body.messages[1], {
      role: "assistant",
      content: [text("Looks fine.", true)]
    })
    assert.deepStrictEqual(
      body.messages.map((m) => m.role),
      ["user", "assistant", "user", "system"]
    )
  })
})

describe("Bedrock Converse mid-conversation system prompts", () => {
  it("the standing prompt goes to `system`, a later one stays in place as <system> text", () => {
    const body = Bedrock.encodeRequest(
      history(
        new ModelRequest({
          parts: [
            new SystemPromptPart({ content: INSTRUCTION }),
            new UserPromptPart({ content: "Again." })
          ]
        })
      ),
      {},
      new Model.ModelRequestParameters({}),
      { modelId: "us.anthropic.claude-opus-4-8" }
    ) as { system: Array<unknown>; messages: Array<unknown> }
    assert.deepStrictEqual(body.system, [{ text: "You are a code reviewer." }])
    assert.deepStrictEqual(body.messages, [
      { role: "user", content: [{ text: "Review add." }] },
      { role: "assistant", content: [{ text: "Looks fine." }] },
      { role: "user", content: [{ text: `<system>${INSTRUCTION}</system>` }, { text: "Again." }] }
    ])
  })
})
