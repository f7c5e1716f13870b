/**
 * Native output: the provider's JSON-schema response format (OpenAI `response_format`,
 * Gemini `responseSchema`…). The model answers with JSON text that must match the schema.
 *
 * Several targets become one schema `{ result: { kind, data } }` where `kind` names the member
 * (the schema identifier / class name or function name), so the right member is decoded.
 * On a model whose profile lacks `supportsJsonSchemaOutput`, the spec's `check` reports
 * "Native structured output is not supported by this model.". It must be the only output.
 *
 * @example
 * ```ts
 * import { NativeOutput } from "@agentfx/output"
 * import { Schema } from "effect"
 *
 * const CityLocation = Schema.Struct({ city: Schema.String, country: Schema.String })
 * const output = NativeOutput.make(CityLocation, { name: "city_location", strict: true })
 * ```
 *
 * @since 0.1.0
 */
import type * as OutputSpec from "@agentfx/core/OutputSpec"
import { jsonOutput } from "./internal/build.js"
import type { OutputOf, RequirementsOf, Target } from "./Output.js"

/** Options of `make`. */
export interface Options {
  /** The name of the response format (default: the schema identifier when there is one). */
  readonly name?: string
  readonly description?: string
  /** Ask the provider for strict schema adherence. */
  readonly strict?: boolean
}

/** An output produced as JSON in the provider's structured-output response format. */
export const make = <const T extends Target | ReadonlyArray<Target>>(
  target: T,
  options: Options = {}
): OutputSpec.OutputSpec<OutputOf<T>, RequirementsOf<T>> => jsonOutput("native", target, options)
