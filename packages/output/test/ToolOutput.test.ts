import { AgentError, Model } from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { OutputFunction, ToolOutput } from "@agentfx/output"
import { attempt, call, Fruit, retryText, Vehicle } from "./utils.js"

const profile = Model.defaultProfile

describe("ToolOutput", () => {
  it("one object schema becomes the final_result tool", () => {
    const spec = ToolOutput.make(Schema.Struct({ city: Schema.String, population: Schema.Number }))
    assert.strictEqual(spec.mode, "tool")
    assert.isFalse(spec.allowTextOutput)
    const [def, ...rest] = spec.toolDefinitions(profile)
    assert.lengthOf(rest, 0)
    assert.strictEqual(def.name, "final_result")
    assert.strictEqual(def.kind, "output")
    assert.strictEqual(def.description, "The final response which ends this conversation")
    assert.deepStrictEqual(def.parametersJsonSchema, {
      type: "object",
      required: ["city", "population"],
      properties: { city: { type: "string" }, population: { type: "number" } },
      additionalProperties: false
    })
    assert.isTrue(spec.isOutputTool("final_result"))
    assert.isFalse(spec.isOutputTool("other"))
  })

  it.effect(
    "a Schema.Class: the top-level $ref is inlined and the output is a class instance",
    () =>
      Effect.gen(function* () {
        const spec = ToolOutput.make(Fruit)
        const js = spec.toolDefinitions(profile)[0].parametersJsonSchema
        assert.strictEqual(js.type, "object")
        assert.isUndefined(js.$ref)
        assert.isUndefined(js.$defs)
        assert.isUndefined(js.title)
        assert.deepStrictEqual(Object.keys(js.properties as object), ["name", "color"])
        const out = yield* spec
          .handleToolCall(call("final_result", '{"name":"banana","color":"yellow"}'), {
            partial: false
          })
          .pipe(attempt)
        const fruit = Either.getOrThrow(out)
        assert.instanceOf(fruit, Fruit)
        assert.deepStrictEqual({ ...fruit }, { name: "banana", color: "yellow" })
      })
  )

  it.effect("non-object schemas are wrapped as { response }", () =>
    Effect.gen(function* () {
      const spec = ToolOutput.make(Schema.Array(Schema.String))
      const js = spec.toolDefinitions(profile)[0].parametersJsonSchema
      assert.deepStrictEqual(js, {
        type: "object",
        required: ["response"],
        properties: { response: { type: "array", items: { type: "string" } } },
        additionalProperties: false
      })
      const out = yield* attempt(
        spec.handleToolCall(call("final_result", { response: ["a", "b"] }), { partial: false })
      )
      assert.deepStrictEqual(Either.getOrThrow(out), ["a", "b"])
    })
  )

  it.effect(
    "several targets: one tool each, named after the type, and the right member decodes",
    () =>
      Effect.gen(function* () {
        const spec = ToolOutput.make([Fruit, Vehicle])
        const defs = spec.toolDefinitions(profile)
        assert.deepStrictEqual(
          defs.map((d) => [d.name, d.description]),
          [
            ["final_result_Fruit", "Fruit: The final response which ends this conversation"],
            ["final_result_Vehicle", "Vehicle: The final response which ends this conversation"]
          ]
        )
        const v = yield* attempt(
          spec.handleToolCall(call("final_result_Vehicle", '{"name":"Ford Explorer","wheels":4}'), {
            partial: false
          })
        )
        assert.instanceOf(Either.getOrThrow(v), Vehicle)
        const f = yield* attempt(
          spec.handleToolCall(call("final_result_Fruit", '{"name":"banana","color":"yellow"}'), {
            partial: false
          })
        )
        assert.instanceOf(Either.getOrThrow(f), Fruit)
        expectTypeOf(spec).toEqualTypeOf<
          import("@agentfx/core").OutputSpec.OutputSpec<Fruit | Vehicle, never>
        >()
      })
  )

  it("names: custom names, clashes get suffixes, descriptions combine", () => {
    const A = Schema.Struct({ a: Schema.String }).annotations({ identifier: "Thing" })
    const B = Schema.Struct({ b: Schema.String }).annotations({
      identifier: "Thing",
      description: "A thing with b"
    })
    const defs = ToolOutput.make([A, B]).toolDefinitions(profile)
    assert.deepStrictEqual(
      defs.map((d) => [d.name, d.description]),
      [
        ["final_result_Thing", "Thing: The final response which ends this conversation"],
        ["final_result_Thing_2", "A thing with b"]
      ]
    )
    const named = ToolOutput.make(B, { name: "return_thing", description: "Return it" })
    const def = named.toolDefinitions(profile)[0]
    assert.strictEqual(def.name, "return_thing")
    assert.strictEqual(def.description, "Return it. A thing with b")
    assert.deepStrictEqual(def.parametersJsonSchema.properties, { b: { type: "string" } })
  })

  it("strict and retries are carried; the profile's transformer is applied", () => {
    const spec = ToolOutput.make(Fruit, { strict: true, retries: 4 })
    assert.strictEqual(spec.maxRetries, 4)
    const seen: Array<unknown> = []
    const p = Model.profile({
      jsonSchemaTransformer: (schema, options) => {
        seen.push(options)
        return { schema: { ...schema, transformed: true }, isStrictCompatible: true }
      }
    })
    const def = spec.toolDefinitions(p)[0]
    assert.isTrue(def.strict)
    assert.strictEqual(def.parametersJsonSchema.transformed, true)
    assert.deepStrictEqual(seen, [{ strict: true }])
    assert.isUndefined(spec.toolDefinitions(profile)[0].parametersJsonSchema.transformed)
  })

  it.effect("invalid arguments fail with a ModelRetry listing the issues", () =>
    Effect.gen(function* () {
      const spec = ToolOutput.make(Fruit)
      const out = yield* attempt(
        spec.handleToolCall(call("final_result", '{"name": 3}'), { partial: false })
      )
      assert.isTrue(Either.isLeft(out))
      const error = (out as Either.Left<any, any>).left
      assert.strictEqual(error._tag, "ModelRetry")
      assert.strictEqual(
        retryText(error, "final_result"),
        [
          "2 validation errors:",
          "```json",
          JSON.stringify(
            [
              { loc: ["name"], msg: "Expected string, actual 3", input: 3 },
              { loc: ["color"], msg: "is missing" }
            ],
            null,
            2
          ),
          "```",
          "",
          "Fix the errors and try again."
        ].join("\n")
      )
      const bad = yield* attempt(
        spec.handleToolCall(call("final_result", "{oops"), { partial: false })
      )
      assert.match((bad as Either.Left<any, any>).left.reason, /^Invalid JSON/)
    })
  )

  it.effect("text is refused: the model must call the tool", () =>
    Effect.gen(function* () {
      const out = yield* attempt(ToolOutput.make(Fruit).handleText("a banana", { partial: false }))
      assert.strictEqual(
        (out as Either.Left<any, any>).left.reason,
        "Please include your response in a tool call."
      )
    })
  )

  it.effect("an unknown tool name is a retry", () =>
    Effect.gen(function* () {
      const out = yield* attempt(
        ToolOutput.make([Fruit, Vehicle]).handleToolCall(call("final_result", "{}"), {
          partial: false
        })
      )
      assert.strictEqual(
        (out as Either.Left<any, any>).left.reason,
        "Unknown tool name: 'final_result'. Available tools: 'final_result_Fruit', 'final_result_Vehicle'"
      )
    })
  )

  it("check: tool output needs a model with tools", () => {
    const spec = ToolOutput.make(Fruit)
    assert.isUndefined(spec.check?.(profile))
    assert.strictEqual(
      spec.check?.(Model.profile({ supportsTools: false }))?.message,
      "Tool output is not supported by this model."
    )
  })

  it.effect(
    "partial: growing argument snapshots decode leniently, failures are swallowed by the caller",
    () =>
      Effect.gen(function* () {
        const Answer = Schema.Struct({
          title: Schema.String.pipe(Schema.minLength(5)),
          tags: Schema.Array(Schema.String),
          score: Schema.Number
        })
        const spec = ToolOutput.make(Answer)
        const full = '{"title": "Hello world", "tags": ["a", "bc"], "score": 12}'
        const results: Array<unknown> = []
        for (let i = 1; i <= full.length; i++) {
          const r = yield* attempt(
            spec.handleToolCall(call("final_result", full.slice(0, i), "id1"), { partial: true })
          )
          if (Either.isRight(r)) results.push(r.right)
        }
        assert.deepStrictEqual(results[0], {})
        assert.deepInclude(results, { title: "He" }) // refinement dropped while partial
        assert.deepInclude(results, { title: "Hello world", tags: ["a", "b"] })
        assert.deepStrictEqual(results[results.length - 1], {
          title: "Hello world",
          tags: ["a", "bc"],
          score: 12
        })
        // a wrongly typed partial does not decode
        const wrong = yield* attempt(
          spec.handleToolCall(call("final_result", '{"score": "x', "id2"), { partial: true })
        )
        assert.isTrue(Either.isLeft(wrong))
        // a full decode still checks everything
        const short = yield* attempt(
          spec.handleToolCall(call("final_result", '{"title": "Hi", "tags": [], "score": 1}'), {
            partial: false
          })
        )
        assert.isTrue(Either.isLeft(short))
      })
  )

  it.effect("partial: a Schema.Class snapshot is an instance with the fields read so far", () =>
    Effect.gen(function* () {
      const spec = ToolOutput.make(Fruit)
      const r = yield* attempt(
        spec.handleToolCall(call("final_result", '{"name": "ban'), { partial: true })
      )
      const fruit = Either.getOrThrow(r)
      assert.instanceOf(fruit, Fruit)
      assert.strictEqual(fruit.name, "ban")
      assert.isUndefined((fruit as Partial<Fruit>).color)
    })
  )

  it.effect("an output function as a tool: its result is the output", () =>
    Effect.gen(function* () {
      const total = OutputFunction.make({
        name: "sum",
        description: "Add the numbers",
        parameters: Schema.Struct({ xs: Schema.Array(Schema.Number) }),
        handler: ({ xs }) => Effect.succeed(xs.reduce((a, b) => a + b, 0))
      })
      const spec = ToolOutput.make(total)
      expectTypeOf(spec).toEqualTypeOf<
        import("@agentfx/core").OutputSpec.OutputSpec<number, never>
      >()
      const def = spec.toolDefinitions(profile)[0]
      assert.strictEqual(def.name, "final_result")
      assert.strictEqual(def.description, "Add the numbers")
      const out = yield* attempt(
        spec.handleToolCall(call("final_result", '{"xs":[1,2,3]}'), { partial: false })
      )
      assert.strictEqual(Either.getOrThrow(out), 6)
      assert.strictEqual(
        ToolOutput.make([total, Fruit]).toolDefinitions(profile)[0].name,
        "final_result_sum"
      )
    })
  )
})

describe("ToolOutput.make with a schema that has no JSON Schema", () => {
  it("throws a UserError naming the field and what to annotate", () => {
    let error: unknown
    try {
      ToolOutput.make(Schema.Struct({ when: Schema.DateFromSelf }))
    } catch (e) {
      error = e
    }
    assert.instanceOf(error, AgentError.UserError)
    assert.match(
      (error as AgentError.UserError).message,
      /^Output schema: field "when" has no JSON Schema, so the model cannot be told its type\. Annotate the schema \(DateFromSelf\)/
    )
  })
})
