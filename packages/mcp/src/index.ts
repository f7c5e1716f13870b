/**
 * @agentfx/mcp — Model Context Protocol servers for agentfx agents, on the official
 * `@modelcontextprotocol/sdk`: `McpToolset` offers a server's tools to an agent, `McpClient`
 * is the session (resources, prompts, sampling, elicitation), `McpServer` serves agentfx
 * tools and agents (and asks the client's model through sampling), `McpContent` maps MCP
 * content to agentfx messages, `McpError` is the typed error.
 *
 * @example
 * ```ts
 * import { McpToolset } from "@agentfx/mcp"
 * const server = yield* McpToolset.http("http://127.0.0.1:3000/mcp", { prefix: "docs" })
 * ```
 *
 * @since 0.1.0
 */
export * as McpClient from "./McpClient.js"
export * as McpContent from "./McpContent.js"
export * as McpError from "./McpError.js"
export * as McpServer from "./McpServer.js"
export * as McpToolset from "./McpToolset.js"
