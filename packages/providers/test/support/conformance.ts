/**
 * Pieces shared by the per-provider conformance replays of Anthropic and OpenAI Responses
 * (the Chat Completions vendors have their own harness in `chatConformance.ts`): out-of-scope
 * skips, order-insensitive JSON comparison, one exchange through a model as recorded (streamed
 * or not), the check of recorded HTTP errors, and the test registration itself.
 */
import { type AgentError, Messages, type Model, type ModelSettings } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type ConformanceCase,
  type Interaction,
  listCases,
  type ReceivedRequest,
  replayServer
} from "./replay.js"

/**
 * Why a case is skipped: out of scope by id (`skips`: substring → reason) or no call of our
 * endpoint. (Media downloaded before the call is replayed: see `withDownloads`.)
 */
export const skipReasonOf =
  (
    skips: ReadonlyArray<readonly [string, string]>,
    isOurs: (it: Interaction) => boolean,
    apiName: string
  ) =>
  (c: ConformanceCase): string | undefined => {
    for (const [pattern, reason] of skips) if (c.id.includes(pattern)) return reason
    if (!c.interactions.some(isOurs)) return `no ${apiName} call`
    return undefined
  }

/**
 * For a case that downloaded media first: the inline files that came from a download (matched
 * by their bytes) are put back as URLs of the replay server, with `forceDownload` when the model
 * must be told to download them (`force`), so the model fetches them from the recorded download.
 */
export const withDownloads = (
  c: ConformanceCase,
  baseUrl: string,
  messages: ReadonlyArray<Messages.ModelMessage>,
  force: boolean
): ReadonlyArray<Messages.ModelMessage> => {
  const downloads = c.interactions.filter((i) => i.endpoint === "download")
  if (downloads.length === 0) return messages
  const asUrl = (item: unknown): unknown => {
    if (!(item instanceof Messages.BinaryContent)) return item
    const b64 = item.base64
    const d = downloads.find((i) => i.response.base64 === b64)
    if (d === undefined) return item
    const fields = {
      url: `${baseUrl}${d.request.path}`,
      ...(item.identifier !== undefined ? { identifier: item.identifier } : {}),
      ...(item.vendorMetadata !== undefined ? { vendorMetadata: item.vendorMetadata } : {}),
      ...(force ? { forceDownload: true } : {})
    }
    return item.isImage
      ? new Messages.ImageUrl(fields)
      : item.isVideo
        ? new Messages.VideoUrl(fields)
        : item.isAudio
          ? new Messages.AudioUrl(fields)
          : new Messages.DocumentUrl(fields)
  }
  return messages.map((m) =>
    m._tag === "ModelResponse"
      ? m
      : new Messages.ModelRequest({
          ...m,
          parts: m.parts.map((p) =>
            p._tag === "UserPromptPart" && typeof p.content !== "string"
              ? new Messages.UserPromptPart({
                  ...p,
                  content: p.content.map((x) => asUrl(x) as Messages.UserContent)
                })
              : p._tag === "ToolReturnPart"
                ? new Messages.ToolReturnPart({
                    ...p,
                    content: Array.isArray(p.content) ? p.content.map(asUrl) : asUrl(p.content)
                  })
                : p
          )
        })
  )
}

/** JSON with sorted keys, for order-insensitive comparison of objects. */
export const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x !== null && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x
  )

/** One request through the model, streamed (events drained) when the recording streamed. */
export const exchange = (
  model: Model.Service,
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  stream: boolean
): Effect.Effect<Exit.Exit<Messages.ModelResponse, AgentError.ModelError>, never, Scope.Scope> =>
  stream
    ? Effect.exit(
        Effect.gen(function* () {
          const s = yield* model.requestStream(messages, settings, parameters)
          yield* Stream.runDrain(s.events)
          return yield* s.response
        })
      )
    : Effect.exit(model.request(messages, settings, parameters))

/**
 * For a recorded error status: asserts the exchange failed with a `ModelHTTPError` carrying the
 * recorded status and body, and returns `true`. Returns `false` for a recorded success.
 */
export const checkRecordedError = (
  caseId: string,
  exit: Exit.Exit<Messages.ModelResponse, AgentError.ModelError>,
  response: Interaction["response"]
): boolean => {
  if (response.status < 400) return false
  assert.isTrue(Exit.isFailure(exit), `${caseId}: expected a failure`)
  if (Exit.isFailure(exit)) {
    const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    assert.strictEqual(error?._tag, "ModelHTTPError")
    if (error?._tag === "ModelHTTPError") {
      assert.strictEqual(error.status, response.status)
      assert.deepStrictEqual(error.body, response.json ?? response.text)
    }
  }
  return true
}

/** The response of a successful exchange (fails the test with the cause otherwise). */
export const successOf = (
  caseId: string,
  exit: Exit.Exit<Messages.ModelResponse, AgentError.ModelError>
): Messages.ModelResponse => {
  if (Exit.isFailure(exit)) assert.fail(`${caseId}: ${String(exit.cause)}`)
  return (exit as Exit.Success<Messages.ModelResponse, never>).value
}

/**
 * The request the server received for a recorded interaction: same path, and `key` of its body
 * equal (as canonical JSON) to `key` of the recorded body. Fails the test when there is none.
 */
export const sentFor = (
  caseId: string,
  received: ReadonlyArray<ReceivedRequest>,
  it: Interaction,
  key: (body: Record<string, any>) => unknown
): ReceivedRequest => {
  const recorded = canonical(key(it.request.body as Record<string, any>))
  const sent = received.find(
    (r) => r.path === it.request.path && canonical(key(r.body as Record<string, any>)) === recorded
  )
  assert.isDefined(sent, `${caseId}: the replayed request body differs from the recording`)
  return sent!
}

/** What a recorded request body is turned into for the model. */
export interface Inputs {
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly parameters: Model.ModelRequestParameters
  readonly settings: ModelSettings.ModelSettings
}

/**
 * Replays a case from the replay server (re-chunked with `rechunkSeed`): each of our
 * interactions goes through a fresh model (`model`) as recorded, streamed or not. A recorded
 * error status must come back as that `ModelHTTPError`; otherwise `check` gets the decoded
 * response with the interaction, its recorded body, the inputs and the requests received.
 */
export const replayInteractions = <I extends Inputs>(
  c: ConformanceCase,
  rechunkSeed: number | undefined,
  options: {
    readonly isOurs: (it: Interaction) => boolean
    readonly fromWire: (body: Record<string, any>) => I
    readonly model: (
      baseUrl: string,
      path: string,
      body: Record<string, any>,
      inputs: I
    ) => Effect.Effect<Model.Service, never, HttpClient.HttpClient>
    readonly check: (
      response: Messages.ModelResponse,
      it: Interaction,
      body: Record<string, any>,
      inputs: I,
      received: ReadonlyArray<ReceivedRequest>
    ) => void
  }
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = yield* replayServer(c, rechunkSeed === undefined ? {} : { rechunkSeed })
    for (const it of c.interactions.filter(options.isOurs)) {
      const body = it.request.body as Record<string, any>
      const decoded = options.fromWire(body)
      // Files pydantic-ai downloaded (force_download) are downloaded by the model from the server.
      const inputs = {
        ...decoded,
        messages: withDownloads(c, server.baseUrl, decoded.messages, true)
      }
      const model = yield* options.model(server.baseUrl, it.request.path, body, inputs)
      const exit = yield* exchange(
        model,
        inputs.messages,
        inputs.settings,
        inputs.parameters,
        body.stream === true
      )
      if (checkRecordedError(c.id, exit, it.response)) continue
      options.check(successOf(c.id, exit), it, body, inputs, server.received)
    }
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

/**
 * Registers the conformance tests of a provider: the cases are found; per case, skipped with
 * its reason, or checked for request fidelity (pure encoding), replayed, and (streams)
 * replayed again re-chunked with `rechunkSeed`.
 */
export const describeCases = (options: {
  readonly title: string
  readonly provider: string
  /** The folder holds at least this many cases (guards against a missing data directory). */
  readonly minCases?: number
  /** Which of the folder's cases are registered (default all). */
  readonly include?: (c: ConformanceCase) => boolean
  readonly skipReason: (c: ConformanceCase) => string | undefined
  readonly fidelity: (c: ConformanceCase) => void
  readonly replay: (
    c: ConformanceCase,
    rechunkSeed?: number
  ) => Effect.Effect<void, unknown, Scope.Scope>
  readonly rechunkSeed: number
}): void => {
  describe(options.title, () => {
    const all = listCases(options.provider)
    const cases = options.include === undefined ? all : all.filter(options.include)
    it("finds the recorded cases", () => {
      assert.isAtLeast(all.length, options.minCases ?? 50)
    })
    for (const c of cases) {
      const reason = options.skipReason(c)
      if (reason !== undefined) {
        // Out of scope (reason in the title): see the provider's SKIPS.
        it.skip(`${c.id} (skipped: ${reason})`, () => {})
        continue
      }
      it(`request fidelity: ${c.id}`, () => options.fidelity(c))
      it.scopedLive(`replay: ${c.id}`, () => options.replay(c))
      if (c.stream)
        it.scopedLive(`replay re-chunked: ${c.id}`, () => options.replay(c, options.rechunkSeed))
    }
  })
}
