/**
 * The chat app of `chat-app.ts`, as a library so tests can start it in process.
 *
 * - `GET /` serves a small page (inline JS, no build step) that speaks the AI SDK UI message
 *   stream protocol — what `useChat` of `ai` 6 does: it keeps the conversation as UI messages,
 *   posts `{ id, messages, trigger }` to `/api/chat`, and renders the SSE chunks it gets back
 *   (text deltas, tool calls with their input and output, errors). A call that needs approval
 *   (`book_table`) gets Approve / Deny buttons; the decision is recorded on the tool part and the
 *   conversation posted again, which resumes the stopped run (`chat.deferredToolResults`).
 *   A built-in tool the provider runs itself (a web search: `providerExecuted` tool parts) is
 *   shown like a tool, marked as the provider's; a sub-agent (`ask_researcher`) shows its
 *   message while it streams (the tool part's preliminary outputs), then its result.
 * - `POST /api/chat` is one line: `UiStream.aiSdkHandler` decodes the UI messages into agentfx
 *   history and streams the agent's run as UI message chunks. The server keeps no state.
 * - `GET /favicon.ico` answers 204 (the page also declares an empty icon), so no request 404s.
 *
 * A React app with `useChat({ transport: new DefaultChatTransport({ api: "/api/chat" }) })`
 * works against the same endpoint.
 */
import { Agent, FunctionModel, Messages, Model, PartsManager, Tool } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createServer } from "node:http"
import * as Scripted from "@agentfx/cli/Scripted"

const skies: Record<string, string> = { paris: "sunny", london: "rainy", tokyo: "cloudy" }

/** The chat's one tool: the weather in a city (a fixed table, so the example runs offline). */
export const weather = Tool.make("weather", {
  description: "The current weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) =>
    Effect.succeed({ city, sky: skies[city.toLowerCase()] ?? "clear", celsius: 21 })
})

/**
 * A tool that needs the user's yes (`requiresApproval`): the run stops before it runs, the page
 * shows Approve / Deny buttons, and the decision resumes the run.
 */
export const bookTable = Tool.make("book_table", {
  description: "Book a table at the restaurant for a number of people",
  parameters: Schema.Struct({ people: Schema.Number }),
  requiresApproval: true,
  handler: ({ people }) => Effect.succeed(`table for ${people} booked at 20:00`)
})

const researcherInstructions = "You are a researcher. Answer in one or two sentences."

/**
 * A sub-agent the chat agent calls as a tool (`ask_researcher`). It runs on the chat's model;
 * the page shows its answer while it streams, as the tool part's preliminary output.
 */
export const researcher = Agent.make({ name: "researcher", instructions: researcherInstructions })

/**
 * The chat agent: plain text answers, a weather tool, a booking that needs approval, and a
 * researcher sub-agent.
 */
export const chatAgent = Agent.make({
  name: "chat",
  instructions:
    "You are a friendly assistant. Keep answers short. Use the weather tool for weather, book_table to book a table, ask_researcher for research questions.",
  tools: [
    weather,
    bookTable,
    Agent.asTool(researcher, {
      name: "ask_researcher",
      description: "Ask the researcher a question"
    })
  ]
})

/** What the scripted researcher answers. */
export const researcherAnswer = (question: string): string =>
  `Otters hold hands while they sleep, so they do not drift apart (${question}).`

/** The web search results of the scripted model's built-in search. */
export const searchResults = (query: string) => [
  { url: `https://example.com/search?q=${encodeURIComponent(query)}`, title: `About ${query}` }
]

/**
 * A response with a built-in web search, as a provider that runs the search itself streams it
 * (Anthropic's `web_search`): the call, its results, then the answer. The scripted stand-in
 * for what `FunctionModel` cannot play (its stream has text and function tool calls only).
 */
const webSearchResponse = (query: string, toolCallId: string) => {
  const m = new PartsManager.PartsManager()
  m.info.providerName = "anthropic"
  const events: Array<Messages.ModelResponseStreamEvent> = []
  const push = (e: Messages.ModelResponseStreamEvent | undefined) => {
    if (e !== undefined) events.push(e)
  }
  push(
    m.toolCallDelta("search", {
      toolName: "web_search",
      toolCallId,
      providerName: "anthropic",
      builtin: true
    })
  )
  push(m.toolCallDelta("search", { args: JSON.stringify({ query }) }))
  push(m.endPart("search"))
  push(
    m.part(
      "results",
      new Messages.BuiltinToolReturnPart({
        toolName: "web_search",
        toolCallId,
        providerName: "anthropic",
        content: searchResults(query)
      })
    )
  )
  for (const word of `I searched the web for ${query} and found one page.`.match(/\S+\s*/g)!) {
    push(m.textDelta("text", word))
  }
  events.push(...m.finish())
  const response = m.response({ state: "complete", finishReason: "stop" })
  events.push(new Messages.ResponseCompleteEvent({ response }))
  return { events, response }
}

/**
 * The scripted chat model: it answers from the prompt and proves it saw the history; "weather
 * in <city>" makes it call the weather tool first and answer from its result.
 */
export const scriptedChat = (options: Scripted.Options = { delay: "15 millis" }) =>
  withWebSearch(
    Scripted.make(
      "chat",
      (messages, info) => {
        const prompts = Scripted.userPrompts(messages)
        const current = prompts.at(-1) ?? ""
        const earlier = prompts.slice(0, -1)
        // the researcher sub-agent runs on this model too
        if (info.instructions === researcherInstructions) return researcherAnswer(current)
        const question = /ask the researcher (.+)/i.exec(current)?.[1]
        if (question !== undefined) {
          const answer = Scripted.toolReturns(messages, "ask_researcher")[0]
          if (answer === undefined) {
            return FunctionModel.toolCall(
              "ask_researcher",
              { prompt: question },
              `call_research_${prompts.length}`
            )
          }
          return FunctionModel.text(`The researcher says: ${answer.contentText}`)
        }
        const people = /book a table for (\d+)/i.exec(current)?.[1]
        if (people !== undefined) {
          const booked = Scripted.toolReturns(messages, "book_table")[0]
          if (booked === undefined) {
            return FunctionModel.toolCall(
              "book_table",
              { people: Number(people) },
              `call_book_${prompts.length}`
            )
          }
          return FunctionModel.text(
            booked.outcome === "denied"
              ? `I did not book it: ${booked.contentText}`
              : `Done: ${booked.contentText}.`
          )
        }
        const city = /weather in ([A-Za-z]+)/i.exec(current)?.[1]
        if (city !== undefined) {
          const returned = Scripted.toolReturns(messages, "weather")[0]
          if (returned === undefined) {
            return FunctionModel.toolCall("weather", { city }, `call_weather_${prompts.length}`)
          }
          const w = returned.content as { sky: string; celsius: number }
          return FunctionModel.text(
            `It is ${w.sky} in ${city}, ${w.celsius} °C. Before that you said ${earlier.map((p) => `"${p}"`).join(", ") || "nothing"}.`
          )
        }
        return FunctionModel.text(
          earlier.length === 0
            ? `Hello! You said: "${current}". This is the first message of our chat.`
            : `You said: "${current}". Before that you said ${earlier.map((p) => `"${p}"`).join(", ")}, so this is message ${prompts.length} of our chat.`
        )
      },
      options
    )
  )

/**
 * The scripted model, plus a built-in web search for "search the web for <query>": the response
 * then carries a provider-executed `web_search` call and its results before the answer.
 */
const withWebSearch = (scripted: Scripted.ScriptedModel): Scripted.ScriptedModel => ({
  name: scripted.name,
  layer: Layer.effect(
    Model.Model,
    Effect.map(Model.Model, (inner) => {
      const searchOf = (messages: ReadonlyArray<Messages.ModelMessage>) => {
        const prompts = Scripted.userPrompts(messages)
        const query = /search the web for (.+)/i.exec(prompts.at(-1) ?? "")?.[1]
        return query === undefined
          ? undefined
          : webSearchResponse(query, `srvtoolu_${prompts.length}`)
      }
      return Model.make({
        ...inner,
        request: (messages, settings, parameters) => {
          const search = searchOf(messages)
          return search === undefined
            ? inner.request(messages, settings, parameters)
            : Effect.succeed(search.response)
        },
        requestStream: (messages, settings, parameters) => {
          const search = searchOf(messages)
          return search === undefined
            ? inner.requestStream(messages, settings, parameters)
            : Effect.succeed({
                modelName: inner.modelName,
                events: Stream.fromIterable(search.events),
                response: Effect.succeed(search.response)
              })
        }
      })
    })
  ).pipe(Layer.provide(scripted.layer))
})

/** The web page: a form, the conversation, and a little JS speaking the AI SDK stream protocol. */
export const pageHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>agentfx chat</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
  .msg { white-space: pre-wrap; padding: .5rem .75rem; border-radius: .5rem; margin: .5rem 0; }
  .user { background: #e8f0fe; }
  .model { background: #f1f3f4; }
  .error { background: #fde8e8; }
  .tool { font-family: ui-monospace, monospace; font-size: .85rem; color: #555; display: block; }
  .tool.builtin { color: #1a5e20; }
  .approval button { margin-left: .5rem; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; }
</style>
</head>
<body>
<h1>agentfx chat</h1>
<div id="conversation"></div>
<form id="form">
  <input id="prompt" name="prompt" autocomplete="off" placeholder="Ask something (try: weather in Paris, book a table for 2, search the web for otters, ask the researcher why otters hold hands)" autofocus>
  <button id="send" type="submit">Send</button>
</form>
<script>
  const conversation = document.getElementById("conversation")
  const form = document.getElementById("form")
  const input = document.getElementById("prompt")
  const send = document.getElementById("send")
  const chatId = "chat-" + Math.random().toString(36).slice(2)
  const messages = [] // the conversation as AI SDK UI messages, posted with every turn
  let counter = 0

  const bubble = (cls) => {
    const div = document.createElement("div")
    div.className = "msg " + cls
    conversation.appendChild(div)
    return div
  }

  // Applies one UI message chunk to the assistant message and its bubble.
  const apply = (chunk, message, view) => {
    switch (chunk.type) {
      case "start":
        if (chunk.messageId) message.id = chunk.messageId
        break
      case "start-step":
        message.parts.push({ type: "step-start" })
        break
      case "text-start":
      case "reasoning-start": {
        const part = { type: chunk.type === "text-start" ? "text" : "reasoning", text: "", state: "streaming" }
        message.parts.push(part)
        const span = document.createElement("span")
        span.className = part.type
        view.answer.appendChild(span)
        view.open[chunk.id] = { part, span }
        break
      }
      case "text-delta":
      case "reasoning-delta": {
        const open = view.open[chunk.id]
        open.part.text += chunk.delta
        open.span.textContent = open.part.text
        view.answer.dataset.deltas = String(Number(view.answer.dataset.deltas) + 1)
        break
      }
      case "text-end":
      case "reasoning-end":
        view.open[chunk.id].part.state = "done"
        if (chunk.providerMetadata) view.open[chunk.id].part.providerMetadata = chunk.providerMetadata
        break
      case "tool-input-start": {
        const part = { type: "tool-" + chunk.toolName, toolCallId: chunk.toolCallId, state: "input-streaming" }
        // a built-in tool the provider ran: kept as such, so the history goes back to the provider
        if (chunk.providerExecuted) {
          part.providerExecuted = true
          if (chunk.providerMetadata) part.callProviderMetadata = chunk.providerMetadata
        }
        message.parts.push(part)
        const el = document.createElement("span")
        el.className = chunk.providerExecuted ? "tool builtin" : "tool"
        el.dataset.tool = chunk.toolName
        if (chunk.providerExecuted) el.dataset.providerExecuted = "true"
        const name = (chunk.providerExecuted ? "[provider] " : "") + chunk.toolName
        el.textContent = name + "(…)"
        view.answer.appendChild(el)
        view.tools[chunk.toolCallId] = { part, el, name }
        break
      }
      case "tool-input-available":
      case "tool-input-error": {
        const t = view.tools[chunk.toolCallId]
        t.part.state = chunk.type === "tool-input-error" ? "output-error" : "input-available"
        t.part.input = chunk.input
        if (chunk.errorText) t.part.errorText = chunk.errorText
        t.el.dataset.input = JSON.stringify(chunk.input)
        t.el.textContent = t.name + "(" + JSON.stringify(chunk.input) + ")"
        break
      }
      case "tool-output-available": {
        const t = view.tools[chunk.toolCallId]
        t.part.state = "output-available"
        t.part.output = chunk.output
        if (chunk.preliminary) {
          // a sub-agent's message so far (the final output replaces it)
          t.part.preliminary = true
          const text = chunk.output.parts.filter((p) => p.type === "text").map((p) => p.text).join("")
          t.el.dataset.preliminary = String(Number(t.el.dataset.preliminary ?? 0) + 1)
          t.el.dataset.subagent = chunk.output.metadata.agentName
          t.el.dataset.subagentText = text
          t.el.textContent = t.name + "(" + JSON.stringify(t.part.input) + ") ⋯ " + chunk.output.metadata.agentName + ": " + text
          break
        }
        delete t.part.preliminary
        t.el.dataset.output = JSON.stringify(chunk.output)
        t.el.textContent = t.name + "(" + JSON.stringify(t.part.input) + ") → " + JSON.stringify(chunk.output)
        break
      }
      case "tool-approval-request": {
        // the run stopped: this call waits for the user's yes
        const t = view.tools[chunk.toolCallId]
        t.part.state = "approval-requested"
        t.part.approval = { id: chunk.approvalId }
        const box = document.createElement("span")
        box.className = "approval"
        for (const approved of [true, false]) {
          const button = document.createElement("button")
          button.type = "button"
          button.className = approved ? "approve" : "deny"
          button.textContent = approved ? "Approve" : "Deny"
          button.addEventListener("click", () => decide(message, view, t, approved, box))
          box.appendChild(button)
        }
        t.el.appendChild(box)
        break
      }
      case "tool-output-denied": {
        const t = view.tools[chunk.toolCallId]
        t.part.state = "output-denied"
        t.el.dataset.output = "denied"
        t.el.textContent = t.name + "(" + JSON.stringify(t.part.input) + ") → denied"
        break
      }
      case "tool-output-error": {
        const t = view.tools[chunk.toolCallId]
        t.part.state = "output-error"
        t.part.errorText = chunk.errorText
        if (chunk.toolMetadata) t.part.toolMetadata = chunk.toolMetadata
        t.el.textContent = t.name + " failed: " + chunk.errorText
        break
      }
      case "error":
        view.answer.className = "msg error"
        view.answer.appendChild(document.createTextNode("\\n" + chunk.errorText))
        break
      default:
        // data parts go back to the server with the conversation (deferred calls are listed in one)
        if (chunk.type.startsWith("data-") && !chunk.transient) {
          message.parts.push({ type: chunk.type, data: chunk.data })
        }
        break // finish-step, finish: nothing to show
    }
  }

  // Posts the conversation and applies the streamed chunks to the assistant message.
  const turn = async (message, view) => {
    send.disabled = true
    view.answer.dataset.done = "false"
    try {
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: chatId, messages, trigger: "submit-message" })
      })
      if (!response.ok) throw new Error(await response.text())
      if (response.headers.get("x-vercel-ai-ui-message-stream") !== "v1") throw new Error("not a UI message stream")
      const reader = response.body.getReader()
      const decoder = new TextDecoder()
      let buffer = ""
      let finished = false
      while (!finished) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += decoder.decode(value, { stream: true })
        let end
        while ((end = buffer.indexOf("\\n\\n")) >= 0) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          for (const line of event.split("\\n")) {
            if (!line.startsWith("data: ")) continue
            const data = line.slice(6)
            if (data === "[DONE]") { finished = true; continue }
            apply(JSON.parse(data), message, view)
          }
        }
      }
    } catch (error) {
      view.answer.className = "msg error"
      view.answer.textContent = String(error)
    } finally {
      view.answer.dataset.done = "true"
      send.disabled = false
      input.focus()
    }
  }

  // The user's decision on a call waiting for approval (what useChat's addToolApprovalResponse
  // does): the part records it, and the conversation is sent again so the run resumes.
  const decide = async (message, view, t, approved, box) => {
    box.remove()
    t.part.state = "approval-responded"
    t.part.approval = { ...t.part.approval, approved, ...(approved ? {} : { reason: "The user said no." }) }
    await turn(message, view)
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault()
    const prompt = input.value.trim()
    if (prompt === "") return
    input.value = ""
    bubble("user").textContent = prompt
    messages.push({ id: "user-" + ++counter, role: "user", parts: [{ type: "text", text: prompt }] })
    const message = { id: "assistant-" + counter, role: "assistant", parts: [] }
    const view = { answer: bubble("model"), open: {}, tools: {} }
    view.answer.dataset.deltas = "0"
    await turn(message, view)
    messages.push(message) // a later decision continues this message
  })
</script>
</body>
</html>
`

/** The routes; they need a `Model`. */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get("/", Effect.succeed(HttpServerResponse.html(pageHtml))),
  HttpRouter.get("/favicon.ico", Effect.succeed(HttpServerResponse.empty({ status: 204 }))),
  HttpRouter.post(
    "/api/chat",
    UiStream.aiSdkHandler((chat) =>
      // the history, and the page's approve / deny decisions when it answers a stopped run
      chatAgent.runStream(undefined, UiStream.runOptions(chat))
    )
  )
)

/** Options of `serve`. */
export interface ServeOptions {
  readonly model: Layer.Layer<Model.Model>
  /** 0 (default) picks a free port. */
  readonly port?: number
}

/**
 * Starts the server on 127.0.0.1 for the lifetime of the scope and returns its URL.
 */
export const serve = (options: ServeOptions): Effect.Effect<string, ServeError, Scope.Scope> =>
  Effect.gen(function* () {
    const model = yield* Layer.build(options.model)
    const server = yield* NodeHttpServer.make(() => createServer(), {
      port: options.port ?? 0,
      host: "127.0.0.1"
    })
    yield* server.serve(router.pipe(Effect.provide(model)))
    const address = server.address
    return address._tag === "TcpAddress"
      ? `http://127.0.0.1:${address.port}`
      : `unix:${address.path}`
  })
