// `@effect/ai` 0.37 + `@effect/ai-openai` 0.41 (the versions that pair with
// effect 3.22), transport `@effect/platform-node` NodeHttpClient.layerUndici.
// `@effect/ai-openai` speaks only the Responses API.
//
// The `import` scenario times `@effect/ai` + `@effect/ai-openai` (not the
// transport, which the user picks), as for agentfx.

import {
  checkFinal,
  checkText,
  main,
  PROMPT,
  TOOL_DESCRIPTION,
  TOOL_PROMPT,
  weather
} from "./_harness.mjs"

main({
  name: "effect-ai",
  protocols: ["responses"],
  async load() {
    const [ai, aiOpenAi] = await Promise.all([import("@effect/ai"), import("@effect/ai-openai")])
    return { ai, aiOpenAi }
  },
  async init({ ai, aiOpenAi }, { baseUrl }) {
    const { Effect, Layer, ManagedRuntime, Redacted, Schema, Stream } = await import("effect")
    const { NodeHttpClient } = await import("@effect/platform-node")
    const { Chat, LanguageModel, Tool, Toolkit } = ai
    const { OpenAiClient, OpenAiLanguageModel } = aiOpenAi

    const GetWeather = Tool.make("get_weather", {
      description: TOOL_DESCRIPTION,
      parameters: { city: Schema.String },
      success: Schema.String
    })
    const toolkit = Toolkit.make(GetWeather)
    const handlers = toolkit.toLayer({ get_weather: ({ city }) => Effect.succeed(weather(city)) })

    const runtime = ManagedRuntime.make(
      Layer.mergeAll(
        OpenAiClient.layer({ apiKey: Redacted.make("x"), apiUrl: `${baseUrl}/v1` }).pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        ),
        handlers
      )
    )
    const withModel = (id) => Effect.provide(OpenAiLanguageModel.model(id))

    const call = LanguageModel.generateText({ prompt: PROMPT }).pipe(
      Effect.map((r) => checkText(r.text))
    )
    const agentRun = Effect.gen(function* () {
      const chat = yield* Chat.empty
      yield* chat.generateText({ prompt: TOOL_PROMPT, toolkit })
      // one more model turn with the tool call + tool result in the history
      const r = yield* chat.generateText({ prompt: [], toolkit })
      checkFinal(r.text)
    })

    return {
      sequential: (id, n) =>
        runtime.runPromise(
          Effect.forEach(Array.from({ length: n }), () => call, { discard: true }).pipe(
            withModel(id)
          )
        ),
      concurrent: (id, n) =>
        runtime.runPromise(
          Effect.forEach(Array.from({ length: n }), () => call, {
            discard: true,
            concurrency: "unbounded"
          }).pipe(withModel(id))
        ),
      agentTool: (n) =>
        runtime.runPromise(
          Effect.forEach(Array.from({ length: n }), () => agentRun, { discard: true }).pipe(
            withModel("bench-tool")
          )
        ),
      stream: (id) =>
        runtime.runPromise(
          LanguageModel.streamText({ prompt: PROMPT }).pipe(
            Stream.runFold(0, (n, part) => (part.type === "text-delta" ? n + 1 : n)),
            withModel(id)
          )
        ),
      close: () => runtime.dispose()
    }
  }
})
