import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  ConcurrencyLimitedModel,
  FallbackModel,
  FunctionModel,
  HistoryProcessor,
  InstrumentedModel,
  Messages,
  Model,
  RunContext,
  Tool,
  Usage,
  WrapperModel
} from "@agentfx/core"

const {
  ModelRequest,
  ModelResponse,
  SystemPromptPart,
  TextPart,
  ThinkingPart,
  ToolCallPart,
  ToolReturnPart,
  UserPromptPart
} = Messages
type ModelMessage = Messages.ModelMessage

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const user = (content: string, ...before: ReadonlyArray<Messages.ModelRequestPart>) =>
  new ModelRequest({ parts: [...before, new UserPromptPart({ content })] })
const said = (content: string) => new ModelResponse({ parts: [new TextPart({ content })] })
const call = (id: string, toolName = "weather") =>
  new ToolCallPart({ toolName, args: { city: id }, toolCallId: id })
const ret = (id: string, toolName = "weather") =>
  new ToolReturnPart({ toolName, toolCallId: id, content: `ok ${id}` })
const calls = (...ids: ReadonlyArray<string>) =>
  new ModelResponse({ parts: ids.map((i) => call(i)) })
const rets = (...ids: ReadonlyArray<string>) => new ModelRequest({ parts: ids.map((i) => ret(i)) })

/** A message as plain data, without the generated timestamps. */
const plain = (m: ModelMessage): unknown => {
  const encoded = Schema.encodeSync(Messages.ModelMessage)(m) as Record<string, unknown>
  // Run-specific stamps (time, run, conversation) are not what these tests compare.
  const { timestamp: _t, usage: _u, runId: _r, conversationId: _c, ...rest } = encoded
  return rest
}
const plainAll = (ms: ReadonlyArray<ModelMessage>) => ms.map(plain)

/** Every tool return / retry with a call id answers a call of the response just before it. */
const paired = (ms: ReadonlyArray<ModelMessage>): boolean =>
  ms.every((m, i) => {
    if (m._tag === "ModelResponse") {
      const next = ms[i + 1]
      const answered = new Set(
        next?._tag === "ModelRequest"
          ? next.parts.flatMap((p) =>
              p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart"
                ? [p.toolCallId ?? ""]
                : []
            )
          : []
      )
      return next === undefined || m.toolCalls.every((c) => answered.has(c.toolCallId))
    }
    const prev = ms[i - 1]
    const ids = new Set(
      prev?._tag === "ModelResponse" ? prev.toolCalls.map((c) => c.toolCallId) : []
    )
    return m.parts.every(
      (p) =>
        (p._tag !== "ToolReturnPart" && p._tag !== "RetryPromptPart") ||
        p.toolCallId === undefined ||
        ids.has(p.toolCallId)
    )
  })

const weather = Tool.make("weather", {
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`sunny in ${city}`)
})

/** A model that calls `weather` once per city in `cities` (in one response), then answers. */
const recordingModel = (seen: Array<ReadonlyArray<ModelMessage>>, cities = ["Paris"]) => {
  const decide = (messages: ReadonlyArray<ModelMessage>) => {
    seen.push(messages)
    const last = messages[messages.length - 1]
    return last?._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")
      ? "done"
      : cities.length === 0
        ? "done"
        : cities
  }
  return FunctionModel.layer(
    (messages) => {
      const d = decide(messages)
      return d === "done"
        ? FunctionModel.text("done")
        : FunctionModel.toolCalls(d.map((city) => ({ toolName: "weather", args: { city } })))
    },
    {
      stream: (messages) => {
        const d = decide(messages)
        return d === "done"
          ? Stream.make("do", "ne")
          : Stream.make(
              Object.fromEntries(
                d.map((city, i) => [
                  i,
                  { name: "weather", jsonArgs: JSON.stringify({ city }), toolCallId: `call_${i}` }
                ])
              )
            )
      }
    }
  )
}

type Entry = "run" | "runStream" | "streamOutput" | "iter"
const entries: ReadonlyArray<Entry> = ["run", "runStream", "streamOutput", "iter"]

/** Runs an agent through one entry point; returns the stored messages at the end. */
const runVia = <E, R>(
  entry: Entry,
  agent: Agent.Agent<string, E, R>,
  prompt: string,
  options: Agent.RunOptions = {}
): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, R> => {
  switch (entry) {
    case "run":
      return Effect.map(agent.run(prompt, options), (r) => r.allMessages())
    case "runStream":
      return Effect.map(Agent.finalResult(agent.runStream(prompt, options)), (r) => r.allMessages())
    case "streamOutput":
      return Effect.map(
        CaptureRunMessages.capture(Stream.runDrain(agent.streamOutput(prompt, options))),
        (c) => {
          if (Exit.isFailure(c.exit)) throw new Error("streamOutput failed")
          return c.messages
        }
      )
    case "iter":
      return Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter(prompt, options)
          let node = yield* run.nextNode
          while (node._tag !== "End") node = yield* run.next(node)
          return yield* run.messages
        })
      )
  }
}

// ---------------------------------------------------------------------------
// The run loop
// ---------------------------------------------------------------------------

describe("historyProcessors in the run loop", () => {
  for (const entry of entries) {
    it.effect(
      `${entry}: processors see the history before each request; the model gets their answer`,
      () =>
        Effect.gen(function* () {
          const seenByModel: Array<ReadonlyArray<ModelMessage>> = []
          const seenByProcessor: Array<{ step: number; messages: ReadonlyArray<ModelMessage> }> = []
          const agent = Agent.make({
            model: recordingModel(seenByModel),
            systemPrompt: "sys",
            instructions: "Be brief.",
            tools: [weather],
            historyProcessors: [
              // An Effect processor: sees `RunContext` both as argument and as a service.
              (messages, ctx) =>
                Effect.map(RunContext.RunContext, (service) => {
                  seenByProcessor.push({ step: service.runStep, messages })
                  assert.strictEqual(ctx.runStep, service.runStep)
                  return messages
                }),
              // A pure processor: tags the request being sent.
              (messages) => {
                const last = messages[messages.length - 1] as Messages.ModelRequest
                return [
                  ...messages.slice(0, -1),
                  new ModelRequest({
                    ...last,
                    parts: [...last.parts, new UserPromptPart({ content: "(processed)" })]
                  })
                ]
              }
            ]
          })
          const stored = yield* runVia(entry, agent, "Weather?")
          // Two requests (tool call, then the answer), each processed.
          assert.deepStrictEqual(
            seenByProcessor.map((s) => [s.step, s.messages.map((m) => m._tag)]),
            [
              [1, ["ModelRequest"]],
              [2, ["ModelRequest", "ModelResponse", "ModelRequest"]]
            ]
          )
          // The processor saw the stored history (ending with the request about to be sent).
          assert.deepStrictEqual(
            plainAll(seenByProcessor[1]!.messages),
            plainAll(stored.slice(0, 3))
          )
          // The model received exactly the processed list: the stored messages plus the tag.
          assert.strictEqual(seenByModel.length, 2)
          const tagged = (m: ModelMessage) =>
            new ModelRequest({
              ...(m as Messages.ModelRequest),
              parts: [
                ...(m as Messages.ModelRequest).parts,
                new UserPromptPart({ content: "(processed)" })
              ]
            })
          assert.deepStrictEqual(plainAll(seenByModel[0]!), plainAll([tagged(stored[0]!)]))
          assert.deepStrictEqual(
            plainAll(seenByModel[1]!),
            plainAll([stored[0]!, stored[1]!, tagged(stored[2]!)])
          )
          // The stored history is not replaced: no tag in it, every message kept.
          assert.deepStrictEqual(
            stored.map((m) => m._tag),
            ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
          )
          assert.isFalse(
            stored.some(
              (m) =>
                m._tag === "ModelRequest" &&
                m.parts.some((p) => p._tag === "UserPromptPart" && p.content === "(processed)")
            )
          )
          assert.strictEqual((stored[0] as Messages.ModelRequest).instructions, "Be brief.")
        })
    )
  }

  it.effect("per-run processors run after the agent's", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const seen: Array<ReadonlyArray<ModelMessage>> = []
      const agent = Agent.make({
        model: recordingModel(seen, []),
        historyProcessors: [
          (ms) => {
            order.push("agent")
            return ms
          }
        ]
      })
      yield* agent.run("hi", {
        historyProcessors: [
          (ms) =>
            Effect.map(RunContext.RunContext, (ctx) => {
              order.push(`run ${ctx.runStep}`)
              return ms
            })
        ]
      })
      assert.deepStrictEqual(order, ["agent", "run 1"])
    })
  )

  it.effect("the model gets the last turns of a long history; parallel calls stay paired", () =>
    Effect.gen(function* () {
      const seen: Array<ReadonlyArray<ModelMessage>> = []
      const agent = Agent.make({
        model: recordingModel(seen, ["Paris", "Rome"]),
        tools: [weather],
        historyProcessors: [HistoryProcessor.keepLastTurns(2)]
      })
      const history = [
        user("q1", new SystemPromptPart({ content: "sys" })),
        calls("a", "b"),
        rets("a", "b"),
        said("a1"),
        user("q2"),
        said("a2"),
        user("q3"),
        said("a3")
      ]
      const result = yield* agent.run("q4", { messageHistory: history })
      assert.strictEqual(result.output, "done")
      assert.strictEqual(seen.length, 2)
      // First request: turns q3 and q4, the system prompt carried into the first kept request.
      assert.deepStrictEqual(
        seen[0]!.map((m) =>
          m._tag === "ModelRequest" ? m.parts.map((p) => p._tag) : m.parts.map((p) => p._tag)
        ),
        [["SystemPromptPart", "UserPromptPart"], ["TextPart"], ["UserPromptPart"]]
      )
      assert.strictEqual(
        ((seen[0]![0] as Messages.ModelRequest).parts[1] as Messages.UserPromptPart).content,
        "q3"
      )
      // Second request of the tool loop: the same two turns, the parallel calls and returns kept.
      assert.strictEqual(seen[1]!.length, 5)
      assert.isTrue(paired(seen[1]!))
      assert.deepStrictEqual(
        (seen[1]![3] as Messages.ModelResponse).toolCalls.map((c) => c.args),
        [{ city: "Paris" }, { city: "Rome" }]
      )
      // Stored history keeps everything: 8 given + request, response, returns, answer.
      assert.strictEqual(result.allMessages().length, 12)
      assert.strictEqual(result.newMessages().length, 4)
    })
  )

  class Redactor extends Context.Tag("test/Redactor")<Redactor, { readonly word: string }>() {}
  class ProcessorFailed extends Schema.TaggedError<ProcessorFailed>()("ProcessorFailed", {
    reason: Schema.String
  }) {}

  it.effect("a processor's typed error fails the run; the history stays retrievable", () =>
    Effect.gen(function* () {
      const seen: Array<ReadonlyArray<ModelMessage>> = []
      const agent = Agent.make({
        model: recordingModel(seen),
        tools: [weather],
        historyProcessors: [
          (messages, ctx) =>
            Effect.flatMap(Redactor, (r) =>
              ctx.runStep === 2
                ? Effect.fail(new ProcessorFailed({ reason: `no ${r.word}` }))
                : Effect.succeed(messages)
            )
        ]
      })
      // The error and the requirement are in the types.
      const run: Effect.Effect<unknown, AgentError.AgentError | ProcessorFailed, Redactor> =
        agent.run("Weather?")
      const captured = yield* CaptureRunMessages.capture(
        Effect.provideService(run, Redactor, { word: "secrets" })
      )
      assert.isTrue(Exit.isFailure(captured.exit))
      const error = Exit.isFailure(captured.exit)
        ? Option.getOrUndefined(Cause.failureOption(captured.exit.cause))
        : undefined
      assert.instanceOf(error, ProcessorFailed)
      assert.strictEqual((error as ProcessorFailed).reason, "no secrets")
      // One request reached the model; the second request is stored, not sent.
      assert.strictEqual(seen.length, 1)
      assert.deepStrictEqual(
        captured.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
      assert.strictEqual(
        (captured.messages[2] as Messages.ModelRequest).parts[0]!._tag,
        "ToolReturnPart"
      )
    })
  )

  it.effect(
    "an empty answer or one not ending with a request is a UserError; iter keeps the messages",
    () =>
      Effect.gen(function* () {
        const seen: Array<ReadonlyArray<ModelMessage>> = []
        for (const [processor, says] of [
          [() => [], "returned an empty history"],
          [
            (ms: ReadonlyArray<ModelMessage>) => [...ms, said("x")],
            "returned a history ending with a ModelResponse"
          ]
        ] as const) {
          const agent = Agent.make({ model: recordingModel(seen), historyProcessors: [processor] })
          const error = yield* Effect.flip(agent.run("hi"))
          assert.strictEqual(error._tag, "UserError")
          assert.include((error as AgentError.UserError).reason, `History processor #1 ${says}`)
          const messages = yield* Effect.scoped(
            Effect.gen(function* () {
              const run = yield* agent.iter("hi")
              const start = yield* run.nextNode
              const next = yield* run.next(start)
              const failed = yield* Effect.flip(run.next(next))
              assert.strictEqual(failed._tag, "UserError")
              return yield* run.messages
            })
          )
          assert.deepStrictEqual(plainAll(messages), plainAll([user("hi")]))
        }
        assert.strictEqual(seen.length, 0)
      })
  )
})

// ---------------------------------------------------------------------------
// Helpers of HistoryProcessor
// ---------------------------------------------------------------------------

const ctxFor = (model: Model.Service): RunContext.Service => ({
  runId: "r",
  agentName: undefined,
  model,
  prompt: undefined,
  messages: [],
  usage: Usage.RunUsage.empty,
  usageLimits: Usage.UsageLimits.default,
  modelSettings: {},
  runStep: 1,
  retry: 0,
  maxRetries: 1,
  toolName: undefined,
  toolCallId: undefined,
  partialOutput: false
})

const apply = (
  p: HistoryProcessor.HistoryProcessor<any, never>,
  ms: ReadonlyArray<ModelMessage>,
  model: Model.Service
) =>
  Effect.suspend(() => {
    const out = p(ms, ctxFor(model))
    return Effect.isEffect(out) ? out : Effect.succeed(out)
  })

describe("HistoryProcessor.keepLastTurns", () => {
  const sys = new SystemPromptPart({ content: "sys" })
  // Turn 3 starts with a request that answers turn 2's call AND carries the next prompt.
  const history: ReadonlyArray<ModelMessage> = [
    user("q1", sys),
    calls("a", "b"),
    rets("a", "b"),
    said("a1"),
    user("q2"),
    calls("c"),
    new ModelRequest({ parts: [ret("c"), new UserPromptPart({ content: "q3" })] }),
    calls("d", "e"),
    rets("d", "e")
  ]

  it("splits turns at user prompts", () => {
    assert.deepStrictEqual(HistoryProcessor.turnStarts(history), [0, 4, 6])
    assert.deepStrictEqual(HistoryProcessor.turnStarts([said("x"), user("a")]), [0])
    assert.deepStrictEqual(HistoryProcessor.turnStarts([]), [])
  })

  it("never orphans a tool call or drops the system prompt", () => {
    const keep = (n: number) =>
      HistoryProcessor.keepLastTurns(n)(history, ctxFor(undefined as never))
    const one = keep(1) as ReadonlyArray<ModelMessage>
    assert.deepStrictEqual(
      plainAll(one),
      plainAll([user("q3", sys), calls("d", "e"), rets("d", "e")])
    )
    const two = keep(2) as ReadonlyArray<ModelMessage>
    assert.deepStrictEqual(plainAll(two), plainAll([user("q2", sys), ...history.slice(5)]))
    for (const n of [1, 2, 3, 4]) {
      const out = keep(n) as ReadonlyArray<ModelMessage>
      assert.isTrue(paired(out), `n = ${n}`)
      assert.strictEqual((out[0] as Messages.ModelRequest).parts[0], sys, `n = ${n}`)
    }
    // Nothing to drop: the same array back.
    assert.strictEqual(keep(3), history)
    assert.throws(() => HistoryProcessor.keepLastTurns(0), RangeError)
  })
})

describe("HistoryProcessor.dropThinking", () => {
  it("drops thinking except the signed thinking of the current turn", () => {
    const thinking = (content: string, signature?: string) =>
      new ThinkingPart(signature === undefined ? { content } : { content, signature })
    const history: ReadonlyArray<ModelMessage> = [
      user("q1"),
      new ModelResponse({ parts: [thinking("old signed", "s1"), thinking("old"), call("a")] }),
      rets("a"),
      new ModelResponse({ parts: [thinking("only thinking")] }),
      user("q2"),
      new ModelResponse({ parts: [thinking("new signed", "s2"), thinking("new"), call("b")] }),
      rets("b")
    ]
    const out = HistoryProcessor.dropThinking(
      history,
      ctxFor(undefined as never)
    ) as ReadonlyArray<ModelMessage>
    assert.deepStrictEqual(
      plainAll(out),
      plainAll([
        user("q1"),
        new ModelResponse({ parts: [call("a")] }),
        rets("a"),
        user("q2"),
        new ModelResponse({ parts: [thinking("new signed", "s2"), call("b")] }),
        rets("b")
      ])
    )
    const none = [user("q"), said("a"), user("q2")]
    assert.strictEqual(HistoryProcessor.dropThinking(none, ctxFor(undefined as never)), none)
  })
})

describe("HistoryProcessor.summarise", () => {
  it.effect("summarises older turns with the cheap model, once per prefix", () =>
    Effect.gen(function* () {
      const summaries: Array<string> = []
      const cheap = yield* FunctionModel.make((messages, info) => {
        const prompt = (messages[0] as Messages.ModelRequest).parts[0] as Messages.UserPromptPart
        summaries.push(prompt.content as string)
        assert.strictEqual(info.instructions, HistoryProcessor.defaultSummaryInstructions)
        return FunctionModel.text(`summary #${summaries.length}`)
      })
      const seen: Array<ReadonlyArray<ModelMessage>> = []
      const agent = Agent.make({
        model: recordingModel(seen, ["Paris", "Rome"]),
        tools: [weather],
        historyProcessors: [HistoryProcessor.summarise({ model: cheap, keepLastTurns: 1 })]
      })
      const history = [
        user("q1", new SystemPromptPart({ content: "sys" })),
        said("a1"),
        user("q2"),
        said("a2")
      ]
      const first = yield* agent.run("q3", { messageHistory: history })
      // Two requests to the main model, one summary of the prefix (q1..a2).
      assert.strictEqual(seen.length, 2)
      assert.deepStrictEqual(summaries, ["User: q1\nAssistant: a1\nUser: q2\nAssistant: a2"])
      const expectedFirst = new ModelRequest({
        parts: [
          new SystemPromptPart({ content: "sys" }),
          new UserPromptPart({ content: `${HistoryProcessor.summaryPrefix}summary #1` }),
          new UserPromptPart({ content: "q3" })
        ]
      })
      for (const messages of seen) {
        const { instructions: _i, ...sent } = plain(messages[0]!) as Record<string, unknown>
        assert.deepStrictEqual(sent, plain(expectedFirst))
        assert.isTrue(paired(messages))
      }
      assert.strictEqual(seen[1]!.length, 3)
      // The summary is counted in the run's usage: its tokens and `summaryRequests`, while
      // `requests` counts the agent's own two requests.
      let mainInput = 0
      let mainOutput = 0
      for (const m of first.newMessages()) {
        if (m._tag === "ModelResponse") {
          mainInput += m.usage.inputTokens
          mainOutput += m.usage.outputTokens
        }
      }
      assert.strictEqual(first.usage.requests, 2)
      assert.strictEqual(first.usage.details.summaryRequests, 1)
      assert.isAbove(first.usage.inputTokens, mainInput)
      assert.isAbove(first.usage.outputTokens, mainOutput)
      // The next run, from JSON: its prefix now holds the first run's turn → one new summary;
      // the same history again → no new summary.
      const json = first.allMessagesJson()
      for (let i = 0; i < 2; i++) {
        const messageHistory = yield* Messages.decodeJson(json)
        yield* agent.run("q4", { messageHistory })
      }
      assert.strictEqual(summaries.length, 2)
      assert.include(summaries[1]!, "Assistant called weather")
      assert.include(summaries[1]!, "Tool result (weather): sunny in Paris")
    })
  )

  it.effect("a failing summariser fails the run with its error", () =>
    Effect.gen(function* () {
      const base = yield* FunctionModel.make(() => FunctionModel.text("  "))
      const down = WrapperModel.make(base, {
        request: () =>
          Effect.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "cheap", body: "" }))
      })
      const seen: Array<ReadonlyArray<ModelMessage>> = []
      for (const [cheap, tag] of [
        [base, "UnexpectedModelBehavior"],
        [down, "ModelHTTPError"]
      ] as const) {
        const agent = Agent.make({
          model: recordingModel(seen, []),
          historyProcessors: [HistoryProcessor.summarise({ model: cheap, keepLastTurns: 1 })]
        })
        const error = yield* Effect.flip(
          agent.run("q2", { messageHistory: [user("q1"), said("a1")] })
        )
        assert.strictEqual(error._tag, tag)
      }
      assert.strictEqual(seen.length, 0)
    })
  )
})

describe("HistoryProcessor.tokenBudget", () => {
  const history: ReadonlyArray<ModelMessage> = [
    user("q1", new SystemPromptPart({ content: "sys" })),
    said("a1"),
    user("q2"),
    said("a2"),
    user("q3")
  ]

  it.effect("with the model's countTokens: one count when it fits, two when it does not", () =>
    Effect.gen(function* () {
      const base = yield* FunctionModel.make(() => FunctionModel.text("x"))
      const counted: Array<number> = []
      const model = WrapperModel.make(base, {
        countTokens: (messages) =>
          Effect.sync(() => {
            counted.push(messages.length)
            return new Usage.RequestUsage({ inputTokens: 10 * messages.length })
          })
      })
      const fits = yield* apply(HistoryProcessor.tokenBudget({ maxTokens: 50 }), history, model)
      assert.strictEqual(fits, history)
      assert.deepStrictEqual(counted, [5])
      counted.length = 0
      const out = yield* apply(HistoryProcessor.tokenBudget({ maxTokens: 35 }), history, model)
      assert.deepStrictEqual(
        plainAll(out),
        plainAll([user("q2", new SystemPromptPart({ content: "sys" })), said("a2"), user("q3")])
      )
      assert.deepStrictEqual(counted, [5, 3])
      // Over budget even with the current turn alone: the current turn is kept.
      counted.length = 0
      const last = yield* apply(HistoryProcessor.tokenBudget({ maxTokens: 5 }), history, model)
      assert.deepStrictEqual(
        plainAll(last),
        plainAll([user("q3", new SystemPromptPart({ content: "sys" }))])
      )
    })
  )

  it.effect("without countTokens: the estimate (chars / 4 + overhead)", () =>
    Effect.gen(function* () {
      const model = yield* FunctionModel.make(() => FunctionModel.text("x"))
      assert.isUndefined(model.countTokens)
      const long = [user("x".repeat(400)), said("a1"), user("q2"), said("a2"), user("q3")]
      // 400 chars = 100 tokens + 4 overhead; the other messages 5 each.
      assert.strictEqual(HistoryProcessor.estimateTokens(long), 104 + 4 * 5)
      const out = yield* apply(HistoryProcessor.tokenBudget({ maxTokens: 50 }), long, model)
      assert.deepStrictEqual(plainAll(out), plainAll(long.slice(2)))
      // A custom counter wins over both.
      const custom = yield* apply(
        HistoryProcessor.tokenBudget({ maxTokens: 1, count: (ms) => ms.length - 5 }),
        long,
        model
      )
      assert.strictEqual(custom, long)
    })
  )

  it.effect("a failing count fails with its typed error", () =>
    Effect.gen(function* () {
      const base = yield* FunctionModel.make(() => FunctionModel.text("x"))
      const model = WrapperModel.make(base, {
        countTokens: () =>
          Effect.fail(new AgentError.ModelHTTPError({ status: 404, modelName: "m", body: "nope" }))
      })
      const error = yield* Effect.flip(
        apply(HistoryProcessor.tokenBudget({ maxTokens: 10 }), history, model)
      )
      assert.strictEqual((error as AgentError.ModelHTTPError).status, 404)
    })
  )
})

describe("Model.countTokens through wrapper models", () => {
  it.effect(
    "WrapperModel, InstrumentedModel, ConcurrencyLimitedModel and FallbackModel pass it on",
    () =>
      Effect.gen(function* () {
        const base = yield* FunctionModel.make(() => FunctionModel.text("x"))
        const counting = WrapperModel.make(base, {
          modelName: "counting",
          countTokens: (messages) =>
            Effect.succeed(new Usage.RequestUsage({ inputTokens: 7 * messages.length }))
        })
        const failing = WrapperModel.make(base, {
          modelName: "failing",
          countTokens: () =>
            Effect.fail(
              new AgentError.ModelHTTPError({ status: 503, modelName: "failing", body: "" })
            )
        })
        const ms = [user("a")]
        const count = (m: Model.Service) =>
          m.countTokens === undefined
            ? Effect.succeed(undefined)
            : Effect.map(
                m.countTokens(ms, {}, Model.ModelRequestParameters.empty),
                (u) => u.inputTokens
              )
        assert.strictEqual(yield* count(base), undefined)
        assert.strictEqual(yield* count(counting), 7)
        assert.strictEqual(yield* count(WrapperModel.make(counting, { modelName: "renamed" })), 7)
        assert.strictEqual(
          yield* count(WrapperModel.make(counting, { countTokens: undefined })),
          undefined
        )
        assert.strictEqual(yield* count(InstrumentedModel.make(counting)), 7)
        assert.strictEqual(yield* count(ConcurrencyLimitedModel.make(counting, 1)), 7)
        assert.strictEqual(yield* count(ConcurrencyLimitedModel.make(base, 1)), undefined)
        // Fallback: models that cannot count are skipped; a provider failure falls back.
        assert.strictEqual(yield* count(FallbackModel.make([base, failing, counting])), 7)
        assert.strictEqual(yield* count(FallbackModel.make([base, base])), undefined)
        const exhausted = yield* Effect.flip(
          FallbackModel.make([failing, base]).countTokens!(
            ms,
            {},
            Model.ModelRequestParameters.empty
          )
        )
        assert.deepStrictEqual(
          FallbackModel.failures(exhausted)?.map((e) => e._tag),
          ["ModelHTTPError"]
        )
      })
  )
})
