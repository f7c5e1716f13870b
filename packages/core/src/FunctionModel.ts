/**
 * A model whose responses come from a function you write: the tool for testing how an agent
 * reacts to exact responses (a given tool call, bad arguments, a retry, a streamed answer).
 * The function sees the whole conversation and an `AgentInfo` describing the request.
 *
 * @example
 * ```ts
 * import { FunctionModel, Messages } from "@agentfx/core"
 *
 * const model = FunctionModel.layer((messages, info) =>
 *   info.functionTools.length > 0 && messages.length === 1
 *     ? FunctionModel.toolCall(info.functionTools[0]!.name, { city: "Paris" })
 *     : FunctionModel.text("It is sunny.")
 * )
 * // streaming: strings are text deltas, records index → DeltaToolCall are tool-call deltas
 * const streaming = FunctionModel.layer(undefined, {
 *   stream: () => Stream.make("It is ", "sunny.")
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { type ModelError, UserError } from "./AgentError.js"
import {
  FilePart,
  type ModelMessage,
  ModelRequest,
  ModelResponse,
  type ModelResponseStreamEvent,
  type ToolArgs
} from "./Messages.js"
import * as Model from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import { PartsManager } from "./PartsManager.js"
import type { ToolDefinition } from "./Tool.js"
import { estimateUsage, hasValues } from "./internal/usageEstimate.js"
import {
  makeModelResponse,
  makeResponseCompleteEvent,
  makeTextPart,
  makeToolCallPart
} from "./internal/makers.js"
import { streamSpanIfRecorded, withSpanIfRecorded } from "./internal/spanRegion.js"

/** What the function is told about the request besides the messages. */
export interface AgentInfo {
  /** The function tools the model may call. */
  readonly functionTools: ReadonlyArray<ToolDefinition>
  /** The output tools (tool output mode). */
  readonly outputTools: ReadonlyArray<ToolDefinition>
  /** May the response be plain text? `false` (and no image output) means a tool must be called. */
  readonly allowTextOutput: boolean
  /** May the response be an image (a `FilePart`)? Set by image output. */
  readonly allowImageOutput: boolean
  readonly outputMode: Model.OutputMode
  /** The structured output schema in native / prompted mode. */
  readonly outputObject: Model.OutputObjectDefinition | undefined
  /** The merged settings of the request. */
  readonly modelSettings: ModelSettings
  /** The instructions of the latest request, if any. */
  readonly instructions: string | undefined
  /** The raw request parameters. */
  readonly parameters: Model.ModelRequestParameters
}

/** What a model function may produce: a response, or a string (a response with one text part). */
export type FunctionResult = ModelResponse | string

/** A model function for non-streamed requests. */
export type ModelFunction<R = never> = (
  messages: ReadonlyArray<ModelMessage>,
  info: AgentInfo
) => FunctionResult | Effect.Effect<FunctionResult, ModelError, R>

/** A fragment of a streamed tool call, like pydantic-ai's `DeltaToolCall`. */
export interface DeltaToolCall {
  /** The tool name (or a fragment of it). The call starts once the name is known. */
  readonly name?: string
  /** A fragment of the JSON arguments. */
  readonly jsonArgs?: string
  readonly toolCallId?: string
}

/** A fragment of streamed reasoning. */
export interface DeltaThinking {
  readonly content?: string
  readonly signature?: string
}

/** Tool-call fragments keyed by the tool call's index in the response. */
export type DeltaToolCalls = { readonly [index: number]: DeltaToolCall }
/** Thinking fragments keyed by the thinking part's index. */
export type DeltaThinkingCalls = { readonly [index: number]: DeltaThinking }

/**
 * One item of a streamed response: a string is a text delta; a record maps an index to a
 * `DeltaToolCall` (`{ name, jsonArgs, toolCallId }`) or a `DeltaThinking` (`{ content, signature }`);
 * a `FilePart` is a generated file, arriving whole.
 */
export type StreamItem = string | DeltaToolCalls | DeltaThinkingCalls | FilePart

/** A model function for streamed requests. */
export type StreamFunction<R = never> = (
  messages: ReadonlyArray<ModelMessage>,
  info: AgentInfo
) => Stream.Stream<StreamItem, ModelError, R>

/** Options of `make` / `layer`. */
export interface Options<R = never> {
  /** Serves `requestStream`. Without it, streaming fails with a `UserError`. */
  readonly stream?: StreamFunction<R>
  /** Defaults to `function:<fn name>:<stream fn name>` as in pydantic-ai. */
  readonly modelName?: string
  readonly profile?: Model.ModelProfile
  readonly settings?: ModelSettings
}

/**
 * The profile of function models: tools, JSON-schema / JSON-object output, and image output
 * (the function may answer with a `FilePart`).
 */
export const defaultProfile: Model.ModelProfile = Model.profile({
  supportsJsonSchemaOutput: true,
  supportsJsonObjectOutput: true,
  supportsImageOutput: true
})

/** The system name of function models. */
export const system = "function"

/**
 * The instructions of the latest request. A request holding only tool returns (sent after an
 * output tool ended the run) falls back to the request before it, as pydantic-ai does.
 */
export const instructionsOf = (messages: ReadonlyArray<ModelMessage>): string | undefined => {
  let first: ModelRequest | undefined
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag !== "ModelRequest") continue
    if (first === undefined) {
      first = m
      if (m.instructions !== undefined) return m.instructions
      const onlyToolReturns =
        m.parts.length > 0 && m.parts.every((p) => p._tag === "ToolReturnPart")
      if (!onlyToolReturns) return undefined
    } else {
      return m.instructions
    }
  }
  return undefined
}

/** Builds the `AgentInfo` of a request. */
export const agentInfo = (
  messages: ReadonlyArray<ModelMessage>,
  settings: ModelSettings,
  parameters: Model.ModelRequestParameters
): AgentInfo => ({
  functionTools: parameters.functionTools,
  outputTools: parameters.outputTools,
  allowTextOutput: parameters.allowTextOutput,
  allowImageOutput: parameters.allowImageOutput,
  outputMode: parameters.outputMode,
  outputObject: parameters.outputObject,
  modelSettings: settings,
  instructions: instructionsOf(messages),
  parameters
})

/** A response with one text part. */
export const text = (content: string): ModelResponse =>
  makeModelResponse({ parts: [makeTextPart({ content })] })

/** A response calling one tool (`args` as an object or a JSON string). */
export const toolCall = (
  toolName: string,
  args: ToolArgs = {},
  toolCallId?: string
): ModelResponse =>
  makeModelResponse({
    parts: [makeToolCallPart({ toolName, args, toolCallId: toolCallId ?? `call_${toolName}` })]
  })

/** A response calling several tools; ids are `call_<index>_<name>` unless given. */
export const toolCalls = (
  calls: ReadonlyArray<{
    readonly toolName: string
    readonly args?: ToolArgs
    readonly toolCallId?: string
  }>
): ModelResponse =>
  makeModelResponse({
    parts: calls.map((c, i) =>
      makeToolCallPart({
        toolName: c.toolName,
        args: c.args ?? {},
        toolCallId: c.toolCallId ?? `call_${i}_${c.toolName}`
      })
    )
  })

/**
 * A stream function serving what `fn` answers, so one script serves `run` and `runStream`:
 * each text part as one delta, each tool call, thinking and file part whole.
 *
 * @example
 * ```ts
 * const script = (messages: ReadonlyArray<Messages.ModelMessage>) =>
 *   messages.length === 1 ? FunctionModel.toolCall("weather", { city: "Paris" }) : "Sunny."
 * const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })
 * ```
 */
export const streamOf =
  <R = never>(fn: ModelFunction<R>): StreamFunction<R> =>
  (messages, info) =>
    Stream.flatMap(
      Stream.fromEffect(
        Effect.suspend(() => {
          const r = fn(messages, info)
          return Effect.isEffect(r) ? r : Effect.succeed(r)
        })
      ),
      (r) => {
        const items: Array<StreamItem> = []
        let tools = 0
        let thoughts = 0
        for (const part of (typeof r === "string" ? text(r) : r).parts) {
          if (part._tag === "TextPart") items.push(part.content)
          else if (part._tag === "ThinkingPart") {
            items.push({
              [thoughts++]: {
                content: part.content,
                ...(part.signature !== undefined ? { signature: part.signature } : {})
              }
            })
          } else if (part._tag === "FilePart") {
            items.push(part)
          } else if (part._tag === "ToolCallPart") {
            // (built-in tool parts have no stream item: a streamed run leaves them out)
            items.push({
              [tools++]: {
                name: part.toolName,
                jsonArgs: typeof part.args === "string" ? part.args : JSON.stringify(part.args),
                toolCallId: part.toolCallId
              }
            })
          }
        }
        return Stream.fromIterable(items.length === 0 ? [""] : items)
      }
    )

const isThinking = (delta: DeltaToolCall | DeltaThinking): delta is DeltaThinking =>
  "content" in delta || "signature" in delta

/**
 * Completes a response the way both paths do: the model's name and system are set, and
 * usage is estimated from the conversation unless the function reported some.
 */
const finalize = (
  response: ModelResponse,
  messages: ReadonlyArray<ModelMessage>,
  modelName: string
): ModelResponse =>
  makeModelResponse.copy(response, {
    modelName: response.modelName ?? modelName,
    providerName: response.providerName ?? system,
    usage: hasValues(response.usage) ? response.usage : estimateUsage([...messages, response])
  })

const fnName = (f: Function | undefined): string => (f === undefined ? "" : f.name)

/** Builds a function model service; `R` are the services the functions need. */
export const make = <R = never>(
  fn: ModelFunction<R> | undefined,
  options: Options<R> = {}
): Effect.Effect<Model.Service, never, R> =>
  Effect.map(Effect.context<R>(), (context) => {
    const modelName = options.modelName ?? `function:${fnName(fn)}:${fnName(options.stream)}`
    const streamFn = options.stream

    const request = (
      messages: ReadonlyArray<ModelMessage>,
      settings: ModelSettings,
      parameters: Model.ModelRequestParameters
    ): Effect.Effect<ModelResponse, ModelError> => {
      if (fn === undefined) {
        return Effect.fail(
          new UserError({ reason: "FunctionModel: no function given for non-streamed requests" })
        )
      }
      return Effect.suspend(() => {
        const result = fn(messages, agentInfo(messages, settings, parameters))
        const effect = Effect.isEffect(result) ? result : Effect.succeed(result)
        return Effect.map(effect, (r) =>
          finalize(typeof r === "string" ? text(r) : r, messages, modelName)
        )
      }).pipe(
        Effect.provide(context),
        withSpanIfRecorded("FunctionModel.request", {
          attributes: { "gen_ai.request.model": modelName }
        })
      )
    }

    const requestStream = (
      messages: ReadonlyArray<ModelMessage>,
      settings: ModelSettings,
      parameters: Model.ModelRequestParameters
    ): Effect.Effect<Model.StreamedResponse, ModelError> => {
      if (streamFn === undefined) {
        return Effect.fail(
          new UserError({ reason: "FunctionModel: no stream function given for streamed requests" })
        )
      }
      return Effect.withFiberRuntime((fiber) => {
        const manager = new PartsManager()
        manager.info.modelName = modelName
        manager.info.providerName = system
        let done = false
        let items = 0
        const snapshot = (state: "complete" | "incomplete"): ModelResponse => {
          const partial = manager.response({ state })
          return makeModelResponse.copy(partial, { usage: estimateUsage([...messages, partial]) })
        }
        const events = Stream.suspend(() =>
          streamFn(messages, agentInfo(messages, settings, parameters))
        ).pipe(
          Stream.mapChunks((chunk) => {
            const out: Array<ModelResponseStreamEvent> = []
            for (const item of chunk) {
              items++
              if (typeof item === "string") {
                const e = manager.textDelta("content", item)
                if (e !== undefined) out.push(e)
                continue
              }
              if (item instanceof FilePart) {
                out.push(manager.part(`file:${items}`, item))
                continue
              }
              for (const key in item) {
                const delta = (item as DeltaToolCalls | DeltaThinkingCalls)[
                  key as unknown as number
                ]!
                const e = isThinking(delta)
                  ? manager.thinkingDelta(`thinking:${key}`, {
                      content: delta.content,
                      signature: delta.signature,
                      providerName: delta.signature !== undefined ? system : undefined
                    })
                  : manager.toolCallDelta(`tool:${key}`, {
                      toolName: delta.name,
                      args: delta.jsonArgs,
                      toolCallId: delta.toolCallId
                    })
                if (e !== undefined) out.push(e)
              }
            }
            return Chunk.unsafeFromArray(out)
          }),
          Stream.concat(
            Stream.suspend(() => {
              if (items === 0) {
                return Stream.fail(
                  new UserError({ reason: "FunctionModel: the stream function yielded no items" })
                )
              }
              const ends: Array<ModelResponseStreamEvent> = manager.finish()
              done = true
              ends.push(makeResponseCompleteEvent({ response: snapshot("complete") }))
              return Stream.fromChunk(Chunk.unsafeFromArray(ends))
            })
          ),
          Stream.provideContext(context),
          streamSpanIfRecorded(fiber, "FunctionModel.requestStream", {
            attributes: { "gen_ai.request.model": modelName }
          })
        )
        return Effect.succeed({
          modelName,
          events,
          response: Effect.sync(() => snapshot(done ? "complete" : "incomplete"))
        })
      })
    }

    return Model.make({
      modelName,
      system,
      profile: options.profile ?? defaultProfile,
      settings: options.settings,
      request,
      requestStream
    })
  })

/**
 * A Layer providing `Model.Model` backed by `fn` (non-streamed requests) and
 * `options.stream` (streamed requests). Pass `undefined` as `fn` for a stream-only model.
 */
export const layer = <R = never>(
  fn: ModelFunction<R> | undefined,
  options: Options<R> = {}
): Layer.Layer<Model.Model, never, R> => Layer.effect(Model.Model, make(fn, options))
