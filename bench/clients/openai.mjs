// The official `openai` SDK (6.49.x: the newest line that supports Node 20),
// default options (it uses the global fetch).

import {
  checkFinal,
  checkText,
  main,
  PROMPT,
  seq,
  all,
  TOOL_DESCRIPTION,
  TOOL_PARAMETERS,
  TOOL_PROMPT,
  weather
} from "./_harness.mjs"

main({
  name: "openai",
  protocols: ["chat", "responses"],
  async load() {
    return { OpenAI: (await import("openai")).default }
  },
  async init({ OpenAI }, { baseUrl, protocol }) {
    const client = new OpenAI({ apiKey: "x", baseURL: `${baseUrl}/v1` })
    const chat = protocol === "chat"
    const call = async (model) => {
      if (chat) {
        const r = await client.chat.completions.create({
          model,
          messages: [{ role: "user", content: PROMPT }]
        })
        checkText(r.choices[0].message.content)
      } else {
        const r = await client.responses.create({ model, input: PROMPT })
        checkText(r.output_text)
      }
    }
    const agentRun = async () => {
      if (chat) {
        const tools = [
          {
            type: "function",
            function: {
              name: "get_weather",
              description: TOOL_DESCRIPTION,
              parameters: TOOL_PARAMETERS
            }
          }
        ]
        const messages = [{ role: "user", content: TOOL_PROMPT }]
        for (;;) {
          const r = await client.chat.completions.create({ model: "bench-tool", messages, tools })
          const msg = r.choices[0].message
          if (!msg.tool_calls?.length) return checkFinal(msg.content)
          messages.push(msg)
          for (const tc of msg.tool_calls) {
            const a = JSON.parse(tc.function.arguments)
            messages.push({ role: "tool", tool_call_id: tc.id, content: weather(a.city) })
          }
        }
      } else {
        const tools = [
          {
            type: "function",
            name: "get_weather",
            description: TOOL_DESCRIPTION,
            parameters: TOOL_PARAMETERS,
            strict: false
          }
        ]
        const input = [{ role: "user", content: TOOL_PROMPT }]
        for (;;) {
          const r = await client.responses.create({ model: "bench-tool", input, tools })
          const calls = r.output.filter((o) => o.type === "function_call")
          if (!calls.length) return checkFinal(r.output_text)
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
        let count = 0
        if (chat) {
          const s = await client.chat.completions.create({
            model,
            messages: [{ role: "user", content: PROMPT }],
            stream: true,
            stream_options: { include_usage: true }
          })
          for await (const chunk of s) if (chunk.choices[0]?.delta?.content) count++
        } else {
          const s = await client.responses.create({ model, input: PROMPT, stream: true })
          for await (const ev of s) if (ev.type === "response.output_text.delta") count++
        }
        return count
      }
    }
  }
})
