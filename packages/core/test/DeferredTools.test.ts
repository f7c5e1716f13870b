import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  DeferredTools,
  FunctionModel,
  Messages,
  type Model,
  RunContext,
  Tool,
  Toolset,
  Usage
} from "@agentfx/core"
import { finalResultOutput } from "./support/output.js"

const { ApprovalRequired, CallDeferred, DeferredToolRequests, DeferredToolResults } = DeferredTools

/**
 * A scripted model: the n-th response of the conversation is `responses[n]` (so a resumed run
 * continues the script), and every request it receives is recorded.
 */
const scripted = (responses: ReadonlyArray<Messages.ModelResponse>) => {
  const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
  const pick = (messages: ReadonlyArray<Messages.ModelMessage>) => {
    seen.push(messages)
    const n = messages.filter((m) => m._tag === "ModelResponse").length
    return responses[n] ?? FunctionModel.text("no more script")
  }
  const toStream = (response: Messages.ModelResponse): Array<FunctionModel.StreamItem> =>
    response.parts.map((p, index) =>
      p._tag === "TextPart"
        ? p.content
        : p._tag === "ToolCallPart"
          ? { [index]: { name: p.toolName, jsonArgs: p.argsAsJson(), toolCallId: p.toolCallId } }
          : ""
    )
  const layer = FunctionModel.layer(pick, {
    stream: (messages) => Stream.fromIterable(toStream(pick(messages)))
  })
  return { layer, seen }
}

const call = (toolName: string, toolCallId: string, args: Record<string, unknown> = {}) => ({
  toolName,
  toolCallId,
  args
})

/** Counts the executions of each tool. */
const counter = () => {
  const runs: Record<string, number> = {}
  const bump = (name: string) => {
    runs[name] = (runs[name] ?? 0) + 1
  }
  return { runs, bump }
}

const requestParts = (m: Messages.ModelMessage | undefined) => {
  assert.strictEqual(m?._tag, "ModelRequest")
  return (m as Messages.ModelRequest).parts
}

const returnOf = (parts: ReadonlyArray<Messages.ModelRequestPart>, id: string) => {
  const part = parts.find(
    (p) => (p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart") && p.toolCallId === id
  )
  assert.isDefined(part, `no result for ${id}`)
  return part!
}

const Refund = Schema.Struct({ order: Schema.String, amount: Schema.Number })

const makeTools = (c: ReturnType<typeof counter>) => {
  const refund = Tool.make("refund", {
    parameters: Refund,
    requiresApproval: true,
    handler: ({ order, amount }) =>
      Effect.flatMap(RunContext.RunContext, (ctx) =>
        Effect.sync(() => {
          c.bump("refund")
          return `refunded ${amount} on ${order} (approved: ${ctx.toolCallApproved === true})`
        })
      )
  })
  const lookup = Tool.make("lookup", {
    parameters: Schema.Struct({ order: Schema.String }),
    handler: ({ order }) =>
      Effect.sync(() => {
        c.bump("lookup")
        return `order ${order}: 40 EUR`
      })
  })
  const geolocate = Tool.external("geolocate", {
    description: "Position of the user, from their browser",
    parameters: Schema.Struct({ precise: Schema.Boolean }),
    metadata: { via: "browser" }
  })
  return { refund, lookup, geolocate }
}

/** An agent with the three tools above, on a model that makes `calls`, then answers `answer`. */
const fixture = (calls: ReadonlyArray<ReturnType<typeof call>>, answer = "ok") => {
  const c = counter()
  const { refund, lookup, geolocate } = makeTools(c)
  const agent = Agent.make({ tools: [refund, lookup, geolocate] })
  const model = scripted([FunctionModel.toolCalls(calls), FunctionModel.text(answer)])
  return { c, agent, model }
}

/** Resumes a stopped run on the same scripted model. */
const resume = <A>(
  agent: Agent.Agent<A, never, Model.Model>,
  model: { readonly layer: Layer.Layer<Model.Model> },
  messageHistory: ReadonlyArray<Messages.ModelMessage>,
  deferredToolResults: DeferredTools.DeferredToolResults,
  options: { readonly usage?: Usage.RunUsage } = {}
) =>
  agent
    .run(undefined, { messageHistory, deferredToolResults, ...options })
    .pipe(Effect.provide(model.layer))

describe("DeferredTools", () => {
  it.effect(
    "requiresApproval stops the run; approving resumes it without a new request for the call",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture(
          [call("refund", "r1", { order: "42", amount: 12 })],
          "Refund done."
        )
        const first = yield* agent.run("Refund order 42").pipe(Effect.provide(model.layer))
        assert.instanceOf(first.output, DeferredToolRequests)
        const requests = first.output as DeferredTools.DeferredToolRequests
        assert.deepStrictEqual(
          requests.approvals.map((p) => [p.toolName, p.toolCallId, p.args]),
          [["refund", "r1", { order: "42", amount: 12 }]]
        )
        assert.deepStrictEqual(requests.calls, [])
        assert.deepStrictEqual(requests.metadata, {})
        assert.strictEqual(c.runs.refund, undefined)
        assert.strictEqual(model.seen.length, 1)
        // the history ends with the response asking for the call: nothing ran
        const messages = first.allMessages()
        assert.strictEqual(messages.length, 2)
        assert.strictEqual(messages[1]!._tag, "ModelResponse")
        assert.strictEqual(first.usage.requests, 1)
        assert.strictEqual(first.usage.toolCalls, 0)

        const second = yield* resume(
          agent,
          model,
          messages,
          DeferredToolResults.make({ approvals: { r1: true } })
        )
        assert.strictEqual(second.output, "Refund done.")
        assert.strictEqual(c.runs.refund, 1)
        // one more model request only: the one answering the tool result
        assert.strictEqual(model.seen.length, 2)
        const sent = model.seen[1]!
        assert.strictEqual(sent.length, 3)
        const ret = returnOf(requestParts(sent[2]), "r1") as Messages.ToolReturnPart
        assert.strictEqual(ret.content, "refunded 12 on 42 (approved: true)")
        assert.strictEqual(ret.outcome, "success")
        assert.strictEqual(second.allMessages().length, 4)
        assert.deepStrictEqual(
          second.newMessages().map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        assert.strictEqual(second.usage.requests, 1)
        assert.strictEqual(second.usage.toolCalls, 1)
      })
  )

  it.effect(
    "deferredToolResults: undefined (a handler passing its optional value on) is a plain run",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture([call("lookup", "l1", { order: "7" })], "Found it.")
        const given: DeferredTools.DeferredToolResults | undefined = undefined
        const result = yield* agent
          .run("Look up 7", { deferredToolResults: given })
          .pipe(Effect.provide(model.layer))
        assert.strictEqual(result.output, "Found it.")
        assert.strictEqual(c.runs.lookup, 1)
        assert.strictEqual(model.seen.length, 2)
        const sent = model.seen[1]!
        const ret = returnOf(requestParts(sent[2]), "l1") as Messages.ToolReturnPart
        assert.strictEqual(ret.content, "order 7: 40 EUR")
      })
  )

  it.effect("a requiresApproval predicate sees the decoded args and the run", () =>
    Effect.gen(function* () {
      const c = counter()
      const seenCtx: Array<string> = []
      const pay = Tool.make("pay", {
        parameters: Refund,
        requiresApproval: ({ amount }, ctx) =>
          Effect.sync(() => {
            seenCtx.push(`${ctx.toolName}/${ctx.toolCallId}`)
            return amount > 100
          }),
        handler: ({ amount }) => Effect.sync(() => c.bump(`pay ${amount}`))
      })
      const model = scripted([
        FunctionModel.toolCalls([
          call("pay", "small", { order: "1", amount: 5 }),
          call("pay", "big", { order: "2", amount: 500 })
        ])
      ])
      const result = yield* Agent.make({ tools: [pay] })
        .run("pay")
        .pipe(Effect.provide(model.layer))
      const requests = result.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        requests.approvals.map((p) => p.toolCallId),
        ["big"]
      )
      assert.deepStrictEqual(c.runs, { "pay 5": 1 })
      assert.deepStrictEqual(seenCtx.sort(), ["pay/big", "pay/small"])
    })
  )

  it.effect(
    "mixed response: plain calls run once, deferred ones wait; resume sends all results in call order",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture(
          [
            call("lookup", "l1", { order: "42" }),
            call("refund", "r1", { order: "42", amount: 40 }),
            call("geolocate", "g1", { precise: true }),
            call("nope", "n1")
          ],
          "All done."
        )
        const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
        const requests = first.output as DeferredTools.DeferredToolRequests
        assert.deepStrictEqual(
          requests.approvals.map((p) => p.toolCallId),
          ["r1"]
        )
        assert.deepStrictEqual(
          requests.calls.map((p) => [p.toolName, p.toolCallId, p.args]),
          [["geolocate", "g1", { precise: true }]]
        )
        // the external tool's definition metadata is handed out with its call
        assert.deepStrictEqual(requests.metadata, { g1: { via: "browser" } })
        assert.deepStrictEqual(c.runs, { lookup: 1 })
        assert.strictEqual(first.usage.toolCalls, 1)
        // the results so far are in the history, after the response
        const trailing = requestParts(first.allMessages()[2])
        assert.deepStrictEqual(
          trailing.map((p) => [p._tag, (p as Messages.ToolReturnPart).toolCallId]),
          [
            ["ToolReturnPart", "l1"],
            ["RetryPromptPart", "n1"]
          ]
        )

        const second = yield* resume(
          agent,
          model,
          first.allMessages(),
          DeferredToolResults.make({
            approvals: { r1: true },
            calls: { g1: { lat: 48.85, lon: 2.35 } }
          }),
          { usage: first.usage }
        )
        assert.strictEqual(second.output, "All done.")
        assert.deepStrictEqual(c.runs, { lookup: 1, refund: 1 })
        assert.strictEqual(model.seen.length, 2)
        const parts = requestParts(model.seen[1]![2])
        assert.deepStrictEqual(
          parts.map((p) => (p as Messages.ToolReturnPart).toolCallId),
          ["l1", "r1", "g1", "n1"]
        )
        assert.deepStrictEqual((returnOf(parts, "g1") as Messages.ToolReturnPart).content, {
          lat: 48.85,
          lon: 2.35
        })
        // usage across the pause: carried over with `usage`, counted once
        assert.strictEqual(second.usage.requests, 2)
        assert.strictEqual(second.usage.toolCalls, 2)
        assert.strictEqual(
          second.usage.inputTokens,
          first.usage.inputTokens + second.response.usage.inputTokens
        )
      })
  )

  it.effect("denied calls reach the model as `denied` returns; the tool does not run", () =>
    Effect.gen(function* () {
      const c = counter()
      const { refund } = makeTools(c)
      const model = scripted([
        FunctionModel.toolCalls([
          call("refund", "a", { order: "1", amount: 1 }),
          call("refund", "b", { order: "2", amount: 2 })
        ]),
        FunctionModel.text("ok")
      ])
      const agent = Agent.make({ tools: [refund] })
      const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
      const second = yield* resume(
        agent,
        model,
        first.allMessages(),
        DeferredToolResults.make({
          approvals: { a: false, b: DeferredTools.ToolDenied.make({ message: "Over budget." }) }
        })
      )
      assert.strictEqual(c.runs.refund, undefined)
      const parts = requestParts(model.seen[1]![2]) as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        parts.map((p) => [p.toolCallId, p.outcome, p.content]),
        [
          ["a", "denied", "The tool call was denied."],
          ["b", "denied", "Over budget."]
        ]
      )
      assert.strictEqual(second.usage.toolCalls, 0)
    })
  )

  it.effect("ToolApproved overrides the arguments (decoded); bad ones are a UserError", () =>
    Effect.gen(function* () {
      const { c, agent, model } = fixture([call("refund", "r1", { order: "42", amount: 400 })])
      const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
      const approve = (overrideArgs: Record<string, unknown>) =>
        DeferredToolResults.make({
          approvals: { r1: DeferredTools.ToolApproved.make({ overrideArgs }) }
        })
      const bad = yield* resume(
        agent,
        model,
        first.allMessages(),
        approve({ order: "42", amount: "x" })
      ).pipe(Effect.as("the run unexpectedly succeeded"), Effect.flip)
      assert.strictEqual(bad._tag, "UserError")
      assert.include(bad.message, "overrideArgs approved for tool call 'r1' ('refund')")
      assert.strictEqual(c.runs.refund, undefined)

      yield* resume(agent, model, first.allMessages(), approve({ order: "42", amount: 40 }))
      const ret = returnOf(requestParts(model.seen[1]![2]), "r1") as Messages.ToolReturnPart
      assert.strictEqual(ret.content, "refunded 40 on 42 (approved: true)")
      // the model's own call stays in the history as it was sent
      const response = model.seen[1]![1] as Messages.ModelResponse
      assert.deepStrictEqual(response.toolCalls[0]!.args, { order: "42", amount: 400 })
    })
  )

  it.effect("external results: a value, ModelRetry (a retry prompt) and ToolFailed", () =>
    Effect.gen(function* () {
      const { geolocate } = makeTools(counter())
      const model = scripted([
        FunctionModel.toolCalls([
          call("geolocate", "a", { precise: true }),
          call("geolocate", "b", { precise: false }),
          call("geolocate", "c", { precise: false })
        ]),
        FunctionModel.text("ok")
      ])
      const agent = Agent.make({ tools: [geolocate] })
      const first = yield* agent.run("where am I").pipe(Effect.provide(model.layer))
      assert.deepStrictEqual(
        (first.output as DeferredTools.DeferredToolRequests).calls.map((p) => p.toolCallId),
        ["a", "b", "c"]
      )
      yield* resume(
        agent,
        model,
        first.allMessages(),
        DeferredToolResults.make({
          calls: {
            a: "Paris",
            b: new AgentError.ModelRetry({ reason: "Ask with precise: true." }),
            c: new AgentError.ToolFailed({ reason: "Permission refused.", metadata: { code: 7 } })
          }
        })
      )
      const parts = requestParts(model.seen[1]![2])
      const a = returnOf(parts, "a") as Messages.ToolReturnPart
      assert.deepStrictEqual([a._tag, a.content, a.outcome], ["ToolReturnPart", "Paris", "success"])
      const b = returnOf(parts, "b") as Messages.RetryPromptPart
      assert.deepStrictEqual(
        [b._tag, b.content, b.toolName],
        ["RetryPromptPart", "Ask with precise: true.", "geolocate"]
      )
      const cc = returnOf(parts, "c") as Messages.ToolReturnPart
      assert.deepStrictEqual(
        [cc.content, cc.outcome, cc.metadata],
        ["Permission refused.", "failed", { code: 7 }]
      )
    })
  )

  it.effect(
    "external calls with bad arguments go back to the model instead of stopping the run",
    () =>
      Effect.gen(function* () {
        const { geolocate } = makeTools(counter())
        const model = scripted([
          FunctionModel.toolCalls([call("geolocate", "a", { precise: "yes" })]),
          FunctionModel.toolCalls([call("geolocate", "b", { precise: true })])
        ])
        const result = yield* Agent.make({ tools: [geolocate] })
          .run("where")
          .pipe(Effect.provide(model.layer))
        assert.deepStrictEqual(
          (result.output as DeferredTools.DeferredToolRequests).calls.map((p) => p.toolCallId),
          ["b"]
        )
        assert.strictEqual(model.seen.length, 2)
        assert.strictEqual(returnOf(requestParts(model.seen[1]![2]), "a")._tag, "RetryPromptPart")
      })
  )

  it.effect("a toolset's tools of kind `external` are never called by the run", () =>
    Effect.gen(function* () {
      const external = Toolset.make<never, never>(() =>
        Effect.succeed([
          {
            definition: Tool.ToolDefinition.make({
              name: "browser_click",
              parametersJsonSchema: { type: "object" },
              kind: "external",
              metadata: { from: "frontend" }
            }),
            maxRetries: undefined,
            decodeArgs: Effect.succeed,
            call: () => Effect.die("an external tool was called")
          }
        ])
      )
      const model = scripted([FunctionModel.toolCalls([call("browser_click", "b1")])])
      const result = yield* Agent.make({ toolsets: [external], deferredToolRequests: true })
        .run("click")
        .pipe(Effect.provide(model.layer))
      const requests = result.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        requests.calls.map((p) => p.toolCallId),
        ["b1"]
      )
      assert.deepStrictEqual(requests.metadata, { b1: { from: "frontend" } })
    })
  )

  it.effect(
    "handlers defer themselves with ApprovalRequired / CallDeferred and their metadata",
    () =>
      Effect.gen(function* () {
        const c = counter()
        const deploy = Tool.make("deploy", {
          parameters: Schema.Struct({ env: Schema.String }),
          handler: ({ env }) =>
            Effect.flatMap(RunContext.RunContext, (ctx) =>
              env === "prod" && ctx.toolCallApproved !== true
                ? Effect.fail(new ApprovalRequired({ metadata: { reason: "production" } }))
                : Effect.sync(() => {
                    c.bump(`deploy ${env}`)
                    return `deployed to ${env} (metadata: ${JSON.stringify(ctx.toolCallMetadata)})`
                  })
            )
        })
        const render = Tool.make("render", {
          parameters: Schema.Struct({}),
          handler: () => Effect.fail(new CallDeferred({ metadata: { queue: "gpu" } }))
        })
        const agent = Agent.make({ tools: [deploy, render] })
        expectTypeOf(agent).toEqualTypeOf<
          Agent.Agent<string | DeferredTools.DeferredToolRequests, never, never>
        >()
        const model = scripted([
          FunctionModel.toolCalls([
            call("deploy", "d1", { env: "staging" }),
            call("deploy", "d2", { env: "prod" }),
            call("render", "x1")
          ]),
          FunctionModel.text("shipped")
        ])
        const first = yield* agent.run("ship").pipe(Effect.provide(model.layer))
        const requests = first.output as DeferredTools.DeferredToolRequests
        assert.deepStrictEqual(
          requests.approvals.map((p) => p.toolCallId),
          ["d2"]
        )
        assert.deepStrictEqual(
          requests.calls.map((p) => p.toolCallId),
          ["x1"]
        )
        assert.deepStrictEqual(requests.metadata, {
          d2: { reason: "production" },
          x1: { queue: "gpu" }
        })
        assert.deepStrictEqual(c.runs, { "deploy staging": 1 })
        const second = yield* resume(
          agent,
          model,
          first.allMessages(),
          DeferredToolResults.make({
            approvals: { d2: true },
            calls: { x1: "rendered" },
            metadata: { d2: { approver: "ada" } }
          })
        )
        assert.strictEqual(second.output, "shipped")
        assert.deepStrictEqual(c.runs, { "deploy staging": 1, "deploy prod": 1 })
        const ret = returnOf(requestParts(model.seen[1]![2]), "d2") as Messages.ToolReturnPart
        assert.strictEqual(ret.content, 'deployed to prod (metadata: {"approver":"ada"})')
      })
  )

  it.effect("an output found in the same response wins: deferred calls are not executed", () =>
    Effect.gen(function* () {
      const c = counter()
      const { refund, lookup } = makeTools(c)
      const agent = Agent.make({
        tools: [refund, lookup],
        output: finalResultOutput((part) => Effect.succeed(part.argsAsObject().answer as string))
      })
      const model = scripted([
        FunctionModel.toolCalls([
          call("refund", "r1", { order: "1", amount: 1 }),
          call("lookup", "l1", { order: "1" }),
          call("final_result", "f1", { answer: "done" })
        ])
      ])
      const result = yield* agent.run("go").pipe(Effect.provide(model.layer))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(c.runs, { lookup: 1 })
      const parts = requestParts(result.allMessages()[2]) as ReadonlyArray<Messages.ToolReturnPart>
      assert.deepStrictEqual(
        parts.map((p) => [p.toolCallId, p.content]),
        [
          ["r1", Agent.statusTexts.toolNotExecuted],
          ["l1", "order 1: 40 EUR"],
          ["f1", Agent.statusTexts.finalResult]
        ]
      )
    })
  )

  it.effect("Toolset.approvalRequired asks for approval where the predicate holds", () =>
    Effect.gen(function* () {
      const c = counter()
      const mk = (name: string) =>
        Tool.make(name, {
          parameters: Schema.Struct({ path: Schema.String }),
          handler: ({ path }) => Effect.sync(() => c.bump(`${name} ${path}`))
        })
      const files = Toolset.fromTools([mk("read"), mk("delete")]).pipe(
        Toolset.approvalRequired(
          (definition, args) =>
            definition.name === "delete" && (args as { path: string }).path !== "/tmp/x"
        ),
        Toolset.prefix("fs")
      )
      const agent = Agent.make({ toolsets: [files] })
      expectTypeOf(agent).toEqualTypeOf<
        Agent.Agent<string | DeferredTools.DeferredToolRequests, never, never>
      >()
      const model = scripted([
        FunctionModel.toolCalls([
          call("fs_read", "1", { path: "/etc" }),
          call("fs_delete", "2", { path: "/tmp/x" }),
          call("fs_delete", "3", { path: "/home" })
        ]),
        FunctionModel.text("ok")
      ])
      const first = yield* agent.run("clean").pipe(Effect.provide(model.layer))
      assert.deepStrictEqual(
        (first.output as DeferredTools.DeferredToolRequests).approvals.map((p) => p.toolCallId),
        ["3"]
      )
      assert.deepStrictEqual(c.runs, { "read /etc": 1, "delete /tmp/x": 1 })
      yield* resume(
        agent,
        model,
        first.allMessages(),
        DeferredToolResults.make({ approvals: { "3": true } })
      )
      assert.deepStrictEqual(c.runs, { "read /etc": 1, "delete /tmp/x": 1, "delete /home": 1 })
    })
  )

  it.effect(
    "runStream ends with the requests as its result; a resumed stream shows the approved call",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture(
          [call("lookup", "l1", { order: "9" }), call("refund", "r1", { order: "9", amount: 9 })],
          "Refunded."
        )
        const events = Chunk.toReadonlyArray(
          yield* Stream.runCollect(agent.runStream("go").pipe(Stream.provideLayer(model.layer)))
        )
        const last = events[events.length - 1]!
        assert.strictEqual(last._tag, "AgentRunResultEvent")
        const result = (last as Agent.AgentRunResultEvent<unknown>).result
        assert.deepStrictEqual(
          (result.output as DeferredTools.DeferredToolRequests).approvals.map((p) => p.toolCallId),
          ["r1"]
        )
        // both calls were announced, only the plain one has a result
        assert.deepStrictEqual(
          events.filter((e) => e._tag === "FunctionToolCallEvent").map((e) => e.part.toolCallId),
          ["l1", "r1"]
        )
        assert.deepStrictEqual(
          events
            .filter((e) => e._tag === "FunctionToolResultEvent")
            .map((e) => e.result.toolCallId),
          ["l1"]
        )

        const resumed = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            agent
              .runStream(undefined, {
                messageHistory: result.allMessages(),
                deferredToolResults: DeferredToolResults.make({ approvals: { r1: true } })
              })
              .pipe(Stream.provideLayer(model.layer))
          )
        )
        assert.deepStrictEqual(
          resumed
            .filter((e) => e._tag === "FunctionToolResultEvent")
            .map((e) => e.result.toolCallId),
          ["r1"]
        )
        const end = resumed[resumed.length - 1] as Agent.AgentRunResultEvent<unknown>
        assert.strictEqual(end.result.output, "Refunded.")
        assert.deepStrictEqual(c.runs, { lookup: 1, refund: 1 })
        assert.strictEqual(model.seen.length, 2)
      })
  )

  it.effect("streamOutput and an eventStreamHandler end with the requests too", () =>
    Effect.gen(function* () {
      const { c, agent, model } = fixture([
        call("lookup", "l1", { order: "1" }),
        call("refund", "r1", { order: "1", amount: 1 })
      ])
      const outputs = Chunk.toReadonlyArray(
        yield* Stream.runCollect(agent.streamOutput("go").pipe(Stream.provideLayer(model.layer)))
      )
      const last = outputs[outputs.length - 1] as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        last.approvals.map((p) => p.toolCallId),
        ["r1"]
      )
      const seen: Array<string> = []
      const result = yield* agent
        .run("go", {
          eventStreamHandler: (events) =>
            Stream.runForEach(events, (e) => Effect.sync(() => seen.push(e._tag))).pipe(
              Effect.orDie
            )
        })
        .pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, DeferredToolRequests)
      assert.deepStrictEqual(
        seen.filter((t) => t.startsWith("FunctionTool")),
        ["FunctionToolCallEvent", "FunctionToolCallEvent", "FunctionToolResultEvent"]
      )
      assert.deepStrictEqual(c.runs, { lookup: 2 })
    })
  )

  it.effect(
    "iter: the run ends at End with the requests; a resumed iteration starts at the calls",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture(
          [call("refund", "r1", { order: "1", amount: 1 })],
          "done"
        )
        const run = yield* agent.iter("go").pipe(Effect.provide(model.layer))
        const nodes = Chunk.toReadonlyArray(yield* Stream.runCollect(run.nodes))
        assert.deepStrictEqual(
          nodes.map((n) => n._tag),
          ["ModelRequestNode", "CallToolsNode", "End"]
        )
        const result = Option.getOrThrow(yield* run.result)
        assert.instanceOf(result.output, DeferredToolRequests)

        const resumed = yield* agent
          .iter(undefined, {
            messageHistory: result.allMessages(),
            deferredToolResults: DeferredToolResults.make({ approvals: { r1: true } })
          })
          .pipe(Effect.provide(model.layer))
        const more = Chunk.toReadonlyArray(yield* Stream.runCollect(resumed.nodes))
        assert.deepStrictEqual(
          more.map((n) => n._tag),
          ["CallToolsNode", "ModelRequestNode", "CallToolsNode", "End"]
        )
        assert.strictEqual(Option.getOrThrow(yield* resumed.result).output, "done")
        assert.strictEqual(c.runs.refund, 1)
      }).pipe(Effect.scoped)
  )

  it.effect("the history, the requests and the results survive a JSON round trip", () =>
    Effect.gen(function* () {
      const { c, agent, model } = fixture(
        [
          call("lookup", "l1", { order: "42" }),
          call("refund", "r1", { order: "42", amount: 40 }),
          call("geolocate", "g1", { precise: true })
        ],
        "All done."
      )
      const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
      const storedHistory = first.allMessagesJson()
      const storedRequests = yield* Schema.encode(Schema.parseJson(DeferredToolRequests))(
        first.output as DeferredTools.DeferredToolRequests
      )
      const requests = yield* Schema.decode(Schema.parseJson(DeferredToolRequests))(storedRequests)
      assert.deepStrictEqual(requests, first.output as DeferredTools.DeferredToolRequests)
      assert.instanceOf(requests.approvals[0], Messages.ToolCallPart)

      const results = DeferredToolResults.make({
        approvals: Object.fromEntries(
          requests.approvals.map((p) => [p.toolCallId, DeferredTools.ToolApproved.make({})])
        ),
        calls: { g1: new AgentError.ModelRetry({ reason: "be precise" }) }
      })
      const storedResults = yield* Schema.encode(Schema.parseJson(DeferredToolResults))(results)
      assert.include(storedResults, '"_tag":"ModelRetry"')
      const decodedResults = yield* Schema.decode(Schema.parseJson(DeferredToolResults))(
        storedResults
      )
      assert.instanceOf(decodedResults.calls.g1, AgentError.ModelRetry)
      assert.instanceOf(decodedResults.approvals.r1, DeferredTools.ToolApproved)

      const second = yield* resume(
        agent,
        model,
        yield* Messages.decodeJson(storedHistory),
        decodedResults
      )
      assert.strictEqual(second.output, "All done.")
      assert.deepStrictEqual(c.runs, { lookup: 1, refund: 1 })
      const parts = requestParts(model.seen[1]![2])
      assert.deepStrictEqual(
        parts.map((p) => [p._tag, (p as Messages.ToolReturnPart).toolCallId]),
        [
          ["ToolReturnPart", "l1"],
          ["ToolReturnPart", "r1"],
          ["RetryPromptPart", "g1"]
        ]
      )
    })
  )

  it.effect("an approved call may defer again; the next resume finishes the run", () =>
    Effect.gen(function* () {
      const c = counter()
      const transfer = Tool.make("transfer", {
        parameters: Schema.Struct({ amount: Schema.Number }),
        requiresApproval: true,
        handler: ({ amount }) =>
          Effect.flatMap(RunContext.RunContext, (ctx) =>
            ctx.toolCallMetadata === undefined
              ? Effect.fail(new CallDeferred({ metadata: { bank: "needs a signature" } }))
              : Effect.sync(() => {
                  c.bump("transfer")
                  return `sent ${amount}`
                })
          )
      })
      const agent = Agent.make({ tools: [transfer] })
      const model = scripted([
        FunctionModel.toolCalls([call("transfer", "t1", { amount: 5 })]),
        FunctionModel.text("sent")
      ])
      const first = yield* agent.run("pay").pipe(Effect.provide(model.layer))
      const approved = yield* resume(
        agent,
        model,
        first.allMessages(),
        DeferredToolResults.make({ approvals: { t1: true } })
      )
      const again = approved.output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        again.calls.map((p) => p.toolCallId),
        ["t1"]
      )
      assert.deepStrictEqual(again.metadata, { t1: { bank: "needs a signature" } })
      assert.strictEqual(model.seen.length, 1)
      const done = yield* resume(
        agent,
        model,
        approved.allMessages(),
        DeferredToolResults.make({ calls: { t1: "signed and sent" } })
      )
      assert.strictEqual(done.output, "sent")
      assert.strictEqual(c.runs.transfer, undefined)
      assert.strictEqual(
        (returnOf(requestParts(model.seen[1]![2]), "t1") as Messages.ToolReturnPart).content,
        "signed and sent"
      )
    })
  )

  it.effect("a tool-call limit counts only the calls that run", () =>
    Effect.gen(function* () {
      const c = counter()
      const { lookup, geolocate } = makeTools(c)
      const model = scripted([
        FunctionModel.toolCalls([
          call("lookup", "l1", { order: "1" }),
          call("geolocate", "g1", { precise: true })
        ])
      ])
      const result = yield* Agent.make({
        tools: [lookup, geolocate],
        usageLimits: new Usage.UsageLimits({ toolCallsLimit: 1 })
      })
        .run("go")
        .pipe(Effect.provide(model.layer))
      assert.instanceOf(result.output, DeferredToolRequests)
      assert.deepStrictEqual(c.runs, { lookup: 1 })
      assert.strictEqual(result.usage.toolCalls, 1)
    })
  )

  it.effect(
    "continuing a stopped run with a prompt and no results answers the waiting calls as interrupted",
    () =>
      Effect.gen(function* () {
        const { c, agent, model } = fixture(
          [call("lookup", "l1", { order: "1" }), call("refund", "r1", { order: "1", amount: 1 })],
          "ok"
        )
        const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
        const second = yield* agent
          .run("Never mind.", { messageHistory: first.allMessages() })
          .pipe(Effect.provide(model.layer))
        assert.strictEqual(second.output, "ok")
        const parts = requestParts(model.seen[1]![2])
        assert.deepStrictEqual(
          parts.map((p) => [p._tag, p._tag === "ToolReturnPart" ? p.outcome : undefined]),
          [
            ["ToolReturnPart", "success"],
            ["ToolReturnPart", "interrupted"],
            ["UserPromptPart", undefined]
          ]
        )
        assert.deepStrictEqual(c.runs, { lookup: 1 })
      })
  )

  it.effect("a prompt given with the results follows them in the next request", () =>
    Effect.gen(function* () {
      const { refund } = makeTools(counter())
      const agent = Agent.make({ tools: [refund] })
      const model = scripted([
        FunctionModel.toolCalls([call("refund", "r1", { order: "1", amount: 1 })]),
        FunctionModel.text("done")
      ])
      const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
      yield* agent
        .run("And say thanks.", {
          messageHistory: first.allMessages(),
          deferredToolResults: DeferredToolResults.make({ approvals: { r1: false } })
        })
        .pipe(Effect.provide(model.layer))
      assert.deepStrictEqual(
        requestParts(model.seen[1]![2]).map((p) => p._tag),
        ["ToolReturnPart", "UserPromptPart"]
      )
    })
  )

  it.effect("bad results are UserErrors naming the calls", () =>
    Effect.gen(function* () {
      const c = counter()
      const { refund, lookup, geolocate } = makeTools(c)
      const agent = Agent.make({ tools: [refund, lookup, geolocate] })
      const model = scripted([
        FunctionModel.toolCalls([
          call("lookup", "l1", { order: "42" }),
          call("refund", "r1", { order: "42", amount: 40 }),
          call("geolocate", "g1", { precise: true })
        ])
      ])
      const first = yield* agent.run("go").pipe(Effect.provide(model.layer))
      const resume = (results: DeferredTools.DeferredToolResults, history = first.allMessages()) =>
        agent
          .run(undefined, { messageHistory: history, deferredToolResults: results })
          .pipe(
            Effect.provide(model.layer),
            Effect.as("the run unexpectedly succeeded"),
            Effect.flip
          )
      const errors = [
        yield* resume(
          DeferredToolResults.make({ approvals: { r1: true, zz: true }, calls: { g1: 1 } })
        ),
        yield* resume(DeferredToolResults.make({ approvals: { r1: true } })),
        yield* resume(
          DeferredToolResults.make({ approvals: { r1: true, l1: true }, calls: { g1: 1 } })
        ),
        yield* resume(DeferredToolResults.make({ approvals: { r1: true, g1: true } })),
        yield* resume(
          DeferredToolResults.make({ approvals: { r1: true }, calls: { r1: 1, g1: 1 } })
        ),
        yield* resume(DeferredToolResults.make({ approvals: { r1: true } }), [
          first.allMessages()[0]!
        ])
      ]
      for (const e of errors) assert.strictEqual(e._tag, "UserError")
      assert.deepStrictEqual(
        errors.map((e) => e.message),
        [
          "deferredToolResults has an approval for tool call id 'zz', which is not a call of the last model response. Calls waiting for a result: 'r1' ('refund'), 'g1' ('geolocate').",
          "deferredToolResults has no result for the deferred tool call 'g1' ('geolocate'): give an approval or a result for every call listed in DeferredToolRequests.",
          "Tool call 'l1' ('lookup') was not deferred: its result is already in the message history, so it cannot be given an approval. Calls waiting for a result: 'r1' ('refund'), 'g1' ('geolocate').",
          "Tool call 'g1' ('geolocate') calls an external tool: give its result in deferredToolResults.calls, not an approval.",
          "Tool call 'r1' ('refund') has both a result and an approval in deferredToolResults: give one of them.",
          "deferredToolResults were given, but the message history does not end with a model response with tool calls (optionally followed by the results of its other calls): there is nothing to resume. Pass the messages of the run that returned DeferredToolRequests."
        ]
      )
      // nothing ran again, no request was sent
      assert.deepStrictEqual(c.runs, { lookup: 1 })
      assert.strictEqual(model.seen.length, 1)
    })
  )

  it("buildResults approves every waiting call unless decided otherwise", () => {
    const requests = DeferredToolRequests.make({
      approvals: [
        Messages.ToolCallPart.make({ toolName: "refund", toolCallId: "a" }),
        Messages.ToolCallPart.make({ toolName: "refund", toolCallId: "b" })
      ],
      calls: [Messages.ToolCallPart.make({ toolName: "geolocate", toolCallId: "g" })]
    })
    const denied = DeferredTools.ToolDenied.make({ message: "no" })
    assert.deepStrictEqual(
      requests.buildResults({
        approveAll: true,
        approvals: { b: denied },
        calls: { g: "Paris" },
        metadata: { a: 1 }
      }),
      DeferredToolResults.make({
        approvals: { a: true, b: denied },
        calls: { g: "Paris" },
        metadata: { a: 1 }
      })
    )
    assert.deepStrictEqual(requests.buildResults(), DeferredToolResults.make({}))
  })

  it("the output type has DeferredToolRequests only when a tool may defer or the agent opts in", () => {
    const plain = Tool.make("plain", {
      parameters: Schema.Struct({}),
      handler: () => Effect.succeed(1)
    })
    const ext = Tool.external("ext", { parameters: Schema.Struct({}) })
    expectTypeOf(Agent.make({ tools: [plain] })).toEqualTypeOf<Agent.Agent<string, never, never>>()
    expectTypeOf(Agent.make({ tools: [plain, ext] })).toEqualTypeOf<
      Agent.Agent<string | DeferredTools.DeferredToolRequests, never, never>
    >()
    expectTypeOf(Agent.make({ tools: [plain], deferredToolRequests: true })).toEqualTypeOf<
      Agent.Agent<string | DeferredTools.DeferredToolRequests, never, never>
    >()
    assert.strictEqual(ext.definition.kind, "external")
  })
})
