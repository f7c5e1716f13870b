/**
 * Capabilities (pydantic-ai's `AbstractCapability` / `Hooks`): one value bundling tools,
 * built-in tools, instructions, model settings, history processors and hooks, attached to an
 * agent (`Agent.make({ capabilities })`) or to one run (`agent.run(prompt, { capabilities })`,
 * added after the agent's).
 *
 * Hooks are Effects: their typed errors join the run's error type and their requirements the
 * agent's (or the run's), like tools'. A hook failing with `ModelRetry` asks the model again:
 * model-request hooks spend the output retry budget, tool hooks the tool's. A hook substitutes
 * a response or a tool result by returning `skipModelRequest(response)` /
 * `skipToolExecution(result)` — a value, not an exception.
 *
 * Order: capabilities nest like middleware, the first one outermost. `before*` hooks run in
 * declaration order, `after*` hooks in reverse order, and `wrap*` hooks nest (the first wraps
 * all others); the agent's capabilities are outside the run's.
 *
 * @example
 * ```ts
 * import { Agent, Capability, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const audit = Capability.make({
 *   name: "audit",
 *   instructions: "Answer in one sentence.",
 *   modelSettings: { temperature: 0 },
 *   hooks: {
 *     beforeModelRequest: (ctx, request) =>
 *       Effect.as(Effect.logInfo(`step ${ctx.runStep}: ${request.messages.length} messages`), request)
 *   }
 * })
 * const agent = Agent.make({ capabilities: [audit] })
 * const program = agent.run("Hello").pipe(Effect.provide(TestModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { AgentError, ModelError, ModelRetry, ToolFailed } from "./AgentError.js"
import type { AgentNode, AgentRunResult, Instruction } from "./AgentGraph.js"
import type { BuiltinTool } from "./BuiltinTool.js"
import type { Deferral } from "./DeferredTools.js"
import type * as HistoryProcessor from "./HistoryProcessor.js"
import { type ModelMessage, ModelResponse, TextPart, type ToolCallPart } from "./Messages.js"
import type { ModelRequestParameters } from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import type { RunContext, Service as RunContextService } from "./RunContext.js"
import type { Tool, ToolDefinition } from "./Tool.js"
import * as Toolset from "./Toolset.js"
import * as onDemand from "./internal/onDemand.js"

/** Brands capability values. */
export const TypeId: unique symbol = Symbol.for("@agentfx/core/Capability")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/**
 * A model request as the hooks see it, and may replace: the messages sent (after history
 * processors; the run's stored history is not changed), the settings of this request and its
 * parameters (function tools, output tools, output mode, built-in tools).
 */
export interface ModelRequestContext {
  readonly messages: ReadonlyArray<ModelMessage>
  readonly modelSettings: ModelSettings
  readonly parameters: ModelRequestParameters
}

/**
 * Returned by `beforeModelRequest`: no request is sent, `response` is taken as the model's
 * answer (pydantic-ai's `SkipModelRequest`). It is not counted as a request in the usage; the
 * `afterModelRequest` hooks still see it. Build it with `skipModelRequest`.
 */
export class SkipModelRequest extends Data.TaggedClass("SkipModelRequest")<{
  readonly response: ModelResponse
}> {}

/** Skips the model request with this response (a string: one text part). */
export const skipModelRequest = (response: ModelResponse | string): SkipModelRequest =>
  new SkipModelRequest({
    response:
      typeof response === "string"
        ? new ModelResponse({ parts: [new TextPart({ content: response })] })
        : response
  })

/** A function tool call about to execute, as the tool hooks see it: its arguments are decoded. */
export interface ToolExecution {
  readonly call: ToolCallPart
  readonly definition: ToolDefinition
  /** The decoded (and validated) arguments; `beforeToolExecute` may replace them. */
  readonly args: unknown
}

/**
 * Returned by `beforeToolExecute`: the tool does not run, `result` is its result (pydantic-ai's
 * `SkipToolExecution`). The `afterToolExecute` hooks still see it; it is not counted in
 * `usage.toolCalls`. Build it with `skipToolExecution`.
 */
export class SkipToolExecution extends Data.TaggedClass("SkipToolExecution")<{
  readonly result: unknown
}> {}

/** Skips the tool execution with this result. */
export const skipToolExecution = (result: unknown): SkipToolExecution =>
  new SkipToolExecution({ result })

/**
 * A function tool call's arguments about to be validated, as the tool validation hooks see
 * them: `args` is what the model sent (a JSON string or an object, as on the `ToolCallPart`);
 * `beforeToolValidate` may replace it (e.g. repair the JSON).
 */
export interface ToolValidation {
  readonly call: ToolCallPart
  readonly definition: ToolDefinition
  /** The raw arguments: a JSON string or an object. */
  readonly args: string | Readonly<Record<string, unknown>>
}

/**
 * Returned by `beforeToolValidate`: the arguments are not validated, `args` are taken as the
 * validated arguments (pydantic-ai's `SkipToolValidation`); the `afterToolValidate` hooks
 * still see them. Build it with `skipToolValidation`.
 */
export class SkipToolValidation extends Data.TaggedClass("SkipToolValidation")<{
  readonly args: unknown
}> {}

/** Skips the validation of a call's arguments with these (already valid) arguments. */
export const skipToolValidation = (args: unknown): SkipToolValidation =>
  new SkipToolValidation({ args })

/**
 * The model's output about to be decoded into the agent's output type, as the output hooks see
 * it: a text answer, or a call of an output tool (tool output mode). `beforeOutputValidate` may
 * replace it (e.g. repair the JSON). An image answer does not reach the output hooks.
 */
export type OutputValidation =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "tool"; readonly call: ToolCallPart }

/**
 * What `next` of `wrapToolExecute` may fail with: a retry, a failed return. A tool's own typed
 * errors and its deferrals (`ApprovalRequired`, `CallDeferred`) also pass through `next`
 * unchanged: they are already in the agent's types, through its tools.
 */
export type ToolExecuteError = ModelRetry | ToolFailed

/**
 * Hook points, each optional. `ctx` is the run's `RunContext` at that point (inside a tool
 * hook: the tool call's, with `toolName` / `toolCallId`); it is also provided to the hook's
 * Effect. `E` are the hooks' typed errors (`ModelRetry` asks the model again instead), `R`
 * what they require.
 */
export interface Hooks<E = never, R = never> {
  /** Once, when the run starts (before its first request is built). Observe only. */
  readonly beforeRun?: (ctx: RunContextService) => Effect.Effect<void, E, R>
  /** Once, when the run ends with a result; may replace the result. */
  readonly afterRun?: (
    ctx: RunContextService,
    result: AgentRunResult<unknown>
  ) => Effect.Effect<AgentRunResult<unknown>, E, R>
  /**
   * Around the whole run, the first capability outermost: `next()` runs it — every step, the
   * `beforeRun`, `onRunError` and `afterRun` hooks included — and gives its result, or fails
   * with its error (with the history, as the run's failure carries it; a tool's own typed
   * errors pass through too). Not calling `next` skips the run: the result returned is the run's
   * (`new AgentRunResult(output, ctx.usage, ctx.messages, ctx.messages.length, ctx.runId)`).
   * Returning a result after `next` failed recovers the run; failing ends it with that error.
   * When the run is interrupted (a stream's reader stops, an `iter` is left), so is `next`: a
   * wrap holding a resource releases it with `Effect.ensuring` or a finalizer. Every entry
   * point runs it: a streamed run's events flow while `next` waits, and its
   * `AgentRunResultEvent` carries the wrap's result.
   */
  readonly wrapRun?: (
    ctx: RunContextService,
    next: () => Effect.Effect<AgentRunResult<unknown>, AgentError>
  ) => Effect.Effect<AgentRunResult<unknown>, E, R>
  /**
   * Before each node of the run (`UserPromptNode`, `ModelRequestNode`, `CallToolsNode`; however
   * the run is driven: `run`, `onEvent`, `runStream`, `iter`): may replace the node to run.
   */
  readonly beforeNodeRun?: (
    ctx: RunContextService,
    node: AgentNode<unknown>
  ) => Effect.Effect<AgentNode<unknown>, E, R>
  /**
   * Around each node: `next(node)` runs it — a streamed node's events flow as they come — and
   * gives the node the run goes on with (an `End` ends it). Returning another node redirects the
   * run; not calling `next` skips the node. Calling `next` again runs the node again, except in
   * a streamed run (`runStream`, `iter`'s `stream`, `streamOutput`), where the node runs once and
   * a second call gives the same next node.
   */
  readonly wrapNodeRun?: (
    ctx: RunContextService,
    node: AgentNode<unknown>,
    next: (node: AgentNode<unknown>) => Effect.Effect<AgentNode<unknown>, AgentError>
  ) => Effect.Effect<AgentNode<unknown>, E, R>
  /** After a node succeeded: may replace the node the run goes on with. Reverse order. */
  readonly afterNodeRun?: (
    ctx: RunContextService,
    node: AgentNode<unknown>,
    next: AgentNode<unknown>
  ) => Effect.Effect<AgentNode<unknown>, E, R>
  /**
   * When a node failed (after its `wrapNodeRun` hooks): `Option.some(node)` recovers — the run
   * goes on with that node (e.g. a `ModelRequestNode` to ask again, or an `End`) —
   * `Option.none()` passes the error on (to the `onRunError` hooks); failing replaces it. Reverse
   * order; the first to recover ends the chain.
   */
  readonly onNodeRunError?: (
    ctx: RunContextService,
    node: AgentNode<unknown>,
    error: unknown
  ) => Effect.Effect<Option.Option<AgentNode<unknown>>, E, R>
  /**
   * Before each model request, after history processors and before the usage-limit token
   * count: may replace the messages, settings and parameters sent, or skip the request
   * (`skipModelRequest`). `ModelRetry`: the request gets the retry prompt added and is sent
   * again (output budget).
   */
  readonly beforeModelRequest?: (
    ctx: RunContextService,
    request: ModelRequestContext
  ) => Effect.Effect<ModelRequestContext | SkipModelRequest, E | ModelRetry, R>
  /**
   * Around each model request: `next(request)` sends it (streamed when the run streams: its
   * events reach the stream as they come) and gives the response. Not calling it substitutes
   * the response; calling it again sends another request. `ModelRetry`: the model is asked again
   * with the retry prompt (a response obtained is kept in the history; output budget).
   */
  readonly wrapModelRequest?: (
    ctx: RunContextService,
    request: ModelRequestContext,
    next: (request: ModelRequestContext) => Effect.Effect<ModelResponse, ModelError>
  ) => Effect.Effect<ModelResponse, E | ModelRetry, R>
  /**
   * After each model response, before the run handles it: may replace the response (what the
   * history keeps; streamed events were already emitted). `ModelRetry`: the response is kept
   * in the history and the model is asked again with the retry prompt (output budget).
   */
  readonly afterModelRequest?: (
    ctx: RunContextService,
    request: ModelRequestContext,
    response: ModelResponse
  ) => Effect.Effect<ModelResponse, E | ModelRetry, R>
  /**
   * Before a function tool executes (its arguments decoded, approval granted): may replace the
   * arguments (return the execution with other `args`) or skip the tool
   * (`skipToolExecution`). `ModelRetry`: a retry prompt for the call (the tool's budget).
   */
  readonly beforeToolExecute?: (
    ctx: RunContextService,
    execution: ToolExecution
  ) => Effect.Effect<ToolExecution | SkipToolExecution, E | ModelRetry, R>
  /**
   * Around a function tool's execution (outermost: `next` runs the `beforeToolExecute` hooks,
   * the tool, then the `afterToolExecute` hooks, as pydantic-ai's). Not calling `next`
   * substitutes the result.
   */
  readonly wrapToolExecute?: (
    ctx: RunContextService,
    execution: ToolExecution,
    next: (execution: ToolExecution) => Effect.Effect<unknown, ToolExecuteError>
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /** After a function tool returned: may replace its result. `ModelRetry`: a retry prompt. */
  readonly afterToolExecute?: (
    ctx: RunContextService,
    execution: ToolExecution,
    result: unknown
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * When a model request failed with a `ModelError` (after the `wrapModelRequest` hooks had
   * their chance): succeed with `Option.some(response)` to recover — the run goes on with it,
   * through the `afterModelRequest` hooks (it is not counted as a request) — or
   * `Option.none()` to pass the error on; failing replaces it (the next hook sees the new
   * error if it is a `ModelError`). `ModelRetry` asks the model again (output budget). Hooks
   * run in reverse order; the first to recover ends the chain. A `ModelRetry` from
   * `wrapModelRequest` and interruption never reach them.
   */
  readonly onModelRequestError?: (
    ctx: RunContextService,
    request: ModelRequestContext,
    error: ModelError
  ) => Effect.Effect<Option.Option<ModelResponse>, E | ModelError | ModelRetry, R>
  /**
   * When a function tool failed with an error the run does not handle itself (its own typed
   * errors, a tool hook's error — not `ModelRetry`, `ToolFailed` or a deferral, which keep
   * their meaning): `Option.some(result)` recovers (the model gets `result` as the tool's
   * return), `Option.none()` passes the error on (the run fails with it, as without the hook);
   * failing with `ModelRetry` / `ToolFailed` turns it into a retry prompt / a failed result
   * the model sees. Reverse order; the first to recover ends the chain.
   */
  readonly onToolExecuteError?: (
    ctx: RunContextService,
    execution: ToolExecution,
    error: unknown
  ) => Effect.Effect<Option.Option<unknown>, E | ModelRetry | ToolFailed, R>
  /**
   * Before a function tool call's arguments are decoded and validated: may replace the raw
   * arguments (`args`: the model's JSON string or object), or skip the validation
   * (`skipToolValidation(args)`). `ModelRetry`: a retry prompt for the call (the tool's budget).
   */
  readonly beforeToolValidate?: (
    ctx: RunContextService,
    validation: ToolValidation
  ) => Effect.Effect<ToolValidation | SkipToolValidation, E | ModelRetry, R>
  /**
   * Around the validation of a call's arguments: `next(validation)` decodes them with the
   * tool's parameters schema (and its `validate`) and gives the decoded arguments, or fails
   * with the `ModelRetry` that becomes the retry prompt. Not calling it substitutes the
   * arguments.
   */
  readonly wrapToolValidate?: (
    ctx: RunContextService,
    validation: ToolValidation,
    next: (validation: ToolValidation) => Effect.Effect<unknown, ModelRetry>
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * When validation failed (`error`: the `ModelRetry` the model would get as a retry prompt):
   * `Option.some(args)` recovers with arguments to use instead, `Option.none()` passes the
   * error on; failing with another `ModelRetry` changes the prompt. Reverse order; the first to
   * recover ends the chain.
   */
  readonly onToolValidateError?: (
    ctx: RunContextService,
    validation: ToolValidation,
    error: ModelRetry
  ) => Effect.Effect<Option.Option<unknown>, E | ModelRetry | ToolFailed, R>
  /**
   * After the arguments were validated: may replace the decoded arguments, or defer the call
   * (fail with `ApprovalRequired` / `CallDeferred` — the call then waits, as a tool's own
   * deferral does). `ModelRetry`: a retry prompt for the call.
   */
  readonly afterToolValidate?: (
    ctx: RunContextService,
    validation: ToolValidation,
    args: unknown
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * At every step, the definitions of the function tools the model is offered (after every
   * toolset's own `prepare`): return a shorter list to hide tools — a hidden tool cannot be
   * called either — or edited definitions (descriptions, schemas; matched back by name).
   * Capabilities run in order, each given the previous one's list.
   */
  readonly prepareTools?: (
    ctx: RunContextService,
    definitions: ReadonlyArray<ToolDefinition>
  ) => Effect.Effect<ReadonlyArray<ToolDefinition>, E, R>
  /**
   * At every step, the definitions of the output tools the model is offered (tool output mode:
   * one per output type), with `ctx.maxRetries` the output retry budget: return a shorter list to
   * hide output tools — a hidden one cannot end the run; a call of it gets the unknown-tool retry
   * prompt — or edited definitions (descriptions, schemas; matched back by name). Capabilities
   * run in order, each given the previous one's list. Partial outputs of `streamOutput` follow the
   * same list.
   */
  readonly prepareOutputTools?: (
    ctx: RunContextService,
    definitions: ReadonlyArray<ToolDefinition>
  ) => Effect.Effect<ReadonlyArray<ToolDefinition>, E, R>
  /**
   * Before the model's final answer (text, or an output tool's call) is decoded into the
   * agent's output type: may replace it (repair the JSON, rewrite the text). `ModelRetry`:
   * the model is asked again (the output budget, or the output tool's). Partial outputs of
   * `streamOutput` do not go through the output hooks.
   */
  readonly beforeOutputValidate?: (
    ctx: RunContextService,
    validation: OutputValidation
  ) => Effect.Effect<OutputValidation, E | ModelRetry, R>
  /**
   * Around the decoding: `next(validation)` parses and validates it with the output spec (an
   * output function included) and gives the output, or fails with the `ModelRetry` that becomes
   * the retry prompt. Not calling it substitutes the output.
   */
  readonly wrapOutputValidate?: (
    ctx: RunContextService,
    validation: OutputValidation,
    next: (validation: OutputValidation) => Effect.Effect<unknown, ModelRetry>
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * When the decoding failed (`error`: the `ModelRetry` the model would get): `Option.some` an
   * output to use instead, `Option.none()` to pass the error on. Reverse order; the first to
   * recover ends the chain.
   */
  readonly onOutputValidateError?: (
    ctx: RunContextService,
    validation: OutputValidation,
    error: ModelRetry
  ) => Effect.Effect<Option.Option<unknown>, E | ModelRetry, R>
  /**
   * After the decoding, before the agent's `outputValidators`: may replace the output (of the
   * agent's output type). `ModelRetry`: the model is asked again.
   */
  readonly afterOutputValidate?: (
    ctx: RunContextService,
    validation: OutputValidation,
    output: unknown
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * After the agent's `outputValidators` accepted the output: the run's final output, which
   * this hook may replace (of the agent's output type; e.g. redact it). `ModelRetry`: the model
   * is asked again.
   */
  readonly afterOutputProcess?: (
    ctx: RunContextService,
    output: unknown
  ) => Effect.Effect<unknown, E | ModelRetry, R>
  /**
   * When the run fails (a step's typed failure; interruption is not a failure):
   * `Option.some(output)` recovers — the run ends with `output`, its messages and usage as they
   * are, through the `afterRun` hooks (a streamed run ends with the result's
   * `AgentRunResultEvent`) — `Option.none()` passes the error on; failing replaces it with the
   * hook's error. Reverse order; the first to recover ends the chain. The output is not
   * checked against the agent's output type: return one of that type.
   */
  readonly onRunError?: (
    ctx: RunContextService,
    error: unknown
  ) => Effect.Effect<Option.Option<unknown>, E, R>
}

/**
 * A capability. `E` are the typed errors of its tools, instructions, history processors and
 * hooks, `R` what they require (read them with `Errors`, `Deferrals`, `Requirements`).
 */
export interface Capability<out E = never, out R = never> extends Pipeable {
  readonly [TypeId]: {
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
  }
  /** For people reading traces and errors. */
  readonly name: string | undefined
  /** Its stable id: what the model loads an on-demand capability by (`deferLoading`). */
  readonly id: string | undefined
  /** What the catalog of on-demand capabilities tells the model about it. */
  readonly description: string | undefined
  /**
   * On demand: collapsed to a catalog entry until the model loads it with the
   * `load_capability` tool (see `MakeOptions.deferLoading`).
   */
  readonly deferLoading: boolean
  /** Its tools, as one toolset (`undefined`: none). */
  readonly toolset: Toolset.Any | undefined
  readonly builtinTools: ReadonlyArray<BuiltinTool>
  readonly instructions: ReadonlyArray<Instruction<any, any>>
  /** Merged over the agent's settings, under the run's (model < agent < capability < run). */
  readonly modelSettings: ModelSettings | undefined
  readonly historyProcessors: ReadonlyArray<HistoryProcessor.HistoryProcessor<any, any>>
  readonly hooks: Hooks<any, any>
}

/** Any capability. */
export type Any = Capability<any, any>

/**
 * The errors a capability adds to a run: not `ModelRetry`, `ToolFailed` or deferrals (the run
 * handles them), nor an `AgentError` (every run has those already).
 */
export type Errors<C> =
  C extends Capability<infer E, any>
    ? Exclude<E, ModelRetry | ToolFailed | Deferral | AgentError>
    : never
/** How a capability's tools may defer their calls (`DeferredToolRequests` joins the output). */
export type Deferrals<C> = C extends Capability<infer E, any> ? Extract<E, Deferral> : never
/** What a capability requires (without `RunContext`, which the run provides). */
export type Requirements<C> = C extends Capability<any, infer R> ? Exclude<R, RunContext> : never

/** The errors of the hooks of `H`. */
export type HookErrors<H> = {
  [K in keyof H]-?: NonNullable<H[K]> extends (...args: any) => Effect.Effect<any, infer E, any>
    ? E
    : never
}[keyof H]
/** The requirements of the hooks of `H`. */
export type HookRequirements<H> = {
  [K in keyof H]-?: NonNullable<H[K]> extends (...args: any) => Effect.Effect<any, any, infer R>
    ? R
    : never
}[keyof H]

type ToolErrors<T> = T extends Tool<any, any, any, infer E, any> ? E : never
type ToolRequirements<T> = T extends Tool<any, any, any, any, infer R> ? R : never
type SetErrors<T> = T extends Toolset.Toolset<infer E, any> ? E : never
type SetRequirements<T> = T extends Toolset.Toolset<any, infer R> ? R : never

/** Options of `make`. */
export interface MakeOptions<
  Tools extends ReadonlyArray<Toolset.AnyTool>,
  Sets extends ReadonlyArray<Toolset.Any>,
  H extends Hooks<any, any>,
  IE,
  IR,
  PE,
  PR,
  TO extends HookTimeout | undefined = undefined
> {
  readonly name?: string | undefined
  /** A stable id (required with `deferLoading`: the history records loads by it). */
  readonly id?: string | undefined
  /** One line for the catalog of on-demand capabilities: when the model should load it. */
  readonly description?: string | undefined
  /**
   * On demand (pydantic-ai's `defer_loading`): the capability collapses to its `id` and
   * `description` in a catalog appended to the instructions, and the model loads it with the
   * `load_capability` tool (added to the run; the name is reserved), whose return is the
   * capability's instructions. Until then its tools are hidden (and cannot be called), its
   * hooks and history processors do nothing, its settings and built-in tools are not applied;
   * from the next request on, all of it is live — its settings filling in what the agent and
   * the run leave unset. Loads are read from the history (answered `load_capability` calls),
   * so a conversation continued elsewhere keeps them; ids must be unique and stable.
   */
  readonly deferLoading?: boolean | undefined
  /** Function tools added to the agent's (a duplicate name fails the run with a `UserError`). */
  readonly tools?: Tools
  readonly toolsets?: Sets
  /** Built-in tools (run by the provider), added to the agent's. */
  readonly builtinTools?: ReadonlyArray<BuiltinTool>
  /** Instructions added after the agent's (static first, as always). */
  readonly instructions?: Instruction<IE, IR> | ReadonlyArray<Instruction<IE, IR>>
  /** Settings over the agent's, under the run's. */
  readonly modelSettings?: ModelSettings
  /** History processors applied after the agent's own. */
  readonly historyProcessors?: ReadonlyArray<HistoryProcessor.HistoryProcessor<PE, PR>>
  /** The hooks (`H & Hooks` so that their parameters are typed where they are written). */
  readonly hooks?: H & Hooks<any, any>
  /**
   * A time limit for each of its hooks (one for all, or per hook point): a hook still running
   * then is interrupted and the run fails with a `HookTimeoutError` (typed). For a `wrap*` hook
   * the time spent in `next` counts too.
   */
  readonly hookTimeout?: TO
  /**
   * Its tool hooks (`*ToolValidate`, `*ToolExecute`, their error hooks) fire only for calls of
   * these tools; other calls pass through as if the hook were not there.
   */
  readonly hookTools?: ReadonlyArray<string> | undefined
}

/** `hookTimeout`: one limit for every hook, or one per hook point. */
export type HookTimeout =
  | Duration.DurationInput
  | { readonly [K in keyof Hooks<any, any>]?: Duration.DurationInput }

/** A hook ran longer than its capability's `hookTimeout`. */
export class HookTimeoutError extends Schema.TaggedError<HookTimeoutError>()("HookTimeoutError", {
  /** The hook point (`beforeModelRequest`, …). */
  hook: Schema.String,
  /** The capability's name, if it has one. */
  capability: Schema.optional(Schema.String),
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `The ${this.hook} hook${this.capability !== undefined ? ` of capability "${this.capability}"` : ""} timed out after ${this.timeoutMillis} ms`
  }
}

const toolHookPoints: ReadonlySet<string> = new Set([
  "beforeToolValidate",
  "wrapToolValidate",
  "afterToolValidate",
  "onToolValidateError",
  "beforeToolExecute",
  "wrapToolExecute",
  "afterToolExecute",
  "onToolExecuteError"
])

const limitOf = (timeout: HookTimeout, key: string): Duration.Duration | undefined => {
  if (Duration.isDuration(timeout) || typeof timeout !== "object") return Duration.decode(timeout)
  const own = (timeout as Record<string, Duration.DurationInput | undefined>)[key]
  return own === undefined ? undefined : Duration.decode(own)
}

/** The hooks with `hookTimeout` and `hookTools` applied. */
const configureHooks = (
  hooks: Hooks<any, any>,
  name: string | undefined,
  timeout: HookTimeout | undefined,
  tools: ReadonlyArray<string> | undefined
): Hooks<any, any> => {
  if (timeout === undefined && tools === undefined) return hooks
  const names = tools === undefined ? undefined : new Set(tools)
  const out: Record<string, unknown> = {}
  for (const [key, f] of Object.entries(hooks) as Array<[string, (...args: any) => any]>) {
    if (f === undefined) continue
    let hook = f
    const limit = timeout === undefined ? undefined : limitOf(timeout, key)
    if (limit !== undefined) {
      const inner = hook
      hook = (...args: Array<any>) =>
        Effect.timeoutFail(inner(...args) as Effect.Effect<unknown, unknown, unknown>, {
          duration: limit,
          onTimeout: () =>
            new HookTimeoutError({
              hook: key,
              ...(name !== undefined ? { capability: name } : {}),
              timeoutMillis: Duration.toMillis(limit)
            })
        })
    }
    if (names !== undefined && toolHookPoints.has(key)) {
      const inner = hook
      hook = (...args: Array<any>) =>
        names.has((args[0] as RunContextService).toolName ?? "")
          ? inner(...args)
          : onDemand.passThrough(key, args)
    }
    out[key] = hook
  }
  return out as Hooks<any, any>
}

const proto = {
  pipe() {
    return pipeArguments(this, arguments)
  }
}

const toArray = <T>(x: T | ReadonlyArray<T> | undefined): ReadonlyArray<T> =>
  x === undefined ? [] : Array.isArray(x) ? (x as ReadonlyArray<T>) : [x as T]

/** Builds a capability; its type carries the errors and requirements of everything in it. */
export const make = <
  const Tools extends ReadonlyArray<Toolset.AnyTool> = [],
  const Sets extends ReadonlyArray<Toolset.Any> = [],
  const H extends Hooks<any, any> = {},
  IE = never,
  IR = never,
  PE = never,
  PR = never,
  TO extends HookTimeout | undefined = undefined
>(
  options: MakeOptions<Tools, Sets, H, IE, IR, PE, PR, TO>
): Capability<
  | ToolErrors<Tools[number]>
  | SetErrors<Sets[number]>
  | HookErrors<H>
  | IE
  | PE
  | ([TO] extends [undefined] ? never : HookTimeoutError),
  ToolRequirements<Tools[number]> | SetRequirements<Sets[number]> | HookRequirements<H> | IR | PR
> => {
  if (options.deferLoading === true && (options.id === undefined || options.id === "")) {
    throw new Error(
      `Capability${options.name !== undefined ? ` "${options.name}"` : ""}: deferLoading needs an id (the history records loads by it)`
    )
  }
  const sets: Array<Toolset.Any> = []
  if (options.tools !== undefined && options.tools.length > 0) {
    sets.push(Toolset.fromTools(options.tools))
  }
  for (const s of options.toolsets ?? []) sets.push(s)
  const self = Object.create(proto)
  self[TypeId] = TypeId
  self.name = options.name
  self.id = options.id
  self.description = options.description
  self.deferLoading = options.deferLoading === true
  self.toolset =
    sets.length === 0 ? undefined : sets.length === 1 ? sets[0] : Toolset.combine(...sets)
  self.builtinTools = options.builtinTools ?? []
  self.instructions = toArray(options.instructions)
  self.modelSettings = options.modelSettings
  self.historyProcessors = options.historyProcessors ?? []
  self.hooks = configureHooks(
    options.hooks ?? {},
    options.name,
    options.hookTimeout,
    options.hookTools
  )
  return self
}

/**
 * A capability of hooks only (pydantic-ai's `Hooks` capability); `options`: a name, a time limit
 * per hook (`hookTimeout`), the tools its tool hooks apply to (`hookTools`).
 */
export const hooks = <
  const H extends Hooks<any, any>,
  TO extends HookTimeout | undefined = undefined
>(
  hooks: H,
  options?: {
    readonly name?: string | undefined
    readonly hookTimeout?: TO
    readonly hookTools?: ReadonlyArray<string> | undefined
  }
): Capability<
  HookErrors<H> | ([TO] extends [undefined] ? never : HookTimeoutError),
  HookRequirements<H>
> => make({ ...options, hooks }) as any

/** Is this value a capability? */
export const isCapability = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && TypeId in u

/**
 * The ids of the on-demand capabilities a conversation has loaded (answered `load_capability`
 * calls), e.g. `Capability.loadedIds(result.allMessages())` or `loadedIds(ctx.messages)`.
 */
export const loadedIds = (messages: ReadonlyArray<ModelMessage>): ReadonlySet<string> =>
  onDemand.loadedIds(messages)
