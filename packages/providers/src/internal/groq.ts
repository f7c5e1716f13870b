/**
 * Groq's reasoning fields, from the portable `thinking` setting and Groq's own (see `Groq.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import type { Settings } from "../Groq.js"

/** gpt-oss always reasons, with a graded effort (`low` / `medium` / `high`). */
const isGptOss = (modelName: string): boolean => /(^|\/)gpt-oss/i.test(modelName)

/** Qwen3 reasons unless told `none`; its only other effort is `default`. */
const isQwen3 = (modelName: string): boolean => /(^|\/)qwen3/i.test(modelName)

const gradedEffort = (thinking: ModelSettings.ThinkingSetting): string => {
  if (thinking === true) return "medium"
  if (thinking === "minimal") return "low"
  if (typeof thinking === "string") return thinking
  if (typeof thinking === "object")
    return thinking.budgetTokens <= 1024 ? "low" : thinking.budgetTokens <= 8192 ? "medium" : "high"
  return "medium"
}

/**
 * `reasoning_effort` and `reasoning_format` for a Groq model:
 * - gpt-oss: `thinking` on (a level, `true` → medium, `minimal` → low) sends the effort and
 *   `reasoning_format: "parsed"`; `false` sends nothing (it cannot stop reasoning);
 * - Qwen3: `false` sends `reasoning_effort: "none"` (over `groqReasoningEffort`); `thinking` on
 *   sends `reasoning_format: "parsed"` and no effort (Qwen3 has no graded one);
 * - other models: `thinking` on sends `reasoning_format: "parsed"`.
 * `groqReasoningEffort` / `groqReasoningFormat` are sent as given, but for Qwen3's `false`.
 */
export const requestFields =
  (modelName: string) =>
  (settings: ModelSettings.ModelSettings, body: Record<string, unknown>): void => {
    const own = settings as Settings
    const thinking = settings.thinking
    const on = thinking !== undefined && thinking !== false
    if (isQwen3(modelName) && thinking === false) body.reasoning_effort = "none"
    else if (own.groqReasoningEffort !== undefined) body.reasoning_effort = own.groqReasoningEffort
    else if (on && isGptOss(modelName)) body.reasoning_effort = gradedEffort(thinking)
    if (own.groqReasoningFormat !== undefined) body.reasoning_format = own.groqReasoningFormat
    else if (on) body.reasoning_format = "parsed"
  }
