import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { ModelSettings } from "@agentfx/core"

describe("ModelSettings.merge", () => {
  it("later layers win key by key", () => {
    const merged = ModelSettings.merge(
      { temperature: 0.1, maxTokens: 100, topP: 0.9 },
      { temperature: 0.7 },
      { maxTokens: 5 }
    )
    assert.deepStrictEqual(merged, { temperature: 0.7, maxTokens: 5, topP: 0.9 })
  })

  it("skips undefined layers and returns an empty object for none", () => {
    assert.deepStrictEqual(ModelSettings.merge(undefined, { seed: 1 }, undefined), { seed: 1 })
    assert.deepStrictEqual(ModelSettings.merge(), {})
    assert.deepStrictEqual(ModelSettings.merge(ModelSettings.empty), {})
  })

  it("extraHeaders and extraBody merge one level deeper", () => {
    const merged = ModelSettings.merge(
      { extraHeaders: { a: "1", b: "1" }, extraBody: { x: 1, nested: { keep: true } } },
      { extraHeaders: { b: "2" }, extraBody: { y: 2, nested: { replaced: true } } }
    )
    assert.deepStrictEqual(merged.extraHeaders, { a: "1", b: "2" })
    assert.deepStrictEqual(merged.extraBody, { x: 1, y: 2, nested: { replaced: true } })
    const one = ModelSettings.merge({ extraHeaders: { a: "1" } }, { temperature: 0 })
    assert.deepStrictEqual(one, { extraHeaders: { a: "1" }, temperature: 0 })
  })

  it("does not mutate its inputs", () => {
    const a = { extraHeaders: { a: "1" } }
    const b = { extraHeaders: { b: "2" } }
    ModelSettings.merge(a, b)
    assert.deepStrictEqual(a, { extraHeaders: { a: "1" } })
    assert.deepStrictEqual(b, { extraHeaders: { b: "2" } })
  })

  it("decodes settings and rejects bad values", () => {
    const decode = Schema.decodeUnknownEither(ModelSettings.ModelSettings)
    const ok = decode({
      temperature: 0.5,
      thinking: "high",
      toolChoice: ["a"],
      timeout: "30 seconds"
    })
    assert.strictEqual(ok._tag, "Right")
    assert.strictEqual(decode({ temperature: "hot" })._tag, "Left")
    assert.strictEqual(decode({ thinking: "extreme" })._tag, "Left")
    assert.strictEqual(decode({ timeout: "soon" })._tag, "Left")
    assert.strictEqual(decode({ thinking: { budgetTokens: 1024 } })._tag, "Right")
  })
})
