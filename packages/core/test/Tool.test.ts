import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { Agent, AgentError, FunctionModel, type Messages, TestModel, Tool } from "@agentfx/core"

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

  it.effect("parameters with an asynchronous transformation decode, and fail as usual", () =>
    Effect.gen(function* () {
      // a decode step that waits (a lookup, say): the synchronous decoder cannot run it
      const Slow = Schema.transformOrFail(Schema.String, Schema.String, {
        strict: true,
        decode: (s) =>
          s === "bad"
            ? Effect.fail(new ParseResult.Type(Schema.String.ast, s, "not a known city"))
            : Effect.as(Effect.sleep("1 millis"), s.toUpperCase()),
        encode: (s) => ParseResult.succeed(s.toLowerCase())
      })
      const slow = Tool.make("slow", {
        parameters: Schema.Struct({ city: Slow }),
        handler: ({ city }) => Effect.succeed(city)
      })
      const fiber = yield* Effect.fork(slow.decodeArgs({ city: "rome" }))
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { city: "ROME" })
      const retry = yield* Effect.flip(slow.decodeArgs({ city: "bad" }))
      assert.strictEqual(retry._tag, "ModelRetry")
      assert.include(retry.reason, "not a known city")
      assert.deepStrictEqual(
        (retry.issues ?? []).map((i) => [i.path, i.input]),
        [[["city"], "bad"]]
      )
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
      assert.deepStrictEqual(yield* raw.decodeArgs({ q: "y" }), { q: "y" })
      assert.deepStrictEqual(yield* raw.decodeArgs(""), {})
      // anything but a JSON object is a retry prompt, as the record schema says
      const badJson = yield* Effect.flip(raw.decodeArgs("{not json"))
      assert.include(badJson.reason, "Invalid JSON")
      for (const bad of ["[1,2]", "42", "null", '"text"']) {
        const e = yield* Effect.flip(raw.decodeArgs(bad))
        assert.strictEqual(e._tag, "ModelRetry")
        assert.include(e.reason, "Expected { readonly [x: string]: unknown }")
      }
    })
  )

  it("jsonSchema keeps $defs at the root for classes", () => {
    class Point extends Schema.Class<Point>("Point")({ x: Schema.Number }) {}
    const js = Tool.jsonSchema(Schema.Struct({ p: Point }))
    assert.deepStrictEqual((js.properties as any).p, { $ref: "#/$defs/Point" })
    assert.isDefined((js.$defs as any).Point)
  })
})

describe("Tool.make errors and options", () => {
  const thrown = (f: () => unknown): AgentError.UserError => {
    try {
      f()
    } catch (e) {
      assert.instanceOf(e, AgentError.UserError)
      return e as AgentError.UserError
    }
    assert.fail("expected Tool.make to throw")
  }

  it("a parameter without JSON Schema: the error names the tool, the parameter and what to annotate", () => {
    const error = thrown(() =>
      Tool.make("book", {
        parameters: Schema.Struct({ city: Schema.String, at: Schema.DateFromSelf }),
        handler: () => Effect.void
      })
    )
    assert.strictEqual(error._tag, "UserError")
    assert.match(
      error.message,
      /^Tool "book": parameter "at" has no JSON Schema, so the model cannot be told its type\. Annotate the schema \(DateFromSelf\) with one, e\.g\. `\.annotations\(\{ jsonSchema: \{ type: "string", format: "date-time" \} \}\)`, or use a schema that encodes to JSON \(`Schema\.Date`/
    )
  })

  it("a nested parameter and instanceOf(URL) are named by their path", () => {
    const error = thrown(() =>
      Tool.make("fetch_page", {
        parameters: Schema.Struct({ target: Schema.Struct({ url: Schema.instanceOf(URL) }) }),
        handler: () => Effect.void
      })
    )
    assert.include(error.message, 'Tool "fetch_page": parameter "target.url" has no JSON Schema')
    assert.include(error.message, "the schema (URL)")
  })

  it("the annotation the message suggests makes the tool build", () => {
    const tool = Tool.make("book", {
      parameters: Schema.Struct({
        at: Schema.DateFromSelf.annotations({
          jsonSchema: { type: "string", format: "date-time" }
        })
      }),
      handler: () => Effect.void
    })
    const at = (tool.definition.parametersJsonSchema.properties as any).at
    assert.strictEqual(at.type, "string")
    assert.strictEqual(at.format, "date-time")
  })

  it("a schema from another major of effect (4) is refused with a clear error", () => {
    // What an effect 4 Schema looks like to effect 3: no effect-3 TypeId, a string type id key.
    const fromEffect4 = { "~effect/Schema/Schema": "~effect/Schema/Schema", ast: undefined }
    const error = thrown(() =>
      Tool.make("add", { parameters: fromEffect4 as any, handler: () => Effect.void })
    )
    assert.match(
      error.message,
      /^Tool "add": the schema is not a Schema of effect 3\.\d+\.\d+, the Effect 3 line agentfx runs on \(it was built with effect 4\)\. Install effect@3/
    )
  })

  it("`retries` sets the tool's budget; the deprecated `maxRetries` still works", () => {
    const parameters = Schema.Struct({})
    const handler = () => Effect.void
    assert.strictEqual(Tool.make("a", { parameters, handler, retries: 3 }).maxRetries, 3)
    assert.strictEqual(Tool.make("b", { parameters, handler, maxRetries: 2 }).maxRetries, 2)
    assert.isUndefined(Tool.make("c", { parameters, handler }).maxRetries)
  })
})

describe("Tool.fromAsync", () => {
  const Args = Schema.Struct({ city: Schema.String })

  it.effect("an async handler runs in a run; its value is the tool return", () =>
    Effect.gen(function* () {
      const weather = Tool.fromAsync("weather", {
        parameters: Args,
        handler: async ({ city }) => {
          await new Promise((r) => setTimeout(r, 1))
          return `sunny in ${city}`
        }
      })
      const result = yield* Agent.make({ tools: [weather] }).run("weather?")
      const returned = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .find((p) => p._tag === "ToolReturnPart")
      assert.strictEqual(returned?._tag, "ToolReturnPart")
      assert.strictEqual((returned as Messages.ToolReturnPart).content, "sunny in a")
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("a thrown ModelRetry becomes a retry prompt; a thrown ToolFailed a failed return", () =>
    Effect.gen(function* () {
      let calls = 0
      const flaky = Tool.fromAsync("flaky", {
        parameters: Args,
        retries: 1,
        handler: async () => {
          calls++
          if (calls === 1) throw new AgentError.ModelRetry({ reason: "try another city" })
          throw new AgentError.ToolFailed({ reason: "service down" })
        }
      })
      const model = FunctionModel.layer((messages) =>
        messages.length < 5
          ? FunctionModel.toolCall("flaky", { city: "x" })
          : FunctionModel.text("done")
      )
      const result = yield* Agent.make({ tools: [flaky] })
        .run("go")
        .pipe(Effect.provide(model))
      const parts = result.allMessages().flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
      const retry = parts.find((p) => p._tag === "RetryPromptPart") as Messages.RetryPromptPart
      assert.strictEqual(retry.content, "try another city")
      const failed = parts.find((p) => p._tag === "ToolReturnPart") as Messages.ToolReturnPart
      assert.strictEqual(failed.content, "service down")
      assert.strictEqual(failed.outcome, "failed")
      assert.strictEqual(calls, 2)
      assert.strictEqual(result.output, "done")
    })
  )

  it.effect("interrupting the call aborts the handler's signal", () =>
    Effect.gen(function* () {
      let aborted = false
      const slow = Tool.fromAsync("slow", {
        parameters: Args,
        handler: ({ city }, { signal }) =>
          new Promise<string>((resolve) => {
            signal.addEventListener("abort", () => {
              aborted = true
              resolve(city)
            })
          })
      })
      const decoded = yield* slow.decodeArgs({ city: "x" })
      const fiber = yield* Effect.fork(slow.handler(decoded))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(fiber)
      assert.isTrue(aborted)
    })
  )
})
