/**
 * Generates minimal, deterministic data that satisfies a JSON Schema, for `TestModel`'s tool
 * arguments and structured output. The algorithm is pydantic-ai's `_JsonSchemaTestData`
 * (order: `const` → `enum[seed % n]` → `examples[seed % n]` → `$ref` → `anyOf`/`oneOf[seed % n]`
 * → by `type`), with fixes so the values decode with the Effect Schema the JSON Schema came from:
 *
 * - `$ref` siblings (Effect writes `{"$ref": "#/$defs/Int", "minimum": 3}`) are merged into
 *   the resolved definition instead of being ignored;
 * - falsy `const` values (`0`, `false`, `""`) are honoured;
 * - strings are cut to `maxLength`; numbers stay inside exclusive bounds and honour
 *   `multipleOf`; a zero-width integer range yields its bound;
 * - draft-07 tuples (`items: [...]`) are treated like `prefixItems`; `allOf` is merged;
 * - string formats `date`, `date-time`, `time`, `uuid`, `email`, `uri`, and Effect's
 *   `Date` / `DateTimeUtc` / `BigInt` string encodings (recognised by their description)
 *   produce parseable strings.
 *
 * @internal
 */

type JsonSchema = { readonly [key: string]: unknown }

const CHARS =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

const MAX_DEPTH = 32

const isObject = (u: unknown): u is JsonSchema =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Generates data for `schema`; `$ref`s resolve against the root's `$defs` (or `definitions`). */
export const generate = (schema: JsonSchema, seed = 0): unknown =>
  new Generator(schema, seed).generate()

class Generator {
  private readonly defs: JsonSchema
  constructor(
    private readonly schema: JsonSchema,
    private seed: number
  ) {
    this.defs = {
      ...(isObject(schema.definitions) ? schema.definitions : {}),
      ...(isObject(schema.$defs) ? schema.$defs : {})
    }
  }

  generate(): unknown {
    return this.any(this.schema, 0)
  }

  private pick<A>(items: ReadonlyArray<A>): A {
    return items[this.seed % items.length]!
  }

  private resolve(ref: string): JsonSchema {
    const key = ref.replace(/^#\/(\$defs|definitions)\//, "")
    const def = this.defs[key]
    if (!isObject(def)) throw new Error(`TestModel: cannot resolve $ref ${ref}`)
    return def
  }

  private any(schema: JsonSchema, depth: number): unknown {
    if (depth > MAX_DEPTH) return null
    if ("const" in schema) return schema.const
    if (Array.isArray(schema.enum) && schema.enum.length > 0) return this.pick(schema.enum)
    if (Array.isArray(schema.examples) && schema.examples.length > 0)
      return this.pick(schema.examples)
    if (typeof schema.$ref === "string") {
      const { $ref, ...siblings } = schema
      return this.any({ ...this.resolve($ref as string), ...siblings }, depth + 1)
    }
    const anyOf = Array.isArray(schema.anyOf)
      ? schema.anyOf
      : Array.isArray(schema.oneOf)
        ? schema.oneOf
        : undefined
    if (anyOf !== undefined && anyOf.length > 0) {
      const { anyOf: _a, oneOf: _o, ...siblings } = schema
      const branch = this.pick(anyOf) as JsonSchema
      // sibling keywords (descriptions, titles) are merged under the branch
      return this.any({ ...stripAnnotations(siblings), ...branch }, depth + 1)
    }
    if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
      const { allOf, ...rest } = schema
      let merged: JsonSchema = rest
      for (const s of allOf as ReadonlyArray<JsonSchema>) {
        const part = typeof s.$ref === "string" ? { ...this.resolve(s.$ref), ...s } : s
        const { $ref: _r, ...clean } = part
        merged = { ...merged, ...clean }
      }
      return this.any(merged, depth + 1)
    }

    let type = schema.type
    if (Array.isArray(type)) type = type.length > 0 ? this.pick(type) : undefined
    if (type === undefined) {
      if (isObject(schema.properties) || schema.additionalProperties !== undefined) type = "object"
      else if (schema.items !== undefined || schema.prefixItems !== undefined) type = "array"
    }
    switch (type) {
      case undefined:
        return this.char()
      case "object":
        return this.object(schema, depth)
      case "string":
        return this.string(schema)
      case "integer":
        return this.number(schema, true)
      case "number":
        return this.number(schema, false)
      case "boolean":
        return this.seed % 2 === 1
      case "array":
        return this.array(schema, depth)
      case "null":
        return null
      default:
        throw new Error(`TestModel: unknown JSON Schema type ${String(type)}`)
    }
  }

  private object(schema: JsonSchema, depth: number): Record<string, unknown> {
    const data: Record<string, unknown> = {}
    const required = Array.isArray(schema.required) ? (schema.required as Array<string>) : []
    if (isObject(schema.properties)) {
      for (const key in schema.properties) {
        if (required.includes(key)) {
          data[key] = this.any(schema.properties[key] as JsonSchema, depth + 1)
        }
      }
    }
    const additional = schema.additionalProperties
    if (additional !== undefined && additional !== false) {
      let key = "additionalProperty"
      while (key in data) key += "_"
      data[key] = additional === true ? this.char() : this.any(additional as JsonSchema, depth + 1)
    }
    return data
  }

  private string(schema: JsonSchema): string {
    const minLength = typeof schema.minLength === "number" ? schema.minLength : undefined
    const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : undefined
    const cut = (s: string) =>
      maxLength !== undefined && s.length > maxLength ? s.slice(0, maxLength) : s
    if (minLength !== undefined) return cut(this.char().repeat(minLength))
    if (maxLength === 0) return ""
    const formatted = this.formatted(schema)
    if (formatted !== undefined) return formatted
    return cut(this.char())
  }

  private formatted(schema: JsonSchema): string | undefined {
    const description = typeof schema.description === "string" ? schema.description : ""
    const day = new Date(Date.UTC(2024, 0, 1 + this.seed))
    switch (schema.format) {
      case "date":
        return day.toISOString().slice(0, 10)
      case "date-time":
        return day.toISOString()
      case "time":
        return "00:00:00Z"
      case "uuid": {
        const hex = this.seed.toString(16).padStart(12, "0").slice(-12)
        return `00000000-0000-4000-8000-${hex}`
      }
      case "email":
        return `${this.letters()}@example.com`
      case "uri":
      case "url":
        return `https://example.com/${this.letters()}`
    }
    // Effect encodes Date / DateTime.Utc / bigint as plain strings described like this.
    if (description.startsWith("a string to be decoded into a Date")) return day.toISOString()
    if (description === "a string to be decoded into a bigint") return String(this.seed)
    return undefined
  }

  private number(schema: JsonSchema, integer: boolean): number {
    const num = (k: string) => (typeof schema[k] === "number" ? (schema[k] as number) : undefined)
    const excMax = num("exclusiveMaximum")
    const excMin = num("exclusiveMinimum")
    let maximum = num("maximum")
    if (maximum === undefined && excMax !== undefined) maximum = excMax - 1
    let minimum = num("minimum")
    if (minimum === undefined && excMin !== undefined) minimum = excMin + 1
    let value: number
    if (minimum !== undefined && maximum !== undefined) {
      value = maximum > minimum ? minimum + (this.seed % (maximum - minimum)) : minimum
    } else if (minimum !== undefined) value = minimum + this.seed
    else if (maximum !== undefined) value = maximum - this.seed
    else value = this.seed

    const multipleOf = num("multipleOf")
    if (multipleOf !== undefined && multipleOf > 0)
      value = Math.ceil(value / multipleOf) * multipleOf
    // pydantic-ai's `±1` for exclusive bounds can cross a tight float range: fall back inside it.
    const lo = num("minimum") ?? excMin
    const hi = num("maximum") ?? excMax
    const ok = (v: number) =>
      (num("minimum") === undefined || v >= num("minimum")!) &&
      (num("maximum") === undefined || v <= num("maximum")!) &&
      (excMin === undefined || v > excMin) &&
      (excMax === undefined || v < excMax)
    if (!ok(value) && lo !== undefined && hi !== undefined) {
      const mid = (lo + hi) / 2
      value = integer ? Math.ceil(mid) : mid
      if (!ok(value) && integer) value = Math.floor(mid)
    }
    return integer ? Math.trunc(value) : value
  }

  private array(schema: JsonSchema, depth: number): Array<unknown> {
    const data: Array<unknown> = []
    const unique = schema.uniqueItems === true
    const prefix = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : []
    for (const item of prefix as ReadonlyArray<JsonSchema>) {
      data.push(this.any(item, depth + 1))
      if (unique) this.seed++
    }
    const items: JsonSchema | undefined = Array.isArray(schema.items)
      ? isObject(schema.additionalItems)
        ? schema.additionalItems
        : undefined
      : isObject(schema.items)
        ? schema.items
        : undefined
    const minItems = typeof schema.minItems === "number" ? schema.minItems : 0
    const maxItems = typeof schema.maxItems === "number" ? schema.maxItems : undefined
    if (minItems > data.length) {
      const more = minItems - data.length
      for (let i = 0; i < more; i++) {
        data.push(this.any(items ?? {}, depth + 1))
        if (unique) this.seed++
      }
    } else if (items !== undefined && Object.keys(items).length > 0 && depth < MAX_DEPTH / 2) {
      if (maxItems === undefined || maxItems > data.length) data.push(this.any(items, depth + 1))
    }
    return data
  }

  /** Letters only, spreadsheet-column style. */
  private letters(): string {
    let n = this.seed
    let s = ""
    do {
      s = String.fromCharCode(97 + (n % 26)) + s
      n = Math.floor(n / 26) - 1
    } while (n >= 0)
    return s
  }

  /** A short string from the seed, like spreadsheet columns over letters, digits, punctuation. */
  private char(): string {
    const n = CHARS.length
    let s = ""
    let rem = Math.floor(this.seed / n)
    while (rem > 0) {
      s += CHARS[(rem - 1) % n]
      rem = Math.floor(rem / n)
    }
    return s + CHARS[this.seed % n]
  }
}

const stripAnnotations = (schema: JsonSchema): JsonSchema => {
  const { title: _t, description: _d, $comment: _c, ...rest } = schema
  return rest
}
