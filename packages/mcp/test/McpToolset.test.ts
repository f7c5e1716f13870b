import {
  Agent,
  CaptureRunMessages,
  DeferredTools,
  FunctionModel,
  Messages,
  Model,
  Toolset
} from "@agentfx/core"
import { assert, describe, it, layer } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { McpClient, McpContent, McpToolset } from "@agentfx/mcp"
import { LONG_TOOL_NAME, PNG_BASE64, WAV_BASE64 } from "./fixtures/server.js"
import { fixtureServer, partsOf, pollUntil, scripted } from "./support/scripted.js"

class Fx extends Context.Tag("test/Fx")<Fx, McpToolset.McpToolset>() {}

const stats = Effect.flatMap(Fx, (fx) =>
  Effect.map(
    fx.client.callTool("stats", {}),
    (r) => r.structuredContent as { started: number; cancelled: Array<string> }
  )
)

/** A run calling the unprefixed `slow` tool once (tagged `tag`), then answering "too slow". */
const slowRun = (toolset: McpToolset.McpToolset, tag: string) =>
  Agent.make({ toolsets: [toolset] })
    .run("slow")
    .pipe(
      Effect.provide(
        scripted([
          () => FunctionModel.toolCall("slow", { tag }),
          () => FunctionModel.text("too slow")
        ])
      )
    )

/** Waits (polling the server over real I/O) until it has started `n` slow calls in total. */
const startedAtLeast = (n: number) => pollUntil(stats, (s) => s.started >= n)

layer(Layer.scoped(Fx, McpToolset.stdio({ ...fixtureServer, prefix: "fx", name: "fixture" })), {
  timeout: 30_000
})("McpToolset over stdio", (it) => {
  it.effect("lists the server's tools with their JSON Schemas, prefixed", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const defs = yield* fx.current
      const add = defs.find((d) => d.name === "fx_add")
      assert.isDefined(add)
      assert.strictEqual(add!.description, "Add two numbers")
      assert.deepStrictEqual(add!.parametersJsonSchema.properties, {
        a: { type: "number" },
        b: { type: "number" }
      })
      assert.deepStrictEqual(add!.parametersJsonSchema.required, ["a", "b"])
      assert.isUndefined(add!.parametersJsonSchema.$schema)
      assert.deepStrictEqual((add!.metadata as any).mcp.name, "add")
      assert.strictEqual((add!.metadata as any).mcp.server, "fixture")
      assert.isTrue(defs.every((d) => d.name.startsWith("fx_")))
      assert.strictEqual(fx.client.serverInfo?.name, "fixture")
    })
  )

  it.effect("offers names model APIs accept; calls reach the server under its own names", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const defs = yield* fx.current
      const valid = /^[A-Za-z0-9_-]{1,64}$/
      assert.deepStrictEqual(
        defs.filter((d) => !valid.test(d.name)).map((d) => d.name),
        []
      )
      assert.strictEqual(new Set(defs.map((d) => d.name)).size, defs.length)
      const byServerName = new Map(
        defs.map((d) => [(d.metadata as any).mcp.name as string, d.name])
      )
      // a valid name keeps its name; the dotted one that would become it is numbered
      assert.strictEqual(byServerName.get("docs_search"), "fx_docs_search")
      assert.strictEqual(byServerName.get("docs.search"), "fx_docs_search_2")
      assert.strictEqual(byServerName.get("fs/read file"), "fx_fs_read_file")
      const long = byServerName.get(LONG_TOOL_NAME)!
      assert.strictEqual(long.length, 64)
      assert.match(long, /^fx_lookup_very_.*_[0-9a-f]{8}$/)
      // the same listing gives the same names (a continued conversation's calls still resolve)
      const again = yield* fx.current
      assert.deepStrictEqual(
        again.map((d) => d.name),
        defs.map((d) => d.name)
      )
      const calls = [
        ["fx_docs_search_2", "docs.search"],
        ["fx_docs_search", "docs_search"],
        ["fx_fs_read_file", "fs/read file"],
        [long, LONG_TOOL_NAME]
      ] as const
      const result = yield* Agent.make({ toolsets: [fx] })
        .run("names")
        .pipe(
          Effect.provide(
            scripted([
              () =>
                FunctionModel.toolCalls(
                  calls.map(([offered], i) => ({
                    toolName: offered,
                    args: {},
                    toolCallId: `n${i}`
                  }))
                ),
              () => FunctionModel.text("ok")
            ])
          )
        )
      const returns = partsOf(result.allMessages(), "ToolReturnPart")
      assert.deepStrictEqual(
        returns.map((r) => [r.toolName, r.content]),
        calls.map(([offered, server]) => [offered, `called ${server}`])
      )
    })
  )

  it.effect('names: "verbatim" offers the server\'s names unchanged', () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const verbatim = yield* McpToolset.fromClient(fx.client, { names: "verbatim" })
      const names = (yield* verbatim.current).map((d) => d.name)
      assert.include(names, "docs.search")
      assert.include(names, "fs/read file")
      assert.include(names, LONG_TOOL_NAME)
    }).pipe(Effect.scoped)
  )

  it.effect("an agent run calls MCP tools end to end", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx] })
      const result = yield* agent
        .run("2 + 3?")
        .pipe(
          Effect.provide(
            scripted([
              () => FunctionModel.toolCall("fx_add", { a: 2, b: 3 }),
              (ms) => FunctionModel.text(`It is ${partsOf(ms, "ToolReturnPart")[0]!.content}.`)
            ])
          )
        )
      assert.strictEqual(result.output, "It is 5.")
      const [ret] = partsOf(result.allMessages(), "ToolReturnPart")
      assert.strictEqual(ret!.toolName, "fx_add")
      assert.strictEqual(ret!.content, "5")
      assert.strictEqual(ret!.outcome, "success")
      assert.strictEqual(result.usage.toolCalls, 1)
    })
  )

  it.effect("isError: true is a retry prompt with the server's text; the retry succeeds", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx] })
      const result = yield* agent
        .run("6 / 0?")
        .pipe(
          Effect.provide(
            scripted([
              () => FunctionModel.toolCall("fx_divide", { a: 6, b: 0 }),
              () => FunctionModel.toolCall("fx_divide", { a: 6, b: 2 }),
              () => FunctionModel.text("3")
            ])
          )
        )
      const [retry] = partsOf(result.allMessages(), "RetryPromptPart")
      assert.strictEqual(retry!.toolName, "fx_divide")
      assert.strictEqual(retry!.content, "Cannot divide by zero: pick another b.")
      assert.match(retry!.modelResponse, /Fix the errors and try again/)
      const [ret] = partsOf(result.allMessages(), "ToolReturnPart")
      assert.strictEqual(ret!.content, "3")
    })
  )

  it.effect("bad arguments are checked by the server and go back to the model", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx] })
      const result = yield* agent
        .run("add")
        .pipe(
          Effect.provide(
            scripted([
              () => FunctionModel.toolCall("fx_add", { a: "two", b: 3 }),
              () => FunctionModel.text("gave up")
            ])
          )
        )
      const [retry] = partsOf(result.allMessages(), "RetryPromptPart")
      assert.strictEqual(retry!.toolName, "fx_add")
      assert.match(String(retry!.content), /a/)
    })
  )

  it.effect("structuredContent is the JSON return value; images and audio are files", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx] })
      const result = yield* agent
        .run("weather and media")
        .pipe(
          Effect.provide(
            scripted([
              () =>
                FunctionModel.toolCalls([
                  { toolName: "fx_weather", args: { city: "Oslo" } },
                  { toolName: "fx_media" }
                ]),
              () => FunctionModel.text("done")
            ])
          )
        )
      const [weather, media] = partsOf(result.allMessages(), "ToolReturnPart")
      assert.deepStrictEqual(weather!.content, { city: "Oslo", celsius: 21, sky: "clear" })
      const items = media!.content as ReadonlyArray<unknown>
      assert.strictEqual(items[0], "Here they are:")
      const [image, audio] = media!.files
      assert.strictEqual(image!._tag, "BinaryContent")
      assert.strictEqual(image!.mediaType, "image/png")
      assert.strictEqual((image as Messages.BinaryContent).base64, PNG_BASE64)
      assert.strictEqual(audio!.mediaType, "audio/wav")
      assert.strictEqual((audio as Messages.BinaryContent).base64, WAV_BASE64)
      // the files survive the JSON round trip of the history
      const back = yield* Messages.decodeJson(Messages.encodeJson(result.allMessages()))
      const [, media2] = partsOf(back, "ToolReturnPart")
      assert.strictEqual((media2!.files[0] as Messages.BinaryContent).base64, PNG_BASE64)
    })
  )

  it.effect("resource links are read from the server; embedded blobs are files", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const raw = yield* fx.client.callTool("notes", {})
      const value = (yield* McpContent.toolReturn(raw, fx.client.readResource)) as Array<unknown>
      assert.strictEqual(value[0], "buy milk")
      assert.strictEqual((value[1] as Messages.BinaryContent).mediaType, "image/png")
      // without a reader the link stays its description
      const unread = (yield* McpContent.toolReturn(raw)) as Array<any>
      assert.strictEqual(unread[0].uri, "memo://notes")
    })
  )

  it.effect("100 concurrent calls over one session all return their own result", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx] })
      const n = 100
      const result = yield* agent.run("echo many").pipe(
        Effect.provide(
          scripted([
            () =>
              FunctionModel.toolCalls(
                Array.from({ length: n }, (_, i) => ({
                  toolName: "fx_echo",
                  args: { text: `m${i}` },
                  toolCallId: `c${i}`
                }))
              ),
            () => FunctionModel.text("ok")
          ])
        )
      )
      const returns = partsOf(result.allMessages(), "ToolReturnPart")
      assert.strictEqual(returns.length, n)
      for (const r of returns) assert.strictEqual(r.content, `m${r.toolCallId.slice(1)}`)
      assert.strictEqual(result.usage.toolCalls, n)
      // and 100 concurrent raw calls
      const raw = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => fx.client.callTool("add", { a: i, b: 1 }),
        { concurrency: "unbounded" }
      )
      raw.forEach((r, i) =>
        assert.deepStrictEqual(r.content, [{ type: "text", text: String(i + 1) }])
      )
    })
  )

  it.effect("calls of one response start together (`start`): the same messages as one by one", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      // every tool of a toolset without `elicitation: "defer"` offers its call as a promise
      // (this server announces list changes: its list is read per step, with no step context)
      const tools = yield* fx.tools(undefined as never)
      assert.isTrue(tools.every((t) => t.start !== undefined && t.start.of === t.call))
      const calls = [
        { toolName: "fx_add", args: { a: 2, b: 3 }, toolCallId: "add" },
        { toolName: "fx_divide", args: { a: 6, b: 0 }, toolCallId: "div" },
        { toolName: "fx_weather", args: { city: "Oslo" }, toolCallId: "weather" },
        { toolName: "fx_media", args: {}, toolCallId: "media" },
        { toolName: "fx_notes", args: {}, toolCallId: "notes" },
        { toolName: "fx_add", args: { a: "two", b: 3 }, toolCallId: "bad" },
        { toolName: "fx_echo", args: { text: "hi" }, toolCallId: "echo" }
      ]
      // the same tools without `start`: each call through `call` in its own region
      const withoutStart = Toolset.make((ctx) =>
        Effect.map(fx.tools(ctx), (ts) => ts.map((t) => ({ ...t, start: undefined })))
      )
      const run = (oneByOne: boolean) =>
        Agent.make({ toolsets: [oneByOne ? withoutStart : fx], retries: 2 })
          .run("all")
          .pipe(
            Effect.provide(
              scripted([() => FunctionModel.toolCalls(calls), () => FunctionModel.text("ok")])
            )
          )
      const together = yield* run(false)
      const oneByOne = yield* run(true)
      const parts = (r: typeof together) =>
        (r.allMessages()[2] as Messages.ModelRequest).parts.map((p) => ({
          tag: p._tag,
          id: (p as Messages.ToolReturnPart).toolCallId,
          content: (p as Messages.ToolReturnPart | Messages.RetryPromptPart).content,
          outcome: p._tag === "ToolReturnPart" ? p.outcome : undefined,
          files: p._tag === "ToolReturnPart" ? p.files.map((f) => f.mediaType) : undefined
        }))
      assert.deepStrictEqual(parts(together), parts(oneByOne))
      const byId = new Map(parts(together).map((p) => [p.id, p]))
      assert.strictEqual(byId.get("add")!.content, "5")
      assert.strictEqual(byId.get("div")!.tag, "RetryPromptPart")
      assert.strictEqual(byId.get("div")!.content, "Cannot divide by zero: pick another b.")
      assert.deepStrictEqual(byId.get("weather")!.content, {
        city: "Oslo",
        celsius: 21,
        sky: "clear"
      })
      assert.deepStrictEqual(byId.get("media")!.files, ["image/png", "audio/wav"])
      // the resource link is read from the server
      assert.strictEqual((byId.get("notes")!.content as Array<unknown>)[0], "buy milk")
      assert.strictEqual(byId.get("bad")!.tag, "RetryPromptPart")
      assert.strictEqual(byId.get("echo")!.content, "hi")
      assert.strictEqual(together.usage.toolCalls, 5)
      assert.strictEqual(oneByOne.usage.toolCalls, 5)
    })
  )

  it.effect("interrupting a run cancels its call on the server", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const before = (yield* stats).started
      const agent = Agent.make({ toolsets: [fx] })
      const fiber = yield* CaptureRunMessages.capture(
        agent
          .run("wait")
          .pipe(
            Effect.provide(
              scripted([
                () => FunctionModel.toolCall("fx_slow", { tag: "interrupted-run" }),
                () => FunctionModel.text("never")
              ])
            )
          )
      ).pipe(Effect.fork)
      yield* startedAtLeast(before + 1)
      yield* Fiber.interrupt(fiber)
      const s = yield* stats
      assert.include(s.cancelled, "interrupted-run")
      const captured = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isInterrupted(captured))
    })
  )

  it.effect("a run interrupted inside capture keeps the call it made", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const before = (yield* stats).started
      const agent = Agent.make({ toolsets: [fx] })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        Effect.gen(function* () {
          const run = yield* Effect.fork(
            agent
              .run("wait")
              .pipe(
                Effect.provide(
                  scripted([() => FunctionModel.toolCall("fx_slow", { tag: "captured-run" })])
                )
              )
          )
          yield* startedAtLeast(before + 1)
          return yield* Fiber.interrupt(run)
        })
      )
      assert.isTrue(Exit.isSuccess(exit))
      const [call] = partsOf(messages, "ToolCallPart")
      assert.strictEqual(call!.toolName, "fx_slow")
      assert.include((yield* stats).cancelled, "captured-run")
    })
  )

  it.effect("a call over its timeout is cancelled on the server and retried by the model", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const timed = yield* McpToolset.fromClient(fx.client, { timeout: "30 seconds" })
      const before = (yield* stats).started
      const fiber = yield* Effect.fork(slowRun(timed, "timed-out"))
      yield* startedAtLeast(before + 1)
      yield* TestClock.adjust("30 seconds")
      const result = yield* Fiber.join(fiber)
      const [retry] = partsOf(result.allMessages(), "RetryPromptPart")
      assert.strictEqual(retry!.content, "Timed out after 30 seconds.")
      assert.strictEqual(retry!.toolName, "slow")
      assert.strictEqual(result.output, "too slow")
      assert.include((yield* stats).cancelled, "timed-out")
    }).pipe(Effect.scoped)
  )

  it.effect("calls of one response one after the other: results in order, none cancelled", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const agent = Agent.make({ toolsets: [fx], maxConcurrency: 1 })
      const tags = ["seq-a", "seq-b", "seq-c"]
      // what the client sends: no `notifications/cancelled` for an answered call
      const transport = fx.client.sdk.transport!
      const send = transport.send.bind(transport)
      const sent: Array<string> = []
      transport.send = (message, options) => {
        if ("method" in message) sent.push(message.method)
        return send(message, options)
      }
      const result = yield* agent.run("in turn").pipe(
        Effect.ensuring(
          Effect.sync(() => {
            transport.send = send
          })
        ),
        Effect.provide(
          scripted([
            () =>
              FunctionModel.toolCalls(
                tags.map((tag, i) => ({
                  toolName: "fx_slow",
                  args: { tag, ms: 30 - 10 * i },
                  toolCallId: tag
                }))
              ),
            () => FunctionModel.text("ok")
          ])
        )
      )
      const returns = partsOf(result.allMessages(), "ToolReturnPart")
      assert.deepStrictEqual(
        returns.map((r) => [r.toolCallId, r.content]),
        tags.map((tag) => [tag, `done ${tag}`])
      )
      assert.strictEqual(result.usage.toolCalls, 3)
      // each call's end (the run's `Tool.CallEnd`) came after its answer: nothing to cancel
      assert.deepStrictEqual(sent, ["tools/call", "tools/call", "tools/call"])
      const s = yield* stats
      for (const tag of tags) assert.notInclude(s.cancelled, tag)
    })
  )

  it.effect("interrupting McpClient.callTool outside a run cancels the call on the server", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const before = (yield* stats).started
      const fiber = yield* Effect.fork(fx.client.callTool("slow", { tag: "client-interrupt" }))
      yield* startedAtLeast(before + 1)
      yield* Fiber.interrupt(fiber)
      assert.include((yield* stats).cancelled, "client-interrupt")
    })
  )

  it.effect("a toolset timeout in real time: the retry prompt, and the call is cancelled", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const timed = yield* McpToolset.fromClient(fx.client, { timeout: "200 millis" })
      const result = yield* slowRun(timed, "real-timeout")
      const [retry] = partsOf(result.allMessages(), "RetryPromptPart")
      assert.strictEqual(retry!.content, "Timed out after 0.2 seconds.")
      assert.strictEqual(result.output, "too slow")
      const s = yield* pollUntil(stats, (x) => x.cancelled.includes("real-timeout"))
      assert.include(s.cancelled, "real-timeout")
    }).pipe(Effect.scoped, TestServices.provideLive)
  )

  // The client's request timeout is the SDK's timer, in real time (the toolset's `timeout`,
  // tested above on the TestClock, is the run's): a short real one here.
  it.effect("the client's request timeout: a typed McpError, and the call is cancelled", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const error = yield* Effect.flip(
        fx.client.callTool("slow", { tag: "client-timeout" }, { timeout: "300 millis" })
      )
      assert.strictEqual(error._tag, "McpError")
      assert.isTrue(error.isTimeout)
      assert.strictEqual(error.operation, "callTool")
      assert.strictEqual(error.target, "slow")
      assert.match(error.message, /^MCP server 'fixture': callTool 'slow' failed \(code -32001\): /)
      assert.include((yield* stats).cancelled, "client-timeout")
    })
  )

  it.effect("tools/list_changed: the toolset lists again and the new tool can be called", () =>
    Effect.gen(function* () {
      const fx = yield* Fx
      const seen = yield* fx.changes.pipe(
        Stream.filter((defs) => defs.some((d) => d.name === "fx_late")),
        Stream.runHead,
        Effect.fork
      )
      yield* fx.client.callTool("add_tool", { name: "late" })
      const defs = yield* Fiber.join(seen)
      assert.strictEqual(
        defs._tag === "Some" ? defs.value.find((d) => d.name === "fx_late")?.description : "",
        "Added at run time: late"
      )
      const agent = Agent.make({ toolsets: [fx] })
      const result = yield* agent
        .run("late")
        .pipe(
          Effect.provide(
            scripted([() => FunctionModel.toolCall("fx_late"), () => FunctionModel.text("ok")])
          )
        )
      assert.strictEqual(
        partsOf(result.allMessages(), "ToolReturnPart")[0]!.content,
        "hello from late"
      )
    })
  )

  it.effect("resources and prompts are plain Effects", () =>
    Effect.gen(function* () {
      const { client } = yield* Fx
      const resources = yield* client.listResources
      assert.deepStrictEqual(
        resources.map((r) => [r.uri, r.name, r.mimeType]),
        [["memo://notes", "notes", "text/plain"]]
      )
      const read = yield* client.readResource("memo://notes")
      assert.deepStrictEqual(read.contents.map(McpContent.resourceValue), ["buy milk"])
      const prompts = yield* client.listPrompts
      assert.deepStrictEqual(
        prompts.map((p) => [p.name, p.arguments?.map((a) => a.name)]),
        [["greet", ["name"]]]
      )
      const prompt = yield* client.getPrompt("greet", { name: "Ada" })
      const messages = McpContent.promptMessages(prompt)
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
      assert.deepStrictEqual(
        partsOf(messages, "UserPromptPart").map((p) => p.content),
        ["Say hello to Ada.", "Again, louder."]
      )
      assert.strictEqual(partsOf(messages, "TextPart")[0]!.content, "Hello, Ada!")
      const error = yield* Effect.flip(client.readResource("memo://missing"))
      assert.strictEqual(error.operation, "readResource")
      assert.strictEqual(error.target, "memo://missing")
      assert.strictEqual(error.server, "fixture")
    })
  )
})

describe("McpClient over stdio", () => {
  it.effect("a server crash mid-call fails the run with McpError; the messages are kept", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "crashy", stderr: "ignore" })
      const agent = Agent.make({ toolsets: [fx] })
      const { exit, messages } = yield* CaptureRunMessages.capture(
        agent
          .run("crash")
          .pipe(
            Effect.provide(
              scripted([
                () => FunctionModel.toolCall("crash"),
                () => FunctionModel.text("unreached")
              ])
            )
          )
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? (exit.cause as any).error : undefined
      assert.strictEqual(error?._tag, "McpError")
      assert.strictEqual(error.server, "crashy")
      assert.strictEqual(error.operation, "callTool")
      assert.strictEqual(error.target, "crash")
      assert.isTrue(error.isConnectionClosed)
      assert.deepStrictEqual(
        partsOf(messages, "ToolCallPart").map((p) => p.toolName),
        ["crash"]
      )
      assert.deepStrictEqual(
        partsOf(messages, "UserPromptPart").map((p) => p.content),
        ["crash"]
      )
      // later calls fail the same typed way
      const again = yield* Effect.flip(fx.client.callTool("echo", { text: "x" }))
      assert.isTrue(again.isConnectionClosed)
    }).pipe(Effect.scoped)
  )

  it.effect("the server process stops when the scope closes", () =>
    Effect.gen(function* () {
      const pid = yield* Effect.scoped(
        Effect.map(McpClient.stdio(fixtureServer), (c) => (c.sdk.transport as any).pid as number)
      )
      assert.isAbove(pid, 0)
      assert.throws(() => process.kill(pid, 0))
    })
  )

  it.effect("a command that does not start is a typed connect error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(McpClient.stdio({ command: "/nonexistent/mcp-server" }))
      )
      assert.strictEqual(error._tag, "McpError")
      assert.strictEqual(error.operation, "connect")
      assert.strictEqual(error.server, "/nonexistent/mcp-server")
    })
  )

  it.effect("sampling: the server's createMessage is answered by an agentfx model", () =>
    Effect.gen(function* () {
      const seen: Array<{ messages: ReadonlyArray<Messages.ModelMessage>; maxTokens?: number }> = []
      const model = yield* FunctionModel.make(
        (messages, info) => {
          seen.push({
            messages,
            ...(info.modelSettings.maxTokens !== undefined
              ? { maxTokens: info.modelSettings.maxTokens }
              : {})
          })
          return FunctionModel.text("Paris")
        },
        { modelName: "sampler" }
      )
      const client = yield* McpClient.stdio({ ...fixtureServer, sampling: model })
      const result = yield* client.callTool("ask_model", { question: "Capital of France?" })
      assert.deepStrictEqual(result.content, [{ type: "text", text: "model sampler said: Paris" }])
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0]!.maxTokens, 20)
      const request = seen[0]!.messages[0] as Messages.ModelRequest
      assert.deepStrictEqual(
        request.parts.map((p) => [p._tag, (p as any).content]),
        [
          ["SystemPromptPart", "You answer in one word."],
          ["UserPromptPart", "Capital of France?"]
        ]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("elicitation: the server's question goes to the handler", () =>
    Effect.gen(function* () {
      const asked: Array<string> = []
      const client = yield* McpClient.stdio({
        ...fixtureServer,
        elicitation: (request) =>
          Effect.sync(() => {
            asked.push(request.message)
            return { action: "accept", content: { name: "Ada" } }
          })
      })
      const result = yield* client.callTool("ask_user", {})
      assert.deepStrictEqual(result.content, [{ type: "text", text: "hi Ada" }])
      assert.deepStrictEqual(asked, ["Your name?"])
      // without handlers the client offers neither capability
      const plain = yield* McpClient.stdio(fixtureServer)
      const refused = yield* plain.callTool("ask_user", {})
      assert.isTrue(refused.isError)
    }).pipe(Effect.scoped)
  )

  it.effect(
    'elicitation "defer": the question stops the run as an approval; the answer resumes it',
    () =>
      Effect.gen(function* () {
        const fx = yield* McpToolset.stdio({
          ...fixtureServer,
          name: "fixture",
          elicitation: "defer"
        })
        const agent = Agent.make({ toolsets: [fx] })
        const model = scripted([
          () => FunctionModel.toolCall("ask_user", {}, "call_ask"),
          (ms) => FunctionModel.text(`Tool said: ${partsOf(ms, "ToolReturnPart")[0]!.contentText}`)
        ])
        const first = yield* agent.run("Greet me").pipe(Effect.provide(model))
        const requests = first.output
        assert.isTrue(DeferredTools.isDeferredToolRequests(requests))
        if (!DeferredTools.isDeferredToolRequests(requests)) return
        assert.deepStrictEqual(
          requests.approvals.map((c) => [c.toolName, c.toolCallId]),
          [["ask_user", "call_ask"]]
        )
        assert.deepStrictEqual(requests.calls, [])
        assert.deepStrictEqual(requests.metadata.call_ask, {
          mcp: { server: "fixture", name: "ask_user" },
          elicitation: {
            mode: "form",
            message: "Your name?",
            requestedSchema: {
              type: "object",
              properties: { name: { type: "string" } },
              required: ["name"]
            }
          }
        } satisfies McpToolset.ElicitationRequest)

        // the user answers: the tool is called again and the server's question gets the answer
        const accepted = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({
              approveAll: true,
              metadata: {
                call_ask: McpToolset.elicitationAnswer({
                  action: "accept",
                  content: { name: "Ada" }
                })
              }
            })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(accepted.output, "Tool said: hi Ada")

        // declining is an answer too; denying the call does not call the tool at all
        const declined = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({
              approveAll: true,
              metadata: { call_ask: McpToolset.elicitationAnswer({ action: "decline" }) }
            })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(declined.output, "Tool said: decline")
        const denied = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({
              approvals: { call_ask: new DeferredTools.ToolDenied({ message: "Not now." }) }
            })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(denied.output, "Tool said: Not now.")

        // approved without an answer: the server asks again, the run stops again
        const again = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({ approveAll: true })
          })
          .pipe(Effect.provide(model))
        assert.isTrue(DeferredTools.isDeferredToolRequests(again.output))

        // a tool that does not elicit is not affected
        const plain = yield* fx.client.callTool("add", { a: 1, b: 2 })
        assert.deepStrictEqual(plain.content, [{ type: "text", text: "3" }])
      }).pipe(Effect.scoped)
  )

  it.effect("a Model service can be taken from the context for sampling", () =>
    Effect.gen(function* () {
      const client = yield* McpClient.stdio({ ...fixtureServer, sampling: yield* Model.Model })
      const result = yield* client.callTool("ask_model", { question: "Color of the sky?" })
      assert.match(JSON.stringify(result.content), /said: blue/)
    }).pipe(Effect.scoped, Effect.provide(FunctionModel.layer(() => FunctionModel.text("blue"))))
  )
})
