/**
 * `McpServer`: agentfx tools and agents served over MCP (the SDK's in-memory transport, a real
 * client on the other end) — listing with JSON Schemas, calls with typed failures as
 * `isError` results, cancellation interrupting the handler, an agentfx agent calling the served
 * tools through `McpToolset`, and a served agent thinking with the client's model through
 * sampling (tools included).
 */
import { Agent, AgentError, FunctionModel, type Messages, Tool } from "@agentfx/core"
import { McpClient, McpServer, McpToolset } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { partsOf } from "./support/scripted.js"

const add = Tool.make("add", {
  description: "Add two numbers",
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed({ sum: a + b })
})
const shout = Tool.make("shout", {
  parameters: Schema.Struct({ text: Schema.String }),
  validate: ({ text }) =>
    text === "" ? Effect.fail(new AgentError.ModelRetry({ reason: "say something" })) : Effect.void,
  handler: ({ text }) => Effect.succeed(text.toUpperCase())
})

/** A served server and a connected SDK client (both closed with the scope). */
const serve = (
  options: McpServer.Options<never>,
  client: (transport: InMemoryTransport) => Effect.Effect<unknown, unknown, Scope.Scope> = (t) =>
    Effect.acquireRelease(
      Effect.promise(async () => {
        const c = new Client({ name: "test", version: "1" })
        await c.connect(t)
        return c
      }),
      (c) => Effect.promise(() => c.close())
    )
) =>
  Effect.gen(function* () {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const server = yield* McpServer.make(options)
    yield* McpServer.connect(server, serverSide)
    return yield* client(clientSide)
  })

const sdkClient = (options: McpServer.Options<never>) =>
  Effect.map(serve(options), (c) => c as Client)

describe("McpServer", () => {
  it.scoped("lists tools and agents with their schemas; calls answer, failures are isError", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ name: "echo", description: "Repeats what you say." })
      const client = yield* sdkClient({
        name: "tools",
        tools: [add, shout],
        agents: [
          {
            agent,
            model: FunctionModel.layer((m) => `echo: ${(m.at(-1) as any).parts[0].content}`)
          }
        ]
      })
      const { tools } = yield* Effect.promise(() => client.listTools())
      assert.deepStrictEqual(
        tools.map((t) => [t.name, t.description]),
        [
          ["add", "Add two numbers"],
          ["shout", undefined],
          ["echo", "Repeats what you say."]
        ]
      )
      assert.deepStrictEqual(tools[0]!.inputSchema.required, ["a", "b"])
      assert.deepStrictEqual(tools[2]!.inputSchema.required, ["prompt"])
      assert.strictEqual(client.getServerVersion()?.name, "tools")

      const sum = yield* Effect.promise(() =>
        client.callTool({ name: "add", arguments: { a: 2, b: 3 } })
      )
      assert.deepStrictEqual(sum.structuredContent, { sum: 5 })
      assert.deepStrictEqual(sum.content, [{ type: "text", text: '{"sum":5}' }])
      assert.isUndefined(sum.isError)

      const loud = yield* Effect.promise(() =>
        client.callTool({ name: "shout", arguments: { text: "hi" } })
      )
      assert.deepStrictEqual(loud.content, [{ type: "text", text: "HI" }])

      const refused = yield* Effect.promise(() =>
        client.callTool({ name: "shout", arguments: { text: "" } })
      )
      assert.deepStrictEqual(refused, {
        content: [{ type: "text", text: "say something" }],
        isError: true
      })

      const bad = yield* Effect.promise(() =>
        client.callTool({ name: "add", arguments: { a: "x" } })
      )
      assert.isTrue(bad.isError)
      assert.match((bad.content as any)[0].text, /a|b/)

      const unknown = yield* Effect.promise(() => client.callTool({ name: "nope", arguments: {} }))
      assert.isTrue(unknown.isError)
      assert.match(
        (unknown.content as any)[0].text,
        /Unknown tool 'nope'\. Tools: add, shout, echo\./
      )

      const answer = yield* Effect.promise(() =>
        client.callTool({ name: "echo", arguments: { prompt: "hello" } })
      )
      assert.deepStrictEqual(answer.content, [{ type: "text", text: "echo: hello" }])
    })
  )

  it.scoped("a duplicated name or a nameless agent is a UserError", () =>
    Effect.gen(function* () {
      const twice = yield* Effect.flip(McpServer.make({ name: "x", tools: [add, add] }))
      assert.match(twice.reason, /'add' is used twice/)
      const nameless = yield* Effect.flip(
        McpServer.make({ name: "x", agents: [{ agent: Agent.make({}) }] })
      )
      assert.match(nameless.reason, /needs `name`/)
    })
  )

  it.scoped("a client's cancellation interrupts the handler", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const slow = Tool.make("slow", {
        parameters: Schema.Struct({}),
        handler: () =>
          Deferred.succeed(started, undefined).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
          )
      })
      const client = yield* sdkClient({ name: "slow", tools: [slow] })
      const abort = new AbortController()
      const call = client.callTool({ name: "slow", arguments: {} }, undefined, {
        signal: abort.signal
      })
      call.catch(() => {})
      yield* Deferred.await(started)
      abort.abort("user left")
      yield* Deferred.await(interrupted)
      const error = yield* Effect.promise(() =>
        call.then(
          () => undefined,
          (e: unknown) => e
        )
      )
      assert.isDefined(error)
    })
  )

  it.scoped("an agentfx agent calls the served tools through McpToolset", () =>
    Effect.gen(function* () {
      const toolset = yield* serve({ name: "math", tools: [add] }, (transport) =>
        Effect.flatMap(
          McpClient.connect(() => transport, { label: "math" }),
          (client) => McpToolset.fromClient(client, { prefix: "math" })
        )
      )
      const agent = Agent.make({ toolsets: [toolset as McpToolset.McpToolset] })
      const model = FunctionModel.layer((messages) => {
        const returns = partsOf(messages, "ToolReturnPart")
        return returns.length === 0
          ? FunctionModel.toolCall("math_add", { a: 20, b: 22 })
          : `the sum is ${(returns[0]!.content as { sum: number }).sum}`
      })
      const result = yield* agent.run("add them").pipe(Effect.provide(model))
      assert.strictEqual(result.output, "the sum is 42")
    })
  )

  it.scoped("a served agent thinks with the client's model through sampling, tools included", () =>
    Effect.gen(function* () {
      const looked: Array<string> = []
      const lookup = Tool.make("lookup", {
        description: "Look a word up",
        parameters: Schema.Struct({ word: Schema.String }),
        handler: ({ word }) =>
          Effect.sync(() => {
            looked.push(word)
            return `${word}: a small owl`
          })
      })
      const researcher = Agent.make({
        name: "research",
        instructions: "Answer from the dictionary.",
        tools: [lookup]
      })
      // The client's model: asks for the tool first, then answers with its result.
      const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
      const clientModel = yield* FunctionModel.make((messages, info) => {
        seen.push(messages)
        const returns = partsOf(messages, "ToolReturnPart")
        if (returns.length === 0) {
          assert.deepStrictEqual(
            info.functionTools.map((t) => t.name),
            ["lookup"]
          )
          return FunctionModel.toolCall("lookup", { word: "owlet" }, "t1")
        }
        return `Found: ${returns[0]!.contentText}`
      })
      const client = yield* serve(
        { name: "research", agents: [{ agent: researcher, model: "sampling" }] },
        (transport) =>
          McpClient.connect(() => transport, { label: "research", sampling: clientModel })
      )
      const result = yield* (client as McpClient.McpClient).callTool("research", {
        prompt: "What is an owlet?"
      })
      assert.deepStrictEqual(result.content, [{ type: "text", text: "Found: owlet: a small owl" }])
      assert.deepStrictEqual(looked, ["owlet"])
      // What the client's model was sent: the instructions as a system prompt, the prompt, then
      // its own tool call and the tool's result.
      assert.strictEqual(seen.length, 2)
      const second = seen[1]!
      assert.deepStrictEqual(
        second.map((m) => m.parts.map((p) => p._tag)),
        [["SystemPromptPart", "UserPromptPart"], ["ToolCallPart"], ["ToolReturnPart"]]
      )
      assert.strictEqual(
        (second[0]!.parts[0] as Messages.SystemPromptPart).content,
        "Answer from the dictionary."
      )
      const ret = second[2]!.parts[0] as Messages.ToolReturnPart
      assert.deepStrictEqual(
        [ret.toolName, ret.toolCallId, ret.content],
        ["lookup", "t1", "owlet: a small owl"]
      )
    })
  )

  it.scoped("without sampling on the client, the served agent answers with an error result", () =>
    Effect.gen(function* () {
      const client = yield* sdkClient({
        name: "research",
        agents: [{ agent: Agent.make({ name: "research" }), model: "sampling" }]
      })
      const result = yield* Effect.promise(() =>
        client.callTool({ name: "research", arguments: { prompt: "hi" } })
      )
      assert.isTrue(result.isError)
      assert.match((result.content as any)[0].text, /sampling\/createMessage/)
    })
  )
})
