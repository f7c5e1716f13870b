/**
 * The terminal Markdown renderer: each construct gets its style, plain text passes unchanged,
 * and the output does not depend on how the streamed text was split.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { MarkdownRenderer } from "../src/internal/markdown.js"

const render = (pieces: ReadonlyArray<string>): string => {
  const r = new MarkdownRenderer()
  return pieces.map((p) => r.push(p)).join("") + r.end()
}
const E = "\x1b["

describe("MarkdownRenderer", () => {
  it("styles headings, bold, italic, code, bullets, quotes and code blocks", () => {
    assert.strictEqual(render(["# Title\n"]), `${E}0m${E}1;4mTitle${E}0m\n`)
    assert.strictEqual(render(["a **b** c\n"]), `a ${E}0m${E}1mb${E}0m c\n`)
    assert.strictEqual(render(["an *it* x"]), `an ${E}0m${E}3mit${E}0m x`)
    assert.strictEqual(render(["use `npm i`"]), `use ${E}0m${E}36mnpm i${E}0m`)
    assert.strictEqual(render(["- one\n* two\n"]), "• one\n• two\n")
    assert.strictEqual(render(["> wise\n"]), `${E}0m${E}2m│ wise${E}0m\n`)
    assert.strictEqual(
      render(["```ts\nconst *a* = 1\n```\nafter"]),
      `${E}0m${E}36;2m\`\`\`ts${E}0m\n${E}0m${E}36mconst *a* = 1${E}0m\n${E}0m${E}36;2m\`\`\`${E}0m\nafter`
    )
  })

  it("leaves plain text and lone stars alone", () => {
    assert.strictEqual(render(["Hello, world.\n2 * 3 = 6"]), "Hello, world.\n2 * 3 = 6")
    assert.strictEqual(render(["#hashtag and -dash"]), "#hashtag and -dash")
    assert.strictEqual(render(["ends with *"]), "ends with *")
  })

  it("gives the same output however the text is split", () => {
    const sample =
      "# Weather\n\nIt is **sunny** in *Paris*.\n\n- `celsius`: 21\n- wind: low\n\n> quoted\n```\ncode **here**\n```\n2 * 3"
    const whole = render([sample])
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: sample.length }), { maxLength: 12 }),
        (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b)
          const pieces: Array<string> = []
          let at = 0
          for (const p of points) {
            pieces.push(sample.slice(at, p))
            at = p
          }
          pieces.push(sample.slice(at))
          assert.strictEqual(render(pieces), whole)
        }
      )
    )
    // every character one at a time, as a token-per-delta model streams it
    assert.strictEqual(render([...sample]), whole)
  })
})
