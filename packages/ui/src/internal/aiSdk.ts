/**
 * The AI SDK UI message stream encoder: agentfx run events → UI message chunks (the objects
 * `useChat` of `ai` 6 reads, one per SSE `data:` line). One encoder per stream; it keeps the
 * open parts, the step and the tool calls still waiting for an output.
 */
import type { Agent, Messages } from "@agentfx/core"
import { DeferredTools } from "@agentfx/core"
import {
  compactionDataType,
  compactionFields,
  type DeltaTarget,
  deltaTarget,
  fragmentOf,
  parseArgs,
  type Sink,
  thinkingFields,
  toolAvailabilityDataType,
  toolAvailabilityJson,
  toolOutputJson
} from "./common.js"
import { deferredDataType } from "./aiSdkDecode.js"

/** A UI message chunk (`ai`'s `UIMessageChunk`): `type` plus the fields of that type. */
export type Chunk = { readonly type: string; readonly [key: string]: unknown }

/** What the encoder needs from the options. */
export interface EncoderOptions<A> {
  readonly messageId?: string | undefined
  readonly sendReasoning?: boolean | undefined
  readonly messageMetadata?: ((result: Agent.AgentRunResult<A>) => unknown) | undefined
  readonly dataParts?:
    | ((event: Agent.AgentStreamEvent<A>) => ReadonlyArray<Chunk> | undefined)
    | undefined
  readonly resuming?: DeferredTools.DeferredToolResults | undefined
  readonly subAgents?: boolean | undefined
}

const finishReasons: Record<Messages.FinishReason, string> = {
  stop: "stop",
  length: "length",
  content_filter: "content-filter",
  tool_call: "tool-calls",
  error: "error"
}

interface OpenTool {
  readonly toolCallId: string
  readonly toolName: string
  readonly target: DeltaTarget
}

/** What the provider reported of a built-in tool call, for the client to send back. */
const builtinMetadata = (part: { readonly providerName: string }) => ({
  agentfx: { providerName: part.providerName }
})

/**
 * The `file` chunk / UI part of a generated file: a `data:` URL and its media type; its id,
 * provider and provider details (a Gemini thought signature) ride in `providerMetadata.agentfx`
 * so `fromUiMessages` can send it back.
 */
export const fileChunk = (part: Messages.FilePart): Chunk => {
  const meta = {
    ...(part.id !== undefined ? { id: part.id } : {}),
    ...(part.providerName !== undefined ? { providerName: part.providerName } : {}),
    ...(part.providerDetails !== undefined ? { providerDetails: part.providerDetails } : {})
  }
  return {
    type: "file",
    url: part.content.dataUrl,
    mediaType: part.content.mediaType,
    ...(Object.keys(meta).length > 0 ? { providerMetadata: { agentfx: meta } } : {})
  }
}

/**
 * The data part of a provider's compaction of the history (`CompactionPart`, no UI part of its
 * own): `useChat` keeps it in the message's parts and posts it back, and `fromUiMessages` turns it
 * into the same part, so the next request does not resend the history it replaced.
 */
const compactionChunk = (part: Messages.CompactionPart): Chunk => ({
  type: compactionDataType,
  data: {
    ...compactionFields(part),
    ...(part.content !== undefined ? { content: part.content } : {}),
    ...(part.encryptedContent !== undefined ? { encryptedContent: part.encryptedContent } : {})
  }
})

/** A UI message part of a sub-agent's message (`text`, `reasoning`, `file`, `tool-<name>`). */
type ViewPart = Record<string, unknown>

/**
 * A sub-agent's message so far, as the UI message `useChat` would build from its chunks
 * (`{ id, role: "assistant", parts, metadata: { agentName } }`): the preliminary output of the
 * parent's tool call while the sub-agent runs. Nested sub-agents are the preliminary outputs of
 * their own tool parts.
 */
export class SubAgentView {
  private readonly parts: Array<ViewPart> = []
  /** response index → the part it streams into (the current response) */
  private readonly byIndex = new Map<number, ViewPart>()
  private readonly toolParts = new Map<string, ViewPart>()
  private readonly nested = new Map<string, SubAgentView>()
  /** changed since the last `message()` */
  dirty = false

  constructor(
    readonly id: string,
    readonly agentName: string,
    /** Show the sub-agent's reasoning (the encoder's `sendReasoning`). */
    private readonly sendReasoning: boolean = true
  ) {}

  private toolPart(
    part: Messages.ToolCallPart | Messages.BuiltinToolCallPart,
    state: string
  ): ViewPart {
    const p: ViewPart = {
      type: `tool-${part.toolName}`,
      toolCallId: part.toolCallId,
      state,
      ...(part._tag === "BuiltinToolCallPart" ? { providerExecuted: true } : {})
    }
    this.toolParts.set(part.toolCallId, p)
    this.parts.push(p)
    return p
  }

  /** Applies one event of the sub-agent. */
  apply(event: Agent.AgentStreamEvent<unknown>): void {
    if (
      event._tag === "FinalResultEvent" ||
      event._tag === "AgentRunResultEvent" ||
      event._tag === "ToolAvailabilityDeltaEvent"
    ) {
      return
    }
    this.dirty = true
    switch (event._tag) {
      case "PartStartEvent": {
        if (event.index === 0) this.byIndex.clear()
        const part = event.part
        let p: ViewPart | undefined
        if (part._tag === "TextPart") p = { type: "text", text: part.content, state: "streaming" }
        else if (part._tag === "ThinkingPart") {
          if (!this.sendReasoning) break
          p = { type: "reasoning", text: part.content, state: "streaming" }
        } else if (part._tag === "CompactionPart") {
          break
        } else if (part._tag === "FilePart") {
          // whole already: not an open part of the response
          this.parts.push(fileChunk(part))
          break
        } else if (part._tag === "BuiltinToolReturnPart") {
          const call = this.toolParts.get(part.toolCallId)
          if (call !== undefined) {
            call.state = "output-available"
            call.output = toolOutputJson(part.content)
          }
          break
        } else {
          this.byIndex.set(event.index, this.toolPart(part, "input-streaming"))
          break
        }
        this.parts.push(p)
        this.byIndex.set(event.index, p)
        break
      }
      case "PartDeltaEvent": {
        const tag = event.delta._tag
        if (tag === "ToolCallPartDelta") break
        if (tag === "ThinkingPartDelta" && !this.sendReasoning) break
        const fragment = fragmentOf(event.delta)
        if (fragment === undefined) break
        let p = this.byIndex.get(event.index)
        if (p === undefined) {
          p = { type: tag === "TextPartDelta" ? "text" : "reasoning", text: "", state: "streaming" }
          this.parts.push(p)
          this.byIndex.set(event.index, p)
        }
        p.text = `${p.text as string}${fragment}`
        break
      }
      case "PartEndEvent": {
        const part = event.part
        const p = this.byIndex.get(event.index)
        if (p === undefined) break
        if (part._tag === "TextPart" || part._tag === "ThinkingPart") {
          p.text = part.content
          p.state = "done"
        } else if (part._tag === "ToolCallPart" || part._tag === "BuiltinToolCallPart") {
          const args = parseArgs(part)
          p.state = "input-available"
          p.input = args.ok ? args.value : part.args
        }
        break
      }
      case "FunctionToolCallEvent":
        if (!this.toolParts.has(event.part.toolCallId)) {
          const p = this.toolPart(event.part, "input-available")
          const args = parseArgs(event.part)
          p.input = args.ok ? args.value : event.part.args
        }
        break
      case "FunctionToolResultEvent": {
        const r = event.result
        const p = r.toolCallId !== undefined ? this.toolParts.get(r.toolCallId) : undefined
        if (p === undefined) break
        this.nested.delete(r.toolCallId!)
        delete p.preliminary
        if (r._tag === "ToolReturnPart" && r.outcome === "success") {
          p.state = "output-available"
          p.output = toolOutputJson(r.content)
        } else {
          p.state = "output-error"
          delete p.output
          p.errorText = r._tag === "ToolReturnPart" ? r.contentText : r.modelResponse
        }
        break
      }
      case "SubAgentEvent": {
        const p = this.toolParts.get(event.toolCallId)
        if (p === undefined || p.state === "output-error") break
        let view = this.nested.get(event.toolCallId)
        if (view === undefined) {
          view = new SubAgentView(event.toolCallId, event.agentName, this.sendReasoning)
          this.nested.set(event.toolCallId, view)
        }
        view.apply(event.event)
        p.state = "output-available"
        p.output = view.message()
        p.preliminary = true
        break
      }
    }
  }

  /** The message so far (a snapshot: later events do not change it). */
  message(): Record<string, unknown> {
    this.dirty = false
    return {
      id: this.id,
      role: "assistant",
      parts: this.parts.map((p) => ({ ...p })),
      metadata: { agentName: this.agentName }
    }
  }
}

/** Encodes one run's events; `encode` appends the chunks of an event to `out`. */
export class Encoder<A> {
  private started = false
  private stepOpen = false
  private stepHasParts = false
  private afterTools = false
  /** a tool result was written in the current step */
  private stepAnswered = false
  private step = 0
  /** response index → the delta target of an open text / reasoning part */
  private readonly texts = new Map<number, DeltaTarget>()
  private readonly reasonings = new Map<number, DeltaTarget>()
  /** response index → tool call whose input streams */
  private readonly tools = new Map<number, OpenTool>()
  /** tool calls announced (input available) and not answered yet */
  private readonly pending = new Map<string, string>()
  private readonly sendReasoning: boolean
  /** calls of a resumed run the client shows already (it gets their outputs only) */
  private readonly resumed: ReadonlySet<string>
  /** resumed calls that waited for an approval (a denial is `tool-output-denied`) */
  private readonly approvals: ReadonlySet<string>
  /** response index → built-in tool call whose input streams */
  private readonly builtins = new Map<number, OpenTool>()
  /** built-in tool calls announced, waiting for their return */
  private readonly builtinPending = new Set<string>()
  /** parent tool call id → the sub-agent it runs, while the call waits for its output */
  private readonly subAgents = new Map<string, SubAgentView>()
  private readonly sendSubAgents: boolean
  /** `finish` or `error` written */
  private ended = false

  constructor(private readonly options: EncoderOptions<A>) {
    this.sendReasoning = options.sendReasoning !== false
    this.sendSubAgents = options.subAgents !== false
    const approvals = Object.keys(options.resuming?.approvals ?? {})
    this.approvals = new Set(approvals)
    this.resumed = new Set([...approvals, ...Object.keys(options.resuming?.calls ?? {})])
  }

  /** The `start` chunk (once). */
  start(out: Sink<Chunk>): void {
    if (this.started) return
    this.started = true
    out.push(
      this.options.messageId !== undefined
        ? { type: "start", messageId: this.options.messageId }
        : { type: "start" }
    )
  }

  private openStep(out: Sink<Chunk>): void {
    this.step++
    this.stepOpen = true
    this.stepHasParts = false
    this.afterTools = false
    this.stepAnswered = false
    out.push({ type: "start-step" })
  }

  private closeParts(out: Sink<Chunk>): void {
    for (const t of this.texts.values()) out.push({ type: "text-end", id: t.fields.id })
    for (const t of this.reasonings.values()) out.push({ type: "reasoning-end", id: t.fields.id })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
    this.builtins.clear()
  }

  private closeStep(out: Sink<Chunk>): void {
    if (!this.stepOpen) return
    this.closeParts(out)
    this.stepOpen = false
    out.push({ type: "finish-step" })
  }

  /** A model event opens a step; one after tool events, or a new response, opens the next. */
  private modelEvent(out: Sink<Chunk>, newResponse: boolean): void {
    if (!this.stepOpen) this.openStep(out)
    else if (this.afterTools || (newResponse && this.stepHasParts)) {
      this.closeStep(out)
      this.openStep(out)
    }
    this.stepHasParts = true
  }

  private announce(out: Sink<Chunk>, part: Messages.ToolCallPart, started: boolean): void {
    if (!started) {
      out.push({ type: "tool-input-start", toolCallId: part.toolCallId, toolName: part.toolName })
    }
    const args = parseArgs(part)
    if (args.ok) {
      out.push({
        type: "tool-input-available",
        toolCallId: part.toolCallId,
        toolName: part.toolName,
        input: args.value
      })
    } else {
      out.push({
        type: "tool-input-error",
        toolCallId: part.toolCallId,
        toolName: part.toolName,
        input: part.args,
        errorText: args.error
      })
    }
    this.pending.set(part.toolCallId, part.toolName)
  }

  private toolResult(out: Sink<Chunk>, result: Messages.ToolReturnPart): void {
    if (!this.pending.has(result.toolCallId)) return
    this.pending.delete(result.toolCallId)
    this.subAgents.delete(result.toolCallId)
    if (result.outcome === "denied" && this.approvals.has(result.toolCallId)) {
      out.push({ type: "tool-output-denied", toolCallId: result.toolCallId })
    } else if (result.outcome === "success") {
      out.push({
        type: "tool-output-available",
        toolCallId: result.toolCallId,
        output: toolOutputJson(result.content)
      })
    } else {
      // `toolMetadata.outcome` tells a failed / denied / interrupted return from a retry prompt
      // when the history comes back (see `fromUiMessages`).
      out.push({
        type: "tool-output-error",
        toolCallId: result.toolCallId,
        errorText: result.contentText,
        toolMetadata: { outcome: result.outcome }
      })
    }
  }

  encode(event: Agent.AgentStreamEvent<A>, out: Sink<Chunk>): void {
    if (!this.started) this.start(out)
    switch (event._tag) {
      case "PartStartEvent": {
        this.modelEvent(out, event.index === 0)
        const part = event.part
        const index = event.index
        if (part._tag === "TextPart") {
          const id = `text-${this.step}-${index}`
          const target = deltaTarget({ type: "text-delta", id }, "delta", (delta) => ({
            type: "text-delta",
            id,
            delta
          }))
          this.texts.set(index, target)
          out.push({ type: "text-start", id })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "ThinkingPart") {
          if (!this.sendReasoning) break
          const id = `reasoning-${this.step}-${index}`
          const target = deltaTarget({ type: "reasoning-delta", id }, "delta", (delta) => ({
            type: "reasoning-delta",
            id,
            delta
          }))
          this.reasonings.set(index, target)
          out.push({ type: "reasoning-start", id })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "BuiltinToolCallPart") {
          this.builtinStart(out, index, part)
        } else if (part._tag === "BuiltinToolReturnPart") {
          this.builtinReturn(out, part)
        } else if (part._tag === "FilePart") {
          out.push(fileChunk(part))
        } else if (part._tag === "CompactionPart") {
          out.push(compactionChunk(part))
        } else if (part._tag === "ToolCallPart") {
          const toolCallId = part.toolCallId
          const target = deltaTarget(
            { type: "tool-input-delta", toolCallId },
            "inputTextDelta",
            (inputTextDelta) => ({ type: "tool-input-delta", toolCallId, inputTextDelta })
          )
          this.tools.set(index, { toolCallId: part.toolCallId, toolName: part.toolName, target })
          out.push({
            type: "tool-input-start",
            toolCallId: part.toolCallId,
            toolName: part.toolName
          })
          const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
          if (args !== "" && args !== "{}") out.delta(target, args)
        }
        break
      }
      case "PartDeltaEvent": {
        this.modelEvent(out, false)
        const fragment = fragmentOf(event.delta)
        if (fragment === undefined) break
        const tag = event.delta._tag
        let target =
          tag === "TextPartDelta"
            ? this.texts.get(event.index)
            : tag === "ThinkingPartDelta"
              ? this.reasonings.get(event.index)
              : (this.tools.get(event.index) ?? this.builtins.get(event.index))?.target
        if (target === undefined && tag === "TextPartDelta") {
          // text without a start event: open the part
          const id = `text-${this.step}-${event.index}`
          target = deltaTarget({ type: "text-delta", id }, "delta", (delta) => ({
            type: "text-delta",
            id,
            delta
          }))
          this.texts.set(event.index, target)
          out.push({ type: "text-start", id })
        }
        if (target !== undefined) out.delta(target, fragment)
        break
      }
      case "PartEndEvent": {
        this.modelEvent(out, false)
        const part = event.part
        if (part._tag === "TextPart") {
          const target = this.texts.get(event.index)
          if (target !== undefined) {
            this.texts.delete(event.index)
            out.push({ type: "text-end", id: target.fields.id })
          }
        } else if (part._tag === "ThinkingPart") {
          const target = this.reasonings.get(event.index)
          if (target !== undefined) {
            const id = target.fields.id
            this.reasonings.delete(event.index)
            // The signature and the part's own fields go to the client and back (the client
            // keeps the last providerMetadata of a reasoning part), so a continued conversation
            // can send the reasoning to the provider that signed it, and reference its id.
            const agentfx = thinkingFields(part)
            if (part.signature !== undefined) agentfx.signature = part.signature
            out.push(
              Object.keys(agentfx).length > 0
                ? { type: "reasoning-end", id, providerMetadata: { agentfx } }
                : { type: "reasoning-end", id }
            )
          }
        } else if (part._tag === "ToolCallPart") {
          const started = this.tools.has(event.index)
          this.tools.delete(event.index)
          this.announce(out, part, started)
        } else if (part._tag === "BuiltinToolCallPart") {
          this.builtinEnd(out, event.index, part)
        }
        break
      }
      case "FunctionToolCallEvent":
        if (this.resumed.has(event.part.toolCallId)) {
          // a call the client shows already, waiting for its output: no step, no new part
          this.pending.set(event.part.toolCallId, event.part.toolName)
          break
        }
        if (!this.stepOpen) this.openStep(out)
        else if (this.stepAnswered && !this.pending.has(event.part.toolCallId)) {
          // a call the model did not stream, after this step's results: the next response's
          // (one the model streamed nothing of), so the next step
          this.closeStep(out)
          this.openStep(out)
        }
        this.afterTools = true
        if (!this.pending.has(event.part.toolCallId)) this.announce(out, event.part, false)
        break
      case "FunctionToolResultEvent": {
        const result = event.result
        if (result.toolCallId === undefined || !this.resumed.has(result.toolCallId)) {
          if (!this.stepOpen) this.openStep(out)
          this.afterTools = true
          this.stepAnswered = true
        }
        if (result._tag === "ToolReturnPart") this.toolResult(out, result)
        else if (result.toolCallId !== undefined && this.pending.has(result.toolCallId)) {
          this.pending.delete(result.toolCallId)
          this.subAgents.delete(result.toolCallId)
          out.push({
            type: "tool-output-error",
            toolCallId: result.toolCallId,
            errorText: typeof result.content === "string" ? result.content : result.modelResponse
          })
        }
        break
      }
      case "ToolAvailabilityDeltaEvent":
        // the tools a search found; the tool part's output holds the references themselves
        out.push({ type: toolAvailabilityDataType, data: toolAvailabilityJson(event.part) })
        break
      case "SubAgentEvent": {
        // shown as the preliminary output of the parent's tool part, written by `flush`
        const id = event.toolCallId
        if (!this.sendSubAgents || !this.pending.has(id)) break
        let view = this.subAgents.get(id)
        if (view === undefined) {
          view = new SubAgentView(id, event.agentName, this.sendReasoning)
          this.subAgents.set(id, view)
        }
        view.apply(event.event)
        break
      }
      case "FinalResultEvent":
        break
      case "AgentRunResultEvent": {
        const result = event.result
        // Calls answered outside the tool events (output tools, calls skipped by the end
        // strategy) get their recorded return, so no tool part is left waiting.
        if (this.pending.size > 0) {
          for (const m of result.newMessages()) {
            if (m._tag !== "ModelRequest") continue
            for (const p of m.parts) if (p._tag === "ToolReturnPart") this.toolResult(out, p)
          }
        }
        if (DeferredTools.isDeferredToolRequests(result.output)) this.deferred(result.output, out)
        this.closeStep(out)
        // the caller's chunks for the result are part of the message: before `finish`, which
        // ends it
        const data = this.options.dataParts?.(event)
        if (data !== undefined) for (const d of data) out.push(d)
        this.ended = true
        const reason = result.response.finishReason
        const metadata = this.options.messageMetadata?.(result)
        out.push({
          type: "finish",
          ...(reason !== undefined ? { finishReason: finishReasons[reason] } : {}),
          ...(metadata !== undefined ? { messageMetadata: metadata } : {})
        })
        return
      }
    }
    const data = this.options.dataParts?.(event)
    if (data !== undefined) for (const d of data) out.push(d)
  }

  /**
   * After a network chunk's events: each sub-agent that changed sends its message so far as
   * the preliminary output of its parent's tool call (one chunk per sub-agent per network
   * chunk, not one per event).
   */
  flush(out: Sink<Chunk>): void {
    if (this.subAgents.size === 0) return
    if (this.ended) {
      // after `finish` / `error` nothing more is written
      this.subAgents.clear()
      return
    }
    for (const [toolCallId, view] of this.subAgents) {
      if (!view.dirty) continue
      out.push({
        type: "tool-output-available",
        toolCallId,
        output: view.message(),
        preliminary: true
      })
    }
  }

  /** A built-in tool call starts: a provider-executed tool part. */
  private builtinStart(out: Sink<Chunk>, index: number, part: Messages.BuiltinToolCallPart): void {
    const toolCallId = part.toolCallId
    const target = deltaTarget(
      { type: "tool-input-delta", toolCallId },
      "inputTextDelta",
      (inputTextDelta) => ({ type: "tool-input-delta", toolCallId, inputTextDelta })
    )
    this.builtins.set(index, { toolCallId, toolName: part.toolName, target })
    out.push({
      type: "tool-input-start",
      toolCallId,
      toolName: part.toolName,
      providerExecuted: true,
      providerMetadata: builtinMetadata(part)
    })
    const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
    if (args !== "" && args !== "{}") out.delta(target, args)
  }

  /** A built-in tool call is complete: its input, marked provider-executed. */
  private builtinEnd(out: Sink<Chunk>, index: number, part: Messages.BuiltinToolCallPart): void {
    if (!this.builtins.has(index)) this.builtinStart(out, index, part)
    this.builtins.delete(index)
    const args = parseArgs(part)
    out.push(
      args.ok
        ? {
            type: "tool-input-available",
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: args.value,
            providerExecuted: true,
            providerMetadata: builtinMetadata(part)
          }
        : {
            type: "tool-input-error",
            toolCallId: part.toolCallId,
            toolName: part.toolName,
            input: part.args,
            errorText: args.error,
            providerExecuted: true,
            providerMetadata: builtinMetadata(part)
          }
    )
    this.builtinPending.add(part.toolCallId)
  }

  /** What a built-in tool returned: the output of its provider-executed part. */
  private builtinReturn(out: Sink<Chunk>, part: Messages.BuiltinToolReturnPart): void {
    // a return whose call was not shown has no part to attach to (the client would fail)
    if (!this.builtinPending.delete(part.toolCallId)) return
    out.push({
      type: "tool-output-available",
      toolCallId: part.toolCallId,
      output: toolOutputJson(part.content),
      providerExecuted: true
    })
  }

  /**
   * A run stopped on deferred calls: a `tool-approval-request` per call waiting for approval
   * (`approvalId` = the tool call id, `approvalDescriptor` = its metadata), then a
   * `data-deferred-tool-requests` part listing every waiting call (external calls get their
   * result from the client's `addToolOutput`), which comes back with the next request.
   */
  private deferred(requests: DeferredTools.DeferredToolRequests, out: Sink<Chunk>): void {
    if (!this.stepOpen) this.openStep(out)
    for (const call of [...requests.approvals, ...requests.calls]) {
      if (!this.pending.has(call.toolCallId)) this.announce(out, call, false)
      this.pending.delete(call.toolCallId)
    }
    for (const call of requests.approvals) {
      const metadata = requests.metadata[call.toolCallId]
      out.push({
        type: "tool-approval-request",
        approvalId: call.toolCallId,
        toolCallId: call.toolCallId,
        ...(metadata !== undefined ? { approvalDescriptor: metadata } : {})
      })
    }
    out.push({
      type: deferredDataType,
      data: {
        approvals: requests.approvals.map((c) => c.toolCallId),
        calls: requests.calls.map((c) => c.toolCallId),
        metadata: requests.metadata
      }
    })
  }

  /**
   * A failed run: open parts are closed — a tool call still waiting for its output (running,
   * its arguments streaming, or showing a sub-agent's message so far) ends as an interrupted
   * `tool-output-error` with the error's text, so no part is left running — then one `error`
   * chunk.
   */
  fail(errorText: string, out: Sink<Chunk>): void {
    if (!this.started) this.start(out)
    this.ended = true
    const waiting = new Set([
      ...[...this.tools.values()].map((t) => t.toolCallId),
      ...this.pending.keys()
    ])
    this.closeParts(out)
    for (const toolCallId of waiting) {
      out.push({
        type: "tool-output-error",
        toolCallId,
        errorText,
        toolMetadata: { outcome: "interrupted" }
      })
    }
    this.pending.clear()
    this.subAgents.clear()
    out.push({ type: "error", errorText })
  }
}
