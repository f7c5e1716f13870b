import { Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as OpenAiSchema from "../src/OpenAiSchema.js"

describe("OpenAiSchema.transform", () => {
  it("a closed struct with all fields required is strict-compatible and unchanged", () => {
    const schema = Tool.jsonSchema(Schema.Struct({ city: Schema.String, days: Schema.Number }))
    const out = OpenAiSchema.transform(schema, {})
    assert.isTrue(out.isStrictCompatible)
    assert.deepStrictEqual(out.schema, schema)
  })

  it("optional fields make a schema not strict-compatible unless strict is forced", () => {
    const schema = Tool.jsonSchema(
      Schema.Struct({ city: Schema.String, unit: Schema.optional(Schema.Literal("c", "f")) })
    )
    assert.isFalse(OpenAiSchema.transform(schema, {}).isStrictCompatible)
    const forced = OpenAiSchema.transform(schema, { strict: true })
    const s = forced.schema as any
    assert.deepStrictEqual(s.required, ["city", "unit"])
    assert.strictEqual(s.additionalProperties, false)
    // The optional field became nullable so the model can still leave it out.
    assert.deepStrictEqual(s.properties.unit.anyOf.at(-1), { type: "null" })
    assert.deepStrictEqual(s.properties.city, { type: "string" })
  })

  it("nullable by type array for plain typed optionals", () => {
    const out = OpenAiSchema.transform(
      {
        type: "object",
        properties: { n: { type: "integer", description: "count" } },
        required: []
      },
      { strict: true }
    )
    assert.deepStrictEqual((out.schema as any).properties.n, {
      type: ["integer", "null"],
      description: "count"
    })
  })

  it("open maps (additionalProperties schema) are not strict-compatible; strict closes them", () => {
    const schema = Tool.jsonSchema(
      Schema.Struct({ tags: Schema.Record({ key: Schema.String, value: Schema.Number }) })
    )
    assert.isFalse(OpenAiSchema.transform(schema, {}).isStrictCompatible)
    const forced = OpenAiSchema.transform(schema, { strict: true }).schema as any
    assert.strictEqual(forced.properties.tags.additionalProperties, false)
  })

  it("unsupported keywords and formats: incompatible; strict moves them into the description", () => {
    const schema = {
      type: "object",
      properties: {
        name: { type: "string", minLength: 2, description: "Name" },
        site: { type: "string", format: "uri" },
        when: { type: "string", format: "date-time" }
      },
      required: ["name", "site", "when"],
      additionalProperties: false
    }
    assert.isFalse(OpenAiSchema.transform(schema, {}).isStrictCompatible)
    const out = OpenAiSchema.transform(schema, { strict: true }).schema as any
    assert.deepStrictEqual(out.properties.name, {
      type: "string",
      description: "Name (minLength=2)"
    })
    assert.deepStrictEqual(out.properties.site, { type: "string", description: '(format="uri")' })
    assert.deepStrictEqual(out.properties.when, { type: "string", format: "date-time" })
  })

  it("walks $defs, nested arrays and anyOf; oneOf becomes anyOf in strict mode", () => {
    const schema = {
      type: "object",
      properties: {
        items: { type: "array", items: { $ref: "#/$defs/Item" } },
        v: { oneOf: [{ type: "string" }, { type: "number" }] }
      },
      required: ["items", "v"],
      additionalProperties: false,
      $defs: {
        Item: {
          type: "object",
          properties: { id: { type: "string" }, note: { type: "string" } },
          required: ["id"]
        }
      }
    }
    assert.isFalse(OpenAiSchema.transform(schema, {}).isStrictCompatible)
    const out = OpenAiSchema.transform(schema, { strict: true }).schema as any
    assert.deepStrictEqual(out.$defs.Item.required, ["id", "note"])
    assert.strictEqual(out.$defs.Item.additionalProperties, false)
    assert.deepStrictEqual(out.v, undefined)
    assert.deepStrictEqual(out.properties.v, { anyOf: [{ type: "string" }, { type: "number" }] })
  })

  it("strict: false leaves the schema alone and reports incompatible", () => {
    const schema = { type: "object", properties: {}, additionalProperties: false, required: [] }
    const out = OpenAiSchema.transform(schema, { strict: false })
    assert.strictEqual(out.schema, schema)
    assert.isFalse(out.isStrictCompatible)
  })
})
