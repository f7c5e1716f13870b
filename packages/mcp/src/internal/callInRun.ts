/**
 * The tool-call path of a client made by `McpClient`: `callTool` whose cancellation hangs on the
 * run's `Tool.CallEnd` instead of an interruption region of its own per call (`McpToolset`
 * uses it inside a run). Kept beside the public client, not on it.
 *
 * @internal
 */
import type { CallEndService } from "@agentfx/core/Tool"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import type * as Effect from "effect/Effect"
import type { McpError } from "../McpError.js"

/** `callTool`, cancelled (if still in flight) when the tool call `end` belongs to ends. */
export type CallInRun = (
  name: string,
  args: Record<string, unknown>,
  timeoutMillis: number | undefined,
  end: CallEndService
) => Effect.Effect<CallToolResult, McpError>

/** The `CallInRun` of each client made by `McpClient`. */
export const callInRun = new WeakMap<object, CallInRun>()
