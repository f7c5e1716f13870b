/**
 * The `RunContext` service: what a tool, an output validator or a dynamic instruction can see
 * of the run it is part of. The agent provides it; read it with `yield* RunContext.RunContext`.
 *
 * @example
 * ```ts
 * const whoami = Tool.make("step", {
 *   parameters: Schema.Struct({}),
 *   handler: () => Effect.map(RunContext.RunContext, (ctx) => `step ${ctx.runStep}, retry ${ctx.retry}`)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type { ModelMessage, UserContent } from "./Messages.js"
import type * as Model from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import type { RunUsage, UsageLimits } from "./Usage.js"

/** A snapshot of the run, taken when the tool / validator / instruction is called. */
export interface Service {
  /** Unique id of this run. */
  readonly runId: string
  /** The agent's name, if it has one. */
  readonly agentName: string | undefined
  /** The model of this run. */
  readonly model: Model.Service
  /** The user prompt of this run. */
  readonly prompt: string | ReadonlyArray<UserContent> | undefined
  /** Messages so far (history included). */
  readonly messages: ReadonlyArray<ModelMessage>
  /** Usage so far. */
  readonly usage: RunUsage
  readonly usageLimits: UsageLimits
  /** Settings in force for the next request. */
  readonly modelSettings: ModelSettings
  /** 1 for the first model request, +1 for each request after. */
  readonly runStep: number
  /** Retries so far of the current tool (or of the output, in validators). */
  readonly retry: number
  /** Retries allowed for the current tool or output. */
  readonly maxRetries: number
  /** Name of the tool being called, if any. */
  readonly toolName: string | undefined
  /** Id of the tool call being handled, if any. */
  readonly toolCallId: string | undefined
  /** `true` while validating a partial (streamed) output. */
  readonly partialOutput: boolean
  /**
   * `true` when the current tool call runs because it was approved (`DeferredToolResults`): a
   * handler that fails with `ApprovalRequired` checks it to run at last.
   */
  readonly toolCallApproved?: boolean | undefined
  /** Metadata given for the current tool call in `DeferredToolResults.metadata`, if any. */
  readonly toolCallMetadata?: unknown
  /**
   * The conversation this run belongs to: `RunOptions.conversationId`, else the latest one in
   * the message history, else generated for the run (always set inside a run).
   */
  readonly conversationId?: string | undefined
  /** The run's metadata (agent `metadata` merged with the run's, run wins), once computed. */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined
}

/** The current run, inside tools, validators and dynamic instructions. */
export class RunContext extends Context.Tag("@agentfx/core/RunContext")<RunContext, Service>() {}

/**
 * A key naming the current tool call, for tools whose side effects must happen once:
 * `{runId}/{toolCallId}`. It is the same every time the same call executes. In a durable run
 * (`@agentfx/durable`) that includes a call executed again after its runner crashed in the
 * middle of it, or after a restart: the run id is the workflow's execution id and the call id
 * comes from the persisted model response. Give it to the system the tool writes to (an
 * `Idempotency-Key` header, a unique column) so that a second execution is recorded once.
 * A model that reuses a call id in a later response (ids numbered per response, test models)
 * makes a different call: that call's key is `{runId}/{toolCallId}@{n}`, `n` counting the
 * responses of the conversation that have a call with that id (2 for the second) — the same
 * on every execution, since it is counted in the same history.
 * Outside a tool call (validators, instructions) the call id is replaced by `step-{runStep}`.
 */
export const idempotencyKey = (ctx: Service): string => {
  const id = ctx.toolCallId
  if (id === undefined) return `${ctx.runId}/step-${ctx.runStep}`
  const uses = responsesCalling(ctx.messages, id)
  return uses > 1 ? `${ctx.runId}/${id}@${uses}` : `${ctx.runId}/${id}`
}

/** How many responses of `messages` have a tool call with the id `toolCallId`. */
const responsesCalling = (messages: ReadonlyArray<ModelMessage>, toolCallId: string): number => {
  let n = 0
  for (const m of messages) {
    if (m._tag !== "ModelResponse") continue
    for (const part of m.parts) {
      if (part._tag === "ToolCallPart" && part.toolCallId === toolCallId) {
        n++
        break
      }
    }
  }
  return n
}

/** Is this the last retry allowed? */
export const isLastAttempt = (ctx: Service): boolean => ctx.retry >= ctx.maxRetries
