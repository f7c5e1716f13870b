import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import {
  Agent,
  AgentError,
  FunctionModel,
  Messages,
  Model,
  OutputSpec,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { finalResultOutput } from "./support/output.js"

const responsesSoFar = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

// A hand-made native-output spec, standing in for @agentfx/output's NativeOutput (core must
// not depend on output): it refuses profiles without JSON-schema output.
const nativeLike = OutputSpec.make<{ city: string }>({
  mode: "native",
  allowTextOutput: true,
  outputObject: () =>
    new Model.OutputObjectDefinition({
      jsonSchema: { type: "object", properties: { city: { type: "string" } } }
    }),
  check: (profile) =>
    profile.supportsJsonSchemaOutput
      ? undefined
      : new AgentError.UserError({
          reason: "Native structured output is not supported by this model."
        }),
  handleText: (text) => Effect.succeed(JSON.parse(text) as { city: string }),
  handleToolCall: () => Effect.die("unused")
})

describe("output check", () => {
  it.effect("an output the model cannot serve fails the run before any request", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: nativeLike })
      const error = yield* Effect.flip(agent.run("where?"))
      assert.strictEqual(error._tag, "UserError")
      assert.strictEqual(
        (error as AgentError.UserError).reason,
        "Native structured output is not supported by this model."
      )
      const test = yield* TestModel.TestModel
      assert.strictEqual((yield* test.requests).length, 0)
    }).pipe(
      Effect.provide(
        TestModel.layer({ profile: Model.profile({ supportsJsonSchemaOutput: false }) })
      )
    )
  )

  it.effect("the same output runs on a model that supports it", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ output: nativeLike })
      const result = yield* agent.run("where?")
      assert.deepStrictEqual(result.output, { city: "Paris" })
    }).pipe(
      Effect.provide(
        FunctionModel.layer(() => '{"city":"Paris"}', {
          profile: Model.profile({ supportsJsonSchemaOutput: true })
        })
      )
    )
  )

  it.effect("streamed runs are checked too", () =>
    Effect.gen(function* () {
      const error = yield* Agent.make({ output: nativeLike })
        .runStream("where?")
        .pipe(
          Agent.finalResult,
          Effect.provide(TestModel.layer({ profile: Model.defaultProfile })),
          Effect.flip
        )
      assert.strictEqual(error._tag, "UserError")
    })
  )
})

describe("finish reasons", () => {
  it.effect("empty response cut by the token limit: UnexpectedModelBehavior naming the limit", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(
        () => new Messages.ModelResponse({ parts: [], finishReason: "length" })
      )
      const error = yield* Agent.make({ modelSettings: { maxTokens: 100 } })
        .run("write a novel")
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      const e = error as AgentError.UnexpectedModelBehavior
      assert.match(
        e.reason,
        /^Model token limit \(100\) exceeded before any response was generated/
      )
      // The response is kept: the conversation is not lost.
      assert.deepStrictEqual(
        e.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )

  it.effect("without maxTokens the message says the provider default was hit", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [new Messages.TextPart({ content: "  " })],
            finishReason: "length"
          })
      )
      const error = yield* Agent.make({}).run("x").pipe(Effect.provide(model), Effect.flip)
      assert.match(
        (error as AgentError.UnexpectedModelBehavior).reason,
        /Model token limit \(provider default\) exceeded/
      )
    })
  )

  it.effect(
    "empty response stopped by the content filter: ContentFilterError with the reason",
    () =>
      Effect.gen(function* () {
        const model = FunctionModel.layer(
          () =>
            new Messages.ModelResponse({
              parts: [],
              finishReason: "content_filter",
              providerFinishReason: "SAFETY"
            })
        )
        const error = yield* Agent.make({}).run("x").pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "ContentFilterError")
        assert.strictEqual(error.message, "Content filter triggered. Finish reason: 'SAFETY'")
        assert.strictEqual((error as AgentError.ContentFilterError).messages.length, 2)
      })
  )

  it.effect(
    "a tool call truncated by the token limit: retried first, then a clear token-limit error",
    () =>
      Effect.gen(function* () {
        const calls = yield* Ref.make(0)
        const model = FunctionModel.layer(() =>
          Effect.as(
            Ref.update(calls, (n) => n + 1),
            new Messages.ModelResponse({
              parts: [
                new Messages.ToolCallPart({ toolName: "add", toolCallId: "c", args: '{"a": 1, "b' })
              ],
              finishReason: "length"
            })
          )
        )
        const error = yield* Agent.make({ tools: [add], modelSettings: { maxTokens: 20 } })
          .run("1+?")
          .pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        const e = error as AgentError.UnexpectedModelBehavior
        assert.match(
          e.reason,
          /^Model token limit \(20\) exceeded while generating a tool call for 'add': its arguments are incomplete JSON/
        )
        // retries = 1 (default): the model got one retry prompt about the bad JSON.
        assert.strictEqual(yield* Ref.get(calls), 2)
        const retry = (e.messages[2] as Messages.ModelRequest).parts[0] as Messages.RetryPromptPart
        assert.strictEqual(retry._tag, "RetryPromptPart")
        assert.match(retry.modelResponse, /Invalid JSON/)
      })
  )

  it.effect("a truncated output-tool call exhausting the output budget says the same", () =>
    Effect.gen(function* () {
      const output = finalResultOutput<unknown>((call) =>
        Effect.try({
          try: () => call.argsAsObject(),
          catch: () => new AgentError.ModelRetry({ reason: "Invalid JSON" })
        })
      )
      const model = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({
                toolName: "final_result",
                toolCallId: "o",
                args: '{"answer": "it is'
              })
            ],
            finishReason: "length"
          })
      )
      const error = yield* Agent.make({ output, outputRetries: 0 })
        .run("x")
        .pipe(Effect.provide(model), Effect.flip)
      assert.match(
        (error as AgentError.UnexpectedModelBehavior).reason,
        /exceeded while generating a tool call for 'final_result'.*Exceeded maximum output retries \(0\)/
      )
    })
  )

  it.effect("valid tool-call JSON with finish reason length is not treated as truncated", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({ toolName: "add", toolCallId: "c", args: '{"a": 1}' })
            ],
            finishReason: "length"
          })
      )
      const error = yield* Agent.make({ tools: [add], retries: 0 })
        .run("x")
        .pipe(Effect.provide(model), Effect.flip)
      assert.match(
        (error as AgentError.UnexpectedModelBehavior).reason,
        /^Tool 'add' exceeded max retries count of 0/
      )
    })
  )
})

describe("tool timeouts", () => {
  const slowTool = (started: Deferred.Deferred<void>, timeout?: Duration.DurationInput) =>
    Tool.make("slow", {
      parameters: Schema.Struct({}),
      ...(timeout !== undefined ? { timeout } : {}),
      handler: () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
    })

  /** Waits until the tool runs, lets the timer start, then moves the clock. */
  const advance = (started: Deferred.Deferred<void>, by: Duration.DurationInput) =>
    Effect.gen(function* () {
      yield* Deferred.await(started)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      yield* TestClock.adjust(by)
    })

  it.effect("a tool's timeout becomes a retry prompt and the run continues", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0 ? FunctionModel.toolCall("slow", {}, "c1") : "gave up"
      )
      const fiber = yield* Effect.fork(
        Agent.make({ tools: [slowTool(started, "1 second")] })
          .run("go")
          .pipe(Effect.provide(model))
      )
      yield* advance(started, "1 second")
      const result = yield* Fiber.join(fiber)
      assert.strictEqual(result.output, "gave up")
      const retry = (result.allMessages()[2] as Messages.ModelRequest)
        .parts[0] as Messages.RetryPromptPart
      assert.strictEqual(retry._tag, "RetryPromptPart")
      assert.strictEqual(retry.toolName, "slow")
      assert.strictEqual(retry.toolCallId, "c1")
      assert.strictEqual(retry.content, "Timed out after 1 seconds.")
    })
  )

  it.effect(
    "the agent's toolTimeout applies to tools without their own; it counts as a retry",
    () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        const model = FunctionModel.layer(() => FunctionModel.toolCall("slow", {}))
        const fiber = yield* Effect.fork(
          Agent.make({ tools: [slowTool(started)], toolTimeout: "2500 millis", retries: 0 })
            .run("go")
            .pipe(Effect.provide(model), Effect.flip)
        )
        yield* advance(started, "2500 millis")
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        assert.strictEqual(
          (error as AgentError.UnexpectedModelBehavior).reason,
          "Tool 'slow' exceeded max retries count of 0: Timed out after 2.5 seconds."
        )
      })
  )

  it.effect("a tool's own timeout wins over the agent's; fast tools are unaffected", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([
              { toolName: "slow", toolCallId: "s" },
              { toolName: "add", args: { a: 1, b: 2 }, toolCallId: "a" }
            ])
          : "done"
      )
      const fiber = yield* Effect.fork(
        Agent.make({ tools: [slowTool(started, "1 second"), add], toolTimeout: "1 hour" })
          .run("go")
          .pipe(Effect.provide(model))
      )
      yield* advance(started, "1 second")
      const result = yield* Fiber.join(fiber)
      const parts = (result.allMessages()[2] as Messages.ModelRequest).parts
      assert.strictEqual(parts[0]!._tag, "RetryPromptPart")
      assert.strictEqual(
        (parts[0] as Messages.RetryPromptPart).content,
        "Timed out after 1 seconds."
      )
      assert.strictEqual((parts[1] as Messages.ToolReturnPart).content, 3)
      assert.strictEqual(result.output, "done")
    })
  )
})

describe("agent configuration and runtimes", () => {
  it.effect("duplicate tool names in `tools` fail the run with a UserError naming the tool", () =>
    Effect.gen(function* () {
      const again = Tool.make("add", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed(0)
      })
      const error = yield* Effect.flip(Agent.make({ tools: [add, again] }).run("go"))
      assert.strictEqual(error._tag, "UserError")
      assert.match((error as AgentError.UserError).reason, /'add' is defined more than once/)
      const test = yield* TestModel.TestModel
      assert.strictEqual((yield* test.requests).length, 0)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it("runPromise on a ManagedRuntime built from TestModel.layer(): tools run, errors reject", async () => {
    const runtime = ManagedRuntime.make(TestModel.layer())
    const agent = Agent.make({ tools: [add] })
    const first = await Agent.runPromise(agent, runtime, "1+2?")
    assert.strictEqual(first.output, '{"add":0}')
    // The runtime (and its test model) is shared between runs.
    const second = await Agent.runPromise(agent, runtime, "again", {
      messageHistory: first.allMessages()
    })
    assert.strictEqual(second.newMessages().length, 2)
    const requests = await runtime.runPromise(
      Effect.flatMap(TestModel.TestModel, (t) => t.requests)
    )
    assert.strictEqual(requests.length, 3)
    const limited = Agent.make({
      tools: [add],
      usageLimits: new Usage.UsageLimits({ requestLimit: 1 })
    })
    const rejected = await Agent.runPromise(limited, runtime, "x").then(
      () => undefined,
      (e: unknown) => e
    )
    assert.match(String(rejected), /UsageLimitExceeded: .*request/i)
    await runtime.dispose()
  })
})
