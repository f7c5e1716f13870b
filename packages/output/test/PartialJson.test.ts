import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { PartialJson } from "@agentfx/output"

/** Deep copy that keeps `-0` and own `__proto__` keys (a snapshot is live). */
const clone = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(clone)
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v)) {
      Object.defineProperty(out, k, {
        value: clone((v as any)[k]),
        enumerable: true,
        writable: true,
        configurable: true
      })
    }
    return out
  }
  return v
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v)

const deepEqual = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a)
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]))
  }
  return false
}

/**
 * Is `snap` a partial view of `final`: strings are prefixes, arrays prefixes, objects hold a
 * subset of the keys, and at most one member (the one being read) differs, itself partially.
 * A number being read may show any number.
 */
const isPartialOf = (snap: unknown, final: unknown): boolean => {
  if (snap === undefined) return true
  if (typeof snap === "string") return typeof final === "string" && final.startsWith(snap)
  if (typeof snap === "number") return typeof final === "number"
  if (Array.isArray(snap)) {
    if (!Array.isArray(final) || snap.length > final.length) return false
    for (let i = 0; i < snap.length - 1; i++) if (!deepEqual(snap[i], final[i])) return false
    return snap.length === 0 || isPartialOf(snap[snap.length - 1], final[snap.length - 1])
  }
  if (isPlainObject(snap)) {
    if (!isPlainObject(final)) return false
    let differing = 0
    for (const k of Object.keys(snap)) {
      if (!Object.hasOwn(final, k)) return false
      if (!deepEqual(snap[k], final[k])) {
        if (++differing > 1 || !isPartialOf(snap[k], final[k])) return false
      }
    }
    return true
  }
  return deepEqual(snap, final)
}

const chunksOf = (text: string, cuts: ReadonlyArray<number>): Array<string> => {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
  const out: Array<string> = []
  let prev = 0
  for (const p of points) {
    out.push(text.slice(prev, p))
    prev = p
  }
  out.push(text.slice(prev))
  return out
}

const feed = (chunks: ReadonlyArray<string>) => {
  const parser = PartialJson.make()
  const snapshots: Array<unknown> = []
  for (const c of chunks) {
    parser.push(c)
    snapshots.push(clone(parser.snapshot()))
  }
  return { parser, snapshots }
}

describe("PartialJson", () => {
  it("property: any split of any JSON text parses to JSON.parse, with consistent partial snapshots", () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(undefined, 2, "\t"),
        fc.array(fc.nat(), { maxLength: 40 }),
        (value, indent, cuts) => {
          const text = JSON.stringify(value, null, indent)
          const expected = JSON.parse(text)
          const { parser, snapshots } = feed(chunksOf(text, cuts))
          assert.isUndefined(parser.error())
          assert.isTrue(deepEqual(parser.snapshot(), expected), `final snapshot of ${text}`)
          assert.isTrue(deepEqual(PartialJson.parse(text), expected), `parse(${text})`)
          for (const s of snapshots) {
            assert.isTrue(isPartialOf(s, expected), `${JSON.stringify(s)} ⊄ ${text}`)
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("property: feeding one character at a time", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        const text = JSON.stringify(value)
        const expected = JSON.parse(text)
        const { parser, snapshots } = feed(text.split(""))
        assert.isTrue(deepEqual(parser.snapshot(), expected))
        for (const s of snapshots) assert.isTrue(isPartialOf(s, expected))
      }),
      { numRuns: 300 }
    )
  })

  it("shows partial strings, hides half-read keys and incomplete literals", () => {
    const p = PartialJson.make()
    assert.isUndefined(p.snapshot())
    p.push('{"na')
    assert.deepStrictEqual(p.snapshot(), {})
    p.push('me": "ban')
    assert.deepStrictEqual(p.snapshot(), { name: "ban" })
    p.push('ana", "ok": tr')
    assert.deepStrictEqual(p.snapshot(), { name: "banana" })
    p.push('ue, "n": [1, 2')
    assert.deepStrictEqual(p.snapshot(), { name: "banana", ok: true, n: [1, 2] })
    p.push("3")
    assert.deepStrictEqual(p.snapshot(), { name: "banana", ok: true, n: [1, 23] })
    p.push(".")
    assert.deepStrictEqual(p.snapshot(), { name: "banana", ok: true, n: [1, 23] })
    p.push("5e-")
    assert.deepStrictEqual(p.snapshot(), { name: "banana", ok: true, n: [1, 23.5] })
    p.push("1]")
    assert.deepStrictEqual(p.snapshot(), { name: "banana", ok: true, n: [1, 2.35] })
    assert.isFalse(p.done())
    p.push(" } ")
    assert.isTrue(p.done())
    assert.isUndefined(p.error())
  })

  it("hides a lone minus sign", () => {
    assert.deepStrictEqual(PartialJson.parse("[-"), [])
    assert.deepStrictEqual(PartialJson.parse("[-1"), [-1])
    assert.strictEqual(PartialJson.parse("-"), undefined)
    assert.strictEqual(PartialJson.parse("  "), undefined)
  })

  it("decodes escapes split anywhere, including surrogate pairs", () => {
    const text = JSON.stringify({ s: 'a"b\\c\n\t\u0001/😀é' }).replace("😀", "\\ud83d\\ude00")
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const { parser } = feed([text.slice(0, i), text.slice(i, j), text.slice(j)])
        assert.deepStrictEqual(parser.snapshot(), { s: 'a"b\\c\n\t\u0001/😀é' })
      }
    }
  })

  it("holds back a lone high surrogate in a partial string", () => {
    const p = PartialJson.make()
    p.push('"x\\ud83d')
    assert.strictEqual(p.snapshot(), "x")
    p.push("\\ude00")
    assert.strictEqual(p.snapshot(), "x😀")
    const raw = PartialJson.make()
    raw.push('"y\ud83d')
    assert.strictEqual(raw.snapshot(), "y")
    raw.push('\ude00"')
    assert.strictEqual(raw.snapshot(), "y😀")
  })

  it("keeps structure of completed subtrees between snapshots", () => {
    const p = PartialJson.make()
    p.push('{"a": {"b": [1]}, "c": "')
    const first = p.snapshot() as any
    const a = first.a
    p.push('xyz"}')
    const second = p.snapshot() as any
    assert.strictEqual(second.a, a) // shared, not copied
    assert.deepStrictEqual(second, { a: { b: [1] }, c: "xyz" })
  })

  it("reports malformed input and keeps what it read", () => {
    const p = PartialJson.make()
    p.push('{"a": 1, "b": x')
    assert.match(p.error() ?? "", /Unexpected character 'x'/)
    assert.deepStrictEqual(p.snapshot(), { a: 1 })
    p.push("2}")
    assert.deepStrictEqual(p.snapshot(), { a: 1 })
    assert.throws(() => PartialJson.parse("[1,]"), SyntaxError)
    assert.throws(() => PartialJson.parse('{"a":1,}'), SyntaxError)
    assert.throws(() => PartialJson.parse("[01]"), SyntaxError)
    assert.throws(() => PartialJson.parse("[1] x"), SyntaxError)
    assert.throws(() => PartialJson.parse("[nul1]"), SyntaxError)
    assert.throws(() => PartialJson.parse('"\\x"'), SyntaxError)
  })

  it("keeps own __proto__ keys as data", () => {
    const v = PartialJson.parse('{"__proto__": {"x": 1}}') as any
    assert.deepStrictEqual(Object.keys(v), ["__proto__"])
    assert.strictEqual(Object.getPrototypeOf(v), Object.prototype)
  })
})
