/**
 * Z.AI (Zhipu AI, `https://api.z.ai/api/paas/v4`, Chat Completions): GLM models with their
 * thinking controls (pydantic-ai's `ZaiModel` / `ZaiModelSettings`). The portable `thinking`
 * setting becomes Z.AI's `thinking: { type: "enabled" | "disabled" }` (GLM-5.3 always thinks:
 * `false` is not sent to it), and an effort level goes as `reasoning_effort` to the models that
 * take one (GLM-5.2; GLM-5.3 with `minimal` → `low`, `medium` → `high`).
 * Thinking models keep the reasoning of earlier turns by default (`clear_thinking: false`, the
 * reasoning sent back as `reasoning_content`); `zaiClearThinking: true` clears it. Z.AI's own
 * finish reasons map to the portable ones (`sensitive` → `content_filter`,
 * `model_context_window_exceeded` → `length`, `network_error` → `error`; the raw value stays in
 * `providerFinishReason`).
 *
 * No client of its own: a Z.AI model talks through an `OpenAiClient`; `layer` / `layerConfig`
 * here build one at Z.AI's base URL with its key (`ZAI_API_KEY`).
 *
 * @example
 * ```ts
 * import { Zai } from "@agentfx/providers"
 *
 * const ModelLive = Zai.model("glm-4.7", {
 *   settings: { thinking: true, zaiClearThinking: true }
 * }).pipe(Layer.provide(Zai.layerConfig()))
 * ```
 *
 * @since 0.1.0
 */
import type { Model, ModelSettings } from "@agentfx/core"
import type * as Layer from "effect/Layer"
import type * as OpenAiChat from "./OpenAiChat.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/** Settings of a Z.AI model: the portable ones plus Z.AI's own. */
export interface Settings extends ModelSettings.ModelSettings {
  /**
   * Clear the reasoning of earlier turns (`thinking.clear_thinking`). Default `false` on
   * thinking models: the reasoning is kept, and must come back unchanged, which agentfx does.
   */
  readonly zaiClearThinking?: boolean | undefined
  /**
   * The effort in Z.AI's own levels (`reasoning_effort`; GLM-5.2 and GLM-5.3, whose levels are
   * `low` / `high` / `max`), for a level the portable `thinking` has no name for. Wins over the
   * effort of `thinking`.
   */
  readonly zaiReasoningEffort?: "minimal" | "low" | "medium" | "high" | "max" | undefined
}

/** The vendor entry (`OpenAiCompatible.vendors.zai`). */
export const vendor: OpenAiCompatible.Vendor = OpenAiCompatible.vendors.zai!

const api = OpenAiCompatible.vendorApi<Settings>(vendor)

/** A Z.AI client layer with this key. */
export const layer = api.layer

/** A Z.AI client layer reading `ZAI_API_KEY` (or `apiKey`) from configuration. */
export const layerConfig = api.layerConfig

/** Options of a Z.AI model: Chat Completions model options with Z.AI's settings. */
export interface ModelOptions extends Omit<OpenAiChat.ModelOptions, "settings"> {
  readonly settings?: Settings | undefined
}

/** A Z.AI model by name; requires a Z.AI `OpenAiClient`. */
export const model: (
  modelName: string,
  options?: ModelOptions
) => Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> = api.model
