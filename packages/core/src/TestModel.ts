/**
 * A deterministic model for tests, driven by the request's schemas (pydantic-ai's `TestModel`).
 * The first response calls every function tool with arguments generated from its JSON Schema;
 * the next one answers: text summarising the tool returns (or `success (no tool calls)`), or a
 * call of an output tool with generated arguments, or JSON generated from the native / prompted
 * output schema. Retry prompts make it call just the tools that asked for a retry again.
 *
 * Every request is recorded, so a test can assert on what the agent sent.
 *
 * @example
 * ```ts
 * import { TestModel } from "@agentfx/core"
 *
 * it.effect("calls the tool", () =>
 *   Effect.gen(function* () {
 *     const result = yield* agent.run("hi")
 *     const test = yield* TestModel.TestModel
 *     const last = yield* test.lastRequest
 *     // last.parameters.functionTools, last.settings, last.messages
 *   }).pipe(Effect.provide(TestModel.layer({ seed: 1 })))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { type ModelError, UserError } from "./AgentError.js"
import {
  type ModelMessage,
  ModelResponse,
  type ModelResponsePart,
  type ModelResponseStreamEvent
} from "./Messages.js"
import * as Model from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import { PartsManager } from "./PartsManager.js"
import type { ToolDefinition } from "./Tool.js"
import { generate } from "./internal/schemaData.js"
import { estimateUsage } from "./internal/usageEstimate.js"
import { streamSpanIfRecorded, withSpanIfRecorded } from "./internal/spanRegion.js"
import {
  makeModelResponse,
  makeResponseCompleteEvent,
  makeTextPart,
  makeToolCallPart
} from "./internal/makers.js"

/** Options of `TestModel`. */
export interface Options {
  /** Which function tools the first response calls: `"all"` (default) or a list of names. */
  readonly callTools?: "all" | ReadonlyArray<string>
  /** The final text answer (instead of the tool-return summary). Not allowed in tool output mode. */
  readonly customOutputText?: string
  /** The arguments of the output-tool call (instead of generated ones). */
  readonly customOutputArgs?: unknown
  /** Seed of the data generator: picks enum members, union branches, numbers, strings. Default 0. */
  readonly seed?: number
  /** Default `"test"`. */
  readonly modelName?: string
  readonly profile?: Model.ModelProfile
  readonly settings?: ModelSettings
}

/** A request the test model received. */
export interface RecordedRequest {
  readonly messages: ReadonlyArray<ModelMessage>
  readonly settings: ModelSettings
  readonly parameters: Model.ModelRequestParameters
  readonly streamed: boolean
}

/** The test model's own service: the `Model` plus what it recorded. */
export interface Service {
  readonly model: Model.Service
  readonly options: Options
  /** Every request received, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** The latest request; fails with `NoSuchElementException` before any request. */
  readonly lastRequest: Effect.Effect<
    RecordedRequest,
    import("effect/Cause").NoSuchElementException
  >
  /** The parameters of the latest request, if any (pydantic-ai's `last_model_request_parameters`). */
  readonly lastModelRequestParameters: Effect.Effect<Option.Option<Model.ModelRequestParameters>>
}

/** Access to the test model of a program (provided by `layer` alongside `Model.Model`). */
export class TestModel extends Context.Tag("@agentfx/core/TestModel")<TestModel, Service>() {}

/** The profile of the test model: tools and JSON-schema / JSON-object output. */
export const defaultProfile: Model.ModelProfile = Model.profile({
  supportsJsonSchemaOutput: true,
  supportsJsonObjectOutput: true
})

/** The system name of the test model. */
export const system = "test"

/** The tool-call id the test model uses for `name` (`test_call_{name}`). */
export const toolCallId = (name: string): string => `test_call_${name}`

/** Arguments generated for a tool definition's JSON Schema with `seed`. */
export const generateArgs = (definition: ToolDefinition, seed = 0): Record<string, unknown> =>
  generate(definition.parametersJsonSchema, seed) as Record<string, unknown>

/** Data generated for a JSON Schema with `seed` (minimal values that satisfy it). */
export const generateData = (jsonSchema: Record<string, unknown>, seed = 0): unknown =>
  generate(jsonSchema, seed)

type Output =
  | { readonly kind: "text"; readonly value: string | undefined }
  | { readonly kind: "tool"; readonly value: unknown }

const fail = (reason: string) => Effect.fail(new UserError({ reason: `TestModel: ${reason}` }))

/**
 * Output tools for non-object outputs take `{ response: value }`: custom output args are
 * wrapped when the tool's schema is exactly that and the args are not already wrapped.
 */
const wrapOutputArgs = (definition: ToolDefinition, args: unknown): unknown => {
  const schema = definition.parametersJsonSchema
  const properties = schema.properties
  const isWrapper =
    typeof properties === "object" &&
    properties !== null &&
    Object.keys(properties).length === 1 &&
    "response" in properties
  const alreadyWrapped =
    typeof args === "object" && args !== null && !Array.isArray(args) && "response" in args
  return isWrapper && !alreadyWrapped ? { response: args } : args
}

/** Computes the response to a request (pydantic-ai's `TestModel._request`). */
const respond = (
  options: Options,
  modelName: string,
  messages: ReadonlyArray<ModelMessage>,
  parameters: Model.ModelRequestParameters
): Effect.Effect<ModelResponse, UserError> =>
  Effect.suspend(() => {
    const seed = options.seed ?? 0
    const callTools = options.callTools ?? "all"
    let toolsToCall: ReadonlyArray<ToolDefinition>
    if (callTools === "all") {
      toolsToCall = parameters.functionTools
    } else {
      const byName = new Map(parameters.functionTools.map((t) => [t.name, t]))
      const missing = callTools.filter((n) => !byName.has(n))
      if (missing.length > 0) return fail(`unknown tools in callTools: ${missing.join(", ")}`)
      toolsToCall = callTools.map((n) => byName.get(n)!)
    }

    // Which output to produce.
    let output: Output
    if (options.customOutputText !== undefined) {
      if (parameters.outputMode === "tool")
        return fail("plain text is not allowed, but `customOutputText` is set")
      if (options.customOutputArgs !== undefined)
        return fail("cannot set both `customOutputText` and `customOutputArgs`")
      output = { kind: "text", value: options.customOutputText }
    } else if (options.customOutputArgs !== undefined) {
      if (parameters.outputTools.length === 0)
        return fail("no output tools given, but `customOutputArgs` is set")
      output = { kind: "tool", value: options.customOutputArgs }
    } else if (
      (parameters.outputMode === "native" || parameters.outputMode === "prompted") &&
      parameters.outputObject !== undefined
    ) {
      output = {
        kind: "text",
        value: JSON.stringify(generate(parameters.outputObject.jsonSchema, seed))
      }
    } else if (parameters.allowTextOutput) {
      output = { kind: "text", value: undefined }
    } else if (parameters.outputTools.length > 0) {
      output = { kind: "tool", value: undefined }
    } else {
      output = { kind: "text", value: undefined }
    }

    const response = (parts: ReadonlyArray<ModelResponsePart>) =>
      makeModelResponse({ parts, modelName, providerName: system })
    const call = (definition: ToolDefinition, args?: unknown) =>
      makeToolCallPart({
        toolName: definition.name,
        args: (args === undefined
          ? generateArgs(definition, seed)
          : wrapOutputArgs(definition, args)) as Record<string, unknown>,
        toolCallId: toolCallId(definition.name)
      })

    // First request with tools: call them all.
    if (toolsToCall.length > 0 && !messages.some((m) => m._tag === "ModelResponse")) {
      return Effect.succeed(response(toolsToCall.map((t) => call(t))))
    }

    const last = messages[messages.length - 1]
    if (last !== undefined && last._tag === "ModelRequest") {
      const retryNames = new Set<string>()
      for (const p of last.parts) {
        if (p._tag === "RetryPromptPart" && p.toolName !== undefined) retryNames.add(p.toolName)
      }
      if (retryNames.size > 0) {
        const parts: Array<ModelResponsePart> = toolsToCall
          .filter((t) => retryNames.has(t.name))
          .map((t) => call(t))
        for (const t of parameters.outputTools) {
          if (retryNames.has(t.name)) {
            parts.push(call(t, output.kind === "tool" ? output.value : undefined))
          }
        }
        // A retry of a tool that is no longer offered falls through to the output.
        if (parts.length > 0) return Effect.succeed(response(parts))
      }
    }

    if (output.kind === "text") {
      if (output.value !== undefined) {
        return Effect.succeed(response([makeTextPart({ content: output.value })]))
      }
      const returns: Record<string, unknown> = {}
      let any = false
      for (const m of messages) {
        if (m._tag !== "ModelRequest") continue
        for (const p of m.parts) {
          if (p._tag === "ToolReturnPart") {
            returns[p.toolName] = p.content
            any = true
          }
        }
      }
      const content = any ? JSON.stringify(returns) : "success (no tool calls)"
      return Effect.succeed(response([makeTextPart({ content })]))
    }
    if (parameters.outputTools.length === 0) return fail("no output tools given")
    const outputTool = parameters.outputTools[seed % parameters.outputTools.length]!
    return Effect.succeed(response([call(outputTool, output.value)]))
  })

/** Text split the way the test model streams it: words with their trailing space; one long word in halves. */
export const streamWords = (text: string): Array<string> => {
  const split = text.split(" ")
  const words = split.map((w, i) => (i < split.length - 1 ? `${w} ` : w))
  if (words.length === 1 && text.length > 2) {
    const mid = Math.floor(text.length / 2)
    return [text.slice(0, mid), text.slice(mid)]
  }
  return words
}

/** Builds a test model service. */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.map(Ref.make<ReadonlyArray<RecordedRequest>>([]), (recorded) => {
    const modelName = options.modelName ?? "test"
    const record = (request: RecordedRequest) => Ref.update(recorded, (all) => [...all, request])

    const request = (
      messages: ReadonlyArray<ModelMessage>,
      settings: ModelSettings,
      parameters: Model.ModelRequestParameters
    ): Effect.Effect<ModelResponse, ModelError> =>
      record({ messages, settings, parameters, streamed: false }).pipe(
        Effect.zipRight(respond(options, modelName, messages, parameters)),
        Effect.map((r) => makeModelResponse.copy(r, { usage: estimateUsage([...messages, r]) })),
        withSpanIfRecorded("TestModel.request", {
          attributes: { "gen_ai.request.model": modelName }
        })
      )

    const requestStream = (
      messages: ReadonlyArray<ModelMessage>,
      settings: ModelSettings,
      parameters: Model.ModelRequestParameters
    ): Effect.Effect<Model.StreamedResponse, ModelError> =>
      Effect.withFiberRuntime((fiber) =>
        record({ messages, settings, parameters, streamed: true }).pipe(
          Effect.zipRight(respond(options, modelName, messages, parameters)),
          Effect.map((structured): Model.StreamedResponse => {
            const usage = estimateUsage([...messages, structured])
            const manager = new PartsManager()
            manager.info.modelName = modelName
            manager.info.providerName = system
            manager.info.usage = usage
            let done = false
            // One chunk per part: text as an empty start then word deltas, tool calls whole.
            const chunks = structured.parts.map((part, i) => () => {
              const out: Array<ModelResponseStreamEvent> = []
              if (part._tag === "TextPart") {
                out.push(manager.textDelta(String(i), "")!)
                for (const word of streamWords(part.content)) {
                  const e = manager.textDelta(String(i), word)
                  if (e !== undefined) out.push(e)
                }
              } else {
                out.push(manager.part(String(i), part))
              }
              return Chunk.unsafeFromArray(out)
            })
            const end = () => {
              const out: Array<ModelResponseStreamEvent> = manager.finish()
              done = true
              out.push(
                makeResponseCompleteEvent({ response: manager.response({ state: "complete" }) })
              )
              return Chunk.unsafeFromArray(out)
            }
            const events = Stream.fromIterable([...chunks, end]).pipe(
              Stream.mapConcatChunk((f) => f()),
              streamSpanIfRecorded(fiber, "TestModel.requestStream", {
                attributes: { "gen_ai.request.model": modelName }
              })
            )
            return {
              modelName,
              events,
              response: Effect.sync(() =>
                manager.response({ state: done ? "complete" : "incomplete" })
              )
            }
          })
        )
      )

    const model = Model.make({
      modelName,
      system,
      profile: options.profile ?? defaultProfile,
      settings: options.settings,
      request,
      requestStream
    })

    return TestModel.of({
      model,
      options,
      requests: Ref.get(recorded),
      lastRequest: Effect.flatMap(Ref.get(recorded), (all) =>
        Option.fromNullable(all[all.length - 1])
      ),
      lastModelRequestParameters: Effect.map(Ref.get(recorded), (all) =>
        Option.map(Option.fromNullable(all[all.length - 1]), (r) => r.parameters)
      )
    })
  })

/**
 * A Layer providing `Model.Model` (the test model) and `TestModel` (its recordings).
 * Each build of the layer starts with no recorded requests.
 */
export const layer = (options: Options = {}): Layer.Layer<Model.Model | TestModel> =>
  Layer.effectContext(
    Effect.map(make(options), (service) =>
      Context.make(TestModel, service).pipe(Context.add(Model.Model, service.model))
    )
  )
