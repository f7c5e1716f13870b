/**
 * Repairs a conversation before it is sent again: every tool call of a response must be
 * answered by the next request, and every tool result must answer a call of the response just
 * before it. Missing answers (a run interrupted mid-tool, a history cut by the user) get a
 * synthesised `interrupted` return; orphaned results are removed. Deterministic and idempotent.
 *
 * @internal
 */
import {
  type ModelMessage,
  type ModelRequestPart,
  type ToolCallPart,
  ToolReturnPart
} from "../Messages.js"
import { makeModelRequest, makeToolReturnPart } from "./makers.js"

/** The content of a synthesised return, as pydantic-ai words it. */
export const interruptedContent = "The tool call was interrupted before a result was produced."

const synthesize = (call: ToolCallPart): ToolReturnPart =>
  makeToolReturnPart({
    toolName: call.toolName,
    toolCallId: call.toolCallId,
    content: interruptedContent,
    outcome: "interrupted",
    metadata: { agentfx_synthesized_tool_return: true }
  })

const isToolResult = (p: ModelRequestPart): boolean =>
  (p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart") && p.toolCallId !== undefined

/**
 * Removes orphaned tool results: returns and retry prompts (with a call id) whose call is not in
 * the response just before their request, e.g. after the user cut the history. A request left
 * empty is dropped. Returns `messages` itself when nothing is orphaned.
 */
export const removeOrphans = (
  messages: ReadonlyArray<ModelMessage>
): ReadonlyArray<ModelMessage> => {
  let out: Array<ModelMessage> | undefined
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!
    if (m._tag === "ModelRequest" && m.parts.some(isToolResult)) {
      const prev = i > 0 ? messages[i - 1] : undefined
      const ids = new Set(
        prev?._tag === "ModelResponse" ? prev.toolCalls.map((c) => c.toolCallId) : []
      )
      const parts = m.parts.filter(
        (p) => !isToolResult(p) || ids.has((p as { toolCallId: string }).toolCallId)
      )
      if (parts.length !== m.parts.length) {
        if (out === undefined) out = messages.slice(0, i) as Array<ModelMessage>
        if (parts.length > 0) out.push(makeModelRequest.copy(m, { parts }))
        continue
      }
    }
    if (out !== undefined) out.push(m)
  }
  return out ?? messages
}

/**
 * Removes orphaned tool results (see `removeOrphans`), then adds `interrupted` returns for
 * unanswered tool calls. With `repairTrailing = false` the calls of a final response are left
 * alone (the run will execute them).
 */
export const repairHistory = (
  history: ReadonlyArray<ModelMessage>,
  repairTrailing: boolean
): ReadonlyArray<ModelMessage> => {
  const messages = removeOrphans(history)
  let out: Array<ModelMessage> | undefined
  const push = (i: number, m: ModelMessage) => {
    if (out === undefined) out = messages.slice(0, i) as Array<ModelMessage>
    out.push(m)
  }
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!
    const prev = i > 0 ? messages[i - 1] : undefined
    if (m._tag === "ModelRequest" && prev?._tag === "ModelResponse") {
      const calls = prev.toolCalls
      if (calls.length > 0) {
        const answered = new Set<string>()
        for (const p of m.parts) {
          if (isToolResult(p)) answered.add((p as { toolCallId: string }).toolCallId)
        }
        const missing = calls.filter((c) => !answered.has(c.toolCallId)).map(synthesize)
        if (missing.length > 0) {
          let at = 0
          m.parts.forEach((p, j) => {
            if (isToolResult(p)) at = j + 1
          })
          const parts = [...m.parts.slice(0, at), ...missing, ...m.parts.slice(at)]
          push(i, makeModelRequest.copy(m, { parts }))
          continue
        }
      }
    }
    if (out !== undefined) out.push(m)
    if (m._tag === "ModelResponse" && m.toolCalls.length > 0) {
      const next = messages[i + 1]
      const trailing = next === undefined
      if ((next !== undefined && next._tag === "ModelResponse") || (trailing && repairTrailing)) {
        if (out === undefined) out = messages.slice(0, i + 1) as Array<ModelMessage>
        out.push(makeModelRequest({ parts: m.toolCalls.map(synthesize) }))
      }
    }
  }
  return out ?? messages
}
