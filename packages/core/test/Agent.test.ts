import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import {
  Agent,
  AgentError,
  FunctionModel,
  Messages,
  Model,
  RunContext,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { finalResultOutput } from "./support/output.js"

const add = Tool.make("add", {
  description: "Add two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const lastRequest = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelRequest") return m
  }
  throw new Error("no request")
}

const responsesSoFar = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

describe("Agent.run", () => {
  it.effect("plain text output with TestModel", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ name: "plain" })
      const result = yield* agent.run("hello")
      assert.strictEqual(result.output, "success (no tool calls)")
      assert.strictEqual(result.allMessages().length, 2)
      assert.strictEqual(result.usage.requests, 1)
      assert.deepStrictEqual(result.newMessages(), result.allMessages())
      const back = yield* Messages.decodeJson(result.allMessagesJson())
      assert.strictEqual(back.length, 2)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("multi-step tool loop: tool called, return sent back, text answer", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add] })
      const result = yield* agent.run("1+2?")
      // TestModel calls `add` with generated args (0, 0), then summarises returns as JSON.
      assert.strictEqual(result.output, '{"add":0}')
      assert.strictEqual(result.usage.requests, 2)
      assert.strictEqual(result.usage.toolCalls, 1)
      const msgs = result.allMessages()
      assert.deepStrictEqual(
        msgs.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
      )
      const ret = (msgs[2] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
      assert.strictEqual(ret._tag, "ToolReturnPart")
      assert.strictEqual(ret.toolName, "add")
      assert.strictEqual(ret.content, 0)
      const test = yield* TestModel.TestModel
      const first = (yield* test.requests)[0]!
      assert.deepStrictEqual(
        first.parameters.functionTools.map((t) => t.name),
        ["add"]
      )
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect(
    "instructions are recomputed per request and never stored as parts; system prompt only when fresh",
    () =>
      Effect.gen(function* () {
        const counter = yield* Ref.make(0)
        const agent = Agent.make({
          tools: [add],
          systemPrompt: "You are a calculator.",
          instructions: [
            "Be brief.",
            Effect.gen(function* () {
              const ctx = yield* RunContext.RunContext
              const n = yield* Ref.updateAndGet(counter, (x) => x + 1)
              return `step ${ctx.runStep} call ${n}`
            })
          ]
        })
        const result = yield* agent.run("hi")
        const requests = result.allMessages().filter((m) => m._tag === "ModelRequest")
        assert.strictEqual(requests[0]!.instructions, "Be brief.\n\nstep 1 call 1")
        assert.strictEqual(requests[1]!.instructions, "Be brief.\n\nstep 2 call 2")
        assert.strictEqual(requests[0]!.parts[0]!._tag, "SystemPromptPart")
        assert.isFalse(requests[1]!.parts.some((p) => p._tag === "SystemPromptPart"))
        // Continuing the conversation: no new system prompt.
        const again = yield* agent.run("more", { messageHistory: result.allMessages() })
        const newReqs = again.newMessages().filter((m) => m._tag === "ModelRequest")
        assert.isTrue(newReqs.length > 0)
        for (const r of newReqs) {
          assert.isFalse(r.parts.some((p) => p._tag === "SystemPromptPart"))
        }
        assert.strictEqual(
          again
            .allMessages()
            .filter((m) => m._tag === "ModelRequest")
            .flatMap((r) => r.parts)
            .filter((p) => p._tag === "SystemPromptPart").length,
          1
        )
      }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("parallel tool calls run concurrently; results recorded in emission order", () =>
    Effect.gen(function* () {
      const started = yield* Ref.make<Array<string>>([])
      const slow = (name: string, millis: number) =>
        Tool.make(name, {
          parameters: Schema.Struct({}),
          handler: () =>
            Ref.update(started, (xs) => [...xs, name]).pipe(
              Effect.zipRight(Effect.sleep(millis)),
              Effect.as(`${name} done`)
            )
        })
      const agent = Agent.make({ tools: [slow("a", 300), slow("b", 100), slow("c", 200)] })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([{ toolName: "a" }, { toolName: "b" }, { toolName: "c" }])
          : FunctionModel.text("done")
      )
      const fiber = yield* Effect.fork(agent.run("go").pipe(Effect.provide(model)))
      yield* TestClock.adjust(150)
      // all three started before the first finished: they run concurrently
      assert.deepStrictEqual((yield* Ref.get(started)).length, 3)
      yield* TestClock.adjust(300)
      const result = yield* fiber.await.pipe(Effect.flatten)
      const returns = (result.allMessages()[2] as Messages.ModelRequest)
        .parts as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        returns.map((p) => p.toolName),
        ["a", "b", "c"]
      )
      assert.strictEqual(result.output, "done")
    })
  )

  it.effect("a sequential tool is a barrier", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<Array<string>>([])
      const mk = (name: string, sequential: boolean) =>
        Tool.make(name, {
          parameters: Schema.Struct({}),
          sequential,
          handler: () =>
            Ref.update(log, (xs) => [...xs, `start ${name}`]).pipe(
              Effect.zipRight(Effect.sleep(10)),
              Effect.zipRight(Ref.update(log, (xs) => [...xs, `end ${name}`]))
            )
        })
      const agent = Agent.make({ tools: [mk("a", false), mk("s", true), mk("b", false)] })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([{ toolName: "a" }, { toolName: "s" }, { toolName: "b" }])
          : FunctionModel.text("ok")
      )
      const fiber = yield* Effect.fork(agent.run("go").pipe(Effect.provide(model)))
      yield* TestClock.adjust(100)
      yield* fiber.await
      assert.deepStrictEqual(yield* Ref.get(log), [
        "start a",
        "end a",
        "start s",
        "end s",
        "start b",
        "end b"
      ])
    })
  )

  it.effect("a tool requiring a service makes the run require it; a test layer satisfies it", () =>
    Effect.gen(function* () {
      class Db extends Context.Tag("Db")<Db, { readonly balance: Effect.Effect<number> }>() {}
      const balance = Tool.make("balance", {
        parameters: Schema.Struct({}),
        handler: () => Effect.flatMap(Db, (db) => db.balance)
      })
      const agent = Agent.make({ tools: [balance] })
      const run: Effect.Effect<Agent.AgentRunResult<string>, unknown, Db | Model.Model> = agent.run(
        "balance?"
      )
      const result = yield* run.pipe(
        Effect.provide(TestModel.layer()),
        Effect.provide(Layer.succeed(Db, { balance: Effect.succeed(42) }))
      )
      assert.strictEqual(result.output, '{"balance":42}')
    })
  )
})

describe("retries", () => {
  it.effect(
    "bad tool arguments send a retry prompt with the validation errors; success resets",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({ tools: [add] })
        const model = FunctionModel.layer((messages) => {
          const n = responsesSoFar(messages)
          if (n === 0) return FunctionModel.toolCall("add", { a: "x", b: 1 }, "c1")
          if (n === 1) return FunctionModel.toolCall("add", { a: 1, b: 2 }, "c2")
          return FunctionModel.text("three")
        })
        const result = yield* agent.run("1+2").pipe(Effect.provide(model))
        assert.strictEqual(result.output, "three")
        const retry = (result.allMessages()[2] as Messages.ModelRequest)
          .parts[0] as Messages.RetryPromptPart
        assert.strictEqual(retry._tag, "RetryPromptPart")
        assert.strictEqual(retry.toolName, "add")
        assert.strictEqual(retry.toolCallId, "c1")
        assert.match(retry.modelResponse, /1 validation error/)
        assert.match(retry.modelResponse, /Fix the errors and try again\.$/)
        const ret = (result.allMessages()[4] as Messages.ModelRequest)
          .parts[0] as Messages.ToolReturnPart
        assert.strictEqual(ret.content, 3)
      })
  )

  it.effect(
    "ModelRetry from a tool: retries = N allows N retries, then UnexpectedModelBehavior with history",
    () =>
      Effect.gen(function* () {
        const calls = yield* Ref.make(0)
        const flaky = Tool.make("flaky", {
          parameters: Schema.Struct({}),
          retries: 2,
          handler: () =>
            Effect.gen(function* () {
              const ctx = yield* RunContext.RunContext
              yield* Ref.update(calls, (n) => n + 1)
              return yield* new AgentError.ModelRetry({ reason: `try again (retry ${ctx.retry})` })
            })
        })
        const agent = Agent.make({ tools: [flaky] })
        const model = FunctionModel.layer(() => FunctionModel.toolCall("flaky", {}))
        const error = yield* agent.run("go").pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        assert.strictEqual(yield* Ref.get(calls), 3)
        if (error._tag === "UnexpectedModelBehavior") {
          assert.match(error.reason, /Tool 'flaky' exceeded max retries count of 2/)
          // request, response, retry, response, retry, response
          assert.strictEqual(error.messages.length, 6)
          const retry = (error.messages[4] as Messages.ModelRequest)
            .parts[0] as Messages.RetryPromptPart
          assert.strictEqual(retry.content, "try again (retry 1)")
          assert.strictEqual(
            retry.modelResponse,
            "try again (retry 1)\n\nFix the errors and try again."
          )
        }
      })
  )

  it.effect("unknown tool name gets a retry prompt listing the tools", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add] })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCall("nope", {})
          : FunctionModel.text("ok")
      )
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      const retry = (result.allMessages()[2] as Messages.ModelRequest)
        .parts[0] as Messages.RetryPromptPart
      assert.strictEqual(retry.content, "Unknown tool name: 'nope'. Available tools: 'add'")
      assert.strictEqual(result.output, "ok")
    })
  )

  it.effect("unknown tool exhausting its budget fails the run", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add], retries: 0 })
      const model = FunctionModel.layer(() => FunctionModel.toolCall("nope", {}))
      const error = yield* agent.run("go").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
    })
  )

  it.effect("empty response: retry prompt, then output budget exhaustion", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ outputRetries: 2 })
      const model = FunctionModel.layer(() => FunctionModel.text(""))
      const error = yield* agent.run("go").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      if (error._tag === "UnexpectedModelBehavior") {
        assert.strictEqual(
          error.reason,
          "Exceeded maximum output retries (2); the last output was refused: Please return text."
        )
        const retry = (error.messages[2] as Messages.ModelRequest)
          .parts[0] as Messages.RetryPromptPart
        assert.strictEqual(
          retry.modelResponse,
          "Validation feedback:\nPlease return text.\n\nFix the errors and try again."
        )
        assert.strictEqual(error.messages.filter((m) => m._tag === "ModelResponse").length, 3)
      }
    })
  )

  it.effect(
    "text when a tool call is required asks for a tool call; output validator retries",
    () =>
      Effect.gen(function* () {
        const structured = finalResultOutput(
          (call) => Effect.succeed(call.argsAsObject() as { n: number }),
          { type: "object", properties: { n: { type: "number" } } }
        )
        const agent = Agent.make({
          output: structured,
          outputRetries: 3,
          outputValidators: [
            (o) =>
              o.n > 0
                ? Effect.succeed(o)
                : Effect.fail(new AgentError.ModelRetry({ reason: "n must be positive" }))
          ]
        })
        const model = FunctionModel.layer((messages) => {
          const n = responsesSoFar(messages)
          if (n === 0) return FunctionModel.text("here it is")
          if (n === 1) return FunctionModel.toolCall("final_result", { n: 0 }, "o1")
          return FunctionModel.toolCall("final_result", { n: 5 }, "o2")
        })
        const result = yield* agent.run("go").pipe(Effect.provide(model))
        assert.deepStrictEqual(result.output, { n: 5 })
        const msgs = result.allMessages()
        const r1 = (msgs[2] as Messages.ModelRequest).parts[0] as Messages.RetryPromptPart
        assert.strictEqual(r1.content, "Please include your response in a tool call.")
        const r2 = (msgs[4] as Messages.ModelRequest).parts[0] as Messages.RetryPromptPart
        assert.strictEqual(r2.toolCallId, "o1")
        assert.strictEqual(r2.content, "n must be positive")
        const last = msgs[msgs.length - 1] as Messages.ModelRequest
        assert.strictEqual(
          (last.parts[0] as Messages.ToolReturnPart).content,
          "Final result processed."
        )
        const test = lastRequest(msgs)
        assert.isDefined(test)
      })
  )
})

describe("usage limits", () => {
  it.effect("requestLimit N allows exactly N requests", () =>
    Effect.gen(function* () {
      const counter = yield* Ref.make(0)
      const model = FunctionModel.layer((messages) =>
        Effect.as(
          Ref.update(counter, (n) => n + 1),
          FunctionModel.toolCall("add", { a: 1, b: 1 }, `c${messages.length}`)
        )
      )
      const agent = Agent.make({
        tools: [add],
        usageLimits: new Usage.UsageLimits({ requestLimit: 3 })
      })
      const error = yield* agent.run("loop").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      assert.strictEqual(yield* Ref.get(counter), 3)
      if (error._tag === "UsageLimitExceeded") {
        assert.strictEqual(error.limit, "requestLimit")
        assert.strictEqual(error.messages.filter((m) => m._tag === "ModelResponse").length, 3)
      }
    })
  )

  it.effect("no tool of a batch runs when the batch would exceed the tool-call limit", () =>
    Effect.gen(function* () {
      const ran = yield* Ref.make(0)
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Ref.update(ran, (n) => n + 1)
      })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([{ toolName: "t" }])
          : FunctionModel.toolCalls([{ toolName: "t" }, { toolName: "t" }])
      )
      const agent = Agent.make({ tools: [t] })
      const error = yield* agent
        .run("go", { usageLimits: new Usage.UsageLimits({ toolCallsLimit: 2 }) })
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      assert.strictEqual(yield* Ref.get(ran), 1)
      if (error._tag === "UsageLimitExceeded") assert.strictEqual(error.limit, "toolCallsLimit")
    })
  )

  it.effect(
    "token limits are checked after each response; a run can start from a given usage",
    () =>
      Effect.gen(function* () {
        const model = FunctionModel.layer(
          () =>
            new Messages.ModelResponse({
              parts: [new Messages.TextPart({ content: "hi" })],
              usage: new Usage.RequestUsage({ inputTokens: 10, outputTokens: 5 })
            })
        )
        const agent = Agent.make({})
        const ok = yield* agent.run("a").pipe(Effect.provide(model))
        assert.strictEqual(ok.usage.totalTokens, 15)
        const continued = yield* agent.run("b", { usage: ok.usage }).pipe(Effect.provide(model))
        assert.strictEqual(continued.usage.requests, 2)
        assert.strictEqual(continued.usage.totalTokens, 30)
        const error = yield* agent
          .run("c", {
            usage: continued.usage,
            usageLimits: new Usage.UsageLimits({ totalTokensLimit: 40 })
          })
          .pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "UsageLimitExceeded")
        if (error._tag === "UsageLimitExceeded") {
          assert.strictEqual(error.limit, "totalTokensLimit")
          assert.strictEqual(error.value, 45)
          assert.strictEqual(error.messages.length, 2)
        }
      })
  )
})
