// agentfx runner. Written against the INTENDED API (the packages did not exist
// when this was written); everything that depends on agentfx's API is in this
// file so it can be fixed up in one place:
//
//   import { Agent, Tool } from "@agentfx/core"
//   import { OpenAiChat, OpenAiResponses } from "@agentfx/providers"
//   OpenAiChat.model(id)                     Layer providing core's `Model`,
//     .pipe(Layer.provide(OpenAiChat.layer({ apiKey: Redacted, baseUrl })))
//     (baseUrl is given with the /v1 suffix, like the openai SDK's baseURL)
//   NodeHttpClient.layerUndici               transport (chosen by the user), imported from
//                                            @effect/platform-node/NodeHttpClient; Effect's
//                                            modules by path (effect/Effect, …), as agentfx's
//                                            packages import them (bench/README.md, "Imports")
//   agent.run(prompt)        Effect<{ output }>
//   agent.run(prompt, { onEvent })  the same events to a callback (the push path)
//   agent.runStream(prompt)  Stream of events; text deltas are
//                            { _tag: "PartDeltaEvent", delta: { _tag: "TextPartDelta", contentDelta } }
//                            (or the first chunk as { _tag: "PartStartEvent", part: { _tag: "TextPart", content } })
//   Tool.make(name, { description, parameters: Schema.Struct, handler })  (matches core's Tool.ts)
//   PartialJson.make()       from "@agentfx/output": { push(delta), snapshot() }
//
// run.mjs starts it under `node --import tsx --conditions=@agentfx/source` (packages as
// TypeScript source) or, with --loader node, transpiled to .agentfx.compiled.mjs
// with the packages' dist/; every runner gets the same loader so import and
// start-up costs compare fairly.

import {
  checkFinal,
  checkText,
  main,
  PROMPT,
  TOOL_DESCRIPTION,
  TOOL_PROMPT,
  weather
} from "./_harness.mjs"

type Any = any

main({
  name: "agentfx",
  protocols: ["chat", "responses"],
  // partial-json: does not need core/providers; n/a if @agentfx/output is missing.
  async partialJson(deltas: ReadonlyArray<string>, doc: ReadonlyArray<unknown>) {
    const { PartialJson } = (await import("@agentfx/output")) as Any
    const parser = PartialJson.make()
    let snap: unknown
    for (const d of deltas) {
      parser.push(d)
      snap = parser.snapshot() // a streaming consumer looks at every partial value
    }
    if (!Array.isArray(snap) || snap.length !== doc.length) {
      const got = Array.isArray(snap) ? snap.length : typeof snap
      throw new Error(`partial JSON: final snapshot has ${got} records, expected ${doc.length}`)
    }
  },
  // Timed by the `import` scenario: core + one provider package, no transport.
  async load() {
    const [core, providers] = await Promise.all([
      import("@agentfx/core"),
      import("@agentfx/providers")
    ])
    return { core, providers }
  },
  async init(
    { core, providers }: Any,
    { baseUrl, protocol }: { baseUrl: string; protocol: "chat" | "responses" }
  ) {
    const [Effect, Layer, ManagedRuntime, Redacted, Schema, Stream] = await Promise.all([
      import("effect/Effect"),
      import("effect/Layer"),
      import("effect/ManagedRuntime"),
      import("effect/Redacted"),
      import("effect/Schema"),
      import("effect/Stream")
    ])
    const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")
    const { Agent, Tool } = core as Any
    const Provider = (protocol === "chat" ? providers.OpenAiChat : providers.OpenAiResponses) as Any

    // The provider client (HTTP + config) is built once and each model once, as an app builds
    // its runtime: one `ManagedRuntime` per model id (the mock server's ids name the scenario),
    // made on first use, sharing the client through one memo map; nothing is provided per call
    // or per stream (the other runners likewise build their client once, in `init`).
    const client = Provider.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
      Layer.provide(NodeHttpClient.layerUndici)
    )
    const memoMap = Effect.runSync(Layer.makeMemoMap)
    const runtimes = new Map<string, Any>()
    const runtimeFor = (id: string) => {
      let runtime = runtimes.get(id)
      if (runtime === undefined) {
        runtime = ManagedRuntime.make(Layer.provide(Provider.model(id), client) as Any, memoMap)
        runtimes.set(id, runtime)
      }
      return runtime
    }
    // `AGENTFX_BENCH_CONSUME=onevent` (run.mjs's `agentfx-onevent` rows): streams are read with
    // `agent.run(prompt, { onEvent })`, the push path, instead of `runStream`.
    const onEvent = process.env.AGENTFX_BENCH_CONSUME === "onevent"

    const plain = Agent.make({ name: "bench" })
    const getWeather = Tool.make("get_weather", {
      description: TOOL_DESCRIPTION,
      parameters: Schema.Struct({ city: Schema.String }),
      handler: ({ city }: { city: string }) => Effect.succeed(weather(city))
    })
    const withTool = Agent.make({ name: "bench-tool", tools: [getWeather] })

    const call = (plain.run(PROMPT) as Any).pipe(Effect.map((r: Any) => checkText(r.output)))
    const agentRun = (withTool.run(TOOL_PROMPT) as Any).pipe(
      Effect.map((r: Any) => checkFinal(r.output))
    )
    const times = (n: number) => Array.from({ length: n })
    const run = (id: string, eff: Any) => runtimeFor(id).runPromise(eff) as Promise<Any>
    // a text chunk is a TextPartDelta, or the PartStartEvent of a TextPart that carries the
    // first chunk's text (as pydantic-ai's parts manager does)
    const isText = (e: Any) =>
      (e._tag === "PartDeltaEvent" && e.delta?._tag === "TextPartDelta" && e.delta.contentDelta) ||
      (e._tag === "PartStartEvent" && e.part?._tag === "TextPart" && e.part.content)

    const api = {
      sequential: (id: string, n: number) =>
        run(
          id,
          Effect.forEach(times(n), () => call, { discard: true })
        ),
      concurrent: (id: string, n: number) =>
        run(
          id,
          Effect.forEach(times(n), () => call, { discard: true, concurrency: "unbounded" })
        ),
      agentTool: (n: number) =>
        run(
          "bench-tool",
          Effect.forEach(times(n), () => agentRun, { discard: true })
        ),
      stream: (id: string) => {
        if (onEvent) {
          let n = 0
          const counted = (
            plain.run(PROMPT, {
              onEvent: (e: Any) => {
                if (isText(e)) n++
              }
            }) as Any
          ).pipe(Effect.map(() => n))
          return run(id, counted)
        }
        return run(
          id,
          (plain.runStream(PROMPT) as Any).pipe(
            Stream.runFold(0, (n: number, e: Any) => (isText(e) ? n + 1 : n))
          )
        )
      },
      close: () => Promise.all([...runtimes.values()].map((r) => r.dispose()))
    }

    return api
  }
})
