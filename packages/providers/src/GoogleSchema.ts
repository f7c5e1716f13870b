/**
 * The Gemini JSON-schema transformer. Gemini's `parametersJsonSchema` / `responseJsonSchema`
 * accept most of JSON Schema, but reject or mis-handle a few keywords; this rewrites a schema
 * so Gemini takes it without losing meaning:
 *
 * - `$schema`, `title`, `discriminator`, `examples`, `exclusiveMinimum`/`exclusiveMaximum` are dropped;
 * - `const` becomes a one-value `enum` (with `type` inferred when absent);
 * - a string `format` moves into the description (`"Format: uri"` or `"… (format: uri)"`);
 * - a `$ref` with sibling keywords (a description or default next to a reference) is inlined,
 *   since Gemini ignores siblings of `$ref`; plain references and `$defs` are kept.
 *
 * `inlineDefs` additionally resolves every `$ref` for endpoints that take no references at all
 * (the older `parameters` / `responseSchema` OpenAPI subset).
 *
 * @example
 * ```ts
 * import { GoogleSchema } from "@agentfx/providers"
 * const { schema } = GoogleSchema.transform({ type: "object", title: "T", properties: { k: { const: "a" } } }, {})
 * // { type: "object", properties: { k: { enum: ["a"], type: "string" } } }
 * ```
 *
 * @since 0.1.0
 */
import type { Model, Tool } from "@agentfx/core"

type Json = Record<string, unknown>

const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const DROPPED = [
  "$schema",
  "title",
  "discriminator",
  "examples",
  "exclusiveMinimum",
  "exclusiveMaximum"
]

/** Keywords whose value is a schema. */
const SCHEMA_KEYS = ["items", "additionalProperties", "not", "contains", "propertyNames"]
/** Keywords whose value is an array of schemas. */
const SCHEMA_ARRAY_KEYS = ["anyOf", "oneOf", "allOf", "prefixItems"]
/** Keywords whose value is a map of schemas. */
const SCHEMA_MAP_KEYS = ["properties", "$defs", "definitions", "patternProperties"]

const inferType = (value: unknown): string | undefined =>
  typeof value === "string"
    ? "string"
    : typeof value === "boolean"
      ? "boolean"
      : typeof value === "number"
        ? Number.isInteger(value)
          ? "integer"
          : "number"
        : value === null
          ? "null"
          : Array.isArray(value)
            ? "array"
            : isObject(value)
              ? "object"
              : undefined

const resolveRef = (root: Json, ref: string): Json | undefined => {
  if (!ref.startsWith("#/")) return undefined
  let cur: unknown = root
  for (const raw of ref.slice(2).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~")
    if (!isObject(cur)) return undefined
    cur = cur[key]
  }
  return isObject(cur) ? cur : undefined
}

const walk = (
  node: unknown,
  root: Json,
  inlineAll: boolean,
  seen: ReadonlyArray<string>
): unknown => {
  if (!isObject(node)) return node
  const schema: Json = { ...node }

  const ref = schema.$ref
  if (typeof ref === "string") {
    const siblings = Object.keys(schema).filter((k) => k !== "$ref")
    if ((inlineAll || siblings.length > 0) && !seen.includes(ref)) {
      const target = resolveRef(root, ref)
      if (target !== undefined) {
        const { $ref: _ref, ...rest } = schema
        // Siblings win over the referenced schema (a description on the field, a default…).
        return walk({ ...target, ...rest }, root, inlineAll, [...seen, ref])
      }
    }
  }

  for (const key of DROPPED) delete schema[key]

  if ("const" in schema) {
    const value = schema.const
    delete schema.const
    schema.enum = [value]
    if (schema.type === undefined) {
      const type = inferType(value)
      if (type !== undefined) schema.type = type
    }
  }

  if (schema.type === "string" && typeof schema.format === "string") {
    const format = schema.format
    delete schema.format
    const description = schema.description
    schema.description =
      typeof description === "string" && description !== ""
        ? `${description} (format: ${format})`
        : `Format: ${format}`
  }

  for (const key of SCHEMA_KEYS) {
    if (isObject(schema[key])) schema[key] = walk(schema[key], root, inlineAll, seen)
  }
  for (const key of SCHEMA_ARRAY_KEYS) {
    const value = schema[key]
    if (Array.isArray(value)) schema[key] = value.map((s) => walk(s, root, inlineAll, seen))
  }
  for (const key of SCHEMA_MAP_KEYS) {
    const value = schema[key]
    if (isObject(value)) {
      const out: Json = {}
      for (const name in value) out[name] = walk(value[name], root, inlineAll, seen)
      schema[key] = out
    }
  }
  return schema
}

/**
 * Rewrites a JSON Schema for Gemini's `parametersJsonSchema` / `responseJsonSchema`. Every
 * schema is strict-compatible: Gemini's `VALIDATED` mode enforces the declared schema as is.
 */
export const transform: Model.JsonSchemaTransformer = (schema: Tool.JsonSchema) => ({
  schema: walk(schema, schema, false, []) as Tool.JsonSchema,
  isStrictCompatible: true
})

/**
 * Like `transform`, and also resolves every `$ref` in place and drops `$defs` (recursive
 * references, which cannot be inlined, are left as they are). For endpoints without references.
 */
export const inlineDefs = (schema: Tool.JsonSchema): Tool.JsonSchema => {
  const out = walk(schema, schema, true, []) as Json
  const { $defs: _defs, definitions: _definitions, ...rest } = out
  // Keep the definitions only when a recursive reference still needs them.
  return JSON.stringify(rest).includes('"$ref"') ? out : rest
}
