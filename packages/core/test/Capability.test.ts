/**
 * Capabilities: bundles of tools, built-in tools, instructions, settings, history processors
 * and hooks, on an agent or one run — what they add reaches the model request, settings layer
 * model < agent < capability < run, hooks nest like middleware (first outermost) on every
 * entry point, substitutes replace a response or a tool result, `ModelRetry` from a hook spends
 * the right budget, a hook's typed error fails the run with the history kept.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  BuiltinTool,
  Capability,
  CaptureRunMessages,
  FunctionModel,
  Messages,
  Model,
  RunContext,
  Tool
} from "@agentfx/core"

/** Every model request the function model received: its messages and what it was told. */
interface Seen {
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly info: FunctionModel.AgentInfo
}

/** A model calling `lookup` once, then answering with the tool's return; records its requests. */
const scripted = (seen: Array<Seen> = []) => {
  const script = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    info: FunctionModel.AgentInfo
  ): Messages.ModelResponse => {
    seen.push({ messages, info })
    const last = messages[messages.length - 1]
    const returned =
      last?._tag === "ModelRequest"
        ? last.parts.find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
        : undefined
    if (returned !== undefined) return FunctionModel.text(`looked up: ${String(returned.content)}`)
    if (info.functionTools.some((t) => t.name === "lookup")) {
      return FunctionModel.toolCall("lookup", { q: "x" }, "c1")
    }
    return FunctionModel.text("plain")
  }
  return {
    seen,
    layer: FunctionModel.layer(script, {
      stream: FunctionModel.streamOf(script),
      settings: { temperature: 0, seed: 1, maxTokens: 5 }
    })
  }
}

const lookup = (log?: Array<string>) =>
  Tool.make("lookup", {
    description: "Looks a word up.",
    parameters: Schema.Struct({ q: Schema.String }),
    handler: ({ q }) =>
      Effect.sync(() => {
        log?.push(`tool(${q})`)
        return `entry for ${q}`
      })
  })

/** A capability logging every hook it has, passing everything through. */
const logging = (name: string, log: Array<string>) => {
  const note = <X>(entry: string, value: X) =>
    Effect.sync(() => {
      log.push(`${name}.${entry}`)
      return value
    })
  return Capability.make({
    name,
    hooks: {
      beforeRun: () => Effect.sync(() => void log.push(`${name}.beforeRun`)),
      afterRun: (_ctx, result) => note("afterRun", result),
      beforeModelRequest: (ctx, request) => note(`beforeModelRequest(${ctx.runStep})`, request),
      wrapModelRequest: (_ctx, request, next) =>
        Effect.sync(() => log.push(`${name}.wrapModelRequest:in`)).pipe(
          Effect.zipRight(next(request)),
          Effect.tap(() => Effect.sync(() => log.push(`${name}.wrapModelRequest:out`)))
        ),
      afterModelRequest: (_ctx, _request, response) => note("afterModelRequest", response),
      beforeToolExecute: (ctx, execution) => note(`beforeToolExecute(${ctx.toolName})`, execution),
      wrapToolExecute: (_ctx, execution, next) =>
        Effect.sync(() => log.push(`${name}.wrapToolExecute:in`)).pipe(
          Effect.zipRight(next(execution)),
          Effect.tap(() => Effect.sync(() => log.push(`${name}.wrapToolExecute:out`)))
        ),
      afterToolExecute: (_ctx, _execution, result) => note("afterToolExecute", result)
    }
  })
}

type Driven = { readonly output: string; readonly messages: ReadonlyArray<Messages.ModelMessage> }

/** Every entry point, driving a run to its output. */
const entries: ReadonlyArray<{
  readonly name: string
  readonly drive: (
    agent: Agent.Agent<string, never, Model.Model>,
    options: Agent.RunOptions<never, never, [], ReadonlyArray<Capability.Any>>
  ) => Effect.Effect<Driven, unknown, Model.Model>
}> = [
  {
    name: "run",
    drive: (agent, options) =>
      Effect.map(agent.run("go", options), (r) => ({
        output: r.output as string,
        messages: r.allMessages()
      }))
  },
  {
    name: "run with onEvent",
    drive: (agent, options) =>
      Effect.map(agent.run("go", { ...options, onEvent: () => {} }), (r) => ({
        output: r.output as string,
        messages: r.allMessages()
      }))
  },
  {
    name: "run with eventStreamHandler",
    drive: (agent, options) =>
      Effect.map(
        agent.run("go", {
          ...options,
          eventStreamHandler: (events) => Effect.ignore(Stream.runDrain(events))
        }),
        (r) => ({ output: r.output as string, messages: r.allMessages() })
      )
  },
  {
    name: "runStream",
    drive: (agent, options) =>
      Effect.map(Agent.finalResult(agent.runStream("go", options)), (r) => ({
        output: r.output as string,
        messages: r.allMessages()
      }))
  },
  {
    name: "iter (next)",
    drive: (agent, options) =>
      Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter("go", options)
          let node = yield* run.nextNode
          while (node._tag !== "End") node = yield* run.next(node)
          return { output: node.result.output as string, messages: yield* run.messages }
        })
      )
  },
  {
    name: "iter (stream)",
    drive: (agent, options) =>
      Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter("go", options)
          let node = yield* run.nextNode
          while (node._tag !== "End") {
            yield* Stream.runDrain(run.stream(node))
            node = yield* run.nextNode
          }
          return { output: node.result.output as string, messages: yield* run.messages }
        })
      )
  },
  {
    name: "streamOutput",
    drive: (agent, options) =>
      Effect.map(Stream.runLast(agent.streamOutput("go", options)), (o) => ({
        output: Option.getOrThrow(o) as string,
        messages: []
      }))
  }
]

describe("Capability contributions", () => {
  it.effect(
    "a capability's tools, instructions, settings and built-in tools reach the model request",
    () =>
      Effect.gen(function* () {
        const { seen, layer } = scripted()
        const cap = Capability.make({
          name: "dictionary",
          tools: [lookup()],
          instructions: "Use the dictionary.",
          modelSettings: { temperature: 0.5, topP: 0.9 },
          builtinTools: [new BuiltinTool.WebSearch({})]
        })
        const agent = Agent.make({
          instructions: "Be brief.",
          modelSettings: { temperature: 0.1, maxTokens: 100 },
          capabilities: [cap]
        })
        const result = yield* agent.run("define x").pipe(Effect.provide(layer))
        assert.strictEqual(result.output, "looked up: entry for x")
        assert.strictEqual(seen.length, 2)
        const info = seen[0]!.info
        assert.deepStrictEqual(
          info.functionTools.map((t) => [t.name, t.description]),
          [["lookup", "Looks a word up."]]
        )
        assert.strictEqual(info.instructions, "Be brief.\n\nUse the dictionary.")
        // model < agent < capability: seed from the model, maxTokens from the agent, the rest ours.
        assert.deepStrictEqual(info.modelSettings, {
          temperature: 0.5,
          seed: 1,
          maxTokens: 100,
          topP: 0.9
        })
        assert.deepStrictEqual(
          info.parameters.builtinTools.map((t) => t._tag),
          ["WebSearch"]
        )
        assert.strictEqual(result.usage.toolCalls, 1)
      })
  )

  it.effect("settings layer model < agent < agent capability < run capability < run", () =>
    Effect.gen(function* () {
      const { seen, layer } = scripted()
      const agent = Agent.make({
        modelSettings: { temperature: 0.1, maxTokens: 100, topK: 3 },
        capabilities: [Capability.make({ modelSettings: { temperature: 0.2, topP: 0.2 } })]
      })
      const perRun = Capability.make({ modelSettings: { topP: 0.3, presencePenalty: 1 } })
      yield* agent
        .run("a", { capabilities: [perRun], modelSettings: { presencePenalty: 2 } })
        .pipe(Effect.provide(layer))
      assert.deepStrictEqual(seen[0]!.info.modelSettings, {
        temperature: 0.2,
        seed: 1,
        maxTokens: 100,
        topK: 3,
        topP: 0.3,
        presencePenalty: 2
      })
      // Without the run's capability, its settings are gone again.
      yield* agent.run("b").pipe(Effect.provide(layer))
      assert.deepStrictEqual(seen[1]!.info.modelSettings, {
        temperature: 0.2,
        seed: 1,
        maxTokens: 100,
        topK: 3,
        topP: 0.2
      })
    })
  )

  it.effect("per-run capabilities add tools and instructions to that run only", () =>
    Effect.gen(function* () {
      const { seen, layer } = scripted()
      const agent = Agent.make({ instructions: "Agent." })
      const cap = Capability.make({ tools: [lookup()], instructions: "Run capability." })
      const withCap = yield* agent
        .run("x", { capabilities: [cap], instructions: "Run." })
        .pipe(Effect.provide(layer))
      assert.strictEqual(withCap.output, "looked up: entry for x")
      assert.strictEqual(seen[0]!.info.instructions, "Agent.\n\nRun capability.\n\nRun.")
      const without = yield* agent.run("x").pipe(Effect.provide(layer))
      assert.strictEqual(without.output, "plain")
      assert.deepStrictEqual(seen[seen.length - 1]!.info.functionTools, [])
      assert.strictEqual(seen[seen.length - 1]!.info.instructions, "Agent.")
    })
  )

  it.effect("a capability's tool named like an agent tool fails the run with a UserError", () =>
    Effect.gen(function* () {
      const { layer } = scripted()
      const agent = Agent.make({
        tools: [lookup()],
        capabilities: [Capability.make({ tools: [lookup()] })]
      })
      const error = yield* Effect.flip(agent.run("x").pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "UserError")
      assert.include((error as AgentError.UserError).reason, "lookup")
    })
  )

  it.effect("a capability's history processor runs after the agent's", () =>
    Effect.gen(function* () {
      const { seen, layer } = scripted()
      const tag =
        (label: string) =>
        (messages: ReadonlyArray<Messages.ModelMessage>): ReadonlyArray<Messages.ModelMessage> => {
          const last = messages[messages.length - 1] as Messages.ModelRequest
          return [
            ...messages.slice(0, -1),
            new Messages.ModelRequest({
              ...last,
              parts: [...last.parts, new Messages.UserPromptPart({ content: label })]
            })
          ]
        }
      const agent = Agent.make({
        historyProcessors: [tag("agent")],
        capabilities: [Capability.make({ historyProcessors: [tag("capability")] })]
      })
      const result = yield* agent.run("x").pipe(Effect.provide(layer))
      const sent = seen[0]!.messages[0] as Messages.ModelRequest
      assert.deepStrictEqual(
        sent.parts.map((p) => (p._tag === "UserPromptPart" ? p.content : p._tag)),
        ["x", "agent", "capability"]
      )
      // The stored history is not rewritten.
      assert.strictEqual((result.allMessages()[0] as Messages.ModelRequest).parts.length, 1)
    })
  )
})

describe("Capability hooks: order", () => {
  const caps = ["a", "b", "run"]
  const each = (hook: string) => caps.map((c) => `${c}.${hook}`)
  const reversed = (hook: string) => each(hook).reverse()
  // One model request: before in order, wraps nested (first outermost), after reversed.
  const modelRequest = (step: number) => [
    ...each(`beforeModelRequest(${step})`),
    ...each("wrapModelRequest:in"),
    ...reversed("wrapModelRequest:out"),
    ...reversed("afterModelRequest")
  ]
  const expected = [
    ...each("beforeRun"),
    ...modelRequest(1),
    // the tool call: the wraps enclose before / tool / after
    ...each("wrapToolExecute:in"),
    ...each("beforeToolExecute(lookup)"),
    "tool(x)",
    ...reversed("afterToolExecute"),
    ...reversed("wrapToolExecute:out"),
    ...modelRequest(2),
    ...reversed("afterRun")
  ]
  // Spelled out once, so the helpers above cannot hide a wrong order.
  assert.deepStrictEqual(modelRequest(1).slice(0, 9), [
    "a.beforeModelRequest(1)",
    "b.beforeModelRequest(1)",
    "run.beforeModelRequest(1)",
    "a.wrapModelRequest:in",
    "b.wrapModelRequest:in",
    "run.wrapModelRequest:in",
    "run.wrapModelRequest:out",
    "b.wrapModelRequest:out",
    "a.wrapModelRequest:out"
  ])
  for (const entry of entries) {
    it.effect(
      `${entry.name}: agent capabilities outside the run's, each hook point in middleware order`,
      () =>
        Effect.gen(function* () {
          const log: Array<string> = []
          const { layer } = scripted()
          const agent = Agent.make({
            tools: [lookup(log)],
            capabilities: [logging("a", log), logging("b", log)]
          })
          const driven = yield* entry
            .drive(agent, { capabilities: [logging("run", log)] })
            .pipe(Effect.provide(layer))
          assert.strictEqual(driven.output, "looked up: entry for x")
          assert.deepStrictEqual(log, expected)
        })
    )
  }

  it.effect("runStream: passthrough hooks leave every event and the messages unchanged", () =>
    Effect.gen(function* () {
      const { layer } = scripted()
      const plain = Agent.make({ tools: [lookup()] })
      const hooked = Agent.make({
        tools: [lookup()],
        capabilities: [logging("a", []), logging("b", [])]
      })
      // Events as data, without the response timestamps (the clock moves between runs).
      const shape = (events: Chunk.Chunk<Agent.AgentStreamEvent<string>>) =>
        Chunk.toReadonlyArray(events).map((e) =>
          e._tag === "AgentRunResultEvent"
            ? { _tag: e._tag, output: e.result.output, messages: e.result.allMessages().length }
            : JSON.parse(JSON.stringify(e))
        )
      const a = yield* Stream.runCollect(plain.runStream("go")).pipe(Effect.provide(layer))
      const b = yield* Stream.runCollect(hooked.runStream("go")).pipe(Effect.provide(layer))
      assert.isAbove(Chunk.size(a), 5)
      assert.deepStrictEqual(shape(b), shape(a))
      const tags = Chunk.toReadonlyArray(b).map((e) => e._tag)
      assert.deepStrictEqual(tags, [
        "PartStartEvent",
        "PartEndEvent",
        "FunctionToolCallEvent",
        "FunctionToolResultEvent",
        "PartStartEvent",
        "FinalResultEvent",
        "PartEndEvent",
        "AgentRunResultEvent"
      ])
    })
  )
})

/** The event tags of a streamed run. */
const streamedTags = (
  agent: Agent.Agent<string, never, Model.Model>,
  layer: Layer.Layer<Model.Model>
) =>
  Effect.map(Stream.runCollect(agent.runStream("x")).pipe(Effect.provide(layer)), (events) =>
    Chunk.toReadonlyArray(events).map((e) => e._tag)
  )

/** The events of a response substituted for a request: its part announced, then the result. */
const substituteTags = ["PartStartEvent", "FinalResultEvent", "PartEndEvent", "AgentRunResultEvent"]

describe("Capability hooks: substitutes and rewrites", () => {
  it.effect(
    "beforeModelRequest replaces the messages, settings and parameters sent (not the history)",
    () =>
      Effect.gen(function* () {
        const { seen, layer } = scripted()
        const cap = Capability.hooks({
          beforeModelRequest: (_ctx, request) =>
            Effect.succeed({
              messages: [
                ...request.messages,
                new Messages.ModelRequest({
                  parts: [new Messages.UserPromptPart({ content: "(be kind)" })]
                })
              ],
              modelSettings: { ...request.modelSettings, temperature: 0.9 },
              // Hide the tools from the model for this request.
              parameters: new Model.ModelRequestParameters({
                ...request.parameters,
                functionTools: []
              })
            })
        })
        const agent = Agent.make({ tools: [lookup()], capabilities: [cap] })
        const result = yield* agent.run("x").pipe(Effect.provide(layer))
        assert.strictEqual(result.output, "plain")
        const sent = seen[0]!
        assert.strictEqual(sent.messages.length, 2)
        assert.deepStrictEqual(
          (sent.messages[1] as Messages.ModelRequest).parts.map(
            (p) => (p as Messages.UserPromptPart).content
          ),
          ["(be kind)"]
        )
        assert.strictEqual(sent.info.modelSettings.temperature, 0.9)
        assert.deepStrictEqual(sent.info.functionTools, [])
        // The history keeps what the run recorded.
        assert.deepStrictEqual(
          result.allMessages().map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        assert.strictEqual(result.usage.requests, 1)
      })
  )

  // A substitute for the request, from `beforeModelRequest` or from a wrapper not calling next.
  const substitutes: ReadonlyArray<readonly [string, Capability.Capability]> = [
    [
      "skipModelRequest",
      Capability.hooks({
        beforeModelRequest: () => Effect.succeed(Capability.skipModelRequest("substitute"))
      })
    ],
    [
      "wrapModelRequest without next",
      Capability.hooks({
        wrapModelRequest: () => Effect.succeed(FunctionModel.text("substitute"))
      })
    ]
  ]
  for (const [name, cap] of substitutes) {
    it.effect(
      `${name}: no request is sent, the substitute is the response (run and runStream)`,
      () =>
        Effect.gen(function* () {
          const { seen, layer } = scripted()
          const agent = Agent.make({ capabilities: [cap] })
          const result = yield* agent.run("x").pipe(Effect.provide(layer))
          assert.strictEqual(result.output, "substitute")
          assert.strictEqual(seen.length, 0)
          assert.strictEqual(result.usage.requests, 0)
          const response = result.allMessages()[1] as Messages.ModelResponse
          assert.strictEqual(response._tag, "ModelResponse")
          assert.strictEqual(response.text, "substitute")
          // Streamed, the substitute's parts are announced like a response's.
          assert.deepStrictEqual(yield* streamedTags(agent, layer), substituteTags)
          assert.strictEqual(seen.length, 0)
        })
    )
  }

  it.effect("afterModelRequest replaces the response the run handles and keeps", () =>
    Effect.gen(function* () {
      const { layer } = scripted()
      const cap = Capability.hooks({
        afterModelRequest: (_ctx, _request, response) =>
          Effect.succeed(
            response.text === "plain"
              ? new Messages.ModelResponse({
                  ...response,
                  parts: [new Messages.TextPart({ content: "edited" })]
                })
              : response
          )
      })
      const agent = Agent.make({ capabilities: [cap] })
      const result = yield* agent.run("x").pipe(Effect.provide(layer))
      assert.strictEqual(result.output, "edited")
      assert.strictEqual((result.allMessages()[1] as Messages.ModelResponse).text, "edited")
      assert.strictEqual(result.usage.requests, 1)
      // Streamed: the events are the model's, the history and output the hook's.
      const events = yield* Stream.runCollect(agent.runStream("x")).pipe(Effect.provide(layer))
      const last = Chunk.unsafeLast(events)
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      if (last._tag === "AgentRunResultEvent") assert.strictEqual(last.result.output, "edited")
    })
  )

  it.effect("beforeToolExecute replaces the arguments, afterToolExecute the result", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { layer } = scripted()
      const cap = Capability.hooks({
        beforeToolExecute: (_ctx, execution) =>
          Effect.succeed({ ...execution, args: { q: `${(execution.args as { q: string }).q}!` } }),
        afterToolExecute: (_ctx, _execution, result) =>
          Effect.succeed(`${String(result)} (checked)`)
      })
      const result = yield* Agent.make({ tools: [lookup(log)], capabilities: [cap] })
        .run("x")
        .pipe(Effect.provide(layer))
      assert.deepStrictEqual(log, ["tool(x!)"])
      assert.strictEqual(result.output, "looked up: entry for x! (checked)")
      assert.strictEqual(result.usage.toolCalls, 1)
    })
  )

  it.effect("skipToolExecution: the tool does not run, the substitute is its return", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { layer } = scripted()
      const cap = Capability.hooks({
        beforeToolExecute: (ctx, execution) =>
          Effect.succeed(
            Capability.skipToolExecution(`cached ${execution.call.toolCallId} ${ctx.toolName}`)
          )
      })
      const result = yield* Agent.make({ tools: [lookup(log)], capabilities: [cap] })
        .run("x")
        .pipe(Effect.provide(layer))
      assert.deepStrictEqual(log, [])
      assert.strictEqual(result.output, "looked up: cached c1 lookup")
      const request = result.allMessages()[2] as Messages.ModelRequest
      const part = request.parts[0] as Messages.ToolReturnPart
      assert.strictEqual(part._tag, "ToolReturnPart")
      assert.strictEqual(part.toolCallId, "c1")
      assert.strictEqual(part.content, "cached c1 lookup")
      assert.strictEqual(result.usage.toolCalls, 0)
    })
  )
})

describe("Capability hooks: retries and failures", () => {
  it.effect(
    "afterModelRequest ModelRetry: the response stays, a retry prompt goes back (output budget)",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const layer = FunctionModel.layer(() => (++calls === 1 ? "draft" : "final"))
        const cap = Capability.hooks({
          afterModelRequest: (_ctx, _request, response) =>
            response.text === "draft"
              ? Effect.fail(new AgentError.ModelRetry({ reason: "Not a draft, please." }))
              : Effect.succeed(response)
        })
        const result = yield* Agent.make({ capabilities: [cap] })
          .run("x")
          .pipe(Effect.provide(layer))
        assert.strictEqual(result.output, "final")
        assert.strictEqual(calls, 2)
        const messages = result.allMessages()
        assert.deepStrictEqual(
          messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
        )
        assert.strictEqual((messages[1] as Messages.ModelResponse).text, "draft")
        const retry = (messages[2] as Messages.ModelRequest).parts[0] as Messages.RetryPromptPart
        assert.strictEqual(retry._tag, "RetryPromptPart")
        assert.strictEqual(retry.content, "Not a draft, please.")
        assert.strictEqual(retry.toolName, undefined)
        assert.strictEqual(result.usage.requests, 2)
      })
  )

  it.effect("a model-request hook retrying past the output budget fails with the messages", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(() => "always")
      const cap = Capability.hooks({
        afterModelRequest: () => Effect.fail(new AgentError.ModelRetry({ reason: "No." }))
      })
      const error = yield* Effect.flip(
        Agent.make({ capabilities: [cap], outputRetries: 1 })
          .run("x")
          .pipe(Effect.provide(layer))
      )
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      const e = error as AgentError.UnexpectedModelBehavior
      assert.include(e.reason, "Exceeded maximum output retries (1)")
      // Two responses, each with its retry prompt after it... the second prompt ends the run.
      assert.deepStrictEqual(
        (e.messages ?? []).map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
      )
    })
  )

  it.effect("beforeModelRequest ModelRetry: the request is sent again with the retry prompt", () =>
    Effect.gen(function* () {
      const { seen, layer } = scripted()
      let first = true
      const cap = Capability.hooks({
        beforeModelRequest: (_ctx, request) =>
          first
            ? Effect.fail(new AgentError.ModelRetry({ reason: "Say it in French." })).pipe(
                Effect.ensuring(Effect.sync(() => (first = false)))
              )
            : Effect.succeed(request)
      })
      const result = yield* Agent.make({ capabilities: [cap] })
        .run("x")
        .pipe(Effect.provide(layer))
      assert.strictEqual(result.output, "plain")
      assert.strictEqual(seen.length, 1)
      const sent = seen[0]!.messages
      assert.strictEqual(sent.length, 1)
      const parts = (sent[0] as Messages.ModelRequest).parts
      assert.deepStrictEqual(
        parts.map((p) => p._tag),
        ["UserPromptPart", "RetryPromptPart"]
      )
      assert.strictEqual((parts[1] as Messages.RetryPromptPart).content, "Say it in French.")
    })
  )

  it.effect("a tool hook's ModelRetry is a retry prompt for the call, on the tool's budget", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      let calls = 0
      const layer = FunctionModel.layer((messages) => {
        calls += 1
        const last = messages[messages.length - 1] as Messages.ModelRequest
        return last.parts.some((p) => p._tag === "RetryPromptPart")
          ? FunctionModel.toolCall("lookup", { q: "ok" }, "c2")
          : last.parts.some((p) => p._tag === "ToolReturnPart")
            ? "done"
            : FunctionModel.toolCall("lookup", { q: "bad" }, "c1")
      })
      const cap = Capability.hooks({
        beforeToolExecute: (_ctx, execution) =>
          (execution.args as { q: string }).q === "bad"
            ? Effect.fail(new AgentError.ModelRetry({ reason: "Not that word." }))
            : Effect.succeed(execution)
      })
      const result = yield* Agent.make({ tools: [lookup(log)], capabilities: [cap] })
        .run("x")
        .pipe(Effect.provide(layer))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(log, ["tool(ok)"])
      const retry = (result.allMessages()[2] as Messages.ModelRequest)
        .parts[0] as Messages.RetryPromptPart
      assert.strictEqual(retry._tag, "RetryPromptPart")
      assert.strictEqual(retry.toolName, "lookup")
      assert.strictEqual(retry.toolCallId, "c1")
      assert.strictEqual(retry.content, "Not that word.")
      assert.strictEqual(calls, 3)
      // With no retries left for the tool, the run fails as for the tool's own ModelRetry.
      const error = yield* Effect.flip(
        Agent.make({ tools: [lookup(log)], capabilities: [cap], retries: 0 })
          .run("x")
          .pipe(Effect.provide(layer))
      )
      assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      assert.include(
        (error as AgentError.UnexpectedModelBehavior).reason,
        "Tool 'lookup' exceeded max retries count of 0: Not that word."
      )
    })
  )

  class Blocked extends Schema.TaggedError<Blocked>()("Blocked", { reason: Schema.String }) {}

  it.effect("a hook's typed error fails the run with it; the history stays retrievable", () =>
    Effect.gen(function* () {
      const { layer } = scripted()
      const cap = Capability.hooks({
        afterModelRequest: (_ctx, _request, response) =>
          response.toolCalls.length > 0
            ? Effect.fail(new Blocked({ reason: "no tools today" }))
            : Effect.succeed(response)
      })
      const agent = Agent.make({ tools: [lookup()], capabilities: [cap] })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        agent.run("x").pipe(Effect.provide(layer))
      )
      assert.isTrue(exit._tag === "Failure")
      const error = yield* Effect.flip(exit)
      // The error type of the run names the hook's error.
      const tag: "Blocked" | AgentError.AgentError["_tag"] = error._tag
      assert.strictEqual(tag, "Blocked")
      assert.strictEqual((error as Blocked).reason, "no tools today")
      // The response the hook refused is kept after the request.
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
      assert.strictEqual((messages[1] as Messages.ModelResponse).toolCalls[0]?.toolName, "lookup")
      // Streamed, the same error ends the stream.
      const streamed = yield* Effect.flip(
        Stream.runDrain(agent.runStream("x")).pipe(Effect.provide(layer))
      )
      assert.strictEqual(streamed._tag, "Blocked")
    })
  )

  class Audit extends Context.Tag("test/Audit")<
    Audit,
    { readonly record: (s: string) => void }
  >() {}

  it.effect("a hook's requirements join the agent's; RunContext is provided to it", () =>
    Effect.gen(function* () {
      const { layer } = scripted()
      const records: Array<string> = []
      const cap = Capability.hooks({
        beforeModelRequest: (_ctx, request) =>
          Effect.gen(function* () {
            const audit = yield* Audit
            const ctx = yield* RunContext.RunContext
            audit.record(`step ${ctx.runStep}`)
            return request
          })
      })
      const agent = Agent.make({ capabilities: [cap] })
      const run = agent.run("x").pipe(Effect.provide(layer))
      // @ts-expect-error Audit is required by the capability's hook
      const _unprovided: Effect.Effect<unknown, unknown, never> = run
      const result = yield* run.pipe(
        Effect.provide(Layer.succeed(Audit, { record: (s) => void records.push(s) }))
      )
      assert.strictEqual(result.output, "plain")
      assert.deepStrictEqual(records, ["step 1"])
    })
  )
})
