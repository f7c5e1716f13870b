/**
 * Tool output: the model ends the run by calling an output tool whose arguments are the
 * output. The default and most portable structured mode: every model with tools supports it.
 *
 * - One target → one tool named `final_result`; several → `final_result_{Name}` each
 *   (`Name` from the schema identifier / class name or the function name; clashes get `_2`…).
 * - Object schemas (`Schema.Struct`, `Schema.Class`, records) are the tool's arguments; any
 *   other schema is wrapped as `{ response: T }` and unwrapped again.
 * - The description is the given one, the schema's `description` annotation, both as
 *   `"{given}. {own}"`, or "The final response which ends this conversation".
 * - Text is not accepted (the model is required to call a tool) unless the spec is put in an
 *   `Output.union` with `OutputSpec.text`.
 * - Bad arguments go back to the model as a retry prompt listing the validation issues.
 * - Optional output: a nullable target (`Schema.NullOr(City)`) is split into its members, one
 *   tool each; the "no output" tool is `final_result_NoneType` (arguments `{ response: null }`),
 *   as pydantic-ai does for `City | None`. `Schema.Null` alone in a union with
 *   `OutputSpec.text` gives `string | null`.
 *
 * @example
 * ```ts
 * import { ToolOutput } from "@agentfx/output"
 * import { Schema } from "effect"
 *
 * class Fruit extends Schema.Class<Fruit>("Fruit")({ name: Schema.String, color: Schema.String }) {}
 * class Vehicle extends Schema.Class<Vehicle>("Vehicle")({ name: Schema.String, wheels: Schema.Number }) {}
 *
 * const single = ToolOutput.make(Fruit, { name: "return_fruit" }) // OutputSpec<Fruit>
 * const either = ToolOutput.make([Fruit, Vehicle])               // OutputSpec<Fruit | Vehicle>
 * ```
 *
 * @since 0.1.0
 */
import type * as OutputSpec from "@agentfx/core/OutputSpec"
import { toolSpec } from "./internal/build.js"
import { makeEntry, splitNone } from "./internal/target.js"
import type { OutputOf, RequirementsOf, Target } from "./Output.js"

/** Options of `make`. */
export interface Options {
  /** The tool name (default `final_result`, or `final_result_{Name}` for several). With several targets it applies to the first. */
  readonly name?: string
  /** The tool description, combined with the schema's own as `"{given}. {own}"`. */
  readonly description?: string
  /**
   * Retries of this output tool: `N` allows `N` failed calls of it, the next one fails the run
   * ("Tool '{name}' exceeded max retries count of N: …"). In a union each tool keeps its own
   * budget (tools without one get the agent's `outputRetries`), and the largest becomes the
   * global output budget, which counts the failures of every output (tools and text) together.
   */
  readonly retries?: number
  /** @deprecated Use `retries` (the name the agent's and the tools' options use). */
  readonly maxRetries?: number
  /** Ask the provider for strict schema adherence (OpenAI `strict`). */
  readonly strict?: boolean
}

/** An output produced by calling an output tool; several targets make one tool each. */
export const make = <const T extends Target | ReadonlyArray<Target>>(
  target: T,
  options: Options = {}
): OutputSpec.OutputSpec<OutputOf<T>, RequirementsOf<T>> => {
  const given: ReadonlyArray<Target> = Array.isArray(target) ? target : [target as Target]
  // A nullable target is split (optional output); the description still belongs to it.
  const targets = given.flatMap(splitNone)
  return toolSpec(
    targets.map((t, i) => ({
      entry: makeEntry(t, {
        name: i === 0 ? options.name : undefined,
        description: given.length === 1 && i === 0 ? options.description : undefined
      }),
      strict: options.strict,
      maxRetries: options.retries ?? options.maxRetries
    })),
    undefined
  )
}
