/**
 * Agents composed of agents: `Agent.asTool` (shared usage and limits, forwarded events, typed
 * errors, interruption, deferred calls) and handoffs (`Agent.handoff` + `Agent.withHandoffs`:
 * output, history, streaming, limits).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  type AgentComposition,
  AgentError,
  DeferredTools,
  FunctionModel,
  Messages,
  Tool,
  Usage
} from "@agentfx/core"
import { describeEvent } from "./support/events.js"
import { finalResultOutput } from "./support/output.js"

// -- helpers -------------------------------------------------------------------------------

type Script = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  info: FunctionModel.AgentInfo
) => Messages.ModelResponse | string

/** A model serving both paths from one script (`FunctionModel.streamOf`). */
const scripted = (name: string, script: Script) =>
  FunctionModel.layer(script, { modelName: name, stream: FunctionModel.streamOf(script) })

const usage = (inputTokens: number, outputTokens: number) =>
  new Usage.RequestUsage({ inputTokens, outputTokens })

const withUsage = (r: Messages.ModelResponse, u: Usage.RequestUsage) =>
  new Messages.ModelResponse({ ...r, usage: u })

const returns = (messages: ReadonlyArray<Messages.ModelMessage>, toolName: string) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter(
          (p): p is Messages.ToolReturnPart =>
            p._tag === "ToolReturnPart" && p.toolName === toolName
        )
      : []
  )

const retries = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
      : []
  )

const lastUserPrompt = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag !== "ModelRequest") continue
    for (const p of m.parts) if (p._tag === "UserPromptPart") return p.content as string
  }
  return undefined
}

// -- the agents ----------------------------------------------------------------------------

/** Counts its requests; answers the sum asked for. */
const makeChild = (calls: Ref.Ref<number>, options: { readonly limits?: Usage.UsageLimits } = {}) =>
  Agent.make({
    name: "child",
    instructions: "You add numbers.",
    model: scripted("m-child", (messages) => {
      Effect.runSync(Ref.update(calls, (n) => n + 1))
      const [, a, b] = /(\d+)\+(\d+)/.exec(lastUserPrompt(messages) ?? "") ?? []
      return withUsage(FunctionModel.text(String(Number(a) + Number(b))), usage(100, 5))
    }),
    ...(options.limits !== undefined ? { usageLimits: options.limits } : {})
  })

/** Asks `ask_child` once, then says what it answered. */
const parentScript: Script = (messages) => {
  const [returned] = returns(messages, "ask_child")
  if (returned === undefined) {
    const [retry] = retries(messages)
    if (retry !== undefined) return withUsage(FunctionModel.text("gave up"), usage(10, 1))
    return withUsage(
      FunctionModel.toolCall("ask_child", { prompt: "what is 2+2?" }, "call_1"),
      usage(10, 1)
    )
  }
  return withUsage(FunctionModel.text(`child said ${returned.contentText}`), usage(10, 1))
}

const makeParent = <A, E, R>(child: Agent.Agent<A, E, R>, options?: { onModelFailure?: "fail" }) =>
  Agent.make({
    name: "parent",
    model: scripted("m-parent", parentScript),
    tools: [
      Agent.asTool(child, {
        name: "ask_child",
        description: "Ask the child agent.",
        ...(options?.onModelFailure !== undefined ? { onModelFailure: options.onModelFailure } : {})
      })
    ]
  })

// -- Agent.asTool --------------------------------------------------------------------------

describe("Agent.asTool", () => {
  it.effect("the sub-agent's output is the tool result; usage is summed into the parent's", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const result = yield* makeParent(makeChild(calls)).run("go")
      assert.strictEqual(result.output, "child said 4")
      // 2 parent requests (10/1 each) + 1 child request (100/5), 1 tool call
      assert.strictEqual(result.usage.requests, 3)
      assert.strictEqual(result.usage.inputTokens, 120)
      assert.strictEqual(result.usage.outputTokens, 7)
      assert.strictEqual(result.usage.toolCalls, 1)
      // the parent's history holds the call and its return, not the child's conversation
      const messages = result.allMessages()
      assert.strictEqual(messages.length, 4)
      const [ret] = returns(messages, "ask_child")
      assert.strictEqual(ret!.content, "4")
      assert.strictEqual(ret!.toolCallId, "call_1")
      // the child's own run is in the return's metadata
      const run = ret!.metadata as AgentComposition.SubAgentRun
      assert.strictEqual(run.agentName, "child")
      assert.match(run.runId, /^run_/)
      assert.notStrictEqual(run.runId, result.runId)
      assert.deepStrictEqual(
        run.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
      const childRequest = run.messages[0] as Messages.ModelRequest
      assert.strictEqual(childRequest.instructions, "You add numbers.")
      assert.strictEqual(lastUserPrompt(run.messages), "what is 2+2?")
      assert.strictEqual(run.usage.requests, 1)
      assert.strictEqual(run.usage.inputTokens, 100)
      assert.strictEqual(run.usage.outputTokens, 5)
      // the parent's history survives JSON, the child's conversation with it
      const stored = yield* Messages.decodeJson(result.allMessagesJson())
      const storedRun = returns(stored, "ask_child")[0]!.metadata as { messages: unknown }
      const childMessages = Schema.decodeUnknownSync(Messages.ModelMessages)(storedRun.messages)
      assert.strictEqual(lastUserPrompt(childMessages), "what is 2+2?")
      assert.strictEqual((childMessages[1] as Messages.ModelResponse).text, "4")
    })
  )

  it.effect("structured output is sent as JSON; parameters, input and output map the call", () =>
    Effect.gen(function* () {
      const child = Agent.make({
        name: "sum",
        model: scripted("m-sum", (messages) =>
          FunctionModel.toolCall("final_result", { total: Number(lastUserPrompt(messages)) * 2 })
        ),
        output: finalResultOutput((call) =>
          Effect.succeed(call.args as unknown as { readonly total: number })
        )
      })
      let seen: unknown
      const parent = Agent.make({
        model: scripted("m-parent", (messages) => {
          const [r] = [...returns(messages, "double"), ...returns(messages, "double_raw")]
          if (r === undefined) {
            return FunctionModel.toolCalls([
              { toolName: "double", args: { n: 21 }, toolCallId: "c1" },
              { toolName: "double_raw", args: { n: 5 }, toolCallId: "c2" }
            ])
          }
          seen = returns(messages, "double_raw")[0]!.contentText
          return r.contentText
        }),
        tools: [
          Agent.asTool(child, {
            name: "double",
            parameters: Schema.Struct({ n: Schema.Number }),
            input: ({ n }) => String(n),
            output: (r) => r.output.total
          }),
          Agent.asTool(child, {
            name: "double_raw",
            parameters: Schema.Struct({ n: Schema.Number }),
            input: ({ n }) => ({ prompt: String(n), metadata: { via: "raw" } })
          })
        ]
      })
      const result = yield* parent.run("go")
      assert.strictEqual(result.output, "42")
      assert.strictEqual(seen, '{"total":10}')
      const [raw] = returns(result.allMessages(), "double_raw")
      assert.deepStrictEqual(raw!.content, { total: 10 })
      assert.strictEqual(result.usage.requests, 4)
    })
  )

  it.effect(
    "a child request over the parent's request limit fails the parent with UsageLimitExceeded",
    () =>
      Effect.gen(function* () {
        const calls = yield* Ref.make(0)
        // the child's own (generous) limits do not apply: one budget, the parent's
        const parent = makeParent(
          makeChild(calls, { limits: new Usage.UsageLimits({ requestLimit: 100 }) })
        )
        const error = yield* Effect.flip(
          parent.run("go", { usageLimits: new Usage.UsageLimits({ requestLimit: 1 }) })
        )
        assert.strictEqual(error._tag, "UsageLimitExceeded")
        if (error._tag !== "UsageLimitExceeded") return
        assert.strictEqual(error.limit, "requestLimit")
        assert.strictEqual(error.limitValue, 1)
        assert.strictEqual(error.value, 2)
        // the child's request was never sent
        assert.strictEqual(yield* Ref.get(calls), 0)
        // the parent's conversation so far is on the error
        assert.deepStrictEqual(
          error.messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        assert.strictEqual(
          (error.messages[1] as Messages.ModelResponse).toolCalls[0]!.toolName,
          "ask_child"
        )
      })
  )

  it.effect("the child's tokens count against the parent's token limit", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const error = yield* Effect.flip(
        makeParent(makeChild(calls)).run("go", {
          usageLimits: new Usage.UsageLimits({ totalTokensLimit: 50 })
        })
      )
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      if (error._tag !== "UsageLimitExceeded") return
      assert.strictEqual(error.limit, "totalTokensLimit")
      // parent 11 + child 105
      assert.strictEqual(error.value, 116)
      assert.strictEqual(yield* Ref.get(calls), 1)
    })
  )

  it.effect("runStream forwards the child's events, tagged, between the call and its result", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const events = yield* makeParent(makeChild(calls)).runStream("go").pipe(Stream.runCollect)
      const list = [...events]
      assert.deepStrictEqual(list.map(describeEvent), [
        "start 0 ToolCallPart",
        "end 0 ToolCallPart",
        "call ask_child",
        "[child call_1] start 0 TextPart",
        "[child call_1] final text",
        "[child call_1] end 0 TextPart",
        "[child call_1] done",
        "result ToolReturnPart",
        "start 0 TextPart",
        "final text",
        "end 0 TextPart",
        "done"
      ])
      const sub = list.filter((e) => e._tag === "SubAgentEvent")
      assert.strictEqual(sub.length, 4)
      const last = sub[3]!
      assert.strictEqual(last.event._tag, "AgentRunResultEvent")
      if (last.event._tag === "AgentRunResultEvent") {
        assert.strictEqual(last.event.result.output, "4")
      }
      const done = list[list.length - 1]!
      assert.strictEqual(done._tag, "AgentRunResultEvent")
      if (done._tag === "AgentRunResultEvent") {
        assert.strictEqual(done.result.output, "child said 4")
        assert.strictEqual(done.result.usage.requests, 3)
      }
      // finalResult / streamText read only the parent's events
      const text = yield* Agent.streamText(makeParent(makeChild(calls)).runStream("go")).pipe(
        Stream.runCollect
      )
      assert.deepStrictEqual([...text], ["child said 4"])
    })
  )

  it.effect(
    "run forwards nothing: the child is not streamed (a model without streaming works)",
    () =>
      Effect.gen(function* () {
        const child = Agent.make({
          name: "child",
          model: FunctionModel.layer(() => "4")
        })
        const parent = makeParent(child)
        const result = yield* parent.run("go")
        assert.strictEqual(result.output, "child said 4")
        // streamed, the child is streamed too (and this model cannot stream)
        const error = yield* Effect.flip(Stream.runDrain(parent.runStream("go")))
        assert.strictEqual(error._tag, "UserError")
      })
  )

  it.effect("run with an eventStreamHandler receives the forwarded events", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const seen: Array<string> = []
      const result = yield* makeParent(makeChild(calls)).run("go", {
        eventStreamHandler: (events) =>
          Stream.runForEach(Stream.orDie(events), (e) =>
            Effect.sync(() => {
              if (e._tag === "SubAgentEvent") seen.push(describeEvent(e))
            })
          )
      })
      assert.strictEqual(result.output, "child said 4")
      assert.deepStrictEqual(seen, [
        "[child call_1] start 0 TextPart",
        "[child call_1] final text",
        "[child call_1] end 0 TextPart",
        "[child call_1] done"
      ])
    })
  )

  it.effect("a child's model failure becomes a retry prompt (default) or the parent's error", () =>
    Effect.gen(function* () {
      const child = Agent.make({
        name: "child",
        model: FunctionModel.layer(() => "4"),
        outputRetries: 0,
        outputValidators: [() => Effect.fail(new AgentError.ModelRetry({ reason: "never good" }))]
      })
      const result = yield* makeParent(child).run("go")
      assert.strictEqual(result.output, "gave up")
      const [retry] = retries(result.allMessages())
      assert.strictEqual(retry!.toolName, "ask_child")
      assert.strictEqual(retry!.toolCallId, "call_1")
      assert.match(
        retry!.content as string,
        /^The agent "child" failed: Exceeded maximum output retries \(0\)/
      )
      const error = yield* Effect.flip(makeParent(child, { onModelFailure: "fail" }).run("go"))
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
    })
  )

  it.effect("hard failures keep their type: an HTTP error, a tool's own typed error", () =>
    Effect.gen(function* () {
      const httpChild = Agent.make({
        name: "child",
        model: FunctionModel.layer(() =>
          Effect.fail(new AgentError.ModelHTTPError({ status: 503, modelName: "m-child" }))
        )
      })
      const exit = yield* Effect.exit(makeParent(httpChild).run("go"))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        assert.isTrue(Option.isSome(failure), "a typed failure, not a defect")
        assert.strictEqual(Option.getOrThrow(failure)._tag, "ModelHTTPError")
      }

      class Boom extends Schema.TaggedError<Boom>()("Boom", { why: Schema.String }) {}
      const explode = Tool.make("explode", {
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new Boom({ why: "bad day" }))
      })
      const boomChild = Agent.make({
        name: "child",
        model: FunctionModel.layer((messages) =>
          messages.length === 1 ? FunctionModel.toolCall("explode") : "never"
        ),
        tools: [explode]
      })
      // the child's error type flows into the parent's: catchTag compiles and catches it
      const why = yield* makeParent(boomChild)
        .run("go")
        .pipe(
          Effect.map(() => "no error"),
          Effect.catchTag("Boom", (e) => Effect.succeed(e.why))
        )
      assert.strictEqual(why, "bad day")
    })
  )

  it.effect("interrupting the parent interrupts the child", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Ref.make(false)
      const child = Agent.make({
        name: "child",
        model: FunctionModel.layer(() =>
          Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Ref.set(interrupted, true))
          )
        )
      })
      const fiber = yield* Effect.fork(makeParent(child).run("go"))
      yield* Deferred.await(started)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      assert.isTrue(yield* Ref.get(interrupted))
    })
  )

  it.effect("a child stopping on deferred calls defers the parent's call, with its requests", () =>
    Effect.gen(function* () {
      const refund = Tool.make("refund", {
        parameters: Schema.Struct({ amount: Schema.Number }),
        requiresApproval: true,
        handler: ({ amount }) => Effect.succeed(`refunded ${amount}`)
      })
      const child = Agent.make({
        name: "child",
        model: FunctionModel.layer((messages) => {
          const [done] = returns(messages, "refund")
          return done === undefined
            ? FunctionModel.toolCall("refund", { amount: 12 }, "r1")
            : done.contentText
        }),
        tools: [refund]
      })
      const result = yield* makeParent(child).run("go")
      const output = result.output
      // typed: a child that may defer puts DeferredToolRequests in the parent's output type
      const mayDefer: [Extract<typeof output, DeferredTools.DeferredToolRequests>] extends [never]
        ? false
        : true = true
      assert.isTrue(mayDefer)
      assert.isTrue(DeferredTools.isDeferredToolRequests(output))
      if (!DeferredTools.isDeferredToolRequests(output)) return
      assert.deepStrictEqual(
        output.calls.map((c) => [c.toolName, c.toolCallId]),
        [["ask_child", "call_1"]]
      )
      const meta = output.metadata.call_1 as AgentComposition.SubAgentRun & {
        readonly requests: DeferredTools.DeferredToolRequests
      }
      assert.strictEqual(meta.agentName, "child")
      assert.deepStrictEqual(
        meta.requests.approvals.map((c) => [c.toolName, c.toolCallId]),
        [["refund", "r1"]]
      )
      // resume the child with an approval, then the parent with the child's output
      const resumed = yield* child.run(undefined, {
        messageHistory: meta.messages,
        deferredToolResults: meta.requests.buildResults({ approveAll: true })
      })
      assert.strictEqual(resumed.output, "refunded 12")
      const parent = makeParent(child)
      const final = yield* parent.run(undefined, {
        messageHistory: result.allMessages(),
        deferredToolResults: output.buildResults({ calls: { call_1: resumed.output } })
      })
      assert.strictEqual(final.output, "child said refunded 12")
    })
  )
})

// -- handoffs ------------------------------------------------------------------------------

describe("handoffs", () => {
  const support = Agent.make({
    name: "support",
    instructions: "You are support.",
    model: scripted("m-support", (messages) => {
      const [handed] = returns(messages, "transfer_to_support")
      return FunctionModel.toolCall("final_result", {
        ticket: handed?.contentText === "Transferred to support." ? 42 : -1,
        seen: messages.length
      })
    }),
    output: finalResultOutput((call) =>
      Effect.succeed(
        (typeof call.args === "string" ? JSON.parse(call.args) : call.args) as {
          readonly ticket: number
          readonly seen: number
        }
      )
    )
  })

  const triageModel = scripted("m-triage", (messages) =>
    messages.length === 1
      ? FunctionModel.toolCall("transfer_to_support", { reason: "card" }, "call_h")
      : "unexpected"
  )

  const triage = Agent.make({
    name: "triage",
    instructions: "Route the user.",
    model: triageModel,
    // validators of the triage output never see the target's output
    outputValidators: [(s: string) => Effect.fail(new AgentError.ModelRetry({ reason: `no ${s}` }))]
  }).pipe(
    Agent.withHandoffs([
      Agent.handoff(support, {
        description: "Card and account problems.",
        parameters: Schema.Struct({ reason: Schema.String })
      })
    ])
  )

  it.effect("the target's output ends the run; its messages continue the conversation", () =>
    Effect.gen(function* () {
      const result = yield* triage.run("my card is blocked")
      // typed: the triage's own output or the target's (both members are in the type)
      const output: string | { readonly ticket: number; readonly seen: number } = result.output
      const asTarget: typeof result.output = { ticket: 0, seen: 0 }
      const asOwn: typeof result.output = "text"
      assert.isDefined([asTarget, asOwn])
      assert.deepStrictEqual(output, { ticket: 42, seen: 3 })
      const messages = result.allMessages()
      // the target's output tool call is answered as any output call ("Final result processed.")
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse", "ModelRequest"]
      )
      assert.strictEqual(result.newMessages().length, 5)
      assert.strictEqual((messages[0] as Messages.ModelRequest).instructions, "Route the user.")
      assert.strictEqual(lastUserPrompt(messages.slice(0, 1)), "my card is blocked")
      // the handoff call is answered, and the target's request carries its own instructions
      const handedOff = messages[2] as Messages.ModelRequest
      assert.strictEqual(handedOff.instructions, "You are support.")
      const [ret] = returns(messages, "transfer_to_support")
      assert.strictEqual(ret!.content, "Transferred to support.")
      assert.strictEqual(ret!.toolCallId, "call_h")
      assert.strictEqual((messages[3] as Messages.ModelResponse).modelName, "m-support")
      assert.strictEqual(result.usage.requests, 2)
      // the target saw the handoff tool with its parameters
      assert.deepStrictEqual(result.response.toolCalls[0]!.toolName, "final_result")
    })
  )

  it.effect("the handoff tool is offered with its description and parameters", () =>
    Effect.gen(function* () {
      let offered: ReadonlyArray<Tool.ToolDefinition> = []
      const probe = Agent.make({
        name: "probe",
        model: FunctionModel.layer((_, info) => {
          offered = info.outputTools
          return "hello"
        })
      }).pipe(Agent.withHandoffs([Agent.handoff(support, { description: "Card problems." })]))
      const result = yield* probe.run("hi")
      // text still ends the run: the handoff is an alternative
      assert.strictEqual(result.output, "hello")
      assert.deepStrictEqual(
        offered.map((t) => [t.name, t.description, t.kind]),
        [["transfer_to_support", "Card problems.", "output"]]
      )
    })
  )

  it.effect("inputFilter decides what the target sees", () =>
    Effect.gen(function* () {
      const filtered = Agent.make({ name: "triage", model: triageModel }).pipe(
        Agent.withHandoffs([
          Agent.handoff(support, {
            name: "transfer_to_support",
            parameters: Schema.Struct({ reason: Schema.String }),
            inputFilter: (messages) => messages.slice(-2)
          })
        ])
      )
      const result = yield* filtered.run("my card is blocked")
      // the target saw the handoff call and its return only
      assert.deepStrictEqual(result.output, { ticket: 42, seen: 2 })
      assert.deepStrictEqual(
        result.allMessages().map((m) => m._tag),
        ["ModelResponse", "ModelRequest", "ModelResponse", "ModelRequest"]
      )
    })
  )

  it.effect("streamed: the target's events are forwarded, tagged with the handoff call", () =>
    Effect.gen(function* () {
      const events = [...(yield* triage.runStream("my card is blocked").pipe(Stream.runCollect))]
      assert.deepStrictEqual(events.map(describeEvent), [
        "start 0 ToolCallPart",
        "final transfer_to_support",
        "end 0 ToolCallPart",
        // The handoff is an output tool: decoded (to the handoff) before the target runs.
        "output call transfer_to_support",
        "output result ToolReturnPart",
        "[support call_h] start 0 ToolCallPart",
        "[support call_h] final final_result",
        "[support call_h] end 0 ToolCallPart",
        "[support call_h] output call final_result",
        "[support call_h] output result ToolReturnPart",
        "[support call_h] done",
        "done"
      ])
      const done = events[events.length - 1]!
      assert.strictEqual(done._tag, "AgentRunResultEvent")
      if (done._tag === "AgentRunResultEvent") {
        assert.deepStrictEqual(done.result.output, { ticket: 42, seen: 3 })
        assert.strictEqual(done.result.allMessages().length, 5)
        assert.strictEqual(done.result.usage.requests, 2)
      }
    })
  )

  it.effect(
    "onHandoff runs with the arguments before the target; its typed error fails the run",
    () =>
      Effect.gen(function* () {
        const reasons = yield* Ref.make<ReadonlyArray<string>>([])
        class Closed extends Schema.TaggedError<Closed>()("Closed", { reason: Schema.String }) {}
        const desk = (open: boolean) =>
          Agent.make({ name: "triage", model: triageModel }).pipe(
            Agent.withHandoffs([
              Agent.handoff(support, {
                parameters: Schema.Struct({ reason: Schema.String }),
                onHandoff: ({ reason }) =>
                  open
                    ? Ref.update(reasons, (rs) => [...rs, reason])
                    : Effect.fail(new Closed({ reason }))
              })
            ])
          )
        const result = yield* desk(true).run("my card is blocked")
        assert.deepStrictEqual(result.output, { ticket: 42, seen: 3 })
        assert.deepStrictEqual(yield* Ref.get(reasons), ["card"])
        // the callback's error type is the agent's: catchTag compiles and catches it
        const closed = yield* desk(false)
          .run("my card is blocked")
          .pipe(
            Effect.map(() => "handed off"),
            Effect.catchTag("Closed", (e) => Effect.succeed(`closed: ${e.reason}`))
          )
        assert.strictEqual(closed, "closed: card")
      })
  )

  it.effect("a run started inside a streamed run's tool does not forward into it", () =>
    Effect.gen(function* () {
      // a hand-written delegation: the inner run is not streamed, and its own handoff target
      // must not write into the outer stream
      const manual = Tool.make("manual", {
        parameters: Schema.Struct({}),
        handler: () => Effect.map(triage.run("my card is blocked"), (r) => r.output)
      })
      const outer = Agent.make({
        name: "outer",
        model: scripted("m-outer", (messages) =>
          messages.length === 1 ? FunctionModel.toolCall("manual", {}, "m1") : "ok"
        ),
        tools: [manual]
      })
      const events = [...(yield* outer.runStream("go").pipe(Stream.runCollect))]
      assert.deepStrictEqual(
        events.filter((e) => e._tag === "SubAgentEvent"),
        []
      )
      assert.strictEqual(events.map(describeEvent).at(-1), "done")
    })
  )

  it.effect("the target counts against the run's limits", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        triage.run("my card is blocked", {
          usageLimits: new Usage.UsageLimits({ requestLimit: 1 })
        })
      )
      assert.strictEqual(error._tag, "UsageLimitExceeded")
    })
  )
})
