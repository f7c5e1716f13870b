/**
 * Groq (`https://api.groq.com/openai/v1`, Chat Completions) with its reasoning settings
 * (pydantic-ai's `GroqModel` / `GroqModelSettings`). The portable `thinking` setting is mapped
 * per model family: gpt-oss gets a graded `reasoning_effort` (`true` → medium, `minimal` → low;
 * `false` sends nothing, gpt-oss always reasons), Qwen3 gets `reasoning_effort: "none"` for
 * `false` (it has no graded effort), and with thinking on every model gets
 * `reasoning_format: "parsed"` — the reasoning comes back in its own field as `ThinkingPart`s.
 * Compound models run web search and code by themselves (`executed_tools` come back as built-in
 * tool parts; `WebSearch` domains go in `search_settings`).
 *
 * No client of its own: Groq speaks Chat Completions, so a Groq model talks through an
 * `OpenAiClient`; `layer` / `layerConfig` here build one at Groq's base URL with its key
 * (`GROQ_API_KEY`).
 *
 * @example
 * ```ts
 * import { Groq } from "@agentfx/providers"
 *
 * const ModelLive = Groq.model("openai/gpt-oss-120b", {
 *   settings: { thinking: "high" }
 * }).pipe(Layer.provide(Groq.layerConfig()))
 * ```
 *
 * @since 0.1.0
 */
import type { Model, ModelSettings } from "@agentfx/core"
import type * as Layer from "effect/Layer"
import type * as OpenAiChat from "./OpenAiChat.js"
import type * as OpenAiClient from "./OpenAiClient.js"
import * as OpenAiCompatible from "./OpenAiCompatible.js"

/** Settings of a Groq model: the portable ones plus Groq's own. */
export interface Settings extends ModelSettings.ModelSettings {
  /**
   * The effort as Groq names it (`reasoning_effort`: `none` / `default` for Qwen3, `low` /
   * `medium` / `high` for gpt-oss). Wins over the effort of `thinking`, except that
   * `thinking: false` on Qwen3 always sends `none`.
   */
  readonly groqReasoningEffort?: "none" | "default" | "low" | "medium" | "high" | undefined
  /**
   * How the reasoning comes back (`reasoning_format`): `parsed` (its own field, the default with
   * `thinking` on), `raw` (in the text, between `<think>` tags) or `hidden`.
   */
  readonly groqReasoningFormat?: "hidden" | "raw" | "parsed" | undefined
}

/** The vendor entry (`OpenAiCompatible.vendors.groq`). */
export const vendor: OpenAiCompatible.Vendor = OpenAiCompatible.vendors.groq!

const api = OpenAiCompatible.vendorApi<Settings>(vendor)

/** A Groq client layer with this key. */
export const layer = api.layer

/** A Groq client layer reading `GROQ_API_KEY` (or `apiKey`) from configuration. */
export const layerConfig = api.layerConfig

/** Options of a Groq model: Chat Completions model options with Groq's settings. */
export interface ModelOptions extends Omit<OpenAiChat.ModelOptions, "settings"> {
  readonly settings?: Settings | undefined
}

/** A Groq model by name; requires a Groq `OpenAiClient`. */
export const model: (
  modelName: string,
  options?: ModelOptions
) => Layer.Layer<Model.Model, never, OpenAiClient.OpenAiClient> = api.model
