/**
 * Cohere chat models through the v2 chat API (`POST /v2/chat`) as a `Model`: tools (with the
 * model's tool plan), JSON and JSON-schema output, thinking (command-a-reasoning), citations,
 * streaming (Cohere's typed SSE events), usage and finish reasons, typed errors
 * (`ModelHTTPError` with status and body; `Retry-After` honoured by the retry policy).
 * `CohereClient` holds the key (`CO_API_KEY` or `COHERE_API_KEY`); `CohereEmbedding` shares it.
 *
 * Two decisions, so the rest of agentfx sees what it knows:
 * - **Tool plan.** The plan Cohere writes before calling tools ("I will use get_weather to…")
 *   is reasoning about the next step, not an answer: it becomes a `ThinkingPart` with
 *   `id: "tool_plan"` (provider `cohere`), streamed as thinking, and is sent back to Cohere as
 *   the assistant message's `tool_plan` (another provider drops it, as any foreign thinking).
 * - **Citations.** The text stays exactly what the model wrote (so structured output still
 *   parses); Cohere's citations (`start`, `end`, `text`, `sources`) are kept on the text part in
 *   `providerDetails.citations` — read them with `citationsOf(part)`, or render them as
 *   markdown footnotes with `withCitationMarkers(part)`.
 *
 * @example
 * ```ts
 * import { Cohere, CohereClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = Cohere.model("command-a-03-2025").pipe(
 *   Layer.provide(CohereClient.layerConfig()), // CO_API_KEY (or COHERE_API_KEY)
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type Messages, Model } from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CohereClientModule from "./CohereClient.js"
import { CohereClient } from "./CohereClient.js"
import * as Wire from "./internal/cohere.js"
import * as HttpModel from "./internal/httpModel.js"
import { noBuiltinTools } from "./internal/wire.js"

export {
  /** The citations Cohere attached to a text part (as sent), or `[]`. */
  citationsOf,
  /** Decodes a `/v2/chat` response into a `ModelResponse` (pure). */
  decodeResponse,
  /** Builds the `/v2/chat` body (pure); a `UserError` for input Cohere cannot take. */
  encodeRequest
} from "./internal/cohere.js"

/** The provider name on responses and parts. */
export const providerName = Wire.PROVIDER_NAME

/** The `ThinkingPart` id of a tool plan. */
export const toolPlanId = Wire.TOOL_PLAN_ID

/** Reasoning models (`thinking` is accepted). */
export const isReasoningModel = (modelName: string): boolean => /reasoning/.test(modelName)

/** The profile of a Cohere chat model, by name. */
export const profileFor = (modelName: string): Model.ModelProfile =>
  Model.profile({
    supportsTools: true,
    supportsJsonSchemaOutput: true,
    supportsJsonObjectOutput: true,
    supportsThinking: isReasoningModel(modelName),
    defaultStructuredOutputMode: "tool"
  })

/**
 * The text of a part with its citations as markdown footnotes: `[n]` after each cited span and
 * a list of the sources' ids (`[n]: id`) at the end. The part's text itself is unchanged.
 */
export const withCitationMarkers = (part: Messages.TextPart): string => {
  const citations = Wire.citationsOf(part)
    .filter((c) => typeof c.start === "number" && typeof c.end === "number")
    .map((c, i) => ({ n: i + 1, end: c.end as number, sources: c.sources }))
  if (citations.length === 0) return part.content
  let text = part.content
  for (const c of [...citations].sort((a, b) => b.end - a.end))
    text = `${text.slice(0, c.end)}[${c.n}]${text.slice(c.end)}`
  const notes = citations.map((c) => {
    const ids = Array.isArray(c.sources)
      ? c.sources.map((s: { readonly id?: unknown }) => String(s.id ?? "")).filter((s) => s !== "")
      : []
    return `[${c.n}]: ${ids.join(", ")}`
  })
  return `${text}\n\n${notes.join("\n")}`
}

/** Model settings with Cohere's own: `cohereDocuments` (RAG documents the answer cites). */
export type Settings = Wire.CohereSettings

/** A RAG document: a string, or `{ id?, data: { title, snippet, … } }`. */
export type Document = Wire.CohereDocument

/** Options of a Cohere chat model. */
export interface Options {
  /** Settings of the model itself (with Cohere's own); the run's are merged over them. */
  readonly settings?: Settings | undefined
  /** Overrides of the model's profile. */
  readonly profile?: Partial<Model.ModelProfile> | undefined
}

/** Builds the model service from a client. */
export const makeWith = (
  client: CohereClientModule.Service,
  modelName: string,
  options: Options = {}
): Model.Service => {
  const profile = { ...profileFor(modelName), ...options.profile }
  const thinking = profile.supportsThinking
  return HttpModel.make({
    modelName,
    system: Wire.PROVIDER_NAME,
    profile,
    settings: options.settings,
    spanPrefix: "Cohere",
    encode: (messages, settings, parameters, stream) =>
      noBuiltinTools("Cohere", parameters) ??
      Wire.encodeRequest(messages, settings, parameters, { modelName, stream, thinking }),
    post: HttpModel.viaClient(CohereClientModule.posts(client), (body, settings) => ({
      modelName,
      path: "/v2/chat",
      body,
      settings
    })),
    decode: (json) => Wire.decodeResponse(json, modelName),
    decoder: Wire.streamDecoder
  })
}

/** Builds a Cohere chat model service from the `CohereClient` in context. */
export const make = (
  modelName: string,
  options: Options = {}
): Effect.Effect<Model.Service, never, CohereClient> =>
  Effect.map(CohereClient, (client) => makeWith(client, modelName, options))

/** A layer providing `Model.Model` backed by a Cohere chat model. */
export const model = (
  modelName: string,
  options: Options = {}
): Layer.Layer<Model.Model, never, CohereClient> =>
  Layer.effect(Model.Model, make(modelName, options))

/** The Cohere client layer (same as `CohereClient.layer`). */
export const layer = CohereClientModule.layer

/** The Cohere client layer from configuration (same as `CohereClient.layerConfig`). */
export const layerConfig = CohereClientModule.layerConfig

/** The factory the model registry calls for `"cohere:<model>"` strings. */
export const fromModelString = (
  modelName: string
): Effect.Effect<Model.Service, never, CohereClient> => make(modelName)
