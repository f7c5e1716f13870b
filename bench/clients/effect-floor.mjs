// Reference runner, not a peer: the floor of any client built on Effect's HTTP stack.
//
// The bare `@effect/platform` `HttpClient` over `NodeHttpClient.layerUndici` + `JSON.parse` of
// the body: the same request bodies and hand-written SSE splitting as `raw.mjs`, but run as
// Effect programs on a `ManagedRuntime` (each scenario's loop is one program, as in the agentfx
// and effect-ai runners), with the imports the agentfx runner makes: Effect modules by path
// (`effect/Effect`, …, as agentfx's packages import them), the transport from
// `@effect/platform-node/NodeHttpClient`, and the two `@effect/platform` modules it uses
// (`HttpClient`, `HttpClientRequest`). Not the barrels (`effect`, `@effect/platform-node`,
// `@effect/platform`): on Node each loads every module of its package (see bench/README.md,
// "Imports"). The platform client's own `http.client` span is off, as agentfx's providers run it
// by default.
//
// It has no target. agentfx ÷ this runner is what agentfx adds on top of Effect's HTTP stack;
// this runner ÷ raw is what every Effect-based client pays before doing any work.

import {
  checkFinal,
  checkText,
  main,
  textOfResponse,
  textRequestBody,
  weatherTools,
  sseSplitter,
  PROMPT,
  TOOL_PROMPT,
  weather
} from "./_harness.mjs"

main({
  name: "effect-floor",
  protocols: ["chat", "responses"],
  // Timed by the `import` scenario, and loaded the same way in every scenario.
  async load() {
    const [Effect, ManagedRuntime, Stream, NodeHttpClient, HttpClient, HttpClientRequest] =
      await Promise.all([
        import("effect/Effect"),
        import("effect/ManagedRuntime"),
        import("effect/Stream"),
        import("@effect/platform-node/NodeHttpClient"),
        import("@effect/platform/HttpClient"),
        import("@effect/platform/HttpClientRequest")
      ])
    return { Effect, ManagedRuntime, Stream, NodeHttpClient, HttpClient, HttpClientRequest }
  },
  async init(
    { Effect, ManagedRuntime, Stream, NodeHttpClient, HttpClient, HttpClientRequest },
    { baseUrl, protocol }
  ) {
    const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
    // The client is built once; non-2xx is an error; no platform span (nor trace headers).
    const client = (await runtime.runPromise(HttpClient.HttpClient)).pipe(
      HttpClient.filterStatusOk,
      HttpClient.withTracerDisabledWhen(() => true)
    )

    const chat = protocol === "chat"
    const url = `${baseUrl}/v1/${chat ? "chat/completions" : "responses"}`
    // raw.mjs sends content-type: application/json (set by bodyText) and this authorization
    const request = HttpClientRequest.post(url).pipe(
      HttpClientRequest.setHeader("authorization", "Bearer x")
    )
    const post = (body) =>
      client.execute(HttpClientRequest.bodyText(request, JSON.stringify(body), "application/json"))
    const postJson = (body) =>
      post(body).pipe(
        Effect.flatMap((res) => res.text),
        Effect.map((t) => JSON.parse(t))
      )

    const textOf = (j) => textOfResponse(chat, j)
    const call = (model) =>
      postJson(textRequestBody(chat, model)).pipe(Effect.map((j) => checkText(textOf(j))))

    const tools = weatherTools(chat)
    // Same loop as raw.mjs: model turn; if it asks for tools, run them and ask again.
    const agentRun = chat
      ? Effect.suspend(() => {
          const messages = [{ role: "user", content: TOOL_PROMPT }]
          const turn = () =>
            postJson({ model: "bench-tool", messages, tools }).pipe(
              Effect.flatMap((j) => {
                const msg = j.choices[0].message
                if (!msg.tool_calls?.length) return Effect.sync(() => checkFinal(msg.content))
                messages.push(msg)
                for (const tc of msg.tool_calls) {
                  const a = JSON.parse(tc.function.arguments)
                  messages.push({ role: "tool", tool_call_id: tc.id, content: weather(a.city) })
                }
                return turn()
              })
            )
          return turn()
        })
      : Effect.suspend(() => {
          const input = [{ role: "user", content: TOOL_PROMPT }]
          const turn = () =>
            postJson({ model: "bench-tool", input, tools }).pipe(
              Effect.flatMap((j) => {
                const calls = j.output.filter((o) => o.type === "function_call")
                if (!calls.length) return Effect.sync(() => checkFinal(textOf(j)))
                for (const c of calls) {
                  input.push(c)
                  input.push({
                    type: "function_call_output",
                    call_id: c.call_id,
                    output: weather(JSON.parse(c.arguments).city)
                  })
                }
                return turn()
              })
            )
          return turn()
        })

    // response.stream → text decode → hand SSE split; resolves to the text-delta count
    const stream = (model) =>
      Effect.suspend(() => {
        let count = 0
        let text = ""
        const feed = sseSplitter(
          chat
            ? (data) => {
                if (data === "[DONE]") return
                const c = JSON.parse(data).choices[0]?.delta?.content
                if (c) {
                  count++
                  text += c
                }
              }
            : (data) => {
                const ev = JSON.parse(data)
                if (ev.type === "response.output_text.delta") {
                  count++
                  text += ev.delta
                }
              }
        )
        const body = chat
          ? {
              model,
              messages: [{ role: "user", content: PROMPT }],
              stream: true,
              stream_options: { include_usage: true }
            }
          : { model, input: PROMPT, stream: true }
        return post(body).pipe(
          Effect.flatMap((res) =>
            res.stream.pipe(
              Stream.decodeText(),
              Stream.runForEachChunk((texts) =>
                Effect.sync(() => {
                  for (const t of texts) feed(t)
                })
              )
            )
          ),
          Effect.flatMap(() =>
            text.length === 0 ? Effect.fail(new Error("empty stream")) : Effect.succeed(count)
          )
        )
      })

    const times = (n) => Array.from({ length: n })
    const run = (eff) => runtime.runPromise(eff)
    return {
      sequential: (model, n) => run(Effect.forEach(times(n), () => call(model), { discard: true })),
      concurrent: (model, n) =>
        run(
          Effect.forEach(times(n), () => call(model), { discard: true, concurrency: "unbounded" })
        ),
      agentTool: (n) => run(Effect.forEach(times(n), () => agentRun, { discard: true })),
      stream: (model) => run(stream(model)),
      close: () => runtime.dispose()
    }
  }
})
