import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, RunContext, TestModel, Tool, Toolset } from "@agentfx/core"

const tool = (name: string) =>
  Tool.make(name, {
    description: `the ${name} tool`,
    parameters: Schema.Struct({}),
    handler: () => Effect.succeed(`${name} ran`)
  })

const offeredTools = Effect.gen(function* () {
  const test = yield* TestModel.TestModel
  const requests = yield* test.requests
  return requests.map((r) => r.parameters.functionTools.map((t) => t.name))
})

describe("Toolset", () => {
  it.effect("combine + prefix: prefixed names are offered and called", () =>
    Effect.gen(function* () {
      const math = Toolset.fromTools([tool("add")]).pipe(Toolset.prefix("math"))
      const agent = Agent.make({
        toolsets: [Toolset.combine(math, Toolset.fromTools([tool("search")]))]
      })
      const result = yield* agent.run("go")
      assert.deepStrictEqual((yield* offeredTools)[0], ["math_add", "search"])
      assert.strictEqual(result.output, '{"math_add":"add ran","search":"search ran"}')
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("duplicate tool names are a clear UserError", () =>
    Effect.gen(function* () {
      const agent = Agent.make({ tools: [tool("a")], toolsets: [Toolset.fromTools([tool("a")])] })
      const error = yield* Effect.flip(agent.run("go"))
      assert.strictEqual(error._tag, "UserError")
      if (error._tag === "UserError") assert.match(error.reason, /'a' is defined more than once/)
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("filter and prepare run per step: hide after the first step, edit a description", () =>
    Effect.gen(function* () {
      const ts = Toolset.fromTools([tool("once"), tool("always")]).pipe(
        Toolset.filter((ctx, def) => def.name !== "once" || ctx.runStep === 1),
        Toolset.prepare((defs) =>
          Effect.map(RunContext.RunContext, (ctx) =>
            defs.map(
              (d) =>
                new Tool.ToolDefinition({
                  ...d,
                  description: `${d.description} (step ${ctx.runStep})`
                })
            )
          )
        )
      )
      yield* Agent.make({ toolsets: [ts] }).run("go")
      assert.deepStrictEqual(yield* offeredTools, [["once", "always"], ["always"]])
      const test = yield* TestModel.TestModel
      const second = (yield* test.requests)[1]!
      assert.strictEqual(
        second.parameters.functionTools[0]!.description,
        "the always tool (step 2)"
      )
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("a tool's own prepare can hide it", () =>
    Effect.gen(function* () {
      const hidden = Tool.make("hidden", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("x"),
        prepare: () => Effect.succeed(undefined)
      })
      yield* Agent.make({ tools: [hidden, tool("shown")] }).run("go")
      assert.deepStrictEqual((yield* offeredTools)[0], ["shown"])
    }).pipe(Effect.provide(TestModel.layer()))
  )
})
