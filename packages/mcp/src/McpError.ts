/**
 * The typed error of `@agentfx/mcp`: an MCP server could not be started or reached, closed
 * (crashed) during a request, answered a request with a JSON-RPC error, or did not answer in
 * time. A tool call that fails this way fails the agent run with this error (the messages so
 * far stay retrievable with `CaptureRunMessages.capture`); a tool result with `isError: true`
 * is not an `McpError` but a retry prompt to the model.
 *
 * @example
 * ```ts
 * program.pipe(Effect.catchTag("McpError", (e) => Effect.logWarning(e.message)))
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** What the client was doing when the error happened. */
export const Operation = Schema.Literal(
  "connect",
  "listTools",
  "callTool",
  "listResources",
  "listResourceTemplates",
  "readResource",
  "listPrompts",
  "getPrompt",
  "close"
)
/** What the client was doing when the error happened. */
export type Operation = typeof Operation.Type

/** JSON-RPC error code of a closed connection (the server exited or the session ended). */
export const ConnectionClosed = -32000
/** JSON-RPC error code the SDK uses for a request that timed out. */
export const RequestTimeout = -32001

/** An MCP request failed (see the module doc). */
export class McpError extends Schema.TaggedError<McpError>()("McpError", {
  /** The server's label (`name` option, else the name the server reported, else the command / URL). */
  server: Schema.String,
  operation: Operation,
  reason: Schema.String,
  /** The JSON-RPC error code, when the server or the SDK gave one. */
  code: Schema.optionalWith(Schema.Number, { exact: true }),
  /** The tool, resource or prompt the request was about. */
  target: Schema.optionalWith(Schema.String, { exact: true }),
  /** The HTTP status an HTTP server answered with (e.g. 401 for a rejected token). */
  status: Schema.optionalWith(Schema.Number, { exact: true })
}) {
  override get message(): string {
    const about = this.target === undefined ? "" : ` '${this.target}'`
    const code =
      this.code !== undefined
        ? ` (code ${this.code})`
        : this.status !== undefined
          ? ` (HTTP ${this.status})`
          : ""
    return `MCP server '${this.server}': ${this.operation}${about} failed${code}: ${this.reason}`
  }
  /** The connection to the server is gone (it exited, crashed or the session was closed). */
  get isConnectionClosed(): boolean {
    return this.code === ConnectionClosed
  }
  /** The request was not answered in time. */
  get isTimeout(): boolean {
    return this.code === RequestTimeout
  }
}
