/**
 * Z.AI's own request fields and model profiles (see `Zai.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import type { Settings } from "../Zai.js"

/** GLM models that think (GLM-4.5 and later, the vision models included). */
export const thinks = (modelName: string): boolean => /^glm-(5|4\.[5-9])/i.test(modelName)

/** GLM-5.3 always thinks and takes only `low` / `high` / `max` as its effort. */
const alwaysThinks = (modelName: string): boolean => /^glm-5\.3/i.test(modelName)

/** Models that take a `reasoning_effort` per request (GLM-5.2 and GLM-5.3). */
const takesEffort = (modelName: string): boolean => /^glm-5\.[23]/i.test(modelName)

const effortOn53: Readonly<Record<string, string>> = { minimal: "low", medium: "high" }

/**
 * `thinking: { type, clear_thinking }` and `reasoning_effort` for a GLM model: the portable
 * `thinking` setting turns thinking on or off (`false` is not sent to GLM-5.3, which always
 * thinks); `zaiClearThinking` defaults to `false` on thinking models (reasoning from earlier
 * turns is kept, and sent back as `reasoning_content`); an effort level goes to the models that
 * take one.
 */
export const requestFields =
  (modelName: string) =>
  (settings: ModelSettings.ModelSettings, body: Record<string, unknown>): void => {
    const own = settings as Settings
    const thinking: Record<string, unknown> = {}
    const level = settings.thinking
    if (level === false) {
      if (!alwaysThinks(modelName)) thinking.type = "disabled"
    } else if (level !== undefined) thinking.type = "enabled"
    const clear = own.zaiClearThinking ?? (thinks(modelName) ? false : undefined)
    if (clear !== undefined) thinking.clear_thinking = clear
    if (Object.keys(thinking).length > 0) body.thinking = thinking
    if (own.zaiReasoningEffort !== undefined) body.reasoning_effort = own.zaiReasoningEffort
    else if (typeof level === "string" && takesEffort(modelName)) {
      body.reasoning_effort = alwaysThinks(modelName) ? (effortOn53[level] ?? level) : level
    }
  }
