/**
 * History processors inside the run loop, and the turn arithmetic the helpers of
 * `HistoryProcessor.ts` share.
 *
 * A *turn* starts at a request holding a `UserPromptPart` and runs until the next one; messages
 * before the first user prompt belong to the first turn. Cutting a conversation at a turn start
 * keeps every tool call with its return (calls and returns of one turn stay together), except
 * in one place: a request that both answers the previous response's calls and carries the next
 * prompt. When that request becomes the first one kept, its answers lose their calls, so they
 * are removed. The system prompt parts of the dropped messages are carried into the first kept
 * request, so the conversation keeps its system prompt.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { UserError } from "../AgentError.js"
import { type ModelMessage, type ModelRequestPart, type SystemPromptPart } from "../Messages.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import { repairHistory } from "./historyRepair.js"
import { makeModelRequest } from "./makers.js"

/** A processor as the loop sees it (types live in `HistoryProcessor.ts`). */
export type AnyProcessor = (
  messages: ReadonlyArray<ModelMessage>,
  ctx: RunContextService
) => ReadonlyArray<ModelMessage> | Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown>

const isUserPromptRequest = (m: ModelMessage): boolean =>
  m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "UserPromptPart")

/**
 * The index where each turn starts. The first turn starts at 0 (messages before the first
 * user prompt belong to it); a conversation without a user prompt is one turn.
 */
export const turnStarts = (messages: ReadonlyArray<ModelMessage>): Array<number> => {
  const starts: Array<number> = []
  for (let i = 0; i < messages.length; i++) {
    if (isUserPromptRequest(messages[i]!)) starts.push(i)
  }
  if (starts.length > 0) starts[0] = 0
  else if (messages.length > 0) starts.push(0)
  return starts
}

const isToolResult = (p: ModelRequestPart): boolean =>
  (p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart") && p.toolCallId !== undefined

/**
 * `messages` from index `start` (a turn start) on: the system prompt parts of the dropped
 * messages and `extra` go first into the first kept request, and the tool results of that
 * request (answers to a dropped response) are removed. `start = 0` returns `messages` itself
 * when there is nothing extra.
 */
export const cutAt = (
  messages: ReadonlyArray<ModelMessage>,
  start: number,
  extra: ReadonlyArray<ModelRequestPart> = []
): ReadonlyArray<ModelMessage> => {
  if (start <= 0 && extra.length === 0) return messages
  const carried: Array<ModelRequestPart> = []
  for (let i = 0; i < start; i++) {
    const m = messages[i]!
    if (m._tag === "ModelRequest") {
      for (const p of m.parts) if (p._tag === "SystemPromptPart") carried.push(p)
    }
  }
  const kept = messages.slice(start)
  const first = kept[0]
  if (first === undefined || first._tag !== "ModelRequest") return kept
  const own = start > 0 ? first.parts.filter((p) => !isToolResult(p)) : first.parts
  // The kept request's own system prompt parts stay ahead of the summary and the prompt.
  const ownSystem = own.filter((p): p is SystemPromptPart => p._tag === "SystemPromptPart")
  const rest = own.filter((p) => p._tag !== "SystemPromptPart")
  kept[0] = makeModelRequest.copy(first, { parts: [...carried, ...ownSystem, ...extra, ...rest] })
  return kept
}

/** The last `n` turns (the whole conversation when it has `n` turns or fewer). */
export const keepLastTurns = (
  messages: ReadonlyArray<ModelMessage>,
  n: number
): ReadonlyArray<ModelMessage> => {
  const starts = turnStarts(messages)
  if (starts.length <= n) return messages
  return cutAt(messages, starts[starts.length - n]!)
}

/** The error of a processor whose answer cannot be sent. */
const invalid = (index: number, what: string) =>
  new UserError({
    reason: `History processor #${index + 1} ${what}: a processed history must be a non-empty list of messages ending with the ModelRequest about to be sent (the run's stored history is unchanged).`
  })

const check = (
  index: number,
  out: unknown
): Effect.Effect<ReadonlyArray<ModelMessage>, UserError> => {
  if (!Array.isArray(out)) return Effect.fail(invalid(index, "did not return an array"))
  if (out.length === 0) return Effect.fail(invalid(index, "returned an empty history"))
  const last = out[out.length - 1] as ModelMessage | undefined
  if (last?._tag !== "ModelRequest") {
    return Effect.fail(
      invalid(index, `returned a history ending with a ${String(last?._tag ?? typeof last)}`)
    )
  }
  return Effect.succeed(out as ReadonlyArray<ModelMessage>)
}

/**
 * Runs the processors in order over the messages about to be sent (each sees the previous
 * one's answer; Effects also see `RunContext`), checks each answer, and repairs the result
 * (tool calls left without answers get an `interrupted` return, orphaned results go), so a
 * processor that cut a tool call from its return cannot make the provider reject the request.
 */
export const apply = (
  processors: ReadonlyArray<AnyProcessor>,
  messages: ReadonlyArray<ModelMessage>,
  ctx: RunContextService
): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown> => {
  const go = (
    i: number,
    current: ReadonlyArray<ModelMessage>
  ): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown> => {
    if (i >= processors.length) return Effect.succeed(repairHistory(current, false))
    const out = processors[i]!(current, ctx)
    return Effect.flatMap(
      Effect.isEffect(out)
        ? Effect.flatMap(Effect.provideService(out, RunContext, ctx), (o) => check(i, o))
        : check(i, out),
      (next) => go(i + 1, next)
    )
  }
  return Effect.suspend(() => go(0, messages))
}
