import { AgentError, Model, OutputSpec, RunContext } from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { pipe } from "effect/Function"
import * as Schema from "effect/Schema"
import {
  NativeOutput,
  Output,
  OutputFunction,
  PromptedOutput,
  TextOutput,
  ToolOutput
} from "@agentfx/output"
import { attempt, call, context, Fruit, Vehicle } from "./utils.js"

const profile = Model.defaultProfile

class Rates extends Context.Tag("test/Rates")<Rates, { readonly eurPerUsd: number }>() {}

describe("Output.union", () => {
  it.effect("tool outputs plus text: text is allowed alongside the tools", () =>
    Effect.gen(function* () {
      const spec = Output.union([ToolOutput.make(Fruit), ToolOutput.make(Vehicle), OutputSpec.text])
      expectTypeOf(spec).toEqualTypeOf<OutputSpec.OutputSpec<Fruit | Vehicle | string, never>>()
      assert.strictEqual(spec.mode, "tool")
      assert.isTrue(spec.allowTextOutput)
      assert.deepStrictEqual(
        spec.toolDefinitions(profile).map((d) => d.name),
        ["final_result_Fruit", "final_result_Vehicle"]
      )
      const text = yield* attempt(spec.handleText("just words", { partial: false }))
      assert.strictEqual(Either.getOrThrow(text), "just words")
      const v = yield* attempt(
        spec.handleToolCall(call("final_result_Vehicle", { name: "bike", wheels: 2 }), {
          partial: false
        })
      )
      assert.instanceOf(Either.getOrThrow(v), Vehicle)
    })
  )

  it("keeps custom names; the retry budget is the largest given", () => {
    const spec = Output.union([
      ToolOutput.make(Fruit, { name: "return_fruit", retries: 1 }),
      ToolOutput.make(Vehicle, { name: "return_vehicle", retries: 3 })
    ])
    assert.deepStrictEqual(
      spec.toolDefinitions(profile).map((d) => d.name),
      ["return_fruit", "return_vehicle"]
    )
    assert.strictEqual(spec.maxRetries, 3)
    assert.isFalse(spec.allowTextOutput)
  })

  it("refuses native/prompted members and two text outputs", () => {
    assert.throws(
      () => Output.union([NativeOutput.make(Fruit), ToolOutput.make(Vehicle)]),
      /NativeOutput must be the only output/
    )
    assert.throws(
      () => Output.union([PromptedOutput.make(Fruit)]),
      /PromptedOutput must be the only output/
    )
    assert.throws(
      () => Output.union([OutputSpec.text, TextOutput.make((t) => t.length)]),
      /Only one text output/
    )
  })
})

describe("TextOutput", () => {
  it.effect("plain functions and Effects turn text into the output", () =>
    Effect.gen(function* () {
      const words = TextOutput.make((text) => text.split(" "))
      expectTypeOf(words).toEqualTypeOf<OutputSpec.OutputSpec<Array<string>, never>>()
      assert.strictEqual(words.mode, "text")
      assert.deepStrictEqual(
        Either.getOrThrow(yield* attempt(words.handleText("a b c", { partial: false }))),
        ["a", "b", "c"]
      )
      const upper = TextOutput.make((text) =>
        text === ""
          ? Effect.fail(new AgentError.ModelRetry({ reason: "Say something." }))
          : Effect.map(RunContext.RunContext, (ctx) => `${ctx.runStep}:${text.toUpperCase()}`)
      )
      expectTypeOf(upper).toEqualTypeOf<OutputSpec.OutputSpec<string, RunContext.RunContext>>()
      assert.strictEqual(
        Either.getOrThrow(yield* attempt(upper.handleText("hi", { partial: false }))),
        "1:HI"
      )
      const empty = yield* attempt(upper.handleText("", { partial: false }))
      assert.strictEqual((empty as Either.Left<any, any>).left.reason, "Say something.")
    })
  )
})

describe("OutputFunction", () => {
  const convert = OutputFunction.make({
    name: "convert",
    description: "Convert dollars to euros",
    parameters: Schema.Struct({ usd: Schema.Number }),
    handler: ({ usd }) =>
      Effect.gen(function* () {
        if (usd < 0) return yield* new AgentError.ModelRetry({ reason: "Amounts are positive." })
        const rates = yield* Rates
        const ctx = yield* RunContext.RunContext
        return { eur: usd * rates.eurPerUsd, retry: ctx.retry }
      })
  })

  it.effect("uses services and RunContext; can ask for a retry", () =>
    Effect.gen(function* () {
      const spec = ToolOutput.make(convert)
      expectTypeOf(spec).toEqualTypeOf<
        OutputSpec.OutputSpec<{ eur: number; retry: number }, Rates | RunContext.RunContext>
      >()
      const run = (args: string) =>
        spec
          .handleToolCall(call("final_result", args), { partial: false })
          .pipe(
            Effect.provideService(Rates, { eurPerUsd: 0.5 }),
            Effect.provide(context({ retry: 2 })),
            Effect.either
          )
      assert.deepStrictEqual(Either.getOrThrow(yield* run('{"usd": 10}')), { eur: 5, retry: 2 })
      const neg = yield* run('{"usd": -1}')
      assert.strictEqual((neg as Either.Left<any, any>).left.reason, "Amounts are positive.")
    })
  )

  it.effect("works in native mode too, with a non-object argument wrapped", () =>
    Effect.gen(function* () {
      const count = OutputFunction.make({
        name: "count",
        parameters: Schema.Array(Schema.String),
        handler: (xs) => Effect.succeed(xs.length)
      })
      const spec = NativeOutput.make(count)
      assert.deepStrictEqual(
        (spec.outputObject(Model.profile({ supportsJsonSchemaOutput: true }))!.jsonSchema as any)
          .required,
        ["response"]
      )
      assert.strictEqual(
        Either.getOrThrow(
          yield* attempt(spec.handleText('{"response":["a","b"]}', { partial: false }))
        ),
        2
      )
    })
  )
})

describe("Output.withValidator", () => {
  it.effect("runs after decoding; a ModelRetry goes back to the model; survives a union", () =>
    Effect.gen(function* () {
      const spec = pipe(
        ToolOutput.make(Fruit),
        Output.withValidator((fruit) =>
          fruit.color === "blue"
            ? Output.retry("Fruits are not blue.")
            : Effect.succeed(new Fruit({ name: fruit.name.toUpperCase(), color: fruit.color }))
        )
      )
      const ok = yield* attempt(
        spec.handleToolCall(call("final_result", { name: "kiwi", color: "green" }), {
          partial: false
        })
      )
      assert.strictEqual((Either.getOrThrow(ok) as Fruit).name, "KIWI")
      const blue = yield* attempt(
        spec.handleToolCall(call("final_result", { name: "kiwi", color: "blue" }), {
          partial: false
        })
      )
      assert.strictEqual((blue as Either.Left<any, any>).left.reason, "Fruits are not blue.")
      const union = Output.union([spec, OutputSpec.text])
      const inUnion = yield* attempt(
        union.handleToolCall(call("final_result", { name: "kiwi", color: "blue" }), {
          partial: false
        })
      )
      assert.isTrue(Either.isLeft(inUnion))

      const prompted = Output.withValidator(PromptedOutput.make(Fruit), (f) =>
        f.name === "" ? Output.retry("Name it.") : Effect.succeed(f)
      )
      const unnamed = yield* attempt(
        prompted.handleText('{"name":"","color":"red"}', { partial: false })
      )
      assert.strictEqual((unnamed as Either.Left<any, any>).left.reason, "Name it.")
    })
  )

  it.effect("specs are pipeable: spec.pipe(Output.withValidator(f)), also after a union", () =>
    Effect.gen(function* () {
      const spec = ToolOutput.make(Fruit).pipe(
        Output.withValidator((fruit) =>
          fruit.color === "blue" ? Output.retry("Fruits are not blue.") : Effect.succeed(fruit)
        )
      )
      const blue = yield* attempt(
        spec.handleToolCall(call("final_result", { name: "kiwi", color: "blue" }), {
          partial: false
        })
      )
      assert.strictEqual((blue as Either.Left<any, any>).left.reason, "Fruits are not blue.")
      const piped = Output.union([spec, OutputSpec.text]).pipe(
        Output.withValidator((out) =>
          typeof out === "string" && out === ""
            ? Output.retry("Say something.")
            : Effect.succeed(out)
        )
      )
      const empty = yield* attempt(piped.handleText("", { partial: false }))
      assert.strictEqual((empty as Either.Left<any, any>).left.reason, "Say something.")
    })
  )
})
