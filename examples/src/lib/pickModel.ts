/**
 * How every example picks its model:
 *
 * 1. `AGENTFX_MODEL=scripted` → the example's scripted model, whatever else is set;
 * 2. a provider key in the environment → that provider (`OPENAI_API_KEY` → OpenAI Chat
 *    Completions, `ANTHROPIC_API_KEY` → Anthropic, `GEMINI_API_KEY` / `GOOGLE_API_KEY` → Gemini);
 *    the model name can be changed with `AGENTFX_MODEL_NAME`;
 * 3. an Ollama server answering on http://127.0.0.1:11434 → its OpenAI-compatible API
 *    (`llama3.2` if it has it, else the first model it lists);
 * 4. otherwise the scripted model the example passes in: a `FunctionModel` that plays a
 *    plausible model, so the real agent loop still runs (tools, validation, retries).
 */
import type { Model } from "@agentfx/core"
import * as Anthropic from "@agentfx/providers/Anthropic"
import * as AnthropicClient from "@agentfx/providers/AnthropicClient"
import * as Google from "@agentfx/providers/Google"
import * as GoogleClient from "@agentfx/providers/GoogleClient"
import * as OpenAiChat from "@agentfx/providers/OpenAiChat"
import * as OpenAiClient from "@agentfx/providers/OpenAiClient"
import * as OpenAiCompatible from "@agentfx/providers/OpenAiCompatible"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** The model an example runs with, and a line saying which one it is. */
export interface PickedModel {
  readonly layer: Layer.Layer<Model.Model>
  /** e.g. `openai (gpt-4o-mini)` or `scripted (weather)`. */
  readonly description: string
  readonly kind: "openai" | "anthropic" | "google" | "ollama" | "scripted"
}

/** A scripted model offered by an example as the last resort. */
export interface Scripted {
  /** Shown in `model: scripted (<name>)`. */
  readonly name: string
  readonly layer: Layer.Layer<Model.Model>
}

/** The Ollama server probed on loopback. */
export const ollamaUrl = "http://127.0.0.1:11434"

/**
 * Lists the models of a local Ollama server (GET /api/tags, 300 ms budget). `None` when nothing
 * answers, which is the normal case on CI.
 */
export const probeOllama = (
  baseUrl: string = ollamaUrl
): Effect.Effect<Option.Option<ReadonlyArray<string>>> =>
  Effect.flatMap(HttpClient.HttpClient, (client) =>
    HttpClient.filterStatusOk(client).get(`${baseUrl}/api/tags`)
  ).pipe(
    Effect.flatMap((response) => response.json),
    Effect.map((body) => {
      const models = (body as { models?: Array<{ name?: unknown }> }).models ?? []
      return models.flatMap((m) => (typeof m.name === "string" ? [m.name] : []))
    }),
    Effect.scoped,
    Effect.timeout("300 millis"),
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.option
  )

const http = NodeHttpClient.layerUndici

/** Where `pickModelWith` looks: the environment and the Ollama URL (tests change them). */
export interface PickOptions {
  readonly env: Readonly<Record<string, string | undefined>>
  readonly ollamaUrl: string
}

/** Picks the model of an example (see the module doc for the order). */
export const pickModel = (scripted: Scripted): Effect.Effect<PickedModel> =>
  pickModelWith(scripted, { env: process.env, ollamaUrl })

/** `pickModel` with an explicit environment and Ollama URL. */
export const pickModelWith = (
  scripted: Scripted,
  options: PickOptions
): Effect.Effect<PickedModel> =>
  Effect.gen(function* () {
    const env = (name: string): string | undefined => {
      const v = options.env[name]
      return v === undefined || v.trim() === "" ? undefined : v
    }
    const script: PickedModel = {
      layer: scripted.layer,
      description: `scripted (${scripted.name})`,
      kind: "scripted"
    }
    if (env("AGENTFX_MODEL") === "scripted") return script
    const name = env("AGENTFX_MODEL_NAME")
    if (env("OPENAI_API_KEY") !== undefined) {
      const model = name ?? "gpt-4o-mini"
      return {
        layer: OpenAiChat.model(model).pipe(
          Layer.provide(OpenAiClient.layerConfig()),
          Layer.provide(http),
          Layer.orDie
        ),
        description: `openai (${model})`,
        kind: "openai"
      } satisfies PickedModel
    }
    if (env("ANTHROPIC_API_KEY") !== undefined) {
      const model = name ?? "claude-haiku-4-5"
      return {
        layer: Anthropic.model(model).pipe(
          Layer.provide(AnthropicClient.layerConfig()),
          Layer.provide(http),
          Layer.orDie
        ),
        description: `anthropic (${model})`,
        kind: "anthropic"
      } satisfies PickedModel
    }
    if (env("GEMINI_API_KEY") !== undefined || env("GOOGLE_API_KEY") !== undefined) {
      const model = name ?? "gemini-2.5-flash"
      return {
        layer: Google.model(model).pipe(
          Layer.provide(GoogleClient.layerConfig()),
          Layer.provide(http),
          Layer.orDie
        ),
        description: `google (${model})`,
        kind: "google"
      } satisfies PickedModel
    }
    const ollama = yield* probeOllama(options.ollamaUrl)
    if (Option.isSome(ollama) && ollama.value.length > 0) {
      const listed = ollama.value
      const model =
        name ?? listed.find((m) => m === "llama3.2" || m.startsWith("llama3.2:")) ?? listed[0]!
      return {
        layer: OpenAiCompatible.model("ollama", model).pipe(
          Layer.provide(OpenAiCompatible.layer("ollama", { baseUrl: `${options.ollamaUrl}/v1` })),
          Layer.provide(http)
        ),
        description: `ollama (${model})`,
        kind: "ollama"
      } satisfies PickedModel
    }
    return script
  }).pipe(Effect.withSpan("examples.pickModel"))
