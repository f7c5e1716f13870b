/**
 * `ToolAvailabilityDeltaEvent`: a tool return carrying `ToolReference`s (the agent's own tool
 * search found deferred tools) is followed by one event naming the tools made available and the
 * call that returned them — the same events, in the same place, from `runStream`, `run` with
 * `onEvent` and `iter`'s per-node streams. Results without references emit none.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, FunctionModel, Messages, Tool, Toolset } from "../src/index.js"
import { describeEvent } from "./support/events.js"

const deferred = (name: string, description: string) =>
  Tool.make(name, {
    description,
    parameters: Schema.Struct({ q: Schema.String }),
    deferLoading: true,
    handler: ({ q }) => Effect.succeed(`${name}:${q}`)
  })
const tools = Toolset.fromTools([
  deferred("get_exchange_rate", "Look up the current exchange rate between two currencies."),
  deferred("stock_price", "Look up a stock price by ticker symbol.")
]).pipe(Toolset.withToolSearch())

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

const model = FunctionModel.layer(
  (messages) => {
    switch (responses(messages)) {
      case 0:
        return FunctionModel.toolCall("search_tools", { queries: ["look up price rate"] })
      case 1:
        return FunctionModel.toolCall("stock_price", { q: "ACME" })
      default:
        return "done"
    }
  },
  {
    stream: (messages) =>
      Stream.make(
        responses(messages) === 0
          ? { 0: { name: "search_tools", jsonArgs: '{"queries":["look up price rate"]}' } }
          : responses(messages) === 1
            ? { 0: { name: "stock_price", jsonArgs: '{"q":"ACME"}' } }
            : "done"
      )
  }
)

const agent = Agent.make({ toolsets: [tools] })

const toolEvents = (events: ReadonlyArray<Agent.AgentStreamEvent<unknown>>) =>
  events
    .filter(
      (e) =>
        e._tag === "FunctionToolCallEvent" ||
        e._tag === "FunctionToolResultEvent" ||
        e._tag === "ToolAvailabilityDeltaEvent"
    )
    .map(describeEvent)

const expected = [
  "call search_tools",
  "result ToolReturnPart",
  "tools added get_exchange_rate,stock_price",
  "call stock_price",
  "result ToolReturnPart"
]

describe("ToolAvailabilityDeltaEvent", () => {
  it.effect("runStream: follows the search's result, names the found tools and the call", () =>
    Effect.gen(function* () {
      const events = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.runStream("price of ACME?"))
      )
      assert.deepStrictEqual(toolEvents(events), expected)
      const delta = events.find((e) => e._tag === "ToolAvailabilityDeltaEvent")
      const search = events.find(
        (e) => e._tag === "FunctionToolCallEvent" && e.part.toolName === "search_tools"
      )
      assert.strictEqual(delta?._tag, "ToolAvailabilityDeltaEvent")
      assert.strictEqual(search?._tag, "FunctionToolCallEvent")
      if (
        delta?._tag === "ToolAvailabilityDeltaEvent" &&
        search?._tag === "FunctionToolCallEvent"
      ) {
        assert.deepStrictEqual(delta.part.added, ["get_exchange_rate", "stock_price"])
        assert.strictEqual(delta.part.toolCallId, search.part.toolCallId)
        // The part it carries is a real request part: it round-trips like history does.
        const json = Schema.encodeSync(Messages.ModelRequestPart)(delta.part)
        assert.deepStrictEqual(
          Schema.decodeUnknownSync(Messages.ModelRequestPart)(json),
          delta.part
        )
      }
    }).pipe(Effect.provide(model))
  )

  it.effect("run + onEvent emits the same tool events as runStream", () =>
    Effect.gen(function* () {
      const seen: Array<Agent.AgentStreamEvent<unknown>> = []
      const result = yield* agent.run("price of ACME?", { onEvent: (e) => seen.push(e) })
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(toolEvents(seen), expected)
    }).pipe(Effect.provide(model))
  )

  it.scoped("iter: the CallToolsNode stream of the search carries the event", () =>
    Effect.gen(function* () {
      const run = yield* agent.iter("price of ACME?")
      const all: Array<Agent.AgentStreamEvent<unknown>> = []
      let node = yield* run.nextNode
      while (!Agent.isEndNode(node)) {
        all.push(...Chunk.toReadonlyArray(yield* Stream.runCollect(run.stream(node))))
        node = yield* run.nextNode
      }
      assert.deepStrictEqual(toolEvents(all), expected)
    }).pipe(Effect.provide(model))
  )

  it("toolAvailabilityDelta: none for results without references or for retries", () => {
    const plain = new Messages.ToolReturnPart({ toolName: "t", toolCallId: "c", content: ["x"] })
    assert.isUndefined(Messages.toolAvailabilityDelta(plain))
    const retry = new Messages.RetryPromptPart({ content: "again", toolCallId: "c" })
    assert.isUndefined(Messages.toolAvailabilityDelta(retry))
    const refs = new Messages.ToolReturnPart({
      toolName: "t",
      toolCallId: "c1",
      content: [
        new Messages.ToolReference({ toolName: "a" }),
        new Messages.ToolReference({ toolName: "a" }),
        "note"
      ]
    })
    const delta = Messages.toolAvailabilityDelta(refs)
    assert.deepStrictEqual(delta?.part.added, ["a"])
    assert.strictEqual(delta?.part.toolCallId, "c1")
  })
})
