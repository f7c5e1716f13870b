// `@effect/ai` 0.37 + `@effect/ai-openai` 0.41 (the versions that pair with
// effect 3.22), transport `@effect/platform-node` NodeHttpClient.layerUndici.
// `@effect/ai-openai` speaks only the Responses API.
//
// The `import` scenario times the `@effect/ai` + `@effect/ai-openai` modules it uses (not the
// transport, which the user picks), as for agentfx. Like every Effect-based runner here it
// imports modules by path, not the packages' barrels (bench/README.md, "Imports").

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
    // Modules by path, as every Effect-based runner here imports them (bench/README.md, "Imports")
    const [Chat, LanguageModel, Tool, Toolkit, OpenAiClient, OpenAiLanguageModel] =
      await Promise.all([
        import("@effect/ai/Chat"),
        import("@effect/ai/LanguageModel"),
        import("@effect/ai/Tool"),
        import("@effect/ai/Toolkit"),
        import("@effect/ai-openai/OpenAiClient"),
        import("@effect/ai-openai/OpenAiLanguageModel")
      ])
    return { Chat, LanguageModel, Tool, Toolkit, OpenAiClient, OpenAiLanguageModel }
  },
  async init(
    { Chat, LanguageModel, Tool, Toolkit, OpenAiClient, OpenAiLanguageModel },
    { baseUrl }
  ) {
    const [Effect, Layer, ManagedRuntime, Redacted, Schema, Stream, NodeHttpClient] =
      await Promise.all([
        import("effect/Effect"),
        import("effect/Layer"),
        import("effect/ManagedRuntime"),
        import("effect/Redacted"),
        import("effect/Schema"),
        import("effect/Stream"),
        import("@effect/platform-node/NodeHttpClient")
      ])

    const GetWeather = Tool.make("get_weather", {
      description: TOOL_DESCRIPTION,
      parameters: { city: Schema.String },
      success: Schema.String
    })
    const toolkit = Toolkit.make(GetWeather)
    const handlers = toolkit.toLayer({ get_weather: ({ city }) => Effect.succeed(weather(city)) })

    // The client is built once and each model once (one runtime per model id, made on first use,
    // sharing the client through one memo map), as an app does: nothing provided per call or
    // per stream (as the agentfx runner).
    const base = Layer.mergeAll(
      OpenAiClient.layer({ apiKey: Redacted.make("x"), apiUrl: `${baseUrl}/v1` }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      ),
      handlers
    )
    const memoMap = Effect.runSync(Layer.makeMemoMap)
    const runtimes = new Map()
    const runtimeFor = (id) => {
      let runtime = runtimes.get(id)
      if (runtime === undefined) {
        runtime = ManagedRuntime.make(
          Layer.provideMerge(OpenAiLanguageModel.model(id), base),
          memoMap
        )
        runtimes.set(id, runtime)
      }
      return runtime
    }

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
        runtimeFor(id).runPromise(
          Effect.forEach(Array.from({ length: n }), () => call, { discard: true })
        ),
      concurrent: (id, n) =>
        runtimeFor(id).runPromise(
          Effect.forEach(Array.from({ length: n }), () => call, {
            discard: true,
            concurrency: "unbounded"
          })
        ),
      agentTool: (n) =>
        runtimeFor("bench-tool").runPromise(
          Effect.forEach(Array.from({ length: n }), () => agentRun, { discard: true })
        ),
      stream: (id) =>
        runtimeFor(id).runPromise(
          LanguageModel.streamText({ prompt: PROMPT }).pipe(
            Stream.runFold(0, (n, part) => (part.type === "text-delta" ? n + 1 : n))
          )
        ),
      close: () => Promise.all([...runtimes.values()].map((r) => r.dispose()))
    }
  }
})
