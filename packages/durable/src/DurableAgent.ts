/**
 * Durable agent runs: an agent turned into a `Workflow` of `@effect/workflow`, executed by a
 * workflow engine (`@effect/cluster`'s, see `DurableRunner`) that persists every step. Each
 * model request and each tool call is an `Activity`: its result is stored once it completes
 * and is never executed again — after a crash a runner replays the run from storage and goes
 * on from the first step that had not completed. Messages and usage are rebuilt by the replay,
 * so usage limits hold across restarts.
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
import { Agent, AgentError, Messages, Model, Usage } from "@agentfx/core"
import * as Workflow from "@effect/workflow/Workflow"
import type { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { CurrentExecution, durableModel, durableToolset } from "./internal/activities.js"

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
  /** Replaces the agent's usage limits for this run. */
  usageLimits: Schema.optionalWith(Usage.UsageLimits, { exact: true })
})

/** The input of `run` / `start`. */
export type RunInput = Schema.Struct.Constructor<(typeof RunInput)["fields"]>

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
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Running" }
  | {
      readonly _tag: "Done"
      readonly exit: Exit.Exit<DurableRunResult<A>, E | AgentError.AgentError>
    }

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
    Schema.Schema<RunOutcome<A>, any>,
    Schema.Schema<any, any>
  >
  /**
   * Registers the workflow with the engine: the runner executes (and, after a restart,
   * resumes) this agent's runs. Needs the agent's services (its model, its tools' services).
   */
  readonly layer: Layer.Layer<never, never, WorkflowEngine | R>
  /** Runs (or joins the run with this `id`) and waits for its result. */
  readonly run: (
    input: RunInput
  ) => Effect.Effect<DurableRunResult<A>, E | AgentError.AgentError, WorkflowEngine>
  /** Starts the run with this `id` (if it is not started yet) and returns its execution id. */
  readonly start: (input: RunInput) => Effect.Effect<string, never, WorkflowEngine>
  /** The execution id of the run with this `id` (the same on every runner). */
  readonly executionId: (id: string) => Effect.Effect<string>
  /** The status of a run by execution id. */
  readonly poll: (executionId: string) => Effect.Effect<RunStatus<A, E>, never, WorkflowEngine>
  /** Interrupts a run by execution id (it ends with an interruption). */
  readonly interrupt: (executionId: string) => Effect.Effect<void, never, WorkflowEngine>
}

/** What a run's workflow returns (persisted). */
export interface RunOutcome<A> {
  readonly output: A
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly newMessageIndex: number
  readonly usage: Usage.RunUsage
}

/** Options of `make`. */
export interface MakeOptions<A, E> {
  /** Names the workflow (`agentfx/{name}`): unique per agent in a cluster, stable across deploys. */
  readonly name: string
  /**
   * The Schema of the agent's output: outputs are persisted as its encoded form. Default: the
   * output is stored as a JSON value (right for text and plain JSON objects).
   */
  readonly output?: Schema.Schema<A, any>
  /**
   * The Schema of the tools' own typed errors, to persist them. Errors not covered by it (nor
   * by the agent errors) end the run as defects.
   */
  readonly error?: Schema.Schema<E, any>
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
export const make = <A, E, R>(
  agent: Agent.Agent<A, E, R>,
  options: MakeOptions<A, E>
): DurableAgent<A, E, R> => {
  const outputSchema: Schema.Schema<A, any> = options.output ?? (Schema.Unknown as any)
  const errorSchema: Schema.Schema<any, any> =
    options.error === undefined ? AgentErrorSchema : Schema.Union(AgentErrorSchema, options.error)
  const isPersistableError = Schema.is(errorSchema)
  const successSchema = Schema.Struct({
    output: outputSchema,
    messages: Messages.ModelMessages,
    newMessageIndex: Schema.Number,
    usage: Usage.RunUsage
  }) as unknown as Schema.Schema<RunOutcome<A>, any>
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

  const layer = Layer.unwrapScoped(
    Effect.map(resolveModel(agent.config.model), (base) => {
      const model = durableModel(base)
      return workflow.toLayer((input, executionId) =>
        Effect.gen(function* () {
          const context = yield* Effect.context<WorkflowEngine | WorkflowInstance>()
          const result = yield* durableAgent
            .run(input.prompt, {
              model,
              runId: executionId,
              ...(input.messageHistory !== undefined
                ? { messageHistory: input.messageHistory }
                : {}),
              ...(input.usageLimits !== undefined ? { usageLimits: input.usageLimits } : {})
            })
            .pipe(
              Effect.provideService(CurrentExecution, { modelStep: 0, context }),
              Effect.catchAll((error) =>
                isPersistableError(error) ? Effect.fail(error) : Effect.die(error)
              )
            )
          const messages = result.allMessages()
          return {
            output: result.output,
            messages,
            newMessageIndex: messages.length - result.newMessages().length,
            usage: result.usage
          }
        })
      )
    })
  ) as unknown as Layer.Layer<never, never, WorkflowEngine | R>

  const toResult = (executionId: string) => (outcome: RunOutcome<A>) =>
    new DurableRunResult(
      outcome.output,
      outcome.usage,
      outcome.messages,
      outcome.newMessageIndex,
      executionId
    )

  return {
    name,
    agent: durableAgent,
    workflow: workflow as any,
    layer,
    run: Effect.fn("DurableAgent.run")(function* (input: RunInput) {
      const executionId = yield* workflow.executionId(input)
      const outcome = yield* workflow.execute(input)
      return toResult(executionId)(outcome)
    }),
    start: (input) =>
      workflow.execute(input, { discard: true }).pipe(Effect.withSpan("DurableAgent.start")),
    executionId: (id) => workflow.executionId({ id }),
    poll: (executionId) =>
      Effect.map(workflow.poll(executionId), (result): RunStatus<A, E> => {
        if (result === undefined) return { _tag: "NotFound" }
        if (result._tag === "Suspended") return { _tag: "Running" }
        return { _tag: "Done", exit: Exit.map(result.exit, toResult(executionId)) }
      }),
    interrupt: (executionId) => workflow.interrupt(executionId)
  }
}
