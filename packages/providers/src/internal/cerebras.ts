/**
 * Cerebras's own request fields, from its settings (see `Cerebras.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import type { Settings } from "../Cerebras.js"

/** gpt-oss always reasons on Cerebras: no disable signal of any kind is accepted. */
const isGptOss = (modelName: string): boolean => /gpt-oss/i.test(modelName)

/** Z.AI's GLM on Cerebras: disabled with `reasoning_effort: "none"`, reasoning replayed. */
const isGlm = (modelName: string): boolean => /^zai-glm/i.test(modelName)

/**
 * Reasoning on or off, per model: `cerebrasDisableReasoning` is sent as `disable_reasoning`
 * when given; else the portable `thinking` setting — ignored by gpt-oss (always on); on GLM
 * `false` is `reasoning_effort: "none"` (Cerebras deprecated `disable_reasoning` for GLM), and
 * `clear_thinking: false` keeps the reasoning replayed from earlier turns; on other models
 * `false` is `disable_reasoning: true` and any other value `false`.
 */
export const requestFields =
  (modelName: string) =>
  (settings: ModelSettings.ModelSettings, body: Record<string, unknown>): void => {
    const own = settings as Settings
    if (isGlm(modelName)) body.clear_thinking = false
    if (own.cerebrasDisableReasoning !== undefined) {
      body.disable_reasoning = own.cerebrasDisableReasoning
      return
    }
    const thinking = settings.thinking
    if (thinking === undefined || isGptOss(modelName)) return
    if (isGlm(modelName)) {
      if (thinking === false) body.reasoning_effort = "none"
      return
    }
    body.disable_reasoning = thinking === false
  }
