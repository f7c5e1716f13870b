import { Model, type OutputSpec } from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { NativeOutput } from "@agentfx/output"
import { attempt, Fruit, Vehicle } from "./utils.js"

const native = Model.profile({ supportsJsonSchemaOutput: true })

describe("NativeOutput", () => {
  it("asks for the provider's response format with the schema", () => {
    const spec = NativeOutput.make(Fruit, { strict: true, description: "A fruit" })
    assert.strictEqual(spec.mode, "native")
    assert.isTrue(spec.allowTextOutput)
    assert.deepStrictEqual(spec.toolDefinitions(native), [])
    assert.isUndefined(spec.instructions(native))
    const def = spec.outputObject(native)!
    assert.strictEqual(def.name, "Fruit")
    assert.strictEqual(def.description, "A fruit")
    assert.isTrue(def.strict)
    assert.deepStrictEqual(def.jsonSchema, {
      type: "object",
      required: ["name", "color"],
      properties: { name: { type: "string" }, color: { type: "string" } },
      additionalProperties: false
    })
  })

  it("fails clearly on a model without JSON-schema output", () => {
    const spec = NativeOutput.make(Fruit)
    assert.isUndefined(spec.check?.(native))
    assert.strictEqual(
      spec.check?.(Model.defaultProfile)?.message,
      "Native structured output is not supported by this model."
    )
  })

  it("applies the profile's schema transformer", () => {
    const p = Model.profile({
      supportsJsonSchemaOutput: true,
      jsonSchemaTransformer: (schema) => ({ schema: { ...schema, x: 1 }, isStrictCompatible: true })
    })
    assert.strictEqual(NativeOutput.make(Fruit).outputObject(p)!.jsonSchema.x, 1)
  })

  it.effect("decodes JSON text, tolerating a markdown fence, and retries on bad JSON", () =>
    Effect.gen(function* () {
      const spec = NativeOutput.make(Fruit)
      const plain = yield* attempt(
        spec.handleText('{"name":"banana","color":"yellow"}', { partial: false })
      )
      assert.instanceOf(Either.getOrThrow(plain), Fruit)
      const fenced = yield* attempt(
        spec.handleText('```json\n{"name":"kiwi","color":"green"}\n```', { partial: false })
      )
      assert.strictEqual((Either.getOrThrow(fenced) as Fruit).name, "kiwi")
      const bad = yield* attempt(spec.handleText('{"name":"kiwi"}', { partial: false }))
      assert.strictEqual((bad as Either.Left<any, any>).left._tag, "ModelRetry")
    })
  )

  it.effect(
    "several schemas: one { result: { kind, data } } schema, and kind picks the member",
    () =>
      Effect.gen(function* () {
        const spec = NativeOutput.make([Fruit, Vehicle])
        expectTypeOf(spec).toEqualTypeOf<OutputSpec.OutputSpec<Fruit | Vehicle, never>>()
        const js = spec.outputObject(native)!.jsonSchema as any
        assert.deepStrictEqual(js.required, ["result"])
        const members = js.properties.result.anyOf
        assert.lengthOf(members, 2)
        assert.deepStrictEqual(
          members.map((m: any) => [m.title, m.properties.kind]),
          [
            ["Fruit", { type: "string", enum: ["Fruit"] }],
            ["Vehicle", { type: "string", enum: ["Vehicle"] }]
          ]
        )
        // shared definitions live at the root
        assert.hasAllKeys(js.$defs, ["Fruit", "Vehicle"])
        const v = yield* attempt(
          spec.handleText(
            '{"result":{"kind":"Vehicle","data":{"name":"Ford Explorer","wheels":4}}}',
            {
              partial: false
            }
          )
        )
        assert.instanceOf(Either.getOrThrow(v), Vehicle)
        const f = yield* attempt(
          spec.handleText('{"result":{"kind":"Fruit","data":{"name":"banana","color":"yellow"}}}', {
            partial: false
          })
        )
        assert.instanceOf(Either.getOrThrow(f), Fruit)
        const wrong = yield* attempt(
          spec.handleText('{"result":{"kind":"Fruit","data":{"name":"Ford","wheels":4}}}', {
            partial: false
          })
        )
        assert.isTrue(Either.isLeft(wrong))
      })
  )

  it.effect("partial: streamed text snapshots decode as they grow", () =>
    Effect.gen(function* () {
      const spec = NativeOutput.make(Schema.Struct({ city: Schema.String, country: Schema.String }))
      const text = '```json\n{"city": "Paris", "country": "France"}\n```'
      const seen: Array<unknown> = []
      for (let i = 1; i <= text.length; i++) {
        const r = yield* attempt(spec.handleText(text.slice(0, i), { partial: true }))
        if (Either.isRight(r)) seen.push(r.right)
      }
      assert.deepInclude(seen, { city: "Par" })
      assert.deepStrictEqual(seen[seen.length - 1], { city: "Paris", country: "France" })
    })
  )
})
