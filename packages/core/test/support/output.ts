/** A hand-made tool-mode output spec for tests: one `final_result` output tool, no text. */
import { type AgentError, type Messages, OutputSpec, Tool } from "@agentfx/core"
import * as Effect from "effect/Effect"

/** An output read from the `final_result` tool call by `handleToolCall`; text is not allowed. */
export const finalResultOutput = <A>(
  handleToolCall: (call: Messages.ToolCallPart) => Effect.Effect<A, AgentError.ModelRetry>,
  parametersJsonSchema: Tool.JsonSchema = { type: "object" }
): OutputSpec.OutputSpec<A> =>
  OutputSpec.make<A>({
    mode: "tool",
    allowTextOutput: false,
    toolDefinitions: () => [
      new Tool.ToolDefinition({ name: "final_result", parametersJsonSchema, kind: "output" })
    ],
    handleText: () => Effect.die("unused"),
    handleToolCall
  })
