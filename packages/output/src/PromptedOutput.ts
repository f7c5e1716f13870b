/**
 * Prompted output: the JSON Schema goes into the instructions and the model answers with
 * JSON text. Works with every model. The default template is the profile's
 * `promptedOutputTemplate`; a custom `template` has the schema put in place of `{schema}`
 * (or appended after a blank line when it has no placeholder). The text may be wrapped in a
 * markdown fence: it is stripped before decoding.
 *
 * Several targets become one schema `{ result: { kind, data } }`, as with `NativeOutput`.
 *
 * @example
 * ```ts
 * import { PromptedOutput } from "@agentfx/output"
 * import { Schema } from "effect"
 *
 * class Device extends Schema.Class<Device>("Device")({ name: Schema.String, kind: Schema.String }) {}
 * const output = PromptedOutput.make(Device, {
 *   template: "Reply with JSON matching this schema: {schema}"
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as OutputSpec from "@agentfx/core/OutputSpec"
import { jsonOutput } from "./internal/build.js"
import type { OutputOf, RequirementsOf, Target } from "./Output.js"

/** Options of `make`. */
export interface Options {
  /** Put in the schema as its `title`. */
  readonly name?: string
  /** Put in the schema as its `description`. */
  readonly description?: string
  /** Instructions template; `{schema}` is replaced by the JSON Schema. */
  readonly template?: string
}

/** An output produced as JSON text, the schema given in the instructions. */
export const make = <const T extends Target | ReadonlyArray<Target>>(
  target: T,
  options: Options = {}
): OutputSpec.OutputSpec<OutputOf<T>, RequirementsOf<T>> => jsonOutput("prompted", target, options)
