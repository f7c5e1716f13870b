/**
 * Output functions: the model "calls" a function to produce the run's output. The arguments
 * are a Schema (the model sees its JSON Schema and the arguments are validated before the
 * call); the handler is an Effect whose result is the output. It can fail with `ModelRetry`
 * to send the model back with a message, and may use services and `RunContext`.
 *
 * Pass an output function anywhere a Schema is accepted: `ToolOutput.make(fn)`,
 * `NativeOutput.make([fn, Other])`, `PromptedOutput.make(fn)`.
 *
 * While streaming, the handler also runs on snapshots whose arguments already decode
 * (`RunContext.partialOutput` is `true` then): keep it free of side effects, or check the flag.
 *
 * @example
 * ```ts
 * import { OutputFunction, ToolOutput } from "@agentfx/output"
 * import { AgentError } from "@agentfx/core"
 * import { Effect, Schema } from "effect"
 *
 * const runSql = OutputFunction.make({
 *   name: "run_sql",
 *   description: "Run a SQL query and return the rows",
 *   parameters: Schema.Struct({ query: Schema.String }),
 *   handler: ({ query }) =>
 *     query.startsWith("SELECT")
 *       ? Effect.succeed([{ id: 1 }])
 *       : Effect.fail(new AgentError.ModelRetry({ reason: "Only SELECT queries are allowed." }))
 * })
 * const output = ToolOutput.make(runSql) // OutputSpec<Array<{ id: number }>>
 * ```
 *
 * @since 0.1.0
 */
import type { ModelRetry } from "@agentfx/core/AgentError"
import type * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"

/** Marks output functions. */
export const TypeId: unique symbol = Symbol.for("@agentfx/output/OutputFunction")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** A function the model calls to produce the output `A`, needing services `R`. */
export interface OutputFunction<out A, out R = never> {
  readonly [TypeId]: TypeId
  readonly name: string
  readonly description: string | undefined
  /** The arguments: an object Schema (`Schema.Struct` / `Schema.Class`), or any Schema (then wrapped as `{ response }`). */
  readonly parameters: Schema.Schema<any, any, never>
  readonly handler: (args: any) => Effect.Effect<A, ModelRetry, R>
}

/** Any output function. */
export type Any = OutputFunction<any, any>

/** Builds an output function. */
export const make = <Args, I, A, R = never>(options: {
  readonly name: string
  readonly description?: string
  readonly parameters: Schema.Schema<Args, I, never>
  readonly handler: (args: Args) => Effect.Effect<A, ModelRetry, R>
}): OutputFunction<A, R> => ({
  [TypeId]: TypeId,
  name: options.name,
  description: options.description,
  parameters: options.parameters,
  handler: options.handler
})

/** Is this value an output function? */
export const isOutputFunction = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && TypeId in u
