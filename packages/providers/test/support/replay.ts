/**
 * Replays recorded provider traffic (`../shared/conformance/cases`) from a loopback HTTP
 * server, so provider clients are tested against real wire data without network access.
 */
import { type AgentError, Messages, Model } from "@agentfx/core"
import { assert } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** One recorded HTTP exchange. */
export interface Interaction {
  readonly host?: string | null
  readonly endpoint: string
  readonly provider: string | null
  readonly request: {
    readonly method: string
    readonly path: string
    readonly headers: Record<string, string>
    readonly body: unknown
    readonly bodyText?: string
  }
  readonly response: {
    readonly status: number
    readonly contentType: string | null
    readonly json: unknown
    readonly sse: string | null
    readonly text: string | null
    readonly base64?: string | null
  }
}

/** One recorded test of pydantic-ai's suite. */
export interface ConformanceCase {
  readonly id: string
  readonly source?: string
  readonly provider: string
  readonly providers: ReadonlyArray<string>
  readonly host?: string
  readonly stream: boolean
  readonly interactions: ReadonlyArray<Interaction>
}

/**
 * Where the cases live: `AGENTFX_CONFORMANCE_DIR` or `../shared/conformance/cases` from the repo
 * root. Missing recordings fail with one clear error (not "no test found" or a bare ENOENT).
 */
export const casesDir = (): string => {
  const dir =
    process.env.AGENTFX_CONFORMANCE_DIR ??
    fileURLToPath(new URL("../../../../../shared/conformance/cases", import.meta.url))
  if (!Fs.existsSync(dir)) {
    throw new Error(
      `Recorded provider traffic not found at ${dir}: the provider tests replay it. Clone the repository next to \`shared/\` (as CI does), or set AGENTFX_CONFORMANCE_DIR to a conformance/cases folder.`
    )
  }
  return dir
}

/** Every case filed under `provider`, sorted by id. */
export const listCases = (provider: string): ReadonlyArray<ConformanceCase> => {
  const dir = Path.join(casesDir(), provider)
  if (!Fs.existsSync(dir)) return []
  return Fs.readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(Fs.readFileSync(Path.join(dir, f), "utf8")) as ConformanceCase)
}

/** One case by provider and id. */
export const loadCase = (provider: string, id: string): ConformanceCase =>
  JSON.parse(
    Fs.readFileSync(Path.join(casesDir(), provider, `${id}.json`), "utf8")
  ) as ConformanceCase

/** A request the replay server received. */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly body: unknown
  readonly headers: Record<string, string>
}

/** Deterministic PRNG (mulberry32) for re-chunking. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits bytes at random boundaries (pieces of 1..64 bytes). */
export const rechunk = (bytes: Uint8Array, seed: number): Array<Uint8Array> => {
  const random = prng(seed)
  const out: Array<Uint8Array> = []
  let i = 0
  while (i < bytes.length) {
    const n = 1 + Math.floor(random() * 64)
    out.push(bytes.subarray(i, i + n))
    i += n
  }
  return out
}

const responseBody = (
  r: Interaction["response"]
): { body: Uint8Array; contentType: string | null } => {
  if (r.sse !== null && r.sse !== undefined)
    return { body: Buffer.from(r.sse, "utf8"), contentType: r.contentType ?? "text/event-stream" }
  if (r.json !== null && r.json !== undefined)
    return {
      body: Buffer.from(JSON.stringify(r.json), "utf8"),
      contentType: r.contentType ?? "application/json"
    }
  if (r.text !== null && r.text !== undefined)
    return { body: Buffer.from(r.text, "utf8"), contentType: r.contentType }
  if (r.base64) return { body: Buffer.from(r.base64, "base64"), contentType: r.contentType }
  return { body: new Uint8Array(0), contentType: r.contentType }
}

const writePieces = (res: Http.ServerResponse, pieces: Array<Uint8Array>) => {
  let i = 0
  const next = () => {
    if (res.destroyed) return
    if (i >= pieces.length) {
      res.end()
      return
    }
    res.write(pieces[i++])
    // A macrotask between pieces so they tend to arrive as separate network reads.
    setImmediate(next)
  }
  next()
}

/**
 * A loopback HTTP server (127.0.0.1, ephemeral port) that reads each request (body parsed as
 * JSON when it is JSON, else kept as text; `null` when empty) before `handle` answers it.
 * `onSocketClose` runs when a client socket closes. Every socket is destroyed and the server
 * closed when the scope closes. Succeeds with the base URL.
 */
const listen = (
  handle: (request: ReceivedRequest, res: Http.ServerResponse) => void,
  onSocketClose?: () => void
): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; sockets: Set<Net.Socket>; baseUrl: string }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (d: Buffer) => chunks.push(d))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown = null
          if (text !== "") {
            try {
              body = JSON.parse(text)
            } catch {
              body = text
            }
          }
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(req.headers)) {
            if (typeof v === "string") headers[k] = v
            else if (Array.isArray(v)) headers[k] = v.join(", ")
          }
          handle({ method: req.method ?? "GET", path: req.url ?? "/", body, headers }, res)
        })
      })
      server.on("connection", (s) => {
        sockets.add(s)
        s.on("close", () => {
          sockets.delete(s)
          onSocketClose?.()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(Effect.succeed({ server, sockets, baseUrl: `http://127.0.0.1:${address.port}` }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ baseUrl }) => baseUrl))

/**
 * Starts a loopback server (127.0.0.1, ephemeral port) replaying the case's interactions: each
 * request gets the first unused interaction with the same method and path+query. SSE bodies
 * are sent verbatim, or re-chunked at random byte boundaries when `rechunkSeed` is given.
 * Unmatched requests get status 599 with a JSON explanation. Closed when the scope closes.
 */
export const replayServer = (
  c: ConformanceCase,
  options?: { readonly rechunkSeed?: number }
): Effect.Effect<
  {
    readonly baseUrl: string
    readonly received: ReadonlyArray<ReceivedRequest>
    readonly unused: () => number
  },
  never,
  Scope.Scope
> =>
  Effect.suspend(() => {
    const received: Array<ReceivedRequest> = []
    const used = c.interactions.map(() => false)
    let seed = options?.rechunkSeed
    return listen((request, res) => {
      received.push(request)
      const { method, path } = request
      const index = c.interactions.findIndex(
        (it, i) => !used[i] && it.request.method === method && it.request.path === path
      )
      if (index < 0) {
        res.writeHead(599, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            error: "replay: no unused interaction matches",
            method,
            path,
            available: c.interactions
              .filter((_, i) => !used[i])
              .map((it) => `${it.request.method} ${it.request.path}`)
          })
        )
        return
      }
      used[index] = true
      const r = c.interactions[index]!.response
      const { body: bytes, contentType } = responseBody(r)
      res.writeHead(r.status, contentType === null ? {} : { "content-type": contentType })
      if (seed !== undefined && bytes.length > 0) {
        const pieces = rechunk(bytes, seed)
        seed = seed + 1
        writePieces(res, pieces)
      } else {
        res.end(bytes)
      }
    }).pipe(
      Effect.map((baseUrl) => ({
        baseUrl,
        received,
        unused: () => used.filter((u) => !u).length
      }))
    )
  })

/** A request seen by a `loopbackServer`, with its socket's fate. */
export interface LoopbackRequest {
  readonly method: string
  readonly path: string
  readonly body: unknown
  readonly headers: Record<string, string>
}

/**
 * A programmable loopback server for fault injection: `handler` answers each request (the
 * request index is passed). `closed()` counts sockets that have closed; `waitRequests(n)` and
 * `waitClosed(n)` resolve on real I/O, not on timers.
 */
export const loopbackServer = (
  handler: (req: LoopbackRequest, res: Http.ServerResponse, index: number) => void
): Effect.Effect<
  {
    readonly baseUrl: string
    readonly requests: ReadonlyArray<LoopbackRequest>
    readonly waitRequests: (n: number) => Effect.Effect<void>
    readonly waitClosed: (n: number) => Effect.Effect<void>
    readonly closedSockets: () => number
  },
  never,
  Scope.Scope
> =>
  Effect.suspend(() => {
    const requests: Array<LoopbackRequest> = []
    const waiters = new Set<() => void>()
    const closed = { n: 0 }
    const notify = () => {
      for (const w of [...waiters]) w()
    }
    const waitUntil = (cond: () => boolean) =>
      Effect.async<void>((resume) => {
        if (cond()) return resume(Effect.void)
        const w = () => {
          if (cond()) {
            waiters.delete(w)
            resume(Effect.void)
          }
        }
        waiters.add(w)
        return Effect.sync(() => waiters.delete(w))
      })
    return listen(
      (request, res) => {
        requests.push(request)
        handler(request, res, requests.length - 1)
        notify()
      },
      () => {
        closed.n++
        notify()
      }
    ).pipe(
      Effect.map((baseUrl) => ({
        baseUrl,
        requests,
        waitRequests: (n: number) => waitUntil(() => requests.length >= n),
        waitClosed: (n: number) => waitUntil(() => closed.n >= n),
        closedSockets: () => closed.n
      }))
    )
  })

/** Yields to the event loop once (lets real I/O progress; not a timer sleep). */
export const tick: Effect.Effect<void> = Effect.promise(
  () => new Promise<void>((resolve) => setImmediate(resolve))
)

/** Writes the head of a `200 text/event-stream` answer. */
export const sseHead = (res: Http.ServerResponse) =>
  res.writeHead(200, { "content-type": "text/event-stream" })

/** Waits (real I/O, no timer) until something sleeps on the TestClock. */
export const untilSleeping = Effect.gen(function* () {
  for (let i = 0; i < 10_000; i++) {
    if (Chunk.isNonEmpty(yield* TestClock.sleeps())) return
    yield* tick
  }
  assert.fail("nothing slept on the TestClock")
})

/** A one-interaction streaming case serving `sse` for `path` (fault injection through the replay server). */
export const sseCase = (
  provider: string,
  endpoint: string,
  path: string,
  sse: string
): ConformanceCase => ({
  id: "synthetic",
  provider,
  providers: [provider],
  stream: true,
  interactions: [
    {
      endpoint,
      provider,
      request: { method: "POST", path, headers: {}, body: null },
      response: { status: 200, contentType: "text/event-stream", json: null, sse, text: null }
    }
  ]
})

/** One SSE event whose JSON data repeats its `type` (the Anthropic and Responses style). */
export const sseEvent = (type: string, data: Record<string, unknown>): string =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`

/** Streams the answer to "hi" through the model of `layer`; the exit of collecting its events. */
export const collectStream = <E>(layer: Layer.Layer<Model.Model, E>) =>
  Effect.gen(function* () {
    const model = yield* Model.Model
    const s = yield* model.requestStream(
      [Messages.userPrompt("hi")],
      {},
      Model.ModelRequestParameters.empty
    )
    return yield* Effect.exit(Stream.runCollect(s.events))
  }).pipe(Effect.provide(layer))

/** The `ModelAPIError` a stream failed with; fails the test on success or on any other error. */
export const apiErrorOf = (
  exit: Exit.Exit<unknown, AgentError.ModelError>
): AgentError.ModelAPIError => {
  if (Exit.isSuccess(exit) || exit.cause._tag !== "Fail")
    return assert.fail("expected a typed failure")
  const error = exit.cause.error
  assert.strictEqual(error._tag, "ModelAPIError")
  return error as AgentError.ModelAPIError
}

/** The JSON `data:` payloads of a recorded SSE body, in order (independently of the provider code). */
export const sseData = (sse: string): Array<any> =>
  sse
    .split(/\r?\n\r?\n/)
    .map((block) =>
      block
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n")
    )
    .filter((d) => d !== "")
    .map((d) => JSON.parse(d))
