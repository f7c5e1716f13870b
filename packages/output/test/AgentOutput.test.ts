/** End to end: each output mode driven through `Agent.run` / `agent.streamOutput` with the test models. */
import {
  Agent,
  FunctionModel,
  Messages,
  Model,
  type OutputSpec,
  RunContext,
  TestModel
} from "@agentfx/core"
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
import { Fruit, toolOutputParameters, Vehicle } from "./utils.js"

const retryParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest" ? m.parts.filter((p) => p._tag === "RetryPromptPart") : []
  ) as Array<Messages.RetryPromptPart>

/** Streams a banana as JSON text, 4 characters a chunk, through `output`: every output seen. */
const streamBananaJson = (output: OutputSpec.OutputSpec<Fruit>) =>
  Effect.gen(function* () {
    const agent = Agent.make({ output })
    const text = '{"name": "banana", "color": "yellow"}'
    const model = FunctionModel.layer(undefined, {
      stream: () => Stream.fromIterable(text.match(/.{1,4}/g)!).pipe(Stream.rechunk(1))
    })
    return Chunk.toReadonlyArray(
      yield* Stream.runCollect(agent.streamOutput("fruit").pipe(Stream.provideLayer(model)))
    )
  })

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
        yield* toolOutputParameters
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
    "agent.streamOutput yields growing validated partials of a streamed output tool, then the final value",
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
          yield* Stream.runCollect(agent.streamOutput("a story").pipe(Stream.provideLayer(model)))
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
      const outputs = yield* streamBananaJson(PromptedOutput.make(Fruit))
      const last = outputs[outputs.length - 1]
      assert.instanceOf(last, Fruit)
      assert.strictEqual(last.color, "yellow")
      assert.isTrue(outputs.some((o) => o.name === "banana" && o.color !== "yellow"))
    })
  )
})

describe("per-output-tool retry budgets", () => {
  const bad = { name: 1 }
  const fruit = { name: "banana", color: "yellow" }
  const vehicle = { name: "Ford", wheels: 4 }
  /** A model answering request i with `script[i]` (a call of the named output tool). */
  const scripted = (script: ReadonlyArray<readonly [string, Record<string, unknown>]>) => {
    const calls: Array<string> = []
    const layer = FunctionModel.layer((messages) => {
      const i = messages.filter((m) => m._tag === "ModelResponse").length
      const [name, args] = script[Math.min(i, script.length - 1)]!
      calls.push(name)
      return FunctionModel.toolCall(name, args)
    })
    return { calls, layer }
  }
  const union = Output.union([
    ToolOutput.make(Fruit, { retries: 1 }),
    ToolOutput.make(Vehicle, { retries: 3 })
  ])

  it.effect("the tool with the smaller budget fails after its own retries", () =>
    Effect.gen(function* () {
      const { calls, layer } = scripted([["final_result_Fruit", bad]])
      const error = yield* Agent.make({ output: union })
        .run("?")
        .pipe(Effect.flip, Effect.provide(layer))
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.match(
        (error as { reason: string }).reason,
        /^Tool 'final_result_Fruit' exceeded max retries count of 1: /
      )
      assert.strictEqual(calls.length, 2) // one retry, although the union's global budget is 3
    })
  )

  it.effect("the tool with the larger budget may use it all, then succeed", () =>
    Effect.gen(function* () {
      const { calls, layer } = scripted([
        ["final_result_Vehicle", bad],
        ["final_result_Vehicle", bad],
        ["final_result_Vehicle", bad],
        ["final_result_Vehicle", vehicle]
      ])
      const result = yield* Agent.make({ output: union }).run("?").pipe(Effect.provide(layer))
      assert.instanceOf(result.output, Vehicle)
      assert.strictEqual(calls.length, 4)
      assert.lengthOf(retryParts(result.allMessages()), 3)
    })
  )

  it.effect("the global output counter still counts failures of every output tool", () =>
    Effect.gen(function* () {
      // Fruit once (within its budget of 1), Vehicle three times (within its budget of 3):
      // four output failures exceed the union's global budget of 3.
      const { calls, layer } = scripted([
        ["final_result_Fruit", bad],
        ["final_result_Vehicle", bad],
        ["final_result_Vehicle", bad],
        ["final_result_Vehicle", bad],
        ["final_result_Fruit", fruit]
      ])
      const error = yield* Agent.make({ output: union })
        .run("?")
        .pipe(Effect.flip, Effect.provide(layer))
      assert.strictEqual(
        (error as { reason: string }).reason,
        // the last refused output (Vehicle's arguments) says why
        "Exceeded maximum output retries (3); the last output was refused: name: Expected string, actual 1; wheels: is missing"
      )
      assert.strictEqual(calls.length, 4)
    })
  )

  it.effect(
    "a tool without its own budget gets the agent's outputRetries; the output function sees its own counter",
    () =>
      Effect.gen(function* () {
        const seen: Array<[number, number]> = []
        const describeVehicle = OutputFunction.make({
          name: "Vehicle",
          parameters: Vehicle,
          handler: (v) =>
            Effect.flatMap(RunContext.RunContext, (ctx) => {
              seen.push([ctx.retry, ctx.maxRetries])
              return v.wheels > 0 ? Effect.succeed(v) : Output.retry("Wheels must be positive.")
            })
        })
        const agent = Agent.make({
          outputRetries: 1,
          output: Output.union([
            ToolOutput.make(Fruit, { retries: 5 }),
            ToolOutput.make(describeVehicle)
          ])
        })
        const { calls, layer } = scripted([["final_result_Vehicle", { name: "x", wheels: 0 }]])
        const error = yield* agent.run("?").pipe(Effect.flip, Effect.provide(layer))
        assert.match(
          (error as { reason: string }).reason,
          /^Tool 'final_result_Vehicle' exceeded max retries count of 1: Wheels must be positive\./
        )
        assert.strictEqual(calls.length, 2)
        assert.deepStrictEqual(seen, [
          [0, 1],
          [1, 1]
        ])
      })
  )
})

describe("an output the model cannot serve fails the run before any request", () => {
  const counting = (profile: Model.ModelProfile) => {
    let requests = 0
    const layer = FunctionModel.layer(
      () => {
        requests++
        return FunctionModel.text('{"name":"banana","color":"yellow"}')
      },
      {
        profile,
        stream: () => {
          requests++
          return Stream.make('{"name":"banana","color":"yellow"}')
        }
      }
    )
    return { layer, requests: () => requests }
  }

  it.effect("NativeOutput on a model without JSON-schema output", () =>
    Effect.gen(function* () {
      const model = counting(Model.profile({ supportsJsonSchemaOutput: false }))
      const agent = Agent.make({ output: NativeOutput.make(Fruit) })
      const error = yield* agent.run("banana?").pipe(Effect.flip, Effect.provide(model.layer))
      assert.strictEqual(error._tag, "UserError")
      assert.strictEqual(error.message, "Native structured output is not supported by this model.")
      const streamed = yield* Stream.runDrain(agent.runStream("banana?")).pipe(
        Effect.flip,
        Effect.provide(model.layer)
      )
      assert.strictEqual(streamed._tag, "UserError")
      assert.strictEqual(model.requests(), 0)
      // the same agent works on a model that has it
      const ok = counting(Model.profile({ supportsJsonSchemaOutput: true }))
      const result = yield* agent.run("banana?").pipe(Effect.provide(ok.layer))
      assert.instanceOf(result.output, Fruit)
    })
  )

  it.effect("ToolOutput (alone or with text) on a model without tools", () =>
    Effect.gen(function* () {
      const model = counting(Model.profile({ supportsTools: false }))
      for (const output of [
        ToolOutput.make(Fruit),
        Output.union([ToolOutput.make(Fruit), ToolOutput.make(Vehicle), TextOutput.make((t) => t)])
      ]) {
        const error = yield* Agent.make({ output })
          .run("banana?")
          .pipe(Effect.flip, Effect.provide(model.layer))
        assert.strictEqual(error._tag, "UserError")
        assert.strictEqual(error.message, "Tool output is not supported by this model.")
      }
      assert.strictEqual(model.requests(), 0)
      // prompted output works with every model
      const result = yield* Agent.make({ output: PromptedOutput.make(Fruit) })
        .run("banana?")
        .pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, Fruit)
    })
  )
})

describe("Output.auto: the mode comes from the model's profile", () => {
  const modelWith = (
    mode: Model.ModelProfile["defaultStructuredOutputMode"],
    answer: (info: FunctionModel.AgentInfo, attempt: number) => Messages.ModelResponse | string
  ) => {
    const seen: Array<FunctionModel.AgentInfo> = []
    const layer = FunctionModel.layer(
      (_, info) => {
        seen.push(info)
        return answer(info, seen.length)
      },
      {
        profile: Model.profile({
          defaultStructuredOutputMode: mode,
          supportsJsonSchemaOutput: true
        })
      }
    )
    return { layer, seen }
  }

  it.effect("tool mode: an output tool is required, and its call is the output", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: Output.auto(Fruit) })
      const model = modelWith("tool", () =>
        FunctionModel.toolCall("final_result", { name: "banana", color: "yellow" })
      )
      const result = yield* agent.run("banana?").pipe(Effect.provide(model.layer))
      expectTypeOf(result.output).toEqualTypeOf<Fruit>()
      assert.instanceOf(result.output, Fruit)
      const [info] = model.seen
      assert.strictEqual(info!.outputMode, "tool")
      assert.isFalse(info!.allowTextOutput)
      assert.deepStrictEqual(
        info!.outputTools.map((t) => t.name),
        ["final_result"]
      )
      assert.isUndefined(info!.outputObject)
    })
  )

  it.effect(
    "tool mode: text is still decoded as JSON against the schema; bad text gets the validation errors",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({ output: Output.auto(Fruit) })
        const model = modelWith("tool", (_, attempt) =>
          attempt === 1
            ? FunctionModel.text('{"name": "banana"}')
            : FunctionModel.text('```json\n{"name":"banana","color":"yellow"}\n```')
        )
        const result = yield* agent.run("banana?").pipe(Effect.provide(model.layer))
        assert.instanceOf(result.output, Fruit)
        assert.strictEqual(result.output.color, "yellow")
        const [retry] = retryParts(result.allMessages())
        assert.isUndefined(retry!.toolName)
        assert.match(retry!.modelResponse, /^1 validation error:/)
        assert.include(retry!.modelResponse, '"color"')
        // an explicit ToolOutput still refuses text
        const strictAgent = Agent.make({ output: ToolOutput.make(Fruit), outputRetries: 0 })
        const error = yield* strictAgent
          .run("banana?")
          .pipe(
            Effect.flip,
            Effect.provide(
              modelWith("tool", () => FunctionModel.text('{"name":"banana","color":"yellow"}'))
                .layer
            )
          )
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      })
  )

  it.effect("tool mode with several targets: JSON text names its kind", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: Output.auto([Fruit, Vehicle]) })
      const model = modelWith("tool", () =>
        FunctionModel.text('{"result":{"kind":"Vehicle","data":{"name":"Ford","wheels":4}}}')
      )
      const result = yield* agent.run("?").pipe(Effect.provide(model.layer))
      expectTypeOf(result.output).toEqualTypeOf<Fruit | Vehicle>()
      assert.instanceOf(result.output, Vehicle)
      assert.deepStrictEqual(
        model.seen[0]!.outputTools.map((t) => t.name),
        ["final_result_Fruit", "final_result_Vehicle"]
      )
    })
  )

  it.effect("native mode: the response format is sent and JSON text decodes", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: Output.auto(Fruit, { strict: true }) })
      const model = modelWith("native", () => '{"name":"banana","color":"yellow"}')
      const result = yield* agent.run("banana?").pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, Fruit)
      const [info] = model.seen
      assert.strictEqual(info!.outputMode, "native")
      assert.lengthOf(info!.outputTools, 0)
      assert.strictEqual(info!.outputObject?.name, "Fruit")
      assert.isTrue(info!.outputObject?.strict)
    })
  )

  it.effect("prompted mode: the schema goes into the instructions", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        output: Output.auto(Fruit, { template: "JSON please: {schema}" })
      })
      const model = modelWith("prompted", () => '{"name":"banana","color":"yellow"}')
      const result = yield* agent.run("banana?").pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, Fruit)
      const [info] = model.seen
      assert.strictEqual(info!.outputMode, "prompted")
      assert.lengthOf(info!.outputTools, 0)
      assert.include(info!.instructions ?? "", 'JSON please: {"title":"Fruit"')
    })
  )

  it.effect("a validator on an auto output runs whatever the mode; unions refuse auto", () =>
    Effect.gen(function* () {
      const output = Output.withValidator(Output.auto(Fruit), (f: Fruit) =>
        f.color === "blue" ? Output.retry("Fruits are not blue.") : Effect.succeed(f)
      )
      for (const mode of ["tool", "native", "prompted"] as const) {
        const model = modelWith(mode, (_, attempt) =>
          mode === "tool"
            ? FunctionModel.toolCall("final_result", {
                name: "banana",
                color: attempt === 1 ? "blue" : "yellow"
              })
            : `{"name":"banana","color":"${attempt === 1 ? "blue" : "yellow"}"}`
        )
        const result = yield* Agent.make({ output }).run("?").pipe(Effect.provide(model.layer))
        assert.strictEqual(result.output.color, "yellow", mode)
        assert.strictEqual(retryParts(result.allMessages())[0]?.content, "Fruits are not blue.")
      }
      assert.throws(
        () => Output.union([Output.auto(Fruit), ToolOutput.make(Vehicle)]),
        /Output.auto/
      )
    })
  )

  it.effect("streamOutput: JSON text in tool mode streams as partial outputs", () =>
    Effect.gen(function* () {
      const outputs = yield* streamBananaJson(Output.auto(Fruit))
      const last = outputs[outputs.length - 1]
      assert.instanceOf(last, Fruit)
      assert.strictEqual(last.color, "yellow")
      assert.isTrue(outputs.some((o) => o.name === "banana" && o.color !== "yellow"))
    })
  )
})
