import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, AgentError, FunctionModel, type Messages, OutputSpec } from "@agentfx/core"
import {
  Output,
  OutputFunction,
  PromptedOutput,
  StructuredDict,
  TextOutput,
  ToolOutput
} from "@agentfx/output"

const retryParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
      : []
  )

describe("output review scenarios", () => {
  it.effect("prompted output: invalid JSON then valid JSON", () =>
    Effect.gen(function* () {
      let n = 0
      const model = FunctionModel.layer(() => (n++ === 0 ? "not json at all" : '{"a": 1}'))
      const r = yield* Agent.make({
        output: PromptedOutput.make(Schema.Struct({ a: Schema.Number }))
      })
        .run("?")
        .pipe(Effect.provide(model))
      assert.deepStrictEqual(r.output, { a: 1 })
      const retries = retryParts(r.allMessages())
      assert.strictEqual(retries.length, 1)
      assert.include(JSON.stringify(retries[0]!.content), "Invalid JSON")
      assert.strictEqual(retries[0]!.toolName, undefined)
    })
  )

  it.effect("text output: ModelRetry from the function is a retry prompt, then exhausted", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(() => "nope")
      const error = yield* Agent.make({
        output: TextOutput.make(() =>
          Effect.fail(new AgentError.ModelRetry({ reason: "Say yes." }))
        ),
        outputRetries: 2
      })
        .run("?")
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      const messages = (error as AgentError.UnexpectedModelBehavior).messages ?? []
      const retries = retryParts(messages)
      assert.strictEqual(retries.length, 2)
      assert.strictEqual(retries[0]!.content, "Say yes.")
      assert.include(error.message, "Exceeded maximum output retries (2)")
    })
  )

  it.effect("structured dict: a non-object answer is retried", () =>
    Effect.gen(function* () {
      let n = 0
      const Person = StructuredDict.make(
        { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
        { name: "Person" }
      )
      const model = FunctionModel.layer(() => (n++ === 0 ? "[1, 2]" : '{"name": "Ada"}'))
      const r = yield* Agent.make({ output: PromptedOutput.make(Person) })
        .run("?")
        .pipe(Effect.provide(model))
      assert.deepStrictEqual(r.output, { name: "Ada" })
      assert.strictEqual(retryParts(r.allMessages()).length, 1)
    })
  )

  it.effect("union of two tool outputs and text: tool names and outputs", () =>
    Effect.gen(function* () {
      const A = Schema.Struct({ a: Schema.Number })
      const B = Schema.Struct({ b: Schema.String })
      const spec = Output.union([
        ToolOutput.make(A, { name: "pick_a" }),
        ToolOutput.make(B),
        OutputSpec.text
      ])
      const names: Array<string> = []
      const model = FunctionModel.layer((_, info) => {
        names.push(...info.outputTools.map((t) => t.name))
        return FunctionModel.toolCall(info.outputTools[1]!.name, { b: "x" })
      })
      const r = yield* Agent.make({ output: spec }).run("?").pipe(Effect.provide(model))
      assert.deepStrictEqual(r.output, { b: "x" })
      assert.strictEqual(names[0], "pick_a")
      assert.strictEqual(names.length, 2)
    })
  )

  it.effect("output function with ModelRetry: exhausted retries keep messages", () =>
    Effect.gen(function* () {
      const f = OutputFunction.make({
        name: "calc",
        parameters: Schema.Struct({ x: Schema.Number }),
        handler: ({ x }) =>
          x > 0
            ? Effect.succeed(x * 2)
            : Effect.fail(new AgentError.ModelRetry({ reason: "x must be positive" }))
      })
      const model = FunctionModel.layer((_, info) =>
        FunctionModel.toolCall(info.outputTools[0]!.name, { x: -1 })
      )
      const error = yield* Agent.make({ output: ToolOutput.make(f), outputRetries: 1 })
        .run("?")
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      const messages = (error as AgentError.UnexpectedModelBehavior).messages ?? []
      const retries = retryParts(messages)
      assert.strictEqual(retries.length, 1)
      // one output target: the tool is `final_result`, as in pydantic-ai
      assert.strictEqual(retries[0]!.toolName, "final_result")
      assert.strictEqual(retries[0]!.content, "x must be positive")
      assert.include(error.message, "x must be positive")
    })
  )

  it.effect("streamed prompted output: partial values grow, then the final value", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make('{"name": "Ad', 'a", "age": 3', "6}").pipe(Stream.rechunk(1))
      })
      const outputs = yield* Agent.make({
        output: PromptedOutput.make(Schema.Struct({ name: Schema.String, age: Schema.Number }))
      })
        .streamOutput("?")
        .pipe(Stream.runCollect, Effect.provide(model))
      const all = Chunk.toReadonlyArray(outputs)
      assert.deepStrictEqual(all[all.length - 1], { name: "Ada", age: 36 })
      assert.deepStrictEqual(all[0], { name: "Ad" })
    })
  )

  it.effect(
    "streamed tool output: invalid final args are retried, the run ends with the valid value",
    () =>
      Effect.gen(function* () {
        let n = 0
        const model = FunctionModel.layer(undefined, {
          stream: (_, info) =>
            Stream.make({
              0: {
                name: info.outputTools[0]!.name,
                jsonArgs: n++ === 0 ? '{"a": "x"}' : '{"a": 2}'
              }
            })
        })
        const outputs = yield* Agent.make({
          output: ToolOutput.make(Schema.Struct({ a: Schema.Number }))
        })
          .streamOutput("?")
          .pipe(Stream.runCollect, Effect.provide(model))
        const all = Chunk.toReadonlyArray(outputs)
        assert.deepStrictEqual(all[all.length - 1], { a: 2 })
        assert.strictEqual(n, 2)
      })
  )
})
