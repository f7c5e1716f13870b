/**
 * Turns a provider's stream deltas (keyed by the provider's own part id or index) into
 * `PartStartEvent` / `PartDeltaEvent` / `PartEndEvent` and the final `ModelResponse`. Shared
 * by every provider and by `FunctionModel` streaming.
 *
 * It is plain mutable code on purpose: it runs once per delta on the hot path of a stream,
 * so it allocates one event per call and nothing else. Providers collect the events of one
 * network read into a `Chunk`.
 *
 * @example
 * ```ts
 * const manager = PartsManager.make()
 * manager.textDelta("0", "Hel")   // PartStartEvent(TextPart "Hel")
 * manager.textDelta("0", "lo")    // PartDeltaEvent(TextPartDelta "lo")
 * manager.finish()                // [PartEndEvent]
 * manager.response({ modelName: "m" }).text // "Hello"
 * ```
 *
 * @since 0.1.0
 */
import {
  type BuiltinToolReturnPart,
  type CompactionPart,
  type FilePart,
  type FinishReason,
  ModelResponse,
  type ModelResponsePart,
  PartDeltaEvent,
  PartEndEvent,
  PartStartEvent,
  type ProviderDetails,
  TextPartDelta,
  ThinkingPartDelta,
  ToolCallPartDelta,
  type ToolArgs
} from "./Messages.js"
import { RequestUsage } from "./Usage.js"
import {
  makeBuiltinToolCallPart,
  makeModelResponse,
  makePartEndEvent,
  makePartStartEvent,
  makeTextPart,
  makeThinkingPart,
  makeToolCallPart
} from "./internal/makers.js"

type Event = PartStartEvent | PartDeltaEvent | PartEndEvent

// The delta events are built without their Schema-class constructors, which copy the props,
// merge defaults and go through `Data.Class` (≈ 1.7 µs for an event and its delta, more than
// the `JSON.parse` of the provider's chunk; once per delta on a stream's hot path). The
// result is the object `new C(props, true)` makes: the class's prototype, the given fields in
// the same order, then `_tag` (PartsManager.test.ts checks them against the constructors).
const deltaEvent = (index: number, delta: PartDeltaEvent["delta"]): PartDeltaEvent => {
  const event = Object.create(PartDeltaEvent.prototype)
  event.index = index
  event.delta = delta
  event._tag = "PartDeltaEvent"
  return event
}
const textPartDelta = (contentDelta: string): TextPartDelta => {
  const delta = Object.create(TextPartDelta.prototype)
  delta.contentDelta = contentDelta
  delta._tag = "TextPartDelta"
  return delta
}
const thinkingPartDelta = (
  contentDelta: string | undefined,
  signatureDelta: string | undefined
): ThinkingPartDelta => {
  const delta = Object.create(ThinkingPartDelta.prototype)
  if (contentDelta) delta.contentDelta = contentDelta
  if (signatureDelta) delta.signatureDelta = signatureDelta
  delta._tag = "ThinkingPartDelta"
  return delta
}
const toolCallPartDelta = (
  toolNameDelta: string | undefined,
  argsDelta: ToolArgs | undefined,
  toolCallId: string | undefined
): ToolCallPartDelta => {
  const delta = Object.create(ToolCallPartDelta.prototype)
  if (toolNameDelta) delta.toolNameDelta = toolNameDelta
  if (argsDelta !== undefined) delta.argsDelta = argsDelta
  if (toolCallId) delta.toolCallId = toolCallId
  delta._tag = "ToolCallPartDelta"
  return delta
}

interface TextState {
  readonly kind: "text"
  content: string
  id: string | undefined
  providerDetails: ProviderDetails | undefined
}
interface ThinkingState {
  readonly kind: "thinking"
  content: string
  id: string | undefined
  signature: string | undefined
  redacted: boolean | undefined
  providerName: string | undefined
  providerDetails: ProviderDetails | undefined
}
interface ToolCallState {
  readonly kind: "tool"
  toolName: string
  /** String fragments are joined; an object replaces. */
  args: ToolArgs | undefined
  toolCallId: string
  id: string | undefined
  providerName: string | undefined
  providerDetails: ProviderDetails | undefined
  /** Not started yet (no name): deltas are buffered, no event is emitted. */
  started: boolean
  /** A built-in tool the provider runs (`BuiltinToolCallPart`), not a function tool. */
  readonly builtin: boolean
}
/** A built-in tool's return, a compaction or a file: arrives whole, never grows. */
interface BuiltinReturnState {
  readonly kind: "builtinReturn"
  readonly part: BuiltinToolReturnPart | CompactionPart | FilePart
}
type State = TextState | ThinkingState | ToolCallState | BuiltinReturnState

/** The state of a part that arrives whole. */
const stateOf = (part: ModelResponsePart): State => {
  switch (part._tag) {
    case "BuiltinToolReturnPart":
    case "CompactionPart":
    case "FilePart":
      return { kind: "builtinReturn", part }
    case "TextPart":
      return {
        kind: "text",
        content: part.content,
        id: part.id,
        providerDetails: part.providerDetails
      }
    case "ThinkingPart":
      return {
        kind: "thinking",
        content: part.content,
        id: part.id,
        signature: part.signature,
        redacted: part.redacted,
        providerName: part.providerName,
        providerDetails: part.providerDetails
      }
    case "ToolCallPart":
    case "BuiltinToolCallPart":
      return {
        kind: "tool",
        toolName: part.toolName,
        args: part.args,
        toolCallId: part.toolCallId,
        id: part.id,
        providerName: part.providerName,
        providerDetails: part.providerDetails,
        started: true,
        builtin: part._tag === "BuiltinToolCallPart"
      }
  }
}

let idCounter = 0
/** A fresh tool-call id for providers that do not send one. */
export const generateToolCallId = (): string =>
  `call_${Date.now().toString(36)}_${(idCounter++).toString(36)}`

const toPart = (s: State): ModelResponsePart => {
  switch (s.kind) {
    case "text":
      return makeTextPart({
        content: s.content,
        ...(s.id !== undefined ? { id: s.id } : {}),
        ...(s.providerDetails !== undefined ? { providerDetails: s.providerDetails } : {})
      })
    case "thinking":
      return makeThinkingPart({
        content: s.content,
        ...(s.id !== undefined ? { id: s.id } : {}),
        ...(s.signature !== undefined ? { signature: s.signature } : {}),
        ...(s.redacted !== undefined ? { redacted: s.redacted } : {}),
        ...(s.providerName !== undefined ? { providerName: s.providerName } : {}),
        ...(s.providerDetails !== undefined ? { providerDetails: s.providerDetails } : {})
      })
    case "builtinReturn":
      return s.part
    case "tool":
      if (s.builtin) {
        return makeBuiltinToolCallPart({
          toolName: s.toolName,
          args: s.args ?? {},
          toolCallId: s.toolCallId,
          providerName: s.providerName ?? "",
          ...(s.id !== undefined ? { id: s.id } : {}),
          ...(s.providerDetails !== undefined ? { providerDetails: s.providerDetails } : {})
        })
      }
      return makeToolCallPart({
        toolName: s.toolName,
        args: s.args ?? {},
        toolCallId: s.toolCallId,
        ...(s.id !== undefined ? { id: s.id } : {}),
        ...(s.providerName !== undefined ? { providerName: s.providerName } : {}),
        ...(s.providerDetails !== undefined ? { providerDetails: s.providerDetails } : {})
      })
  }
}

/** Response-level data a provider fills in as the stream goes. */
export interface ResponseInfo {
  modelName?: string | undefined
  providerName?: string | undefined
  providerResponseId?: string | undefined
  finishReason?: FinishReason | undefined
  providerFinishReason?: string | undefined
  usage?: RequestUsage | undefined
  providerDetails?: ProviderDetails | undefined
  timestamp?: Date | undefined
}

/** The parts manager of one streamed response. */
export class PartsManager {
  private readonly parts: Array<State> = []
  private readonly byVendorId = new Map<string, number>()
  /** Index in `parts` → index in emitted order (parts that never started have none). */
  private readonly ended = new Set<number>()
  /** Response-level data; providers assign fields directly. */
  readonly info: ResponseInfo = {}

  private lookup(vendorId: string | undefined, kind: State["kind"]): number | undefined {
    if (vendorId === undefined) {
      // Without an id, continue the latest part if it is of the same kind.
      const last = this.parts.length - 1
      return last >= 0 && this.parts[last]!.kind === kind && !this.ended.has(last)
        ? last
        : undefined
    }
    const i = this.byVendorId.get(vendorId)
    return i !== undefined && this.parts[i]!.kind === kind ? i : undefined
  }

  private add(vendorId: string | undefined, state: State): number {
    const index = this.parts.length
    this.parts.push(state)
    if (vendorId !== undefined) this.byVendorId.set(vendorId, index)
    return index
  }

  /** Text arrives for part `vendorId` (or the latest text part when `undefined`). */
  textDelta(
    vendorId: string | undefined,
    content: string,
    options?: { readonly id?: string; readonly providerDetails?: ProviderDetails }
  ): Event | undefined {
    const i = this.lookup(vendorId, "text")
    if (i !== undefined) {
      const s = this.parts[i] as TextState
      s.content += content
      if (options?.providerDetails)
        s.providerDetails = { ...s.providerDetails, ...options.providerDetails }
      if (content === "") return undefined
      return deltaEvent(i, textPartDelta(content))
    }
    const s: TextState = {
      kind: "text",
      content,
      id: options?.id,
      providerDetails: options?.providerDetails
    }
    const index = this.add(vendorId, s)
    return makePartStartEvent({ index, part: toPart(s) })
  }

  /** Reasoning text and/or signature arrive for part `vendorId`. */
  thinkingDelta(
    vendorId: string | undefined,
    delta: {
      readonly content?: string | undefined
      readonly signature?: string | undefined
      readonly id?: string | undefined
      readonly redacted?: boolean | undefined
      readonly providerName?: string | undefined
      readonly providerDetails?: ProviderDetails | undefined
    }
  ): Event | undefined {
    const i = this.lookup(vendorId, "thinking")
    if (i !== undefined) {
      const s = this.parts[i] as ThinkingState
      if (delta.content) s.content += delta.content
      if (delta.signature) s.signature = (s.signature ?? "") + delta.signature
      if (delta.id !== undefined) s.id = delta.id
      if (delta.redacted !== undefined) s.redacted = delta.redacted
      if (delta.providerName !== undefined) s.providerName = delta.providerName
      if (delta.providerDetails)
        s.providerDetails = { ...s.providerDetails, ...delta.providerDetails }
      if (!delta.content && !delta.signature) return undefined
      return deltaEvent(i, thinkingPartDelta(delta.content, delta.signature))
    }
    const s: ThinkingState = {
      kind: "thinking",
      content: delta.content ?? "",
      id: delta.id,
      signature: delta.signature,
      redacted: delta.redacted,
      providerName: delta.providerName,
      providerDetails: delta.providerDetails
    }
    const index = this.add(vendorId, s)
    return makePartStartEvent({ index, part: toPart(s) })
  }

  /**
   * A fragment of a tool call: name, id and/or argument text. The part starts (and events
   * flow) only once its name is known; earlier fragments are buffered. With `builtin: true`
   * (on the first fragment) the part is a `BuiltinToolCallPart`: a tool the provider runs;
   * its argument fragments stream as `ToolCallPartDelta`s too.
   */
  toolCallDelta(
    vendorId: string | undefined,
    delta: {
      readonly toolName?: string | undefined
      readonly args?: ToolArgs | undefined
      readonly toolCallId?: string | undefined
      readonly id?: string | undefined
      readonly providerName?: string | undefined
      readonly providerDetails?: ProviderDetails | undefined
      readonly builtin?: boolean | undefined
    }
  ): Event | undefined {
    const i = this.lookup(vendorId, "tool")
    if (i !== undefined) {
      const s = this.parts[i] as ToolCallState
      if (delta.toolName) s.toolName += delta.toolName
      if (delta.toolCallId) s.toolCallId = delta.toolCallId
      if (delta.id !== undefined) s.id = delta.id
      if (delta.providerName !== undefined) s.providerName = delta.providerName
      if (delta.providerDetails)
        s.providerDetails = { ...s.providerDetails, ...delta.providerDetails }
      if (delta.args !== undefined) {
        s.args =
          typeof delta.args === "string" && (s.args === undefined || typeof s.args === "string")
            ? (s.args ?? "") + delta.args
            : delta.args
      }
      if (!s.started) {
        if (s.toolName === "") return undefined
        s.started = true
        return makePartStartEvent({ index: i, part: toPart(s) })
      }
      if (delta.args === undefined && !delta.toolName) return undefined
      return deltaEvent(i, toolCallPartDelta(delta.toolName, delta.args, delta.toolCallId))
    }
    const s: ToolCallState = {
      kind: "tool",
      toolName: delta.toolName ?? "",
      args: delta.args,
      toolCallId: delta.toolCallId ?? generateToolCallId(),
      id: delta.id,
      providerName: delta.providerName,
      providerDetails: delta.providerDetails,
      started: false,
      builtin: delta.builtin === true
    }
    const index = this.add(vendorId, s)
    if (s.toolName === "") return undefined
    s.started = true
    return makePartStartEvent({ index, part: toPart(s) })
  }

  /** A whole part arrives at once (Gemini function calls, a complete block, a built-in tool's return, a generated file). */
  part(vendorId: string | undefined, part: ModelResponsePart): Event {
    const s = stateOf(part)
    const index = this.add(vendorId, s)
    return makePartStartEvent({ index, part })
  }

  /** Marks a part complete (e.g. Anthropic's `content_block_stop`). */
  endPart(vendorId: string): PartEndEvent | undefined {
    const i = this.byVendorId.get(vendorId)
    if (i === undefined || this.ended.has(i)) return undefined
    const s = this.parts[i]!
    if (s.kind === "tool" && !s.started) return undefined
    this.ended.add(i)
    this.byVendorId.delete(vendorId)
    return makePartEndEvent({ index: i, part: toPart(s) })
  }

  /** Ends every open part, in order; call once when the stream is done. */
  finish(): Array<PartEndEvent> {
    const out: Array<PartEndEvent> = []
    for (let i = 0; i < this.parts.length; i++) {
      if (this.ended.has(i)) continue
      const s = this.parts[i]!
      if (s.kind === "tool" && !s.started) continue
      this.ended.add(i)
      out.push(makePartEndEvent({ index: i, part: toPart(s) }))
    }
    return out
  }

  /** The parts so far (tool calls without a name are left out). */
  currentParts(): Array<ModelResponsePart> {
    const out: Array<ModelResponsePart> = []
    for (const s of this.parts) {
      if (s.kind === "tool" && !s.started) continue
      out.push(toPart(s))
    }
    return out
  }

  /** The response so far. `state` is `incomplete` until the caller says otherwise. */
  response(
    overrides?: ResponseInfo & { readonly state?: "complete" | "incomplete" | "interrupted" }
  ): ModelResponse {
    const info = { ...this.info, ...overrides }
    return makeModelResponse({
      parts: this.currentParts(),
      usage: info.usage ?? RequestUsage.empty,
      ...(info.modelName !== undefined ? { modelName: info.modelName } : {}),
      ...(info.providerName !== undefined ? { providerName: info.providerName } : {}),
      ...(info.providerResponseId !== undefined
        ? { providerResponseId: info.providerResponseId }
        : {}),
      ...(info.finishReason !== undefined ? { finishReason: info.finishReason } : {}),
      ...(info.providerFinishReason !== undefined
        ? { providerFinishReason: info.providerFinishReason }
        : {}),
      ...(info.providerDetails !== undefined ? { providerDetails: info.providerDetails } : {}),
      timestamp: info.timestamp ?? new Date(),
      state: overrides?.state ?? "incomplete"
    })
  }
}

/** A new parts manager. */
export const make = (): PartsManager => new PartsManager()
