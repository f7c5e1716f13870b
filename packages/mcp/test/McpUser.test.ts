/**
 * The package from a user's side: a run whose tools change under it, results of every kind
 * through both call paths (`start` and `call`), retries running out, pagination, sampling and
 * elicitation details. Each test starts its own fixture server (stdio) or uses an in-memory one.
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  DeferredTools,
  FunctionModel,
  Messages,
  Toolset
} from "@agentfx/core"
import { McpClient, McpToolset } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import {
  CallToolRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestServices from "effect/TestServices"
import { fixtureServer, partsOf, pollUntil, scripted } from "./support/scripted.js"

/** The same toolset without `start`: every call through `call` (as with tool hooks). */
const effectPath = (toolset: Toolset.Toolset<any, any>) =>
  Toolset.make((ctx) =>
    Effect.map(toolset.tools(ctx), (ts) => ts.map((t) => ({ ...t, start: undefined })))
  )

describe("a run whose server's tool list changes", () => {
  it.effect("a tool added by a call is offered at the very next step", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture" })
      const offered: Array<ReadonlyArray<string>> = []
      const result = yield* Agent.make({ toolsets: [fx] })
        .run("add a tool, then use it")
        .pipe(
          Effect.provide(
            FunctionModel.layer((messages, info) => {
              offered.push(info.functionTools.map((t) => t.name))
              const turn = messages.filter((m) => m._tag === "ModelResponse").length
              return turn === 0
                ? FunctionModel.toolCall("add_tool", { name: "fresh" })
                : turn === 1
                  ? FunctionModel.toolCall("fresh")
                  : FunctionModel.text("done")
            })
          )
        )
      assert.notInclude(offered[0]!, "fresh")
      assert.include(offered[1]!, "fresh")
      assert.deepStrictEqual(
        partsOf(result.allMessages(), "ToolReturnPart").map((p) => p.content),
        ["added fresh", "hello from fresh"]
      )
      assert.deepStrictEqual(partsOf(result.allMessages(), "RetryPromptPart"), [])
    }).pipe(Effect.scoped)
  )

  it.effect("a tool removed by a call is no longer offered at the next step", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture" })
      yield* fx.client.callTool("add_tool", { name: "doomed" })
      const offered: Array<ReadonlyArray<string>> = []
      yield* Agent.make({ toolsets: [fx] })
        .run("remove a tool")
        .pipe(
          Effect.provide(
            FunctionModel.layer((messages, info) => {
              offered.push(info.functionTools.map((t) => t.name))
              const turn = messages.filter((m) => m._tag === "ModelResponse").length
              return turn === 0
                ? FunctionModel.toolCall("remove_tool", { name: "doomed" })
                : FunctionModel.text("done")
            })
          )
        )
      assert.include(offered[0]!, "doomed")
      assert.notInclude(offered[1]!, "doomed")
    }).pipe(Effect.scoped)
  )
})

describe("results through both call paths", () => {
  it.effect("a resource link that cannot be read fails the run with the McpError either way", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture" })
      const run = (toolset: Toolset.Toolset<any, any>) =>
        CaptureRunMessages.capture(
          Agent.make({ toolsets: [toolset] })
            .run("link")
            .pipe(
              Effect.provide(
                scripted([
                  () => FunctionModel.toolCall("broken_link"),
                  () => FunctionModel.text("x")
                ])
              )
            )
        )
      for (const toolset of [fx, effectPath(fx)]) {
        const { exit, messages } = yield* run(toolset)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? (exit.cause as any).error : undefined
        assert.strictEqual(error?._tag, "McpError")
        assert.strictEqual(error.operation, "readResource")
        assert.strictEqual(error.target, "memo://missing")
        assert.strictEqual(error.server, "fixture")
        assert.strictEqual(
          error.message,
          "MCP server 'fixture': readResource 'memo://missing' failed (code -32602): Resource memo://missing not found"
        )
        assert.deepStrictEqual(
          partsOf(messages, "ToolCallPart").map((p) => p.toolName),
          ["broken_link"]
        )
      }
    }).pipe(Effect.scoped)
  )

  it.effect("embedded text, empty content and retries running out: the same on both paths", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture", maxRetries: 1 })
      const run = (toolset: Toolset.Toolset<any, any>) =>
        Effect.gen(function* () {
          const ok = yield* Agent.make({ toolsets: [toolset] })
            .run("kinds")
            .pipe(
              Effect.provide(
                scripted([
                  () =>
                    FunctionModel.toolCalls([
                      { toolName: "embedded_text", toolCallId: "t" },
                      { toolName: "nothing", toolCallId: "n" }
                    ]),
                  () => FunctionModel.text("ok")
                ])
              )
            )
          const returns = partsOf(ok.allMessages(), "ToolReturnPart").map((p) => [
            p.toolCallId,
            p.content,
            p.outcome
          ])
          const exhausted = yield* Agent.make({ toolsets: [toolset] })
            .run("divide")
            .pipe(
              Effect.provide(scripted([() => FunctionModel.toolCall("divide", { a: 1, b: 0 })])),
              Effect.flip
            )
          return { returns, exhausted }
        })
      const viaStart = yield* run(fx)
      const viaCall = yield* run(effectPath(fx))
      assert.deepStrictEqual(viaStart.returns, [
        ["t", "inline text", "success"],
        ["n", "", "success"]
      ])
      assert.deepStrictEqual(viaCall.returns, viaStart.returns)
      assert.strictEqual(viaStart.exhausted._tag, viaCall.exhausted._tag)
      assert.strictEqual(
        (viaStart.exhausted as { message: string }).message,
        (viaCall.exhausted as { message: string }).message
      )
      assert.match((viaStart.exhausted as { message: string }).message, /divide/)
    }).pipe(Effect.scoped)
  )
})

/**
 * A low-level SDK server on an in-memory transport: every list in pages of two, a `sample` and
 * an `elicit` tool passing their `params` argument on to the client as is (the answer comes
 * back as JSON text), and a `plain` tool.
 */
const pagedServer = (clientOptions: McpClient.Options = {}) =>
  Effect.gen(function* () {
    const server = new Server(
      { name: "paged", version: "1.0.0" },
      { capabilities: { tools: {}, resources: {}, prompts: {} } }
    )
    const page = <A>(items: ReadonlyArray<A>, cursor: string | undefined) => {
      const start = cursor === undefined ? 0 : Number(cursor)
      const next = start + 2
      return {
        items: items.slice(start, next),
        ...(next < items.length ? { nextCursor: String(next) } : {})
      }
    }
    const tools = ["sample", "elicit", "plain", "t4", "t5"].map((name) => ({
      name,
      inputSchema: { type: "object" as const, properties: {} }
    }))
    const resources = Array.from({ length: 5 }, (_, i) => ({ uri: `memo://r${i}`, name: `r${i}` }))
    const templates = Array.from({ length: 3 }, (_, i) => ({
      uriTemplate: `memo://t${i}/{id}`,
      name: `t${i}`
    }))
    const prompts = Array.from({ length: 3 }, (_, i) => ({ name: `p${i}` }))
    const cursors: Array<string | undefined> = []
    server.setRequestHandler(ListToolsRequestSchema, (r) => {
      cursors.push(r.params?.cursor)
      const p = page(tools, r.params?.cursor)
      return { tools: p.items, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) }
    })
    server.setRequestHandler(ListResourcesRequestSchema, (r) => {
      const p = page(resources, r.params?.cursor)
      return { resources: p.items, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) }
    })
    server.setRequestHandler(ListResourceTemplatesRequestSchema, (r) => {
      const p = page(templates, r.params?.cursor)
      return { resourceTemplates: p.items, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) }
    })
    server.setRequestHandler(ListPromptsRequestSchema, (r) => {
      const p = page(prompts, r.params?.cursor)
      return { prompts: p.items, ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) }
    })
    server.setRequestHandler(CallToolRequestSchema, async (r) => {
      const args = (r.params.arguments ?? {}) as { params?: any }
      const text = async (f: () => Promise<unknown>) => {
        try {
          return { content: [{ type: "text" as const, text: JSON.stringify(await f()) }] }
        } catch (e) {
          return {
            content: [{ type: "text" as const, text: `failed: ${(e as Error).message}` }],
            isError: true
          }
        }
      }
      switch (r.params.name) {
        case "sample":
          return text(() => server.createMessage(args.params))
        case "elicit":
          return text(() => server.elicitInput(args.params))
        default:
          return { content: [{ type: "text" as const, text: `called ${r.params.name}` }] }
      }
    })
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    yield* Effect.acquireRelease(
      Effect.promise(() => server.connect(serverSide)),
      () => Effect.promise(() => server.close())
    )
    const client = yield* McpClient.connect(() => clientSide, { label: "paged", ...clientOptions })
    return { client, cursors }
  })

describe("pagination", () => {
  it.scoped("every list is read to its last page; a toolset offers every page's tools", () =>
    Effect.gen(function* () {
      const { client, cursors } = yield* pagedServer()
      assert.deepStrictEqual(
        (yield* client.listTools).map((t) => t.name),
        ["sample", "elicit", "plain", "t4", "t5"]
      )
      assert.deepStrictEqual(cursors, [undefined, "2", "4"])
      assert.deepStrictEqual(
        (yield* client.listResources).map((r) => r.uri),
        ["memo://r0", "memo://r1", "memo://r2", "memo://r3", "memo://r4"]
      )
      assert.deepStrictEqual(
        (yield* client.listResourceTemplates).map((t) => t.name),
        ["t0", "t1", "t2"]
      )
      assert.deepStrictEqual(
        (yield* client.listPrompts).map((p) => p.name),
        ["p0", "p1", "p2"]
      )
      const toolset = yield* McpToolset.fromClient(client, { prefix: "pg" })
      assert.deepStrictEqual(
        (yield* toolset.current).map((d) => d.name),
        ["pg_sample", "pg_elicit", "pg_plain", "pg_t4", "pg_t5"]
      )
      const result = yield* Agent.make({ toolsets: [toolset] })
        .run("t5")
        .pipe(
          Effect.provide(
            scripted([() => FunctionModel.toolCall("pg_t5"), () => FunctionModel.text("ok")])
          )
        )
      assert.strictEqual(partsOf(result.allMessages(), "ToolReturnPart")[0]!.content, "called t5")
    })
  )
})

describe("sampling", () => {
  const png =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
  const sampleThrough = (client: McpClient.McpClient, params: unknown) =>
    Effect.map(client.callTool("sample", { params }), (r) => {
      const text = (r.content[0] as { text: string }).text
      return r.isError === true ? { failed: text } : JSON.parse(text)
    })

  it.scoped(
    "an agentfx model gets the messages, system prompt and settings; answers in MCP terms",
    () =>
      Effect.gen(function* () {
        const seen: Array<{
          messages: ReadonlyArray<Messages.ModelMessage>
          info: FunctionModel.AgentInfo
        }> = []
        const model = yield* FunctionModel.make(
          (messages, info) => {
            seen.push({ messages, info })
            return seen.length === 1
              ? FunctionModel.text("A red dot.")
              : new Messages.ModelResponse({
                  parts: [new Messages.TextPart({ content: "cut sh" })],
                  finishReason: "length"
                })
          },
          { modelName: "vision-1" }
        )
        const { client } = yield* pagedServer({ sampling: model })
        const answer = yield* sampleThrough(client, {
          systemPrompt: "Describe images.",
          messages: [
            { role: "user", content: { type: "text", text: "What is this?" } },
            { role: "user", content: { type: "image", data: png, mimeType: "image/png" } },
            { role: "assistant", content: { type: "text", text: "Which one?" } },
            { role: "user", content: [{ type: "text", text: "The first." }] }
          ],
          maxTokens: 50,
          temperature: 0.2,
          stopSequences: ["END"],
          modelPreferences: { hints: [{ name: "claude" }], speedPriority: 1 }
        })
        assert.deepStrictEqual(answer, {
          role: "assistant",
          content: { type: "text", text: "A red dot." },
          model: "vision-1",
          stopReason: "endTurn"
        })
        const { messages, info } = seen[0]!
        assert.deepStrictEqual(
          messages.map((m) => [m._tag, m.parts.map((p) => p._tag)]),
          [
            ["ModelRequest", ["SystemPromptPart", "UserPromptPart", "UserPromptPart"]],
            ["ModelResponse", ["TextPart"]],
            ["ModelRequest", ["UserPromptPart"]]
          ]
        )
        const first = messages[0] as Messages.ModelRequest
        assert.strictEqual(
          (first.parts[0] as Messages.SystemPromptPart).content,
          "Describe images."
        )
        assert.strictEqual((first.parts[1] as Messages.UserPromptPart).content, "What is this?")
        const image = (first.parts[2] as Messages.UserPromptPart).content as ReadonlyArray<any>
        assert.strictEqual(image[0].mediaType, "image/png")
        assert.strictEqual(image[0].base64, png)
        assert.strictEqual(
          ((messages[1] as Messages.ModelResponse).parts[0] as Messages.TextPart).content,
          "Which one?"
        )
        assert.strictEqual(info.modelSettings.maxTokens, 50)
        assert.strictEqual(info.modelSettings.temperature, 0.2)
        assert.deepStrictEqual(info.modelSettings.stopSequences, ["END"])
        assert.deepStrictEqual(info.functionTools, [])

        const cut = yield* sampleThrough(client, {
          messages: [{ role: "user", content: { type: "text", text: "Say a lot" } }],
          maxTokens: 2
        })
        assert.strictEqual(cut.stopReason, "maxTokens")
        assert.deepStrictEqual(cut.content, { type: "text", text: "cut sh" })
      })
  )

  it.scoped(
    "with tools: the model's calls are tool_use blocks; results go back as tool returns",
    () =>
      Effect.gen(function* () {
        const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
        const model = yield* FunctionModel.make((messages, info) => {
          seen.push(messages)
          return seen.length === 1
            ? FunctionModel.toolCall(info.functionTools[0]!.name, { city: "Oslo" }, "u1")
            : FunctionModel.text("Sunny.")
        })
        const { client } = yield* pagedServer({ sampling: model })
        const tools = [
          {
            name: "weather",
            description: "Weather in a city",
            inputSchema: { type: "object", properties: { city: { type: "string" } } }
          }
        ]
        const call = yield* sampleThrough(client, {
          messages: [{ role: "user", content: { type: "text", text: "Weather in Oslo?" } }],
          maxTokens: 100,
          tools
        })
        assert.deepStrictEqual(call.content, [
          { type: "tool_use", id: "u1", name: "weather", input: { city: "Oslo" } }
        ])
        assert.strictEqual(call.stopReason, "toolUse")
        const answer = yield* sampleThrough(client, {
          messages: [
            { role: "user", content: { type: "text", text: "Weather in Oslo?" } },
            { role: "assistant", content: call.content },
            {
              role: "user",
              content: [
                {
                  type: "tool_result",
                  toolUseId: "u1",
                  content: [{ type: "text", text: "22 and sunny" }]
                }
              ]
            }
          ],
          maxTokens: 100,
          tools
        })
        assert.deepStrictEqual(answer.content, { type: "text", text: "Sunny." })
        const history = seen[1]!
        assert.deepStrictEqual(
          history.map((m) => m.parts.map((p) => p._tag)),
          [["UserPromptPart"], ["ToolCallPart"], ["ToolReturnPart"]]
        )
        const ret = history[2]!.parts[0] as Messages.ToolReturnPart
        assert.deepStrictEqual(
          [ret.toolName, ret.toolCallId, ret.content],
          ["weather", "u1", "22 and sunny"]
        )
      })
  )

  it.scoped(
    "a handler gets the request as sent (model preferences included); a failure is the server's error",
    () =>
      Effect.gen(function* () {
        const got: Array<unknown> = []
        const { client } = yield* pagedServer({
          sampling: (params) =>
            params.maxTokens > 10
              ? Effect.sync(() => {
                  got.push(params.modelPreferences)
                  return {
                    role: "assistant" as const,
                    content: { type: "text" as const, text: "ok" },
                    model: "mine"
                  }
                })
              : Effect.fail("too few tokens")
        })
        const answer = yield* sampleThrough(client, {
          messages: [{ role: "user", content: { type: "text", text: "hi" } }],
          maxTokens: 20,
          modelPreferences: { hints: [{ name: "fast" }], costPriority: 0.9 }
        })
        assert.strictEqual(answer.model, "mine")
        assert.deepStrictEqual(got, [{ hints: [{ name: "fast" }], costPriority: 0.9 }])
        const refused = yield* sampleThrough(client, {
          messages: [{ role: "user", content: { type: "text", text: "hi" } }],
          maxTokens: 5
        })
        assert.match(refused.failed, /too few tokens/)
      })
  )

  it.scoped(
    "a model's failure reaches the server as an error; a client without sampling refuses",
    () =>
      Effect.gen(function* () {
        const model = yield* FunctionModel.make(() =>
          Effect.fail(new AgentError.ModelAPIError({ modelName: "m", reason: "quota exceeded" }))
        )
        const { client } = yield* pagedServer({ sampling: model })
        const failed = yield* sampleThrough(client, {
          messages: [{ role: "user", content: { type: "text", text: "hi" } }],
          maxTokens: 20
        })
        assert.match(failed.failed, /quota exceeded/)
        const { client: plain } = yield* pagedServer()
        const refused = yield* sampleThrough(plain, {
          messages: [{ role: "user", content: { type: "text", text: "hi" } }],
          maxTokens: 20
        })
        assert.isDefined(refused.failed)
      })
  )
})

describe("elicitation", () => {
  it.scoped(
    "a toolset's handler answers while the call waits; the tool's result reaches the model",
    () =>
      Effect.gen(function* () {
        const asked: Array<unknown> = []
        const fx = yield* McpToolset.stdio({
          ...fixtureServer,
          elicitation: (request) =>
            Effect.sync(() => {
              asked.push(request)
              return { action: "accept" as const, content: { name: "Grace" } }
            })
        })
        const result = yield* Agent.make({ toolsets: [fx] })
          .run("who am I")
          .pipe(
            Effect.provide(
              scripted([() => FunctionModel.toolCall("ask_user"), () => FunctionModel.text("ok")])
            )
          )
        assert.strictEqual(partsOf(result.allMessages(), "ToolReturnPart")[0]!.content, "hi Grace")
        assert.deepStrictEqual(asked, [
          {
            mode: "form",
            message: "Your name?",
            requestedSchema: {
              type: "object",
              properties: { name: { type: "string" } },
              required: ["name"]
            }
          }
        ])
      }).pipe(Effect.scoped)
  )

  it.scoped("decline and cancel from a handler reach the server", () =>
    Effect.gen(function* () {
      const answers: Array<"decline" | "cancel"> = ["decline", "cancel"]
      const { client } = yield* pagedServer({
        elicitation: () => Effect.sync(() => ({ action: answers.shift()! }))
      })
      const ask = Effect.map(
        client.callTool("elicit", {
          params: {
            message: "Email?",
            requestedSchema: { type: "object", properties: { email: { type: "string" } } }
          }
        }),
        (r) => JSON.parse((r.content[0] as { text: string }).text)
      )
      assert.deepStrictEqual(yield* ask, { action: "decline" })
      assert.deepStrictEqual(yield* ask, { action: "cancel" })
    })
  )
})

describe("time limits, interruption and crashes on both call paths", () => {
  const stats = (fx: McpToolset.McpToolset) =>
    Effect.map(
      fx.client.callTool("stats", {}),
      (r) => r.structuredContent as { started: number; cancelled: Array<string> }
    )

  it.scoped(
    "interrupting a run cancels its calls on the server, through `call` as through `start`",
    () =>
      Effect.gen(function* () {
        const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture" })
        for (const [toolset, tag] of [
          [fx, "via-start"],
          [effectPath(fx), "via-call"]
        ] as const) {
          const before = (yield* stats(fx)).started
          const run = yield* Agent.make({ toolsets: [toolset] })
            .run("wait")
            .pipe(
              Effect.provide(
                scripted([
                  () =>
                    FunctionModel.toolCalls([
                      { toolName: "slow", args: { tag: `${tag}-1` } },
                      { toolName: "slow", args: { tag: `${tag}-2` } }
                    ])
                ])
              ),
              Effect.fork
            )
          yield* pollUntil(stats(fx), (s) => s.started >= before + 2)
          yield* Fiber.interrupt(run)
          const after = yield* pollUntil(
            stats(fx),
            (s) => s.cancelled.includes(`${tag}-1`) && s.cancelled.includes(`${tag}-2`)
          )
          assert.includeMembers(after.cancelled, [`${tag}-1`, `${tag}-2`])
        }
      }).pipe(TestServices.provideLive)
  )

  it.scoped("the agent's toolTimeout: a retry prompt and the call cancelled, on both paths", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture" })
      for (const [toolset, tag] of [
        [fx, "agent-timeout-start"],
        [effectPath(fx), "agent-timeout-call"]
      ] as const) {
        const result = yield* Agent.make({ toolsets: [toolset], toolTimeout: "300 millis" })
          .run("slow")
          .pipe(
            Effect.provide(
              scripted([
                () => FunctionModel.toolCall("slow", { tag }),
                () => FunctionModel.text("too slow")
              ])
            )
          )
        const [retry] = partsOf(result.allMessages(), "RetryPromptPart")
        assert.strictEqual(retry!.content, "Timed out after 0.3 seconds.")
        assert.strictEqual(retry!.toolName, "slow")
        assert.strictEqual(result.output, "too slow")
        yield* pollUntil(stats(fx), (s) => s.cancelled.includes(tag))
      }
    }).pipe(TestServices.provideLive)
  )

  it.scoped(
    "an agent's toolTimeout longer than the client's request timeout: the call may use it, on both paths",
    () =>
      Effect.gen(function* () {
        // an in-process server whose `wait` answers after `ms`; the client gives up on a request
        // after 300 ms, the agent allows a tool call 3 s
        const server = new Server(
          { name: "waits", version: "1.0.0" },
          { capabilities: { tools: {} } }
        )
        const cancelled: Array<string> = []
        server.setRequestHandler(ListToolsRequestSchema, () => ({
          tools: [{ name: "wait", inputSchema: { type: "object" as const, properties: {} } }]
        }))
        server.setRequestHandler(
          CallToolRequestSchema,
          (r, extra) =>
            new Promise((resolve) => {
              const { tag, ms } = r.params.arguments as { tag: string; ms: number }
              const timer = setTimeout(
                () => resolve({ content: [{ type: "text" as const, text: `done ${tag}` }] }),
                ms
              )
              extra.signal.addEventListener("abort", () => {
                clearTimeout(timer)
                cancelled.push(tag)
              })
            })
        )
        const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
        yield* Effect.acquireRelease(
          Effect.promise(() => server.connect(serverSide)),
          () => Effect.promise(() => server.close())
        )
        const client = yield* McpClient.connect(() => clientSide, {
          label: "waits",
          timeout: "300 millis"
        })
        const fx = yield* McpToolset.fromClient(client)
        const runWait = (
          toolset: Toolset.Toolset<any, any>,
          tag: string,
          toolTimeout?: Duration.DurationInput
        ) =>
          Agent.make({ toolsets: [toolset], ...(toolTimeout !== undefined ? { toolTimeout } : {}) })
            .run("wait")
            .pipe(
              Effect.provide(
                scripted([
                  () => FunctionModel.toolCall("wait", { tag, ms: 800 }),
                  () => FunctionModel.text("done")
                ])
              )
            )
        for (const [toolset, tag] of [
          [fx, "long-start"],
          [effectPath(fx), "long-call"]
        ] as const) {
          const result = yield* runWait(toolset, tag, "3 seconds")
          const [ret] = partsOf(result.allMessages(), "ToolReturnPart")
          assert.strictEqual(ret!.content, `done ${tag}`, tag)
          assert.deepStrictEqual(partsOf(result.allMessages(), "RetryPromptPart"), [], tag)
          assert.strictEqual(result.output, "done")
        }
        // a tool's own `timeout` is the run's limit for its calls too
        const longTool = Toolset.make((ctx) =>
          Effect.map(fx.tools(ctx), (ts) => ts.map((t) => ({ ...t, timeout: "3 seconds" })))
        )
        const viaTool = yield* runWait(longTool, "long-tool")
        assert.strictEqual(
          partsOf(viaTool.allMessages(), "ToolReturnPart")[0]!.content,
          "done long-tool"
        )
        // with no longer limit in the run the client's timeout still ends the call, on both paths:
        // a typed error, the call cancelled on the server
        for (const [toolset, tag] of [
          [fx, "short-start"],
          [effectPath(fx), "short-call"]
        ] as const) {
          const exit = yield* Effect.exit(runWait(toolset, tag))
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
          const error = failure?._tag === "Some" ? (failure.value as any) : undefined
          assert.strictEqual(error?._tag, "McpError", tag)
          assert.isTrue(error.isTimeout, tag)
          yield* pollUntil(
            Effect.sync(() => cancelled),
            (c) => c.includes(tag)
          )
        }
      }).pipe(TestServices.provideLive)
  )

  it.scoped(
    "a crash with other calls in flight: the run fails with the McpError, messages kept",
    () =>
      Effect.gen(function* () {
        for (const path of ["start", "call"] as const) {
          const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "crashy", stderr: "ignore" })
          const { exit, messages } = yield* CaptureRunMessages.capture(
            Agent.make({ toolsets: [path === "start" ? fx : effectPath(fx)] })
              .run("crash")
              .pipe(
                Effect.provide(
                  scripted([
                    () =>
                      FunctionModel.toolCalls([
                        { toolName: "slow", args: { tag: "bystander" }, toolCallId: "s" },
                        { toolName: "crash", toolCallId: "c" },
                        { toolName: "echo", args: { text: "fast" }, toolCallId: "e" }
                      ]),
                    () => FunctionModel.text("unreached")
                  ])
                )
              )
          )
          assert.isTrue(Exit.isFailure(exit))
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
          const error = failure?._tag === "Some" ? (failure.value as any) : undefined
          assert.strictEqual(error?._tag, "McpError", path)
          assert.strictEqual(error.server, "crashy")
          assert.strictEqual(error.operation, "callTool")
          assert.isTrue(error.isConnectionClosed)
          assert.deepStrictEqual(
            partsOf(messages, "ToolCallPart").map((p) => p.toolCallId),
            ["s", "c", "e"]
          )
        }
      })
  )
})

describe("elicitation through a toolset", () => {
  it.scoped("fromClient with a handler answers the server's questions with it", () =>
    Effect.gen(function* () {
      // the session offers elicitation (its own handler refuses); the toolset's handler answers
      const client = yield* McpClient.stdio({
        ...fixtureServer,
        elicitation: () => Effect.succeed({ action: "decline" as const })
      })
      const fx = yield* McpToolset.fromClient(client, {
        elicitation: () => Effect.succeed({ action: "accept" as const, content: { name: "Lin" } })
      })
      const result = yield* Agent.make({ toolsets: [fx] })
        .run("who am I")
        .pipe(
          Effect.provide(
            scripted([() => FunctionModel.toolCall("ask_user"), () => FunctionModel.text("ok")])
          )
        )
      assert.strictEqual(partsOf(result.allMessages(), "ToolReturnPart")[0]!.content, "hi Lin")
    })
  )

  it.scoped(
    '"defer" with two questions in one response: each call resumes with its own answer',
    () =>
      Effect.gen(function* () {
        const fx = yield* McpToolset.stdio({
          ...fixtureServer,
          name: "fixture",
          elicitation: "defer"
        })
        const agent = Agent.make({ toolsets: [fx] })
        const model = scripted([
          () =>
            FunctionModel.toolCalls([
              { toolName: "ask_user", toolCallId: "a" },
              { toolName: "add", args: { a: 1, b: 2 }, toolCallId: "sum" },
              { toolName: "ask_user", toolCallId: "b" }
            ]),
          (ms) =>
            FunctionModel.text(
              partsOf(ms, "ToolReturnPart")
                .map((p) => `${p.toolCallId}=${p.contentText}`)
                .join(" ")
            )
        ])
        const first = yield* agent.run("twice").pipe(Effect.provide(model))
        const requests = first.output
        if (!DeferredTools.isDeferredToolRequests(requests)) return assert.fail("not deferred")
        assert.deepStrictEqual(
          requests.approvals.map((c) => c.toolCallId),
          ["a", "b"]
        )
        const second = yield* agent
          .run(undefined, {
            messageHistory: first.allMessages(),
            deferredToolResults: requests.buildResults({
              approveAll: true,
              metadata: {
                a: McpToolset.elicitationAnswer({ action: "accept", content: { name: "Ann" } }),
                b: McpToolset.elicitationAnswer({ action: "accept", content: { name: "Bob" } })
              }
            })
          })
          .pipe(Effect.provide(model))
        assert.strictEqual(second.output, "a=hi Ann sum=3 b=hi Bob")
      })
  )
})

describe("a server that changes its tools without announcing listChanged", () => {
  it.scoped("its tools/list_changed is still honoured: the next step offers the new list", () =>
    Effect.gen(function* () {
      // capabilities `tools: {}` (no `listChanged`): the SDK still lets it send the notification
      const server = new Server(
        { name: "quiet", version: "1.0.0" },
        { capabilities: { tools: {} } }
      )
      const tools = [{ name: "grow", inputSchema: { type: "object" as const, properties: {} } }]
      server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }))
      server.setRequestHandler(CallToolRequestSchema, async (r) => {
        if (r.params.name === "grow") {
          tools.push({ name: "grown", inputSchema: { type: "object", properties: {} } })
          await server.sendToolListChanged()
          return { content: [{ type: "text" as const, text: "grew" }] }
        }
        return { content: [{ type: "text" as const, text: `called ${r.params.name}` }] }
      })
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
      yield* Effect.acquireRelease(
        Effect.promise(() => server.connect(serverSide)),
        () => Effect.promise(() => server.close())
      )
      const client = yield* McpClient.connect(() => clientSide, { label: "quiet" })
      assert.isUndefined(client.capabilities?.tools?.listChanged)
      const toolset = yield* McpToolset.fromClient(client)
      const offered: Array<ReadonlyArray<string>> = []
      const result = yield* Agent.make({ toolsets: [toolset] })
        .run("grow")
        .pipe(
          Effect.provide(
            FunctionModel.layer((messages, info) => {
              offered.push(info.functionTools.map((t) => t.name))
              const turn = messages.filter((m) => m._tag === "ModelResponse").length
              return turn === 0
                ? FunctionModel.toolCall("grow")
                : turn === 1
                  ? FunctionModel.toolCall("grown")
                  : FunctionModel.text("done")
            })
          )
        )
      assert.deepStrictEqual(offered.slice(0, 2), [["grow"], ["grow", "grown"]])
      assert.deepStrictEqual(
        partsOf(result.allMessages(), "ToolReturnPart").map((p) => p.content),
        ["grew", "called grown"]
      )
      assert.deepStrictEqual(
        (yield* toolset.current).map((d) => d.name),
        ["grow", "grown"]
      )
    })
  )
})

describe("events of a watched run", () => {
  const watched = [
    ["fx_add", { a: 1, b: 2 }, "add"],
    ["fx_divide", { a: 1, b: 0 }, "div"],
    ["fx_weather", { city: "Rome" }, "wx"],
    ["fx_media", {}, "media"]
  ] as const
  it.scoped("tool call and result events carry each call's part, the same on both paths", () =>
    Effect.gen(function* () {
      const fx = yield* McpToolset.stdio({ ...fixtureServer, name: "fixture", prefix: "fx" })
      const watch = (toolset: Toolset.Toolset<any, any>) =>
        Effect.gen(function* () {
          const events: Array<any> = []
          yield* Agent.make({ toolsets: [toolset] })
            .run("all", { onEvent: (e) => events.push(e) })
            .pipe(
              Effect.provide(
                FunctionModel.layer(undefined, {
                  stream: (messages) =>
                    messages.some((m) => m._tag === "ModelResponse")
                      ? Stream.make("ok")
                      : Stream.make(
                          Object.fromEntries(
                            watched.map((c, i) => [
                              i,
                              { name: c[0], jsonArgs: JSON.stringify(c[1]), toolCallId: c[2] }
                            ])
                          )
                        )
                })
              )
            )
          const calls = events
            .filter((e) => e._tag === "FunctionToolCallEvent")
            .map((e) => [e.part.toolName, e.part.toolCallId])
          const results = events
            .filter((e) => e._tag === "FunctionToolResultEvent")
            .map((e) => ({
              tag: e.result._tag,
              id: e.result.toolCallId,
              name: e.result.toolName,
              content: e.result.content,
              files: e.result._tag === "ToolReturnPart" ? e.result.files.length : undefined
            }))
            .sort((a, b) => a.id.localeCompare(b.id))
          return { calls, results }
        })
      const viaStart = yield* watch(fx)
      const viaCall = yield* watch(effectPath(fx))
      assert.deepStrictEqual(viaStart.calls, [
        ["fx_add", "add"],
        ["fx_divide", "div"],
        ["fx_weather", "wx"],
        ["fx_media", "media"]
      ])
      assert.deepStrictEqual(
        viaStart.results.map((r) => [r.id, r.tag, r.name]),
        [
          ["add", "ToolReturnPart", "fx_add"],
          ["div", "RetryPromptPart", "fx_divide"],
          ["media", "ToolReturnPart", "fx_media"],
          ["wx", "ToolReturnPart", "fx_weather"]
        ]
      )
      assert.strictEqual(viaStart.results[0]!.content, "3")
      assert.strictEqual(viaStart.results[1]!.content, "Cannot divide by zero: pick another b.")
      assert.strictEqual(viaStart.results[2]!.files, 2)
      assert.deepStrictEqual(viaStart.results[3]!.content, {
        city: "Rome",
        celsius: 21,
        sky: "clear"
      })
      assert.deepStrictEqual(viaCall.calls, viaStart.calls)
      assert.deepStrictEqual(
        viaCall.results.map((r) => [r.id, r.tag, r.name, r.files]),
        viaStart.results.map((r) => [r.id, r.tag, r.name, r.files])
      )
    })
  )
})

describe("options a user relies on", () => {
  const packageDir = fileURLToPath(new URL("..", import.meta.url))
  it.scoped("stdio env (Redacted values revealed only to the child) and cwd", () =>
    Effect.gen(function* () {
      const client = yield* McpClient.stdio({
        ...fixtureServer,
        env: { MCP_TOKEN: Redacted.make("t0ken"), MCP_PLAIN: "plain" },
        cwd: packageDir
      })
      const read = (name: string) =>
        Effect.map(client.callTool("env", { name }), (r) =>
          JSON.parse((r.content[0] as { text: string }).text)
        )
      const token = yield* read("MCP_TOKEN")
      assert.strictEqual(token.value, "t0ken")
      assert.strictEqual(realpathSync(token.cwd), realpathSync(packageDir))
      assert.strictEqual((yield* read("MCP_PLAIN")).value, "plain")
      // the rest of this process's environment is not passed on; PATH is
      process.env.MCP_TEST_LEAK = "leak"
      const other = yield* McpClient.stdio(fixtureServer)
      const leak = yield* Effect.map(other.callTool("env", { name: "MCP_TEST_LEAK" }), (r) =>
        JSON.parse((r.content[0] as { text: string }).text)
      )
      delete process.env.MCP_TEST_LEAK
      assert.isNull(leak.value)
      assert.isString((yield* read("PATH")).value)
    })
  )

  it.scoped("two servers side by side with prefixes; include hides a tool from the model", () =>
    Effect.gen(function* () {
      const a = yield* McpToolset.stdio({
        ...fixtureServer,
        prefix: "a",
        include: (t) => t.name === "echo"
      })
      const b = yield* McpToolset.stdio({
        ...fixtureServer,
        prefix: "b",
        include: (t) => t.name !== "crash"
      })
      assert.deepStrictEqual(
        (yield* a.current).map((d) => d.name),
        ["a_echo"]
      )
      assert.notInclude(
        (yield* b.current).map((d) => d.name),
        "b_crash"
      )
      const result = yield* Agent.make({ toolsets: [a, b] })
        .run("both")
        .pipe(
          Effect.provide(
            scripted([
              () =>
                FunctionModel.toolCalls([
                  { toolName: "a_echo", args: { text: "from a" }, toolCallId: "1" },
                  { toolName: "b_echo", args: { text: "from b" }, toolCallId: "2" },
                  { toolName: "a_add", args: { a: 1, b: 1 }, toolCallId: "3" }
                ]),
              () => FunctionModel.text("ok")
            ])
          )
        )
      const parts = (result.allMessages()[2] as Messages.ModelRequest).parts
      assert.deepStrictEqual(
        parts.map((p) => [p._tag, (p as Messages.ToolReturnPart).toolCallId]),
        [
          ["ToolReturnPart", "1"],
          ["ToolReturnPart", "2"],
          ["RetryPromptPart", "3"]
        ]
      )
      assert.deepStrictEqual(
        partsOf(result.allMessages(), "ToolReturnPart").map((p) => p.content),
        ["from a", "from b"]
      )
    })
  )
})
