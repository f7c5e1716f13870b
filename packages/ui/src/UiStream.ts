/**
 * Agent runs streamed to user interfaces, in the protocols UI libraries read:
 *
 * - the **AI SDK UI message stream** (`aiSdk*`): the SSE stream `useChat` of `ai` 6 /
 *   `@ai-sdk/react` reads (`start`, `start-step`, `text-*`, `reasoning-*`, `tool-input-*`,
 *   `tool-output-*`, `finish-step`, `finish`, `error`, data parts, `[DONE]`), and the reverse:
 *   the UI messages `useChat` posts, as agentfx message history;
 * - **AG-UI** (`agUi*`): the events of `@ag-ui/core` 1.0 (`RUN_STARTED`, `TEXT_MESSAGE_*`,
 *   `REASONING_*`, `TOOL_CALL_*`, `STATE_*`, `RUN_FINISHED` / `RUN_ERROR`) as SSE, and the
 *   reverse for `RunAgentInput.messages`.
 *
 * Both encode `agent.runStream(...)` per network chunk (one write per chunk, not per event). A
 * failed run ends the stream with an error event (`error` / `RUN_ERROR`) — it never hangs — and
 * `onFinish` receives the messages the error carries, so nothing is lost.
 *
 * @example
 * ```ts
 * import { UiStream } from "@agentfx/ui"
 * import * as HttpRouter from "@effect/platform/HttpRouter"
 *
 * const router = HttpRouter.empty.pipe(
 *   HttpRouter.post(
 *     "/api/chat",
 *     UiStream.aiSdkHandler((chat) => agent.runStream(undefined, { messageHistory: chat.messages }))
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type DeferredTools, Messages } from "@agentfx/core"
import { Agent } from "@agentfx/core"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as AgUi from "./internal/agUi.js"
import { decodeAgUiMessages, decodeAgUiResume } from "./internal/agUiDecode.js"
import * as AiSdk from "./internal/aiSdk.js"
import { type DecodeIssue, decodeUiConversation, decodeUiMessages } from "./internal/aiSdkDecode.js"
import {
  defaultErrorText,
  encoder,
  failureOf,
  messagesOf,
  ObjectSink,
  type Outcome,
  type RunEvent,
  type Sink,
  SseSink
} from "./internal/common.js"

export type {
  /** How a streamed run ended, as `onFinish` sees it: the result, or the error and its messages. */
  Outcome
} from "./internal/common.js"

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** A request body or UI message list that does not decode; `path` says where. */
export class UiMessageError extends Schema.TaggedError<UiMessageError>()("UiMessageError", {
  reason: Schema.String,
  path: Schema.String
}) {
  override get message(): string {
    return `Invalid UI messages at ${this.path}: ${this.reason}`
  }
}

const toError = (issue: DecodeIssue) =>
  new UiMessageError({ reason: issue.message, path: issue.path })

// ---------------------------------------------------------------------------
// The shared pipeline
// ---------------------------------------------------------------------------

/**
 * How a request's history is decoded (`fromUiMessages`, `decodeAiSdkRequest`,
 * `fromAgUiMessages`, `decodeAgUiInput` and the handlers' third argument).
 */
export interface DecodeOptions {
  /**
   * The history comes from the client, so by default it goes through `Messages.sanitize`: no
   * client system prompts or instructions, files by `https` URL only, no force-download, no
   * uploaded-file references. Give `Messages.SanitizeOptions` to keep more, or `"trusted"` to
   * keep everything (a client you control).
   */
  readonly history?: Messages.SanitizeOptions | "trusted"
}

/** The decoded history as `options` says (sanitized unless trusted). */
const historyOf = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  options: DecodeOptions
): ReadonlyArray<Messages.ModelMessage> =>
  options.history === "trusted" ? messages : Messages.sanitize(messages, options.history)

/** Options every encoder takes. */
export interface CommonOptions<A> {
  /**
   * The text of the error event of a failed run. Default: a typed error's `_tag` and message
   * (agentfx errors carry no secrets), "An error occurred." for a defect.
   */
  readonly errorText?: (cause: Cause.Cause<unknown>) => string
  /**
   * Runs after the last event, before the stream closes: the result, or the error with the
   * messages it carries — persist the conversation here. Not run when the client disconnects
   * (the run is interrupted).
   */
  readonly onFinish?: (outcome: Outcome<A>) => Effect.Effect<void>
  /**
   * The deferred tool results this run resumes with (the handlers set it from the request):
   * the client shows those calls already, so they get their outputs only, not a second
   * tool part.
   */
  readonly resuming?: DeferredTools.DeferredToolResults | undefined
}

interface Encoding<A, O> {
  encode(event: RunEvent<A>, out: Sink<O>): void
  /** After a chunk's events (coalesced output, e.g. a sub-agent's message so far). */
  flush?(out: Sink<O>): void
  fail(errorText: string, error: unknown, out: Sink<O>): void
}

/** Where the encoded values go, and how one network chunk's worth is emitted. */
interface Output<O, T> {
  readonly sink: Sink<O>
  flush(): Chunk.Chunk<T>
}

const objects = <O>(): Output<O, O> => {
  const sink = new ObjectSink<O>()
  return {
    sink,
    flush: () => {
      const out = sink.take()
      return out.length === 0 ? Chunk.empty() : Chunk.unsafeFromArray(out)
    }
  }
}

/** SSE framing: one `data:` line per value, one byte buffer per network chunk. */
const sse = <O>(): Output<O, Uint8Array> => {
  const sink = new SseSink<O>()
  return {
    sink,
    flush: () => {
      const bytes = sink.take()
      return bytes.length === 0 ? Chunk.empty() : Chunk.of(bytes)
    }
  }
}

const pipeline = <A, E, R, O, T>(
  events: Stream.Stream<RunEvent<A>, E, R>,
  make: () => Encoding<A, O>,
  output: () => Output<O, T>,
  options: CommonOptions<A>,
  end: Chunk.Chunk<T>
): Stream.Stream<T, never, R> =>
  Stream.suspend(() => {
    const enc = make()
    const out = output()
    let outcome: Outcome<A> | undefined
    // Encoded where the run emits each chunk when `events` is a run's own stream (no stage of
    // its own: `Agent.mapRunStreamChunks`), else by a `Stream.mapChunks` stage.
    const body = Agent.mapRunStreamChunks(events, (chunk) => {
      for (const e of chunk) {
        enc.encode(e, out.sink)
        if (e._tag === "AgentRunResultEvent") {
          outcome = { _tag: "Success", result: e.result, messages: e.result.allMessages() }
        }
      }
      enc.flush?.(out.sink)
      return out.flush()
    })
    const failed = (cause: Cause.Cause<unknown>) => {
      const error = failureOf(cause)
      const errorText = (options.errorText ?? defaultErrorText)(cause)
      outcome = { _tag: "Failure", error, errorText, messages: messagesOf(error) }
      enc.fail(errorText, error, out.sink)
      return Stream.fromChunk(out.flush())
    }
    // Events that end without the run's result (a stream cut short by `Stream.take`,
    // `interruptWhen`, a timeout…) are an interrupted run: its open parts are closed and the
    // error event sent, so the client does not keep a part streaming, and `onFinish` runs.
    const cut = Stream.suspend(() =>
      outcome === undefined ? failed(Cause.interrupt(FiberId.none)) : Stream.empty
    )
    const finish = Stream.suspend(() =>
      options.onFinish !== undefined && outcome !== undefined
        ? Stream.drain(Stream.fromEffect(options.onFinish(outcome)))
        : Stream.empty
    )
    const all = Stream.concat(Stream.concat(Stream.catchAllCause(body, failed), cut), finish)
    return Chunk.isEmpty(end) ? all : Stream.concat(all, Stream.fromChunk(end))
  })

/**
 * The event callback a run driven with `RunOptions.onEvent` is given (`run + onEvent` is the
 * cheapest way to consume a run's events: no `Stream` step per event).
 */
export type OnEvent = (event: Agent.AgentStreamEvent<unknown>) => void

/**
 * A run driven by its events: give `onEvent` to `agent.run`, e.g.
 * `(onEvent) => agent.run(prompt, { messageHistory, onEvent })`.
 */
export type EventRun<A, E, R> = (onEvent: OnEvent) => Effect.Effect<Agent.AgentRunResult<A>, E, R>

/**
 * The SSE body of a run driven with `onEvent` (the fast path; `pipeline` reads `runStream`):
 * each event is encoded straight into the byte sink as the run emits it, and the body's pull
 * takes everything written since the last pull as one buffer, waiting when there is none. The
 * run is a fiber of the body's scope (a client that goes away interrupts it); its end —
 * result or failure — writes `finish` / the error event, then `onFinish` runs, then `end`.
 * The encoders write the same bytes for the same events as on the `runStream` path; only the
 * buffers' boundaries (and so the coalesced sub-agent updates) follow the reader's pace. The
 * run is not slowed by a slow reader: what it writes meanwhile waits in the sink.
 */
const pushPipeline = <A, E, R, O>(
  run: EventRun<A, E, R>,
  make: () => Encoding<A, O>,
  options: CommonOptions<A>,
  end: Chunk.Chunk<Uint8Array>
): Stream.Stream<Uint8Array, never, R> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const enc = make()
      const sink = new SseSink<O>()
      let outcome: Outcome<A> | undefined
      let pending = false
      let finished = false
      let wake: (() => void) | undefined
      const signal = () => {
        pending = true
        if (wake !== undefined) {
          const w = wake
          wake = undefined
          w()
        }
      }
      const onEvent: OnEvent = (e) => {
        const event = e as RunEvent<A>
        enc.encode(event, sink)
        if (event._tag === "AgentRunResultEvent") {
          outcome = { _tag: "Success", result: event.result, messages: event.result.allMessages() }
        }
        signal()
      }
      yield* Effect.forkScoped(
        Effect.suspend(() => run(onEvent)).pipe(
          Effect.matchCause({
            onSuccess: (result) => {
              // a run that returned without its last event still gets its `finish`
              if (outcome === undefined) onEvent(new Agent.AgentRunResultEvent(result))
            },
            onFailure: (cause) => {
              const error = failureOf(cause)
              const errorText = (options.errorText ?? defaultErrorText)(cause)
              outcome = { _tag: "Failure", error, errorText, messages: messagesOf(error) }
              enc.fail(errorText, error, sink)
            }
          }),
          Effect.ensuring(
            Effect.sync(() => {
              finished = true
              signal()
            })
          )
        )
      )
      const waitForEvents = Effect.async<void>((resume) => {
        // Events (or the end) may have come since `pull` looked: the reader's fiber can yield
        // between its check and this registration, and the run's fiber signal meanwhile.
        if (pending || finished) return resume(Effect.void)
        wake = () => resume(Effect.void)
        return Effect.sync(() => {
          wake = undefined
        })
      })
      const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> = Effect.suspend(
        () => {
          if (pending) {
            pending = false
            enc.flush?.(sink)
            const bytes = sink.take()
            if (bytes.length > 0) return Effect.succeed(Chunk.of(bytes))
          }
          return finished ? Effect.fail(Option.none()) : Effect.zipRight(waitForEvents, pull)
        }
      )
      const finish = Stream.suspend(() =>
        options.onFinish !== undefined && outcome !== undefined
          ? Stream.drain(Stream.fromEffect(options.onFinish(outcome)))
          : Stream.empty
      )
      const all = Stream.concat(Stream.repeatEffectChunkOption(pull), finish)
      return Chunk.isEmpty(end) ? all : Stream.concat(all, Stream.fromChunk(end))
    })
  )

const streamResponse = <R>(
  body: Stream.Stream<Uint8Array, never, R>,
  headers: Readonly<Record<string, string>>
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  Effect.map(Effect.context<R>(), (context) =>
    HttpServerResponse.stream(Stream.provideContext(body, context), {
      contentType: "text/event-stream",
      headers
    })
  )

const badRequest = (e: { readonly message: string }) =>
  HttpServerResponse.text(e.message, { status: 400 })

/** A handler: the JSON body decoded (400 saying why when it does not), then `respond`. */
const handler = <I, R>(
  decode: (body: unknown) => Effect.Effect<I, UiMessageError>,
  respond: (input: I) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest
> =>
  HttpServerRequest.HttpServerRequest.pipe(
    Effect.flatMap((request) => request.json),
    Effect.flatMap(decode),
    Effect.matchEffect({ onFailure: (e) => Effect.succeed(badRequest(e)), onSuccess: respond })
  )

// ---------------------------------------------------------------------------
// AI SDK UI message stream
// ---------------------------------------------------------------------------

/**
 * A UI message chunk of the AI SDK stream protocol (`ai`'s `UIMessageChunk`): `type` plus the
 * fields of that type, e.g. `{ type: "text-delta", id, delta }`.
 */
export type AiSdkChunk = AiSdk.Chunk

/** A data part chunk (`data-<name>`), rendered by the client as a custom part. */
export const dataPart = (
  name: string,
  data: unknown,
  options?: { readonly id?: string; readonly transient?: boolean }
): AiSdkChunk => ({
  type: `data-${name}`,
  ...(options?.id !== undefined ? { id: options.id } : {}),
  data,
  ...(options?.transient === true ? { transient: true } : {})
})

/** Options of the AI SDK encoder. */
export interface AiSdkOptions<A> extends CommonOptions<A> {
  /** The id of the assistant message (`start.messageId`); default: the client picks one. */
  readonly messageId?: string
  /** Send reasoning parts (default `true`), a sub-agent's included. */
  readonly sendReasoning?: boolean
  /** Metadata of the message, sent with `finish` (usage, run id…). */
  readonly messageMetadata?: (result: Agent.AgentRunResult<A>) => unknown
  /**
   * Extra chunks (usually `dataPart`s) emitted after an event's own chunks; those of the run's
   * result (`AgentRunResultEvent`) come before `finish`, which ends the message.
   */
  readonly dataParts?: (event: Agent.AgentStreamEvent<A>) => ReadonlyArray<AiSdkChunk> | undefined
  /**
   * Show sub-agents (`Agent.asTool`, handoffs) while they run (default `true`): the parent's
   * tool part gets the sub-agent's message so far (`{ id, role: "assistant", parts,
   * metadata: { agentName } }`) as a preliminary output, once per network chunk; the tool's
   * result replaces it.
   */
  readonly subAgents?: boolean
}

const aiSdkEncoding =
  <A>(options: AiSdkOptions<A>) =>
  (): Encoding<A, AiSdkChunk> => {
    const enc = new AiSdk.Encoder<A>(options)
    return {
      encode: (e, out) => enc.encode(e, out),
      flush: (out) => enc.flush(out),
      fail: (text, _error, out) => enc.fail(text, out)
    }
  }

/** The headers of an AI SDK UI message stream response (`x-vercel-ai-ui-message-stream: v1`). */
export const aiSdkHeaders: Readonly<Record<string, string>> = {
  "cache-control": "no-cache",
  connection: "keep-alive",
  "x-vercel-ai-ui-message-stream": "v1",
  "x-accel-buffering": "no"
}

/** A run's events as AI SDK UI message chunks (objects). Never fails: errors become `error`. */
export const aiSdkChunks = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AiSdkOptions<A> = {}
): Stream.Stream<AiSdkChunk, never, R> =>
  pipeline(events, aiSdkEncoding(options), objects<AiSdkChunk>, options, Chunk.empty())

/**
 * A run's events as the AI SDK UI message stream body: SSE `data:` lines, one buffer per
 * network chunk, `data: [DONE]` last.
 */
export const aiSdk = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AiSdkOptions<A> = {}
): Stream.Stream<Uint8Array, never, R> =>
  pipeline(events, aiSdkEncoding(options), sse, options, Chunk.of(encoder.encode(done)))

const done = "data: [DONE]\n\n"

/** Frames UI message chunks of your own (say, merged with data parts) as the SSE body. */
export const toSse = <E, R>(
  chunks: Stream.Stream<AiSdkChunk, E, R>
): Stream.Stream<Uint8Array, E, R> =>
  Stream.suspend(() => {
    const out = sse<AiSdkChunk>()
    return Stream.concat(
      Stream.mapChunks(chunks, (c) => {
        for (const value of c) out.sink.push(value)
        return out.flush()
      }),
      Stream.make(encoder.encode(done))
    )
  })

/** `aiSdk` as an `HttpServerResponse` (SSE with the protocol headers). */
export const aiSdkResponse = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AiSdkOptions<A> = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  streamResponse(aiSdk(events, options), aiSdkHeaders)

/**
 * The AI SDK UI message stream body (the bytes `aiSdk` writes for the same events) of a run
 * driven with `onEvent` — the fast path: `UiStream.aiSdkRun((onEvent) => agent.run(prompt,
 * { onEvent }))`. The run is a fiber of the body: a client that goes away interrupts it.
 */
export const aiSdkRun = <A, E, R>(
  run: EventRun<A, E, R>,
  options: AiSdkOptions<A> = {}
): Stream.Stream<Uint8Array, never, R> =>
  pushPipeline(run, aiSdkEncoding(options), options, Chunk.of(encoder.encode(done)))

/** `aiSdkRun` as an `HttpServerResponse` (SSE with the protocol headers). */
export const aiSdkRunResponse = <A, E, R>(
  run: EventRun<A, E, R>,
  options: AiSdkOptions<A> = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  streamResponse(aiSdkRun(run, options), aiSdkHeaders)

/** A `useChat` request: the chat id and the conversation as agentfx history. */
export interface AiSdkRequest {
  /** The chat id `useChat` sends. */
  readonly id: string | undefined
  /** The UI messages as history (the new user message is the last request). */
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  /**
   * The client's answers to the calls a stopped run waits for (tool approval responses,
   * `addToolOutput` for the calls of a `data-deferred-tool-requests` part) — pass them with
   * the history to resume the run: `agent.runStream(undefined, { messageHistory: chat.messages,
   * deferredToolResults: chat.deferredToolResults })`. `undefined` when the request answers
   * nothing.
   */
  readonly deferredToolResults: DeferredTools.DeferredToolResults | undefined
  /** `submit-message` or `regenerate-message`. */
  readonly trigger: string | undefined
  /** The whole JSON body (for fields the client adds with `body`). */
  readonly body: Readonly<Record<string, unknown>>
}

/** UI messages (`UIMessage[]` of `ai` 6) as agentfx message history (sanitized unless trusted). */
export const fromUiMessages = (
  messages: unknown,
  options: DecodeOptions = {}
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, UiMessageError> =>
  Either.match(decodeUiMessages(messages), {
    onLeft: (issue) => Effect.fail(toError(issue)),
    onRight: (history) => Effect.succeed(historyOf(history, options))
  })

/** Decodes the JSON body `useChat` posts (`{ id, messages, trigger, … }`). */
export const decodeAiSdkRequest = (
  body: unknown,
  options: DecodeOptions = {}
): Effect.Effect<AiSdkRequest, UiMessageError> =>
  Effect.suspend(() => {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return Effect.fail(new UiMessageError({ reason: "expected a JSON object", path: "body" }))
    }
    const b = body as Record<string, unknown>
    return Either.match(decodeUiConversation(b.messages), {
      onLeft: (issue) => Effect.fail(toError(issue)),
      onRight: (conversation) =>
        Effect.succeed({
          id: typeof b.id === "string" ? b.id : undefined,
          messages: historyOf(conversation.messages, options),
          deferredToolResults: conversation.deferredToolResults,
          trigger: typeof b.trigger === "string" ? b.trigger : undefined,
          body: b
        })
    })
  })

/** A handler's encoder options for one request: its deferred-tool answers, then the caller's. */
const aiSdkOptionsOf = <A>(
  chat: AiSdkRequest,
  options: AiSdkOptions<A> | ((request: AiSdkRequest) => AiSdkOptions<A>)
): AiSdkOptions<A> => ({
  resuming: chat.deferredToolResults,
  ...(typeof options === "function" ? options(chat) : options)
})

/** A handler's AG-UI options for one input: its answers, the caller's options, its ids. */
const agUiOptionsOf = <A>(
  input: AgUiInput,
  options: Omit<AgUiOptions<A>, "threadId" | "runId">
): AgUiOptions<A> => ({
  resuming: input.deferredToolResults,
  ...options,
  threadId: input.threadId,
  runId: input.runId
})

/**
 * An HTTP handler in one line: reads the `useChat` request, runs `handle` on it and streams
 * the answer; a body that does not decode gets a 400 saying why. A run that stops on deferred
 * tool calls sends `tool-approval-request` chunks (answer with `addToolApprovalResponse`) and a
 * `data-deferred-tool-requests` part; the next request carries the answers in
 * `deferredToolResults`.
 */
export const aiSdkHandler = <A, E, R>(
  handle: (request: AiSdkRequest) => Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AiSdkOptions<A> | ((request: AiSdkRequest) => AiSdkOptions<A>) = {},
  decode: DecodeOptions = {}
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest
> =>
  handler(
    (body) => decodeAiSdkRequest(body, decode),
    (chat) => aiSdkResponse(handle(chat), aiSdkOptionsOf(chat, options))
  )

/**
 * `aiSdkHandler` on the fast path: `handle` gets the request and the `onEvent` to give the run,
 * e.g. `UiStream.aiSdkRunHandler((chat, onEvent) => agent.run(undefined,
 * { ...UiStream.runOptions(chat), onEvent }))`. Same chunks, errors, approvals and `onFinish`.
 */
export const aiSdkRunHandler = <A, E, R>(
  handle: (request: AiSdkRequest, onEvent: OnEvent) => Effect.Effect<Agent.AgentRunResult<A>, E, R>,
  options: AiSdkOptions<A> | ((request: AiSdkRequest) => AiSdkOptions<A>) = {},
  decode: DecodeOptions = {}
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest
> =>
  handler(
    (body) => decodeAiSdkRequest(body, decode),
    (chat) => aiSdkRunResponse((onEvent) => handle(chat, onEvent), aiSdkOptionsOf(chat, options))
  )

/**
 * The run options of a decoded request (`AiSdkRequest` or `AgUiInput`): its history and, when
 * it answers a run stopped on deferred tool calls, the answers — so a handler that resumes is
 * still one line: `agent.runStream(undefined, UiStream.runOptions(chat))`.
 */
export const runOptions = (request: {
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly deferredToolResults: DeferredTools.DeferredToolResults | undefined
}): {
  readonly messageHistory: ReadonlyArray<Messages.ModelMessage>
  readonly deferredToolResults?: DeferredTools.DeferredToolResults
} =>
  request.deferredToolResults === undefined
    ? { messageHistory: request.messages }
    : { messageHistory: request.messages, deferredToolResults: request.deferredToolResults }

// ---------------------------------------------------------------------------
// AG-UI
// ---------------------------------------------------------------------------

/** An AG-UI event (`@ag-ui/core` 1.0): `type` plus the fields of that type. */
export type AgUiEvent = AgUi.Event

/** Options of the AG-UI encoder. */
export interface AgUiOptions<A> extends CommonOptions<A> {
  /** `RUN_STARTED.threadId` (default: the run id). */
  readonly threadId?: string
  /** `RUN_STARTED.runId` (default: a random UUID). */
  readonly runId?: string
  /** Sent as `STATE_SNAPSHOT` right after `RUN_STARTED`. */
  readonly initialState?: unknown
  /** `STATE_SNAPSHOT` / `STATE_DELTA` events (see `stateSnapshot`, `stateDelta`) to send after an event. */
  readonly stateEvents?: (event: Agent.AgentStreamEvent<A>) => ReadonlyArray<AgUiEvent> | undefined
  /** `RUN_FINISHED.result` (default: the run's output). */
  readonly result?: (result: Agent.AgentRunResult<A>) => unknown
  /**
   * Show sub-agents (`Agent.asTool`, handoffs) while they run (default `true`): `SUBAGENT_STARTED`
   * (name, `parentToolCallId`), the sub-agent's own events carrying its `subagentRunId`, then
   * `SUBAGENT_FINISHED` (its output as `result`) or `SUBAGENT_ERROR`.
   */
  readonly subAgents?: boolean
  /**
   * `usage` on `RUN_FINISHED` / `RUN_ERROR` (default `true`): AG-UI `TokenUsage` entries, one per
   * provider and model, of the responses of the run and of its sub-agents (a failed run's: the
   * responses before the failure, but none of a sub-agent that had not finished — the run's
   * events carry no usage before a run's result). Counts a provider did not report are left out,
   * and so is `usage` when none were.
   */
  readonly usage?: boolean
}

/**
 * The `activityType` of the `ACTIVITY_SNAPSHOT` event a generated file (`Messages.FilePart`)
 * becomes in AG-UI (its assistant messages hold text only): `content` is `{ url, mediaType }`
 * with a `data:` URL, plus `id` / `providerName` when the provider gave them.
 */
export const agUiFileActivityType: string = AgUi.fileActivityType

/** A `STATE_SNAPSHOT` event: the whole shared state. */
export const stateSnapshot = (snapshot: unknown): AgUiEvent => ({
  type: "STATE_SNAPSHOT",
  snapshot
})

/** A JSON Patch operation (RFC 6902), as `STATE_DELTA` carries them. */
export type JsonPatchOperation =
  | { readonly op: "add" | "replace" | "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string }
  | { readonly op: "move" | "copy"; readonly path: string; readonly from: string }

/** A `STATE_DELTA` event: JSON Patch operations on the shared state. */
export const stateDelta = (delta: ReadonlyArray<JsonPatchOperation>): AgUiEvent => ({
  type: "STATE_DELTA",
  delta
})

const agUiEncoding =
  <A>(options: AgUiOptions<A>) =>
  (): Encoding<A, AgUiEvent> => {
    const runId = options.runId ?? crypto.randomUUID()
    const enc = new AgUi.Encoder<A>({
      threadId: options.threadId ?? runId,
      runId,
      initialState: options.initialState,
      stateEvents: options.stateEvents,
      result: options.result,
      resuming: options.resuming,
      subAgents: options.subAgents,
      usage: options.usage
    })
    return {
      encode: (e, out) => enc.encode(e, out),
      fail: (text, error, out) => {
        const tag = (error as { _tag?: unknown } | undefined)?._tag
        enc.fail(text, typeof tag === "string" ? tag : undefined, out, messagesOf(error))
      }
    }
  }

/** A run's events as AG-UI events (objects). Never fails: errors become `RUN_ERROR`. */
export const agUiEvents = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AgUiOptions<A> = {}
): Stream.Stream<AgUiEvent, never, R> =>
  pipeline(events, agUiEncoding(options), objects<AgUiEvent>, options, Chunk.empty())

/** A run's events as the AG-UI SSE body (`data: {event}` lines, one buffer per network chunk). */
export const agUi = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AgUiOptions<A> = {}
): Stream.Stream<Uint8Array, never, R> =>
  pipeline(events, agUiEncoding(options), sse, options, Chunk.empty())

const agUiHeaders = { "cache-control": "no-cache", connection: "keep-alive" }

/** `agUi` as an `HttpServerResponse` (`text/event-stream`). */
export const agUiResponse = <A, E, R>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: AgUiOptions<A> = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  streamResponse(agUi(events, options), agUiHeaders)

/** The AG-UI SSE body (the bytes `agUi` writes for the same events) of a run driven with `onEvent`. */
export const agUiRun = <A, E, R>(
  run: EventRun<A, E, R>,
  options: AgUiOptions<A> = {}
): Stream.Stream<Uint8Array, never, R> =>
  pushPipeline(run, agUiEncoding(options), options, Chunk.empty())

/** `agUiRun` as an `HttpServerResponse` (`text/event-stream`). */
export const agUiRunResponse = <A, E, R>(
  run: EventRun<A, E, R>,
  options: AgUiOptions<A> = {}
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, R> =>
  streamResponse(agUiRun(run, options), agUiHeaders)

/** AG-UI messages (`RunAgentInput.messages`) as agentfx message history (sanitized unless trusted). */
export const fromAgUiMessages = (
  messages: unknown,
  options: DecodeOptions = {}
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, UiMessageError> =>
  Either.match(decodeAgUiMessages(messages), {
    onLeft: (issue) => Effect.fail(toError(issue)),
    onRight: (history) => Effect.succeed(historyOf(history, options))
  })

/** An AG-UI `RunAgentInput`, with its messages as agentfx history. */
export interface AgUiInput {
  readonly threadId: string
  readonly runId: string
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly state: unknown
  /**
   * `RunAgentInput.resume` as deferred tool results: the answers to the interrupts of a run
   * stopped on deferred calls (`undefined` when none). Resume with
   * `agent.runStream(undefined, { messageHistory: input.messages, deferredToolResults })`.
   */
  readonly deferredToolResults: DeferredTools.DeferredToolResults | undefined
  /** The whole JSON body (`tools`, `context`, `forwardedProps`…). */
  readonly body: Readonly<Record<string, unknown>>
}

/** Decodes an AG-UI `RunAgentInput` body. */
export const decodeAgUiInput = (
  body: unknown,
  options: DecodeOptions = {}
): Effect.Effect<AgUiInput, UiMessageError> =>
  Effect.suspend(() => {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return Effect.fail(new UiMessageError({ reason: "expected a JSON object", path: "body" }))
    }
    const b = body as Record<string, unknown>
    if (typeof b.threadId !== "string" || typeof b.runId !== "string") {
      return Effect.fail(
        new UiMessageError({ reason: "threadId and runId must be strings", path: "body" })
      )
    }
    const ids = { threadId: b.threadId, runId: b.runId }
    const resume = decodeAgUiResume(b.resume)
    if (Either.isLeft(resume)) return Effect.fail(toError(resume.left))
    return Effect.map(fromAgUiMessages(b.messages ?? [], options), (messages) => ({
      ...ids,
      messages,
      deferredToolResults: resume.right,
      state: b.state,
      body: b
    }))
  })

/**
 * An HTTP handler in one line: reads the `RunAgentInput`, runs `handle` on it and streams AG-UI
 * events (with the input's thread and run ids); a bad body gets a 400 saying why. A run that
 * stops on deferred tool calls ends with `RUN_FINISHED` carrying an interrupt outcome (one
 * interrupt per call); the answers come back in `resume`, decoded as `deferredToolResults`.
 */
export const agUiHandler = <A, E, R>(
  handle: (input: AgUiInput) => Stream.Stream<Agent.AgentStreamEvent<A>, E, R>,
  options: Omit<AgUiOptions<A>, "threadId" | "runId"> = {},
  decode: DecodeOptions = {}
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest
> =>
  handler(
    (body) => decodeAgUiInput(body, decode),
    (input) => agUiResponse(handle(input), agUiOptionsOf(input, options))
  )

/**
 * `agUiHandler` on the fast path: `handle` gets the input and the `onEvent` to give the run,
 * e.g. `UiStream.agUiRunHandler((input, onEvent) => agent.run(undefined,
 * { ...UiStream.runOptions(input), onEvent }))`.
 */
export const agUiRunHandler = <A, E, R>(
  handle: (input: AgUiInput, onEvent: OnEvent) => Effect.Effect<Agent.AgentRunResult<A>, E, R>,
  options: Omit<AgUiOptions<A>, "threadId" | "runId"> = {},
  decode: DecodeOptions = {}
): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  R | HttpServerRequest.HttpServerRequest
> =>
  handler(
    (body) => decodeAgUiInput(body, decode),
    (input) => agUiRunResponse((onEvent) => handle(input, onEvent), agUiOptionsOf(input, options))
  )
