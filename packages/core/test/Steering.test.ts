/**
 * Steering a running run: `RunOptions.steering` (a `Queue`) and `AgentRun.enqueue` deliver user
 * prompts at the next model request, after that request's own parts, in the history; a taken
 * prompt is never lost, also when the run is interrupted.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, AgentError, FunctionModel, Messages, Tool } from "@agentfx/core"

/** The parts of each request, as `tag:text` strings. */
const requestParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages
    .filter((m): m is Messages.ModelRequest => m._tag === "ModelRequest")
    .map((m) =>
      m.parts.map((p) =>
        p._tag === "UserPromptPart"
          ? `user:${typeof p.content === "string" ? p.content : "[content]"}`
          : p._tag === "ToolReturnPart"
            ? `return:${p.toolName}`
            : p._tag
      )
    )

/** Calls `lookup` until the model has seen "stop" from the user, then answers with the count. */
const script = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const prompts = messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter((p) => p._tag === "UserPromptPart").map((p) => p.content)
      : []
  )
  return prompts.includes("stop")
    ? `saw ${prompts.length} prompts`
    : FunctionModel.toolCall("lookup", {}, `call_${messages.length}`)
}
const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })

describe("RunOptions.steering", () => {
  it.effect("a prompt offered while a tool runs goes with that tool's result", () =>
    Effect.gen(function* () {
      const steering = yield* Queue.unbounded<string | ReadonlyArray<Messages.UserContent>>()
      let lookups = 0
      const lookup = Tool.make("lookup", {
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.suspend(() => {
            lookups++
            // The second lookup steers the run to an end.
            return lookups === 2
              ? Effect.as(steering.offer("stop"), "found")
              : Effect.succeed("found")
          })
      })
      const agent = Agent.make({ tools: [lookup] })
      const result = yield* agent.run("search", { steering })
      assert.strictEqual(result.output, "saw 2 prompts")
      assert.deepStrictEqual(requestParts(result.allMessages()), [
        ["user:search"],
        ["return:lookup"],
        ["return:lookup", "user:stop"]
      ])
      // The queue was emptied; it stays the caller's.
      assert.strictEqual(yield* Queue.size(steering), 0)
      // runStream: the same delivery.
      lookups = 0
      const streamed = yield* Agent.finalResult(agent.runStream("search", { steering }))
      assert.deepStrictEqual(
        requestParts(streamed.allMessages()),
        requestParts(result.allMessages())
      )
    }).pipe(Effect.provide(model))
  )

  it.effect("prompts offered before the run go with the first request; structured ones too", () =>
    Effect.gen(function* () {
      const steering = yield* Queue.unbounded<string | ReadonlyArray<Messages.UserContent>>()
      yield* steering.offer("be brief")
      yield* steering.offer([new Messages.ImageUrl({ url: "https://example.test/a.png" })])
      yield* steering.offer("stop")
      const agent = Agent.make({ tools: [] })
      const result = yield* agent
        .run("hello", { steering })
        .pipe(Effect.provide(FunctionModel.layer(script)))
      assert.deepStrictEqual(requestParts(result.allMessages()), [
        ["user:hello", "user:be brief", "user:[content]", "user:stop"]
      ])
      assert.strictEqual(result.output, "saw 4 prompts")
      // JSON round trip of the steered history.
      const back = yield* Messages.decodeJson(Messages.encodeJson(result.allMessages()))
      assert.deepStrictEqual(back, result.allMessages())
    })
  )

  it.scoped("interrupted while the model answers: the taken prompt is in the history", () =>
    Effect.gen(function* () {
      const steering = yield* Queue.unbounded<string | ReadonlyArray<Messages.UserContent>>()
      const started = yield* Deferred.make<void>()
      const hanging = FunctionModel.layer(() =>
        Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)
      )
      yield* steering.offer("also this")
      const agent = Agent.make({})
      const run = yield* agent.iter("hello", { steering }).pipe(Effect.provide(hanging))
      const fiber = yield* Effect.fork(Stream.runDrain(run.nodes))
      yield* Deferred.await(started)
      yield* steering.offer("too late")
      yield* Fiber.interrupt(fiber)
      // The taken prompt is in the history (the request was recorded before it was sent); the
      // one offered afterwards is still in the queue.
      assert.deepStrictEqual(requestParts(yield* run.messages), [["user:hello", "user:also this"]])
      assert.deepStrictEqual([...(yield* Queue.takeAll(steering))], ["too late"])
    })
  )
})

describe("AgentRun.enqueue", () => {
  it.scoped("iter: an enqueued prompt is sent with the next request and is in the history", () =>
    Effect.gen(function* () {
      const lookup = Tool.make("lookup", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("found")
      })
      const agent = Agent.make({ tools: [lookup] })
      const run = yield* agent.iter("search")
      let node = yield* run.nextNode
      const seen: Array<string> = []
      while (node._tag !== "End") {
        seen.push(node._tag)
        // After the first tool step, steer the run to an end.
        if (node._tag === "CallToolsNode" && seen.length === 3) yield* run.enqueue("stop")
        node = yield* run.next(node)
      }
      assert.strictEqual(node.result.output, "saw 2 prompts")
      assert.deepStrictEqual(requestParts(yield* run.messages), [
        ["user:search"],
        ["return:lookup", "user:stop"]
      ])
    }).pipe(Effect.provide(model))
  )

  it.scoped("invalid structured content is a UserError; the run goes on", () =>
    Effect.gen(function* () {
      const agent = Agent.make({})
      const run = yield* agent.iter("hi")
      const bad = [{ _tag: "ImageUrl" }] as unknown as ReadonlyArray<Messages.UserContent>
      const error = yield* Effect.flip(run.enqueue(bad))
      assert.instanceOf(error, AgentError.UserError)
      assert.include(error.message, "Steering message")
      const result = yield* Stream.runDrain(run.nodes).pipe(Effect.zipRight(run.result))
      assert.isTrue(result._tag === "Some")
    }).pipe(Effect.provide(FunctionModel.layer(() => "ok")))
  )
})
