#!/usr/bin/env node
// A small MCP server over stdio, built with the official SDK, for the README examples of
// @agentfx/mcp: a `forecast` tool (structured result), a `subscribe` tool that asks the user for
// an email (elicitation), a resource and a prompt. Exits when its
// stdin closes.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { z } from "zod"

const server = new McpServer({ name: "weather", version: "1.0.0" })
server.registerTool(
  "forecast",
  {
    description: "Tomorrow's forecast for a city",
    inputSchema: { city: z.string().describe("City name") },
    outputSchema: { city: z.string(), celsius: z.number(), sky: z.string() }
  },
  async ({ city }) => {
    if (city.trim() === "") {
      return { content: [{ type: "text", text: "Give a city name." }], isError: true }
    }
    const forecast = { city, celsius: 18 + (city.length % 7), sky: "sunny" }
    return {
      content: [{ type: "text", text: JSON.stringify(forecast) }],
      structuredContent: forecast
    }
  }
)
server.registerTool(
  "subscribe",
  {
    description: "Subscribe the user to weather alerts for a city (asks for their email)",
    inputSchema: { city: z.string() }
  },
  async ({ city }) => {
    const r = await server.server.elicitInput({
      message: `Which email should get the alerts for ${city}?`,
      requestedSchema: {
        type: "object",
        properties: { email: { type: "string", format: "email" } },
        required: ["email"]
      }
    })
    const text =
      r.action === "accept"
        ? `${r.content?.email} gets alerts for ${city}`
        : `not subscribed (${r.action})`
    return { content: [{ type: "text", text }] }
  }
)
server.registerResource(
  "stations",
  "weather://stations",
  { description: "Weather stations", mimeType: "text/plain" },
  async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: "Oslo, Rome" }] })
)
server.registerPrompt(
  "packing",
  { description: "What to pack for a trip", argsSchema: { city: z.string() } },
  ({ city }) => ({
    messages: [{ role: "user", content: { type: "text", text: `What should I pack for ${city}?` } }]
  })
)
await server.connect(new StdioServerTransport())
process.stdin.once("end", () => process.exit(0))
