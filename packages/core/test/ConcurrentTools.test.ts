import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Agent, CaptureRunMessages, FunctionModel, type Messages, Tool } from "@agentfx/core"
import { forEachConcurrent } from "../src/internal/concurrent.js"

/** A latch that opens once `count` parties have arrived; `arrive` waits for it. */
const barrier = (count: number) =>
  Effect.map(Effect.zip(Ref.make(0), Deferred.make<void>()), ([arrived, open]) =>
    Effect.zipRight(
      Effect.flatMap(
        Ref.updateAndGet(arrived, (n) => n + 1),
        (n) => (n === count ? Deferred.succeed(open, undefined) : Effect.void)
      ),
      Deferred.await(open)
    )
  )

/** Counts how many effects run at once, and the most seen. */
const gauge = () => {
  let now = 0
  let max = 0
  const track = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        now++
        max = Math.max(max, now)
      }),
      () => effect,
      () =>
        Effect.sync(() => {
          now--
        })
    )
  return { track, max: () => max, now: () => now }
}

const yields = (n: number) => Effect.repeatN(Effect.yieldNow(), n)

describe("forEachConcurrent (the run's concurrent tool calls)", () => {
  it.effect("gives the results in item order with every item in flight at once", () =>
    Effect.gen(function* () {
      const all = yield* barrier(10)
      const items = Array.from({ length: 10 }, (_, i) => i)
      // every item waits until all ten started, then later items end first
      const out = yield* forEachConcurrent(
        items,
        (i, index) => Effect.zipRight(all, Effect.as(yields(20 - 2 * i), `${i}@${index}`)),
        "unbounded"
      )
      assert.deepStrictEqual(
        out,
        items.map((i) => `${i}@${i}`)
      )
    })
  )

  it.effect("keeps at most `concurrency` items in flight", () =>
    Effect.gen(function* () {
      const g = gauge()
      const items = Array.from({ length: 20 }, (_, i) => i)
      const out = yield* forEachConcurrent(
        items,
        (i) => g.track(Effect.as(yields(i % 4), i * 2)),
        3
      )
      assert.deepStrictEqual(
        out,
        items.map((i) => i * 2)
      )
      assert.strictEqual(g.max(), 3)
      assert.strictEqual(g.now(), 0)
    })
  )

  it.effect("with concurrency 1 runs the items one after another", () =>
    Effect.gen(function* () {
      const g = gauge()
      const log: Array<string> = []
      const out = yield* forEachConcurrent(
        ["a", "b", "c"],
        (s) =>
          g.track(
            Effect.as(
              Effect.zipRight(
                yields(2),
                Effect.sync(() => log.push(s))
              ),
              s
            )
          ),
        1
      )
      assert.deepStrictEqual(out, ["a", "b", "c"])
      assert.deepStrictEqual(log, ["a", "b", "c"])
      assert.strictEqual(g.max(), 1)
    })
  )

  it.effect("of no items is an empty array", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* forEachConcurrent([], () => Effect.succeed(1), "unbounded"), [])
    })
  )

  it.effect("fails with the first failure and interrupts the other items", () =>
    Effect.gen(function* () {
      const all = yield* barrier(5)
      const interrupted: Array<number> = []
      const exit = yield* Effect.exit(
        forEachConcurrent(
          [0, 1, 2, 3, 4],
          (i) =>
            Effect.zipRight(
              all,
              i === 2
                ? // after the others are inside their interruptible wait
                  Effect.zipRight(yields(20), Effect.fail(`boom ${i}`))
                : Effect.onInterrupt(Effect.never, () =>
                    Effect.sync(() => {
                      interrupted.push(i)
                    })
                  )
            ),
          "unbounded"
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.deepStrictEqual(Chunk.toArray(Cause.failures(exit.cause)), ["boom 2"])
        assert.isFalse(Cause.isInterrupted(exit.cause))
      }
      assert.deepStrictEqual(interrupted.sort(), [0, 1, 3, 4])
    })
  )

  it.effect("with a limit, a failure stops the items not yet started", () =>
    Effect.gen(function* () {
      const started: Array<number> = []
      const exit = yield* Effect.exit(
        forEachConcurrent(
          Array.from({ length: 10 }, (_, i) => i),
          (i) =>
            Effect.zipRight(
              Effect.sync(() => started.push(i)),
              i === 1 ? Effect.fail("early") : Effect.never
            ),
          2
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(started.sort(), [0, 1])
    })
  )

  it.effect("reports the failures of several items in item order", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        forEachConcurrent(
          [0, 1, 2, 3],
          (i) =>
            i === 3
              ? // fails first, in time
                Effect.zipRight(yields(2), Effect.fail("e3"))
              : i === 1
                ? // fails later (uninterruptibly, so the interruption does not win)
                  Effect.uninterruptible(Effect.zipRight(yields(50), Effect.fail("e1")))
                : Effect.never,
          "unbounded"
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.deepStrictEqual(Chunk.toArray(Cause.failures(exit.cause)), ["e1", "e3"])
      }
    })
  )

  it.effect("interrupting the caller interrupts every item before the caller's finalizers", () =>
    Effect.gen(function* () {
      const all = yield* barrier(4)
      const started = yield* Deferred.make<void>()
      const finalized: Array<number> = []
      let seenByCaller: Array<number> | undefined
      const fiber = yield* Effect.fork(
        forEachConcurrent(
          [0, 1, 2, 3],
          (i) =>
            Effect.zipRight(
              Effect.zipRight(all, Deferred.succeed(started, undefined)),
              Effect.onInterrupt(Effect.never, () =>
                // a finalizer that takes a while: the caller's interruption waits for it
                Effect.zipRight(
                  yields(5),
                  Effect.sync(() => {
                    finalized.push(i)
                  })
                )
              )
            ),
          "unbounded"
        ).pipe(
          // the caller's own finalizer (a run's scope, its span) sees the items already ended
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              seenByCaller = [...finalized]
            })
          )
        )
      )
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(finalized.sort(), [0, 1, 2, 3])
      assert.deepStrictEqual(seenByCaller?.sort(), [0, 1, 2, 3])
    })
  )

  it.effect("runs the items with the caller's context", () =>
    Effect.gen(function* () {
      class Greeting extends Effect.Tag("test/Greeting")<Greeting, string>() {}
      const out = yield* forEachConcurrent(
        [1, 2, 3],
        (i) => Effect.map(Greeting, (g) => `${g} ${i}`),
        "unbounded"
      ).pipe(Effect.provideService(Greeting, "hi"))
      assert.deepStrictEqual(out, ["hi 1", "hi 2", "hi 3"])
    })
  )
})

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

/** A model asking for `ids` calls of `tool` in one response, then answering "done". */
const callsThenDone = (tool: string, ids: ReadonlyArray<string>) => {
  const respond = (messages: ReadonlyArray<Messages.ModelMessage>) =>
    responses(messages) === 0
      ? FunctionModel.toolCalls(ids.map((id) => ({ toolName: tool, args: { id }, toolCallId: id })))
      : "done"
  return FunctionModel.layer(respond, { stream: FunctionModel.streamOf(respond) })
}

describe("an agent's tool calls of one response", () => {
  it.effect("run at once; the results are sent back in call order", () =>
    Effect.gen(function* () {
      const ids = ["a", "b", "c", "d"]
      const all = yield* barrier(ids.length)
      const ended: Array<string> = []
      const meet = Tool.make("meet", {
        parameters: Schema.Struct({ id: Schema.String }),
        // waits for every call of the response (sequential calls would never get past it), then
        // the later calls end first
        handler: ({ id }) =>
          Effect.zipRight(
            all,
            Effect.as(
              Effect.zipRight(
                yields(10 - 2 * ids.indexOf(id)),
                Effect.sync(() => ended.push(id))
              ),
              `met ${id}`
            )
          )
      })
      const result = yield* Agent.make({ tools: [meet] })
        .run("go")
        .pipe(Effect.provide(callsThenDone("meet", ids)))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(ended, ["d", "c", "b", "a"])
      const returns = (result.allMessages()[2] as Messages.ModelRequest)
        .parts as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        returns.map((p) => [p._tag, p.toolCallId, p.content]),
        ids.map((id) => ["ToolReturnPart", id, `met ${id}`])
      )
      assert.strictEqual(result.usage.toolCalls, ids.length)
    })
  )

  it.effect("streamed (runStream, onEvent): calls announced in order, results as they end", () =>
    Effect.gen(function* () {
      const ids = ["a", "b", "c"]
      const meet = (all: Effect.Effect<void>) =>
        Tool.make("meet", {
          parameters: Schema.Struct({ id: Schema.String }),
          // all three in flight, then c ends first and a last
          handler: ({ id }) =>
            Effect.zipRight(all, Effect.as(yields(10 - 4 * ids.indexOf(id)), `met ${id}`))
        })
      const check = (events: ReadonlyArray<Agent.AgentStreamEvent<any>>) => {
        const calls = events.filter((e) => e._tag === "FunctionToolCallEvent")
        const results = events.filter((e) => e._tag === "FunctionToolResultEvent")
        assert.deepStrictEqual(
          calls.map((e) => e.part.toolCallId),
          ids
        )
        // every call is announced before the first result
        assert.isBelow(events.indexOf(calls[2]!), events.indexOf(results[0]!))
        assert.deepStrictEqual(
          results.map((e) => [e.result.toolCallId, e.result.content]),
          [
            ["c", "met c"],
            ["b", "met b"],
            ["a", "met a"]
          ]
        )
      }
      const streamed = Chunk.toReadonlyArray(
        yield* Stream.runCollect(
          Agent.make({ tools: [meet(yield* barrier(3))] })
            .runStream("go")
            .pipe(Stream.provideLayer(callsThenDone("meet", ids)))
        )
      )
      check(streamed)
      const last = streamed[streamed.length - 1] as Agent.AgentRunResultEvent<string>
      const returns = (last.result.allMessages()[2] as Messages.ModelRequest)
        .parts as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        returns.map((p) => p.toolCallId),
        ids
      )
      const pushed: Array<Agent.AgentStreamEvent<any>> = []
      const result = yield* Agent.make({ tools: [meet(yield* barrier(3))] })
        .run("go", { onEvent: (e) => void pushed.push(e) })
        .pipe(Effect.provide(callsThenDone("meet", ids)))
      check(pushed)
      assert.strictEqual(result.output, "done")
    })
  )

  it.effect("maxConcurrency bounds how many run at once", () =>
    Effect.gen(function* () {
      const g = gauge()
      const work = Tool.make("work", {
        parameters: Schema.Struct({ id: Schema.String }),
        handler: ({ id }) => g.track(Effect.as(yields(3), id))
      })
      const ids = ["1", "2", "3", "4", "5", "6", "7"]
      const result = yield* Agent.make({ tools: [work], maxConcurrency: 2 })
        .run("go")
        .pipe(Effect.provide(callsThenDone("work", ids)))
      assert.strictEqual(g.max(), 2)
      const returns = (result.allMessages()[2] as Messages.ModelRequest)
        .parts as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        returns.map((p) => p.content),
        ids
      )
    })
  )

  it.effect("a tool's defect ends the run, interrupts the other calls and keeps the history", () =>
    Effect.gen(function* () {
      const all = yield* barrier(3)
      const interrupted: Array<string> = []
      const tool = Tool.make("t", {
        parameters: Schema.Struct({ id: Schema.String }),
        handler: ({ id }) =>
          Effect.zipRight(
            all,
            id === "bad"
              ? Effect.zipRight(yields(20), Effect.die(new Error("tool crashed")))
              : Effect.onInterrupt(Effect.never, () =>
                  Effect.sync(() => {
                    interrupted.push(id)
                  })
                )
          )
      })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        Agent.make({ tools: [tool] })
          .run("go")
          .pipe(Effect.provide(callsThenDone("t", ["x", "bad", "y"])))
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const defect = Cause.dieOption(exit.cause)
        assert.isTrue(defect._tag === "Some" && String(defect.value).includes("tool crashed"))
      }
      assert.deepStrictEqual(interrupted.sort(), ["x", "y"])
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )

  it.effect("interrupting the run (a timeout) interrupts every call in flight", () =>
    Effect.gen(function* () {
      const finalized: Array<string> = []
      const slow = Tool.make("slow", {
        parameters: Schema.Struct({ id: Schema.String }),
        handler: ({ id }) =>
          Effect.sleep("1 hour").pipe(
            Effect.onInterrupt(() =>
              Effect.sync(() => {
                finalized.push(id)
              })
            )
          )
      })
      const fiber = yield* Effect.fork(
        CaptureRunMessages.capture(
          Agent.make({ tools: [slow] })
            .run("go")
            .pipe(
              Effect.provide(callsThenDone("slow", ["p", "q", "r"])),
              Effect.timeout("1 second")
            )
        )
      )
      yield* TestClock.adjust("2 seconds")
      const { exit, messages } = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(finalized.sort(), ["p", "q", "r"])
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )
})
