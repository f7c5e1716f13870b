/**
 * The `Model` service: one LLM behind one interface. Providers (`@agentfx/providers`) and
 * the test models (`TestModel`, `FunctionModel`) are Layers that provide it; agents and the
 * direct API require it.
 *
 * @example
 * ```ts
 * import { Model, Messages } from "@agentfx/core"
 * const program = Effect.gen(function* () {
 *   const model = yield* Model.Model
 *   const response = yield* model.request([Messages.userPrompt("hi")], {}, Model.ModelRequestParameters.empty)
 *   return response.text
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { type ModelError, UserError } from "./AgentError.js"
import {
  loadedToolNames,
  type ModelMessage,
  type ModelResponse,
  type ModelResponseStreamEvent
} from "./Messages.js"
import type { ModelSettings } from "./ModelSettings.js"
import type { RequestUsage } from "./Usage.js"
import { BuiltinTool } from "./BuiltinTool.js"
import { type JsonSchema, ToolDefinition } from "./Tool.js"
import { unvalidated } from "./internal/construct.js"

/** How the output is asked for. */
export const OutputMode = Schema.Literal("text", "tool", "native", "prompted", "image")
/**
 * How the output is asked for: text, an output tool, a native response format, prompted JSON,
 * or an image (image output alone; other modes can allow images too: `allowImageOutput`).
 */
export type OutputMode = typeof OutputMode.Type

/** The JSON Schema of structured output for native / prompted modes. */
export class OutputObjectDefinition extends Schema.Class<OutputObjectDefinition>(
  "OutputObjectDefinition"
)({
  jsonSchema: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  name: Schema.optionalWith(Schema.String, { exact: true }),
  description: Schema.optionalWith(Schema.String, { exact: true }),
  strict: Schema.optionalWith(Schema.Boolean, { exact: true })
}) {}

/** What a request offers the model besides the messages: tools and the output it must produce. */
export class ModelRequestParameters extends Schema.Class<ModelRequestParameters>(
  "ModelRequestParameters"
)({
  functionTools: Schema.optionalWith(Schema.Array(ToolDefinition), { default: () => [] }),
  outputTools: Schema.optionalWith(Schema.Array(ToolDefinition), { default: () => [] }),
  outputMode: Schema.optionalWith(OutputMode, { default: () => "text" as const }),
  /** Set for `native` (response format) and `prompted` (schema in the instructions). */
  outputObject: Schema.optionalWith(OutputObjectDefinition, { exact: true }),
  /** May the model answer with plain text? `false` (and no image output) forces a tool call. */
  allowTextOutput: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  /**
   * May the model answer with an image (`FilePart`)? Providers then ask for images: OpenAI
   * Responses adds the `image_generation` tool (unless one is given), Gemini adds `IMAGE` to
   * `responseModalities`; tool choice stays `auto`.
   */
  allowImageOutput: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** Tools the provider runs itself (see `BuiltinTool`); a provider without one fails with `UserError`. */
  builtinTools: Schema.optionalWith(Schema.Array(BuiltinTool), { default: () => [] })
}) {
  static readonly empty: ModelRequestParameters = new ModelRequestParameters({})
  /** May the model end the turn without a tool call (text or image output allowed)? */
  get allowDirectOutput(): boolean {
    return this.allowTextOutput || this.allowImageOutput
  }
  /** Function and output tools together. */
  get allTools(): ReadonlyArray<ToolDefinition> {
    return this.outputTools.length === 0
      ? this.functionTools
      : [...this.functionTools, ...this.outputTools]
  }
}

// Per request (a run's tools change between steps): without the Schema constructor's work.
const makeModelRequestParameters = unvalidated(ModelRequestParameters)
const makeToolDefinition = unvalidated(ToolDefinition)

/** A function that rewrites a JSON Schema for a provider's dialect (OpenAI strict, Gemini…). */
export type JsonSchemaTransformer = (
  schema: JsonSchema,
  options: { readonly strict?: boolean }
) => {
  readonly schema: JsonSchema
  /** Whether the transformed schema is valid in strict mode. */
  readonly isStrictCompatible: boolean
}

/** What a model supports. Providers fill it per model; the run loop and output modes read it. */
export interface ModelProfile {
  readonly supportsTools: boolean
  /** Native JSON-schema output (`response_format` / `responseSchema`). */
  readonly supportsJsonSchemaOutput: boolean
  readonly supportsJsonObjectOutput: boolean
  readonly supportsThinking: boolean
  /** Which mode structured output uses when the user did not pick one. */
  readonly defaultStructuredOutputMode: "tool" | "native" | "prompted"
  /** Rewrites tool and output schemas before they are sent. */
  readonly jsonSchemaTransformer: JsonSchemaTransformer | undefined
  /** Instructions template for prompted output; `{schema}` is replaced by the JSON Schema. */
  readonly promptedOutputTemplate: string
  /** Leading whitespace-only text in a stream does not count as output. */
  readonly ignoreStreamedLeadingWhitespace: boolean
  /**
   * The provider takes deferred tools (`ToolDefinition.deferLoading`) and loads them itself
   * (Anthropic, OpenAI Responses). Without it the run loop sends only the deferred tools the
   * conversation has loaded, as ordinary tools (`revealDeferredTools`).
   */
  readonly supportsToolDeferral?: boolean
  /**
   * The provider has a field for a tool's return schema (Gemini `responseJsonSchema`): tools with
   * `includeReturnSchema` send it there. Without it `describeReturnSchemas` puts the schema at the
   * end of their descriptions.
   */
  readonly supportsToolReturnSchema?: boolean
  /**
   * The model can generate images (OpenAI Responses models with `image_generation`, Gemini
   * image models): image output (`allowImageOutput`) needs it, else the run fails with "Image
   * output is not supported by this model."
   */
  readonly supportsImageOutput?: boolean
}

/**
 * The parameters for a provider that cannot defer tools: deferred tools the conversation has not
 * loaded yet (`Messages.loadedToolNames`) are left out, the loaded ones go as ordinary tools.
 * Returns `parameters` itself when no tool is deferred.
 */
export const revealDeferredTools = (
  messages: ReadonlyArray<ModelMessage>,
  parameters: ModelRequestParameters
): ModelRequestParameters => {
  if (!parameters.functionTools.some((t) => t.deferLoading === true)) return parameters
  const loaded = loadedToolNames(messages)
  const functionTools: Array<ToolDefinition> = []
  for (const t of parameters.functionTools) {
    if (t.deferLoading !== true) functionTools.push(t)
    else if (loaded.has(t.name)) {
      const { deferLoading: _, ...rest } = t
      functionTools.push(makeToolDefinition(rest))
    }
  }
  return makeModelRequestParameters.copy(parameters, { functionTools })
}

/** How a tool's return schema ends its description, for providers without a field for it. */
export const returnSchemaText = (schema: Readonly<Record<string, unknown>>): string =>
  `Return schema (JSON Schema of what this tool returns): ${JSON.stringify(schema)}`

/**
 * The parameters for a provider without a return-schema field: each function tool with
 * `includeReturnSchema` and a `returnSchema` gets the schema at the end of its description
 * (`returnSchemaText`). Returns `parameters` itself when no tool asks for it.
 */
export const describeReturnSchemas = (
  parameters: ModelRequestParameters
): ModelRequestParameters => {
  const wants = (t: ToolDefinition) =>
    t.includeReturnSchema === true && t.returnSchema !== undefined
  if (!parameters.functionTools.some(wants)) return parameters
  const functionTools = parameters.functionTools.map((t) => {
    if (!wants(t)) return t
    const text = returnSchemaText(t.returnSchema!)
    return makeToolDefinition.copy(t, {
      description: t.description === undefined ? text : `${t.description}\n\n${text}`
    })
  })
  return makeModelRequestParameters.copy(parameters, { functionTools })
}

/** The default prompted-output template. */
export const defaultPromptedOutputTemplate =
  "Always respond with a JSON object that's compatible with this schema:\n\n{schema}\n\nDon't include any text or Markdown fencing before or after."

/** A profile for a model that supports tools and little else. */
export const defaultProfile: ModelProfile = {
  supportsTools: true,
  supportsJsonSchemaOutput: false,
  supportsJsonObjectOutput: false,
  supportsThinking: false,
  defaultStructuredOutputMode: "tool",
  jsonSchemaTransformer: undefined,
  promptedOutputTemplate: defaultPromptedOutputTemplate,
  ignoreStreamedLeadingWhitespace: false
}

/** A profile with some fields overridden. */
export const profile = (overrides: Partial<ModelProfile>): ModelProfile => ({
  ...defaultProfile,
  ...overrides
})

/**
 * Receives the events of one network read of a pushed stream (see `StreamedResponse.push`), in
 * order, synchronously: it must not block or throw (a throw is a defect that ends the stream).
 */
export type StreamEventsCallback = (events: ReadonlyArray<ModelResponseStreamEvent>) => void

/**
 * A response being streamed. Its events are read ONCE, either as `events` (an Effect `Stream`)
 * or with `push` (a callback, when the model offers it); `response` is a snapshot of what has
 * arrived so far (complete once the events ended), so an interrupted run can keep the part it saw.
 */
export interface StreamedResponse {
  readonly modelName: string
  readonly events: Stream.Stream<ModelResponseStreamEvent, ModelError>
  readonly response: Effect.Effect<ModelResponse>
  /**
   * Reads the same events as `events` without a `Stream`: each network read's decoded events go
   * to `onEvents` as they are decoded (no channel step per read, no back-pressure), and the
   * Effect succeeds with the final response — the one the `ResponseCompleteEvent` (also pushed,
   * last) carries. Fails exactly as `events` would (status errors already surfaced when the
   * response was opened; broken stream, idle / total timeouts, malformed events, in-stream
   * errors); interrupting it aborts the request. Optional: a model without it is read through
   * `events` (`Agent` `run` with `onEvent` falls back to it). A wrapper that rewrites `events`
   * must rewrite `push` the same way or leave it out, never pass the inner one through.
   */
  readonly push?:
    | ((onEvents: StreamEventsCallback) => Effect.Effect<ModelResponse, ModelError>)
    | undefined
}

/** The service a model provides. */
export interface Service {
  /** The model's name as the provider knows it (`gpt-4o`). */
  readonly modelName: string
  /** The provider / system name (`openai`, `anthropic`, `test`, `function`). */
  readonly system: string
  readonly profile: ModelProfile
  /** Settings of the model itself; the run's settings are merged over them. */
  readonly settings: ModelSettings | undefined
  /** Sends a request and waits for the whole response. */
  readonly request: (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: ModelRequestParameters
  ) => Effect.Effect<ModelResponse, ModelError>
  /**
   * Opens a streamed response. Errors before the first event (status, retries) surface here;
   * the connection lives as long as the scope.
   */
  readonly requestStream: (
    messages: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: ModelRequestParameters
  ) => Effect.Effect<StreamedResponse, ModelError, Scope.Scope>
  /**
   * Counts the input tokens these messages would cost, with the provider's own tokenizer
   * (Anthropic `count_tokens`, Gemini `countTokens`, OpenAI Responses `input_tokens`), without
   * generating anything. Only models whose provider can count have it; `HistoryProcessor.tokenBudget`
   * falls back to an estimate otherwise. The answer is a `RequestUsage` with `inputTokens` set.
   */
  readonly countTokens?:
    | ((
        messages: ReadonlyArray<ModelMessage>,
        settings: ModelSettings,
        parameters: ModelRequestParameters
      ) => Effect.Effect<RequestUsage, ModelError>)
    | undefined
}

/** The model a program talks to. */
export class Model extends Context.Tag("@agentfx/core/Model")<Model, Service>() {}

/** Builds a `Model` service value. */
export const make = (service: Service): Service => service

/** `"provider:model"` strings resolved to models, e.g. `"openai:gpt-4o"`; implemented by providers. */
export interface RegistryService {
  readonly resolve: (name: string) => Effect.Effect<Service, UserError>
}

/** Resolves model strings. `@agentfx/providers` ships a Layer for it. */
export class ModelRegistry extends Context.Tag("@agentfx/core/ModelRegistry")<
  ModelRegistry,
  RegistryService
>() {}

/**
 * How a model is given to an agent, a run or the direct API: a `Service`, a Layer providing
 * `Model`, or a `"provider:model"` string (resolved by the `ModelRegistry`).
 */
export type Input = Service | string | Layer.Layer<Model, any, any>

/** The errors of resolving a model input: a string's `UserError`, a Layer's own errors. */
export type InputError<M> = M extends string
  ? UserError
  : M extends Layer.Layer<Model, infer E, any>
    ? E
    : never

/** The services resolving a model input needs: the `ModelRegistry` for a string, a Layer's own. */
export type InputContext<M> = M extends string
  ? ModelRegistry
  : M extends Layer.Layer<Model, any, infer R>
    ? R
    : never

/** Where `resolve` builds a model Layer: in `scope`, under `parentSpan` when given. */
export interface ResolveOptions {
  readonly scope: Scope.Scope
  readonly parentSpan?: Tracer.AnySpan | undefined
}

/** The error text of a `"provider:model"` string with no `ModelRegistry` to resolve it. */
export const noRegistryReason = (model: string): string =>
  `Cannot resolve the model "${model}": no ModelRegistry is provided. Provide ` +
  "ModelRegistry.layer() from @agentfx/providers (with an HttpClient such as " +
  "NodeHttpClient.layerUndici), or give the model as a Layer instead of a string."

/**
 * The model of an input — the one resolution used by agents and the direct API. A service is
 * used as is; a string is resolved by the `ModelRegistry` in context (none: a `UserError`
 * saying which Layer to provide); a Layer is built in the current `Scope`, or in
 * `options.scope` (under `options.parentSpan`), and lives as long as that scope.
 *
 * @example
 * ```ts
 * import { Model, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const name = Effect.scoped(
 *   Effect.map(Model.resolve(TestModel.layer()), (model) => model.modelName)
 * )
 * ```
 */
export function resolve<M extends Input>(
  model: M
): Effect.Effect<Service, InputError<M>, InputContext<M> | Scope.Scope>
export function resolve<M extends Input>(
  model: M,
  options: ResolveOptions
): Effect.Effect<Service, InputError<M>, InputContext<M>>
export function resolve(
  model: Input,
  options?: ResolveOptions
): Effect.Effect<Service, unknown, unknown> {
  const parent = options?.parentSpan
  if (typeof model === "string") {
    const resolved = Effect.flatMap(Effect.serviceOption(ModelRegistry), (registry) =>
      Option.isSome(registry)
        ? registry.value.resolve(model)
        : Effect.fail(new UserError({ reason: noRegistryReason(model) }))
    )
    return parent === undefined ? resolved : Effect.withParentSpan(resolved, parent)
  }
  if (Layer.isLayer(model)) {
    const layer = model as Layer.Layer<Model, unknown, unknown>
    const built =
      options === undefined ? Layer.build(layer) : Layer.buildWithScope(layer, options.scope)
    return Effect.map(
      parent === undefined ? built : Effect.withParentSpan(built, parent),
      (context) => Context.get(context, Model)
    )
  }
  return Effect.succeed(model as Service)
}
