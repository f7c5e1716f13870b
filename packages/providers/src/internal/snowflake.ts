/**
 * Snowflake Cortex's model profiles, request fields and base URL (see `Snowflake.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import { AgentError } from "@agentfx/core"
import type { Settings } from "../Snowflake.js"

/** Claude models on Cortex: `reasoning` object, JSON Schema output only, temperature 1. */
export const isClaude = (modelName: string): boolean => modelName.toLowerCase().startsWith("claude")

/** OpenAI models on Cortex (`openai-gpt-5`…). */
export const isOpenAi = (modelName: string): boolean =>
  modelName.toLowerCase().startsWith("openai-")

const effortOf = (
  thinking: ModelSettings.ThinkingSetting
): "low" | "medium" | "high" | undefined => {
  if (thinking === false) return undefined
  if (thinking === true) return "medium"
  if (typeof thinking === "string") {
    return thinking === "minimal" ? "low" : thinking
  }
  return undefined
}

/**
 * `reasoning` for Claude models: `snowflakeReasoning` when given, else from the portable
 * `thinking` setting (an effort level, or a token budget as `max_tokens`); with reasoning on and
 * no temperature given, `temperature: 1` (Cortex's own default is not 1, which Claude's reasoning
 * requires).
 */
export const requestFields =
  (modelName: string) =>
  (settings: ModelSettings.ModelSettings, body: Record<string, unknown>): void => {
    if (!isClaude(modelName)) return
    const own = settings as Settings
    let reasoning: Record<string, unknown> | undefined = own.snowflakeReasoning
    if (reasoning === undefined && settings.thinking !== undefined) {
      const thinking = settings.thinking
      if (typeof thinking === "object") reasoning = { max_tokens: thinking.budgetTokens }
      else {
        const effort = effortOf(thinking)
        if (effort !== undefined) reasoning = { effort }
      }
    }
    if (reasoning === undefined) return
    body.reasoning = reasoning
    if (body.temperature === undefined) body.temperature = 1
  }

/**
 * Cortex's base URL for an account identifier (`myorg-myaccount`, or its host name with or
 * without a scheme). An identifier that is not one (e.g. `evil.example/path`) is a `UserError`:
 * the token would go to another host.
 */
export const baseUrlOf = (account: string): string | AgentError.UserError => {
  const bare = account
    .trim()
    .replace(/^https?:\/\//, "")
    .replace(/\/+$/, "")
    .replace(/\.snowflakecomputing\.com$/i, "")
  if (!/^[A-Za-z0-9._-]+$/.test(bare)) {
    return new AgentError.UserError({
      reason: `Invalid Snowflake account identifier "${bare}": give a bare account identifier such as "myorg-myaccount", or a baseUrl`
    })
  }
  return `https://${bare}.snowflakecomputing.com/api/v2/cortex/v1`
}
