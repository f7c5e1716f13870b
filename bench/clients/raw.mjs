// Baseline: the global `fetch` (Node's bundled undici) + JSON.parse, and a
// hand-rolled SSE line splitter for streams. No library.
//
// In the `import` scenario this runner measures a bare `import("effect")`: that
// is the reference the agentfx import target is stated against.

import {
  checkFinal,
  checkText,
  main,
  textOfResponse,
  textRequestBody,
  weatherTools,
  sseSplitter,
  PROMPT,
  seq,
  all,
  TOOL_PROMPT,
  weather
} from "./_harness.mjs"

main({
  name: "raw",
  protocols: ["chat", "responses"],
  async load({ scenario }) {
    // the import-scenario baseline only: raw needs no library, and loading effect
    // in the other scenarios would inflate raw's RSS
    return scenario === "import" ? { effect: await import("effect") } : {}
  },
  async init(_mods, { baseUrl, protocol }) {
    const chat = protocol === "chat"
    const url = `${baseUrl}/v1/${chat ? "chat/completions" : "responses"}`
    const headers = { "content-type": "application/json", authorization: "Bearer x" }
    const post = async (body) => {
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) })
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`)
      return res
    }
    const textOf = (j) => textOfResponse(chat, j)
    const call = async (model) => {
      const res = await post(textRequestBody(chat, model))
      checkText(textOf(JSON.parse(await res.text())))
    }
    const tools = weatherTools(chat)
    const agentRun = async () => {
      if (chat) {
        const messages = [{ role: "user", content: TOOL_PROMPT }]
        for (;;) {
          const j = JSON.parse(await (await post({ model: "bench-tool", messages, tools })).text())
          const msg = j.choices[0].message
          if (!msg.tool_calls?.length) return checkFinal(msg.content)
          messages.push(msg)
          for (const tc of msg.tool_calls) {
            const a = JSON.parse(tc.function.arguments)
            messages.push({ role: "tool", tool_call_id: tc.id, content: weather(a.city) })
          }
        }
      } else {
        const input = [{ role: "user", content: TOOL_PROMPT }]
        for (;;) {
          const j = JSON.parse(await (await post({ model: "bench-tool", input, tools })).text())
          const calls = j.output.filter((o) => o.type === "function_call")
          if (!calls.length) return checkFinal(textOf(j))
          for (const c of calls) {
            input.push(c)
            input.push({
              type: "function_call_output",
              call_id: c.call_id,
              output: weather(JSON.parse(c.arguments).city)
            })
          }
        }
      }
    }
    return {
      sequential: (model, n) => seq(n, () => call(model)),
      concurrent: (model, n) => all(n, () => call(model)).then(() => undefined),
      agentTool: (n) => seq(n, agentRun),
      async stream(model) {
        const res = await post(
          chat
            ? {
                model,
                messages: [{ role: "user", content: PROMPT }],
                stream: true,
                stream_options: { include_usage: true }
              }
            : { model, input: PROMPT, stream: true }
        )
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
        const decoder = new TextDecoder()
        for await (const bytes of res.body) feed(decoder.decode(bytes, { stream: true }))
        feed(decoder.decode())
        if (text.length === 0) throw new Error("empty stream")
        return count
      }
    }
  }
})
