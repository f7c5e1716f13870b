/**
 * mcp — an agent using the tools of an MCP server, and the server asking the user a question.
 *
 * The program starts a small library-catalogue MCP server (`lib/libraryServer.mjs`, built with
 * the official `@modelcontextprotocol/sdk`) as a child process over stdio, offers its tools to
 * the agent with the prefix `library_` (`McpToolset.stdio`), and asks for a book to be found
 * and reserved. The server's `reserve` tool asks the user for their library card
 * (`elicitation/create`); with `elicitation: "defer"` that question stops the run as a deferred
 * approval, like a tool that needs a person's yes. The program shows the question, answers it
 * (`LIBRARY_CARD`, default C-1234) and resumes the run: the tool is called again, this time with
 * the answer, and the model gets its result. The server process stops when the scope closes.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/mcp.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples mcp
 */
import * as Scripted from "@agentfx/cli/Scripted"
import { Agent, DeferredTools, FunctionModel } from "@agentfx/core"
import { McpToolset } from "@agentfx/mcp"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { fileURLToPath } from "node:url"
import { pickModel } from "./lib/pickModel.js"

const server = fileURLToPath(new URL("./lib/libraryServer.mjs", import.meta.url))

// -- the scripted model (used offline) -------------------------------------------------------

interface Book {
  readonly id: string
  readonly title: string
  readonly available: boolean
}

/** Searches, reserves the first available book found, then says what the server answered. */
const scripted = Scripted.make("mcp", (messages) => {
  const [found] = Scripted.toolReturns(messages, "library_search_books")
  const [reserved] = Scripted.toolReturns(messages, "library_reserve")
  if (found === undefined) {
    return FunctionModel.toolCall("library_search_books", { query: "effect" }, "call_search")
  }
  if (reserved === undefined) {
    const books = (found.content as { books: ReadonlyArray<Book> }).books
    const book = books.find((b) => b.available)
    if (book === undefined) return "Nothing about effects is available right now."
    return FunctionModel.toolCall("library_reserve", { bookId: book.id }, "call_reserve")
  }
  return `Done: ${reserved.contentText}`
})

// -- the program -------------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)

  const library = yield* McpToolset.stdio({
    command: process.execPath,
    args: [server],
    prefix: "library",
    elicitation: "defer",
    stderr: "ignore"
  })
  yield* Console.log(`tools: ${(yield* library.current).map((t) => t.name).join(", ")}`)
  const agent = Agent.make({
    instructions:
      "You help library users. Search the catalogue, then reserve the first available book.",
    toolsets: [library]
  })

  /** A run, printing the tool calls and returns as they happen. */
  const run = (options: Agent.RunOptions, prompt?: string) =>
    agent.runStream(prompt, options).pipe(
      Stream.tap((event) =>
        event._tag === "FunctionToolCallEvent"
          ? Console.log(`call   ${event.part.toolName} ${event.part.argsAsJson()}`)
          : event._tag === "FunctionToolResultEvent"
            ? Console.log(
                `return ${event.result.toolName ?? ""} ${event.result._tag === "ToolReturnPart" ? event.result.contentText : event.result.modelResponse}`
              )
            : Effect.void
      ),
      Agent.finalResult,
      Effect.provide(model.layer)
    )

  const first = yield* run({}, "Find me a book about effects and reserve it.")
  if (!DeferredTools.isDeferredToolRequests(first.output)) {
    yield* Console.log(`answer: ${first.output}`)
    return
  }
  // The server asked a question: show it, answer it, resume the run from where it stopped.
  const requests = first.output
  const results: Record<string, unknown> = {}
  for (const call of requests.approvals) {
    const asked = requests.metadata[call.toolCallId] as McpToolset.ElicitationRequest
    const card = process.env.LIBRARY_CARD ?? "C-1234"
    yield* Console.log(`server asks: ${asked.elicitation.message}`)
    yield* Console.log(`user says:   ${card}`)
    results[call.toolCallId] = McpToolset.elicitationAnswer({
      action: "accept",
      content: { card }
    })
  }
  const second = yield* run({
    messageHistory: first.allMessages(),
    deferredToolResults: requests.buildResults({ approveAll: true, metadata: results })
  })
  yield* Console.log(`answer: ${String(second.output)}`)
  const usage = first.usage.add(second.usage)
  yield* Console.log(`usage: ${usage.requests} requests, ${usage.toolCalls} tool calls`)
})

program.pipe(Effect.scoped, NodeRuntime.runMain)
