/**
 * Text output through a function: the model answers with plain text and the function turns
 * it into the output. The function may be an Effect (using services and `RunContext`, failing
 * with `ModelRetry` to ask the model again) or return a plain value.
 *
 * @example
 * ```ts
 * import { TextOutput } from "@agentfx/output"
 *
 * const words = TextOutput.make((text) => text.split(/\s+/)) // OutputSpec<Array<string>>
 * ```
 *
 * @since 0.1.0
 */
import type { ModelRetry } from "@agentfx/core/AgentError"
import * as OutputSpec from "@agentfx/core/OutputSpec"
import * as Effect from "effect/Effect"

/** An output made from the model's plain text by an Effect `f` (may use services, `RunContext`, `ModelRetry`). */
export function make<A, R = never>(
  f: (text: string) => Effect.Effect<A, ModelRetry, R>
): OutputSpec.OutputSpec<A, R>
/** An output made from the model's plain text by a plain function `f`. */
export function make<A>(f: (text: string) => A): OutputSpec.OutputSpec<A>
export function make<A, R>(
  f: (text: string) => Effect.Effect<A, ModelRetry, R> | A
): OutputSpec.OutputSpec<A, R> {
  return OutputSpec.make<A, R>({
    mode: "text",
    allowTextOutput: true,
    handleText: (text) => {
      const result = f(text)
      return Effect.isEffect(result)
        ? (result as Effect.Effect<A, ModelRetry, R>)
        : Effect.succeed(result as A)
    },
    handleToolCall: (call) =>
      Effect.dieMessage(`text output has no output tools (called: ${call.toolName})`)
  })
}
