#!/usr/bin/env node
// Counts Effect run-loop instructions per agent operation (not part of the benchmark; needs
// `pnpm build`). Deterministic, so it measures overhead changes even on a loaded machine.
//   node bench/opcount.mjs
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, Messages, Model, Tool, Usage } from "@agentfx/core"
import { countOps } from "./_opcounter.mjs"

const usage = () => new Usage.RequestUsage({ inputTokens: 10, outputTokens: 8 }, true)
const memModel = Model.make({
  modelName: "mem",
  system: "mem",
  profile: Model.defaultProfile,
  settings: undefined,
  request: (messages, _settings, params) => {
    const last = messages[messages.length - 1]
    const hasReturn = last.parts.some((p) => p._tag === "ToolReturnPart")
    return Effect.sync(() =>
      params.functionTools.length > 0 && !hasReturn
        ? new Messages.ModelResponse(
            {
              parts: [
                new Messages.ToolCallPart(
                  { toolName: "get_weather", args: '{"city":"Paris"}', toolCallId: "c1" },
                  true
                )
              ],
              usage: usage(),
              finishReason: "tool_call"
            },
            true
          )
        : new Messages.ModelResponse(
            {
              parts: [new Messages.TextPart({ content: "Hello." }, true)],
              usage: usage(),
              finishReason: "stop"
            },
            true
          )
    )
  },
  requestStream: () => Effect.die("no streaming")
})
const getWeather = Tool.make("get_weather", {
  description: "Get the current weather in a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`sunny, 25C in ${city}`)
})
const plain = Agent.make({ name: "bench", model: memModel })
const withTool = Agent.make({ name: "bench-tool", model: memModel, tools: [getWeather] })
const cases = {
  "agent.run": plain.run("Say hello."),
  "agent.run (tool loop)": withTool.run("What is the weather in Paris?")
}
for (const [name, eff] of Object.entries(cases)) {
  await Effect.runPromise(eff)
  console.log(`${name.padEnd(24)} ${await countOps(() => Effect.runPromise(eff))}`)
}
