/**
 * The package from a user's side: a run whose tools change under it, results of every kind
 * through both call paths (`start` and `call`), retries running out, pagination, sampling and
 * elicitation details. Each test starts its own fixture server (stdio) or uses an in-memory one.
 */
import { Agent, FunctionModel } from "@agentfx/core"
import { McpToolset } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { fixtureServer, partsOf } from "./support/scripted.js"

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
