/**
 * The SSE byte writer: whatever the text (quotes, backslashes, control characters, non-ASCII,
 * emoji, lone surrogates, large values that grow the buffer), each `data:` line is the JSON of
 * the chunk the object form builds; a taken chunk (a view of the sink's slab) keeps its bytes
 * whatever is written after it.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { deltaTarget, SseSink } from "../src/internal/common.js"

const target = deltaTarget({ type: "text-delta", id: "text-1-0" }, "delta", (delta) => ({
  type: "text-delta",
  id: "text-1-0",
  delta
}))

const lines = (bytes: Uint8Array) =>
  new TextDecoder()
    .decode(bytes)
    .split("\n\n")
    .filter((l) => l !== "")
    .map((l) => {
      assert.isTrue(l.startsWith("data: "), l)
      return JSON.parse(l.slice(6))
    })

describe("SseSink", () => {
  it("writes deltas and values as JSON lines, whatever the characters", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.fullUnicodeString(),
            fc.constantFrom('"', "\\", "\n", "\u0000", "é", "😀", "\ud800")
          ),
          {
            maxLength: 20
          }
        ),
        fc.jsonValue(),
        (deltas, value) => {
          const sink = new SseSink<unknown>()
          for (const d of deltas) sink.delta(target, d)
          sink.push({ type: "data-x", data: value })
          const parsed = lines(sink.take())
          assert.deepStrictEqual(parsed, [
            ...deltas.map((d) => JSON.parse(JSON.stringify(target.make(d)))),
            JSON.parse(JSON.stringify({ type: "data-x", data: value }))
          ])
        }
      )
    )
  })

  it("grows past its buffer and starts empty after a take", () => {
    const sink = new SseSink<unknown>()
    const big = "x".repeat(100_000)
    sink.delta(target, big)
    sink.push({ type: "data-big", data: "é".repeat(50_000) })
    const first = lines(sink.take())
    assert.strictEqual(first[0].delta, big)
    assert.strictEqual(first[1].data, "é".repeat(50_000))
    assert.strictEqual(sink.take().length, 0)
    sink.delta(target, "ok")
    assert.deepStrictEqual(lines(sink.take()), [
      { type: "text-delta", id: "text-1-0", delta: "ok" }
    ])
  })

  it("one chunk of many small events larger than a slab (a fast network read) stays whole", () => {
    // ≈ 80 bytes per event, 5000 events: ≈ 400 KB pending before the take (grown geometrically,
    // not moved at every write; bench/ui.mjs measures the cost)
    const sink = new SseSink<unknown>()
    const deltas = Array.from({ length: 5000 }, (_, i) => `token ${i} of a long answer, ascii only`)
    for (const d of deltas) sink.delta(target, d)
    sink.push({ type: "finish" })
    const parsed = lines(sink.take())
    assert.strictEqual(parsed.length, 5001)
    assert.deepStrictEqual(
      parsed.slice(0, -1).map((c) => c.delta),
      deltas
    )
    assert.deepStrictEqual(parsed[5000], { type: "finish" })
  })

  it("keeps every taken chunk intact while later chunks fill new slabs", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.oneof(fc.string({ maxLength: 40 }), fc.string({ minLength: 3000, maxLength: 9000 })),
            {
              maxLength: 6
            }
          ),
          { minLength: 1, maxLength: 40 }
        ),
        (chunks) => {
          const sink = new SseSink<unknown>()
          const taken: Array<{ bytes: Uint8Array; copy: Uint8Array; deltas: Array<string> }> = []
          for (const deltas of chunks) {
            for (const d of deltas) sink.delta(target, d)
            const bytes = sink.take()
            taken.push({ bytes, copy: bytes.slice(), deltas })
          }
          for (const { bytes, copy, deltas } of taken) {
            assert.deepStrictEqual(bytes, copy)
            assert.deepStrictEqual(
              lines(bytes).map((c) => c.delta),
              deltas
            )
          }
        }
      ),
      { numRuns: 40 }
    )
  })
})
