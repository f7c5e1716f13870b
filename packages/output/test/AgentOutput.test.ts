/** End to end: each output mode driven through `Agent.run` / `Agent.streamOutput` with the test models. */
import { Agent, FunctionModel, Messages, TestModel } from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  NativeOutput,
  Output,
  OutputFunction,
  PromptedOutput,
  TextOutput,
  ToolOutput
} from "@agentfx/output"

class Fruit extends Schema.Class<Fruit>("Fruit")({ name: Schema.String, color: Schema.String }) {}
class Vehicle extends Schema.Class<Vehicle>("Vehicle")({
  name: Schema.String,
  wheels: Schema.Number
}) {}

const retryParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest" ? m.parts.filter((p) => p._tag === "RetryPromptPart") : []
  ) as Array<Messages.RetryPromptPart>

describe("output modes through Agent.run", () => {
  it.effect(
    "ToolOutput: the request offers final_result, a tool call is required, the output is typed",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({ output: ToolOutput.make(Fruit) })
        const result = yield* agent.run("What is a banana?")
        expectTypeOf(result.output).toEqualTypeOf<Fruit>()
        assert.instanceOf(result.output, Fruit)
        assert.deepStrictEqual({ ...result.output }, { name: "banana", color: "yellow" })
        const test = yield* TestModel.TestModel
        const params = (yield* test.lastRequest).parameters
        assert.strictEqual(params.outputMode, "tool")
        assert.isFalse(params.allowTextOutput)
        assert.deepStrictEqual(
          params.outputTools.map((t) => t.name),
          ["final_result"]
        )
      }).pipe(
        Effect.provide(TestModel.layer({ customOutputArgs: { name: "banana", color: "yellow" } }))
      )
  )

  it.effect(
    "ToolOutput: invalid arguments get the exact retry prompt, then UnexpectedModelBehavior",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const agent = Agent.make({ output: ToolOutput.make(Fruit), outputRetries: 1 })
        const error = yield* agent.run("fruit?").pipe(
          Effect.flip,
          Effect.provide(
            FunctionModel.layer(() => {
              calls++
              return FunctionModel.toolCall("final_result", { name: "banana" })
            })
          )
        )
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        assert.strictEqual(calls, 2) // one retry
        const messages = (error as { messages: ReadonlyArray<Messages.ModelMessage> }).messages
        const [retry] = retryParts(messages)
        assert.strictEqual(retry.toolName, "final_result")
        assert.strictEqual(
          retry.modelResponse,
          '1 validation error:\n```json\n[\n  {\n    "loc": [\n      "color"\n    ],\n    "msg": "is missing"\n  }\n]\n```\n\nFix the errors and try again.'
        )
      })
  )

  it.effect("ToolOutput: a retry, then a valid call, succeeds", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: ToolOutput.make(Fruit) })
      const result = yield* agent
        .run("fruit?")
        .pipe(
          Effect.provide(
            FunctionModel.layer((messages) =>
              retryParts(messages).length === 0
                ? FunctionModel.toolCall("final_result", { name: "banana", color: 7 })
                : FunctionModel.toolCall("final_result", { name: "banana", color: "yellow" })
            )
          )
        )
      assert.strictEqual(result.output.color, "yellow")
    })
  )

  it.effect("a union of tool outputs: the called tool picks the member", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: ToolOutput.make([Fruit, Vehicle]) })
      const result = yield* agent.run("What is a Ford Explorer?").pipe(
        Effect.provide(
          FunctionModel.layer((_, info) => {
            assert.deepStrictEqual(
              info.outputTools.map((t) => t.name),
              ["final_result_Fruit", "final_result_Vehicle"]
            )
            return FunctionModel.toolCall("final_result_Vehicle", {
              name: "Ford Explorer",
              wheels: 4
            })
          })
        )
      )
      expectTypeOf(result.output).toEqualTypeOf<Fruit | Vehicle>()
      assert.instanceOf(result.output, Vehicle)
    })
  )

  it.effect("tool outputs plus text: the model may answer with plain text", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        output: Output.union([ToolOutput.make(Fruit), TextOutput.make((t) => t.length)])
      })
      const result = yield* agent.run("hi").pipe(
        Effect.provide(
          FunctionModel.layer((_, info) => {
            assert.isTrue(info.allowTextOutput)
            return FunctionModel.text("four")
          })
        )
      )
      expectTypeOf(result.output).toEqualTypeOf<Fruit | number>()
      assert.strictEqual(result.output, 4)
    })
  )

  it.effect("NativeOutput: the request carries the response format; JSON text decodes", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: NativeOutput.make([Fruit, Vehicle], { strict: true }) })
      const result = yield* agent.run("banana?").pipe(
        Effect.provide(
          FunctionModel.layer((_, info) => {
            assert.strictEqual(info.outputMode, "native")
            assert.isTrue(info.outputObject?.strict)
            assert.deepStrictEqual(
              (info.outputObject!.jsonSchema as any).properties.result.anyOf.map(
                (m: any) => m.title
              ),
              ["Fruit", "Vehicle"]
            )
            return FunctionModel.text(
              '{"result":{"kind":"Fruit","data":{"name":"banana","color":"yellow"}}}'
            )
          })
        )
      )
      assert.instanceOf(result.output, Fruit)
    })
  )

  it.effect("NativeOutput with TestModel: generated JSON from the schema decodes", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: NativeOutput.make(Fruit) })
      const result = yield* agent.run("banana?")
      assert.instanceOf(result.output, Fruit)
      const params = (yield* (yield* TestModel.TestModel).lastRequest).parameters
      assert.strictEqual(params.outputObject?.name, "Fruit")
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect(
    "PromptedOutput: the schema is in the instructions; fenced JSON text decodes; bad text retries",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({
          instructions: "Be brief.",
          output: PromptedOutput.make(Fruit, { template: "Answer as JSON: {schema}" })
        })
        let calls = 0
        const result = yield* agent.run("banana?").pipe(
          Effect.provide(
            FunctionModel.layer((_, info) => {
              calls++
              assert.strictEqual(info.outputMode, "prompted")
              assert.include(info.instructions ?? "", "Be brief.")
              assert.include(
                info.instructions ?? "",
                'Answer as JSON: {"title":"Fruit","type":"object","required":["name","color"]'
              )
              return calls === 1
                ? FunctionModel.text("It is a yellow fruit.")
                : FunctionModel.text('```json\n{"name":"banana","color":"yellow"}\n```')
            })
          )
        )
        assert.strictEqual(calls, 2)
        assert.instanceOf(result.output, Fruit)
        const [retry] = retryParts(result.allMessages())
        assert.isDefined(retry)
        assert.match(retry.modelResponse, /^1 validation error:/)
      })
  )

  it.effect("an output function with services: the agent requires them", () =>
    Effect.gen(function* () {
      class Prices extends Context.Tag("test/Prices")<Prices, (name: string) => number>() {}
      const price = OutputFunction.make({
        name: "price",
        parameters: Schema.Struct({ item: Schema.String }),
        handler: ({ item }) => Effect.map(Prices, (p) => ({ item, price: p(item) }))
      })
      const agent = Agent.make({ output: ToolOutput.make(price) })
      const run = agent.run("how much is a kiwi?")
      expectTypeOf<Effect.Effect.Context<typeof run>>().toEqualTypeOf<
        Prices | import("@agentfx/core").Model.Model
      >()
      const result = yield* run.pipe(
        Effect.provideService(Prices, (name) => name.length),
        Effect.provide(
          FunctionModel.layer(() => FunctionModel.toolCall("final_result", { item: "kiwi" }))
        )
      )
      assert.deepStrictEqual(result.output, { item: "kiwi", price: 4 })
    })
  )
})

describe("streamed structured output", () => {
  it.effect(
    "Agent.streamOutput yields growing validated partials of a streamed output tool, then the final value",
    () =>
      Effect.gen(function* () {
        const Story = Schema.Struct({ title: Schema.String, lines: Schema.Array(Schema.String) })
        const agent = Agent.make({ output: ToolOutput.make(Story) })
        const args = '{"title": "Whales", "lines": ["Big", "Blue"]}'
        const pieces = args.match(/.{1,5}/g)!
        const model = FunctionModel.layer(undefined, {
          stream: () =>
            Stream.fromIterable(
              pieces.map((p, i) =>
                i === 0 ? { 0: { name: "final_result", jsonArgs: p } } : { 0: { jsonArgs: p } }
              )
            ).pipe(Stream.rechunk(1)) // one network read per piece
        })
        const outputs = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            Agent.streamOutput(agent, "a story").pipe(Stream.provideLayer(model))
          )
        )
        assert.isAbove(outputs.length, 2)
        assert.deepStrictEqual(outputs[outputs.length - 1], {
          title: "Whales",
          lines: ["Big", "Blue"]
        })
        // every partial is consistent with the final value
        for (const o of outputs) {
          const v = o as { title?: string; lines?: ReadonlyArray<string> }
          if (v.title !== undefined) assert.isTrue("Whales".startsWith(v.title))
          for (const [i, line] of (v.lines ?? []).entries()) {
            assert.isTrue(["Big", "Blue"][i]!.startsWith(line))
          }
        }
      })
  )

  it.effect("prompted JSON text streams as partial outputs too", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: PromptedOutput.make(Fruit) })
      const text = '{"name": "banana", "color": "yellow"}'
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.fromIterable(text.match(/.{1,4}/g)!).pipe(Stream.rechunk(1))
      })
      const outputs = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          Agent.streamOutput(agent, "fruit").pipe(Stream.provideLayer(model))
        )
      )
      const last = outputs[outputs.length - 1]
      assert.instanceOf(last, Fruit)
      assert.strictEqual(last.color, "yellow")
      assert.isTrue(outputs.some((o) => o.name === "banana" && o.color !== "yellow"))
    })
  )
})
