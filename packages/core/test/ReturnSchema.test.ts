/**
 * Tool return schemas (pydantic-ai's `include_return_schema`): `Tool.make({ returns })` records
 * the JSON Schema of what a tool returns; with `includeReturnSchema` (on the tool or through
 * `Toolset.includeReturnSchemas`) the model is told — in the provider's own field when the
 * profile has one, else at the end of the tool's description.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, AgentError, FunctionModel, Model, Tool, Toolset } from "@agentfx/core"

const Weather = Schema.Struct({
  sky: Schema.String,
  celsius: Schema.Number.annotations({ description: "Temperature" })
})
const weather = (includeReturnSchema?: boolean) =>
  Tool.make("weather", {
    description: "The weather in a city.",
    parameters: Schema.Struct({ city: Schema.String }),
    returns: Weather,
    ...(includeReturnSchema !== undefined ? { includeReturnSchema } : {}),
    handler: () => Effect.succeed({ sky: "sunny", celsius: 21 })
  })
const plain = Tool.make("plain", {
  parameters: Schema.Struct({}),
  handler: () => Effect.succeed("ok")
})

const weatherSchema = {
  type: "object",
  required: ["sky", "celsius"],
  properties: {
    sky: { type: "string" },
    celsius: { type: "number", description: "Temperature" }
  },
  additionalProperties: false
}

/** The function tools of the first request, as the model gets them. */
const offered = (agent: Agent.Agent<string, never, Model.Model>, profile?: Model.ModelProfile) =>
  Effect.gen(function* () {
    let tools: ReadonlyArray<Tool.ToolDefinition> = []
    const model = FunctionModel.layer(
      (_, info) => {
        if (tools.length === 0) tools = info.functionTools
        return FunctionModel.text("done")
      },
      profile !== undefined ? { profile } : {}
    )
    yield* agent.run("go").pipe(Effect.provide(model))
    return tools
  })

describe("tool return schemas", () => {
  it("Tool.make({ returns }) records the return schema; includeReturnSchema needs it", () => {
    assert.deepStrictEqual(weather().definition.returnSchema, weatherSchema)
    assert.isUndefined(weather().definition.includeReturnSchema)
    assert.isTrue(weather(true).definition.includeReturnSchema)
    assert.throws(
      () =>
        Tool.make("bad", {
          parameters: Schema.Struct({}),
          includeReturnSchema: true,
          handler: () => Effect.succeed(1)
        }),
      AgentError.UserError
    )
  })

  it.effect("without a field for it, the schema ends the description; only when asked", () =>
    Effect.gen(function* () {
      const [asked] = yield* offered(Agent.make({ tools: [weather(true)] }))
      assert.strictEqual(
        asked!.description,
        `The weather in a city.\n\n${Model.returnSchemaText(weatherSchema)}`
      )
      const [notAsked] = yield* offered(Agent.make({ tools: [weather()] }))
      assert.strictEqual(notAsked!.description, "The weather in a city.")
    })
  )

  it.effect("a profile with a return-schema field keeps the description and the schema", () =>
    Effect.gen(function* () {
      const profile = Model.profile({ supportsToolReturnSchema: true })
      const [tool] = yield* offered(Agent.make({ tools: [weather(true)] }), profile)
      assert.strictEqual(tool!.description, "The weather in a city.")
      assert.isTrue(tool!.includeReturnSchema)
      assert.deepStrictEqual(tool!.returnSchema, weatherSchema)
    })
  )

  it.effect("Toolset.includeReturnSchemas asks for the tools that have a schema", () =>
    Effect.gen(function* () {
      const ts = Toolset.fromTools([weather(), plain]).pipe(Toolset.includeReturnSchemas())
      assert.deepStrictEqual(
        ts.fixed?.map((t) => [t.definition.name, t.definition.includeReturnSchema]),
        [
          ["weather", true],
          ["plain", undefined]
        ]
      )
      const tools = yield* offered(Agent.make({ toolsets: [ts] }))
      assert.deepStrictEqual(
        tools.map((t) => t.description),
        [`The weather in a city.\n\n${Model.returnSchemaText(weatherSchema)}`, undefined]
      )
      const none = Toolset.fromTools([weather()]).pipe(Toolset.includeReturnSchemas(["other"]))
      assert.isUndefined(none.fixed?.[0]?.definition.includeReturnSchema)
    })
  )
})
