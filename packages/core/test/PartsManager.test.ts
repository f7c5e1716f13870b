import { assert, describe, it } from "@effect/vitest"
import * as Equal from "effect/Equal"
import * as Schema from "effect/Schema"
import { Messages, PartsManager, Usage } from "@agentfx/core"

/** `actual` is the object the Schema-class constructors make (as PartsManager used to call them). */
const assertSameEvent = (actual: unknown, expected: Messages.PartDeltaEvent) => {
  const event = actual as Messages.PartDeltaEvent
  assert.instanceOf(event, Messages.PartDeltaEvent)
  assert.strictEqual(Object.getPrototypeOf(event.delta), Object.getPrototypeOf(expected.delta))
  // same own keys in the same order (JSON and logs print alike), same values
  assert.deepStrictEqual(Object.keys(event), Object.keys(expected))
  assert.deepStrictEqual(Object.keys(event.delta), Object.keys(expected.delta))
  assert.strictEqual(JSON.stringify(event), JSON.stringify(expected))
  assert.isTrue(Equal.equals(event, expected))
  assert.isTrue(Schema.is(Messages.PartDeltaEvent)(event))
  // and it encodes like the constructed one
  assert.deepStrictEqual(
    Schema.encodeSync(Messages.PartDeltaEvent)(event),
    Schema.encodeSync(Messages.PartDeltaEvent)(expected)
  )
}

describe("PartsManager", () => {
  it("text deltas keyed by vendor id start a part, then grow it", () => {
    const m = PartsManager.make()
    const start = m.textDelta("a", "Hel") as Messages.PartStartEvent
    assert.strictEqual(start._tag, "PartStartEvent")
    assert.strictEqual(start.index, 0)
    assert.strictEqual((start.part as Messages.TextPart).content, "Hel")
    const delta = m.textDelta("a", "lo") as Messages.PartDeltaEvent
    assert.strictEqual(delta._tag, "PartDeltaEvent")
    assert.strictEqual(delta.index, 0)
    assert.strictEqual((delta.delta as Messages.TextPartDelta).contentDelta, "lo")
    // an empty delta on an existing part emits nothing
    assert.isUndefined(m.textDelta("a", ""))
    // another vendor id is another part
    const other = m.textDelta("b", "World") as Messages.PartStartEvent
    assert.strictEqual(other.index, 1)
    assert.deepStrictEqual(
      m.currentParts().map((p) => (p as Messages.TextPart).content),
      ["Hello", "World"]
    )
  })

  it("without a vendor id, text continues the latest text part", () => {
    const m = PartsManager.make()
    m.textDelta(undefined, "a")
    m.textDelta(undefined, "b")
    m.thinkingDelta(undefined, { content: "t" })
    const e = m.textDelta(undefined, "c") as Messages.PartStartEvent
    assert.strictEqual(e._tag, "PartStartEvent")
    assert.strictEqual(e.index, 2)
    assert.deepStrictEqual(
      m.currentParts().map((p) => p._tag),
      ["TextPart", "ThinkingPart", "TextPart"]
    )
  })

  it("thinking deltas accumulate content and signature", () => {
    const m = PartsManager.make()
    m.thinkingDelta("r", { content: "Let me " })
    const d = m.thinkingDelta("r", { content: "think", signature: "ab" }) as Messages.PartDeltaEvent
    const delta = d.delta as Messages.ThinkingPartDelta
    assert.strictEqual(delta.contentDelta, "think")
    assert.strictEqual(delta.signatureDelta, "ab")
    m.thinkingDelta("r", { signature: "cd" })
    assert.isUndefined(m.thinkingDelta("r", { providerName: "anthropic" }))
    const part = m.currentParts()[0] as Messages.ThinkingPart
    assert.strictEqual(part.content, "Let me think")
    assert.strictEqual(part.signature, "abcd")
    assert.strictEqual(part.providerName, "anthropic")
  })

  it("tool-call args are buffered until the name is known", () => {
    const m = PartsManager.make()
    assert.isUndefined(m.toolCallDelta("0", { args: '{"ci', toolCallId: "call_1" }))
    assert.isUndefined(m.toolCallDelta("0", { args: 'ty":' }))
    assert.deepStrictEqual(m.currentParts(), [])
    assert.deepStrictEqual(m.finish(), [])
    const m2 = PartsManager.make()
    m2.toolCallDelta("0", { args: '{"ci', toolCallId: "call_1" })
    const start = m2.toolCallDelta("0", { toolName: "weather" }) as Messages.PartStartEvent
    assert.strictEqual(start._tag, "PartStartEvent")
    const part = start.part as Messages.ToolCallPart
    assert.strictEqual(part.toolName, "weather")
    assert.strictEqual(part.args, '{"ci')
    assert.strictEqual(part.toolCallId, "call_1")
    const delta = m2.toolCallDelta("0", { args: 'ty":"Paris"}' }) as Messages.PartDeltaEvent
    assert.strictEqual((delta.delta as Messages.ToolCallPartDelta).argsDelta, 'ty":"Paris"}')
    const final = m2.currentParts()[0] as Messages.ToolCallPart
    assert.deepStrictEqual(final.argsAsObject(), { city: "Paris" })
  })

  it("a tool call without an id gets a generated one; object args replace", () => {
    const m = PartsManager.make()
    const start = m.toolCallDelta("x", { toolName: "t", args: { a: 1 } }) as Messages.PartStartEvent
    const id = (start.part as Messages.ToolCallPart).toolCallId
    assert.isTrue(id.length > 0)
    m.toolCallDelta("x", { args: { a: 2 } })
    assert.deepStrictEqual((m.currentParts()[0] as Messages.ToolCallPart).args, { a: 2 })
    const other = PartsManager.make().toolCallDelta("y", {
      toolName: "t"
    }) as Messages.PartStartEvent
    assert.notStrictEqual((other.part as Messages.ToolCallPart).toolCallId, id)
  })

  it("endPart ends one part; finish ends the rest in order, once", () => {
    const m = PartsManager.make()
    m.thinkingDelta("think", { content: "t" })
    m.textDelta("text", "hello")
    m.toolCallDelta("tool", { toolName: "a", args: "{}" })
    m.toolCallDelta("nameless", { args: "{}" })
    const end = m.endPart("text") as Messages.PartEndEvent
    assert.strictEqual(end._tag, "PartEndEvent")
    assert.strictEqual(end.index, 1)
    assert.strictEqual((end.part as Messages.TextPart).content, "hello")
    assert.isUndefined(m.endPart("text"))
    assert.isUndefined(m.endPart("unknown"))
    // an ended vendor id starts a new part
    const restarted = m.textDelta("text", "again") as Messages.PartStartEvent
    assert.strictEqual(restarted._tag, "PartStartEvent")
    assert.strictEqual(restarted.index, 4)
    const ends = m.finish()
    assert.deepStrictEqual(
      ends.map((e) => e.index),
      [0, 2, 4]
    )
    assert.deepStrictEqual(m.finish(), [])
  })

  it("whole parts and the final response", () => {
    const m = PartsManager.make()
    m.part("g0", new Messages.ToolCallPart({ toolName: "f", args: { q: 1 }, toolCallId: "id1" }))
    m.textDelta("t", "ok")
    m.info.modelName = "gemini"
    m.info.finishReason = "stop"
    m.info.usage = new Usage.RequestUsage({ inputTokens: 3, outputTokens: 4 })
    const incomplete = m.response()
    assert.strictEqual(incomplete.state, "incomplete")
    const r = m.response({ state: "complete", providerResponseId: "r1" })
    assert.strictEqual(r.state, "complete")
    assert.strictEqual(r.modelName, "gemini")
    assert.strictEqual(r.providerResponseId, "r1")
    assert.strictEqual(r.finishReason, "stop")
    assert.strictEqual(r.usage.totalTokens, 7)
    assert.strictEqual(r.text, "ok")
    assert.strictEqual(r.toolCalls[0]!.toolCallId, "id1")
  })

  it("delta events are the objects their Schema classes construct", () => {
    const m = PartsManager.make()
    m.textDelta("t", "a")
    assertSameEvent(
      m.textDelta("t", "bc"),
      new Messages.PartDeltaEvent({
        index: 0,
        delta: new Messages.TextPartDelta({ contentDelta: "bc" }, true)
      })
    )
    m.thinkingDelta("r", { content: "x" })
    for (const [content, signature] of [
      ["y", undefined],
      [undefined, "sig"],
      ["z", "sig2"]
    ] as const) {
      assertSameEvent(
        m.thinkingDelta("r", { content, signature }),
        new Messages.PartDeltaEvent({
          index: 1,
          delta: new Messages.ThinkingPartDelta(
            {
              ...(content ? { contentDelta: content } : {}),
              ...(signature ? { signatureDelta: signature } : {})
            },
            true
          )
        })
      )
    }
    m.toolCallDelta("c", { toolName: "get", toolCallId: "call_1" })
    for (const d of [
      { args: '{"a"' },
      { toolName: "_weather" },
      { args: { a: 1 }, toolCallId: "call_2" },
      { toolName: "x", args: "", toolCallId: "call_3" }
    ]) {
      assertSameEvent(
        m.toolCallDelta("c", d),
        new Messages.PartDeltaEvent({
          index: 2,
          delta: new Messages.ToolCallPartDelta(
            {
              ...(d.toolName ? { toolNameDelta: d.toolName } : {}),
              ...(d.args !== undefined ? { argsDelta: d.args } : {}),
              ...(d.toolCallId ? { toolCallId: d.toolCallId } : {})
            },
            true
          )
        })
      )
    }
  })
})
