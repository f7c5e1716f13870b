/**
 * The capability hook points around failures, validation and tool preparation (pydantic-ai's
 * `on_*_error`, `*_tool_validate`, `prepare_tools`): error hooks recover with a value
 * (`Option.some`), pass the error on (`Option.none`) or replace it, in reverse capability
 * order, on every entry point; validation hooks repair, skip, wrap, recover and defer; a
 * `prepareTools` hook hides tools from the model and from execution.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import {
  Agent,
  AgentError,
  Capability,
  CaptureRunMessages,
  DeferredTools,
  FunctionModel,
  Messages,
  OutputSpec,
  Tool
} from "@agentfx/core"

const overloaded = () =>
  new AgentError.ModelHTTPError({ status: 529, modelName: "function", body: "overloaded" })

/**
 * A model failing its first `failures` requests with a 529, then answering "answered" (or
 * calling `lookup` once when it has that tool); streamed the same way. Counts its requests.
 */
const flaky = (failures: number) => {
  let requests = 0
  const answer = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    info: FunctionModel.AgentInfo
  ): Messages.ModelResponse => {
    const last = messages[messages.length - 1]
    const returned =
      last?._tag === "ModelRequest"
        ? last.parts.find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
        : undefined
    if (returned !== undefined) return FunctionModel.text(`got ${String(returned.content)}`)
    if (info.functionTools.some((t) => t.name === "lookup")) {
      return FunctionModel.toolCall("lookup", { q: "x" }, "c1")
    }
    return FunctionModel.text("answered")
  }
  const stream = FunctionModel.streamOf(answer)
  return {
    requests: () => requests,
    layer: FunctionModel.layer(
      (messages, info) =>
        Effect.suspend(() =>
          ++requests <= failures
            ? Effect.fail(overloaded())
            : Effect.succeed(answer(messages, info))
        ),
      {
        stream: (messages, info) =>
          Stream.suspend(() =>
            ++requests <= failures ? Stream.fail(overloaded()) : stream(messages, info)
          )
      }
    )
  }
}

/** The output of a run driven by each entry point, and the result's request count. */
const drivers: ReadonlyArray<{
  readonly name: string
  readonly drive: <E, R>(
    agent: Agent.Agent<string, E, R>
  ) => Effect.Effect<{ output: string; requests: number; tags: Array<string> }, unknown, R>
}> = [
  {
    name: "run",
    drive: (agent) =>
      Effect.map(agent.run("go"), (r) => ({
        output: r.output,
        requests: r.usage.requests,
        tags: []
      }))
  },
  {
    name: "run with onEvent",
    drive: (agent) => {
      const tags: Array<string> = []
      return Effect.map(agent.run("go", { onEvent: (e) => void tags.push(e._tag) }), (r) => ({
        output: r.output,
        requests: r.usage.requests,
        tags
      }))
    }
  },
  {
    name: "runStream",
    drive: (agent) =>
      Effect.map(Stream.runCollect(agent.runStream("go")), (events) => {
        const list = Chunk.toReadonlyArray(events)
        const last = list[list.length - 1]
        assert.strictEqual(last?._tag, "AgentRunResultEvent")
        const result = (last as Agent.AgentRunResultEvent<string>).result
        return {
          output: result.output,
          requests: result.usage.requests,
          tags: list.map((e) => e._tag)
        }
      })
  },
  {
    name: "iter",
    drive: (agent) =>
      Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter("go")
          let node = yield* run.nextNode
          while (node._tag !== "End") node = yield* run.next(node)
          return { output: node.result.output, requests: node.result.usage.requests, tags: [] }
        })
      )
  }
]

/** The other entry points, for the hooks that wrap the run and its nodes. */
const moreDrivers: typeof drivers = [
  {
    name: "run with eventStreamHandler",
    drive: (agent) => {
      const tags: Array<string> = []
      return Effect.map(
        agent.run("go", {
          eventStreamHandler: (events) =>
            Effect.ignore(
              Stream.runForEach(events, (e) => Effect.sync(() => void tags.push(e._tag)))
            )
        }),
        (r) => ({ output: r.output, requests: r.usage.requests, tags })
      )
    }
  },
  {
    name: "iter (stream)",
    drive: (agent) =>
      Effect.scoped(
        Effect.gen(function* () {
          const run = yield* agent.iter("go")
          const tags: Array<string> = []
          let node = yield* run.nextNode
          while (node._tag !== "End") {
            yield* Stream.runForEach(run.stream(node), (e) =>
              Effect.sync(() => void tags.push(e._tag))
            )
            node = yield* run.nextNode
          }
          return { output: node.result.output, requests: node.result.usage.requests, tags }
        })
      )
  },
  {
    name: "streamOutput",
    drive: (agent) =>
      Effect.map(Stream.runCollect(agent.streamOutput("go")), (outputs) => ({
        output: Chunk.toReadonlyArray(outputs).at(-1) as string,
        requests: -1,
        tags: []
      }))
  }
]

describe("onModelRequestError", () => {
  const recovering = (log: Array<string>) =>
    Capability.hooks({
      onModelRequestError: (_ctx, request, error) =>
        Effect.sync(() => {
          log.push(`recover(${error._tag}, ${request.messages.length} messages)`)
          return error._tag === "ModelHTTPError" && error.status === 529
            ? Option.some(FunctionModel.text("fallback answer"))
            : Option.none()
        }),
      afterModelRequest: (_ctx, _request, response) =>
        Effect.sync(() => {
          log.push(`after(${response.text})`)
          return response
        })
    })

  for (const driver of drivers) {
    it.effect(`${driver.name}: a recovered response ends the run, not counted as a request`, () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const model = flaky(1)
        const agent = Agent.make({ capabilities: [recovering(log)] })
        const out = yield* driver.drive(agent).pipe(Effect.provide(model.layer))
        assert.strictEqual(out.output, "fallback answer")
        // The failed request was made; the recovered response is not a request.
        assert.strictEqual(model.requests(), 1)
        assert.strictEqual(out.requests, 0)
        assert.deepStrictEqual(log, [
          "recover(ModelHTTPError, 1 messages)",
          "after(fallback answer)"
        ])
        if (driver.name === "runStream" || driver.name === "run with onEvent") {
          // The recovered response's text is streamed like a substituted one.
          assert.deepStrictEqual(out.tags, [
            "PartStartEvent",
            "FinalResultEvent",
            "PartEndEvent",
            "AgentRunResultEvent"
          ])
        }
      })
    )
  }

  it.effect("None passes the error on: the run fails with it, the history kept", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const agent = Agent.make({
        capabilities: [
          Capability.hooks({
            onModelRequestError: (_ctx, _request, error) =>
              Effect.sync(() => {
                seen.push(error._tag)
                return Option.none()
              })
          })
        ]
      })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        agent.run("go").pipe(Effect.provide(flaky(5).layer))
      )
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual((error as AgentError.ModelHTTPError).status, 529)
      assert.deepStrictEqual(seen, ["ModelHTTPError"])
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest"]
      )
    })
  )

  it.effect("reverse order; a replaced error reaches the next hook; the first Some wins", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const first = Capability.hooks({
        onModelRequestError: (_ctx, _request, error) =>
          Effect.sync(() => {
            log.push(`first(${error._tag})`)
            return Option.some(FunctionModel.text(`first saw ${error._tag}`))
          })
      })
      const second = Capability.hooks({
        onModelRequestError: (_ctx, _request, error) =>
          Effect.sync(() => log.push(`second(${error._tag})`)).pipe(
            Effect.zipRight(
              Effect.fail(new AgentError.ModelAPIError({ modelName: "function", reason: "mapped" }))
            )
          )
      })
      const never = Capability.hooks({
        onModelRequestError: () =>
          Effect.sync(() => {
            log.push("unreached")
            return Option.none()
          })
      })
      // `never` comes first, so it runs last: `first` recovered before it.
      const agent = Agent.make({ capabilities: [never, first, second] })
      const result = yield* agent.run("go").pipe(Effect.provide(flaky(1).layer))
      assert.strictEqual(result.output, "first saw ModelAPIError")
      assert.deepStrictEqual(log, ["second(ModelHTTPError)", "first(ModelAPIError)"])
    })
  )

  it.effect("ModelRetry from the hook asks the model again with the retry prompt", () =>
    Effect.gen(function* () {
      const model = flaky(1)
      const agent = Agent.make({
        capabilities: [
          Capability.hooks({
            onModelRequestError: () =>
              Effect.fail(
                new AgentError.ModelRetry({ reason: "The service was busy; answer again." })
              )
          })
        ]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(model.layer))
      assert.strictEqual(result.output, "answered")
      assert.strictEqual(model.requests(), 2)
      const retry = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .find((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
      assert.strictEqual(retry?.content, "The service was busy; answer again.")
    })
  )
})

class Upstream extends Schema.TaggedError<Upstream>()("Upstream", { status: Schema.Number }) {}

/** A `lookup` tool failing with `Upstream(status)` until it has failed `failures` times. */
const failingLookup = (status: number, failures = Number.POSITIVE_INFINITY) => {
  let calls = 0
  return Tool.make("lookup", {
    description: "Looks a word up.",
    parameters: Schema.Struct({ q: Schema.String }),
    handler: ({ q }) =>
      Effect.suspend(() =>
        ++calls <= failures ? Effect.fail(new Upstream({ status })) : Effect.succeed(`entry ${q}`)
      )
  })
}

/** The parts of the requests a run sent after its first one. */
const requestParts = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))

describe("onToolExecuteError", () => {
  // The per-status policy of pydantic-ai's docs: transient → retry, definitive → failed result.
  const policy = Capability.hooks({
    onToolExecuteError: (_ctx, execution, error) => {
      if (!(error instanceof Upstream)) return Effect.succeed(Option.none())
      if (error.status === 503) {
        return Effect.fail(
          new AgentError.ModelRetry({ reason: `upstream 503 for ${execution.call.toolName}` })
        )
      }
      if (error.status === 404)
        return Effect.fail(new AgentError.ToolFailed({ reason: "not found" }))
      if (error.status === 418) return Effect.succeed(Option.some("teapot fallback"))
      return Effect.succeed(Option.none())
    }
  })

  it.effect("a transient error becomes a retry prompt on the tool's budget", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [failingLookup(503, 1)], capabilities: [policy] })
      const result = yield* agent.run("go").pipe(Effect.provide(flaky(0).layer))
      assert.strictEqual(result.output, "got entry x")
      const retry = requestParts(result.allMessages()).find((p) => p._tag === "RetryPromptPart")
      assert.strictEqual((retry as Messages.RetryPromptPart).content, "upstream 503 for lookup")
      assert.strictEqual((retry as Messages.RetryPromptPart).toolCallId, "c1")
    })
  )

  it.effect("a definitive error becomes a failed result; a recovery is the tool's return", () =>
    Effect.gen(function* () {
      const failed = yield* Agent.make({ tools: [failingLookup(404)], capabilities: [policy] })
        .run("go")
        .pipe(Effect.provide(flaky(0).layer))
      const part = requestParts(failed.allMessages()).find((p) => p._tag === "ToolReturnPart")
      assert.strictEqual((part as Messages.ToolReturnPart).content, "not found")
      assert.strictEqual((part as Messages.ToolReturnPart).outcome, "failed")
      assert.strictEqual(failed.output, "got not found")

      const recovered = yield* Agent.make({ tools: [failingLookup(418)], capabilities: [policy] })
        .run("go")
        .pipe(Effect.provide(flaky(0).layer))
      assert.strictEqual(recovered.output, "got teapot fallback")
      // The tool ran (and failed): it counts as a tool call.
      assert.strictEqual(recovered.usage.toolCalls, 1)
    })
  )

  it.effect("None passes the tool's typed error on: the run fails with it, types included", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [failingLookup(500)], capabilities: [policy] })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        agent.runStream("go").pipe(Stream.runDrain, Effect.provide(flaky(0).layer))
      )
      const error = yield* Effect.flip(exit)
      const tag: "Upstream" | AgentError.AgentError["_tag"] = error._tag
      assert.strictEqual(tag, "Upstream")
      assert.strictEqual((error as Upstream).status, 500)
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
    })
  )

  it.effect("a ModelRetry or ToolFailed from the tool itself never reaches the hook", () =>
    Effect.gen(function* () {
      const seen: Array<unknown> = []
      let calls = 0
      const retrying = Tool.make("lookup", {
        description: "Looks a word up.",
        parameters: Schema.Struct({ q: Schema.String }),
        handler: () =>
          Effect.suspend(() =>
            ++calls === 1
              ? Effect.fail(new AgentError.ModelRetry({ reason: "try again" }))
              : Effect.succeed("second time")
          )
      })
      const agent = Agent.make({
        tools: [retrying],
        capabilities: [
          Capability.hooks({
            onToolExecuteError: (_ctx, _execution, error) =>
              Effect.sync(() => {
                seen.push(error)
                return Option.none()
              })
          })
        ]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(flaky(0).layer))
      assert.strictEqual(result.output, "got second time")
      assert.deepStrictEqual(seen, [])
    })
  )
})

describe("tool validation hooks", () => {
  /** A model calling `lookup` with these raw arguments once, then echoing the tool's return. */
  const calling = (args: string | Record<string, unknown>) =>
    FunctionModel.layer((messages) => {
      const last = messages[messages.length - 1]
      const parts = last?._tag === "ModelRequest" ? last.parts : []
      const returned = parts.find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
      if (returned !== undefined) return FunctionModel.text(`got ${String(returned.content)}`)
      const retry = parts.find((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
      if (retry !== undefined) return FunctionModel.text("gave up")
      return FunctionModel.toolCall("lookup", args, "c1")
    })
  const lookup = Tool.make("lookup", {
    description: "Looks a word up.",
    parameters: Schema.Struct({ q: Schema.String }),
    handler: ({ q }) => Effect.succeed(`entry ${q}`)
  })

  it.effect("the order: before, wrap (first outermost) around the decoding, after reversed", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const cap = (name: string) =>
        Capability.hooks({
          beforeToolValidate: (_ctx, validation) =>
            Effect.sync(() => {
              log.push(`${name}.before(${JSON.stringify(validation.args)})`)
              return validation
            }),
          wrapToolValidate: (_ctx, validation, next) =>
            Effect.sync(() => log.push(`${name}.wrap:in`)).pipe(
              Effect.zipRight(next(validation)),
              Effect.tap((args) =>
                Effect.sync(() => log.push(`${name}.wrap:out(${JSON.stringify(args)})`))
              )
            ),
          afterToolValidate: (_ctx, validation, args) =>
            Effect.sync(() => {
              log.push(`${name}.after(${validation.call.toolName})`)
              return args
            })
        })
      const agent = Agent.make({ tools: [lookup], capabilities: [cap("a"), cap("b")] })
      const result = yield* agent.run("go").pipe(Effect.provide(calling({ q: "x" })))
      assert.strictEqual(result.output, "got entry x")
      assert.deepStrictEqual(log, [
        'a.before({"q":"x"})',
        'b.before({"q":"x"})',
        "a.wrap:in",
        "b.wrap:in",
        'b.wrap:out({"q":"x"})',
        'a.wrap:out({"q":"x"})',
        "b.after(lookup)",
        "a.after(lookup)"
      ])
    })
  )

  it.effect(
    "beforeToolValidate repairs the model's JSON; afterToolValidate edits the arguments",
    () =>
      Effect.gen(function* () {
        const cap = Capability.hooks({
          beforeToolValidate: (_ctx, validation) =>
            Effect.succeed(
              typeof validation.args === "string"
                ? { ...validation, args: validation.args.replace(/,\s*}$/, "}") }
                : validation
            ),
          afterToolValidate: (_ctx, _validation, args) =>
            Effect.succeed({ q: `${(args as { q: string }).q}!` })
        })
        const agent = Agent.make({ tools: [lookup], capabilities: [cap] })
        const result = yield* agent.run("go").pipe(Effect.provide(calling('{"q": "x",}')))
        assert.strictEqual(result.output, "got entry x!")
        // Without the hook the same call is a retry prompt.
        const plain = yield* Agent.make({ tools: [lookup] })
          .run("go")
          .pipe(Effect.provide(calling('{"q": "x",}')))
        assert.strictEqual(plain.output, "gave up")
      })
  )

  it.effect(
    "skipToolValidation takes its arguments; onToolValidateError recovers or passes on",
    () =>
      Effect.gen(function* () {
        const skipped = yield* Agent.make({
          tools: [lookup],
          capabilities: [
            Capability.hooks({
              beforeToolValidate: () =>
                Effect.succeed(Capability.skipToolValidation({ q: "given" }))
            })
          ]
        })
          .run("go")
          .pipe(Effect.provide(calling({ wrong: 1 })))
        assert.strictEqual(skipped.output, "got entry given")

        const errors: Array<string> = []
        const recovering = Capability.hooks({
          onToolValidateError: (_ctx, validation, error) =>
            Effect.sync(() => {
              errors.push(`${validation.call.toolName}: ${error._tag}`)
              return Option.some({ q: "default" })
            })
        })
        const passing = Capability.hooks({
          onToolValidateError: () => Effect.succeed(Option.none())
        })
        // `passing` is last, so it runs first and passes the error to `recovering`.
        const recovered = yield* Agent.make({
          tools: [lookup],
          capabilities: [recovering, passing]
        })
          .run("go")
          .pipe(Effect.provide(calling({ wrong: 1 })))
        assert.strictEqual(recovered.output, "got entry default")
        assert.deepStrictEqual(errors, ["lookup: ModelRetry"])

        const passed = yield* Agent.make({ tools: [lookup], capabilities: [passing] })
          .run("go")
          .pipe(Effect.provide(calling({ wrong: 1 })))
        assert.strictEqual(passed.output, "gave up")
        const retry = requestParts(passed.allMessages()).find((p) => p._tag === "RetryPromptPart")
        assert.isDefined(retry)
      })
  )

  it.effect("afterToolValidate may defer the call for approval", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        tools: [lookup],
        capabilities: [
          Capability.hooks({
            afterToolValidate: (_ctx, _validation, args) =>
              (args as { q: string }).q === "secret"
                ? Effect.fail(new DeferredTools.ApprovalRequired({ metadata: "needs a person" }))
                : Effect.succeed(args)
          })
        ]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(calling({ q: "secret" })))
      const output = result.output as unknown
      assert.instanceOf(output, DeferredTools.DeferredToolRequests)
      const requests = output as DeferredTools.DeferredToolRequests
      assert.deepStrictEqual(
        requests.approvals.map((c) => c.toolCallId),
        ["c1"]
      )
      assert.strictEqual(requests.metadata.c1, "needs a person")
    })
  )
})

describe("prepareTools", () => {
  const tool = (name: string) =>
    Tool.make(name, {
      description: `The ${name} tool.`,
      parameters: Schema.Struct({}),
      handler: () => Effect.succeed(`${name} ran`)
    })

  it.effect("hides tools from the model and from execution; edits what it keeps", () =>
    Effect.gen(function* () {
      const offered: Array<Array<string>> = []
      const model = FunctionModel.layer((messages, info) => {
        offered.push(info.functionTools.map((t) => `${t.name}: ${t.description}`))
        const last = messages[messages.length - 1]
        const parts = last?._tag === "ModelRequest" ? last.parts : []
        if (parts.some((p) => p._tag === "RetryPromptPart" || p._tag === "ToolReturnPart")) {
          return FunctionModel.text(
            parts.map((p) => (p._tag === "RetryPromptPart" ? String(p.content) : "")).join("")
          )
        }
        // Calls the hidden tool anyway.
        return FunctionModel.toolCall("delete_file", {}, "c1")
      })
      const hide = Capability.hooks({
        prepareTools: (ctx, definitions) =>
          Effect.succeed(
            definitions
              .filter((d) => !d.name.startsWith("delete_"))
              .map(
                (d) =>
                  new Tool.ToolDefinition({
                    ...d,
                    description: `${d.description} (step ${ctx.runStep})`
                  })
              )
          )
      })
      const agent = Agent.make({
        tools: [tool("read_file"), tool("delete_file")],
        capabilities: [hide]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.deepStrictEqual(offered, [
        ["read_file: The read_file tool. (step 1)"],
        ["read_file: The read_file tool. (step 2)"]
      ])
      // The hidden tool could not be called: an unknown tool to the run.
      assert.include(result.output, "Unknown tool name: 'delete_file'")
      assert.strictEqual(result.usage.toolCalls, 0)
    })
  )

  it.effect("a definition of an unknown tool is a UserError", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        tools: [tool("read_file")],
        capabilities: [
          Capability.hooks({
            prepareTools: (_ctx, definitions) =>
              Effect.succeed(
                definitions.map((d) => new Tool.ToolDefinition({ ...d, name: "renamed" }))
              )
          })
        ]
      })
      const error = yield* Effect.flip(
        agent.run("go").pipe(Effect.provide(FunctionModel.layer(() => "x")))
      )
      assert.strictEqual(error._tag, "UserError")
      assert.include((error as AgentError.UserError).reason, "unknown tool 'renamed'")
    })
  )
})

describe("wrapRun", () => {
  const allDrivers = [...drivers, ...moreDrivers]
  const logged = (log: Array<string>, name: string) =>
    Capability.hooks({
      beforeRun: () => Effect.sync(() => void log.push(`${name}.beforeRun`)),
      afterRun: (_ctx, result) =>
        Effect.sync(() => {
          log.push(`${name}.afterRun`)
          return result
        }),
      wrapRun: (_ctx, next) =>
        Effect.gen(function* () {
          log.push(`${name}>`)
          const result = yield* next()
          log.push(`<${name}(${String(result.output)})`)
          return new Agent.AgentRunResult(
            `${String(result.output)} [${name}]`,
            result.usage,
            result.allMessages(),
            0,
            result.runId
          )
        })
    })

  for (const driver of allDrivers) {
    it.effect(`${driver.name}: wraps the whole run, first capability outermost`, () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const model = flaky(0)
        const agent = Agent.make({ capabilities: [logged(log, "a"), logged(log, "b")] })
        const out = yield* driver.drive(agent).pipe(Effect.provide(model.layer))
        assert.strictEqual(out.output, "answered [b] [a]")
        assert.strictEqual(model.requests(), 1)
        assert.deepStrictEqual(log, [
          "a>",
          "b>",
          "a.beforeRun",
          "b.beforeRun",
          "b.afterRun",
          "a.afterRun",
          "<b(answered)",
          "<a(answered [b])"
        ])
      })
    )

    it.effect(`${driver.name}: a wrap that does not call next skips the run`, () =>
      Effect.gen(function* () {
        const model = flaky(0)
        const agent = Agent.make({
          capabilities: [
            Capability.hooks({
              wrapRun: (ctx) =>
                Effect.succeed(
                  new Agent.AgentRunResult("from the cache", ctx.usage, ctx.messages, 0, ctx.runId)
                )
            })
          ]
        })
        const out = yield* driver.drive(agent).pipe(Effect.provide(model.layer))
        assert.strictEqual(out.output, "from the cache")
        assert.strictEqual(model.requests(), 0)
      })
    )

    it.effect(`${driver.name}: a wrap recovers a failed run, or replaces its error`, () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const recovering = Capability.hooks({
          wrapRun: (ctx, next) =>
            Effect.catchAll(next(), (error) =>
              Effect.sync(() => {
                const messages =
                  (error as { messages?: ReadonlyArray<Messages.ModelMessage> }).messages ?? []
                seen.push(`${error._tag} after ${messages[0]?._tag}`)
                return new Agent.AgentRunResult("fallback", ctx.usage, [], 0, ctx.runId)
              })
            )
        })
        const model = flaky(5)
        const out = yield* driver
          .drive(Agent.make({ capabilities: [recovering] }))
          .pipe(Effect.provide(model.layer))
        assert.strictEqual(out.output, "fallback")
        // the run's failure reached the wrap with its history (from the user prompt's request;
        // a streamed run also keeps the response it had begun)
        assert.deepStrictEqual(seen, ["ModelHTTPError after ModelRequest"])

        class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {}) {}
        const replacing = Capability.hooks({
          wrapRun: (_ctx, next) => Effect.catchAll(next(), () => Effect.fail(new Unavailable()))
        })
        const error = yield* Effect.flip(
          driver
            .drive(Agent.make({ capabilities: [replacing] }))
            .pipe(Effect.provide(flaky(5).layer))
        )
        assert.strictEqual((error as { _tag: string })._tag, "Unavailable")
      })
    )
  }

  it.effect("runStream: a reader that stops interrupts next (the wrap's finalizer runs)", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const agent = Agent.make({
        capabilities: [
          Capability.hooks({
            wrapRun: (_ctx, next) =>
              next().pipe(Effect.ensuring(Effect.sync(() => void log.push("released"))))
          })
        ]
      })
      const model = FunctionModel.layer(() => "a b c d", {
        stream: () => Stream.make("a ", "b ", "c ", "d")
      })
      const first = yield* Stream.runCollect(Stream.take(agent.runStream("go"), 1)).pipe(
        Effect.provide(model)
      )
      assert.strictEqual(Chunk.size(first), 1)
      assert.deepStrictEqual(log, ["released"])
    })
  )
})

describe("node hooks", () => {
  const allDrivers = [...drivers, ...moreDrivers]
  const tag = (n: { readonly _tag: string }) => n._tag.replace("Node", "")
  const observed = (log: Array<string>, name: string) =>
    Capability.hooks({
      beforeNodeRun: (_ctx, node) =>
        Effect.sync(() => {
          log.push(`${name}.before ${tag(node)}`)
          return node
        }),
      wrapNodeRun: (_ctx, node, next) =>
        Effect.gen(function* () {
          log.push(`${name}> ${tag(node)}`)
          const after = yield* next(node)
          log.push(`<${name} ${tag(node)} → ${tag(after)}`)
          return after
        }),
      afterNodeRun: (_ctx, node, next) =>
        Effect.sync(() => {
          log.push(`${name}.after ${tag(node)} → ${tag(next)}`)
          return next
        })
    })

  for (const driver of allDrivers) {
    it.effect(`${driver.name}: every node goes through before, wrap (first outermost), after`, () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const agent = Agent.make({ capabilities: [observed(log, "a"), observed(log, "b")] })
        const out = yield* driver.drive(agent).pipe(Effect.provide(flaky(0).layer))
        assert.strictEqual(out.output, "answered")
        const forNode = (n: string, next: string) => [
          `a.before ${n}`,
          `b.before ${n}`,
          `a> ${n}`,
          `b> ${n}`,
          `<b ${n} → ${next}`,
          `<a ${n} → ${next}`,
          `b.after ${n} → ${next}`,
          `a.after ${n} → ${next}`
        ]
        assert.deepStrictEqual(log, [
          ...forNode("UserPrompt", "ModelRequest"),
          ...forNode("ModelRequest", "CallTools"),
          ...forNode("CallTools", "End")
        ])
        // streamed runs still stream: the text arrives as events
        if (driver.name === "runStream" || driver.name === "run with onEvent") {
          assert.include(out.tags, "PartStartEvent")
        }
      })
    )

    it.effect(
      `${driver.name}: onNodeRunError re-sends a failed request; beforeNodeRun replaces a node`,
      () =>
        Effect.gen(function* () {
          const log: Array<string> = []
          const model = flaky(1)
          const agent = Agent.make({
            capabilities: [
              Capability.hooks({
                beforeNodeRun: (_ctx, node) =>
                  Effect.succeed(
                    node._tag === "UserPromptNode" ? new Agent.UserPromptNode("rewritten") : node
                  ),
                onNodeRunError: (_ctx, node, error) =>
                  Effect.sync(() => {
                    log.push(`${tag(node)} failed: ${(error as { _tag: string })._tag}`)
                    return node._tag === "ModelRequestNode"
                      ? Option.some(new Agent.ModelRequestNode(node.request, true))
                      : Option.none()
                  })
              })
            ]
          })
          const captured = yield* CaptureRunMessages.capture(
            driver.drive(agent).pipe(Effect.provide(model.layer))
          )
          assert(Exit.isSuccess(captured.exit), String(captured.exit))
          assert.strictEqual(captured.exit.value.output, "answered")
          assert.strictEqual(model.requests(), 2)
          assert.deepStrictEqual(log, ["ModelRequest failed: ModelHTTPError"])
          // the prompt the model saw was the replaced one, once (the failed request was re-sent)
          const prompts = captured.messages
            .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
            .filter((p) => p._tag === "UserPromptPart")
            .map((p) => String(p.content))
          assert.deepStrictEqual(prompts, ["rewritten"])
        })
    )
  }

  it.effect("a wrap that returns End without calling next ends the run there", () =>
    Effect.gen(function* () {
      const model = flaky(0)
      const agent = Agent.make({
        capabilities: [
          Capability.hooks({
            wrapNodeRun: (ctx, node, next) =>
              node._tag === "ModelRequestNode"
                ? Effect.succeed(
                    new Agent.End(
                      new Agent.AgentRunResult("short", ctx.usage, ctx.messages, 0, ctx.runId)
                    )
                  )
                : next(node)
          })
        ]
      })
      for (const driver of allDrivers) {
        const out = yield* driver.drive(agent).pipe(Effect.provide(model.layer))
        assert.strictEqual(out.output, "short", driver.name)
      }
      assert.strictEqual(model.requests(), 0)
    })
  )
})

describe("hook options: hookTimeout, hookTools", () => {
  it.effect("a hook past its time limit fails the run with a typed HookTimeoutError", () =>
    Effect.gen(function* () {
      const slow = Capability.hooks(
        {
          beforeModelRequest: (_ctx, request) => Effect.as(Effect.sleep("10 seconds"), request),
          afterRun: (_ctx, result) => Effect.as(Effect.sleep("10 seconds"), result)
        },
        // only the model-request hook is limited
        { name: "slow", hookTimeout: { beforeModelRequest: "1 second" } }
      )
      const agent = Agent.make({ capabilities: [slow] })
      const fiber = yield* Effect.fork(
        Effect.flip(agent.run("go").pipe(Effect.provide(flaky(0).layer)))
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      // the error is in the run's types
      expectTypeOf<Capability.HookTimeoutError>().toMatchTypeOf<typeof error>()
      assert(error instanceof Capability.HookTimeoutError)
      assert.strictEqual(error.hook, "beforeModelRequest")
      assert.strictEqual(error.capability, "slow")
      assert.strictEqual(error.timeoutMillis, 1000)
      assert.include(error.message, 'beforeModelRequest hook of capability "slow" timed out')

      // one limit for every hook: the afterRun hook (10 s) is cut at 5 s, the other is not reached
      const all = Capability.hooks(
        { afterRun: (_ctx, result) => Effect.as(Effect.sleep("10 seconds"), result) },
        { hookTimeout: "5 seconds" }
      )
      const second = yield* Effect.fork(
        Effect.flip(
          Agent.make({ capabilities: [all] })
            .run("go")
            .pipe(Effect.provide(flaky(0).layer))
        )
      )
      yield* TestClock.adjust("5 seconds")
      const cut = yield* Fiber.join(second)
      assert(cut instanceof Capability.HookTimeoutError)
      assert.strictEqual(cut.hook, "afterRun")
    })
  )

  it.effect("hooks in time are untouched; no option, no HookTimeoutError in the types", () =>
    Effect.gen(function* () {
      const quick = Capability.hooks(
        { beforeModelRequest: (_ctx, request) => Effect.succeed(request) },
        { hookTimeout: "1 second" }
      )
      const result = yield* Agent.make({ capabilities: [quick] })
        .run("go")
        .pipe(Effect.provide(flaky(0).layer))
      assert.strictEqual(result.output, "answered")
      const plain = Capability.hooks({ beforeRun: () => Effect.void })
      expectTypeOf(plain).toEqualTypeOf<Capability.Capability<never, never>>()
    })
  )

  it.effect("hookTools: tool hooks fire for the listed tools only", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const audit = Capability.hooks(
        {
          beforeToolExecute: (ctx, execution) =>
            Effect.sync(() => {
              log.push(`audit ${ctx.toolName}`)
              return execution
            }),
          afterToolExecute: (_ctx, _execution, result) =>
            Effect.succeed(`${String(result)} (audited)`)
        },
        { hookTools: ["send_email"] }
      )
      const tool = (name: string) =>
        Tool.make(name, {
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed(`${name} done`)
        })
      const model = FunctionModel.layer((messages) => {
        const last = messages[messages.length - 1]
        const returns =
          last?._tag === "ModelRequest"
            ? last.parts.filter((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
            : []
        if (returns.length > 0) return FunctionModel.text(returns.map((r) => r.content).join("; "))
        return FunctionModel.toolCalls([
          { toolName: "send_email", args: {}, toolCallId: "c1" },
          { toolName: "read_inbox", args: {}, toolCallId: "c2" }
        ])
      })
      const agent = Agent.make({
        tools: [tool("send_email"), tool("read_inbox")],
        capabilities: [audit]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.deepStrictEqual(log, ["audit send_email"])
      assert.strictEqual(result.output, "send_email done (audited); read_inbox done")
    })
  )
})

describe("prepareOutputTools", () => {
  // Two output tools (a union of output types); the output names the tool that ended the run.
  const twoOutputs = OutputSpec.make<string>({
    mode: "tool",
    allowTextOutput: false,
    maxRetries: 2,
    toolDefinitions: () =>
      ["final_a", "final_b"].map(
        (name) =>
          new Tool.ToolDefinition({
            name,
            description: `Answer with ${name}.`,
            parametersJsonSchema: { type: "object" },
            kind: "output"
          })
      ),
    handleText: () => Effect.die("unused"),
    handleToolCall: (call) => Effect.succeed(`ended by ${call.toolName}`)
  })
  /** Calls the hidden `final_b` first, then `final_a`; records what it was offered. */
  const model = (offered: Array<string>) => {
    const answer = (
      messages: ReadonlyArray<Messages.ModelMessage>,
      info: FunctionModel.AgentInfo
    ): Messages.ModelResponse => {
      offered.push(info.outputTools.map((t) => `${t.name}: ${t.description}`).join(", "))
      const last = messages[messages.length - 1]
      const retried =
        last?._tag === "ModelRequest" && last.parts.some((p) => p._tag === "RetryPromptPart")
      return FunctionModel.toolCall(retried ? "final_a" : "final_b", {}, `c${offered.length}`)
    }
    return FunctionModel.layer(answer, { stream: FunctionModel.streamOf(answer) })
  }
  const hideB = (budgets: Array<number>) =>
    Capability.hooks({
      prepareOutputTools: (ctx, definitions) =>
        Effect.sync(() => {
          budgets.push(ctx.maxRetries)
          return definitions
            .filter((d) => d.name !== "final_b")
            .map((d) => new Tool.ToolDefinition({ ...d, description: `${d.description} Now.` }))
        })
    })

  for (const [name, drive] of [
    ["run", (agent: Agent.Agent<string, any, any>) => agent.run("go")],
    [
      "runStream",
      (agent: Agent.Agent<string, any, any>) =>
        Effect.flatMap(
          Stream.runCollect(agent.runStream("go")),
          (events) =>
            Chunk.findLast(events, (e) => e._tag === "AgentRunResultEvent").pipe(
              Effect.map((e) => (e as { result: Agent.AgentRunResult<string> }).result)
            ) as Effect.Effect<Agent.AgentRunResult<string>>
        )
    ]
  ] as const) {
    it.effect(`${name}: a hidden output tool is not offered and cannot end the run`, () =>
      Effect.gen(function* () {
        const offered: Array<string> = []
        const budgets: Array<number> = []
        const agent = Agent.make({ output: twoOutputs, capabilities: [hideB(budgets)] })
        const result = yield* drive(agent).pipe(Effect.provide(model(offered)))
        // every step offered final_a only, with the edited description
        assert.deepStrictEqual(offered, [
          "final_a: Answer with final_a. Now.",
          "final_a: Answer with final_a. Now."
        ])
        assert.strictEqual(result.output, "ended by final_a")
        // the call of the hidden tool got the unknown-tool retry prompt
        const retry = result
          .allMessages()
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .find((p) => p._tag === "RetryPromptPart")
        assert.include(String(retry?.content), "Unknown tool name: 'final_b'")
        // ctx.maxRetries is the output budget
        assert.deepStrictEqual(budgets, [2, 2])
      })
    )
  }

  it.effect("without the hook both output tools end a run", () =>
    Effect.gen(function* () {
      const offered: Array<string> = []
      const agent = Agent.make({ output: twoOutputs })
      const result = yield* agent.run("go").pipe(Effect.provide(model(offered)))
      assert.deepStrictEqual(offered, [
        "final_a: Answer with final_a., final_b: Answer with final_b."
      ])
      assert.strictEqual(result.output, "ended by final_b")
    })
  )

  it.effect("a definition of an unknown output tool is a UserError", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        output: twoOutputs,
        capabilities: [
          Capability.hooks({
            prepareOutputTools: (_ctx, definitions) =>
              Effect.succeed([new Tool.ToolDefinition({ ...definitions[0]!, name: "final_c" })])
          })
        ]
      })
      const error = yield* Effect.flip(agent.run("go").pipe(Effect.provide(model([]))))
      assert.strictEqual(error._tag, "UserError")
      assert.include(
        (error as AgentError.UserError).reason,
        "prepareOutputTools hook returned an unknown tool 'final_c'"
      )
    })
  )
})

describe("onRunError", () => {
  const recoverRun = (log: Array<string>) =>
    Capability.hooks({
      onRunError: (ctx, error) =>
        Effect.sync(() => {
          log.push(`onRunError(${(error as { _tag: string })._tag}, ${ctx.messages[0]?._tag})`)
          return Option.some("sorry, try later")
        }),
      afterRun: (_ctx, result) =>
        Effect.sync(() => {
          log.push(`afterRun(${String(result.output)})`)
          return result
        })
    })

  for (const driver of drivers) {
    it.effect(`${driver.name}: a failed run ends with the recovered output`, () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const agent = Agent.make({ capabilities: [recoverRun(log)] })
        const out = yield* driver.drive(agent).pipe(Effect.provide(flaky(9).layer))
        assert.strictEqual(out.output, "sorry, try later")
        assert.deepStrictEqual(log, [
          "onRunError(ModelHTTPError, ModelRequest)",
          "afterRun(sorry, try later)"
        ])
        if (driver.name === "runStream" || driver.name === "run with onEvent") {
          assert.deepStrictEqual(out.tags, ["AgentRunResultEvent"])
        }
      })
    )
  }

  it.effect("the recovered result keeps the messages and usage of the failed run", () =>
    Effect.gen(function* () {
      const agent = Agent.make({
        tools: [failingLookup(500)],
        capabilities: [recoverRun([])]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(flaky(0).layer))
      assert.strictEqual(result.output, "sorry, try later")
      assert.deepStrictEqual(
        result.allMessages().map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
      assert.strictEqual(result.usage.requests, 1)
    })
  )

  it.effect("None passes the error on; a hook's own error replaces it", () =>
    Effect.gen(function* () {
      const passing = Agent.make({
        capabilities: [Capability.hooks({ onRunError: () => Effect.succeed(Option.none()) })]
      })
      const error = yield* Effect.flip(passing.run("go").pipe(Effect.provide(flaky(9).layer)))
      assert.strictEqual(error._tag, "ModelHTTPError")

      class Reported extends Schema.TaggedError<Reported>()("Reported", { cause: Schema.String }) {}
      const replacing = Agent.make({
        capabilities: [
          Capability.hooks({
            onRunError: (_ctx, e) =>
              Effect.fail(new Reported({ cause: (e as { _tag: string })._tag }))
          })
        ]
      })
      const replaced = yield* Effect.flip(replacing.run("go").pipe(Effect.provide(flaky(9).layer)))
      const tag: "Reported" | AgentError.AgentError["_tag"] = replaced._tag
      assert.strictEqual(tag, "Reported")
      assert.strictEqual((replaced as Reported).cause, "ModelHTTPError")
    })
  )
})
