/**
 * Tool execution of the run loop: one response's function calls, run in concurrent segments
 * split by sequential tools, each in its `execute_tool {tool}` span (only when spans are
 * recorded), with its time limit, retry budget, approval gate and deferral (approval needed,
 * external tool), and — when a run resumes deferred calls — the results given from outside.
 * The run is reached through `ToolHost`; output tools are the loop's (output decoding).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Tracer from "effect/Tracer"
import { type AgentError, ModelRetry, ToolFailed, UserError } from "../AgentError.js"
import type { AgentConfig } from "./runLoop.js"
import type { AgentStreamEvent } from "../AgentGraph.js"
import {
  ApprovalRequired,
  type ApprovalResult,
  CallDeferred,
  type DeferredToolResults,
  deniedMessage,
  ToolApproved,
  ToolDenied
} from "../DeferredTools.js"
import {
  FunctionToolCallEvent,
  FunctionToolResultEvent,
  RetryPromptPart,
  type ToolCallPart,
  ToolReturnPart,
  toolAvailabilityDelta
} from "../Messages.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import { CallEnd, type CallEndService, type StartedCall, ToolReturn } from "../Tool.js"
import type * as Toolset from "../Toolset.js"
import type { RunUsage, UsageLimits } from "../Usage.js"
import { type CompiledHooks, executeTool, validateTool } from "./capabilities.js"
import * as genai from "./genai.js"
import { forEachConcurrent } from "./concurrent.js"
import { spansRecorded, withSpanAndContext } from "./spanRegion.js"
import { makeRetryPromptPart, makeToolReturnPart } from "./makers.js"

/** What tool execution needs from its run. */
export interface ToolHost {
  /** The function tools of the current step, by name. */
  readonly tools: ReadonlyMap<string, Toolset.ToolsetTool<any, any>>
  /** Results given from outside when the run resumes deferred calls. */
  readonly given: DeferredToolResults | undefined
  readonly config: Pick<AgentConfig, "retries" | "toolTimeout" | "maxConcurrency">
  readonly usageRef: Ref.Ref<RunUsage>
  readonly usageLimits: UsageLimits
  /** Retries used so far by a tool. */
  toolRetry(name: string): number
  /** A `RunContext` of the run (`extra` over it). */
  makeCtx(extra?: Partial<RunContextService>): Effect.Effect<RunContextService>
  /** Fails the run: a retry budget is spent. */
  exhausted(reason: string): Effect.Effect<never, AgentError>
  /** The error of a usage limit reached. */
  limitError(v: { limit: any; limitValue: number; value: number; message: string }): AgentError
  /** The capabilities' hooks of the run, if any (`internal/capabilities.ts`). */
  readonly hooks?: CompiledHooks | undefined
}

/** Hands a chunk of events to the stream of the run (a no-op when not streaming). */
export type Emit = (events: Chunk.Chunk<AgentStreamEvent<any>>) => Effect.Effect<void>
/** The `Emit` of a run that does not stream. */
export const noEmit: Emit = () => Effect.void

/** What a call that produced a result ends with. */
export type CallResult = ToolReturnPart | RetryPromptPart

/** A call the run cannot finish: it waits for an approval or for a result from outside. */
export class Deferred {
  readonly _tag = "Deferred" as const
  constructor(
    readonly kind: "approval" | "external",
    readonly call: ToolCallPart,
    readonly metadata: unknown
  ) {}
}

/** What one function call ends with. */
export type CallOutcome = CallResult | Deferred

/** A call that waits: the loop's own `Deferred`, or a handler's `ApprovalRequired` / `CallDeferred`. */
const isDeferred = (u: unknown): u is Deferred | ApprovalRequired | CallDeferred =>
  u instanceof Deferred || u instanceof ApprovalRequired || u instanceof CallDeferred

/** The return of a call: a handler's `ToolReturn` keeps its metadata on the part. */
const returnPart = (call: ToolCallPart, content: unknown): ToolReturnPart =>
  content instanceof ToolReturn
    ? makeToolReturnPart({
        toolName: call.toolName,
        toolCallId: call.toolCallId,
        content: content.value,
        ...(content.metadata !== undefined ? { metadata: content.metadata } : {})
      })
    : makeToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content })

/**
 * The `CallEnd` of one call: its callbacks run once, when the call's region closes (whatever
 * the exit); one registered after that runs at once.
 */
class CallEndHooks implements CallEndService {
  private fs: Array<() => void> | undefined = undefined
  private ended = false
  constructor(private readonly limit: Duration.DurationInput | undefined) {}
  get timeLimit(): Duration.Duration | undefined {
    return this.limit === undefined ? undefined : Duration.decode(this.limit)
  }
  readonly onEnd = (f: () => void): void => {
    if (this.ended) f()
    else if (this.fs === undefined) this.fs = [f]
    else this.fs.push(f)
  }
  readonly end = (): void => {
    this.ended = true
    const fs = this.fs
    if (fs === undefined) return
    this.fs = undefined
    for (const f of fs) f()
  }
}

/** `Object.hasOwn`. */
export const hasOwn = (record: object, key: string): boolean => Object.hasOwn(record, key)

/** A failure that keeps its meaning at a tool's boundary: a retry, a failed result, a deferral. */
const isToolControl = (
  u: unknown
): u is ModelRetry | ToolFailed | Deferred | ApprovalRequired | CallDeferred =>
  u instanceof ModelRetry || u instanceof ToolFailed || isDeferred(u)

/** What a retry prompt says for a `ModelRetry`: its issues, else its reason. */
export const retryContent = (e: ModelRetry) =>
  e.issues !== undefined && e.issues.length > 0 ? e.issues : e.reason

const quoteList = (names: ReadonlyArray<string>) => names.map((n) => `'${n}'`).join(", ")

/** A call's `ModelRetry`: a retry prompt, or the run's end when the tool's budget is spent. */
const retryOrEnd = (
  run: ToolHost,
  call: ToolCallPart,
  retry: number,
  max: number,
  failed: Set<string>,
  error: ModelRetry
): Effect.Effect<CallResult, unknown> => {
  if (retry >= max) return exhaustedBy(run, call, max, error)
  return Effect.succeed(retryPart(call, failed, error))
}

/** The run's end: a tool's retry budget is spent. */
const exhaustedBy = (run: ToolHost, call: ToolCallPart, max: number, error: ModelRetry) =>
  run.exhausted(`Tool '${call.toolName}' exceeded max retries count of ${max}: ${error.reason}`)

/** A retry prompt for a call (its tool counted as failed at this step). */
const retryPart = (call: ToolCallPart, failed: Set<string>, error: ModelRetry): CallResult => {
  failed.add(call.toolName)
  return makeRetryPromptPart({
    content: retryContent(error),
    toolName: call.toolName,
    toolCallId: call.toolCallId
  })
}

/** A handler's deferral as the loop's `Deferred`. */
const asDeferred = (
  e: Deferred | ApprovalRequired | CallDeferred,
  call: ToolCallPart,
  tool: Toolset.ToolsetTool<any, any>
): Deferred =>
  e instanceof Deferred
    ? e
    : new Deferred(
        e._tag === "ApprovalRequired" ? "approval" : "external",
        call,
        e.metadata ?? tool.definition.metadata
      )

/** A handler's `ToolFailed`: the call's result, marked failed. */
const failedPart = (call: ToolCallPart, e: ToolFailed): CallResult =>
  makeToolReturnPart({
    toolName: call.toolName,
    toolCallId: call.toolCallId,
    content: e.reason,
    outcome: "failed",
    ...(e.metadata !== undefined ? { metadata: e.metadata } : {})
  })

/**
 * Runs one function (or unknown) tool call. Budget exhaustion fails the run. A call may end
 * `Deferred` (approval needed, external tool, a handler failing with a deferral); when the run
 * resumes deferred calls, a call's given result (approval, denial, external result) is used.
 */
export const runFunctionCall = (
  run: ToolHost,
  call: ToolCallPart,
  emit: Emit,
  failed: Set<string>,
  succeeded: Set<string>
): Effect.Effect<CallOutcome, unknown, unknown> => {
  const tool = run.tools.get(call.toolName)
  const retry = run.toolRetry(call.toolName)
  const max = tool?.maxRetries ?? run.config.retries
  const given = run.given
  const id = call.toolCallId
  const approval =
    given !== undefined && hasOwn(given.approvals, id) ? given.approvals[id] : undefined
  const onRetry = (error: ModelRetry): Effect.Effect<CallResult, unknown> =>
    retryOrEnd(run, call, retry, max, failed, error)
  const body: Effect.Effect<CallOutcome, unknown, unknown> =
    tool === undefined
      ? Effect.suspend(() => {
          const names = [...run.tools.keys()]
          return onRetry(
            new ModelRetry({
              reason:
                names.length === 0
                  ? `Unknown tool name: '${call.toolName}'. No tools available.`
                  : `Unknown tool name: '${call.toolName}'. Available tools: ${quoteList(names)}`
            })
          )
        })
      : Effect.flatMap(
          run.makeCtx({
            retry,
            maxRetries: max,
            toolName: call.toolName,
            toolCallId: call.toolCallId,
            ...(approval !== undefined ? { toolCallApproved: true } : {}),
            ...(given !== undefined && hasOwn(given.metadata, id)
              ? { toolCallMetadata: given.metadata[id] }
              : {})
          }),
          (ctx) => {
            // [perf #16] A handler stopping outside work when its call ends (`Tool.CallEnd`)
            // hooks into this region instead of opening one of its own per call.
            const timeout = tool.timeout ?? run.config.toolTimeout
            const end = new CallEndHooks(timeout)
            // The span, its parent-span context, the RunContext and the CallEnd in ONE region
            // (what `useSpan` + `provideService` do in two).
            return withSpanAndContext(
              `execute_tool ${call.toolName}`,
              {
                captureStackTrace: false,
                attributes: {
                  "gen_ai.operation.name": "execute_tool",
                  "gen_ai.tool.name": call.toolName,
                  "gen_ai.tool.call.id": call.toolCallId,
                  ...(tool.definition.description !== undefined
                    ? { "gen_ai.tool.description": tool.definition.description }
                    : {})
                }
              },
              (caller, span) => {
                const map = new Map(caller.unsafeMap)
                if (span !== undefined) {
                  map.set(Tracer.ParentSpan.key, span)
                  // [prod #18] tool type, and the arguments when content is recorded.
                  genai.toolSpanStarted(span, call, caller)
                }
                map.set(RunContext.key, ctx)
                map.set(CallEnd.key, end)
                return Context.unsafeMake(map)
              },
              () => {
                const execute =
                  timeout === undefined
                    ? tool.call
                    : (args: unknown) =>
                        Effect.timeoutFail(tool.call(args), {
                          duration: timeout,
                          onTimeout: () =>
                            new ModelRetry({
                              reason: `Timed out after ${Duration.toSeconds(timeout)} seconds.`
                            })
                        })
                const hooks = run.hooks
                const gated = gate(run, call, tool, ctx, approval)
                /** The call's result, counted in the run's usage (one `Ref` step). */
                const counted = (content: unknown): Effect.Effect<CallOutcome> =>
                  Ref.modify(run.usageRef, (u) => {
                    succeeded.add(call.toolName)
                    return [returnPart(call, content), u.addToolCalls(1)]
                  })
                const executed: Effect.Effect<CallOutcome, unknown, unknown> =
                  hooks === undefined || !hooks.tool
                    ? Effect.flatMap(Effect.flatMap(gated, execute), counted)
                    : // The tool hooks around the execution; a skipped tool is not counted.
                      Effect.flatMap(
                        Effect.flatMap(gated, (args) =>
                          executeTool(
                            hooks,
                            ctx,
                            { call, definition: tool.definition, args },
                            execute,
                            isToolControl
                          )
                        ),
                        (out) => {
                          if (out.executed) return counted(out.value)
                          succeeded.add(call.toolName)
                          return Effect.succeed(returnPart(call, out.value) as CallOutcome)
                        }
                      )
                // A deferral, a retry or a failed result: the call's outcome (one handler).
                return Effect.catchIf(
                  executed,
                  isToolControl,
                  (e): Effect.Effect<CallOutcome, unknown> =>
                    isDeferred(e)
                      ? Effect.succeed(asDeferred(e, call, tool))
                      : e._tag === "ToolFailed"
                        ? Effect.succeed(failedPart(call, e))
                        : onRetry(e)
                )
              },
              // [prod #18] the result (content) or the error type on the span.
              genai.toolSpanEnded,
              end.end
            )
          }
        )
  // A result given from outside (resuming deferred calls) replaces running the call.
  const outside = given === undefined ? undefined : answeredOutside(run, call, given, onRetry)
  if (emit === noEmit) return outside ?? body
  return Effect.tap(outside ?? body, (result) =>
    result instanceof Deferred ? Effect.void : emit(resultEvents(result))
  )
}

/** A result's events: `FunctionToolResultEvent`, then `ToolAvailabilityDeltaEvent` if it loads tools. */
const resultEvents = (result: CallResult): Chunk.Chunk<AgentStreamEvent<any>> => {
  const event = new FunctionToolResultEvent({ result }, true)
  const delta = toolAvailabilityDelta(result)
  return delta === undefined ? Chunk.of(event) : Chunk.make(event, delta)
}

/** The result of a call given in `DeferredToolResults`: an external result or a denial. */
export const answeredOutside = (
  run: ToolHost,
  call: ToolCallPart,
  given: DeferredToolResults,
  onRetry: (error: ModelRetry) => Effect.Effect<CallResult, unknown>
): Effect.Effect<CallResult, unknown> | undefined => {
  const id = call.toolCallId
  if (hasOwn(given.calls, id)) return externalResult(run, call, given.calls[id], onRetry)
  const approval = hasOwn(given.approvals, id) ? given.approvals[id] : undefined
  const denied =
    approval === false
      ? deniedMessage
      : approval instanceof ToolDenied
        ? approval.message
        : undefined
  if (denied === undefined) return undefined
  return Effect.succeed(
    makeToolReturnPart({
      toolName: call.toolName,
      toolCallId: id,
      content: denied,
      outcome: "denied"
    })
  )
}

/**
 * The decoded arguments of a call about to run, or a failure with `Deferred` when the call
 * must wait: an external tool, or a call needing approval. An approved call runs (with the
 * approver's `overrideArgs`, if any).
 */
export const gate = (
  run: ToolHost,
  call: ToolCallPart,
  tool: Toolset.ToolsetTool<any, any>,
  ctx: RunContextService,
  approval: ApprovalResult | undefined
): Effect.Effect<unknown, unknown, unknown> => {
  const validate = tool.validateArgs
  const checked = (
    decoded: Effect.Effect<unknown, unknown, unknown>
  ): Effect.Effect<unknown, unknown, unknown> =>
    validate === undefined
      ? decoded
      : Effect.flatMap(decoded, (args) => Effect.as(validate(args), args))
  if (approval instanceof ToolApproved && approval.overrideArgs !== undefined) {
    return checked(overrideArgs(call, tool, approval.overrideArgs))
  }
  // The model's arguments (also when an approved call is decoded again on resume), through the
  // capabilities' validation hooks when there are any.
  const hooks = run.hooks
  const validated =
    hooks?.validate === true
      ? validateTool(hooks, ctx, { call, definition: tool.definition, args: call.args }, (raw) =>
          checked(tool.decodeArgs(raw))
        )
      : checked(tool.decodeArgs(call.args))
  if (approval !== undefined) return validated
  const requiresApproval = tool.requiresApproval
  if (tool.definition.kind !== "external" && requiresApproval === undefined) return validated
  const metadata = tool.definition.metadata
  return Effect.flatMap(validated, (args) =>
    tool.definition.kind === "external"
      ? Effect.fail(new Deferred("external", call, metadata))
      : requiresApproval === undefined
        ? Effect.succeed(args)
        : Effect.flatMap(requiresApproval(args, ctx), (needed) =>
            needed ? Effect.fail(new Deferred("approval", call, metadata)) : Effect.succeed(args)
          )
  )
}

/** The approver's `overrideArgs` of a call, decoded (a mismatch is a `UserError`). */
const overrideArgs = (
  call: ToolCallPart,
  tool: Toolset.ToolsetTool<any, any>,
  args: unknown
): Effect.Effect<unknown, UserError> =>
  Effect.mapError(
    tool.decodeArgs(args as ToolCallPart["args"]),
    (e) =>
      new UserError({
        reason: `The overrideArgs approved for tool call '${call.toolCallId}' ('${call.toolName}') do not match the tool's parameters: ${e.reason}`
      })
  )

/** A call's result computed outside the run (`DeferredToolResults.calls`). */
export const externalResult = (
  _run: ToolHost,
  call: ToolCallPart,
  result: unknown,
  onRetry: (error: ModelRetry) => Effect.Effect<CallResult, unknown>
): Effect.Effect<CallResult, unknown> => {
  if (result instanceof ModelRetry) return onRetry(result)
  if (result instanceof ToolFailed) return Effect.succeed(failedPart(call, result))
  return Effect.succeed(
    makeToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content: result })
  )
}

/**
 * Whether every call of a segment can go through its tool's `start` (the tool's side of
 * `Tool.StartCall`'s conditions; the run's side is `runFunctionBatch`'s).
 */
const startable = (
  run: ToolHost,
  segment: ReadonlyArray<ToolCallPart>,
  liveClock: boolean
): boolean => {
  for (const call of segment) {
    const tool = run.tools.get(call.toolName)
    if (
      tool === undefined ||
      tool.start === undefined ||
      tool.start.of !== tool.call ||
      tool.requiresApproval !== undefined ||
      tool.validateArgs !== undefined ||
      tool.definition.kind !== "function" ||
      // a time limit is kept with a timer: on the fiber's clock only when it is the real one
      (!liveClock && (tool.timeout ?? run.config.toolTimeout) !== undefined)
    ) {
      return false
    }
  }
  return true
}

/** Effect's own clock (timers of the event loop): what a fiber has unless a clock is provided. */
const liveClock: Clock.Clock = Effect.runSync(Effect.clock)
/** The longest time a JS timer takes (as Effect's clock: longer is never). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/** How a started call ended; `undefined`: never started, or cancelled. */
type Settled =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown }

/**
 * [perf #16] A segment of calls through their tools' `start` (`Tool.StartCall`): the
 * arguments decoded, then the calls started from this fiber — at most `maxConcurrency` in
 * flight, each with its time limit — where `runFunctionCall` would fork a worker per call and
 * suspend each. The fiber waits once for all of them; a streaming run (`emit`) wakes as calls
 * settle instead, and emits their results in the order they ended, as the workers would. A
 * failure that ends the run (the tool's error, a spent retry budget) cancels the calls in flight
 * and starts no more, as a failing worker interrupts its siblings; interrupting the run cancels
 * every call in flight. Each call's outcome is the one `runFunctionCall` makes; the outcomes are
 * returned in call order.
 */
const runStartedSegment = (
  run: ToolHost,
  calls: ReadonlyArray<ToolCallPart>,
  emit: Emit,
  failed: Set<string>,
  succeeded: Set<string>
): Effect.Effect<Array<CallOutcome>, unknown> =>
  Effect.suspend(() => {
    const n = calls.length
    const emitting = emit !== noEmit
    const tools = calls.map((c) => run.tools.get(c.toolName)!)
    const retries = calls.map((c) => run.toolRetry(c.toolName))
    const maxes = tools.map((t) => t.maxRetries ?? run.config.retries)
    const args = new Array<unknown>(n)
    const settled = new Array<Settled | undefined>(n)
    /** Settled calls whose outcome is not made yet, in the order they ended. */
    let ready: Array<number> = []
    /** Does this failure of call `i` end the run? */
    const ends = (i: number, e: unknown): boolean =>
      e instanceof ModelRetry
        ? retries[i]! >= maxes[i]!
        : !(e instanceof ToolFailed || isDeferred(e))

    // Starting and settling (plain callbacks: no fiber runs here).
    const todo: Array<number> = []
    const limit = run.config.maxConcurrency
    const handles = new Array<StartedCall | undefined>(n)
    const timers = new Array<ReturnType<typeof setTimeout> | undefined>(n)
    let k = 0
    let next = 0
    let inFlight = 0
    /** Inside `launch`: a thenable that calls back at once must not start `launch` again. */
    let launching = false
    let stop = false
    let done = false
    let waiter: (() => void) | undefined
    const poke = () => {
      if (waiter !== undefined && (done || (emitting && ready.length > 0))) {
        const w = waiter
        waiter = undefined
        w()
      }
    }
    const cancelAll = () => {
      for (let i = 0; i < n; i++) {
        const h = handles[i]
        if (h === undefined) continue
        handles[i] = undefined
        if (timers[i] !== undefined) clearTimeout(timers[i])
        h.cancel()
      }
    }
    const settle = (i: number, outcome: Settled) => {
      if (handles[i] === undefined) return // cancelled, or timed out before the promise
      handles[i] = undefined
      if (timers[i] !== undefined) clearTimeout(timers[i])
      settled[i] = outcome
      ready.push(i)
      inFlight--
      if (!outcome.ok && ends(i, outcome.error)) {
        stop = true
        inFlight = 0
        cancelAll()
      }
      if (!launching) launch()
    }
    const launch = () => {
      launching = true
      while (!stop && inFlight < k && next < todo.length) {
        const i = todo[next++]!
        const tool = tools[i]!
        const timeout = tool.timeout ?? run.config.toolTimeout
        const limit = timeout === undefined ? undefined : Duration.decode(timeout)
        let handle: StartedCall
        try {
          handle = tool.start!.start(args[i], limit)
        } catch (error) {
          settled[i] = { ok: false, error }
          ready.push(i)
          if (ends(i, error)) stop = true
          continue
        }
        handles[i] = handle
        inFlight++
        const millis = limit === undefined ? Infinity : Duration.toMillis(limit)
        if (millis <= MAX_TIMER_MILLIS) {
          timers[i] = setTimeout(() => {
            const h = handles[i]
            settle(i, { ok: false, error: timedOut(timeout!) })
            h?.cancel()
          }, millis)
        }
        handle.promise.then(
          (value) => settle(i, { ok: true, value }),
          (error) => settle(i, { ok: false, error })
        )
      }
      launching = false
      if (stop) cancelAll()
      if (stop || (inFlight === 0 && next >= todo.length)) done = true
      poke()
    }

    // The fiber's side: decode, start, then make the outcomes of settled calls as they come.
    const out = new Array<CallOutcome>(n)
    /** Failures that end the run, with their calls' indices (combined in call order). */
    const fatal: Array<[number, Effect.Effect<never, unknown>]> = []
    let count = 0
    /** The outcomes of the calls settled so far; their result events, when streaming. */
    const take = (): Effect.Effect<void> => {
      const batch = ready
      ready = []
      let events: Array<AgentStreamEvent<any>> | undefined
      for (const i of batch) {
        const s = settled[i]!
        const call = calls[i]!
        let result: CallOutcome | undefined
        if (s.ok) {
          result = returnPart(call, s.value)
          succeeded.add(call.toolName)
          count++
        } else {
          const e = s.error
          if (e instanceof ModelRetry) {
            if (retries[i]! >= maxes[i]!) fatal.push([i, exhaustedBy(run, call, maxes[i]!, e)])
            else result = retryPart(call, failed, e)
          } else if (e instanceof ToolFailed) result = failedPart(call, e)
          else if (isDeferred(e)) result = asDeferred(e, call, tools[i]!)
          else fatal.push([i, tools[i]!.start!.dies === true ? Effect.die(e) : Effect.fail(e)])
        }
        if (result === undefined) continue
        out[i] = result
        if (emitting && !(result instanceof Deferred)) {
          events ??= []
          for (const event of resultEvents(result)) events.push(event)
        }
      }
      return events === undefined ? Effect.void : emit(Chunk.unsafeFromArray(events))
    }
    const wait = Effect.async<void>((resume) => {
      waiter = () => resume(Effect.void)
      poke()
    })
    const loop: Effect.Effect<void> = Effect.suspend(() => {
      if (ready.length > 0 && (emitting || done)) return Effect.zipRight(take(), loop)
      return done ? Effect.void : Effect.zipRight(wait, loop)
    })
    const decode = Effect.forEach(
      calls,
      (call, i) =>
        Effect.match(tools[i]!.decodeArgs(call.args), {
          onFailure: (error) => {
            settled[i] = { ok: false, error }
            ready.push(i)
            if (ends(i, error)) stop = true
          },
          onSuccess: (a) => {
            args[i] = a
            todo.push(i)
          }
        }),
      { discard: true }
    )
    const start = Effect.sync(() => {
      k = limit === "unbounded" ? todo.length : Math.max(1, limit)
      launch()
    })
    const outcomes = Effect.suspend(() => {
      if (fatal.length > 0) {
        if (fatal.length === 1) return fatal[0]![1]
        fatal.sort((a, b) => a[0] - b[0])
        return Effect.flatMap(
          Effect.forEach(fatal, ([, f]) => Effect.cause(f)),
          (causes) => Effect.failCause(causes.reduce(Cause.parallel))
        )
      }
      return count === 0
        ? Effect.succeed(out)
        : Effect.as(
            Ref.update(run.usageRef, (u) => u.addToolCalls(count)),
            out
          )
    })
    return Effect.zipRight(
      Effect.onInterrupt(Effect.zipRight(Effect.zipRight(decode, start), loop), () =>
        Effect.sync(() => {
          stop = true
          waiter = undefined
          cancelAll()
        })
      ),
      outcomes
    )
  })

/** The retry prompt of a call that outlived its time limit (`runFunctionCall`'s own words). */
const timedOut = (timeout: Duration.DurationInput) =>
  new ModelRetry({ reason: `Timed out after ${Duration.toSeconds(timeout)} seconds.` })

/** Runs function calls: concurrent segments split by sequential tools; results in emission order. */
export const runFunctionBatch = (
  run: ToolHost,
  calls: ReadonlyArray<ToolCallPart>,
  emit: Emit,
  failed: Set<string>,
  succeeded: Set<string>
): Effect.Effect<Array<CallOutcome>, unknown, unknown> => {
  if (calls.length === 0) return Effect.succeed([])
  return Effect.gen(function* () {
    const given = run.given
    // Calls answered from outside (external results, denials) and external tools do not run.
    const known = calls.filter(
      (c) =>
        run.tools.has(c.toolName) &&
        run.tools.get(c.toolName)!.definition.kind !== "external" &&
        (given === undefined ||
          (!hasOwn(given.calls, c.toolCallId) &&
            given.approvals[c.toolCallId] !== false &&
            !(given.approvals[c.toolCallId] instanceof ToolDenied)))
    ).length
    const check = run.usageLimits.checkToolCalls(yield* Ref.get(run.usageRef), known)
    if (Option.isSome(check)) return yield* run.limitError(check.value)
    if (emit !== noEmit) {
      yield* emit(
        Chunk.unsafeFromArray(calls.map((part) => new FunctionToolCallEvent({ part }, true)))
      )
    }
    const segments: Array<Array<ToolCallPart>> = []
    let current: Array<ToolCallPart> = []
    for (const call of calls) {
      if (run.tools.get(call.toolName)?.definition.sequential === true) {
        if (current.length > 0) segments.push(current)
        segments.push([call])
        current = []
      } else current.push(call)
    }
    if (current.length > 0) segments.push(current)
    // Segments may go through their tools' `start` when nothing observes a call on its own:
    // no deferred results, no tool or validation hooks, no recorded spans.
    const hooks = run.hooks
    const startOk =
      given === undefined &&
      (hooks === undefined || (!hooks.tool && !hooks.validate)) &&
      segments.some((segment) => startable(run, segment, true))
    // `undefined`: not through `start`; else whether the fiber's clock is the real one
    const clock: boolean | undefined = startOk
      ? yield* Effect.withFiberRuntime<boolean | undefined>((fiber) =>
          Effect.succeed(
            spansRecorded(fiber)
              ? undefined
              : Context.get(fiber.currentDefaultServices, Clock.Clock) === liveClock
          )
        )
      : undefined
    const runSegment = (segment: Array<ToolCallPart>) =>
      clock !== undefined && startable(run, segment, clock)
        ? runStartedSegment(run, segment, emit, failed, succeeded)
        : segment.length === 1
          ? // One call (the common case): no `forEach` machinery.
            Effect.map(runFunctionCall(run, segment[0]!, emit, failed, succeeded), (r) => [r])
          : forEachConcurrent(
              segment,
              (call) => runFunctionCall(run, call, emit, failed, succeeded),
              run.config.maxConcurrency
            )
    if (segments.length === 1) return yield* runSegment(segments[0]!)
    const out: Array<CallOutcome> = []
    for (const segment of segments) out.push(...(yield* runSegment(segment)))
    return out
  })
}
