import { AgentError, type Messages } from "@agentfx/core"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it as vitestIt } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { createParser } from "eventsource-parser"
import * as fc from "fast-check"
import * as Http from "../src/internal/http.js"
import { requestOptions } from "./support/requestOptions.js"
import { textResponse } from "./support/textStream.js"
import { loopbackServer, tick } from "./support/replay.js"

const client = HttpClient.HttpClient

/** Tests get a fresh undici client, closed with the test. */
const it = {
  effect: vitestIt.effect,
  scoped: <A, E>(
    name: string,
    f: () => Effect.Effect<A, E, HttpClient.HttpClient | import("effect/Scope").Scope>
  ) => vitestIt.scoped(name, () => Effect.provide(f(), NodeHttpClient.layerUndici))
}
const itPlain = vitestIt

const options = requestOptions(Http.defaultRetryPolicy)

/** Runs `effect` in a fiber and advances the TestClock whenever it sleeps, until it ends. */
const driveClock = <A, E>(effect: Effect.Effect<A, E>, step: Duration.DurationInput = "1 second") =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 10_000; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      const sleeps = yield* TestClock.sleeps()
      if (Chunk.isNonEmpty(sleeps)) yield* TestClock.adjust(step)
      else yield* tick
    }
    return yield* Fiber.await(fiber)
  })

const waitForSleep = Effect.gen(function* () {
  for (let i = 0; i < 10_000; i++) {
    if (Chunk.isNonEmpty(yield* TestClock.sleeps())) return
    yield* tick
  }
})

const json = (
  res: import("node:http").ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

describe("postJson", () => {
  it.scoped("sends headers, merges extraBody/extraHeaders and decodes the answer", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => json(res, 200, { ok: true }))
      const http = yield* client
      const out = yield* Http.postJson(
        http,
        options(`${server.baseUrl}/v1/chat`, {
          settings: { extraBody: { service_tier: "flex" }, extraHeaders: { "x-trace": "abc" } }
        })
      )
      assert.deepStrictEqual(out, { ok: true })
      const req = server.requests[0]!
      assert.deepStrictEqual(req.body, { model: "m1", service_tier: "flex" })
      assert.strictEqual(req.headers["x-trace"], "abc")
      assert.strictEqual(req.headers.authorization, "Bearer sk-test")
      assert.strictEqual(req.headers["content-type"], "application/json")
    })
  )

  it.scoped("decode turns the parsed body into the result; its failures are not retried", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) => json(res, 200, { n: i }))
      const http = yield* client
      const decoded = yield* Http.postJson(http, options(`${server.baseUrl}/v1/chat`), (j) =>
        Effect.succeed((j as { n: number }).n + 100)
      )
      assert.strictEqual(decoded, 100)
      const rejected = new AgentError.ModelAPIError({ modelName: "m1", reason: "not a response" })
      const error = yield* Effect.flip(
        Http.postJson(http, options(`${server.baseUrl}/v1/chat`), () => Effect.fail(rejected))
      )
      assert.strictEqual(error, rejected)
      // one request for each call: the decode failure was not retried
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("a 5xx is retried before decode runs: decode sees only the successful body", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) =>
        i === 0 ? json(res, 503, { error: { message: "busy" } }) : json(res, 200, { n: i })
      )
      const http = yield* client
      const seen: Array<unknown> = []
      const out = yield* driveClock(
        Http.postJson(http, options(`${server.baseUrl}/v1/chat`), (j) => {
          seen.push(j)
          return Effect.succeed(j)
        })
      )
      assert.deepStrictEqual(out, Exit.succeed({ n: 1 }))
      assert.deepStrictEqual(seen, [{ n: 1 }])
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("429 with Retry-After waits exactly that long before retrying", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) =>
        i === 0
          ? json(res, 429, { error: { message: "slow down" } }, { "retry-after": "5" })
          : json(res, 200, { n: i })
      )
      const http = yield* client
      const fiber = yield* Effect.fork(Http.postJson(http, options(server.baseUrl)))
      yield* server.waitRequests(1)
      yield* waitForSleep
      yield* TestClock.adjust("4 seconds")
      for (let i = 0; i < 20; i++) yield* tick
      assert.strictEqual(server.requests.length, 1, "no retry before Retry-After elapsed")
      yield* TestClock.adjust("1 second")
      const out = yield* Fiber.join(fiber)
      assert.deepStrictEqual(out, { n: 1 })
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("500 then 200 succeeds after one backoff", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) =>
        i === 0 ? json(res, 500, { error: "boom" }) : json(res, 200, { ok: i })
      )
      const http = yield* client
      const exit = yield* driveClock(Http.postJson(http, options(server.baseUrl)))
      assert.deepStrictEqual(exit, Exit.succeed({ ok: 1 }))
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("gives up after `times` retries with the last ModelHTTPError", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => json(res, 503, { error: "down" }))
      const http = yield* client
      const exit = yield* driveClock(
        Http.postJson(
          http,
          options(server.baseUrl, { retry: { times: 3, base: "100 millis", cap: "1 second" } })
        )
      )
      assert.strictEqual(server.requests.length, 4)
      assert(Exit.isFailure(exit))
      const error = Exit.causeOption(exit).pipe((c) => (c._tag === "Some" ? c.value : undefined))
      assert(error && error._tag === "Fail" && error.error._tag === "ModelHTTPError")
      assert.strictEqual(error.error.status, 503)
      assert.deepStrictEqual(error.error.body, { error: "down" })
    })
  )

  it.scoped("a final 429 says how often and how long it was retried", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) =>
        json(res, 429, { error: { message: "slow down" } }, { "retry-after": "2" })
      )
      const http = yield* client
      const exit = yield* driveClock(
        Http.postJson(
          http,
          options(server.baseUrl, { retry: { times: 2, base: "100 millis", cap: "10 seconds" } })
        )
      )
      assert.strictEqual(server.requests.length, 3)
      assert(Exit.isFailure(exit))
      const error = Exit.causeOption(exit).pipe((c) => (c._tag === "Some" ? c.value : undefined))
      assert(error && error._tag === "Fail" && error.error._tag === "ModelHTTPError")
      assert.strictEqual(error.error.status, 429)
      assert.strictEqual(error.error.retries, 2)
      // two waits of Retry-After: 2 s on the TestClock
      assert.strictEqual(error.error.retriedMillis, 4000)
      assert.strictEqual(
        error.error.message,
        'HTTP 429 (model: m1; retried 2 times over 4.0 s), body: {"error":{"message":"slow down"}}'
      )
    })
  )

  it.scoped("4xx is not retried and carries status, body and model name", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) =>
        json(res, 400, { error: { message: "bad param", type: "invalid_request_error" } })
      )
      const http = yield* client
      const error = yield* Effect.flip(Http.postJson(http, options(server.baseUrl)))
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert(error._tag === "ModelHTTPError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.modelName, "m1")
      assert.deepStrictEqual(error.body, {
        error: { message: "bad param", type: "invalid_request_error" }
      })
      assert.include(error.message, "HTTP 400 (model: m1)")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scoped("retry: disabled fails on the first 500", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => json(res, 500, { error: "x" }))
      const http = yield* client
      const error = yield* Effect.flip(
        Http.postJson(http, options(server.baseUrl, { retry: Http.resolveRetry(false) }))
      )
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scoped("malformed JSON in a 200 is a ModelAPIError", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{not json")
      })
      const http = yield* client
      const error = yield* Effect.flip(Http.postJson(http, options(server.baseUrl)))
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.include(error.message, "Invalid JSON")
      assert.strictEqual(server.requests.length, 1)
    })
  )

  it.scoped("a reset connection is retried, then succeeds", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) => {
        if (i === 0) res.socket?.destroy()
        else json(res, 200, { ok: true })
      })
      const http = yield* client
      const exit = yield* driveClock(Http.postJson(http, options(server.baseUrl)))
      assert.deepStrictEqual(exit, Exit.succeed({ ok: true }))
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("settings.timeout bounds the request", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer(() => {
        /* never answers */
      })
      const http = yield* client
      const fiber = yield* Effect.fork(
        Http.postJson(
          http,
          options(server.baseUrl, {
            settings: { timeout: "10 seconds" },
            retry: Http.resolveRetry(false)
          })
        )
      )
      yield* server.waitRequests(1)
      yield* waitForSleep
      yield* TestClock.adjust("10 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.include(error.message, "timed out")
      assert(error._tag === "ModelAPIError")
      assert.strictEqual(error.timeoutKind, "total")
    })
  )

  // Under the live clock the deadline of a JSON request is a plain timer that aborts the request
  // (internal/deadline.ts, no forked fiber) instead of Effect.timeoutFail's race: the same
  // outcomes, real time.
  const live = <A, E>(
    name: string,
    f: () => Effect.Effect<A, E, HttpClient.HttpClient | import("effect/Scope").Scope>
  ) => vitestIt.live(name, () => Effect.scoped(Effect.provide(f(), NodeHttpClient.layerUndici)))

  // A server that never answers, and one whose body stops half-way: both end at the deadline
  // with the typed error and the request closed.
  const stalls: ReadonlyArray<
    readonly [string, (req: unknown, res: import("node:http").ServerResponse) => void]
  > = [
    [
      "fails after the deadline and closes the request",
      () => {
        /* never answers */
      }
    ],
    [
      "a body still arriving at the deadline fails the same way",
      (_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.write('{"ok":') // the rest never comes
      }
    ]
  ]
  for (const [name, handler] of stalls)
    live(`settings.timeout under the live clock: ${name}`, () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(handler)
        const http = yield* client
        const started = Date.now()
        const error = yield* Effect.flip(
          Http.postJson(
            http,
            options(server.baseUrl, { settings: { timeout: "150 millis" }, retry: Http.noRetry })
          )
        )
        assert(error._tag === "ModelAPIError")
        assert.strictEqual(error.timeoutKind, "total")
        assert.include(error.message, "timed out")
        assert.isAtLeast(Date.now() - started, 140)
        yield* server.waitClosed(1)
        assert.strictEqual(server.requests.length, 1)
      })
    )

  live(
    "settings.timeout under the live clock: each retried attempt has its own deadline and request",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res, index) => {
          res.writeHead(index === 0 ? 503 : 200, { "content-type": "application/json" })
          res.end(JSON.stringify(index === 0 ? { error: "busy" } : { ok: index }))
        })
        const http = yield* client
        const ok = yield* Http.postJson(
          http,
          options(server.baseUrl, {
            settings: { timeout: "30 seconds" },
            retry: { times: 1, base: "10 millis", cap: "10 millis" }
          })
        )
        // the first attempt's closed scope did not abort the second request
        assert.deepStrictEqual(ok, { ok: 1 })
        assert.strictEqual(server.requests.length, 2)
      })
  )

  live(
    "settings.timeout under the live clock: an answer in time is returned, a caller's interruption closes the request",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res, index) => {
          if (index === 0) {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(JSON.stringify({ ok: true }))
          }
          // the second request never answers
        })
        const http = yield* client
        const ok = yield* Http.postJson(
          http,
          options(server.baseUrl, { settings: { timeout: "30 seconds" }, retry: Http.noRetry })
        )
        assert.deepStrictEqual(ok, { ok: true })
        const fiber = yield* Effect.fork(
          Http.postJson(
            http,
            options(server.baseUrl, { settings: { timeout: "30 seconds" }, retry: Http.noRetry })
          )
        )
        yield* server.waitRequests(2)
        const exit = yield* Fiber.interrupt(fiber)
        assert(Exit.isInterrupted(exit))
        yield* server.waitClosed(1)
      })
  )

  // The transport's abort signal, as the platform hands it to the client: a request answered in
  // time is not aborted afterwards (aborting a finished request cost a DOMException and undici's
  // abort handling per call, bench/ANALYSIS.md #14); one past its deadline is.
  vitestIt.live("settings.timeout under the live clock: an answered request is never aborted", () =>
    Effect.gen(function* () {
      const signals: Array<AbortSignal> = []
      const answering = HttpClient.make((request, _url, signal) => {
        signals.push(signal)
        return Effect.succeed(
          HttpClientResponse.fromWeb(
            request,
            new Response(JSON.stringify({ ok: signals.length }), {
              headers: { "content-type": "application/json" }
            })
          )
        )
      })
      for (let i = 1; i <= 3; i++) {
        const ok = yield* Http.postJson(
          answering,
          options("http://127.0.0.1:9/", {
            settings: { timeout: "30 seconds" },
            retry: Http.noRetry
          })
        )
        assert.deepStrictEqual(ok, { ok: i })
      }
      yield* Effect.sleep("20 millis")
      assert.deepStrictEqual(
        signals.map((s) => s.aborted),
        [false, false, false]
      )
      // never answers; fails as a transport does when its signal aborts
      const stalled = HttpClient.make((request, _url, signal) => {
        signals.push(signal)
        return Effect.async<never, HttpClientError.RequestError>((resume) => {
          signal.addEventListener("abort", () =>
            resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport" })))
          )
        })
      })
      const error = yield* Effect.flip(
        Http.postJson(
          stalled,
          options("http://127.0.0.1:9/", {
            settings: { timeout: "50 millis" },
            retry: Http.noRetry
          })
        )
      )
      assert(error._tag === "ModelAPIError")
      assert.strictEqual(error.timeoutKind, "total")
      assert.isTrue(signals[3]!.aborted)
    })
  )

  itPlain.effect("undici's connect timeout is a ModelAPIError with timeoutKind connect", () =>
    Effect.gen(function* () {
      // A transport whose connection attempt times out the way undici reports it.
      const connectTimeout = Object.assign(new Error("Connect Timeout Error"), {
        code: "UND_ERR_CONNECT_TIMEOUT"
      })
      const failing = HttpClient.make((request) =>
        Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: new TypeError("fetch failed", { cause: connectTimeout })
          })
        )
      )
      const error = yield* Effect.flip(
        Http.postJson(failing, options("http://127.0.0.1:9/", { retry: Http.noRetry }))
      )
      assert(error._tag === "ModelAPIError")
      assert.strictEqual(error.timeoutKind, "connect")
      assert.include(error.reason, "Connect Timeout Error")
      // any other transport failure carries no timeout kind
      const refused = HttpClient.make((request) =>
        Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
          })
        )
      )
      const other = yield* Effect.flip(
        Http.postJson(refused, options("http://127.0.0.1:9/", { retry: Http.noRetry }))
      )
      assert(other._tag === "ModelAPIError")
      assert.strictEqual(other.timeoutKind, undefined)
    })
  )
})

describe("parseRetryAfter", () => {
  itPlain("reads seconds, HTTP dates and retry-after-ms", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    assert.strictEqual(Http.parseRetryAfter({ "retry-after": "3" } as any, now), 3000)
    assert.strictEqual(
      Http.parseRetryAfter({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" } as any, now),
      7000
    )
    assert.strictEqual(
      Http.parseRetryAfter({ "retry-after-ms": "250", "retry-after": "3" } as any, now),
      250
    )
    assert.strictEqual(Http.parseRetryAfter({} as any, now), undefined)
    assert.strictEqual(Http.parseRetryAfter({ "retry-after": "soon" } as any, now), undefined)
  })
})

const enc = new TextEncoder()

describe("parseSse", () => {
  it.effect("handles CRLF, comments, event after data, [DONE] and events split across reads", () =>
    Effect.gen(function* () {
      const raw =
        ": OPENROUTER PROCESSING\r\n\r\n" +
        'data: {"a":1}\r\n\r\n' +
        'data: {"b":2}\nevent: delta\n\n' +
        "event: multi\ndata: line1\ndata: line2\nid: 7\n\n" +
        "data: [DONE]\n\n" +
        "data: no-trailing-blank-line"
      const bytes = enc.encode(raw)
      // Split at every 3 bytes, across lines and CRLF pairs.
      const reads: Array<Uint8Array> = []
      for (let i = 0; i < bytes.length; i += 3) reads.push(bytes.subarray(i, i + 3))
      const events = yield* Stream.runCollect(Http.parseSse(Stream.fromIterable(reads)))
      assert.deepStrictEqual(Chunk.toArray(events), [
        { event: undefined, data: '{"a":1}', id: undefined },
        { event: "delta", data: '{"b":2}', id: undefined },
        { event: "multi", data: "line1\nline2", id: "7" },
        { event: undefined, data: "[DONE]", id: undefined },
        { event: undefined, data: "no-trailing-blank-line", id: undefined }
      ])
    })
  )

  it.effect("decodes multi-byte UTF-8 split across reads", () =>
    Effect.gen(function* () {
      const bytes = enc.encode('data: {"t":"héllo ✓"}\n\n')
      const reads = Array.from(bytes, (b) => Uint8Array.of(b))
      const events = yield* Stream.runCollect(Http.parseSse(Stream.fromIterable(reads)))
      assert.deepStrictEqual(JSON.parse(Chunk.unsafeHead(events).data), { t: "héllo ✓" })
    })
  )
})

describe("makeSseDecoder", () => {
  /** The reference: eventsource-parser over the whole text, ended as the decoder ends. */
  const reference = (text: string) => {
    const out: Array<Http.SseEvent> = []
    const parser = createParser({
      onEvent: (e) => {
        out.push({ event: e.event, data: e.data, id: e.id })
      }
    })
    parser.feed(`${text}\n\n`)
    return out
  }
  const decode = (reads: ReadonlyArray<Uint8Array>) => {
    const decoder = Http.makeSseDecoder()
    const out: Array<Http.SseEvent> = []
    for (const read of reads) out.push(...decoder.feed([read]))
    return [...out, ...decoder.end()]
  }
  const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>) => {
    const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
    const reads: Array<Uint8Array> = []
    let from = 0
    for (const c of at) {
      reads.push(bytes.subarray(from, c))
      from = c
    }
    reads.push(bytes.subarray(from))
    return reads
  }

  itPlain("plain data events take the fast path and give the parser's events", () => {
    const text =
      'data: {"a":1}\n\ndata:x\n\nevent: response.output_text.delta\ndata: {"b":2}\n\ndata: [DONE]\n\n'
    assert.deepStrictEqual(decode(splitAt(enc.encode(text), [3, 14, 15, 16, 30])), reference(text))
    assert.deepStrictEqual(
      decode([enc.encode(text)]).map((e) => e.data),
      ['{"a":1}', "x", '{"b":2}', "[DONE]"]
    )
  })

  itPlain("matches eventsource-parser on any mix of lines and any split of the bytes", () =>
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(
            'data: {"t":"é✓"}',
            "data: [DONE]",
            "data:",
            "data:  two spaces",
            "data:nospace",
            "data",
            "event: delta",
            "event:response.output_text.delta",
            "event:",
            "id: 7",
            "retry: 10",
            ": comment",
            "",
            "data: a\rdata: b",
            "datax: y"
          ),
          { maxLength: 24 }
        ),
        fc.constantFrom("\n", "\r\n"),
        fc.array(fc.nat(400), { maxLength: 12 }),
        (lines, eol, cuts) => {
          const text = lines.map((l) => `${l}${eol}`).join("")
          assert.deepStrictEqual(decode(splitAt(enc.encode(text), cuts)), reference(text))
        }
      ),
      { numRuns: 5000 }
    )
  )
})

const sse = (...events: Array<[string | undefined, string]>) =>
  events.map(([e, d]) => `${e ? `event: ${e}\n` : ""}data: ${d}\n\n`).join("")

/** A loopback server answering every request with a 200 SSE stream whose body `write` sends. */
const sseServer = (write: (res: import("node:http").ServerResponse) => void) =>
  loopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" })
    write(res)
  })

/** Opens the stream at `baseUrl` and drains it through `textResponse`. */
const drainStream = (baseUrl: string) =>
  Effect.gen(function* () {
    const http = yield* client
    const events = yield* Http.postSse(http, options(baseUrl))
    return yield* Stream.runDrain(textResponse(events).events)
  })

/** The error the stream at `baseUrl` fails with. */
const streamFailure = (baseUrl: string) => Effect.flip(drainStream(baseUrl))

/** Opens the stream at `baseUrl` with `settings` and drains it under `driveClock`: its exit. */
const drainOnTestClock = (
  baseUrl: string,
  settings: Http.RequestOptions["settings"],
  step: Duration.DurationInput
) =>
  Effect.gen(function* () {
    const http = yield* client
    const events = yield* Http.postSse(http, options(baseUrl, { settings }))
    return yield* driveClock(Stream.runDrain(textResponse(events).events), step)
  })

describe("postSse + streamedResponse", () => {
  // Counts `AbortController.abort` calls while `f` runs (the prototype restored after).
  const countingAborts = <A, E, R>(f: (count: () => number) => Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const original = AbortController.prototype.abort
        const counter = { n: 0 }
        AbortController.prototype.abort = function (this: AbortController, reason?: unknown) {
          counter.n++
          return original.call(this, reason)
        }
        return { original, counter }
      }),
      ({ counter }) => f(() => counter.n),
      ({ original }) =>
        Effect.sync(() => {
          AbortController.prototype.abort = original
        })
    )

  it.scoped("a stream read to its end is not aborted when its scope closes; one cut short is", () =>
    countingAborts((aborts) =>
      Effect.gen(function* () {
        const server = yield* sseServer((res) => {
          res.write(sse([undefined, JSON.stringify({ d: "a" })]))
          res.end(sse([undefined, "[DONE]"]))
        })
        const http = yield* client
        const read = Effect.scoped(
          Effect.gen(function* () {
            const body = yield* Http.postSse(http, options(server.baseUrl))
            return yield* Stream.runCollect(Http.events(body))
          })
        )
        const events = yield* read
        assert.strictEqual(Chunk.size(events), 2)
        assert.strictEqual(aborts(), 0)
        // a consumer that stops before the end: the request is aborted with its scope
        const stalled = yield* sseServer((res) => {
          res.write(sse([undefined, JSON.stringify({ d: "a" })]))
          // never ends
        })
        yield* Effect.scoped(
          Effect.gen(function* () {
            const body = yield* Http.postSse(http, options(stalled.baseUrl))
            return yield* Stream.runCollect(Stream.take(Http.events(body), 1))
          })
        )
        assert.isAtLeast(aborts(), 1)
        yield* stalled.waitClosed(1)
      })
    )
  )

  it.scoped("the body keeps undici's fast path with the idle and total limits set", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => res.end(sse([undefined, "a"], ["end", ""])))
      const http = yield* client
      const body = yield* Http.postSse(
        http,
        options(server.baseUrl, { settings: { idleTimeout: "5 seconds", timeout: "1 minute" } })
      )
      assert.strictEqual(body.source._tag, "Reader")
      const streamed = textResponse(body)
      yield* Stream.runDrain(streamed.events)
      const response = yield* streamed.response
      assert.strictEqual(response.text, "a")
      assert.strictEqual(response.state, "complete")
    })
  )

  it.scoped("streams events and ends with ResponseCompleteEvent", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.end(sse([undefined, "Hel"], [undefined, "lo"], ["end", ""]))
      })
      const http = yield* client
      const events = yield* Http.postSse(http, options(server.baseUrl))
      const streamed = textResponse(events)
      const all = Chunk.toArray(yield* Stream.runCollect(streamed.events))
      const last = all[all.length - 1]! as Messages.ResponseCompleteEvent
      assert.strictEqual(last._tag, "ResponseCompleteEvent")
      assert.strictEqual(last.response.text, "Hello")
      assert.strictEqual(last.response.state, "complete")
      assert.deepStrictEqual(
        all.map((e) => e._tag),
        ["PartStartEvent", "PartDeltaEvent", "PartEndEvent", "ResponseCompleteEvent"]
      )
      assert.strictEqual((yield* streamed.response).text, "Hello")
    })
  )

  it.scoped("a status error surfaces before the stream, after retries", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res, i) => {
        if (i === 0) return json(res, 429, { error: "rate" }, { "retry-after": "1" })
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.end(sse([undefined, "ok"], ["end", ""]))
      })
      const http = yield* client
      const exit = yield* driveClock(
        Effect.scoped(
          Effect.flatMap(Http.postSse(http, options(server.baseUrl)), (events) =>
            Stream.runCollect(textResponse(events).events)
          )
        )
      )
      assert(Exit.isSuccess(exit))
      assert.strictEqual(server.requests.length, 2)
    })
  )

  it.scoped("a provider error event fails the stream keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.end(sse([undefined, "partial "], [undefined, "text"], ["error", "overloaded"]))
      })
      const error = yield* streamFailure(server.baseUrl)
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "overloaded")
      assert.strictEqual(error.partialResponse?.text, "partial text")
      assert.strictEqual(error.partialResponse?.state, "incomplete")
    })
  )

  it.scoped("a stream that ends before its terminal event fails with the partial response", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.end(sse([undefined, "cut"]))
      })
      const error = yield* streamFailure(server.baseUrl)
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "ended early")
      assert.strictEqual(error.partialResponse?.text, "cut")
    })
  )

  it.scoped("a connection reset mid-stream is a ModelAPIError with the partial response", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.write(sse([undefined, "before reset"]))
        setTimeout(() => res.socket?.destroy(), 20)
      })
      const error = yield* streamFailure(server.baseUrl)
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "Stream broke")
      assert.strictEqual(error.partialResponse?.text, "before reset")
    })
  )

  it.scoped("a stalled stream fails after idleTimeout", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.write(sse([undefined, "first"]))
        // …and then nothing.
      })
      const exit = yield* drainOnTestClock(
        server.baseUrl,
        { idleTimeout: "30 seconds" },
        "10 seconds"
      )
      assert(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "idle")
      assert.strictEqual(error.timeoutKind, "idle")
      assert.strictEqual(error.partialResponse?.text, "first")
    })
  )

  it.scoped("interrupting the consumer closes the HTTP connection", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.write(sse([undefined, "hold"]))
      })
      const fiber = yield* Effect.fork(Effect.scoped(drainStream(server.baseUrl)))
      yield* server.waitRequests(1)
      for (let i = 0; i < 20; i++) yield* tick
      assert.strictEqual(server.closedSockets(), 0)
      yield* Fiber.interrupt(fiber)
      yield* server.waitClosed(1)
      assert.strictEqual(server.closedSockets(), 1)
    })
  )

  it.scoped("unknown events are skipped and logged at debug, never fatal", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.end(sse([undefined, "a"], ["ping", "{}"], [undefined, "b"], ["end", ""]))
      })
      const logs: Array<{ level: string; message: unknown }> = []
      const logger = Logger.make(({ logLevel, message }) => {
        logs.push({ level: logLevel.label, message })
      })
      const http = yield* client
      const events = yield* Http.postSse(http, options(server.baseUrl))
      let ended = false
      const streamed = Http.streamedResponse({
        modelName: "m1",
        providerName: "test",
        body: events,
        handler: ({ skip }) => ({
          onEvent: (event, manager, out) => {
            if (event.event === "ping") {
              skip(`unknown event ${event.event}`)
              return undefined
            }
            if (event.event === "end") {
              ended = true
              return undefined
            }
            const e = manager.textDelta("t", event.data)
            if (e) out.push(e)
            return undefined
          },
          onEnd: () =>
            ended ? undefined : new AgentError.ModelAPIError({ modelName: "m1", reason: "early" })
        })
      })
      yield* Stream.runDrain(streamed.events).pipe(
        Effect.provide(
          Layer.mergeAll(
            Logger.replace(Logger.defaultLogger, logger),
            Logger.minimumLogLevel(LogLevel.Debug)
          )
        )
      )
      assert.strictEqual((yield* streamed.response).text, "ab")
      const debug = logs.filter((l) => l.level === "DEBUG")
      assert.strictEqual(debug.length, 1)
      assert.include(JSON.stringify(debug[0]!.message), "unknown event ping")
    })
  )

  it.scoped("settings.timeout bounds a stream until its last event", () =>
    Effect.gen(function* () {
      const server = yield* sseServer((res) => {
        res.write(sse([undefined, "slow"]))
      })
      const exit = yield* drainOnTestClock(server.baseUrl, { timeout: "60 seconds" }, "20 seconds")
      const error = yield* Effect.flip(exit)
      assert(error._tag === "ModelAPIError")
      assert.include(error.reason, "timed out")
      assert.strictEqual(error.timeoutKind, "total")
      assert.strictEqual(error.partialResponse?.text, "slow")
    })
  )

  it.scoped("a refused connection is a ModelAPIError after the retries", () =>
    Effect.gen(function* () {
      // Grab a free port, then close the server so nothing listens there.
      const url = yield* Effect.scoped(
        Effect.map(
          loopbackServer(() => {}),
          (s) => s.baseUrl
        )
      )
      const http = yield* client
      const exit = yield* driveClock(
        Http.postJson(
          http,
          options(url, { retry: { times: 2, base: "100 millis", cap: "1 second" } })
        )
      )
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.include(error.message, "Connection error")
      assert.notInclude(error.message, "sk-test")
    })
  )
})
