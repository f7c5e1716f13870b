/**
 * Value helpers shared by evaluators and reports: structural equality and short display.
 *
 * @internal
 */
import * as Equal from "effect/Equal"
import { RecordedError } from "../EvalError.js"

/**
 * Deep structural equality: `Equal` values by `Equal.equals`, arrays element-wise, plain
 * objects and class instances field-wise (own enumerable keys), dates by time.
 */
export const deepEqual = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Equal.isEqual(a) && Equal.isEqual(b) && Equal.equals(a, b)) return true
  if (a instanceof Date || b instanceof Date) {
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime()
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  }
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  const rb = b as Record<string, unknown>
  const ra = a as Record<string, unknown>
  return ka.every((k) => Object.hasOwn(rb, k) && deepEqual(ra[k], rb[k]))
}

/** A short text form of a value: strings as they are, the rest as JSON. */
export const display = (value: unknown): string => {
  if (typeof value === "string") return value
  if (value === undefined) return "undefined"
  if (value instanceof RegExp) return String(value)
  try {
    return (
      JSON.stringify(value, (_k, v) =>
        typeof v === "bigint" ? v.toString() : v instanceof RegExp ? String(v) : v
      ) ?? String(value)
    )
  } catch {
    return String(value)
  }
}

/** The message of an error value: `Tag: message`, the message, or its display. */
export const describeError = (
  error: unknown
): { readonly tag: string; readonly message: string } => {
  // An error read back from a saved report keeps the tag it was saved with.
  if (error instanceof RecordedError) return { tag: error.tag, message: error.message }
  const tag =
    typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : error instanceof Error
        ? error.name
        : typeof error
  const message =
    error instanceof Error || (typeof error === "object" && error !== null && "message" in error)
      ? String((error as { message: unknown }).message)
      : display(error)
  return { tag, message }
}
