/**
 * Settings for a model request. Each layer (model, agent, run) may set some; `merge` combines
 * them with later layers winning, key by key (`extraHeaders` and `extraBody` merge one level
 * deeper).
 *
 * @example
 * ```ts
 * import { ModelSettings } from "@agentfx/core"
 * const settings = ModelSettings.merge({ temperature: 0 }, { maxTokens: 512 })
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

/** Anything `Duration.decode` accepts: millis as a number, `"30 seconds"`, a `Duration`. */
export const DurationInput = Schema.declare(
  (u: unknown): u is Duration.DurationInput => {
    if (typeof u === "number" || Duration.isDuration(u)) return true
    if (typeof u === "string") {
      try {
        Duration.decode(u as Duration.DurationInput)
        return true
      } catch {
        return false
      }
    }
    return false
  },
  { identifier: "DurationInput" }
)

/** Thinking / reasoning effort, mapped by each provider to its own parameter. */
export const ThinkingSetting = Schema.Union(
  Schema.Boolean,
  Schema.Literal("minimal", "low", "medium", "high"),
  Schema.Struct({ budgetTokens: Schema.Number })
)
/** `true` / `false`, an effort level, or a token budget for reasoning. */
export type ThinkingSetting = typeof ThinkingSetting.Type

/** How the model may choose tools. Names restrict it to those tools. */
export const ToolChoice = Schema.Union(
  Schema.Literal("auto", "none", "required"),
  Schema.Array(Schema.String)
)
/**
 * `auto`, `none`, `required`, or the names of the tools the model may call. In an agent's or a
 * run's settings `required` and names are refused (a `UserError`): forced on every request, the
 * run could never end. They are for one request of the direct API.
 */
export type ToolChoice = typeof ToolChoice.Type

/**
 * The settings of a request, as a Schema so they can be stored and validated. Providers map
 * each field to their own parameter and ignore the ones they lack; `extraBody` reaches the rest.
 */
export const ModelSettings = Schema.Struct({
  maxTokens: opt(Schema.Number),
  temperature: opt(Schema.Number),
  topP: opt(Schema.Number),
  /**
   * Sample only from the K most likely tokens: Anthropic `top_k`, Gemini `topK`, Cohere `k`,
   * Bedrock (Claude `top_k`, Nova `inferenceConfig.topK` in `additionalModelRequestFields`).
   * OpenAI and Mistral have no such parameter and ignore it.
   */
  topK: opt(Schema.Number),
  seed: opt(Schema.Number),
  presencePenalty: opt(Schema.Number),
  frequencyPenalty: opt(Schema.Number),
  logitBias: opt(Schema.Record({ key: Schema.String, value: Schema.Number })),
  stopSequences: opt(Schema.Array(Schema.String)),
  parallelToolCalls: opt(Schema.Boolean),
  toolChoice: opt(ToolChoice),
  thinking: opt(ThinkingSetting),
  /**
   * The provider's processing tier, in the provider's own words: OpenAI Chat / Responses and
   * Groq `service_tier` (`"auto"`, `"default"`, `"flex"`, `"priority"`; Groq `"on_demand"`…),
   * Anthropic `service_tier` (`"auto"`, `"standard_only"`), Bedrock `serviceTier.type`
   * (`"default"`, `"priority"`, `"flex"`). Providers without tiers ignore it.
   */
  serviceTier: opt(Schema.String),
  /**
   * Deadline for a whole request (for a stream: until the last event); HTTP providers default
   * to `defaultTimeout` (10 minutes), `Infinity` turns it off.
   */
  timeout: opt(DurationInput),
  /**
   * Longest wait for the next bytes of a stream; HTTP providers default to
   * `defaultIdleTimeout` (60 seconds), `Infinity` turns it off.
   */
  idleTimeout: opt(DurationInput),
  /**
   * How many malformed events (a payload that is not a JSON object) a stream may skip: each is
   * skipped and logged at warning level; one more fails the stream with an
   * `UnexpectedModelBehavior` carrying the partial response. HTTP providers default to
   * `defaultMalformedEventLimit` (3); `0` fails on the first one.
   */
  malformedEventLimit: opt(Schema.NonNegativeInt),
  extraHeaders: opt(Schema.Record({ key: Schema.String, value: Schema.String })),
  /** Merged into the provider's request body last; the escape hatch for provider options. */
  extraBody: opt(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
})
/** The settings of a request (model, agent or run level); combine levels with `merge`. */
export interface ModelSettings extends Schema.Schema.Type<typeof ModelSettings> {}

/**
 * The request deadline of the HTTP providers when `timeout` is not set: 10 minutes, as the
 * openai SDK's. On expiry the request fails with a `ModelAPIError` ("Request timed out after
 * 10m"); a run attaches the messages so far to it. Set `timeout: Infinity` to wait forever.
 */
export const defaultTimeout: Duration.Duration = Duration.minutes(10)

/**
 * The longest wait for the next bytes of a stream when `idleTimeout` is not set: 60 seconds.
 * Raise it for a model that may think silently for longer before its first token. On expiry the stream
 * fails with a `ModelAPIError` ("Stream idle for more than 1m") carrying the partial response.
 * Set `idleTimeout: Infinity` to wait forever.
 */
export const defaultIdleTimeout: Duration.Duration = Duration.seconds(60)

/** Malformed stream events skipped (each logged) before a stream fails, when unset: 3. */
export const defaultMalformedEventLimit = 3

/** No settings. */
export const empty: ModelSettings = {}

/** Merges settings, later ones winning key by key. `undefined` entries are skipped. */
export const merge = (...layers: ReadonlyArray<ModelSettings | undefined>): ModelSettings => {
  let out: { -readonly [K in keyof ModelSettings]: ModelSettings[K] } = {}
  for (const layer of layers) {
    if (layer === undefined) continue
    const extraHeaders =
      out.extraHeaders && layer.extraHeaders
        ? { ...out.extraHeaders, ...layer.extraHeaders }
        : (layer.extraHeaders ?? out.extraHeaders)
    const extraBody =
      out.extraBody && layer.extraBody
        ? { ...out.extraBody, ...layer.extraBody }
        : (layer.extraBody ?? out.extraBody)
    out = { ...out, ...layer }
    if (extraHeaders !== undefined) out.extraHeaders = extraHeaders
    if (extraBody !== undefined) out.extraBody = extraBody
  }
  return out
}
