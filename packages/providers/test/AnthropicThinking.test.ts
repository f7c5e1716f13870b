/**
 * The portable `thinking` setting per Claude model family (adaptive thinking and
 * `output_config.effort` on the models that have them, a budget on older ones), the
 * `anthropicEffort` / `anthropicTaskBudget` settings, and tool forcing with each kind of thinking,
 * on the Messages API and on Bedrock Converse (recorded cases: the conformance suites).
 */
import { Messages, Model, Tool } from "@agentfx/core"
import type { ModelSettings } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Anthropic from "../src/Anthropic.js"
import * as Bedrock from "../src/Bedrock.js"

type Json = Record<string, any>

const hello = [
  new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: "Hi" })] })
]

const encode = (
  modelName: string,
  settings: Anthropic.Settings,
  options: Partial<Parameters<typeof Anthropic.encodeRequest>[3]> = {},
  parameters = new Model.ModelRequestParameters({})
) =>
  Anthropic.encodeRequest(hello, settings, parameters, {
    modelName,
    stream: false,
    ...options
  }) as Json

const outputTool = new Model.ModelRequestParameters({
  outputTools: [
    new Tool.ToolDefinition({
      name: "final_result",
      parametersJsonSchema: { type: "object", properties: {} }
    })
  ],
  allowTextOutput: false
})

describe("Anthropic thinking per model", () => {
  it("Opus / Sonnet 4.6+: adaptive thinking, an effort level as output_config.effort", () => {
    const on = encode("claude-opus-4-6", { thinking: true })
    assert.deepStrictEqual(on.thinking, { type: "adaptive" })
    assert.isUndefined(on.output_config)
    assert.strictEqual(on.max_tokens, 4096)
    const high = encode("claude-sonnet-4-6", { thinking: "high" })
    assert.deepStrictEqual(high.thinking, { type: "adaptive" })
    assert.deepStrictEqual(high.output_config, { effort: "high" })
    assert.deepStrictEqual(encode("claude-opus-4-6", { thinking: "minimal" }).output_config, {
      effort: "low"
    })
    assert.isUndefined(encode("claude-opus-4-6", { thinking: false }).thinking)
  })

  it("a token budget stays extended thinking, except on adaptive-only models (Opus 4.7+)", () => {
    assert.deepStrictEqual(
      encode("claude-sonnet-4-6", { thinking: { budgetTokens: 3000 } }).thinking,
      {
        type: "enabled",
        budget_tokens: 3000
      }
    )
    assert.deepStrictEqual(
      encode("claude-opus-4-7", { thinking: { budgetTokens: 3000 } }).thinking,
      {
        type: "adaptive"
      }
    )
  })

  it("older models: extended thinking with a budget; Opus 4.5 adds the effort", () => {
    const sonnet45 = encode("claude-sonnet-4-5", { thinking: "high" })
    assert.deepStrictEqual(sonnet45.thinking, { type: "enabled", budget_tokens: 16384 })
    assert.isUndefined(sonnet45.output_config)
    assert.strictEqual(sonnet45.max_tokens, 16384 + 4096)
    const opus45 = encode("claude-opus-4-5", { thinking: "medium" })
    assert.deepStrictEqual(opus45.thinking, { type: "enabled", budget_tokens: 8192 })
    assert.deepStrictEqual(opus45.output_config, { effort: "medium" })
  })

  it("adaptive thinking keeps forced output tools; extended thinking asks with auto", () => {
    assert.deepStrictEqual(
      encode("claude-opus-4-6", { thinking: "high" }, {}, outputTool).tool_choice,
      {
        type: "any"
      }
    )
    assert.deepStrictEqual(
      encode("claude-sonnet-4-5", { thinking: true }, {}, outputTool).tool_choice,
      {
        type: "auto"
      }
    )
  })

  it("anthropicEffort / anthropicTaskBudget go to output_config, the effort over the thinking level", () => {
    const settings: Anthropic.Settings = {
      thinking: "low",
      anthropicEffort: "xhigh",
      anthropicTaskBudget: { total: 20000 }
    }
    const body = encode("claude-opus-4-7", settings)
    assert.deepStrictEqual(body.output_config, {
      effort: "xhigh",
      task_budget: { type: "tokens", total: 20000 }
    })
    assert.deepStrictEqual(encode("claude-opus-4-6", { anthropicEffort: "max" }).output_config, {
      effort: "max"
    })
    assert.isUndefined(encode("claude-opus-4-6", {}).thinking)
  })

  it("model support by name (Bedrock prefixes ignored)", () => {
    assert.isTrue(Anthropic.supportsAdaptiveThinking("us.anthropic.claude-sonnet-4-6"))
    assert.isFalse(Anthropic.supportsAdaptiveThinking("claude-opus-4-5"))
    assert.isTrue(Anthropic.supportsEffort("claude-opus-4-5"))
    assert.isFalse(Anthropic.supportsEffort("claude-sonnet-4-5"))
  })
})

describe("Bedrock Converse Claude thinking", () => {
  const converse = (
    modelId: string,
    settings: ModelSettings.ModelSettings,
    parameters = new Model.ModelRequestParameters({})
  ) => Bedrock.encodeRequest(hello, settings, parameters, { modelId }) as Json

  it("maps like the Messages API, in additionalModelRequestFields", () => {
    assert.deepStrictEqual(
      converse("us.anthropic.claude-sonnet-4-6", { thinking: true }).additionalModelRequestFields,
      { thinking: { type: "adaptive" } }
    )
    assert.deepStrictEqual(
      converse("us.anthropic.claude-sonnet-4-6", { thinking: "high" }).additionalModelRequestFields,
      { thinking: { type: "adaptive" }, output_config: { effort: "high" } }
    )
    assert.deepStrictEqual(
      converse("us.anthropic.claude-3-7-sonnet-20250219-v1:0", { thinking: "low" })
        .additionalModelRequestFields,
      { thinking: { type: "enabled", budget_tokens: 2048 } }
    )
  })

  it("adaptive thinking keeps a forced output tool", () => {
    const adaptive = converse("us.anthropic.claude-sonnet-4-6", { thinking: true }, outputTool)
    assert.deepStrictEqual(adaptive.toolConfig.toolChoice, { any: {} })
    const extended = converse(
      "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
      { thinking: true },
      outputTool
    )
    assert.deepStrictEqual(extended.toolConfig.toolChoice, { auto: {} })
  })
})
