/**
 * A durable run's stream tells the same events, in the same order, as `agent.runStream` for the
 * same run (parallel tool calls, a tool search adding tools, a retry, a deferred approval, an
 * output tool), plus the durable-only ones; the events survive the replay after the approval
 * without a duplicate; run options are honoured (persisted) or refused with a `UserError`; and
 * `toAgentStream` feeds `@agentfx/ui`'s encoders.
 */
import {
  Agent,
  AgentError,
  DeferredTools,
  FunctionModel,
  Messages,
  type Model,
  Tool,
  Toolset,
  Usage
} from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { DurableAgent, DurableRunner } from "../src/index.js"

const Answer = Schema.Struct({ answer: Schema.String })

/** A call's arguments as an object; the JSON so far while its part streams. */
const argsOf = (p: Messages.ToolCallPart): unknown => {
  try {
    return p.argsAsObject()
  } catch {
    return p.args
  }
}

/** An event with the fields a UI relies on, as a comparable value. */
const describeEvent = (
  e: DurableAgent.DurableStreamEvent<unknown> | Agent.AgentStreamEvent<unknown>
) => {
  const result = (r: Messages.ToolReturnPart | Messages.RetryPromptPart) =>
    r._tag === "ToolReturnPart"
      ? [r._tag, r.toolName, r.toolCallId, r.outcome, r.contentText]
      : [r._tag, r.toolName, r.toolCallId, r.content]
  const part = (p: Messages.ModelResponsePart) =>
    p._tag === "TextPart"
      ? [p._tag, p.content]
      : p._tag === "ToolCallPart"
        ? [p._tag, p.toolName, p.toolCallId, argsOf(p)]
        : [p._tag]
  switch (e._tag) {
    case "PartStartEvent":
    case "PartEndEvent":
      return [e._tag, e.index, ...part(e.part)]
    case "PartDeltaEvent":
      return [
        e._tag,
        e.index,
        e.delta._tag,
        e.delta._tag === "ToolCallPartDelta" ? e.delta.argsDelta : e.delta.contentDelta
      ]
    case "FinalResultEvent":
      return [e._tag, e.toolName, e.toolCallId]
    case "FunctionToolCallEvent":
    case "OutputToolCallEvent":
      return [e._tag, ...part(e.part)]
    case "FunctionToolResultEvent":
    case "OutputToolResultEvent":
      return [e._tag, ...result(e.result)]
    case "ToolAvailabilityDeltaEvent":
      return [e._tag, e.part.added, e.part.toolCallId]
    default:
      return [e._tag]
  }
}

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

/** The script: parallel calls with a tool search, a found tool and a retry, an approval, output. */
const script = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  switch (responses(messages)) {
    case 0:
      return FunctionModel.toolCalls([
        { toolName: "lookup", args: { order: "A-1" }, toolCallId: "look_1" },
        { toolName: "lookup", args: { order: "A-2" }, toolCallId: "look_2" },
        { toolName: "search_tools", args: { queries: ["stock price"] }, toolCallId: "search" }
      ])
    case 1:
      return FunctionModel.toolCalls([
        { toolName: "stock_price", args: { q: "ACME" }, toolCallId: "stock" },
        { toolName: "flaky", args: {}, toolCallId: "flaky_1" }
      ])
    case 2:
      return FunctionModel.toolCall("flaky", {}, "flaky_2")
    case 3:
      return FunctionModel.toolCall("refund", { order: "A-1" }, "refund")
    default:
      return FunctionModel.toolCall("final_result", { answer: "refunded A-1" }, "out")
  }
}

/** A fresh agent (tool counters at zero) over the script. */
const makeAgent = () => {
  const counts = { lookup: 0, flaky: 0, refund: 0 }
  const lookup = Tool.make("lookup", {
    parameters: Schema.Struct({ order: Schema.String }),
    handler: ({ order }) =>
      Effect.sync(() => {
        counts.lookup++
        return `${order} delivered`
      })
  })
  const flaky = Tool.make("flaky", {
    parameters: Schema.Struct({}),
    handler: () =>
      Effect.suspend(() =>
        counts.flaky++ === 0
          ? Effect.fail(new AgentError.ModelRetry({ reason: "try again" }))
          : Effect.succeed("ok")
      )
  })
  const refund = Tool.make("refund", {
    parameters: Schema.Struct({ order: Schema.String }),
    requiresApproval: true,
    handler: ({ order }) =>
      Effect.sync(() => {
        counts.refund++
        return `refunded ${order}`
      })
  })
  const stock = Tool.make("stock_price", {
    description: "Look up a stock price by ticker symbol.",
    parameters: Schema.Struct({ q: Schema.String }),
    deferLoading: true,
    handler: ({ q }) => Effect.succeed(`${q}: 42`)
  })
  const agent = Agent.make({
    output: ToolOutput.make(Answer),
    tools: [lookup, flaky, refund],
    toolsets: [Toolset.fromTools([stock]).pipe(Toolset.withToolSearch())]
  })
  return { agent, counts }
}

const modelLayer = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })

/**
 * The core run of `agent`: stops for the approval of `refund`, resumed with
 * `deferredToolResults`; its events.
 */
const coreRunOf = (agent: Agent.Agent<any, any, never>, model: typeof modelLayer) =>
  Effect.gen(function* () {
    const first = Chunk.toReadonlyArray(
      yield* Stream.runCollect(agent.runStream("refund A-1")).pipe(Effect.provide(model))
    )
    const stop = first.at(-1)
    assert.strictEqual(stop?._tag, "AgentRunResultEvent")
    if (stop?._tag !== "AgentRunResultEvent") return yield* Effect.dieMessage("no stop")
    assert.instanceOf(stop.result.output, DeferredTools.DeferredToolRequests)
    const second = Chunk.toReadonlyArray(
      yield* Stream.runCollect(
        agent.runStream(undefined, {
          messageHistory: stop.result.allMessages(),
          deferredToolResults: DeferredTools.DeferredToolResults.make({
            approvals: { refund: DeferredTools.ToolApproved.make({}) },
            calls: {}
          })
        })
      ).pipe(Effect.provide(model))
    )
    const coreEvents = [...first.slice(0, -1), ...second.slice(0, -1)].map(describeEvent)
    // where a durable stream tells its stop: after the events of the core run's first part
    return { second, coreEvents, waitingAt: first.length - 1 }
  })

/**
 * The durable run of `durable` (on SQLite in memory over `model`), streamed with `runStream`:
 * approves the call it stops for, and returns every event it told and the stop.
 */
const durableRunOf = <A>(
  durable: DurableAgent.DurableAgent<A, any, Model.Model>,
  model: typeof modelLayer,
  id: string
) =>
  Effect.gen(function* () {
    const ctx = yield* Layer.build(
      durable.layer.pipe(
        Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" })),
        Layer.provide(model)
      )
    )
    const seen: Array<DurableAgent.DurableStreamEvent<unknown>> = []
    const done = yield* durable.runStream({ id, prompt: "refund A-1" }).pipe(
      Stream.runForEach((e) => Effect.sync(() => void seen.push(e))),
      Effect.provide(ctx),
      Effect.fork
    )
    while (!seen.some((e) => e._tag === "DurableWaitingEvent")) {
      yield* Effect.sleep("10 millis")
    }
    const waiting = seen.find((e) => e._tag === "DurableWaitingEvent")
    if (waiting?._tag !== "DurableWaitingEvent") return yield* Effect.dieMessage("no stop")
    // The workflow replays every step from storage once approved: nothing is told twice.
    yield* DurableAgent.approve(waiting.calls[0]!.token).pipe(Effect.provide(ctx))
    yield* done.await
    return { seen, waiting }
  })

describe("durable stream parity with agent.runStream", () => {
  it.scopedLive("the same events in the same order, the approval and its replay included", () =>
    Effect.gen(function* () {
      const { second, coreEvents, waitingAt } = yield* coreRunOf(makeAgent().agent, modelLayer)

      // The durable run of the same agent.
      const durable = makeAgent()
      const { seen, waiting } = yield* durableRunOf(
        DurableAgent.make(durable.agent, { name: "parity", output: Answer, streaming: false }),
        modelLayer,
        "parity-1"
      )
      assert.deepStrictEqual(
        waiting.calls.map((c) => [c.toolCallId, c.kind]),
        [["refund", "approval"]]
      )

      const tags = seen.map((e) => e._tag)
      assert.strictEqual(tags.filter((t) => t === "DurableWaitingEvent").length, 1)
      assert.strictEqual(tags.indexOf("DurableWaitingEvent"), waitingAt)
      assert.strictEqual(tags.at(-1), "DurableRunResultEvent")
      const durableEvents = seen
        .filter((e) => e._tag !== "DurableWaitingEvent" && e._tag !== "DurableRunResultEvent")
        .map(describeEvent)
      assert.deepStrictEqual(durableEvents, coreEvents)
      // Every kind of event the brief names is there, with its fields compared above.
      for (const tag of [
        "FinalResultEvent",
        "FunctionToolCallEvent",
        "FunctionToolResultEvent",
        "ToolAvailabilityDeltaEvent",
        "OutputToolCallEvent",
        "OutputToolResultEvent"
      ]) {
        assert.include(tags, tag)
      }
      assert.isTrue(
        seen.some(
          (e) =>
            e._tag === "FunctionToolResultEvent" &&
            e.result._tag === "RetryPromptPart" &&
            e.result.toolCallId === "flaky_1"
        )
      )
      const end = seen.at(-1) as DurableAgent.DurableRunResultEvent<typeof Answer.Type>
      assert.deepStrictEqual(end.result.output, { answer: "refunded A-1" })
      const resumed = second.at(-1)
      assert.strictEqual(resumed?._tag, "AgentRunResultEvent")
      if (resumed?._tag !== "AgentRunResultEvent") return
      assert.deepStrictEqual(
        end.result.allMessages().map((m) => m.parts.map((p) => p._tag)),
        resumed.result.allMessages().map((m) => m.parts.map((p) => p._tag))
      )
      // Each tool ran once: the replay took their results (the tool search's tool references
      // included, which keep the found tool available) from storage.
      assert.deepStrictEqual(durable.counts, { lookup: 2, flaky: 2, refund: 1 })
    })
  )
})

describe("durable stream parity with live deltas", () => {
  /** Streams a call of `lookup`, then of `refund` (approval), then the answer, in pieces. */
  const liveStream = (messages: ReadonlyArray<Messages.ModelMessage>) => {
    switch (responses(messages)) {
      case 0:
        return Stream.make(
          { 0: { name: "lookup", jsonArgs: '{"order":', toolCallId: "look" } },
          { 0: { jsonArgs: '"A-1"}' } }
        )
      case 1:
        return Stream.make(
          { 0: { name: "refund", jsonArgs: '{"order":', toolCallId: "refund" } },
          { 0: { jsonArgs: '"A-1"}' } }
        )
      default:
        return Stream.make("Refunded A-1, ", "it was ", "delivered.")
    }
  }
  const model = FunctionModel.layer(() => FunctionModel.text("not streamed"), {
    stream: liveStream
  })
  const makeLiveAgent = () => {
    const counts = { lookup: 0, refund: 0 }
    const lookup = Tool.make("lookup", {
      parameters: Schema.Struct({ order: Schema.String }),
      handler: ({ order }) => Effect.sync(() => ++counts.lookup && `${order} delivered`)
    })
    const refund = Tool.make("refund", {
      parameters: Schema.Struct({ order: Schema.String }),
      requiresApproval: true,
      handler: ({ order }) => Effect.sync(() => ++counts.refund && `refunded ${order}`)
    })
    return { agent: Agent.make({ tools: [lookup, refund] }), counts }
  }

  it.scopedLive("deltas, final result and parts in core's order, through an approval", () =>
    Effect.gen(function* () {
      // The core run, stopped for the approval and resumed; the durable run of the same agent.
      const { coreEvents } = yield* coreRunOf(makeLiveAgent().agent, model)
      const live = makeLiveAgent()
      const { seen } = yield* durableRunOf(
        DurableAgent.make(live.agent, { name: "parity-live", output: Schema.String }),
        model,
        "parity-live-1"
      )

      const durableEvents = seen
        .filter((e) => e._tag !== "DurableWaitingEvent" && e._tag !== "DurableRunResultEvent")
        .map(describeEvent)
      assert.deepStrictEqual(durableEvents, coreEvents)
      // The deltas were there (the requests streamed live), the final result right after the
      // text part started, before its deltas.
      const tags = seen.map((e) => e._tag)
      assert.strictEqual(tags.filter((t) => t === "PartDeltaEvent").length, 4)
      const text = seen.findIndex((e) => e._tag === "PartStartEvent" && e.part._tag === "TextPart")
      assert.deepStrictEqual(tags.slice(text, text + 5), [
        "PartStartEvent",
        "FinalResultEvent",
        "PartDeltaEvent",
        "PartDeltaEvent",
        "PartEndEvent"
      ])
      const end = seen.at(-1) as DurableAgent.DurableRunResultEvent<string>
      assert.strictEqual(end.result.output, "Refunded A-1, it was delivered.")
      assert.deepStrictEqual(live.counts, { lookup: 1, refund: 1 })
    })
  )
})

describe("durable run options", () => {
  const echo = (messages: ReadonlyArray<Messages.ModelMessage>, info: FunctionModel.AgentInfo) =>
    FunctionModel.text(
      JSON.stringify({
        instructions: FunctionModel.instructionsOf(messages) ?? null,
        temperature: info.modelSettings?.temperature ?? null
      })
    )
  const makeDurable = (name: string) =>
    DurableAgent.make(Agent.make({ instructions: "Be brief.", metadata: { team: "support" } }), {
      name,
      output: Schema.String
    })

  it.scopedLive("persisted options reach the run; the others fail at start with a UserError", () =>
    Effect.gen(function* () {
      const durable = makeDurable("options")
      const ctx = yield* Layer.build(
        durable.layer.pipe(
          Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" })),
          Layer.provide(FunctionModel.layer(echo))
        )
      )
      const result = yield* durable
        .run({
          id: "opts-1",
          prompt: "hi",
          modelSettings: { temperature: 0.25 },
          instructions: "Answer in French.",
          conversationId: "conv-7",
          metadata: { ticket: "T-9" },
          retries: 0,
          outputRetries: 0,
          usageLimits: Usage.UsageLimits.make({ requestLimit: 1 })
        })
        .pipe(Effect.provide(ctx))
      const seen = JSON.parse(result.output) as { instructions: string; temperature: number }
      assert.strictEqual(seen.temperature, 0.25)
      assert.include(seen.instructions, "Be brief.")
      assert.include(seen.instructions, "Answer in French.")
      assert.deepStrictEqual(
        result.allMessages().map((m) => m.conversationId),
        ["conv-7", "conv-7"]
      )
      // Joining the run (after a restart too) sees the persisted result, not the new input.
      const again = yield* durable.run({ id: "opts-1", prompt: "hi" }).pipe(Effect.provide(ctx))
      assert.deepStrictEqual(again.allMessages(), result.allMessages())

      const refused = (input: Record<string, unknown>) =>
        Effect.all(
          [
            durable.start(input as DurableAgent.RunInput),
            durable.run(input as DurableAgent.RunInput),
            Stream.runDrain(durable.runStream(input as DurableAgent.RunInput))
          ].map((e) => Effect.flip(e as Effect.Effect<unknown, unknown>))
        ).pipe(Effect.provide(ctx))
      for (const key of [
        "model",
        "toolsets",
        "outputType",
        "steering",
        "usage",
        "onEvent",
        "handleDeferred"
      ]) {
        const errors = yield* refused({ id: `bad-${key}`, prompt: "hi", [key]: {} })
        for (const error of errors) {
          assert.instanceOf(error, AgentError.UserError)
          assert.include((error as AgentError.UserError).reason, `${key} (`)
        }
      }
      const [badValue] = yield* refused({ id: "bad-retries", prompt: "hi", retries: -1 })
      assert.instanceOf(badValue, AgentError.UserError)
      assert.include((badValue as AgentError.UserError).reason, "retries")
      // A refused input starts nothing.
      const status = yield* durable
        .executionId("bad-model")
        .pipe(Effect.flatMap(durable.poll), Effect.provide(ctx))
      assert.strictEqual(status._tag, "Pending")
    })
  )
})

describe("DurableAgent.toAgentStream", () => {
  it.scopedLive("a durable run's stream, encoded by UiStream.aiSdk like a core run's", () =>
    Effect.gen(function* () {
      const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
        responses(messages) === 0
          ? FunctionModel.toolCall("lookup", { order: "A-1" }, "look")
          : FunctionModel.text("A-1 was delivered.")
      const lookup = Tool.make("lookup", {
        parameters: Schema.Struct({ order: Schema.String }),
        handler: ({ order }) => Effect.succeed(`${order} delivered`)
      })
      const agent = Agent.make({ tools: [lookup] })
      const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
      const decode = (bytes: ReadonlyArray<Uint8Array>) =>
        Buffer.concat(bytes.map((b) => Buffer.from(b)))
          .toString("utf8")
          .split("\n\n")
          .filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6))
          .map((l): string | Record<string, unknown> =>
            // ids of messages / text parts are random per encoding
            l === "[DONE]" ? l : { ...JSON.parse(l), id: undefined, messageId: undefined }
          )
      const coreBody = decode(
        Chunk.toReadonlyArray(
          yield* Stream.runCollect(UiStream.aiSdk(agent.runStream("where is A-1?"))).pipe(
            Effect.provide(model)
          )
        )
      )
      const durable = DurableAgent.make(agent, { name: "ui", output: Schema.String })
      const ctx = yield* Layer.build(
        durable.layer.pipe(
          Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" })),
          Layer.provide(model)
        )
      )
      const durableBody = decode(
        Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            UiStream.aiSdk(
              DurableAgent.toAgentStream(durable.runStream({ id: "ui-1", prompt: "where is A-1?" }))
            )
          ).pipe(Effect.provide(ctx))
        )
      )
      assert.deepStrictEqual(durableBody, coreBody)
      const types = durableBody.map((c) => (typeof c === "string" ? c : c.type))
      for (const type of [
        "start",
        "tool-input-available",
        "tool-output-available",
        "text-delta",
        "finish"
      ]) {
        assert.include(types, type)
      }
      assert.strictEqual(types.at(-1), "[DONE]")
    })
  )
})
