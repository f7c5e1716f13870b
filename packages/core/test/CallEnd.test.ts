import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { Agent, FunctionModel, type Messages, Tool, Toolset } from "@agentfx/core"

/** The run's `CallEnd` (a tool's requirements stay `never`: it is read as an option). */
const callEnd = Effect.map(Effect.serviceOption(Tool.CallEnd), Option.getOrThrow)

/** A tool recording, per call, what happened: its handler ran, its `CallEnd` callbacks ran. */
const recorder = () => {
  const log: Array<string> = []
  const make = (
    handler: (text: string) => Effect.Effect<string>,
    timeout?: Duration.DurationInput
  ) =>
    Tool.make("rec", {
      parameters: Schema.Struct({ text: Schema.String }),
      ...(timeout !== undefined ? { timeout } : {}),
      handler: ({ text }) =>
        Effect.flatMap(callEnd, (end) => {
          end.onEnd(() => log.push(`end ${text}`))
          end.onEnd(() => log.push(`end2 ${text}`))
          return Effect.tap(handler(text), () => Effect.sync(() => log.push(`result ${text}`)))
        })
    })
  return { log, make }
}

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

describe("Tool.CallEnd", () => {
  it.effect("runs each callback once when the call ends, after its result, per call in order", () =>
    Effect.gen(function* () {
      const { log, make } = recorder()
      const model = FunctionModel.layer((messages) =>
        responses(messages) === 0
          ? FunctionModel.toolCalls([
              { toolName: "rec", args: { text: "a" }, toolCallId: "a" },
              { toolName: "rec", args: { text: "b" }, toolCallId: "b" }
            ])
          : "done"
      )
      const agent = Agent.make({ tools: [make((t) => Effect.succeed(t))], maxConcurrency: 1 })
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(log, ["result a", "end a", "end2 a", "result b", "end b", "end2 b"])
      assert.strictEqual(result.usage.toolCalls, 2)
    })
  )

  it.effect("runs when the call's time limit ends it (TestClock); the model gets the retry", () =>
    Effect.gen(function* () {
      const { log, make } = recorder()
      const started = yield* Deferred.make<void>()
      const model = FunctionModel.layer((messages) =>
        responses(messages) === 0 ? FunctionModel.toolCall("rec", { text: "slow" }, "c1") : "ok"
      )
      const tool = make(
        () => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never),
        "1 second"
      )
      const fiber = yield* Effect.fork(
        Agent.make({ tools: [tool] })
          .run("go")
          .pipe(Effect.provide(model))
      )
      yield* Deferred.await(started)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      assert.deepStrictEqual(log, [])
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(log, ["end slow", "end2 slow"])
      const retry = (result.allMessages()[2] as Messages.ModelRequest).parts[0]!
      assert.strictEqual(retry._tag, "RetryPromptPart")
      assert.strictEqual((retry as Messages.RetryPromptPart).content, "Timed out after 1 seconds.")
    })
  )

  it.effect("runs when the run is interrupted while the call waits", () =>
    Effect.gen(function* () {
      const { log, make } = recorder()
      const started = yield* Deferred.make<void>()
      const model = FunctionModel.layer(() => FunctionModel.toolCall("rec", { text: "w" }, "c1"))
      const tool = make(() => Effect.zipRight(Deferred.succeed(started, undefined), Effect.never))
      const fiber = yield* Effect.fork(
        Agent.make({ tools: [tool] })
          .run("go")
          .pipe(Effect.provide(model))
      )
      yield* Deferred.await(started)
      assert.deepStrictEqual(log, [])
      yield* Fiber.interrupt(fiber)
      assert.deepStrictEqual(log, ["end w", "end2 w"])
    })
  )

  it.effect(
    "runs when the handler fails the run; a callback added after the end runs at once",
    () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        let later: Tool.CallEndService | undefined
        const boom = Tool.make("boom", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.flatMap(callEnd, (end) => {
              later = end
              end.onEnd(() => log.push("end"))
              return Effect.die("boom")
            })
        })
        const model = FunctionModel.layer(() => FunctionModel.toolCall("boom", {}, "c1"))
        const exit = yield* Effect.exit(
          Agent.make({ tools: [boom] })
            .run("go")
            .pipe(Effect.provide(model))
        )
        assert.isTrue(exit._tag === "Failure")
        assert.deepStrictEqual(log, ["end"])
        later!.onEnd(() => log.push("late"))
        assert.deepStrictEqual(log, ["end", "late"])
      })
  )

  it.effect("is absent outside a run's tool call", () =>
    Effect.gen(function* () {
      assert.isTrue(Option.isNone(yield* Effect.serviceOption(Tool.CallEnd)))
    })
  )

  it.effect(
    "timeLimit: the tool's timeout, else the agent's toolTimeout, through call and start",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const show = (path: string, limit: Duration.Duration | undefined) =>
          seen.push(`${path} ${limit === undefined ? "none" : Duration.toMillis(limit)}`)
        const tool = (name: string, timeout?: Duration.DurationInput) =>
          Tool.make(name, {
            parameters: Schema.Struct({}),
            ...(timeout !== undefined ? { timeout } : {}),
            handler: () =>
              Effect.map(callEnd, (end) => {
                show(`call ${name}`, end.timeLimit)
                return "ok"
              })
          })
        /** The same tools also offered as promises: the run starts them with their limit. */
        const startable = (tools: ReadonlyArray<Tool.Any>) =>
          Toolset.make(() =>
            Effect.succeed(
              Toolset.fromTools(tools).fixed!.map((t) => ({
                ...t,
                start: {
                  of: t.call,
                  start: (_args: unknown, limit?: Duration.Duration) => {
                    show(`start ${t.definition.name}`, limit)
                    return { promise: Promise.resolve("ok"), cancel: () => undefined }
                  }
                }
              }))
            )
          )
        const model = FunctionModel.layer((messages) =>
          responses(messages) === 0
            ? FunctionModel.toolCalls([
                { toolName: "own", args: {}, toolCallId: "1" },
                { toolName: "agents", args: {}, toolCallId: "2" }
              ])
            : "done"
        )
        const tools = [tool("own", "2 seconds"), tool("agents")]
        for (const toolTimeout of ["5 seconds", undefined] as const) {
          yield* Agent.make({ tools, ...(toolTimeout !== undefined ? { toolTimeout } : {}) })
            .run("go")
            .pipe(Effect.provide(model))
          yield* Agent.make({
            toolsets: [startable(tools)],
            ...(toolTimeout !== undefined ? { toolTimeout } : {})
          })
            .run("go")
            .pipe(Effect.provide(model))
        }
        // (the calls of one response run concurrently: their order is not the test's subject)
        assert.deepStrictEqual([...seen].sort(), [
          "call agents 5000",
          "call agents none",
          "call own 2000",
          "call own 2000",
          "start agents 5000",
          "start agents none",
          "start own 2000",
          "start own 2000"
        ])
      }).pipe(TestServices.provideLive)
  )
})
