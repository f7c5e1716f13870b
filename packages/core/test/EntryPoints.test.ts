/**
 * Every public entry point of an agent run goes through the one internal `open`: the
 * concurrency slot (`maxConcurrentRuns`), the `invoke_agent` span (only when a tracer records
 * it), the run's scope. Each entry × (limit, span present / absent, interruption, usage limits).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  type Messages,
  type Model,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { recordingTracer } from "./support/tracer.js"

type TheAgent = Agent.Agent<string, never, Model.Model>

interface Entry {
  readonly name: string
  /** A Promise twin: runs on its own runtime (no caller span, no FiberRefs of the caller). */
  readonly promise: boolean
  /**
   * Can the caller stop the run while it waits inside a tool? An `AsyncIterable` is stopped by
   * leaving the loop, which an async generator only sees at its next event.
   */
  readonly interruptible: boolean
  /** Drives a run to its end and returns its output. */
  readonly drive: (
    agent: TheAgent,
    options: Agent.RunOptions,
    layer: Layer.Layer<Model.Model>
  ) => Effect.Effect<string, unknown>
}

const outputOf = (r: Agent.AgentRunResult<string>) => r.output

/** The last value `streamOutput` emits: the final output. */
const lastOutput = (
  outputs: Stream.Stream<unknown, unknown, Model.Model>,
  layer: Layer.Layer<Model.Model>
) =>
  Stream.runLast(outputs).pipe(
    Effect.map((o) => Option.getOrThrow(o) as string),
    Effect.provide(layer)
  )

const entries: ReadonlyArray<Entry> = [
  {
    name: "run",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) =>
      agent.run("go", options).pipe(Effect.map(outputOf), Effect.provide(layer))
  },
  {
    name: "run with eventStreamHandler",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) =>
      agent
        .run("go", {
          ...options,
          eventStreamHandler: (events) => Effect.ignore(Stream.runDrain(events))
        })
        .pipe(Effect.map(outputOf), Effect.provide(layer))
  },
  {
    name: "run with onEvent",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) =>
      agent
        .run("go", { ...options, onEvent: () => {} })
        .pipe(Effect.map(outputOf), Effect.provide(layer))
  },
  {
    name: "runStream",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) =>
      Agent.finalResult(agent.runStream("go", options)).pipe(
        Effect.map(outputOf),
        Effect.provide(layer)
      )
  },
  {
    name: "iter",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) =>
      Effect.scoped(
        Effect.flatMap(agent.iter("go", options), (run) =>
          Effect.flatMap(Stream.runLast(run.nodes), (last) =>
            Option.isSome(last) && Agent.isEndNode(last.value)
              ? Effect.succeed(last.value.result.output)
              : Effect.dieMessage("iter ended without End")
          )
        )
      ).pipe(Effect.provide(layer))
  },
  {
    name: "streamOutput (method)",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) => lastOutput(agent.streamOutput("go", options), layer)
  },
  {
    name: "Agent.streamOutput",
    promise: false,
    interruptible: true,
    drive: (agent, options, layer) => lastOutput(Agent.streamOutput(agent, "go", options), layer)
  },
  {
    name: "runPromise",
    promise: true,
    interruptible: true,
    drive: (agent, options, layer) =>
      Effect.tryPromise({
        try: (signal) => Agent.runPromise(agent, { layer }, "go", { ...options, signal }),
        catch: (e) => e
      }).pipe(Effect.map(outputOf))
  },
  {
    name: "runStreamAsyncIterable",
    promise: true,
    interruptible: false,
    drive: (agent, options, layer) =>
      Effect.tryPromise({
        try: async () => {
          let output: string | undefined
          for await (const e of Agent.runStreamAsyncIterable(agent, { layer }, "go", options)) {
            if (e._tag === "AgentRunResultEvent") output = e.result.output
          }
          if (output === undefined) throw new Error("no result event")
          return output
        },
        catch: (e) => e
      })
  }
]

/** An agent whose one tool counts the runs inside it and waits for `gate`. */
const gatedAgent = Effect.gen(function* () {
  const gate = yield* Deferred.make<void>()
  const inside = { now: 0, max: 0, entered: 0, spans: [] as Array<string> }
  const wait = Tool.make("wait", {
    parameters: Schema.Struct({}),
    handler: () =>
      Effect.gen(function* () {
        const span = yield* Effect.option(Effect.currentSpan)
        inside.spans.push(Option.isSome(span) ? span.value.name : "(none)")
        inside.now += 1
        inside.entered += 1
        inside.max = Math.max(inside.max, inside.now)
        yield* Deferred.await(gate).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              inside.now -= 1
            })
          )
        )
        return "ok"
      })
  })
  const limiter = Agent.concurrencyLimiter({ maxRunning: 1 })
  const agent: TheAgent = Agent.make({ name: "entry", tools: [wait], maxConcurrentRuns: limiter })
  return { agent, gate, inside, limiter }
})

const expectedOutput = '{"wait":"ok"}'

const waitUntil = (check: () => boolean) =>
  Effect.repeat(Effect.yieldNow(), { until: () => check() }).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("waitUntil") })
  )

describe("entry points", () => {
  for (const entry of entries) {
    describe(entry.name, () => {
      it.live("maxConcurrentRuns: 1 holds the second run until the first is done", () =>
        Effect.gen(function* () {
          const { agent, gate, inside, limiter } = yield* gatedAgent
          const layer = TestModel.layer()
          const first = yield* Effect.fork(entry.drive(agent, {}, layer))
          yield* waitUntil(() => inside.entered === 1)
          const second = yield* Effect.fork(entry.drive(agent, {}, layer))
          yield* Effect.repeat(limiter.waiting, { until: (n) => n === 1 })
          // the second run waits for the slot: it has not reached the tool
          yield* Effect.sleep("20 millis")
          assert.strictEqual(inside.entered, 1)
          assert.strictEqual(yield* limiter.running, 1)
          yield* Deferred.succeed(gate, undefined)
          assert.strictEqual(yield* Fiber.join(first), expectedOutput)
          assert.strictEqual(yield* Fiber.join(second), expectedOutput)
          assert.strictEqual(inside.entered, 2)
          assert.strictEqual(inside.max, 1)
          assert.strictEqual(yield* limiter.running, 0)
          assert.strictEqual(yield* limiter.waiting, 0)
        })
      )

      it.live("no tracer: no invoke_agent span is opened", () =>
        Effect.gen(function* () {
          const { agent, gate, inside } = yield* gatedAgent
          yield* Deferred.succeed(gate, undefined)
          const output = yield* entry
            .drive(agent, {}, TestModel.layer())
            .pipe(Effect.withSpan("caller"))
          assert.strictEqual(output, expectedOutput)
          // The tool sees the caller's span (a Promise twin has none): no run or tool span.
          assert.deepStrictEqual(inside.spans, [entry.promise ? "(none)" : "caller"])
        })
      )

      it.live("with a tracer: one invoke_agent span, the parent of the run's spans", () =>
        Effect.gen(function* () {
          const { agent, gate, inside } = yield* gatedAgent
          yield* Deferred.succeed(gate, undefined)
          const { spans, tracer } = recordingTracer()
          const layer = Layer.merge(TestModel.layer(), Layer.setTracer(tracer))
          const output = yield* entry.drive(agent, {}, layer)
          assert.strictEqual(output, expectedOutput)
          const runs = spans.filter((s) => s.name === "invoke_agent entry")
          assert.strictEqual(runs.length, 1)
          assert.isTrue(runs[0]!.ended)
          assert.strictEqual(runs[0]!.attributes.get("gen_ai.operation.name"), "invoke_agent")
          const tools = spans.filter((s) => s.name === "execute_tool wait")
          assert.strictEqual(tools.length, 1)
          assert.strictEqual(tools[0]!.parent, "invoke_agent entry")
          const chats = spans.filter((s) => s.name.startsWith("chat "))
          assert.strictEqual(chats.length, 2)
          for (const c of chats) assert.strictEqual(c.parent, "invoke_agent entry")
          assert.deepStrictEqual(inside.spans, ["execute_tool wait"])
        })
      )

      it.live("usage limits: the run fails with UsageLimitExceeded, messages attached", () =>
        Effect.gen(function* () {
          const { agent, gate, limiter } = yield* gatedAgent
          yield* Deferred.succeed(gate, undefined)
          const exit = yield* Effect.exit(
            entry.drive(
              agent,
              { usageLimits: new Usage.UsageLimits({ requestLimit: 1 }) },
              TestModel.layer()
            )
          )
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            const error = entry.promise
              ? Cause.squash(exit.cause)
              : Option.getOrUndefined(Cause.failureOption(exit.cause))
            assert.instanceOf(error, AgentError.UsageLimitExceeded)
            const e = error as AgentError.UsageLimitExceeded
            assert.strictEqual(e.limit, "requestLimit")
            assert.deepStrictEqual(
              e.messages.map((m) => m._tag),
              ["ModelRequest", "ModelResponse", "ModelRequest"]
            )
          }
          // the slot is given back
          assert.strictEqual(yield* limiter.running, 0)
        })
      )

      if (!entry.interruptible) return
      it.live("interruption ends the run (its tool too) and gives the slot back", () =>
        Effect.gen(function* () {
          const { agent, inside, limiter } = yield* gatedAgent
          const fiber = yield* Effect.fork(entry.drive(agent, {}, TestModel.layer()))
          yield* waitUntil(() => inside.entered === 1)
          assert.strictEqual(yield* limiter.running, 1)
          yield* Fiber.interrupt(fiber)
          // a Promise twin is aborted through its signal; its run ends on its own fiber
          yield* waitUntil(() => inside.now === 0)
          yield* Effect.repeat(limiter.running, { until: (n) => n === 0 })
        }).pipe(Effect.timeout("10 seconds"))
      )
    })
  }
})

describe("entry points: captured messages after interruption", () => {
  for (const entry of entries.filter((e) => !e.promise)) {
    it.live(`${entry.name}: the messages so far stay retrievable`, () =>
      Effect.gen(function* () {
        const { agent, inside } = yield* gatedAgent
        let messages: ReadonlyArray<Messages.ModelMessage> = []
        const fiber = yield* Effect.fork(
          CaptureRunMessages.capture(
            Effect.raceFirst(
              entry.drive(agent, {}, TestModel.layer()),
              Effect.zipRight(
                waitUntil(() => inside.entered === 1),
                Effect.fail("stopped" as const)
              )
            )
          ).pipe(
            Effect.tap((c) =>
              Effect.sync(() => {
                messages = c.messages
              })
            )
          )
        )
        const captured = yield* Fiber.join(fiber)
        assert.isTrue(Exit.isFailure(captured.exit))
        assert.strictEqual(inside.now, 0)
        assert.deepStrictEqual(
          messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        const response = messages[1] as Messages.ModelResponse
        assert.deepStrictEqual(
          response.toolCalls.map((c) => c.toolName),
          ["wait"]
        )
      })
    )
  }
})
