/**
 * `Messages.CompactionPart`: a provider's compaction kept in history survives a JSON round trip
 * with every field, and the parts manager emits it whole (one start, one end event).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Messages from "../src/Messages.js"
import * as PartsManager from "../src/PartsManager.js"

const anthropicCompaction = new Messages.CompactionPart({
  content: "Summary: the user said hello.",
  providerName: "anthropic"
})
const openaiCompaction = new Messages.CompactionPart({
  encryptedContent: "gAAAA-opaque",
  id: "cmp_1",
  providerName: "openai",
  providerDetails: { note: "kept" }
})

const history = (part: Messages.CompactionPart): Array<Messages.ModelMessage> => [
  Messages.userPrompt("Hello!"),
  new Messages.ModelResponse({ parts: [part, new Messages.TextPart({ content: "Hi!" })] }),
  Messages.userPrompt("What did I say?")
]

describe("CompactionPart", () => {
  it("is emitted whole by the parts manager", () => {
    const manager = PartsManager.make()
    const start = manager.part("c", openaiCompaction)
    const end = manager.endPart("c")
    assert.strictEqual(start._tag, "PartStartEvent")
    if (start._tag !== "PartStartEvent") return
    assert.strictEqual(start.index, 0)
    assert.deepStrictEqual(start.part, openaiCompaction)
    assert.deepStrictEqual(end?.part, openaiCompaction)
    assert.deepStrictEqual(manager.response({}).parts, [openaiCompaction])
  })

  it("survives a JSON round trip with every field", () => {
    const messages = history(openaiCompaction)
    const back = Effect.runSync(Messages.decodeJson(Messages.encodeJson(messages)))
    const part = (back[1] as Messages.ModelResponse).parts[0]!
    assert.strictEqual(part._tag, "CompactionPart")
    assert.deepStrictEqual(part, openaiCompaction)
    const summary = Effect.runSync(
      Messages.decodeJson(Messages.encodeJson(history(anthropicCompaction)))
    )
    assert.deepStrictEqual((summary[1] as Messages.ModelResponse).parts[0], anthropicCompaction)
  })
})
