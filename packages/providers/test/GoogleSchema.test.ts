import { Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as GoogleSchema from "../src/GoogleSchema.js"

describe("GoogleSchema.transform", () => {
  it("drops keywords Gemini rejects and keeps the rest", () => {
    const { isStrictCompatible, schema } = GoogleSchema.transform(
      {
        $schema: "http://json-schema.org/draft-07/schema#",
        title: "Person",
        type: "object",
        examples: [{ age: 1 }],
        properties: {
          age: { type: "integer", title: "Age", exclusiveMinimum: 0, minimum: 1 },
          kind: { discriminator: { propertyName: "k" }, anyOf: [{ type: "string", title: "A" }] }
        },
        required: ["age"],
        additionalProperties: false
      },
      {}
    )
    assert.deepStrictEqual(schema, {
      type: "object",
      properties: {
        age: { type: "integer", minimum: 1 },
        kind: { anyOf: [{ type: "string" }] }
      },
      required: ["age"],
      additionalProperties: false
    })
    assert.isTrue(isStrictCompatible)
  })

  it("turns const into a one-value enum and infers its type", () => {
    const { schema } = GoogleSchema.transform(
      {
        type: "object",
        properties: {
          s: { const: "cat" },
          i: { const: 3 },
          n: { const: 1.5 },
          b: { const: true },
          typed: { const: "x", type: "string" }
        }
      },
      {}
    )
    assert.deepStrictEqual(schema.properties, {
      s: { enum: ["cat"], type: "string" },
      i: { enum: [3], type: "integer" },
      n: { enum: [1.5], type: "number" },
      b: { enum: [true], type: "boolean" },
      typed: { enum: ["x"], type: "string" }
    })
  })

  it("moves string formats into the description", () => {
    const { schema } = GoogleSchema.transform(
      {
        type: "object",
        properties: {
          homepage: { type: "string", format: "uri", minLength: 1 },
          when: { type: "string", format: "date-time", description: "When it happened" },
          n: { type: "integer", format: "int32" }
        }
      },
      {}
    )
    assert.deepStrictEqual(schema.properties, {
      homepage: { type: "string", description: "Format: uri", minLength: 1 },
      when: { type: "string", description: "When it happened (format: date-time)" },
      n: { type: "integer", format: "int32" }
    })
  })

  it("keeps plain $refs but inlines a $ref with siblings (Gemini ignores siblings of $ref)", () => {
    const input = {
      type: "object",
      $defs: {
        Address: {
          type: "object",
          title: "Address",
          properties: { street: { type: "string" } },
          required: ["street"]
        }
      },
      properties: {
        home: { $ref: "#/$defs/Address" },
        work: { $ref: "#/$defs/Address", description: "Office", default: null }
      }
    }
    const { schema } = GoogleSchema.transform(input, {})
    assert.deepStrictEqual(schema, {
      type: "object",
      $defs: {
        Address: {
          type: "object",
          properties: { street: { type: "string" } },
          required: ["street"]
        }
      },
      properties: {
        home: { $ref: "#/$defs/Address" },
        work: {
          type: "object",
          properties: { street: { type: "string" } },
          required: ["street"],
          description: "Office",
          default: null
        }
      }
    })
    // The input is not mutated.
    assert.strictEqual((input.$defs.Address as any).title, "Address")
  })

  it("inlineDefs resolves every reference and keeps recursive ones", () => {
    const flat = GoogleSchema.inlineDefs({
      type: "object",
      $defs: { P: { type: "string", format: "email" } },
      properties: { a: { $ref: "#/$defs/P" }, b: { type: "array", items: { $ref: "#/$defs/P" } } }
    })
    assert.deepStrictEqual(flat, {
      type: "object",
      properties: {
        a: { type: "string", description: "Format: email" },
        b: { type: "array", items: { type: "string", description: "Format: email" } }
      }
    })
    const tree = GoogleSchema.inlineDefs({
      $defs: {
        Node: {
          type: "object",
          properties: { children: { type: "array", items: { $ref: "#/$defs/Node" } } }
        }
      },
      $ref: "#/$defs/Node"
    })
    assert.deepStrictEqual((tree as any).properties.children.items, { $ref: "#/$defs/Node" })
    assert.isDefined((tree as any).$defs)
  })

  it("produces a schema Gemini takes from an Effect Schema with literals and nested structs", () => {
    const Pet = Schema.Struct({
      kind: Schema.Literal("dog"),
      name: Schema.String.annotations({ title: "Name" }),
      born: Schema.optional(
        Schema.String.annotations({ jsonSchema: { type: "string", format: "date" } })
      )
    })
    const { schema } = GoogleSchema.transform(Tool.jsonSchema(Pet), {})
    const text = JSON.stringify(schema)
    assert.notInclude(text, '"const"')
    assert.notInclude(text, '"title"')
    assert.notInclude(text, '"format"')
    assert.deepStrictEqual((schema as any).properties.kind, { type: "string", enum: ["dog"] })
  })
})
