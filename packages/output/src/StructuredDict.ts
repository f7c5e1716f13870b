/**
 * Output from a raw JSON Schema (pydantic-ai's `StructuredDict`): when the shape of the output
 * is only known as a JSON Schema (from a config file, a database, another service), `make`
 * turns it into a target every structured mode takes (`ToolOutput`, `NativeOutput`,
 * `PromptedOutput`, `Output.auto`, unions). The schema is sent to the model as it is given
 * (local `$defs` references inlined, `name` as its `title`, `description` added); the output is
 * the JSON object the model produced, decoded as a record and not checked against the schema
 * beyond being an object (as in pydantic-ai). Add `Output.withValidator` to check more.
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { StructuredDict, ToolOutput } from "@agentfx/output"
 *
 * const Person = StructuredDict.make(
 *   {
 *     type: "object",
 *     properties: { name: { type: "string" }, age: { type: "integer" } },
 *     required: ["name", "age"]
 *   },
 *   { name: "Person", description: "A person" }
 * )
 * const agent = Agent.make({ output: ToolOutput.make(Person) })
 * // result.output: { readonly [key: string]: unknown }, e.g. { name: "Ada", age: 36 }
 * ```
 *
 * @since 0.1.0
 */
import { UserError } from "@agentfx/core/AgentError"
import * as Schema from "effect/Schema"

/** A JSON Schema, as plain JSON. */
export type JsonSchema = Record<string, unknown>

/** The output of a `StructuredDict`: a JSON object. */
export type StructuredDict = { readonly [key: string]: unknown }

/** Options of `make`. */
export interface Options {
  /** The schema's `title`; names the output (`final_result_{name}` in a union of tools). */
  readonly name?: string
  /** The schema's `description`; also the output tool's description. */
  readonly description?: string
}

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const DEFS = "#/$defs/"

/**
 * The schema with every local `#/$defs/…` reference replaced by its definition (siblings of
 * the `$ref` kept) and `$defs` removed. A recursive reference cannot be inlined: `UserError`.
 */
const inlineDefs = (schema: JsonSchema): JsonSchema => {
  const defs = isObject(schema.$defs) ? schema.$defs : {}
  const walk = (node: unknown, stack: ReadonlyArray<string>): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, stack))
    if (!isObject(node)) return node
    const ref = node.$ref
    if (typeof ref === "string" && ref.startsWith(DEFS)) {
      const name = ref.slice(DEFS.length)
      const target = defs[name]
      if (!isObject(target)) {
        throw new UserError({
          reason: `StructuredDict: the JSON schema refers to an unknown definition '${ref}'.`
        })
      }
      if (stack.includes(name)) {
        throw new UserError({
          reason: "StructuredDict: recursive `$ref`s in a JSON schema are not supported."
        })
      }
      const { $ref: _, ...siblings } = node
      return walk({ ...target, ...siblings }, [...stack, name])
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) if (k !== "$defs") out[k] = walk(v, stack)
    return out
  }
  return walk(schema, []) as JsonSchema
}

/**
 * A target producing a JSON object described by `jsonSchema`, which must describe an object
 * (`type: "object"`, possibly behind a top-level `$ref`); anything else throws a `UserError`
 * (a programming error, as for the other output constructors).
 */
export const make = (
  jsonSchema: JsonSchema,
  options: Options = {}
): Schema.Schema<StructuredDict> => {
  const inlined = inlineDefs(jsonSchema)
  if (inlined.type !== "object") {
    throw new UserError({
      reason: 'StructuredDict: the JSON schema must describe an object (`"type": "object"`).'
    })
  }
  const raw: JsonSchema = {
    ...inlined,
    ...(options.name !== undefined ? { title: options.name } : {}),
    ...(options.description !== undefined ? { description: options.description } : {})
  }
  return Schema.Record({ key: Schema.String, value: Schema.Unknown }).annotations({
    jsonSchema: raw,
    ...(options.name !== undefined ? { title: options.name } : {}),
    ...(options.description !== undefined ? { description: options.description } : {})
  })
}
