/**
 * The Anthropic and Bedrock strict JSON Schema transformers (`AnthropicSchema`, `BedrockSchema`):
 * schema in → schema out per keyword family, idempotence, non-strict schemas left alone, the
 * recorded schemas pydantic-ai sent reproduced from their sources, and the encoders applying
 * them to strict tools and native output only. (The recorded cases with strict tools and
 * native output are replayed by `conformance/anthropic.test.ts` / `bedrock.test.ts`.)
 */
import { Model, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as AnthropicSchema from "../src/AnthropicSchema.js"
import * as BedrockSchema from "../src/BedrockSchema.js"
import * as AnthropicWire from "../src/internal/anthropic.js"
import * as BedrockWire from "../src/internal/bedrock.js"
import { loadCase } from "./support/replay.js"

type Json = Record<string, any>

const anthropic = (schema: Json): Json =>
  AnthropicSchema.transform(schema, { strict: true }).schema as Json
const bedrock = (schema: Json): Json =>
  BedrockSchema.transform(schema, { strict: true }).schema as Json

/** A schema using every keyword family, the way Effect's `JSONSchema.make` writes them. */
const rich: Json = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "Order",
  type: "object",
  description: "An order",
  properties: {
    title: { type: "string", title: "Title", minLength: 1, maxLength: 80 },
    code: { type: "string", pattern: "^[A-Z]{3}$" },
    when: { type: "string", format: "date-time" },
    site: { type: "string", format: "uri-reference" },
    quantity: { type: "integer", minimum: 1, maximum: 10, description: "How many" },
    ratio: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1, multipleOf: 0.5 },
    tags: { type: "array", items: { type: "string" }, minItems: 2, maxItems: 5, uniqueItems: true },
    notes: { type: "array", items: { type: "string" }, minItems: 1 },
    extra: { type: "object", additionalProperties: { type: "string" } },
    choice: { oneOf: [{ type: "string" }, { $ref: "#/$defs/Item" }] },
    level: { enum: ["low", "high"], default: "low" }
  },
  required: ["title", "quantity"],
  $defs: {
    Item: {
      type: "object",
      properties: { n: { type: "integer", minimum: 0 } },
      required: ["n"],
      minProperties: 1
    }
  }
}

describe("AnthropicSchema.transform (strict)", () => {
  const out = anthropic(rich)

  it("closes every object and keeps required as given", () => {
    assert.strictEqual(out.additionalProperties, false)
    assert.deepStrictEqual(out.required, ["title", "quantity"])
    assert.strictEqual(out.$defs.Item.additionalProperties, false)
    // An open map is closed (Claude then answers {} for it).
    assert.deepStrictEqual(out.properties.extra, { type: "object", additionalProperties: false })
  })

  it("drops $schema and title keywords, but keeps a property named title", () => {
    assert.isFalse("$schema" in out)
    assert.isFalse("title" in out)
    assert.isTrue("title" in out.properties)
    assert.isFalse("title" in out.properties.title)
  })

  it("moves string constraints into the description, keeping supported formats", () => {
    assert.deepStrictEqual(out.properties.title, {
      type: "string",
      description: "{maxLength: 80, minLength: 1}"
    })
    assert.deepStrictEqual(out.properties.code, {
      type: "string",
      description: "{pattern: ^[A-Z]{3}$}"
    })
    assert.deepStrictEqual(out.properties.when, { type: "string", format: "date-time" })
    assert.deepStrictEqual(out.properties.site, {
      type: "string",
      description: "{format: uri-reference}"
    })
  })

  it("moves numeric bounds after an existing description", () => {
    assert.deepStrictEqual(out.properties.quantity, {
      type: "integer",
      description: "How many\n\n{maximum: 10, minimum: 1}"
    })
    assert.deepStrictEqual(out.properties.ratio, {
      type: "number",
      description: "{exclusiveMaximum: 1, exclusiveMinimum: 0, multipleOf: 0.5}"
    })
  })

  it("keeps minItems 0 or 1 and moves the other array constraints", () => {
    assert.deepStrictEqual(out.properties.tags, {
      type: "array",
      items: { type: "string" },
      description: "{maxItems: 5, minItems: 2, uniqueItems: true}"
    })
    assert.deepStrictEqual(out.properties.notes, {
      type: "array",
      items: { type: "string" },
      minItems: 1
    })
  })

  it("turns oneOf into anyOf, keeps $ref, enum, default and notes unsupported object keywords", () => {
    assert.deepStrictEqual(out.properties.choice, {
      anyOf: [{ type: "string" }, { $ref: "#/$defs/Item" }]
    })
    assert.deepStrictEqual(out.properties.level, { enum: ["low", "high"], default: "low" })
    assert.deepStrictEqual(out.$defs.Item.properties.n, {
      type: "integer",
      description: "{minimum: 0}"
    })
    assert.strictEqual(out.$defs.Item.description, "{minProperties: 1}")
  })

  it("is idempotent and strict-compatible; a non-strict schema is left alone", () => {
    assert.deepStrictEqual(anthropic(out), out)
    assert.isTrue(AnthropicSchema.transform(rich, { strict: true }).isStrictCompatible)
    const loose = AnthropicSchema.transform(rich, {})
    assert.strictEqual(loose.schema, rich)
    assert.isFalse(loose.isStrictCompatible)
    assert.isFalse(AnthropicSchema.transform(rich, { strict: false }).isStrictCompatible)
  })

  it("reproduces the output schemas pydantic-ai sent (recorded)", () => {
    const sent = (id: string) =>
      (loadCase("anthropic", id).interactions[0]!.request.body as Json).output_config.format.schema
    // Decimal: a number, or a string with a pattern (moved into its description).
    const decimal = "^(?!^[-+.]*$)[+-]?0*\\d*\\.?\\d*$"
    assert.deepStrictEqual(
      anthropic({
        title: "Invoice",
        type: "object",
        properties: {
          amount: {
            title: "Amount",
            anyOf: [{ type: "number" }, { type: "string", pattern: decimal }]
          }
        },
        required: ["amount"]
      }),
      sent("models.test_anthropic.test_anthropic_native_output_decimal_strict")
    )
    // Bounds and lengths: recorded from Python floats (1.0), here from JSON numbers (1).
    assert.deepStrictEqual(
      anthropic({
        type: "object",
        properties: {
          confidence: { type: "number", minimum: 0.5, maximum: 1.5 },
          title: { type: "string", minLength: 1 }
        },
        required: ["confidence", "title"]
      }),
      {
        ...sent("models.anthropic.test_output.test_no_tools_profile_default_native_output"),
        properties: {
          confidence: { type: "number", description: "{maximum: 1.5, minimum: 0.5}" },
          title: { type: "string", description: "{minLength: 1}" }
        }
      }
    )
  })
})

describe("BedrockSchema.transform (strict)", () => {
  const out = bedrock(rich)

  it("closes every object, drops $schema and title keywords, keeps a property named title", () => {
    assert.strictEqual(out.additionalProperties, false)
    assert.strictEqual(out.$defs.Item.additionalProperties, false)
    assert.strictEqual(out.properties.extra.additionalProperties, false)
    assert.isFalse("$schema" in out)
    assert.isFalse("title" in out)
    assert.isTrue("title" in out.properties)
    assert.deepStrictEqual(out.required, ["title", "quantity"])
  })

  it("keeps string constraints and formats (Bedrock takes them)", () => {
    assert.deepStrictEqual(out.properties.title, { type: "string", minLength: 1, maxLength: 80 })
    assert.deepStrictEqual(out.properties.code, rich.properties.code)
    assert.deepStrictEqual(out.properties.site, rich.properties.site)
  })

  it("moves numeric bounds into the description, after an existing one in parentheses", () => {
    assert.deepStrictEqual(out.properties.quantity, {
      type: "integer",
      description: "How many (minimum=1, maximum=10)"
    })
    assert.deepStrictEqual(out.properties.ratio, {
      type: "number",
      description: "exclusiveMinimum=0, exclusiveMaximum=1, multipleOf=0.5"
    })
    assert.deepStrictEqual(out.$defs.Item.properties.n, {
      type: "integer",
      description: "minimum=0"
    })
  })

  it("moves maxItems and minItems above 1, keeps minItems 1", () => {
    assert.deepStrictEqual(out.properties.tags, {
      type: "array",
      items: { type: "string" },
      uniqueItems: true,
      description: "maxItems=5, minItems=2"
    })
    assert.deepStrictEqual(out.properties.notes, rich.properties.notes)
  })

  it("is idempotent; a non-strict schema is left alone", () => {
    assert.deepStrictEqual(bedrock(out), out)
    const loose = BedrockSchema.transform(rich, {})
    assert.strictEqual(loose.schema, rich)
    assert.isFalse(loose.isStrictCompatible)
  })
})

describe("the encoders apply the transformers to strict tools and native output only", () => {
  const params = {
    type: "object",
    properties: { n: { type: "integer", maximum: 9 } },
    required: ["n"]
  }
  const tools = [
    new Tool.ToolDefinition({ name: "strict_tool", parametersJsonSchema: params, strict: true }),
    new Tool.ToolDefinition({ name: "loose_tool", parametersJsonSchema: params })
  ]
  const parameters = new Model.ModelRequestParameters({
    functionTools: tools,
    outputMode: "native",
    outputObject: new Model.OutputObjectDefinition({ jsonSchema: params, name: "out" })
  })

  it("Anthropic: the strict tool's input_schema and output_config.format.schema", () => {
    const body = AnthropicWire.encodeRequest([], {}, parameters, {
      modelName: "claude-sonnet-4-5",
      stream: false
    }) as Json
    const expected = {
      type: "object",
      properties: { n: { type: "integer", description: "{maximum: 9}" } },
      required: ["n"],
      additionalProperties: false
    }
    const [strict, loose] = body.tools
    assert.deepStrictEqual(strict.input_schema, expected)
    assert.strictEqual(strict.strict, true)
    assert.deepStrictEqual(loose.input_schema, params)
    assert.isUndefined(loose.strict)
    assert.deepStrictEqual(body.output_config.format.schema, expected)
  })

  it("Anthropic: a model without strict tools gets the schema as it is", () => {
    const body = AnthropicWire.encodeRequest(
      [],
      {},
      new Model.ModelRequestParameters({ functionTools: tools }),
      { modelName: "claude-3-5-haiku-latest", stream: false }
    ) as Json
    assert.deepStrictEqual(body.tools[0].input_schema, params)
    assert.isUndefined(body.tools[0].strict)
  })

  it("Bedrock: the strict tool's inputSchema and the outputConfig schema", () => {
    const body = BedrockWire.encodeRequest([], {}, parameters, {
      modelId: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    }) as Json
    const expected = {
      type: "object",
      properties: { n: { type: "integer", description: "maximum=9" } },
      required: ["n"],
      additionalProperties: false
    }
    const [strict, loose] = body.toolConfig.tools
    assert.deepStrictEqual(strict.toolSpec.inputSchema.json, expected)
    assert.strictEqual(strict.toolSpec.strict, true)
    assert.deepStrictEqual(loose.toolSpec.inputSchema.json, params)
    assert.deepStrictEqual(
      JSON.parse(body.outputConfig.textFormat.structure.jsonSchema.schema),
      expected
    )
  })
})
