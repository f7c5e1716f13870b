/**
 * The AG-UI encoder: agentfx run events → AG-UI events (`@ag-ui/core` 1.0 shapes). One
 * encoder per run; it keeps the open messages and tool calls.
 */
import type { Agent } from "@agentfx/core"
import { Messages } from "@agentfx/core"

/** An AG-UI event: `type` plus the fields of that type. */
export type Event = { readonly type: string; readonly [key: string]: unknown }

/** What the encoder needs from the options. */
export interface EncoderOptions<A> {
  readonly threadId: string
  readonly runId: string
  readonly initialState?: unknown
  readonly stateEvents?:
    | ((event: Agent.AgentStreamEvent<A>) => ReadonlyArray<Event> | undefined)
    | undefined
  readonly result?: ((result: Agent.AgentRunResult<A>) => unknown) | undefined
}

/** Encodes one run's events; `encode` appends the AG-UI events of an event to `out`. */
export class Encoder<A> {
  private started = false
  private response = 0
  private readonly texts = new Map<number, string>()
  private readonly reasonings = new Map<number, string>()
  private readonly tools = new Map<number, string>()
  private readonly announced = new Set<string>()

  constructor(private readonly options: EncoderOptions<A>) {}

  start(out: Array<Event>): void {
    if (this.started) return
    this.started = true
    out.push({ type: "RUN_STARTED", threadId: this.options.threadId, runId: this.options.runId })
    if (this.options.initialState !== undefined) {
      out.push({ type: "STATE_SNAPSHOT", snapshot: this.options.initialState })
    }
  }

  private closeOpen(out: Array<Event>): void {
    for (const id of this.texts.values()) out.push({ type: "TEXT_MESSAGE_END", messageId: id })
    for (const id of this.reasonings.values()) {
      out.push({ type: "REASONING_MESSAGE_END", messageId: id })
      out.push({ type: "REASONING_END", messageId: id })
    }
    for (const id of this.tools.values()) out.push({ type: "TOOL_CALL_END", toolCallId: id })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
  }

  private id(kind: string, index: number): string {
    return `${this.options.runId}-${kind}-${this.response}-${index}`
  }

  private toolCall(out: Array<Event>, part: Messages.ToolCallPart): void {
    this.announced.add(part.toolCallId)
    out.push({ type: "TOOL_CALL_START", toolCallId: part.toolCallId, toolCallName: part.toolName })
    out.push({ type: "TOOL_CALL_ARGS", toolCallId: part.toolCallId, delta: part.argsAsJson() })
    out.push({ type: "TOOL_CALL_END", toolCallId: part.toolCallId })
  }

  encode(event: Agent.AgentStreamEvent<A>, out: Array<Event>): void {
    if (!this.started) this.start(out)
    switch (event._tag) {
      case "PartStartEvent": {
        if (event.index === 0) this.response++
        const part = event.part
        if (part._tag === "TextPart") {
          const id = this.id("text", event.index)
          this.texts.set(event.index, id)
          out.push({ type: "TEXT_MESSAGE_START", messageId: id, role: "assistant" })
          if (part.content !== "") {
            out.push({ type: "TEXT_MESSAGE_CONTENT", messageId: id, delta: part.content })
          }
        } else if (part._tag === "ThinkingPart") {
          const id = this.id("reasoning", event.index)
          this.reasonings.set(event.index, id)
          out.push({ type: "REASONING_START", messageId: id })
          out.push({ type: "REASONING_MESSAGE_START", messageId: id, role: "reasoning" })
          if (part.content !== "") {
            out.push({ type: "REASONING_MESSAGE_CONTENT", messageId: id, delta: part.content })
          }
        } else {
          this.tools.set(event.index, part.toolCallId)
          this.announced.add(part.toolCallId)
          out.push({
            type: "TOOL_CALL_START",
            toolCallId: part.toolCallId,
            toolCallName: part.toolName
          })
          const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
          if (args !== "" && args !== "{}") {
            out.push({ type: "TOOL_CALL_ARGS", toolCallId: part.toolCallId, delta: args })
          }
        }
        break
      }
      case "PartDeltaEvent": {
        const delta = event.delta
        if (delta._tag === "TextPartDelta") {
          const id = this.texts.get(event.index)
          if (id !== undefined && delta.contentDelta !== "") {
            out.push({ type: "TEXT_MESSAGE_CONTENT", messageId: id, delta: delta.contentDelta })
          }
        } else if (delta._tag === "ThinkingPartDelta") {
          const id = this.reasonings.get(event.index)
          if (id !== undefined && delta.contentDelta !== undefined && delta.contentDelta !== "") {
            out.push({
              type: "REASONING_MESSAGE_CONTENT",
              messageId: id,
              delta: delta.contentDelta
            })
          }
        } else {
          const id = this.tools.get(event.index)
          if (id !== undefined && typeof delta.argsDelta === "string" && delta.argsDelta !== "") {
            out.push({ type: "TOOL_CALL_ARGS", toolCallId: id, delta: delta.argsDelta })
          }
        }
        break
      }
      case "PartEndEvent": {
        const part = event.part
        if (part._tag === "TextPart") {
          const id = this.texts.get(event.index)
          if (id !== undefined) {
            this.texts.delete(event.index)
            out.push({ type: "TEXT_MESSAGE_END", messageId: id })
          }
        } else if (part._tag === "ThinkingPart") {
          const id = this.reasonings.get(event.index)
          if (id !== undefined) {
            this.reasonings.delete(event.index)
            out.push({ type: "REASONING_MESSAGE_END", messageId: id })
            if (part.signature !== undefined) {
              out.push({
                type: "REASONING_ENCRYPTED_VALUE",
                subtype: "message",
                entityId: id,
                encryptedValue: part.signature
              })
            }
            out.push({ type: "REASONING_END", messageId: id })
          }
        } else {
          const id = this.tools.get(event.index)
          if (id !== undefined) {
            this.tools.delete(event.index)
            out.push({ type: "TOOL_CALL_END", toolCallId: id })
          }
        }
        break
      }
      case "FunctionToolCallEvent":
        if (!this.announced.has(event.part.toolCallId)) this.toolCall(out, event.part)
        break
      case "FunctionToolResultEvent": {
        const r = event.result
        if (r.toolCallId === undefined) break
        out.push({
          type: "TOOL_CALL_RESULT",
          messageId: `${this.options.runId}-result-${r.toolCallId}`,
          toolCallId: r.toolCallId,
          content:
            r._tag === "ToolReturnPart" ? Messages.renderToolContent(r.content) : r.modelResponse,
          role: "tool"
        })
        break
      }
      case "FinalResultEvent":
        break
      case "AgentRunResultEvent": {
        this.closeOpen(out)
        const result = this.options.result?.(event.result) ?? event.result.output
        out.push({
          type: "RUN_FINISHED",
          threadId: this.options.threadId,
          runId: this.options.runId,
          ...(result !== undefined ? { result } : {})
        })
        break
      }
    }
    const state = this.options.stateEvents?.(event)
    if (state !== undefined) {
      // state events belong before RUN_FINISHED
      if (event._tag === "AgentRunResultEvent") out.splice(out.length - 1, 0, ...state)
      else for (const s of state) out.push(s)
    }
  }

  /** A failed run: open messages are closed, then `RUN_ERROR`. */
  fail(message: string, code: string | undefined, out: Array<Event>): void {
    if (!this.started) this.start(out)
    this.closeOpen(out)
    out.push(
      code !== undefined ? { type: "RUN_ERROR", message, code } : { type: "RUN_ERROR", message }
    )
  }
}
