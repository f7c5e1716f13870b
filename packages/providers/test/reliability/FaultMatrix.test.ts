/**
 * The fault matrix: every fault a production user meets, for each provider family (OpenAI Chat,
 * OpenAI Responses, Anthropic, Gemini), each against its own loopback server, through an agent
 * run, asserting the typed outcome and that the messages so far are retrievable. Waiting is done
 * on the TestClock (Retry-After, backoff, the default timeouts), so the suite takes seconds.
 */
import { Agent, CaptureRunMessages, type Messages, Tool, Usage } from "@agentfx/core"
import type * as Model from "@agentfx/core/Model"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as ServerHttp from "node:http"
import { recordingTracer } from "../../../core/test/support/tracer.js"
import { loopbackServer, sseHead, tick, untilSleeping } from "../support/replay.js"
import { apiKey, type Family, families } from "./families.js"

const json = (res: ServerHttp.ServerResponse, status: number, body: unknown, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}
const agent = Agent.make({})

/** The run's failure, which must be a typed one. */
const failureOf = <A>(exit: Exit.Exit<A, unknown>): any => {
  if (Exit.isSuccess(exit)) return assert.fail("expected the run to fail")
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None")
    return assert.fail(`expected a typed failure: ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** The user prompt is the first message of what the error keeps. */
const assertKeepsPrompt = (error: { readonly messages: ReadonlyArray<Messages.ModelMessage> }) => {
  assert.isAtLeast(error.messages.length, 1)
  const first = error.messages[0]!
  assert(first._tag === "ModelRequest")
  assert.deepStrictEqual(
    first.parts.map((p) => (p._tag === "UserPromptPart" ? p.content : p._tag)),
    ["hi"]
  )
}

const run = (layer: Layer.Layer<Model.Model>) =>
  Effect.exit(agent.run("hi").pipe(Effect.provide(layer)))

const runStream = (layer: Layer.Layer<Model.Model>) =>
  Effect.exit(Stream.runDrain(agent.runStream("hi")).pipe(Effect.provide(layer)))

/** A stream that writes `body` and then keeps the connection open. */
const streamThenHold = (body: string) => (_req: unknown, res: ServerHttp.ServerResponse) => {
  sseHead(res)
  res.write(body)
}

for (const family of families) {
  const F: Family = family
  describe(`fault matrix: ${F.name}`, () => {
    it.scoped("429 with Retry-After waits exactly that long, then succeeds", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res, i) =>
          i === 0
            ? json(res, 429, { error: { message: "rate" } }, { "retry-after": "3" })
            : json(res, 200, F.textJson)
        )
        const fiber = yield* Effect.fork(run(F.layer(server.baseUrl, { retry: { times: 2 } })))
        yield* server.waitRequests(1)
        yield* untilSleeping
        yield* TestClock.adjust("2900 millis")
        for (let i = 0; i < 20; i++) yield* tick
        assert.strictEqual(server.requests.length, 1)
        yield* TestClock.adjust("200 millis")
        const exit = yield* Fiber.join(fiber)
        assert(Exit.isSuccess(exit))
        assert.strictEqual(exit.value.output, "Hello")
        assert.strictEqual(server.requests.length, 2)
      })
    )

    it.scoped(
      "429 without Retry-After backs off, gives up after the policy, keeps the messages",
      () =>
        Effect.gen(function* () {
          const server = yield* loopbackServer((_req, res) => json(res, 429, { error: "rate" }))
          const fiber = yield* Effect.fork(
            run(
              F.layer(server.baseUrl, { retry: { times: 2, base: "1 second", cap: "4 seconds" } })
            )
          )
          for (let hits = 1; hits <= 2; hits++) {
            yield* server.waitRequests(hits)
            yield* untilSleeping
            yield* TestClock.adjust("5 seconds")
          }
          const error = failureOf(yield* Fiber.join(fiber))
          assert.strictEqual(error._tag, "ModelHTTPError")
          assert.strictEqual(error.status, 429)
          assert.strictEqual(error.retryAfterMillis, undefined)
          assert.strictEqual(server.requests.length, 3)
          assertKeepsPrompt(error)
        })
    )

    it.scoped("5xx then success is retried once", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res, i) =>
          i === 0 ? json(res, 503, { error: "unavailable" }) : json(res, 200, F.textJson)
        )
        const fiber = yield* Effect.fork(run(F.layer(server.baseUrl, { retry: { times: 2 } })))
        yield* server.waitRequests(1)
        yield* untilSleeping
        yield* TestClock.adjust("30 seconds")
        const exit = yield* Fiber.join(fiber)
        assert(Exit.isSuccess(exit))
        assert.strictEqual(server.requests.length, 2)
      })
    )

    it.scoped("4xx is not retried", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) =>
          json(res, 400, { error: { message: "bad request" } })
        )
        const error = failureOf(yield* run(F.layer(server.baseUrl, { retry: { times: 2 } })))
        assert.strictEqual(error._tag, "ModelHTTPError")
        assert.strictEqual(error.status, 400)
        assert.deepStrictEqual(error.body, { error: { message: "bad request" } })
        assert.strictEqual(server.requests.length, 1)
        assertKeepsPrompt(error)
      })
    )

    it.scoped("connection refused is a ModelAPIError", () =>
      Effect.gen(function* () {
        const url = yield* Effect.scoped(
          Effect.map(
            loopbackServer(() => {}),
            (s) => s.baseUrl
          )
        )
        const error = failureOf(yield* run(F.layer(url)))
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.include(error.reason, "Connection error")
        assertKeepsPrompt(error)
      })
    )

    it.scoped("a reset in the middle of a JSON body is a ModelAPIError", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": "1000" })
          res.write(JSON.stringify(F.textJson).slice(0, 20))
          setTimeout(() => res.socket?.destroy(), 10)
        })
        const error = failureOf(yield* run(F.layer(server.baseUrl)))
        assert.strictEqual(error._tag, "ModelAPIError")
        assertKeepsPrompt(error)
      })
    )

    it.scoped("a reset mid-stream keeps the partial text", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.write(F.streamStart + F.delta("Hel"))
          setTimeout(() => res.socket?.destroy(), 10)
        })
        const error = failureOf(yield* runStream(F.layer(server.baseUrl)))
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.include(error.reason, "Stream broke")
        assert.strictEqual(error.partialResponse?.text, "Hel")
        assertKeepsPrompt(error)
      })
    )

    it.scoped("a stream that ends without its terminal event fails keeping the partial text", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(F.streamStart + F.delta("Hel"))
        })
        const error = failureOf(yield* runStream(F.layer(server.baseUrl)))
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.strictEqual(error.partialResponse?.text, "Hel")
        assertKeepsPrompt(error)
      })
    )

    it.scoped("an `error` event fails the stream keeping the partial text", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(F.streamStart + F.delta("Hel") + F.errorEvent)
        })
        const error = failureOf(yield* runStream(F.layer(server.baseUrl)))
        assert.strictEqual(error._tag, "ModelAPIError")
        // every family, Gemini's `{"error": …}` chunk included, surfaces the provider's error
        assert.match(error.reason, /overloaded/i)
        assert.strictEqual(error.timeoutKind, undefined)
        assert.strictEqual(error.partialResponse?.text, "Hel")
        assertKeepsPrompt(error)
      })
    )

    it.scoped("a malformed event is skipped and logged at warning level, without its payload", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(
            `${F.streamStart}${F.delta("Hel")}data: {not json ${apiKey}\n\n${F.delta("lo")}${F.streamEnd}`
          )
        })
        const logs: Array<{ level: string; text: string }> = []
        const logger = Logger.make(({ logLevel, message }) => {
          logs.push({ level: logLevel.label, text: JSON.stringify(message) })
        })
        const exit = yield* Effect.exit(
          Stream.runFold(agent.runStream("hi"), "", (text, e) =>
            e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta"
              ? text + e.delta.contentDelta
              : e._tag === "PartStartEvent" && e.part._tag === "TextPart"
                ? text + e.part.content
                : text
          ).pipe(
            Effect.provide(F.layer(server.baseUrl)),
            Effect.provide(Logger.replace(Logger.defaultLogger, logger))
          )
        )
        assert(Exit.isSuccess(exit))
        assert.strictEqual(exit.value, "Hello")
        const warnings = logs.filter((l) => l.level === "WARN")
        assert.strictEqual(warnings.length, 1)
        assert.include(warnings[0]!.text, "malformed stream event")
        assert.include(warnings[0]!.text, "1 of at most 3")
        assert.notInclude(warnings[0]!.text, apiKey)
        assert.notInclude(warnings[0]!.text, "not json")
      })
    )

    it.scoped("more malformed events than the limit fail typed, keeping the partial text", () =>
      Effect.gen(function* () {
        const bad = "data: {not json\n\n"
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(`${F.streamStart}${F.delta("Hel")}${bad.repeat(4)}${F.delta("lo")}${F.streamEnd}`)
        })
        const error = failureOf(yield* runStream(F.layer(server.baseUrl)))
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        assert.include(error.reason, "4 malformed stream events")
        assert.include(error.reason, "malformedEventLimit (3)")
        assert.strictEqual(error.partialResponse?.text, "Hel")
        assertKeepsPrompt(error)
        // the limit is a setting: 4 allowed, the same stream succeeds; 0, one bad event fails
        const lenient = yield* runStream(
          F.layer(server.baseUrl, { settings: { malformedEventLimit: 4 } })
        )
        assert(Exit.isSuccess(lenient))
        const strict = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.end(`${F.streamStart}${F.delta("Hel")}${bad}${F.delta("lo")}${F.streamEnd}`)
        })
        const strictError = failureOf(
          yield* runStream(F.layer(strict.baseUrl, { settings: { malformedEventLimit: 0 } }))
        )
        assert.strictEqual(strictError._tag, "UnexpectedModelBehavior")
        assert.include(strictError.reason, "1 malformed stream events")
        assert.strictEqual(strictError.partialResponse?.text, "Hel")
      })
    )

    it.scoped("a stalled stream fails after the default idle timeout (60 s)", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(streamThenHold(F.streamStart + F.delta("Hel")))
        const fiber = yield* Effect.fork(runStream(F.layer(server.baseUrl)))
        yield* server.waitRequests(1)
        yield* untilSleeping
        yield* TestClock.adjust("59 seconds")
        for (let i = 0; i < 20; i++) yield* tick
        assert.isNull(fiber.unsafePoll())
        yield* TestClock.adjust("2 seconds")
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.strictEqual(error.reason, "Stream idle for more than 1m")
        assert.strictEqual(error.timeoutKind, "idle")
        assert.strictEqual(error.partialResponse?.text, "Hel")
        assertKeepsPrompt(error)
        yield* server.waitClosed(1)
      })
    )

    it.scoped("a server that never answers fails after the default request timeout (10 min)", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(() => {})
        const fiber = yield* Effect.fork(run(F.layer(server.baseUrl)))
        yield* server.waitRequests(1)
        yield* untilSleeping
        yield* TestClock.adjust("9 minutes")
        for (let i = 0; i < 20; i++) yield* tick
        assert.isNull(fiber.unsafePoll())
        yield* TestClock.adjust("1 minute")
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.strictEqual(error.reason, "Request timed out after 10m")
        assert.strictEqual(error.timeoutKind, "total")
        assertKeepsPrompt(error)
        yield* server.waitClosed(1)
      })
    )

    it.scoped("per-run settings override the default timeouts; Infinity turns them off", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(streamThenHold(F.streamStart + F.delta("Hel")))
        const layer = F.layer(server.baseUrl, { settings: { idleTimeout: Infinity } })
        const fiber = yield* Effect.fork(
          Effect.exit(
            Stream.runDrain(
              agent.runStream("hi", { modelSettings: { timeout: "2 minutes" } })
            ).pipe(Effect.provide(layer))
          )
        )
        yield* server.waitRequests(1)
        yield* untilSleeping
        // the model's `idleTimeout: Infinity` holds past the default 60 s…
        yield* TestClock.adjust("119 seconds")
        for (let i = 0; i < 20; i++) yield* tick
        assert.isNull(fiber.unsafePoll())
        // …and the run's 2-minute deadline ends it.
        yield* TestClock.adjust("2 seconds")
        const error = failureOf(yield* Fiber.join(fiber))
        assert.strictEqual(error.reason, "Request timed out after 2m")
        assert.strictEqual(error.timeoutKind, "total")
        assert.strictEqual(error.partialResponse?.text, "Hel")
      })
    )

    it.scoped("interrupting mid-request closes the socket and keeps the messages", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(() => {})
        const captured = yield* CaptureRunMessages.capture(
          Effect.gen(function* () {
            const fiber = yield* Effect.fork(
              agent.run("hi").pipe(Effect.provide(F.layer(server.baseUrl)))
            )
            yield* server.waitRequests(1)
            return yield* Fiber.interrupt(fiber)
          })
        )
        assert(Exit.isSuccess(captured.exit) && Exit.isInterrupted(captured.exit.value))
        yield* server.waitClosed(1)
        assert.strictEqual(server.closedSockets(), 1)
        assert.deepStrictEqual(
          captured.messages.map((m) => m._tag),
          ["ModelRequest"]
        )
      })
    )

    it.scoped("interrupting mid-tool runs the tool's finalizers and keeps the messages", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => json(res, 200, F.toolJson))
        const started = yield* Deferred.make<void>()
        let finalized = false
        const wait = Tool.make("wait", {
          description: "Waits",
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
              Effect.onInterrupt(() =>
                Effect.sync(() => {
                  finalized = true
                })
              )
            )
        })
        const withTool = Agent.make({ tools: [wait] })
        const captured = yield* CaptureRunMessages.capture(
          Effect.gen(function* () {
            const fiber = yield* Effect.fork(
              withTool.run("hi").pipe(Effect.provide(F.layer(server.baseUrl)))
            )
            yield* Deferred.await(started)
            return yield* Fiber.interrupt(fiber)
          })
        )
        assert(Exit.isSuccess(captured.exit) && Exit.isInterrupted(captured.exit.value))
        assert.isTrue(finalized)
        assert.strictEqual(server.requests.length, 1)
        // the prompt and the model's tool call
        assert.deepStrictEqual(
          captured.messages.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        const call = (captured.messages[1] as Messages.ModelResponse).toolCalls[0]!
        assert.strictEqual(call.toolName, "wait")
      })
    )

    it.scoped("requestLimit N allows exactly N requests (server hits counted)", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => json(res, 200, F.toolJson))
        const wait = Tool.make("wait", {
          description: "Returns at once",
          parameters: Schema.Struct({}),
          handler: () => Effect.succeed("done")
        })
        const exit = yield* Effect.exit(
          Agent.make({ tools: [wait] })
            .run("hi", { usageLimits: new Usage.UsageLimits({ requestLimit: 2 }) })
            .pipe(Effect.provide(F.layer(server.baseUrl)))
        )
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "UsageLimitExceeded")
        assert.strictEqual(error.limit, "requestLimit")
        assert.strictEqual(server.requests.length, 2)
        // prompt, call, result, call, result: everything before the third request
        assert.deepStrictEqual(
          error.messages.map((m: Messages.ModelMessage) => m._tag),
          ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse", "ModelRequest"]
        )
        assertKeepsPrompt(error)
      })
    )

    it.scoped("the API key never reaches the error, Cause.pretty, debug logs or spans", () =>
      Effect.gen(function* () {
        const masked = `${apiKey.slice(0, 8)}${"*".repeat(20)}${apiKey.slice(-4)}`
        const short = `${apiKey.slice(0, 3)}...${apiKey.slice(-4)}`
        const server = yield* loopbackServer((req, res) =>
          json(res, 401, {
            error: {
              message: `Incorrect API key provided: ${masked}. Also ${short}.`,
              echoed:
                req.headers.authorization ??
                req.headers["x-api-key"] ??
                req.headers["x-goog-api-key"]
            }
          })
        )
        const logs: Array<string> = []
        const logger = Logger.make(({ message }) => {
          logs.push(JSON.stringify(message))
        })
        const { spans, tracer } = recordingTracer()
        const exit = yield* run(F.layer(server.baseUrl)).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
          Logger.withMinimumLogLevel(LogLevel.Debug),
          Effect.withTracer(tracer)
        )
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "ModelHTTPError")
        assert.strictEqual(error.status, 401)
        const everything = [
          JSON.stringify(error.body),
          error.message,
          Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "",
          ...logs,
          ...spans.flatMap((s) => [...s.attributes.values()].map((v) => JSON.stringify(v))),
          ...spans.map((s) =>
            s.exit !== undefined && Exit.isFailure(s.exit) ? Cause.pretty(s.exit.cause) : ""
          )
        ].join("\n")
        assert.notInclude(everything, apiKey)
        assert.notInclude(everything, masked)
        assert.notInclude(everything, short)
        assert.notInclude(everything, apiKey.slice(8, -4))
        assert.include(
          JSON.stringify(error.body),
          "Incorrect API key provided: [REDACTED]. Also [REDACTED]."
        )
        // the server did get the key: the request was authenticated as configured
        const sent = server.requests[0]!.headers
        assert.include(JSON.stringify(sent), apiKey)
        assert.isAbove(spans.length, 0)
        assertKeepsPrompt(error)
      })
    )
  })
}

describe("fault matrix: redaction of stream `error` events", () => {
  it.scoped("an `error` event echoing the key is redacted (OpenAI Chat)", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        sseHead(res)
        res.end(`data: ${JSON.stringify({ error: { message: `bad key ${apiKey}` } })}\n\n`)
      })
      const error = failureOf(yield* runStream(families[0]!.layer(server.baseUrl)))
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.notInclude(error.reason, apiKey)
      assert.include(error.reason, "bad key [REDACTED]")
    })
  )
})
