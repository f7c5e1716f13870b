/**
 * The AG-UI encoder: agentfx run events → AG-UI events (`@ag-ui/core` 1.0 shapes). One
 * encoder per run; it keeps the open messages and tool calls.
 */
import type { Agent } from "@agentfx/core"
import { DeferredTools, Messages } from "@agentfx/core"
import {
  compactionFields,
  type DeltaTarget,
  deltaTarget,
  fragmentOf,
  mediaKind,
  type Sink,
  thinkingFields,
  toolAvailabilityEventName,
  toolAvailabilityJson,
  toolOutputJson
} from "./common.js"

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
  readonly subAgents?: boolean | undefined
  /** Set on the encoder of a sub-agent: its `subagentRunId`, on every event it writes. */
  readonly subagentRunId?: string | undefined
  /** `usage` on `RUN_FINISHED` / `RUN_ERROR` (default `true`). */
  readonly usage?: boolean | undefined
}

/**
 * Where a part was in its response: the response (`<runId>-<n>`) and the part's index in it. A
 * client keeps a response's parts in several messages — reasoning apart, one assistant message
 * for the text and tool calls, tool results after it — so the decoder needs it to put them back
 * in the order the provider sent them (Anthropic checks the order of thinking blocks).
 */
export interface PartPosition {
  readonly response: string
  readonly index: number
}

/** `metadata` of the events of a built-in (provider-executed) tool call. */
const builtinMetadata = (part: { readonly providerName: string }, position: PartPosition) => ({
  agentfx: { providerExecuted: true, providerName: part.providerName, position }
})

/**
 * `metadata` of a reasoning message's `REASONING_MESSAGE_END`: what a provider needs of the
 * thinking part besides its text and signature (its place in the response, its own id, the
 * provider that signed it, whether it is redacted, its details), which a client folds into the
 * reasoning message and posts back.
 */
export const thinkingMetadata = (
  part: Messages.ThinkingPart,
  position: PartPosition
): { readonly agentfx: Record<string, unknown> } => ({
  agentfx: { position, ...thinkingFields(part) }
})

/** A count AG-UI takes: an integer from 0 to `Number.MAX_SAFE_INTEGER` (a sum past it is dropped). */
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

/** The reasoning tokens of a request, when its provider counts them apart (OpenAI, Google). */
const reasoningTokensOf = (usage: Messages.ModelResponse["usage"]): number | undefined =>
  usage.details.reasoning_tokens ?? usage.details.thoughts_tokens

/**
 * AG-UI `TokenUsage` entries of model responses: one per provider and model, in the order of
 * their first response. Input and output are totals in agentfx as in AG-UI (input includes cached
 * tokens, output reasoning tokens). A response whose provider reported no tokens adds nothing; a
 * part count (reasoning, cache read, cache write) is there only when a provider reported it and
 * it fits in its total; a count that is not a safe integer is left out.
 */
export const tokenUsage = (
  responses: Iterable<Messages.ModelResponse>
): Array<Record<string, unknown>> => {
  interface Group {
    readonly provider: string | undefined
    readonly model: string | undefined
    input: number
    output: number
    cacheRead: number
    cacheWrite: number
    reasoning: number | undefined
  }
  const groups = new Map<string, Group>()
  for (const r of responses) {
    const u = r.usage
    const reasoning = reasoningTokensOf(u)
    if (
      u.inputTokens === 0 &&
      u.outputTokens === 0 &&
      u.cacheReadTokens === 0 &&
      u.cacheWriteTokens === 0 &&
      reasoning === undefined
    ) {
      continue
    }
    const key = JSON.stringify([r.providerName ?? null, r.modelName ?? null])
    let g = groups.get(key)
    if (g === undefined) {
      g = {
        provider: r.providerName,
        model: r.modelName,
        input: 0,
        output: 0,
        cacheRead: 0,
        cacheWrite: 0,
        reasoning: undefined
      }
      groups.set(key, g)
    }
    g.input += u.inputTokens
    g.output += u.outputTokens
    g.cacheRead += u.cacheReadTokens
    g.cacheWrite += u.cacheWriteTokens
    if (reasoning !== undefined) g.reasoning = (g.reasoning ?? 0) + reasoning
  }
  const out: Array<Record<string, unknown>> = []
  for (const g of groups.values()) {
    const entry: Record<string, unknown> = {}
    if (g.provider !== undefined) entry.provider = g.provider
    if (g.model !== undefined) entry.model = g.model
    const input = isCount(g.input) ? g.input : undefined
    const output = isCount(g.output) ? g.output : undefined
    if (input !== undefined) entry.inputTokens = input
    if (output !== undefined) entry.outputTokens = output
    if (input !== undefined && output !== undefined && isCount(input + output)) {
      entry.totalTokens = input + output
    }
    // parts of a total: only when a provider counted them, and within their total
    if (
      g.reasoning !== undefined &&
      output !== undefined &&
      isCount(g.reasoning) &&
      g.reasoning <= output
    ) {
      entry.reasoningTokens = g.reasoning
    }
    const cached = g.cacheRead + g.cacheWrite
    if (input !== undefined && isCount(cached) && cached <= input) {
      if (g.cacheRead > 0) entry.cachedInputTokens = g.cacheRead
      if (g.cacheWrite > 0) entry.cacheWriteInputTokens = g.cacheWrite
    }
    if (Object.keys(entry).some((k) => k !== "provider" && k !== "model")) out.push(entry)
  }
  return out
}

/**
 * The responses of the run that failed with `messages` (the messages its error carries, history
 * included): those after the run's first request. Every request a run sends carries its `runId`,
 * so the run's is the id of the last request that has one.
 */
const failedRunResponses = (
  messages: ReadonlyArray<Messages.ModelMessage>
): Array<Messages.ModelResponse> => {
  let runId: string | undefined
  for (let i = messages.length - 1; i >= 0 && runId === undefined; i--) {
    const m = messages[i]!
    if (m._tag === "ModelRequest") runId = m.runId
  }
  if (runId === undefined) return []
  const first = messages.findIndex((m) => m._tag === "ModelRequest" && m.runId === runId)
  return messages
    .slice(first)
    .filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")
}

/**
 * The `activityType` of the `ACTIVITY_SNAPSHOT` a generated file (`Messages.FilePart`) becomes:
 * AG-UI assistant messages hold text only, so the file is an activity message whose `content` is
 * `{ url: <data: URL>, mediaType }` (plus `id` / `providerName` when the provider gave them).
 */
export const fileActivityType = "agentfx_file"

/** The `reason` of an interrupt for a call waiting for approval, and its id prefix. */
export const approvalReason = "tool_approval"
/** The `reason` of an interrupt for a call whose result comes from the client, and its id prefix. */
export const resultReason = "tool_result"

/** An AG-UI media content part (`image` / `audio` / `video` / `document`) of a file. */
const mediaPart = (file: Messages.FileContent): Record<string, unknown> => {
  const mediaType = file._tag === "UploadedFile" ? file.effectiveMediaType : file.mediaType
  const type =
    file._tag === "ImageUrl"
      ? "image"
      : file._tag === "AudioUrl"
        ? "audio"
        : file._tag === "VideoUrl"
          ? "video"
          : file._tag === "DocumentUrl"
            ? "document"
            : mediaKind(mediaType)
  const source =
    file._tag === "BinaryContent"
      ? { type: "data", value: file.base64, mimeType: file.mediaType }
      : file._tag === "UploadedFile"
        ? { type: "file", value: file.fileId, provider: file.providerName, mimeType: mediaType }
        : {
            type: "url",
            value: file.url,
            ...(mediaType !== undefined ? { mimeType: mediaType } : {})
          }
  return { type, source }
}

/**
 * A tool return's `TOOL_CALL_RESULT.content`: its text, or — when it returned files — content
 * parts (text, and each file as an image / audio / video / document part), so the client can
 * show the files and send them back.
 */
const toolResultContent = (content: unknown): string | Array<Record<string, unknown>> => {
  const items = Messages.isFileContent(content) ? [content] : content
  if (!Array.isArray(items) || !items.some(Messages.isFileContent)) {
    return Messages.renderToolContent(content)
  }
  return items.map((c) =>
    Messages.isFileContent(c) ? mediaPart(c) : { type: "text", text: Messages.renderToolContent(c) }
  )
}

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
  /** parent tool call id → the encoder of the sub-agent it runs */
  private readonly subs = new Map<string, Encoder<unknown>>()
  private finished = false
  private readonly sub: string | undefined
  /**
   * The responses of the sub-agents (and handoff targets) that finished, from their results:
   * their usage is the run's too (a sub-agent's conversation is not in the run's messages).
   */
  private readonly subResponses: Array<Messages.ModelResponse> = []
  /**
   * The assistant message of the current response (its first text message, or one named after
   * the response): `parentMessageId` of the response's tool calls, so a client keeps a response
   * as one message (text and every tool call) rather than one message per call.
   */
  private message: string | undefined
  /** The indices of the current response's parts sent so far (streamed, or announced). */
  private readonly indices = new Set<number>()
  /**
   * A tool result of this run came after the current response's parts: the next part (or call
   * the model did not stream) is a new response's.
   */
  private answered = false
  /** The model streamed a part in this run (its error's messages then hold its responses). */
  private streamed = false

  constructor(private readonly options: EncoderOptions<A>) {
    this.sub = options.subagentRunId
    // calls of a resumed run are on the client already: they get their results only
    const r = options.resuming
    if (r !== undefined) {
      for (const id of [...Object.keys(r.approvals), ...Object.keys(r.calls)]) {
        this.announced.add(id)
      }
    }
  }

  /** Writes an event of this run (a sub-agent's carries its `subagentRunId`). */
  private push(out: Sink<Event>, event: Event): void {
    out.push(this.sub === undefined ? event : { ...event, subagentRunId: this.sub })
  }

  /** The delta target of a streamed message or tool call (`{ type, [key]: id, delta }`). */
  private target(type: string, key: "messageId" | "toolCallId", id: string): DeltaTarget {
    const sub = this.sub
    if (sub !== undefined) {
      return key === "messageId"
        ? deltaTarget({ type, messageId: id, subagentRunId: sub }, "delta", (delta) => ({
            type,
            messageId: id,
            subagentRunId: sub,
            delta
          }))
        : deltaTarget({ type, toolCallId: id, subagentRunId: sub }, "delta", (delta) => ({
            type,
            toolCallId: id,
            subagentRunId: sub,
            delta
          }))
    }
    return key === "messageId"
      ? deltaTarget({ type, messageId: id }, "delta", (delta) => ({ type, messageId: id, delta }))
      : deltaTarget({ type, toolCallId: id }, "delta", (delta) => ({ type, toolCallId: id, delta }))
  }

  start(out: Sink<Event>): void {
    if (this.started) return
    this.started = true
    // a sub-agent is announced by its parent (`SUBAGENT_STARTED`)
    if (this.sub !== undefined) return
    out.push({ type: "RUN_STARTED", threadId: this.options.threadId, runId: this.options.runId })
    if (this.options.initialState !== undefined) {
      out.push({ type: "STATE_SNAPSHOT", snapshot: this.options.initialState })
    }
  }

  /** Ends the open messages and tool calls. */
  closeOpen(out: Sink<Event>): void {
    for (const t of this.texts.values()) {
      this.push(out, { type: "TEXT_MESSAGE_END", messageId: t.fields.messageId })
    }
    for (const t of this.reasonings.values()) {
      this.push(out, { type: "REASONING_MESSAGE_END", messageId: t.fields.messageId })
      this.push(out, { type: "REASONING_END", messageId: t.fields.messageId })
    }
    for (const t of this.tools.values())
      this.push(out, { type: "TOOL_CALL_END", toolCallId: t.fields.toolCallId })
    this.texts.clear()
    this.reasonings.clear()
    this.tools.clear()
  }

  private id(kind: string, index: number): string {
    return `${this.options.runId}-${kind}-${this.response}-${index}`
  }

  /** The position of the part at `index` of the current response. */
  private position(index: number): PartPosition {
    return { response: `${this.options.runId}-${this.response}`, index }
  }

  /** The assistant message a tool call of the current response belongs to. */
  private parentMessageId(): string {
    if (this.message === undefined) {
      this.message = `${this.options.runId}-message-${this.response}`
    }
    return this.message
  }

  /** A new response starts: parts are numbered in it, its tool calls get a message of their own. */
  private nextResponse(): void {
    this.response++
    this.message = undefined
    this.indices.clear()
    this.answered = false
  }

  /**
   * A tool call the model did not stream (it is in the response only; its tool event announces
   * it): a response's part, at the first index its streamed parts left free. Tool events follow
   * the response's stream, so those are its unstreamed parts, in order — its function calls, in
   * the order of their events. A call after this run's tool results (or before any response) is
   * a new response's: one the model did not stream at all.
   */
  private toolCall(out: Sink<Event>, part: Messages.ToolCallPart): void {
    if (this.response === 0 || this.answered) this.nextResponse()
    let index = 0
    while (this.indices.has(index)) index++
    this.indices.add(index)
    this.announced.add(part.toolCallId)
    this.push(out, {
      type: "TOOL_CALL_START",
      toolCallId: part.toolCallId,
      toolCallName: part.toolName,
      parentMessageId: this.parentMessageId(),
      metadata: { agentfx: { position: this.position(index) } }
    })
    this.push(out, {
      type: "TOOL_CALL_ARGS",
      toolCallId: part.toolCallId,
      delta: part.argsAsJson()
    })
    this.push(out, { type: "TOOL_CALL_END", toolCallId: part.toolCallId })
  }

  /**
   * A provider's compaction of the history (it arrives whole): a reasoning message — its readable
   * summary as the text, its opaque content as the `REASONING_ENCRYPTED_VALUE`, its provider, id,
   * details and position in `REASONING_MESSAGE_END.metadata.agentfx` with `compaction: true`. A
   * reasoning message is the one message with opaque provider data a client keeps and posts
   * back (`@ag-ui/client` leaves activity messages out of `RunAgentInput.messages`); decoding
   * turns it back into the `CompactionPart`, so the next request does not resend what it replaced.
   */
  private compaction(out: Sink<Event>, part: Messages.CompactionPart, index: number): void {
    const id = this.id("compaction", index)
    this.push(out, { type: "REASONING_START", messageId: id })
    this.push(out, { type: "REASONING_MESSAGE_START", messageId: id, role: "reasoning" })
    if (part.content !== undefined && part.content !== "") {
      this.push(out, { type: "REASONING_MESSAGE_CONTENT", messageId: id, delta: part.content })
    }
    this.push(out, {
      type: "REASONING_MESSAGE_END",
      messageId: id,
      metadata: {
        agentfx: { position: this.position(index), compaction: true, ...compactionFields(part) }
      }
    })
    if (part.encryptedContent !== undefined) {
      this.push(out, {
        type: "REASONING_ENCRYPTED_VALUE",
        subtype: "message",
        entityId: id,
        encryptedValue: part.encryptedContent
      })
    }
    this.push(out, { type: "REASONING_END", messageId: id })
  }

  encode(event: Agent.AgentStreamEvent<A>, out: Sink<Event>): void {
    if (!this.started) this.start(out)
    switch (event._tag) {
      case "PartStartEvent": {
        // a response's first part, or the first part streamed after the tool results (its
        // parts before were not streamed)
        if (event.index === 0 || this.answered) this.nextResponse()
        this.indices.add(event.index)
        this.streamed = true
        const part = event.part
        if (part._tag === "TextPart") {
          const id = this.id("text", event.index)
          // the response's text and the tool calls after it are one assistant message
          if (this.message === undefined) this.message = id
          const target = this.target("TEXT_MESSAGE_CONTENT", "messageId", id)
          this.texts.set(event.index, target)
          this.push(out, {
            type: "TEXT_MESSAGE_START",
            messageId: id,
            role: "assistant",
            metadata: { agentfx: { position: this.position(event.index) } }
          })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "ThinkingPart") {
          const id = this.id("reasoning", event.index)
          const target = this.target("REASONING_MESSAGE_CONTENT", "messageId", id)
          this.reasonings.set(event.index, target)
          this.push(out, { type: "REASONING_START", messageId: id })
          this.push(out, { type: "REASONING_MESSAGE_START", messageId: id, role: "reasoning" })
          if (part.content !== "") out.delta(target, part.content)
        } else if (part._tag === "CompactionPart") {
          this.compaction(out, part, event.index)
        } else if (part._tag === "FilePart") {
          this.push(out, {
            type: "ACTIVITY_SNAPSHOT",
            messageId: this.id("file", event.index),
            activityType: fileActivityType,
            content: {
              url: part.content.dataUrl,
              mediaType: part.content.mediaType,
              ...(part.id !== undefined ? { id: part.id } : {}),
              ...(part.providerName !== undefined ? { providerName: part.providerName } : {}),
              // in the content: a client keeps an activity's content, not its event's metadata
              position: this.position(event.index)
            }
          })
        } else if (part._tag === "BuiltinToolReturnPart") {
          // a built-in tool's return, when its call was shown
          if (!this.announced.has(part.toolCallId)) break
          this.push(out, {
            type: "TOOL_CALL_RESULT",
            messageId: `${this.options.runId}-result-${part.toolCallId}`,
            toolCallId: part.toolCallId,
            content: Messages.renderToolContent(part.content),
            role: "tool",
            metadata: builtinMetadata(part, this.position(event.index))
          })
        } else {
          // a function tool call, or a built-in one (provider-executed: `metadata.agentfx`)
          const target = this.target("TOOL_CALL_ARGS", "toolCallId", part.toolCallId)
          this.tools.set(event.index, target)
          this.announced.add(part.toolCallId)
          const position = this.position(event.index)
          this.push(out, {
            type: "TOOL_CALL_START",
            toolCallId: part.toolCallId,
            toolCallName: part.toolName,
            parentMessageId: this.parentMessageId(),
            metadata:
              part._tag === "BuiltinToolCallPart"
                ? builtinMetadata(part, position)
                : { agentfx: { position } }
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
            this.push(out, { type: "TEXT_MESSAGE_END", messageId: target.fields.messageId })
          }
        } else if (part._tag === "ThinkingPart") {
          const target = this.reasonings.get(event.index)
          if (target !== undefined) {
            const id = target.fields.messageId
            this.reasonings.delete(event.index)
            this.push(out, {
              type: "REASONING_MESSAGE_END",
              messageId: id,
              metadata: thinkingMetadata(part, this.position(event.index))
            })
            if (part.signature !== undefined) {
              this.push(out, {
                type: "REASONING_ENCRYPTED_VALUE",
                subtype: "message",
                entityId: id,
                encryptedValue: part.signature
              })
            }
            this.push(out, { type: "REASONING_END", messageId: id })
          }
        } else if (part._tag === "ToolCallPart" || part._tag === "BuiltinToolCallPart") {
          const target = this.tools.get(event.index)
          if (target !== undefined) {
            this.tools.delete(event.index)
            this.push(out, { type: "TOOL_CALL_END", toolCallId: target.fields.toolCallId })
          }
        }
        break
      }
      case "FunctionToolCallEvent":
        if (!this.announced.has(event.part.toolCallId)) this.toolCall(out, event.part)
        break
      case "FunctionToolResultEvent": {
        const r = event.result
        this.answered = true
        if (r.toolCallId === undefined) break
        this.endSub(
          out,
          r.toolCallId,
          r._tag === "ToolReturnPart" ? r.contentText : r.modelResponse
        )
        this.push(out, {
          type: "TOOL_CALL_RESULT",
          messageId: `${this.options.runId}-result-${r.toolCallId}`,
          toolCallId: r.toolCallId,
          content: r._tag === "ToolReturnPart" ? toolResultContent(r.content) : r.modelResponse,
          role: "tool",
          // a return naming found tools keeps them as JSON, for the history to come back with
          ...(r._tag === "ToolReturnPart" && r.toolReferences.length > 0
            ? { metadata: { agentfx: { content: toolOutputJson(r.content) } } }
            : {})
        })
        break
      }
      case "ToolAvailabilityDeltaEvent":
        this.push(out, {
          type: "CUSTOM",
          name: toolAvailabilityEventName,
          value: toolAvailabilityJson(event.part)
        })
        break
      case "SubAgentEvent":
        if (this.sub === undefined) this.subAgentResult(event)
        if (this.options.subAgents !== false) this.subAgent(out, event)
        break
      case "FinalResultEvent":
        break
      case "AgentRunResultEvent": {
        this.closeOpen(out)
        if (this.sub !== undefined) {
          // a sub-agent's end: its result, or its suspension on deferred calls
          this.finished = true
          const output = event.result.output
          out.push(
            DeferredTools.isDeferredToolRequests(output)
              ? {
                  type: "SUBAGENT_FINISHED",
                  subagentRunId: this.sub,
                  outcome: { type: "suspended" }
                }
              : {
                  type: "SUBAGENT_FINISHED",
                  subagentRunId: this.sub,
                  ...(output != null ? { result: output } : {})
                }
          )
          return
        }
        // state events belong before RUN_FINISHED
        const state = this.options.stateEvents?.(event)
        if (state !== undefined) for (const e of state) out.push(e)
        const output = event.result.output
        const usage = this.usage(
          event.result
            .newMessages()
            .filter((m): m is Messages.ModelResponse => m._tag === "ModelResponse")
        )
        if (DeferredTools.isDeferredToolRequests(output)) {
          // the run waits: an interrupt per deferred call, answered in `RunAgentInput.resume`
          const result = this.options.result?.(event.result)
          this.push(out, {
            type: "RUN_FINISHED",
            threadId: this.options.threadId,
            runId: this.options.runId,
            ...(result != null ? { result } : {}),
            outcome: { type: "interrupt", interrupts: interrupts(output) },
            ...usage
          })
          return
        }
        const result = this.options.result?.(event.result) ?? output
        this.push(out, {
          type: "RUN_FINISHED",
          threadId: this.options.threadId,
          runId: this.options.runId,
          // AG-UI has no null result: a run whose output is null has none
          ...(result != null ? { result } : {}),
          ...usage
        })
        return
      }
    }
    if (this.sub !== undefined) return
    const state = this.options.stateEvents?.(event)
    if (state !== undefined) for (const e of state) out.push(e)
  }

  /**
   * A sub-agent's result (however deep the sub-agent): its own responses count in this run's
   * usage. A handoff target's responses are in this run's messages too: `usage` counts each
   * response once.
   */
  private subAgentResult(event: Agent.SubAgentEvent): void {
    let inner: Agent.AgentStreamEvent<unknown> = event.event
    while (inner._tag === "SubAgentEvent") inner = inner.event
    if (inner._tag !== "AgentRunResultEvent") return
    for (const m of inner.result.newMessages()) {
      if (m._tag === "ModelResponse") this.subResponses.push(m)
    }
  }

  /**
   * `{ usage }` of `RUN_FINISHED` / `RUN_ERROR`: the tokens of the run's own responses and of its
   * sub-agents', per provider and model; `{}` when turned off or nothing was reported.
   */
  private usage(own: ReadonlyArray<Messages.ModelResponse>): { usage?: unknown } {
    if (this.options.usage === false) return {}
    const entries = tokenUsage(new Set([...own, ...this.subResponses]))
    return entries.length > 0 ? { usage: entries } : {}
  }

  /**
   * An event of a sub-agent run by one of this run's tool calls: `SUBAGENT_STARTED` (its
   * name, the parent's tool call, the enclosing sub-agent) before its first event, then its
   * events, each with its `subagentRunId`.
   */
  private subAgent(out: Sink<Event>, event: Agent.SubAgentEvent): void {
    let sub = this.subs.get(event.toolCallId)
    if (sub === undefined) {
      const subagentRunId = `${this.options.runId}-agent-${event.toolCallId}`
      sub = new Encoder<unknown>({
        threadId: this.options.threadId,
        runId: subagentRunId,
        subagentRunId
      })
      this.subs.set(event.toolCallId, sub)
      out.push({
        type: "SUBAGENT_STARTED",
        subagentRunId,
        name: event.agentName,
        parentToolCallId: event.toolCallId,
        ...(this.sub !== undefined ? { parentSubagentRunId: this.sub } : {})
      })
    }
    sub.encode(event.event, out)
  }

  /** The parent's call ended: a sub-agent it ran that did not finish failed (`SUBAGENT_ERROR`). */
  private endSub(out: Sink<Event>, toolCallId: string, message: string): void {
    const sub = this.subs.get(toolCallId)
    if (sub === undefined) return
    this.subs.delete(toolCallId)
    if (!sub.finished) sub.abandon(message, out)
  }

  /**
   * This sub-agent ends without finishing: the sub-agents it runs end first, then its open
   * messages, then `SUBAGENT_ERROR` — no sub-agent is left running.
   */
  private abandon(message: string, out: Sink<Event>): void {
    this.endSubs(message, out)
    this.closeOpen(out)
    out.push({ type: "SUBAGENT_ERROR", subagentRunId: this.sub, message })
  }

  /** Every sub-agent still running ends with `message` (`SUBAGENT_ERROR`). */
  private endSubs(message: string, out: Sink<Event>): void {
    for (const sub of this.subs.values()) if (!sub.finished) sub.abandon(message, out)
    this.subs.clear()
  }

  /**
   * A failed run: the sub-agents still running and the open messages end, then `RUN_ERROR`, with
   * the usage of the responses before the failure (`messages`: the ones its error carries).
   */
  fail(
    message: string,
    code: string | undefined,
    out: Sink<Event>,
    messages: ReadonlyArray<Messages.ModelMessage> = []
  ): void {
    if (!this.started) this.start(out)
    this.endSubs(message, out)
    this.closeOpen(out)
    // a run that streamed no response of its own has none in its error's messages (those are
    // the history's)
    const usage = this.usage(this.streamed ? failedRunResponses(messages) : [])
    out.push(
      code !== undefined
        ? { type: "RUN_ERROR", message, code, ...usage }
        : { type: "RUN_ERROR", message, ...usage }
    )
  }
}
