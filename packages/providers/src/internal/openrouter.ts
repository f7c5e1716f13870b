/**
 * OpenRouter's own request fields, from the `openrouter*` settings (see `OpenRouter.ts`).
 *
 * @internal
 */
import type { ModelSettings } from "@agentfx/core"
import type { Settings } from "../OpenRouter.js"

/**
 * `reasoning` from the portable `thinking` setting, when `openrouterReasoning` is not given:
 * `false` turns reasoning off (`effort: "none"`), `true` is medium effort, an effort level is
 * sent as such, a token budget as `max_tokens`.
 */
const reasoningOf = (thinking: ModelSettings.ThinkingSetting): Record<string, unknown> => {
  if (thinking === false) return { effort: "none" }
  if (thinking === true) return { effort: "medium", enabled: true }
  if (typeof thinking === "string") return { effort: thinking, enabled: true }
  return { max_tokens: thinking.budgetTokens, enabled: true }
}

/** Adds OpenRouter's fields to a Chat Completions body (`ChatProfile.requestFields`). */
export const requestFields = (
  settings: ModelSettings.ModelSettings,
  body: Record<string, unknown>
): void => {
  const own = settings as Settings
  if (own.openrouterModels !== undefined) body.models = own.openrouterModels
  if (own.openrouterProvider !== undefined) body.provider = own.openrouterProvider
  if (own.openrouterPreset !== undefined) body.preset = own.openrouterPreset
  if (own.openrouterTransforms !== undefined) body.transforms = own.openrouterTransforms
  if (own.openrouterReasoning !== undefined) body.reasoning = own.openrouterReasoning
  else if (settings.thinking !== undefined) body.reasoning = reasoningOf(settings.thinking)
  if (own.openrouterUsage !== undefined) body.usage = own.openrouterUsage
}
