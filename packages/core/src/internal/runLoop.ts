/**
 * The agent run loop as an explicit state machine:
 * `UserPromptNode → ModelRequestNode → CallToolsNode → (ModelRequestNode → CallToolsNode)* → End`.
 *
 * A `Machine` executes one node at a time, either plainly (`step`, used by `run`) or as a
 * stream of events (`stream`, used by `runStream` and `iter`).
 *
 * Layout: this module holds the run's state (`Run`: configuration resolved for the run, the
 * messages, usage, the context its steps are provided), the one dispatch from a node to its
 * behaviour (`Run.behaviour`), the drivers (`run`'s loop, `run` + `onEvent`, `iter`, the one
 * channel of `runStream`, the `eventStreamHandler` path) and `open`, the one entry every public
 * entry point goes through. Each node's behaviour is a module of functions over the `Run`:
 * `nodes/userPrompt.ts`, `nodes/prepareRequest.ts` + `nodes/modelRequest.ts`,
 * `nodes/callTools.ts` (with `nodes/output.ts`), `nodes/end.ts`; the capability hooks around a
 * node in `nodes/hooks.ts`; the channels a streamed node is built from in `nodes/channel.ts`.
 * They import only types from here, so there is no import cycle.
 *
 * The run's state is owned by the run:
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
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import {
  type AgentError,
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
  CurrentUsage,
  DynamicSystemPrompt,
  type EndStrategy,
  type Instruction,
  type Metadata,
  type MetadataInput,
  type SystemPrompt,
  UserPromptNode
} from "../AgentGraph.js"
import type { BuiltinTool } from "../BuiltinTool.js"
import * as CaptureRunMessages from "../CaptureRunMessages.js"
import { DeferredToolRequests, type DeferredToolResults } from "../DeferredTools.js"
import {
  conversationIdOf,
  type ModelMessage,
  type ModelRequestPart,
  ModelResponse,
  SystemPromptPart,
  type UserContent,
  UserPromptPart
} from "../Messages.js"
import * as InstrumentedModel from "../InstrumentedModel.js"
import * as Model from "../Model.js"
import * as ModelSettings from "../ModelSettings.js"
import type * as OutputSpec from "../OutputSpec.js"
import { type Service as RunContextService } from "../RunContext.js"
import type { ToolDefinition } from "../Tool.js"
import * as Toolset from "../Toolset.js"
import { RunUsage, UsageLimits } from "../Usage.js"
import type * as Capability from "../Capability.js"
import * as capabilities from "./capabilities.js"
import * as historyProcessors from "./historyProcessors.js"
import { Deferred, type Emit, noEmit, type ToolHost } from "./toolExec.js"
import * as pricing from "./pricing.js" // [prod #18]
import { EventSink } from "./composition.js" // [compose #18]
import { openSpanIn, withScopeAndContext } from "./spanRegion.js"
import { makeSystemPromptPart } from "./makers.js"

import { userPrompt } from "./nodes/userPrompt.js"
import { scopedChannel } from "./nodes/channel.js"
import { steeringPart } from "./nodes/prepareRequest.js"
import { modelRequest, modelRequestChannel, pushedModelRequest } from "./nodes/modelRequest.js"
import { callTools, callToolsChannel } from "./nodes/callTools.js"
import { type HandOff, hookedStep, nodeHooked, wrapChannel, recoverRun } from "./nodes/hooks.js"

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
export type NodeChannel<A> = Channel.Channel<
  Chunk.Chunk<AgentStreamEvent<A>>,
  unknown,
  unknown,
  unknown,
  AgentNode<A>,
  unknown
>

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

interface OutputOffer {
  readonly definitions: ReadonlyArray<ToolDefinition>
  readonly spec: OutputSpec.Any
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

export interface Prepared {
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
export class Run<A> implements Machine<A>, ToolHost {
  readonly runId: string
  readonly start: AgentNode<A>
  /** What the run's steps are provided: with an owner, its span is the parent of every step. */
  readonly runContext: Context.Context<any>
  readonly chatModel: Model.Service
  readonly profile: Model.ModelProfile
  readonly resolved: ResolvedOutput
  readonly usageRef: Ref.Ref<RunUsage>
  /** Whether `usageRef` is the run's own (not a caller's `RunOptions.usage` `Ref`). */
  private readonly ownUsage: boolean
  readonly usageLimits: UsageLimits
  readonly staticInstructions: ReadonlyArray<string>
  readonly dynamicInstructions: ReadonlyArray<Effect.Effect<string | undefined, unknown, unknown>>
  /** Agent's then run's metadata inputs (run wins); undefined when there are none. */
  readonly metadataInputs: ReadonlyArray<MetadataInput> | undefined
  /** The agent's built-in tools, then the run's. */
  readonly builtinTools: ReadonlyArray<BuiltinTool>
  /** Whether the run adds built-in tools (the cached request parameters are the agent's). */
  readonly runBuiltinTools: boolean
  /** The span that records the metadata attribute. */
  private readonly runSpan: Tracer.AnySpan | undefined
  /** The set-up of a streamed request keeps the `Scope` of its own `Stream.unwrapScoped`. */
  private streamSetup: Context.Context<any> | undefined
  /** The agent's then the run's history processors (usually none). */
  readonly processors: ReadonlyArray<historyProcessors.AnyProcessor>
  readonly st: State
  chunkMap: ChunkMap<A> | undefined = undefined
  /** Steering prompts waiting for the next model request (`enqueue`, `steering`). */
  steered: Array<UserPromptPart> | undefined = undefined
  /** The scope the run belongs to (its owner's): the `wrapRun` hooks' fiber lives in it. */
  readonly ownerScope: Scope.Scope | undefined
  /** The `wrapRun` hooks' fiber while the run is inside them, and where its end goes. */
  wrapState: HandOff<AgentRunResult<unknown>, AgentRunResult<unknown>> | undefined = undefined
  wrapStarted = false
  /**
   * The conversation of this run: the option, else the latest one in the history,
   * else a new id. Stamped on the messages the run adds and on its spans.
   */
  readonly conversationId: string

  constructor(
    readonly plan: Plan,
    private readonly model: Model.Service,
    private readonly prompt: string | ReadonlyArray<UserContent> | undefined,
    readonly options: RunOptionsAny,
    owner: RunOwner | undefined,
    callerContext: Context.Context<any>,
    /** Mirrors the messages to `CaptureRunMessages`, when this run claimed its slot. */
    private readonly slot: CaptureRunMessages.Slot | undefined,
    /** The caller's clock (a `TestClock` in tests): the requests' timestamps. */
    readonly clock: Clock.Clock
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

  setMessages(messages: ReadonlyArray<ModelMessage>): void {
    this.st.messages = messages
    if (this.slot !== undefined) this.slot.messages = messages
  }
  append(m: ModelMessage): void {
    this.setMessages([...this.st.messages, m])
  }
  toolRetry(name: string): number {
    return this.st.toolRetries?.get(name) ?? 0
  }

  provide<X, E>(effect: Effect.Effect<X, E, unknown>): Effect.Effect<X, E> {
    return Effect.provide(effect, this.runContext)
  }
  /** Built on first use: a run that does not stream never needs it. */
  streamSetupContext(): Context.Context<any> {
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
  ctxWith(usage: RunUsage, extra?: Partial<RunContextService>): RunContextService {
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

  fail(reason: string) {
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

  enqueue(prompt: string | ReadonlyArray<UserContent>): Effect.Effect<void, UserError> {
    return Effect.suspend(() => {
      const part = steeringPart(prompt)
      if (part instanceof UserError) return Effect.fail(part)
      ;(this.steered ??= []).push(part)
      return Effect.void
    })
  }

  // -- Driving ------------------------------------------------------------

  /**
   * The one place a node's behaviour is chosen. Streaming, a node is a channel of its events
   * whose done value is the next node (`runStream`, `streamOutput`, `iter.stream`, the
   * `eventStreamHandler` path); not streaming (`run`, `iter.next`), the next node as an Effect
   * — what draining that channel gives, without building it (a model request is then sent
   * without streaming). Failures are raw here: the drivers attach the messages.
   */
  behaviour(node: AgentNode<A>, streaming: true): NodeChannel<A>
  behaviour(node: AgentNode<A>, streaming: false): Effect.Effect<AgentNode<A>, unknown, unknown>
  behaviour(
    node: AgentNode<A>,
    streaming: boolean
  ): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
    if (!streaming) return hookedStep(this, node)
    const hooks = this.plan.config.hooks
    if (hooks === undefined || node._tag === "End") return this.ownBehaviour(node, true)
    const own = (
      hooks.node ? nodeHooked(this, node, true) : this.ownBehaviour(node, true)
    ) as NodeChannel<A>
    // `onRunError` hooks: a step's failure may end the run with a recovered output.
    const base =
      hooks.onRunError === undefined
        ? own
        : Channel.catchAll(own, (e) => Channel.fromEffect(this.provide(recoverRun(this, e))))
    return hooks.wrapRun === undefined ? base : wrapChannel(this, base)
  }

  ownBehaviour(
    node: AgentNode<A>,
    streaming: boolean
  ): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
    switch (node._tag) {
      case "UserPromptNode":
        // No events: the first request is built.
        return streaming
          ? Channel.fromEffect(this.provide(userPrompt(this, node)))
          : userPrompt(this, node)
      case "ModelRequestNode":
        return streaming ? modelRequestChannel(this, node) : modelRequest(this, node)
      case "CallToolsNode":
        return streaming ? callToolsChannel(this, node) : callTools(this, node, noEmit)
      case "End":
        return streaming ? Channel.succeed(node) : Effect.succeed(node)
    }
  }

  /** A node's events (`behaviour`, streaming) with the messages so far on its failures. */
  private nodeChannel(node: AgentNode<A>): NodeChannel<A> {
    return Channel.catchAll(this.behaviour(node, true), (e) => Channel.fail(this.withMessagesOf(e)))
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
          return userPrompt(this, node)
        case "ModelRequestNode":
          return pushedModelRequest(this, node, onEvent)
        case "CallToolsNode":
          return Effect.provideService(callTools(this, node, emit), EventSink, emit)
        case "End":
          return Effect.succeed(node)
      }
    }
    return this.drive(
      (node) => hookedStep(this, node, pushed),
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
