/** End-to-end scenarios a user of the README would check: history after every failure, limits, streaming. */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { finalResultOutput } from "./support/output.js"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  DeferredTools,
  FunctionModel,
  Messages,
  RunContext,
  Tool,
  Usage
} from "@agentfx/core"

const responsesSoFar = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

describe("review scenarios", () => {
  it.effect("toolCallsLimit N allows a batch of exactly N calls", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCalls([{ toolName: "t" }, { toolName: "t" }])
          : FunctionModel.text("done")
      )
      const agent = Agent.make({ tools: [t] })
      const result = yield* agent
        .run("go", { usageLimits: new Usage.UsageLimits({ toolCallsLimit: 2 }) })
        .pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.strictEqual(result.usage.toolCalls, 2)
      assert.strictEqual(result.usage.requests, 2)
    })
  )

  it.effect("RunContext tells a tool its name, call id, step and retry", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<string>>([])
      const t = Tool.make("probe", {
        parameters: Schema.Struct({}),
        retries: 1,
        handler: () =>
          Effect.gen(function* () {
            const ctx = yield* RunContext.RunContext
            yield* Ref.update(seen, (a) => [
              ...a,
              `${ctx.toolName}/${ctx.toolCallId}/${ctx.runStep}/${ctx.retry}/${ctx.usage.requests}`
            ])
            if (ctx.retry === 0) return yield* new AgentError.ModelRetry({ reason: "again" })
            return "fine"
          })
      })
      const model = FunctionModel.layer((messages) => {
        const n = responsesSoFar(messages)
        if (n < 2) return FunctionModel.toolCall("probe", {}, `id${n}`)
        return FunctionModel.text("done")
      })
      const result = yield* Agent.make({ tools: [t] })
        .run("go")
        .pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(yield* Ref.get(seen), ["probe/id0/1/0/1", "probe/id1/2/1/2"])
    })
  )

  it.effect("bad tool arguments past retries: the error carries the whole conversation", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({ n: Schema.Number }),
        retries: 1,
        handler: () => Effect.succeed("ok")
      })
      const model = FunctionModel.layer(() => FunctionModel.toolCall("t", { n: "x" }))
      const error = yield* Agent.make({ tools: [t] })
        .run("go")
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      if (error._tag === "UnexpectedModelBehavior") {
        // request, response, retry, response
        assert.strictEqual(error.messages.length, 4)
        assert.strictEqual(error.messages[3]!._tag, "ModelResponse")
      }
    })
  )

  it.effect("a model error keeps the request that failed", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(() =>
        Effect.fail(new AgentError.ModelAPIError({ modelName: "function", reason: "boom" }))
      )
      const error = yield* Agent.make({}).run("go").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "ModelAPIError")
      const messages = (error as { messages?: ReadonlyArray<Messages.ModelMessage> }).messages
      assert.strictEqual(messages?.length, 1)
    })
  )

  it.effect(
    "continuing a conversation: newMessages are this run's, JSON round trip is lossless",
    () =>
      Effect.gen(function* () {
        const model = FunctionModel.layer((messages) =>
          FunctionModel.text(`answer ${responsesSoFar(messages)}`)
        )
        const agent = Agent.make({ instructions: "Be brief." })
        const first = yield* agent.run("one").pipe(Effect.provide(model))
        const history = yield* Messages.decodeJson(first.allMessagesJson())
        assert.deepStrictEqual(history, first.allMessages())
        const second = yield* agent
          .run("two", { messageHistory: history })
          .pipe(Effect.provide(model))
        assert.strictEqual(second.output, "answer 1")
        assert.strictEqual(second.allMessages().length, 4)
        assert.strictEqual(second.newMessages().length, 2)
        assert.deepStrictEqual(second.allMessages().slice(0, 2), first.allMessages())
        const newJson = yield* Messages.decodeJson(second.newMessagesJson())
        assert.deepStrictEqual(newJson, second.newMessages())
      })
  )

  it.effect("runStream ends with the same result as run", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCall("t", {}, "c1")
          : FunctionModel.text("done")
      const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
      const agent = Agent.make({ tools: [t] })
      const ran = yield* agent.run("go").pipe(Effect.provide(model))
      const events = yield* agent.runStream("go").pipe(Stream.runCollect, Effect.provide(model))
      const last = Chunk.unsafeLast(events) as {
        _tag: string
        result?: Agent.AgentRunResult<string>
      }
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      assert.strictEqual(last.result?.output, ran.output)
      assert.strictEqual(last.result?.allMessages().length, ran.allMessages().length)
      assert.strictEqual(last.result?.usage.requests, ran.usage.requests)
      assert.strictEqual(last.result?.usage.toolCalls, ran.usage.toolCalls)
    })
  )

  it.effect("output validator past outputRetries: the error carries the conversation", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        outputRetries: 1,
        outputValidators: [
          (o: string) => Effect.fail(new AgentError.ModelRetry({ reason: `no: ${o}` }))
        ]
      })
      const model = FunctionModel.layer((messages) =>
        FunctionModel.text(`t${responsesSoFar(messages)}`)
      )
      const error = yield* agent.run("go").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      if (error._tag === "UnexpectedModelBehavior") {
        assert.strictEqual(error.messages.length, 4)
        const retry = (error.messages[2] as Messages.ModelRequest)
          .parts[0] as Messages.RetryPromptPart
        assert.strictEqual(retry.content, "no: t0")
      }
    })
  )

  it.effect("a request limit counts only this run's requests, not the history's", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(() => FunctionModel.text("hi"))
      const agent = Agent.make({ usageLimits: new Usage.UsageLimits({ requestLimit: 1 }) })
      const first = yield* agent.run("a").pipe(Effect.provide(model))
      const second = yield* agent
        .run("b", { messageHistory: first.allMessages() })
        .pipe(Effect.provide(model))
      assert.strictEqual(second.usage.requests, 1)
      assert.strictEqual(second.newMessages().length, 2)
    })
  )

  it.effect("a usage limit hit in runStream fails the stream with the conversation", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
        FunctionModel.toolCall("t", {}, `c${responsesSoFar(messages)}`)
      const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
      const agent = Agent.make({
        tools: [t],
        usageLimits: new Usage.UsageLimits({ requestLimit: 2 })
      })
      const error = yield* agent
        .runStream("go")
        .pipe(Stream.runDrain, Effect.provide(model), Effect.flip)
      const ranError = yield* agent.run("go").pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      if (error._tag === "UsageLimitExceeded" && ranError._tag === "UsageLimitExceeded") {
        assert.strictEqual(error.messages.filter((m) => m._tag === "ModelResponse").length, 2)
        // the third request (the tool's return) is kept, as in run
        assert.strictEqual(error.messages.length, 5)
        assert.deepStrictEqual(
          error.messages.map((m) => m._tag),
          ranError.messages.map((m) => m._tag)
        )
      }
    })
  )

  it.effect("a tool's typed error ends the run and the messages are still retrievable", () =>
    Effect.gen(function* () {
      class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.fail(new Boom())
      })
      const model = FunctionModel.layer(() => FunctionModel.toolCall("t", {}, "c0"))
      const { exit, messages } = yield* CaptureRunMessages.capture(
        Agent.make({ tools: [t] })
          .run("go")
          .pipe(Effect.provide(model))
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(messages.length, 2)
    })
  )

  it.effect("streamOutput yields partial outputs ending with the final one", () =>
    Effect.gen(function* () {
      const script = () => FunctionModel.text("hello world")
      const model = FunctionModel.layer(script, {
        stream: () => Stream.make("hello", " ", "world")
      })
      const outputs = yield* Agent.make({})
        .streamOutput("go")
        .pipe(Stream.runCollect, Effect.provide(model))
      const arr = Chunk.toReadonlyArray(outputs)
      assert.strictEqual(arr[arr.length - 1], "hello world")
      assert.isAtLeast(arr.length, 2)
    })
  )

  it.live("interruption by a timeout: CaptureRunMessages keeps the tool call made so far", () =>
    Effect.gen(function* () {
      const t = Tool.make("slow", { parameters: Schema.Struct({}), handler: () => Effect.never })
      const model = FunctionModel.layer(() => FunctionModel.toolCall("slow", {}, "c0"))
      const { exit, messages } = yield* CaptureRunMessages.capture(
        Agent.make({ tools: [t] })
          .run("go")
          .pipe(Effect.provide(model), Effect.timeout("10 millis"))
      )
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(messages.length, 2)
      assert.strictEqual(messages[1]!._tag, "ModelResponse")
    })
  )

  it.effect("the agent's retries is every tool's default budget; a tool's own retries wins", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make({ a: 0, b: 0 })
      const mk = (name: "a" | "b", retries?: number) =>
        Tool.make(name, {
          parameters: Schema.Struct({}),
          ...(retries === undefined ? {} : { retries }),
          handler: () =>
            Effect.zipRight(
              Ref.update(calls, (c) => ({ ...c, [name]: c[name] + 1 })),
              Effect.fail(new AgentError.ModelRetry({ reason: "again" }))
            )
        })
      const agent = Agent.make({ tools: [mk("a"), mk("b", 0)], retries: 3 })
      const onlyA = FunctionModel.layer((messages) =>
        FunctionModel.toolCall("a", {}, `c${responsesSoFar(messages)}`)
      )
      yield* agent.run("go").pipe(Effect.provide(onlyA), Effect.flip)
      const onlyB = FunctionModel.layer((messages) =>
        FunctionModel.toolCall("b", {}, `c${responsesSoFar(messages)}`)
      )
      yield* agent.run("go").pipe(Effect.provide(onlyB), Effect.flip)
      assert.deepStrictEqual(yield* Ref.get(calls), { a: 4, b: 1 })
    })
  )

  it.effect("prepare can hide a tool at a step; the model does not see it and cannot call it", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<ReadonlyArray<string>>>([])
      const t = Tool.make("once", {
        parameters: Schema.Struct({}),
        prepare: (def) =>
          Effect.map(RunContext.RunContext, (ctx) => (ctx.runStep <= 1 ? def : undefined)),
        handler: () => Effect.succeed("ok")
      })
      const model = FunctionModel.layer((messages, info) =>
        Effect.as(
          Ref.update(seen, (a) => [...a, info.functionTools.map((d) => d.name)]),
          responsesSoFar(messages) === 0
            ? FunctionModel.toolCall("once", {}, "c0")
            : FunctionModel.text("done")
        )
      )
      const result = yield* Agent.make({ tools: [t] })
        .run("go")
        .pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(yield* Ref.get(seen), [["once"], []])
    })
  )

  it.effect("totalTokensLimit N allows a run of exactly N tokens", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [new Messages.TextPart({ content: "hi" })],
            usage: new Usage.RequestUsage({ inputTokens: 10, outputTokens: 5 })
          })
      )
      const ok = yield* Agent.make({})
        .run("a", { usageLimits: new Usage.UsageLimits({ totalTokensLimit: 15 }) })
        .pipe(Effect.provide(model))
      assert.strictEqual(ok.usage.totalTokens, 15)
      const error = yield* Agent.make({})
        .run("a", {
          usageLimits: new Usage.UsageLimits({ totalTokensLimit: 14, outputTokensLimit: 5 })
        })
        .pipe(Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      if (error._tag === "UsageLimitExceeded") assert.strictEqual(error.limit, "totalTokensLimit")
    })
  )

  it.effect(
    "approval round trip through JSON: the other call of the batch runs once, the model sees both returns",
    () =>
      Effect.gen(function* () {
        const ran = yield* Ref.make<Array<string>>([])
        const refund = Tool.make("refund", {
          parameters: Schema.Struct({ amount: Schema.Number }),
          requiresApproval: true,
          handler: ({ amount }) =>
            Effect.as(
              Ref.update(ran, (a) => [...a, `refund ${amount}`]),
              "refunded"
            )
        })
        const lookup = Tool.make("lookup", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.as(
              Ref.update(ran, (a) => [...a, "lookup"]),
              "found"
            )
        })
        const lastSeen = yield* Ref.make<ReadonlyArray<Messages.ModelMessage>>([])
        const model = FunctionModel.layer((messages) =>
          Effect.as(
            Ref.set(lastSeen, messages),
            responsesSoFar(messages) === 0
              ? FunctionModel.toolCalls([
                  { toolName: "refund", args: { amount: 5 }, toolCallId: "r1" },
                  { toolName: "lookup", args: {}, toolCallId: "l1" }
                ])
              : FunctionModel.text("done")
          )
        )
        const agent = Agent.make({ tools: [refund, lookup] })
        const first = yield* agent.run("go").pipe(Effect.provide(model))
        assert.isTrue(DeferredTools.isDeferredToolRequests(first.output))
        if (!DeferredTools.isDeferredToolRequests(first.output)) return
        assert.deepStrictEqual(
          first.output.approvals.map((c) => c.toolCallId),
          ["r1"]
        )
        assert.deepStrictEqual(yield* Ref.get(ran), ["lookup"])
        const history = yield* Messages.decodeJson(first.allMessagesJson())
        const resumed = yield* agent
          .run(undefined, {
            messageHistory: history,
            deferredToolResults: first.output.buildResults({ approveAll: true })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(resumed.output, "done")
        assert.deepStrictEqual(yield* Ref.get(ran), ["lookup", "refund 5"])
        assert.strictEqual(resumed.usage.requests, 1)
        const seen = yield* Ref.get(lastSeen)
        const returns = seen
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .filter((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
        assert.deepStrictEqual(returns.map((p) => [p.toolCallId, p.content]).sort(), [
          ["l1", "found"],
          ["r1", "refunded"]
        ])
      })
  )

  it.effect("onEvent, runStream and iter see the same run", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCall("t", {}, "c1")
          : FunctionModel.text("done")
      const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
      const agent = Agent.make({ tools: [t] })
      const watched: Array<string> = []
      const ran = yield* agent
        .run("go", { onEvent: (e) => watched.push(e._tag) })
        .pipe(Effect.provide(model))
      const streamed = yield* agent.runStream("go").pipe(Stream.runCollect, Effect.provide(model))
      const tags = Chunk.toReadonlyArray(streamed).map((e) => e._tag)
      assert.deepStrictEqual(watched, tags.slice(0, watched.length))
      assert.strictEqual(tags[tags.length - 1], "AgentRunResultEvent")
      assert.isBelow(tags.indexOf("FunctionToolCallEvent"), tags.indexOf("FunctionToolResultEvent"))
      assert.isBelow(tags.indexOf("FunctionToolResultEvent"), tags.indexOf("FinalResultEvent"))
      const nodes: Array<string> = []
      const iterated = yield* Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter("go")
          let node = yield* run.nextNode
          while (!Agent.isEndNode(node)) {
            nodes.push(node._tag)
            node = yield* run.next(node)
          }
          return node.result
        })
      ).pipe(Effect.provide(model))
      assert.deepStrictEqual(nodes, [
        "UserPromptNode",
        "ModelRequestNode",
        "CallToolsNode",
        "ModelRequestNode",
        "CallToolsNode"
      ])
      assert.strictEqual(iterated.output, ran.output)
      assert.strictEqual(iterated.allMessages().length, ran.allMessages().length)
      assert.strictEqual(iterated.usage.requests, 2)
    })
  )

  it.effect("an output tool call is not a tool call for usage or the tool-call limit", () =>
    Effect.gen(function* () {
      const structured = finalResultOutput((call) =>
        Effect.succeed(call.argsAsObject() as { n: number })
      )
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const model = FunctionModel.layer((messages) =>
        responsesSoFar(messages) === 0
          ? FunctionModel.toolCall("t", {}, "c1")
          : FunctionModel.toolCall("final_result", { n: 1 }, "o1")
      )
      const result = yield* Agent.make({ tools: [t], output: structured })
        .run("go", { usageLimits: new Usage.UsageLimits({ toolCallsLimit: 1 }) })
        .pipe(Effect.provide(model))
      assert.deepStrictEqual(result.output, { n: 1 })
      assert.strictEqual(result.usage.toolCalls, 1)
    })
  )

  it.effect("a refused output tool call counts against outputRetries, not the tools' retries", () =>
    Effect.gen(function* () {
      const structured = finalResultOutput((call) =>
        (call.argsAsObject() as { n: number }).n > 0
          ? Effect.succeed(call.argsAsObject() as { n: number })
          : Effect.fail(new AgentError.ModelRetry({ reason: "n must be positive" }))
      )
      const script = (n: number) =>
        FunctionModel.layer((messages) => {
          const k = responsesSoFar(messages)
          return FunctionModel.toolCall("final_result", { n: k < n ? 0 : 1 }, `o${k}`)
        })
      const agent = Agent.make({ output: structured, retries: 0, outputRetries: 2 })
      const ok = yield* agent.run("go").pipe(Effect.provide(script(2)))
      assert.deepStrictEqual(ok.output, { n: 1 })
      assert.strictEqual(ok.usage.requests, 3)
      const error = yield* agent.run("go").pipe(Effect.provide(script(3)), Effect.flip)
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      if (error._tag === "UnexpectedModelBehavior") assert.strictEqual(error.messages.length, 6)
    })
  )

  it.effect("an output validator sees the retry count and maxRetries in RunContext", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<Array<string>>([])
      const agent = Agent.make({
        outputRetries: 2,
        outputValidators: [
          (o: string) =>
            Effect.gen(function* () {
              const ctx = yield* RunContext.RunContext
              yield* Ref.update(seen, (a) => [...a, `${o}:${ctx.retry}/${ctx.maxRetries}`])
              if (ctx.retry < 2) return yield* new AgentError.ModelRetry({ reason: "again" })
              return o
            })
        ]
      })
      const model = FunctionModel.layer((messages) =>
        FunctionModel.text(`t${responsesSoFar(messages)}`)
      )
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.strictEqual(result.output, "t2")
      assert.deepStrictEqual(yield* Ref.get(seen), ["t0:0/2", "t1:1/2", "t2:2/2"])
    })
  )

  it.effect("a stored history ending in an unanswered tool call can be continued", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("ok")
      })
      const model = FunctionModel.layer(() => FunctionModel.toolCall("t", {}, "c0"))
      const { messages } = yield* CaptureRunMessages.capture(
        Agent.make({ tools: [t], usageLimits: new Usage.UsageLimits({ requestLimit: 1 }) })
          .run("go")
          .pipe(Effect.provide(model))
      )
      const seen = yield* Ref.make<ReadonlyArray<Messages.ModelMessage>>([])
      const answer = FunctionModel.layer((ms) =>
        Effect.as(Ref.set(seen, ms), FunctionModel.text("fine"))
      )
      const history = messages.slice(0, 2) // ends with the unanswered call
      const result = yield* Agent.make({ tools: [t] })
        .run("next", { messageHistory: history })
        .pipe(Effect.provide(answer))
      assert.strictEqual(result.output, "fine")
      const sent = yield* Ref.get(seen)
      const calls = sent
        .flatMap((m) => (m._tag === "ModelResponse" ? m.parts : []))
        .filter((p) => p._tag === "ToolCallPart")
      const answered = sent
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .filter((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
      assert.strictEqual(calls.length, answered.length)
    })
  )

  it.effect(
    "streamOutput runs validators on partials with partialOutput, and once on the final output",
    () =>
      Effect.gen(function* () {
        const seen = yield* Ref.make<Array<string>>([])
        const agent = Agent.make({
          outputValidators: [
            (o: string) =>
              Effect.gen(function* () {
                const ctx = yield* RunContext.RunContext
                yield* Ref.update(seen, (a) => [...a, `${o}|${ctx.partialOutput}`])
                return o.toUpperCase()
              })
          ]
        })
        const model = FunctionModel.layer(() => FunctionModel.text("ab"), {
          stream: () => Stream.make("a", "b")
        })
        const outputs = yield* agent
          .streamOutput("go")
          .pipe(Stream.runCollect, Effect.provide(model))
        const arr = Chunk.toReadonlyArray(outputs)
        assert.strictEqual(arr[arr.length - 1], "AB")
        const calls = yield* Ref.get(seen)
        assert.strictEqual(calls.filter((c) => c.endsWith("|false")).length, 1)
        assert.strictEqual(calls[calls.length - 1], "ab|false")
        const ran = yield* agent.runStream("go").pipe(Agent.finalResult, Effect.provide(model))
        assert.strictEqual(ran.output, "AB")
      })
  )

  it.effect(
    "tools of one response run concurrently and their returns keep call order; sequential is a barrier",
    () =>
      Effect.gen(function* () {
        const gate = yield* Deferred.make<void>()
        const order = yield* Ref.make<Array<string>>([])
        const waits = Tool.make("waits", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.zipRight(
              Deferred.await(gate),
              Effect.as(
                Ref.update(order, (a) => [...a, "waits"]),
                "w"
              )
            )
        })
        const opens = Tool.make("opens", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.zipRight(
              Deferred.succeed(gate, undefined),
              Effect.as(
                Ref.update(order, (a) => [...a, "opens"]),
                "o"
              )
            )
        })
        const barrier = Tool.make("barrier", {
          parameters: Schema.Struct({}),
          sequential: true,
          handler: () =>
            Effect.as(
              Ref.update(order, (a) => [...a, "barrier"]),
              "b"
            )
        })
        const model = FunctionModel.layer((messages) =>
          responsesSoFar(messages) === 0
            ? FunctionModel.toolCalls([
                { toolName: "waits", toolCallId: "1" },
                { toolName: "opens", toolCallId: "2" },
                { toolName: "barrier", toolCallId: "3" }
              ])
            : FunctionModel.text("done")
        )
        const result = yield* Agent.make({ tools: [waits, opens, barrier] })
          .run("go")
          .pipe(Effect.provide(model))
        assert.strictEqual(result.output, "done")
        assert.deepStrictEqual(yield* Ref.get(order), ["opens", "waits", "barrier"])
        const returns = (result.allMessages()[2] as Messages.ModelRequest).parts.map((p) =>
          p._tag === "ToolReturnPart" ? p.toolCallId : p._tag
        )
        assert.deepStrictEqual(returns, ["1", "2", "3"])
      })
  )

  it.effect("usage.toolCalls counts successful function tool calls only", () =>
    Effect.gen(function* () {
      const t = Tool.make("t", {
        parameters: Schema.Struct({ n: Schema.Number }),
        retries: 3,
        handler: () =>
          Effect.gen(function* () {
            const ctx = yield* RunContext.RunContext
            if (ctx.retry === 0) return yield* new AgentError.ModelRetry({ reason: "again" })
            return "ok"
          })
      })
      const model = FunctionModel.layer((messages) => {
        const k = responsesSoFar(messages)
        if (k === 0) return FunctionModel.toolCall("t", { n: "bad" }, "c0")
        if (k === 1) return FunctionModel.toolCall("t", { n: 1 }, "c1")
        if (k === 2) return FunctionModel.toolCall("t", { n: 1 }, "c2")
        return FunctionModel.text("done")
      })
      const result = yield* Agent.make({ tools: [t] })
        .run("go")
        .pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.strictEqual(result.usage.requests, 4)
      assert.strictEqual(result.usage.toolCalls, 1)
    })
  )

  it.effect("a stream that breaks mid-response fails runStream with the conversation so far", () =>
    Effect.gen(function* () {
      const model = FunctionModel.layer(() => FunctionModel.text("unused"), {
        stream: () =>
          Stream.concat(
            Stream.make("hel"),
            Stream.fail(new AgentError.ModelAPIError({ modelName: "function", reason: "reset" }))
          )
      })
      const history = [
        new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: "before" })] }),
        new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "earlier" })] })
      ]
      const error = yield* Agent.make({})
        .runStream("go", { messageHistory: history })
        .pipe(Stream.runDrain, Effect.provide(model), Effect.flip)
      assert.strictEqual(error._tag, "ModelAPIError")
      if (error._tag === "ModelAPIError") {
        assert.isAtLeast(error.messages.length, 3)
        assert.strictEqual(error.messages[2]!._tag, "ModelRequest")
      }
    })
  )

  it.effect(
    "systemPrompt goes only into a fresh conversation; instructions reach every request",
    () =>
      Effect.gen(function* () {
        const sent = yield* Ref.make<Array<string | undefined>>([])
        const model = FunctionModel.layer((messages) =>
          Effect.as(
            Ref.update(sent, (a) => [...a, FunctionModel.instructionsOf(messages)]),
            FunctionModel.text("ok")
          )
        )
        const agent = Agent.make({ systemPrompt: "You are terse.", instructions: "Be brief." })
        const first = yield* agent.run("a").pipe(Effect.provide(model))
        const second = yield* agent
          .run("b", { messageHistory: first.allMessages() })
          .pipe(Effect.provide(model))
        const systemParts = second
          .allMessages()
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .filter((p) => p._tag === "SystemPromptPart")
        assert.strictEqual(systemParts.length, 1)
        assert.deepStrictEqual(yield* Ref.get(sent), ["Be brief.", "Be brief."])
      })
  )

  it.effect(
    "a denied approval reaches the model as the denial message; unknown call ids are a UserError",
    () =>
      Effect.gen(function* () {
        const ran = yield* Ref.make(0)
        const refund = Tool.make("refund", {
          parameters: Schema.Struct({}),
          requiresApproval: true,
          handler: () =>
            Effect.as(
              Ref.update(ran, (n) => n + 1),
              "refunded"
            )
        })
        const lastSeen = yield* Ref.make<ReadonlyArray<Messages.ModelMessage>>([])
        const model = FunctionModel.layer((messages) =>
          Effect.as(
            Ref.set(lastSeen, messages),
            responsesSoFar(messages) === 0
              ? FunctionModel.toolCall("refund", {}, "r1")
              : FunctionModel.text("ok")
          )
        )
        const agent = Agent.make({ tools: [refund] })
        const first = yield* agent.run("go").pipe(Effect.provide(model))
        const resumed = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: DeferredTools.DeferredToolResults.make({
              approvals: { r1: new DeferredTools.ToolDenied({ message: "not today" }) }
            })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(resumed.output, "ok")
        assert.strictEqual(yield* Ref.get(ran), 0)
        const ret = (yield* Ref.get(lastSeen))
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
        assert.strictEqual(ret?.content, "not today")
        const error = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: DeferredTools.DeferredToolResults.make({
              approvals: { nope: true }
            })
          })
          .pipe(Effect.provide(model), Effect.flip)
        assert.strictEqual(error._tag, "UserError")
      })
  )

  it.effect("runStream with an output tool: FinalResultEvent names the output call, once", () =>
    Effect.gen(function* () {
      const structured = finalResultOutput((call) =>
        Effect.succeed(call.argsAsObject() as { n: number })
      )
      const script = () => FunctionModel.toolCall("final_result", { n: 2 }, "o1")
      const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
      const events = yield* Agent.make({ output: structured })
        .runStream("go")
        .pipe(Stream.runCollect, Effect.provide(model))
      const finals = Chunk.toReadonlyArray(events).filter(
        (e): e is Messages.FinalResultEvent => e._tag === "FinalResultEvent"
      )
      assert.strictEqual(finals.length, 1)
      assert.strictEqual(finals[0]!.toolName, "final_result")
      assert.strictEqual(finals[0]!.toolCallId, "o1")
      const last = Chunk.unsafeLast(events)
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      if (last._tag === "AgentRunResultEvent") assert.deepStrictEqual(last.result.output, { n: 2 })
    })
  )

  it.effect(
    "a history processor trims what the model sees; the stored history and newMessages stay whole",
    () =>
      Effect.gen(function* () {
        const sentLengths = yield* Ref.make<Array<number>>([])
        const t = Tool.make("t", {
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed("ok")
        })
        const model = FunctionModel.layer((messages) =>
          Effect.as(
            Ref.update(sentLengths, (a) => [...a, messages.length]),
            messages.some(
              (m) => m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "ToolReturnPart")
            )
              ? FunctionModel.text("done")
              : FunctionModel.toolCall("t", {}, "c1")
          )
        )
        const agent = Agent.make({
          tools: [t],
          historyProcessors: [(messages) => messages.slice(-2)]
        })
        const history = [
          Messages.userPrompt("one"),
          new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "1" })] })
        ]
        const result = yield* agent
          .run("two", { messageHistory: history })
          .pipe(Effect.provide(model))
        assert.strictEqual(result.output, "done")
        assert.deepStrictEqual(yield* Ref.get(sentLengths), [2, 2])
        assert.strictEqual(result.allMessages().length, 6)
        assert.strictEqual(result.newMessages().length, 4)
        assert.strictEqual(result.usage.requests, 2)
      })
  )
})
