/**
 * pydantic-model — structured output from free text.
 *
 * The agent's output is a `CityLocation` Schema: the model must answer by calling the
 * `final_result` output tool, whose arguments are decoded (and, if they do not fit, sent back
 * to the model as a retry prompt). The result is a typed value, not text to parse.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/pydantic-model.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples pydantic-model
 */
import { Agent, FunctionModel } from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

export class CityLocation extends Schema.Class<CityLocation>("CityLocation")({
  city: Schema.String,
  country: Schema.String
}) {}

/** `Agent<CityLocation, never, Model>` */
export const agent = Agent.make({ name: "city", output: ToolOutput.make(CityLocation) })

// A tiny "world model" for the scripted run: it recognises a few descriptions.
const scripted = Scripted.make("pydantic-model", (messages, info) => {
  const prompt = Scripted.lastPrompt(messages).toLowerCase()
  const known: Array<[string, typeof CityLocation.Encoded]> = [
    ["windy city", { city: "Chicago", country: "United States" }],
    ["big apple", { city: "New York", country: "United States" }],
    ["city of light", { city: "Paris", country: "France" }]
  ]
  const hit = known.find(([key]) => prompt.includes(key))?.[1] ?? {
    city: "London",
    country: "United Kingdom"
  }
  return FunctionModel.toolCall(Scripted.outputTool(info), hit)
})

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  const result = yield* agent
    .run("The windy city in the US of A.")
    .pipe(Effect.provide(model.layer))
  yield* Console.log(`output: ${result.output.city}, ${result.output.country}`)
  yield* Console.log(`is a CityLocation: ${result.output instanceof CityLocation}`)
  yield* Console.log(
    `usage: ${result.usage.requests} request(s), ${result.usage.inputTokens} input / ${result.usage.outputTokens} output tokens`
  )
})

NodeRuntime.runMain(program)
