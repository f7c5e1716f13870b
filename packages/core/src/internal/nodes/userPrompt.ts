/**
 * `UserPromptNode`'s behaviour: the run's first request — the given history repaired, system
 * prompts (re-evaluated in a continued conversation), the user's prompt, or the deferred tool
 * results a resumed run was given (checked against the calls they answer) — and the
 * `ModelRequestNode` it leads to.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { UserError } from "../../AgentError.js"
import {
  type AgentNode,
  CallToolsNode,
  ModelRequestNode,
  UserPromptNode
} from "../../AgentGraph.js"
import { type DeferredToolResults } from "../../DeferredTools.js"
import {
  type ModelMessage,
  ModelRequest,
  type ModelRequestPart,
  SystemPromptPart,
  type ToolCallPart,
  type UserContent,
  UserPromptPart
} from "../../Messages.js"
import * as capabilities from "../capabilities.js"
import { repairHistory } from "../historyRepair.js"
import { reevaluateSystemPrompts, systemPromptParts } from "../instructions.js"
import { Deferred, hasOwn } from "../toolExec.js"
import { makeModelRequest, makeUserPromptPart } from "../makers.js"
import type { Run } from "../runLoop.js"
import { loadTools } from "./prepareRequest.js"

// The run's own messages are made without the Schema constructors' per-call work (construct.ts).

/** The user's prompt as a request part: a string is valid by construction, content is validated. */
export const promptPart = (prompt: string | ReadonlyArray<UserContent>): UserPromptPart =>
  typeof prompt === "string"
    ? makeUserPromptPart({ content: prompt })
    : new UserPromptPart({ content: prompt })

// -- UserPromptNode -----------------------------------------------------

/** The system prompt parts of a fresh conversation (`internal/instructions.ts`). */
export function systemParts<A>(
  self: Run<A>
): Effect.Effect<Array<SystemPromptPart>, unknown, unknown> {
  return systemPromptParts(self.config.systemPrompts, self.makeCtx())
}

/** Re-evaluates the dynamic system prompts of a continued conversation. */
export function reevaluate<A>(
  self: Run<A>,
  history: ReadonlyArray<ModelMessage>
): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown> {
  return reevaluateSystemPrompts(history, self.plan.dynamicByRef, (messages) =>
    self.makeCtx({ messages })
  )
}

/** The first node: the `beforeRun` hooks (if any), then the first request is built. */
export function userPrompt<A>(
  self: Run<A>,
  node: UserPromptNode
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const before = self.plan.config.hooks?.beforeRun
  return before === undefined
    ? firstRequest(self, node)
    : Effect.zipRight(
        Effect.flatMap(self.makeCtx(), (ctx) => capabilities.beforeRun(before, ctx)),
        firstRequest(self, node)
      )
}

export function firstRequest<A>(
  self: Run<A>,
  node: UserPromptNode
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const deferred = self.options.deferredToolResults
  if (deferred !== undefined) return resumeDeferred(self, node.prompt, deferred)
  const prompt = node.prompt
  const staticParts = self.plan.staticSystemParts
  if (
    prompt !== undefined &&
    staticParts !== undefined &&
    (self.options.messageHistory ?? []).length === 0
  ) {
    // A fresh conversation with static system prompts: nothing to evaluate.
    return Effect.sync(() => {
      const parts: Array<ModelRequestPart> = [...staticParts]
      parts.push(promptPart(prompt))
      self.setMessages([])
      self.st.newMessageIndex = 0
      return new ModelRequestNode(makeModelRequest({ parts }))
    })
  }
  return Effect.gen(function* () {
    const st = self.st
    const given = self.options.messageHistory ?? []
    if (node.prompt === undefined) {
      const history = yield* reevaluate(self, repairHistory(given, false))
      self.setMessages(history)
      st.newMessageIndex = history.length
      const last = history[history.length - 1]
      if (last === undefined) {
        if (
          self.staticInstructions.length === 0 &&
          self.dynamicInstructions.length === 0 &&
          self.config.systemPrompts.length === 0
        ) {
          return yield* new UserError({
            reason: "No message history, user prompt, or instructions provided"
          })
        }
        return new ModelRequestNode(makeModelRequest({ parts: yield* systemParts(self) }))
      }
      if (last._tag === "ModelRequest") return new ModelRequestNode(last, true)
      if (last.toolCalls.length > 0) {
        yield* loadTools(self)
        return new CallToolsNode(last)
      }
      return yield* new UserError({
        reason:
          "The message history ends with a model response and no user prompt was given: nothing to send"
      })
    }
    const history = given.length === 0 ? given : yield* reevaluate(self, repairHistory(given, true))
    const parts: Array<ModelRequestPart> = history.length === 0 ? yield* systemParts(self) : []
    parts.push(promptPart(node.prompt))
    const last = history[history.length - 1]
    if (last !== undefined && last._tag === "ModelRequest") {
      // Answers to the previous response's calls and the new prompt go in one request.
      self.setMessages(history.slice(0, -1))
      st.newMessageIndex = history.length - 1
      return new ModelRequestNode(makeModelRequest({ parts: [...last.parts, ...parts] }))
    }
    self.setMessages(history)
    st.newMessageIndex = history.length
    return new ModelRequestNode(makeModelRequest({ parts }))
  })
}

/**
 * Resumes a run stopped on deferred calls: the history ends with the response that made them,
 * maybe followed by a request holding the results of its other calls. That request is taken
 * off (its parts are sent again with the new results) and the response's calls are handled
 * again, with no new model request; the given results are checked against the calls first.
 */
export function resumeDeferred<A>(
  self: Run<A>,
  prompt: string | ReadonlyArray<UserContent> | undefined,
  results: DeferredToolResults
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  return Effect.gen(function* () {
    const st = self.st
    const given = self.options.messageHistory ?? []
    let end = given.length
    const trailing =
      given[end - 1]?._tag === "ModelRequest" ? (given[end - 1] as ModelRequest) : undefined
    if (trailing !== undefined) end -= 1
    const response = given[end - 1]
    if (
      response === undefined ||
      response._tag !== "ModelResponse" ||
      response.toolCalls.length === 0
    ) {
      return yield* new UserError({
        reason:
          "deferredToolResults were given, but the message history does not end with a model response with tool calls (optionally followed by the results of its other calls): there is nothing to resume. Pass the messages of the run that returned DeferredToolRequests."
      })
    }
    const calls = response.toolCalls
    const byId = new Map(calls.map((c) => [c.toolCallId, c]))
    const answered = new Map<string, ModelRequestPart>()
    const carried: Array<ModelRequestPart> = []
    for (const p of trailing?.parts ?? []) {
      if (
        (p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart") &&
        p.toolCallId !== undefined
      ) {
        if (byId.has(p.toolCallId)) answered.set(p.toolCallId, p)
      } else carried.push(p)
    }
    yield* loadTools(self)
    const problem = checkDeferredResults(self, calls, answered, results)
    if (problem !== undefined) return yield* new UserError({ reason: problem })
    if (prompt !== undefined) {
      carried.push(promptPart(prompt))
    }
    const history = yield* reevaluate(self, repairHistory(given.slice(0, end), false))
    self.setMessages(history)
    st.newMessageIndex = history.length
    st.resume = { results, answered, carried }
    return new CallToolsNode(response)
  })
}

/** What is wrong with deferred results for these calls, if anything. */
export function checkDeferredResults<A>(
  self: Run<A>,
  calls: ReadonlyArray<ToolCallPart>,
  answered: ReadonlyMap<string, ModelRequestPart | Deferred>,
  results: DeferredToolResults,
  partial = false
): string | undefined {
  const spec = self.output
  const describe = (c: ToolCallPart) => `'${c.toolCallId}' ('${c.toolName}')`
  const waiting = calls.filter((c) => {
    const known = answered.get(c.toolCallId)
    return (known === undefined || known instanceof Deferred) && !spec.isOutputTool(c.toolName)
  })
  const waitingIds = new Set(waiting.map((c) => c.toolCallId))
  const byId = new Map(calls.map((c) => [c.toolCallId, c]))
  const waitingText = waiting.length === 0 ? "none" : waiting.map(describe).join(", ")
  for (const [kind, ids] of [
    ["result", Object.keys(results.calls)],
    ["approval", Object.keys(results.approvals)]
  ] as const) {
    for (const id of ids) {
      const call = byId.get(id)
      if (call === undefined) {
        return `deferredToolResults has ${kind === "result" ? "a result" : "an approval"} for tool call id '${id}', which is not a call of the last model response. Calls waiting for a result: ${waitingText}.`
      }
      if (!waitingIds.has(id)) {
        return `Tool call ${describe(call)} was not deferred: ${answered.has(id) ? "its result is already in the message history" : "it is an output tool call"}, so it cannot be given ${kind === "result" ? "a result" : "an approval"}. Calls waiting for a result: ${waitingText}.`
      }
      if (kind === "approval") {
        if (hasOwn(results.calls, id)) {
          return `Tool call ${describe(call)} has both a result and an approval in deferredToolResults: give one of them.`
        }
        if (self.st.tools.get(call.toolName)?.definition.kind === "external") {
          return `Tool call ${describe(call)} calls an external tool: give its result in deferredToolResults.calls, not an approval.`
        }
      }
    }
  }
  const missing = waiting.filter(
    (c) => !hasOwn(results.calls, c.toolCallId) && !hasOwn(results.approvals, c.toolCallId)
  )
  if (missing.length > 0 && !partial) {
    return `deferredToolResults has no result for the deferred tool call${missing.length === 1 ? "" : "s"} ${missing.map(describe).join(", ")}: give an approval or a result for every call listed in DeferredToolRequests.`
  }
  return undefined
}
