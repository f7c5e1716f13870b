/**
 * Responses background mode against a loopback stand-in: a failed or cancelled job is a typed
 * `ModelAPIError` naming the job, polling stops at `openaiBackgroundMaxPolls` (0: the job comes
 * back pending, to be continued from the history), interrupting the request cancels the job on
 * the server (`POST /responses/{id}/cancel`). Streamed: a dropped stream reconnects from its
 * cursor (`starting_after`) and the parts go on where they were cut, through `events` and
 * `push`; when the resumes run out, the partial response (with its cursor) continues the job
 * later as the last message of the history; a job gone from the server is a typed error. The
 * recorded happy paths are replayed by the conformance suite.
 */
import { AgentError, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import * as Stream from "effect/Stream"
import { loopbackServer, sseEvent, sseHead } from "./support/replay.js"

const job = (status: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: "resp_bg",
    object: "response",
    background: true,
    model: "gpt-4o",
    status,
    output: [],
    ...extra
  })

/** A stand-in answering the POST with `queued`, then each poll with the next of `polls`. */
const standIn = (polls: ReadonlyArray<string>) =>
  loopbackServer((req, res, index) => {
    res.setHeader("content-type", "application/json")
    if (req.method === "POST" && req.path.endsWith("/cancel")) res.end(job("cancelled"))
    else if (req.method === "POST") res.end(job("queued"))
    else res.end(polls[Math.min(index - 1, polls.length - 1)] ?? job("in_progress"))
  })

const run = (baseUrl: string, settings: OpenAiResponses.Settings) => {
  const client = OpenAiClient.layer({
    baseUrl: `${baseUrl}/v1`,
    apiKey: Redacted.make("sk-x"),
    retry: false
  }).pipe(Layer.provide(NodeHttpClient.layerUndici))
  const all: OpenAiResponses.Settings = { openaiBackground: true, ...settings }
  return Effect.flatMap(OpenAiResponses.make("gpt-4o"), (model) =>
    model.request(
      [Messages.userPrompt("What is 2 + 2?")],
      all,
      new Model.ModelRequestParameters({})
    )
  ).pipe(Effect.provide(client))
}

const apiError = (exit: Exit.Exit<unknown, unknown>): AgentError.ModelAPIError => {
  assert.isTrue(Exit.isFailure(exit))
  const error = Exit.isFailure(exit) ? exit.cause : undefined
  const failure = error?._tag === "Fail" ? error.error : undefined
  assert.instanceOf(failure, AgentError.ModelAPIError)
  return failure as AgentError.ModelAPIError
}

/**
 * Runs the request under the TestClock: after each of `requests` requests has reached the
 * stand-in, the clock moves past the longest poll delay (2 s), then the result is awaited.
 */
const stepped = <A, E, R>(
  server: { readonly waitRequests: (n: number) => Effect.Effect<void> },
  effect: Effect.Effect<A, E, R>,
  requests: number
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    for (let n = 2; n <= requests; n++) {
      yield* server.waitRequests(n)
      yield* TestClock.adjust("2 seconds")
    }
    return yield* Fiber.await(fiber)
  })

describe("OpenAI Responses background mode", () => {
  it.scoped("a failed job is a typed error with its code and message", () =>
    Effect.gen(function* () {
      const server = yield* standIn([
        job("in_progress"),
        job("failed", { error: { code: "server_error", message: "boom" } })
      ])
      const exit = yield* stepped(server, run(server.baseUrl, {}), 2)
      const error = apiError(exit)
      assert.strictEqual(error.reason, "Background response resp_bg failed: server_error: boom")
      assert.strictEqual(error.modelName, "gpt-4o")
      assert.deepStrictEqual(
        server.requests.map((r) => `${r.method} ${r.path}`),
        [
          "POST /v1/responses",
          "GET /v1/responses/resp_bg?stream=false",
          "GET /v1/responses/resp_bg?stream=false"
        ]
      )
      assert.strictEqual((server.requests[0]!.body as Record<string, unknown>).background, true)
      // The key goes with every poll, as on the POST.
      assert.strictEqual(server.requests[1]!.headers.authorization, "Bearer sk-x")
    })
  )

  it.scoped("a cancelled job is a typed error", () =>
    Effect.gen(function* () {
      const server = yield* standIn([job("cancelled")])
      const error = apiError(yield* stepped(server, run(server.baseUrl, {}), 1))
      assert.strictEqual(error.reason, "Background response resp_bg was cancelled")
    })
  )

  it.scoped("polling stops after openaiBackgroundMaxPolls", () =>
    Effect.gen(function* () {
      const server = yield* standIn([job("in_progress")])
      const error = apiError(
        yield* stepped(server, run(server.baseUrl, { openaiBackgroundMaxPolls: 3 }), 3)
      )
      assert.strictEqual(
        error.reason,
        "Background response resp_bg was still in_progress after 3 polls"
      )
      assert.strictEqual(server.requests.filter((r) => r.method === "GET").length, 3)
    })
  )

  it.scoped("interrupting the request cancels the job on the server", () =>
    Effect.gen(function* () {
      const server = yield* standIn([job("in_progress")])
      const fiber = yield* Effect.fork(run(server.baseUrl, {}))
      // Interrupted while waiting for its next poll.
      yield* server.waitRequests(2)
      yield* Fiber.interrupt(fiber)
      const cancel = server.requests.find((r) => r.path === "/v1/responses/resp_bg/cancel")
      assert.isDefined(cancel)
      assert.strictEqual(cancel!.method, "POST")
    })
  )
})

// ---------------------------------------------------------------------------
// Streamed background jobs
// ---------------------------------------------------------------------------

const response = (status: string, extra: Record<string, unknown> = {}) => ({
  id: "resp_bg",
  object: "response",
  background: true,
  model: "gpt-4o-2024-08-06",
  status,
  output: [],
  ...extra
})

const message = (text: string) => ({
  id: "msg_1",
  type: "message",
  role: "assistant",
  status: "completed",
  content: [{ type: "output_text", text, annotations: [] }]
})

/** The job's events, numbered from 0: created, in progress, a message in two deltas, completed. */
const jobEvents: ReadonlyArray<string> = [
  sseEvent("response.created", { response: response("queued"), sequence_number: 0 }),
  sseEvent("response.in_progress", { response: response("in_progress"), sequence_number: 1 }),
  sseEvent("response.output_item.added", {
    item: { id: "msg_1", type: "message", role: "assistant", content: [] },
    output_index: 0,
    sequence_number: 2
  }),
  sseEvent("response.output_text.delta", {
    item_id: "msg_1",
    content_index: 0,
    delta: "2 + 2",
    sequence_number: 3
  }),
  sseEvent("response.output_text.delta", {
    item_id: "msg_1",
    content_index: 0,
    delta: " = 4",
    sequence_number: 4
  }),
  sseEvent("response.output_item.done", {
    item: message("2 + 2 = 4"),
    output_index: 0,
    sequence_number: 5
  }),
  sseEvent("response.completed", {
    response: response("completed", {
      output: [message("2 + 2 = 4")],
      usage: { input_tokens: 15, output_tokens: 9 }
    }),
    sequence_number: 6
  })
]

/**
 * A stand-in streaming the job: the POST sends events up to `cuts[0]` then ends the connection,
 * each `GET ?starting_after=N&stream=true` the events after N up to the next cut.
 */
const streamingStandIn = (cuts: ReadonlyArray<number>) =>
  loopbackServer((req, res, index) => {
    if (req.path.endsWith("/cancel")) {
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify(response("cancelled")))
      return
    }
    const after = /starting_after=(\d+)/.exec(req.path)
    const from = after === null ? 0 : Number(after[1]) + 1
    const to = cuts[index] ?? jobEvents.length - 1
    sseHead(res)
    res.end(jobEvents.slice(from, to + 1).join(""))
  })

const streamModel = (baseUrl: string, settings: OpenAiResponses.Settings = {}) =>
  Effect.map(HttpClient.HttpClient, (http) =>
    OpenAiResponses.makeWith(
      OpenAiClient.makeWith(http, {
        baseUrl: `${baseUrl}/v1`,
        apiKey: Redacted.make("sk-x"),
        retry: false
      }),
      "gpt-4o",
      { settings: { openaiBackground: true, ...settings } }
    )
  )

/** The test over undici, its transport living as long as the test. */
const live = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) =>
  Effect.provide(effect, NodeHttpClient.layerUndici)

const prompt = [Messages.userPrompt("What is 2 + 2?")]
const noParameters = new Model.ModelRequestParameters({})

const textOf = (events: ReadonlyArray<Messages.ModelResponseStreamEvent>): string =>
  events
    .map((e) =>
      e._tag === "PartStartEvent" && e.part._tag === "TextPart"
        ? e.part.content
        : e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta"
          ? e.delta.contentDelta
          : ""
    )
    .join("")

describe("OpenAI Responses streamed background mode", () => {
  it.scoped("a dropped stream reconnects from its cursor; the text part goes on (events)", () =>
    live(
      Effect.gen(function* () {
        const server = yield* streamingStandIn([3])
        const model = yield* streamModel(server.baseUrl)
        const s = yield* model.requestStream(prompt, {}, noParameters)
        const events = Array.from(yield* Stream.runCollect(s.events))
        const final = yield* s.response
        assert.deepStrictEqual(
          server.requests.map((r) => `${r.method} ${r.path}`),
          ["POST /v1/responses", "GET /v1/responses/resp_bg?starting_after=3&stream=true"]
        )
        const body = server.requests[0]!.body as Record<string, unknown>
        assert.strictEqual(body.background, true)
        assert.strictEqual(body.stream, true)
        assert.strictEqual(server.requests[1]!.headers.authorization, "Bearer sk-x")
        // One text part, continued across the two connections.
        assert.strictEqual(textOf(events), "2 + 2 = 4")
        assert.strictEqual(events.filter((e) => e._tag === "PartStartEvent").length, 1)
        assert.strictEqual(final.state, "complete")
        assert.deepStrictEqual(
          final.parts.map((p) => (p._tag === "TextPart" ? [p.content, p.id] : p._tag)),
          [["2 + 2 = 4", "msg_1"]]
        )
        assert.strictEqual(final.providerResponseId, "resp_bg")
        assert.strictEqual(final.modelName, "gpt-4o-2024-08-06")
        // The cursor is gone once the job ended; the background marker stays.
        assert.deepStrictEqual(final.providerDetails, { background: true })
        assert.strictEqual(final.usage.inputTokens, 15)
        assert.strictEqual(final.usage.outputTokens, 9)
        assert.strictEqual(final.finishReason, "stop")
      })
    )
  )

  it.scoped("a stream dropped twice reconnects twice (push)", () =>
    live(
      Effect.gen(function* () {
        const server = yield* streamingStandIn([1, 3])
        const model = yield* streamModel(server.baseUrl)
        const s = yield* model.requestStream(prompt, {}, noParameters)
        const seen: Array<Messages.ModelResponseStreamEvent> = []
        const final = yield* s.push!((events) => {
          seen.push(...events)
        })
        assert.deepStrictEqual(
          server.requests.map((r) => r.path),
          [
            "/v1/responses",
            "/v1/responses/resp_bg?starting_after=1&stream=true",
            "/v1/responses/resp_bg?starting_after=3&stream=true"
          ]
        )
        assert.strictEqual(textOf(seen), "2 + 2 = 4")
        assert.strictEqual(final.text, "2 + 2 = 4")
        assert.strictEqual(final.state, "complete")
        assert.strictEqual(seen.at(-1)?._tag, "ResponseCompleteEvent")
      })
    )
  )

  it.scoped(
    "out of resumes: the cut is an error with the partial response, which continues the job later",
    () =>
      live(
        Effect.gen(function* () {
          const server = yield* streamingStandIn([3, 4])
          const model = yield* streamModel(server.baseUrl, { openaiBackgroundMaxResumes: 1 })
          const s = yield* model.requestStream(prompt, {}, noParameters)
          const exit = yield* Effect.exit(Stream.runDrain(s.events))
          const error = apiError(exit)
          const partial = error.partialResponse!
          assert.isDefined(partial)
          assert.strictEqual(partial.state, "incomplete")
          assert.strictEqual(partial.providerResponseId, "resp_bg")
          assert.strictEqual(partial.text, "2 + 2 = 4")
          // Where the job stopped: the cursor of the last event decoded.
          assert.deepStrictEqual(partial.providerDetails, {
            background: true,
            last_sequence_number: 4
          })
          // The history ending in the partial response continues the job from its cursor.
          const next = yield* model.requestStream([...prompt, partial], {}, noParameters)
          const events = Array.from(yield* Stream.runCollect(next.events))
          const final = yield* next.response
          assert.deepStrictEqual(
            server.requests.map((r) => `${r.method} ${r.path}`),
            [
              "POST /v1/responses",
              "GET /v1/responses/resp_bg?starting_after=3&stream=true",
              "GET /v1/responses/resp_bg?starting_after=4&stream=true"
            ]
          )
          // The part received before goes on (no second part, no repeated text).
          assert.strictEqual(textOf(events), "2 + 2 = 4")
          assert.strictEqual(final.state, "complete")
          assert.deepStrictEqual(
            final.parts.map((p) => (p._tag === "TextPart" ? p.content : p._tag)),
            ["2 + 2 = 4"]
          )
          assert.strictEqual(final.providerResponseId, "resp_bg")
          assert.deepStrictEqual(final.providerDetails, { background: true })
          assert.strictEqual(final.usage.outputTokens, 9)
        })
      )
  )

  it.scoped("a failed job in the stream is a typed error keeping the partial response", () =>
    live(
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(
            jobEvents.slice(0, 4).join("") +
              sseEvent("response.failed", {
                response: response("failed", {
                  error: { code: "server_error", message: "the job broke" }
                }),
                sequence_number: 4
              })
          )
        })
        const model = yield* streamModel(server.baseUrl)
        const s = yield* model.requestStream(prompt, {}, noParameters)
        const error = apiError(yield* Effect.exit(Stream.runDrain(s.events)))
        assert.include(error.reason, "server_error")
        assert.include(error.reason, "the job broke")
        assert.strictEqual(error.partialResponse?.text, "2 + 2")
        // A failure is final: no reconnection.
        assert.strictEqual(server.requests.length, 1)
      })
    )
  )

  it.scoped("interrupting a background stream cancels the job on the server", () =>
    live(
      Effect.gen(function* () {
        // The POST sends the first events and keeps the connection open.
        const server = yield* loopbackServer((req, res) => {
          if (req.path.endsWith("/cancel")) {
            res.setHeader("content-type", "application/json")
            res.end(JSON.stringify(response("cancelled")))
            return
          }
          sseHead(res)
          res.write(jobEvents.slice(0, 4).join(""))
        })
        const model = yield* streamModel(server.baseUrl)
        // Interrupted once the first part arrived (the job's id is known then).
        const started = yield* Deferred.make<void>()
        const fiber = yield* Effect.fork(
          Effect.scoped(
            Effect.flatMap(model.requestStream(prompt, {}, noParameters), (s) =>
              Stream.runDrain(Stream.tap(s.events, () => Deferred.succeed(started, undefined)))
            )
          )
        )
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        yield* server.waitRequests(2)
        assert.deepStrictEqual(
          server.requests.map((r) => `${r.method} ${r.path}`),
          ["POST /v1/responses", "POST /v1/responses/resp_bg/cancel"]
        )
      })
    )
  )

  it.scoped("a stream read to its end does not cancel the job", () =>
    live(
      Effect.gen(function* () {
        const server = yield* streamingStandIn([])
        const model = yield* streamModel(server.baseUrl)
        yield* Effect.scoped(
          Effect.flatMap(model.requestStream(prompt, {}, noParameters), (s) =>
            Stream.runDrain(s.events)
          )
        )
        assert.deepStrictEqual(
          server.requests.map((r) => r.path),
          ["/v1/responses"]
        )
      })
    )
  )

  it.scoped("openaiBackgroundMaxPolls 0: a pending job comes back incomplete, then continues", () =>
    live(
      Effect.gen(function* () {
        const polls = [
          response("in_progress"),
          response("completed", {
            output: [message("2 + 2 = 4")],
            usage: { input_tokens: 15, output_tokens: 9 }
          })
        ]
        const server = yield* loopbackServer((req, res, index) => {
          res.setHeader("content-type", "application/json")
          res.end(JSON.stringify(req.method === "POST" ? response("queued") : polls[index - 1]))
        })
        const model = yield* streamModel(server.baseUrl, { openaiBackgroundMaxPolls: 0 })
        const first = yield* model.request(prompt, {}, noParameters)
        assert.strictEqual(first.state, "incomplete")
        assert.strictEqual(first.providerResponseId, "resp_bg")
        assert.deepStrictEqual(first.providerDetails, { background: true })
        assert.deepStrictEqual(first.parts, [])
        // Continued: one retrieve per call (still running, then done).
        const second = yield* model.request([...prompt, first], {}, noParameters)
        assert.strictEqual(second.state, "incomplete")
        const s = yield* model.requestStream([...prompt, second], {}, noParameters)
        const events = Array.from(yield* Stream.runCollect(s.events))
        const third = yield* s.response
        assert.strictEqual(third.state, "complete")
        assert.strictEqual(third.text, "2 + 2 = 4")
        assert.strictEqual(textOf(events), "2 + 2 = 4")
        assert.strictEqual(events.at(-1)?._tag, "ResponseCompleteEvent")
        assert.deepStrictEqual(
          server.requests.map((r) => `${r.method} ${r.path}`),
          [
            "POST /v1/responses",
            "GET /v1/responses/resp_bg?stream=false",
            "GET /v1/responses/resp_bg?stream=false"
          ]
        )
      })
    )
  )

  it.scoped("a job gone from the server is a typed error saying so", () =>
    live(
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(404, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { message: "No response found", code: null } }))
        })
        const model = yield* streamModel(server.baseUrl)
        const suspended = new Messages.ModelResponse({
          parts: [],
          providerName: "openai",
          providerResponseId: "resp_old",
          state: "incomplete",
          providerDetails: { background: true, last_sequence_number: 7 }
        })
        const exit = yield* Effect.exit(
          Effect.scoped(model.requestStream([...prompt, suspended], {}, noParameters))
        )
        const error = apiError(exit)
        assert.strictEqual(
          error.reason,
          "Background response resp_old could not be resumed: it is no longer on the server (it may have expired)"
        )
        assert.deepStrictEqual(
          server.requests.map((r) => `${r.method} ${r.path}`),
          ["GET /v1/responses/resp_old?starting_after=7&stream=true"]
        )
      })
    )
  )
})
