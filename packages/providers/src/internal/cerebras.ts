/**
 * Cerebras's own request fields, from its settings (see `Cerebras.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import type { Settings } from "../Cerebras.js"

/**
 * `disable_reasoning`: `cerebrasDisableReasoning` when given, else from the portable `thinking`
 * setting (`false` disables reasoning, any other value enables it). Cerebras takes no
 * `reasoning_effort` from `thinking`.
 */
export const requestFields = (
  settings: ModelSettings.ModelSettings,
  body: Record<string, unknown>
): void => {
  const own = settings as Settings
  if (own.cerebrasDisableReasoning !== undefined)
    body.disable_reasoning = own.cerebrasDisableReasoning
  else if (settings.thinking !== undefined) body.disable_reasoning = settings.thinking === false
}
