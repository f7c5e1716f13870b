/**
 * The `End` node: the run's result (after the metadata and the `afterRun` hooks), or a
 * handoff's target continuing the conversation.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import { AgentRunResult, type AgentNode, End } from "../../AgentGraph.js"
import * as capabilities from "../capabilities.js"
import { HandoffRequest, runHandoff } from "../composition.js" // [compose #18]
import type { Run } from "../runLoop.js"

export function endNode<A>(self: Run<A>, output: A): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const end = Effect.map(Ref.get(self.usageRef), (usage) => {
    const st = self.st
    return new End(
      new AgentRunResult(output, usage, st.messages, st.newMessageIndex, self.runId, st.metadata)
    )
  })
  const after = self.plan.config.hooks?.afterRun
  if (after === undefined) return end
  // `afterRun` hooks may replace the result.
  return Effect.flatMap(end, (node) =>
    Effect.flatMap(self.makeCtx(), (ctx) =>
      Effect.map(
        capabilities.afterRun(after, ctx, node.result as AgentRunResult<unknown>),
        (result) => new End(result as AgentRunResult<A>)
      )
    )
  )
}

export function end<A>(self: Run<A>, output: A): Effect.Effect<AgentNode<A>, unknown, unknown> {
  // [compose #18] A handoff: the target continues the conversation and its output ends the run.
  if (output instanceof HandoffRequest) return handOff(self, output)
  return self.metadataInputs === undefined
    ? endNode(self, output)
    : Effect.zipRight(self.computeMetadata(), endNode(self, output))
}

/**
 * Runs a handoff's target on the conversation so far (`runHandoff`); the run ends with its
 * output, and its messages (the history it was given, then its own) become this run's.
 */
export function handOff<A>(
  self: Run<A>,
  request: HandoffRequest
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  return Effect.flatMap(
    runHandoff(request, self.st.messages, {
      usage: self.usageRef,
      usageLimits: self.usageLimits,
      conversationId: self.conversationId
    }),
    (result) => {
      const messages = result.allMessages()
      self.setMessages(messages)
      self.st.newMessageIndex = Math.min(self.st.newMessageIndex, messages.length)
      return end(self, result.output as A)
    }
  )
}
