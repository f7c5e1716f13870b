#!/usr/bin/env node
// Micro-benchmarks of agentfx overheads without HTTP (not part of the benchmark; needs
// `pnpm build`): agent.run over an in-memory model, the tool loop, the run's stream API, and
// OpenAiChat encode/decode. Prints CPU µs per operation.
//   node bench/micro.mjs [--n 20000] [--only name] [--prof]
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, Messages, Model, Tool, Usage } from "@agentfx/core"
import { OpenAiChat } from "@agentfx/providers"

const args = process.argv.slice(2)
const N = Number(args[args.indexOf("--n") + 1] || 20000)
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined
const cpu = () => {
  const c = process.cpuUsage()
  return c.user + c.system
}

// The in-memory model builds its responses as a provider's decoder does: with
// `Messages.unvalidated` makers (a Schema constructor that fills in defaults costs ≈ 1 µs per
// default, more than the run's own work on some steps); the constructors on a core without them.
const unvalidated = Messages.unvalidated ?? ((C) => (props) => new C(props, true))
const makeResponse = unvalidated(Messages.ModelResponse)
const makeText = unvalidated(Messages.TextPart)
const makeToolCall = unvalidated(Messages.ToolCallPart)
const makeUsage = unvalidated(Usage.RequestUsage)
const textResponse = () =>
  makeResponse({
    parts: [makeText({ content: "Hello from the benchmark mock server." })],
    usage: makeUsage({ inputTokens: 10, outputTokens: 8 }),
    modelName: "bench-text",
    finishReason: "stop"
  })
const memModel = Model.make({
  modelName: "mem",
  system: "mem",
  profile: Model.defaultProfile,
  settings: undefined,
  request: (messages, _settings, params) => {
    const last = messages[messages.length - 1]
    const hasReturn = last.parts.some((p) => p._tag === "ToolReturnPart")
    if (params.functionTools.length > 0 && !hasReturn) {
      return Effect.succeed(
        makeResponse({
          parts: [
            makeToolCall({ toolName: "get_weather", args: '{"city":"Paris"}', toolCallId: "c1" })
          ],
          usage: makeUsage({ inputTokens: 10, outputTokens: 8 }),
          finishReason: "tool_call"
        })
      )
    }
    return Effect.sync(textResponse)
  },
  requestStream: () => Effect.die("no streaming")
})
const plain = Agent.make({ name: "bench", model: memModel })
const getWeather = Tool.make("get_weather", {
  description: "Get the current weather in a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`sunny, 25C in ${city}`)
})
const withTool = Agent.make({ name: "bench-tool", model: memModel, tools: [getWeather] })

const _chatModel = OpenAiChat.make ? null : null
const wire = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "bench-text",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: "Hello from the benchmark mock server.",
        refusal: null,
        annotations: []
      },
      logprobs: null,
      finish_reason: "stop"
    }
  ],
  usage: {
    prompt_tokens: 10,
    completion_tokens: 8,
    total_tokens: 18,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0
    }
  },
  service_tier: "default",
  system_fingerprint: null
}
const profile = OpenAiChat.openAiProfile("bench-text")
const msgs = [
  new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: "Say hello." })] })
]

const cases = {
  "agent.run (in-memory model)": () => plain.run("Say hello."),
  "agent.run tool loop (in-memory model)": () => withTool.run("What is the weather in Paris?"),
  "OpenAiChat.encodeRequest": () =>
    Effect.sync(() =>
      OpenAiChat.encodeRequest(msgs, {}, Model.ModelRequestParameters.empty, {
        modelName: "bench-text",
        profile,
        stream: false
      })
    ),
  "OpenAiChat.decodeResponse": () =>
    Effect.sync(() => OpenAiChat.decodeResponse(wire, "bench-text"))
}
for (const [name, mk] of Object.entries(cases)) {
  if (only && !name.includes(only)) continue
  const loop = (n) => Effect.forEach(Array.from({ length: n }), () => mk(), { discard: true })
  await Effect.runPromise(loop(Math.min(2000, N)))
  const c0 = cpu()
  const t0 = performance.now()
  await Effect.runPromise(loop(N))
  console.log(
    `${name.padEnd(42)} ${((cpu() - c0) / N).toFixed(1).padStart(7)} CPU µs/op  ${(((performance.now() - t0) * 1000) / N).toFixed(1).padStart(7)} µs/op`
  )
}
