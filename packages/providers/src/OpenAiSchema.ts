/**
 * The OpenAI strict-mode JSON Schema transformer: rewrites tool and output schemas to the
 * subset OpenAI's structured outputs accept and reports whether a schema can be sent with
 * `strict: true`.
 *
 * - `strict: true` (the user asked for it): every object gets `additionalProperties: false`
 *   and all its properties become required; a property that was optional becomes nullable
 *   (`anyOf [..., {type: "null"}]`) so the model can still leave it out by sending `null`.
 *   Keywords strict mode rejects are removed and noted in the description.
 * - `strict` unset: the schema is only checked, not changed. It is strict-compatible when
 *   every object says `additionalProperties: false` and lists all its properties as required,
 *   no unsupported keyword or string format appears, and the root object has at least one
 *   property (as pydantic-ai decides it).
 * - `strict: false`: the schema is sent as is (the result is never strict-compatible).
 *
 * @example
 * ```ts
 * import { OpenAiSchema } from "@agentfx/providers"
 * const { schema, isStrictCompatible } = OpenAiSchema.transform(toolSchema, {})
 * ```
 *
 * @since 0.1.0
 */
import type { Model, Tool } from "@agentfx/core"

/** Keywords OpenAI strict mode rejects (moved into the description when transforming). */
export const strictIncompatibleKeys: ReadonlyArray<string> = [
  "minLength",
  "maxLength",
  "patternProperties",
  "unevaluatedProperties",
  "propertyNames",
  "minProperties",
  "maxProperties",
  "unevaluatedItems",
  "contains",
  "minContains",
  "maxContains",
  "uniqueItems"
]

/** String formats OpenAI strict mode accepts. */
export const strictStringFormats: ReadonlyArray<string> = [
  "date-time",
  "time",
  "date",
  "duration",
  "email",
  "hostname",
  "ipv4",
  "ipv6",
  "uuid"
]

type Json = Record<string, unknown>
const isObject = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const nullable = (schema: Json): Json => {
  const type = schema.type
  if (typeof type === "string" && schema.enum === undefined && schema.const === undefined) {
    return type === "null" ? schema : { ...schema, type: [type, "null"] }
  }
  if (Array.isArray(type) && schema.enum === undefined && schema.const === undefined) {
    return type.includes("null") ? schema : { ...schema, type: [...type, "null"] }
  }
  if (Array.isArray(schema.anyOf)) {
    return schema.anyOf.some((s) => isObject(s) && s.type === "null")
      ? schema
      : { ...schema, anyOf: [...schema.anyOf, { type: "null" }] }
  }
  const { description, ...rest } = schema
  return {
    anyOf: [rest, { type: "null" }],
    ...(description !== undefined ? { description } : {})
  }
}

/** Rewrites a JSON Schema for OpenAI (see the module doc). */
export const transform: Model.JsonSchemaTransformer = (schema, options) => {
  const strict = options.strict
  if (strict === false) return { schema, isStrictCompatible: false }
  let compatible = true

  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk)
    if (!isObject(node)) return node
    const out: Json = {}
    const notes: Array<string> = []
    for (const [key, value] of Object.entries(node)) {
      if (strictIncompatibleKeys.includes(key)) {
        compatible = false
        if (strict === true) {
          notes.push(`${key}=${JSON.stringify(value)}`)
          continue
        }
      }
      if (key === "format" && typeof value === "string" && !strictStringFormats.includes(value)) {
        compatible = false
        if (strict === true) {
          notes.push(`format=${JSON.stringify(value)}`)
          continue
        }
      }
      if (key === "oneOf" && strict === true) {
        out.anyOf = walk(value)
        continue
      }
      if (key === "properties" || key === "$defs" || key === "definitions") {
        if (isObject(value)) {
          const props: Json = {}
          for (const [k, v] of Object.entries(value)) props[k] = walk(v)
          out[key] = props
        } else out[key] = value
        continue
      }
      if (key === "additionalProperties" && isObject(value)) {
        // An open map (`Record`) cannot be strict.
        compatible = false
        out[key] = strict === true ? false : walk(value)
        continue
      }
      if (key === "additionalProperties" && value === true) {
        compatible = false
        out[key] = strict !== true
        continue
      }
      out[key] = walk(value)
    }
    if (notes.length > 0) {
      const d = typeof out.description === "string" ? `${out.description} ` : ""
      out.description = `${d}(${notes.join(", ")})`
    }
    const isObjectType =
      out.type === "object" || (Array.isArray(out.type) && out.type.includes("object"))
    if (isObjectType || isObject(out.properties)) {
      const properties = isObject(out.properties) ? out.properties : {}
      const required = Array.isArray(out.required) ? (out.required as Array<string>) : []
      const keys = Object.keys(properties)
      if (strict === true) {
        const props: Json = {}
        for (const k of keys) {
          props[k] = required.includes(k) ? properties[k] : nullable(properties[k] as Json)
        }
        out.properties = props
        out.required = [
          ...required.filter((k) => keys.includes(k)),
          ...keys.filter((k) => !required.includes(k))
        ]
        out.additionalProperties = false
      } else {
        // Check only: strict mode needs `additionalProperties: false` and every property required.
        if (out.additionalProperties !== false) compatible = false
        if (keys.some((k) => !required.includes(k))) compatible = false
      }
    }
    return out
  }

  const result = walk(schema) as Tool.JsonSchema
  // A tool without parameters is left non-strict when the caller did not ask (pydantic-ai's
  // choice, seen in its recorded traffic: no-argument tools go out with `strict: false`).
  if (strict === undefined && result.type === "object") {
    const properties = result.properties
    if (!isObject(properties) || Object.keys(properties).length === 0) compatible = false
  }
  return { schema: result, isStrictCompatible: compatible }
}
