/**
 * A loopback mock of the OpenAI Chat Completions API scripted for the refund-desk agent of
 * the durable tests, plus an "outside world" the tools write to (side effects) — both in the
 * test process, so the runner processes can be killed without losing what they did.
 *
 * The script (per order, read from the first user prompt "refund <order>"):
 *   stage 0 (no tool result yet)       → call `charge_back` { order }
 *   stage 1 (one tool result)          → call `write_report` { order }
 *   stage 2 (two tool results)         → text "done <order>: <last tool result>"
 * A request with `stream: true` (a subscriber watches the run) gets the same answer as SSE.
 * With `approval` orders ("approve <order>"): stage 0 → call `issue_refund` { order, amount };
 * stage 1 → text "refund <order>: <the tool result or the denial>".
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

/** One chat-completions request the server answered. */
export interface SeenRequest {
  readonly order: string
  readonly stage: number
  readonly lastToolResult: string | undefined
}

/** The running server. */
export interface RefundServer {
  readonly url: string
  /** Requests per `order/stage`. */
  readonly requests: Array<SeenRequest>
  /** Side effects per `name/order` (`charge_back/order-1`, `report_start/order-1`, …). */
  readonly effects: Map<string, number>
  /** Every side effect in order, with the name of the runner whose tool made it. */
  readonly effectLog: Array<{ readonly key: string; readonly runner: string }>
  readonly count: (key: string) => number
  /**
   * A ledger that dedupes by idempotency key, as a payment API does: the first write of a key
   * is recorded, later writes with the same key only count as attempts.
   */
  readonly ledger: Map<string, { readonly value: string; attempts: number }>
  /** Requests seen for one order at one stage. */
  readonly requestCount: (order: string, stage: number) => number
  readonly close: () => Promise<void>
}

const completion = (message: Record<string, unknown>, finish: string) => ({
  id: "chatcmpl-test",
  object: "chat.completion",
  created: 1754688908,
  model: "gpt-4o",
  choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: finish }],
  usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
})

const toolCall = (id: string, name: string, args: unknown) =>
  completion(
    {
      content: null,
      tool_calls: [{ id, type: "function", function: { name, arguments: JSON.stringify(args) } }]
    },
    "tool_calls"
  )

const answer = (body: any, seen: Array<SeenRequest>): unknown => {
  const messages: Array<any> = body.messages ?? []
  const user = messages.find((m) => m.role === "user")
  const prompt = String(
    typeof user?.content === "string" ? user.content : (user?.content?.[0]?.text ?? "")
  )
  const [verb, order = "?"] = prompt.split(" ")
  const toolResults = messages.filter((m) => m.role === "tool")
  const stage = toolResults.length
  const lastToolResult = toolResults.at(-1)?.content as string | undefined
  seen.push({ order, stage, lastToolResult })
  if (verb === "approve") {
    return stage === 0
      ? toolCall(`call_${order}_0`, "issue_refund", { order, amount: 120 })
      : completion({ content: `refund ${order}: ${lastToolResult}` }, "stop")
  }
  if (stage === 0) return toolCall(`call_${order}_0`, "charge_back", { order })
  if (stage === 1) return toolCall(`call_${order}_1`, "write_report", { order })
  return completion({ content: `done ${order}: ${lastToolResult}` }, "stop")
}

/** Splits a string in two halves (a streamed answer comes in two deltas). */
const halves = (text: string): [string, string] => {
  const cut = Math.ceil(text.length / 2)
  return [text.slice(0, cut), text.slice(cut)]
}

/**
 * A completion as a Chat Completions SSE body (`stream: true`): the text or the call's
 * arguments in two deltas, then the finish reason, then the usage.
 */
const sse = (reply: any): string => {
  const message = reply.choices[0].message
  const chunk = (delta: unknown, finish: string | null = null) => ({
    id: reply.id,
    object: "chat.completion.chunk",
    created: reply.created,
    model: reply.model,
    choices: [{ index: 0, delta, finish_reason: finish }]
  })
  const chunks: Array<unknown> = []
  if (typeof message.content === "string") {
    const [a, b] = halves(message.content)
    chunks.push(chunk({ role: "assistant", content: a }), chunk({ content: b }))
  } else {
    const call = message.tool_calls[0]
    const [a, b] = halves(call.function.arguments)
    chunks.push(
      chunk({
        role: "assistant",
        tool_calls: [
          {
            index: 0,
            id: call.id,
            type: "function",
            function: { name: call.function.name, arguments: a }
          }
        ]
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: b } }] })
    )
  }
  chunks.push(chunk({}, reply.choices[0].finish_reason), {
    ...chunk({}),
    choices: [],
    usage: reply.usage
  })
  return `${chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join("")}data: [DONE]\n\n`
}

/** Starts the server on 127.0.0.1 (a free port). */
export const start = (): Promise<RefundServer> => {
  const requests: Array<SeenRequest> = []
  const effects = new Map<string, number>()
  const effectLog: Array<{ key: string; runner: string }> = []
  const ledger = new Map<string, { readonly value: string; attempts: number }>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8")
      const url = req.url ?? ""
      if (url.endsWith("/chat/completions")) {
        const body = JSON.parse(text)
        const reply = answer(body, requests)
        if (body.stream === true) {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end(sse(reply))
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(reply))
        return
      }
      if (url.startsWith("/ledger/")) {
        const key = decodeURIComponent(url.slice("/ledger/".length))
        const entry = ledger.get(key)
        if (entry === undefined) ledger.set(key, { value: text, attempts: 1 })
        else entry.attempts += 1
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ recorded: entry === undefined }))
        return
      }
      if (url.startsWith("/effects/")) {
        const [key = "", query = ""] = url.slice("/effects/".length).split("?")
        effectLog.push({ key, runner: new URLSearchParams(query).get("runner") ?? "" })
        effects.set(key, (effects.get(key) ?? 0) + 1)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ count: effects.get(key) }))
        return
      }
      res.writeHead(404)
      res.end()
    })
  })
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        effects,
        effectLog,
        ledger,
        count: (key) => effects.get(key) ?? 0,
        requestCount: (order, stage) =>
          requests.filter((r) => r.order === order && r.stage === stage).length,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}

/** The server for the length of a scope. */
export const scoped = Effect.acquireRelease(
  Effect.promise(() => start()),
  (server) => Effect.promise(() => server.close())
)
