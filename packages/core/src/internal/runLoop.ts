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
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as EffectDeferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
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
  UnexpectedModelBehavior,
  UsageLimitExceeded,
  UserError,
  withMessages
} from "../AgentError.js"
import {
  AgentRunResult,
  AgentRunResultEvent,
  type AgentNode,
  type AgentStreamEvent,
  CallToolsNode,
  CurrentUsage,
  DynamicSystemPrompt,
  End,
  type EndStrategy,
  type Instruction,
  type Metadata,
  type MetadataInput,
  ModelRequestNode,
  statusTexts,
  type SystemPrompt,
  UserPromptNode
} from "../AgentGraph.js"
import type { BuiltinTool } from "../BuiltinTool.js"
import * as CaptureRunMessages from "../CaptureRunMessages.js"
import { DeferredToolRequests, type DeferredToolResults } from "../DeferredTools.js"
import {
  conversationIdOf,
  FinalResultEvent,
  type ModelMessage,
  ModelRequest,
  type ModelRequestPart,
  ModelResponse,
  type ModelResponseStreamEvent,
  OutputToolCallEvent,
  OutputToolResultEvent,
  PartEndEvent,
  PartStartEvent,
  RetryPromptPart,
  SystemPromptPart,
  type ToolCallPart,
  type UserContent,
  UserPromptPart
} from "../Messages.js"
import * as InstrumentedModel from "../InstrumentedModel.js"
import * as Model from "../Model.js"
import * as ModelSettings from "../ModelSettings.js"
import type * as OutputSpec from "../OutputSpec.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import type { ToolDefinition } from "../Tool.js"
import * as Toolset from "../Toolset.js"
import { RunUsage, UsageLimits } from "../Usage.js"
import type * as Capability from "../Capability.js"
import { SkipModelRequest, type ModelRequestContext } from "../Capability.js"
import * as capabilities from "./capabilities.js"
import { countBeforeRequest } from "./countBeforeRequest.js"
import * as historyProcessors from "./historyProcessors.js"
import { repairHistory } from "./historyRepair.js"
import { instructionsText, reevaluateSystemPrompts, systemPromptParts } from "./instructions.js"
import { type Decoded, decodeOutput } from "./outputDecode.js"
import {
  type CallOutcome,
  type CallResult,
  Deferred,
  type Emit,
  hasOwn,
  noEmit,
  retryContent,
  runFunctionBatch,
  type ToolHost
} from "./toolExec.js"
import * as pricing from "./pricing.js" // [prod #18]
import { EventSink, HandoffRequest, runHandoff } from "./composition.js" // [compose #18]
import { openSpanIn, withScopeAndContext } from "./spanRegion.js"
import {
  makeModelRequest,
  makeModelRequestParameters,
  makeModelResponse,
  makeRetryPromptPart,
  makeSystemPromptPart,
  makeToolReturnPart,
  makeUserPromptPart
} from "./makers.js"

// The run's own messages are made without the Schema constructors' per-call work (construct.ts).

/** The user's prompt as a request part: a string is valid by construction, content is validated. */
const promptPart = (prompt: string | ReadonlyArray<UserContent>): UserPromptPart =>
  typeof prompt === "string"
    ? makeUserPromptPart({ content: prompt })
    : new UserPromptPart({ content: prompt })

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/** The agent's configuration, untyped (Agent.ts carries the types). */
export interface AgentConfig {
  readonly name: string | undefined
  /** What the agent does: `gen_ai.agent.description`, `asTool`'s default tool description. */
  readonly description?: string | undefined
  readonly model: Model.Input | undefined
  readonly instructions: ReadonlyArray<Instruction<any, any>>
  readonly systemPrompts: ReadonlyArray<SystemPrompt<any, any>>
  readonly toolset: Toolset.Any
  readonly output: OutputSpec.Any
  readonly outputValidators: ReadonlyArray<(output: any) => Effect.Effect<any, unknown, unknown>>
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
  /** Tools the provider runs itself, sent with every request. */
  readonly builtinTools?: ReadonlyArray<BuiltinTool> | undefined
  /** Limits concurrent runs: `acquire` waits for a slot, released when the scope closes. */
  readonly concurrencyLimiter?:
    | { readonly acquire: Effect.Effect<void, AgentError, Scope.Scope> }
    | undefined
  /** Rewrite the messages before each model request (`internal/historyProcessors.ts`). */
  readonly historyProcessors?: ReadonlyArray<historyProcessors.AnyProcessor> | undefined
  /**
   * The capabilities folded into this configuration (`internal/capabilities.ts`: their tools,
   * instructions, settings and processors are already in the fields above).
   */
  readonly capabilities?: ReadonlyArray<Capability.Any> | undefined
  /** Their hooks, compiled; `undefined` when none has a hook (the loop then skips them). */
  readonly hooks?: capabilities.CompiledHooks | undefined
  /**
   * With on-demand capabilities: the toolset and instructions without their `load_capability`
   * tool and catalog (rebuilt when a run adds more of them).
   */
  readonly onDemand?:
    | {
        readonly toolset: Toolset.Any
        readonly instructions: ReadonlyArray<Instruction<any, any>>
      }
    | undefined
}

/** Per-run options (untyped). */
export interface RunOptionsAny {
  readonly messageHistory?: ReadonlyArray<ModelMessage> | undefined
  readonly model?: Model.Input | undefined
  readonly modelSettings?: ModelSettings.ModelSettings | undefined
  readonly usageLimits?: UsageLimits | undefined
  readonly usage?: RunUsage | Ref.Ref<RunUsage> | undefined
  readonly instructions?: Instruction<any, any> | ReadonlyArray<Instruction<any, any>> | undefined
  readonly runId?: string | undefined
  readonly metadata?: MetadataInput | undefined
  readonly deferredToolResults?: DeferredToolResults | undefined
  /** Answers deferred calls inline, before the run would stop on them. */
  readonly handleDeferred?:
    | ((requests: DeferredToolRequests) => Effect.Effect<DeferredToolResults | undefined>)
    | undefined
  /** Run after the agent's history processors. */
  readonly historyProcessors?: ReadonlyArray<historyProcessors.AnyProcessor> | undefined
  readonly builtinTools?: ReadonlyArray<BuiltinTool> | undefined
  readonly conversationId?: string | undefined
  /** User messages to steer the run with, delivered at the next model request. */
  readonly steering?: Queue.Dequeue<string | ReadonlyArray<UserContent>> | undefined
  /** `run` only: every event of the run, synchronously (see `Machine.eventsBody`). */
  readonly onEvent?: EventCallback<any> | undefined
  /** Replaces the agent's output for this run (see `runConfig`). */
  readonly outputType?: OutputSpec.Any | undefined
  /** Added to the agent's toolset for this run. */
  readonly toolsets?: ReadonlyArray<Toolset.Any> | undefined
  /** Replace the agent's `retries` / `outputRetries` for this run. */
  readonly retries?: number | undefined
  readonly outputRetries?: number | undefined
  /** Added after the agent's capabilities for this run. */
  readonly capabilities?: ReadonlyArray<Capability.Any> | undefined
}

/** Configurations with a run's `outputType` (and retries) over them, by agent configuration. */
const overridden = new WeakMap<AgentConfig, WeakMap<OutputSpec.Any, Map<string, AgentConfig>>>()

/**
 * The configuration a run uses: the agent's, or — with `outputType`, `toolsets`, `retries` or
 * `outputRetries` in the run's options — a copy with those over it (output replaced, toolsets
 * added, retries replaced). A copy without run toolsets is kept per output and retries, so
 * repeated runs share one `Plan` (its resolved output and request parameters). `outputType`
 * with output validators is a `UserError` (they were written for the agent's output type).
 */
export const runConfig = (config: AgentConfig, options: RunOptionsAny): AgentConfig | UserError => {
  const { outputType, toolsets, retries, outputRetries } = options
  const extraSets = toolsets !== undefined && toolsets.length > 0
  const caps = options.capabilities
  if (
    outputType === undefined &&
    !extraSets &&
    retries === undefined &&
    outputRetries === undefined &&
    (caps === undefined || caps.length === 0)
  )
    return config
  if (outputType !== undefined && config.outputValidators.length > 0) {
    return new UserError({
      reason:
        "RunOptions.outputType can only be used with an agent without outputValidators: they " +
        "were written for the agent's own output type"
    })
  }
  const derive = (): AgentConfig => ({
    ...config,
    ...(outputType !== undefined ? { output: outputType } : {}),
    ...(extraSets ? { toolset: Toolset.combine(config.toolset, ...toolsets) } : {}),
    ...(retries !== undefined ? { retries } : {}),
    ...(outputRetries !== undefined ? { outputRetries } : {})
  })
  // Run capabilities: a configuration of this run's own (their tools, instructions, hooks).
  if (caps !== undefined && caps.length > 0) {
    return capabilities.withCapabilities(
      outputType === undefined && !extraSets && retries === undefined && outputRetries === undefined
        ? config
        : derive(),
      caps
    )
  }
  if (extraSets) return derive()
  let byOutput = overridden.get(config)
  if (byOutput === undefined) overridden.set(config, (byOutput = new WeakMap()))
  const output = outputType ?? config.output
  let byRetries = byOutput.get(output)
  if (byRetries === undefined) byOutput.set(output, (byRetries = new Map()))
  const key = `${retries ?? ""}/${outputRetries ?? ""}`
  let derived = byRetries.get(key)
  if (derived === undefined) byRetries.set(key, (derived = derive()))
  return derived
}

/** Receives a run's events one by one, synchronously (`RunOptions.onEvent`). */
export type EventCallback<A> = (event: AgentStreamEvent<A>) => void

/** The events of a run (or of one node) as a channel; its done value is not used. */
type EventChannel<A> = Channel.Channel<
  Chunk.Chunk<AgentStreamEvent<A>>,
  unknown,
  any,
  unknown,
  unknown,
  unknown
>

/** Maps a chunk of a run's events to what its stream emits instead (see `Machine.chunkMap`). */
export type ChunkMap<A> = (chunk: Chunk.Chunk<AgentStreamEvent<A>>) => Chunk.Chunk<any>

/** One node's events as a channel; its done value is the next node. */
type NodeChannel<A> = Channel.Channel<
  Chunk.Chunk<AgentStreamEvent<A>>,
  unknown,
  unknown,
  unknown,
  AgentNode<A>,
  unknown
>

/**
 * The channel built by `setup`, run in a `Scope` of its own that closes (with the channel's
 * exit) when the channel ends, fails or is interrupted. What `Stream.unwrapScoped` does,
 * without running the built channel as a nested stage (`Stream.unwrapScoped` flattens a
 * one-element stream: every chunk of the inner stream is then read through one more level).
 */
export const scopedChannel = <OutElem, OutErr, OutDone, E, R>(
  setup: Effect.Effect<Channel.Channel<OutElem, unknown, OutErr, unknown, OutDone, unknown>, E, R>
): Channel.Channel<
  OutElem,
  unknown,
  OutErr | E,
  unknown,
  OutDone,
  unknown,
  Exclude<R, Scope.Scope>
> =>
  Channel.acquireUseRelease(
    Scope.make(),
    (scope) => Channel.unwrap(Scope.extend(setup, scope)),
    (scope, exit) => Scope.close(scope, exit)
  )

/** A running agent, one node at a time. Every effect has its requirements already provided. */
export interface Machine<A> {
  readonly runId: string
  readonly start: AgentNode<A>
  /** Executes a node without streaming; returns (and remembers) the next node. */
  readonly step: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown>
  /** Executes a node, streaming its events; afterwards `nextNode` holds the next node. */
  readonly stream: (node: AgentNode<A>) => Stream.Stream<AgentStreamEvent<A>, any>
  /** Every node from `node` to the end as one event stream, ending with `AgentRunResultEvent`. */
  readonly streamAll: (node: AgentNode<A>) => Stream.Stream<AgentStreamEvent<A>, any>
  /** `run` with an `eventStreamHandler`: every node's events go to the handler. */
  readonly runWithHandler: (
    handler: (events: Stream.Stream<AgentStreamEvent<A>, unknown>) => Effect.Effect<void>
  ) => Effect.Effect<AgentRunResult<A>, unknown>
  /** `streamAll` as the channel it is (what `runStream` reads, with no stage around it). */
  readonly eventChannel: (node: AgentNode<A>) => EventChannel<A>
  /**
   * [perf #16] Maps every chunk of events where the run emits it (model events, tool events,
   * the result): `Stream.mapChunks` over `eventChannel` without a channel stage of its own (one
   * read less per chunk). Set before the channel runs (`Agent.mapRunStreamChunks`); synchronous,
   * called in emission order. `undefined`: chunks go out as they are.
   */
  chunkMap: ChunkMap<A> | undefined
  readonly nextNode: Effect.Effect<AgentNode<A>>
  readonly messages: Effect.Effect<ReadonlyArray<ModelMessage>>
  readonly usage: Effect.Effect<RunUsage>
  /** A `RunContext` for decoding partial output while streaming. */
  readonly partialContext: Effect.Effect<RunContextService>
  /** The requirements of the run, captured when it was built. */
  readonly context: Context.Context<any>
  /** The output spec of the run (an auto spec resolved for the run's model). */
  readonly output: OutputSpec.Any
  /** What the run's steps need in context (the caller's services, usage, scope, span). */
  readonly runContext: Context.Context<any>
  /**
   * Every node from the next one (when read) to the end, without streaming, in `runContext` (the
   * caller switches to it). Failures are raw: the caller attaches the messages with `withMessagesOf`.
   */
  readonly loopBody: Effect.Effect<AgentRunResult<A>, unknown, unknown>
  /**
   * `loopBody` handing every event `runStream` would emit (the same sequence) to `onEvent` as it
   * happens: model requests are streamed and read with the response's `push` (the `events`
   * stream when the model has none), tool steps emit their events inline. In `runContext`;
   * failures are raw.
   */
  readonly eventsBody: (
    onEvent: EventCallback<A>
  ) => Effect.Effect<AgentRunResult<A>, unknown, unknown>
  /** A failure with the messages so far attached. */
  withMessagesOf(error: unknown): unknown
  /**
   * Steers the run: `prompt` goes to the model as a user prompt at the next model
   * request, after that request's own parts. Structured content that does not validate is a
   * `UserError`.
   */
  enqueue(prompt: string | ReadonlyArray<UserContent>): Effect.Effect<void, UserError>
}

let runCounter = 0

/**
 * `s` as one flat string. Strings built by concatenation (Node's `randomUUID` joins 20 pieces)
 * are trees of V8 "cons" strings — ≈ 490 bytes for a UUID against ≈ 65 flat — until something
 * reads a character, which flattens them in place; every run in flight holds its ids
 * (#14 memory).
 */
const flat = (s: string): string => {
  // stored in a module-level object so that an optimizing compiler cannot drop the read
  sink.c = s.charCodeAt(0)
  return s
}
const sink = { c: 0 }

const newRunId = (): string => flat(`run_${Date.now().toString(36)}_${(runCounter++).toString(36)}`)

/** A new conversation id (a random UUID, as pydantic-ai's). */
const newConversationId = (): string => flat(globalThis.crypto.randomUUID())

/** The error text of a run with no model: which Layer to provide, or where to pass a model. */
export const noModelReason = (agentName: string | undefined): string =>
  `No model for ${agentName === undefined ? "this agent" : `agent "${agentName}"`}: the ` +
  "Model service (@agentfx/core/Model) is not provided. Provide a model Layer — " +
  'e.g. Effect.provide(OpenAiChat.model("gpt-4o")) with Effect.provide(OpenAiChat.layerConfig()) ' +
  "and an HttpClient (NodeHttpClient.layerUndici) from @agentfx/providers, or TestModel.layer() " +
  "in tests — or pass a model to Agent.make({ model }) or to run(prompt, { model })."

const toArray = <T>(x: T | ReadonlyArray<T> | undefined): ReadonlyArray<T> =>
  x === undefined ? [] : Array.isArray(x) ? (x as ReadonlyArray<T>) : [x as T]

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

// ---------------------------------------------------------------------------
// The machine
// ---------------------------------------------------------------------------

//
// Memory and allocation: an agent's configuration is compiled once into a `Plan` (instructions
// split into static and dynamic ones, dynamic system prompts by ref, the output spec resolved per
// model profile). A run is one `Run` object: its state in fields, its node handlers as prototype
// methods. A run therefore allocates no closures or pre-built effects up front (a closure-per-
// handler machine held ≈ 40 closures and their contexts per run in flight); effects are built
// as nodes execute and are garbage once a node is done.

/**
 * The scope and the span that own a run, given explicitly by `Agent.run` instead of being
 * provided through the context (`Effect.scoped` + `Effect.withSpan` each cost a context change;
 * the run's single `provide` carries both instead).
 */
export interface RunOwner {
  readonly scope: Scope.Scope
  /** The run's span; undefined when spans are not recorded (the caller's span stays the parent). */
  readonly parent: Tracer.AnySpan | undefined
}

/** The output of an agent for one model profile (auto output resolved), computed once. */
interface ResolvedOutput {
  readonly spec: OutputSpec.Any
  readonly max: number
  readonly instructions: string | undefined
  /** Can this model serve this output at all? Checked before the first request is sent. */
  readonly check: UserError | undefined
  /** Output tools and output object, computed on first use (after `check`). */
  tools: ReadonlyArray<ToolDefinition> | undefined
  object: Model.OutputObjectDefinition | undefined | null
  /** The request parameters, when the agent's tools are fixed (the same at every step). */
  parameters: Model.ModelRequestParameters | undefined
}

/** What a run needs from its agent's configuration, computed once per configuration. */
class Plan {
  readonly staticInstructions: ReadonlyArray<string>
  readonly dynamicInstructions: ReadonlyArray<Effect.Effect<string | undefined, unknown, unknown>>
  readonly dynamicByRef: ReadonlyMap<string, DynamicSystemPrompt<any, any>>
  /** The system prompt parts of a fresh conversation, when every system prompt is a string. */
  readonly staticSystemParts: ReadonlyArray<SystemPromptPart> | undefined
  /** The function tools by name, when the toolset's list is fixed. */
  readonly fixedTools: Map<string, Toolset.ToolsetTool<any, any>> | undefined
  /** The `invoke_agent` span of the agent's runs. */
  readonly span: ReturnType<typeof agentSpan>
  private readonly outputs = new WeakMap<Model.ModelProfile, ResolvedOutput>()
  constructor(readonly config: AgentConfig) {
    this.span = agentSpan(config.name, config.description)
    const statics: Array<string> = []
    const dynamics: Array<Effect.Effect<string | undefined, unknown, unknown>> = []
    for (const i of config.instructions) {
      if (typeof i === "string") statics.push(i)
      else dynamics.push(i)
    }
    this.staticInstructions = statics
    this.dynamicInstructions = dynamics
    const byRef = new Map<string, DynamicSystemPrompt<any, any>>()
    for (const p of config.systemPrompts) {
      if (p instanceof DynamicSystemPrompt) byRef.set(p.ref, p)
    }
    this.dynamicByRef = byRef
    this.staticSystemParts = config.systemPrompts.every((p) => typeof p === "string")
      ? (config.systemPrompts as ReadonlyArray<string>)
          .filter((p) => p !== "")
          .map((content) => makeSystemPromptPart({ content }))
      : undefined
    const fixed = config.toolset.fixed
    this.fixedTools =
      fixed === undefined ? undefined : new Map(fixed.map((t) => [t.definition.name, t]))
  }
  /** The output for a model profile; an auto spec picks its mode from the profile. */
  output(profile: Model.ModelProfile): ResolvedOutput {
    let resolved = this.outputs.get(profile)
    if (resolved === undefined) {
      const config = this.config
      const spec: OutputSpec.Any = config.output.resolve?.(profile) ?? config.output
      resolved = {
        spec,
        max: spec.maxRetries ?? config.outputRetries,
        instructions: spec.instructions(profile),
        check: spec.check?.(profile),
        tools: undefined,
        object: null,
        parameters: undefined
      }
      this.outputs.set(profile, resolved)
    }
    return resolved
  }
}

const plans = new WeakMap<AgentConfig, Plan>()
const planFor = (config: AgentConfig): Plan => {
  let plan = plans.get(config)
  if (plan === undefined) {
    plan = new Plan(config)
    plans.set(config, plan)
  }
  return plan
}

/** The mutable state of a run: only the run's own sequential steps change it. */
interface State {
  messages: ReadonlyArray<ModelMessage>
  newMessageIndex: number
  runStep: number
  /** Retries used per tool name (function, unknown and output tools). */
  toolRetries: Map<string, number> | undefined
  /** Output retries used (text path and output tools). */
  outputRetries: number
  next: AgentNode<any>
  /** The function tools of the current step, by name. */
  tools: Map<string, Toolset.ToolsetTool<any, any>>
  settings: ModelSettings.ModelSettings
  metadata: Metadata | undefined
  /** Set when the run resumes deferred tool calls; consumed by the first `CallToolsNode`. */
  resume: Resume | undefined
  /**
   * The output tools offered at this step when `prepareOutputTools` hooks changed them: their
   * definitions, and the output spec that only knows them as output tools.
   */
  outputOffer: OutputOffer | undefined
}

/**
 * A `wrap*` hook chain running beside a piece of the run that runs on the caller's side (the
 * whole run, a streamed node whose events flow to the reader): the chain runs in a fiber of its
 * own, and its `next(input)` waits for the piece's end.
 */
interface HandOff<X, Y> {
  readonly done: EffectDeferred.Deferred<X, unknown>
  readonly fiber: Fiber.RuntimeFiber<Y, unknown>
}

/**
 * Forks `chain(next)` and waits until it calls `next(input)` — the piece runs with that input,
 * and `endHandOff` gives the chain its end — or ends without calling it (its exit: the piece is
 * skipped). Calling `next` again gives the same end.
 */
const startHandOff = <I, X, Y>(
  chain: (next: (input: I) => Effect.Effect<X, unknown>) => Effect.Effect<Y, unknown, unknown>,
  fork: (
    effect: Effect.Effect<Y, unknown, unknown>
  ) => Effect.Effect<Fiber.RuntimeFiber<Y, unknown>, never, unknown>
): Effect.Effect<
  | { readonly _tag: "Started"; readonly handOff: HandOff<X, Y>; readonly input: I }
  | { readonly _tag: "Ended"; readonly exit: Exit.Exit<Y, unknown> },
  never,
  unknown
> =>
  Effect.flatMap(
    Effect.all([
      EffectDeferred.make<{ readonly input: I } | { readonly exit: Exit.Exit<Y, unknown> }>(),
      EffectDeferred.make<X, unknown>()
    ]),
    ([started, done]) => {
      const next = (input: I) =>
        Effect.zipRight(EffectDeferred.succeed(started, { input }), EffectDeferred.await(done))
      // completing `started` again is a no-op: only a chain that never called `next` ends it
      const run = Effect.onExit(chain(next), (exit) => EffectDeferred.succeed(started, { exit }))
      return Effect.flatMap(fork(run), (fiber) =>
        Effect.map(EffectDeferred.await(started), (s) =>
          "input" in s
            ? { _tag: "Started" as const, handOff: { done, fiber }, input: s.input }
            : { _tag: "Ended" as const, exit: s.exit }
        )
      )
    }
  )

/** The piece's end to the chain waiting in `next`; the chain's own end. */
const endHandOff = <X, Y>(
  handOff: HandOff<X, Y>,
  exit: Exit.Exit<X, unknown>
): Effect.Effect<Y, unknown> =>
  Effect.zipRight(EffectDeferred.done(handOff.done, exit), Fiber.join(handOff.fiber))

interface OutputOffer {
  readonly definitions: ReadonlyArray<ToolDefinition>
  readonly spec: OutputSpec.Any
}

/**
 * The history before its last request: a re-sent request (`ModelRequestNode.resend`) replaces
 * it and what followed it (the response a failed stream left incomplete).
 */
const beforeLastRequest = (messages: ReadonlyArray<ModelMessage>): ReadonlyArray<ModelMessage> => {
  let i = messages.length - 1
  while (i >= 0 && messages[i]!._tag !== "ModelRequest") i--
  return i < 0 ? messages : messages.slice(0, i)
}

/**
 * `spec` with only these output tools: a call of another of its output tools is an unknown
 * tool call (what the model gets for a hidden one), everything else as `spec` does it.
 */
const offeredSpec = (
  spec: OutputSpec.Any,
  definitions: ReadonlyArray<ToolDefinition>
): OutputSpec.Any => {
  const names = new Set(definitions.map((d) => d.name))
  const offered: OutputSpec.Any = Object.create(spec)
  Object.defineProperty(offered, "isOutputTool", {
    value: (name: string) => names.has(name) && spec.isOutputTool(name)
  })
  return offered
}

/** What a resumed run knows about the response whose calls it answers. */
interface Resume {
  readonly results: DeferredToolResults
  /**
   * Results already known, by tool call id: not run again — the trailing request's (a resumed
   * run), or this step's own outcomes when `handleDeferred` answered some of its deferred calls
   * (a call it left unanswered keeps its `Deferred`).
   */
  readonly answered: ReadonlyMap<string, ModelRequestPart | Deferred>
  /** Other parts to send with the results (the trailing request's, a new user prompt). */
  readonly carried: ReadonlyArray<ModelRequestPart>
}

interface Prepared {
  readonly messages: ReadonlyArray<ModelMessage>
  readonly parameters: Model.ModelRequestParameters
  /** Set by `beforeModelRequest` hooks only: the settings of this request. */
  readonly settings?: ModelSettings.ModelSettings
  /** Set by `beforeModelRequest` hooks only: the response that replaces the request. */
  readonly skip?: ModelResponse
  /** Set by `beforeModelRequest` hooks only: the request is re-sent with this retry prompt. */
  readonly retry?: ModelRetry
}

const noTools: Map<string, Toolset.ToolsetTool<any, any>> = new Map()

/** A retry prompt's content on one line, for the error that ends a run (`path: message; …`). */
const failureText = (content: RetryPromptPart["content"]): string => {
  const text =
    typeof content === "string"
      ? content
      : content
          .map((i) => `${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`)
          .join("; ")
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text
}

/**
 * A `toolChoice` that forces a function tool call on every request of a run (`"required"`, or
 * a list of tool names) would keep the run from ever ending with text or an output tool: a
 * `UserError` (pydantic-ai rejects it the same way). `auto`, `none` and no setting are fine.
 */
const forcedToolChoice = (choice: ModelSettings.ToolChoice | undefined): UserError | undefined =>
  choice === "required" || Array.isArray(choice)
    ? new UserError({
        reason: `toolChoice ${JSON.stringify(choice)} in an agent's or a run's modelSettings would force a tool call on every request, so the run could never end. Leave it unset ("auto": the run asks for a tool call itself when the output needs one), or use it with the direct API (Direct.modelRequest) for one request.`
      })
    : undefined

/**
 * Builds a run; requires what the agent requires, plus `Scope` for a model given as a Layer
 * (unless `owner` gives the scope).
 */
export const makeMachine = <A>(
  config: AgentConfig,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  options: RunOptionsAny,
  owner?: RunOwner
): Effect.Effect<Machine<A>, AgentError, unknown> => {
  const effective = runConfig(config, options)
  if (effective instanceof UserError) return Effect.fail(effective)
  const forced = forcedToolChoice(
    options.modelSettings?.toolChoice ?? effective.modelSettings?.toolChoice
  )
  if (forced !== undefined) return Effect.fail(forced)
  const plan = planFor(effective)
  const input = options.model ?? config.model
  const build = (
    model: Model.Service | undefined
  ): Effect.Effect<Machine<A>, AgentError, unknown> =>
    Effect.withFiberRuntime<Machine<A>, AgentError, any>((fiber) => {
      const context = fiber.currentContext as Context.Context<any>
      let service = model
      if (service === undefined) {
        const found = Context.getOption(context, Model.Model)
        // No model anywhere (only reachable when the types were bypassed): say what to provide.
        if (Option.isNone(found)) {
          return Effect.fail(new UserError({ reason: noModelReason(config.name) }))
        }
        service = found.value
      }
      const run = new Run<A>(
        plan,
        service,
        prompt,
        options,
        owner,
        context,
        CaptureRunMessages.claimSlot(fiber.getFiberRef(CaptureRunMessages.currentSlot)),
        Context.get(fiber.currentDefaultServices, Clock.Clock)
      )
      return run.metadataInputs === undefined
        ? Effect.succeed(run)
        : Effect.as(run.computeMetadata(), run)
    })
  return input === undefined
    ? build(undefined)
    : Effect.flatMap(
        owner === undefined
          ? Model.resolve(input)
          : Model.resolve(input, { scope: owner.scope, parentSpan: owner.parent }),
        build
      )
}

/** One run of an agent: its state, and the handlers of its nodes. */
class Run<A> implements Machine<A>, ToolHost {
  readonly runId: string
  readonly start: AgentNode<A>
  /** What the run's steps are provided: with an owner, its span is the parent of every step. */
  readonly runContext: Context.Context<any>
  private readonly chatModel: Model.Service
  private readonly profile: Model.ModelProfile
  private readonly resolved: ResolvedOutput
  readonly usageRef: Ref.Ref<RunUsage>
  /** Whether `usageRef` is the run's own (not a caller's `RunOptions.usage` `Ref`). */
  private readonly ownUsage: boolean
  readonly usageLimits: UsageLimits
  private readonly staticInstructions: ReadonlyArray<string>
  private readonly dynamicInstructions: ReadonlyArray<
    Effect.Effect<string | undefined, unknown, unknown>
  >
  /** Agent's then run's metadata inputs (run wins); undefined when there are none. */
  readonly metadataInputs: ReadonlyArray<MetadataInput> | undefined
  /** The agent's built-in tools, then the run's. */
  private readonly builtinTools: ReadonlyArray<BuiltinTool>
  /** Whether the run adds built-in tools (the cached request parameters are the agent's). */
  private readonly runBuiltinTools: boolean
  /** The span that records the metadata attribute. */
  private readonly runSpan: Tracer.AnySpan | undefined
  /** The set-up of a streamed request keeps the `Scope` of its own `Stream.unwrapScoped`. */
  private streamSetup: Context.Context<any> | undefined
  /** The agent's then the run's history processors (usually none). */
  private readonly processors: ReadonlyArray<historyProcessors.AnyProcessor>
  private readonly st: State
  chunkMap: ChunkMap<A> | undefined = undefined
  /** Steering prompts waiting for the next model request (`enqueue`, `steering`). */
  private steered: Array<UserPromptPart> | undefined = undefined
  /** The scope the run belongs to (its owner's): the `wrapRun` hooks' fiber lives in it. */
  private readonly ownerScope: Scope.Scope | undefined
  /** The `wrapRun` hooks' fiber while the run is inside them, and where its end goes. */
  private wrapState: HandOff<AgentRunResult<unknown>, AgentRunResult<unknown>> | undefined =
    undefined
  private wrapStarted = false
  /**
   * The conversation of this run: the option, else the latest one in the history,
   * else a new id. Stamped on the messages the run adds and on its spans.
   */
  readonly conversationId: string

  constructor(
    private readonly plan: Plan,
    private readonly model: Model.Service,
    private readonly prompt: string | ReadonlyArray<UserContent> | undefined,
    private readonly options: RunOptionsAny,
    owner: RunOwner | undefined,
    callerContext: Context.Context<any>,
    /** Mirrors the messages to `CaptureRunMessages`, when this run claimed its slot. */
    private readonly slot: CaptureRunMessages.Slot | undefined,
    /** The caller's clock (a `TestClock` in tests): the requests' timestamps. */
    private readonly clock: Clock.Clock
  ) {
    const config = plan.config
    this.ownerScope = owner?.scope
    // Requests go through `chat {model}` spans (GenAI attributes); an instrumented model is
    // used as is, so there is one span per request either way.
    this.chatModel = InstrumentedModel.instrument(model)
    this.runBuiltinTools = (options.builtinTools?.length ?? 0) > 0
    this.builtinTools = this.runBuiltinTools
      ? [...(config.builtinTools ?? []), ...options.builtinTools!]
      : (config.builtinTools ?? [])
    const usage = options.usage
    this.ownUsage = !(usage !== undefined && Ref.RefTypeId in (usage as object))
    this.usageRef = this.ownUsage
      ? Ref.unsafeMake((usage as RunUsage | undefined) ?? RunUsage.empty)
      : (usage as Ref.Ref<RunUsage>)
    // Requirements are captured once so nodes can run from anywhere (iter). Without an owner the
    // parent span is left out, so each step nests under the span of whoever runs it; with an
    // explicit owner, its span is the parent of every step and its scope is the run's `Scope`
    // (as `Effect.scoped` would provide). Built with one copy of the context's map (each
    // `Context.add`/`omit` copies it).
    const map = new Map(callerContext.unsafeMap)
    map.set(CurrentUsage.key, this.usageRef)
    // [compose #18] A caller's event sink is not this run's: its streamed steps provide their own.
    map.delete(EventSink.key)
    if (owner === undefined) map.delete(Tracer.ParentSpan.key)
    else {
      map.set(Scope.Scope.key, owner.scope)
      if (owner.parent !== undefined) map.set(Tracer.ParentSpan.key, owner.parent)
    }
    this.usageLimits = options.usageLimits ?? config.usageLimits ?? UsageLimits.default
    // [prod #18] A cost limit: prices and the run's budget in the run's context.
    pricing.budgetInto(map, this.usageLimits, this.usageRef)
    this.runContext = Context.unsafeMake(map)
    this.runId = options.runId ?? newRunId()
    this.profile = model.profile
    this.resolved = plan.output(this.profile)
    if (options.instructions === undefined) {
      this.staticInstructions = plan.staticInstructions
      this.dynamicInstructions = plan.dynamicInstructions
    } else {
      const statics = [...plan.staticInstructions]
      const dynamics = [...plan.dynamicInstructions]
      for (const i of toArray(options.instructions)) {
        if (typeof i === "string") statics.push(i)
        else dynamics.push(i)
      }
      this.staticInstructions = statics
      this.dynamicInstructions = dynamics
    }
    // Metadata: agent's then run's (run wins), computed at the start and again at the end of
    // the run; recorded on the run's span as the JSON attribute `metadata`.
    if (config.metadata !== undefined || options.metadata !== undefined) {
      const inputs: Array<MetadataInput> = []
      if (config.metadata !== undefined) inputs.push(config.metadata)
      if (options.metadata !== undefined) inputs.push(options.metadata)
      this.metadataInputs = inputs
      this.runSpan =
        owner?.parent ?? Option.getOrUndefined(Context.getOption(callerContext, Tracer.ParentSpan))
    } else {
      this.metadataInputs = undefined
      this.runSpan = undefined
    }
    const own = options.historyProcessors
    this.processors =
      own === undefined || own.length === 0
        ? (config.historyProcessors ?? [])
        : [...(config.historyProcessors ?? []), ...own]
    // [compose #18] `gen_ai.conversation.id` on the run's `invoke_agent` span; the run id is
    // the agent call's id (`gen_ai.agent.call.id`).
    this.conversationId =
      options.conversationId === "new"
        ? newConversationId()
        : (options.conversationId ??
          conversationIdOf(options.messageHistory) ??
          newConversationId())
    if (owner?.parent?._tag === "Span") {
      owner.parent.attribute("gen_ai.agent.call.id", this.runId)
      owner.parent.attribute("gen_ai.conversation.id", this.conversationId)
    }
    this.start = new UserPromptNode(prompt)
    this.st = {
      messages: options.messageHistory ?? [],
      newMessageIndex: 0,
      runStep: 0,
      toolRetries: undefined,
      outputRetries: 0,
      next: this.start,
      tools: noTools,
      settings: ModelSettings.merge(model.settings, config.modelSettings, options.modelSettings),
      metadata: undefined,
      resume: undefined,
      outputOffer: undefined
    }
  }

  /** The run's requirements without a parent span. */
  get context(): Context.Context<any> {
    return Context.omit(Tracer.ParentSpan)(this.runContext) as Context.Context<any>
  }

  get config(): AgentConfig {
    return this.plan.config
  }
  /** The output spec of the step (`prepareOutputTools` may offer fewer output tools). */
  get output(): OutputSpec.Any {
    return this.st.outputOffer?.spec ?? this.resolved.spec
  }
  private get spec(): OutputSpec.Any {
    return this.output
  }

  // -- ToolHost ---------------------------------------------------------------

  get tools(): ReadonlyMap<string, Toolset.ToolsetTool<any, any>> {
    return this.st.tools
  }
  get given(): DeferredToolResults | undefined {
    return this.st.resume?.results
  }
  get hooks(): capabilities.CompiledHooks | undefined {
    return this.plan.config.hooks
  }

  // -- Machine ----------------------------------------------------------------

  get nextNode(): Effect.Effect<AgentNode<A>> {
    return Effect.sync(() => this.st.next as AgentNode<A>)
  }
  get messages(): Effect.Effect<ReadonlyArray<ModelMessage>> {
    return Effect.sync(() => this.st.messages)
  }
  get usage(): Effect.Effect<RunUsage> {
    return Ref.get(this.usageRef)
  }
  get partialContext(): Effect.Effect<RunContextService> {
    return this.makeCtx({ partialOutput: true })
  }

  // -- State ------------------------------------------------------------------

  private setMessages(messages: ReadonlyArray<ModelMessage>): void {
    this.st.messages = messages
    if (this.slot !== undefined) this.slot.messages = messages
  }
  private append(m: ModelMessage): void {
    this.setMessages([...this.st.messages, m])
  }
  toolRetry(name: string): number {
    return this.st.toolRetries?.get(name) ?? 0
  }

  private provide<X, E>(effect: Effect.Effect<X, E, unknown>): Effect.Effect<X, E> {
    return Effect.provide(effect, this.runContext)
  }
  /** Built on first use: a run that does not stream never needs it. */
  private streamSetupContext(): Context.Context<any> {
    if (this.streamSetup === undefined)
      this.streamSetup = Context.omit(Scope.Scope)(this.runContext)
    return this.streamSetup
  }

  makeCtx(extra?: Partial<RunContextService>): Effect.Effect<RunContextService> {
    // The run's own `Ref`: the usage read and the context built in one step (`modify` leaving
    // the usage as it is). A caller's `Ref` is read with `get` (its `modify` may notify).
    return this.ownUsage
      ? Ref.modify(this.usageRef, (usage) => [this.ctxWith(usage, extra), usage])
      : Effect.map(Ref.get(this.usageRef), (usage) => this.ctxWith(usage, extra))
  }
  private ctxWith(usage: RunUsage, extra?: Partial<RunContextService>): RunContextService {
    const st = this.st
    const ctx: RunContextService = {
      runId: this.runId,
      agentName: this.config.name,
      model: this.model,
      prompt: this.prompt,
      messages: st.messages,
      usage,
      usageLimits: this.usageLimits,
      modelSettings: st.settings,
      runStep: st.runStep,
      retry: st.outputRetries,
      maxRetries: this.resolved.max,
      toolName: undefined,
      toolCallId: undefined,
      partialOutput: false,
      metadata: st.metadata,
      conversationId: this.conversationId
    }
    return extra === undefined ? ctx : { ...ctx, ...extra }
  }

  computeMetadata(): Effect.Effect<void> {
    return Effect.map(this.makeCtx(), (ctx) => {
      const out: Record<string, unknown> = {}
      for (const m of this.metadataInputs ?? []) {
        Object.assign(out, typeof m === "function" ? m(ctx) : m)
      }
      this.st.metadata = out
      const span = this.runSpan
      if (span !== undefined && span._tag === "Span") span.attribute("metadata", safeJson(out))
    })
  }

  limitError(v: { limit: any; limitValue: number; value: number; message: string }) {
    return new UsageLimitExceeded({
      limit: v.limit,
      limitValue: v.limitValue,
      value: v.value,
      reason: v.message,
      messages: this.st.messages
    })
  }

  private fail(reason: string) {
    return Effect.fail(new UnexpectedModelBehavior({ reason, messages: this.st.messages }))
  }

  /**
   * A retry budget is spent. When the response being handled was cut by the token limit in the
   * middle of a tool call (its JSON arguments do not parse), say so: that is the real cause,
   * and more retries would not help (pydantic-ai's `IncompleteToolCall`).
   */
  exhausted(reason: string) {
    const st = this.st
    const last = st.messages[st.messages.length - 1]
    if (last !== undefined && last._tag === "ModelResponse" && last.finishReason === "length") {
      const calls = last.toolCalls
      const call = calls[calls.length - 1]
      if (call !== undefined && typeof call.args === "string" && !parsesAsJson(call.args)) {
        return this.fail(
          `Model token limit (${st.settings.maxTokens ?? "provider default"}) exceeded while generating a tool call for '${call.toolName}': its arguments are incomplete JSON (${reason}). Increase the \`maxTokens\` model setting, or simplify the prompt to result in a shorter response.`
        )
      }
    }
    return this.fail(reason)
  }

  /** The function tools of this step (after per-step prepare / filter). */
  private loadTools(): Effect.Effect<
    ReadonlyArray<Toolset.ToolsetTool<any, any>>,
    unknown,
    unknown
  > {
    const fixed = this.plan.fixedTools
    const prepare = this.plan.config.hooks?.prepareTools
    if (fixed !== undefined && prepare === undefined) {
      this.st.tools = fixed
      return Effect.succeed(this.config.toolset.fixed!)
    }
    const index = (tools: ReadonlyArray<Toolset.ToolsetTool<any, any>>) => {
      const byName = new Map<string, Toolset.ToolsetTool<any, any>>()
      for (const t of tools) byName.set(t.definition.name, t)
      this.st.tools = byName
      return tools
    }
    return Effect.flatMap(this.makeCtx(), (ctx) => {
      const listed = this.config.toolset.tools(ctx)
      // The capabilities' `prepareTools` hooks see every function tool of the step.
      return Effect.map(
        prepare === undefined
          ? listed
          : Effect.flatMap(listed, (tools) => capabilities.prepareTools(prepare, ctx, tools)),
        index
      )
    })
  }

  private outputTools(): ReadonlyArray<ToolDefinition> {
    const r = this.resolved
    if (r.tools === undefined) r.tools = r.spec.toolDefinitions(this.profile)
    return r.tools
  }
  /** The output tools offered at this step. */
  private offeredOutputTools(): ReadonlyArray<ToolDefinition> {
    return this.st.outputOffer?.definitions ?? this.outputTools()
  }

  /**
   * The `prepareOutputTools` hooks over the output tools, once per step (none: the spec's own,
   * nothing computed).
   */
  private prepareOutputTools(): Effect.Effect<void, unknown, unknown> {
    const fns = this.plan.config.hooks?.prepareOutputTools
    if (fns === undefined) return Effect.void
    const all = this.outputTools()
    return Effect.flatMap(this.makeCtx(), (ctx) =>
      Effect.map(capabilities.prepareOutputTools(fns, ctx, all), (definitions) => {
        this.st.outputOffer =
          definitions.length === all.length && definitions.every((d, i) => d === all[i])
            ? undefined
            : { definitions, spec: offeredSpec(this.resolved.spec, definitions) }
      })
    )
  }
  private outputObject(): Model.OutputObjectDefinition | undefined {
    const r = this.resolved
    if (r.object === null) r.object = r.spec.outputObject(this.profile)
    return r.object
  }

  // -- UserPromptNode -----------------------------------------------------

  /** The system prompt parts of a fresh conversation (`internal/instructions.ts`). */
  private systemParts(): Effect.Effect<Array<SystemPromptPart>, unknown, unknown> {
    return systemPromptParts(this.config.systemPrompts, this.makeCtx())
  }

  /** Re-evaluates the dynamic system prompts of a continued conversation. */
  private reevaluate(
    history: ReadonlyArray<ModelMessage>
  ): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown> {
    return reevaluateSystemPrompts(history, this.plan.dynamicByRef, (messages) =>
      this.makeCtx({ messages })
    )
  }

  /** The first node: the `beforeRun` hooks (if any), then the first request is built. */
  private userPrompt(node: UserPromptNode): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const before = this.plan.config.hooks?.beforeRun
    return before === undefined
      ? this.firstRequest(node)
      : Effect.zipRight(
          Effect.flatMap(this.makeCtx(), (ctx) => capabilities.beforeRun(before, ctx)),
          this.firstRequest(node)
        )
  }

  private firstRequest(node: UserPromptNode): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const deferred = this.options.deferredToolResults
    if (deferred !== undefined) return this.resumeDeferred(node.prompt, deferred)
    const prompt = node.prompt
    const staticParts = this.plan.staticSystemParts
    if (
      prompt !== undefined &&
      staticParts !== undefined &&
      (this.options.messageHistory ?? []).length === 0
    ) {
      // A fresh conversation with static system prompts: nothing to evaluate.
      return Effect.sync(() => {
        const parts: Array<ModelRequestPart> = [...staticParts]
        parts.push(promptPart(prompt))
        this.setMessages([])
        this.st.newMessageIndex = 0
        return new ModelRequestNode(makeModelRequest({ parts }))
      })
    }
    return Effect.gen(this, function* () {
      const st = this.st
      const given = this.options.messageHistory ?? []
      if (node.prompt === undefined) {
        const history = yield* this.reevaluate(repairHistory(given, false))
        this.setMessages(history)
        st.newMessageIndex = history.length
        const last = history[history.length - 1]
        if (last === undefined) {
          if (
            this.staticInstructions.length === 0 &&
            this.dynamicInstructions.length === 0 &&
            this.config.systemPrompts.length === 0
          ) {
            return yield* new UserError({
              reason: "No message history, user prompt, or instructions provided"
            })
          }
          return new ModelRequestNode(makeModelRequest({ parts: yield* this.systemParts() }))
        }
        if (last._tag === "ModelRequest") return new ModelRequestNode(last, true)
        if (last.toolCalls.length > 0) {
          yield* this.loadTools()
          return new CallToolsNode(last)
        }
        return yield* new UserError({
          reason:
            "The message history ends with a model response and no user prompt was given: nothing to send"
        })
      }
      const history =
        given.length === 0 ? given : yield* this.reevaluate(repairHistory(given, true))
      const parts: Array<ModelRequestPart> = history.length === 0 ? yield* this.systemParts() : []
      parts.push(promptPart(node.prompt))
      const last = history[history.length - 1]
      if (last !== undefined && last._tag === "ModelRequest") {
        // Answers to the previous response's calls and the new prompt go in one request.
        this.setMessages(history.slice(0, -1))
        st.newMessageIndex = history.length - 1
        return new ModelRequestNode(makeModelRequest({ parts: [...last.parts, ...parts] }))
      }
      this.setMessages(history)
      st.newMessageIndex = history.length
      return new ModelRequestNode(makeModelRequest({ parts }))
    })
  }

  /**
   * Resumes a run stopped on deferred calls: the history ends with the response that made them,
   * maybe followed by a request holding the results of its other calls. That request is taken
   * off (its parts are sent again with the new results) and the response's calls are handled
   * again, with no new model request; the given results are checked against the calls first.
   */
  private resumeDeferred(
    prompt: string | ReadonlyArray<UserContent> | undefined,
    results: DeferredToolResults
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    return Effect.gen(this, function* () {
      const st = this.st
      const given = this.options.messageHistory ?? []
      let end = given.length
      const trailing =
        given[end - 1]?._tag === "ModelRequest" ? (given[end - 1] as ModelRequest) : undefined
      if (trailing !== undefined) end -= 1
      const response = given[end - 1]
      if (
        response === undefined ||
        response._tag !== "ModelResponse" ||
        response.toolCalls.length === 0
      ) {
        return yield* new UserError({
          reason:
            "deferredToolResults were given, but the message history does not end with a model response with tool calls (optionally followed by the results of its other calls): there is nothing to resume. Pass the messages of the run that returned DeferredToolRequests."
        })
      }
      const calls = response.toolCalls
      const byId = new Map(calls.map((c) => [c.toolCallId, c]))
      const answered = new Map<string, ModelRequestPart>()
      const carried: Array<ModelRequestPart> = []
      for (const p of trailing?.parts ?? []) {
        if (
          (p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart") &&
          p.toolCallId !== undefined
        ) {
          if (byId.has(p.toolCallId)) answered.set(p.toolCallId, p)
        } else carried.push(p)
      }
      yield* this.loadTools()
      const problem = this.checkDeferredResults(calls, answered, results)
      if (problem !== undefined) return yield* new UserError({ reason: problem })
      if (prompt !== undefined) {
        carried.push(promptPart(prompt))
      }
      const history = yield* this.reevaluate(repairHistory(given.slice(0, end), false))
      this.setMessages(history)
      st.newMessageIndex = history.length
      st.resume = { results, answered, carried }
      return new CallToolsNode(response)
    })
  }

  /** What is wrong with deferred results for these calls, if anything. */
  private checkDeferredResults(
    calls: ReadonlyArray<ToolCallPart>,
    answered: ReadonlyMap<string, ModelRequestPart | Deferred>,
    results: DeferredToolResults,
    partial = false
  ): string | undefined {
    const spec = this.spec
    const describe = (c: ToolCallPart) => `'${c.toolCallId}' ('${c.toolName}')`
    const waiting = calls.filter((c) => {
      const known = answered.get(c.toolCallId)
      return (known === undefined || known instanceof Deferred) && !spec.isOutputTool(c.toolName)
    })
    const waitingIds = new Set(waiting.map((c) => c.toolCallId))
    const byId = new Map(calls.map((c) => [c.toolCallId, c]))
    const waitingText = waiting.length === 0 ? "none" : waiting.map(describe).join(", ")
    for (const [kind, ids] of [
      ["result", Object.keys(results.calls)],
      ["approval", Object.keys(results.approvals)]
    ] as const) {
      for (const id of ids) {
        const call = byId.get(id)
        if (call === undefined) {
          return `deferredToolResults has ${kind === "result" ? "a result" : "an approval"} for tool call id '${id}', which is not a call of the last model response. Calls waiting for a result: ${waitingText}.`
        }
        if (!waitingIds.has(id)) {
          return `Tool call ${describe(call)} was not deferred: ${answered.has(id) ? "its result is already in the message history" : "it is an output tool call"}, so it cannot be given ${kind === "result" ? "a result" : "an approval"}. Calls waiting for a result: ${waitingText}.`
        }
        if (kind === "approval") {
          if (hasOwn(results.calls, id)) {
            return `Tool call ${describe(call)} has both a result and an approval in deferredToolResults: give one of them.`
          }
          if (this.st.tools.get(call.toolName)?.definition.kind === "external") {
            return `Tool call ${describe(call)} calls an external tool: give its result in deferredToolResults.calls, not an approval.`
          }
        }
      }
    }
    const missing = waiting.filter(
      (c) => !hasOwn(results.calls, c.toolCallId) && !hasOwn(results.approvals, c.toolCallId)
    )
    if (missing.length > 0 && !partial) {
      return `deferredToolResults has no result for the deferred tool call${missing.length === 1 ? "" : "s"} ${missing.map(describe).join(", ")}: give an approval or a result for every call listed in DeferredToolRequests.`
    }
    return undefined
  }

  // -- ModelRequestNode ---------------------------------------------------

  private instructionsText(dynamic: ReadonlyArray<string>): string | undefined {
    return instructionsText(this.staticInstructions, dynamic, this.resolved.instructions)
  }

  private prepareRequest(node: ModelRequestNode): Effect.Effect<Prepared, unknown, unknown> {
    return Effect.suspend(() => {
      const check = this.resolved.check
      if (check !== undefined) return Effect.fail(check)
      this.st.runStep += 1
      if (this.dynamicInstructions.length === 0) return this.steerAndPrepare(node, [])
      return Effect.flatMap(this.makeCtx(), (ctx) =>
        Effect.flatMap(
          Effect.forEach(this.dynamicInstructions, (i) =>
            Effect.provideService(i, RunContext, ctx)
          ),
          (texts) =>
            this.steerAndPrepare(
              node,
              texts.filter((x): x is string => x !== undefined && x !== "")
            )
        )
      )
    })
  }

  /** A steering prompt as a request part; structured content is validated. */
  private steeringPart(prompt: string | ReadonlyArray<UserContent>): UserPromptPart | UserError {
    if (typeof prompt === "string") return makeUserPromptPart({ content: prompt })
    try {
      return new UserPromptPart({ content: prompt })
    } catch (e) {
      return new UserError({ reason: `Steering message is not valid user content: ${String(e)}` })
    }
  }

  enqueue(prompt: string | ReadonlyArray<UserContent>): Effect.Effect<void, UserError> {
    return Effect.suspend(() => {
      const part = this.steeringPart(prompt)
      if (part instanceof UserError) return Effect.fail(part)
      ;(this.steered ??= []).push(part)
      return Effect.void
    })
  }

  /**
   * `prepareWith`, after taking what the `steering` queue holds. Taking the prompts
   * and putting them in the history (`prepareWith` appends the request before it returns) is
   * one uninterruptible step: a prompt taken from the queue is never lost.
   */
  private steerAndPrepare(
    node: ModelRequestNode,
    dynamic: ReadonlyArray<string>
  ): Effect.Effect<Prepared, unknown, unknown> {
    const steering = this.options.steering
    if (steering === undefined) return this.prepareWith(node, dynamic)
    return Effect.flatten(
      Effect.uninterruptible(
        Effect.map(Queue.takeAll(steering), (items) => {
          for (const item of items) {
            const part = this.steeringPart(item)
            if (part instanceof UserError) return Effect.fail(part)
            ;(this.steered ??= []).push(part)
          }
          return this.prepareWith(node, dynamic)
        })
      )
    )
  }

  private prepareWith(
    node: ModelRequestNode,
    dynamic: ReadonlyArray<string>
  ): Effect.Effect<Prepared, unknown, unknown> {
    const st = this.st
    const instructions = this.instructionsText(dynamic)
    const given = node.request
    const steered = this.steered
    this.steered = undefined
    const request = makeModelRequest({
      parts: steered === undefined ? given.parts : [...given.parts, ...steered],
      ...(instructions !== undefined ? { instructions } : {}),
      runId: this.runId,
      timestamp: new Date(this.clock.unsafeCurrentTimeMillis()),
      conversationId: this.conversationId,
      ...(given.metadata !== undefined ? { metadata: given.metadata } : {})
    })
    this.setMessages(
      node.resend ? [...beforeLastRequest(st.messages), request] : [...st.messages, request]
    )
    const loaded =
      this.plan.config.hooks?.prepareOutputTools === undefined
        ? this.loadTools()
        : Effect.zipLeft(this.loadTools(), this.prepareOutputTools())
    return Effect.flatMap(loaded, (tools): Effect.Effect<Prepared, unknown, unknown> => {
      const all = this.parameters(tools)
      if (typeof all === "string") {
        return Effect.fail(
          new UserError({ reason: `Tool name conflicts with output tool name: '${all}'` })
        )
      }
      // Deferred tools: the provider loads them, or only the loaded ones go, as ordinary tools.
      const revealed =
        this.profile.supportsToolDeferral === true
          ? all
          : Model.revealDeferredTools(st.messages, all)
      // Return schemas: the provider's field, or the end of the tool's description.
      const parameters =
        this.profile.supportsToolReturnSchema === true
          ? revealed
          : Model.describeReturnSchemas(revealed)
      return Effect.flatMap(Ref.get(this.usageRef), (usage) => {
        const before = this.usageLimits.checkBeforeRequest(usage)
        if (Option.isSome(before)) return Effect.fail(this.limitError(before.value))
        if (this.processors.length === 0) {
          return this.hookedPrepared({ messages: st.messages, parameters }, usage)
        }
        // History processors: what they return is sent; the stored history stays whole.
        return Effect.flatMap(
          historyProcessors.apply(this.processors, st.messages, this.ctxWith(usage)),
          (messages) => this.hookedPrepared({ messages, parameters }, usage)
        )
      })
    })
  }

  /**
   * The prepared request after the `beforeModelRequest` hooks (when there are any): what they
   * return is sent (a history they leave without a request to send is a `UserError`); a skip
   * or a `ModelRetry` is carried to the request node in `Prepared`.
   */
  private hookedPrepared(
    prep: Prepared,
    usage: RunUsage
  ): Effect.Effect<Prepared, unknown, unknown> {
    const before = this.plan.config.hooks?.beforeModelRequest
    if (before === undefined) return this.countedPrepared(prep, usage)
    const request: ModelRequestContext = {
      messages: prep.messages,
      modelSettings: this.st.settings,
      parameters: prep.parameters
    }
    return capabilities.beforeModelRequest(before, this.ctxWith(usage), request).pipe(
      Effect.flatMap((out): Effect.Effect<Prepared, unknown> => {
        if (out instanceof SkipModelRequest) return Effect.succeed({ ...prep, skip: out.response })
        const last = out.messages[out.messages.length - 1]
        if (last === undefined || last._tag !== "ModelRequest") {
          return Effect.fail(
            new UserError({
              reason:
                "A beforeModelRequest hook returned messages that do not end with the ModelRequest to send: a request needs a non-empty list of messages ending with a ModelRequest (the run's stored history is unchanged)."
            })
          )
        }
        return this.countedPrepared(
          { messages: out.messages, parameters: out.parameters, settings: out.modelSettings },
          usage
        )
      }),
      Effect.catchIf(
        (e): e is ModelRetry => e instanceof ModelRetry,
        (retry) => Effect.succeed({ ...prep, retry })
      )
    )
  }

  /**
   * The prepared request, after `UsageLimits.countTokensBeforeRequest` (when set) counted what
   * is about to be sent and found it within the token limits.
   */
  private countedPrepared(prep: Prepared, usage: RunUsage): Effect.Effect<Prepared, unknown> {
    if (this.usageLimits.countTokensBeforeRequest !== true) return Effect.succeed(prep)
    return Effect.flatMap(
      countBeforeRequest(
        this.usageLimits,
        this.chatModel,
        usage,
        prep.messages,
        prep.settings ?? this.st.settings,
        prep.parameters
      ),
      (v) => (Option.isSome(v) ? Effect.fail(this.limitError(v.value)) : Effect.succeed(prep))
    )
  }

  /** The request parameters for these function tools, or the name of a conflicting tool. */
  private parameters(
    tools: ReadonlyArray<Toolset.ToolsetTool<any, any>>
  ): Model.ModelRequestParameters | string {
    const resolved = this.resolved
    const fixed =
      this.plan.fixedTools !== undefined &&
      !this.runBuiltinTools &&
      this.plan.config.hooks?.prepareTools === undefined &&
      this.plan.config.hooks?.prepareOutputTools === undefined
    if (fixed && resolved.parameters !== undefined) return resolved.parameters
    const outputTools = this.offeredOutputTools()
    for (const t of outputTools) {
      if (this.st.tools.has(t.name)) return t.name
    }
    const outputObject = this.outputObject()
    const spec = this.spec
    const parameters = makeModelRequestParameters({
      functionTools: tools.map((t) => t.definition),
      outputTools,
      outputMode: spec.mode,
      ...(outputObject !== undefined ? { outputObject } : {}),
      allowTextOutput: spec.allowTextOutput,
      allowImageOutput: spec.allowImageOutput === true,
      builtinTools: this.builtinTools
    })
    if (fixed) resolved.parameters = parameters
    return parameters
  }

  /** A response of this run, with the run's conversation id. */
  private stamped(response: ModelResponse): ModelResponse {
    return response.conversationId === this.conversationId
      ? response
      : makeModelResponse.copy(response, { conversationId: this.conversationId })
  }

  /** A request holding the last tool results of a run that ends (never sent to the model). */
  private closingRequest(parts: ReadonlyArray<ModelRequestPart>): ModelRequest {
    return makeModelRequest({
      parts,
      runId: this.runId,
      timestamp: new Date(this.clock.unsafeCurrentTimeMillis()),
      conversationId: this.conversationId
    })
  }

  /** Takes a response into the run; `counted: false` for a substitute (no request was sent). */
  private finishResponse(raw: ModelResponse, counted = true): Effect.Effect<AgentNode<A>, unknown> {
    const response = this.stamped(raw)
    return Effect.flatMap(
      Ref.updateAndGet(this.usageRef, (u) => (counted ? u.addRequest(response.usage) : u)),
      (usage) => {
        this.append(response)
        const after = this.usageLimits.checkAfterResponse(usage, response.usage)
        if (Option.isSome(after)) return Effect.fail(this.limitError(after.value))
        return Effect.succeed(new CallToolsNode(response))
      }
    )
  }

  private modelRequest(node: ModelRequestNode): Effect.Effect<AgentNode<A>, unknown, unknown> {
    return Effect.flatMap(this.prepareRequest(node), (prep) =>
      this.plan.config.hooks?.model === true
        ? this.hookedRequest(prep, (r) =>
            this.chatModel.request(r.messages, r.modelSettings, r.parameters)
          )
        : Effect.flatMap(
            this.chatModel.request(prep.messages, this.st.settings, prep.parameters),
            (response) => this.finishResponse(response)
          )
    )
  }

  // -- Model-request hooks (only with capabilities that have them) -------------

  /**
   * A prepared request through the model-request hooks: `send` (a plain or a streamed request)
   * inside the `wrapModelRequest` chain, then the `afterModelRequest` hooks; a response that
   * `beforeModelRequest` substituted skips both the request and the wrap hooks. A `ModelRetry`
   * from a hook asks the model again with a retry prompt (output budget): after a response it
   * stays in the history, before one the request is sent again with the prompt added.
   * `substituted` is told of a response no request was sent for (a streamed run emits its
   * parts' events).
   */
  private hookedRequest(
    prep: Prepared,
    send: (request: ModelRequestContext) => Effect.Effect<ModelResponse, unknown, unknown>,
    substituted?: (response: ModelResponse) => Effect.Effect<void>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    if (prep.retry !== undefined) return this.resendWithRetry(prep.retry)
    const hooks = this.plan.config.hooks!
    const request: ModelRequestContext = {
      messages: prep.messages,
      modelSettings: prep.settings ?? this.st.settings,
      parameters: prep.parameters
    }
    return Effect.flatMap(this.makeCtx(), (ctx) => {
      let requested = false
      // The latest response the model (or a hook) gave: kept in the history on a retry.
      let obtained: ModelResponse | undefined = prep.skip
      const core = (r: ModelRequestContext) =>
        Effect.suspend(() => {
          requested = true
          return Effect.tap(send(r), (response) => {
            obtained = response
          })
        })
      // A response an `onModelRequestError` hook recovered with: not counted as a request.
      let recovered = false
      const wrapped =
        prep.skip !== undefined
          ? Effect.succeed(prep.skip)
          : hooks.wrapModelRequest === undefined
            ? core(request)
            : capabilities.wrapModelRequest(hooks.wrapModelRequest, ctx, request, core)
      const errors = hooks.onModelRequestError
      const response =
        errors === undefined || prep.skip !== undefined
          ? wrapped
          : Effect.catchAll(wrapped, (e) =>
              e instanceof ModelRetry
                ? Effect.fail(e)
                : Effect.tap(capabilities.onModelRequestError(errors, ctx, request, e), () => {
                    recovered = true
                  })
            )
      const after = hooks.afterModelRequest
      const announced =
        substituted === undefined
          ? response
          : Effect.tap(response, (r) => (requested && !recovered ? Effect.void : substituted(r)))
      return announced.pipe(
        Effect.flatMap((r) => {
          obtained = r
          const counted = requested && !recovered
          return after === undefined
            ? this.finishResponse(r, counted)
            : capabilities.afterModelRequest(after, ctx, request, r).pipe(
                Effect.flatMap((final) => this.finishResponse(final, counted)),
                // A hook failed on the response: it stays in the history, then the failure.
                Effect.tapError((e) =>
                  e instanceof ModelRetry
                    ? Effect.void
                    : Effect.ignore(this.finishResponse(r, counted))
                )
              )
        }),
        Effect.catchIf(
          (e): e is ModelRetry => e instanceof ModelRetry,
          (retry) => {
            const kept = obtained
            if (kept === undefined) return this.resendWithRetry(retry)
            return Effect.zipRight(
              // Usage and limits as for any response; the next request carries the prompt.
              this.finishResponse(kept, requested && !recovered),
              this.outputRetry(makeRetryPromptPart({ content: retryContent(retry) }))
            )
          }
        )
      )
    })
  }

  /**
   * A hook asked for a retry before any response: the request just recorded is sent again with
   * the retry prompt added (one output retry).
   */
  private resendWithRetry(retry: ModelRetry): Effect.Effect<AgentNode<A>, unknown> {
    const part = makeRetryPromptPart({ content: retryContent(retry) })
    return Effect.suspend(() => {
      const last = this.st.messages[this.st.messages.length - 1] as ModelRequest
      return Effect.as(
        this.countOutputRetry(part.content),
        new ModelRequestNode(makeModelRequest({ parts: [...last.parts, part] }), true)
      )
    })
  }

  /**
   * Unless `done` when the scope closes (a failure, an interruption), the partial response of
   * `streamed` goes into the history as `interrupted`; a request that was answered in part (a
   * part arrived) is counted in the run's usage with what arrived (the provider
   * bills what it streamed), one that failed before any answer is not (as a failed request
   * without streaming).
   */
  private keepInterrupted(
    streamed: Model.StreamedResponse,
    done: () => boolean
  ): Effect.Effect<void, never, Scope.Scope> {
    return Effect.addFinalizer(() =>
      done()
        ? Effect.void
        : Effect.flatMap(streamed.response, (r) => {
            this.append(
              makeModelResponse.copy(r, {
                state: "interrupted",
                conversationId: this.conversationId
              })
            )
            return r.parts.length > 0
              ? Ref.update(this.usageRef, (u) => u.addRequest(r.usage))
              : Effect.void
          })
    )
  }

  private isFinalStart(part: PartStartEvent["part"], allowText: boolean): boolean {
    if (part._tag === "TextPart") {
      return (
        allowText && !(this.profile.ignoreStreamedLeadingWhitespace && part.content.trim() === "")
      )
    }
    if (part._tag === "FilePart") return this.spec.allowImageOutput === true && part.content.isImage
    return part._tag === "ToolCallPart" && this.spec.isOutputTool(part.toolName)
  }

  /**
   * Opens a streamed model request in the current `Scope`. `finish` takes the response of the
   * stream's `ResponseCompleteEvent` (else the snapshot) into the run as complete and gives the
   * next node; unless it ran, closing the scope (a failure, an interruption) keeps the partial
   * response in the history as `interrupted`.
   */
  private openStream(node: ModelRequestNode): Effect.Effect<
    {
      readonly streamed: Model.StreamedResponse
      readonly finish: (
        completed: ModelResponse | undefined
      ) => Effect.Effect<AgentNode<A>, unknown>
    },
    unknown,
    unknown
  > {
    return Effect.gen(this, function* () {
      const prep = yield* this.prepareRequest(node)
      const streamed = yield* this.chatModel.requestStream(
        prep.messages,
        this.st.settings,
        prep.parameters
      )
      let done = false
      yield* this.keepInterrupted(streamed, () => done)
      const finish = (completed: ModelResponse | undefined) =>
        Effect.flatMap(
          completed !== undefined ? Effect.succeed(completed) : streamed.response,
          (r) =>
            Effect.map(
              this.finishResponse(
                r.state === "complete" ? r : makeModelResponse.copy(r, { state: "complete" })
              ),
              (next) => {
                done = true
                return next
              }
            )
        )
      return { streamed, finish }
    })
  }

  /**
   * A model request's events as a channel that opens the request in its own `Scope` (closed
   * when the channel ends, fails or is interrupted). Not `Stream.unwrapScoped`: that runs the
   * events in a nested channel stage, one more read per network read (see `eventChannel`).
   */
  private modelRequestChannel(node: ModelRequestNode): NodeChannel<A> {
    // With model-request hooks, the request runs in a fiber (a `wrapModelRequest` hook is
    // around it) and its events come over a queue, as a tool step's do.
    return this.plan.config.hooks?.model === true
      ? this.forkedChannel((emit) => this.hookedStream(node, emit))
      : scopedChannel(this.modelRequestSetup(node))
  }

  private modelRequestSetup(
    node: ModelRequestNode
  ): Effect.Effect<NodeChannel<A>, any, Scope.Scope> {
    return (
      // Only the set-up reads the run's context: providing it to the whole stream
      // (`Stream.provideSomeContext`) would cost a context change on every network read.
      Effect.gen(this, function* () {
        const { streamed, finish } = yield* this.openStream(node)
        let completed: ModelResponse | undefined
        let finalSent = false
        const allowText = this.spec.allowTextOutput
        const events = Stream.mapChunks(
          streamed.events,
          (chunk: Chunk.Chunk<ModelResponseStreamEvent>) => {
            // Fast path: most chunks are plain deltas and pass through untouched (an indexed
            // loop: a chunk's iterator allocates on every call).
            const list = Chunk.toReadonlyArray(chunk)
            let touched = false
            for (let i = 0; i < list.length; i++) {
              const e = list[i]!
              if (
                e._tag === "ResponseCompleteEvent" ||
                (e._tag === "PartStartEvent" && !finalSent)
              ) {
                touched = true
                break
              }
            }
            const map = this.chunkMap
            if (!touched)
              return map === undefined ? chunk : map(chunk as Chunk.Chunk<AgentStreamEvent<A>>)
            const out: Array<AgentStreamEvent<A>> = []
            for (const e of list) {
              if (e._tag === "ResponseCompleteEvent") {
                completed = e.response
                continue
              }
              out.push(e)
              if (
                e._tag === "PartStartEvent" &&
                !finalSent &&
                this.isFinalStart(e.part, allowText)
              ) {
                finalSent = true
                out.push(finalResultOf(e.part))
              }
            }
            return map === undefined ? Chunk.unsafeFromArray(out) : map(Chunk.unsafeFromArray(out))
          }
        )
        return Channel.zipRight(
          Stream.toChannel(events),
          Channel.fromEffect(Effect.suspend(() => finish(completed)))
        )
      }).pipe((setup) => Effect.provide(setup, this.streamSetupContext()))
    )
  }

  /**
   * A model request streamed to `onEvent` (`eventsBody`): the same events as `modelRequestSetup`'s
   * channel — `FinalResultEvent` after the part that ends the run, the `ResponseCompleteEvent`
   * kept back — read with the response's `push` (one callback per network read, no `Stream`),
   * or through its `events` when the model offers no `push`. The same finalizer keeps the
   * partial response in the history when the request fails or is interrupted.
   */
  private pushedModelRequest(
    node: ModelRequestNode,
    onEvent: EventCallback<A>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    if (this.plan.config.hooks?.model === true) {
      return this.hookedStream(node, (events) =>
        Effect.sync(() => {
          const list = Chunk.toReadonlyArray(events)
          for (let i = 0; i < list.length; i++) onEvent(list[i]!)
        })
      )
    }
    return Effect.scoped(
      Effect.gen(this, function* () {
        const { streamed, finish } = yield* this.openStream(node)
        const relay = this.relay(onEvent)
        const push = streamed.push
        if (push !== undefined) yield* push(relay.onEvents)
        else
          yield* Stream.runForEachChunk(streamed.events, (chunk) =>
            Effect.sync(() => relay.onEvents(Chunk.toReadonlyArray(chunk)))
          )
        return yield* finish(relay.completed())
      })
    )
  }

  /**
   * Relays one streamed response's events to `onEvent`: a `FinalResultEvent` after the part that
   * ends the run, the `ResponseCompleteEvent` kept back (`completed` gives its response).
   */
  private relay(onEvent: EventCallback<A>): {
    readonly onEvents: (events: ReadonlyArray<ModelResponseStreamEvent>) => void
    readonly completed: () => ModelResponse | undefined
  } {
    let completed: ModelResponse | undefined
    let finalSent = false
    const allowText = this.spec.allowTextOutput
    return {
      onEvents: (events) => {
        for (let i = 0; i < events.length; i++) {
          const e = events[i]!
          if (e._tag === "ResponseCompleteEvent") {
            completed = e.response
            continue
          }
          onEvent(e)
          if (e._tag === "PartStartEvent" && !finalSent && this.isFinalStart(e.part, allowText)) {
            finalSent = true
            onEvent(finalResultOf(e.part))
          }
        }
      },
      completed: () => completed
    }
  }

  /**
   * A streamed model request through the model-request hooks (`hookedRequest`), its events
   * handed to `emit` per network read as the other streaming paths emit them. A response a
   * hook substitutes is emitted as its parts' start and end events. A request failing or
   * interrupted mid-stream keeps its partial response in the history (`interrupted`).
   */
  private hookedStream(
    node: ModelRequestNode,
    emit: Emit
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const emitAll = (events: ReadonlyArray<ModelResponseStreamEvent>) =>
      Effect.suspend(() => {
        const out: Array<AgentStreamEvent<A>> = []
        const relay = this.relay((e) => out.push(e))
        relay.onEvents(events)
        return out.length === 0 ? Effect.void : emit(Chunk.unsafeFromArray(out))
      })
    return Effect.scoped(
      Effect.flatMap(this.prepareRequest(node), (prep) => {
        const send = (r: ModelRequestContext) =>
          Effect.gen(this, function* () {
            const streamed = yield* this.chatModel.requestStream(
              r.messages,
              r.modelSettings,
              r.parameters
            )
            let done = false
            yield* this.keepInterrupted(streamed, () => done)
            const out: Array<AgentStreamEvent<A>> = []
            const relay = this.relay((e) => out.push(e))
            yield* Stream.runForEachChunk(streamed.events, (chunk) => {
              relay.onEvents(Chunk.toReadonlyArray(chunk))
              if (out.length === 0) return Effect.void
              // (A `chunkMap` is applied by the channel's `emit`.)
              return emit(Chunk.unsafeFromArray(out.splice(0)))
            })
            const response = relay.completed() ?? (yield* streamed.response)
            done = true
            return response.state === "complete"
              ? response
              : makeModelResponse.copy(response, { state: "complete" })
          })
        // A substitute response (no request sent): its parts' start and end events.
        return this.hookedRequest(prep, send, (response) => {
          const events: Array<ModelResponseStreamEvent> = []
          response.parts.forEach((part, index) => {
            events.push(new PartStartEvent({ index, part }, true))
            events.push(new PartEndEvent({ index, part }, true))
          })
          return emitAll(events)
        })
      })
    )
  }

  // -- CallToolsNode ------------------------------------------------------

  /** `decodeOutput` with this run's validators and `RunContext` (`extra` over it). */
  private decodeOutput(
    decode: Effect.Effect<any, ModelRetry, unknown>,
    extra?: Partial<RunContextService>,
    hooked?: {
      readonly validation: Capability.OutputValidation
      readonly decode: (v: Capability.OutputValidation) => Effect.Effect<any, ModelRetry, unknown>
    }
  ): Effect.Effect<Decoded<A>, unknown, unknown> {
    return decodeOutput<A>(this.plan.config, this.makeCtx(extra), decode, hooked)
  }

  /**
   * Counts one output retry; fails the run when the budget is spent, saying why the last output
   * was refused (`failure`: the retry prompt's content).
   */
  private countOutputRetry(failure: RetryPromptPart["content"]): Effect.Effect<void, unknown> {
    return Effect.suspend(() => {
      const st = this.st
      const max = this.resolved.max
      st.outputRetries += 1
      return st.outputRetries > max
        ? this.exhausted(
            `Exceeded maximum output retries (${max}); the last output was refused: ${failureText(failure)}`
          )
        : Effect.void
    })
  }

  private outputRetry(part: RetryPromptPart): Effect.Effect<AgentNode<A>, unknown> {
    return Effect.as(
      this.countOutputRetry(part.content),
      new ModelRequestNode(makeModelRequest({ parts: [part] }))
    )
  }

  private alternatives(includeText: boolean): string {
    const alts: Array<string> = []
    if (includeText && this.spec.allowTextOutput) alts.push("return text")
    if (this.offeredOutputTools().length > 0) alts.push("include your response in a tool call")
    else if (this.st.tools.size > 0) alts.push("call a tool")
    if (this.spec.allowImageOutput === true) alts.push("return an image")
    if (alts.length === 0) alts.push("return text")
    return `Please ${alts.join(" or ")}.`
  }

  private endNode(output: A): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const end = Effect.map(Ref.get(this.usageRef), (usage) => {
      const st = this.st
      return new End(
        new AgentRunResult(output, usage, st.messages, st.newMessageIndex, this.runId, st.metadata)
      )
    })
    const after = this.plan.config.hooks?.afterRun
    if (after === undefined) return end
    // `afterRun` hooks may replace the result.
    return Effect.flatMap(end, (node) =>
      Effect.flatMap(this.makeCtx(), (ctx) =>
        Effect.map(
          capabilities.afterRun(after, ctx, node.result as AgentRunResult<unknown>),
          (result) => new End(result as AgentRunResult<A>)
        )
      )
    )
  }
  private end(output: A): Effect.Effect<AgentNode<A>, unknown, unknown> {
    // [compose #18] A handoff: the target continues the conversation and its output ends the run.
    if (output instanceof HandoffRequest) return this.handOff(output)
    return this.metadataInputs === undefined
      ? this.endNode(output)
      : Effect.zipRight(this.computeMetadata(), this.endNode(output))
  }

  /**
   * Runs a handoff's target on the conversation so far (`runHandoff`); the run ends with its
   * output, and its messages (the history it was given, then its own) become this run's.
   */
  private handOff(request: HandoffRequest): Effect.Effect<AgentNode<A>, unknown, unknown> {
    return Effect.flatMap(
      runHandoff(request, this.st.messages, {
        usage: this.usageRef,
        usageLimits: this.usageLimits,
        conversationId: this.conversationId
      }),
      (result) => {
        const messages = result.allMessages()
        this.setMessages(messages)
        this.st.newMessageIndex = Math.min(this.st.newMessageIndex, messages.length)
        return this.end(result.output as A)
      }
    )
  }

  private handleText(response: ModelResponse): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const spec = this.spec
    // An image beats text (pydantic-ai's order): the first image file ends the run.
    if (spec.allowImageOutput === true && spec.handleImage !== undefined) {
      const image = response.images[0]
      if (image !== undefined) {
        return Effect.flatMap(
          this.decodeOutput(spec.handleImage(image, { partial: false })),
          (result) =>
            result.ok
              ? this.end(result.value)
              : this.outputRetry(makeRetryPromptPart({ content: retryContent(result.error) }))
        )
      }
    }
    const text = response.text
    if (text.trim() === "") {
      if (response.finishReason === "length") {
        return this.fail(
          `Model token limit (${this.st.settings.maxTokens ?? "provider default"}) exceeded before any response was generated. Increase the \`maxTokens\` model setting, or simplify the prompt to result in a shorter response.`
        )
      }
      if (response.finishReason === "content_filter") {
        return Effect.fail(
          new ContentFilterError({
            reason: `Content filter triggered. Finish reason: '${response.providerFinishReason ?? "content_filter"}'`,
            messages: this.st.messages
          })
        )
      }
      return this.outputRetry(makeRetryPromptPart({ content: this.alternatives(true) }))
    }
    if (!spec.allowTextOutput && spec.acceptsText !== true) {
      return this.outputRetry(makeRetryPromptPart({ content: this.alternatives(false) }))
    }
    const hooked =
      this.plan.config.hooks?.output === true
        ? {
            validation: { kind: "text" as const, text },
            decode: (v: Capability.OutputValidation) =>
              v.kind === "text"
                ? spec.handleText(v.text, { partial: false })
                : spec.handleToolCall(v.call, { partial: false })
          }
        : undefined
    const decoded = this.decodeOutput(spec.handleText(text, { partial: false }), undefined, hooked)
    return Effect.flatMap(decoded, (result) =>
      result.ok
        ? this.end(result.value)
        : this.outputRetry(makeRetryPromptPart({ content: retryContent(result.error) }))
    )
  }

  /** The budget of one output tool, when the spec gives output tools their own. */
  private outputToolMax(toolName: string): number | undefined {
    const spec = this.spec
    return spec.maxRetriesFor === undefined
      ? undefined
      : (spec.maxRetriesFor(toolName) ?? this.config.outputRetries)
  }

  /**
   * Decodes one output tool call. A failure counts against the global output budget (unless a
   * final result is already fixed: then it cannot change the outcome) and, when the spec gives
   * output tools their own budgets, against the tool's (counted at the end of the step).
   */
  private runOutputCall(
    call: ToolCallPart,
    failed: Set<string>,
    count: boolean
  ): Effect.Effect<
    { ok: true; value: A } | { ok: false; part: RetryPromptPart },
    unknown,
    unknown
  > {
    return Effect.gen(this, function* () {
      const toolMax = this.outputToolMax(call.toolName)
      const toolRetry = this.toolRetry(call.toolName)
      const spec = this.spec
      const result = yield* this.decodeOutput(
        spec.handleToolCall(call, { partial: false }),
        {
          toolName: call.toolName,
          toolCallId: call.toolCallId,
          ...(toolMax !== undefined ? { retry: toolRetry, maxRetries: toolMax } : {})
        },
        this.plan.config.hooks?.output === true
          ? {
              validation: { kind: "tool", call },
              decode: (v) =>
                v.kind === "tool"
                  ? spec.handleToolCall(v.call, { partial: false })
                  : spec.handleText(v.text, { partial: false })
            }
          : undefined
      )
      if (result.ok) return result
      if (count) {
        yield* this.countOutputRetry(retryContent(result.error))
        if (toolMax !== undefined) {
          if (toolRetry >= toolMax) {
            return yield* this.exhausted(
              `Tool '${call.toolName}' exceeded max retries count of ${toolMax}: ${result.error.reason}`
            )
          }
          failed.add(call.toolName)
        }
      }
      return {
        ok: false as const,
        part: makeRetryPromptPart({
          content: retryContent(result.error),
          toolName: call.toolName,
          toolCallId: call.toolCallId
        })
      }
    })
  }

  private handleToolCalls(
    response: ModelResponse,
    emit: Emit,
    handled = false
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    return Effect.gen(this, function* () {
      const st = this.st
      const spec = this.spec
      const endStrategy = this.config.endStrategy
      const calls = response.toolCalls
      const results: Array<CallOutcome | undefined> = calls.map(() => undefined)
      // Resuming deferred calls: the results already in the history are kept, not run again.
      const resume = st.resume
      const answered = resume?.answered
      const todo = (i: number) => answered === undefined || !answered.has(calls[i]!.toolCallId)
      if (answered !== undefined) {
        calls.forEach((c, i) => {
          const part = answered.get(c.toolCallId)
          if (part !== undefined) results[i] = part as CallOutcome
        })
      }
      const failed = new Set<string>()
      const succeeded = new Set<string>()
      let final: { value: A; index: number } | undefined
      const isOutput = (c: ToolCallPart) => spec.isOutputTool(c.toolName)
      const runPending = (indices: Array<number>) =>
        Effect.map(
          runFunctionBatch(
            this,
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
      // Output tool events: a call event before decoding, a result event after.
      const streaming = emit !== noEmit
      const outputCalled = (call: ToolCallPart) =>
        streaming ? emit(Chunk.of(new OutputToolCallEvent({ part: call }, true))) : Effect.void
      const outputDone = (i: number, result: CallResult) => {
        results[i] = result
        return streaming ? emit(Chunk.of(new OutputToolResultEvent({ result }, true))) : Effect.void
      }
      const outputUnused = (i: number, call: ToolCallPart, text: string) =>
        Effect.zipRight(outputCalled(call), outputDone(i, statusReturn(call, text)))
      const processOutput = (i: number, call: ToolCallPart) =>
        Effect.zipRight(
          outputCalled(call),
          Effect.flatMap(this.runOutputCall(call, failed, true), (r) => {
            if (!r.ok) return outputDone(i, r.part)
            final = { value: r.value, index: i }
            return outputDone(i, statusReturn(call, statusTexts.finalResult))
          })
        )

      if (endStrategy === "early") {
        for (let i = 0; i < calls.length; i++) {
          const call = calls[i]!
          if (!isOutput(call) || !todo(i)) continue
          if (final !== undefined) yield* outputUnused(i, call, statusTexts.outputNotUsed)
          else yield* processOutput(i, call)
        }
        const fns = calls.flatMap((c, i) => (isOutput(c) || !todo(i) ? [] : [i]))
        if (final !== undefined) {
          for (const i of fns) results[i] = statusReturn(calls[i]!, statusTexts.toolNotExecuted)
        } else yield* runPending(fns)
      } else if (endStrategy === "graceful") {
        let pending: Array<number> = []
        for (let i = 0; i < calls.length; i++) {
          const call = calls[i]!
          if (!todo(i)) continue
          if (!isOutput(call)) {
            pending.push(i)
            continue
          }
          yield* runPending(pending)
          pending = []
          if (final !== undefined) yield* outputUnused(i, call, statusTexts.outputNotUsed)
          else yield* processOutput(i, call)
        }
        yield* runPending(pending)
      } else {
        yield* runPending(calls.flatMap((c, i) => (isOutput(c) || !todo(i) ? [] : [i])))
        for (let i = 0; i < calls.length; i++) {
          const call = calls[i]!
          if (!isOutput(call) || !todo(i)) continue
          if (final === undefined) yield* processOutput(i, call)
          else {
            yield* outputCalled(call)
            const r = yield* this.runOutputCall(call, failed, false)
            yield* outputDone(
              i,
              r.ok ? statusReturn(call, statusTexts.outputProcessedNotFinal) : r.part
            )
          }
        }
      }

      // Retry-wins: a real function tool asking for a retry voids this round's output.
      if (final !== undefined && endStrategy !== "early") {
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
      if (succeeded.size > 0 || failed.size > 0) {
        const retries = (st.toolRetries ??= new Map())
        for (const name of succeeded) if (!failed.has(name)) retries.delete(name)
        for (const name of failed) retries.set(name, (retries.get(name) ?? 0) + 1)
      }

      st.resume = undefined
      const deferred: Array<Deferred> = []
      const parts: Array<ModelRequestPart> = []
      for (let i = 0; i < results.length; i++) {
        const r = results[i]
        if (r === undefined) continue
        if (!(r instanceof Deferred)) parts.push(r)
        else if (final !== undefined) {
          // The run ends with its output: nobody will resume this call.
          parts.push(statusReturn(calls[i]!, statusTexts.toolNotExecuted))
        } else deferred.push(r)
      }
      if (resume !== undefined) parts.push(...resume.carried)
      if (final !== undefined) {
        if (parts.length > 0) this.append(this.closingRequest(parts))
        return yield* this.end(final.value)
      }
      if (deferred.length > 0 && !handled && this.options.handleDeferred !== undefined) {
        // Inline answers: the answered calls run (or get their result) in this same step, as
        // in a resumed run; the ones left unanswered stop the run below, on the second pass.
        const given = yield* this.options.handleDeferred(deferredRequests(deferred))
        if (
          given !== undefined &&
          (Object.keys(given.calls).length > 0 || Object.keys(given.approvals).length > 0)
        ) {
          const known = new Map<string, ModelRequestPart | Deferred>()
          results.forEach((r, i) => {
            if (r !== undefined) known.set(calls[i]!.toolCallId, r)
          })
          const problem = this.checkDeferredResults(calls, known, given, true)
          if (problem !== undefined) {
            return yield* new UserError({ reason: `handleDeferred: ${problem}` })
          }
          // The answered calls run again; the others keep their outcome (not run twice).
          const answeredNow = (id: string) => hasOwn(given.calls, id) || hasOwn(given.approvals, id)
          for (const d of deferred)
            if (answeredNow(d.call.toolCallId)) known.delete(d.call.toolCallId)
          st.resume = { results: given, answered: known, carried: resume?.carried ?? [] }
          // Their call events were emitted on the first pass: not again.
          const announced = new Set(deferred.map((d) => d.call.toolCallId))
          const again: Emit = !streaming
            ? emit
            : (events) => {
                const rest = Chunk.filter(
                  events,
                  (e) => !(e._tag === "FunctionToolCallEvent" && announced.has(e.part.toolCallId))
                )
                return Chunk.isEmpty(rest) ? Effect.void : emit(rest)
              }
          return yield* this.handleToolCalls(response, again, true)
        }
      }
      if (deferred.length > 0) {
        // The results so far stay in the history; the resumed run sends them with the rest.
        if (parts.length > 0) this.append(this.closingRequest(parts))
        return yield* this.end(deferredRequests(deferred) as A)
      }
      if (parts.length === 0) {
        // Only text could end the run here (tool calls were all non-output and skipped): treat as text.
        return yield* this.handleText(response)
      }
      return new ModelRequestNode(makeModelRequest({ parts }))
    })
  }

  private callTools(
    node: CallToolsNode,
    emit: Emit
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    return node.response.toolCalls.length === 0
      ? this.handleText(node.response)
      : this.handleToolCalls(node.response, emit)
  }

  // -- Driving ------------------------------------------------------------

  /**
   * The one place a node's behaviour is chosen. Streaming, a node is a channel of its events
   * whose done value is the next node (`runStream`, `streamOutput`, `iter.stream`, the
   * `eventStreamHandler` path); not streaming (`run`, `iter.next`), the next node as an Effect
   * — what draining that channel gives, without building it (a model request is then sent
   * without streaming). Failures are raw here: the drivers attach the messages.
   */
  private behaviour(node: AgentNode<A>, streaming: true): NodeChannel<A>
  private behaviour(
    node: AgentNode<A>,
    streaming: false
  ): Effect.Effect<AgentNode<A>, unknown, unknown>
  private behaviour(
    node: AgentNode<A>,
    streaming: boolean
  ): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
    if (!streaming) return this.hookedStep(node)
    const hooks = this.plan.config.hooks
    if (hooks === undefined || node._tag === "End") return this.ownBehaviour(node, true)
    const own = (
      hooks.node ? this.nodeHooked(node, true) : this.ownBehaviour(node, true)
    ) as NodeChannel<A>
    // `onRunError` hooks: a step's failure may end the run with a recovered output.
    const base =
      hooks.onRunError === undefined
        ? own
        : Channel.catchAll(own, (e) => Channel.fromEffect(this.provide(this.recoverRun(e))))
    return hooks.wrapRun === undefined ? base : this.wrapChannel(base)
  }

  /**
   * A node run as an Effect (`run`, `iter`'s `next`; the push path gives its own `run`) through
   * the capability hooks, innermost first: the node hooks, `onRunError`, `wrapRun`.
   */
  private hookedStep(
    node: AgentNode<A>,
    run?: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown, unknown>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const hooks = this.plan.config.hooks
    const plain = (): Effect.Effect<AgentNode<A>, unknown, unknown> =>
      run === undefined
        ? (this.ownBehaviour(node, false) as Effect.Effect<AgentNode<A>, unknown, unknown>)
        : run(node)
    if (hooks === undefined || node._tag === "End") return plain()
    const own = hooks.node
      ? (this.nodeHooked(node, false, run) as Effect.Effect<AgentNode<A>, unknown, unknown>)
      : plain()
    const base =
      hooks.onRunError === undefined ? own : Effect.catchAll(own, (e) => this.recoverRun(e))
    return hooks.wrapRun === undefined ? base : this.wrapStep(base)
  }

  /**
   * A node through the node hooks: `beforeNodeRun` (may replace it), the `wrapNodeRun` chain
   * around running it (streamed: a hand-off, the node's events flowing to the reader while the
   * chain waits in `next`), then `onNodeRunError` on a failure or `afterNodeRun` on its next node.
   */
  private nodeHooked(
    node: AgentNode<A>,
    streaming: boolean,
    /** Runs a node without streaming (`run` + `onEvent`: the push path's own). */
    run: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown, unknown> = (m) =>
      this.ownBehaviour(m, false) as Effect.Effect<AgentNode<A>, unknown, unknown>
  ): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
    const hooks = this.plan.config.hooks!
    type Node = AgentNode<unknown>
    const settle = (
      ctx: RunContextService,
      ran: Node,
      result: Effect.Effect<Node, unknown, unknown>
    ): Effect.Effect<AgentNode<A>, unknown, unknown> =>
      Effect.matchEffect(result, {
        onFailure: (e) =>
          hooks.onNodeRunError === undefined
            ? Effect.fail(e)
            : capabilities.onNodeRunError(hooks.onNodeRunError, ctx, ran, e),
        onSuccess: (next) =>
          hooks.afterNodeRun === undefined
            ? Effect.succeed(next)
            : capabilities.afterNodeRun(hooks.afterNodeRun, ctx, ran, next)
      }) as Effect.Effect<AgentNode<A>, unknown, unknown>
    const prepared = Effect.flatMap(this.makeCtx(), (ctx) =>
      Effect.map(
        hooks.beforeNodeRun === undefined
          ? Effect.succeed(node as Node)
          : capabilities.beforeNodeRun(hooks.beforeNodeRun, ctx, node),
        (n) => [ctx, n as AgentNode<A>] as const
      )
    )
    const wraps = hooks.wrapNodeRun
    if (!streaming) {
      return Effect.flatMap(prepared, ([ctx, n]) => {
        const core = (m: Node) => run(m as AgentNode<A>) as Effect.Effect<Node, unknown, unknown>
        return settle(
          ctx,
          n,
          wraps === undefined ? core(n) : capabilities.wrapNodeRun(wraps, ctx, n, core)
        )
      })
    }
    return Channel.unwrap(
      Effect.flatMap(this.provide(prepared), ([ctx, n]) => {
        if (wraps === undefined) {
          return Effect.succeed(
            Channel.mapEffect(
              Channel.catchAll(this.ownBehaviour(n, true) as NodeChannel<A>, (e) =>
                Channel.fromEffect(this.provide(settle(ctx, n, Effect.fail(e))))
              ),
              (next) => this.provide(settle(ctx, n, Effect.succeed(next)))
            )
          )
        }
        return Effect.map(
          this.provide(
            startHandOff<Node, Node, Node>(
              (next) => capabilities.wrapNodeRun(wraps, ctx, n, next),
              (effect) => this.forkInRun(effect)
            )
          ),
          (s): NodeChannel<A> => {
            if (s._tag === "Ended") return Channel.fromEffect(this.provide(settle(ctx, n, s.exit)))
            // the node the chain asked to run: its events flow; its end goes to the chain
            const ran = this.ownBehaviour(s.input as AgentNode<A>, true) as NodeChannel<A>
            const ended = Channel.catchAll(
              Channel.map(ran, (next): Exit.Exit<Node, unknown> => Exit.succeed(next)),
              (e) => Channel.succeed(Exit.fail(e) as Exit.Exit<Node, unknown>)
            )
            return Channel.mapEffect(ended, (exit) =>
              this.provide(settle(ctx, n, endHandOff(s.handOff, exit)))
            )
          }
        )
      })
    )
  }

  /**
   * A step inside the `wrapRun` hooks. The run's first step starts them (`startWrap`); a chain
   * that returned without calling `next` ends the run there. The run's end — the `End` a step
   * gives, or a step's failure — is handed to them (`finishWrap`), and what they return ends it.
   */
  private wrapStep(
    step: Effect.Effect<AgentNode<A>, unknown, unknown>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const run = Effect.matchEffect(step, {
      onFailure: (e) => this.finishWrap(Exit.fail(this.withMessagesOf(e))),
      onSuccess: (next) =>
        next._tag === "End" && this.wrapState !== undefined
          ? this.finishWrap(Exit.succeed(next.result))
          : Effect.succeed(next)
    })
    if (this.wrapStarted) return run
    return Effect.flatMap(this.startWrap(), (ended) =>
      ended === undefined ? run : Effect.succeed(ended)
    )
  }

  /** `wrapStep` for a streamed step: its events flow while the hooks wait in `next`. */
  private wrapChannel(channel: NodeChannel<A>): NodeChannel<A> {
    const run = Channel.mapEffect(
      Channel.catchAll(channel, (e) =>
        Channel.fromEffect(this.provide(this.finishWrap(Exit.fail(this.withMessagesOf(e)))))
      ),
      (next) =>
        next._tag === "End" && this.wrapState !== undefined
          ? this.provide(this.finishWrap(Exit.succeed(next.result)))
          : Effect.succeed(next)
    )
    if (this.wrapStarted) return run
    return Channel.unwrap(
      Effect.map(this.provide(this.startWrap()), (ended) =>
        ended === undefined ? run : Channel.succeed(ended)
      )
    )
  }

  /**
   * Forks the `wrapRun` chain in the run's scope (interrupted with the run) and waits until it
   * calls `next` (undefined: the run goes on) or ends without calling it (its result's `End`,
   * or its failure).
   */
  private startWrap(): Effect.Effect<AgentNode<A> | undefined, unknown, unknown> {
    this.wrapStarted = true
    const fns = this.plan.config.hooks!.wrapRun!
    return Effect.flatMap(this.makeCtx(), (ctx) =>
      Effect.flatMap(
        startHandOff<void, AgentRunResult<unknown>, AgentRunResult<unknown>>(
          (next) => capabilities.wrapRun(fns, ctx, next(undefined)),
          (effect) => this.forkInRun(effect)
        ),
        (s) => {
          if (s._tag === "Started") {
            this.wrapState = s.handOff
            return Effect.succeed(undefined)
          }
          return Effect.map(s.exit, (result) => new End(result as AgentRunResult<A>))
        }
      )
    )
  }

  /** Forks `effect` with the run's requirements in the run's scope (interrupted with the run). */
  private forkInRun<X>(
    effect: Effect.Effect<X, unknown, unknown>
  ): Effect.Effect<Fiber.RuntimeFiber<X, unknown>> {
    const provided = this.provide(effect)
    return this.ownerScope === undefined
      ? Effect.fork(provided)
      : Effect.forkIn(provided, this.ownerScope)
  }

  /** Hands the run's end to the `wrapRun` chain waiting in `next`; what it returns ends the run. */
  private finishWrap(
    exit: Exit.Exit<AgentRunResult<unknown>, unknown>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const wrap = this.wrapState
    if (wrap === undefined)
      return Effect.map(exit, (result) => new End(result as AgentRunResult<A>))
    this.wrapState = undefined
    return Effect.map(endHandOff(wrap, exit), (result) => new End(result as AgentRunResult<A>))
  }

  /**
   * The run's failure through the `onRunError` hooks: a recovered output ends the run (through
   * the `afterRun` hooks), else the error.
   */
  private recoverRun(error: unknown): Effect.Effect<AgentNode<A>, unknown, unknown> {
    const fns = this.plan.config.hooks?.onRunError
    if (fns === undefined) return Effect.fail(error)
    return Effect.flatMap(this.makeCtx(), (ctx) =>
      Effect.flatMap(capabilities.onRunError(fns, ctx, error), (output) =>
        this.endNode(output as A)
      )
    )
  }

  private ownBehaviour(
    node: AgentNode<A>,
    streaming: boolean
  ): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
    switch (node._tag) {
      case "UserPromptNode":
        // No events: the first request is built.
        return streaming
          ? Channel.fromEffect(this.provide(this.userPrompt(node)))
          : this.userPrompt(node)
      case "ModelRequestNode":
        return streaming ? this.modelRequestChannel(node) : this.modelRequest(node)
      case "CallToolsNode":
        return streaming ? this.callToolsChannel(node) : this.callTools(node, noEmit)
      case "End":
        return streaming ? Channel.succeed(node) : Effect.succeed(node)
    }
  }

  /** A node's events (`behaviour`, streaming) with the messages so far on its failures. */
  private nodeChannel(node: AgentNode<A>): NodeChannel<A> {
    return Channel.catchAll(this.behaviour(node, true), (e) => Channel.fail(this.withMessagesOf(e)))
  }

  /**
   * Tool calls as a channel: the calls run in a fiber of the channel's scope and hand their
   * events over a bounded queue (a chatty sub-agent forwarding its events waits for the reader
   * instead of filling memory); the done value is the next node.
   */
  private callToolsChannel(node: CallToolsNode): NodeChannel<A> {
    return this.forkedChannel((emit) => this.callTools(node, emit))
  }

  /**
   * A node run in a fiber of the channel's scope, its events handed over a bounded queue (see
   * `callToolsChannel`); the done value is the node it returns.
   */
  private forkedChannel(
    body: (emit: Emit) => Effect.Effect<AgentNode<A>, unknown, unknown>
  ): NodeChannel<A> {
    return scopedChannel(
      Effect.gen(this, function* () {
        const queue = yield* Queue.bounded<Take.Take<AgentStreamEvent<A>, unknown>>(16)
        let next: AgentNode<A> | undefined
        const map = this.chunkMap
        // [perf #16] With a `chunkMap`, a chunk is mapped and queued under one lock, so chunks
        // are mapped in the order they are read (the queue is bounded: an offer may wait).
        const lock = map === undefined ? undefined : yield* Effect.makeSemaphore(1)
        const emit: Emit =
          map === undefined
            ? (events) => queue.offer(Take.chunk(events))
            : (events) =>
                lock!.withPermits(1)(Effect.suspend(() => queue.offer(Take.chunk(map(events)))))
        // [compose #18] Sub-agents (agent tools, handoffs) forward their events through the sink.
        yield* Effect.forkScoped(
          Effect.provide(body(emit), Context.add(this.runContext, EventSink, emit)).pipe(
            Effect.exit,
            Effect.flatMap((exit) => {
              if (Exit.isSuccess(exit)) next = exit.value
              return queue.offer(Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause))
            })
          )
        )
        return Channel.zipRight(
          Stream.toChannel(Stream.flattenTake(Stream.fromQueue(queue))),
          Channel.sync(() => next!)
        )
      })
    )
  }

  private withMessagesOnError<X, R = never>(
    effect: Effect.Effect<X, any, R>
  ): Effect.Effect<X, any, R> {
    return Effect.catchAll(effect, (e) => Effect.fail(this.withMessagesOf(e)))
  }

  /** `iter.next`: one node without events; the next node becomes the run's cursor. */
  step(node: AgentNode<A>): Effect.Effect<AgentNode<A>, unknown> {
    return this.withMessagesOnError(
      Effect.map(this.provide(Effect.suspend(() => this.behaviour(node, false))), (next) => {
        this.st.next = next
        return next
      })
    )
  }

  /**
   * Runs the nodes from the run's cursor (read now) to `End` with `step`, then ends with `end`.
   * One step Effect is built per drive, over a local cursor: a continuation frame keeps the
   * Effect it continues, so a `flatMap(step(node), …)` per node kept the whole effect of the
   * node being run (its closures) on the stack of every run waiting on its model.
   */
  private drive<X>(
    step: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown, unknown>,
    end: (
      node: Extract<AgentNode<A>, { readonly _tag: "End" }>
    ) => Effect.Effect<X, unknown, unknown>
  ): Effect.Effect<X, unknown, unknown> {
    let cursor = this.st.next as AgentNode<A>
    const next = (node: AgentNode<A>): Effect.Effect<X, unknown, unknown> => {
      if (node._tag === "End") return end(node)
      cursor = node
      return stepped
    }
    const stepped = Effect.flatMap(
      Effect.suspend(() => step(cursor)),
      next
    )
    return next(cursor)
  }

  /**
   * `run`: every node inside ONE context switch / error mapping (not one per step as `step`
   * does; switching the context costs more than a whole step's own bookkeeping), from the node
   * the run is at when read (read once, to run it); the caller maps failures with
   * `withMessagesOf`.
   */
  get loopBody(): Effect.Effect<AgentRunResult<A>, unknown, unknown> {
    return this.drive(
      (node) => this.behaviour(node, false),
      (end) => Effect.succeed(end.result)
    )
  }

  eventsBody(onEvent: EventCallback<A>): Effect.Effect<AgentRunResult<A>, unknown, unknown> {
    // Tool steps emit their events (and sub-agents forward theirs, `EventSink`) inline.
    const emit: Emit = (events) =>
      Effect.sync(() => {
        const list = Chunk.toReadonlyArray(events)
        for (let i = 0; i < list.length; i++) onEvent(list[i]!)
      })
    const pushed = (node: AgentNode<A>): Effect.Effect<AgentNode<A>, unknown, unknown> => {
      switch (node._tag) {
        case "UserPromptNode":
          // No events: the first request is built.
          return this.userPrompt(node)
        case "ModelRequestNode":
          return this.pushedModelRequest(node, onEvent)
        case "CallToolsNode":
          return Effect.provideService(this.callTools(node, emit), EventSink, emit)
        case "End":
          return Effect.succeed(node)
      }
    }
    return this.drive(
      (node) => this.hookedStep(node, pushed),
      (end) =>
        Effect.sync(() => {
          onEvent(new AgentRunResultEvent(end.result))
          return end.result
        })
    )
  }

  /** A failure with the messages so far attached. */
  withMessagesOf(e: unknown): unknown {
    return withMessages(e, this.st.messages)
  }

  /** `iter.stream`: one node's events; its next node becomes the run's cursor. */
  stream(node: AgentNode<A>): Stream.Stream<AgentStreamEvent<A>, any> {
    return Stream.fromChannel(
      Channel.map(this.nodeChannel(node), (next) => {
        this.st.next = next
      })
    )
  }

  /**
   * Every node from `node` to the end in ONE channel: each node's channel, then the channel of
   * the node it ends with (a tail call, so the executor's stack stays flat), then the result.
   * Built from `flatMap`s rather than `Stream.concat` of `Stream.unwrap`s, which nest one
   * channel stage per node: each stage is one more read per chunk, and a run's last answer
   * (after tool calls) would be read through all of them.
   */
  eventChannel(node: AgentNode<A>): EventChannel<A> {
    if (node._tag === "End") {
      const last = Chunk.of<AgentStreamEvent<A>>(new AgentRunResultEvent(node.result))
      return Channel.write(this.chunkMap === undefined ? last : this.chunkMap(last))
    }
    return Channel.flatMap(this.nodeChannel(node), (next) => this.eventChannel(next))
  }

  streamAll(node: AgentNode<A>): Stream.Stream<AgentStreamEvent<A>, any> {
    return Stream.fromChannel(this.eventChannel(node))
  }

  /**
   * `run` with an `eventStreamHandler`: node by node, the events of every model request and
   * every tool-calling step go to `handler`. Whatever it leaves unread is drained (no
   * re-execution), so the run always completes; a node's failure fails the run even if the
   * handler swallowed it.
   */
  runWithHandler(
    handler: (events: Stream.Stream<AgentStreamEvent<A>, unknown>) => Effect.Effect<void>
  ): Effect.Effect<AgentRunResult<A>, unknown> {
    return this.drive(
      // The first request is built without events: the handler sees none for it.
      (node) => (node._tag === "UserPromptNode" ? this.step(node) : this.handled(node, handler)),
      (end) => Effect.succeed(end.result)
    ) as Effect.Effect<AgentRunResult<A>, unknown>
  }

  private handled(
    node: AgentNode<A>,
    handler: (events: Stream.Stream<AgentStreamEvent<A>, unknown>) => Effect.Effect<void>
  ): Effect.Effect<AgentNode<A>, unknown> {
    return Effect.scoped(
      Effect.gen(this, function* () {
        let failure: Option.Option<unknown> = Option.none()
        let next: AgentNode<A> | undefined
        const channel = Channel.map(this.nodeChannel(node), (n) => {
          next = n
          this.st.next = n
        })
        const pull = yield* Stream.toPull(Stream.fromChannel(channel))
        const events = Stream.repeatEffectChunkOption(
          Effect.tapError(pull, (e) =>
            Effect.sync(() => {
              if (Option.isSome(e)) failure = e
            })
          )
        )
        yield* handler(events)
        if (Option.isNone(failure)) yield* Stream.runDrain(events)
        if (Option.isSome(failure)) return yield* Effect.fail(failure.value)
        if (next === undefined) {
          return yield* Effect.dieMessage("eventStreamHandler: the node did not complete")
        }
        return next
      })
    )
  }
}

/** The output of a run stopped on deferred calls. */
const deferredRequests = (deferred: ReadonlyArray<Deferred>): DeferredToolRequests => {
  const metadata: Record<string, unknown> = {}
  for (const d of deferred) {
    if (d.metadata !== undefined) metadata[d.call.toolCallId] = d.metadata
  }
  return new DeferredToolRequests(
    {
      calls: deferred.filter((d) => d.kind === "external").map((d) => d.call),
      approvals: deferred.filter((d) => d.kind === "approval").map((d) => d.call),
      metadata
    },
    true
  )
}

/** The `FinalResultEvent` of the part that ends the run (an output tool call, text or an image). */
const finalResultOf = (part: PartStartEvent["part"]): FinalResultEvent =>
  part._tag === "ToolCallPart"
    ? new FinalResultEvent({ toolName: part.toolName, toolCallId: part.toolCallId }, true)
    : new FinalResultEvent({}, true)

const statusReturn = (call: ToolCallPart, content: string) =>
  makeToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content })

/** The `invoke_agent` span of an agent's runs: its name and options. */
export const agentSpan = (name: string | undefined, description?: string | undefined) => ({
  name: `invoke_agent ${name ?? "agent"}`,
  options: {
    // A stack trace would point into this library and costs an `Error` per run.
    captureStackTrace: false,
    attributes: {
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": name ?? "agent",
      ...(description !== undefined ? { "gen_ai.agent.description": description } : {})
    }
  } satisfies Tracer.SpanOptions
})

/**
 * The one entry of every run (`run`, `runStream`, `iter`, `streamOutput`, the
 * `eventStreamHandler` path and the Promise twins built on them): in `scope`, takes the agent's
 * concurrency slot (`maxConcurrentRuns`; waiting shows as its own span, before the run's), opens
 * the `invoke_agent` span — only when spans are recorded (`spansRecorded`): no tracer, no span —
 * and builds the run owned by that scope and span. The slot is released and the span ended when
 * `scope` closes, after everything the run put in it.
 */
export const open = <A>(
  config: AgentConfig,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  options: RunOptionsAny,
  scope: Scope.Scope
): Effect.Effect<Machine<A>, AgentError, unknown> => {
  const span = planFor(config).span
  const build = Effect.flatMap(openSpanIn(scope, span.name, span.options), (parent) =>
    makeMachine<A>(config, prompt, options, { scope, parent })
  )
  const limiter = config.concurrencyLimiter
  return limiter === undefined
    ? build
    : Effect.zipRight(Scope.extend(limiter.acquire, scope), build)
}

/**
 * `agent.run`: the run's scope and its context in ONE region around the run (see
 * `spanRegion.ts`), the run opened (`open`) inside it.
 */
export const runOpened = <A>(
  config: AgentConfig,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  options: RunOptionsAny
): Effect.Effect<AgentRunResult<A>, unknown, unknown> =>
  withScopeAndContext((scope) =>
    Effect.map(open<A>(config, prompt, options, scope), (machine) => ({
      context: machine.runContext,
      // Failures get the messages in the region's own exit handler: no extra frame held
      // by every run in flight. `onEvent`: the same run, its events pushed as they happen.
      body: options.onEvent === undefined ? machine.loopBody : machine.eventsBody(options.onEvent),
      mapError: (e: unknown) => machine.withMessagesOf(e)
    }))
  )

/**
 * A run's event channel (`streamAll`) opened by `open` in the channel's own scope: the slot, the
 * span and the run live as long as the channel. For `runStream` and `streamOutput`.
 */
export const openChannel = <A, Out>(
  config: AgentConfig,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  options: RunOptionsAny,
  use: (machine: Machine<A>) => Channel.Channel<Out, unknown, unknown, unknown, unknown, unknown>
): Channel.Channel<Out, unknown, unknown, unknown, unknown, unknown, any> =>
  scopedChannel(
    Effect.flatMap(Effect.scope, (scope) =>
      Effect.map(open<A>(config, prompt, options, scope), use)
    )
  )
