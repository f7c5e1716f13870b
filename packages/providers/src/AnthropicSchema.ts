/**
 * The Anthropic strict JSON Schema transformer: rewrites the schema of a strict tool
 * (`strict: true`) or of native structured output (`output_config.format`, always strict) to
 * the subset Claude's structured outputs accept, as Anthropic's own SDK does before sending.
 *
 * With `strict: true`:
 * - every object gets `additionalProperties: false` (an open map, `additionalProperties: true`
 *   or a schema, is closed: Claude then answers `{}` for it — use a list of pairs instead);
 *   `required` stays as given (Claude takes optional properties);
 * - keywords Claude does not enforce are removed and noted in the description as
 *   `{key: value, …}` (keys sorted): numeric bounds (`minimum`, `maximum`, `exclusiveMinimum`,
 *   `exclusiveMaximum`, `multipleOf`), string `minLength` / `maxLength` / `pattern`, a string
 *   `format` outside the supported ones, array `minItems` above 1, `maxItems`, `uniqueItems`,
 *   and any other keyword outside the supported set;
 * - `oneOf` becomes `anyOf`; `title` and `$schema` are dropped; `$ref` / `$defs`, `enum`,
 *   `const`, `default`, `anyOf`, `allOf` and descriptions are kept.
 *
 * Without `strict: true` the schema is sent as it is, and is not strict-compatible: Anthropic
 * tools are strict only when asked for (pydantic-ai's `AnthropicJsonSchemaTransformer`).
 * The transformation is idempotent.
 *
 * @example
 * ```ts
 * import { AnthropicSchema } from "@agentfx/providers"
 *
 * const { schema } = AnthropicSchema.transform(
 *   { type: "object", properties: { age: { type: "integer", minimum: 0 } }, required: ["age"] },
 *   { strict: true }
 * )
 * // { type: "object", properties: { age: { type: "integer", description: "{minimum: 0}" } },
 * //   required: ["age"], additionalProperties: false }
 * ```
 *
 * @since 0.1.0
 */
import type { Model, Tool } from "@agentfx/core"
import * as OpenAiSchema from "./OpenAiSchema.js"

/** String formats Claude's structured outputs accept: OpenAI strict mode's, and `uri`. */
export const supportedStringFormats: ReadonlyArray<string> = [
  ...OpenAiSchema.strictStringFormats,
  "uri"
]

/** Keywords kept as they are (their sub-schemas transformed). */
const KEPT = new Set([
  "type",
  "description",
  "enum",
  "const",
  "default",
  "anyOf",
  "allOf",
  "$ref",
  "$defs",
  "definitions",
  "properties",
  "required",
  "items",
  "additionalProperties"
])

/** Dropped without a note (names, not constraints). */
const DROPPED = new Set(["title", "$schema"])

type Json = Record<string, unknown>
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** A value in a description note: strings bare, the rest as JSON. */
const noteValue = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v))

/** Appends the removed constraints to a description: `{key: value, …}`, keys sorted. */
export const noteConstraints = (
  description: unknown,
  removed: ReadonlyArray<readonly [string, unknown]>
): string => {
  const note = `{${[...removed]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}: ${noteValue(v)}`)
    .join(", ")}}`
  return typeof description === "string" && description !== "" ? `${description}\n\n${note}` : note
}

const walkMap = (value: unknown): unknown => {
  if (!isObject(value)) return value
  const out: Json = {}
  for (const [k, v] of Object.entries(value)) out[k] = walk(v)
  return out
}

const walk = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(walk)
  if (!isObject(node)) return node
  const out: Json = {}
  const removed: Array<readonly [string, unknown]> = []
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED.has(key)) continue
    if (key === "properties" || key === "$defs" || key === "definitions") {
      out[key] = walkMap(value)
    } else if (key === "oneOf") {
      out.anyOf = walk(value)
    } else if (key === "anyOf" || key === "allOf" || key === "items") {
      out[key] = walk(value)
    } else if (key === "additionalProperties") {
      // Closed below for objects; kept false, never open.
    } else if (key === "format") {
      if (typeof value === "string" && supportedStringFormats.includes(value)) out[key] = value
      else removed.push([key, value])
    } else if (key === "minItems") {
      if (typeof value === "number" && value <= 1) out[key] = value
      else removed.push([key, value])
    } else if (KEPT.has(key)) {
      out[key] = value
    } else {
      removed.push([key, value])
    }
  }
  const type = out.type
  const isObjectType =
    type === "object" ||
    (Array.isArray(type) && type.includes("object")) ||
    (type === undefined && isObject(out.properties))
  if (isObjectType) out.additionalProperties = false
  if (removed.length > 0) out.description = noteConstraints(out.description, removed)
  return out
}

/** Rewrites a JSON Schema for Anthropic's strict mode (see the module doc). */
export const transform: Model.JsonSchemaTransformer = (schema, options) =>
  options.strict === true
    ? { schema: walk(schema) as Tool.JsonSchema, isStrictCompatible: true }
    : { schema, isStrictCompatible: false }
