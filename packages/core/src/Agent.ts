/**
 * Agents: a model, instructions, tools and an output, run as Effect programs. `run` drives the
 * loop to the end, `runStream` streams every event of it (model deltas, tool calls and results,
 * then the result), and `iter` steps it node by node.
 *
 * @example
 * ```ts
 * import { Agent, Tool, TestModel } from "@agentfx/core"
 * import { Effect, Schema } from "effect"
 *
 * const add = Tool.make("add", {
 *   parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   handler: ({ a, b }) => Effect.succeed(a + b)
 * })
 * const agent = Agent.make({ name: "calc", instructions: "Be brief.", tools: [add] })
 * const program = agent.run("What is 1 + 2?").pipe(Effect.provide(TestModel.layer()))
 * ```
 *
 * Requirement rule: an agent built without `model` requires `Model.Model` from the context; a
 * model given as a `"provider:model"` string requires `Model.ModelRegistry`; a model Layer adds
 * its own requirements and errors. A per-run `model` option removes the `Model.Model`
 * requirement (and adds the option's own). Tools, dynamic instructions, the output and output
 * validators add their requirements, except `RunContext` and `CurrentUsage`, which the agent
 * provides.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Queue from "effect/Queue"
import type * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type AgentError, type ModelRetry, UserError } from "./AgentError.js"
import type * as BuiltinTool from "./BuiltinTool.js"
import * as Limiter from "./ConcurrencyLimiter.js"
import type { DeferredToolRequests, DeferredToolResults } from "./DeferredTools.js"
import type { ModelMessage, UserContent } from "./Messages.js"
import type * as HistoryProcessor from "./HistoryProcessor.js"
import type * as Model from "./Model.js"
import { defaultProfile as defaultModelProfile } from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import * as OutputSpec from "./OutputSpec.js"
import { RunContext } from "./RunContext.js"
import type * as Tool from "./Tool.js"
import * as Toolset from "./Toolset.js"
import type { RunUsage, UsageLimits } from "./Usage.js"
import * as Graph from "./AgentGraph.js"
import { partialOutputs } from "./internal/outputDecode.js"
import * as internal from "./internal/runLoop.js"
import * as Composition from "./AgentComposition.js"
import type * as Capability from "./Capability.js"
import * as capabilities from "./internal/capabilities.js"

export {
  /** The result of a run: output, usage, messages. */
  AgentRunResult,
  /** The last event of `runStream`. */
  AgentRunResultEvent,
  /** A node of the run graph: the run has built its first request (or will). */
  UserPromptNode,
  /** A node of the run graph: a request to send to the model. */
  ModelRequestNode,
  /** A node of the run graph: a response whose tool calls / output to handle. */
  CallToolsNode,
  /** The final node: holds the result. */
  End,
  /** The usage `Ref` of the current run; share it with a sub-agent (`usage` option) to share one budget. */
  CurrentUsage,
  /** Texts of the status returns sent for tool calls that did not produce the result. */
  statusTexts,
  /** An event of a sub-agent (`asTool`, a handoff's target), forwarded into the caller's stream. */
  SubAgentEvent,
  /** A system prompt re-evaluated when a conversation is continued (see `dynamicSystemPrompt`). */
  DynamicSystemPrompt
} from "./AgentGraph.js"

export type {
  /** A node of the run graph, as `iter` steps through it; narrow it with `isEndNode` & co. */
  AgentNode,
  /** A system prompt: static text, an Effect computed at the start of a fresh run, or a `DynamicSystemPrompt`. */
  SystemPrompt,
  /** An event of `runStream`: model part events, tool call / result events, `FinalResultEvent`, then the result. */
  AgentStreamEvent,
  /**
   * How a response with several tool calls ends the run: `early` takes the first valid output
   * tool and runs no function tool; `graceful` (default) still runs every function tool;
   * `exhaustive` also runs every output tool.
   */
  EndStrategy,
  /** An instruction: static text, or an Effect recomputed before every request (`undefined` adds nothing). */
  Instruction,
  /** Metadata of a run: application data recorded on the result and the run's span, never sent to the model. */
  Metadata,
  /** Metadata given to an agent or a run: a record, or a function of the `RunContext` (computed at start and end). */
  MetadataInput
} from "./AgentGraph.js"

/**
 * How a model is given: a `Model.Service`, a Layer providing `Model.Model`, or a `"provider:model"` string.
 *
 * @deprecated Use `Model.Input`.
 */
export type ModelInput = Model.Input

/** Brands agent values, so wrappers and tests can recognise an agent. */
export const TypeId: unique symbol = Symbol.for("@agentfx/core/Agent")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** A user prompt: text or multimodal content. `undefined` continues from the history. */
export type Prompt = string | ReadonlyArray<UserContent> | undefined

/** The services a model input needs (`Model.InputContext`). */
export type ModelRequirements<M> = Model.InputContext<M>
/**
 * The errors building a model input can fail with, besides `AgentError` (`Model.InputError`
 * without a string's `UserError`, which every run's `AgentError` already holds).
 */
export type ModelErrors<M> = M extends string ? never : Model.InputError<M>

/** The requirements of a run of an agent requiring `R`, with per-run model input `M`. */
export type RunRequirements<R, M> = [M] extends [never]
  ? R
  : Exclude<R, Model.Model> | ModelRequirements<M>

/**
 * The output of a run of an agent producing `A`, with a per-run `outputType` `O` (`never`: none
 * given) and per-run toolsets `S`: the run's output type replaces the agent's (its
 * `DeferredToolRequests` kept when the agent's tools may defer), and a run toolset that may
 * defer adds `DeferredToolRequests`.
 */
export type RunOutput<
  A,
  O,
  S extends ReadonlyArray<Toolset.Any> = [],
  C extends ReadonlyArray<Capability.Any> = []
> =
  | ([O] extends [never] ? A : OutputSpec.Output<O> | Extract<A, DeferredToolRequests>)
  | ([Toolset.Deferrals<S[number]> | Capability.Deferrals<C[number]>] extends [never]
      ? never
      : DeferredToolRequests)

/**
 * The errors of a run of an agent with errors `E`, per-run model input `M`, per-run toolsets
 * `S` (their tools' errors join) and per-run capabilities `C` (theirs join too).
 */
export type RunErrors<
  E,
  M,
  S extends ReadonlyArray<Toolset.Any>,
  C extends ReadonlyArray<Capability.Any> = []
> = AgentError | E | ModelErrors<M> | Toolset.Errors<S[number]> | Capability.Errors<C[number]>

/**
 * The requirements of a run of an agent requiring `R` (see `RunRequirements`), plus what a
 * per-run `outputType` `O`, toolsets `S` and capabilities `C` require, less what every run
 * provides its steps: `RunContext`, `CurrentUsage` and `Scope` (the run's own, closed when
 * the run ends).
 */
export type RunServices<
  R,
  M,
  O,
  S extends ReadonlyArray<Toolset.Any>,
  C extends ReadonlyArray<Capability.Any> = []
> =
  | RunRequirements<R, M>
  | Exclude<
      | OutputSpec.Requirements<O>
      | Toolset.Requirements<S[number]>
      | Capability.Requirements<C[number]>,
      RunContext | Graph.CurrentUsage | Scope.Scope
    >

/**
 * Options of one run. `O` is the type of a per-run `outputType` (`never`: the agent's output),
 * `S` the run's own `toolsets`; both are inferred from the options given.
 */
export interface RunOptions<
  M extends Model.Input = never,
  O extends OutputSpec.Any = never,
  S extends ReadonlyArray<Toolset.Any> = [],
  C extends ReadonlyArray<Capability.Any> = []
> {
  /**
   * Capabilities for this run only, after the agent's (see `Capability`): their tools,
   * instructions, settings (over the agent's capabilities', under `modelSettings`), history
   * processors and hooks (inside the agent's). Their errors and requirements join the run's.
   */
  readonly capabilities?: C
  /**
   * The output of this run, replacing the agent's (pydantic-ai's per-run `output_type`): any
   * `OutputSpec` (tool / native / prompted / text output), and the type of the result follows
   * it — `agent.run(p, { outputType: OutputSpec.tool(S) })` gives an `AgentRunResult<S["Type"]>`.
   * It replaces the agent's whole output (handoff output tools included). Only for an agent
   * without `outputValidators` (they were written for its own output type): else a `UserError`.
   */
  readonly outputType?: O
  /**
   * Toolsets added to the agent's for this run only; their errors and requirements join the
   * run's. A name also used by the agent's tools fails the run with a `UserError`.
   */
  readonly toolsets?: S
  /** Replaces the agent's `retries` (per function tool) for this run. */
  readonly retries?: number
  /** Replaces the agent's `outputRetries` for this run (an output spec's own `retries` wins). */
  readonly outputRetries?: number
  /**
   * Steers the run while it goes (pydantic-ai's enqueued user messages): whatever this queue
   * holds when the run sends its next model request is taken and sent as user prompts in that
   * request, after its own parts (tool results first) — in the history like any prompt. Taking
   * and recording is one uninterruptible step, so a taken message is never lost. Messages
   * offered after the last request stay in the queue. Content that does not validate fails the
   * run with a `UserError`. With `iter`, `AgentRun.enqueue` does the same without a queue.
   */
  readonly steering?: Queue.Dequeue<string | ReadonlyArray<UserContent>>
  /**
   * Continue this conversation. It is repaired first: unanswered tool calls get an
   * `interrupted` return, tool results whose call is not in the response before them are
   * removed, and `dynamicSystemPrompt`s of this agent are re-evaluated.
   */
  readonly messageHistory?: ReadonlyArray<ModelMessage>
  /** The model for this run (wins over the agent's). */
  readonly model?: M
  /** Merged over the model's and the agent's settings. */
  readonly modelSettings?: ModelSettings
  /** Replaces the agent's limits for this run. */
  readonly usageLimits?: UsageLimits
  /**
   * Usage to start from, or a usage `Ref` to share with a parent run (see `CurrentUsage`), so
   * delegated runs count against one budget.
   */
  readonly usage?: RunUsage | Ref.Ref<RunUsage>
  /** Extra instructions for this run (static, or Effects using only `RunContext`). */
  readonly instructions?:
    | Graph.Instruction<never, RunContext>
    | ReadonlyArray<Graph.Instruction<never, RunContext>>
  /** Use this run id instead of a generated one. */
  readonly runId?: string
  /**
   * Metadata of this run, merged over the agent's (this run's keys win). Exposed on the result
   * (`result.metadata`), in `RunContext.metadata`, and on the `invoke_agent` span (JSON
   * attribute `metadata`). A function is called at the start and again at the end of the run.
   */
  readonly metadata?: Graph.MetadataInput
  /**
   * `run` only: receives the event stream of each model request and each tool-calling step
   * (part events, `FinalResultEvent`, tool call / result events) as the run goes — pydantic-ai's
   * `event_stream_handler`. The run itself still returns its result; events the handler does not
   * read are drained, and a failing step fails the run even if the handler catches the error.
   */
  readonly eventStreamHandler?: EventStreamHandler
  /**
   * `run` only: receives every event of the run as it happens — the same events, in the same
   * order, as `runStream` emits (part events, `FinalResultEvent`, tool call / result events, then
   * `AgentRunResultEvent`) — while `run` returns the same result as without it. The cheapest way
   * to watch a run: the callback is synchronous and called from the decoding of each network
   * read (a model that offers `StreamedResponse.push`, as every streaming provider of
   * `@agentfx/providers` does; others are read through their event `Stream`), with no Effect
   * `Stream` step per read and no back-pressure (a slow callback slows the run; it must not
   * throw — a throw is a defect). Unlike `eventStreamHandler` it cannot run Effects; give only
   * one of the two (both: a `UserError`).
   */
  readonly onEvent?: (event: Graph.AgentStreamEvent<unknown>) => void
  /**
   * Resumes a run that stopped with `DeferredToolRequests`: one result per call it listed
   * (approved / denied / an external result / `ModelRetry`), by tool call id. Give it with that
   * run's `messageHistory` (and usually no prompt): the calls of the last response are answered
   * without a new model request — results already in the history are kept, approved calls run,
   * denied ones get a `denied` tool return — and the run goes on. A result for an unknown call,
   * a missing result, or an approval for a call that did not wait for one is a `UserError`.
   */
  readonly deferredToolResults?: DeferredToolResults | undefined
  /**
   * Answers deferred calls inline (pydantic-ai's `HandleDeferredToolCalls`): when a step's tool
   * calls wait for an approval or an external result, the run calls this with the
   * `DeferredToolRequests` before it would stop. The calls it answers (same shape as
   * `deferredToolResults`: approvals, denials, results, `ModelRetry`) are settled in the same
   * step — approved calls run, with `overrideArgs` if given — and the run goes on without a new
   * run; calls it leaves out (or all, with `undefined`) stop the run as usual, with
   * `DeferredToolRequests` naming only them. Called at most once per step. An answer for a call
   * that did not wait is a `UserError`. E.g. ask the person at the terminal, approve by policy.
   */
  readonly handleDeferred?:
    | ((requests: DeferredToolRequests) => Effect.Effect<DeferredToolResults | undefined>)
    | undefined
  /**
   * More history processors for this run, applied after the agent's (see
   * `MakeOptions.historyProcessors`). Effects here may use `RunContext` only, and not fail.
   */
  readonly historyProcessors?:
    | ReadonlyArray<HistoryProcessor.HistoryProcessor<never, RunContext>>
    | undefined
  /**
   * Built-in tools for this run, added to the agent's (see `BuiltinTool`): the provider runs
   * them; a provider without one fails the request with a `UserError` naming it.
   */
  readonly builtinTools?: ReadonlyArray<BuiltinTool.BuiltinTool> | undefined
  /**
   * The conversation (session, thread) this run belongs to. Without it, the run continues the
   * latest `conversationId` of `messageHistory`, or starts a new conversation (a random UUID).
   * Stamped on every message the run adds (`ModelRequest` / `ModelResponse.conversationId`),
   * recorded as `gen_ai.conversation.id` on the run's `invoke_agent` span (and its `chat`
   * spans), visible in `RunContext.conversationId` and `result.conversationId`, and passed on
   * to sub-agents (`asTool`, handoffs). `"new"` starts a new conversation even when continuing a
   * history (a branch of it).
   */
  readonly conversationId?: string | undefined
}

/**
 * Handles the events of one step of a run (see `RunOptions.eventStreamHandler`). Handle your
 * own errors and provide your own services inside: the handler's Effect has neither.
 */
export type EventStreamHandler = (
  events: Stream.Stream<Graph.AgentStreamEvent<unknown>, unknown>
) => Effect.Effect<void>

/** A run being stepped with `iter`. Every effect has its requirements already provided. */
export interface AgentRun<A, E> {
  readonly runId: string
  /** The node to execute next (`UserPromptNode` at first, `End` at the end). */
  readonly nextNode: Effect.Effect<Graph.AgentNode<A>>
  /** Executes `node` (the current one) and returns the next. */
  readonly next: (node: Graph.AgentNode<A>) => Effect.Effect<Graph.AgentNode<A>, E>
  /** Executes `node` while streaming its events; then `nextNode` is the following node. */
  readonly stream: (node: Graph.AgentNode<A>) => Stream.Stream<Graph.AgentStreamEvent<A>, E>
  /** Executes the remaining nodes, emitting each new node (the last one is `End`). */
  readonly nodes: Stream.Stream<Graph.AgentNode<A>, E>
  /** Messages so far (also after a failure or an interruption). */
  readonly messages: Effect.Effect<ReadonlyArray<ModelMessage>>
  readonly usage: Effect.Effect<RunUsage>
  /** The result, once the run reached `End`. */
  readonly result: Effect.Effect<Option.Option<Graph.AgentRunResult<A>>>
  /**
   * Steers the run: `prompt` is sent as a user prompt with the next model request (after its
   * own parts), and is in the history from then on (see `RunOptions.steering`). Enqueued after
   * the last request, it is not sent. Structured content that does not validate: `UserError`.
   */
  readonly enqueue: (prompt: string | ReadonlyArray<UserContent>) => Effect.Effect<void, UserError>
}

/**
 * An agent producing `A`. `E` are the typed errors of its tools and instructions (besides
 * `AgentError`), `R` the services it needs (see the module doc for the rule).
 */
export interface Agent<A, E = never, R = never> extends Pipeable {
  readonly [TypeId]: TypeId
  readonly name: string | undefined
  /** The `description` option. */
  readonly description: string | undefined
  /** The configuration, untyped (for wrappers and tests). */
  readonly config: internal.AgentConfig
  /** Runs the agent to the end. */
  run<
    M extends Model.Input = never,
    O extends OutputSpec.Any = never,
    const S extends ReadonlyArray<Toolset.Any> = [],
    const C extends ReadonlyArray<Capability.Any> = []
  >(
    prompt: Prompt,
    options?: RunOptions<M, O, S, C>
  ): Effect.Effect<
    Graph.AgentRunResult<RunOutput<A, O, S, C>>,
    RunErrors<E, M, S, C>,
    RunServices<R, M, O, S, C>
  >
  /**
   * Runs the agent to the end, streaming every event: part start/delta/end of each response,
   * `FinalResultEvent`, tool call and result events, then one `AgentRunResultEvent`. Dropping
   * the stream interrupts the run.
   */
  runStream<
    M extends Model.Input = never,
    O extends OutputSpec.Any = never,
    const S extends ReadonlyArray<Toolset.Any> = [],
    const C extends ReadonlyArray<Capability.Any> = []
  >(
    prompt: Prompt,
    options?: RunOptions<M, O, S, C>
  ): Stream.Stream<
    Graph.AgentStreamEvent<RunOutput<A, O, S, C>>,
    RunErrors<E, M, S, C>,
    RunServices<R, M, O, S, C>
  >
  /**
   * Runs the agent, streaming its output as it grows: validated partial outputs, then the final
   * output last (any output mode; see `StreamOutputOptions` for throttling).
   */
  streamOutput<
    M extends Model.Input = never,
    O extends OutputSpec.Any = never,
    const S extends ReadonlyArray<Toolset.Any> = [],
    const C extends ReadonlyArray<Capability.Any> = []
  >(
    prompt: Prompt,
    options?: RunOptions<M, O, S, C> & StreamOutputOptions
  ): Stream.Stream<
    PartialOutput<RunOutput<A, O, S, C>>,
    RunErrors<E, M, S, C>,
    RunServices<R, M, O, S, C>
  >
  /** Starts a run to be stepped node by node; it lives as long as the scope. */
  iter<
    M extends Model.Input = never,
    O extends OutputSpec.Any = never,
    const S extends ReadonlyArray<Toolset.Any> = [],
    const C extends ReadonlyArray<Capability.Any> = []
  >(
    prompt: Prompt,
    options?: RunOptions<M, O, S, C>
  ): Effect.Effect<
    AgentRun<RunOutput<A, O, S, C>, RunErrors<E, M, S, C>>,
    RunErrors<E, M, S, C>,
    RunServices<R, M, O, S, C> | Scope.Scope
  >
}

/** Any agent. */
export type Any = Agent<any, any, any>

/** Options of `make`. */
export interface MakeOptions<
  Tools extends ReadonlyArray<Toolset.AnyTool>,
  Sets extends ReadonlyArray<Toolset.Any>,
  O extends OutputSpec.Any,
  IE,
  IR,
  VR,
  M extends Model.Input,
  D extends boolean = false,
  HE = never,
  HR = never,
  C extends ReadonlyArray<Capability.Any> = []
> {
  /**
   * Capabilities (see `Capability`): bundles of tools, built-in tools, instructions, settings
   * (over `modelSettings`, under a run's), history processors and hooks, in order (the first
   * is the outermost middleware). Their errors and requirements join the agent's.
   */
  readonly capabilities?: C
  /** Used in spans (`invoke_agent {name}`) and visible in `RunContext.agentName`. */
  readonly name?: string
  /**
   * What the agent does, for people and other agents: recorded on its `invoke_agent` spans
   * (`gen_ai.agent.description`) and the default description of `Agent.asTool(agent, …)`.
   * Not sent to the agent's own model (that is what `instructions` are for).
   */
  readonly description?: string
  /** The model; without one, the run takes it from the options or the `Model` service. */
  readonly model?: M
  /** Sent with every request, recomputed each time (dynamic ones are Effects), never stored as parts. */
  readonly instructions?: Graph.Instruction<IE, IR> | ReadonlyArray<Graph.Instruction<IE, IR>>
  /**
   * System prompts: added only to the first request of a fresh conversation. A
   * `dynamicSystemPrompt(ref, effect)` is also re-evaluated when a conversation is continued.
   */
  readonly systemPrompt?: Graph.SystemPrompt<IE, IR> | ReadonlyArray<Graph.SystemPrompt<IE, IR>>
  /** Function tools. */
  readonly tools?: Tools
  /** More tools, as toolsets. Duplicate names across all tools fail the run with a `UserError`. */
  readonly toolsets?: Sets
  /**
   * Tools the model provider runs itself (`BuiltinTool.WebSearch`, `CodeExecution`, …), sent
   * with every request. Their calls and results come back as `BuiltinToolCallPart` /
   * `BuiltinToolReturnPart`; a provider without one fails the request with a `UserError`.
   */
  readonly builtinTools?: ReadonlyArray<BuiltinTool.BuiltinTool>
  /** The output; plain text (`OutputSpec.text`) by default. */
  readonly output?: O
  /** Run after the output is decoded; `ModelRetry` asks the model again (output budget). */
  readonly outputValidators?: ReadonlyArray<
    (output: OutputSpec.Output<O>) => Effect.Effect<OutputSpec.Output<O>, ModelRetry, VR>
  >
  /** Retries per tool (`retries = N` → N retries; a tool's own `retries` wins); default 1. */
  readonly retries?: number
  /**
   * Retries of the output, counted over all output failures (text and output tools); default 1
   * (an output spec's `retries` wins). Output tools may also have their own budgets
   * (`OutputSpec.maxRetriesFor`, e.g. `ToolOutput.make(s, { retries })`).
   */
  readonly outputRetries?: number
  /** Default `graceful`. */
  readonly endStrategy?: Graph.EndStrategy
  readonly modelSettings?: ModelSettings
  /** Default: `UsageLimits.default` (50 requests). */
  readonly usageLimits?: UsageLimits
  /** How many tool calls of one response run at once; default unbounded. */
  readonly maxConcurrency?: number | "unbounded"
  /**
   * Default time limit of one tool call (a tool's own `timeout` wins). On expiry the call is
   * interrupted and the model gets the retry prompt "Timed out after {t} seconds.", counted
   * against the tool's retry budget. Default: none.
   */
  readonly toolTimeout?: Duration.DurationInput
  /**
   * Metadata of every run (a run's own `metadata` is merged over it, run wins): a record, or a
   * function of the `RunContext` computed at the start and again at the end of each run.
   */
  readonly metadata?: Graph.MetadataInput
  /**
   * How many runs of this agent (`run`, `runStream`, `iter`) may go at once (a positive integer;
   * anything else throws a `RangeError` from `Agent.make`); excess runs wait for a slot (in a
   * span `agent.concurrency.wait`). A number gives the agent its own limiter;
   * pass a `concurrencyLimiter(...)` to share one between agents or to bound the queue. Default:
   * unlimited. (`maxConcurrency` is the per-response tool concurrency.)
   */
  readonly maxConcurrentRuns?: number | ConcurrencyLimiter
  /**
   * Put `DeferredToolRequests` in the output type even when no tool's type says it may defer
   * (pydantic-ai's `output_type=[..., DeferredToolRequests]`), e.g. for a toolset typed loosely.
   * Tools with `requiresApproval`, `Tool.external`, handlers failing with `ApprovalRequired` /
   * `CallDeferred` and `Toolset.approvalRequired` put it there by themselves.
   */
  readonly deferredToolRequests?: D
  /**
   * Rewrite the messages right before each model request (pydantic-ai's `history_processors`),
   * in order: trim, summarise, filter (see `HistoryProcessor` for helpers). The model receives
   * the last processor's answer; the run's stored history is not replaced. An Effect's errors
   * join the run's error type and its requirements the agent's (`RunContext` is provided).
   */
  readonly historyProcessors?: ReadonlyArray<HistoryProcessor.HistoryProcessor<HE, HR>>
}

/**
 * The output of an agent: the spec's output, plus `DeferredToolRequests` when a tool may defer
 * its calls (`Deferrals` is not `never`) or the agent opts in (`D` is `true`).
 */
export type OutputWithDeferred<A, Deferrals, D extends boolean> = [Deferrals] extends [never]
  ? D extends true
    ? A | DeferredToolRequests
    : A
  : A | DeferredToolRequests

/** Limits how many runs go at once; share one between agents with `maxConcurrentRuns`. */
export type ConcurrencyLimiter = Limiter.ConcurrencyLimiter

/**
 * A run limiter (pydantic-ai's `ConcurrencyLimit(max_running, max_queued)`): at most
 * `maxRunning` runs at once; others wait in FIFO order, at most `maxQueued` of them (default:
 * unbounded) — one more fails at once with `ConcurrencyLimitExceeded`. Waiting shows as an
 * `agent.concurrency.wait` span.
 *
 * @example
 * ```ts
 * const limiter = Agent.concurrencyLimiter({ maxRunning: 4, maxQueued: 100 })
 * const a = Agent.make({ maxConcurrentRuns: limiter })
 * const b = Agent.make({ maxConcurrentRuns: limiter }) // shares the 4 slots
 * ```
 */
export const concurrencyLimiter = (options: {
  readonly maxRunning: number
  readonly maxQueued?: number
}): ConcurrencyLimiter => Limiter.make({ ...options, name: "agent", what: "runs" })

/**
 * A system prompt that is re-evaluated when a conversation is continued (pydantic-ai's
 * `@agent.system_prompt(dynamic=True)`): its part in the history carries `dynamicRef = ref`, and
 * a later run given that history replaces the part's content with a fresh evaluation (with a
 * `RunContext` whose `messages` are the given history). Without a history it behaves as any
 * dynamic system prompt. `ref` must be stable across runs (and processes, for stored histories).
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const agent = Agent.make({
 *   systemPrompt: Agent.dynamicSystemPrompt("now", Effect.sync(() => `It is ${new Date().toISOString()}.`))
 * })
 * ```
 */
export const dynamicSystemPrompt = <E = never, R = never>(
  ref: string,
  prompt: Effect.Effect<string | undefined, E, R>
): Graph.DynamicSystemPrompt<E, R> => new Graph.DynamicSystemPrompt(ref, prompt)

const toArray = <T>(x: T | ReadonlyArray<T> | undefined): ReadonlyArray<T> =>
  x === undefined ? [] : Array.isArray(x) ? (x as ReadonlyArray<T>) : [x as T]

const proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Builds an agent from its configuration. Every entry point opens its run with the one internal
 * `open` (concurrency slot, `invoke_agent` span when a tracer records it, scope, the run).
 */
export const fromConfig = <A, E, R>(config: internal.AgentConfig): Agent<A, E, R> => {
  const self = Object.create(proto)
  self.name = config.name
  self.description = config.description
  self.config = config
  self.run = (prompt: Prompt, options: RunOptions<any, any, any> = {}) =>
    options.eventStreamHandler === undefined
      ? // The run's scope and context in one region (`withScopeAndContext`); with `onEvent`,
        // its events pushed as they happen.
        internal.runOpened<A>(config, prompt, options)
      : options.onEvent !== undefined
        ? Effect.fail(
            new UserError({
              reason:
                "RunOptions: give `onEvent` or `eventStreamHandler`, not both (`onEvent` already " +
                "receives every event)"
            })
          )
        : // `eventStreamHandler`: the run is driven node by node on the streaming path instead.
          Effect.scopedWith((scope) =>
            Effect.flatMap(internal.open<A>(config, prompt, options, scope), (machine) =>
              machine.runWithHandler(options.eventStreamHandler!)
            )
          )
  // The run's scope, its span and the run are set up in the stream's own channel, so every
  // chunk is read through no extra level (see `scopedChannel`); the span is the parent of the
  // run's steps through the run's context (`Stream.withSpan` would provide it on every pull).
  self.runStream = (prompt: Prompt, options: RunOptions<any, any, any> = {}) =>
    runStreamOf<A>(config, prompt, options)
  self.streamOutput = (prompt: Prompt, options?: RunOptions<any, any, any> & StreamOutputOptions) =>
    streamOutputOf<A>(config, prompt, options)
  self.iter = (prompt: Prompt, options: RunOptions<any, any, any> = {}) =>
    Effect.map(
      Effect.flatMap(Effect.scope, (scope) => internal.open<A>(config, prompt, options, scope)),
      (machine): AgentRun<A, any> => ({
        runId: machine.runId,
        nextNode: machine.nextNode,
        next: (node) => machine.step(node),
        stream: (node) => machine.stream(node),
        nodes: Stream.unwrap(
          Effect.map(machine.nextNode, (start) =>
            start._tag === "End"
              ? Stream.empty
              : Stream.paginateEffect(start, (node: Graph.AgentNode<A>) =>
                  Effect.map(
                    machine.step(node),
                    (next) =>
                      [next, next._tag === "End" ? Option.none() : Option.some(next)] as const
                  )
                )
          )
        ),
        messages: machine.messages,
        usage: machine.usage,
        enqueue: (prompt) => machine.enqueue(prompt),
        result: Effect.map(machine.nextNode, (n) =>
          n._tag === "End" ? Option.some(n.result) : Option.none()
        )
      })
    )
  return self
}

/**
 * Builds an agent. Its requirements are what its tools, toolsets, capabilities, output,
 * instructions, validators and history processors require, less what a run provides them
 * (`RunContext`, `CurrentUsage`, the run's `Scope`), plus the model's.
 */
export const make = <
  const Tools extends ReadonlyArray<Toolset.AnyTool> = [],
  const Sets extends ReadonlyArray<Toolset.Any> = [],
  O extends OutputSpec.Any = OutputSpec.OutputSpec<string>,
  IE = never,
  IR = never,
  VR = never,
  M extends Model.Input = never,
  D extends boolean = false,
  HE = never,
  HR = never,
  const C extends ReadonlyArray<Capability.Any> = []
>(
  options: MakeOptions<Tools, Sets, O, IE, IR, VR, M, D, HE, HR, C> = {}
): Agent<
  OutputWithDeferred<
    OutputSpec.Output<O>,
    | Tool.Deferrals<Tools[number]>
    | Toolset.Deferrals<Sets[number]>
    | Capability.Deferrals<C[number]>,
    D
  >,
  | Tool.Errors<Tools[number]>
  | Toolset.Errors<Sets[number]>
  | Capability.Errors<C[number]>
  | IE
  | HE
  | ModelErrors<M>,
  | Exclude<
      | Tool.Requirements<Tools[number]>
      | Toolset.Requirements<Sets[number]>
      | Capability.Requirements<C[number]>
      | OutputSpec.Requirements<O>
      | IR
      | VR
      | HR,
      RunContext | Graph.CurrentUsage | Scope.Scope
    >
  | ([M] extends [never] ? Model.Model : ModelRequirements<M>)
> => {
  const sets: Array<Toolset.Any> = []
  if (options.tools !== undefined && options.tools.length > 0) {
    sets.push(Toolset.fromTools(options.tools))
  }
  for (const s of options.toolsets ?? []) sets.push(s)
  const config: internal.AgentConfig = {
    name: options.name,
    description: options.description,
    model: options.model,
    instructions: toArray(options.instructions),
    systemPrompts: toArray(options.systemPrompt),
    toolset:
      sets.length === 0 ? Toolset.empty : sets.length === 1 ? sets[0]! : Toolset.combine(...sets),
    output: options.output ?? OutputSpec.text,
    outputValidators: options.outputValidators ?? [],
    retries: options.retries ?? 1,
    outputRetries: options.outputRetries ?? 1,
    endStrategy: options.endStrategy ?? "graceful",
    modelSettings: options.modelSettings,
    usageLimits: options.usageLimits,
    maxConcurrency: options.maxConcurrency ?? "unbounded",
    toolTimeout: options.toolTimeout,
    metadata: options.metadata,
    historyProcessors: options.historyProcessors,
    builtinTools: options.builtinTools,
    concurrencyLimiter:
      options.maxConcurrentRuns === undefined
        ? undefined
        : typeof options.maxConcurrentRuns === "number"
          ? concurrencyLimiter({ maxRunning: options.maxConcurrentRuns })
          : options.maxConcurrentRuns
  }
  return fromConfig(capabilities.withCapabilities(config, options.capabilities ?? []))
}

// ---------------------------------------------------------------------------
// Node guards
// ---------------------------------------------------------------------------

/** Is this the first node? */
export const isUserPromptNode = <A>(node: Graph.AgentNode<A>): node is Graph.UserPromptNode =>
  node._tag === "UserPromptNode"
/** Is this a model request node? */
export const isModelRequestNode = <A>(node: Graph.AgentNode<A>): node is Graph.ModelRequestNode =>
  node._tag === "ModelRequestNode"
/** Is this a call-tools node? */
export const isCallToolsNode = <A>(node: Graph.AgentNode<A>): node is Graph.CallToolsNode =>
  node._tag === "CallToolsNode"
/** Is this the end? */
export const isEndNode = <A>(node: Graph.AgentNode<A>): node is Graph.End<A> => node._tag === "End"

/**
 * The JSON Schema of the agent's output (pydantic-ai's `agent.output_json_schema()`), for
 * documenting an agent as an API or checking stored results. An output spec's own
 * `outputJsonSchema` wins; otherwise it is derived from what the model is asked to produce
 * for `profile` (default: `Model.defaultProfile`, which resolves auto output to tool mode):
 * `{ type: "string" }` for text, each output tool's parameters schema (a non-object output
 * appears wrapped as `{ response }`, as the model sees it), the native / prompted schema, an
 * image (`OutputSpec.imageJsonSchema`); several alternatives are combined with `anyOf`.
 */
export const outputJsonSchema = (
  agent: Any,
  profile: Model.ModelProfile = defaultModelProfile
): Tool.JsonSchema => {
  const declared = agent.config.output
  const spec = declared.resolve?.(profile) ?? declared
  const own = spec.outputJsonSchema ?? declared.outputJsonSchema
  if (own !== undefined) return own(profile)
  const members: Array<Tool.JsonSchema> = []
  const outputObject = spec.outputObject(profile)
  if (outputObject !== undefined) members.push(outputObject.jsonSchema)
  for (const tool of spec.toolDefinitions(profile)) members.push(tool.parametersJsonSchema)
  if (spec.allowTextOutput && outputObject === undefined) members.push({ type: "string" })
  if (spec.allowImageOutput === true) members.push(OutputSpec.imageJsonSchema)
  if (members.length === 1) return members[0]!
  // Shared `$defs` move to the root so every `$ref` still resolves.
  const $defs: Record<string, unknown> = {}
  const anyOf = members.map((m) => {
    const { $defs: defs, ...rest } = m as { $defs?: Record<string, unknown> }
    if (defs !== undefined) Object.assign($defs, defs)
    return rest
  })
  return Object.keys($defs).length > 0 ? { anyOf, $defs } : { anyOf }
}

// ---------------------------------------------------------------------------
// Stream helpers
// ---------------------------------------------------------------------------

/** [perf #16] On a stream `runStream` returned: the same run with its chunks mapped in place. */
const fusedMap = Symbol.for("@agentfx/core/Agent/fusedMap")

type Fusable<A> = Stream.Stream<Graph.AgentStreamEvent<A>, unknown> & {
  readonly [fusedMap]?: <B>(f: internal.ChunkMap<A>) => Stream.Stream<B, unknown, any>
}

/**
 * `runStream`: the run's event channel as a stream, and (`mapRunStreamChunks`) the same run with
 * `chunkMap` set, so a mapping of every chunk runs where the run emits it.
 */
const runStreamOf = <A>(
  config: internal.AgentConfig,
  prompt: Prompt,
  options: RunOptions<any, any, any>,
  chunkMap?: internal.ChunkMap<A>
): Stream.Stream<any, unknown, any> => {
  const stream = Stream.fromChannel(
    internal.openChannel<A, Chunk.Chunk<any>>(config, prompt, options, (m) => {
      m.chunkMap = chunkMap
      return m.eventChannel(m.start)
    })
  )
  if (chunkMap !== undefined) return stream
  return Object.assign(stream, {
    [fusedMap]: (f: internal.ChunkMap<A>) => runStreamOf(config, prompt, options, f)
  })
}

/**
 * `Stream.mapChunks(stream, f)` for a run's event stream. When `stream` is what
 * `agent.runStream(...)` returned (no operator applied to it since), `f` runs inside the run
 * where each chunk is emitted (model events per network read, tool events, the result), with
 * no stream stage of its own — one read less per chunk. Otherwise it is `Stream.mapChunks`.
 * `f` must be synchronous; it sees every chunk once, in order. For encoders of the whole stream
 * (the UI protocols of `@agentfx/ui`).
 */
export const mapRunStreamChunks = <A, E, R, B>(
  stream: Stream.Stream<Graph.AgentStreamEvent<A>, E, R>,
  f: (chunk: Chunk.Chunk<Graph.AgentStreamEvent<A>>) => Chunk.Chunk<B>
): Stream.Stream<B, E, R> => {
  const fuse = (stream as Fusable<A>)[fusedMap]
  return fuse === undefined ? Stream.mapChunks(stream, f) : (fuse<B>(f) as Stream.Stream<B, E, R>)
}

/**
 * The text of a run's event stream. `delta: true` yields the text deltas as they come;
 * otherwise the text of the current response so far, once per network chunk (a new response
 * starts from empty).
 */
export const streamText = <A, E, R>(
  stream: Stream.Stream<Graph.AgentStreamEvent<A>, E, R>,
  options?: { readonly delta?: boolean }
): Stream.Stream<string, E, R> => {
  const delta = options?.delta === true
  // The accumulated text belongs to one run of the stream: a stream value run twice starts fresh.
  return Stream.suspend(() => {
    let text = ""
    return Stream.mapChunks(stream, (chunk) => {
      const out: Array<string> = []
      let changed = false
      for (const e of chunk) {
        if (e._tag === "PartStartEvent") {
          if (e.index === 0) text = ""
          if (e.part._tag === "TextPart") {
            if (e.part.content !== "") {
              text += e.part.content
              changed = true
              if (delta) out.push(e.part.content)
            }
          }
        } else if (e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta") {
          if (e.delta.contentDelta !== "") {
            text += e.delta.contentDelta
            changed = true
            if (delta) out.push(e.delta.contentDelta)
          }
        }
      }
      if (!delta && changed) out.push(text)
      return Chunk.unsafeFromArray(out)
    })
  })
}

/** Runs a run's event stream to the end and returns the result (from `AgentRunResultEvent`). */
export const finalResult = <A, E, R>(
  stream: Stream.Stream<Graph.AgentStreamEvent<A>, E, R>
): Effect.Effect<Graph.AgentRunResult<A>, E, R> =>
  Stream.runFold(stream, undefined as Graph.AgentRunResult<A> | undefined, (acc, e) =>
    e._tag === "AgentRunResultEvent" ? e.result : acc
  ).pipe(
    Effect.flatMap((r) =>
      r === undefined
        ? Effect.dieMessage("the run stream ended without a result")
        : Effect.succeed(r)
    )
  )

/**
 * An output as it grows while streaming: every field (deeply) may still be missing. The last
 * value `streamOutput` emits is the complete, validated output.
 */
export type PartialOutput<A> = A extends
  | string
  | number
  | boolean
  | bigint
  | symbol
  | null
  | undefined
  ? A
  : A extends ReadonlyArray<infer T>
    ? ReadonlyArray<PartialOutput<T>>
    : A extends object
      ? { readonly [K in keyof A]?: PartialOutput<A[K]> }
      : A

/** Options of `streamOutput`. */
export interface StreamOutputOptions {
  /**
   * Decode a partial snapshot at most once per this interval (the final output is always
   * emitted). Each partial decode walks the whole value so far, so a large output streamed
   * in many small deltas costs O(n²) without it; pydantic-ai debounces by 100 ms by default.
   * Default: every network read.
   */
  readonly throttle?: Duration.DurationInput
}

/**
 * Runs the agent, streaming its output as it grows.
 *
 * @deprecated Use the method, `agent.streamOutput(prompt, options)`, as `run` and `runStream`.
 */
export const streamOutput = <A, E, R, M extends Model.Input = never>(
  agent: Agent<A, E, R>,
  prompt: Prompt,
  options?: RunOptions<M> & StreamOutputOptions
): Stream.Stream<PartialOutput<A>, AgentError | E | ModelErrors<M>, RunRequirements<R, M>> =>
  agent.streamOutput(prompt, options)

/**
 * `agent.streamOutput`: partial outputs decoded from snapshots of each response
 * (`spec.handleText` / `spec.handleToolCall` with `partial: true`, failures swallowed, empty and
 * unchanged values skipped), then the final validated output last. Only the `OutputSpec`
 * protocol is used, so any output mode works.
 */
const streamOutputOf = <A>(
  config: internal.AgentConfig,
  prompt: Prompt,
  options?: RunOptions<any, any, any> & StreamOutputOptions
): Stream.Stream<PartialOutput<A>, unknown, unknown> => {
  const throttleMillis =
    options?.throttle === undefined ? 0 : Duration.toMillis(Duration.decode(options.throttle))
  return Stream.fromChannel(
    internal.openChannel<A, Chunk.Chunk<A>>(config, prompt, options ?? {}, (machine) =>
      partialOutputs(machine, throttleMillis)
    )
  ) as Stream.Stream<PartialOutput<A>, unknown, unknown>
}

// ---------------------------------------------------------------------------
// Promise conveniences
// ---------------------------------------------------------------------------

/**
 * What the Promise twins run on: a `ManagedRuntime` built once from your Layers (shared between
 * runs), the same as `{ runtime }`, or `{ layer }`, built for each run and released after it —
 * the forms `Direct`'s Promise twins take.
 */
export type PromiseProvider<RR, ER> =
  | ManagedRuntime.ManagedRuntime<RR, ER>
  | { readonly runtime: ManagedRuntime.ManagedRuntime<RR, ER> }
  | { readonly layer: Layer.Layer<RR, ER, never> }

/**
 * The error a Promise twin rejects with: the typed error itself (`UsageLimitExceeded`,
 * `ModelHTTPError`…, so `error._tag` works), `signal.reason` when the `signal` aborted the run,
 * else the defect.
 */
export const promiseError = (cause: Cause.Cause<unknown>, signal?: AbortSignal): unknown =>
  signal?.aborted === true && Cause.isInterruptedOnly(cause) ? signal.reason : Cause.squash(cause)

/** The `ManagedRuntime` of a provider, or `undefined` for `{ layer }`. */
const runtimeOf = (
  provider: PromiseProvider<any, any>
): ManagedRuntime.ManagedRuntime<any, any> | undefined =>
  ManagedRuntime.isManagedRuntime(provider)
    ? provider
    : "layer" in provider
      ? undefined
      : provider.runtime

const runExit = <A>(
  effect: Effect.Effect<A, unknown, any>,
  provider: PromiseProvider<any, any>,
  signal: AbortSignal | undefined
): Promise<A> => {
  const options = signal === undefined ? undefined : { signal }
  const runtime = runtimeOf(provider)
  const exit =
    runtime !== undefined
      ? runtime.runPromiseExit(effect, options)
      : Effect.runPromiseExit(
          Effect.provide(effect, (provider as { readonly layer: Layer.Layer<any, any> }).layer),
          options
        )
  return exit.then((e: Exit.Exit<A, unknown>) =>
    Exit.isSuccess(e) ? e.value : Promise.reject(promiseError(e.cause, signal))
  )
}

/**
 * Runs the agent and returns a Promise, for code without an Effect runtime (the `run_sync`
 * analogue). `provider` provides what the agent requires: a `ManagedRuntime`, `{ runtime }` or
 * `{ layer }`. A failure rejects with the typed error itself (as `Direct`'s Promise twins do); an
 * abort through `signal` interrupts the run and rejects with `signal.reason`.
 *
 * @example
 * ```ts
 * const result = await Agent.runPromise(agent, { layer: TestModel.layer() }, "Hello")
 * ```
 */
export const runPromise = <A, E, R, RR extends R, ER, M extends Model.Input = never>(
  agent: Agent<A, E, R>,
  provider: PromiseProvider<RR, ER>,
  prompt: Prompt,
  options?: RunOptions<M> & { readonly signal?: AbortSignal }
): Promise<Graph.AgentRunResult<A>> =>
  runExit(agent.run(prompt, options), provider, options?.signal)

/**
 * The events of a streamed run as an `AsyncIterable` (`provider` as for `runPromise`). Breaking
 * out of the loop interrupts the run; a failure throws the typed error itself.
 */
export const runStreamAsyncIterable = <A, E, R, RR extends R, ER, M extends Model.Input = never>(
  agent: Agent<A, E, R>,
  provider: PromiseProvider<RR, ER>,
  prompt: Prompt,
  options?: RunOptions<M>
): AsyncIterable<Graph.AgentStreamEvent<A>> => ({
  async *[Symbol.asyncIterator]() {
    const stream = agent.runStream(prompt, options) as Stream.Stream<
      Graph.AgentStreamEvent<A>,
      unknown,
      RR
    >
    const runtime = runtimeOf(provider)
    const iterable =
      runtime !== undefined
        ? Stream.toAsyncIterableRuntime(stream, await runtime.runtime())
        : Stream.toAsyncIterable(
            Stream.provideLayer(stream, (provider as { layer: Layer.Layer<RR, ER> }).layer)
          )
    try {
      yield* iterable
    } catch (e) {
      throw Runtime.isFiberFailure(e) ? promiseError(e[Runtime.FiberFailureCauseId]) : e
    }
  }
})

// ---------------------------------------------------------------------------
// Composition (see `AgentComposition`)
// ---------------------------------------------------------------------------

/** An agent as a tool of another (see `AgentComposition.asTool`). */
export const asTool = Composition.asTool
/** A handoff to an agent (see `AgentComposition.handoff`). */
export const handoff = Composition.handoff
/**
 * The agent with handoffs added (see `AgentComposition.withHandoffs`); its output type gains
 * the targets' outputs.
 */
export const withHandoffs: {
  <H extends ReadonlyArray<Composition.Handoff<any, any, any>>>(
    handoffs: H
  ): <A, E, R>(
    agent: Agent<A, E, R>
  ) => Agent<
    A | Composition.HandoffOutput<H[number]>,
    E | Composition.HandoffError<H[number]>,
    R | Composition.HandoffRequirements<H[number]>
  >
  <A, E, R, H extends ReadonlyArray<Composition.Handoff<any, any, any>>>(
    agent: Agent<A, E, R>,
    handoffs: H
  ): Agent<
    A | Composition.HandoffOutput<H[number]>,
    E | Composition.HandoffError<H[number]>,
    R | Composition.HandoffRequirements<H[number]>
  >
} = dual(
  2,
  (agent: Any, handoffs: ReadonlyArray<Composition.Handoff<any, any, any>>): Any =>
    fromConfig(Composition.configWithHandoffs(agent.config, handoffs))
)
