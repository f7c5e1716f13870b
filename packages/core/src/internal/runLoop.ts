/**
 * The agent run loop as an explicit state machine:
 * `UserPromptNode → ModelRequestNode → CallToolsNode → (ModelRequestNode → CallToolsNode)* → End`.
 *
 * A `Machine` executes one node at a time, either plainly (`step`, used by `run`) or as a
 * stream of events (`stream`, used by `runStream` and `iter`). Its state is owned by the run:
 * only the machine's own sequential steps mutate it (concurrent tool calls only touch the
 * usage `Ref`), so it lives in a plain object, mirrored to `CaptureRunMessages` on every change.
 *
 * Performance: message and part classes built here from already-validated values (parts of
 * validated messages, strings the loop composes, tool results typed `unknown`) are constructed
 * with validation off (`new X(props, true)`): validating them again costs more than the rest of
 * a run's bookkeeping.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import * as Tracer from "effect/Tracer"
import {
  type AgentError,
  ContentFilterError,
  ModelRetry,
  ToolFailed,
  UnexpectedModelBehavior,
  UsageLimitExceeded,
  UserError,
  withMessages
} from "../AgentError.js"
import * as CaptureRunMessages from "../CaptureRunMessages.js"
import {
  encodeJson as encodeMessagesJson,
  FinalResultEvent,
  FunctionToolCallEvent,
  FunctionToolResultEvent,
  type ModelMessage,
  ModelRequest,
  type ModelRequestPart,
  ModelResponse,
  type ModelResponseStreamEvent,
  type PartDeltaEvent,
  type PartEndEvent,
  type PartStartEvent,
  RetryPromptPart,
  SystemPromptPart,
  type ToolCallPart,
  ToolReturnPart,
  type UserContent,
  UserPromptPart
} from "../Messages.js"
import * as InstrumentedModel from "../InstrumentedModel.js"
import * as Model from "../Model.js"
import * as ModelSettings from "../ModelSettings.js"
import type * as OutputSpec from "../OutputSpec.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import type * as Toolset from "../Toolset.js"
import { RunUsage, UsageLimits } from "../Usage.js"
import { repairHistory } from "./historyRepair.js"

// ---------------------------------------------------------------------------
// Public data (re-exported by Agent.ts)
// ---------------------------------------------------------------------------

/**
 * How a response with several tool calls ends the run once an output is found:
 * - `early`: output tools first, the first valid one wins; function tools are not run.
 * - `graceful`: every function tool runs; the first valid output tool (by emission order) wins.
 * - `exhaustive`: like graceful, and every output tool runs too.
 */
export type EndStrategy = "early" | "graceful" | "exhaustive"

/** A static instruction / system prompt, or a dynamic one (an Effect, re-run every time). */
export type Instruction<E = never, R = never> = string | Effect.Effect<string | undefined, E, R>

/**
 * A system prompt re-evaluated when a conversation is continued: its part carries `dynamicRef`
 * (= `ref`), and every part of the given history with that ref gets the prompt's new content.
 */
export class DynamicSystemPrompt<E = never, R = never> {
  readonly _tag = "DynamicSystemPrompt" as const
  constructor(
    /** Names the prompt in the history (`SystemPromptPart.dynamicRef`); unique per agent. */
    readonly ref: string,
    readonly prompt: Effect.Effect<string | undefined, E, R>
  ) {}
}

/** A system prompt: static, dynamic (evaluated for a fresh conversation), or re-evaluated. */
export type SystemPrompt<E = never, R = never> = Instruction<E, R> | DynamicSystemPrompt<E, R>

/** What can be given as a model: a service, a Layer building one, or a `"provider:model"` string. */
export type ModelInput = Model.Service | string | Layer.Layer<Model.Model, any, any>

/** Metadata of a run: application data, never sent to the model. */
export type Metadata = Readonly<Record<string, unknown>>

/**
 * Metadata given to an agent or a run: a record, or a function of the run's `RunContext`
 * (computed when the run starts, and again when it ends, so it can read the final usage).
 */
export type MetadataInput = Metadata | ((ctx: RunContextService) => Metadata)

/** The result of a run. */
export class AgentRunResult<A> {
  constructor(
    /** The output of the run. */
    readonly output: A,
    /** Usage of the run (including any starting usage). */
    readonly usage: RunUsage,
    private readonly messages: ReadonlyArray<ModelMessage>,
    private readonly newMessageIndex: number,
    /** Unique id of the run. */
    readonly runId: string,
    /** The run's metadata (agent's merged with the run's, run wins), computed at the end. */
    readonly metadata: Metadata | undefined = undefined
  ) {}
  /** Every message of the conversation, history included. */
  allMessages(): ReadonlyArray<ModelMessage> {
    return this.messages
  }
  /** The messages produced by this run. */
  newMessages(): ReadonlyArray<ModelMessage> {
    return this.messages.slice(this.newMessageIndex)
  }
  /** `allMessages()` as JSON. */
  allMessagesJson(): string {
    return encodeMessagesJson(this.messages)
  }
  /** `newMessages()` as JSON. */
  newMessagesJson(): string {
    return encodeMessagesJson(this.newMessages())
  }
  /** The last response of the model. */
  get response(): ModelResponse {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const m = this.messages[i]!
      if (m._tag === "ModelResponse") return m
    }
    return new ModelResponse({ parts: [] })
  }
}

/** The last event of `runStream`: the run's result. */
export class AgentRunResultEvent<A> {
  readonly _tag = "AgentRunResultEvent" as const
  constructor(readonly result: AgentRunResult<A>) {}
}

/** An event of a streamed run. */
export type AgentStreamEvent<A> =
  | PartStartEvent
  | PartDeltaEvent
  | PartEndEvent
  | FinalResultEvent
  | FunctionToolCallEvent
  | FunctionToolResultEvent
  | AgentRunResultEvent<A>

/** First node: builds the first request from the prompt and the history. */
export class UserPromptNode {
  readonly _tag = "UserPromptNode" as const
  constructor(readonly prompt: string | ReadonlyArray<UserContent> | undefined) {}
}
/** Sends `request` to the model. */
export class ModelRequestNode {
  readonly _tag = "ModelRequestNode" as const
  constructor(
    readonly request: ModelRequest,
    /** The request is already the last message of the history (re-sent as is). */
    readonly resend: boolean = false
  ) {}
}
/** Handles a response: runs tools, decodes output, or asks for a retry. */
export class CallToolsNode {
  readonly _tag = "CallToolsNode" as const
  constructor(readonly response: ModelResponse) {}
}
/** The run is over. */
export class End<A> {
  readonly _tag = "End" as const
  constructor(readonly result: AgentRunResult<A>) {}
}

/** A node of the run graph. */
export type AgentNode<A> = UserPromptNode | ModelRequestNode | CallToolsNode | End<A>

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/** The agent's configuration, untyped (Agent.ts carries the types). */
export interface AgentConfig {
  readonly name: string | undefined
  readonly model: ModelInput | undefined
  readonly instructions: ReadonlyArray<Instruction<any, any>>
  readonly systemPrompts: ReadonlyArray<SystemPrompt<any, any>>
  readonly toolset: Toolset.Any
  readonly output: OutputSpec.Any
  readonly outputValidators: ReadonlyArray<(output: any) => Effect.Effect<any, any, any>>
  readonly retries: number
  readonly outputRetries: number
  readonly endStrategy: EndStrategy
  readonly modelSettings: ModelSettings.ModelSettings | undefined
  readonly usageLimits: UsageLimits | undefined
  readonly maxConcurrency: number | "unbounded"
  /** Default time limit of one tool call; a tool's own `timeout` wins. */
  readonly toolTimeout?: Duration.DurationInput | undefined
  /** Agent-level metadata; a run's own metadata is merged over it. */
  readonly metadata?: MetadataInput | undefined
  /** Limits concurrent runs: `acquire` waits for a slot, released when the scope closes. */
  readonly concurrencyLimiter?:
    | { readonly acquire: Effect.Effect<void, AgentError, Scope.Scope> }
    | undefined
}

/** Per-run options (untyped). */
export interface RunOptionsAny {
  readonly messageHistory?: ReadonlyArray<ModelMessage> | undefined
  readonly model?: ModelInput | undefined
  readonly modelSettings?: ModelSettings.ModelSettings | undefined
  readonly usageLimits?: UsageLimits | undefined
  readonly usage?: RunUsage | Ref.Ref<RunUsage> | undefined
  readonly instructions?: Instruction<any, any> | ReadonlyArray<Instruction<any, any>> | undefined
  readonly runId?: string | undefined
  readonly metadata?: MetadataInput | undefined
}

/** The usage `Ref` of the current run, visible to tools (share it with a sub-agent's run). */
export class CurrentUsage extends Context.Tag("@agentfx/core/Agent/CurrentUsage")<
  CurrentUsage,
  Ref.Ref<RunUsage>
>() {}

/** A running agent, one node at a time. Every effect has its requirements already provided. */
export interface Machine<A> {
  readonly runId: string
  readonly start: AgentNode<A>
  /** Executes a node without streaming; returns (and remembers) the next node. */
  readonly step: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, any>
  /** Runs every node from the next one to the end without streaming (what `step` in a loop does). */
  readonly runAll: Effect.Effect<AgentRunResult<A>, any>
  /** Executes a node, streaming its events; afterwards `nextNode` holds the next node. */
  readonly stream: (node: AgentNode<A>) => Stream.Stream<AgentStreamEvent<A>, any>
  /** Every node from `node` to the end as one event stream, ending with `AgentRunResultEvent`. */
  readonly streamAll: (node: AgentNode<A>) => Stream.Stream<AgentStreamEvent<A>, any>
  readonly nextNode: Effect.Effect<AgentNode<A>>
  readonly messages: Effect.Effect<ReadonlyArray<ModelMessage>>
  readonly usage: Effect.Effect<RunUsage>
  /** A `RunContext` for decoding partial output while streaming. */
  readonly partialContext: Effect.Effect<RunContextService>
  /** The requirements of the run, captured when it was built. */
  readonly context: Context.Context<any>
  /** The output spec of the run (an auto spec resolved for the run's model). */
  readonly output: OutputSpec.Any
}

let runCounter = 0
const newRunId = (): string => `run_${Date.now().toString(36)}_${(runCounter++).toString(36)}`

/**
 * Resolves the model of a run: per-run option, agent model, or the `Model` in context. A Layer
 * is built in `owner.scope` (else the `Scope` in context), under `owner.parent` when given.
 */
export const resolveModel = (
  input: ModelInput | undefined,
  owner?: RunOwner
): Effect.Effect<Model.Service, any, any> => {
  if (input === undefined) return Model.Model
  if (typeof input === "string") {
    const resolved = Effect.flatMap(Model.ModelRegistry, (registry) => registry.resolve(input))
    return owner === undefined ? resolved : Effect.withParentSpan(resolved, owner.parent)
  }
  if (Layer.isLayer(input)) {
    const layer = input as Layer.Layer<Model.Model, any, any>
    return Effect.map(
      owner === undefined
        ? Layer.build(layer)
        : Effect.withParentSpan(Layer.buildWithScope(layer, owner.scope), owner.parent),
      (ctx) => Context.get(ctx, Model.Model)
    )
  }
  return Effect.succeed(input as Model.Service)
}

const toArray = <T>(x: T | ReadonlyArray<T> | undefined): ReadonlyArray<T> =>
  x === undefined ? [] : Array.isArray(x) ? (x as ReadonlyArray<T>) : [x as T]

const isModelRetry = (u: unknown): u is ModelRetry => u instanceof ModelRetry
const isRetryOrFailed = (u: unknown): u is ModelRetry | ToolFailed =>
  u instanceof ModelRetry || u instanceof ToolFailed

const retryContent = (e: ModelRetry) =>
  e.issues !== undefined && e.issues.length > 0 ? e.issues : e.reason

const parsesAsJson = (text: string): boolean => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

const safeJson = (u: unknown): string => {
  try {
    return JSON.stringify(u)
  } catch {
    return String(u)
  }
}

const quoteList = (names: ReadonlyArray<string>) => names.map((n) => `'${n}'`).join(", ")

/** Status texts of tool returns that did not produce the result (pydantic-ai's wording). */
export const statusTexts = {
  finalResult: "Final result processed.",
  outputNotUsed: "Output tool not used - a final result was already processed.",
  toolNotExecuted: "Tool not executed - a final result was already processed.",
  outputProcessedNotFinal:
    "Output tool processed, but its value will not be the final result of the agent run.",
  retryWins: "Output not used as the final result - addressing tool retries from this round first."
} as const

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

interface State {
  messages: ReadonlyArray<ModelMessage>
  newMessageIndex: number
  runStep: number
  /** Retries used per tool name (function, unknown and output tools). */
  toolRetries: Map<string, number>
  /** Output retries used (text path and output tools). */
  outputRetries: number
  next: AgentNode<any>
  /** The function tools of the current step, by name. */
  tools: Map<string, Toolset.ToolsetTool<any, any>>
  settings: ModelSettings.ModelSettings
}

type Emit = (events: Chunk.Chunk<AgentStreamEvent<any>>) => Effect.Effect<void>
const noEmit: Emit = () => Effect.void

/**
 * The scope and the span that own a run, given explicitly by `Agent.run` instead of being
 * provided through the context (`Effect.scoped` + `Effect.withSpan` each cost a context change;
 * the run's single `provide` carries both instead).
 */
export interface RunOwner {
  readonly scope: Scope.Scope
  readonly parent: Tracer.AnySpan
}

/**
 * Builds a run; requires what the agent requires, plus `Scope` for a model given as a Layer
 * (unless `owner` gives the scope).
 */
export const makeMachine = <A>(
  config: AgentConfig,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  options: RunOptionsAny,
  owner?: RunOwner
): Effect.Effect<Machine<A>, AgentError, any> =>
  Effect.gen(function* () {
    const model: Model.Service = yield* resolveModel(options.model ?? config.model, owner)
    // Requests go through `chat {model}` spans (GenAI attributes); an instrumented model is used
    // as is, so there is one span per request either way.
    const chatModel = InstrumentedModel.instrument(model)
    const usageRef0 = options.usage
    const usageRef: Ref.Ref<RunUsage> =
      usageRef0 !== undefined && Ref.RefTypeId in (usageRef0 as object)
        ? (usageRef0 as Ref.Ref<RunUsage>)
        : yield* Ref.make((usageRef0 as RunUsage | undefined) ?? RunUsage.empty)
    // Requirements are captured once so nodes can run from anywhere (iter); the parent span is
    // left out so each step nests under the span of whoever runs it.
    // With an explicit owner, its scope is the run's `Scope` (as `Effect.scoped` would provide).
    // Built with one copy of the context's map (each `Context.add`/`omit` copies it).
    const contextMap = new Map((yield* Effect.context<any>()).unsafeMap)
    contextMap.delete(Tracer.ParentSpan.key)
    contextMap.set(CurrentUsage.key, usageRef)
    if (owner !== undefined) contextMap.set(Scope.Scope.key, owner.scope)
    const context: Context.Context<any> = Context.unsafeMake(contextMap)
    // What `runAll` provides: with an owner, its span is the parent of every step.
    const runContext =
      owner === undefined ? context : Context.add(context, Tracer.ParentSpan, owner.parent)
    const record = yield* CaptureRunMessages.claim
    const runId = options.runId ?? newRunId()
    const usageLimits = options.usageLimits ?? config.usageLimits ?? UsageLimits.default
    const profile = model.profile
    // Auto output picks its mode from the profile of the model this run uses.
    const spec: OutputSpec.Any = config.output.resolve?.(profile) ?? config.output
    const outputMax = spec.maxRetries ?? config.outputRetries
    const staticInstructions: Array<string> = []
    const dynamicInstructions: Array<Effect.Effect<string | undefined, any, any>> = []
    for (const i of [...config.instructions, ...toArray(options.instructions)]) {
      if (typeof i === "string") staticInstructions.push(i)
      else dynamicInstructions.push(i)
    }
    const outputInstructions = spec.instructions(profile)
    // Can this model serve this output at all? Checked before the first request is sent.
    const outputCheck = spec.check?.(profile)
    const settings = ModelSettings.merge(
      model.settings,
      config.modelSettings,
      options.modelSettings
    )

    const start: AgentNode<A> = new UserPromptNode(prompt)
    const st: State = {
      messages: options.messageHistory ?? [],
      newMessageIndex: 0,
      runStep: 0,
      toolRetries: new Map(),
      outputRetries: 0,
      next: start,
      tools: new Map(),
      settings
    }
    const setMessages = (messages: ReadonlyArray<ModelMessage>) => {
      st.messages = messages
      record(messages)
    }
    const append = (m: ModelMessage) => setMessages([...st.messages, m])

    const provide = <X, E>(effect: Effect.Effect<X, E, any>): Effect.Effect<X, E> =>
      Effect.provide(effect, runContext)
    // The set-up of a streamed request keeps the `Scope` of its own `Stream.unwrapScoped`
    // (built on first use: a run that does not stream never needs it).
    let streamSetup: Context.Context<any> | undefined
    const streamSetupContext = (): Context.Context<any> =>
      (streamSetup ??= Context.omit(Scope.Scope)(runContext))

    let runMetadata: Metadata | undefined
    const makeCtx = (extra?: Partial<RunContextService>): Effect.Effect<RunContextService> =>
      Effect.map(Ref.get(usageRef), (usage) => ({
        runId,
        agentName: config.name,
        model,
        prompt,
        messages: st.messages,
        usage,
        usageLimits,
        modelSettings: st.settings,
        runStep: st.runStep,
        retry: st.outputRetries,
        maxRetries: outputMax,
        toolName: undefined,
        toolCallId: undefined,
        partialOutput: false,
        metadata: runMetadata,
        ...extra
      }))

    // Metadata: agent's then run's (run wins), computed now and again at the end of the run;
    // recorded on the run's span as the JSON attribute `metadata`.
    const metadataInputs: Array<MetadataInput> = []
    if (config.metadata !== undefined) metadataInputs.push(config.metadata)
    if (options.metadata !== undefined) metadataInputs.push(options.metadata)
    const runSpan: Tracer.AnySpan | undefined =
      metadataInputs.length === 0
        ? undefined
        : (owner?.parent ?? Option.getOrUndefined(yield* Effect.serviceOption(Tracer.ParentSpan)))
    const computeMetadata: Effect.Effect<void> = Effect.map(makeCtx(), (ctx) => {
      const out: Record<string, unknown> = {}
      for (const m of metadataInputs) Object.assign(out, typeof m === "function" ? m(ctx) : m)
      runMetadata = out
      if (runSpan !== undefined && runSpan._tag === "Span") {
        runSpan.attribute("metadata", safeJson(out))
      }
    })
    if (metadataInputs.length > 0) yield* computeMetadata

    const limitError = (v: { limit: any; limitValue: number; value: number; message: string }) =>
      new UsageLimitExceeded({
        limit: v.limit,
        limitValue: v.limitValue,
        value: v.value,
        reason: v.message,
        messages: st.messages
      })

    const fail = (reason: string) =>
      Effect.fail(new UnexpectedModelBehavior({ reason, messages: st.messages }))

    /**
     * A retry budget is spent. When the response being handled was cut by the token limit in the
     * middle of a tool call (its JSON arguments do not parse), say so: that is the real cause,
     * and more retries would not help (pydantic-ai's `IncompleteToolCall`).
     */
    const exhausted = (reason: string) => {
      const last = st.messages[st.messages.length - 1]
      if (last !== undefined && last._tag === "ModelResponse" && last.finishReason === "length") {
        const calls = last.toolCalls
        const call = calls[calls.length - 1]
        if (call !== undefined && typeof call.args === "string" && !parsesAsJson(call.args)) {
          return fail(
            `Model token limit (${st.settings.maxTokens ?? "provider default"}) exceeded while generating a tool call for '${call.toolName}': its arguments are incomplete JSON (${reason}). Increase the \`maxTokens\` model setting, or simplify the prompt to result in a shorter response.`
          )
        }
      }
      return fail(reason)
    }

    const evalAll = (
      items: ReadonlyArray<Instruction<any, any>>,
      ctx: RunContextService
    ): Effect.Effect<Array<string>, any, any> =>
      Effect.map(
        Effect.forEach(items, (i) =>
          typeof i === "string" ? Effect.succeed(i) : Effect.provideService(i, RunContext, ctx)
        ),
        (xs) => xs.filter((x): x is string => x !== undefined && x !== "")
      )

    /** The function tools of this step (after per-step prepare / filter). */
    const loadTools = Effect.gen(function* () {
      const tools = yield* config.toolset.tools(yield* makeCtx())
      st.tools = new Map(tools.map((t) => [t.definition.name, t]))
      return tools
    })

    // -- UserPromptNode -----------------------------------------------------

    /** The system prompt parts of a fresh conversation (empty results are left out). */
    const systemParts: Effect.Effect<Array<SystemPromptPart>, any, any> = config.systemPrompts
      .length === 0
      ? Effect.sync(() => [])
      : Effect.flatMap(makeCtx(), (ctx) => systemPartsWith(ctx))
    const systemPartsWith = (
      ctx: RunContextService
    ): Effect.Effect<Array<SystemPromptPart>, any, any> =>
      Effect.map(
        Effect.forEach(config.systemPrompts, (p) =>
          typeof p === "string"
            ? Effect.succeed(p === "" ? undefined : new SystemPromptPart({ content: p }, true))
            : p instanceof DynamicSystemPrompt
              ? Effect.map(Effect.provideService(p.prompt, RunContext, ctx), (content) =>
                  content === undefined || content === ""
                    ? undefined
                    : new SystemPromptPart({ content, dynamicRef: p.ref }, true)
                )
              : Effect.map(Effect.provideService(p, RunContext, ctx), (content) =>
                  content === undefined || content === ""
                    ? undefined
                    : new SystemPromptPart({ content }, true)
                )
        ),
        (parts) => parts.filter((p): p is SystemPromptPart => p !== undefined)
      )

    const dynamicByRef = new Map<string, DynamicSystemPrompt<any, any>>()
    for (const p of config.systemPrompts) {
      if (p instanceof DynamicSystemPrompt) dynamicByRef.set(p.ref, p)
    }

    /** Re-evaluates the dynamic system prompts of a continued conversation, in place. */
    const reevaluate = (
      history: ReadonlyArray<ModelMessage>
    ): Effect.Effect<ReadonlyArray<ModelMessage>, any, any> =>
      dynamicByRef.size === 0
        ? Effect.succeed(history)
        : Effect.gen(function* () {
            const ctx = yield* makeCtx({ messages: history })
            const out: Array<ModelMessage> = []
            for (const m of history) {
              const refreshed =
                m._tag === "ModelRequest" &&
                m.parts.some(
                  (p) =>
                    p._tag === "SystemPromptPart" &&
                    p.dynamicRef !== undefined &&
                    dynamicByRef.has(p.dynamicRef)
                )
              if (!refreshed) {
                out.push(m)
                continue
              }
              const parts: Array<ModelRequestPart> = []
              for (const p of m.parts) {
                const dynamic =
                  p._tag === "SystemPromptPart" && p.dynamicRef !== undefined
                    ? dynamicByRef.get(p.dynamicRef)
                    : undefined
                if (dynamic === undefined) {
                  parts.push(p)
                  continue
                }
                const content = yield* Effect.provideService(dynamic.prompt, RunContext, ctx)
                parts.push(
                  new SystemPromptPart({ content: content ?? "", dynamicRef: dynamic.ref }, true)
                )
              }
              out.push(new ModelRequest({ ...m, parts }, true))
            }
            return out
          })

    const userPrompt = (node: UserPromptNode): Effect.Effect<AgentNode<A>, any, any> =>
      Effect.gen(function* () {
        const given = options.messageHistory ?? []
        if (node.prompt === undefined) {
          const history = yield* reevaluate(repairHistory(given, false))
          setMessages(history)
          st.newMessageIndex = history.length
          const last = history[history.length - 1]
          if (last === undefined) {
            if (
              config.instructions.length === 0 &&
              config.systemPrompts.length === 0 &&
              toArray(options.instructions).length === 0
            ) {
              return yield* new UserError({
                reason: "No message history, user prompt, or instructions provided"
              })
            }
            return new ModelRequestNode(new ModelRequest({ parts: yield* systemParts }, true))
          }
          if (last._tag === "ModelRequest") return new ModelRequestNode(last, true)
          if (last.toolCalls.length > 0) {
            yield* loadTools
            return new CallToolsNode(last)
          }
          return yield* new UserError({
            reason:
              "The message history ends with a model response and no user prompt was given: nothing to send"
          })
        }
        const history = yield* reevaluate(repairHistory(given, true))
        const parts: Array<ModelRequestPart> = history.length === 0 ? yield* systemParts : []
        // A string prompt is valid by construction; only structured content is validated.
        parts.push(new UserPromptPart({ content: node.prompt }, typeof node.prompt === "string"))
        const last = history[history.length - 1]
        if (last !== undefined && last._tag === "ModelRequest") {
          // Answers to the previous response's calls and the new prompt go in one request.
          setMessages(history.slice(0, -1))
          st.newMessageIndex = history.length - 1
          return new ModelRequestNode(new ModelRequest({ parts: [...last.parts, ...parts] }, true))
        }
        setMessages(history)
        st.newMessageIndex = history.length
        return new ModelRequestNode(new ModelRequest({ parts }, true))
      })

    // -- ModelRequestNode ---------------------------------------------------

    interface Prepared {
      readonly messages: ReadonlyArray<ModelMessage>
      readonly parameters: Model.ModelRequestParameters
    }

    const prepareRequest = (node: ModelRequestNode): Effect.Effect<Prepared, any, any> =>
      Effect.gen(function* () {
        if (outputCheck !== undefined) return yield* Effect.fail(outputCheck)
        st.runStep += 1
        const dynamic =
          dynamicInstructions.length === 0
            ? []
            : yield* evalAll(dynamicInstructions, yield* makeCtx())
        const all = [...staticInstructions, ...dynamic]
        if (outputInstructions !== undefined && outputInstructions !== "")
          all.push(outputInstructions)
        const instructions = all.length > 0 ? all.join("\n\n") : undefined
        const request = new ModelRequest(
          {
            parts: node.request.parts,
            ...(instructions !== undefined ? { instructions } : {}),
            runId
          },
          true
        )
        setMessages(
          node.resend ? [...st.messages.slice(0, -1), request] : [...st.messages, request]
        )
        const tools = yield* loadTools
        const outputTools = spec.toolDefinitions(profile)
        for (const t of outputTools) {
          if (st.tools.has(t.name)) {
            return yield* new UserError({
              reason: `Tool name conflicts with output tool name: '${t.name}'`
            })
          }
        }
        const outputObject = spec.outputObject(profile)
        const parameters = new Model.ModelRequestParameters(
          {
            functionTools: tools.map((t) => t.definition),
            outputTools,
            outputMode: spec.mode,
            ...(outputObject !== undefined ? { outputObject } : {}),
            allowTextOutput: spec.allowTextOutput
          },
          true
        )
        const before = usageLimits.checkBeforeRequest(yield* Ref.get(usageRef))
        if (Option.isSome(before)) return yield* limitError(before.value)
        return { messages: st.messages, parameters }
      })

    const finishResponse = (response: ModelResponse): Effect.Effect<AgentNode<A>, any> =>
      Effect.gen(function* () {
        const usage = yield* Ref.updateAndGet(usageRef, (u) => u.addRequest(response.usage))
        append(response)
        const after = usageLimits.checkAfterResponse(usage, response.usage)
        if (Option.isSome(after)) return yield* limitError(after.value)
        return new CallToolsNode(response)
      })

    const modelRequest = (node: ModelRequestNode): Effect.Effect<AgentNode<A>, any, any> =>
      Effect.flatMap(prepareRequest(node), (prep) =>
        chatModel
          .request(prep.messages, st.settings, prep.parameters)
          .pipe(Effect.flatMap(finishResponse))
      )

    const isFinalStart = (part: PartStartEvent["part"], allowText: boolean): boolean => {
      if (part._tag === "TextPart") {
        return allowText && !(profile.ignoreStreamedLeadingWhitespace && part.content.trim() === "")
      }
      return part._tag === "ToolCallPart" && spec.isOutputTool(part.toolName)
    }

    const streamModelRequest = (
      node: ModelRequestNode
    ): Stream.Stream<AgentStreamEvent<A>, any, any> =>
      Stream.unwrapScoped(
        // Only the set-up reads the run's context: providing it to the whole stream
        // (`Stream.provideSomeContext`) would cost a context change on every network read.
        Effect.gen(function* () {
          const prep = yield* prepareRequest(node)
          const streamed = yield* chatModel.requestStream(
            prep.messages,
            st.settings,
            prep.parameters
          )
          let done = false
          let completed: ModelResponse | undefined
          let finalSent = false
          const allowText = spec.allowTextOutput
          yield* Effect.addFinalizer(() =>
            done
              ? Effect.void
              : Effect.map(streamed.response, (r) =>
                  append(new ModelResponse({ ...r, state: "interrupted" }, true))
                )
          )
          const events = Stream.mapChunks(
            streamed.events,
            (chunk: Chunk.Chunk<ModelResponseStreamEvent>) => {
              // Fast path: most chunks are plain deltas and pass through untouched.
              let touched = false
              for (const e of chunk) {
                if (
                  e._tag === "ResponseCompleteEvent" ||
                  (e._tag === "PartStartEvent" && !finalSent)
                ) {
                  touched = true
                  break
                }
              }
              if (!touched) return chunk as Chunk.Chunk<AgentStreamEvent<A>>
              const out: Array<AgentStreamEvent<A>> = []
              for (const e of chunk) {
                if (e._tag === "ResponseCompleteEvent") {
                  completed = e.response
                  continue
                }
                out.push(e)
                if (e._tag === "PartStartEvent" && !finalSent && isFinalStart(e.part, allowText)) {
                  finalSent = true
                  out.push(
                    e.part._tag === "ToolCallPart"
                      ? new FinalResultEvent(
                          { toolName: e.part.toolName, toolCallId: e.part.toolCallId },
                          true
                        )
                      : new FinalResultEvent({}, true)
                  )
                }
              }
              return Chunk.unsafeFromArray(out)
            }
          )
          const finish = Effect.suspend(() =>
            completed !== undefined ? Effect.succeed(completed) : streamed.response
          ).pipe(
            Effect.flatMap((r) =>
              finishResponse(
                r.state === "complete" ? r : new ModelResponse({ ...r, state: "complete" }, true)
              )
            ),
            Effect.tap((next) => {
              done = true
              st.next = next
            })
          )
          return Stream.concat(events, Stream.drain(Stream.fromEffect(finish)))
        }).pipe((setup) => Effect.provide(setup, streamSetupContext()))
      )

    // -- CallToolsNode ------------------------------------------------------

    const outputCtx = (extra?: Partial<RunContextService>) =>
      makeCtx({ retry: st.outputRetries, maxRetries: outputMax, ...extra })

    /** Decodes with the spec, then runs the agent's validators; `ModelRetry` is returned, not failed. */
    const decodeOutput = (
      decode: Effect.Effect<any, ModelRetry, any>,
      ctx: RunContextService
    ): Effect.Effect<{ ok: true; value: A } | { ok: false; error: ModelRetry }, any, any> => {
      const validators = config.outputValidators
      const validated =
        validators.length === 0
          ? decode
          : Effect.flatMap(decode, (a) =>
              Effect.reduce(validators, a, (acc, validate) => validate(acc))
            )
      // A decode that is already an `Exit` (plain text) with no validators reads no context:
      // providing `RunContext` would cost more than the decoding.
      return (
        validators.length === 0 && Exit.isExit(decode)
          ? validated
          : Effect.provideService(validated, RunContext, ctx)
      ).pipe(
        Effect.map((value) => ({ ok: true as const, value })),
        Effect.catchIf(isModelRetry, (error) => Effect.succeed({ ok: false as const, error }))
      )
    }

    /** Counts one output retry; fails the run when the budget is spent. */
    const countOutputRetry = Effect.suspend(() => {
      st.outputRetries += 1
      return st.outputRetries > outputMax
        ? exhausted(`Exceeded maximum output retries (${outputMax})`)
        : Effect.void
    })

    const outputRetry = (part: RetryPromptPart): Effect.Effect<AgentNode<A>, any> =>
      Effect.as(countOutputRetry, new ModelRequestNode(new ModelRequest({ parts: [part] }, true)))

    const alternatives = (includeText: boolean): string => {
      const alts: Array<string> = []
      if (includeText && spec.allowTextOutput) alts.push("return text")
      if (spec.toolDefinitions(profile).length > 0)
        alts.push("include your response in a tool call")
      else if (st.tools.size > 0) alts.push("call a tool")
      if (alts.length === 0) alts.push("return text")
      return `Please ${alts.join(" or ")}.`
    }

    const endNode = (output: A): Effect.Effect<AgentNode<A>> =>
      Effect.map(
        Ref.get(usageRef),
        (usage) =>
          new End(
            new AgentRunResult(output, usage, st.messages, st.newMessageIndex, runId, runMetadata)
          )
      )
    const end = (output: A): Effect.Effect<AgentNode<A>> =>
      metadataInputs.length === 0
        ? endNode(output)
        : Effect.zipRight(computeMetadata, endNode(output))

    const handleText = (response: ModelResponse): Effect.Effect<AgentNode<A>, any, any> =>
      Effect.gen(function* () {
        const text = response.text
        if (text.trim() === "") {
          if (response.finishReason === "length") {
            return yield* fail(
              `Model token limit (${st.settings.maxTokens ?? "provider default"}) exceeded before any response was generated. Increase the \`maxTokens\` model setting, or simplify the prompt to result in a shorter response.`
            )
          }
          if (response.finishReason === "content_filter") {
            return yield* new ContentFilterError({
              reason: `Content filter triggered. Finish reason: '${response.providerFinishReason ?? "content_filter"}'`,
              messages: st.messages
            })
          }
          return yield* outputRetry(new RetryPromptPart({ content: alternatives(true) }, true))
        }
        if (!spec.allowTextOutput && spec.acceptsText !== true) {
          return yield* outputRetry(new RetryPromptPart({ content: alternatives(false) }, true))
        }
        const result = yield* decodeOutput(
          spec.handleText(text, { partial: false }),
          yield* outputCtx()
        )
        if (result.ok) return yield* end(result.value)
        return yield* outputRetry(
          new RetryPromptPart({ content: retryContent(result.error) }, true)
        )
      })

    type CallResult = ToolReturnPart | RetryPromptPart

    /** Runs one function (or unknown) tool call. Budget exhaustion fails the run. */
    const runFunctionCall = (
      call: ToolCallPart,
      emit: Emit,
      failed: Set<string>,
      succeeded: Set<string>
    ): Effect.Effect<CallResult, any, any> => {
      const tool = st.tools.get(call.toolName)
      const retry = st.toolRetries.get(call.toolName) ?? 0
      const max = tool?.maxRetries ?? config.retries
      const onRetry = (error: ModelRetry): Effect.Effect<CallResult, any> => {
        if (retry >= max) {
          return exhausted(
            `Tool '${call.toolName}' exceeded max retries count of ${max}: ${error.reason}`
          )
        }
        failed.add(call.toolName)
        return Effect.succeed(
          new RetryPromptPart(
            {
              content: retryContent(error),
              toolName: call.toolName,
              toolCallId: call.toolCallId
            },
            true
          )
        )
      }
      const body: Effect.Effect<CallResult, any, any> =
        tool === undefined
          ? Effect.suspend(() => {
              const names = [...st.tools.keys()]
              return onRetry(
                new ModelRetry({
                  reason:
                    names.length === 0
                      ? `Unknown tool name: '${call.toolName}'. No tools available.`
                      : `Unknown tool name: '${call.toolName}'. Available tools: ${quoteList(names)}`
                })
              )
            })
          : Effect.useSpan(
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
              (span) =>
                Effect.flatMap(
                  makeCtx({
                    retry,
                    maxRetries: max,
                    toolName: call.toolName,
                    toolCallId: call.toolCallId
                  }),
                  (ctx) => {
                    const timeout = tool.timeout ?? config.toolTimeout
                    const called = Effect.flatMap(
                      tool.decodeArgs(call.args),
                      timeout === undefined
                        ? tool.call
                        : (args) =>
                            Effect.timeoutFail(tool.call(args), {
                              duration: timeout,
                              onTimeout: () =>
                                new ModelRetry({
                                  reason: `Timed out after ${Duration.toSeconds(timeout)} seconds.`
                                })
                            })
                    )
                    // The span as parent and the RunContext in ONE context change (what
                    // `withSpan` + `provideService` do in two costly regions).
                    return Effect.mapInputContext(called, (c: Context.Context<any>) =>
                      Context.add(Context.add(c, Tracer.ParentSpan, span), RunContext, ctx)
                    ).pipe(
                      Effect.flatMap((content) =>
                        Effect.as(
                          Ref.update(usageRef, (u) => u.addToolCalls(1)),
                          new ToolReturnPart(
                            { toolName: call.toolName, toolCallId: call.toolCallId, content },
                            true
                          ) as CallResult
                        )
                      ),
                      Effect.tap(() => {
                        succeeded.add(call.toolName)
                      }),
                      Effect.catchIf(isRetryOrFailed, (e) =>
                        e._tag === "ToolFailed"
                          ? Effect.succeed(
                              new ToolReturnPart(
                                {
                                  toolName: call.toolName,
                                  toolCallId: call.toolCallId,
                                  content: e.reason,
                                  outcome: "failed",
                                  ...(e.metadata !== undefined ? { metadata: e.metadata } : {})
                                },
                                true
                              ) as CallResult
                            )
                          : onRetry(e)
                      )
                    )
                  }
                )
            )
      return Effect.tap(body, (result) =>
        emit(Chunk.of(new FunctionToolResultEvent({ result }, true)))
      )
    }

    /** Runs function calls: concurrent segments split by sequential tools; results in emission order. */
    const runFunctionBatch = (
      calls: ReadonlyArray<ToolCallPart>,
      emit: Emit,
      failed: Set<string>,
      succeeded: Set<string>
    ): Effect.Effect<Array<CallResult>, any, any> =>
      Effect.gen(function* () {
        if (calls.length === 0) return []
        const known = calls.filter((c) => st.tools.has(c.toolName)).length
        const check = usageLimits.checkToolCalls(yield* Ref.get(usageRef), known)
        if (Option.isSome(check)) return yield* limitError(check.value)
        yield* emit(
          Chunk.unsafeFromArray(calls.map((part) => new FunctionToolCallEvent({ part }, true)))
        )
        const segments: Array<Array<ToolCallPart>> = []
        let current: Array<ToolCallPart> = []
        for (const call of calls) {
          if (st.tools.get(call.toolName)?.definition.sequential === true) {
            if (current.length > 0) segments.push(current)
            segments.push([call])
            current = []
          } else current.push(call)
        }
        if (current.length > 0) segments.push(current)
        // One call (the common case): no `forEach` machinery.
        if (segments.length === 1 && segments[0]!.length === 1) {
          return [yield* runFunctionCall(segments[0]![0]!, emit, failed, succeeded)]
        }
        const out: Array<CallResult> = []
        for (const segment of segments) {
          const results = yield* Effect.forEach(
            segment,
            (call) => runFunctionCall(call, emit, failed, succeeded),
            { concurrency: segment.length === 1 ? 1 : config.maxConcurrency }
          )
          out.push(...results)
        }
        return out
      })

    /** The budget of one output tool, when the spec gives output tools their own. */
    const outputToolMax = (toolName: string): number | undefined =>
      spec.maxRetriesFor === undefined
        ? undefined
        : (spec.maxRetriesFor(toolName) ?? config.outputRetries)

    /**
     * Decodes one output tool call. A failure counts against the global output budget (unless a
     * final result is already fixed: then it cannot change the outcome) and, when the spec gives
     * output tools their own budgets, against the tool's (counted at the end of the step).
     */
    const runOutputCall = (
      call: ToolCallPart,
      failed: Set<string>,
      count: boolean
    ): Effect.Effect<{ ok: true; value: A } | { ok: false; part: RetryPromptPart }, any, any> =>
      Effect.gen(function* () {
        const toolMax = outputToolMax(call.toolName)
        const toolRetry = st.toolRetries.get(call.toolName) ?? 0
        const ctx = yield* outputCtx({
          toolName: call.toolName,
          toolCallId: call.toolCallId,
          ...(toolMax !== undefined ? { retry: toolRetry, maxRetries: toolMax } : {})
        })
        const result = yield* decodeOutput(spec.handleToolCall(call, { partial: false }), ctx)
        if (result.ok) return result
        if (count) {
          yield* countOutputRetry
          if (toolMax !== undefined) {
            if (toolRetry >= toolMax) {
              return yield* exhausted(
                `Tool '${call.toolName}' exceeded max retries count of ${toolMax}: ${result.error.reason}`
              )
            }
            failed.add(call.toolName)
          }
        }
        return {
          ok: false as const,
          part: new RetryPromptPart(
            {
              content: retryContent(result.error),
              toolName: call.toolName,
              toolCallId: call.toolCallId
            },
            true
          )
        }
      })

    const statusReturn = (call: ToolCallPart, content: string) =>
      new ToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content }, true)

    const handleToolCalls = (
      response: ModelResponse,
      emit: Emit
    ): Effect.Effect<AgentNode<A>, any, any> =>
      Effect.gen(function* () {
        const calls = response.toolCalls
        const results: Array<CallResult | undefined> = calls.map(() => undefined)
        const failed = new Set<string>()
        const succeeded = new Set<string>()
        let final: { value: A; index: number } | undefined
        const isOutput = (c: ToolCallPart) => spec.isOutputTool(c.toolName)
        const runPending = (indices: Array<number>) =>
          Effect.map(
            runFunctionBatch(
              indices.map((i) => calls[i]!),
              emit,
              failed,
              succeeded
            ),
            (rs) => {
              rs.forEach((r, j) => {
                results[indices[j]!] = r
              })
            }
          )
        const processOutput = (i: number, call: ToolCallPart) =>
          Effect.map(runOutputCall(call, failed, true), (r) => {
            if (r.ok) {
              final = { value: r.value, index: i }
              results[i] = statusReturn(call, statusTexts.finalResult)
            } else results[i] = r.part
          })

        if (config.endStrategy === "early") {
          for (let i = 0; i < calls.length; i++) {
            const call = calls[i]!
            if (!isOutput(call)) continue
            if (final !== undefined) results[i] = statusReturn(call, statusTexts.outputNotUsed)
            else yield* processOutput(i, call)
          }
          const fns = calls.flatMap((c, i) => (isOutput(c) ? [] : [i]))
          if (final !== undefined) {
            for (const i of fns) results[i] = statusReturn(calls[i]!, statusTexts.toolNotExecuted)
          } else yield* runPending(fns)
        } else if (config.endStrategy === "graceful") {
          let pending: Array<number> = []
          for (let i = 0; i < calls.length; i++) {
            const call = calls[i]!
            if (!isOutput(call)) {
              pending.push(i)
              continue
            }
            yield* runPending(pending)
            pending = []
            if (final !== undefined) results[i] = statusReturn(call, statusTexts.outputNotUsed)
            else yield* processOutput(i, call)
          }
          yield* runPending(pending)
        } else {
          yield* runPending(calls.flatMap((c, i) => (isOutput(c) ? [] : [i])))
          for (let i = 0; i < calls.length; i++) {
            const call = calls[i]!
            if (!isOutput(call)) continue
            if (final === undefined) yield* processOutput(i, call)
            else {
              const r = yield* runOutputCall(call, failed, false)
              results[i] = r.ok ? statusReturn(call, statusTexts.outputProcessedNotFinal) : r.part
            }
          }
        }

        // Retry-wins: a real function tool asking for a retry voids this round's output.
        if (final !== undefined && config.endStrategy !== "early") {
          const toolRetried = results.some(
            (r) =>
              r?._tag === "RetryPromptPart" && r.toolName !== undefined && st.tools.has(r.toolName)
          )
          if (toolRetried) {
            results[final.index] = statusReturn(calls[final.index]!, statusTexts.retryWins)
            final = undefined
          }
        }

        // Budgets: failures count at the end of the step, a success resets the tool's counter.
        for (const name of succeeded) if (!failed.has(name)) st.toolRetries.delete(name)
        for (const name of failed) st.toolRetries.set(name, (st.toolRetries.get(name) ?? 0) + 1)

        const parts = results.filter((r): r is CallResult => r !== undefined)
        if (final !== undefined) {
          if (parts.length > 0) append(new ModelRequest({ parts, runId }, true))
          return yield* end(final.value)
        }
        if (parts.length === 0) {
          // Only text could end the run here (tool calls were all non-output and skipped): treat as text.
          return yield* handleText(response)
        }
        return new ModelRequestNode(new ModelRequest({ parts }, true))
      })

    const callTools = (node: CallToolsNode, emit: Emit): Effect.Effect<AgentNode<A>, any, any> =>
      node.response.toolCalls.length === 0
        ? handleText(node.response)
        : handleToolCalls(node.response, emit)

    // -- Driving ------------------------------------------------------------

    const withMessagesOnError = <X>(effect: Effect.Effect<X, any>): Effect.Effect<X, any> =>
      Effect.catchAll(effect, (e) => Effect.fail(withMessages(e, st.messages)))

    const nodeBody = (node: AgentNode<A>, emit: Emit): Effect.Effect<AgentNode<A>, any, any> =>
      node._tag === "UserPromptNode"
        ? userPrompt(node)
        : node._tag === "ModelRequestNode"
          ? modelRequest(node)
          : node._tag === "CallToolsNode"
            ? callTools(node, emit)
            : Effect.succeed(node)

    const execute = (node: AgentNode<A>, emit: Emit): Effect.Effect<AgentNode<A>, any> =>
      withMessagesOnError(
        provide(nodeBody(node, emit)).pipe(
          Effect.tap((next) =>
            Effect.sync(() => {
              st.next = next
            })
          )
        )
      )

    const step = (node: AgentNode<A>) => execute(node, noEmit)

    // `run`: every node inside ONE provide / error mapping (not one per step as `step` does;
    // providing a context costs more than a whole step's own bookkeeping).
    const loop = (node: AgentNode<A>): Effect.Effect<AgentRunResult<A>, any, any> =>
      node._tag === "End"
        ? Effect.succeed(node.result)
        : Effect.flatMap(nodeBody(node, noEmit), (next) => {
            st.next = next
            return loop(next)
          })
    const runAll: Effect.Effect<AgentRunResult<A>, any> = withMessagesOnError(
      provide(Effect.suspend(() => loop(st.next as AgentNode<A>)))
    )

    const stream = (node: AgentNode<A>): Stream.Stream<AgentStreamEvent<A>, any> => {
      switch (node._tag) {
        case "End":
          return Stream.empty
        case "UserPromptNode":
          return Stream.drain(Stream.fromEffect(step(node)))
        case "ModelRequestNode":
          // The set-up is provided merged (not replacing) so the caller's span stays the
          // parent of the `chat` span.
          return streamModelRequest(node).pipe(
            Stream.catchAll((e) => Stream.fail(withMessages(e, st.messages)))
          ) as Stream.Stream<AgentStreamEvent<A>, any>
        case "CallToolsNode":
          return Stream.unwrapScoped(
            Effect.gen(function* () {
              // Tool events are few (two per call); the queue never holds more than that.
              const queue = yield* Queue.unbounded<Take.Take<AgentStreamEvent<A>, any>>()
              yield* Effect.forkScoped(
                execute(node, (events) => queue.offer(Take.chunk(events))).pipe(
                  Effect.exit,
                  Effect.flatMap((exit) =>
                    queue.offer(Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause))
                  )
                )
              )
              return Stream.flattenTake(Stream.fromQueue(queue))
            })
          )
      }
    }

    const streamAll = (node: AgentNode<A>): Stream.Stream<AgentStreamEvent<A>, any> =>
      node._tag === "End"
        ? Stream.make(new AgentRunResultEvent(node.result))
        : Stream.concat(
            stream(node),
            Stream.unwrap(Effect.sync(() => streamAll(st.next as AgentNode<A>)))
          )

    return {
      runId,
      start,
      step,
      runAll,
      stream,
      streamAll,
      nextNode: Effect.sync(() => st.next as AgentNode<A>),
      messages: Effect.sync(() => st.messages),
      usage: Ref.get(usageRef),
      partialContext: makeCtx({ partialOutput: true }),
      context,
      output: spec
    } satisfies Machine<A>
  })

/** Drives a machine to the end without streaming. */
export const runToEnd = <A>(machine: Machine<A>): Effect.Effect<AgentRunResult<A>, any> =>
  machine.runAll

/** The `invoke_agent` span options. */
export const agentSpan = (name: string | undefined) => ({
  name: `invoke_agent ${name ?? "agent"}`,
  options: {
    // A stack trace would point into this library and costs an `Error` per run.
    captureStackTrace: false,
    attributes: {
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": name ?? "agent"
    }
  }
})
