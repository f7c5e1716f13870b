import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { Agent, BuiltinTool, FunctionModel, Messages, Model, PartsManager } from "@agentfx/core"

const call = new Messages.BuiltinToolCallPart({
  toolName: "web_search",
  args: { query: "effect ts" },
  toolCallId: "srvtoolu_1",
  providerName: "anthropic"
})
const result = new Messages.BuiltinToolReturnPart({
  toolName: "web_search",
  content: [{ type: "web_search_result", url: "https://effect.website", title: "Effect" }],
  toolCallId: "srvtoolu_1",
  providerName: "anthropic",
  providerDetails: { type: "web_search_tool_result" }
})

describe("BuiltinTool", () => {
  it.effect("built-in tool parts round-trip through the history JSON", () =>
    Effect.gen(function* () {
      const history: ReadonlyArray<Messages.ModelMessage> = [
        Messages.userPrompt("search"),
        new Messages.ModelResponse({
          parts: [call, result, new Messages.TextPart({ content: "Found it." })],
          providerName: "anthropic"
        })
      ]
      const back = yield* Messages.decodeJson(Messages.encodeJson(history))
      const response = back[1] as Messages.ModelResponse
      assert.strictEqual(response.builtinToolParts.length, 2)
      const [c, r] = response.builtinToolParts
      assert.instanceOf(c, Messages.BuiltinToolCallPart)
      assert.instanceOf(r, Messages.BuiltinToolReturnPart)
      assert.deepStrictEqual(
        { ...(c as Messages.BuiltinToolCallPart) },
        { ...call, _tag: "BuiltinToolCallPart" }
      )
      assert.deepStrictEqual((r as Messages.BuiltinToolReturnPart).content, result.content)
      assert.deepStrictEqual((r as Messages.BuiltinToolReturnPart).providerDetails, {
        type: "web_search_tool_result"
      })
      // not function tool calls: the agent never runs them
      assert.strictEqual(response.toolCalls.length, 0)
      assert.strictEqual(response.text, "Found it.")
    })
  )

  it("BuiltinToolCallPart.argsAsObject parses string arguments", () => {
    const part = new Messages.BuiltinToolCallPart({
      toolName: "code_execution",
      args: '{"code":"1+1"}',
      toolCallId: "c",
      providerName: "google"
    })
    assert.deepStrictEqual(part.argsAsObject(), { code: "1+1" })
    assert.deepStrictEqual(
      new Messages.BuiltinToolCallPart({ ...part, args: "" }).argsAsObject(),
      {}
    )
  })

  it("PartsManager streams a built-in call (argument deltas) and a whole return", () => {
    const m = PartsManager.make()
    const start = m.toolCallDelta("1", {
      toolName: "web_search",
      toolCallId: "srvtoolu_1",
      providerName: "anthropic",
      builtin: true
    }) as Messages.PartStartEvent
    assert.strictEqual(start._tag, "PartStartEvent")
    assert.strictEqual(start.part._tag, "BuiltinToolCallPart")
    const delta = m.toolCallDelta("1", { args: '{"query":' }) as Messages.PartDeltaEvent
    assert.strictEqual(delta._tag, "PartDeltaEvent")
    assert.strictEqual((delta.delta as Messages.ToolCallPartDelta).argsDelta, '{"query":')
    m.toolCallDelta("1", { args: '"effect"}' })
    const end = m.endPart("1")!
    assert.strictEqual(end.part._tag, "BuiltinToolCallPart")
    assert.deepStrictEqual((end.part as Messages.BuiltinToolCallPart).argsAsObject(), {
      query: "effect"
    })
    const ret = m.part("2", result) as Messages.PartStartEvent
    assert.strictEqual(ret.index, 1)
    assert.strictEqual(ret.part, result)
    const [endReturn] = m.finish()
    assert.strictEqual(endReturn!.part, result)
    const response = m.response({ state: "complete" })
    assert.deepStrictEqual(
      response.parts.map((p) => p._tag),
      ["BuiltinToolCallPart", "BuiltinToolReturnPart"]
    )
    assert.strictEqual(
      (response.parts[0] as Messages.BuiltinToolCallPart).providerName,
      "anthropic"
    )
    assert.strictEqual(response.toolCalls.length, 0)
  })

  it.effect("the agent's built-in tools and the run's reach the model; the run's are added", () =>
    Effect.gen(function* () {
      const seen: Array<ReadonlyArray<string>> = []
      const model = FunctionModel.layer((_messages, info) => {
        seen.push(info.parameters.builtinTools.map((t) => t._tag))
        return FunctionModel.text("ok")
      })
      const agent = Agent.make({ builtinTools: [new BuiltinTool.WebSearch({ maxUses: 2 })] })
      yield* agent.run("a").pipe(Effect.provide(model))
      yield* agent
        .run("b", { builtinTools: [new BuiltinTool.CodeExecution()] })
        .pipe(Effect.provide(model))
      // a later run without its own tools gets the agent's only (no leak from the cache)
      yield* agent.run("c").pipe(Effect.provide(model))
      assert.deepStrictEqual(seen, [["WebSearch"], ["WebSearch", "CodeExecution"], ["WebSearch"]])
    })
  )

  it("specs encode with the MCP authorization redacted, and decode back", () => {
    const spec = new BuiltinTool.McpServer({
      id: "deepwiki",
      url: "https://mcp.deepwiki.com/mcp",
      authorization: Redacted.make("secret-token"),
      allowedTools: ["ask_question"]
    })
    assert.notInclude(String(spec), "secret-token")
    assert.notInclude(JSON.stringify(spec), "secret-token")
    const parameters = new Model.ModelRequestParameters({ builtinTools: [spec] })
    const encoded = Schema.encodeSync(Model.ModelRequestParameters)(parameters)
    const back = Schema.decodeUnknownSync(Model.ModelRequestParameters)(encoded)
    const decoded = back.builtinTools[0] as BuiltinTool.McpServer
    assert.strictEqual(decoded._tag, "McpServer")
    assert.strictEqual(Redacted.value(decoded.authorization!), "secret-token")
    assert.deepStrictEqual(decoded.allowedTools, ["ask_question"])
  })

  it("unsupported names the provider and the tool", () => {
    const e = BuiltinTool.unsupported("Gemini", new BuiltinTool.Memory())
    assert.strictEqual(e._tag, "UserError")
    assert.strictEqual(e.message, "The built-in tool Memory is not supported by Gemini")
  })
})
