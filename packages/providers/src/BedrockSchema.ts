/**
 * The Bedrock strict JSON Schema transformer: rewrites the schema of a strict tool
 * (`toolSpec.strict`) or of native structured output (`outputConfig.textFormat`, always strict)
 * to what Bedrock's structured outputs accept (pydantic-ai's `BedrockJsonSchemaTransformer`:
 * the keys Bedrock answers 400 for under `strict`).
 *
 * With `strict: true`:
 * - every object gets `additionalProperties: false`;
 * - numeric bounds (`minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `multipleOf`)
 *   on numbers and integers, `maxItems` on arrays, and `minItems` above 1 are removed and noted
 *   in the description as `key=value, …` (after the description in parentheses when there is
 *   one); string `minLength` / `maxLength` / `pattern` stay (Bedrock takes them);
 * - `title` and `$schema` are dropped, at every level.
 *
 * Without `strict: true` the schema is sent as it is, and is not strict-compatible: Bedrock
 * tools are strict only when asked for (strict tools count against a per-request limit).
 * The transformation is idempotent.
 *
 * @example
 * ```ts
 * import { BedrockSchema } from "@agentfx/providers"
 *
 * const { schema } = BedrockSchema.transform(
 *   { type: "object", properties: { n: { type: "integer", maximum: 9 } }, required: ["n"] },
 *   { strict: true }
 * )
 * // { type: "object", properties: { n: { type: "integer", description: "maximum=9" } },
 * //   required: ["n"], additionalProperties: false }
 * ```
 *
 * @since 0.1.0
 */
import type { Model, Tool } from "@agentfx/core"

/** The keywords Bedrock rejects under `strict`, by schema type (`minItems` > 1 too). */
export const unsupportedKeys: Readonly<Record<string, ReadonlyArray<string>>> = {
  number: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  integer: ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"],
  array: ["maxItems"]
}

type Json = Record<string, unknown>
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

/** Sub-schema maps: their keys are names (a property called `title` stays). */
const MAPS = new Set(["properties", "$defs", "definitions", "patternProperties"])

const walk = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(walk)
  if (!isObject(node)) return node
  const out: Json = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === "title" || key === "$schema") continue
    if (MAPS.has(key) && isObject(value)) {
      const map: Json = {}
      for (const [k, v] of Object.entries(value)) map[k] = walk(v)
      out[key] = map
    } else if (key === "enum" || key === "const" || key === "default" || key === "examples") {
      out[key] = value
    } else {
      out[key] = walk(value)
    }
  }
  const type = out.type
  if (type === "object") out.additionalProperties = false
  if (typeof type !== "string") return out
  const notes: Array<string> = []
  for (const key of unsupportedKeys[type] ?? []) {
    if (key in out) {
      notes.push(`${key}=${JSON.stringify(out[key])}`)
      delete out[key]
    }
  }
  if (type === "array" && typeof out.minItems === "number" && out.minItems > 1) {
    notes.push(`minItems=${out.minItems}`)
    delete out.minItems
  }
  if (notes.length > 0) {
    const d = out.description
    out.description =
      typeof d === "string" && d !== "" ? `${d} (${notes.join(", ")})` : notes.join(", ")
  }
  return out
}

/** Rewrites a JSON Schema for Bedrock's strict mode (see the module doc). */
export const transform: Model.JsonSchemaTransformer = (schema, options) =>
  options.strict === true
    ? { schema: walk(schema) as Tool.JsonSchema, isStrictCompatible: true }
    : { schema, isStrictCompatible: false }
