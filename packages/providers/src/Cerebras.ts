/**
 * Cerebras (`https://api.cerebras.ai/v1`, Chat Completions) with its own setting: turning a
 * reasoning model's reasoning off or on (pydantic-ai's `CerebrasModel` /
 * `CerebrasModelSettings`). The portable `thinking` setting maps per model: gpt-oss always
 * reasons (`thinking: false` sends nothing — Cerebras rejects any disable signal for it); Z.AI's
 * GLM is turned off with `reasoning_effort: "none"` and gets `clear_thinking: false`, so the
 * reasoning replayed from earlier turns is kept; on other models `false` is
 * `disable_reasoning: true` and any other value `false`. Reasoning comes back as
 * `ThinkingPart`s and goes back to the model in `reasoning`.
 *
 * No client of its own: a Cerebras model talks through an `OpenAiClient`; `layer` /
 * `layerConfig` here build one at Cerebras' base URL with its key (`CEREBRAS_API_KEY`).
 *
 * @example
 * ```ts
 * import { Cerebras } from "@agentfx/providers"
 *
 * const ModelLive = Cerebras.model("gpt-oss-120b", {
 *   settings: { cerebrasDisableReasoning: true }
 * }).pipe(Layer.provide(Cerebras.layerConfig()))
 * ```
 *
 * @since 0.1.0
 */
import type { Model, ModelSettings } from "@agentfx/core"
import type * as Layer from "effect/Layer"
import type * as OpenAiChat from "./OpenAiChat.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/** Settings of a Cerebras model: the portable ones plus Cerebras's own. */
export interface Settings extends ModelSettings.ModelSettings {
  /**
   * Turn a reasoning model's reasoning off (`true`) or on (`false`) — `disable_reasoning`;
   * reasoning models only (`gpt-oss-120b`, `zai-glm-*`). Wins over the portable `thinking`.
   */
  readonly cerebrasDisableReasoning?: boolean | undefined
}

/** The vendor entry (`OpenAiCompatible.vendors.cerebras`). */
export const vendor: OpenAiCompatible.Vendor = OpenAiCompatible.vendors.cerebras!

const api = OpenAiCompatible.vendorApi<Settings>(vendor)

/** A Cerebras client layer with this key. */
export const layer = api.layer

/** A Cerebras client layer reading `CEREBRAS_API_KEY` (or `apiKey`) from configuration. */
export const layerConfig = api.layerConfig

/** Options of a Cerebras model: Chat Completions model options with Cerebras's settings. */
export interface ModelOptions extends Omit<OpenAiChat.ModelOptions, "settings"> {
  readonly settings?: Settings | undefined
}

/** A Cerebras model by name; requires a Cerebras `OpenAiClient`. */
export const model: (
  modelName: string,
  options?: ModelOptions
) => Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> = api.model
