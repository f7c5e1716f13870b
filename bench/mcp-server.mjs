#!/usr/bin/env node
// The MCP server of bench/mcp.mjs: one `echo` tool over stdio, built with the SDK. Exits when
// its stdin closes (the client went away).
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { z } from "zod"

const server = new McpServer({ name: "bench", version: "1.0.0" })
server.registerTool(
  "echo",
  { description: "Echo a text", inputSchema: { text: z.string() } },
  async ({ text }) => ({ content: [{ type: "text", text }] })
)
await server.connect(new StdioServerTransport())
process.stdin.once("end", () => process.exit(0))
