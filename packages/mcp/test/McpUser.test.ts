/**
 * The package from a user's side: a run whose tools change under it, results of every kind
 * through both call paths (`start` and `call`), retries running out, pagination, sampling and
 * elicitation details. Each test starts its own fixture server (stdio) or uses an in-memory one.
 */
import { Agent, CaptureRunMessages, FunctionModel, Toolset } from "@agentfx/core"
import { McpToolset } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { fixtureServer, partsOf, scripted } from "./support/scripted.js"

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
