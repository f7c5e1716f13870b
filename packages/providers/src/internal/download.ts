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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
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

/** Downloads one file URL as `BinaryContent` (see the module description). */
export const downloadFile = (
  httpClient: HttpClient.HttpClient,
  file: Messages.FileUrl,
  modelName: string
): Effect.Effect<Messages.BinaryContent, DownloadError> => {
  const shown = redactUrl(file.url)
  const apiError = (reason: string) =>
    new AgentError.ModelAPIError({ modelName, reason: `Downloading ${shown} failed: ${reason}` })
  return Effect.gen(function* () {
    const response = yield* httpClient.get(file.url)
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
    const mediaType =
      file.mediaType ??
      (header !== undefined && header !== "" && header !== "application/octet-stream"
        ? header
        : mediaTypeOf(file))
    return new Messages.BinaryContent(
      {
        data: bytes,
        mediaType,
        ...(file.identifier !== undefined ? { identifier: file.identifier } : {}),
        ...(file.vendorMetadata !== undefined ? { vendorMetadata: file.vendorMetadata } : {})
      },
      true
    )
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
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, DownloadError> => {
  const partNeeds = (p: Messages.ModelRequestPart): boolean =>
    p._tag === "UserPromptPart"
      ? typeof p.content !== "string" && p.content.some(needsDownload)
      : p._tag === "ToolReturnPart" && p.files.some(needsDownload)
  const any = messages.some((m) => m._tag === "ModelRequest" && m.parts.some(partNeeds))
  if (!any) return Effect.succeed(messages)
  const download = (file: Messages.FileUrl) => downloadFile(httpClient, file, modelName)
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
