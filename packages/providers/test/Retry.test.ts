import { AgentError, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as Retry from "../src/Retry.js"
import { chatCompletionBody } from "./support/chatServer.js"
import { loopbackServer } from "./support/replay.js"

/** A server failing the first `failures` requests with `status`, then answering "ok". */
const flaky = (failures: number, status: number, headers: Record<string, string> = {}) =>
  loopbackServer((_req, res, index) => {
    if (index < failures) {
      res.writeHead(status, { "content-type": "application/json", ...headers })
      res.end(JSON.stringify({ error: { message: "try later" } }))
      return
    }
    res.writeHead(200, { "content-type": "application/json" })
    res.end(chatCompletionBody("ok"))
  })

const request = (baseUrl: string, retry: Retry.Option) =>
  Effect.flatMap(Model.Model, (m) =>
    m.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
  ).pipe(
    Effect.provide(
      OpenAiChat.model("gpt-4o").pipe(
        Layer.provide(OpenAiClient.layer({ baseUrl, apiKey: Redacted.make("sk-x"), retry })),
        Layer.provide(NodeHttpClient.layerUndici)
      )
    )
  )

describe("Retry: a user Schedule for transport retries", () => {
  it.scopedLive("the schedule decides how many retries a retryable failure gets", () =>
    Effect.gen(function* () {
      const server = yield* flaky(3, 503)
      const ok = yield* request(server.baseUrl, Schedule.recurs(3))
      assert.strictEqual(ok.text, "ok")
      assert.strictEqual(server.requests.length, 4)

      const again = yield* flaky(3, 503)
      const exit = yield* Effect.exit(request(again.baseUrl, Schedule.recurs(1)))
      assert.strictEqual(again.requests.length, 2)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail")
        return assert.fail("expected a failure")
      const e = exit.cause.error as AgentError.ModelHTTPError
      assert.strictEqual(e._tag, "ModelHTTPError")
      assert.strictEqual(e.status, 503)
      assert.strictEqual(e.retries, 1)
    })
  )

  it.scopedLive("non-retryable failures are not retried, whatever the schedule", () =>
    Effect.gen(function* () {
      const server = yield* flaky(5, 400)
      const exit = yield* Effect.exit(request(server.baseUrl, Schedule.forever))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scopedLive("withRetryAfter waits what the server asks instead of the schedule's delay", () =>
    Effect.gen(function* () {
      const server = yield* flaky(1, 429, { "retry-after-ms": "50" })
      // Without the server's hint the schedule would wait an hour.
      const schedule = Retry.withRetryAfter(
        Schedule.spaced("1 hour").pipe(Schedule.intersect(Schedule.recurs(2))),
        "1 second"
      )
      const started = Date.now()
      const ok = yield* request(server.baseUrl, schedule).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(ok.text, "ok")
      assert.strictEqual(server.requests.length, 2)
      assert.isBelow(Date.now() - started, Duration.toMillis("15 seconds"))
    })
  )

  it("resolve: knobs, false and a Schedule", () => {
    const knobs = Retry.resolve({ times: 5 })
    assert.strictEqual(knobs.times, 5)
    assert.isUndefined(knobs.schedule)
    assert.strictEqual(Retry.resolve(false).times, 0)
    const schedule = Schedule.recurs(2)
    const custom = Retry.resolve(schedule)
    assert.strictEqual(custom.schedule, schedule)
    assert.isAbove(custom.times, 0)
  })
})
