/**
 * What the output modes share: the targets they accept (a Schema or an output function),
 * unions of outputs, output validators attached to a spec, and `auto`, which lets the model's
 * profile pick the mode (tool, native or prompted).
 *
 * Streaming: every structured spec decodes snapshots (`handleToolCall` / `handleText` with
 * `partial: true`) by feeding only the new suffix of the growing arguments / text to an
 * incremental `PartialJson` parser, then decoding the snapshot against the *partial form* of
 * the schema: every property and tuple element optional (recursively), refinements dropped
 * (so `"He"` passes a `minLength(5)` while being written), transformations and classes kept
 * (a `Schema.Class` partial is an instance with the fields read so far). Type mismatches still
 * fail and are swallowed by the run loop. The final value is always fully decoded, and
 * validators and output functions run on it. Values typed `Schema.Unknown` inside a partial
 * are the parser's live objects: copy them to keep them.
 *
 * @example
 * ```ts
 * import { Output, ToolOutput } from "@agentfx/output"
 * import { OutputSpec } from "@agentfx/core"
 * import { Schema } from "effect"
 *
 * class Fruit extends Schema.Class<Fruit>("Fruit")({ name: Schema.String, color: Schema.String }) {}
 * class Vehicle extends Schema.Class<Vehicle>("Vehicle")({ name: Schema.String, wheels: Schema.Number }) {}
 *
 * // two output tools, final_result_Fruit and final_result_Vehicle, and plain text allowed
 * const output = Output.union([ToolOutput.make(Fruit), ToolOutput.make(Vehicle), OutputSpec.text])
 * // OutputSpec<Fruit | Vehicle | string>
 * ```
 *
 * @since 0.1.0
 */
import { ModelRetry, UserError } from "@agentfx/core/AgentError"
import type { BinaryContent } from "@agentfx/core/Messages"
import type * as OutputSpec from "@agentfx/core/OutputSpec"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Schema from "effect/Schema"
import {
  isToolSpec,
  mapModes,
  type ToolConfig,
  ToolConfigsId as toolConfigs,
  toolSpec
} from "./internal/build.js"
import { attach as attachImage } from "./internal/image.js"
import * as NativeOutput from "./NativeOutput.js"
import type * as OutputFunction from "./OutputFunction.js"
import * as PromptedOutput from "./PromptedOutput.js"
import * as ToolOutput from "./ToolOutput.js"

/** What a structured output can be produced through: a Schema or an output function. */
export type Target = Schema.Schema<any, any, never> | OutputFunction.Any

/** The output type of a target. */
export type TargetOutput<T> =
  T extends OutputFunction.OutputFunction<infer A, any>
    ? A
    : T extends Schema.Schema<infer A, any, never>
      ? A
      : never

/** The services a target needs. */
export type TargetRequirements<T> =
  T extends OutputFunction.OutputFunction<any, infer R> ? R : never

/** A target or several (a union): the output type. */
export type OutputOf<T> = T extends ReadonlyArray<infer U> ? TargetOutput<U> : TargetOutput<T>

/** A target or several (a union): the services. */
export type RequirementsOf<T> =
  T extends ReadonlyArray<infer U> ? TargetRequirements<U> : TargetRequirements<T>

/**
 * Several outputs the model may choose from: tool outputs (each keeps its tools; names become
 * `final_result_{Name}` when there are several), at most one text output (`OutputSpec.text`
 * or a `TextOutput`), which lets the model answer with plain text alongside the tools, and at
 * most one `ImageOutput` (an image in the response beats its text).
 * Native, prompted and auto outputs cannot be combined with other outputs (an image output
 * aside): give them several schemas instead.
 * Throws a `UserError` on such misuse (a programming error).
 */
export const union = <const Specs extends ReadonlyArray<OutputSpec.OutputSpec<any, any>>>(
  specs: Specs
): OutputSpec.OutputSpec<
  OutputSpec.Output<Specs[number]>,
  OutputSpec.Requirements<Specs[number]>
> => {
  // Image output is orthogonal to the others: taken out here, added to the result at the end.
  let image: OutputSpec.OutputSpec<any, any> | undefined
  const rest: Array<OutputSpec.OutputSpec<any, any>> = []
  for (const spec of specs) {
    if (spec.allowImageOutput === true) {
      if (image !== undefined && spec.mode === "image" && image.mode === "image" && image !== spec)
        throw new UserError({ reason: "Only one image output is allowed." })
      if (image === undefined || spec.mode === "image") image = spec
      if (spec.mode === "image") continue
    }
    rest.push(spec)
  }
  if (image === undefined) return unionOf(rest)
  if (rest.length === 0) return image
  if (rest.length === 1) return attachImage(rest[0]!, image)
  return attachImage(unionOf(rest), image)
}

const unionOf = (
  specs: ReadonlyArray<OutputSpec.OutputSpec<any, any>>
): OutputSpec.OutputSpec<any, any> => {
  const tools: Array<ToolConfig> = []
  let text: OutputSpec.OutputSpec<any, any> | undefined
  const setText = (spec: OutputSpec.OutputSpec<any, any>) => {
    if (text !== undefined && text !== spec) {
      throw new UserError({ reason: "Only one text output is allowed in a union." })
    }
    text = spec
  }
  for (const spec of specs) {
    if (spec.resolve !== undefined) {
      throw new UserError({
        reason:
          "Output.auto must be the only output: pass several targets to it instead of a union."
      })
    } else if (isToolSpec(spec)) {
      tools.push(...spec[toolConfigs].tools)
      if (spec[toolConfigs].text !== undefined) setText(spec[toolConfigs].text)
    } else if (spec.mode === "text") {
      setText(spec)
    } else {
      throw new UserError({
        reason: `${spec.mode === "native" ? "NativeOutput" : spec.mode === "prompted" ? "PromptedOutput" : "This output"} must be the only output: pass several schemas to it instead of a union.`
      })
    }
  }
  if (tools.length === 0) {
    if (text !== undefined) return text
    throw new UserError({ reason: "An output union needs at least one output." })
  }
  return toolSpec(tools, text)
}

/**
 * Adds a validator that runs after the output is decoded (an image output's too): it may return a new value, or fail
 * with `ModelRetry` to send the model back (counted against the output retry budget). It also
 * runs on streamed snapshots, where `RunContext.partialOutput` is `true` and failures are
 * ignored. A validated tool output keeps its validator inside `Output.union`.
 */
export const withValidator: {
  <A, R2>(
    validate: (output: A) => Effect.Effect<A, ModelRetry, R2>
  ): <R>(self: OutputSpec.OutputSpec<A, R>) => OutputSpec.OutputSpec<A, R | R2>
  <A, R, R2>(
    self: OutputSpec.OutputSpec<A, R>,
    validate: (output: A) => Effect.Effect<A, ModelRetry, R2>
  ): OutputSpec.OutputSpec<A, R | R2>
} = dual(
  2,
  <A, R, R2>(
    self: OutputSpec.OutputSpec<A, R>,
    validate: (output: A) => Effect.Effect<A, ModelRetry, R2>
  ): OutputSpec.OutputSpec<A, R | R2> => {
    if (self.resolve !== undefined) return mapModes(self, (s) => withValidator(s, validate))
    const handleImage = self.handleImage
    const imageValidated =
      handleImage === undefined
        ? {}
        : {
            handleImage: (image: BinaryContent, options: OutputSpec.HandleOptions) =>
              Effect.flatMap(handleImage(image, options), validate)
          }
    if (isToolSpec(self)) {
      const { tools, text } = self[toolConfigs]
      const rebuilt = toolSpec(
        tools.map((t) => ({
          ...t,
          entry: { ...t.entry, finish: (v: any) => Effect.flatMap(t.entry.finish(v), validate) }
        })),
        text === undefined ? undefined : withValidator(text, validate as any)
      )
      // image output added by `union` survives the rebuild, validated too
      return self.allowImageOutput === true
        ? attachImage(rebuilt, { ...self, ...imageValidated })
        : rebuilt
    }
    return {
      ...self,
      ...imageValidated,
      handleText: (text, options) => Effect.flatMap(self.handleText(text, options), validate),
      handleToolCall: (call, options) =>
        Effect.flatMap(self.handleToolCall(call, options), validate)
    }
  }
)

/** Fails with a `ModelRetry` carrying `reason`: a shorthand for validators and output functions. */
export const retry = (reason: string): Effect.Effect<never, ModelRetry> =>
  Effect.fail(new ModelRetry({ reason }))

/** Options of `auto`: each applies where the chosen mode has it. */
export interface AutoOptions {
  /** Tool name (tool mode, first target) or response format / schema title (native, prompted). */
  readonly name?: string
  readonly description?: string
  /** Ask the provider for strict schema adherence (tool and native modes). */
  readonly strict?: boolean
  /** Retries of the output (overrides the agent's `outputRetries`). */
  readonly retries?: number
  /** @deprecated Use `retries`. */
  readonly maxRetries?: number
  /** Instructions template of prompted mode (`{schema}` is replaced by the JSON Schema). */
  readonly template?: string
}

/**
 * Structured output in the mode the model does best, picked from the model's
 * `profile.defaultStructuredOutputMode` when a run starts (pydantic-ai's bare output types):
 * - `"tool"`: as `ToolOutput.make` (one output tool per target), and plain text is still
 *   decoded as JSON against the schema (markdown fences stripped; several targets answer
 *   `{ result: { kind, data } }`), a failure sending the validation errors back to the model;
 * - `"native"`: as `NativeOutput.make`;
 * - `"prompted"`: as `PromptedOutput.make`.
 *
 * It must be the only output (not inside `union`); give it several targets instead. Called
 * directly, outside a run, the spec behaves as its tool mode.
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { Output } from "@agentfx/output"
 * import { Schema } from "effect"
 *
 * const City = Schema.Struct({ city: Schema.String, country: Schema.String })
 * const agent = Agent.make({ output: Output.auto(City) }) // tool, native or prompted per model
 * ```
 */
export const auto = <const T extends Target | ReadonlyArray<Target>>(
  target: T,
  options: AutoOptions = {}
): OutputSpec.OutputSpec<OutputOf<T>, RequirementsOf<T>> => {
  const { name, description, strict, template } = options
  const retries = options.retries ?? options.maxRetries
  const common = {
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {})
  }
  const strictOption = strict !== undefined ? { strict } : {}
  const tool = ToolOutput.make(target, {
    ...common,
    ...strictOption,
    ...(retries !== undefined ? { retries } : {})
  })
  const native = NativeOutput.make(target, { ...common, ...strictOption })
  const prompted = PromptedOutput.make(target, {
    ...common,
    ...(template !== undefined ? { template } : {})
  })
  // Not a tool spec any more (no union / validator surgery on it): a plain spec in tool mode
  // whose text path decodes JSON like prompted mode does.
  const { [toolConfigs]: _, ...toolFields } = tool as typeof tool & { [toolConfigs]?: unknown }
  const toolMode: OutputSpec.OutputSpec<any, any> = {
    ...toolFields,
    handleText: prompted.handleText,
    acceptsText: true
  }
  const withBudget = (spec: OutputSpec.OutputSpec<any, any>): OutputSpec.OutputSpec<any, any> =>
    retries !== undefined ? { ...spec, maxRetries: retries } : spec
  const byMode = {
    tool: toolMode,
    native: withBudget(native),
    prompted: withBudget(prompted)
  }
  return {
    ...toolMode,
    resolve: (profile) => byMode[profile.defaultStructuredOutputMode]
  }
}
