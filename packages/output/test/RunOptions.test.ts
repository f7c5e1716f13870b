/**
 * Per-run `outputType` / `toolsets` / `retries` / `outputRetries` (pydantic-ai's run arguments),
 * through every output mode and entry point, and the output tool events
 * (`OutputToolCallEvent` / `OutputToolResultEvent`) in `runStream`, `onEvent` and `iter` alike.
 */
import {
  Agent,
  AgentError,
  DeferredTools,
  FunctionModel,
  Messages,
  TestModel,
  Tool,
  Toolset
} from "@agentfx/core"
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { NativeOutput, PromptedOutput, TextOutput, ToolOutput } from "@agentfx/output"
import { describeEvent as describeCoreEvent } from "../../core/test/support/events.js"
import { Fruit, toolOutputParameters } from "./utils.js"

const banana = { name: "banana", color: "yellow" }

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

/** The tool calls and retry prompts a model was sent, as short strings. */
const retryParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest" ? m.parts.filter((p) => p._tag === "RetryPromptPart") : []
  )

/** Events as short strings (`describeEvent`), output tool events with their ids and contents. */
const describeEvent = (e: Agent.AgentStreamEvent<unknown>): string =>
  e._tag === "OutputToolCallEvent"
    ? `output call ${e.part.toolName} ${e.part.toolCallId}`
    : e._tag === "OutputToolResultEvent"
      ? `output result ${e.result._tag} ${e.result.toolCallId}${
          e.result._tag === "ToolReturnPart" ? ` ${String(e.result.content)}` : ""
        }`
      : describeCoreEvent(e)

describe("RunOptions.outputType", () => {
  const textAgent = Agent.make({ tools: [add] })

  it.effect("ToolOutput for one run: typed result, output tools offered, the agent unchanged", () =>
    Effect.gen(function* () {
      const result = yield* textAgent.run("fruit?", { outputType: ToolOutput.make(Fruit) })
      expectTypeOf(result.output).toEqualTypeOf<Fruit>()
      assert.instanceOf(result.output, Fruit)
      assert.deepStrictEqual({ ...result.output }, banana)
      const params = yield* toolOutputParameters
      assert.deepStrictEqual(
        params.functionTools.map((t) => t.name),
        ["add"]
      )
      // The next run without the option is the agent's own text output again.
      const plain = yield* textAgent
        .run("hi")
        .pipe(
          Effect.provide(
            FunctionModel.layer(
              (_, info) => `${info.outputMode} ${info.outputTools.length} ${info.allowTextOutput}`
            )
          )
        )
      expectTypeOf(plain.output).toEqualTypeOf<string>()
      assert.strictEqual(plain.output, "text 0 true")
    }).pipe(Effect.provide(TestModel.layer({ customOutputArgs: banana, callTools: [] })))
  )

  it.effect("NativeOutput and PromptedOutput for one run: the request asks for the schema", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const model = FunctionModel.layer((_, info) => {
        seen.push(`${info.outputMode} ${info.outputObject?.name ?? "-"}`)
        return JSON.stringify(banana)
      })
      const native = yield* textAgent
        .run("fruit?", { outputType: NativeOutput.make(Fruit) })
        .pipe(Effect.provide(model))
      expectTypeOf(native.output).toEqualTypeOf<Fruit>()
      assert.deepStrictEqual({ ...native.output }, banana)
      const prompted = yield* textAgent
        .run("fruit?", { outputType: PromptedOutput.make(Fruit) })
        .pipe(Effect.provide(model))
      assert.deepStrictEqual({ ...prompted.output }, banana)
      assert.deepStrictEqual(seen, ["native Fruit", "prompted Fruit"])
    })
  )

  it.effect("TextOutput for one run, on an agent with a structured output", () =>
    Effect.gen(function* () {
      const fruitAgent = Agent.make({ output: ToolOutput.make(Fruit) })
      const result = yield* fruitAgent
        .run("count", { outputType: TextOutput.make((t) => t.length) })
        .pipe(Effect.provide(FunctionModel.layer(() => "four")))
      expectTypeOf(result.output).toEqualTypeOf<number>()
      assert.strictEqual(result.output, 4)
    })
  )

  it.effect("runStream, iter and streamOutput follow the run's output type", () =>
    Effect.gen(function* () {
      const outputType = ToolOutput.make(Fruit)
      const events = yield* Stream.runCollect(textAgent.runStream("fruit?", { outputType }))
      const last = Chunk.unsafeLast(events)
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      if (last._tag === "AgentRunResultEvent") {
        expectTypeOf(last.result.output).toEqualTypeOf<Fruit>()
        assert.deepStrictEqual({ ...last.result.output }, banana)
      }
      const run = yield* textAgent.iter("fruit?", { outputType })
      yield* Stream.runDrain(run.nodes)
      const iterResult = yield* run.result
      assert.isTrue(iterResult._tag === "Some")
      if (iterResult._tag === "Some") assert.deepStrictEqual({ ...iterResult.value.output }, banana)
      const partials = Chunk.toReadonlyArray(
        yield* Stream.runCollect(textAgent.streamOutput("fruit?", { outputType }))
      )
      assert.isAbove(partials.length, 0)
      const final = partials[partials.length - 1]!
      expectTypeOf(final).toEqualTypeOf<Agent.PartialOutput<Fruit>>()
      assert.deepStrictEqual({ ...final }, banana)
    }).pipe(
      Effect.scoped,
      Effect.provide(TestModel.layer({ customOutputArgs: banana, callTools: [] }))
    )
  )

  it.effect("an agent with output validators refuses outputType with a UserError", () =>
    Effect.gen(function* () {
      const validated = Agent.make({ outputValidators: [(s: string) => Effect.succeed(s)] })
      const error = yield* validated
        .run("fruit?", { outputType: ToolOutput.make(Fruit) })
        .pipe(Effect.flip, Effect.provide(TestModel.layer()))
      assert.instanceOf(error, AgentError.UserError)
      assert.include(error.message, "outputValidators")
    })
  )

  it.effect(
    "deferred tools: DeferredToolRequests stays in the run's output type and is returned",
    () =>
      Effect.gen(function* () {
        const guarded = Tool.make("delete_file", {
          parameters: Schema.Struct({ path: Schema.String }),
          requiresApproval: true,
          handler: () => Effect.succeed("deleted")
        })
        const agent = Agent.make({ tools: [guarded] })
        const result = yield* agent
          .run("clean up", { outputType: ToolOutput.make(Fruit) })
          .pipe(
            Effect.provide(
              FunctionModel.layer(() => FunctionModel.toolCall("delete_file", { path: "/tmp/x" }))
            )
          )
        expectTypeOf(result.output).toEqualTypeOf<Fruit | DeferredTools.DeferredToolRequests>()
        assert.instanceOf(result.output, DeferredTools.DeferredToolRequests)
        if (result.output instanceof DeferredTools.DeferredToolRequests) {
          assert.deepStrictEqual(
            result.output.approvals.map((c) => c.toolName),
            ["delete_file"]
          )
        }
      })
  )
})

describe("RunOptions.toolsets / retries / outputRetries", () => {
  const multiply = Tool.make("multiply", {
    parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
    handler: ({ a, b }) => Effect.succeed(a * b)
  })
  const agent = Agent.make({ tools: [add] })

  it.effect("a run's toolsets are offered and called in that run only", () =>
    Effect.gen(function* () {
      const offered: Array<ReadonlyArray<string>> = []
      const model = FunctionModel.layer((messages, info) => {
        offered.push(info.functionTools.map((t) => t.name))
        const last = messages[messages.length - 1]
        const answered =
          last?._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")
        if (answered) return "done"
        return info.functionTools.some((t) => t.name === "multiply")
          ? FunctionModel.toolCall("multiply", { a: 6, b: 7 })
          : "no tool"
      })
      const result = yield* agent
        .run("6*7", { toolsets: [Toolset.fromTools([multiply])] })
        .pipe(Effect.provide(model))
      const returns = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .filter((p) => p._tag === "ToolReturnPart")
      assert.deepStrictEqual(
        returns.map((p) => [p.toolName, p.content]),
        [["multiply", 42]]
      )
      const again = yield* agent.run("6*7").pipe(Effect.provide(model))
      assert.strictEqual(again.output, "no tool")
      assert.deepStrictEqual(offered, [["add", "multiply"], ["add", "multiply"], ["add"]])
    })
  )

  it.effect("a run toolset whose tool name the agent already has fails with a UserError", () =>
    Effect.gen(function* () {
      const error = yield* agent
        .run("hi", { toolsets: [Toolset.fromTools([add])] })
        .pipe(Effect.flip, Effect.provide(TestModel.layer()))
      assert.instanceOf(error, AgentError.UserError)
      assert.include(error.message, "add")
    })
  )

  it.effect("a run toolset that may defer adds DeferredToolRequests to the output type", () =>
    Effect.gen(function* () {
      const ask = Tool.external("ask_human", {
        parameters: Schema.Struct({ question: Schema.String })
      })
      const result = yield* agent
        .run("ask", { toolsets: [Toolset.fromTools([ask])] })
        .pipe(
          Effect.provide(
            FunctionModel.layer(() => FunctionModel.toolCall("ask_human", { question: "ok?" }))
          )
        )
      expectTypeOf(result.output).toEqualTypeOf<string | DeferredTools.DeferredToolRequests>()
      assert.instanceOf(result.output, DeferredTools.DeferredToolRequests)
    })
  )

  it.effect("retries replaces the agent's tool retry budget for the run", () =>
    Effect.gen(function* () {
      let calls = 0
      const flaky = Tool.make("flaky", {
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new AgentError.ModelRetry({ reason: "again" }))
      })
      const retrying = Agent.make({ tools: [flaky], retries: 1 })
      const model = FunctionModel.layer(() => {
        calls++
        return FunctionModel.toolCall("flaky", {})
      })
      const once = yield* retrying.run("go").pipe(Effect.flip, Effect.provide(model))
      assert.strictEqual(once._tag, "UnexpectedModelBehavior")
      assert.strictEqual(calls, 2)
      calls = 0
      const thrice = yield* retrying
        .run("go", { retries: 3 })
        .pipe(Effect.flip, Effect.provide(model))
      assert.strictEqual(thrice._tag, "UnexpectedModelBehavior")
      assert.include(thrice.message, "flaky")
      assert.strictEqual(calls, 4)
    })
  )

  it.effect("outputRetries replaces the agent's output retry budget for the run", () =>
    Effect.gen(function* () {
      let calls = 0
      const model = FunctionModel.layer(() => {
        calls++
        return FunctionModel.toolCall("final_result", { name: "banana" })
      })
      const fruitAgent = Agent.make({ output: ToolOutput.make(Fruit) })
      const error = yield* fruitAgent
        .run("fruit?", { outputRetries: 3 })
        .pipe(Effect.flip, Effect.provide(model))
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.include(error.message, "Exceeded maximum output retries (3)")
      assert.strictEqual(calls, 4)
      const messages = (error as { messages: ReadonlyArray<Messages.ModelMessage> }).messages
      assert.strictEqual(retryParts(messages).length, 3)
    })
  )
})

describe("OutputToolCallEvent / OutputToolResultEvent", () => {
  const fruitAgent = Agent.make({ output: ToolOutput.make(Fruit) })
  /** A refused output call (no color), then a valid one with a second, unused output call. */
  const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
    retryParts(messages).length === 0
      ? FunctionModel.toolCall("final_result", { name: "banana" }, "bad")
      : FunctionModel.toolCalls([
          { toolName: "final_result", args: banana, toolCallId: "good" },
          { toolName: "final_result", args: banana, toolCallId: "spare" }
        ])
  const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
  const expected = [
    "start 0 ToolCallPart",
    "final final_result",
    "end 0 ToolCallPart",
    "output call final_result bad",
    "output result RetryPromptPart bad",
    "start 0 ToolCallPart",
    "final final_result",
    "start 1 ToolCallPart",
    "end 0 ToolCallPart",
    "end 1 ToolCallPart",
    "output call final_result good",
    "output result ToolReturnPart good Final result processed.",
    "output call final_result spare",
    "output result ToolReturnPart spare Output tool not used - a final result was already processed.",
    "done"
  ]

  it.effect("runStream: a call event before each decode, its result (retry or return) after", () =>
    Effect.gen(function* () {
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(fruitAgent.runStream("f")))
      assert.deepStrictEqual(events.map(describeEvent), expected)
      const call = events.find((e) => e._tag === "OutputToolCallEvent")
      assert.instanceOf(call, Messages.OutputToolCallEvent)
      if (call?._tag === "OutputToolCallEvent") {
        assert.deepStrictEqual(call.part.argsAsObject(), { name: "banana" })
      }
      const refused = events.find((e) => e._tag === "OutputToolResultEvent")
      if (refused?._tag === "OutputToolResultEvent") {
        assert.strictEqual(refused.result._tag, "RetryPromptPart")
        assert.strictEqual(refused.result.toolName, "final_result")
      }
      // The events are schema classes: they survive a JSON round trip.
      const encoded = Schema.encodeSync(Messages.OutputToolCallEvent)(
        call as Messages.OutputToolCallEvent
      )
      const decoded = Schema.decodeUnknownSync(Messages.OutputToolCallEvent)(
        JSON.parse(JSON.stringify(encoded))
      )
      assert.deepStrictEqual(decoded.part.toolCallId, "bad")
    }).pipe(Effect.provide(model))
  )

  it.effect("onEvent and iter's stream emit the same sequence; run without either emits none", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const result = yield* fruitAgent.run("f", { onEvent: (e) => seen.push(describeEvent(e)) })
      assert.deepStrictEqual(seen, expected)
      assert.deepStrictEqual({ ...result.output }, banana)
      const run = yield* fruitAgent.iter("f")
      const stepped: Array<string> = []
      let node = yield* run.nextNode
      while (node._tag !== "End") {
        const events = yield* Stream.runCollect(run.stream(node))
        for (const e of events) stepped.push(describeEvent(e))
        node = yield* run.nextNode
      }
      // iter's node streams end at End: no AgentRunResultEvent.
      assert.deepStrictEqual(stepped, expected.slice(0, -1))
      const plain = yield* Effect.exit(fruitAgent.run("f"))
      assert.isTrue(Exit.isSuccess(plain))
    }).pipe(Effect.scoped, Effect.provide(model))
  )
})
