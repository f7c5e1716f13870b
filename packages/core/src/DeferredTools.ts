/**
 * Deferred tools and human approval (pydantic-ai's "deferred tools"): a tool call the run
 * cannot finish by itself. A call that needs a person's yes (`requiresApproval`, a handler
 * failing with `ApprovalRequired`, `Toolset.approvalRequired`) or whose result comes from
 * outside (`Tool.external`, a handler failing with `CallDeferred`) ends the run with a
 * `DeferredToolRequests` output instead of an error; the other calls of the same response still
 * run. Resume later (another process, days after) with
 * `agent.run(undefined, { messageHistory, deferredToolResults })`: the run goes on from the
 * response that asked, without a new model request for the calls already made.
 *
 * Both values are Schemas: store them as JSON next to the history.
 *
 * @example
 * ```ts
 * import { Agent, DeferredTools, TestModel, Tool } from "@agentfx/core"
 * import { Effect, Schema } from "effect"
 *
 * const refund = Tool.make("refund", {
 *   parameters: Schema.Struct({ amount: Schema.Number }),
 *   requiresApproval: true,
 *   handler: ({ amount }) => Effect.succeed(`refunded ${amount}`)
 * })
 * const agent = Agent.make({ tools: [refund] })
 *
 * const program = Effect.gen(function* () {
 *   const first = yield* agent.run("Refund 12 EUR")
 *   if (!DeferredTools.isDeferredToolRequests(first.output)) return first.output
 *   const results = first.output.buildResults({ approveAll: true })
 *   const second = yield* agent.run(undefined, {
 *     messageHistory: first.allMessages(),
 *     deferredToolResults: results
 *   })
 *   return second.output
 * }).pipe(Effect.provide(TestModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ModelRetry, ToolFailed } from "./AgentError.js"
import { ToolCallPart } from "./Messages.js"

const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })
const ById = <S extends Schema.Schema.Any>(value: S) => Schema.Record({ key: Schema.String, value })

/**
 * Fail a tool handler with this to ask for a person's approval before it runs (pydantic-ai's
 * `ApprovalRequired`). The call is listed in `DeferredToolRequests.approvals`; when it is
 * approved the handler runs again with `RunContext.toolCallApproved = true`.
 */
export class ApprovalRequired extends Schema.TaggedError<ApprovalRequired>()("ApprovalRequired", {
  /** Shown to the approver in `DeferredToolRequests.metadata[toolCallId]`. */
  metadata: opt(Schema.Unknown)
}) {
  override get message(): string {
    return "The tool call requires approval."
  }
}

/**
 * Fail a tool handler with this to have the call's result computed outside the run (pydantic-ai's
 * `CallDeferred`): the call is listed in `DeferredToolRequests.calls`, and its result is given
 * back in `DeferredToolResults.calls`.
 */
export class CallDeferred extends Schema.TaggedError<CallDeferred>()("CallDeferred", {
  /** Given to whoever computes the result in `DeferredToolRequests.metadata[toolCallId]`. */
  metadata: opt(Schema.Unknown)
}) {
  override get message(): string {
    return "The tool call is deferred: its result comes from outside the run."
  }
}

/** What a tool handler can fail with to defer its call: `ApprovalRequired` or `CallDeferred`. */
export type Deferral = ApprovalRequired | CallDeferred

/**
 * The output of a run that stopped on deferred tool calls: the calls of the last response that
 * wait for an approval (`approvals`) or for a result from outside (`calls`), with the metadata
 * their tools attached (by tool call id). The other calls of that response have run; their
 * results are in the history.
 */
export class DeferredToolRequests extends Schema.TaggedClass<DeferredToolRequests>()(
  "DeferredToolRequests",
  {
    /** Calls whose result comes from outside (external tools, `CallDeferred`). */
    calls: Schema.Array(ToolCallPart),
    /** Calls waiting for approval (`requiresApproval`, `ApprovalRequired`). */
    approvals: Schema.Array(ToolCallPart),
    /** Metadata by tool call id (from `ApprovalRequired` / `CallDeferred`, else the tool's). */
    metadata: Schema.optionalWith(ById(Schema.Unknown), { default: () => ({}) })
  }
) {
  /**
   * The results resuming these requests (pydantic-ai's `build_results`): the given `approvals`
   * and `calls`, plus — with `approveAll` — `true` for every call waiting for approval that has
   * no decision yet. Ids not listed here are not checked: the resumed run does that.
   */
  buildResults(options: BuildResultsOptions = {}): DeferredToolResults {
    const approvals: Record<string, ApprovalResult> = {}
    if (options.approveAll === true) {
      for (const call of this.approvals) approvals[call.toolCallId] = true
    }
    Object.assign(approvals, options.approvals)
    return new DeferredToolResults({
      approvals,
      calls: { ...options.calls },
      metadata: { ...options.metadata }
    })
  }
}

/** Options of `DeferredToolRequests.buildResults`. */
export interface BuildResultsOptions {
  /** Approve every call waiting for approval that `approvals` does not decide. */
  readonly approveAll?: boolean
  readonly approvals?: Readonly<Record<string, ApprovalResult>>
  readonly calls?: Readonly<Record<string, CallResult>>
  readonly metadata?: Readonly<Record<string, unknown>>
}

/** Is this output a `DeferredToolRequests` (the run stopped on deferred calls)? */
export const isDeferredToolRequests = (u: unknown): u is DeferredToolRequests =>
  u instanceof DeferredToolRequests

/** The default message the model gets for a denied call. */
export const deniedMessage = "The tool call was denied."

/** Approves a call; `overrideArgs` replaces the arguments the model sent (decoded again). */
export class ToolApproved extends Schema.TaggedClass<ToolApproved>()("ToolApproved", {
  overrideArgs: opt(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
}) {}

/**
 * Denies a call: the tool does not run, the model gets `message` as the call's result (a tool
 * return with outcome `denied`) and the run goes on.
 */
export class ToolDenied extends Schema.TaggedClass<ToolDenied>()("ToolDenied", {
  message: Schema.optionalWith(Schema.String, { default: () => deniedMessage })
}) {}

/** The decision on a call waiting for approval: `true` / `false`, or `ToolApproved` / `ToolDenied`. */
export const ApprovalResult = Schema.Union(Schema.Boolean, ToolApproved, ToolDenied)
/** The decision on a call waiting for approval. */
export type ApprovalResult = typeof ApprovalResult.Type

/**
 * The result of a call computed outside: `ModelRetry` (the model is asked to try again, counted
 * against the tool's retries), `ToolFailed` (a failed tool return), or any other value (the
 * tool's return value).
 */
export const CallResult = Schema.Union(ModelRetry, ToolFailed, Schema.Unknown)
/** The result of a call computed outside. */
export type CallResult = typeof CallResult.Type

/**
 * What resumes a run that stopped with `DeferredToolRequests`: a result for every call it
 * listed, by tool call id — an approval decision for `approvals`, a result for `calls` (an
 * external result may also answer a call waiting for approval). Pass it with the stopped run's
 * history: `agent.run(undefined, { messageHistory, deferredToolResults })`.
 */
export class DeferredToolResults extends Schema.Class<DeferredToolResults>("DeferredToolResults")({
  /** Results of calls computed outside, by tool call id. */
  calls: Schema.optionalWith(ById(CallResult), { default: () => ({}) }),
  /** Decisions on calls waiting for approval, by tool call id. */
  approvals: Schema.optionalWith(ById(ApprovalResult), { default: () => ({}) }),
  /** Metadata for the calls that run again, by tool call id (`RunContext.toolCallMetadata`). */
  metadata: Schema.optionalWith(ById(Schema.Unknown), { default: () => ({}) })
}) {}
