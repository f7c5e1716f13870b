/**
 * Tool execution of the run loop: one response's function calls, run in concurrent segments
 * split by sequential tools, each in its `execute_tool {tool}` span (only when spans are
 * recorded), with its time limit, retry budget, approval gate and deferral (approval needed,
 * external tool), and — when a run resumes deferred calls — the results given from outside.
 * The run is reached through `ToolHost`; output tools are the loop's (output decoding).
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
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
import { CallEnd, type CallEndService, ToolReturn } from "../Tool.js"
import type * as Toolset from "../Toolset.js"
import type { RunUsage, UsageLimits } from "../Usage.js"
import { type CompiledHooks, executeTool, validateTool } from "./capabilities.js"
import * as genai from "./genai.js"
import { forEachConcurrent } from "./concurrent.js"
import { withSpanAndContext } from "./spanRegion.js"
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

const isRetryOrFailed = (u: unknown): u is ModelRetry | ToolFailed =>
  u instanceof ModelRetry || u instanceof ToolFailed

/** A failure that keeps its meaning at a tool's boundary: a retry, a failed result, a deferral. */
const isToolControl = (u: unknown): boolean => isRetryOrFailed(u) || isDeferred(u)

/** What a retry prompt says for a `ModelRetry`: its issues, else its reason. */
export const retryContent = (e: ModelRetry) =>
  e.issues !== undefined && e.issues.length > 0 ? e.issues : e.reason

const quoteList = (names: ReadonlyArray<string>) => names.map((n) => `'${n}'`).join(", ")

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
  const onRetry = (error: ModelRetry): Effect.Effect<CallResult, unknown> => {
    if (retry >= max) {
      return run.exhausted(
        `Tool '${call.toolName}' exceeded max retries count of ${max}: ${error.reason}`
      )
    }
    failed.add(call.toolName)
    return Effect.succeed(
      makeRetryPromptPart({
        content: retryContent(error),
        toolName: call.toolName,
        toolCallId: call.toolCallId
      })
    )
  }
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
            const end = new CallEndHooks()
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
                const timeout = tool.timeout ?? run.config.toolTimeout
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
                const counted: Effect.Effect<CallOutcome, unknown, unknown> =
                  hooks === undefined || !hooks.tool
                    ? Effect.flatMap(Effect.flatMap(gated, execute), (content) =>
                        Effect.as(
                          Ref.update(run.usageRef, (u) => u.addToolCalls(1)),
                          returnPart(call, content) as CallOutcome
                        )
                      )
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
                        (out) =>
                          out.executed
                            ? Effect.as(
                                Ref.update(run.usageRef, (u) => u.addToolCalls(1)),
                                returnPart(call, out.value) as CallOutcome
                              )
                            : Effect.succeed(returnPart(call, out.value) as CallOutcome)
                      )
                return counted.pipe(
                  Effect.tap(() => {
                    succeeded.add(call.toolName)
                  }),
                  Effect.catchIf(isDeferred, (e) =>
                    Effect.succeed(
                      e instanceof Deferred
                        ? e
                        : new Deferred(
                            e._tag === "ApprovalRequired" ? "approval" : "external",
                            call,
                            e.metadata ?? tool.definition.metadata
                          )
                    )
                  ),
                  Effect.catchIf(isRetryOrFailed, (e) =>
                    e._tag === "ToolFailed"
                      ? Effect.succeed(
                          makeToolReturnPart({
                            toolName: call.toolName,
                            toolCallId: call.toolCallId,
                            content: e.reason,
                            outcome: "failed",
                            ...(e.metadata !== undefined ? { metadata: e.metadata } : {})
                          }) as CallResult
                        )
                      : onRetry(e)
                  )
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
  return Effect.tap(outside ?? body, (result) =>
    emit === noEmit || result instanceof Deferred ? Effect.void : emit(resultEvents(result))
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
  const metadata = tool.definition.metadata
  return Effect.flatMap(validated, (args) =>
    tool.definition.kind === "external"
      ? Effect.fail(new Deferred("external", call, metadata))
      : tool.requiresApproval === undefined
        ? Effect.succeed(args)
        : Effect.flatMap(tool.requiresApproval(args, ctx), (needed) =>
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
  if (result instanceof ToolFailed) {
    return Effect.succeed(
      makeToolReturnPart({
        toolName: call.toolName,
        toolCallId: call.toolCallId,
        content: result.reason,
        outcome: "failed",
        ...(result.metadata !== undefined ? { metadata: result.metadata } : {})
      })
    )
  }
  return Effect.succeed(
    makeToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content: result })
  )
}

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
    // One call (the common case): no `forEach` machinery.
    if (segments.length === 1 && segments[0]!.length === 1) {
      return [yield* runFunctionCall(run, segments[0]![0]!, emit, failed, succeeded)]
    }
    const out: Array<CallOutcome> = []
    for (const segment of segments) {
      const results = yield* forEachConcurrent(
        segment,
        (call) => runFunctionCall(run, call, emit, failed, succeeded),
        run.config.maxConcurrency
      )
      out.push(...results)
    }
    return out
  })
}
