/** Stream events as short strings, for asserting their order. */
import type { Agent } from "@agentfx/core"

/** `start 0 TextPart`, `call add`, `[child call_1] end 0 TextPart`, `done`, … */
export const describeEvent = (e: Agent.AgentStreamEvent<unknown>): string => {
  switch (e._tag) {
    case "PartStartEvent":
      return `start ${e.index} ${e.part._tag}`
    case "PartDeltaEvent":
      return `delta ${e.index} ${e.delta._tag}`
    case "PartEndEvent":
      return `end ${e.index} ${e.part._tag}`
    case "FinalResultEvent":
      return `final ${e.toolName ?? "text"}`
    case "FunctionToolCallEvent":
      return `call ${e.part.toolName}`
    case "FunctionToolResultEvent":
      return `result ${e.result._tag}`
    case "ToolAvailabilityDeltaEvent":
      return `tools added ${e.part.added.join(",")}`
    case "OutputToolCallEvent":
      return `output call ${e.part.toolName}`
    case "OutputToolResultEvent":
      return `output result ${e.result._tag}`
    case "SubAgentEvent":
      return `[${e.agentName} ${e.toolCallId}] ${describeEvent(e.event)}`
    case "AgentRunResultEvent":
      return "done"
  }
}
