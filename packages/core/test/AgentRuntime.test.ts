import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  FunctionModel,
  Messages,
  Model,
  OutputSpec,
  RunContext,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"
import { finalResultOutput } from "./support/output.js"
import { recordingTracer } from "./support/tracer.js"

const responsesSoFar = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

const finalOutput = finalResultOutput((call) =>
  Effect.succeed(call.argsAsObject() as { n: number })
)

describe("cancellation", () => {
  it.effect(
    "timeout mid-tool: the tool's finalizer runs and the messages so far are captured",
    () =>
      Effect.gen(function* () {
        const finalized = yield* Ref.make(false)
        const slow = Tool.make("slow", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.sleep("1 hour").pipe(Effect.onInterrupt(() => Ref.set(finalized, true)))
        })
        const agent = Agent.make({ tools: [slow] })
        const model = FunctionModel.layer(() => FunctionModel.toolCall("slow", {}))
        const fiber = yield* Effect.fork(
          CaptureRunMessages.capture(
            agent.run("go").pipe(Effect.provide(model), Effect.timeout("1 second"))
          )
        )
        yield* TestClock.adjust("2 seconds")
        const { exit, messages } = yield* Fiber.join(fiber)
        assert.isTrue(Exit.isFailure(exit))
        assert.isTrue(yield* Ref.get(finalized))
        assert.deepStrictEqual(
          messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        // The interrupted history can be continued: the dangling call gets a synthesised return.
        const ok = yield* Agent.make({})
          .run("never mind", { messageHistory: messages })
          .pipe(Effect.provide(FunctionModel.layer(() => "fine")))
        const repaired = ok.allMessages()[2] as Messages.ModelRequest
        const ret = repaired.parts[0] as Messages.ToolReturnPart
        assert.strictEqual(ret.outcome, "interrupted")
        assert.strictEqual(ret.toolCallId, "call_slow")
        assert.strictEqual(repaired.parts[1]!._tag, "UserPromptPart")
        assert.strictEqual(ok.output, "fine")
      })
  )

  it.effect("interrupting mid-request stops the model request and keeps the request", () =>
    Effect.gen(function* () {
      const modelInterrupted = yield* Ref.make(false)
      const model = FunctionModel.layer(() =>
        Effect.sleep("1 hour").pipe(
          Effect.as("late"),
          Effect.onInterrupt(() => Ref.set(modelInterrupted, true))
        )
      )
      const fiber = yield* Effect.fork(
        CaptureRunMessages.capture(
          Effect.gen(function* () {
            const run = yield* Effect.fork(Agent.make({}).run("hi").pipe(Effect.provide(model)))
            yield* Effect.sleep("10 millis")
            yield* Fiber.interrupt(run)
          })
        )
      )
      yield* TestClock.adjust("1 second")
      const { messages } = yield* Fiber.join(fiber)
      assert.isTrue(yield* Ref.get(modelInterrupted))
      assert.strictEqual(messages.length, 1)
      assert.strictEqual(messages[0]!._tag, "ModelRequest")
    })
  )

  it.effect(
    "dropping a stream consumer interrupts the run; the partial response is kept as interrupted",
    () =>
      Effect.gen(function* () {
        const model = FunctionModel.layer(undefined, {
          stream: () => Stream.concat(Stream.make("partial "), Stream.never)
        })
        const { messages } = yield* CaptureRunMessages.capture(
          Agent.make({})
            .runStream("hi")
            .pipe(
              Stream.provideLayer(model),
              Stream.filter((e) => e._tag === "FinalResultEvent"),
              Stream.take(1),
              Stream.runDrain
            )
        )
        assert.strictEqual(messages.length, 2)
        const response = messages[1] as Messages.ModelResponse
        assert.strictEqual(response.state, "interrupted")
        assert.strictEqual(response.text, "partial ")
      })
  )

  it.effect("a tool's typed error fails the run with that error; capture keeps messages", () =>
    Effect.gen(function* () {
      class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}
      const bad = Tool.make("bad", {
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new Boom())
      })
      const agent = Agent.make({ tools: [bad] })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        agent.run("go").pipe(Effect.provide(TestModel.layer()))
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(agent.run("go").pipe(Effect.provide(TestModel.layer())))
      assert.strictEqual(error._tag, "Boom")
      assert.strictEqual(messages.length, 2)
    })
  )

  it.effect(
    "a tool that throws ends the run as a defect (that exception); capture keeps the conversation",
    () =>
      Effect.gen(function* () {
        const boom = new Error("tool bug")
        const throwing = Tool.make("throwing", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.sync((): string => {
              throw boom
            })
        })
        const rejecting = Tool.make("rejecting", {
          parameters: Schema.Struct({}),
          handler: () => Effect.promise((): Promise<string> => Promise.reject(boom))
        })
        for (const tool of [throwing, rejecting]) {
          const agent = Agent.make({ tools: [tool] })
          for (const drive of [
            agent.run("go"),
            Stream.runDrain(agent.runStream("go"))
          ] as ReadonlyArray<Effect.Effect<unknown, unknown, Model.Model>>) {
            const { exit, messages } = yield* CaptureRunMessages.capture(
              drive.pipe(Effect.provide(TestModel.layer()))
            )
            assert(Exit.isFailure(exit))
            // a defect, not a typed failure: the exception itself, untouched
            assert.deepStrictEqual(Cause.defects(exit.cause).pipe(Chunk.toArray), [boom])
            assert.isTrue(Option.isNone(Cause.failureOption(exit.cause)))
            // the prompt and the model's call of the tool are kept
            assert.deepStrictEqual(
              messages.map((m) => m._tag),
              ["ModelRequest", "ModelResponse"]
            )
            const call = (messages[1] as Messages.ModelResponse).toolCalls[0]!
            assert.strictEqual(call.toolName, tool.name)
          }
        }
      })
  )
})

describe("history", () => {
  it.effect("continuing a conversation: newMessages holds only this run's messages", () =>
    Effect.gen(function* () {
      const agent = Agent.make({})
      const model = FunctionModel.layer((messages) => `reply ${responsesSoFar(messages) + 1}`)
      const first = yield* agent.run("one").pipe(Effect.provide(model))
      const second = yield* agent
        .run("two", { messageHistory: first.allMessages() })
        .pipe(Effect.provide(model))
      assert.strictEqual(second.output, "reply 2")
      assert.strictEqual(second.allMessages().length, 4)
      assert.strictEqual(second.newMessages().length, 2)
      assert.strictEqual((yield* Messages.decodeJson(second.newMessagesJson())).length, 2)
    })
  )

  it.effect(
    "no prompt: a history ending in a response with tool calls has those calls executed",
    () =>
      Effect.gen(function* () {
        const add = Tool.make("add", {
          parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
          handler: ({ a, b }) => Effect.succeed(a + b)
        })
        const history = [
          Messages.userPrompt("1+2"),
          FunctionModel.toolCall("add", { a: 1, b: 2 }, "x1")
        ]
        const result = yield* Agent.make({ tools: [add] })
          .run(undefined, { messageHistory: history })
          .pipe(Effect.provide(FunctionModel.layer(() => "3")))
        const ret = (result.allMessages()[2] as Messages.ModelRequest)
          .parts[0] as Messages.ToolReturnPart
        assert.strictEqual(ret.content, 3)
        assert.strictEqual(result.output, "3")
      })
  )

  it.effect(
    "orphaned tool returns and retry prompts are removed before sending; a request left empty is dropped",
    () =>
      Effect.gen(function* () {
        const ret = (toolCallId: string) =>
          new Messages.ToolReturnPart({ toolName: "add", toolCallId, content: 3 })
        const history: Array<Messages.ModelMessage> = [
          Messages.userPrompt("1+2"),
          FunctionModel.toolCall("add", { a: 1, b: 2 }, "x1"),
          new Messages.ModelRequest({
            parts: [
              ret("x1"),
              ret("gone"), // its call was cut from the history
              new Messages.RetryPromptPart({
                content: "bad",
                toolName: "add",
                toolCallId: "gone_too"
              })
            ]
          }),
          FunctionModel.text("3"),
          new Messages.ModelRequest({ parts: [ret("lost")] }), // nothing left: dropped
          FunctionModel.text("still 3")
        ]
        let sent: ReadonlyArray<Messages.ModelMessage> = []
        const result = yield* Agent.make({})
          .run("thanks", { messageHistory: history })
          .pipe(
            Effect.provide(
              FunctionModel.layer((messages) => {
                sent = messages
                return "welcome"
              })
            )
          )
        assert.deepStrictEqual(
          sent.map((m) => m._tag),
          [
            "ModelRequest",
            "ModelResponse",
            "ModelRequest",
            "ModelResponse",
            "ModelResponse",
            "ModelRequest"
          ]
        )
        const answers = (sent[2] as Messages.ModelRequest).parts
        assert.deepStrictEqual(
          answers.map((p) => (p._tag === "ToolReturnPart" ? p.toolCallId : p._tag)),
          ["x1"]
        )
        assert.strictEqual(result.allMessages().length, 7)
        // the unchanged prefix keeps its identity (no needless copies)
        assert.strictEqual(sent[0], history[0])
      })
  )

  it.effect(
    "dynamic system prompts are re-evaluated in a continued conversation; others keep their text",
    () =>
      Effect.gen(function* () {
        let user = "Ann"
        let evaluations = 0
        const agent = Agent.make({
          systemPrompt: [
            "Be kind.",
            Effect.sync(() => `Evaluated once for ${user}.`),
            Agent.dynamicSystemPrompt(
              "user",
              Effect.map(RunContext.RunContext, (ctx) => {
                evaluations++
                return `User: ${user} (${ctx.messages.length} messages so far)`
              })
            )
          ]
        })
        let sent: ReadonlyArray<Messages.ModelMessage> = []
        const model = FunctionModel.layer((messages) => {
          sent = messages
          return "ok"
        })
        const systemTexts = () =>
          (sent[0] as Messages.ModelRequest).parts.flatMap((p) =>
            p._tag === "SystemPromptPart" ? [[p.content, p.dynamicRef ?? null]] : []
          )
        const first = yield* agent.run("hi").pipe(Effect.provide(model))
        assert.deepStrictEqual(systemTexts(), [
          ["Be kind.", null],
          ["Evaluated once for Ann.", null],
          ["User: Ann (0 messages so far)", "user"]
        ])
        user = "Bob"
        // through JSON, as a stored conversation would be
        const history = yield* Messages.decodeJson(first.allMessagesJson())
        const second = yield* agent
          .run("again", { messageHistory: history })
          .pipe(Effect.provide(model))
        assert.deepStrictEqual(systemTexts(), [
          ["Be kind.", null],
          ["Evaluated once for Ann.", null],
          ["User: Bob (2 messages so far)", "user"]
        ])
        assert.strictEqual(evaluations, 2)
        // the refreshed prompt is what the result's history holds too
        const part = (second.allMessages()[0] as Messages.ModelRequest).parts[2]
        assert.strictEqual(
          part?._tag === "SystemPromptPart" && part.content,
          "User: Bob (2 messages so far)"
        )
        // another agent without that ref leaves the part alone
        yield* Agent.make({}).run("third", { messageHistory: history }).pipe(Effect.provide(model))
        assert.strictEqual(systemTexts()[2]![0], "User: Ann (0 messages so far)")
      })
  )

  it.effect("nothing to send is a UserError", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Agent.make({}).run(undefined).pipe(Effect.provide(TestModel.layer()))
      )
      assert.strictEqual(error._tag, "UserError")
    })
  )
})

describe("end strategies", () => {
  const setup = (endStrategy: Agent.EndStrategy) =>
    Effect.gen(function* () {
      const ran = yield* Ref.make<Array<string>>([])
      const tool = (name: string) =>
        Tool.make(name, {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.as(
              Ref.update(ran, (xs) => [...xs, name]),
              `${name} ok`
            )
        })
      const agent = Agent.make({
        tools: [tool("before"), tool("after")],
        output: finalOutput,
        endStrategy
      })
      const model = FunctionModel.layer(() =>
        FunctionModel.toolCalls([
          { toolName: "before" },
          { toolName: "final_result", args: { n: 1 } },
          { toolName: "final_result", args: { n: 2 } },
          { toolName: "after" }
        ])
      )
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      const last = result.allMessages()[result.allMessages().length - 1] as Messages.ModelRequest
      return {
        output: result.output,
        ran: yield* Ref.get(ran),
        contents: last.parts.map((p) => (p as Messages.ToolReturnPart).content)
      }
    })

  it.effect("early: the first output wins, function tools are not run", () =>
    Effect.gen(function* () {
      const r = yield* setup("early")
      assert.deepStrictEqual(r.output, { n: 1 })
      assert.deepStrictEqual(r.ran, [])
      assert.deepStrictEqual(r.contents, [
        Agent.statusTexts.toolNotExecuted,
        Agent.statusTexts.finalResult,
        Agent.statusTexts.outputNotUsed,
        Agent.statusTexts.toolNotExecuted
      ])
    })
  )

  it.effect("graceful (default): every function tool runs, the first output wins", () =>
    Effect.gen(function* () {
      const r = yield* setup("graceful")
      assert.deepStrictEqual(r.output, { n: 1 })
      assert.deepStrictEqual(r.ran, ["before", "after"])
      assert.deepStrictEqual(r.contents, [
        "before ok",
        Agent.statusTexts.finalResult,
        Agent.statusTexts.outputNotUsed,
        "after ok"
      ])
    })
  )

  it.effect(
    "exhaustive: a later output tool failing after the result is fixed spends no output retry",
    () =>
      Effect.gen(function* () {
        const picky = OutputSpec.make<{ n: number }>({
          ...finalOutput,
          handleToolCall: (call) => {
            const args = call.argsAsObject() as { n: number }
            return args.n > 1
              ? Effect.fail(new AgentError.ModelRetry({ reason: "n too big" }))
              : Effect.succeed(args)
          }
        })
        const result = yield* Agent.make({
          output: picky,
          outputRetries: 0,
          endStrategy: "exhaustive"
        })
          .run("go")
          .pipe(
            Effect.provide(
              FunctionModel.layer(() =>
                FunctionModel.toolCalls([
                  { toolName: "final_result", args: { n: 1 } },
                  { toolName: "final_result", args: { n: 2 } }
                ])
              )
            )
          )
        assert.deepStrictEqual(result.output, { n: 1 })
        const last = result.allMessages()[result.allMessages().length - 1] as Messages.ModelRequest
        assert.deepStrictEqual(
          last.parts.map((p) => p._tag),
          ["ToolReturnPart", "RetryPromptPart"]
        )
      })
  )

  it.effect("exhaustive: every output tool is processed too", () =>
    Effect.gen(function* () {
      const r = yield* setup("exhaustive")
      assert.deepStrictEqual(r.output, { n: 1 })
      assert.deepStrictEqual(r.contents, [
        "before ok",
        Agent.statusTexts.finalResult,
        Agent.statusTexts.outputProcessedNotFinal,
        "after ok"
      ])
    })
  )

  it.effect("retry-wins: a function tool asking for a retry voids this round's output", () =>
    Effect.gen(function* () {
      const picky = Tool.make("picky", {
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new AgentError.ModelRetry({ reason: "not yet" }))
      })
      const agent = Agent.make({ tools: [picky], output: finalOutput })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([
              { toolName: "picky" },
              { toolName: "final_result", args: { n: 1 } }
            ])
          : FunctionModel.toolCall("final_result", { n: 2 })
      )
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.deepStrictEqual(result.output, { n: 2 })
      const second = result.allMessages()[2] as Messages.ModelRequest
      assert.strictEqual(second.parts[0]!._tag, "RetryPromptPart")
      assert.strictEqual(
        (second.parts[1] as Messages.ToolReturnPart).content,
        Agent.statusTexts.retryWins
      )
    })
  )
})

describe("spans, model resolution and runtimes", () => {
  it.effect("invoke_agent, chat and execute_tool spans with GenAI attributes", () =>
    Effect.gen(function* () {
      const { spans, tracer } = recordingTracer()
      const add = Tool.make("add", {
        parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
        handler: ({ a, b }) => Effect.succeed(a + b)
      })
      yield* Agent.make({ name: "calc", tools: [add] })
        .run("1+1")
        .pipe(Effect.provide(TestModel.layer()), Effect.withTracer(tracer))
      const agentSpan = spans.find((s) => s.name === "invoke_agent calc")!
      assert.strictEqual(agentSpan.attributes.get("gen_ai.agent.name"), "calc")
      const chats = spans.filter((s) => s.name === "chat test")
      assert.strictEqual(chats.length, 2)
      assert.strictEqual(chats[0]!.parent, "invoke_agent calc")
      assert.strictEqual(chats[0]!.attributes.get("gen_ai.request.model"), "test")
      assert.isNumber(chats[0]!.attributes.get("gen_ai.usage.input_tokens"))
      const tool = spans.find((s) => s.name === "execute_tool add")!
      assert.strictEqual(tool.attributes.get("gen_ai.tool.name"), "add")
      assert.strictEqual(tool.attributes.get("gen_ai.tool.call.id"), "test_call_add")
      assert.strictEqual(tool.parent, "invoke_agent calc")
    })
  )

  it.effect("model given per run (service or layer) needs no Model in context", () =>
    Effect.gen(function* () {
      const service = yield* FunctionModel.make(() => "from service")
      const agent = Agent.make({})
      const a = yield* agent.run("x", { model: service })
      assert.strictEqual(a.output, "from service")
      const b = yield* agent.run("x", { model: FunctionModel.layer(() => "from layer") })
      assert.strictEqual(b.output, "from layer")
      const c = yield* Agent.make({ model: FunctionModel.layer(() => "agent layer") }).run("x")
      assert.strictEqual(c.output, "agent layer")
    })
  )

  it.effect("a string model resolves through ModelRegistry", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ model: "fn:echo" })
      const registry = Layer.succeed(Model.ModelRegistry, {
        resolve: (name) => FunctionModel.make(() => `resolved ${name}`)
      })
      const run: Effect.Effect<
        Agent.AgentRunResult<string>,
        unknown,
        Model.ModelRegistry
      > = agent.run("x")
      const result = yield* run.pipe(Effect.provide(registry))
      assert.strictEqual(result.output, "resolved fn:echo")
    })
  )

  it.effect("delegation: a sub-agent run sharing CurrentUsage counts against one budget", () =>
    Effect.gen(function* () {
      const sub = Agent.make({ model: FunctionModel.layer(() => "sub answer") })
      const delegate = Tool.make("delegate", {
        parameters: Schema.Struct({}),
        handler: () =>
          Effect.gen(function* () {
            const usage = yield* Agent.CurrentUsage
            const r = yield* sub.run("help", { usage })
            return r.output
          })
      })
      const parent = Agent.make({ tools: [delegate] })
      const result = yield* parent.run("go").pipe(Effect.provide(TestModel.layer()))
      assert.strictEqual(result.output, '{"delegate":"sub answer"}')
      // 2 parent requests + 1 sub-agent request
      assert.strictEqual(result.usage.requests, 3)
      const limited = yield* Effect.flip(
        parent
          .run("go", { usageLimits: new Usage.UsageLimits({ requestLimit: 2 }) })
          .pipe(Effect.provide(TestModel.layer()))
      )
      assert.strictEqual(limited._tag, "UsageLimitExceeded")
    })
  )

  it("runPromise on a ManagedRuntime", async () => {
    const runtime = ManagedRuntime.make(TestModel.layer({ customOutputText: "hello promise" }))
    const result = await Agent.runPromise(Agent.make({}), runtime, "hi")
    assert.strictEqual(result.output, "hello promise")
    const events: Array<string> = []
    for await (const e of Agent.runStreamAsyncIterable(Agent.make({}), runtime, "hi"))
      events.push(e._tag)
    assert.strictEqual(events[events.length - 1], "AgentRunResultEvent")
    await runtime.dispose()
  })
})

describe("Promise twins and missing services", () => {
  const limited = Agent.make({ usageLimits: new Usage.UsageLimits({ requestLimit: 0 }) })

  it("runPromise with { layer } rejects with the tagged error itself, not a FiberFailure", async () => {
    const error = await Agent.runPromise(limited, { layer: TestModel.layer() }, "hi").then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, AgentError.UsageLimitExceeded)
    const e = error as AgentError.UsageLimitExceeded
    assert.strictEqual(e._tag, "UsageLimitExceeded")
    assert.strictEqual(e.limit, "requestLimit")
    assert.strictEqual(e.limitValue, 0)
  })

  it("runPromise takes a ManagedRuntime or { runtime } alike", async () => {
    const runtime = ManagedRuntime.make(TestModel.layer({ customOutputText: "shared" }))
    const a = await Agent.runPromise(Agent.make({}), runtime, "hi")
    const b = await Agent.runPromise(Agent.make({}), { runtime }, "hi")
    assert.deepStrictEqual([a.output, b.output], ["shared", "shared"])
    const error = await Agent.runPromise(limited, { runtime }, "hi").then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, AgentError.UsageLimitExceeded)
    await runtime.dispose()
  })

  it("an abort interrupts the run and rejects with the signal's reason", async () => {
    const controller = new AbortController()
    const stuck = FunctionModel.layer(() => Effect.never)
    const pending = Agent.runPromise(Agent.make({}), { layer: stuck }, "hi", {
      signal: controller.signal
    })
    const reason = new Error("user cancelled")
    setTimeout(() => controller.abort(reason), 5)
    const error = await pending.then(
      () => undefined,
      (e: unknown) => e
    )
    assert.strictEqual(error, reason)
  })

  it("runStreamAsyncIterable with { layer } throws the tagged error", async () => {
    const tags: Array<string> = []
    const error = await (async () => {
      for await (const e of Agent.runStreamAsyncIterable(
        limited,
        { layer: TestModel.layer() },
        "hi"
      ))
        tags.push(e._tag)
    })().then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, AgentError.UsageLimitExceeded)
    assert.deepStrictEqual(tags, [])
  })

  it.effect("no Model provided: a UserError naming the Layer to provide", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ name: "support" })
      // The types require Model.Model; code that bypasses them (untyped JS, a cast) gets this.
      const run = agent.run("hi") as Effect.Effect<unknown, AgentError.AgentError>
      const error = yield* Effect.flip(run)
      assert.strictEqual(error._tag, "UserError")
      assert.match(
        error.message,
        /^No model for agent "support": the Model service \(@agentfx\/core\/Model\) is not provided\. Provide a model Layer — e\.g\. Effect\.provide\(OpenAiChat\.model\("gpt-4o"\)\).*TestModel\.layer\(\) in tests — or pass a model to Agent\.make\(\{ model \}\) or to run\(prompt, \{ model \}\)\.$/
      )
    })
  )

  it.effect("a model string with no ModelRegistry: a UserError naming ModelRegistry.layer()", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ model: "openai:gpt-4o" })
      const run = agent.run("hi") as Effect.Effect<unknown, AgentError.AgentError>
      const error = yield* Effect.flip(run)
      assert.strictEqual(error._tag, "UserError")
      assert.strictEqual(
        error.message,
        'Cannot resolve the model "openai:gpt-4o": no ModelRegistry is provided. Provide ModelRegistry.layer() from @agentfx/providers (with an HttpClient such as NodeHttpClient.layerUndici), or give the model as a Layer instead of a string.'
      )
    })
  )
})
