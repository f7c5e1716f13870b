import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Tool } from "@agentfx/core"

const add = Tool.make("add", {
  description: "Add two numbers",
  parameters: Schema.Struct({
    a: Schema.Number.annotations({ description: "first" }),
    b: Schema.Number
  }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

describe("Tool.make", () => {
  it("builds a definition with the JSON Schema of the parameters", () => {
    const d = add.definition
    assert.strictEqual(d.name, "add")
    assert.strictEqual(d.description, "Add two numbers")
    assert.strictEqual(d.kind, "function")
    assert.isFalse(d.sequential)
    assert.isUndefined(d.parametersJsonSchema.$schema)
    assert.deepStrictEqual(d.parametersJsonSchema, {
      type: "object",
      required: ["a", "b"],
      properties: { a: { type: "number", description: "first" }, b: { type: "number" } },
      additionalProperties: false
    })
  })

  it("takes the description from the schema annotation", () => {
    const t = Tool.make("t", {
      parameters: Schema.Struct({ x: Schema.String }).annotations({ description: "Does t" }),
      handler: () => Effect.void,
      strict: true,
      sequential: true
    })
    assert.strictEqual(t.definition.description, "Does t")
    assert.isTrue(t.definition.strict)
    assert.isTrue(t.definition.sequential)
  })

  it.effect("decodes arguments from JSON strings and objects", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* add.decodeArgs('{"a":1,"b":2}'), { a: 1, b: 2 })
      assert.deepStrictEqual(yield* add.decodeArgs({ a: 1, b: 2, extra: true }), { a: 1, b: 2 })
      const r = yield* add.handler(yield* add.decodeArgs({ a: 1, b: 2 }))
      assert.strictEqual(r, 3)
      const empty = Tool.make("none", { parameters: Schema.Struct({}), handler: () => Effect.void })
      assert.deepStrictEqual(yield* empty.decodeArgs(""), {})
    })
  )

  it.effect("bad arguments become a ModelRetry with issues for the model", () =>
    Effect.gen(function* () {
      const retry = yield* Effect.flip(add.decodeArgs({ a: "one" }))
      assert.strictEqual(retry._tag, "ModelRetry")
      const issues = retry.issues ?? []
      assert.deepStrictEqual(
        issues.map((i) => i.path),
        [["a"], ["b"]]
      )
      assert.strictEqual(issues[0]!.input, "one")
      const badJson = yield* Effect.flip(add.decodeArgs("{not json"))
      assert.include(badJson.reason, "Invalid JSON")
      assert.strictEqual(badJson.issues?.[0]?.input, "{not json")
    })
  )

  it.effect("fromJsonSchema passes raw arguments through", () =>
    Effect.gen(function* () {
      const schema = { type: "object", properties: { q: { type: "string" } } }
      const raw = Tool.fromJsonSchema("search", {
        description: "Search",
        jsonSchema: schema,
        handler: (args) => Effect.succeed(args)
      })
      assert.deepStrictEqual(raw.definition.parametersJsonSchema, schema)
      assert.deepStrictEqual(yield* raw.decodeArgs('{"q":"x","n":1}'), { q: "x", n: 1 })
    })
  )

  it("jsonSchema keeps $defs at the root for classes", () => {
    class Point extends Schema.Class<Point>("Point")({ x: Schema.Number }) {}
    const js = Tool.jsonSchema(Schema.Struct({ p: Point }))
    assert.deepStrictEqual((js.properties as any).p, { $ref: "#/$defs/Point" })
    assert.isDefined((js.$defs as any).Point)
  })
})
