/**
 * An MCP server as an agentfx `Toolset`: its tools are offered to the model (their input JSON
 * Schema as is, through `Tool.fromJsonSchema`) and called over one session. The tools are
 * listed once at connection and listed again when the server sends
 * `notifications/tools/list_changed`. Results become tool return values (`McpContent`); a
 * result with `isError: true` is a retry prompt to the model; a call that outlives `timeout`
 * is interrupted and the model is told it timed out. Interrupting a run (or a timeout) sends
 * MCP cancellation for its calls in flight. A server that fails or exits mid-call fails the
 * run with an `McpError` (the messages so far stay retrievable with `CaptureRunMessages`).
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { McpToolset } from "@agentfx/mcp"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const files = yield* McpToolset.stdio({ command: "node", args: ["files.mjs"], prefix: "fs" })
 *     const agent = Agent.make({ toolsets: [files] })
 *     return yield* agent.run("What is in notes.txt?")
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { ModelRetry } from "@agentfx/core/AgentError"
import * as AgentError from "@agentfx/core/AgentError"
import * as Tool from "@agentfx/core/Tool"
import * as Toolset from "@agentfx/core/Toolset"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as McpClient from "./McpClient.js"
import * as McpContent from "./McpContent.js"
import type { McpError } from "./McpError.js"

/** How the server's tools are offered to the model. */
export interface ToolsetOptions {
  /** Renames every tool to `${prefix}_${name}` (the server still gets the original name). */
  readonly prefix?: string
  /**
   * Time limit of one tool call. On expiry the call is interrupted (MCP cancellation is sent)
   * and the model gets the retry prompt "Timed out after {t} seconds.". Default: the agent's
   * `toolTimeout`, and the client's request `timeout` (60 seconds unless set).
   */
  readonly timeout?: Duration.DurationInput
  /** Retries allowed per tool (else the agent's `retries`). */
  readonly maxRetries?: number
  /** Offer only the tools for which this holds. */
  readonly include?: (tool: McpClient.McpTool) => boolean
  /** Read the resource a `resource_link` result points to (default `true`). */
  readonly readResourceLinks?: boolean
}

/** A connected MCP server as a toolset; `client` has its resources, prompts and raw calls. */
export interface McpToolset extends Toolset.Toolset<McpError, never> {
  readonly client: McpClient.McpClient
  /** The tools offered right now (after `prefix` and `include`). */
  readonly current: Effect.Effect<ReadonlyArray<Tool.ToolDefinition>>
  /** The offered tools, now and after every re-listing. */
  readonly changes: Stream.Stream<ReadonlyArray<Tool.ToolDefinition>>
}

const stripSchemaKey = (schema: Record<string, unknown>): Tool.JsonSchema => {
  const { $schema: _ignored, ...rest } = schema
  return rest
}

/**
 * Wraps a connected client as a toolset. Lists its tools now, and again on every
 * `tools/list_changed` notification for as long as the scope is open.
 */
export const fromClient = (
  client: McpClient.McpClient,
  options: ToolsetOptions = {}
): Effect.Effect<McpToolset, McpError, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
    const callOptions = timeout === undefined ? undefined : { timeout }
    const readResource = options.readResourceLinks === false ? undefined : client.readResource
    const timedOut =
      timeout === undefined
        ? undefined
        : new AgentError.ModelRetry({
            reason: `Timed out after ${Duration.toSeconds(timeout)} seconds.`
          })

    const call = (
      name: string,
      args: Record<string, unknown>
    ): Effect.Effect<unknown, McpError | ModelRetry> =>
      client.callTool(name, args, callOptions).pipe(
        Effect.catchIf(
          (e) => e.isTimeout && timedOut !== undefined,
          () => Effect.fail(timedOut!)
        ),
        Effect.flatMap((result) => McpContent.toolReturn(result, readResource))
      )

    const build = (
      list: ReadonlyArray<McpClient.McpTool>
    ): ReadonlyArray<Toolset.ToolsetTool<McpError, never>> =>
      list
        .filter((t) => options.include === undefined || options.include(t))
        .map((mcp) => {
          const name = options.prefix === undefined ? mcp.name : `${options.prefix}_${mcp.name}`
          const tool = Tool.fromJsonSchema(name, {
            ...(mcp.description !== undefined ? { description: mcp.description } : {}),
            jsonSchema: stripSchemaKey(mcp.inputSchema),
            handler: (args) => call(mcp.name, args)
          })
          return {
            definition: new Tool.ToolDefinition(
              {
                ...tool.definition,
                metadata: {
                  mcp: {
                    server: client.server,
                    name: mcp.name,
                    ...(mcp.title !== undefined ? { title: mcp.title } : {}),
                    ...(mcp.annotations !== undefined ? { annotations: mcp.annotations } : {}),
                    ...(mcp.outputSchema !== undefined ? { outputSchema: mcp.outputSchema } : {})
                  }
                }
              },
              true
            ),
            maxRetries: options.maxRetries,
            timeout,
            decodeArgs: tool.decodeArgs,
            call: tool.handler as (args: unknown) => Effect.Effect<unknown, McpError | ModelRetry>
          }
        })

    const first = build(yield* client.listTools)
    const ref = yield* SubscriptionRef.make(first)
    // A server that never announces list changes gets a fixed toolset: the run loop lists it once.
    const dynamic = client.capabilities?.tools?.listChanged === true
    if (dynamic) {
      const changes = yield* client.listChanges
      yield* changes.pipe(
        Stream.filter((c) => c === "tools"),
        Stream.runForEach(() =>
          client.listTools.pipe(
            Effect.flatMap((list) => SubscriptionRef.set(ref, build(list))),
            Effect.catchAll((e) =>
              Effect.logWarning(`MCP tools could not be listed again: ${e.message}`)
            )
          )
        ),
        Effect.forkScoped
      )
    }
    const toolset = Toolset.make<McpError, never>(
      () => SubscriptionRef.get(ref),
      dynamic ? undefined : first
    ) as McpToolset
    return Object.assign(toolset, {
      client,
      current: Effect.map(SubscriptionRef.get(ref), (tools) => tools.map((t) => t.definition)),
      changes: Stream.map(ref.changes, (tools) => tools.map((t) => t.definition))
    })
  })

/**
 * Starts a server process (stdio) and offers its tools. The process is stopped when the
 * scope closes.
 */
export const stdio = (
  options: McpClient.StdioOptions & ToolsetOptions
): Effect.Effect<McpToolset, McpError, Scope.Scope> =>
  Effect.flatMap(McpClient.stdio(options), (client) => fromClient(client, options))

/**
 * Connects to a server over Streamable HTTP (HTTP+SSE fallback) and offers its tools. The
 * session is ended when the scope closes.
 */
export const http = (
  url: string | URL,
  options: McpClient.HttpOptions & ToolsetOptions = {}
): Effect.Effect<McpToolset, McpError, Scope.Scope> =>
  Effect.flatMap(McpClient.http(url, options), (client) => fromClient(client, options))
