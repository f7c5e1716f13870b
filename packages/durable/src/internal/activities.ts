/**
 * The model and the tools of a durable run, wrapped so that each model request and each tool
 * call is an `Activity` of `@effect/workflow`: executed once, its exit persisted by the
 * workflow engine, and returned from storage when the workflow replays after a restart.
 */
import { AgentError, DeferredTools, Messages, type Model, RunContext, Toolset } from "@agentfx/core"
import * as Activity from "@effect/workflow/Activity"
import type { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/**
 * What one execution of a durable run counts as it goes. Rebuilt from zero on every replay,
 * so the n-th model request of a replay gets the n-th persisted response: the run loop is
 * deterministic given the same responses and tool results.
 */
export interface ExecutionState {
  /** Model requests made so far in this execution (the key of the next one is this + 1). */
  modelStep: number
  /**
   * How many times the run stopped for deferred tool calls and was resumed: the approved
   * call of a resumed run is a new activity (its first call persisted `ApprovalRequired`).
   */
  round: number
  /** The workflow's services, provided to activities started from inside the run loop. */
  readonly context: Context.Context<WorkflowEngine | WorkflowInstance>
}

/** The state of the execution a model request or a tool call belongs to. */
export class CurrentExecution extends Context.Tag("@agentfx/durable/CurrentExecution")<
  CurrentExecution,
  ExecutionState
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
 * the call's id and name, and whether it runs approved.
 */
export const toolActivityName = (
  state: ExecutionState,
  run: RunContext.Service,
  toolName: string
): string =>
  `agentfx/tool/${state.round}/${state.modelStep}/${run.toolCallId ?? `#${run.retry}`}/${toolName}${
    run.toolCallApproved === true ? "/approved" : ""
  }`

/**
 * The model of a durable run: `request` is an activity named after the request's position in
 * the run. A streamed request is made whole inside the activity and replayed as one part per
 * response part (durable runs persist responses, not their deltas).
 */
export const durableModel = (base: Model.Service): Model.Service => {
  const request: Model.Service["request"] = (messages, settings, parameters) =>
    Effect.flatMap(CurrentExecution, (state) => {
      state.modelStep += 1
      const activity = Activity.make({
        name: modelActivityName(state.modelStep),
        success: Messages.ModelResponse,
        error: ModelErrorSchema,
        execute: base.request(messages, settings, parameters)
      })
      return Effect.provide(activity, state.context)
    }) as Effect.Effect<Messages.ModelResponse, AgentError.ModelError>
  return {
    modelName: base.modelName,
    system: base.system,
    profile: base.profile,
    settings: base.settings,
    request,
    requestStream: (messages, settings, parameters) =>
      Effect.map(request(messages, settings, parameters), (response) => ({
        modelName: base.modelName,
        response: Effect.succeed(response),
        events: Stream.fromIterable<Messages.ModelResponseStreamEvent>([
          ...response.parts.flatMap((part, index) => [
            new Messages.PartStartEvent({ index, part }),
            new Messages.PartEndEvent({ index, part })
          ]),
          new Messages.ResponseCompleteEvent({ response })
        ])
      }))
  }
}

const durableTool = (tool: Toolset.ToolsetTool<any, any>): Toolset.ToolsetTool<any, any> => ({
  ...tool,
  call: (args) =>
    Effect.flatMap(Effect.context<RunContext.RunContext | CurrentExecution>(), (ctx) => {
      const run = Context.get(ctx, RunContext.RunContext)
      const state = Context.get(ctx, CurrentExecution)
      const activity = Activity.make({
        name: toolActivityName(state, run, tool.definition.name),
        // Tool results are persisted as JSON values: on a replay the run (and the model) sees
        // the JSON form of what the tool returned.
        success: Schema.Unknown,
        error: ToolErrorSchema,
        execute: Effect.catchAll(tool.call(args), toolFailure)
      })
      return Effect.provide(activity, state.context)
    })
})

/** The toolset of a durable run: every function tool call is an activity. */
export const durableToolset = (toolset: Toolset.Any): Toolset.Any =>
  Toolset.make(
    (ctx) => Effect.map(toolset.tools(ctx), (tools) => tools.map(durableTool)),
    toolset.fixed?.map(durableTool)
  )
