/**
 * Responses background mode against a loopback stand-in: a failed or cancelled job is a typed
 * `ModelAPIError` naming the job, polling stops at `openaiBackgroundMaxPolls`, and interrupting
 * the request cancels the job on the server (`POST /responses/{id}/cancel`). The recorded
 * happy paths (queued → in_progress → completed, a tool call) are replayed by the conformance
 * suite.
 */
import { AgentError, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { loopbackServer } from "./support/replay.js"

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
