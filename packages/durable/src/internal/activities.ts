/**
 * The model and the tools of a durable run, wrapped so that each model request and each tool
 * call is an `Activity` of `@effect/workflow`: executed once, its exit persisted by the
 * workflow engine, and returned from storage when the workflow replays after a restart.
 *
 * Activities are made once per name and reused (for every run and every replay): the step's
 * work reaches the activity through the `StepWork` service of the caller's context, which the
 * engine runs the activity in. `@effect/workflow` decodes an activity's persisted exit with
 * the activity's own exit Schema; a fresh `Activity.make` per call means a fresh Schema whose
 * parser is compiled again on every step (a quarter of the engine's CPU per step measured in
 * bench/durable.mjs), a reused one is compiled once.
 */
import { AgentError, DeferredTools, Messages, type Model, RunContext, Toolset } from "@agentfx/core"
import * as Activity from "@effect/workflow/Activity"
import type { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Mailbox from "effect/Mailbox"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { RunEvents } from "./events.js"

/**
 * What one execution of a durable run counts as it goes. Rebuilt from zero on every replay,
 * so the n-th model request of a replay gets the n-th persisted response: the run loop is
 * deterministic given the same responses and tool results.
 */
export interface ExecutionState {
  /** The workflow execution id (the run id the agent sees). */
  readonly executionId: string
  /** Model requests made so far in this execution (the key of the next one is this + 1). */
  modelStep: number
  /**
   * How many times the run stopped for deferred tool calls and was resumed: the approved
   * call of a resumed run is a new activity (its first call persisted `ApprovalRequired`).
   */
  round: number
  /** The tool calls of the latest model response, in order (they name tool activities). */
  toolCalls: ReadonlyArray<Messages.ToolCallPart>
  /** The workflow's services, provided to activities started from inside the run loop. */
  readonly context: Context.Context<WorkflowEngine | WorkflowInstance>
  /** Where the run's events go (`DurableAgent.stream`). */
  readonly events: RunEvents
  /** Numbered events of the run told so far in this execution (the position of the next one). */
  position: number
}

/** The state of the execution a model request or a tool call belongs to. */
export class CurrentExecution extends Context.Tag("@agentfx/durable/CurrentExecution")<
  CurrentExecution,
  ExecutionState
>() {}

/** The work of the step an activity stands for, provided by its caller. */
class StepWork extends Context.Tag("@agentfx/durable/StepWork")<
  StepWork,
  Effect.Effect<unknown, unknown>
>() {}

/** The errors a model request can fail with, as a Schema (persisted with the activity). */
export const ModelErrorSchema = Schema.Union(
  AgentError.ModelHTTPError,
  AgentError.ModelAPIError,
  AgentError.UnexpectedModelBehavior,
  AgentError.ContentFilterError,
  AgentError.UserError,
  AgentError.ConcurrencyLimitExceeded
)

/**
 * The failures of a tool call the run loop handles: retry prompt, failed tool return, and the
 * deferrals that stop the run for a person's approval or an outside result.
 */
export const ToolErrorSchema = Schema.Union(
  AgentError.ModelRetry,
  AgentError.ToolFailed,
  DeferredTools.ApprovalRequired,
  DeferredTools.CallDeferred
)

const isToolError = Schema.is(ToolErrorSchema)

/**
 * A tool's own typed errors (other than those above) cannot be persisted
 * without their Schema: they become defects, which the engine persists (name and message),
 * so a replay ends the run the same way.
 */
const toolFailure = (error: unknown): Effect.Effect<never, typeof ToolErrorSchema.Type> =>
  isToolError(error) ? Effect.fail(error) : Effect.die(error)

/** The activity name of the n-th model request of an execution. */
export const modelActivityName = (step: number): string => `agentfx/model/${step}`

/**
 * The activity name of a tool call: the resumption round, the model step that asked for it,
 * the call's position in that response (its id when not found there), and whether it runs
 * approved.
 */
export const toolActivityName = (state: ExecutionState, run: RunContext.Service): string => {
  const index =
    run.toolCallId === undefined
      ? -1
      : state.toolCalls.findIndex((call) => call.toolCallId === run.toolCallId)
  const call = index >= 0 ? String(index) : `${run.toolCallId ?? `#${run.retry}`}/${run.toolName}`
  return `agentfx/tool/${state.round}/${state.modelStep}/${call}${
    run.toolCallApproved === true ? "/approved" : ""
  }`
}

/** Activities by name; bounded (names past the bound get a fresh activity each time). */
const activities = new Map<string, Activity.Any>()
const maxCachedActivities = 10_000

const activityFor = (
  name: string,
  success: Schema.Schema.Any,
  error: Schema.Schema.All
): Activity.Any => {
  let activity = activities.get(name)
  if (activity === undefined) {
    activity = Activity.make({
      name,
      success,
      error,
      execute: Effect.flatten(StepWork)
    }) as Activity.Any
    if (activities.size < maxCachedActivities) activities.set(name, activity)
  }
  return activity
}

/** Runs `work` as the activity `name` of the execution `state`. */
const runActivity = <A, E>(
  state: ExecutionState,
  name: string,
  success: Schema.Schema<A, any>,
  error: Schema.Schema<E, any>,
  work: Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  (activityFor(name, success, error) as unknown as Effect.Effect<A, E, StepWork>).pipe(
    Effect.provideService(StepWork, work),
    Effect.provide(state.context)
  )

/**
 * The whole form of a response, as events: every part started, then every part ended (as the
 * run loop tells a streamed response: a part ends when the response does). Built from a
 * decoded response: no validation needed.
 */
const responseEvents = (
  response: Messages.ModelResponse
): Array<Messages.ModelResponseStreamEvent> => [
  ...response.parts.map((part, index) => new Messages.PartStartEvent({ index, part }, true)),
  ...response.parts.map((part, index) => new Messages.PartEndEvent({ index, part }, true)),
  new Messages.ResponseCompleteEvent({ response }, true)
]

/**
 * The model of a durable run: each request is an activity named after the request's position
 * in the run, persisted whole. The run loop (which streams its requests: the durable body runs
 * with `onEvent`) reads the response as events:
 *
 * - while someone watches the run (`DurableAgent.stream`) and `streaming` is on, an executing
 *   request is a streamed request inside its activity and its events reach the loop as they
 *   come, so the loop tells parts, deltas and `FinalResultEvent` in core's order;
 * - otherwise (nobody watching, or the step replayed from storage) the loop reads the whole
 *   response as events: every part started, then every part ended.
 */
export const durableModel = (base: Model.Service, streaming: boolean): Model.Service => {
  /** Runs `work` as the step's activity; remembers the response's tool calls (they name tools). */
  const step = (
    state: ExecutionState,
    work: Effect.Effect<Messages.ModelResponse, AgentError.ModelError>
  ) => {
    state.modelStep += 1
    return runActivity(
      state,
      modelActivityName(state.modelStep),
      Messages.ModelResponse,
      ModelErrorSchema,
      work
    ).pipe(
      Effect.tap((response) =>
        Effect.sync(() => {
          state.toolCalls = response.parts.filter(
            (part): part is Messages.ToolCallPart => part._tag === "ToolCallPart"
          )
        })
      )
    )
  }
  const whole = (response: Messages.ModelResponse): Model.StreamedResponse => ({
    modelName: base.modelName,
    response: Effect.succeed(response),
    events: Stream.fromIterable(responseEvents(response))
  })
  const request: Model.Service["request"] = (messages, settings, parameters) =>
    Effect.flatMap(CurrentExecution, (state) =>
      step(state, base.request(messages, settings, parameters))
    ) as Effect.Effect<Messages.ModelResponse, AgentError.ModelError>
  const requestStream: Model.Service["requestStream"] = (messages, settings, parameters) =>
    Effect.flatMap(CurrentExecution, (state) => {
      if (!(streaming && state.events.watched(state.executionId))) {
        return Effect.map(step(state, base.request(messages, settings, parameters)), whole)
      }
      return Effect.gen(function* () {
        const events = yield* Mailbox.make<
          Messages.ModelResponseStreamEvent,
          AgentError.ModelError
        >()
        // The partial response so far, for a request cut short (the loop keeps it as interrupted).
        let snapshot: Effect.Effect<Messages.ModelResponse> | undefined
        // Executed now (not replayed from storage): its events go to the loop as they come.
        const work = Effect.scoped(
          Effect.flatMap(base.requestStream(messages, settings, parameters), (streamed) => {
            snapshot = streamed.response
            return Stream.runForEachChunk(streamed.events, (chunk) =>
              Effect.sync(() => {
                // The activity's result ends the stream (it is what the loop continues with).
                events.unsafeOfferAll(
                  Chunk.filter(chunk, (event) => event._tag !== "ResponseCompleteEvent")
                )
              })
            ).pipe(Effect.zipRight(streamed.response))
          })
        )
        yield* step(state, work).pipe(
          Effect.matchCauseEffect({
            onFailure: (cause) => events.failCause(cause),
            onSuccess: (response) =>
              Effect.zipRight(
                Effect.sync(() =>
                  events.unsafeOfferAll(
                    snapshot === undefined
                      ? responseEvents(response)
                      : [new Messages.ResponseCompleteEvent({ response }, true)]
                  )
                ),
                events.end
              )
          }),
          Effect.forkScoped
        )
        return {
          modelName: base.modelName,
          response: Effect.suspend(
            () => snapshot ?? Effect.succeed(new Messages.ModelResponse({ parts: [] }, true))
          ),
          events: Mailbox.toStream(events)
        } satisfies Model.StreamedResponse
      })
    }) as Effect.Effect<Model.StreamedResponse, AgentError.ModelError, Scope.Scope>
  return {
    modelName: base.modelName,
    system: base.system,
    profile: base.profile,
    settings: base.settings,
    request,
    requestStream
  }
}

const durableTool = (tool: Toolset.ToolsetTool<any, any>): Toolset.ToolsetTool<any, any> => ({
  ...tool,
  call: (args) =>
    Effect.flatMap(Effect.context<RunContext.RunContext | CurrentExecution>(), (ctx) => {
      const run = Context.get(ctx, RunContext.RunContext)
      const state = Context.get(ctx, CurrentExecution)
      // Tool results are persisted as `ToolReturnContent`: JSON values, with files and tool
      // references (a tool search's result) kept as their classes through a replay.
      const work = Effect.suspend(() => Effect.catchAll(tool.call(args), toolFailure))
      return runActivity(
        state,
        toolActivityName(state, run),
        Messages.ToolReturnContent,
        ToolErrorSchema,
        work as Effect.Effect<unknown, typeof ToolErrorSchema.Type>
      )
    })
})

/** The toolset of a durable run: every function tool call is an activity. */
export const durableToolset = (toolset: Toolset.Any): Toolset.Any =>
  Toolset.make(
    (ctx) => Effect.map(toolset.tools(ctx), (tools) => tools.map(durableTool)),
    toolset.fixed?.map(durableTool)
  )
