/**
 * `McpServer` from a client's side: every kind of value a tool returns, every kind of failure,
 * and tools that need a person's approval.
 */
import { AgentError, Messages, Tool } from "@agentfx/core"
import { McpClient, McpServer } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { PNG_BASE64, WAV_BASE64 } from "./fixtures/server.js"

class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { id: Schema.String }) {}

const served = (options: McpServer.Options<never>, client: McpClient.Options = {}) =>
  Effect.gen(function* () {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const server = yield* McpServer.make(options)
    yield* McpServer.connect(server, serverSide)
    return yield* McpClient.connect(() => clientSide, { label: "served", ...client })
  })

const none = Schema.Struct({})

describe("McpServer results and failures", () => {
  it.scoped("strings, objects, arrays, images, audio and files", () =>
    Effect.gen(function* () {
      const png = new Messages.BinaryContent({
        data: Buffer.from(PNG_BASE64, "base64"),
        mediaType: "image/png"
      })
      const wav = new Messages.BinaryContent({
        data: Buffer.from(WAV_BASE64, "base64"),
        mediaType: "audio/wav"
      })
      const tools = [
        Tool.make("text", { parameters: none, handler: () => Effect.succeed("plain") }),
        Tool.make("object", { parameters: none, handler: () => Effect.succeed({ a: 1 }) }),
        Tool.make("list", { parameters: none, handler: () => Effect.succeed([1, "two"]) }),
        Tool.make("image", { parameters: none, handler: () => Effect.succeed(png) }),
        Tool.make("mixed", { parameters: none, handler: () => Effect.succeed(["see:", png, wav]) }),
        Tool.make("nothing", { parameters: none, handler: () => Effect.void })
      ]
      const client = yield* served({ name: "kinds", tools })
      const call = (name: string) => client.callTool(name, {})
      assert.deepStrictEqual(yield* call("text"), { content: [{ type: "text", text: "plain" }] })
      assert.deepStrictEqual(yield* call("object"), {
        content: [{ type: "text", text: '{"a":1}' }],
        structuredContent: { a: 1 }
      })
      assert.deepStrictEqual((yield* call("list")).content, [{ type: "text", text: '[1,"two"]' }])
      assert.deepStrictEqual((yield* call("image")).content, [
        { type: "image", data: PNG_BASE64, mimeType: "image/png" }
      ])
      assert.deepStrictEqual((yield* call("mixed")).content, [
        { type: "text", text: "see:" },
        { type: "image", data: PNG_BASE64, mimeType: "image/png" },
        { type: "audio", data: WAV_BASE64, mimeType: "audio/wav" }
      ])
      const nothing = yield* call("nothing")
      assert.isUndefined(nothing.isError)
    })
  )

  it.scoped(
    "ModelRetry, ToolFailed, typed failures and defects are isError results with a reason",
    () =>
      Effect.gen(function* () {
        const tools = [
          Tool.make("retry", {
            parameters: none,
            handler: () => Effect.fail(new AgentError.ModelRetry({ reason: "try 42" }))
          }),
          Tool.make("failed", {
            parameters: none,
            handler: () => Effect.fail(new AgentError.ToolFailed({ reason: "disk full" }))
          }),
          Tool.make("typed", {
            parameters: none,
            handler: () => Effect.fail(new NotFound({ id: "x7" }))
          }),
          Tool.make("text", { parameters: none, handler: () => Effect.fail("plain failure") }),
          Tool.make("defect", { parameters: none, handler: () => Effect.die(new Error("bug")) })
        ]
        const client = yield* served({ name: "failures", tools })
        const text = (name: string) =>
          Effect.map(client.callTool(name, {}), (r) => {
            assert.isTrue(r.isError, name)
            return (r.content[0] as { text: string }).text
          })
        assert.strictEqual(yield* text("retry"), "try 42")
        assert.strictEqual(yield* text("failed"), "disk full")
        assert.include(yield* text("typed"), "NotFound")
        assert.include(yield* text("typed"), "x7")
        assert.strictEqual(yield* text("text"), "plain failure")
        assert.strictEqual(yield* text("defect"), "The tool failed unexpectedly.")
      })
  )
})

describe("McpServer tools that need approval", () => {
  it.scoped("the client's user is asked first; only an accepted answer runs the tool", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const remove = Tool.make("remove", {
        parameters: Schema.Struct({ path: Schema.String }),
        requiresApproval: true,
        handler: ({ path }) =>
          Effect.sync(() => {
            ran.push(path)
            return `removed ${path}`
          })
      })
      const asked: Array<string> = []
      const answers: Array<"accept" | "decline" | "cancel"> = ["accept", "decline", "cancel"]
      const client = yield* served(
        { name: "files", tools: [remove] },
        {
          elicitation: (request) =>
            Effect.sync(() => {
              asked.push(request.message)
              return { action: answers.shift()! }
            })
        }
      )
      const call = (path: string) => client.callTool("remove", { path })
      assert.deepStrictEqual((yield* call("a.txt")).content, [
        { type: "text", text: "removed a.txt" }
      ])
      const declined = yield* call("b.txt")
      assert.isTrue(declined.isError)
      assert.match((declined.content[0] as { text: string }).text, /did not approve.*decline/)
      const cancelled = yield* call("c.txt")
      assert.isTrue(cancelled.isError)
      assert.deepStrictEqual(ran, ["a.txt"])
      assert.deepStrictEqual(asked, [
        `Allow the tool 'remove' to run with {"path":"a.txt"}?`,
        `Allow the tool 'remove' to run with {"path":"b.txt"}?`,
        `Allow the tool 'remove' to run with {"path":"c.txt"}?`
      ])

      // a client that cannot ask gets an error result, and the tool does not run
      const plain = yield* served({ name: "files", tools: [remove] })
      const refused = yield* plain.callTool("remove", { path: "d.txt" })
      assert.isTrue(refused.isError)
      assert.match((refused.content[0] as { text: string }).text, /needs the user's approval/)
      assert.deepStrictEqual(ran, ["a.txt"])
    })
  )
})
