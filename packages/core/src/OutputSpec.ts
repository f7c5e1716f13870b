/**
 * The protocol between the run loop and an output mode. Core ships plain text; the
 * structured modes (`ToolOutput`, `NativeOutput`, `PromptedOutput`, `TextOutput`, unions,
 * output functions) live in `@agentfx/output` and implement this interface.
 *
 * The run loop:
 * 1. sends `toolDefinitions(profile)` as output tools, `outputObject` for native/prompted,
 *    `instructions(profile)` appended to the instructions, `allowTextOutput`;
 * 2. when the response has a call of an output tool, decodes it with `handleToolCall`;
 *    otherwise, with an image file and `allowImageOutput`, decodes the image with `handleImage`
 *    (an image beats text); otherwise, with text and `allowTextOutput`, decodes the text with
 *    `handleText`;
 * 3. a `ModelRetry` from either becomes a retry prompt counted against the output budget.
 * While streaming, the same functions run with `partial: true` on snapshots, and failures are
 * swallowed.
 *
 * @example
 * ```ts
 * import { Agent, AgentError, OutputSpec } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * // a custom text mode: the answer must be a number, else the model is asked again
 * const number = OutputSpec.make<number>({
 *   mode: "text",
 *   allowTextOutput: true,
 *   handleText: (text) => {
 *     const n = Number(text.trim())
 *     return Number.isNaN(n)
 *       ? Effect.fail(new AgentError.ModelRetry({ reason: "Answer with a number only." }))
 *       : Effect.succeed(n)
 *   },
 *   handleToolCall: (call) => Effect.dieMessage(`no output tools (called: ${call.toolName})`)
 * })
 * const agent = Agent.make({ output: number }) // Agent<number, never, Model>
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { ModelRetry, UserError } from "./AgentError.js"
import type { BinaryContent, ToolCallPart } from "./Messages.js"
import type { ModelProfile, OutputMode, OutputObjectDefinition } from "./Model.js"
import type { RunContext } from "./RunContext.js"
import type { ToolDefinition } from "./Tool.js"

/** Brands output specs, so `isOutputSpec` can tell them from Schemas and output functions. */
export const TypeId: unique symbol = Symbol.for("@agentfx/core/OutputSpec")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** Options passed to the decode functions. */
export interface HandleOptions {
  /** Decoding a streamed snapshot: be lenient, the value is incomplete. */
  readonly partial: boolean
}

/** An output mode producing `A`, possibly needing services `R`. */
export interface OutputSpec<out A, out R = never> extends Pipeable {
  readonly [TypeId]: TypeId
  /** The mode the model is asked for. */
  readonly mode: OutputMode
  /** May the model end the run with plain text? */
  readonly allowTextOutput: boolean
  /** Output tools to offer the model (tool mode), after the profile's adjustments. */
  readonly toolDefinitions: (profile: ModelProfile) => ReadonlyArray<ToolDefinition>
  /** The structured output schema for native / prompted modes. */
  readonly outputObject: (profile: ModelProfile) => OutputObjectDefinition | undefined
  /** Extra instructions for this output (prompted mode puts the schema here). */
  readonly instructions: (profile: ModelProfile) => string | undefined
  /** Retries allowed for output (overrides the agent's `outputRetries` when set). */
  readonly maxRetries: number | undefined
  /**
   * The retry budget of one output tool (pydantic-ai's `ToolOutput(max_retries=…)`), on top of
   * the global output budget, which still counts every output failure. When this function is
   * given, an output tool it returns `undefined` for gets the agent's `outputRetries`; without
   * it, output tools share the global budget only. Exhausting it fails the run with
   * "Tool '{name}' exceeded max retries count of {n}: …".
   */
  readonly maxRetriesFor?: (toolName: string) => number | undefined
  /** Decodes the response text into the output. */
  readonly handleText: (
    text: string,
    options: HandleOptions
  ) => Effect.Effect<A, ModelRetry, R | RunContext>
  /** Decodes a call of one of the output tools into the output. */
  readonly handleToolCall: (
    call: ToolCallPart,
    options: HandleOptions
  ) => Effect.Effect<A, ModelRetry, R | RunContext>
  /**
   * May the model end the run with an image (a `FilePart` holding an image)? Image output
   * (`ImageOutput` in `@agentfx/output`) sets it, alone or next to other outputs.
   */
  readonly allowImageOutput?: boolean
  /** Decodes the first image the response holds into the output (with `allowImageOutput`). */
  readonly handleImage?: (
    image: BinaryContent,
    options: HandleOptions
  ) => Effect.Effect<A, ModelRetry, R | RunContext>
  /** Is `toolName` one of this spec's output tools? */
  readonly isOutputTool: (toolName: string) => boolean
  /**
   * Decode plain text with `handleText` even though `allowTextOutput` is `false`: the model is
   * asked for a tool call, but text that decodes (JSON matching the schema) ends the run too.
   * Auto output in tool mode works this way (pydantic-ai's bare output types).
   */
  readonly acceptsText?: boolean
  /**
   * Auto output: picks the concrete spec for the model's profile (tool, native or prompted, from
   * `profile.defaultStructuredOutputMode`). The run loop resolves it once the model is known and
   * uses the result for the whole run; the spec's own fields serve callers that never resolve.
   */
  readonly resolve?: (profile: ModelProfile) => OutputSpec<A, R>
  /**
   * Can this model serve this output? The run loop calls it before the first request and
   * fails the run with the returned error (e.g. native output on a model without JSON-schema
   * output: "Native structured output is not supported by this model.").
   */
  readonly check?: (profile: ModelProfile) => UserError | undefined
  /**
   * The JSON Schema of the output value itself, for `Agent.outputJsonSchema` (pydantic-ai's
   * `output_json_schema()`). Optional: without it the schema is derived from what the model is
   * asked to produce (text, output tool arguments, the native / prompted schema).
   */
  readonly outputJsonSchema?: (profile: ModelProfile) => Record<string, unknown>
}

/** Any output spec. */
export type Any = OutputSpec<any, any>
/** The output type of a spec. */
export type Output<S> = S extends OutputSpec<infer A, any> ? A : never
/** The services a spec needs. */
export type Requirements<S> = S extends OutputSpec<any, infer R> ? R : never

/** Builds a spec, filling defaults. */
export const make = <A, R = never>(
  spec: Omit<
    OutputSpec<A, R>,
    | TypeId
    | "pipe"
    | "isOutputTool"
    | "maxRetries"
    | "toolDefinitions"
    | "outputObject"
    | "instructions"
  > &
    Partial<
      Pick<
        OutputSpec<A, R>,
        "isOutputTool" | "maxRetries" | "toolDefinitions" | "outputObject" | "instructions"
      >
    >
): OutputSpec<A, R> => {
  const toolDefinitions = spec.toolDefinitions ?? (() => [])
  return {
    [TypeId]: TypeId,
    maxRetries: undefined,
    outputObject: () => undefined,
    instructions: () => undefined,
    isOutputTool: (name) => toolDefinitions(defaultProfileForNames).some((t) => t.name === name),
    ...spec,
    toolDefinitions,
    // an own property, so specs built by spreading another spec stay pipeable
    pipe() {
      return pipeArguments(this, arguments)
    }
  }
}

// Tool names never depend on the profile; any profile will do to list them.
import { defaultProfile as defaultProfileForNames } from "./Model.js"

/** Is this value an output spec? */
export const isOutputSpec = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && TypeId in u

/** Plain text output: the default. */
export const text: OutputSpec<string> = make<string>({
  mode: "text",
  allowTextOutput: true,
  handleText: (text) => Effect.succeed(text),
  handleToolCall: (call) =>
    Effect.dieMessage(`text output has no output tools (called: ${call.toolName})`)
})

/**
 * The JSON Schema of an image output (a `Messages.BinaryContent` as JSON: base64 `data` and an
 * `image/*` media type), for `Agent.outputJsonSchema`.
 */
export const imageJsonSchema: Record<string, unknown> = {
  type: "object",
  title: "BinaryImage",
  description: "An image the model generated: base64 bytes and their media type.",
  properties: {
    _tag: { const: "BinaryContent" },
    data: { type: "string", contentEncoding: "base64" },
    mediaType: { type: "string", pattern: "^image/" },
    identifier: { type: "string" }
  },
  required: ["_tag", "data", "mediaType"]
}
