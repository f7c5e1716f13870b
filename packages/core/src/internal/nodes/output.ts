/**
 * A response's output: decoded and validated (`outputDecode.ts` under the run's hooks), and the
 * output retry budget — a refused output becomes a retry prompt until the budget is spent.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { ModelRetry } from "../../AgentError.js"
import { type AgentNode, ModelRequestNode } from "../../AgentGraph.js"
import { RetryPromptPart } from "../../Messages.js"
import { type Service as RunContextService } from "../../RunContext.js"
import type * as Capability from "../../Capability.js"
import { type Decoded, decodeOutput } from "../outputDecode.js"
import { makeModelRequest } from "../makers.js"
import type { Run } from "../runLoop.js"
import { offeredOutputTools } from "./prepareRequest.js"

// -- CallToolsNode ------------------------------------------------------

/** `decodeOutput` with self run's validators and `RunContext` (`extra` over it). */
export function decodeResponse<A>(
  self: Run<A>,
  decode: Effect.Effect<any, ModelRetry, unknown>,
  extra?: Partial<RunContextService>,
  hooked?: {
    readonly validation: Capability.OutputValidation
    readonly decode: (v: Capability.OutputValidation) => Effect.Effect<any, ModelRetry, unknown>
  }
): Effect.Effect<Decoded<A>, unknown, unknown> {
  return decodeOutput<A>(self.plan.config, self.makeCtx(extra), decode, hooked)
}

/**
 * Counts one output retry; fails the run when the budget is spent, saying why the last output
 * was refused (`failure`: the retry prompt's content).
 */
export function countOutputRetry<A>(
  self: Run<A>,
  failure: RetryPromptPart["content"]
): Effect.Effect<void, unknown> {
  return Effect.suspend(() => {
    const st = self.st
    const max = self.resolved.max
    st.outputRetries += 1
    return st.outputRetries > max
      ? self.exhausted(
          `Exceeded maximum output retries (${max}); the last output was refused: ${failureText(failure)}`
        )
      : Effect.void
  })
}

export function outputRetry<A>(
  self: Run<A>,
  part: RetryPromptPart
): Effect.Effect<AgentNode<A>, unknown> {
  return Effect.as(
    countOutputRetry(self, part.content),
    new ModelRequestNode(makeModelRequest({ parts: [part] }))
  )
}

/** A retry prompt's content on one line, for the error that ends a run (`path: message; …`). */
export const failureText = (content: RetryPromptPart["content"]): string => {
  const text =
    typeof content === "string"
      ? content
      : content
          .map((i) => `${i.path.length === 0 ? "(root)" : i.path.join(".")}: ${i.message}`)
          .join("; ")
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text
}

export function alternatives<A>(self: Run<A>, includeText: boolean): string {
  const alts: Array<string> = []
  if (includeText && self.output.allowTextOutput) alts.push("return text")
  if (offeredOutputTools(self).length > 0) alts.push("include your response in a tool call")
  else if (self.st.tools.size > 0) alts.push("call a tool")
  if (self.output.allowImageOutput === true) alts.push("return an image")
  if (alts.length === 0) alts.push("return text")
  return `Please ${alts.join(" or ")}.`
}
