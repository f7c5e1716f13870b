/**
 * The AI SDK UI message stream encoder: agentfx run events → UI message chunks (the objects
 * `useChat` of `ai` 6 reads, one per SSE `data:` line). One encoder per stream; it keeps the
 * open parts, the step and the tool calls still waiting for an output.
 */
import type { Agent, Messages } from "@agentfx/core"
import { DeferredTools } from "@agentfx/core"
import {
  type DeltaTarget,
  deltaTarget,
  fragmentOf,
  parseArgs,
  type Sink,
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

/** Encodes one run's events; `encode` appends the chunks of an event to `out`. */
export class Encoder<A> {
  private started = false
  private stepOpen = false
  private stepHasParts = false
  private afterTools = false
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

  constructor(private readonly options: EncoderOptions<A>) {
    this.sendReasoning = options.sendReasoning !== false
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
    out.push({ type: "start-step" })
  }

  private closeParts(out: Sink<Chunk>): void {
    for (const t of this.texts.values()) out.push({ type: "text-end", id: t.fields.id })
    for (const t of this.reasonings.values()) out.push({ type: "reasoning-end", id: t.fields.id })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
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
        } else if (part._tag === "ToolCallPart") {
          // Built-in (provider-executed) tool parts are not shown: the provider ran them.
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
              : this.tools.get(event.index)?.target
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
            // The signature goes to the client and back, so a continued conversation can
            // send the reasoning to the provider that signed it.
            out.push(
              part.signature !== undefined
                ? {
                    type: "reasoning-end",
                    id,
                    providerMetadata: {
                      agentfx: {
                        signature: part.signature,
                        ...(part.providerName !== undefined
                          ? { providerName: part.providerName }
                          : {}),
                        ...(part.redacted === true ? { redacted: true } : {})
                      }
                    }
                  }
                : { type: "reasoning-end", id }
            )
          }
        } else if (part._tag === "ToolCallPart") {
          const started = this.tools.has(event.index)
          this.tools.delete(event.index)
          this.announce(out, part, started)
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
        this.afterTools = true
        if (!this.pending.has(event.part.toolCallId)) this.announce(out, event.part, false)
        break
      case "FunctionToolResultEvent": {
        const result = event.result
        if (result.toolCallId === undefined || !this.resumed.has(result.toolCallId)) {
          if (!this.stepOpen) this.openStep(out)
          this.afterTools = true
        }
        if (result._tag === "ToolReturnPart") this.toolResult(out, result)
        else if (result.toolCallId !== undefined && this.pending.has(result.toolCallId)) {
          this.pending.delete(result.toolCallId)
          out.push({
            type: "tool-output-error",
            toolCallId: result.toolCallId,
            errorText: typeof result.content === "string" ? result.content : result.modelResponse
          })
        }
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
        const reason = result.response.finishReason
        const metadata = this.options.messageMetadata?.(result)
        out.push({
          type: "finish",
          ...(reason !== undefined ? { finishReason: finishReasons[reason] } : {}),
          ...(metadata !== undefined ? { messageMetadata: metadata } : {})
        })
        break
      }
    }
    const data = this.options.dataParts?.(event)
    if (data !== undefined) for (const d of data) out.push(d)
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

  /** A failed run: open parts are closed, then one `error` chunk. */
  fail(errorText: string, out: Sink<Chunk>): void {
    if (!this.started) this.start(out)
    this.closeParts(out)
    out.push({ type: "error", errorText })
  }
}
