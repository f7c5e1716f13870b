/**
 * The portable `thinking` setting on the wire, against pydantic-ai's reasoning wire contract
 * (its `test_reasoning_wire_contract` recordings, in several provider folders): each case is
 * one request made with known settings — the portable `thinking`, a provider's own effort, a
 * user's extra body fields — and the recorded body is what the provider accepted. agentfx makes
 * the same request from the same settings (re-expressed as agentfx settings in `inputs`, from
 * the names and parameters of the upstream cases) and must send the same reasoning fields: the
 * same values where the recording has them, nothing where it has none. A recording with no
 * entry in `inputs` is listed as skipped with that reason.
 */
import { Messages, Model, type ModelSettings } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Cerebras from "../../src/Cerebras.js"
import * as Google from "../../src/Google.js"
import * as GoogleClient from "../../src/GoogleClient.js"
import * as Groq from "../../src/Groq.js"
import * as Mistral from "../../src/Mistral.js"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import { type ConformanceCase, casesDir, replayServer } from "../support/replay.js"

type Json = Record<string, any>

type Family = "groq" | "cerebras" | "google" | "mistral"

interface Input {
  readonly family: Family
  readonly settings: ModelSettings.ModelSettings
}

const extraBody = { service_tier: "on_demand" }

/** Groq's own settings where a case has them. */
const groq = (settings: Groq.Settings): ModelSettings.ModelSettings => settings

/** The settings each upstream case was recorded with, as agentfx settings. */
const inputs: Readonly<Record<string, Input>> = {
  "groq-qwen3-disable": { family: "groq", settings: { thinking: false } },
  "groq-qwen3-disable-merges-user-extra-body": {
    family: "groq",
    settings: { thinking: false, extraBody }
  },
  "groq-qwen3-effort-setting": {
    family: "groq",
    settings: groq({ groqReasoningEffort: "default", extraBody })
  },
  "groq-qwen3-disable-overrides-effort-setting": {
    family: "groq",
    settings: groq({ thinking: false, groqReasoningEffort: "high" })
  },
  "groq-qwen3-enable-level-sends-no-effort": { family: "groq", settings: { thinking: "high" } },
  "groq-gpt-oss-thinking-high": { family: "groq", settings: { thinking: "high" } },
  "groq-gpt-oss-thinking-medium": { family: "groq", settings: { thinking: "medium" } },
  "groq-gpt-oss-thinking-minimal-folds-to-low": {
    family: "groq",
    settings: { thinking: "minimal" }
  },
  "groq-gpt-oss-thinking-true-maps-to-medium": { family: "groq", settings: { thinking: true } },
  "groq-gpt-oss-thinking-false-noop": { family: "groq", settings: { thinking: false } },
  "groq-gpt-oss-explicit-effort-overrides-thinking": {
    family: "groq",
    settings: groq({ thinking: "low", groqReasoningEffort: "high" })
  },
  "groq-gpt-oss-thinking-merges-user-extra-body": {
    family: "groq",
    settings: { thinking: "high", extraBody }
  },
  "cerebras-gpt-oss-always-on": { family: "cerebras", settings: { thinking: false } },
  "cerebras-zai-clear-thinking": { family: "cerebras", settings: { thinking: false } },
  "google-gemini-25-disable": { family: "google", settings: { thinking: false } },
  "mistral-magistral-always-on-no-effort": {
    family: "mistral",
    settings: { thinking: true, topP: 1 }
  },
  "mistral-small-unset-omits-effort": { family: "mistral", settings: { topP: 1 } }
}

/** The reasoning fields of a body (Chat Completions vendors, or Gemini's thinking config). */
const reasoningFields = (family: Family, body: Json): Json => {
  if (family === "google") {
    const config = body.generationConfig?.thinkingConfig
    if (config === undefined) return {}
    // the same field in either spelling
    const budget = config.thinkingBudget ?? config.thinking_budget
    const level = config.thinkingLevel ?? config.thinking_level
    return { budget, level, include: config.includeThoughts ?? config.include_thoughts }
  }
  const keys = [
    "reasoning_effort",
    "reasoning_format",
    "disable_reasoning",
    "clear_thinking",
    "thinking",
    "reasoning",
    "service_tier"
  ]
  return Object.fromEntries(keys.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]))
}

const key = Redacted.make("test-key")

const modelLayer = (
  family: Family,
  modelName: string,
  baseUrl: string
): Layer.Layer<Model.Model> => {
  const http = NodeHttpClient.layerUndici
  switch (family) {
    case "groq":
      return Groq.model(modelName).pipe(
        Layer.provide(
          OpenAiClient.layer({ apiKey: key, baseUrl: `${baseUrl}/openai/v1`, retry: false })
        ),
        Layer.provide(http)
      )
    case "cerebras":
      return Cerebras.model(modelName).pipe(
        Layer.provide(OpenAiClient.layer({ apiKey: key, baseUrl: `${baseUrl}/v1`, retry: false })),
        Layer.provide(http)
      )
    case "google":
      return Google.model(modelName).pipe(
        Layer.provide(GoogleClient.layer({ apiKey: key, baseUrl, retry: false })),
        Layer.provide(http)
      )
    case "mistral":
      return Mistral.model(modelName).pipe(
        Layer.provide(Mistral.layer({ apiKey: key, baseUrl: `${baseUrl}/v1`, retry: false })),
        Layer.provide(http)
      )
  }
}

/** Every reasoning wire contract recording, in any provider folder. */
const contracts = (): ReadonlyArray<{ readonly name: string; readonly c: ConformanceCase }> => {
  const dir = casesDir()
  return Fs.readdirSync(dir).flatMap((folder) => {
    const sub = Path.join(dir, folder)
    if (!Fs.statSync(sub).isDirectory()) return []
    return Fs.readdirSync(sub)
      .filter((f) => f.startsWith("test_thinking_wire_contract.") && f.endsWith(".json"))
      .sort()
      .map((f) => {
        const c = JSON.parse(Fs.readFileSync(Path.join(sub, f), "utf8")) as ConformanceCase
        return { name: c.id.replace(/^.*_wire_contract-/, ""), c }
      })
  })
}

describe("the reasoning wire contract (portable thinking → each provider's fields)", () => {
  const all = contracts()
  it("the recordings are there", () => {
    assert.isAbove(all.length, 0)
  })
  for (const { name, c } of all) {
    const input = inputs[name]
    if (input === undefined) {
      it.skip(`${name}: no known settings for this upstream case`, () => {})
      continue
    }
    it.scoped(name, () =>
      Effect.gen(function* () {
        const recorded = c.interactions[0]!.request.body as Json
        const modelName =
          recorded.model ?? /models\/([^:]+):/.exec(c.interactions[0]!.request.path)?.[1] ?? ""
        const server = yield* replayServer(c)
        yield* Effect.flatMap(Model.Model, (model) =>
          model.request(
            [Messages.userPrompt("What is 2+2? Reply with just the number.")],
            input.settings,
            Model.ModelRequestParameters.empty
          )
        ).pipe(Effect.provide(modelLayer(input.family, modelName, server.baseUrl)))
        const sent = server.received[0]!.body as Json
        assert.deepStrictEqual(
          reasoningFields(input.family, sent),
          reasoningFields(input.family, recorded),
          `${name}: the reasoning fields sent`
        )
      })
    )
  }
})
