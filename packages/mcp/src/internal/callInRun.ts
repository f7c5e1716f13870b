/**
 * The tool-call paths of a client made by `McpClient` inside a run (`McpToolset` uses them):
 * `callTool` whose cancellation hangs on the run's `Tool.CallEnd` instead of an interruption
 * region of its own per call, and `startTool`, the same request as a promise for a run that
 * starts a segment of calls at once (`Tool.StartCall`). Kept beside the public client, not
 * on it.
 *
 * @internal
 */
import type { CallEndService } from "@agentfx/core/Tool"
import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/sdk/types.js"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type { McpError } from "../McpError.js"

/**
 * `callTool`, cancelled (if still in flight) when the tool call `end` belongs to ends. With no
 * `timeoutMillis` (the toolset's), its request timeout is the client's or, when longer, the
 * run's time limit for the call (`end.timeLimit`).
 */
export type CallInRun = (
  name: string,
  args: Record<string, unknown>,
  timeoutMillis: number | undefined,
  end: CallEndService
) => Effect.Effect<CallToolResult, McpError>

/** The `CallInRun` of each client made by `McpClient`. */
export const callInRun = new WeakMap<object, CallInRun>()

/**
 * `callTool` as a promise and how to cancel it: the result through `onResult`, an `McpError`
 * through `onError` (in the same reaction: no promise of its own between them). The request
 * timeout as `CallInRun`'s, with the run's time limit given as `timeLimit`.
 */
export type StartTool = (
  name: string,
  args: Record<string, unknown>,
  timeoutMillis: number | undefined,
  timeLimit: Duration.Duration | undefined,
  onResult: (result: CallToolResult) => unknown,
  onError: (error: McpError) => unknown
) => { readonly promise: Promise<unknown>; readonly cancel: () => void }

/** The `StartTool` of each client made by `McpClient`. */
export const startTool = new WeakMap<object, StartTool>()

/** `immediateReturn`'s answer for a result whose resource links must be read first. */
export const needsRead: unique symbol = Symbol("needsRead")

/**
 * A successful result's return value when it needs no request (`McpContent.toolReturn`'s
 * rules): `structuredContent`, else the blocks' values (one as is, several as an array);
 * `needsRead` when a `resource_link` is to be read through `canRead`.
 */
export const immediateReturn = (
  result: CallToolResult,
  canRead: boolean,
  blockValue: (block: ContentBlock) => unknown
): unknown => {
  if (result.structuredContent !== undefined) return result.structuredContent
  const content = result.content
  if (content.length === 0) return ""
  if (canRead && content.some((b) => b.type === "resource_link")) return needsRead
  return content.length === 1 ? blockValue(content[0]!) : content.map(blockValue)
}
