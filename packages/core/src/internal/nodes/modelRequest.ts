/**
 * `ModelRequestNode`'s behaviour: the request sent (plain, as a channel of its stream's events,
 * or read with the response's `push`), through the model request hooks, the response counted
 * and stamped, and the `CallToolsNode` it leads to. An interrupted or broken stream keeps what
 * arrived (`keepInterrupted`).
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { ModelRetry } from "../../AgentError.js"
import {
  type AgentNode,
  type AgentStreamEvent,
  CallToolsNode,
  ModelRequestNode
} from "../../AgentGraph.js"
import {
  FinalResultEvent,
  ModelRequest,
  ModelResponse,
  type ModelResponseStreamEvent,
  PartEndEvent,
  PartStartEvent
} from "../../Messages.js"
import * as Model from "../../Model.js"
import { type ModelRequestContext } from "../../Capability.js"
import * as capabilities from "../capabilities.js"
import { type Emit, retryContent } from "../toolExec.js"
import { makeModelRequest, makeModelResponse, makeRetryPromptPart } from "../makers.js"
import type { Run, NodeChannel, Prepared, EventCallback } from "../runLoop.js"
import { prepareRequest } from "./prepareRequest.js"
import { countOutputRetry, outputRetry } from "./output.js"
import { scopedChannel, forkedChannel } from "./channel.js"

/** A response of self run, with the run's conversation id. */
export function stamped<A>(self: Run<A>, response: ModelResponse): ModelResponse {
  return response.conversationId === self.conversationId
    ? response
    : makeModelResponse.copy(response, { conversationId: self.conversationId })
}

/** Takes a response into the run; `counted: false` for a substitute (no request was sent). */
export function finishResponse<A>(
  self: Run<A>,
  raw: ModelResponse,
  counted = true
): Effect.Effect<AgentNode<A>, unknown> {
  const response = stamped(self, raw)
  return Effect.flatMap(
    Ref.updateAndGet(self.usageRef, (u) => (counted ? u.addRequest(response.usage) : u)),
    (usage) => {
      self.append(response)
      const after = self.usageLimits.checkAfterResponse(usage, response.usage)
      if (Option.isSome(after)) return Effect.fail(self.limitError(after.value))
      return Effect.succeed(new CallToolsNode(response))
    }
  )
}

export function modelRequest<A>(
  self: Run<A>,
  node: ModelRequestNode
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  return Effect.flatMap(prepareRequest(self, node), (prep) =>
    self.plan.config.hooks?.model === true
      ? hookedRequest(self, prep, (r) =>
          self.chatModel.request(r.messages, r.modelSettings, r.parameters)
        )
      : Effect.flatMap(
          self.chatModel.request(prep.messages, self.st.settings, prep.parameters),
          (response) => finishResponse(self, response)
        )
  )
}

// -- Model-request hooks (only with capabilities that have them) -------------

/**
 * A prepared request through the model-request hooks: `send` (a plain or a streamed request)
 * inside the `wrapModelRequest` chain, then the `afterModelRequest` hooks; a response that
 * `beforeModelRequest` substituted skips both the request and the wrap hooks. A `ModelRetry`
 * from a hook asks the model again with a retry prompt (output budget): after a response it
 * stays in the history, before one the request is sent again with the prompt added.
 * `substituted` is told of a response no request was sent for (a streamed run emits its
 * parts' events).
 */
export function hookedRequest<A>(
  self: Run<A>,
  prep: Prepared,
  send: (request: ModelRequestContext) => Effect.Effect<ModelResponse, unknown, unknown>,
  substituted?: (response: ModelResponse) => Effect.Effect<void>
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  if (prep.retry !== undefined) return resendWithRetry(self, prep.retry)
  const hooks = self.plan.config.hooks!
  const request: ModelRequestContext = {
    messages: prep.messages,
    modelSettings: prep.settings ?? self.st.settings,
    parameters: prep.parameters
  }
  return Effect.flatMap(self.makeCtx(), (ctx) => {
    let requested = false
    // The latest response the model (or a hook) gave: kept in the history on a retry.
    let obtained: ModelResponse | undefined = prep.skip
    const core = (r: ModelRequestContext) =>
      Effect.suspend(() => {
        requested = true
        return Effect.tap(send(r), (response) => {
          obtained = response
        })
      })
    // A response an `onModelRequestError` hook recovered with: not counted as a request.
    let recovered = false
    const wrapped =
      prep.skip !== undefined
        ? Effect.succeed(prep.skip)
        : hooks.wrapModelRequest === undefined
          ? core(request)
          : capabilities.wrapModelRequest(hooks.wrapModelRequest, ctx, request, core)
    const errors = hooks.onModelRequestError
    const response =
      errors === undefined || prep.skip !== undefined
        ? wrapped
        : Effect.catchAll(wrapped, (e) =>
            e instanceof ModelRetry
              ? Effect.fail(e)
              : Effect.tap(capabilities.onModelRequestError(errors, ctx, request, e), () => {
                  recovered = true
                })
          )
    const after = hooks.afterModelRequest
    const announced =
      substituted === undefined
        ? response
        : Effect.tap(response, (r) => (requested && !recovered ? Effect.void : substituted(r)))
    return announced.pipe(
      Effect.flatMap((r) => {
        obtained = r
        const counted = requested && !recovered
        return after === undefined
          ? finishResponse(self, r, counted)
          : capabilities.afterModelRequest(after, ctx, request, r).pipe(
              Effect.flatMap((final) => finishResponse(self, final, counted)),
              // A hook failed on the response: it stays in the history, then the failure.
              Effect.tapError((e) =>
                e instanceof ModelRetry
                  ? Effect.void
                  : Effect.ignore(finishResponse(self, r, counted))
              )
            )
      }),
      Effect.catchIf(
        (e): e is ModelRetry => e instanceof ModelRetry,
        (retry) => {
          const kept = obtained
          if (kept === undefined) return resendWithRetry(self, retry)
          return Effect.zipRight(
            // Usage and limits as for any response; the next request carries the prompt.
            finishResponse(self, kept, requested && !recovered),
            outputRetry(self, makeRetryPromptPart({ content: retryContent(retry) }))
          )
        }
      )
    )
  })
}

/**
 * A hook asked for a retry before any response: the request just recorded is sent again with
 * the retry prompt added (one output retry).
 */
export function resendWithRetry<A>(
  self: Run<A>,
  retry: ModelRetry
): Effect.Effect<AgentNode<A>, unknown> {
  const part = makeRetryPromptPart({ content: retryContent(retry) })
  return Effect.suspend(() => {
    const last = self.st.messages[self.st.messages.length - 1] as ModelRequest
    return Effect.as(
      countOutputRetry(self, part.content),
      new ModelRequestNode(makeModelRequest({ parts: [...last.parts, part] }), true)
    )
  })
}

/**
 * Unless `done` when the scope closes (a failure, an interruption), the partial response of
 * `streamed` goes into the history as `interrupted`; a request that was answered in part (a
 * part arrived) is counted in the run's usage with what arrived (the provider
 * bills what it streamed), one that failed before any answer is not (as a failed request
 * without streaming).
 */
export function keepInterrupted<A>(
  self: Run<A>,
  streamed: Model.StreamedResponse,
  done: () => boolean
): Effect.Effect<void, never, Scope.Scope> {
  return Effect.addFinalizer(() =>
    done()
      ? Effect.void
      : Effect.flatMap(streamed.response, (r) => {
          self.append(
            makeModelResponse.copy(r, {
              state: "interrupted",
              conversationId: self.conversationId
            })
          )
          return r.parts.length > 0
            ? Ref.update(self.usageRef, (u) => u.addRequest(r.usage))
            : Effect.void
        })
  )
}

export function isFinalStart<A>(
  self: Run<A>,
  part: PartStartEvent["part"],
  allowText: boolean
): boolean {
  if (part._tag === "TextPart") {
    return (
      allowText && !(self.profile.ignoreStreamedLeadingWhitespace && part.content.trim() === "")
    )
  }
  if (part._tag === "FilePart") return self.output.allowImageOutput === true && part.content.isImage
  return part._tag === "ToolCallPart" && self.output.isOutputTool(part.toolName)
}

/**
 * Opens a streamed model request in the current `Scope`. `finish` takes the response of the
 * stream's `ResponseCompleteEvent` (else the snapshot) into the run as complete and gives the
 * next node; unless it ran, closing the scope (a failure, an interruption) keeps the partial
 * response in the history as `interrupted`.
 */
export function openStream<A>(
  self: Run<A>,
  node: ModelRequestNode
): Effect.Effect<
  {
    readonly streamed: Model.StreamedResponse
    readonly finish: (completed: ModelResponse | undefined) => Effect.Effect<AgentNode<A>, unknown>
  },
  unknown,
  unknown
> {
  return Effect.gen(function* () {
    const prep = yield* prepareRequest(self, node)
    const streamed = yield* self.chatModel.requestStream(
      prep.messages,
      self.st.settings,
      prep.parameters
    )
    let done = false
    yield* keepInterrupted(self, streamed, () => done)
    const finish = (completed: ModelResponse | undefined) =>
      Effect.flatMap(completed !== undefined ? Effect.succeed(completed) : streamed.response, (r) =>
        Effect.map(
          finishResponse(
            self,
            r.state === "complete" ? r : makeModelResponse.copy(r, { state: "complete" })
          ),
          (next) => {
            done = true
            return next
          }
        )
      )
    return { streamed, finish }
  })
}

/**
 * A model request's events as a channel that opens the request in its own `Scope` (closed
 * when the channel ends, fails or is interrupted). Not `Stream.unwrapScoped`: that runs the
 * events in a nested channel stage, one more read per network read (see `eventChannel`).
 */
export function modelRequestChannel<A>(self: Run<A>, node: ModelRequestNode): NodeChannel<A> {
  // With model-request hooks, the request runs in a fiber (a `wrapModelRequest` hook is
  // around it) and its events come over a queue, as a tool step's do.
  return self.plan.config.hooks?.model === true
    ? forkedChannel(self, (emit) => hookedStream(self, node, emit))
    : scopedChannel(modelRequestSetup(self, node))
}

export function modelRequestSetup<A>(
  self: Run<A>,
  node: ModelRequestNode
): Effect.Effect<NodeChannel<A>, any, Scope.Scope> {
  return (
    // Only the set-up reads the run's context: providing it to the whole stream
    // (`Stream.provideSomeContext`) would cost a context change on every network read.
    Effect.gen(function* () {
      const { streamed, finish } = yield* openStream(self, node)
      let completed: ModelResponse | undefined
      let finalSent = false
      const allowText = self.output.allowTextOutput
      const events = Stream.mapChunks(
        streamed.events,
        (chunk: Chunk.Chunk<ModelResponseStreamEvent>) => {
          // Fast path: most chunks are plain deltas and pass through untouched (an indexed
          // loop: a chunk's iterator allocates on every call).
          const list = Chunk.toReadonlyArray(chunk)
          let touched = false
          for (let i = 0; i < list.length; i++) {
            const e = list[i]!
            if (e._tag === "ResponseCompleteEvent" || (e._tag === "PartStartEvent" && !finalSent)) {
              touched = true
              break
            }
          }
          const map = self.chunkMap
          if (!touched)
            return map === undefined ? chunk : map(chunk as Chunk.Chunk<AgentStreamEvent<A>>)
          const out: Array<AgentStreamEvent<A>> = []
          for (const e of list) {
            if (e._tag === "ResponseCompleteEvent") {
              completed = e.response
              continue
            }
            out.push(e)
            if (
              e._tag === "PartStartEvent" &&
              !finalSent &&
              isFinalStart(self, e.part, allowText)
            ) {
              finalSent = true
              out.push(finalResultOf(e.part))
            }
          }
          return map === undefined ? Chunk.unsafeFromArray(out) : map(Chunk.unsafeFromArray(out))
        }
      )
      return Channel.zipRight(
        Stream.toChannel(events),
        Channel.fromEffect(Effect.suspend(() => finish(completed)))
      )
    }).pipe((setup) => Effect.provide(setup, self.streamSetupContext()))
  )
}

/**
 * A model request streamed to `onEvent` (`eventsBody`): the same events as `modelRequestSetup`'s
 * channel — `FinalResultEvent` after the part that ends the run, the `ResponseCompleteEvent`
 * kept back — read with the response's `push` (one callback per network read, no `Stream`),
 * or through its `events` when the model offers no `push`. The same finalizer keeps the
 * partial response in the history when the request fails or is interrupted.
 */
export function pushedModelRequest<A>(
  self: Run<A>,
  node: ModelRequestNode,
  onEvent: EventCallback<A>
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  if (self.plan.config.hooks?.model === true) {
    return hookedStream(self, node, (events) =>
      Effect.sync(() => {
        const list = Chunk.toReadonlyArray(events)
        for (let i = 0; i < list.length; i++) onEvent(list[i]!)
      })
    )
  }
  return Effect.scoped(
    Effect.gen(function* () {
      const { streamed, finish } = yield* openStream(self, node)
      const relay = relayEvents(self, onEvent)
      const push = streamed.push
      if (push !== undefined) yield* push(relay.onEvents)
      else
        yield* Stream.runForEachChunk(streamed.events, (chunk) =>
          Effect.sync(() => relay.onEvents(Chunk.toReadonlyArray(chunk)))
        )
      return yield* finish(relay.completed())
    })
  )
}

/**
 * Relays one streamed response's events to `onEvent`: a `FinalResultEvent` after the part that
 * ends the run, the `ResponseCompleteEvent` kept back (`completed` gives its response).
 */
export function relayEvents<A>(
  self: Run<A>,
  onEvent: EventCallback<A>
): {
  readonly onEvents: (events: ReadonlyArray<ModelResponseStreamEvent>) => void
  readonly completed: () => ModelResponse | undefined
} {
  let completed: ModelResponse | undefined
  let finalSent = false
  const allowText = self.output.allowTextOutput
  return {
    onEvents: (events) => {
      for (let i = 0; i < events.length; i++) {
        const e = events[i]!
        if (e._tag === "ResponseCompleteEvent") {
          completed = e.response
          continue
        }
        onEvent(e)
        if (e._tag === "PartStartEvent" && !finalSent && isFinalStart(self, e.part, allowText)) {
          finalSent = true
          onEvent(finalResultOf(e.part))
        }
      }
    },
    completed: () => completed
  }
}

/**
 * A streamed model request through the model-request hooks (`hookedRequest`), its events
 * handed to `emit` per network read as the other streaming paths emit them. A response a
 * hook substitutes is emitted as its parts' start and end events. A request failing or
 * interrupted mid-stream keeps its partial response in the history (`interrupted`).
 */
export function hookedStream<A>(
  self: Run<A>,
  node: ModelRequestNode,
  emit: Emit
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const emitAll = (events: ReadonlyArray<ModelResponseStreamEvent>) =>
    Effect.suspend(() => {
      const out: Array<AgentStreamEvent<A>> = []
      const relay = relayEvents(self, (e) => out.push(e))
      relay.onEvents(events)
      return out.length === 0 ? Effect.void : emit(Chunk.unsafeFromArray(out))
    })
  return Effect.scoped(
    Effect.flatMap(prepareRequest(self, node), (prep) => {
      const send = (r: ModelRequestContext) =>
        Effect.gen(function* () {
          const streamed = yield* self.chatModel.requestStream(
            r.messages,
            r.modelSettings,
            r.parameters
          )
          let done = false
          yield* keepInterrupted(self, streamed, () => done)
          const out: Array<AgentStreamEvent<A>> = []
          const relay = relayEvents(self, (e) => out.push(e))
          yield* Stream.runForEachChunk(streamed.events, (chunk) => {
            relay.onEvents(Chunk.toReadonlyArray(chunk))
            if (out.length === 0) return Effect.void
            // (A `chunkMap` is applied by the channel's `emit`.)
            return emit(Chunk.unsafeFromArray(out.splice(0)))
          })
          const response = relay.completed() ?? (yield* streamed.response)
          done = true
          return response.state === "complete"
            ? response
            : makeModelResponse.copy(response, { state: "complete" })
        })
      // A substitute response (no request sent): its parts' start and end events.
      return hookedRequest(self, prep, send, (response) => {
        const events: Array<ModelResponseStreamEvent> = []
        response.parts.forEach((part, index) => {
          events.push(new PartStartEvent({ index, part }, true))
          events.push(new PartEndEvent({ index, part }, true))
        })
        return emitAll(events)
      })
    })
  )
}

/** The `FinalResultEvent` of the part that ends the run (an output tool call, text or an image). */
export const finalResultOf = (part: PartStartEvent["part"]): FinalResultEvent =>
  part._tag === "ToolCallPart"
    ? new FinalResultEvent({ toolName: part.toolName, toolCallId: part.toolCallId }, true)
    : new FinalResultEvent({}, true)
