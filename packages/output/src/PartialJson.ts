/**
 * An incremental parser for JSON that arrives in pieces (streamed tool arguments, streamed
 * JSON text). It keeps its state between deltas, so feeding a document of `n` characters in
 * any number of pieces costs O(n) in total, and a snapshot costs O(1) plus the pending
 * scalar — no re-parse of the buffer on each delta.
 *
 * What a snapshot shows of an incomplete document:
 * - objects and arrays appear as soon as they open, with the members read so far;
 * - a key appears once its value has started (a half-read key is hidden);
 * - a string being read appears as its prefix (a trailing lone high surrogate is held back);
 * - a number being read appears as the value of its longest valid prefix (`12` of `123`,
 *   `1` of `1.` or `1e`), a lone `-` is hidden;
 * - `true`/`false`/`null` appear once complete.
 *
 * Snapshots are live: completed subtrees are never touched again, but the containers on the
 * path being read keep growing after the next `push`. Copy a snapshot (`structuredClone`) to
 * keep it across pushes.
 *
 * Malformed input puts the parser in a failed state (`error` is set, later pushes are
 * ignored); the snapshot keeps what was read before. Unescaped control characters inside
 * strings are tolerated (models emit raw newlines).
 *
 * @example
 * ```ts
 * import { PartialJson } from "@agentfx/output"
 * const parser = PartialJson.make()
 * parser.push('{"name": "ban')
 * parser.snapshot() // { name: "ban" }
 * parser.push('ana", "n": [1, 2')
 * parser.snapshot() // { name: "banana", n: [1, 2] }
 * PartialJson.parse('[1, {"a": tr') // [1, {}]
 * ```
 *
 * @since 0.1.0
 */

/** An incremental JSON parser. */
export interface Parser {
  /** Feeds the next piece of text. Amortized O(delta.length). */
  readonly push: (delta: string) => void
  /** The value read so far (`undefined` before a value has started). Live: see the module doc. */
  readonly snapshot: () => unknown
  /** `true` once a complete top-level value has been read. */
  readonly done: () => boolean
  /** Why parsing stopped, when the input was malformed. */
  readonly error: () => string | undefined
}

// Parser states.
const S_VALUE = 0 // expecting a value
const S_STRING = 1 // inside a string
const S_ESCAPE = 2 // after a backslash in a string
const S_UNICODE = 3 // reading the 4 hex digits of \uXXXX
const S_NUMBER = 4
const S_LITERAL = 5
const S_AFTER_VALUE = 6 // expecting `,` or the closing bracket
const S_KEY = 7 // expecting a key `"` (or `}` right after `{`)
const S_COLON = 8 // expecting `:` after a key
const S_DONE = 9 // top-level value complete; only whitespace allowed
const S_ERROR = 10
const S_ARRAY_FIRST = 11 // right after `[`: a value or `]`

interface Frame {
  readonly isArray: boolean
  readonly value: any
  /** Object: the key whose value is being read. */
  key: string
  /** Array: a pending (incomplete) element was installed at the end by a snapshot. */
  pendingInstalled: boolean
}

const isWs = (c: number) => c === 32 || c === 10 || c === 13 || c === 9

const numberRe = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/

const setKey = (obj: Record<string, unknown>, key: string, value: unknown) => {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
  } else {
    obj[key] = value
  }
}

const hexValue = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

/** The value of the longest valid prefix of a number token, or `undefined`. */
const partialNumber = (token: string): number | undefined => {
  let end = token.length
  while (end > 0) {
    const c = token.charCodeAt(end - 1)
    // strip an incomplete tail: `.`, `e`, `E`, `+`, `-`
    if (c === 46 || c === 101 || c === 69 || c === 43 || c === 45) end--
    else break
  }
  if (end === 0) return undefined
  const n = Number(token.slice(0, end))
  return Number.isNaN(n) ? undefined : n
}

/** Creates an incremental parser. */
export const make = (): Parser => {
  let state = S_VALUE
  let root: unknown
  let hasRoot = false
  const stack: Array<Frame> = []
  let error: string | undefined

  // the scalar being read
  let str = "" // string contents so far (or number token)
  let strIsKey = false
  let unicode = 0
  let unicodeDigits = 0
  let literal = "" // expected literal text
  let literalValue: unknown = null
  let literalPos = 0
  // `{` just opened: `}` is allowed in S_KEY only then
  let first = false

  const fail = (message: string) => {
    state = S_ERROR
    error = message
  }

  /** Places a complete value (scalar or freshly opened container) in its parent. */
  const place = (value: unknown) => {
    const top = stack.length === 0 ? undefined : stack[stack.length - 1]
    if (top === undefined) {
      root = value
      hasRoot = true
    } else if (top.isArray) {
      if (top.pendingInstalled) {
        top.value[top.value.length - 1] = value
        top.pendingInstalled = false
      } else {
        top.value.push(value)
      }
    } else {
      setKey(top.value, top.key, value)
    }
  }

  /** After a value ended: where do we go? */
  const afterValue = () => {
    state = stack.length === 0 ? S_DONE : S_AFTER_VALUE
  }

  const endString = () => {
    if (strIsKey) {
      stack[stack.length - 1].key = str
      state = S_COLON
    } else {
      place(str)
      afterValue()
    }
    str = ""
  }

  const endNumber = (): boolean => {
    if (!numberRe.test(str)) {
      fail(`Invalid number: ${str}`)
      return false
    }
    place(Number(str))
    str = ""
    afterValue()
    return true
  }

  const closeContainer = (isArray: boolean): void => {
    const top = stack[stack.length - 1]
    if (top === undefined || top.isArray !== isArray) {
      fail(`Unexpected '${isArray ? "]" : "}"}'`)
      return
    }
    stack.pop()
    afterValue()
  }

  /** Starts a value at `c`. */
  const startValue = (c: number): void => {
    switch (c) {
      case 34: // "
        state = S_STRING
        strIsKey = false
        str = ""
        return
      case 123: {
        // {
        const obj = {}
        place(obj)
        stack.push({ isArray: false, value: obj, key: "", pendingInstalled: false })
        state = S_KEY
        first = true
        return
      }
      case 91: {
        // [
        const arr: Array<unknown> = []
        place(arr)
        stack.push({ isArray: true, value: arr, key: "", pendingInstalled: false })
        state = S_ARRAY_FIRST
        return
      }
      case 116:
        literal = "true"
        literalValue = true
        break
      case 102:
        literal = "false"
        literalValue = false
        break
      case 110:
        literal = "null"
        literalValue = null
        break
      default:
        if (c === 45 || (c >= 48 && c <= 57)) {
          state = S_NUMBER
          str = String.fromCharCode(c)
          return
        }
        fail(`Unexpected character '${String.fromCharCode(c)}'`)
        return
    }
    state = S_LITERAL
    literalPos = 1
  }

  const push = (delta: string): void => {
    const n = delta.length
    let i = 0
    while (i < n) {
      switch (state) {
        case S_STRING: {
          // fast scan of a run of plain characters
          const start = i
          let c = 0
          while (i < n) {
            c = delta.charCodeAt(i)
            if (c === 34 || c === 92) break
            i++
          }
          if (i > start) str += delta.slice(start, i)
          if (i === n) break
          i++
          if (c === 34) endString()
          else state = S_ESCAPE
          break
        }
        case S_ESCAPE: {
          const c = delta.charCodeAt(i++)
          switch (c) {
            case 110:
              str += "\n"
              break
            case 116:
              str += "\t"
              break
            case 114:
              str += "\r"
              break
            case 98:
              str += "\b"
              break
            case 102:
              str += "\f"
              break
            case 117:
              state = S_UNICODE
              unicode = 0
              unicodeDigits = 0
              continue
            case 34:
            case 92:
            case 47:
              str += String.fromCharCode(c)
              break
            default:
              fail(`Invalid escape '\\${String.fromCharCode(c)}'`)
              continue
          }
          state = S_STRING
          break
        }
        case S_UNICODE: {
          const h = hexValue(delta.charCodeAt(i++))
          if (h < 0) {
            fail("Invalid \\u escape")
            break
          }
          unicode = unicode * 16 + h
          if (++unicodeDigits === 4) {
            // code units are appended one by one: a surrogate pair split in two escapes joins up
            str += String.fromCharCode(unicode)
            state = S_STRING
          }
          break
        }
        case S_NUMBER: {
          const start = i
          let c = 0
          while (i < n) {
            c = delta.charCodeAt(i)
            if ((c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45) {
              i++
            } else break
          }
          if (i > start) str += delta.slice(start, i)
          if (i < n) endNumber()
          break
        }
        case S_LITERAL: {
          const c = delta.charCodeAt(i++)
          if (c !== literal.charCodeAt(literalPos)) {
            fail(`Invalid literal, expected '${literal}'`)
            break
          }
          if (++literalPos === literal.length) {
            place(literalValue)
            afterValue()
          }
          break
        }
        case S_VALUE: {
          const c = delta.charCodeAt(i++)
          if (!isWs(c)) startValue(c)
          break
        }
        case S_ARRAY_FIRST: {
          const c = delta.charCodeAt(i++)
          if (isWs(c)) break
          if (c === 93) closeContainer(true)
          else startValue(c)
          break
        }
        case S_AFTER_VALUE: {
          const c = delta.charCodeAt(i++)
          if (isWs(c)) break
          const top = stack[stack.length - 1]
          if (c === 44) {
            if (top.isArray) state = S_VALUE
            else {
              state = S_KEY
              first = false
            }
          } else if (c === 93 || c === 125) {
            closeContainer(c === 93)
          } else {
            fail(`Unexpected character '${String.fromCharCode(c)}'`)
          }
          break
        }
        case S_KEY: {
          const c = delta.charCodeAt(i++)
          if (isWs(c)) break
          if (c === 34) {
            state = S_STRING
            strIsKey = true
            str = ""
          } else if (c === 125 && first) {
            closeContainer(false)
          } else {
            fail(`Expected a key, got '${String.fromCharCode(c)}'`)
          }
          break
        }
        case S_COLON: {
          const c = delta.charCodeAt(i++)
          if (isWs(c)) break
          if (c === 58) state = S_VALUE
          else fail(`Expected ':', got '${String.fromCharCode(c)}'`)
          break
        }
        case S_DONE: {
          const c = delta.charCodeAt(i++)
          if (!isWs(c)) fail("Unexpected data after the JSON value")
          break
        }
        default:
          // S_ERROR: ignore the rest
          return
      }
    }
  }

  /** The pending scalar's snapshot value, or `undefined` when it shows nothing yet. */
  const pendingScalar = (): unknown => {
    if (state === S_NUMBER) return partialNumber(str)
    if ((state === S_STRING || state === S_ESCAPE || state === S_UNICODE) && !strIsKey) {
      const last = str.charCodeAt(str.length - 1)
      return last >= 0xd800 && last <= 0xdbff ? str.slice(0, -1) : str
    }
    return undefined
  }

  const snapshot = (): unknown => {
    const v = pendingScalar()
    if (v === undefined) return hasRoot ? root : undefined
    const top = stack.length === 0 ? undefined : stack[stack.length - 1]
    if (top === undefined) return v
    if (top.isArray) {
      if (top.pendingInstalled) top.value[top.value.length - 1] = v
      else {
        top.value.push(v)
        top.pendingInstalled = true
      }
    } else {
      setKey(top.value, top.key, v)
    }
    return root
  }

  return {
    push,
    snapshot,
    done: () => state === S_DONE,
    error: () => error
  }
}

/**
 * Parses a complete or truncated JSON text in one go and returns what `make()` would show
 * after reading all of it. A number at the end of the text counts as complete.
 * Throws a `SyntaxError` on malformed (not merely incomplete) input.
 */
export const parse = (text: string): unknown => {
  const parser = make()
  parser.push(text)
  const error = parser.error()
  if (error !== undefined) throw new SyntaxError(error)
  return parser.snapshot()
}
