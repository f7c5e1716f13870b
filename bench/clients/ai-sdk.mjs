// Vercel AI SDK: `ai` 6.0.x + `@ai-sdk/openai` 3.0.x (the newest lines that
// support Node 20). Chat Completions via `openai.chat(model)`, Responses via
// `openai.responses(model)`. Default options (global fetch, maxRetries 2).

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

globalThis.AI_SDK_LOG_WARNINGS = false

main({
  name: "ai-sdk",
  protocols: ["chat", "responses"],
  async load() {
    const [ai, provider] = await Promise.all([import("ai"), import("@ai-sdk/openai")])
    return { ai, provider }
  },
  async init({ ai, provider }, { baseUrl, protocol }) {
    const { generateText, streamText, tool, jsonSchema, stepCountIs } = ai
    const openai = provider.createOpenAI({ apiKey: "x", baseURL: `${baseUrl}/v1` })
    // Each model object is made once per id (as an app keeps its model), not per call.
    const models = new Map()
    const model = (id) => {
      let m = models.get(id)
      if (m === undefined) {
        m = protocol === "chat" ? openai.chat(id) : openai.responses(id)
        models.set(id, m)
      }
      return m
    }
    const tools = {
      get_weather: tool({
        description: TOOL_DESCRIPTION,
        inputSchema: jsonSchema(TOOL_PARAMETERS),
        execute: async ({ city }) => weather(city)
      })
    }
    const call = async (id) =>
      checkText((await generateText({ model: model(id), prompt: PROMPT })).text)
    const agentRun = async () => {
      const r = await generateText({
        model: model("bench-tool"),
        prompt: TOOL_PROMPT,
        tools,
        stopWhen: stepCountIs(5)
      })
      checkFinal(r.text)
    }
    return {
      sequential: (id, n) => seq(n, () => call(id)),
      concurrent: (id, n) => all(n, () => call(id)).then(() => undefined),
      agentTool: (n) => seq(n, agentRun),
      async stream(id) {
        let error
        const r = streamText({
          model: model(id),
          prompt: PROMPT,
          onError: ({ error: e }) => {
            error = e
          }
        })
        let count = 0
        for await (const _ of r.textStream) count++
        if (error) throw error
        return count
      }
    }
  }
})
