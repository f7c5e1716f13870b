import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { Agent, AgentError, CaptureRunMessages, FunctionModel, Tool } from "@agentfx/core"

describe("interruption (what the AgentError docs promise)", () => {
  it.effect(
    "an interrupted run exits interrupted, not with an AgentError, and its messages are captured",
    () =>
      Effect.gen(function* () {
        const wait = Tool.make("wait", {
          parameters: Schema.Struct({}),
          handler: () => Effect.as(Effect.sleep("1 hour"), "waited")
        })
        const agent = Agent.make({ tools: [wait] })
        const model = FunctionModel.layer(() => FunctionModel.toolCall("wait", {}))
        const inner = yield* Effect.fork(
          CaptureRunMessages.capture(
            agent.run("go").pipe(Effect.provide(model), Effect.timeout("10 seconds"))
          )
        )
        yield* TestClock.adjust("11 seconds")
        const { exit, messages } = yield* Fiber.join(inner)
        // A timeout is a typed TimeoutException around an interrupted run…
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isSuccess(exit)) return
        const failure = Cause.failureOption(exit.cause)
        assert.isTrue(failure._tag === "Some" && Cause.isTimeoutException(failure.value))
        // …never an AgentError: the module has no interruption error at all.
        assert.notProperty(AgentError, "RunInterrupted")
        // The messages so far survive: the prompt and the tool call.
        assert.deepStrictEqual(
          messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
      })
  )

  it.effect("Fiber.interrupt: the run's exit is interruption only", () =>
    Effect.gen(function* () {
      const agent = Agent.make({})
      const model = FunctionModel.layer(() =>
        Effect.as(Effect.sleep("1 hour"), FunctionModel.text("late"))
      )
      const fiber = yield* Effect.fork(agent.run("go").pipe(Effect.provide(model)))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isTrue(Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause))
    })
  )
})
