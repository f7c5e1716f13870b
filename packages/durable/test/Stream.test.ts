/**
 * Streaming a durable run: the events of the steps executing in this process (model deltas
 * from the streamed request inside the model activity, tool calls and results), the steps
 * completed before a late subscriber joined, stops for deferred calls, and the result — while
 * only completed steps are persisted.
 */
import { Agent, AgentError, FunctionModel, Messages, Tool, Usage } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
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
          // as in core: the final result is told as soon as its part starts
          "FinalResultEvent",
          "PartDeltaEvent",
          "PartEndEvent",
          "DurableRunResultEvent"
        ])
        // Every event but the deltas and the result is numbered by its position in the run.
        assert.deepStrictEqual(
          events.map((e) => DurableAgent.position(e)),
          events.map((e) =>
            e._tag === "PartDeltaEvent" || e._tag === "DurableRunResultEvent"
              ? undefined
              : events.slice(0, events.indexOf(e)).filter((x) => x._tag !== "PartDeltaEvent").length
          )
        )
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
          assert.deepStrictEqual(seen.map(DurableAgent.position), [0, 1, 2, 3])
          // Another subscriber goes on from position 2 (it had the first two events).
          const later: Array<Event> = []
          const laterDone = yield* durable.stream("geo-1", { from: 2 }).pipe(
            Stream.runForEach((e) => Effect.sync(() => void later.push(e))),
            Effect.fork
          )
          while (!later.some((e) => e._tag === "DurableWaitingEvent")) {
            yield* Effect.sleep("20 millis")
          }
          assert.deepStrictEqual(shape(later), ["FunctionToolCallEvent", "DurableWaitingEvent"])
          assert.deepStrictEqual(later.map(DurableAgent.position), [2, 3])
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
          assert.deepStrictEqual(seen.map(DurableAgent.position), [
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
            undefined
          ])
          yield* laterDone.await
          assert.deepStrictEqual(
            later.map((e) => [e._tag, DurableAgent.position(e)]),
            seen.slice(2).map((e) => [e._tag, DurableAgent.position(e)])
          )
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

  it.scopedLive("interrupting a subscriber leaves the run going; a new one picks up", () =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const model = yield* FunctionModel.make((messages) =>
        messages.some(
          (m) => m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "ToolReturnPart")
        )
          ? FunctionModel.text("Parcel found.")
          : FunctionModel.toolCall("find", {}, "call_find")
      )
      let found = 0
      const find = Tool.make("find", {
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.zipRight(
            Deferred.await(gate),
            Effect.sync(() => ++found && "here")
          )
      })
      const durable = DurableAgent.make(Agent.make({ model, tools: [find] }), {
        name: "stream-interrupt",
        output: Schema.String,
        streaming: false
      })
      const ctx = yield* Layer.build(inMemory(durable))
      yield* Effect.gen(function* () {
        // The subscriber stops after the tool call (its fiber is interrupted by `take`).
        const first = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            durable
              .runStream({ id: "find-1", prompt: "Find my parcel" })
              .pipe(Stream.takeUntil((e) => e._tag === "FunctionToolCallEvent"))
          )
        )
        assert.deepStrictEqual(shape(first), [
          "PartStartEvent",
          "PartEndEvent",
          "FunctionToolCallEvent"
        ])
        // A subscriber interrupted from outside while the run waits in the tool.
        const watcher = yield* Stream.runDrain(durable.stream("find-1")).pipe(Effect.fork)
        yield* Effect.sleep("50 millis")
        yield* Fiber.interrupt(watcher)
        const executionId = yield* durable.executionId("find-1")
        assert.strictEqual((yield* durable.poll(executionId))._tag, "Pending")
        // The run goes on: a new subscriber from position 3 (not told yet) gets the rest once
        // the tool finishes and the run ends.
        const restFiber = yield* Stream.runCollect(durable.stream("find-1", { from: 3 })).pipe(
          Effect.fork
        )
        yield* Effect.sleep("50 millis")
        yield* Deferred.succeed(gate, undefined)
        const rest = Chunk.toReadonlyArray(yield* Fiber.join(restFiber))
        assert.deepStrictEqual(shape(rest), [
          "FunctionToolResultEvent",
          "PartStartEvent",
          "FinalResultEvent",
          "PartEndEvent",
          "DurableRunResultEvent"
        ])
        assert.deepStrictEqual(rest.map(DurableAgent.position), [3, 4, 5, 6, undefined])
        const end = rest.at(-1) as DurableAgent.DurableRunResultEvent<string>
        assert.strictEqual(end.result.output, "Parcel found.")
        assert.strictEqual(found, 1)
        const status = yield* durable.poll(executionId)
        assert.strictEqual(status._tag, "Done")
        // A position that is not one is refused at once.
        const bad = yield* Stream.runDrain(durable.stream("find-1", { from: -1 })).pipe(Effect.flip)
        assert.instanceOf(bad, AgentError.UserError)
        assert.include((bad as AgentError.UserError).reason, "`from` must be a position")
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
  it("numbers events, folds a part's deltas into its start once it ends, serves from a position", () => {
    const hub = new RunEvents()
    const text = (content: string) => new Messages.TextPart({ content })
    const describeTold = (told: { position: number; delta: boolean; event: any }) => [
      told.position,
      told.delta,
      told.event._tag,
      told.event.part?.content ?? told.event.delta?.contentDelta
    ]
    const from = (position: number) => {
      const got: Array<unknown> = []
      const unsubscribe = hub.subscribe("r", position, (told) => got.push(describeTold(told)))
      return { got, unsubscribe }
    }
    hub.told("r", 0, new Messages.PartStartEvent({ index: 0, part: text("Hel") }))
    hub.told("r", 1, new Messages.FinalResultEvent({}))
    hub.delta(
      "r",
      2,
      new Messages.PartDeltaEvent({
        index: 0,
        delta: new Messages.TextPartDelta({ contentDelta: "lo" })
      })
    )
    // Mid-part: the start as it came, then the delta so far.
    const mid = from(0)
    assert.deepStrictEqual(mid.got, [
      [0, false, "PartStartEvent", "Hel"],
      [1, false, "FinalResultEvent", undefined],
      [2, true, "PartDeltaEvent", "lo"]
    ])
    hub.told("r", 2, new Messages.PartEndEvent({ index: 0, part: text("Hello") }))
    hub.told("r", 2, new Messages.PartEndEvent({ index: 0, part: text("Hello") })) // replayed
    assert.deepStrictEqual(mid.got.at(-1), [2, false, "PartEndEvent", "Hello"])
    assert.strictEqual(mid.got.length, 4)
    // After the part ended: the whole part at its start, no deltas.
    assert.deepStrictEqual(from(0).got, [
      [0, false, "PartStartEvent", "Hello"],
      [1, false, "FinalResultEvent", undefined],
      [2, false, "PartEndEvent", "Hello"]
    ])
    const late = from(2)
    assert.deepStrictEqual(late.got, [[2, false, "PartEndEvent", "Hello"]])
    hub.end("r", Exit.void)
    assert.deepStrictEqual(late.got.at(-1), [3, false, "End", undefined])
  })

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
      const unsubscribe = hub.subscribe(id, 0, ({ event: e }) =>
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
