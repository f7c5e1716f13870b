#!/usr/bin/env node
// A small MCP server over stdio, built with the official SDK, for examples/src/mcp.ts: a
// library catalogue. `search_books` returns structured results, `reserve` asks the user for
// their library card number (elicitation) before it reserves, `library://hours` is a resource.
// Exits when its stdin closes.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import { z } from "zod"

const books = [
  { id: "b1", title: "Effect-TS in Practice", author: "M. Arnaldi", available: true },
  {
    id: "b2",
    title: "Algebraic Effects for the Rest of Us",
    author: "D. Abramov",
    available: false
  },
  { id: "b3", title: "Types and Programming Languages", author: "B. Pierce", available: true }
]

const server = new McpServer({ name: "library", version: "1.0.0" })
server.registerTool(
  "search_books",
  {
    description: "Search the catalogue by words of the title",
    inputSchema: { query: z.string().describe("Words of the title") },
    outputSchema: {
      books: z.array(
        z.object({ id: z.string(), title: z.string(), author: z.string(), available: z.boolean() })
      )
    }
  },
  async ({ query }) => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean)
    const found = books.filter((b) => words.some((w) => b.title.toLowerCase().includes(w)))
    return {
      content: [{ type: "text", text: JSON.stringify(found) }],
      structuredContent: { books: found }
    }
  }
)
server.registerTool(
  "reserve",
  {
    description: "Reserve an available book for the user (asks for their library card)",
    inputSchema: { bookId: z.string() }
  },
  async ({ bookId }) => {
    const book = books.find((b) => b.id === bookId)
    if (book === undefined || !book.available) {
      return { content: [{ type: "text", text: `${bookId} cannot be reserved.` }], isError: true }
    }
    const r = await server.server.elicitInput({
      message: `To reserve "${book.title}", what is your library card number?`,
      requestedSchema: {
        type: "object",
        properties: { card: { type: "string", title: "Library card", pattern: "^C-[0-9]{4}$" } },
        required: ["card"]
      }
    })
    if (r.action !== "accept") {
      return { content: [{ type: "text", text: `Not reserved (${r.action}).` }] }
    }
    book.available = false
    return {
      content: [
        {
          type: "text",
          text: `"${book.title}" is reserved for card ${r.content?.card}, pick it up within 3 days.`
        }
      ]
    }
  }
)
server.registerResource(
  "hours",
  "library://hours",
  { description: "Opening hours", mimeType: "text/plain" },
  async (uri) => ({
    contents: [{ uri: uri.href, mimeType: "text/plain", text: "Mon–Sat 9:00–19:00" }]
  })
)
await server.connect(new StdioServerTransport())
process.stdin.once("end", () => process.exit(0))
