/**
 * Client-side download of file URLs before a model call: the URLs a provider cannot fetch itself
 * (Gemini, Bedrock) and the ones marked `forceDownload`. Each file is fetched with the
 * `@effect/platform` `HttpClient` under a timeout and a size limit and sent inline as
 * `BinaryContent`; its media type comes from the part, else the response's `content-type`, else
 * the URL's extension. Failures are typed (`ModelHTTPError` for a status ≥ 400, `ModelAPIError`
 * otherwise) and name the URL without its credentials (user info, query values).
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { AgentError, Messages } from "@agentfx/core"
import * as Cache from "effect/Cache"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import { mediaTypeOf } from "./google.js"

/** How long one download may take, headers and body (30 seconds). */
export const downloadTimeout: Duration.Duration = Duration.seconds(30)

/** The largest file downloaded (64 MiB); a larger one fails the request. */
export const maxDownloadBytes = 64 * 1024 * 1024

/** Whether a user-content item is a file URL marked `forceDownload`. */
export const isForced = (item: Messages.UserContent | unknown): item is Messages.FileUrl =>
  (item instanceof Messages.ImageUrl ||
    item instanceof Messages.AudioUrl ||
    item instanceof Messages.VideoUrl ||
    item instanceof Messages.DocumentUrl) &&
  item.forceDownload === true

/**
 * A URL safe to show in an error: no user name or password, every query value masked
 * (pre-signed URLs carry their signature there).
 */
export const redactUrl = (url: string): string => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return "<invalid URL>"
  }
  u.username = ""
  u.password = ""
  const query = [...u.searchParams.keys()].map((k) => `${k}=[REDACTED]`).join("&")
  u.search = ""
  u.hash = ""
  return query === "" ? u.toString() : `${u.toString()}?${query}`
}

type DownloadError = AgentError.ModelAPIError | AgentError.ModelHTTPError

interface Chunks {
  readonly chunks: Array<Uint8Array>
  size: number
}

/** Reads a body stream into one array, failing past `maxBytes`. */
const readCapped = <E>(
  body: Stream.Stream<Uint8Array, E>,
  maxBytes: number,
  tooLarge: () => AgentError.ModelAPIError
): Effect.Effect<Uint8Array, E | AgentError.ModelAPIError> =>
  Effect.map(
    Stream.runFoldEffect(
      body,
      { chunks: [], size: 0 } as Chunks,
      (acc: Chunks, chunk: Uint8Array): Effect.Effect<Chunks, AgentError.ModelAPIError> => {
        acc.size += chunk.length
        if (acc.size > maxBytes) return Effect.fail(tooLarge())
        acc.chunks.push(chunk)
        return Effect.succeed(acc)
      }
    ),
    ({ chunks, size }) => {
      const out = new Uint8Array(size)
      let offset = 0
      for (const c of chunks) {
        out.set(c, offset)
        offset += c.length
      }
      return out
    }
  )

/** A file's bytes as fetched, with the response's media type (before the part's own). */
interface Fetched {
  readonly bytes: Uint8Array
  readonly contentType: string | undefined
}

/** Fetches a file URL's bytes (see the module description for limits and errors). */
const fetchFile = (
  httpClient: HttpClient.HttpClient,
  url: string,
  modelName: string
): Effect.Effect<Fetched, DownloadError> => {
  const shown = redactUrl(url)
  const apiError = (reason: string) =>
    new AgentError.ModelAPIError({ modelName, reason: `Downloading ${shown} failed: ${reason}` })
  return Effect.gen(function* () {
    const response = yield* httpClient.get(url)
    if (response.status >= 400) {
      return yield* new AgentError.ModelHTTPError({
        status: response.status,
        modelName,
        body: `Downloading ${shown} failed`
      })
    }
    const bytes = yield* readCapped(response.stream, maxDownloadBytes, () =>
      apiError(`larger than ${maxDownloadBytes} bytes`)
    )
    const header = response.headers["content-type"]?.split(";")[0]?.trim()
    return {
      bytes,
      contentType:
        header !== undefined && header !== "" && header !== "application/octet-stream"
          ? header
          : undefined
    }
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({
      duration: downloadTimeout,
      onTimeout: () => apiError(`no complete answer within ${Duration.format(downloadTimeout)}`)
    }),
    Effect.catchIf(
      (e): e is Exclude<typeof e, DownloadError> =>
        e._tag !== "ModelHTTPError" && e._tag !== "ModelAPIError",
      // A transport failure: its message may hold the full URL, so only its kind is kept.
      (e) => Effect.fail(apiError(e._tag === "RequestError" ? "the request failed" : e.message))
    )
  )
}

/** A fetched file as the part's `BinaryContent` (media type: the part's, the header's, the URL's). */
const toBinary = (file: Messages.FileUrl, fetched: Fetched): Messages.BinaryContent =>
  new Messages.BinaryContent(
    {
      data: fetched.bytes,
      mediaType: file.mediaType ?? fetched.contentType ?? mediaTypeOf(file),
      ...(file.identifier !== undefined ? { identifier: file.identifier } : {}),
      ...(file.vendorMetadata !== undefined ? { vendorMetadata: file.vendorMetadata } : {})
    },
    true
  )

/** Downloads one file URL as `BinaryContent` (see the module description). */
export const downloadFile = (
  httpClient: HttpClient.HttpClient,
  file: Messages.FileUrl,
  modelName: string
): Effect.Effect<Messages.BinaryContent, DownloadError> =>
  Effect.map(fetchFile(httpClient, file.url, modelName), (f) => toBinary(file, f))

/** How many files a model instance's download cache holds (the least recently used go first). */
export const downloadCacheCapacity = 16

/** How long a cached download is reused (5 minutes): a changed file is fetched again after. */
export const downloadCacheTtl: Duration.Duration = Duration.minutes(5)

/** The largest file kept in the download cache (4 MiB); a larger one is fetched every time. */
export const maxCachedFileBytes = 4 * 1024 * 1024

/**
 * A model instance's downloads, by URL: bounded (`downloadCacheCapacity` files of at most
 * `maxCachedFileBytes`, so at most 64 MiB, each reused for `downloadCacheTtl`), so the model
 * requests of a run (and of later runs on the same model) fetch a `forceDownload` file once.
 * Concurrent requests for one URL share a download; a failed download is not kept.
 */
export interface DownloadCache {
  /** Downloads a file URL as `BinaryContent`, from the cache when it holds the URL. */
  readonly download: (
    file: Messages.FileUrl
  ) => Effect.Effect<Messages.BinaryContent, DownloadError>
}

/** A download cache of one model instance (the `Cache` is made on first use). */
export const makeDownloadCache = (
  httpClient: HttpClient.HttpClient,
  modelName: string
): DownloadCache => {
  let cache: Cache.Cache<string, Fetched, DownloadError> | undefined
  const fetched = (url: string): Effect.Effect<Fetched, DownloadError> =>
    Effect.suspend(() => {
      cache ??= Effect.runSync(
        Cache.make({
          capacity: downloadCacheCapacity,
          timeToLive: downloadCacheTtl,
          lookup: (u: string) => fetchFile(httpClient, u, modelName)
        })
      )
      const c = cache
      return c
        .get(url)
        .pipe(
          Effect.onExit((exit) =>
            Exit.isFailure(exit) ||
            (Exit.isSuccess(exit) && exit.value.bytes.length > maxCachedFileBytes)
              ? c.invalidate(url)
              : Effect.void
          )
        )
    })
  return { download: (file) => Effect.map(fetched(file.url), (f) => toBinary(file, f)) }
}

/** What one pass over a conversation finds (see `scanHistory`). */
export interface HistoryScan {
  /** Some file URL of a user prompt or tool return must be downloaded before the call. */
  readonly download: boolean
  /** The first uploaded file of a provider the model does not take, if any. */
  readonly wrongFile: Messages.UploadedFile | undefined
}

/**
 * One pass over the user prompts and tool returns of a conversation, before each request: is
 * there a file URL to download (`needsDownload`: `forceDownload`, or one the provider cannot
 * fetch), and an uploaded file of a provider the model does not take (`accepts`)?
 */
export const scanHistory = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  needsDownload: (item: unknown) => boolean,
  accepts: (providerName: string) => boolean
): HistoryScan => {
  let download = false
  const visit = (item: unknown): Messages.UploadedFile | undefined => {
    if (item instanceof Messages.UploadedFile) return accepts(item.providerName) ? undefined : item
    if (!download && needsDownload(item)) download = true
    return undefined
  }
  for (const m of messages) {
    if (m._tag !== "ModelRequest") continue
    for (const p of m.parts) {
      const items =
        p._tag === "UserPromptPart"
          ? typeof p.content === "string"
            ? undefined
            : p.content
          : p._tag === "ToolReturnPart"
            ? p.files
            : undefined
      if (items === undefined) continue
      for (const item of items) {
        const wrong = visit(item)
        if (wrong !== undefined) return { download, wrongFile: wrong }
      }
    }
  }
  return { download, wrongFile: undefined }
}

/**
 * Downloads the file URLs of the user prompts and tool returns for which `needsDownload` holds
 * and replaces them with inline `BinaryContent` (a tool-result file keeps the name derived from
 * its URL, so "See file {id}." still matches). Messages without such URLs are returned as is.
 */
export const downloadFileUrls = (
  httpClient: HttpClient.HttpClient,
  messages: ReadonlyArray<Messages.ModelMessage>,
  modelName: string,
  needsDownload: (item: Messages.UserContent) => item is Messages.FileUrl
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, DownloadError> =>
  scanHistory(messages, needsDownload as (item: unknown) => boolean, () => true).download
    ? replaceFileUrls(messages, needsDownload, (file) => downloadFile(httpClient, file, modelName))
    : Effect.succeed(messages)

/**
 * Replaces the file URLs for which `needsDownload` holds by what `download` makes of them (the
 * caller knows from `scanHistory` that there is one; other parts are kept as they are).
 */
export const replaceFileUrls = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  needsDownload: (item: Messages.UserContent) => item is Messages.FileUrl,
  download: (file: Messages.FileUrl) => Effect.Effect<Messages.BinaryContent, DownloadError>
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, DownloadError> => {
  const partNeeds = (p: Messages.ModelRequestPart): boolean =>
    p._tag === "UserPromptPart"
      ? typeof p.content !== "string" && p.content.some(needsDownload)
      : p._tag === "ToolReturnPart" && p.files.some(needsDownload)
  const item = (u: unknown): Effect.Effect<unknown, DownloadError> =>
    Messages.isFileContent(u) && needsDownload(u)
      ? Effect.map(download(u), (b) =>
          b.identifier !== undefined
            ? b
            : new Messages.BinaryContent({ ...b, identifier: Messages.fileIdentifier(u) }, true)
        )
      : Effect.succeed(u)
  const part = (
    p: Messages.ModelRequestPart
  ): Effect.Effect<Messages.ModelRequestPart, DownloadError> => {
    if (!partNeeds(p)) return Effect.succeed(p)
    if (p._tag === "ToolReturnPart") {
      const content: Effect.Effect<unknown, DownloadError> = Array.isArray(p.content)
        ? Effect.forEach(p.content as ReadonlyArray<unknown>, item, { concurrency: 4 })
        : item(p.content)
      return Effect.map(content, (c) => new Messages.ToolReturnPart({ ...p, content: c }, true))
    }
    if (p._tag !== "UserPromptPart" || typeof p.content === "string") return Effect.succeed(p)
    return Effect.map(
      Effect.forEach(
        p.content,
        (item): Effect.Effect<Messages.UserContent, DownloadError> =>
          needsDownload(item) ? download(item) : Effect.succeed(item),
        { concurrency: 4 }
      ),
      (content) => new Messages.UserPromptPart({ content }, true)
    )
  }
  return Effect.forEach(
    messages,
    (m): Effect.Effect<Messages.ModelMessage, DownloadError> =>
      m._tag !== "ModelRequest"
        ? Effect.succeed(m)
        : Effect.map(
            Effect.forEach(m.parts, part),
            (parts) => new Messages.ModelRequest({ ...m, parts }, true)
          )
  )
}
