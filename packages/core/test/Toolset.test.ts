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

describe("Toolset.rename", () => {
  it.effect("offers the new names, calls the renamed tools, leaves the others", () =>
    Effect.gen(function* () {
      const ts = Toolset.fromTools([tool("get_weather"), tool("search")]).pipe(
        Toolset.rename({ lookup: "get_weather" })
      )
      const result = yield* Agent.make({ toolsets: [ts] }).run("go")
      assert.deepStrictEqual((yield* offeredTools)[0], ["lookup", "search"])
      assert.strictEqual(result.output, '{"lookup":"get_weather ran","search":"search ran"}')
      const named = (tag: string) =>
        result
          .allMessages()
          .flatMap((m) =>
            m.parts.flatMap((p) => (p._tag === tag && "toolName" in p ? [p.toolName] : []))
          )
      assert.deepStrictEqual(named("ToolCallPart"), ["lookup", "search"])
      assert.deepStrictEqual(named("ToolReturnPart"), ["lookup", "search"])
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("keeps a fixed toolset fixed, and renames per step after a filter", () =>
    Effect.gen(function* () {
      const fixed = Toolset.fromTools([tool("a"), tool("b")]).pipe(Toolset.rename({ x: "a" }))
      assert.deepStrictEqual(
        fixed.fixed?.map((t) => t.definition.name),
        ["x", "b"]
      )
      const perStep = Toolset.fromTools([tool("a"), tool("b")]).pipe(
        Toolset.filter((ctx, def) => def.name !== "a" || ctx.runStep === 1),
        Toolset.rename({ x: "a" })
      )
      assert.isUndefined(perStep.fixed)
      yield* Agent.make({ toolsets: [perStep] }).run("go")
      assert.deepStrictEqual(yield* offeredTools, [["x", "b"], ["b"]])
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect("a clash with a kept name, or one tool given two names, is a UserError", () =>
    Effect.gen(function* () {
      const clash = Toolset.fromTools([tool("a"), tool("b")]).pipe(Toolset.rename({ b: "a" }))
      const e1 = yield* Effect.flip(Agent.make({ toolsets: [clash] }).run("go"))
      assert.strictEqual(e1._tag, "UserError")
      if (e1._tag === "UserError") assert.match(e1.reason, /'b' is defined more than once/)
      const twice = Toolset.fromTools([tool("a")]).pipe(Toolset.rename({ x: "a", y: "a" }))
      const e2 = yield* Effect.flip(Agent.make({ toolsets: [twice] }).run("go"))
      assert.strictEqual(e2._tag, "UserError")
      if (e2._tag === "UserError") assert.match(e2.reason, /'a' is given two names \('x' and 'y'\)/)
    }).pipe(Effect.provide(TestModel.layer()))
  )
})

describe("Toolset.deferLoading / withMetadata", () => {
  it.effect("deferLoading marks the named tools (or all); the agent's search then finds them", () =>
    Effect.gen(function* () {
      const names = (ts: Toolset.Any) =>
        ts.fixed?.map((t) => `${t.definition.name}${t.definition.deferLoading ? "(D)" : ""}`)
      const base = Toolset.fromTools([tool("a"), tool("b")])
      assert.deepStrictEqual(names(base.pipe(Toolset.deferLoading(["b"]))), ["a", "b(D)"])
      assert.deepStrictEqual(names(Toolset.deferLoading(base)), ["a(D)", "b(D)"])
      const searched = base.pipe(Toolset.deferLoading(["b"]), Toolset.withToolSearch())
      yield* Agent.make({ toolsets: [searched] }).run("go")
      // A deferred tool is not offered until a search finds it.
      assert.deepStrictEqual((yield* offeredTools)[0], ["a", "search_tools"])
    }).pipe(Effect.provide(TestModel.layer()))
  )

  it.effect(
    "withMetadata merges into each definition's metadata, seen by prepare and the model",
    () =>
      Effect.gen(function* () {
        const own = Tool.make("own", {
          parameters: Schema.Struct({}),
          metadata: { team: "search", cost: 1 },
          handler: () => Effect.succeed("ok")
        })
        const seen: Array<unknown> = []
        const ts = Toolset.fromTools([own, tool("plain")]).pipe(
          Toolset.withMetadata({ cost: 2, source: "internal" }),
          Toolset.prepare((defs) => {
            for (const d of defs) seen.push([d.name, d.metadata])
            return Effect.succeed(defs)
          })
        )
        yield* Agent.make({ toolsets: [ts] }).run("go")
        assert.deepStrictEqual(seen.slice(0, 2), [
          ["own", { team: "search", cost: 2, source: "internal" }],
          ["plain", { cost: 2, source: "internal" }]
        ])
        const test = yield* TestModel.TestModel
        const [first] = yield* test.requests
        assert.deepStrictEqual(
          first?.parameters.functionTools.map((t) => t.metadata),
          [
            { team: "search", cost: 2, source: "internal" },
            { cost: 2, source: "internal" }
          ]
        )
      }).pipe(Effect.provide(TestModel.layer()))
  )
})
