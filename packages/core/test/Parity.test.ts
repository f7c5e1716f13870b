/**
 * pydantic-ai parity features (see docs/PARITY.md): run metadata, agent concurrency limits,
 * `outputJsonSchema`, `ToolFailed`, the per-request input token limit and the event stream
 * handler of `run`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  FunctionModel,
  Messages,
  Model,
  OutputSpec,
  RunContext,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { recordingTracer } from "./support/tracer.js"

describe("run metadata", () => {
  it.effect("agent and run metadata merge (run wins) on the result, RunContext and span", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const seen: Array<unknown> = []
      const probe = Tool.make("probe", {
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.map(RunContext.RunContext, (ctx) => {
            seen.push(ctx.metadata)
            return "ok"
          })
      })
      const agent = Agent.make({
        name: "meta",
        tools: [probe],
        metadata: { tenant: "acme", env: "prod" }
      })
      const result = yield* agent
        .run("hi", { metadata: { env: "test", requestId: "r1" } })
        .pipe(Effect.provide(TestModel.layer()), Effect.withTracer(tracer))
      assert.deepStrictEqual(result.metadata, { tenant: "acme", env: "test", requestId: "r1" })
      assert.deepStrictEqual(seen, [{ tenant: "acme", env: "test", requestId: "r1" }])
      const span = spans.find((s) => s.name === "invoke_agent meta")!
      assert.deepStrictEqual(JSON.parse(span.attributes.get("metadata") as string), {
        tenant: "acme",
        env: "test",
        requestId: "r1"
      })
    })
  )

  it.effect("a metadata function runs at the start and again at the end (final usage)", () =>
    Effect.gen(function* () {
      const calls: Array<number> = []
      const agent = Agent.make({
        tools: [
          Tool.make("noop", {
            parameters: Schema.Struct({}),
            handler: () => Effect.succeed("done")
          })
        ],
        metadata: (ctx) => {
          calls.push(ctx.usage.requests)
          return { requests: ctx.usage.requests }
        }
      })
      const result = yield* agent.run("go").pipe(Effect.provide(TestModel.layer()))
      assert.deepStrictEqual(calls, [0, 2])
      assert.deepStrictEqual(result.metadata, { requests: 2 })
    })
  )

  it.effect("streamed runs carry metadata on the result event; no metadata → undefined", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ metadata: { a: 1 } })
      const streamed = yield* Agent.finalResult(agent.runStream("hi", { metadata: { b: 2 } })).pipe(
        Effect.provide(TestModel.layer())
      )
      assert.deepStrictEqual(streamed.metadata, { a: 1, b: 2 })
      const plain = yield* Agent.make().run("hi").pipe(Effect.provide(TestModel.layer()))
      assert.strictEqual(plain.metadata, undefined)
    })
  )
})

describe("agent concurrency limit", () => {
  /** An agent whose tool blocks until `gate` opens, counting the runs inside the tool. */
  const gated = (maxConcurrentRuns: number | Agent.ConcurrencyLimiter) =>
    Effect.gen(function* () {
      const gate = yield* Deferred.make<void>()
      const inside = { now: 0, max: 0, entered: 0 }
      const wait = Tool.make("wait", {
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.gen(function* () {
            inside.now += 1
            inside.entered += 1
            inside.max = Math.max(inside.max, inside.now)
            yield* Deferred.await(gate)
            inside.now -= 1
            return "ok"
          })
      })
      const agent = Agent.make({ name: "limited", tools: [wait], maxConcurrentRuns })
      return { agent, gate, inside }
    })

  it.effect("excess runs wait for a slot (in a wait span), then all complete", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const limiter = Agent.concurrencyLimiter({ maxRunning: 2 })
      const { agent, gate, inside } = yield* gated(limiter)
      const fibers = yield* Effect.forEach([1, 2, 3], () =>
        agent
          .run("go")
          .pipe(Effect.provide(TestModel.layer()), Effect.withTracer(tracer), Effect.fork)
      )
      yield* Effect.yieldNow()
      yield* Effect.repeat(limiter.waiting, { until: (n) => n === 1 })
      assert.strictEqual(inside.entered, 2)
      assert.strictEqual(yield* limiter.running, 2)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.joinAll(fibers)
      assert.strictEqual(results.length, 3)
      assert.strictEqual(inside.entered, 3)
      assert.strictEqual(inside.max, 2)
      assert.strictEqual(yield* limiter.running, 0)
      assert.strictEqual(spans.filter((s) => s.name === "agent.concurrency.wait").length, 1)
      assert.strictEqual(spans.filter((s) => s.name === "invoke_agent limited").length, 3)
    })
  )

  it.effect("a full queue fails the run at once with ConcurrencyLimitExceeded", () =>
    Effect.gen(function* () {
      const limiter = Agent.concurrencyLimiter({ maxRunning: 1, maxQueued: 1 })
      const { agent, gate } = yield* gated(limiter)
      const run = agent.run("go").pipe(Effect.provide(TestModel.layer()))
      const first = yield* Effect.fork(run)
      const second = yield* Effect.fork(run)
      yield* Effect.repeat(limiter.waiting, { until: (n) => n === 1 })
      const third = yield* Effect.exit(run)
      assert.isTrue(Exit.isFailure(third))
      if (Exit.isFailure(third)) {
        const error = third.cause._tag === "Fail" ? third.cause.error : undefined
        assert.instanceOf(error, AgentError.ConcurrencyLimitExceeded)
      }
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
    })
  )

  it.effect("interrupting a waiting run leaves the queue; streams and iter hold a slot too", () =>
    Effect.gen(function* () {
      const limiter = Agent.concurrencyLimiter({ maxRunning: 1 })
      const { agent, gate, inside } = yield* gated(limiter)
      const layer = TestModel.layer()
      const holder = yield* Effect.fork(
        Stream.runDrain(agent.runStream("go")).pipe(Effect.provide(layer))
      )
      yield* Effect.repeat(
        Effect.sync(() => inside.entered),
        { until: (n) => n === 1 }
      )
      const waiter = yield* Effect.fork(agent.run("go").pipe(Effect.provide(layer)))
      yield* Effect.repeat(limiter.waiting, { until: (n) => n === 1 })
      yield* Fiber.interrupt(waiter)
      assert.strictEqual(yield* limiter.waiting, 0)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(yield* limiter.running, 0)
      // iter holds its slot until its scope closes
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* agent.iter("go").pipe(Effect.provide(layer))
          assert.strictEqual(yield* limiter.running, 1)
        })
      )
      assert.strictEqual(yield* limiter.running, 0)
      assert.strictEqual(inside.entered, 1)
    })
  )

  it.effect("a number gives each agent its own limiter", () =>
    Effect.gen(function* () {
      const { agent, gate, inside } = yield* gated(1)
      const fibers = yield* Effect.forEach([1, 2], () =>
        Effect.fork(agent.run("go").pipe(Effect.provide(TestModel.layer())))
      )
      yield* Effect.repeat(
        Effect.sync(() => inside.entered),
        { until: (n) => n === 1 }
      )
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow()
      assert.strictEqual(inside.entered, 1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.joinAll(fibers)
      assert.strictEqual(inside.max, 1)
      assert.strictEqual(inside.entered, 2)
    })
  )
})

describe("ToolFailed", () => {
  it.effect(
    "a terminal tool failure is a failed tool return: no retry budget, no tool call counted",
    () =>
      Effect.gen(function* () {
        const lookup = Tool.make("lookup", {
          parameters: Schema.Struct({ id: Schema.Number }),
          retries: 0,
          handler: ({ id }) =>
            id < 0
              ? Effect.fail(
                  new AgentError.ToolFailed({ reason: "Database is down", metadata: { id } })
                )
              : Effect.succeed(`row ${id}`)
        })
        const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
        // Two failing calls in a row: with retries 0 a ModelRetry would end the run.
        const model = FunctionModel.layer(undefined, {
          stream: (messages) => {
            seen.push(messages)
            const calls = messages.filter((m) => m._tag === "ModelResponse").length
            return calls < 2
              ? Stream.make({
                  0: { name: "lookup", jsonArgs: '{"id":-1}', toolCallId: `c${calls}` }
                })
              : Stream.make("sorry, the database is down")
          }
        })
        const events: Array<string> = []
        const result = yield* Agent.finalResult(
          Agent.make({ tools: [lookup] })
            .runStream("find -1")
            .pipe(
              Stream.tap((e) =>
                Effect.sync(() => {
                  if (e._tag === "FunctionToolResultEvent" && e.result._tag === "ToolReturnPart") {
                    events.push(e.result.outcome)
                  }
                })
              )
            )
        ).pipe(Effect.provide(model))
        assert.strictEqual(result.output, "sorry, the database is down")
        assert.deepStrictEqual(events, ["failed", "failed"])
        assert.strictEqual(result.usage.toolCalls, 0)
        const returns = result
          .allMessages()
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .filter((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
        assert.strictEqual(returns.length, 2)
        assert.strictEqual(returns[0]!.outcome, "failed")
        assert.strictEqual(returns[0]!.content, "Database is down")
        assert.deepStrictEqual(returns[0]!.metadata, { id: -1 })
        // The model saw the failure as the tool's return
        const lastSent = seen[1]![seen[1]!.length - 1]!
        assert.strictEqual(lastSent._tag, "ModelRequest")
        const part = (lastSent as Messages.ModelRequest).parts[0]!
        assert.strictEqual(part._tag, "ToolReturnPart")
      })
  )

  it.effect(
    "ToolFailed does not reach the agent's error type; ModelRetry still spends the budget",
    () =>
      Effect.gen(function* () {
        const flaky = Tool.make("flaky", {
          parameters: Schema.Struct({}),
          retries: 0,
          handler: () =>
            Effect.fail(new AgentError.ModelRetry({ reason: "try again" })) as Effect.Effect<
              string,
              AgentError.ModelRetry | AgentError.ToolFailed
            >
        })
        const agent = Agent.make({ tools: [flaky] })
        // Compile-time: the run's error channel is AgentError only (no ToolFailed / ModelRetry).
        const run: Effect.Effect<unknown, AgentError.AgentError, never> = agent
          .run("x")
          .pipe(Effect.provide(TestModel.layer()))
        const exit = yield* Effect.exit(run)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
          assert.strictEqual(exit.cause.error._tag, "UnexpectedModelBehavior")
        }
      })
  )
})

describe("per-request input token limit", () => {
  it.effect(
    "a single request over perRequestInputTokensLimit fails the run, with the messages",
    () =>
      Effect.gen(function* () {
        const noop = Tool.make("noop", {
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed("")
        })
        const model = FunctionModel.layer((messages) => {
          const n = messages.filter((m) => m._tag === "ModelResponse").length
          const base = n === 0 ? FunctionModel.toolCall("noop") : FunctionModel.text("done")
          return new Messages.ModelResponse({
            ...base,
            usage: new Usage.RequestUsage({ inputTokens: n === 0 ? 150 : 250, outputTokens: 1 })
          })
        })
        const agent = Agent.make({ tools: [noop] })
        // 150 then 250 input tokens: fine with a limit of 250 per request …
        const ok = yield* agent
          .run("go", { usageLimits: Usage.UsageLimits.make({ perRequestInputTokensLimit: 250 }) })
          .pipe(Effect.provide(model))
        assert.strictEqual(ok.usage.inputTokens, 400)
        // … but not with 200: the second response trips it (the run total is never checked).
        const error = yield* agent
          .run("go", { usageLimits: Usage.UsageLimits.make({ perRequestInputTokensLimit: 200 }) })
          .pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "UsageLimitExceeded")
        if (error._tag === "UsageLimitExceeded") {
          assert.strictEqual(error.limit, "perRequestInputTokensLimit")
          assert.strictEqual(error.value, 250)
          assert.strictEqual(error.limitValue, 200)
          assert.strictEqual(error.messages.filter((m) => m._tag === "ModelResponse").length, 2)
        }
      })
  )
})

describe("Agent.outputJsonSchema", () => {
  const toolSpec = (names: ReadonlyArray<string>, allowTextOutput: boolean) =>
    OutputSpec.make<unknown>({
      mode: "tool",
      allowTextOutput,
      toolDefinitions: () =>
        names.map(
          (name) =>
            new Tool.ToolDefinition({
              name,
              kind: "output",
              parametersJsonSchema: {
                type: "object",
                properties: { [name]: { $ref: "#/$defs/Shared" } },
                required: [name],
                $defs: { Shared: { type: "string" } }
              }
            })
        ),
      handleText: () => Effect.succeed(""),
      handleToolCall: () => Effect.succeed("")
    })

  it("text output is a string; one output tool is its parameters schema", () => {
    assert.deepStrictEqual(Agent.outputJsonSchema(Agent.make()), { type: "string" })
    assert.deepStrictEqual(Agent.outputJsonSchema(Agent.make({ output: toolSpec(["a"], false) })), {
      type: "object",
      properties: { a: { $ref: "#/$defs/Shared" } },
      required: ["a"],
      $defs: { Shared: { type: "string" } }
    })
  })

  it("several alternatives (tools plus text) become anyOf with $defs at the root", () => {
    const schema = Agent.outputJsonSchema(Agent.make({ output: toolSpec(["a", "b"], true) }))
    assert.deepStrictEqual(schema, {
      anyOf: [
        { type: "object", properties: { a: { $ref: "#/$defs/Shared" } }, required: ["a"] },
        { type: "object", properties: { b: { $ref: "#/$defs/Shared" } }, required: ["b"] },
        { type: "string" }
      ],
      $defs: { Shared: { type: "string" } }
    })
  })

  it("native output uses its response-format schema; a spec's own outputJsonSchema wins", () => {
    const native = OutputSpec.make<unknown>({
      mode: "native",
      allowTextOutput: false,
      outputObject: () =>
        new Model.OutputObjectDefinition({ jsonSchema: { type: "object", properties: {} } }),
      handleText: () => Effect.succeed(""),
      handleToolCall: () => Effect.succeed("")
    })
    assert.deepStrictEqual(Agent.outputJsonSchema(Agent.make({ output: native })), {
      type: "object",
      properties: {}
    })
    const own = { ...toolSpec(["a"], false), outputJsonSchema: () => ({ type: "integer" }) }
    assert.deepStrictEqual(Agent.outputJsonSchema(Agent.make({ output: own })), { type: "integer" })
  })

  it("auto output resolves with the given profile", () => {
    const auto = {
      ...toolSpec(["a"], false),
      resolve: (profile: Model.ModelProfile) =>
        profile.defaultStructuredOutputMode === "tool"
          ? toolSpec(["a"], false)
          : toolSpec(["z"], false)
    }
    const agent = Agent.make({ output: auto })
    assert.deepStrictEqual(Object.keys((Agent.outputJsonSchema(agent) as any).properties), ["a"])
    const nativeProfile = Model.profile({ defaultStructuredOutputMode: "native" })
    assert.deepStrictEqual(
      Object.keys((Agent.outputJsonSchema(agent, nativeProfile) as any).properties),
      ["z"]
    )
  })
})

describe("run with eventStreamHandler", () => {
  const echo = Tool.make("echo", {
    parameters: Schema.Struct({ text: Schema.String }),
    handler: ({ text }) => Effect.succeed(text)
  })

  it.effect("the handler sees every step's events; the run returns its result", () =>
    Effect.gen(function* () {
      const steps: Array<Array<string>> = []
      const result = yield* Agent.make({ tools: [echo] })
        .run("go", {
          eventStreamHandler: (events) =>
            Effect.flatMap(Stream.runCollect(events), (chunk) =>
              Effect.sync(() => {
                steps.push([...chunk].map((e) => e._tag))
              })
            ).pipe(Effect.orDie)
        })
        .pipe(Effect.provide(TestModel.layer()))
      assert.strictEqual(result.output, '{"echo":"a"}')
      // request → tool calls → request (text, with FinalResultEvent) → text handled (no events)
      assert.strictEqual(steps.length, 4)
      assert.deepStrictEqual(steps[3], [])
      assert.deepStrictEqual(steps[0], ["PartStartEvent", "PartEndEvent"])
      assert.deepStrictEqual(steps[1], ["FunctionToolCallEvent", "FunctionToolResultEvent"])
      assert.include(steps[2]!, "FinalResultEvent")
      assert.notInclude(steps.flat(), "AgentRunResultEvent")
    })
  )

  it.effect(
    "a handler reading only the first event: the rest is drained, tools still run once",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const counted = Tool.make("counted", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.sync(() => {
              calls += 1
              return "ok"
            })
        })
        const first: Array<string> = []
        const result = yield* Agent.make({ tools: [counted] })
          .run("go", {
            eventStreamHandler: (events) =>
              Stream.runHead(events).pipe(
                Effect.flatMap((e) =>
                  Effect.sync(() => {
                    if (e._tag === "Some") first.push(e.value._tag)
                  })
                ),
                Effect.orDie
              )
          })
          .pipe(Effect.provide(TestModel.layer()))
        assert.strictEqual(calls, 1)
        assert.strictEqual(result.output, '{"counted":"ok"}')
        assert.deepStrictEqual(first, ["PartStartEvent", "FunctionToolCallEvent", "PartStartEvent"])
        assert.strictEqual(result.allMessages().length, 4)
      })
  )

  it.effect("a step failure fails the run even when the handler swallows it", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(undefined, {
        stream: () => Stream.fail(new AgentError.ModelAPIError({ modelName: "m", reason: "boom" }))
      })
      let handled = 0
      const error = yield* Agent.make()
        .run("go", {
          eventStreamHandler: (events) =>
            Stream.runDrain(events).pipe(
              Effect.catchAll(() =>
                Effect.sync(() => {
                  handled += 1
                })
              )
            )
        })
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(handled, 1)
      assert.strictEqual((error as AgentError.ModelAPIError)._tag, "ModelAPIError")
      // The messages so far: the request and the cut response, kept as `interrupted`.
      const messages = (error as AgentError.ModelAPIError).messages
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )
})
