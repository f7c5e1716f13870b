#!/usr/bin/env node
// Loopback mock of the OpenAI HTTP API for the agentfx benchmark.
//
// Serves POST /v1/chat/completions and POST /v1/responses with the real wire
// formats (shapes copied from recorded OpenAI traffic in ../shared/conformance),
// non-streaming JSON and SSE streaming. Runs as its own process so that its CPU
// time is never charged to the client being measured.
//
// The behaviour is chosen by the model name (or the `x-bench-mode` header,
// which wins when present):
//   bench-text                 a short text answer
//   bench-stream-<N>           N text deltas when streaming (N tokens of text otherwise)
//   bench-paced-<N>[-<ms>]     N text deltas, one every <ms> ms (default 1), streaming
//   bench-slow-<ms>            the short text answer, sent after <ms> ms (requests in flight)
//   bench-tool                 tool-call mode: answers with a `get_weather` call, and
//                              with a final text once the request carries a tool result
//
// Usage: node bench/mock-server.mjs [--port 0] [--max-requests N]
//          [--max-lifetime-ms MS] [--exit-on-stdin-close]
// Prints {"port":…,"pid":…,"url":…} as one JSON line on stdout once listening.
// Exits on SIGTERM/SIGINT, after --max-lifetime-ms (default 30 min), after
// --max-requests requests (default 1,000,000), and (with --exit-on-stdin-close)
// when its parent closes our stdin.

import http from "node:http"

const args = process.argv.slice(2)
const flag = (name, dflt) => {
  const i = args.indexOf(name)
  return i === -1 ? dflt : args[i + 1]
}
const PORT = Number(flag("--port", "0"))
const MAX_REQUESTS = Number(flag("--max-requests", "1000000"))
const MAX_LIFETIME_MS = Number(flag("--max-lifetime-ms", String(30 * 60 * 1000)))
const EXIT_ON_STDIN_CLOSE = args.includes("--exit-on-stdin-close")

// ---------------------------------------------------------------- content

const WORDS = ["The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", "."]
const token = (i) => WORDS[i % WORDS.length]
const SHORT_TEXT = "Hello from the benchmark mock server."
const TOOL_NAME = "get_weather"
const TOOL_ARGS = '{"city":"Paris"}'
const TOOL_ARG_PIECES = ['{"', "city", '":"', "Paris", '"}']
const finalToolText = (toolResult) => `The weather in Paris: ${toolResult}`

const CREATED = 1754688908
let seq = 0
const nextId = () => (++seq).toString(36).padStart(8, "0")

const chatUsage = (prompt, completion) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: 0,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0
  }
})

const responsesUsage = (input, output) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: input + output
})

// ---------------------------------------------------------------- mode

function parseMode(model, header) {
  const m = String(header || model || "bench-text")
  const s = /^bench-stream-(\d+)$/.exec(m)
  if (s) return { kind: "text", n: Number(s[1]), paceMs: 0 }
  const p = /^bench-paced-(\d+)(?:-(\d+(?:\.\d+)?))?$/.exec(m)
  if (p) return { kind: "text", n: Number(p[1]), paceMs: p[2] ? Number(p[2]) : 1 }
  if (m === "bench-tool") return { kind: "tool" }
  const w = /^bench-slow-(\d+)$/.exec(m)
  if (w) return { kind: "text", n: 0, paceMs: 0, delayMs: Number(w[1]) }
  return { kind: "text", n: 0, paceMs: 0 } // bench-text and anything else: short answer
}

const textOf = (n) => {
  if (n === 0) return SHORT_TEXT
  let s = ""
  for (let i = 0; i < n; i++) s += token(i)
  return s
}
const deltasOf = (n) => {
  if (n === 0) return [SHORT_TEXT]
  const out = new Array(n)
  for (let i = 0; i < n; i++) out[i] = token(i)
  return out
}

// Find the tool result in a Chat Completions or Responses request body.
function toolResultOf(body, protocol) {
  if (protocol === "chat") {
    const msgs = Array.isArray(body.messages) ? body.messages : []
    for (const m of msgs) {
      if (m && m.role === "tool") {
        const c = m.content
        if (typeof c === "string") return c
        if (Array.isArray(c))
          return c.map((p) => (p && typeof p.text === "string" ? p.text : "")).join("")
        return JSON.stringify(c)
      }
    }
    return undefined
  }
  const input = Array.isArray(body.input) ? body.input : []
  for (const item of input) {
    if (item && item.type === "function_call_output") {
      const o = item.output
      if (typeof o === "string") return o
      if (Array.isArray(o))
        return o.map((p) => (p && typeof p.text === "string" ? p.text : "")).join("")
      return JSON.stringify(o)
    }
  }
  return undefined
}

// ---------------------------------------------------------------- Chat Completions

function chatJson(model, mode, body) {
  const id = `chatcmpl-bench${nextId()}`
  let message
  let finish = "stop"
  let completion
  if (mode.kind === "tool") {
    const result = toolResultOf(body, "chat")
    if (result === undefined) {
      message = {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: `call_bench${nextId()}`,
            type: "function",
            function: { name: TOOL_NAME, arguments: TOOL_ARGS }
          }
        ],
        refusal: null,
        annotations: []
      }
      finish = "tool_calls"
      completion = 12
    } else {
      message = {
        role: "assistant",
        content: finalToolText(result),
        refusal: null,
        annotations: []
      }
      completion = 10
    }
  } else {
    message = { role: "assistant", content: textOf(mode.n), refusal: null, annotations: [] }
    completion = Math.max(mode.n, 8)
  }
  return {
    id,
    object: "chat.completion",
    created: CREATED,
    model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: chatUsage(20, completion),
    service_tier: "default",
    system_fingerprint: "fp_bench"
  }
}

// Returns { head: string[], body: string[], tail: string[] } of complete SSE events.
function chatSse(model, mode, reqBody) {
  const id = `chatcmpl-bench${nextId()}`
  const includeUsage = !!reqBody.stream_options?.include_usage
  const chunk = (delta, finish) => {
    const o = {
      id,
      object: "chat.completion.chunk",
      created: CREATED,
      model,
      service_tier: "default",
      system_fingerprint: "fp_bench",
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
    }
    if (includeUsage) o.usage = null
    return `data: ${JSON.stringify(o)}\n\n`
  }
  const usageChunk = (completion) =>
    `data: ${JSON.stringify({
      id,
      object: "chat.completion.chunk",
      created: CREATED,
      model,
      service_tier: "default",
      system_fingerprint: "fp_bench",
      choices: [],
      usage: chatUsage(20, completion)
    })}\n\n`
  const done = "data: [DONE]\n\n"

  if (mode.kind === "tool") {
    const result = toolResultOf(reqBody, "chat")
    if (result === undefined) {
      const callId = `call_bench${nextId()}`
      const head = [
        chunk(
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                index: 0,
                id: callId,
                type: "function",
                function: { name: TOOL_NAME, arguments: "" }
              }
            ],
            refusal: null
          },
          null
        )
      ]
      const body = TOOL_ARG_PIECES.map((p) =>
        chunk({ tool_calls: [{ index: 0, function: { arguments: p } }] }, null)
      )
      const tail = [chunk({}, "tool_calls")]
      if (includeUsage) tail.push(usageChunk(12))
      tail.push(done)
      return { head, body, tail }
    }
    const head = [chunk({ role: "assistant", content: "", refusal: null }, null)]
    const body = [chunk({ content: finalToolText(result) }, null)]
    const tail = [chunk({}, "stop")]
    if (includeUsage) tail.push(usageChunk(10))
    tail.push(done)
    return { head, body, tail }
  }

  const head = [chunk({ role: "assistant", content: "", refusal: null }, null)]
  const body = deltasOf(mode.n).map((t) => chunk({ content: t }, null))
  const tail = [chunk({}, "stop")]
  if (includeUsage) tail.push(usageChunk(Math.max(mode.n, 8)))
  tail.push(done)
  return { head, body, tail }
}

// ---------------------------------------------------------------- Responses

function responseObject(id, model, status, output, usage) {
  return {
    id,
    object: "response",
    created_at: CREATED,
    status,
    background: false,
    completed_at: status === "completed" ? CREATED + 1 : null,
    error: null,
    frequency_penalty: 0.0,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    max_tool_calls: null,
    model,
    output,
    parallel_tool_calls: true,
    presence_penalty: 0.0,
    previous_response_id: null,
    prompt_cache_key: null,
    prompt_cache_retention: null,
    reasoning: { effort: null, summary: null },
    safety_identifier: null,
    service_tier: "default",
    store: false,
    temperature: 1.0,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: "auto",
    tools: [],
    top_logprobs: 0,
    top_p: 1.0,
    truncation: "disabled",
    usage,
    user: null,
    metadata: {}
  }
}

const messageItem = (id, text, status = "completed") => ({
  id,
  type: "message",
  status,
  role: "assistant",
  content: text === undefined ? [] : [{ type: "output_text", text, annotations: [], logprobs: [] }]
})
const functionCallItem = (id, callId, args, status = "completed") => ({
  id,
  type: "function_call",
  status,
  arguments: args,
  call_id: callId,
  name: TOOL_NAME
})

function responsesJson(model, mode, body) {
  const id = `resp_bench${nextId()}`
  if (mode.kind === "tool") {
    const result = toolResultOf(body, "responses")
    if (result === undefined) {
      const item = functionCallItem(`fc_bench${nextId()}`, `call_bench${nextId()}`, TOOL_ARGS)
      return responseObject(id, model, "completed", [item], responsesUsage(20, 12))
    }
    return responseObject(
      id,
      model,
      "completed",
      [messageItem(`msg_bench${nextId()}`, finalToolText(result))],
      responsesUsage(20, 10)
    )
  }
  return responseObject(
    id,
    model,
    "completed",
    [messageItem(`msg_bench${nextId()}`, textOf(mode.n))],
    responsesUsage(20, Math.max(mode.n, 8))
  )
}

function responsesSse(model, mode, reqBody) {
  const id = `resp_bench${nextId()}`
  let sn = 0
  const ev = (type, fields) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...fields, sequence_number: sn++ })}\n\n`
  const head = [
    ev("response.created", { response: responseObject(id, model, "in_progress", [], null) }),
    ev("response.in_progress", { response: responseObject(id, model, "in_progress", [], null) })
  ]
  if (mode.kind === "tool" && toolResultOf(reqBody, "responses") === undefined) {
    const itemId = `fc_bench${nextId()}`
    const callId = `call_bench${nextId()}`
    head.push(
      ev("response.output_item.added", {
        output_index: 0,
        item: functionCallItem(itemId, callId, "", "in_progress")
      })
    )
    const body = TOOL_ARG_PIECES.map((p) =>
      ev("response.function_call_arguments.delta", { item_id: itemId, output_index: 0, delta: p })
    )
    const item = functionCallItem(itemId, callId, TOOL_ARGS)
    const tail = [
      ev("response.function_call_arguments.done", {
        item_id: itemId,
        output_index: 0,
        name: TOOL_NAME,
        arguments: TOOL_ARGS
      }),
      ev("response.output_item.done", { output_index: 0, item }),
      ev("response.completed", {
        response: responseObject(id, model, "completed", [item], responsesUsage(20, 12))
      })
    ]
    return { head, body, tail }
  }
  let deltas
  let completion
  if (mode.kind === "tool") {
    deltas = [finalToolText(toolResultOf(reqBody, "responses"))]
    completion = 10
  } else {
    deltas = deltasOf(mode.n)
    completion = Math.max(mode.n, 8)
  }
  const itemId = `msg_bench${nextId()}`
  const loc = { item_id: itemId, output_index: 0, content_index: 0 }
  head.push(
    ev("response.output_item.added", {
      output_index: 0,
      item: messageItem(itemId, undefined, "in_progress")
    }),
    ev("response.content_part.added", {
      ...loc,
      part: { type: "output_text", text: "", annotations: [], logprobs: [] }
    })
  )
  // sequence numbers of the deltas are assigned in order, as the real API does
  const body = deltas.map((d) =>
    ev("response.output_text.delta", { ...loc, delta: d, logprobs: [] })
  )
  const text = deltas.join("")
  const item = messageItem(itemId, text)
  const tail = [
    ev("response.output_text.done", { ...loc, text, logprobs: [] }),
    ev("response.content_part.done", {
      ...loc,
      part: { type: "output_text", text, annotations: [], logprobs: [] }
    }),
    ev("response.output_item.done", { output_index: 0, item }),
    ev("response.completed", {
      response: responseObject(id, model, "completed", [item], responsesUsage(20, completion))
    })
  ]
  return { head, body, tail }
}

// ---------------------------------------------------------------- caches

// Unpaced text streams are pre-rendered once per shape and sent as one buffer, so
// that the server is never the bottleneck of the `stream` scenario. The ids inside
// a cached body repeat across requests; clients do not care.
const streamCache = new Map()
const jsonCache = new Map()

// ---------------------------------------------------------------- server

let requests = 0
let shuttingDown = false

function shutdown(code, why) {
  if (shuttingDown) return
  shuttingDown = true
  if (why) process.stderr.write(`mock-server: exiting (${why}) after ${requests} requests\n`)
  server.close()
  server.closeAllConnections()
  setTimeout(() => process.exit(code), 50).unref()
}

function sendJson(res, status, obj) {
  const buf = typeof obj === "string" || Buffer.isBuffer(obj) ? obj : JSON.stringify(obj)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(buf)
  })
  res.end(buf)
}

function sseHeaders(res) {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive"
  })
}

function sendPaced(res, sse, paceMs) {
  sseHeaders(res)
  res.write(sse.head.join(""))
  const events = sse.body
  let i = 0
  const step = () => {
    if (res.destroyed) return
    if (i < events.length) {
      res.write(events[i++]) // one event per timer tick: "one event per read" at the client
      setTimeout(step, paceMs)
    } else {
      res.end(sse.tail.join(""))
    }
  }
  setTimeout(step, paceMs)
}

function handle(req, res, raw) {
  const url = req.url.split("?")[0]
  if (req.method === "GET" && (url === "/health" || url === "/stats")) {
    return sendJson(res, 200, { ok: true, requests })
  }
  if (req.method !== "POST" || (url !== "/v1/chat/completions" && url !== "/v1/responses")) {
    return sendJson(res, 404, {
      error: {
        message: `mock-server: no route ${req.method} ${url}`,
        type: "invalid_request_error"
      }
    })
  }
  let body
  try {
    body = raw.length ? JSON.parse(raw) : {}
  } catch {
    return sendJson(res, 400, {
      error: { message: "mock-server: invalid JSON body", type: "invalid_request_error" }
    })
  }
  const protocol = url === "/v1/chat/completions" ? "chat" : "responses"
  const model = typeof body.model === "string" ? body.model : "bench-text"
  const mode = parseMode(model, req.headers["x-bench-mode"])
  const stream = body.stream === true

  if (!stream) {
    if (mode.kind === "tool") {
      return sendJson(
        res,
        200,
        protocol === "chat" ? chatJson(model, mode, body) : responsesJson(model, mode, body)
      )
    }
    const key = `${protocol}|${model}|${mode.n}`
    let buf = jsonCache.get(key)
    if (!buf) {
      buf = Buffer.from(
        JSON.stringify(
          protocol === "chat" ? chatJson(model, mode, body) : responsesJson(model, mode, body)
        )
      )
      jsonCache.set(key, buf)
    }
    if (mode.delayMs) {
      const timer = setTimeout(() => sendJson(res, 200, buf), mode.delayMs)
      res.on("close", () => clearTimeout(timer))
      return
    }
    return sendJson(res, 200, buf)
  }

  const build = () =>
    protocol === "chat" ? chatSse(model, mode, body) : responsesSse(model, mode, body)
  if (mode.kind === "text" && mode.paceMs > 0) return sendPaced(res, build(), mode.paceMs)
  if (mode.kind === "tool") {
    const sse = build()
    sseHeaders(res)
    return res.end(sse.head.join("") + sse.body.join("") + sse.tail.join(""))
  }
  const includeUsage = !!body.stream_options?.include_usage
  const key = `${protocol}|${model}|${mode.n}|${includeUsage}`
  let buf = streamCache.get(key)
  if (!buf) {
    const sse = build()
    buf = Buffer.from(sse.head.join("") + sse.body.join("") + sse.tail.join(""))
    streamCache.set(key, buf)
  }
  sseHeaders(res)
  res.end(buf)
}

const server = http.createServer(
  { keepAliveTimeout: 30_000, requestTimeout: 0, noDelay: true },
  (req, res) => {
    requests++
    if (requests > MAX_REQUESTS) {
      sendJson(res, 503, {
        error: { message: "mock-server: request budget exhausted", type: "server_error" }
      })
      shutdown(0, "max requests")
      return
    }
    const parts = []
    req.on("data", (c) => parts.push(c))
    req.on("end", () => {
      try {
        handle(
          req,
          res,
          parts.length === 1 ? parts[0].toString("utf8") : Buffer.concat(parts).toString("utf8")
        )
      } catch (e) {
        if (!res.headersSent)
          sendJson(res, 500, {
            error: { message: `mock-server: ${e?.message ?? e}`, type: "server_error" }
          })
        else res.destroy()
      }
    })
  }
)
server.maxHeadersCount = 100

server.listen({ host: "127.0.0.1", port: PORT, backlog: 4096 }, () => {
  const { port } = server.address()
  process.stdout.write(
    `${JSON.stringify({ port, pid: process.pid, url: `http://127.0.0.1:${port}` })}\n`
  )
})

process.on("SIGTERM", () => shutdown(0))
process.on("SIGINT", () => shutdown(0))
setTimeout(() => shutdown(0, "max lifetime"), MAX_LIFETIME_MS).unref()
if (EXIT_ON_STDIN_CLOSE) {
  process.stdin.on("end", () => shutdown(0, "stdin closed"))
  process.stdin.on("close", () => shutdown(0, "stdin closed"))
  process.stdin.resume()
}
