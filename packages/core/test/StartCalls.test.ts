/**
 * Tool calls through `ToolsetTool.start` (`Tool.StartCall`): a segment of calls started from
 * the run's fiber as promises, one suspension for all. Each test checks what the run gives the
 * model and the user against the per-call path (`call` in its own region, one worker per call),
 * which the same toolset takes when `start` is left out.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  Capability,
  CaptureRunMessages,
  DeferredTools,
  FunctionModel,
  type Messages,
  Tool,
  Toolset
} from "@agentfx/core"
import { recordingTracer } from "./support/tracer.js"

class Boom extends Data.TaggedError("Boom")<{ readonly id: string }> {}

const Args = Schema.Struct({
  id: Schema.String,
  mode: Schema.optional(Schema.Literal("ok", "retry", "failed", "error", "hang")),
  ms: Schema.optional(Schema.Number)
})
type Args = typeof Args.Type

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/**
 * An `echo` tool with both paths and a log of what ran: `call` (an Effect) and `start` (a
 * promise) do the same — echo after `ms`, or ask for a retry, report a failure, fail with
 * `Boom`, or never answer.
 */
const probe = () => {
  const log = {
    starts: [] as Array<string>,
    calls: [] as Array<string>,
    cancels: [] as Array<string>,
    events: [] as Array<string>,
    inFlight: 0,
    maxInFlight: 0
  }
  const behave = (args: Args, cancelled: () => boolean): Promise<unknown> => {
    log.inFlight++
    log.maxInFlight = Math.max(log.maxInFlight, log.inFlight)
    log.events.push(`start ${args.id}`)
    const done = <A>(p: Promise<A>) =>
      p.finally(() => {
        log.inFlight--
        log.events.push(`end ${args.id}`)
      })
    switch (args.mode) {
      case "retry":
        return done(
          sleep(args.ms ?? 0).then(() => {
            throw new AgentError.ModelRetry({ reason: `again ${args.id}` })
          })
        )
      case "failed":
        return done(
          sleep(args.ms ?? 0).then(() => {
            throw new AgentError.ToolFailed({ reason: `no ${args.id}` })
          })
        )
      case "error":
        return done(
          sleep(args.ms ?? 0).then(() => {
            throw new Boom({ id: args.id })
          })
        )
      case "hang":
        return new Promise(() => {})
      default:
        return done(sleep(args.ms ?? 0).then(() => (cancelled() ? "cancelled" : `echo ${args.id}`)))
    }
  }
  const tool = Tool.make("echo", {
    parameters: Args,
    handler: (args) =>
      Effect.async<unknown, unknown>((resume) => {
        log.calls.push(args.id)
        let cancelled = false
        behave(args, () => cancelled).then(
          (a) => resume(Effect.succeed(a)),
          (e) => resume(Effect.fail(e))
        )
        return Effect.sync(() => {
          cancelled = true
          log.cancels.push(args.id)
          log.inFlight--
        })
      })
  })
  const base = Toolset.fromTools([tool]).fixed![0]!
  const started: Toolset.ToolsetTool<any, never> = {
    ...base,
    start: {
      of: base.call,
      start: (raw) => {
        const args = raw as Args
        log.starts.push(args.id)
        let cancelled = false
        return {
          promise: behave(args, () => cancelled),
          cancel: () => {
            cancelled = true
            log.cancels.push(args.id)
            log.inFlight--
          }
        }
      }
    }
  }
  const perCall: Toolset.ToolsetTool<any, never> = { ...base }
  return {
    log,
    /** The toolset offering `start`. */
    startSet: Toolset.make(() => Effect.succeed([started]), [started]),
    /** The same tool without `start`: every call through `call`. */
    callSet: Toolset.make(() => Effect.succeed([perCall]), [perCall]),
    started
  }
}

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

/** The arguments a model sends (an `id` that is not a string fails decoding). */
type Sent = { readonly id: unknown; readonly mode?: Args["mode"]; readonly ms?: number }

/** A model asking for `calls` in its first response, then for `then` (if any), then "done". */
const model = (calls: ReadonlyArray<Sent>, then?: ReadonlyArray<Sent>) => {
  const ask = (list: ReadonlyArray<Sent>, turn: number) =>
    FunctionModel.toolCalls(
      list.map((args, i) => ({ toolName: "echo", args, toolCallId: `t${turn}-${i}` }))
    )
  const respond = (messages: ReadonlyArray<Messages.ModelMessage>) => {
    const n = responses(messages)
    if (n === 0) return ask(calls, 0)
    if (n === 1 && then !== undefined) return ask(then, 1)
    return "done"
  }
  return FunctionModel.layer(respond, { stream: FunctionModel.streamOf(respond) })
}

/** What a request after the tools carries: each part's tag, call id, content and outcome. */
const partsOf = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages
    .filter((m): m is Messages.ModelRequest => m._tag === "ModelRequest")
    .flatMap((m) => m.parts)
    .filter((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
    .map((p) => [
      p._tag,
      (p as Messages.ToolReturnPart).toolCallId,
      p.content,
      p._tag === "ToolReturnPart" ? p.outcome : undefined
    ])

/** Runs `agent` under `layer` and gives its exit, its messages (kept on failure) and its usage. */
const outcome = (agent: Agent.Agent<string, any, never>, layer: ReturnType<typeof model>) =>
  Effect.map(
    CaptureRunMessages.capture(Effect.provide(agent.run("go"), layer)),
    ({ exit, messages }) => ({
      exit,
      parts: partsOf(messages),
      tags: messages.map((m) => m._tag),
      toolCalls: Exit.isSuccess(exit) ? exit.value.usage.toolCalls : undefined,
      failure: Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    })
  )

describe("tool calls through `start`", () => {
  it.live("start together from the run's fiber; results in call order, each counted", () =>
    Effect.gen(function* () {
      const p = probe()
      const calls = [
        { id: "a", ms: 30 },
        { id: "b", ms: 20 },
        { id: "c", ms: 10 },
        { id: "d", ms: 0 }
      ]
      const result = yield* Agent.make({ toolsets: [p.startSet] })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      assert.deepStrictEqual(p.log.starts, ["a", "b", "c", "d"])
      assert.deepStrictEqual(p.log.calls, [])
      assert.strictEqual(p.log.maxInFlight, 4)
      // the last started ended first; the parts are in call order anyway
      assert.deepStrictEqual(p.log.events.slice(4), ["end d", "end c", "end b", "end a"])
      assert.deepStrictEqual(partsOf(result.allMessages()), [
        ["ToolReturnPart", "t0-0", "echo a", "success"],
        ["ToolReturnPart", "t0-1", "echo b", "success"],
        ["ToolReturnPart", "t0-2", "echo c", "success"],
        ["ToolReturnPart", "t0-3", "echo d", "success"]
      ])
      assert.strictEqual(result.usage.toolCalls, 4)
      assert.strictEqual(result.output, "done")
    })
  )

  it.live("maxConcurrency bounds the calls in flight; 1 runs them one after another", () =>
    Effect.gen(function* () {
      const calls = ["a", "b", "c", "d", "e"].map((id, i) => ({ id, ms: 10 - 2 * i }))
      const two = probe()
      yield* Agent.make({ toolsets: [two.startSet], maxConcurrency: 2 })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      assert.strictEqual(two.log.maxInFlight, 2)
      assert.deepStrictEqual(two.log.starts, ["a", "b", "c", "d", "e"])
      const one = probe()
      const result = yield* Agent.make({ toolsets: [one.startSet], maxConcurrency: 1 })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      assert.deepStrictEqual(
        one.log.events,
        calls.flatMap(({ id }) => [`start ${id}`, `end ${id}`])
      )
      assert.strictEqual(result.usage.toolCalls, 5)
    })
  )

  it.live("retries, failed results and bad arguments come out as through `call`", () =>
    Effect.gen(function* () {
      const calls = [
        { id: "a" },
        { id: "b", mode: "retry" as const, ms: 5 },
        { id: "c", mode: "failed" as const },
        { id: 42 },
        { id: "e", ms: 3 }
      ]
      // (a second retry of `echo` would spend its budget of 1: the next test)
      const then = [{ id: "b2" }, { id: "c2", mode: "failed" as const }]
      const s = probe()
      const c = probe()
      const viaStart = yield* outcome(Agent.make({ toolsets: [s.startSet] }), model(calls, then))
      const viaCall = yield* outcome(Agent.make({ toolsets: [c.callSet] }), model(calls, then))
      assert.deepStrictEqual(s.log.calls, [])
      assert.deepStrictEqual(s.log.starts, ["a", "b", "c", "e", "b2", "c2"])
      assert.deepStrictEqual(c.log.calls, ["a", "b", "c", "e", "b2", "c2"])
      assert.deepStrictEqual(viaStart.parts, viaCall.parts)
      assert.deepStrictEqual(viaStart.parts.slice(0, 5), [
        ["ToolReturnPart", "t0-0", "echo a", "success"],
        ["RetryPromptPart", "t0-1", "again b", undefined],
        ["ToolReturnPart", "t0-2", "no c", "failed"],
        ["RetryPromptPart", "t0-3", viaCall.parts[3]![2], undefined],
        ["ToolReturnPart", "t0-4", "echo e", "success"]
      ])
      assert.isTrue(Exit.isSuccess(viaStart.exit))
      // a, e, b2 counted (a retry or a failed result is not a call made)
      assert.strictEqual(viaStart.toolCalls, 3)
      assert.strictEqual(viaCall.toolCalls, viaStart.toolCalls)
    })
  )

  it.live("a spent retry budget ends the run as through `call`, the history kept", () =>
    Effect.gen(function* () {
      const calls = [{ id: "a" }, { id: "b", mode: "retry" as const }]
      const s = probe()
      const c = probe()
      const viaStart = yield* outcome(
        Agent.make({ toolsets: [s.startSet], retries: 0 }),
        model(calls)
      )
      const viaCall = yield* outcome(
        Agent.make({ toolsets: [c.callSet], retries: 0 }),
        model(calls)
      )
      assert.instanceOf(viaStart.failure, AgentError.UnexpectedModelBehavior)
      assert.deepStrictEqual(viaStart.failure, viaCall.failure)
      assert.include(
        (viaStart.failure as AgentError.UnexpectedModelBehavior).message,
        "Tool 'echo' exceeded max retries count of 0: again b"
      )
      assert.deepStrictEqual(viaStart.tags, ["ModelRequest", "ModelResponse"])
      assert.deepStrictEqual(viaStart.tags, viaCall.tags)
    })
  )

  it.live("a tool's error ends the run: the calls in flight are cancelled, no more start", () =>
    Effect.gen(function* () {
      const calls = [
        { id: "a", mode: "error" as const, ms: 5 },
        { id: "b", mode: "hang" as const },
        { id: "c" },
        { id: "d" }
      ]
      const s = probe()
      const viaStart = yield* outcome(
        Agent.make({ toolsets: [s.startSet], maxConcurrency: 2 }),
        model(calls)
      )
      assert.deepStrictEqual(s.log.starts, ["a", "b"])
      assert.deepStrictEqual(s.log.cancels, ["b"])
      assert.deepStrictEqual(viaStart.failure, new Boom({ id: "a" }))
      assert.deepStrictEqual(viaStart.tags, ["ModelRequest", "ModelResponse"])
      const c = probe()
      const viaCall = yield* outcome(
        Agent.make({ toolsets: [c.callSet], maxConcurrency: 2 }),
        model(calls)
      )
      assert.deepStrictEqual(viaCall.failure, viaStart.failure)
      assert.deepStrictEqual(c.log.cancels, ["b"])
    })
  )

  it.live("a call over its time limit is cancelled and retried, as through `call`", () =>
    Effect.gen(function* () {
      const calls = [{ id: "a" }, { id: "b", mode: "hang" as const }, { id: "c", ms: 5 }]
      const s = probe()
      const c = probe()
      const agent = (set: Toolset.Toolset<any, never>) =>
        Agent.make({ toolsets: [set], toolTimeout: "40 millis" })
      const viaStart = yield* outcome(agent(s.startSet), model(calls))
      const viaCall = yield* outcome(agent(c.callSet), model(calls))
      assert.deepStrictEqual(s.log.starts, ["a", "b", "c"])
      assert.deepStrictEqual(s.log.cancels, ["b"])
      assert.deepStrictEqual(viaStart.parts, [
        ["ToolReturnPart", "t0-0", "echo a", "success"],
        ["RetryPromptPart", "t0-1", "Timed out after 0.04 seconds.", undefined],
        ["ToolReturnPart", "t0-2", "echo c", "success"]
      ])
      assert.deepStrictEqual(viaCall.parts, viaStart.parts)
      assert.deepStrictEqual(c.log.cancels, ["b"])
      // the tool's own limit wins over the agent's
      const own = probe()
      const limited = Toolset.make(
        () => Effect.succeed([{ ...own.started, timeout: "20 millis" }]),
        undefined
      )
      const r = yield* outcome(
        Agent.make({ toolsets: [limited], toolTimeout: "1 hour" }),
        model([{ id: "x", mode: "hang" }])
      )
      assert.deepStrictEqual(r.parts, [
        ["RetryPromptPart", "t0-0", "Timed out after 0.02 seconds.", undefined]
      ])
      assert.deepStrictEqual(own.log.starts, ["x"])
    })
  )

  it.live("streamed (onEvent, runStream): results emitted as calls end, as through `call`", () =>
    Effect.gen(function* () {
      // c ends first, then a; b asks for a retry; d has bad arguments (at once)
      const calls = [
        { id: "a", ms: 30 },
        { id: "b", mode: "retry" as const, ms: 15 },
        { id: "c", ms: 3 },
        { id: 4 }
      ]
      /** What a stream consumer sees of the tools: call and result events, in order. */
      const seen = (events: ReadonlyArray<Agent.AgentStreamEvent<any>>) =>
        events.flatMap((e) =>
          e._tag === "FunctionToolCallEvent"
            ? [`call ${e.part.toolCallId}`]
            : e._tag === "FunctionToolResultEvent"
              ? [`${e.result._tag} ${e.result.toolCallId} ${JSON.stringify(e.result.content)}`]
              : []
        )
      /** Whether `a` had ended when `c`'s result was emitted (it must not have: emitted as c ended). */
      let aEndedAtC: boolean | undefined
      const pushed = (set: Toolset.Toolset<any, never>, log: ReturnType<typeof probe>["log"]) =>
        Effect.gen(function* () {
          const events: Array<Agent.AgentStreamEvent<any>> = []
          aEndedAtC = undefined
          const r = yield* Agent.make({ toolsets: [set] })
            .run("go", {
              onEvent: (e) => {
                events.push(e)
                if (e._tag === "FunctionToolResultEvent" && e.result.toolCallId === "t0-2") {
                  aEndedAtC = log.events.includes("end a")
                }
              }
            })
            .pipe(Effect.provide(model(calls)))
          return { events: seen(events), parts: partsOf(r.allMessages()) }
        })
      const streamed = (set: Toolset.Toolset<any, never>, _log: ReturnType<typeof probe>["log"]) =>
        Effect.map(
          Agent.make({ toolsets: [set] })
            .runStream("go")
            .pipe(Stream.provideLayer(model(calls)), Stream.runCollect),
          (chunk) => {
            const events = [...chunk]
            const last = events[events.length - 1] as Agent.AgentRunResultEvent<string>
            return { events: seen(events), parts: partsOf(last.result.allMessages()) }
          }
        )
      for (const consume of [pushed, streamed]) {
        const s = probe()
        const c = probe()
        const viaStart = yield* consume(s.startSet, s.log)
        if (consume === pushed) assert.isFalse(aEndedAtC)
        const viaCall = yield* consume(c.callSet, c.log)
        assert.deepStrictEqual(s.log.starts, ["a", "b", "c"])
        assert.deepStrictEqual(s.log.calls, [])
        assert.deepStrictEqual(c.log.calls, ["a", "b", "c"])
        assert.deepStrictEqual(viaStart.events.slice(0, 4), [
          "call t0-0",
          "call t0-1",
          "call t0-2",
          "call t0-3"
        ])
        // the bad arguments' retry at once; then the results as the calls ended: c, b, a
        assert.include(viaStart.events[4], "RetryPromptPart t0-3")
        assert.deepStrictEqual(viaStart.events.slice(5, 8), [
          'ToolReturnPart t0-2 "echo c"',
          'RetryPromptPart t0-1 "again b"',
          'ToolReturnPart t0-0 "echo a"'
        ])
        assert.sameMembers(viaStart.events, viaCall.events)
        assert.deepStrictEqual(
          viaStart.events.filter((e) => !e.includes("t0-3")),
          viaCall.events.filter((e) => !e.includes("t0-3"))
        )
        assert.deepStrictEqual(viaStart.parts, viaCall.parts)
      }
    })
  )

  it.live("interrupting the run cancels every call in flight", () =>
    Effect.gen(function* () {
      const s = probe()
      const fiber = yield* Effect.fork(
        Agent.make({ toolsets: [s.startSet] })
          .run("go")
          .pipe(
            Effect.provide(
              model([
                { id: "a", mode: "hang" },
                { id: "b", mode: "hang" },
                { id: "c", ms: 5 }
              ])
            )
          )
      )
      while (s.log.events.length < 4) yield* Effect.sleep("2 millis")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.deepStrictEqual(s.log.cancels.sort(), ["a", "b"])
      assert.strictEqual(s.log.inFlight, 0)
    })
  )
})

describe("tool calls go through `call` (each in its own region) when", () => {
  const calls = [{ id: "a" }, { id: "b", ms: 2 }]
  const expected = [
    ["ToolReturnPart", "t0-0", "echo a", "success"],
    ["ToolReturnPart", "t0-1", "echo b", "success"]
  ]
  const check = (p: ReturnType<typeof probe>, messages: ReadonlyArray<Messages.ModelMessage>) => {
    assert.deepStrictEqual(p.log.starts, [])
    assert.deepStrictEqual(p.log.calls, ["a", "b"])
    assert.deepStrictEqual(partsOf(messages), expected)
  }

  it.live("spans are recorded (one `execute_tool` span per call)", () =>
    Effect.gen(function* () {
      const p = probe()
      const { tracer, spans } = recordingTracer()
      const r = yield* Agent.make({ toolsets: [p.startSet] })
        .run("go")
        .pipe(Effect.provide(model(calls)), Effect.withTracer(tracer))
      check(p, r.allMessages())
      assert.strictEqual(spans.filter((s) => s.name === "execute_tool echo").length, 2)
    })
  )

  it.live("a capability hooks tool execution", () =>
    Effect.gen(function* () {
      const p = probe()
      const seen: Array<string> = []
      const hook = Capability.make({
        hooks: {
          wrapToolExecute: (_ctx, execution, next) =>
            Effect.zipRight(
              Effect.sync(() => seen.push(execution.call.toolCallId)),
              next(execution)
            )
        }
      })
      const r = yield* Agent.make({ toolsets: [p.startSet], capabilities: [hook] })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      check(p, r.allMessages())
      assert.deepStrictEqual(seen, ["t0-0", "t0-1"])
    })
  )

  it.live("a wrapper replaced the tool's `call` (spreading the tool)", () =>
    Effect.gen(function* () {
      const p = probe()
      const wrapped: Array<string> = []
      const wrapper = Toolset.make(
        () =>
          Effect.succeed([
            {
              ...p.started,
              call: (args: unknown) =>
                Effect.zipRight(
                  Effect.sync(() => wrapped.push((args as Args).id)),
                  p.started.call(args)
                )
            }
          ]),
        undefined
      )
      const r = yield* Agent.make({ toolsets: [wrapper] })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      check(p, r.allMessages())
      assert.deepStrictEqual(wrapped, ["a", "b"])
    })
  )

  it.live("a call needs approval", () =>
    Effect.gen(function* () {
      const p = probe()
      const gated = Toolset.make(
        () =>
          Effect.succeed([
            {
              ...p.started,
              requiresApproval: (args: unknown) => Effect.succeed((args as Args).id === "b")
            }
          ]),
        undefined
      )
      const r = yield* Agent.make({ toolsets: [gated] })
        .run("go")
        .pipe(Effect.provide(model(calls)))
      assert.deepStrictEqual(p.log.starts, [])
      assert.deepStrictEqual(p.log.calls, ["a"])
      assert.isTrue(DeferredTools.isDeferredToolRequests(r.output))
    })
  )

  it.effect("a time limit applies and the clock is not Effect's own (TestClock)", () =>
    Effect.gen(function* () {
      const p = probe()
      const r = yield* Agent.make({ toolsets: [p.startSet], toolTimeout: "1 hour" })
        .run("go")
        .pipe(Effect.provide(model([{ id: "a" }])))
      assert.deepStrictEqual(p.log.starts, [])
      assert.deepStrictEqual(p.log.calls, ["a"])
      assert.deepStrictEqual(partsOf(r.allMessages()), [
        ["ToolReturnPart", "t0-0", "echo a", "success"]
      ])
      // without a time limit the clock does not matter
      const q = probe()
      yield* Agent.make({ toolsets: [q.startSet] })
        .run("go")
        .pipe(Effect.provide(model([{ id: "a" }])))
      assert.deepStrictEqual(q.log.starts, ["a"])
    })
  )
})

describe("Tool.fromAsync: its calls start as promises", () => {
  /** An async tool: echo after `ms`, a retry, a failed result, a thrown error, or never. */
  const asyncProbe = () => {
    const log = { started: [] as Array<string>, aborted: [] as Array<string> }
    const tool = Tool.fromAsync("echo", {
      parameters: Args,
      handler: async ({ id, mode, ms }, { signal }) => {
        log.started.push(id)
        signal.addEventListener("abort", () => log.aborted.push(id))
        await sleep(ms ?? 0)
        if (mode === "retry") throw new AgentError.ModelRetry({ reason: `again ${id}` })
        if (mode === "failed") throw new AgentError.ToolFailed({ reason: `no ${id}` })
        if (mode === "error") throw new Error(`broke ${id}`)
        if (mode === "hang") await new Promise(() => {})
        return `echo ${id}`
      }
    })
    return { log, tool }
  }
  /** `run` through `start`, and through the handler (the same tool without `start`). */
  const both = (
    calls: ReadonlyArray<Sent>,
    options: { readonly toolTimeout?: Duration.DurationInput } = {}
  ) =>
    Effect.gen(function* () {
      const s = asyncProbe()
      const c = asyncProbe()
      const viaStart = yield* outcome(Agent.make({ tools: [s.tool], ...options }), model(calls))
      // the same tool without `start`: each call through its handler
      const [t] = Toolset.fromTools([c.tool]).fixed!
      const handlerOnly = { ...t!, start: undefined }
      const viaCall = yield* outcome(
        Agent.make({
          toolsets: [Toolset.make(() => Effect.succeed([handlerOnly]), [handlerOnly])],
          ...options
        }),
        model(calls)
      )
      return { s, c, viaStart, viaCall }
    })

  it.live("the tool offers `start` for its handler; results as through the handler", () =>
    Effect.gen(function* () {
      const { tool } = asyncProbe()
      const [t] = Toolset.fromTools([tool]).fixed!
      assert.strictEqual(t!.start?.of, t!.call)
      assert.isTrue(t!.start?.dies)
      const { s, viaStart, viaCall } = yield* both([
        { id: "a", ms: 6 },
        { id: "b", mode: "retry" },
        { id: "c", mode: "failed" },
        { id: "d" }
      ])
      assert.deepStrictEqual(s.log.started, ["a", "b", "c", "d"])
      assert.deepStrictEqual(viaStart.parts, [
        ["ToolReturnPart", "t0-0", "echo a", "success"],
        ["RetryPromptPart", "t0-1", "again b", undefined],
        ["ToolReturnPart", "t0-2", "no c", "failed"],
        ["ToolReturnPart", "t0-3", "echo d", "success"]
      ])
      assert.deepStrictEqual(viaCall.parts, viaStart.parts)
      assert.strictEqual(viaStart.toolCalls, 2)
    })
  )

  it.live("a handler that returns or throws at once (no promise) works the same", () =>
    Effect.gen(function* () {
      const sync = Tool.fromAsync("echo", {
        parameters: Args,
        handler: ({ id, mode }) => {
          if (mode === "retry") throw new AgentError.ModelRetry({ reason: `again ${id}` })
          if (mode === "error") throw new Error(`broke ${id}`)
          return `sync ${id}`
        }
      })
      const [t] = Toolset.fromTools([sync]).fixed!
      const handlerOnly = { ...t!, start: undefined }
      const viaCall = Toolset.make(() => Effect.succeed([handlerOnly]), [handlerOnly])
      const calls = [{ id: "a" }, { id: "b", mode: "retry" as const }]
      const a = yield* outcome(Agent.make({ tools: [sync] }), model(calls))
      const b = yield* outcome(Agent.make({ toolsets: [viaCall] }), model(calls))
      assert.deepStrictEqual(a.parts, [
        ["ToolReturnPart", "t0-0", "sync a", "success"],
        ["RetryPromptPart", "t0-1", "again b", undefined]
      ])
      assert.deepStrictEqual(b.parts, a.parts)
      const broken = yield* outcome(
        Agent.make({ tools: [sync] }),
        model([{ id: "c", mode: "error" }])
      )
      assert.isTrue(Exit.isFailure(broken.exit))
      if (Exit.isFailure(broken.exit)) {
        const defect = Cause.dieOption(broken.exit.cause)
        assert.isTrue(defect._tag === "Some" && String(defect.value).includes("broke c"))
      }
    })
  )

  it.live("a thrown error is a defect either way; the other calls' signals are aborted", () =>
    Effect.gen(function* () {
      const { s, c, viaStart, viaCall } = yield* both([
        { id: "a", mode: "error", ms: 3 },
        { id: "b", mode: "hang" }
      ])
      for (const exit of [viaStart.exit, viaCall.exit]) {
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const defect = Cause.dieOption(exit.cause)
          assert.isTrue(defect._tag === "Some" && String(defect.value).includes("broke a"))
        }
      }
      assert.deepStrictEqual(s.log.aborted, ["b"])
      assert.deepStrictEqual(c.log.aborted, ["b"])
    })
  )

  it.live("a call over its time limit: its signal aborted, a retry prompt", () =>
    Effect.gen(function* () {
      const { s, viaStart, viaCall } = yield* both([{ id: "a" }, { id: "b", mode: "hang" }], {
        toolTimeout: "30 millis"
      })
      assert.deepStrictEqual(s.log.aborted, ["b"])
      assert.deepStrictEqual(viaStart.parts, [
        ["ToolReturnPart", "t0-0", "echo a", "success"],
        ["RetryPromptPart", "t0-1", "Timed out after 0.03 seconds.", undefined]
      ])
      assert.deepStrictEqual(viaCall.parts, viaStart.parts)
    })
  )
})
