/**
 * Replays recorded provider traffic (`../shared/conformance/cases`) from a loopback HTTP
 * server, so provider clients are tested against real wire data without network access.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
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

/** Where the cases live: `AGENTFX_CONFORMANCE_DIR` or `../shared/conformance/cases` from the repo root. */
export const casesDir = (): string =>
  process.env.AGENTFX_CONFORMANCE_DIR ??
  fileURLToPath(new URL("../../../../../shared/conformance/cases", import.meta.url))

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

const responseBody = (r: Interaction["response"]): { body: Uint8Array; contentType: string | null } => {
  if (r.sse !== null && r.sse !== undefined)
    return { body: Buffer.from(r.sse, "utf8"), contentType: r.contentType ?? "text/event-stream" }
  if (r.json !== null && r.json !== undefined)
    return { body: Buffer.from(JSON.stringify(r.json), "utf8"), contentType: r.contentType ?? "application/json" }
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
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; sockets: Set<Net.Socket>; baseUrl: string; received: Array<ReceivedRequest>; used: Array<boolean> }>((resume) => {
      const received: Array<ReceivedRequest> = []
      const used = c.interactions.map(() => false)
      const sockets = new Set<Net.Socket>()
      let seed = options?.rechunkSeed
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
          const method = req.method ?? "GET"
          const path = req.url ?? "/"
          received.push({ method, path, body, headers })
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
        })
      })
      server.on("connection", (s) => {
        sockets.add(s)
        s.on("close", () => sockets.delete(s))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(
          Effect.succeed({
            server,
            sockets,
            baseUrl: `http://127.0.0.1:${address.port}`,
            received,
            used
          })
        )
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.map(({ baseUrl, received, used }) => ({
      baseUrl,
      received,
      unused: () => used.filter((u) => !u).length
    }))
  )

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
  Effect.acquireRelease(
    Effect.async<{
      server: Http.Server
      sockets: Set<Net.Socket>
      baseUrl: string
      requests: Array<LoopbackRequest>
      waiters: Set<() => void>
      closed: { n: number }
    }>((resume) => {
      const requests: Array<LoopbackRequest> = []
      const sockets = new Set<Net.Socket>()
      const waiters = new Set<() => void>()
      const closed = { n: 0 }
      const notify = () => {
        for (const w of [...waiters]) w()
      }
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (d: Buffer) => chunks.push(d))
        req.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let body: unknown = null
          try {
            body = text === "" ? null : JSON.parse(text)
          } catch {
            body = text
          }
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v
          const r = { method: req.method ?? "GET", path: req.url ?? "/", body, headers }
          requests.push(r)
          handler(r, res, requests.length - 1)
          notify()
        })
      })
      server.on("connection", (s) => {
        sockets.add(s)
        s.on("close", () => {
          sockets.delete(s)
          closed.n++
          notify()
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address() as Net.AddressInfo
        resume(
          Effect.succeed({
            server,
            sockets,
            baseUrl: `http://127.0.0.1:${address.port}`,
            requests,
            waiters,
            closed
          })
        )
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(
    Effect.map(({ baseUrl, requests, waiters, closed }) => {
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
      return {
        baseUrl,
        requests,
        waitRequests: (n: number) => waitUntil(() => requests.length >= n),
        waitClosed: (n: number) => waitUntil(() => closed.n >= n),
        closedSockets: () => closed.n
      }
    })
  )

/** Yields to the event loop once (lets real I/O progress; not a timer sleep). */
export const tick: Effect.Effect<void> = Effect.promise(
  () => new Promise<void>((resolve) => setImmediate(resolve))
)
