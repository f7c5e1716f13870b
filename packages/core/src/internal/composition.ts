/**
 * Agent composition: an agent called as a tool of another (`Agent.asTool`) and handoffs
 * (`Agent.handoff` + `Agent.withHandoffs`). The sub-agent's run shares the parent's usage `Ref`
 * and limits; while the parent streams, the sub-agent's events are forwarded into the parent's
 * stream as `SubAgentEvent`s through the `EventSink` the run loop puts in the context of a
 * streamed tool-calling step (absent otherwise: nothing is forwarded, nothing is paid).
 *
 * A handoff is an output tool of the parent: its call decodes to a `HandoffRequest` marker, and
 * the run loop, when it would end with that marker, runs the target on the conversation so far
 * (`runHandoff`) and ends with the target's output and messages instead.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ModelRetry } from "../AgentError.js"
import {
  type AgentRunResult,
  type AgentStreamEvent,
  CurrentUsage,
  SubAgentEvent
} from "../AgentGraph.js"
import { CallDeferred, isDeferredToolRequests } from "../DeferredTools.js"
import {
  type ModelMessage,
  type ToolCallPart,
  type ToolArgs,
  type UserContent
} from "../Messages.js"
import type * as OutputSpec from "../OutputSpec.js"
import { RunContext } from "../RunContext.js"
import * as Tool from "../Tool.js"
import { RunUsage, type UsageLimits } from "../Usage.js"
import type { AgentConfig, RunOptionsAny } from "./runLoop.js"
import { makeModelRequest, makeToolReturnPart } from "./makers.js"

/** What a sub-agent is, for composition: anything that runs and streams like an agent. */
export interface Runnable {
  readonly name: string | undefined
  readonly description?: string | undefined
  run(prompt: unknown, options?: any): Effect.Effect<AgentRunResult<any>, any, any>
  runStream(prompt: unknown, options?: any): Stream.Stream<AgentStreamEvent<any>, any, any>
}

/** Hands a chunk of events to the stream of the run being streamed. */
export type Sink = (events: Chunk.Chunk<AgentStreamEvent<any>>) => Effect.Effect<void>

/**
 * The event sink of a streamed tool-calling step: the run loop provides it only while the run
 * streams (`runStream`, `iter.stream`, `eventStreamHandler`), so a non-streamed run forwards
 * nothing.
 */
export class EventSink extends Context.Tag("@agentfx/core/internal/EventSink")<EventSink, Sink>() {}

/** The sub-run of a composition: a prompt and the options the caller may choose. */
export interface SubRun {
  readonly prompt: string | ReadonlyArray<UserContent> | undefined
  readonly messageHistory?: ReadonlyArray<ModelMessage>
  readonly instructions?: RunOptionsAny["instructions"]
  readonly modelSettings?: RunOptionsAny["modelSettings"]
  readonly metadata?: RunOptionsAny["metadata"]
  readonly model?: RunOptionsAny["model"]
}

/**
 * Runs `agent` as part of the current run: shared usage `Ref` and limits (the parent's), the
 * parent's conversation id; streamed and forwarded as `SubAgentEvent`s when the parent streams.
 */
export const runSub = (
  agent: Runnable,
  agentName: string,
  toolCallId: string,
  sub: SubRun,
  shared: {
    readonly usage: Ref.Ref<RunUsage>
    readonly usageLimits: UsageLimits
    readonly conversationId: string | undefined
  }
): Effect.Effect<AgentRunResult<any>, unknown, unknown> =>
  Effect.flatMap(Effect.serviceOption(EventSink), (sink) => {
    const { prompt, ...rest } = sub
    const options = {
      ...rest,
      usage: shared.usage,
      usageLimits: shared.usageLimits,
      ...(shared.conversationId !== undefined ? { conversationId: shared.conversationId } : {})
    }
    if (Option.isNone(sink)) return agent.run(prompt, options)
    const emit = sink.value
    let result: AgentRunResult<any> | undefined
    return Effect.flatMap(
      Stream.runForEachChunk(agent.runStream(prompt, options), (chunk) => {
        const out: Array<AgentStreamEvent<any>> = []
        for (const e of chunk) {
          if (e._tag === "AgentRunResultEvent") result = e.result
          out.push(new SubAgentEvent(agentName, toolCallId, e))
        }
        return emit(Chunk.unsafeFromArray(out))
      }),
      () =>
        result === undefined
          ? Effect.dieMessage(`the run of sub-agent "${agentName}" ended without a result`)
          : Effect.succeed(result)
    )
  })

/** The requests and tokens of a sub-run's own responses (its tool calls count in the shared usage). */
export const ownUsage = (messages: ReadonlyArray<ModelMessage>): RunUsage => {
  let usage = RunUsage.empty
  for (const m of messages) if (m._tag === "ModelResponse") usage = usage.addRequest(m.usage)
  return usage
}

// ---------------------------------------------------------------------------
// Agent as a tool
// ---------------------------------------------------------------------------

/** What `asTool` records in the tool return's `metadata`. */
export interface SubAgentRun {
  readonly agentName: string
  readonly runId: string
  /** The sub-agent's own conversation (its history, if given one, then this run's messages). */
  readonly messages: ReadonlyArray<ModelMessage>
  /** Requests and tokens of the sub-agent's own responses. */
  readonly usage: RunUsage
}

/** The default arguments of an agent tool. */
export const PromptParameters = Schema.Struct({
  prompt: Schema.String.annotations({ description: "The request for the agent, in full." })
})

const defaultInput = (args: unknown): SubRun => {
  if (args !== null && typeof args === "object" && typeof (args as any).prompt === "string") {
    return { prompt: (args as { prompt: string }).prompt }
  }
  return { prompt: typeof args === "string" ? args : JSON.stringify(args) }
}

const toSubRun = (x: unknown): SubRun =>
  typeof x === "string" || Array.isArray(x) || x === undefined
    ? { prompt: x as SubRun["prompt"] }
    : (x as SubRun)

/** Options of `asTool`, untyped. */
export interface AsToolOptionsAny {
  readonly name: string
  readonly description?: string | undefined
  readonly parameters?: Schema.Schema<any, any, never> | undefined
  readonly input?: ((args: any) => unknown) | undefined
  readonly output?: ((result: AgentRunResult<any>) => unknown) | undefined
  readonly onModelFailure?: "retry" | "fail" | undefined
  readonly retries?: number | undefined
  readonly sequential?: boolean | undefined
  readonly timeout?: Tool.MakeOptions<any, any, any, any, any>["timeout"]
}

/** Failures of a sub-run the parent's model can react to: a retry prompt instead of a failure. */
const retryable = (e: unknown): e is { readonly _tag: string; readonly reason: string } => {
  const tag = (e as { readonly _tag?: unknown } | null)?._tag
  return tag === "UnexpectedModelBehavior" || tag === "ContentFilterError"
}

/** `Agent.asTool`, untyped. */
export const asTool = (agent: Runnable, options: AsToolOptionsAny): Tool.Any => {
  const agentName = agent.name ?? options.name
  const input = options.input ?? defaultInput
  return Tool.make(options.name, {
    description: options.description ?? agent.description ?? `Ask the agent "${agentName}".`,
    parameters: (options.parameters ?? PromptParameters) as Schema.Schema<any, any, never>,
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.sequential !== undefined ? { sequential: options.sequential } : {}),
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    handler: (args: unknown) =>
      Effect.gen(function* () {
        const ctx = yield* RunContext
        const usage = yield* CurrentUsage
        const result = yield* runSub(
          agent,
          agentName,
          ctx.toolCallId ?? "",
          toSubRun(input(args)),
          {
            usage,
            usageLimits: ctx.usageLimits,
            conversationId: ctx.conversationId
          }
        ).pipe(
          Effect.catchIf(
            (e): e is { readonly _tag: string; readonly reason: string } =>
              options.onModelFailure !== "fail" && retryable(e),
            (e) =>
              Effect.fail(
                new ModelRetry({ reason: `The agent "${agentName}" failed: ${e.reason}` })
              )
          )
        )
        const messages = result.allMessages()
        const run: SubAgentRun = {
          agentName,
          runId: result.runId,
          messages,
          usage: ownUsage(result.newMessages())
        }
        if (isDeferredToolRequests(result.output)) {
          // The sub-agent waits for approvals / external results: so does this call.
          return yield* new CallDeferred({ metadata: { ...run, requests: result.output } })
        }
        return new Tool.ToolReturn({
          value: options.output === undefined ? result.output : options.output(result),
          metadata: run
        })
      })
  }) as Tool.Any
}

// ---------------------------------------------------------------------------
// Handoffs
// ---------------------------------------------------------------------------

/** Brands handoffs. */
export const HandoffTypeId: unique symbol = Symbol.for("@agentfx/core/Handoff")

/** A handoff, untyped. */
export interface HandoffAny {
  readonly [HandoffTypeId]: typeof HandoffTypeId
  readonly agent: Runnable
  readonly agentName: string
  readonly definition: Tool.ToolDefinition
  readonly decodeArgs: (args: ToolArgs) => Effect.Effect<unknown, ModelRetry>
  readonly inputFilter:
    | ((messages: ReadonlyArray<ModelMessage>) => ReadonlyArray<ModelMessage>)
    | undefined
  readonly toolReturn: string
  readonly onHandoff: ((args: any) => Effect.Effect<void, any, any>) | undefined
}

/** Options of `handoff`, untyped. */
export interface HandoffOptionsAny {
  readonly name?: string | undefined
  readonly description?: string | undefined
  readonly parameters?: Schema.Schema<any, any, never> | undefined
  readonly inputFilter?:
    | ((messages: ReadonlyArray<ModelMessage>) => ReadonlyArray<ModelMessage>)
    | undefined
  readonly onHandoff?: ((args: any) => Effect.Effect<void, any, any>) | undefined
}

const toolName = (name: string): string => name.replace(/[^A-Za-z0-9_-]/g, "_")

/** `Agent.handoff`, untyped. */
export const handoff = (agent: Runnable, options: HandoffOptionsAny = {}): HandoffAny => {
  const agentName = agent.name ?? options.name
  if (agentName === undefined) {
    throw new Error("Agent.handoff: the target agent has no name; give the handoff a `name`.")
  }
  const name = options.name ?? `transfer_to_${toolName(agentName)}`
  const parameters = options.parameters ?? Schema.Struct({})
  return {
    [HandoffTypeId]: HandoffTypeId,
    agent,
    agentName,
    definition: new Tool.ToolDefinition({
      name,
      description: options.description ?? `Hand the conversation over to the agent "${agentName}".`,
      parametersJsonSchema: Tool.jsonSchema(parameters, `Handoff "${name}"`),
      kind: "output"
    }),
    decodeArgs: Tool.decodeWith(parameters),
    inputFilter: options.inputFilter,
    toolReturn: `Transferred to ${agentName}.`,
    onHandoff: options.onHandoff
  }
}

/** What a handoff tool call decodes to: the run loop continues on the target. */
export class HandoffRequest {
  readonly _tag = "HandoffRequest" as const
  constructor(
    readonly handoff: HandoffAny,
    readonly call: ToolCallPart,
    readonly args: unknown
  ) {}
}

/** The output spec of an agent with handoffs: its own output, plus one output tool per handoff. */
export const withHandoffsSpec = (
  spec: OutputSpec.Any,
  handoffs: ReadonlyArray<HandoffAny>
): OutputSpec.Any => {
  const byName = new Map(handoffs.map((h) => [h.definition.name, h]))
  const definitions = handoffs.map((h) => h.definition)
  const wrapped: OutputSpec.Any = {
    ...spec,
    toolDefinitions: (profile) => [...spec.toolDefinitions(profile), ...definitions],
    isOutputTool: (name) => byName.has(name) || spec.isOutputTool(name),
    handleToolCall: (call, handle) => {
      const h = byName.get(call.toolName)
      if (h === undefined) return spec.handleToolCall(call, handle)
      // A partial handoff is no output (`streamOutput` shows nothing for it).
      if (handle.partial) return Effect.fail(new ModelRetry({ reason: "handoff" }))
      return Effect.map(h.decodeArgs(call.args), (args) => new HandoffRequest(h, call, args))
    },
    ...(spec.resolve !== undefined
      ? {
          resolve: (profile: Parameters<NonNullable<OutputSpec.Any["resolve"]>>[0]) =>
            withHandoffsSpec(spec.resolve!(profile), handoffs)
        }
      : {}),
    pipe() {
      return pipeArguments(this, arguments)
    }
  }
  return wrapped
}

/** The configuration of `agent` with handoffs: output tools added, validators skip handoffs. */
export const withHandoffsConfig = (
  config: AgentConfig,
  handoffs: ReadonlyArray<HandoffAny>
): AgentConfig => ({
  ...config,
  output: withHandoffsSpec(config.output, handoffs),
  outputValidators: config.outputValidators.map(
    (validate) => (output: unknown) =>
      output instanceof HandoffRequest ? Effect.succeed(output) : validate(output)
  )
})

/**
 * Continues the conversation on the handoff's target: the history so far (the handoff call
 * answered with "Transferred to {agent}."), through the handoff's `inputFilter`, sent to the
 * target with no new prompt; its run shares the parent's usage, limits and conversation id.
 */
export const runHandoff = (
  request: HandoffRequest,
  messages: ReadonlyArray<ModelMessage>,
  shared: {
    readonly usage: Ref.Ref<RunUsage>
    readonly usageLimits: UsageLimits
    readonly conversationId: string | undefined
  }
): Effect.Effect<AgentRunResult<any>, unknown, unknown> => {
  const h = request.handoff
  const id = request.call.toolCallId
  let history: ReadonlyArray<ModelMessage> = messages.map((m) =>
    m._tag === "ModelRequest" &&
    m.parts.some((p) => p._tag === "ToolReturnPart" && p.toolCallId === id)
      ? makeModelRequest({
          ...m,
          parts: m.parts.map((p) =>
            p._tag === "ToolReturnPart" && p.toolCallId === id
              ? makeToolReturnPart.copy(p, { content: h.toolReturn })
              : p
          )
        })
      : m
  )
  if (h.inputFilter !== undefined) history = h.inputFilter(history)
  const run = runSub(
    h.agent,
    h.agentName,
    id,
    { prompt: undefined, messageHistory: history },
    shared
  )
  return h.onHandoff === undefined ? run : Effect.zipRight(h.onHandoff(request.args), run)
}
