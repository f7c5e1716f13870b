/**
 * What a task can tell the evaluation about the case it is running: the usage of the agent
 * runs it made, and attributes of its own (visible to evaluators and in the report).
 *
 * Usage is also collected without any help from the task: when the task reports none, the
 * case's usage is summed from the `chat` spans (requests, input / output tokens) and the
 * successful `execute_tool` spans (tool calls) that its agent runs opened. Report it
 * explicitly (`TaskContext.recordUsage(result.usage)`) for the complete `RunUsage` — cache
 * and audio tokens, provider details — or for usage that opens no span.
 *
 * @example
 * ```ts
 * import { Agent, TestModel } from "@agentfx/core"
 * import { TaskContext } from "@agentfx/evals"
 * import { Effect } from "effect"
 *
 * const agent = Agent.make({ name: "echo" })
 * const task = (prompt: string) =>
 *   Effect.gen(function* () {
 *     const result = yield* agent.run(prompt).pipe(Effect.provide(TestModel.layer()))
 *     yield* TaskContext.recordUsage(result.usage)
 *     yield* TaskContext.setAttribute("messages", result.allMessages().length)
 *     return result.output
 *   })
 * ```
 *
 * @since 0.1.0
 */
import { Usage } from "@agentfx/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** The service `Dataset.evaluate` provides to each attempt of a task. */
export interface Service {
  /** The name of the case being run. */
  readonly caseName: string
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number
  /** Adds `usage` to the case's usage. */
  readonly recordUsage: (usage: Usage.RunUsage) => Effect.Effect<void>
  /** Sets an attribute of the case (last write wins). */
  readonly setAttribute: (key: string, value: unknown) => Effect.Effect<void>
}

/** The task's view of the case being evaluated. */
export class TaskContext extends Context.Tag("@agentfx/evals/TaskContext")<
  TaskContext,
  Service
>() {}

/**
 * Adds `usage` to the usage of the case being evaluated. Outside an evaluation (no
 * `TaskContext`), does nothing: the same task code runs in production unchanged.
 */
export const recordUsage = (usage: Usage.RunUsage): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(TaskContext), (ctx) =>
    Option.isSome(ctx) ? ctx.value.recordUsage(usage) : Effect.void
  )

/** Sets an attribute of the case being evaluated; outside an evaluation, does nothing. */
export const setAttribute = (key: string, value: unknown): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(TaskContext), (ctx) =>
    Option.isSome(ctx) ? ctx.value.setAttribute(key, value) : Effect.void
  )
