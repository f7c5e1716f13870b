/**
 * Agents composed of agents: an agent called as a tool of another (`asTool`, pydantic-ai's
 * "agent delegation"), and handoffs (`handoff` + `withHandoffs`: the agent hands the
 * conversation to another agent, whose output ends the run). Both are re-exported by `Agent`
 * (`Agent.asTool`, `Agent.handoff`, `Agent.withHandoffs`).
 *
 * What a sub-agent's run shares with the run that calls it:
 * - **usage and limits**: its requests, tokens, tool calls and cost are added to the caller's
 *   `RunUsage` as they happen, and checked against the caller's `UsageLimits` (the sub-agent's
 *   own `usageLimits` do not apply: one budget). A sub-agent request over the caller's limit
 *   fails the caller's run with `UsageLimitExceeded`;
 * - **events**: while the caller streams (`runStream`, `iter.stream`, an `eventStreamHandler`),
 *   every event of the sub-agent is forwarded as a `SubAgentEvent { agentName, toolCallId,
 *   event }` between the caller's `FunctionToolCallEvent` and `FunctionToolResultEvent` for that
 *   call. A caller that does not stream forwards nothing and runs the sub-agent without
 *   streaming;
 * - **cancellation**: interrupting the caller interrupts the sub-agent;
 * - **telemetry**: the sub-agent's `invoke_agent` span is a child of the caller's
 *   `execute_tool` span; the caller's `conversationId` is passed on.
 *
 * @example
 * ```ts
 * import { Agent, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const research = Agent.make({ name: "research", instructions: "Find facts." })
 * const writer = Agent.make({
 *   name: "writer",
 *   tools: [Agent.asTool(research, { name: "research", description: "Ask the research agent." })]
 * })
 * const support = Agent.make({ name: "support", instructions: "Solve account problems." })
 * const triage = Agent.make({ name: "triage" }).pipe(Agent.withHandoffs([Agent.handoff(support)]))
 * const program = writer.run("Write about otters.").pipe(Effect.provide(TestModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import type { Agent, Prompt } from "./Agent.js"
import type { AgentError } from "./AgentError.js"
import type { AgentRunResult } from "./AgentGraph.js"
import type { CallDeferred, DeferredToolRequests } from "./DeferredTools.js"
import * as internal from "./internal/composition.js"
import type { AgentConfig } from "./internal/runLoop.js"
import type { ModelMessage } from "./Messages.js"
import type * as Tool from "./Tool.js"

/** What an agent tool records in its `ToolReturnPart.metadata`: the sub-agent's run. */
export type SubAgentRun = internal.SubAgentRun

/** The sub-run an agent tool starts: a prompt, and the run options the caller may choose. */
export type SubRun = internal.SubRun

/** Options of `asTool`. */
export interface AsToolOptions<Name extends string, Args, I, A> {
  /** The tool's name, as the model sees it. */
  readonly name: Name
  /**
   * What the tool is for, as the model sees it. Default: the agent's `description`, else
   * `Ask the agent "{name}".`
   */
  readonly description?: string
  /** The tool's arguments. Default: `{ prompt: string }`. */
  readonly parameters?: Schema.Schema<Args, I, never>
  /**
   * The sub-agent's prompt (and run options: `messageHistory`, `instructions`, `metadata`,
   * `modelSettings`, `model`) from the arguments. Default: the `prompt` argument, else the
   * arguments as JSON.
   */
  readonly input?: (args: Args) => Prompt | SubRun
  /**
   * The tool's result from the sub-agent's result. Default: its output (structured output is
   * sent to the model as JSON).
   */
  readonly output?: (result: AgentRunResult<A>) => unknown
  /**
   * What a sub-agent failure its model caused (`UnexpectedModelBehavior`: retries exhausted,
   * bad output; `ContentFilterError`) does: `"retry"` (default) sends the caller's model a
   * retry prompt naming the failure, counted against this tool's retries; `"fail"` fails the
   * caller's run with it. Other failures (`UsageLimitExceeded`, HTTP errors, the sub-agent's
   * own typed errors…) always fail the caller's run with the same typed error.
   */
  readonly onModelFailure?: "retry" | "fail"
  /** Retries of this tool (see `Tool.make`). */
  readonly retries?: number
  /** Run this tool's calls one at a time (see `Tool.make`). */
  readonly sequential?: boolean
  /** Time limit of one call (see `Tool.make`). */
  readonly timeout?: Tool.MakeOptions<Args, I, unknown, never, never>["timeout"]
}

/** `CallDeferred` when the agent's output may be `DeferredToolRequests`. */
export type DeferralOf<A> = [Extract<A, DeferredToolRequests>] extends [never]
  ? never
  : CallDeferred

/**
 * An agent as a tool of another agent. The tool runs the agent with the prompt built from its
 * arguments (`input`), in the caller's run (shared usage, limits, cancellation, streamed events:
 * see the module docs), and returns its output to the caller's model. The sub-agent's own
 * conversation stays out of the caller's history: it is in the tool return's `metadata`
 * (`SubAgentRun`: agent name, run id, messages, its own requests and tokens). The metadata
 * travels with the caller's history as JSON; after a round trip, decode its `messages` with
 * `Messages.ModelMessages`.
 *
 * Deferred calls: a sub-agent run that ends with `DeferredToolRequests` (a tool of the
 * sub-agent needs approval, or an external result) defers the caller's call in turn
 * (`CallDeferred`): the caller ends with `DeferredToolRequests` listing this tool's call in
 * `calls`, its metadata holding the `SubAgentRun` plus the sub-agent's `requests`. Resume the
 * sub-agent with its `messages` and your results, then give its output as this call's result
 * in the caller's `DeferredToolResults.calls`.
 *
 * @example
 * ```ts
 * const search = Agent.asTool(searchAgent, {
 *   name: "search_flights",
 *   description: "Find the cheapest flight for a route and date.",
 *   parameters: Schema.Struct({ origin: Schema.String, destination: Schema.String, date: Schema.String }),
 *   input: (q) => `Find a flight from ${q.origin} to ${q.destination} on ${q.date}`
 * })
 * ```
 */
export const asTool = <
  A,
  E,
  R,
  const Name extends string,
  Args = { readonly prompt: string },
  I = { readonly prompt: string }
>(
  agent: Agent<A, E, R>,
  options: AsToolOptions<Name, Args, I, A>
): Tool.Tool<Name, Args, Tool.ToolReturn<unknown>, AgentError | E | DeferralOf<A>, R> =>
  internal.asTool(agent, options) as any

/** Brands handoffs. */
export const HandoffTypeId: typeof internal.HandoffTypeId = internal.HandoffTypeId

/** A handoff to an agent producing `A` (see `handoff`). */
export interface Handoff<A, E, R> extends Omit<internal.HandoffAny, "agent"> {
  /** The agent the conversation is handed to. */
  readonly agent: Agent<A, E, R>
}

/** The output a handoff's target adds to the agent's output. */
export type HandoffOutput<H> = H extends Handoff<infer A, any, any> ? A : never
/** The errors a handoff's target adds. */
export type HandoffError<H> = H extends Handoff<any, infer E, any> ? E : never
/** The services a handoff's target needs. */
export type HandoffRequirements<H> = H extends Handoff<any, any, infer R> ? R : never

/** Options of `handoff`. */
export interface HandoffOptions<Args, I, E2 = never, R2 = never> {
  /** The tool's name. Default: `transfer_to_{agent name}`. The target must have a name, or give one. */
  readonly name?: string
  /** What the handoff is for, as the model sees it. */
  readonly description?: string
  /**
   * Arguments the model gives with the handoff (e.g. a reason, a summary); they stay in the
   * history the target sees (the handoff call). Default: none.
   */
  readonly parameters?: Schema.Schema<Args, I, never>
  /**
   * What the target sees of the conversation so far (which ends with the handoff call and its
   * return, "Transferred to {agent}."). Default: all of it. The result's `allMessages()` is what
   * the target saw, then its own messages.
   */
  readonly inputFilter?: (messages: ReadonlyArray<ModelMessage>) => ReadonlyArray<ModelMessage>
  /**
   * Runs when the model hands off, before the target starts, with the handoff's arguments (to
   * record the reason, load data for the target…). Its failure fails the run; its errors and
   * requirements are the agent's.
   */
  readonly onHandoff?: (args: Args) => Effect.Effect<void, E2, R2>
}

/**
 * A handoff to `agent` (OpenAI Agents' handoffs): a tool that, when the model calls it, ends the
 * agent's turn and continues the conversation on `agent` — its instructions, tools and output —
 * with the history so far (through `inputFilter`); the run's output is then the target's, and
 * the run's messages are the target's (the history it was given, then its own). Give handoffs
 * to an agent with `withHandoffs`. The target shares the run's usage and limits, its events are
 * forwarded while streaming (`SubAgentEvent`, tagged with the handoff call's id), and it may hand
 * off in turn. To continue the conversation later, run the agent that answered
 * (`result.allMessages()` as its history).
 *
 * A handoff is an output tool: under the `early` end strategy no function tool of the same
 * response runs; by default (`graceful`) they run first and their results are in the history
 * the target sees. The agent's output validators do not see the target's output.
 */
export const handoff = <A, E, R, Args = {}, I = {}, E2 = never, R2 = never>(
  agent: Agent<A, E, R>,
  options: HandoffOptions<Args, I, E2, R2> = {}
  // `NoInfer`: inside `withHandoffs([...])` the expected `Handoff<any, any, any>` must not
  // infer the callback's types (they would become `any`).
): Handoff<A, E | NoInfer<E2>, R | NoInfer<R2>> =>
  internal.handoff(agent, options) as unknown as Handoff<A, E | E2, R | R2>

/** The configuration of an agent with handoffs (used by `Agent.withHandoffs`). */
export const configWithHandoffs = (
  config: AgentConfig,
  handoffs: ReadonlyArray<Handoff<any, any, any>>
): AgentConfig =>
  internal.withHandoffsConfig(config, handoffs as unknown as ReadonlyArray<internal.HandoffAny>)
