/**
 * `CallToolsNode`'s behaviour: a response's text or tool calls handled — function tools run
 * (`toolExec.ts`), output tools decoded, deferred calls returned, handoffs started — and the
 * node that follows: the next `ModelRequestNode` or the `End`.
 *
 * @internal
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import { ContentFilterError, UserError } from "../../AgentError.js"
import { type AgentNode, CallToolsNode, ModelRequestNode, statusTexts } from "../../AgentGraph.js"
import { DeferredToolRequests } from "../../DeferredTools.js"
import {
  type ModelRequestPart,
  ModelResponse,
  OutputToolCallEvent,
  OutputToolResultEvent,
  RetryPromptPart,
  type ToolCallPart
} from "../../Messages.js"
import type * as Capability from "../../Capability.js"
import {
  type CallOutcome,
  type CallResult,
  Deferred,
  type Emit,
  hasOwn,
  noEmit,
  retryContent,
  runFunctionBatch
} from "../toolExec.js"
import { makeModelRequest, makeRetryPromptPart, makeToolReturnPart } from "../makers.js"
import type { Run, NodeChannel } from "../runLoop.js"
import { checkDeferredResults } from "./userPrompt.js"
import { closingRequest } from "./prepareRequest.js"
import { decodeResponse, countOutputRetry, outputRetry, alternatives } from "./output.js"
import { end } from "./end.js"
import { forkedChannel } from "./channel.js"

export function handleText<A>(
  self: Run<A>,
  response: ModelResponse
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const spec = self.output
  // An image beats text (pydantic-ai's order): the first image file ends the run.
  if (spec.allowImageOutput === true && spec.handleImage !== undefined) {
    const image = response.images[0]
    if (image !== undefined) {
      return Effect.flatMap(
        decodeResponse(self, spec.handleImage(image, { partial: false })),
        (result) =>
          result.ok
            ? end(self, result.value)
            : outputRetry(self, makeRetryPromptPart({ content: retryContent(result.error) }))
      )
    }
  }
  const text = response.text
  if (text.trim() === "") {
    if (response.finishReason === "length") {
      return self.fail(
        `Model token limit (${self.st.settings.maxTokens ?? "provider default"}) exceeded before any response was generated. Increase the \`maxTokens\` model setting, or simplify the prompt to result in a shorter response.`
      )
    }
    if (response.finishReason === "content_filter") {
      return Effect.fail(
        new ContentFilterError({
          reason: `Content filter triggered. Finish reason: '${response.providerFinishReason ?? "content_filter"}'`,
          messages: self.st.messages
        })
      )
    }
    return outputRetry(self, makeRetryPromptPart({ content: alternatives(self, true) }))
  }
  if (!spec.allowTextOutput && spec.acceptsText !== true) {
    return outputRetry(self, makeRetryPromptPart({ content: alternatives(self, false) }))
  }
  const hooked =
    self.plan.config.hooks?.output === true
      ? {
          validation: { kind: "text" as const, text },
          decode: (v: Capability.OutputValidation) =>
            v.kind === "text"
              ? spec.handleText(v.text, { partial: false })
              : spec.handleToolCall(v.call, { partial: false })
        }
      : undefined
  const decoded = decodeResponse(self, spec.handleText(text, { partial: false }), undefined, hooked)
  return Effect.flatMap(decoded, (result) =>
    result.ok
      ? end(self, result.value)
      : outputRetry(self, makeRetryPromptPart({ content: retryContent(result.error) }))
  )
}

/** The budget of one output tool, when the spec gives output tools their own. */
export function outputToolMax<A>(self: Run<A>, toolName: string): number | undefined {
  const spec = self.output
  return spec.maxRetriesFor === undefined
    ? undefined
    : (spec.maxRetriesFor(toolName) ?? self.config.outputRetries)
}

/**
 * Decodes one output tool call. A failure counts against the global output budget (unless a
 * final result is already fixed: then it cannot change the outcome) and, when the spec gives
 * output tools their own budgets, against the tool's (counted at the end of the step).
 */
export function runOutputCall<A>(
  self: Run<A>,
  call: ToolCallPart,
  failed: Set<string>,
  count: boolean
): Effect.Effect<{ ok: true; value: A } | { ok: false; part: RetryPromptPart }, unknown, unknown> {
  return Effect.gen(function* () {
    const toolMax = outputToolMax(self, call.toolName)
    const toolRetry = self.toolRetry(call.toolName)
    const spec = self.output
    const result = yield* decodeResponse(
      self,
      spec.handleToolCall(call, { partial: false }),
      {
        toolName: call.toolName,
        toolCallId: call.toolCallId,
        ...(toolMax !== undefined ? { retry: toolRetry, maxRetries: toolMax } : {})
      },
      self.plan.config.hooks?.output === true
        ? {
            validation: { kind: "tool", call },
            decode: (v) =>
              v.kind === "tool"
                ? spec.handleToolCall(v.call, { partial: false })
                : spec.handleText(v.text, { partial: false })
          }
        : undefined
    )
    if (result.ok) return result
    if (count) {
      yield* countOutputRetry(self, retryContent(result.error))
      if (toolMax !== undefined) {
        if (toolRetry >= toolMax) {
          return yield* self.exhausted(
            `Tool '${call.toolName}' exceeded max retries count of ${toolMax}: ${result.error.reason}`
          )
        }
        failed.add(call.toolName)
      }
    }
    return {
      ok: false as const,
      part: makeRetryPromptPart({
        content: retryContent(result.error),
        toolName: call.toolName,
        toolCallId: call.toolCallId
      })
    }
  })
}

export function handleToolCalls<A>(
  self: Run<A>,
  response: ModelResponse,
  emit: Emit,
  handled = false
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  return Effect.gen(function* () {
    const st = self.st
    const spec = self.output
    const endStrategy = self.config.endStrategy
    const calls = response.toolCalls
    const results: Array<CallOutcome | undefined> = calls.map(() => undefined)
    // Resuming deferred calls: the results already in the history are kept, not run again.
    const resume = st.resume
    const answered = resume?.answered
    const todo = (i: number) => answered === undefined || !answered.has(calls[i]!.toolCallId)
    if (answered !== undefined) {
      calls.forEach((c, i) => {
        const part = answered.get(c.toolCallId)
        if (part !== undefined) results[i] = part as CallOutcome
      })
    }
    const failed = new Set<string>()
    const succeeded = new Set<string>()
    let final: { value: A; index: number } | undefined
    const isOutput = (c: ToolCallPart) => spec.isOutputTool(c.toolName)
    const runPending = (indices: Array<number>) =>
      Effect.map(
        runFunctionBatch(
          self,
          indices.map((i) => calls[i]!),
          emit,
          failed,
          succeeded
        ),
        (rs) => {
          rs.forEach((r, j) => {
            results[indices[j]!] = r
          })
        }
      )
    // Output tool events: a call event before decoding, a result event after.
    const streaming = emit !== noEmit
    const outputCalled = (call: ToolCallPart) =>
      streaming ? emit(Chunk.of(new OutputToolCallEvent({ part: call }, true))) : Effect.void
    const outputDone = (i: number, result: CallResult) => {
      results[i] = result
      return streaming ? emit(Chunk.of(new OutputToolResultEvent({ result }, true))) : Effect.void
    }
    const outputUnused = (i: number, call: ToolCallPart, text: string) =>
      Effect.zipRight(outputCalled(call), outputDone(i, statusReturn(call, text)))
    const processOutput = (i: number, call: ToolCallPart) =>
      Effect.zipRight(
        outputCalled(call),
        Effect.flatMap(runOutputCall(self, call, failed, true), (r) => {
          if (!r.ok) return outputDone(i, r.part)
          final = { value: r.value, index: i }
          return outputDone(i, statusReturn(call, statusTexts.finalResult))
        })
      )

    if (endStrategy === "early") {
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        if (!isOutput(call) || !todo(i)) continue
        if (final !== undefined) yield* outputUnused(i, call, statusTexts.outputNotUsed)
        else yield* processOutput(i, call)
      }
      const fns = calls.flatMap((c, i) => (isOutput(c) || !todo(i) ? [] : [i]))
      if (final !== undefined) {
        for (const i of fns) results[i] = statusReturn(calls[i]!, statusTexts.toolNotExecuted)
      } else yield* runPending(fns)
    } else if (endStrategy === "graceful") {
      let pending: Array<number> = []
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        if (!todo(i)) continue
        if (!isOutput(call)) {
          pending.push(i)
          continue
        }
        yield* runPending(pending)
        pending = []
        if (final !== undefined) yield* outputUnused(i, call, statusTexts.outputNotUsed)
        else yield* processOutput(i, call)
      }
      yield* runPending(pending)
    } else {
      yield* runPending(calls.flatMap((c, i) => (isOutput(c) || !todo(i) ? [] : [i])))
      for (let i = 0; i < calls.length; i++) {
        const call = calls[i]!
        if (!isOutput(call) || !todo(i)) continue
        if (final === undefined) yield* processOutput(i, call)
        else {
          yield* outputCalled(call)
          const r = yield* runOutputCall(self, call, failed, false)
          yield* outputDone(
            i,
            r.ok ? statusReturn(call, statusTexts.outputProcessedNotFinal) : r.part
          )
        }
      }
    }

    // Retry-wins: a real function tool asking for a retry voids this round's output.
    if (final !== undefined && endStrategy !== "early") {
      const toolRetried = results.some(
        (r) => r?._tag === "RetryPromptPart" && r.toolName !== undefined && st.tools.has(r.toolName)
      )
      if (toolRetried) {
        results[final.index] = statusReturn(calls[final.index]!, statusTexts.retryWins)
        final = undefined
      }
    }

    // Budgets: failures count at the end of the step, a success resets the tool's counter.
    if (succeeded.size > 0 || failed.size > 0) {
      const retries = (st.toolRetries ??= new Map())
      for (const name of succeeded) if (!failed.has(name)) retries.delete(name)
      for (const name of failed) retries.set(name, (retries.get(name) ?? 0) + 1)
    }

    st.resume = undefined
    const deferred: Array<Deferred> = []
    const parts: Array<ModelRequestPart> = []
    for (let i = 0; i < results.length; i++) {
      const r = results[i]
      if (r === undefined) continue
      if (!(r instanceof Deferred)) parts.push(r)
      else if (final !== undefined) {
        // The run ends with its output: nobody will resume this call.
        parts.push(statusReturn(calls[i]!, statusTexts.toolNotExecuted))
      } else deferred.push(r)
    }
    if (resume !== undefined) parts.push(...resume.carried)
    if (final !== undefined) {
      if (parts.length > 0) self.append(closingRequest(self, parts))
      return yield* end(self, final.value)
    }
    if (deferred.length > 0 && !handled && self.options.handleDeferred !== undefined) {
      // Inline answers: the answered calls run (or get their result) in this same step, as
      // in a resumed run; the ones left unanswered stop the run below, on the second pass.
      const given = yield* self.options.handleDeferred(deferredRequests(deferred))
      if (
        given !== undefined &&
        (Object.keys(given.calls).length > 0 || Object.keys(given.approvals).length > 0)
      ) {
        const known = new Map<string, ModelRequestPart | Deferred>()
        results.forEach((r, i) => {
          if (r !== undefined) known.set(calls[i]!.toolCallId, r)
        })
        const problem = checkDeferredResults(self, calls, known, given, true)
        if (problem !== undefined) {
          return yield* new UserError({ reason: `handleDeferred: ${problem}` })
        }
        // The answered calls run again; the others keep their outcome (not run twice).
        const answeredNow = (id: string) => hasOwn(given.calls, id) || hasOwn(given.approvals, id)
        for (const d of deferred)
          if (answeredNow(d.call.toolCallId)) known.delete(d.call.toolCallId)
        st.resume = { results: given, answered: known, carried: resume?.carried ?? [] }
        // Their call events were emitted on the first pass: not again.
        const announced = new Set(deferred.map((d) => d.call.toolCallId))
        const again: Emit = !streaming
          ? emit
          : (events) => {
              const rest = Chunk.filter(
                events,
                (e) => !(e._tag === "FunctionToolCallEvent" && announced.has(e.part.toolCallId))
              )
              return Chunk.isEmpty(rest) ? Effect.void : emit(rest)
            }
        return yield* handleToolCalls(self, response, again, true)
      }
    }
    if (deferred.length > 0) {
      // The results so far stay in the history; the resumed run sends them with the rest.
      if (parts.length > 0) self.append(closingRequest(self, parts))
      return yield* end(self, deferredRequests(deferred) as A)
    }
    if (parts.length === 0) {
      // Only text could end the run here (tool calls were all non-output and skipped): treat as text.
      return yield* handleText(self, response)
    }
    return new ModelRequestNode(makeModelRequest({ parts }))
  })
}

export function callTools<A>(
  self: Run<A>,
  node: CallToolsNode,
  emit: Emit
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  return node.response.toolCalls.length === 0
    ? handleText(self, node.response)
    : handleToolCalls(self, node.response, emit)
}

/**
 * Tool calls as a channel: the calls run in a fiber of the channel's scope and hand their
 * events over a bounded queue (a chatty sub-agent forwarding its events waits for the reader
 * instead of filling memory); the done value is the next node.
 */
export function callToolsChannel<A>(self: Run<A>, node: CallToolsNode): NodeChannel<A> {
  return forkedChannel(self, (emit) => callTools(self, node, emit))
}

/** The output of a run stopped on deferred calls. */
export const deferredRequests = (deferred: ReadonlyArray<Deferred>): DeferredToolRequests => {
  const metadata: Record<string, unknown> = {}
  for (const d of deferred) {
    if (d.metadata !== undefined) metadata[d.call.toolCallId] = d.metadata
  }
  return new DeferredToolRequests(
    {
      calls: deferred.filter((d) => d.kind === "external").map((d) => d.call),
      approvals: deferred.filter((d) => d.kind === "approval").map((d) => d.call),
      metadata
    },
    true
  )
}

export const statusReturn = (call: ToolCallPart, content: string) =>
  makeToolReturnPart({ toolName: call.toolName, toolCallId: call.toolCallId, content })
