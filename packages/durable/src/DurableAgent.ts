/**
 * Durable agent runs: an agent turned into a `Workflow` of `@effect/workflow`, executed by a
 * workflow engine (`@effect/cluster`'s, see `DurableRunner`) that persists every step. Each
 * model request and each tool call is an `Activity`: its result is stored once it completes
 * and is never executed again — after a crash a runner replays the run from storage and goes
 * on from the first step that had not completed. Messages and usage are rebuilt by the replay,
 * so usage limits hold across restarts.
 *
 * A tool call that needs a person's approval (`requiresApproval`, `ApprovalRequired`) or an
 * outside result (`Tool.external`, `CallDeferred`) does not end a durable run: the run waits
 * (for days if need be, holding no memory or fiber) on a `DurableDeferred` per call, and goes on
 * when each is resolved by its token with `approve`, `deny` or `provideResult` — from any
 * process of the cluster. `onDeferred` is told the calls and their tokens (once per stop).
 *
 * @example
 * ```ts
 * import { Agent, TestModel } from "@agentfx/core"
 * import { DurableAgent, DurableRunner } from "@agentfx/durable"
 * import { Effect, Layer } from "effect"
 *
 * const agent = Agent.make({ instructions: "Be brief.", model: TestModel.make() })
 * const durable = DurableAgent.make(agent, { name: "brief" })
 *
 * const program = Effect.gen(function* () {
 *   const result = yield* durable.run({ id: "greeting-1", prompt: "Hello" })
 *   return result.output
 * }).pipe(
 *   Effect.provide(durable.layer.pipe(Layer.provideMerge(DurableRunner.layerSqlite({ filename: ":memory:" }))))
 * )
 * ```
 *
 * @since 0.1.0
 */
import {
  Agent,
  AgentError,
  AgentGraph,
  DeferredTools,
  Messages,
  Model,
  ModelSettings,
  Usage
} from "@agentfx/core"
import type { Sharding } from "@effect/cluster/Sharding"
import * as Activity from "@effect/workflow/Activity"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import {
  CurrentExecution,
  durableModel,
  durableToolset,
  type ExecutionState
} from "./internal/activities.js"
import { type HubEvent, RunEvents } from "./internal/events.js"
import * as Subscription from "./internal/subscription.js"

/** The errors of an agent run, as a Schema: a durable run persists them with its result. */
export const AgentErrorSchema = Schema.Union(
  AgentError.ModelHTTPError,
  AgentError.ModelAPIError,
  AgentError.UnexpectedModelBehavior,
  AgentError.ContentFilterError,
  AgentError.UsageLimitExceeded,
  AgentError.UserError,
  AgentError.ConcurrencyLimitExceeded
)

/** What starts a durable run. `id` names the run: starting the same id again joins that run. */
export const RunInput = Schema.Struct({
  /** Your id of the run (an order number, a ticket id): the workflow's idempotency key. */
  id: Schema.String,
  /** The user prompt; omit it to continue `messageHistory`. */
  prompt: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Messages.UserContent)), {
    exact: true
  }),
  /** A conversation to continue. */
  messageHistory: Schema.optionalWith(Messages.ModelMessages, { exact: true }),
  /** Replaces the agent's usage limits for this run (they hold across restarts and waits). */
  usageLimits: Schema.optionalWith(Usage.UsageLimits, { exact: true }),
  /** Merged over the model's and the agent's settings (as `RunOptions.modelSettings`). */
  modelSettings: Schema.optionalWith(ModelSettings.ModelSettings, { exact: true }),
  /** Extra instructions for this run: static text only (an Effect cannot be persisted). */
  instructions: Schema.optionalWith(Schema.Union(Schema.String, Schema.Array(Schema.String)), {
    exact: true
  }),
  /** The conversation this run belongs to (as `RunOptions.conversationId`). */
  conversationId: Schema.optionalWith(Schema.String, { exact: true }),
  /** Metadata of the run, merged over the agent's: a JSON record (a function cannot be persisted). */
  metadata: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    exact: true
  }),
  /** Replaces the agent's `retries` (per function tool) for this run. */
  retries: Schema.optionalWith(Schema.NonNegativeInt, { exact: true }),
  /** Replaces the agent's `outputRetries` for this run. */
  outputRetries: Schema.optionalWith(Schema.NonNegativeInt, { exact: true })
})

/**
 * The input of `run` / `start`: the `RunOptions` of a core run a durable run honours, all
 * persisted with the run (a restart or a resumption sees them). Any other option fails at
 * start with a `UserError` naming it (see `unsupportedOptions`), never silently ignored.
 */
export type RunInput = Schema.Struct.Constructor<(typeof RunInput)["fields"]>

/**
 * The core `RunOptions` a durable run does not take, and why: each fails `run`, `start` and
 * `runStream` with a `UserError` (as does any other key that is not a field of `RunInput`).
 */
export const unsupportedOptions: Readonly<Record<string, string>> = {
  model: "the model is the one the durable agent was registered with (`durable.layer`)",
  outputType: "the output of a durable run is the agent's (its Schema is `MakeOptions.output`)",
  toolsets: "tools are activities of the registered agent: add them to the agent",
  steering: "a queue of this process cannot be persisted with the run",
  usage: "a durable run counts its own usage from the persisted steps",
  runId: "the run id of a durable run is its workflow execution id (from `id`)",
  eventStreamHandler: "watch a durable run with `stream` / `runStream`",
  onEvent: "watch a durable run with `stream` / `runStream`",
  deferredToolResults:
    "a durable run waits for its deferred calls: resolve them with `approve`, `deny` or `provideResult`",
  handleDeferred:
    "a durable run waits for its deferred calls (a handler of this process cannot be persisted): resolve them with `approve`, `deny` or `provideResult`, or notify with `MakeOptions.onDeferred`",
  historyProcessors: "give history processors to the agent (functions cannot be persisted)",
  builtinTools: "give built-in tools to the agent",
  capabilities:
    "give capabilities to the agent (hooks and functions of this process cannot be persisted with the run)"
}

const validateInput = Schema.validate(RunInput, { onExcessProperty: "error", errors: "all" })

/** Checks a run's input: a `UserError` for an option a durable run does not take. */
const checkInput = (input: RunInput): Effect.Effect<typeof RunInput.Type, AgentError.UserError> => {
  const keys = Object.keys(input).filter((key) => !(key in RunInput.fields))
  if (keys.length > 0) {
    return Effect.fail(
      new AgentError.UserError({
        reason: `Not supported by a durable run: ${keys
          .map((key) => `${key} (${unsupportedOptions[key] ?? "not a durable run option"})`)
          .join("; ")}`
      })
    )
  }
  return validateInput(input).pipe(
    Effect.mapError(
      (error) =>
        new AgentError.UserError({
          reason: `Invalid durable run input: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
        })
    )
  )
}

/** The output of a durable run: the agent's, without `DeferredToolRequests` (a durable run waits). */
export type Settled<A> = Exclude<A, DeferredTools.DeferredToolRequests>

/** The result of a durable run, as persisted. */
export class DurableRunResult<A> {
  constructor(
    /** The output of the run. */
    readonly output: A,
    /** Usage of the whole run (model requests replayed after a restart count once). */
    readonly usage: Usage.RunUsage,
    private readonly messages: ReadonlyArray<Messages.ModelMessage>,
    private readonly newMessageIndex: number,
    /** The workflow execution id (also the run id the agent saw). */
    readonly executionId: string
  ) {}
  /** Every message of the conversation, history included. */
  allMessages(): ReadonlyArray<Messages.ModelMessage> {
    return this.messages
  }
  /** The messages produced by this run. */
  newMessages(): ReadonlyArray<Messages.ModelMessage> {
    return this.messages.slice(this.newMessageIndex)
  }
}

/** The status of a durable run, from `poll`. */
export type RunStatus<A, E> =
  /** No result stored yet: running (or not started). */
  | { readonly _tag: "Pending" }
  /** Suspended: waiting for its deferred tool calls to be resolved (or for a resume). */
  | { readonly _tag: "Waiting" }
  | {
      readonly _tag: "Done"
      readonly exit: Exit.Exit<DurableRunResult<A>, E | AgentError.AgentError>
    }

/** A deferred tool call a durable run waits for, with the token that resolves it. */
export interface PendingCall {
  readonly toolCallId: string
  readonly toolName: string
  readonly args: Messages.ToolArgs
  /** `approval`: resolve with `approve` / `deny`; `external`: with `provideResult` (or `deny`). */
  readonly kind: "approval" | "external"
  /** What the tool attached to its deferral (`ApprovalRequired` / `CallDeferred` metadata). */
  readonly metadata: unknown
  /** Give it to `approve`, `deny` or `provideResult`, from any process of the cluster. */
  readonly token: string
}

/** A durable run stopped for deferred tool calls (given to `onDeferred`). */
export interface DeferredRequest {
  /** The run's `id` (as given to `run` / `start`). */
  readonly id: string
  readonly executionId: string
  readonly calls: ReadonlyArray<PendingCall>
  /** The conversation up to the stop (history included), to show the approver. */
  readonly messages: ReadonlyArray<Messages.ModelMessage>
}

/** A durable run stopped for deferred tool calls: resolve `calls` by their tokens. */
export class DurableWaitingEvent {
  readonly _tag = "DurableWaitingEvent" as const
  constructor(
    /** The calls the run waits for, with their tokens. */
    readonly calls: ReadonlyArray<PendingCall>,
    /** The conversation up to the stop (history included): what an approver wants to read. */
    readonly messages: ReadonlyArray<Messages.ModelMessage>
  ) {}
}

/** The last event of a durable run's stream: its result. */
export class DurableRunResultEvent<A> {
  readonly _tag = "DurableRunResultEvent" as const
  constructor(readonly result: DurableRunResult<A>) {}
}

/**
 * An event of a durable run's stream: every event `agent.runStream` emits for the same run, in
 * the same order (`PartStartEvent`, `PartDeltaEvent` while a request streams, `PartEndEvent`,
 * `FinalResultEvent`, `FunctionToolCallEvent` / `FunctionToolResultEvent`,
 * `ToolAvailabilityDeltaEvent`, `OutputToolCallEvent` / `OutputToolResultEvent`,
 * `SubAgentEvent`) but its `AgentRunResultEvent`, plus the durable ones: a stop for deferred
 * calls (`DurableWaitingEvent`) and at last the result (`DurableRunResultEvent`).
 */
export type DurableStreamEvent<A> =
  | Exclude<AgentGraph.AgentStreamEvent<unknown>, AgentGraph.AgentRunResultEvent<unknown>>
  | DurableWaitingEvent
  | DurableRunResultEvent<A>

/**
 * A durable run's stream as a core run's event stream (`Agent.AgentStreamEvent`), for the
 * encoders of `@agentfx/ui` and other consumers of `agent.runStream`: `DurableRunResultEvent`
 * becomes the `AgentRunResultEvent` (its run id is the execution id), stops for deferred calls
 * (`DurableWaitingEvent`) are left out.
 */
export const toAgentStream = <A, E, R>(
  events: Stream.Stream<DurableStreamEvent<A>, E, R>
): Stream.Stream<AgentGraph.AgentStreamEvent<A>, E, R> =>
  Stream.filterMap(events, (event) => {
    switch (event._tag) {
      case "DurableWaitingEvent":
        return Option.none()
      case "DurableRunResultEvent": {
        const r = event.result
        return Option.some(
          new AgentGraph.AgentRunResultEvent(
            new AgentGraph.AgentRunResult(
              r.output,
              r.usage,
              r.allMessages(),
              r.allMessages().length - r.newMessages().length,
              r.executionId
            )
          )
        )
      }
      default:
        return Option.some(event)
    }
  })

/** An agent whose runs are durable workflows. */
export interface DurableAgent<A, E, R> {
  /** The workflow's name (`agentfx/{name}`). */
  readonly name: string
  /** The agent, with its tools wrapped as activities. */
  readonly agent: Agent.Agent<A, E, R>
  /** The underlying workflow (for `@effect/workflow` APIs). */
  readonly workflow: Workflow.Workflow<
    any,
    typeof RunInput,
    Schema.Schema<RunOutcome<Settled<A>>, any>,
    Schema.Schema<any, any>
  >
  /**
   * Registers the workflow with the engine: the runner executes (and, after a restart,
   * resumes) this agent's runs and serves the subscriptions to their events. Needs the agent's
   * services (its model, its tools' services) and a runner (`DurableRunner`).
   */
  readonly layer: Layer.Layer<never, never, WorkflowEngine | Sharding | R>
  /** Runs (or joins the run with this `id`) and waits for its result. */
  readonly run: (
    input: RunInput
  ) => Effect.Effect<DurableRunResult<Settled<A>>, E | AgentError.AgentError, WorkflowEngine>
  /**
   * Starts the run with this `id` (if it is not started yet) and returns its execution id.
   * An option a durable run does not take fails with a `UserError` (see `unsupportedOptions`).
   */
  readonly start: (input: RunInput) => Effect.Effect<string, AgentError.UserError, WorkflowEngine>
  /** The execution id of the run with this `id` (the same on every runner). */
  readonly executionId: (id: string) => Effect.Effect<string>
  /**
   * The token resolving the deferred tool call `toolCallId` of the run with this `id` (at the
   * first stop with that call id: a call id the model reuses at a later stop gets another
   * token, given by `onDeferred` and `DurableWaitingEvent`).
   */
  readonly token: (id: string, toolCallId: string) => Effect.Effect<string>
  /** The status of a run by execution id. */
  readonly poll: (
    executionId: string
  ) => Effect.Effect<RunStatus<Settled<A>, E>, never, WorkflowEngine>
  /** Interrupts a run by execution id (it ends with an interruption). */
  readonly interrupt: (executionId: string) => Effect.Effect<void, never, WorkflowEngine>
  /**
   * The events of the run with this `id`, from any process of the cluster (they come from the
   * runner executing the run): the steps completed so far (whole parts, tool calls and
   * results; from position `from` on when given, see `position`), then each step as it
   * executes (model deltas while a request streams), stops for deferred calls, and at last its
   * result (or its error). When that runner dies, the stream goes on with the events of the
   * runner that resumes the run, from where it was: nothing is told twice (but a part of
   * a model response cut short by the crash, or answered differently when the model is asked
   * again, is told again from its `PartStartEvent`). Interrupting the stream
   * leaves the run going.
   */
  readonly stream: (
    id: string,
    options?: StreamOptions
  ) => Stream.Stream<
    DurableStreamEvent<Settled<A>>,
    E | AgentError.AgentError,
    WorkflowEngine | Sharding
  >
  /** Starts the run with this `id` (or joins it) and streams its events (see `stream`). */
  readonly runStream: (
    input: RunInput
  ) => Stream.Stream<
    DurableStreamEvent<Settled<A>>,
    E | AgentError.AgentError,
    WorkflowEngine | Sharding
  >
}

/** Options of `stream`. */
export interface StreamOptions {
  /**
   * Skip the events before this position (default 0: every event of the run). Give the
   * `position` of the last event you handled + 1 to go on where a previous stream stopped.
   */
  readonly from?: number
}

/**
 * The position of an event of a durable stream in its run: the n-th event of the run
 * (counted from 0, the same on every runner and every replay). `undefined` for the events that
 * are not numbered: `PartDeltaEvent`s and `SubAgentEvent`s (told live only — a replay has
 * none) and the `DurableRunResultEvent`. Resume a stream with `{ from: position + 1 }`.
 */
export const position = (event: DurableStreamEvent<unknown>): number | undefined =>
  Subscription.positions.get(event)

/** What a run's workflow returns (persisted). */
export interface RunOutcome<A> {
  /** The workflow execution id (stored with the result: `run` needs no second hash of the id). */
  readonly executionId: string
  readonly output: A
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly newMessageIndex: number
  readonly usage: Usage.RunUsage
}

/** Options of `make`. */
export interface MakeOptions<A, E, RD = never> {
  /** Names the workflow (`agentfx/{name}`): unique per agent in a cluster, stable across deploys. */
  readonly name: string
  /**
   * The Schema of the agent's output: outputs are persisted as its encoded form. Default: the
   * output is stored as a JSON value (right for text and plain JSON objects).
   */
  readonly output?: Schema.Schema<Settled<A>, any>
  /**
   * The Schema of the tools' own typed errors, to persist them. Errors not covered by it (nor
   * by the agent errors) end the run as defects.
   */
  readonly error?: Schema.Schema<E, any>
  /**
   * Told when a run stops for deferred tool calls, with their tokens: notify the approver here
   * (an e-mail, a ticket). Runs as an activity: once per stop, not again after a restart.
   */
  readonly onDeferred?: (request: DeferredRequest) => Effect.Effect<void, never, RD>
  /**
   * While someone streams a run (`stream`, `runStream`), its model requests are streamed
   * requests and their deltas reach the subscribers (default `true`). `false`: requests are
   * never streamed (for a model without streaming); subscribers see each response whole.
   */
  readonly streaming?: boolean
}

// -- resolutions of deferred calls ------------------------------------------------------------

/** The result of an external tool call, given with `provideResult`. */
export class ExternalResult extends Schema.TaggedClass<ExternalResult>()("ExternalResult", {
  value: Schema.Unknown
}) {}

/** How a person (or another system) resolved a deferred tool call; persisted by the engine. */
export const Resolution = Schema.Union(
  DeferredTools.ToolApproved,
  DeferredTools.ToolDenied,
  ExternalResult,
  AgentError.ModelRetry,
  AgentError.ToolFailed
)

/** A resolution of a deferred tool call. */
export type Resolution = typeof Resolution.Type

/**
 * The deferred a call waits on, by its key: the call id, or — for a call id the run already
 * waited on at an earlier stop (a model reusing its ids) — `{toolCallId}@{round}`, so that
 * the earlier decision does not resolve the new call.
 */
const deferredFor = (key: string) =>
  DurableDeferred.make(`agentfx/deferred/${key}`, { success: Resolution })

/** Any resolution deferred: `done` takes the deferred's name from the token. */
const anyDeferred = deferredFor("*")

const decodeToken = Schema.decodeUnknown(DurableDeferred.TokenParsed.FromString)

const resolve = (token: string, resolution: Resolution) =>
  decodeToken(token).pipe(
    Effect.mapError(
      (error) =>
        new AgentError.UserError({
          reason: `Not a deferred tool call token: ${ParseResult.TreeFormatter.formatErrorSync(error)}`
        })
    ),
    Effect.flatMap(() =>
      DurableDeferred.done(anyDeferred, {
        token: token as DurableDeferred.Token,
        exit: Exit.succeed(resolution)
      })
    )
  )

/**
 * Approves the deferred tool call with this token: the tool runs (with `overrideArgs` instead
 * of the model's arguments when given) and the run goes on.
 */
export const approve = (
  token: string,
  options?: { readonly overrideArgs?: Record<string, unknown> }
): Effect.Effect<void, AgentError.UserError, WorkflowEngine> =>
  resolve(
    token,
    DeferredTools.ToolApproved.make(
      options?.overrideArgs === undefined ? {} : { overrideArgs: options.overrideArgs }
    )
  ).pipe(Effect.withSpan("DurableAgent.approve"))

/**
 * Denies the deferred tool call with this token: the model gets a `denied` tool return with
 * `message` (default "The tool call was denied."); for an external call, a failed tool return.
 */
export const deny = (
  token: string,
  message?: string
): Effect.Effect<void, AgentError.UserError, WorkflowEngine> =>
  resolve(token, DeferredTools.ToolDenied.make(message === undefined ? {} : { message })).pipe(
    Effect.withSpan("DurableAgent.deny")
  )

/**
 * Gives the result of an external tool call (a JSON value), or a `ModelRetry` / `ToolFailed`
 * to send the model a retry prompt / a failed tool return.
 */
export const provideResult = (
  token: string,
  result: unknown
): Effect.Effect<void, AgentError.UserError, WorkflowEngine> =>
  resolve(
    token,
    result instanceof AgentError.ModelRetry || result instanceof AgentError.ToolFailed
      ? result
      : ExternalResult.make({ value: result })
  ).pipe(Effect.withSpan("DurableAgent.provideResult"))

/** The `DeferredToolResults` of a resumed run, from the resolutions of its deferred calls. */
const toResults = (
  requests: DeferredTools.DeferredToolRequests,
  resolutions: ReadonlyMap<string, Resolution>
): DeferredTools.DeferredToolResults => {
  const approvals: Record<string, DeferredTools.ApprovalResult> = {}
  const calls: Record<string, DeferredTools.CallResult> = {}
  for (const call of requests.approvals) {
    const r = resolutions.get(call.toolCallId)
    approvals[call.toolCallId] =
      r instanceof DeferredTools.ToolApproved || r instanceof DeferredTools.ToolDenied
        ? r
        : DeferredTools.ToolDenied.make({
            message: "The approver answered with a result instead of an approval."
          })
  }
  for (const call of requests.calls) {
    const r = resolutions.get(call.toolCallId)
    calls[call.toolCallId] =
      r instanceof ExternalResult
        ? r.value
        : r instanceof DeferredTools.ToolDenied
          ? new AgentError.ToolFailed({ reason: r.message })
          : r instanceof DeferredTools.ToolApproved
            ? new AgentError.ToolFailed({ reason: "The call was approved but given no result." })
            : (r as AgentError.ModelRetry | AgentError.ToolFailed)
  }
  return DeferredTools.DeferredToolResults.make({ approvals, calls })
}

const resolveModel = (input: Agent.Agent<any, any, any>["config"]["model"]) => {
  if (input === undefined) return Model.Model
  if (typeof input === "string") {
    return Effect.flatMap(Model.ModelRegistry, (registry) => registry.resolve(input))
  }
  if (Layer.isLayer(input)) {
    return Effect.map(Layer.build(input as Layer.Layer<Model.Model, any, any>), (ctx) =>
      Context.get(ctx, Model.Model)
    )
  }
  return Effect.succeed(input as Model.Service)
}

/**
 * Turns an agent into a durable workflow. Register it on a runner with `durable.layer` (and
 * a `DurableRunner` layer), then `run` / `start` runs by id.
 */
export const make = <A, E, R, RD = never>(
  agent: Agent.Agent<A, E, R>,
  options: MakeOptions<A, E, RD>
): DurableAgent<A, E, R | RD> => {
  const outputSchema: Schema.Schema<Settled<A>, any> = options.output ?? (Schema.Unknown as any)
  const errorSchema: Schema.Schema<any, any> =
    options.error === undefined ? AgentErrorSchema : Schema.Union(AgentErrorSchema, options.error)
  const isPersistableError = Schema.is(errorSchema)
  const successSchema = Schema.Struct({
    executionId: Schema.String,
    output: outputSchema,
    messages: Messages.ModelMessages,
    newMessageIndex: Schema.Number,
    usage: Usage.RunUsage
  }) as unknown as Schema.Schema<RunOutcome<Settled<A>>, any>
  const name = `agentfx/${options.name}`
  const workflow = Workflow.make({
    name,
    payload: RunInput,
    success: successSchema,
    error: errorSchema,
    idempotencyKey: (input) => input.id
  })
  const durableAgent: Agent.Agent<A, E, R> = Agent.fromConfig({
    ...agent.config,
    toolset: durableToolset(agent.config.toolset)
  })
  const events = new RunEvents()
  const tokenFor = (executionId: string, key: string) =>
    DurableDeferred.tokenFromExecutionId(deferredFor(key), { workflow, executionId })

  /** Stopped for deferred calls: tell `onDeferred` (once), then wait for every resolution. */
  const awaitResolutions = (
    input: typeof RunInput.Type,
    state: ExecutionState,
    round: number,
    requests: DeferredTools.DeferredToolRequests,
    messages: ReadonlyArray<Messages.ModelMessage>,
    waitedOn: Set<string>
  ) =>
    Effect.gen(function* () {
      const executionId = state.executionId
      const keyOf = (toolCallId: string) =>
        waitedOn.has(toolCallId) ? `${toolCallId}@${round}` : toolCallId
      const keys = new Map(
        [...requests.approvals, ...requests.calls].map((call) => [
          call.toolCallId,
          keyOf(call.toolCallId)
        ])
      )
      for (const toolCallId of keys.keys()) waitedOn.add(toolCallId)
      const pending = (
        calls: ReadonlyArray<Messages.ToolCallPart>,
        kind: PendingCall["kind"]
      ): Array<PendingCall> =>
        calls.map((call) => ({
          toolCallId: call.toolCallId,
          toolName: call.toolName,
          args: call.args,
          kind,
          metadata: requests.metadata[call.toolCallId],
          token: tokenFor(executionId, keys.get(call.toolCallId)!)
        }))
      const calls = [
        ...pending(requests.approvals, "approval"),
        ...pending(requests.calls, "external")
      ]
      events.told(executionId, state.position++, { _tag: "Waiting", round, calls, messages })
      const onDeferred = options.onDeferred
      if (onDeferred !== undefined) {
        yield* Activity.make({
          name: `agentfx/deferred-notify/${round}`,
          execute: onDeferred({ id: input.id, executionId, calls, messages })
        })
      }
      const resolutions = new Map<string, Resolution>()
      for (const call of calls) {
        resolutions.set(
          call.toolCallId,
          yield* DurableDeferred.await(deferredFor(keys.get(call.toolCallId)!))
        )
      }
      return toResults(requests, resolutions)
    })

  const execute = (model: Model.Service) => (input: typeof RunInput.Type, executionId: string) =>
    Effect.gen(function* () {
      const context = yield* Effect.context<WorkflowEngine | WorkflowInstance>()
      const state: ExecutionState = {
        executionId,
        modelStep: 0,
        round: 0,
        toolCalls: [],
        context,
        events,
        position: 0
      }
      // Every event the run loop emits (those of `agent.runStream`), by its position in the run.
      // Deltas and sub-agent events are told live only (a replayed step has none): not numbered.
      const onEvent = (event: AgentGraph.AgentStreamEvent<unknown>): void => {
        if (event._tag === "AgentRunResultEvent") return
        if (event._tag === "PartDeltaEvent" || event._tag === "SubAgentEvent") {
          events.delta(executionId, state.position, event)
        } else {
          events.told(executionId, state.position++, event)
        }
      }
      // Core starts a conversation with a random id when neither the run nor its history names
      // one (or when asked for a `"new"` one): every replay would stamp another id on the
      // messages and show tools another `conversationId` than the execution before it did.
      // The execution id names that conversation instead, the same in every execution.
      const conversationId =
        (input.conversationId === undefined
          ? Messages.conversationIdOf(input.messageHistory)
          : input.conversationId === "new"
            ? undefined
            : input.conversationId) ?? executionId
      let prompt: typeof input.prompt = input.prompt
      let messageHistory = input.messageHistory
      let usage: Usage.RunUsage | undefined
      let deferredToolResults: DeferredTools.DeferredToolResults | undefined
      // The call ids the run waited on so far (rebuilt by every replay, like the rest).
      const waitedOn = new Set<string>()
      while (true) {
        const result = yield* durableAgent
          .run(prompt, {
            model,
            runId: executionId,
            onEvent,
            ...(messageHistory !== undefined ? { messageHistory } : {}),
            ...(input.usageLimits !== undefined ? { usageLimits: input.usageLimits } : {}),
            ...(input.modelSettings !== undefined ? { modelSettings: input.modelSettings } : {}),
            ...(input.instructions !== undefined ? { instructions: input.instructions } : {}),
            conversationId,
            ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
            ...(input.retries !== undefined ? { retries: input.retries } : {}),
            ...(input.outputRetries !== undefined ? { outputRetries: input.outputRetries } : {}),
            ...(usage !== undefined ? { usage } : {}),
            ...(deferredToolResults !== undefined ? { deferredToolResults } : {})
          })
          .pipe(Effect.provideService(CurrentExecution, state))
        if (!DeferredTools.isDeferredToolRequests(result.output)) {
          return {
            executionId,
            output: result.output as Settled<A>,
            messages: result.allMessages(),
            newMessageIndex: input.messageHistory?.length ?? 0,
            usage: result.usage
          }
        }
        state.round += 1
        deferredToolResults = yield* awaitResolutions(
          input,
          state,
          state.round,
          result.output,
          result.allMessages(),
          waitedOn
        )
        prompt = undefined
        messageHistory = result.allMessages()
        usage = result.usage
      }
    }).pipe(
      Effect.catchAll((error) =>
        isPersistableError(error) ? Effect.fail(error) : Effect.die(error)
      ),
      Effect.onExit((exit) =>
        Effect.sync(() => {
          // Interrupted: the run suspended (it waits for a person) or its runner stops.
          if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) {
            events.suspended(executionId)
          } else {
            events.end(executionId, exit)
          }
        })
      )
    )

  const subscriptions = Subscription.make({
    name: options.name,
    events,
    storedEnd: (executionId) =>
      Effect.map(workflow.poll(executionId), (result) =>
        result !== undefined && result._tag === "Complete" ? result.exit : undefined
      ),
    success: successSchema,
    error: errorSchema
  })

  const layer = Layer.merge(
    Layer.unwrapScoped(
      Effect.map(resolveModel(agent.config.model), (base) =>
        workflow.toLayer(execute(durableModel(base, options.streaming ?? true)))
      )
    ),
    subscriptions.layer
  ) as unknown as Layer.Layer<never, never, WorkflowEngine | Sharding | R | RD>

  const toResult = (executionId: string) => (outcome: RunOutcome<Settled<A>>) =>
    new DurableRunResult(
      outcome.output,
      outcome.usage,
      outcome.messages,
      outcome.newMessageIndex,
      executionId
    )

  /** A subscription's event as the public one; the run's end ends the stream. */
  const toEvent =
    (executionId: string) =>
    (event: HubEvent): Effect.Effect<DurableStreamEvent<Settled<A>>, E | AgentError.AgentError> => {
      switch (event._tag) {
        case "Waiting": {
          const waiting = new DurableWaitingEvent(
            event.calls as Array<PendingCall>,
            event.messages as Array<Messages.ModelMessage>
          )
          const at = Subscription.positions.get(event)
          if (at !== undefined) Subscription.positions.set(waiting, at)
          return Effect.succeed(waiting)
        }
        case "End":
          return Exit.matchEffect(
            event.exit as Exit.Exit<RunOutcome<Settled<A>>, E | AgentError.AgentError>,
            {
              onFailure: Effect.failCause,
              onSuccess: (outcome) =>
                Effect.succeed(new DurableRunResultEvent(toResult(executionId)(outcome)))
            }
          )
        default:
          return Effect.succeed(event)
      }
    }

  /** The events of a run from `from` on; `subscribed` runs once the subscription is in place. */
  const streamRun = <R2 = never>(
    executionId: string,
    from: number,
    subscribed?: Effect.Effect<void, never, R2>
  ): Stream.Stream<
    DurableStreamEvent<Settled<A>>,
    E | AgentError.AgentError,
    WorkflowEngine | Sharding | R2
  > =>
    subscriptions.stream(executionId, from, subscribed).pipe(Stream.mapEffect(toEvent(executionId)))

  return {
    name,
    agent: durableAgent,
    workflow: workflow as any,
    layer,
    run: Effect.fn("DurableAgent.run")(function* (input: RunInput) {
      const outcome = yield* workflow.execute(yield* checkInput(input))
      return toResult(outcome.executionId)(outcome)
    }),
    start: (input) =>
      Effect.flatMap(checkInput(input), (checked) =>
        workflow.execute(checked, { discard: true })
      ).pipe(Effect.withSpan("DurableAgent.start")),
    executionId: (id) => workflow.executionId({ id }),
    token: (id, toolCallId) =>
      Effect.map(workflow.executionId({ id }), (executionId) => tokenFor(executionId, toolCallId)),
    poll: (executionId) =>
      Effect.map(workflow.poll(executionId), (result): RunStatus<Settled<A>, E> => {
        if (result === undefined) return { _tag: "Pending" }
        if (result._tag === "Suspended") return { _tag: "Waiting" }
        return { _tag: "Done", exit: Exit.map(result.exit, toResult(executionId)) }
      }),
    interrupt: (executionId) => workflow.interrupt(executionId),
    stream: (id, streamOptions) => {
      const from = streamOptions?.from ?? 0
      if (!Number.isSafeInteger(from) || from < 0) {
        return Stream.fail(
          new AgentError.UserError({
            reason: `stream: \`from\` must be a position (an integer ≥ 0), got ${from}`
          })
        )
      }
      return Stream.unwrap(
        Effect.map(workflow.executionId({ id }), (executionId) => streamRun(executionId, from))
      )
    },
    runStream: (input) =>
      Stream.unwrap(
        Effect.flatMap(checkInput(input), (checked) =>
          Effect.map(workflow.executionId({ id: checked.id }), (executionId) =>
            // Started once the subscription is in place: its first request streams live.
            streamRun(executionId, 0, workflow.execute(checked, { discard: true }))
          )
        )
      )
  }
}
