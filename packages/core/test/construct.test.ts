import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"
import { Messages, Usage } from "@agentfx/core"
import { unvalidated } from "../src/internal/construct.js"

/** `actual` (the fast maker's) is the object `new C(props, true)` makes. */
const assertSame = <A extends object>(
  schema: Schema.Schema<A, any>,
  actual: A,
  expected: A,
  // `Equal` compares plain-object fields by reference: off where a default is a fresh `{}`
  structurallyEqual = true
): void => {
  assert.strictEqual(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected))
  // the same own keys in the same order (JSON and logs print alike)
  assert.deepStrictEqual(Reflect.ownKeys(actual), Reflect.ownKeys(expected))
  for (const key of Reflect.ownKeys(expected)) {
    const a = (actual as any)[key]
    const e = (expected as any)[key]
    if (e instanceof Date) assert.instanceOf(a, Date)
    else if (typeof e === "object" && e !== null) assert.deepStrictEqual(a, e, String(key))
    else assert.strictEqual(a, e, String(key))
  }
  if (structurallyEqual) assert.isTrue(Equal.equals(actual, expected))
  assert.isTrue(Schema.is(schema)(actual))
  const encode = Schema.encodeSync(schema as Schema.Schema<A, unknown>)
  assert.deepStrictEqual(encode(actual), encode(expected))
}

const at = new Date(0)
const parts = [new Messages.TextPart({ content: "hi" })]

describe("unvalidated (Schema-class instances without the constructor's work)", () => {
  it("a tagged class: defaults filled in field order after the given props", () => {
    const props = { parts, modelName: "m" }
    const made = unvalidated(Messages.ModelResponse)(props)
    const expected = new Messages.ModelResponse(props, true)
    // the defaults are fresh values (timestamp is `new Date()`): compare all but them
    assert.deepStrictEqual(Reflect.ownKeys(made), Reflect.ownKeys(expected))
    assert.instanceOf(made.timestamp, Date)
    assert.strictEqual(made.state, "complete")
    assert.strictEqual(made.usage, Usage.RequestUsage.empty)
    assert.strictEqual(made._tag, "ModelResponse")
    assert.strictEqual(made.text, "hi") // the class's own getters
    assert.instanceOf(made, Messages.ModelResponse)
  })

  it("a copy of an instance with a field changed (`_tag` given, put where the constructor puts it)", () => {
    const original = new Messages.ModelResponse({ parts, timestamp: at, modelName: "m" }, true)
    const props = { ...original, conversationId: "c" }
    assertSame(
      Messages.ModelResponse,
      unvalidated(Messages.ModelResponse)(props),
      new Messages.ModelResponse(props, true)
    )
  })

  it("a field given as undefined takes its default in place", () => {
    // (a JavaScript caller's object: the type does not allow `undefined` here)
    const props = { parts, timestamp: at, state: undefined } as unknown as { parts: typeof parts }
    const made = unvalidated(Messages.ModelResponse)(props)
    const expected = new Messages.ModelResponse(props, true)
    assertSame(Messages.ModelResponse, made, expected)
    assert.strictEqual(made.state, "complete")
  })

  it("requests, prompt and tool parts", () => {
    const prompt = { content: "hello", timestamp: at }
    assertSame(
      Messages.UserPromptPart,
      unvalidated(Messages.UserPromptPart)(prompt),
      new Messages.UserPromptPart(prompt, true)
    )
    const request = { parts: [new Messages.UserPromptPart(prompt)], timestamp: at, runId: "r" }
    assertSame(
      Messages.ModelRequest,
      unvalidated(Messages.ModelRequest)(request),
      new Messages.ModelRequest(request, true)
    )
    const ret = { toolName: "t", toolCallId: "c", content: { a: 1 }, timestamp: at }
    assertSame(
      Messages.ToolReturnPart,
      unvalidated(Messages.ToolReturnPart)(ret),
      new Messages.ToolReturnPart(ret, true)
    )
  })

  it("an untagged class (usage), with and without every field", () => {
    const sum = { requests: 2, toolCalls: 1, inputTokens: 3, outputTokens: 4, details: { x: 1 } }
    assertSame(Usage.RunUsage, unvalidated(Usage.RunUsage)(sum), new Usage.RunUsage(sum, true))
    assertSame(
      Usage.RequestUsage,
      unvalidated(Usage.RequestUsage)({}),
      new Usage.RequestUsage({}),
      false
    )
  })

  it("copy: `{ ...from, ...changes }` without the intermediate object", () => {
    const from = new Messages.ModelResponse(
      { parts, timestamp: at, modelName: "m", conversationId: "old" },
      true
    )
    const make = unvalidated(Messages.ModelResponse)
    for (const changes of [
      { conversationId: "c" }, // a field `from` has: changed in place
      { runId: "r", state: "interrupted" as const }, // new fields, appended in order
      { _tag: "ModelResponse" as const, modelName: "n" }, // a given `_tag` is skipped
      {}
    ]) {
      assertSame(
        Messages.ModelResponse,
        make.copy(from, changes),
        new Messages.ModelResponse({ ...from, ...changes }, true)
      )
    }
    // a copy of a copy, and of an instance the fast maker made
    const once = make.copy(from, { conversationId: "c" })
    assertSame(
      Messages.ModelResponse,
      make.copy(once, { runId: "r" }),
      new Messages.ModelResponse({ ...once, runId: "r" }, true)
    )
    const fresh = make({ parts, timestamp: at })
    assertSame(
      Messages.ModelResponse,
      make.copy(fresh, { modelName: "x" }),
      new Messages.ModelResponse({ ...fresh, modelName: "x" }, true)
    )
    const usage = new Usage.RunUsage({ requests: 1, inputTokens: 5 }, true)
    assertSame(
      Usage.RunUsage,
      unvalidated(Usage.RunUsage).copy(usage, { toolCalls: 2 }),
      new Usage.RunUsage({ ...usage, toolCalls: 2 }, true),
      false
    )
  })

  it("does not validate (as `true` turns validation off)", () => {
    const bad = { content: 42 as unknown as string }
    assert.strictEqual(unvalidated(Messages.UserPromptPart)(bad).content, 42 as unknown as string)
  })

  it("a class not built on Data.Class keeps its constructor", () => {
    class Plain {
      static readonly fields = {}
      readonly made = true
      constructor(readonly props: { a: number }) {}
    }
    const made = unvalidated(Plain)({ a: 1 })
    assert.instanceOf(made, Plain)
    assert.isTrue(made.made)
    const copied = unvalidated(Plain).copy(made, { a: 2 })
    assert.instanceOf(copied, Plain)
    assert.strictEqual(copied.props.a, 2) // through its own constructor
  })
})
