/**
 * The messages an AG-UI client keeps from a run's events, by the events' documented semantics
 * (what `@ag-ui/client`'s `defaultApplyEvents` does; that package is not a dependency of these
 * tests): a message per text / reasoning stream, tool calls joining the assistant message their
 * `parentMessageId` names, each tool result right after the message holding its call, an
 * encrypted value on the message (or call) it names, and each event's `metadata` folded into the
 * message (or call) it builds, key by key.
 */
import type { UiStream } from "@agentfx/ui"

type Message = Record<string, unknown>
type ToolCall = {
  id: string
  type: "function"
  function: { name: string; arguments: string }
  encryptedValue?: string
  metadata?: Record<string, unknown>
}

const fold = (target: { metadata?: unknown }, event: UiStream.AgUiEvent) => {
  if (event.metadata === undefined) return
  target.metadata = { ...(target.metadata as object | undefined), ...(event.metadata as object) }
}

/** `messages` (the thread so far) with the messages the events build appended, as JSON. */
export const clientMessages = (
  events: ReadonlyArray<UiStream.AgUiEvent>,
  messages: ReadonlyArray<Message> = []
): Array<Message> => {
  const out: Array<Message> = messages.map((m) => ({ ...m }))
  const byId = (id: unknown) => out.find((m) => m.id === id)
  const calls = (m: Message) => (m.toolCalls ?? []) as Array<ToolCall>
  const callOf = (id: unknown) => {
    for (const m of out) for (const c of calls(m)) if (c.id === id) return { message: m, call: c }
    return undefined
  }
  const attributed = (e: UiStream.AgUiEvent) =>
    typeof e.subagentRunId === "string" ? { subagentRunId: e.subagentRunId } : {}
  for (const e of events) {
    switch (e.type) {
      case "TEXT_MESSAGE_START":
      case "REASONING_MESSAGE_START": {
        let m = byId(e.messageId)
        if (m === undefined) {
          m = { id: e.messageId, role: e.role, content: "", ...attributed(e) }
          out.push(m)
        }
        fold(m, e)
        break
      }
      case "TEXT_MESSAGE_CONTENT":
      case "REASONING_MESSAGE_CONTENT": {
        const m = byId(e.messageId)
        if (m !== undefined) {
          m.content = `${m.content ?? ""}${e.delta}`
          fold(m, e)
        }
        break
      }
      case "TEXT_MESSAGE_END":
      case "REASONING_MESSAGE_END": {
        const m = byId(e.messageId)
        if (m !== undefined) fold(m, e)
        break
      }
      case "REASONING_ENCRYPTED_VALUE": {
        const target = e.subtype === "tool-call" ? callOf(e.entityId)?.call : byId(e.entityId)
        if (target !== undefined) target.encryptedValue = e.encryptedValue as string
        break
      }
      case "TOOL_CALL_START": {
        let m = e.parentMessageId !== undefined ? byId(e.parentMessageId) : undefined
        if (m?.role !== "assistant") {
          m = { id: m === undefined ? (e.parentMessageId ?? e.toolCallId) : e.toolCallId }
          Object.assign(m, { role: "assistant", ...attributed(e) })
          out.push(m)
        }
        const call: ToolCall = {
          id: e.toolCallId as string,
          type: "function",
          function: { name: e.toolCallName as string, arguments: "" }
        }
        fold(call, e)
        m.toolCalls = [...calls(m), call]
        break
      }
      case "TOOL_CALL_ARGS": {
        const found = callOf(e.toolCallId)
        if (found !== undefined) found.call.function.arguments += e.delta as string
        break
      }
      case "TOOL_CALL_END": {
        const found = callOf(e.toolCallId)
        if (found !== undefined) fold(found.call, e)
        break
      }
      case "TOOL_CALL_RESULT": {
        const m: Message = {
          id: e.messageId,
          role: "tool",
          toolCallId: e.toolCallId,
          content: e.content,
          ...attributed(e)
        }
        fold(m, e)
        const owner = callOf(e.toolCallId)?.message
        let at = owner === undefined ? out.length : out.indexOf(owner) + 1
        while (at < out.length && out[at]!.role === "tool") at++
        out.splice(at, 0, m)
        break
      }
      case "ACTIVITY_SNAPSHOT": {
        const m = {
          id: e.messageId,
          role: "activity",
          activityType: e.activityType,
          content: e.content,
          ...attributed(e)
        }
        out.push(m)
        break
      }
      default:
        break
    }
  }
  return JSON.parse(JSON.stringify(out)) as Array<Message>
}
