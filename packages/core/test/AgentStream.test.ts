import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  FunctionModel,
  Messages,
  Model,
  OutputSpec,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { describeEvent } from "./support/events.js"

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})

const responsesSoFar = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

describe("Agent.runStream", () => {
  it.effect("text: part events, FinalResultEvent after the text part starts, result last", () =>
    Effect.gen(function* () {
      const agent = Agent.make({})
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make("Hello", " wor", "ld")
      })
      const events = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.runStream("hi").pipe(Stream.provideLayer(model)))
      )
      const kinds = events.map(describeEvent)
      assert.strictEqual(kinds[0], "start 0 TextPart")
      assert.strictEqual(kinds[1], "final text")
      assert.strictEqual(kinds[kinds.length - 1], "done")
      assert.include(kinds, "end 0 TextPart")
      const last = events[events.length - 1]!
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      if (last._tag === "AgentRunResultEvent") {
        assert.strictEqual(last.result.output, "Hello world")
        assert.strictEqual(last.result.allMessages().length, 2)
      }
    })
  )

  it.effect("tool calls: runs through tools to the end, tool events between the responses", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add] })
      const events = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          agent.runStream("1+1").pipe(Stream.provideLayer(TestModel.layer()))
        )
      )
      const kinds = events.map(describeEvent)
      const call = kinds.indexOf("call add")
      const result = kinds.indexOf("result ToolReturnPart")
      const firstEnd = kinds.indexOf("end 0 ToolCallPart")
      assert.isTrue(firstEnd >= 0 && firstEnd < call && call < result)
      const textStart = kinds.lastIndexOf("start 0 TextPart")
      assert.isTrue(textStart > result)
      assert.strictEqual(kinds[kinds.length - 1], "done")
      const final = yield* Agent.finalResult(
        agent.runStream("1+1").pipe(Stream.provideLayer(TestModel.layer()))
      )
      assert.strictEqual(final.output, '{"add":0}')
      assert.strictEqual(final.usage.requests, 2)
    })
  )

  it.effect("streamText: deltas and cumulative snapshots", () =>
    Effect.gen(function* () {
      const agent = Agent.make({})
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make("a", "b", "c").pipe(Stream.rechunk(1))
      })
      const deltas = yield* Stream.runCollect(
        Agent.streamText(agent.runStream("x"), { delta: true }).pipe(Stream.provideLayer(model))
      )
      assert.strictEqual(Chunk.join(deltas, ""), "abc")
      const cumulative = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          Agent.streamText(agent.runStream("x")).pipe(Stream.provideLayer(model))
        )
      )
      assert.strictEqual(cumulative[cumulative.length - 1], "abc")
      assert.isTrue(cumulative.length >= 2)
    })
  )

  it.effect(
    "streamText: one stream value run twice (even at once) keeps each run's text apart",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({})
        // Each item yields to the scheduler so the two concurrent runs interleave chunk by chunk.
        const model = FunctionModel.layer(undefined, {
          stream: () =>
            Stream.make("a", "b", "c").pipe(
              Stream.rechunk(1),
              Stream.tap(() => Effect.yieldNow())
            )
        })
        const text = Agent.streamText(agent.runStream("x")).pipe(Stream.provideLayer(model))
        const first = Chunk.toReadonlyArray(yield* Stream.runCollect(text))
        const second = Chunk.toReadonlyArray(yield* Stream.runCollect(text))
        assert.deepStrictEqual(first, ["a", "ab", "abc"])
        assert.deepStrictEqual(second, ["a", "ab", "abc"])
        const [x, y] = yield* Effect.all([Stream.runCollect(text), Stream.runCollect(text)], {
          concurrency: 2
        })
        assert.deepStrictEqual(Chunk.toReadonlyArray(x), ["a", "ab", "abc"])
        assert.deepStrictEqual(Chunk.toReadonlyArray(y), ["a", "ab", "abc"])
      })
  )

  it.effect(
    "20,000 text deltas, one per network read, stream through runStream + streamText in well under a second",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({})
        const n = 20_000
        // One item per chunk: the worst case, every delta arriving in its own network read.
        const model = FunctionModel.layer(undefined, {
          stream: () =>
            Stream.range(1, n).pipe(
              Stream.map((i) => `${i % 10}`),
              Stream.rechunk(1)
            )
        })
        const stream = Agent.streamText(agent.runStream("go"), { delta: true }).pipe(
          Stream.provideLayer(model)
        )
        const startedAt = performance.now()
        const text = yield* Stream.runFold(stream, "", (acc, d) => acc + d)
        const elapsed = performance.now() - startedAt
        assert.strictEqual(text.length, n)
        assert.strictEqual(text.slice(0, 12), "123456789012") // in order
        // ~0.2 s here; a generous bound so a slow CI machine cannot flake
        assert.isBelow(elapsed, 3_000)
      })
  )

  it.effect("streamOutput yields partial outputs, then the final one", () =>
    Effect.gen(function* () {
      const upper = OutputSpec.make<string>({
        mode: "text",
        allowTextOutput: true,
        handleText: (text) => Effect.succeed(text.toUpperCase()),
        handleToolCall: () => Effect.die("unused")
      })
      const agent = Agent.make({ output: upper })
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make("ab", "cd").pipe(Stream.rechunk(1))
      })
      const outputs = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.streamOutput("x").pipe(Stream.provideLayer(model)))
      )
      assert.deepStrictEqual(outputs, ["AB", "ABCD", "ABCD"])
      // the deprecated function form is the method
      const viaFunction = Chunk.toReadonlyArray(
        yield* Stream.runCollect(Agent.streamOutput(agent, "x").pipe(Stream.provideLayer(model)))
      )
      assert.deepStrictEqual(viaFunction, outputs)
    })
  )

  it.effect("streamOutput skips snapshots that decode to nothing yet", () =>
    Effect.gen(function* () {
      // a partial decoder that has nothing to show until the text holds a comma
      const firstWord = OutputSpec.make<string | undefined>({
        mode: "text",
        allowTextOutput: true,
        handleText: (text) => Effect.succeed(text.includes(",") ? text.split(",")[0] : undefined),
        handleToolCall: () => Effect.die("unused")
      })
      const agent = Agent.make({ output: firstWord })
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.make("ab", "cd", ",e").pipe(Stream.rechunk(1))
      })
      const outputs = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.streamOutput("x").pipe(Stream.provideLayer(model)))
      )
      assert.deepStrictEqual(outputs, ["abcd", "abcd"])
    })
  )

  it.effect(
    "streamOutput's throttle decodes at most one partial per interval, then the final",
    () =>
      Effect.gen(function* () {
        const upper = OutputSpec.make<string>({
          mode: "text",
          allowTextOutput: true,
          handleText: (text) => Effect.succeed(text.toUpperCase()),
          handleToolCall: () => Effect.die("unused")
        })
        const agent = Agent.make({ output: upper })
        const model = FunctionModel.layer(undefined, {
          stream: () => Stream.make("ab", "cd", "ef", "gh").pipe(Stream.rechunk(1))
        })
        const collect = (throttle?: Duration.DurationInput) =>
          Effect.map(
            Stream.runCollect(
              agent
                .streamOutput("x", throttle === undefined ? {} : { throttle })
                .pipe(Stream.provideLayer(model))
            ),
            Chunk.toReadonlyArray
          )
        // the TestClock does not move: within one interval only the first partial is decoded
        assert.deepStrictEqual(yield* collect("1 second"), ["AB", "ABCDEFGH"])
        assert.deepStrictEqual(yield* collect(), ["AB", "ABCD", "ABCDEF", "ABCDEFGH", "ABCDEFGH"])
      })
  )

  it.effect(
    "a long tool loop streams every node in order; each request's scope closes before the next opens",
    () =>
      Effect.gen(function* () {
        const rounds = 300
        let open = 0
        let maxOpen = 0
        const agent = Agent.make({ tools: [add] })
        const inner = yield* FunctionModel.make(undefined, {
          stream: (messages) => {
            const n = responsesSoFar(messages)
            return Stream.make<Array<FunctionModel.StreamItem>>(
              n < rounds ? { 0: { name: "add", jsonArgs: `{"a":${n},"b":1}` } } : "done"
            )
          }
        })
        // Counts the requests whose scope (the connection's, for a provider) is still open.
        const model = Model.make({
          ...inner,
          requestStream: (messages, settings, parameters) =>
            Effect.zipRight(
              Effect.acquireRelease(
                Effect.sync(() => {
                  open++
                  maxOpen = Math.max(maxOpen, open)
                }),
                () => Effect.sync(() => open--)
              ),
              inner.requestStream(messages, settings, parameters)
            )
        })
        const events = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            agent
              .runStream("count", { usageLimits: Usage.UsageLimits.make({ requestLimit: null }) })
              .pipe(Stream.provideService(Model.Model, model))
          )
        )
        const kinds = events.map(describeEvent)
        assert.strictEqual(kinds.filter((k) => k === "call add").length, rounds)
        assert.strictEqual(kinds.filter((k) => k === "result ToolReturnPart").length, rounds)
        assert.strictEqual(kinds[kinds.length - 1], "done")
        const last = events[events.length - 1]!
        assert.strictEqual(last._tag, "AgentRunResultEvent")
        if (last._tag === "AgentRunResultEvent") {
          assert.strictEqual(last.result.output, "done")
          assert.strictEqual(last.result.allMessages().length, 2 + 2 * rounds)
        }
        assert.strictEqual(maxOpen, 1)
        assert.strictEqual(open, 0)
      })
  )
})

describe("Agent.iter", () => {
  it.scoped("steps node by node: user prompt → model request → call tools → … → end", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add] })
      const run = yield* agent.iter("1+1")
      const seen: Array<string> = []
      let node = yield* run.nextNode
      while (!Agent.isEndNode(node)) {
        seen.push(node._tag)
        node = yield* run.next(node)
      }
      assert.deepStrictEqual(seen, [
        "UserPromptNode",
        "ModelRequestNode",
        "CallToolsNode",
        "ModelRequestNode",
        "CallToolsNode"
      ])
      assert.strictEqual(node.result.output, '{"add":0}')
      assert.isTrue(Option.isSome(yield* run.result))
      assert.strictEqual((yield* run.messages).length, 4)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.scoped("streams a single node's events", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [add] })
      const model = FunctionModel.layer(
        (messages) =>
          responsesSoFar(messages) === 0 ? FunctionModel.toolCall("add", { a: 2, b: 3 }) : "five",
        {
          stream: (messages) =>
            Stream.make(
              responsesSoFar(messages) === 0
                ? { 0: { name: "add", jsonArgs: '{"a":2,"b":3}' } }
                : "five"
            )
        }
      )
      const run = yield* agent.iter("2+3").pipe(Effect.provide(model))
      const first = yield* run.nextNode
      assert.isTrue(Agent.isUserPromptNode(first))
      const request = yield* run.next(first)
      assert.isTrue(Agent.isModelRequestNode(request))
      const reqEvents = yield* Stream.runCollect(run.stream(request))
      assert.include(Chunk.toReadonlyArray(reqEvents).map(describeEvent), "start 0 ToolCallPart")
      const callTools = yield* run.nextNode
      assert.isTrue(Agent.isCallToolsNode(callTools))
      const toolEvents = Chunk.toReadonlyArray(yield* Stream.runCollect(run.stream(callTools)))
      assert.deepStrictEqual(toolEvents.map(describeEvent), ["call add", "result ToolReturnPart"])
      const rest = Chunk.toReadonlyArray(yield* Stream.runCollect(run.nodes))
      assert.deepStrictEqual(
        rest.map((n) => n._tag),
        ["CallToolsNode", "End"]
      )
      const end = rest[rest.length - 1]!
      if (Agent.isEndNode(end)) assert.strictEqual(end.result.output, "five")
    })
  )
})
