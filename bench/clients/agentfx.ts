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

    // The provider client (HTTP + config) is built once; the model layer is
    // provided once per scenario, around the whole loop, as an app would.
    const runtime = ManagedRuntime.make(
      Provider.layer({ apiKey: Redacted.make("x"), baseUrl: `${baseUrl}/v1` }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      ) as Any
    )
    const withModel = (id: string) => Effect.provide(Provider.model(id) as Any)

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
    const run = (eff: Any) => runtime.runPromise(eff) as Promise<Any>

    const api = {
      sequential: (id: string, n: number) =>
        run(Effect.forEach(times(n), () => call, { discard: true }).pipe(withModel(id))),
      concurrent: (id: string, n: number) =>
        run(
          Effect.forEach(times(n), () => call, { discard: true, concurrency: "unbounded" }).pipe(
            withModel(id)
          )
        ),
      agentTool: (n: number) =>
        run(
          Effect.forEach(times(n), () => agentRun, { discard: true }).pipe(withModel("bench-tool"))
        ),
      stream: (id: string) =>
        run(
          (plain.runStream(PROMPT) as Any).pipe(
            // a text chunk is a TextPartDelta, or the PartStartEvent of a TextPart that
            // carries the first chunk's text (as pydantic-ai's parts manager does)
            Stream.runFold(0, (n: number, e: Any) =>
              (e._tag === "PartDeltaEvent" &&
                e.delta?._tag === "TextPartDelta" &&
                e.delta.contentDelta) ||
              (e._tag === "PartStartEvent" && e.part?._tag === "TextPart" && e.part.content)
                ? n + 1
                : n
            ),
            withModel(id)
          )
        ),
      close: () => runtime.dispose()
    }

    return api
  }
})
