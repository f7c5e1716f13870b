/**
 * `StructuredDict` (output from a raw JSON Schema) and optional output (`Schema.NullOr(X)`,
 * pydantic-ai's `final_result_NoneType`), driven through `Agent.run` with `FunctionModel`.
 */
import { Agent, FunctionModel, Messages, Model, OutputSpec } from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { NativeOutput, Output, PromptedOutput, StructuredDict, ToolOutput } from "@agentfx/output"
import { Fruit } from "./utils.js"

const personSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/Address" }
  },
  required: ["name"],
  additionalProperties: false,
  $defs: {
    Address: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
  }
}

/** A function model answering with one output tool call, recording the request parameters. */
const answering = (
  seen: Ref.Ref<Array<Model.ModelRequestParameters>>,
  answer: (info: FunctionModel.AgentInfo) => Messages.ModelResponse | string
) =>
  FunctionModel.layer((_messages, info) =>
    Effect.as(
      Ref.update(seen, (xs) => [...xs, info.parameters]),
      answer(info)
    )
  )

describe("StructuredDict", () => {
  it("sends the schema as given ($defs inlined, name as title, description) and decodes any object", () => {
    const Person = StructuredDict.make(personSchema, { name: "Person", description: "A person" })
    const spec = ToolOutput.make(Person)
    const [tool] = spec.toolDefinitions(Model.defaultProfile)
    assert.strictEqual(tool!.name, "final_result")
    assert.strictEqual(tool!.description, "A person")
    assert.deepStrictEqual(tool!.parametersJsonSchema, {
      type: "object",
      properties: {
        name: { type: "string" },
        address: { type: "object", properties: { city: { type: "string" } }, required: ["city"] }
      },
      required: ["name"],
      additionalProperties: false,
      description: "A person"
    })
    const native = NativeOutput.make(Person).outputObject(Model.defaultProfile)
    assert.strictEqual(native!.name, "Person")
    assert.strictEqual(native!.description, "A person")
    assert.deepStrictEqual(native!.jsonSchema, tool!.parametersJsonSchema)
    // The prompted instructions carry the schema too.
    assert.include(PromptedOutput.make(Person).instructions(Model.defaultProfile)!, '"city"')
  })

  it("a top-level $ref is resolved; non-object and recursive schemas are rejected", () => {
    const viaRef = StructuredDict.make({
      $ref: "#/$defs/Thing",
      $defs: { Thing: { type: "object", properties: { id: { type: "integer" } } } }
    })
    assert.deepStrictEqual(
      ToolOutput.make(viaRef).toolDefinitions(Model.defaultProfile)[0]!.parametersJsonSchema,
      { type: "object", properties: { id: { type: "integer" } } }
    )
    assert.throws(
      () => StructuredDict.make({ type: "array", items: { type: "string" } }),
      /must describe an object/
    )
    assert.throws(
      () =>
        StructuredDict.make({
          type: "object",
          properties: { child: { $ref: "#/$defs/Node" } },
          $defs: { Node: { type: "object", properties: { next: { $ref: "#/$defs/Node" } } } }
        }),
      /recursive/
    )
  })

  it.effect("through a run: the tool call's arguments are the output, a JSON object", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<Model.ModelRequestParameters>>([])
      const Person = StructuredDict.make(personSchema, { name: "Person" })
      const agent = Agent.make({
        output: ToolOutput.make(Person),
        model: answering(seen, () =>
          FunctionModel.toolCall("final_result", { name: "Ada", address: { city: "London" } })
        )
      })
      const result = yield* agent.run("Who?")
      expectTypeOf(result.output).toEqualTypeOf<StructuredDict.StructuredDict>()
      assert.deepStrictEqual(result.output, { name: "Ada", address: { city: "London" } })
      // Not an object: a retry prompt, then the corrected answer.
      const calls = yield* Ref.make(0)
      const retried = yield* Agent.make({
        output: ToolOutput.make(Person),
        model: FunctionModel.layer(() =>
          Effect.map(
            Ref.updateAndGet(calls, (n) => n + 1),
            (n) => FunctionModel.toolCall("final_result", n === 1 ? "[1, 2]" : '{"name": "Bo"}')
          )
        )
      }).run("Who?")
      assert.deepStrictEqual(retried.output, { name: "Bo" })
      assert.strictEqual(yield* Ref.get(calls), 2)
    })
  )

  it.effect("in a union of tools it is named after its name: final_result_Person", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<Model.ModelRequestParameters>>([])
      const Person = StructuredDict.make(personSchema, { name: "Person" })
      const agent = Agent.make({
        output: ToolOutput.make([Fruit, Person]),
        model: answering(seen, () => FunctionModel.toolCall("final_result_Person", { name: "Cy" }))
      })
      const result = yield* agent.run("Who?")
      assert.deepStrictEqual(result.output, { name: "Cy" })
      assert.deepStrictEqual(
        (yield* Ref.get(seen))[0]!.outputTools.map((t) => t.name),
        ["final_result_Fruit", "final_result_Person"]
      )
    })
  )

  it.effect("native mode: the model's JSON text is the output", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<Model.ModelRequestParameters>>([])
      const Person = StructuredDict.make(personSchema, { name: "Person" })
      const agent = Agent.make({
        output: NativeOutput.make(Person),
        model: answering(seen, () => '{"name": "Di", "extra": [1]}')
      })
      const result = yield* agent.run("Who?")
      assert.deepStrictEqual(result.output, { name: "Di", extra: [1] })
      assert.strictEqual((yield* Ref.get(seen))[0]!.outputObject?.name, "Person")
    })
  )
})

describe("optional output (None)", () => {
  it.effect(
    "Schema.NullOr(X) in tool mode: final_result_X and final_result_NoneType; calling NoneType gives null",
    () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<Array<Model.ModelRequestParameters>>([])
        const agent = Agent.make({
          output: ToolOutput.make(Schema.NullOr(Fruit)),
          model: answering(seen, () =>
            FunctionModel.toolCall("final_result_NoneType", { response: null })
          )
        })
        const result = yield* agent.run("Any fruit?")
        expectTypeOf(result.output).toEqualTypeOf<Fruit | null>()
        assert.isNull(result.output)
        const [params] = yield* Ref.get(seen)
        assert.deepStrictEqual(
          params!.outputTools.map((t) => t.name),
          ["final_result_Fruit", "final_result_NoneType"]
        )
        assert.isFalse(params!.allowTextOutput)
        const none = params!.outputTools[1]!
        assert.deepStrictEqual(none.parametersJsonSchema, {
          type: "object",
          properties: { response: { type: "null" } },
          required: ["response"],
          additionalProperties: false
        })
        assert.strictEqual(
          none.description,
          "NoneType: The final response which ends this conversation"
        )
        // The other member still produces its value.
        const fruit = yield* Agent.make({
          output: ToolOutput.make(Schema.NullOr(Fruit)),
          model: FunctionModel.layer(() =>
            FunctionModel.toolCall("final_result_Fruit", { name: "kiwi", color: "green" })
          )
        }).run("Any fruit?")
        assert.instanceOf(fruit.output, Fruit)
      })
  )

  it.effect("text or None: Output.union([OutputSpec.text, ToolOutput.make(Schema.Null)])", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<Model.ModelRequestParameters>>([])
      const output = Output.union([OutputSpec.text, ToolOutput.make(Schema.Null)])
      const none = yield* Agent.make({
        output,
        model: answering(seen, () => FunctionModel.toolCall("final_result", { response: null }))
      }).run("Anything to say?")
      expectTypeOf(none.output).toEqualTypeOf<string | null>()
      assert.isNull(none.output)
      const [params] = yield* Ref.get(seen)
      assert.isTrue(params!.allowTextOutput)
      assert.deepStrictEqual(
        params!.outputTools.map((t) => t.name),
        ["final_result"]
      )
      const text = yield* Agent.make({
        output,
        model: FunctionModel.layer(() => "Hello")
      }).run("Anything to say?")
      assert.strictEqual(text.output, "Hello")
    })
  )

  it("a nullable target keeps its name and description on the non-null tool", () => {
    const defs = ToolOutput.make(Schema.NullOr(Fruit), {
      name: "pick_fruit",
      description: "Pick one"
    }).toolDefinitions(Model.defaultProfile)
    assert.deepStrictEqual(
      defs.map((d) => [d.name, d.description]),
      [
        ["pick_fruit", "Pick one"],
        ["final_result_NoneType", "NoneType: The final response which ends this conversation"]
      ]
    )
  })

  it("Output.auto with a nullable target splits the same way in tool mode", () => {
    const spec = Output.auto(Schema.NullOr(Fruit))
    assert.deepStrictEqual(
      spec.toolDefinitions(Model.defaultProfile).map((t) => t.name),
      ["final_result_Fruit", "final_result_NoneType"]
    )
  })
})
