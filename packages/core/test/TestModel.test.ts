import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import { Messages, Model, TestModel, Tool } from "@agentfx/core"

const weather = Tool.make("weather", {
  parameters: Schema.Struct({ city: Schema.String, days: Schema.Int.pipe(Schema.between(1, 7)) }),
  handler: () => Effect.succeed("sunny")
})
const time = Tool.make("time", {
  parameters: Schema.Struct({ zone: Schema.Literal("UTC", "CET") }),
  handler: () => Effect.succeed("12:00")
})
const finalResult = new Tool.ToolDefinition({
  name: "final_result",
  parametersJsonSchema: Tool.jsonSchema(
    Schema.Struct({ answer: Schema.String, score: Schema.Number })
  ),
  kind: "output"
})

const prompt = Messages.userPrompt("hello")
const tools = new Model.ModelRequestParameters({
  functionTools: [weather.definition, time.definition]
})

const send = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  parameters: Model.ModelRequestParameters = tools
) => Effect.flatMap(Model.Model, (m) => m.request(messages, {}, parameters))

const ret = (toolName: string, content: unknown) =>
  new Messages.ToolReturnPart({ toolName, toolCallId: TestModel.toolCallId(toolName), content })

describe("TestModel", () => {
  it.effect("first calls every function tool with generated args, then summarises returns", () =>
    Effect.gen(function* () {
      const first = yield* send([prompt])
      assert.deepStrictEqual(
        first.toolCalls.map((c) => [c.toolName, c.toolCallId, c.args]),
        [
          ["weather", "test_call_weather", { city: "a", days: 1 }],
          ["time", "test_call_time", { zone: "UTC" }]
        ]
      )
      assert.strictEqual(first.modelName, "test")
      // args decode with the tools' own schemas
      for (const [call, tool] of [
        [first.toolCalls[0]!, weather],
        [first.toolCalls[1]!, time]
      ] as const) {
        yield* (tool as Tool.Any).decodeArgs(call.args)
      }
      const second = yield* send([
        prompt,
        first,
        new Messages.ModelRequest({ parts: [ret("weather", "sunny"), ret("time", { h: 12 })] })
      ])
      assert.strictEqual(second.text, '{"weather":"sunny","time":{"h":12}}')
      assert.strictEqual(second.toolCalls.length, 0)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("answers 'success (no tool calls)' without tools", () =>
    Effect.gen(function* () {
      const r = yield* send([prompt], Model.ModelRequestParameters.empty)
      assert.strictEqual(r.text, "success (no tool calls)")
      // 50 + 1 word in, 4 words out
      assert.strictEqual(r.usage.inputTokens, 51)
      assert.strictEqual(r.usage.outputTokens, 4)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("callTools restricts the first response; seed changes generated args", () =>
    Effect.gen(function* () {
      const r = yield* send([prompt])
      assert.deepStrictEqual(
        r.toolCalls.map((c) => [c.toolName, c.args]),
        [["time", { zone: "CET" }]]
      )
    }).pipe(Effect.provide(TestModel.layer({ callTools: ["time"], seed: 1 })))
  )

  it.effect("unknown names in callTools fail with a UserError", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(send([prompt]))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "nope")
    }).pipe(Effect.provide(TestModel.layer({ callTools: ["nope"] })))
  )

  it.effect("re-calls only the tools that asked for a retry", () =>
    Effect.gen(function* () {
      const first = yield* send([prompt])
      const r = yield* send([
        prompt,
        first,
        new Messages.ModelRequest({
          parts: [
            ret("time", "12:00"),
            new Messages.RetryPromptPart({
              content: "bad city",
              toolName: "weather",
              toolCallId: "test_call_weather"
            })
          ]
        })
      ])
      assert.deepStrictEqual(
        r.toolCalls.map((c) => c.toolName),
        ["weather"]
      )
      assert.deepStrictEqual(r.toolCalls[0]!.args, first.toolCalls[0]!.args)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("tool output: calls the output tool with generated or custom args", () =>
    Effect.gen(function* () {
      const params = new Model.ModelRequestParameters({
        outputTools: [finalResult],
        outputMode: "tool",
        allowTextOutput: false
      })
      const r = yield* send([prompt], params)
      assert.deepStrictEqual(r.toolCalls[0]!.toolName, "final_result")
      assert.deepStrictEqual(r.toolCalls[0]!.args, { answer: "a", score: 0 })
      const custom = yield* send([prompt], params).pipe(
        Effect.provide(TestModel.layer({ customOutputArgs: { answer: "yes", score: 1 } }))
      )
      assert.deepStrictEqual(custom.toolCalls[0]!.args, { answer: "yes", score: 1 })
      // an output tool asking for a retry is called again
      const retried = yield* send(
        [
          prompt,
          r,
          new Messages.ModelRequest({
            parts: [new Messages.RetryPromptPart({ content: "no", toolName: "final_result" })]
          })
        ],
        params
      )
      assert.strictEqual(retried.toolCalls[0]!.toolName, "final_result")
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("custom output args are wrapped for `{ response }` output tools", () =>
    Effect.gen(function* () {
      const wrapped = new Tool.ToolDefinition({
        name: "final_result",
        parametersJsonSchema: Tool.jsonSchema(Schema.Struct({ response: Schema.Number })),
        kind: "output"
      })
      const r = yield* send(
        [prompt],
        new Model.ModelRequestParameters({
          outputTools: [wrapped],
          allowTextOutput: false,
          outputMode: "tool"
        })
      )
      assert.deepStrictEqual(r.toolCalls[0]!.args, { response: 42 })
    }).pipe(Effect.provide(TestModel.layer({ customOutputArgs: 42 })))
  )

  it.effect("customOutputText is the answer; not allowed in tool mode", () =>
    Effect.gen(function* () {
      const r = yield* send([prompt], Model.ModelRequestParameters.empty)
      assert.strictEqual(r.text, "Hello world")
      const exit = yield* Effect.exit(
        send(
          [prompt],
          new Model.ModelRequestParameters({ outputMode: "tool", outputTools: [finalResult] })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.provide(TestModel.layer({ customOutputText: "Hello world" })))
  )

  it.effect("native and prompted output: JSON generated from the output schema", () =>
    Effect.gen(function* () {
      const Out = Schema.Struct({ name: Schema.String, age: Schema.NonNegativeInt })
      for (const outputMode of ["native", "prompted"] as const) {
        const r = yield* send(
          [prompt],
          new Model.ModelRequestParameters({
            outputMode,
            outputObject: new Model.OutputObjectDefinition({ jsonSchema: Tool.jsonSchema(Out) })
          })
        )
        const decoded = Schema.decodeUnknownSync(Schema.parseJson(Out))(r.text)
        assert.deepStrictEqual(decoded, { name: "b", age: 1 })
      }
    }).pipe(Effect.provide(TestModel.layer({ seed: 1 })))
  )

  it.effect("records requests: parameters, settings, messages", () =>
    Effect.gen(function* () {
      const test = yield* TestModel.TestModel
      assert.isTrue(Option.isNone(yield* test.lastModelRequestParameters))
      const model = yield* Model.Model
      yield* model.request([prompt], { temperature: 0.5 }, tools)
      const last = yield* test.lastRequest
      assert.deepStrictEqual(last.settings, { temperature: 0.5 })
      assert.deepStrictEqual(
        last.parameters.functionTools.map((t) => t.name),
        ["weather", "time"]
      )
      assert.deepStrictEqual(last.messages, [prompt])
      assert.isFalse(last.streamed)
      yield* Effect.scoped(model.requestStream([prompt], {}, Model.ModelRequestParameters.empty))
      assert.strictEqual((yield* test.requests).length, 2)
      assert.isTrue((yield* test.lastRequest).streamed)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect(
    "streams text as an empty part then word deltas; final response matches request()",
    () =>
      Effect.gen(function* () {
        const model = yield* Model.Model
        const params = Model.ModelRequestParameters.empty
        const { events, response } = yield* Effect.scoped(
          Effect.gen(function* () {
            const s = yield* model.requestStream([prompt], {}, params)
            const events = Chunk.toReadonlyArray(yield* Stream.runCollect(s.events))
            return { events, response: yield* s.response }
          })
        )
        const start = events[0] as Messages.PartStartEvent
        assert.strictEqual(start._tag, "PartStartEvent")
        assert.strictEqual((start.part as Messages.TextPart).content, "")
        const deltas = events
          .filter((e): e is Messages.PartDeltaEvent => e._tag === "PartDeltaEvent")
          .map((e) => (e.delta as Messages.TextPartDelta).contentDelta)
        assert.deepStrictEqual(deltas, ["success ", "(no ", "tool ", "calls)"])
        assert.strictEqual(events[events.length - 1]!._tag, "ResponseCompleteEvent")
        assert.strictEqual(events[events.length - 2]!._tag, "PartEndEvent")
        const plain = yield* model.request([prompt], {}, params)
        assert.deepStrictEqual(response.parts, plain.parts)
        assert.deepStrictEqual(response.usage, plain.usage)
        assert.strictEqual(response.state, "complete")
      }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("streams tool calls whole, one long word in halves", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(TestModel.streamWords("abcdef"), ["abc", "def"])
      assert.deepStrictEqual(TestModel.streamWords("ab"), ["ab"])
      const model = yield* Model.Model
      const events = yield* Effect.scoped(
        Effect.flatMap(model.requestStream([prompt], {}, tools), (s) => Stream.runCollect(s.events))
      )
      const starts = Chunk.toReadonlyArray(events).filter((e) => e._tag === "PartStartEvent")
      assert.deepStrictEqual(
        starts.map((e) => (e.part as Messages.ToolCallPart).toolName),
        ["weather", "time"]
      )
      assert.isFalse(Chunk.toReadonlyArray(events).some((e) => e._tag === "PartDeltaEvent"))
    }).pipe(Effect.provide(TestModel.layer()))
  )
})

// ---------------------------------------------------------------------------
// Schema-driven data: generated args must decode with the tool's own Schema.
// ---------------------------------------------------------------------------

enum Fruit {
  Apple = "apple",
  Banana = "banana",
  Cherry = "cherry"
}
class Address extends Schema.Class<Address>("Address")({
  street: Schema.String.pipe(Schema.minLength(3)),
  zip: Schema.String.pipe(Schema.maxLength(1))
}) {}

const schemas = {
  nested: Schema.Struct({
    user: Schema.Struct({ name: Schema.NonEmptyString, address: Address }),
    tags: Schema.Array(Schema.String)
  }),
  unions: Schema.Struct({
    shape: Schema.Union(
      Schema.Struct({ kind: Schema.Literal("circle"), radius: Schema.Number }),
      Schema.Struct({
        kind: Schema.Literal("square"),
        side: Schema.Number.pipe(Schema.greaterThan(0))
      })
    ),
    mode: Schema.Literal("fast", "slow", "auto"),
    flag: Schema.NullOr(Schema.Boolean),
    zero: Schema.Literal(0)
  }),
  enums: Schema.Struct({ fruit: Schema.Enums(Fruit), one: Schema.Literal("x") }),
  arrays: Schema.Struct({
    items: Schema.Array(Schema.Number).pipe(Schema.minItems(2)),
    few: Schema.Array(Schema.String).pipe(Schema.maxItems(1)),
    nonEmpty: Schema.NonEmptyArray(Schema.Int),
    pair: Schema.Tuple(Schema.String, Schema.Boolean),
    addresses: Schema.Array(Address)
  }),
  optional: Schema.Struct({
    required: Schema.String,
    maybe: Schema.optional(Schema.Number),
    withDefault: Schema.optionalWith(Schema.String, { default: () => "d" })
  }),
  numbers: Schema.Struct({
    between: Schema.Int.pipe(Schema.between(3, 9)),
    positive: Schema.Number.pipe(Schema.greaterThan(0)),
    nonNegative: Schema.NonNegativeInt,
    below: Schema.Int.pipe(Schema.lessThan(-5)),
    tight: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThan(1)),
    fixed: Schema.Int.pipe(Schema.between(4, 4)),
    multiple: Schema.Number.pipe(Schema.multipleOf(5))
  }),
  strings: Schema.Struct({
    bounded: Schema.String.pipe(Schema.minLength(2), Schema.maxLength(4)),
    short: Schema.String.pipe(Schema.maxLength(1)),
    empty: Schema.String.pipe(Schema.maxLength(0)),
    uuid: Schema.UUID,
    date: Schema.Date,
    record: Schema.Record({ key: Schema.String, value: Schema.Int })
  })
}

describe("TestModel schema data", () => {
  for (const [name, schema] of Object.entries(schemas)) {
    it.effect(`generated args decode with the tool schema: ${name} (seeds 0..50)`, () =>
      Effect.gen(function* () {
        const tool = Tool.make(name, {
          parameters: schema as Schema.Schema<any, any>,
          handler: () => Effect.void
        })
        for (let seed = 0; seed <= 50; seed++) {
          const args = TestModel.generateArgs(tool.definition, seed)
          const exit = yield* Effect.exit(tool.decodeArgs(args as Record<string, unknown>))
          if (Exit.isFailure(exit)) {
            assert.fail(`seed ${seed}: ${JSON.stringify(args)} → ${String(exit.cause)}`)
          }
        }
      })
    )
  }

  it("follows pydantic-ai's order and choices", () => {
    const gen = TestModel.generateData
    assert.strictEqual(gen({ const: 0, type: "integer" }), 0)
    assert.strictEqual(gen({ enum: ["a", "b", "c"] }, 4), "b")
    assert.strictEqual(gen({ type: "string", examples: ["x", "y"] }, 1), "y")
    assert.strictEqual(gen({ anyOf: [{ type: "string" }, { type: "integer" }] }, 1), 1)
    assert.strictEqual(gen({ type: "string", format: "date" }, 31), "2024-02-01")
    assert.strictEqual(gen({ type: "string" }, 0), "a")
    assert.strictEqual(gen({ type: "string" }, 26), "A")
    assert.strictEqual(gen({ type: "string" }, 94), "aa")
    assert.strictEqual(gen({ type: "string", minLength: 3 }, 2), "ccc")
    assert.strictEqual(gen({ type: "integer", minimum: 10 }, 2), 12)
    assert.strictEqual(gen({ type: "integer", maximum: 10 }, 2), 8)
    assert.strictEqual(gen({ type: "integer", minimum: 0, maximum: 5 }, 7), 2)
    assert.strictEqual(gen({ type: "boolean" }, 3), true)
    assert.deepStrictEqual(gen({ type: "array", items: { type: "integer" } }, 1), [1])
    assert.deepStrictEqual(gen({ type: "array", items: { type: "integer" }, maxItems: 0 }), [])
    assert.deepStrictEqual(
      gen({ type: "array", items: { type: "integer" }, minItems: 3, uniqueItems: true }),
      [0, 1, 2]
    )
    assert.deepStrictEqual(
      gen({
        type: "object",
        properties: { a: { type: "string" }, b: { type: "integer" } },
        required: ["b"],
        additionalProperties: true
      }),
      { b: 0, additionalProperty: "a" }
    )
    assert.deepStrictEqual(
      gen({
        $defs: { P: { type: "object", properties: { x: { type: "null" } }, required: ["x"] } },
        $ref: "#/$defs/P"
      }),
      { x: null }
    )
  })
})

describe("TestModel schema data (property)", () => {
  it.effect("generated args decode for any seed", () =>
    Effect.gen(function* () {
      const tools = Object.entries(schemas).map(([name, schema]) =>
        Tool.make(name, {
          parameters: schema as Schema.Schema<any, any>,
          handler: () => Effect.void
        })
      )
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
          for (const tool of tools) {
            const args = TestModel.generateArgs(tool.definition, seed)
            const exit = Effect.runSyncExit(tool.decodeArgs(args as Record<string, unknown>))
            if (Exit.isFailure(exit)) {
              throw new Error(`${tool.name} seed ${seed}: ${JSON.stringify(args)}`)
            }
          }
        }),
        { numRuns: 300, seed: 42 }
      )
    })
  )
})
