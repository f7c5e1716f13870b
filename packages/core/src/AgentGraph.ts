/**
 * The run graph of an agent and what a run produces: its nodes
 * (`UserPromptNode → ModelRequestNode → CallToolsNode → … → End`), the events of a streamed run,
 * and the result. Also the instruction and system-prompt forms an agent takes, run metadata and
 * the run's usage `Ref`. Re-exported by `Agent`; the behaviour of the nodes lives in the run
 * loop (`internal/runLoop.ts`).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Ref from "effect/Ref"
import {
  encodeJson as encodeMessagesJson,
  type FinalResultEvent,
  type FunctionToolCallEvent,
  type FunctionToolResultEvent,
  type ModelMessage,
  type OutputToolCallEvent,
  type OutputToolResultEvent,
  type ModelRequest,
  ModelResponse,
  type PartDeltaEvent,
  type PartEndEvent,
  type PartStartEvent,
  type ToolAvailabilityDeltaEvent,
  type UserContent
} from "./Messages.js"
import type { Service as RunContextService } from "./RunContext.js"
import type { RunUsage } from "./Usage.js"

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
  /**
   * The conversation the run belonged to (`RunOptions.conversationId`, the history's, or the one
   * it started): the latest `conversationId` of its messages.
   */
  get conversationId(): string | undefined {
    for (let i = this.messages.length - 1; i >= 0; i--) {
      const id = this.messages[i]!.conversationId
      if (id !== undefined) return id
    }
    return undefined
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

/**
 * An event of a sub-agent, forwarded into the stream of the run that called it: an agent used
 * as a tool (`Agent.asTool`) or a handoff's target (`Agent.withHandoffs`). `toolCallId` is the
 * id of the parent's call that started the sub-agent (the `FunctionToolCallEvent` before, the
 * `FunctionToolResultEvent` after); `event` is the sub-agent's own event, its
 * `AgentRunResultEvent` included (nested sub-agents nest these events). Only streamed runs
 * forward events; `run` without an `eventStreamHandler` forwards nothing.
 */
export class SubAgentEvent {
  readonly _tag = "SubAgentEvent" as const
  constructor(
    /** The sub-agent's name (or the tool's name, for an unnamed agent). */
    readonly agentName: string,
    /** The parent's tool call that runs the sub-agent. */
    readonly toolCallId: string,
    readonly event: AgentStreamEvent<unknown>
  ) {}
}

/** An event of a streamed run. */
export type AgentStreamEvent<A> =
  | PartStartEvent
  | PartDeltaEvent
  | PartEndEvent
  | FinalResultEvent
  | FunctionToolCallEvent
  | FunctionToolResultEvent
  | ToolAvailabilityDeltaEvent
  | OutputToolCallEvent
  | OutputToolResultEvent
  | SubAgentEvent
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
    /**
     * The request is re-sent: it replaces the history's last request and what followed it (a
     * response a failed stream left incomplete) — e.g. from an `onNodeRunError` hook.
     */
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

/** The usage `Ref` of the current run, visible to tools (share it with a sub-agent's run). */
export class CurrentUsage extends Context.Tag("@agentfx/core/Agent/CurrentUsage")<
  CurrentUsage,
  Ref.Ref<RunUsage>
>() {}

/** Status texts of tool returns that did not produce the result (pydantic-ai's wording). */
export const statusTexts = {
  finalResult: "Final result processed.",
  outputNotUsed: "Output tool not used - a final result was already processed.",
  toolNotExecuted: "Tool not executed - a final result was already processed.",
  outputProcessedNotFinal:
    "Output tool processed, but its value will not be the final result of the agent run.",
  retryWins: "Output not used as the final result - addressing tool retries from this round first."
} as const
