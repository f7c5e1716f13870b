/**
 * Streaming a durable run: the events of the steps executing in this process (model deltas
 * from the streamed request inside the model activity, tool calls and results), the steps
 * completed before a late subscriber joined, stops for deferred calls, and the result — while
 * only completed steps are persisted.
 */
import { Agent, FunctionModel, Messages, Tool, Usage } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { DurableAgent, DurableRunner } from "../src/index.js"
import { RunEvents } from "../src/internal/events.js"

type Event = DurableAgent.DurableStreamEvent<unknown>

/** The event tags, consecutive repeats collapsed (`PartDeltaEvent*` → one). */
const shape = (events: ReadonlyArray<Event>): Array<string> =>
  events.map((e) => e._tag).filter((tag, i, all) => i === 0 || all[i - 1] !== tag)

const inMemory = <A, E, R>(durable: DurableAgent.DurableAgent<A, E, R>) =>
  durable.layer.pipe(Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" })))

describe("DurableAgent.runStream", () => {
  it.scopedLive(
    "forwards model deltas and tool events as the steps execute; the stored run is the same",
    () =>
      Effect.gen(function* () {
        let streamed = 0
        let requested = 0
        let looked = 0
        const model = yield* FunctionModel.make(
          () => {
            requested++
            return FunctionModel.text("not streamed")
          },
          {
            stream: (messages) => {
              streamed++
              return messages.some(
                (m) => m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "ToolReturnPart")
              )
                ? Stream.make("Order A-17 ", "was delivered ", "on Monday.")
                : Stream.make(
                    { 0: { name: "lookup", jsonArgs: '{"order":', toolCallId: "call_1" } },
                    { 0: { jsonArgs: '"A-17"}' } }
                  )
            }
          }
        )
        const lookup = Tool.make("lookup", {
          parameters: Schema.Struct({ order: Schema.String }),
          handler: ({ order }) => Effect.sync(() => ++looked && { order, day: "Monday" })
        })
        const durable = DurableAgent.make(Agent.make({ model, tools: [lookup] }), {
          name: "stream-live",
          output: Schema.String
        })
        const ctx = yield* Layer.build(inMemory(durable))
        const events = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            durable.runStream({ id: "order-17", prompt: "Where is A-17?" })
          ).pipe(Effect.provide(ctx))
        )

        assert.deepStrictEqual(shape(events), [
          "PartStartEvent",
          "PartDeltaEvent",
          "PartEndEvent",
          "FunctionToolCallEvent",
          "FunctionToolResultEvent",
          "PartStartEvent",
          "PartDeltaEvent",
          "PartEndEvent",
          // told by the run loop once the streamed response is whole
          "FinalResultEvent",
          "DurableRunResultEvent"
        ])
        const ends = events.filter((e) => e._tag === "PartEndEvent")
        assert.deepStrictEqual(
          ends.map((e) => e.part._tag),
          ["ToolCallPart", "TextPart"]
        )
        const call = ends[0]!.part as Messages.ToolCallPart
        assert.deepStrictEqual([call.toolName, call.toolCallId], ["lookup", "call_1"])
        assert.deepStrictEqual(call.argsAsObject(), { order: "A-17" })
        // The text deltas add up to the final text.
        const start = events.find(
          (e) => e._tag === "PartStartEvent" && e.index === 0 && e.part._tag === "TextPart"
        )
        const deltas = events.flatMap((e) =>
          e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta"
            ? [e.delta.contentDelta]
            : []
        )
        assert.strictEqual(
          (start?._tag === "PartStartEvent" && start.part._tag === "TextPart"
            ? start.part.content
            : "") + deltas.join(""),
          "Order A-17 was delivered on Monday."
        )
        const toolCall = events.find((e) => e._tag === "FunctionToolCallEvent")
        assert.strictEqual(
          toolCall?._tag === "FunctionToolCallEvent" && toolCall.part.toolCallId,
          "call_1"
        )
        const toolResult = events.find((e) => e._tag === "FunctionToolResultEvent")
        assert.deepStrictEqual(
          toolResult?._tag === "FunctionToolResultEvent" &&
            toolResult.result._tag === "ToolReturnPart"
            ? [toolResult.result.toolCallId, toolResult.result.content, toolResult.result.outcome]
            : undefined,
          ["call_1", { order: "A-17", day: "Monday" }, "success"]
        )
        const last = events.at(-1)!
        assert.strictEqual(last._tag, "DurableRunResultEvent")
        const result = (last as DurableAgent.DurableRunResultEvent<string>).result
        assert.strictEqual(result.output, "Order A-17 was delivered on Monday.")
        assert.strictEqual(result.usage.requests, 2)
        assert.strictEqual(result.allMessages().length, 4)

        // Persisted: the whole responses, once. Joining the run returns them, no new request.
        const again = yield* durable
          .run({ id: "order-17", prompt: "Where is A-17?" })
          .pipe(Effect.provide(ctx))
        assert.strictEqual(again.output, "Order A-17 was delivered on Monday.")
        assert.deepStrictEqual(again.allMessages(), result.allMessages())
        assert.deepStrictEqual([streamed, requested, looked], [2, 0, 1])
        // A stream of a finished run ends with its stored result.
        const after = Chunk.toReadonlyArray(
          yield* Stream.runCollect(durable.stream("order-17")).pipe(Effect.provide(ctx))
        )
        assert.deepStrictEqual(shape(after), ["DurableRunResultEvent"])
      })
  )

  it.scopedLive(
    "a late subscriber gets the completed steps, the stop for a deferred call, then the rest",
    () =>
      Effect.gen(function* () {
        const model = yield* FunctionModel.make((messages) => {
          const last = messages.at(-1)
          const returned =
            last?._tag === "ModelRequest"
              ? last.parts.find((p) => p._tag === "ToolReturnPart")
              : undefined
          return returned?._tag === "ToolReturnPart"
            ? FunctionModel.text(`You are at ${returned.contentText}.`)
            : FunctionModel.toolCall("geolocate", { precise: true }, "call_geo")
        })
        const geolocate = Tool.external("geolocate", {
          parameters: Schema.Struct({ precise: Schema.Boolean })
        })
        // A model without streaming: `streaming: false` keeps its requests whole.
        const durable = DurableAgent.make(Agent.make({ model, tools: [geolocate] }), {
          name: "stream-late",
          output: Schema.String,
          streaming: false
        })
        const ctx = yield* Layer.build(inMemory(durable))
        yield* Effect.gen(function* () {
          const executionId = yield* durable.start({ id: "geo-1", prompt: "Where am I?" })
          while ((yield* durable.poll(executionId))._tag !== "Waiting") {
            yield* Effect.sleep("20 millis")
          }
          // Subscribes after the first step completed and the run stopped.
          const seen: Array<Event> = []
          const done = yield* durable.stream("geo-1").pipe(
            Stream.runForEach((e) => Effect.sync(() => void seen.push(e))),
            Effect.fork
          )
          while (!seen.some((e) => e._tag === "DurableWaitingEvent")) {
            yield* Effect.sleep("20 millis")
          }
          assert.deepStrictEqual(shape(seen), [
            "PartStartEvent",
            "PartEndEvent",
            "FunctionToolCallEvent",
            "DurableWaitingEvent"
          ])
          const waiting = seen[3] as DurableAgent.DurableWaitingEvent
          assert.deepStrictEqual(
            waiting.calls.map((c) => [c.toolCallId, c.toolName, c.kind, c.args]),
            [["call_geo", "geolocate", "external", { precise: true }]]
          )
          assert.strictEqual(waiting.calls[0]!.token, yield* durable.token("geo-1", "call_geo"))
          // The conversation up to the stop: the prompt and the response asking for the call.
          assert.deepStrictEqual(
            waiting.messages.map((m) => m.parts.map((p) => p._tag)),
            [["UserPromptPart"], ["ToolCallPart"]]
          )

          yield* DurableAgent.provideResult(waiting.calls[0]!.token, "48.86, 2.35")
          yield* done.await
          assert.deepStrictEqual(shape(seen), [
            "PartStartEvent",
            "PartEndEvent",
            "FunctionToolCallEvent",
            "DurableWaitingEvent",
            // the resumed run replays its first step: not told again; the resumed call is
            // told with its result, as a core run resumed with `deferredToolResults` does
            "FunctionToolCallEvent",
            "FunctionToolResultEvent",
            "PartStartEvent",
            "FinalResultEvent",
            "PartEndEvent",
            "DurableRunResultEvent"
          ])
          const end = seen.at(-1) as DurableAgent.DurableRunResultEvent<string>
          assert.strictEqual(end.result.output, "You are at 48.86, 2.35.")
          assert.strictEqual(end.result.executionId, executionId)
          const result = seen[5]
          assert.isTrue(
            result?._tag === "FunctionToolResultEvent" &&
              result.result._tag === "ToolReturnPart" &&
              result.result.toolCallId === "call_geo" &&
              result.result.content === "48.86, 2.35"
          )
          const text = seen[8]
          assert.isTrue(text?._tag === "PartEndEvent" && text.part._tag === "TextPart")
        }).pipe(Effect.provide(ctx))
      })
  )

  it.scopedLive("a run that fails ends its stream with the error", () =>
    Effect.gen(function* () {
      const model = yield* FunctionModel.make(() => FunctionModel.toolCall("noop", {}))
      const noop = Tool.make("noop", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const durable = DurableAgent.make(Agent.make({ model, tools: [noop] }), {
        name: "stream-fail",
        streaming: false
      })
      const ctx = yield* Layer.build(inMemory(durable))
      const error = yield* Stream.runDrain(
        durable.runStream({
          id: "loop-1",
          prompt: "loop",
          usageLimits: Usage.UsageLimits.make({ requestLimit: 2 })
        })
      ).pipe(Effect.flip, Effect.provide(ctx))
      assert.strictEqual(error._tag, "UsageLimitExceeded")
    })
  )
})

describe("the event hub of durable runs", () => {
  it("keeps the logs of the latest waiting runs only, and drops a run's log when it ends", () => {
    const hub = new RunEvents(1)
    const call = (id: string) =>
      new Messages.FunctionToolCallEvent({
        part: new Messages.ToolCallPart({ toolName: "t", toolCallId: id })
      })
    hub.told("a", 0, call("a"))
    hub.suspended("a")
    hub.told("b", 0, call("b"))
    hub.told("b", 0, call("b-again")) // a replay of a told position: skipped
    hub.suspended("b") // over the bound: a's log goes
    const seen = (id: string) => {
      const events: Array<string> = []
      const unsubscribe = hub.subscribe(id, (e) =>
        events.push(e._tag === "FunctionToolCallEvent" ? e.part.toolCallId : e._tag)
      )
      return { events, unsubscribe }
    }
    const a = seen("a")
    const b = seen("b")
    assert.deepStrictEqual(a.events, [])
    assert.deepStrictEqual(b.events, ["b"])
    a.unsubscribe()
    assert.strictEqual(hub.size, 1)
    hub.end("b", Exit.void)
    assert.deepStrictEqual(b.events, ["b", "End"])
    b.unsubscribe()
    assert.strictEqual(hub.size, 0)
  })
})
