import { type Messages } from "@agentfx/core"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as BodyReader from "../src/internal/bodyReader.js"
import * as Http from "../src/internal/http.js"
import { requestOptions } from "./support/requestOptions.js"
import { loopbackServer, tick } from "./support/replay.js"
import { textResponse } from "./support/textStream.js"

/**
 * The transports the SSE path must behave the same over: undici (the `BodyReader` fast path),
 * the fetch client, and undici with its body hidden (the fallback through `response.stream`
 * over the same socket code).
 */
const hideBody = (response: HttpClientResponse.HttpClientResponse) =>
  new Proxy(response, {
    get: (target, key) => (key === "source" ? undefined : Reflect.get(target, key, target))
  })
const transports: ReadonlyArray<{
  readonly name: string
  readonly fast: boolean
  readonly layer: Layer.Layer<HttpClient.HttpClient>
}> = [
  { name: "undici (fast path)", fast: true, layer: NodeHttpClient.layerUndici },
  { name: "fetch (fallback)", fast: false, layer: FetchHttpClient.layer },
  {
    name: "undici, body hidden (fallback)",
    fast: false,
    layer: Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (c) =>
        HttpClient.transformResponse(c, Effect.map(hideBody))
      )
    ).pipe(Layer.provide(NodeHttpClient.layerUndici))
  }
]

const options = requestOptions(Http.noRetry)

/** A 200 SSE server whose body is written piece by piece, one event-loop turn apart. */
const piecesServer = (pieces: ReadonlyArray<string>, then: "end" | "reset" | "hold" = "end") =>
  loopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" })
    let i = 0
    const next = () => {
      if (res.destroyed) return
      if (i < pieces.length) {
        res.write(pieces[i++])
        setImmediate(next)
      } else if (then === "end") res.end()
      else if (then === "reset") res.socket?.destroy()
    }
    next()
  })

/** Every SSE event of the stream at `url`, read through `postSse` alone. */
const rawEvents = (url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (http) =>
    Effect.flatMap(Http.postSse(http, options(url)), (events) =>
      Stream.runCollect(Http.events(events))
    )
  ).pipe(Effect.map(Chunk.toArray))

/** CRLF, a comment, an `event:` after its `data:`, a multi-line data, events split mid-line. */
const trickyPieces = [
  ": keep-alive comment\r\n\r\nda",
  "ta: Hel\r\n\r",
  "\ndata: lo\n",
  "\nid: 7\ndata: , \ndata: wor",
  "ld\nevent: multi\n\ndata: !\n\nevent: end\ndata:\n\n"
]

for (const transport of transports) {
  const scoped = <A, E>(
    name: string,
    f: () => Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>
  ) => it.scoped(`${transport.name}: ${name}`, () => Effect.provide(f(), transport.layer))

  describe(`postSse over ${transport.name}`, () => {
    scoped("takes the fast path exactly when the response is undici's", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: x\n\n"])
        // As `postSse`: the connection bound to the scope (no platform response wrapper).
        const http = HttpClient.withScope(yield* HttpClient.HttpClient)
        const response = yield* http.execute(HttpClientRequest.post(server.baseUrl))
        const reader = BodyReader.fromResponse(response)
        assert.strictEqual(reader !== undefined, transport.fast)
        if (reader !== undefined) yield* reader.close
        else yield* Stream.runDrain(response.stream)
      })
    )

    scoped("parses CRLF, comments, multi-line data and events split across reads", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(trickyPieces)
        const events = yield* rawEvents(server.baseUrl)
        assert.deepStrictEqual(
          events.map((e) => [e.event, e.data, e.id]),
          [
            [undefined, "Hel", undefined],
            [undefined, "lo", undefined],
            ["multi", ", \nworld", "7"],
            [undefined, "!", undefined],
            ["end", "", undefined]
          ]
        )
      })
    )

    scoped("streamedResponse builds the same response from split reads", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(trickyPieces)
        const http = yield* HttpClient.HttpClient
        const streamed = textResponse(yield* Http.postSse(http, options(server.baseUrl)))
        const all = Chunk.toArray(yield* Stream.runCollect(streamed.events))
        const last = all[all.length - 1] as Messages.ResponseCompleteEvent
        assert.strictEqual(last._tag, "ResponseCompleteEvent")
        assert.strictEqual(last.response.text, "Hello, \nworld!")
        assert.strictEqual(last.response.state, "complete")
      })
    )

    scoped("a last event without its blank line is still delivered", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: a\n\n", "data: tail"])
        const events = yield* rawEvents(server.baseUrl)
        assert.deepStrictEqual(
          events.map((e) => e.data),
          ["a", "tail"]
        )
      })
    )

    scoped("a connection reset mid-stream fails with the partial response", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: before \n\n", "data: reset\n\n"], "reset")
        const http = yield* HttpClient.HttpClient
        const streamed = textResponse(yield* Http.postSse(http, options(server.baseUrl)))
        const error = yield* Effect.flip(Stream.runDrain(streamed.events))
        assert(error._tag === "ModelAPIError")
        assert.include(error.reason, "Stream broke")
        assert.strictEqual(error.partialResponse?.text, "before reset")
        assert.strictEqual(error.partialResponse?.state, "incomplete")
      })
    )

    scoped("interrupting the consumer closes the connection", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: hold\n\n"], "hold")
        const http = yield* HttpClient.HttpClient
        const seen: Array<string> = []
        const fiber = yield* Effect.fork(
          Effect.scoped(
            Effect.flatMap(Http.postSse(http, options(server.baseUrl)), (events) =>
              Stream.runForEach(Http.events(events), (e) => Effect.sync(() => seen.push(e.data)))
            )
          )
        )
        for (let i = 0; i < 200 && seen.length === 0; i++) yield* tick
        assert.deepStrictEqual(seen, ["hold"])
        assert.strictEqual(server.closedSockets(), 0)
        yield* Fiber.interrupt(fiber)
        yield* server.waitClosed(1)
        assert.strictEqual(server.closedSockets(), 1)
      })
    )

    scoped("closing the scope after the stream ends releases the connection", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: a\n\n", "event: end\ndata:\n\n"])
        const http = yield* HttpClient.HttpClient
        const text = yield* Effect.scoped(
          Effect.flatMap(Http.postSse(http, options(server.baseUrl)), (events) => {
            const streamed = textResponse(events)
            return Effect.zipRight(Stream.runDrain(streamed.events), streamed.response)
          })
        )
        assert.strictEqual(text.text, "a")
        // A second request on the same client still works (nothing left hanging).
        const again = yield* Effect.scoped(rawEvents(server.baseUrl))
        assert.deepStrictEqual(
          again.map((e) => e.data),
          ["a", ""]
        )
      })
    )

    scoped("a stalled stream fails after idleTimeout", () =>
      Effect.gen(function* () {
        const server = yield* piecesServer(["data: first\n\n"], "hold")
        const http = yield* HttpClient.HttpClient
        const streamed = textResponse(
          yield* Http.postSse(
            http,
            options(server.baseUrl, { settings: { idleTimeout: "30 seconds" } })
          )
        )
        const fiber = yield* Effect.fork(Stream.runDrain(streamed.events))
        // Let the first event arrive, then let time pass with nothing more.
        for (let i = 0; i < 200; i++) {
          if ((yield* streamed.response).text === "first") break
          yield* tick
        }
        assert.strictEqual((yield* streamed.response).text, "first")
        yield* TestClock.adjust("29 seconds")
        for (let i = 0; i < 5; i++) yield* tick
        assert.strictEqual((yield* Fiber.poll(fiber))._tag, "None", "not before idleTimeout")
        yield* TestClock.adjust("2 seconds")
        const exit = yield* Fiber.await(fiber)
        assert(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert(error._tag === "ModelAPIError")
        assert.include(error.reason, "idle")
        assert.strictEqual(error.timeoutKind, "idle")
        assert.strictEqual(error.partialResponse?.text, "first")
      })
    )
  })
}

describe("BodyReader", () => {
  const undici =
    <A, E>(f: () => Effect.Effect<A, E, HttpClient.HttpClient | Scope.Scope>) =>
    () =>
      Effect.provide(f(), NodeHttpClient.layerUndici)

  it.scoped(
    "pauses the body while nobody pulls, and delivers every byte once pulled again",
    undici(() =>
      Effect.gen(function* () {
        const piece = "x".repeat(64 * 1024)
        // 32 MiB: more than the loopback socket buffers hold, so a paused reader stops the server.
        const pieces = 512
        let written = 0
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/octet-stream" })
          const write = () => {
            while (written < pieces) {
              written++
              if (!res.write(piece)) return res.once("drain", write)
            }
            res.end()
          }
          write()
        })
        // As `postSse`: the connection bound to the scope (no platform response wrapper).
        const http = HttpClient.withScope(yield* HttpClient.HttpClient)
        const response = yield* http.execute(HttpClientRequest.post(server.baseUrl))
        const reader = BodyReader.fromResponse(response)
        assert(reader !== undefined)
        yield* Effect.addFinalizer(() => reader.close)
        const body = BodyReader.nodeBodyOf(response) as import("node:stream").Readable
        const pull = reader.pull((e) => e)
        let bytes = 0
        const first = yield* pull
        assert(first !== undefined)
        for (const r of first) bytes += r.length
        // Nobody pulls now: the reader buffers up to its high-water mark, then pauses the body,
        // so the server cannot write everything.
        for (let i = 0; i < 500 && !body.isPaused(); i++) yield* tick
        assert.isTrue(body.isPaused())
        for (let i = 0; i < 50; i++) yield* tick
        assert.isBelow(written, pieces, "back-pressure reached the server")
        // …and the body's own buffer stays near its high-water mark.
        assert.isAtMost(body.readableLength, 4 * piece.length)
        for (;;) {
          const reads = yield* pull
          if (reads === undefined) break
          for (const r of reads) bytes += r.length
        }
        assert.strictEqual(bytes, piece.length * pieces)
        assert.strictEqual(written, pieces)
      })
    )
  )

  it.scoped(
    "a pull interrupted while waiting loses no bytes: the next pull gets them",
    undici(() =>
      Effect.gen(function* () {
        let res: import("node:http").ServerResponse | undefined
        const server = yield* loopbackServer((_req, r) => {
          r.writeHead(200, { "content-type": "text/event-stream" })
          r.write("data: 1\n\n")
          res = r
        })
        const http = HttpClient.withScope(yield* HttpClient.HttpClient)
        const response = yield* http.execute(HttpClientRequest.post(server.baseUrl))
        const reader = BodyReader.fromResponse(response)
        assert(reader !== undefined)
        yield* Effect.addFinalizer(() => reader.close)
        const pull = reader.pull((e) => e)
        const text = (reads: Array<Uint8Array> | undefined) =>
          (reads ?? []).map((r) => Buffer.from(r).toString("utf8")).join("")
        assert.strictEqual(text(yield* pull), "data: 1\n\n")
        const waiting = yield* Effect.fork(pull)
        for (let i = 0; i < 5; i++) yield* tick
        yield* Fiber.interrupt(waiting)
        res!.write("data: 2\n\n")
        res!.end()
        // Let the bytes and the end arrive while no pull waits.
        for (let i = 0; i < 20; i++) yield* tick
        let rest = ""
        for (;;) {
          const reads = yield* pull
          if (reads === undefined) break
          rest += text(reads)
        }
        assert.strictEqual(rest, "data: 2\n\n")
      })
    )
  )

  it.scoped(
    "a body that already ended before the first pull ends the stream at once",
    undici(() =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.end("data: early\n\n")
        })
        // As `postSse`: the connection bound to the scope (no platform response wrapper).
        const http = HttpClient.withScope(yield* HttpClient.HttpClient)
        const response = yield* http.execute(HttpClientRequest.post(server.baseUrl))
        const body = BodyReader.nodeBodyOf(response) as import("node:stream").Readable
        // Consume it behind the reader's back.
        body.resume()
        for (let i = 0; i < 200 && !body.readableEnded; i++) yield* tick
        assert.isTrue(body.readableEnded)
        const reader = BodyReader.fromResponse(response)
        assert(reader !== undefined)
        assert.strictEqual(yield* reader.pull((e) => e), undefined)
      })
    )
  )

  it.scoped(
    "a body destroyed without an error fails the pull instead of waiting forever",
    undici(() =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(200, { "content-type": "text/event-stream" })
          res.write("data: a\n\n")
        })
        // As `postSse`: the connection bound to the scope (no platform response wrapper).
        const http = HttpClient.withScope(yield* HttpClient.HttpClient)
        const response = yield* http.execute(HttpClientRequest.post(server.baseUrl))
        const reader = BodyReader.fromResponse(response)
        assert(reader !== undefined)
        const body = BodyReader.nodeBodyOf(response) as import("node:stream").Readable
        const pull = reader.pull((e) => e as HttpClientError.ResponseError)
        assert((yield* pull) !== undefined)
        const waiting = yield* Effect.fork(pull)
        yield* tick
        body.destroy()
        const exit = yield* Fiber.await(waiting)
        assert(Exit.isFailure(exit))
        const error = yield* Effect.flip(exit)
        assert.strictEqual(error._tag, "ResponseError")
        assert.strictEqual(error.reason, "Decode")
      })
    )
  )

  it.effect("a test client's response is not mistaken for undici's", () =>
    Effect.gen(function* () {
      const request = HttpClientRequest.post("http://example.invalid/")
      const web = HttpClientResponse.fromWeb(request, new Response("data: x\n\n"))
      assert.strictEqual(BodyReader.fromResponse(web), undefined)
      // Lookalikes: a `source` without a Readable body, or whose status disagrees.
      const fake = (source: unknown) =>
        ({ status: 200, request, source }) as unknown as HttpClientResponse.HttpClientResponse
      assert.strictEqual(BodyReader.fromResponse(fake({ statusCode: 200, body: {} })), undefined)
      assert.strictEqual(BodyReader.fromResponse(fake(null)), undefined)
      // And the SSE path over such a client still works, through `response.stream`.
      const client = HttpClient.make((req) =>
        Effect.succeed(
          HttpClientResponse.fromWeb(
            req,
            new Response("data: one\r\n\r\n: comment\n\ndata: two\n\n", {
              headers: { "content-type": "text/event-stream" }
            })
          )
        )
      )
      const events = yield* Effect.scoped(
        Effect.flatMap(Http.postSse(client, options("http://example.invalid/")), (s) =>
          Stream.runCollect(Http.events(s))
        )
      )
      assert.deepStrictEqual(
        Chunk.toArray(events).map((e) => e.data),
        ["one", "two"]
      )
    })
  )
})
