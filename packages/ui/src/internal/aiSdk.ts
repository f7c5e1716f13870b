/**
 * The AI SDK UI message stream encoder: agentfx run events → UI message chunks (the objects
 * `useChat` of `ai` 6 reads, one per SSE `data:` line). One encoder per stream; it keeps the
 * open parts, the step and the tool calls still waiting for an output.
 */
import type { Agent, Messages } from "@agentfx/core"
import { parseArgs, toolOutputJson } from "./common.js"

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
}

/** Encodes one run's events; `encode` appends the chunks of an event to `out`. */
export class Encoder<A> {
  private started = false
  private stepOpen = false
  private stepHasParts = false
  private afterTools = false
  private step = 0
  /** response index → chunk id of an open text / reasoning part */
  private readonly texts = new Map<number, string>()
  private readonly reasonings = new Map<number, string>()
  /** response index → tool call whose input streams */
  private readonly tools = new Map<number, OpenTool>()
  /** tool calls announced (input available) and not answered yet */
  private readonly pending = new Map<string, string>()
  private readonly sendReasoning: boolean

  constructor(private readonly options: EncoderOptions<A>) {
    this.sendReasoning = options.sendReasoning !== false
  }

  /** The `start` chunk (once). */
  start(out: Array<Chunk>): void {
    if (this.started) return
    this.started = true
    out.push(
      this.options.messageId !== undefined
        ? { type: "start", messageId: this.options.messageId }
        : { type: "start" }
    )
  }

  private openStep(out: Array<Chunk>): void {
    this.step++
    this.stepOpen = true
    this.stepHasParts = false
    this.afterTools = false
    out.push({ type: "start-step" })
  }

  private closeParts(out: Array<Chunk>): void {
    for (const id of this.texts.values()) out.push({ type: "text-end", id })
    for (const id of this.reasonings.values()) out.push({ type: "reasoning-end", id })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
  }

  private closeStep(out: Array<Chunk>): void {
    if (!this.stepOpen) return
    this.closeParts(out)
    this.stepOpen = false
    out.push({ type: "finish-step" })
  }

  /** A model event opens a step; one after tool events, or a new response, opens the next. */
  private modelEvent(out: Array<Chunk>, newResponse: boolean): void {
    if (!this.stepOpen) this.openStep(out)
    else if (this.afterTools || (newResponse && this.stepHasParts)) {
      this.closeStep(out)
      this.openStep(out)
    }
    this.stepHasParts = true
  }

  private announce(out: Array<Chunk>, part: Messages.ToolCallPart, started: boolean): void {
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

  private toolResult(out: Array<Chunk>, result: Messages.ToolReturnPart): void {
    if (!this.pending.has(result.toolCallId)) return
    this.pending.delete(result.toolCallId)
    if (result.outcome === "success") {
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

  encode(event: Agent.AgentStreamEvent<A>, out: Array<Chunk>): void {
    if (!this.started) this.start(out)
    switch (event._tag) {
      case "PartStartEvent": {
        this.modelEvent(out, event.index === 0)
        const part = event.part
        const index = event.index
        if (part._tag === "TextPart") {
          const id = `text-${this.step}-${index}`
          this.texts.set(index, id)
          out.push({ type: "text-start", id })
          if (part.content !== "") out.push({ type: "text-delta", id, delta: part.content })
        } else if (part._tag === "ThinkingPart") {
          if (!this.sendReasoning) break
          const id = `reasoning-${this.step}-${index}`
          this.reasonings.set(index, id)
          out.push({ type: "reasoning-start", id })
          if (part.content !== "") out.push({ type: "reasoning-delta", id, delta: part.content })
        } else {
          this.tools.set(index, { toolCallId: part.toolCallId, toolName: part.toolName })
          out.push({
            type: "tool-input-start",
            toolCallId: part.toolCallId,
            toolName: part.toolName
          })
          const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
          if (args !== "" && args !== "{}") {
            out.push({
              type: "tool-input-delta",
              toolCallId: part.toolCallId,
              inputTextDelta: args
            })
          }
        }
        break
      }
      case "PartDeltaEvent": {
        this.modelEvent(out, false)
        const delta = event.delta
        if (delta._tag === "TextPartDelta") {
          if (delta.contentDelta === "") break
          let id = this.texts.get(event.index)
          if (id === undefined) {
            id = `text-${this.step}-${event.index}`
            this.texts.set(event.index, id)
            out.push({ type: "text-start", id })
          }
          out.push({ type: "text-delta", id, delta: delta.contentDelta })
        } else if (delta._tag === "ThinkingPartDelta") {
          const id = this.reasonings.get(event.index)
          if (id !== undefined && delta.contentDelta !== undefined && delta.contentDelta !== "") {
            out.push({ type: "reasoning-delta", id, delta: delta.contentDelta })
          }
        } else {
          const tool = this.tools.get(event.index)
          if (tool !== undefined && typeof delta.argsDelta === "string" && delta.argsDelta !== "") {
            out.push({
              type: "tool-input-delta",
              toolCallId: tool.toolCallId,
              inputTextDelta: delta.argsDelta
            })
          }
        }
        break
      }
      case "PartEndEvent": {
        this.modelEvent(out, false)
        const part = event.part
        if (part._tag === "TextPart") {
          const id = this.texts.get(event.index)
          if (id !== undefined) {
            this.texts.delete(event.index)
            out.push({ type: "text-end", id })
          }
        } else if (part._tag === "ThinkingPart") {
          const id = this.reasonings.get(event.index)
          if (id !== undefined) {
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
        } else {
          const started = this.tools.has(event.index)
          this.tools.delete(event.index)
          this.announce(out, part, started)
        }
        break
      }
      case "FunctionToolCallEvent":
        if (!this.stepOpen) this.openStep(out)
        this.afterTools = true
        if (!this.pending.has(event.part.toolCallId)) this.announce(out, event.part, false)
        break
      case "FunctionToolResultEvent": {
        if (!this.stepOpen) this.openStep(out)
        this.afterTools = true
        const result = event.result
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

  /** A failed run: open parts are closed, then one `error` chunk. */
  fail(errorText: string, out: Array<Chunk>): void {
    if (!this.started) this.start(out)
    this.closeParts(out)
    out.push({ type: "error", errorText })
  }
}
