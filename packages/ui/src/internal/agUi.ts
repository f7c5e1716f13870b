/**
 * The AG-UI encoder: agentfx run events → AG-UI events (`@ag-ui/core` 1.0 shapes). One
 * encoder per run; it keeps the open messages and tool calls.
 */
import type { Agent } from "@agentfx/core"
import { DeferredTools, Messages } from "@agentfx/core"
import { type DeltaTarget, deltaTarget, fragmentOf, type Sink } from "./common.js"

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
  readonly resuming?: DeferredTools.DeferredToolResults | undefined
}

/** The `reason` of an interrupt for a call waiting for approval, and its id prefix. */
export const approvalReason = "tool_approval"
/** The `reason` of an interrupt for a call whose result comes from the client, and its id prefix. */
export const resultReason = "tool_result"

/** The interrupts of a run stopped on deferred calls (one per call, the id names its kind). */
const interrupts = (
  requests: DeferredTools.DeferredToolRequests
): Array<Record<string, unknown>> => {
  const interrupt = (
    reason: string,
    call: Messages.ToolCallPart,
    message: string
  ): Record<string, unknown> => {
    const metadata = requests.metadata[call.toolCallId]
    return {
      id: `${reason}:${call.toolCallId}`,
      reason,
      message,
      toolCallId: call.toolCallId,
      ...(metadata !== undefined ? { metadata: { agentfx: metadata } } : {})
    }
  }
  return [
    ...requests.approvals.map((c) =>
      interrupt(approvalReason, c, `Approve calling ${c.toolName}?`)
    ),
    ...requests.calls.map((c) => interrupt(resultReason, c, `Give the result of ${c.toolName}.`))
  ]
}

/** Encodes one run's events; `encode` appends the AG-UI events of an event to `out`. */
export class Encoder<A> {
  private started = false
  private response = 0
  private readonly texts = new Map<number, DeltaTarget>()
  private readonly reasonings = new Map<number, DeltaTarget>()
  private readonly tools = new Map<number, DeltaTarget>()
  private readonly announced = new Set<string>()

  constructor(private readonly options: EncoderOptions<A>) {
    // calls of a resumed run are on the client already: they get their results only
    const r = options.resuming
    if (r !== undefined) {
      for (const id of [...Object.keys(r.approvals), ...Object.keys(r.calls)]) {
        this.announced.add(id)
      }
    }
  }

  start(out: Sink<Event>): void {
    if (this.started) return
    this.started = true
    out.push({ type: "RUN_STARTED", threadId: this.options.threadId, runId: this.options.runId })
    if (this.options.initialState !== undefined) {
      out.push({ type: "STATE_SNAPSHOT", snapshot: this.options.initialState })
    }
  }

  private closeOpen(out: Sink<Event>): void {
    for (const t of this.texts.values()) {
      out.push({ type: "TEXT_MESSAGE_END", messageId: t.fields.messageId })
    }
    for (const t of this.reasonings.values()) {
      out.push({ type: "REASONING_MESSAGE_END", messageId: t.fields.messageId })
      out.push({ type: "REASONING_END", messageId: t.fields.messageId })
    }
    for (const t of this.tools.values())
      out.push({ type: "TOOL_CALL_END", toolCallId: t.fields.toolCallId })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
  }

  private id(kind: string, index: number): string {
    return `${this.options.runId}-${kind}-${this.response}-${index}`
  }

  private toolCall(out: Sink<Event>, part: Messages.ToolCallPart): void {
    this.announced.add(part.toolCallId)
    out.push({ type: "TOOL_CALL_START", toolCallId: part.toolCallId, toolCallName: part.toolName })
    out.push({ type: "TOOL_CALL_ARGS", toolCallId: part.toolCallId, delta: part.argsAsJson() })
    out.push({ type: "TOOL_CALL_END", toolCallId: part.toolCallId })
  }

  encode(event: Agent.AgentStreamEvent<A>, out: Sink<Event>): void {
    if (!this.started) this.start(out)
    switch (event._tag) {
      case "PartStartEvent": {
        if (event.index === 0) this.response++
        const part = event.part
        if (part._tag === "TextPart") {
          const id = this.id("text", event.index)
          const target = deltaTarget(
            { type: "TEXT_MESSAGE_CONTENT", messageId: id },
            "delta",
            (delta) => ({ type: "TEXT_MESSAGE_CONTENT", messageId: id, delta })
          )
          this.texts.set(event.index, target)
          out.push({ type: "TEXT_MESSAGE_START", messageId: id, role: "assistant" })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "ThinkingPart") {
          const id = this.id("reasoning", event.index)
          const target = deltaTarget(
            { type: "REASONING_MESSAGE_CONTENT", messageId: id },
            "delta",
            (delta) => ({ type: "REASONING_MESSAGE_CONTENT", messageId: id, delta })
          )
          this.reasonings.set(event.index, target)
          out.push({ type: "REASONING_START", messageId: id })
          out.push({ type: "REASONING_MESSAGE_START", messageId: id, role: "reasoning" })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "ToolCallPart") {
          // Built-in (provider-executed) tool parts are not shown: the provider ran them.
          const toolCallId = part.toolCallId
          const target = deltaTarget({ type: "TOOL_CALL_ARGS", toolCallId }, "delta", (delta) => ({
            type: "TOOL_CALL_ARGS",
            toolCallId,
            delta
          }))
          this.tools.set(event.index, target)
          this.announced.add(part.toolCallId)
          out.push({
            type: "TOOL_CALL_START",
            toolCallId: part.toolCallId,
            toolCallName: part.toolName
          })
          const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
          if (args !== "" && args !== "{}") out.delta(target, args)
        }
        break
      }
      case "PartDeltaEvent": {
        const fragment = fragmentOf(event.delta)
        if (fragment === undefined) break
        const tag = event.delta._tag
        const target = (
          tag === "TextPartDelta"
            ? this.texts
            : tag === "ThinkingPartDelta"
              ? this.reasonings
              : this.tools
        ).get(event.index)
        if (target !== undefined) out.delta(target, fragment)
        break
      }
      case "PartEndEvent": {
        const part = event.part
        if (part._tag === "TextPart") {
          const target = this.texts.get(event.index)
          if (target !== undefined) {
            this.texts.delete(event.index)
            out.push({ type: "TEXT_MESSAGE_END", messageId: target.fields.messageId })
          }
        } else if (part._tag === "ThinkingPart") {
          const target = this.reasonings.get(event.index)
          if (target !== undefined) {
            const id = target.fields.messageId
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
        } else if (part._tag === "ToolCallPart") {
          const target = this.tools.get(event.index)
          if (target !== undefined) {
            this.tools.delete(event.index)
            out.push({ type: "TOOL_CALL_END", toolCallId: target.fields.toolCallId })
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
        // state events belong before RUN_FINISHED
        const state = this.options.stateEvents?.(event)
        if (state !== undefined) for (const e of state) out.push(e)
        const output = event.result.output
        if (DeferredTools.isDeferredToolRequests(output)) {
          // the run waits: an interrupt per deferred call, answered in `RunAgentInput.resume`
          const result = this.options.result?.(event.result)
          out.push({
            type: "RUN_FINISHED",
            threadId: this.options.threadId,
            runId: this.options.runId,
            ...(result !== undefined ? { result } : {}),
            outcome: { type: "interrupt", interrupts: interrupts(output) }
          })
          return
        }
        const result = this.options.result?.(event.result) ?? output
        out.push({
          type: "RUN_FINISHED",
          threadId: this.options.threadId,
          runId: this.options.runId,
          ...(result !== undefined ? { result } : {})
        })
        return
      }
    }
    const state = this.options.stateEvents?.(event)
    if (state !== undefined) for (const e of state) out.push(e)
  }

  /** A failed run: open messages are closed, then `RUN_ERROR`. */
  fail(message: string, code: string | undefined, out: Sink<Event>): void {
    if (!this.started) this.start(out)
    this.closeOpen(out)
    out.push(
      code !== undefined ? { type: "RUN_ERROR", message, code } : { type: "RUN_ERROR", message }
    )
  }
}
