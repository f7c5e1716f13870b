/**
 * Agents and tools served over MCP (the server side, on the official SDK's low-level `Server`):
 * agentfx `Tool`s are offered with their JSON Schemas, and whole agents as tools taking a
 * `prompt`. Handlers run on the Effect runtime `make` is called in (its services, its tracer);
 * a client's cancellation interrupts the call. `samplingModel(server)` is a `Model.Service`
 * that asks the connected client's model (`sampling/createMessage`, tools included), so an agent
 * inside a server can think with the client's LLM.
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { McpServer } from "@agentfx/mcp"
 * const server = yield* McpServer.make({
 *   name: "research",
 *   agents: [{ agent: Agent.make({ name: "summarize" }), model: "sampling" }]
 * })
 * yield* McpServer.serveStdio(server) // until the scope closes
 * ```
 *
 * @since 0.1.0
 */
import type * as Agent from "@agentfx/core/Agent"
import { ModelAPIError, ToolFailed, UserError } from "@agentfx/core/AgentError"
import {
  BinaryContent,
  type ModelMessage,
  ModelResponse,
  type ModelResponsePart,
  ResponseCompleteEvent,
  TextPart,
  ToolCallPart,
  type ToolReturnPart
} from "@agentfx/core/Messages"
import * as Model from "@agentfx/core/Model"
import type { ModelSettings } from "@agentfx/core/ModelSettings"
import { PartsManager } from "@agentfx/core/PartsManager"
import type * as Tool from "@agentfx/core/Tool"
import { Server } from "@modelcontextprotocol/sdk/server/index.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  CallToolRequestSchema,
  type CallToolResult,
  type ContentBlock,
  type CreateMessageRequestParams,
  type CreateMessageResult,
  ListToolsRequestSchema,
  type SamplingMessage,
  type Tool as WireTool
} from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { McpError } from "./McpError.js"

/** An agent offered as a tool: it takes `{ prompt }` and answers with its output. */
export interface AgentTool {
  readonly agent: Agent.Agent<any, any, any>
  /** The tool's name (default: the agent's name). */
  readonly name?: string
  /** The tool's description (default: the agent's description, else a generic sentence). */
  readonly description?: string
  /**
   * The model the agent runs with: `"sampling"` asks the connected client's model
   * (`samplingModel`), any other input is passed as the run's `model`. Default: the agent's own
   * model, else the `Model` of the runtime.
   */
  readonly model?: Model.Input | "sampling"
}

/** What `make` serves. */
export interface Options<R> {
  /** The server's name, reported to clients. */
  readonly name: string
  readonly version?: string
  /** Instructions for the client's model (the MCP `instructions` of the server). */
  readonly instructions?: string
  /** agentfx tools, offered with their parameters' JSON Schemas. */
  readonly tools?: ReadonlyArray<Tool.Tool<any, any, any, any, R>>
  /** Agents, offered as tools taking `{ prompt: string }`. */
  readonly agents?: ReadonlyArray<AgentTool>
}

const promptSchema = {
  type: "object",
  properties: { prompt: { type: "string", description: "What to ask the agent." } },
  required: ["prompt"]
} as const

/** A plain JSON object (for `structuredContent`). */
const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof BinaryContent)

/** One value as MCP content blocks. */
const blocksOf = (value: unknown): Array<ContentBlock> => {
  if (value instanceof BinaryContent) {
    return value.isImage || value.isAudio
      ? [
          {
            type: value.isImage ? "image" : "audio",
            data: value.base64,
            mimeType: value.mediaType
          } as ContentBlock
        ]
      : [
          {
            type: "resource",
            resource: {
              uri: `data:${value.mediaType}`,
              mimeType: value.mediaType,
              blob: value.base64
            }
          }
        ]
  }
  if (typeof value === "string") return [{ type: "text", text: value }]
  if (Array.isArray(value) && value.some((v) => v instanceof BinaryContent)) {
    return value.flatMap(blocksOf)
  }
  return [{ type: "text", text: value === undefined ? "" : JSON.stringify(value) }]
}

/** A successful value as a `tools/call` result (objects also as `structuredContent`). */
const resultOf = (value: unknown): CallToolResult => ({
  content: blocksOf(value),
  ...(isRecord(value) ? { structuredContent: value } : {})
})

const errorResult = (text: string): CallToolResult => ({
  content: [{ type: "text", text }],
  isError: true
})

/** The text of a failure the client's model should see (typed errors keep their reason). */
const failureText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value as {
      readonly _tag?: unknown
      readonly reason?: unknown
      readonly message?: unknown
    }
    if (typeof e.reason === "string") return e.reason
    // a tagged error without a reason: its tag says what went wrong, its message the details
    const tag = typeof e._tag === "string" ? e._tag : undefined
    const message = typeof e.message === "string" && e.message !== "" ? e.message : undefined
    if (tag !== undefined) return message === undefined ? tag : `${tag}: ${message}`
    if (message !== undefined) return message
    return String(failure.value)
  }
  return "The tool failed unexpectedly."
}

/**
 * Asks the client's user to approve a call of a tool that needs approval (`requiresApproval`,
 * its predicate form included: there is no run to decide it with), through `elicitation/create`.
 * Anything but an accepted answer — a decline, a cancel, a client that cannot ask — fails the
 * call with the reason, which the client gets as an `isError` result.
 */
const approvedBy = (server: Server, name: string, args: unknown): Effect.Effect<void, ToolFailed> =>
  Effect.tryPromise({
    try: (signal) =>
      server.elicitInput(
        {
          message: `Allow the tool '${name}' to run with ${JSON.stringify(args)}?`,
          requestedSchema: { type: "object", properties: {} }
        },
        { signal }
      ),
    catch: (cause) =>
      new ToolFailed({
        reason: `The tool '${name}' needs the user's approval, which could not be asked: ${
          cause instanceof Error ? cause.message : String(cause)
        }`
      })
  }).pipe(
    Effect.flatMap((answer) =>
      answer.action === "accept"
        ? Effect.void
        : Effect.fail(
            new ToolFailed({
              reason: `The user did not approve the tool '${name}' (${answer.action}).`
            })
          )
    )
  )

interface Served {
  readonly definition: WireTool
  readonly call: (args: Record<string, unknown>) => Effect.Effect<unknown, unknown, any>
}

/**
 * An MCP server offering `tools` and `agents`. Handlers run on the current runtime (its
 * services provide what the tools and agents need); connect it with `serveStdio` or `connect`.
 */
export const make = <R = never>(options: Options<R>): Effect.Effect<Server, UserError, R> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<R>()
    const server = new Server(
      { name: options.name, version: options.version ?? "0.1.0" },
      {
        capabilities: { tools: {} },
        ...(options.instructions !== undefined ? { instructions: options.instructions } : {})
      }
    )
    const served = new Map<string, Served>()
    const add = (entry: Served) => {
      if (served.has(entry.definition.name)) {
        return Effect.fail(
          new UserError({
            reason: `McpServer.make: the tool name '${entry.definition.name}' is used twice.`
          })
        )
      }
      served.set(entry.definition.name, entry)
      return Effect.void
    }
    for (const tool of options.tools ?? []) {
      const d = tool.definition
      // No run here to stop for approval: the client's user is asked (elicitation) instead.
      const approval =
        tool.requiresApproval === undefined || tool.requiresApproval === false
          ? undefined
          : (args: unknown) => approvedBy(server, d.name, args)
      yield* add({
        definition: {
          name: d.name,
          ...(d.description !== undefined ? { description: d.description } : {}),
          inputSchema: d.parametersJsonSchema as WireTool["inputSchema"]
        },
        call: (args) =>
          Effect.flatMap(tool.decodeArgs(args), (decoded) => {
            const run =
              tool.validate === undefined
                ? tool.handler(decoded)
                : Effect.zipRight(tool.validate(decoded), tool.handler(decoded))
            return approval === undefined ? run : Effect.zipRight(approval(decoded), run)
          })
      })
    }
    for (const entry of options.agents ?? []) {
      const name = entry.name ?? entry.agent.name
      if (name === undefined) {
        return yield* new UserError({
          reason: "McpServer.make: an agent without a name needs `name` to be served as a tool."
        })
      }
      const model = entry.model === "sampling" ? samplingModel(server) : entry.model
      yield* add({
        definition: {
          name,
          description:
            entry.description ?? entry.agent.description ?? `Ask the ${name} agent; it answers.`,
          inputSchema: promptSchema as unknown as WireTool["inputSchema"]
        },
        call: (args) =>
          typeof args.prompt !== "string"
            ? Effect.fail(new UserError({ reason: "`prompt` must be a string." }))
            : Effect.map(
                entry.agent.run(args.prompt, model === undefined ? {} : { model }),
                (result) => result.output
              )
      })
    }
    const runPromise = Runtime.runPromiseExit(runtime)
    server.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: [...served.values()].map((s) => s.definition)
    }))
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const entry = served.get(request.params.name)
      if (entry === undefined) {
        return errorResult(
          `Unknown tool '${request.params.name}'. Tools: ${[...served.keys()].join(", ")}.`
        )
      }
      const exit = await runPromise(entry.call(request.params.arguments ?? {}) as any, {
        signal: extra.signal
      })
      return Exit.isSuccess(exit) ? resultOf(exit.value) : errorResult(failureText(exit.cause))
    })
    return server
  })

/**
 * Connects `server` to a transport you build (an `InMemoryTransport` in tests, a Streamable
 * HTTP transport in your HTTP server); the connection is closed when the scope closes.
 */
export const connect = (
  server: Server,
  transport: Transport
): Effect.Effect<void, McpError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => server.connect(transport),
      catch: (cause) =>
        new McpError({
          server: "agentfx",
          operation: "connect",
          reason: `the server could not connect: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    }),
    () => Effect.promise(() => server.close())
  )

/** Serves `server` over this process's stdin / stdout until the scope closes. */
export const serveStdio = (server: Server): Effect.Effect<void, McpError, Scope.Scope> =>
  connect(server, new StdioServerTransport())

// ---------------------------------------------------------------------------
// The client's model, through sampling
// ---------------------------------------------------------------------------

/** Options of `samplingModel`. */
export interface SamplingOptions {
  /** `maxTokens` when the settings have none (MCP requires one; default 4096). */
  readonly defaultMaxTokens?: number
  /** Model preferences sent with every request (hints, cost / speed / intelligence priorities). */
  readonly modelPreferences?: CreateMessageRequestParams["modelPreferences"]
}

/** The agentfx history as MCP sampling messages and a system prompt. */
const samplingMessages = (
  history: ReadonlyArray<ModelMessage>
): { readonly messages: Array<SamplingMessage>; readonly system: string | undefined } => {
  const messages: Array<SamplingMessage> = []
  const system: Array<string> = []
  const push = (role: "user" | "assistant", content: Array<SamplingMessage["content"]>) => {
    const blocks = content.flat() as Array<any>
    if (blocks.length > 0)
      messages.push({ role, content: blocks.length === 1 ? blocks[0] : blocks })
  }
  for (const m of history) {
    if (m._tag === "ModelResponse") {
      const blocks: Array<any> = []
      for (const p of m.parts) {
        if (p._tag === "TextPart" && p.content !== "")
          blocks.push({ type: "text", text: p.content })
        else if (p._tag === "ToolCallPart") {
          blocks.push({
            type: "tool_use",
            id: p.toolCallId,
            name: p.toolName,
            input: p.argsAsObject()
          })
        }
      }
      push("assistant", blocks)
      continue
    }
    const blocks: Array<any> = []
    for (const p of m.parts) {
      switch (p._tag) {
        case "SystemPromptPart":
          system.push(p.content)
          break
        case "UserPromptPart":
          for (const c of typeof p.content === "string" ? [p.content] : p.content) {
            if (typeof c === "string") blocks.push({ type: "text", text: c })
            else if (c._tag === "TextContent") blocks.push({ type: "text", text: c.content })
            else if (c instanceof BinaryContent && (c.isImage || c.isAudio)) {
              blocks.push({
                type: c.isImage ? "image" : "audio",
                data: c.base64,
                mimeType: c.mediaType
              })
            } else if (c._tag !== "CachePoint") {
              blocks.push({
                type: "text",
                text: `[${c._tag}: not sent — sampling takes inline images and audio only]`
              })
            }
          }
          break
        case "ToolReturnPart":
          blocks.push(toolResult(p))
          break
        case "RetryPromptPart":
          blocks.push(
            p.toolCallId !== undefined && p.toolName !== undefined
              ? {
                  type: "tool_result",
                  toolUseId: p.toolCallId,
                  content: [{ type: "text", text: p.modelResponse }],
                  isError: true
                }
              : { type: "text", text: p.modelResponse }
          )
          break
        default:
          break
      }
    }
    push("user", blocks)
  }
  const instructions = instructionsOf(history)
  if (instructions !== undefined) system.push(instructions)
  return { messages, system: system.length === 0 ? undefined : system.join("\n\n") }
}

/** The instructions of the last request (the ones in force). */
const instructionsOf = (history: ReadonlyArray<ModelMessage>): string | undefined => {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!
    if (m._tag === "ModelRequest") return m.instructions
  }
  return undefined
}

const toolResult = (p: ToolReturnPart) => ({
  type: "tool_result",
  toolUseId: p.toolCallId,
  content: blocksOf(p.files.length > 0 ? p.content : p.contentText),
  ...(p.outcome === "failed" ? { isError: true } : {})
})

/** A sampling answer as a response. */
const responseOf = (result: CreateMessageResult, modelName: string): ModelResponse => {
  const blocks = (Array.isArray(result.content) ? result.content : [result.content]) as Array<any>
  const parts: Array<ModelResponsePart> = []
  for (const b of blocks) {
    if (b.type === "text") parts.push(new TextPart({ content: b.text }))
    else if (b.type === "tool_use") {
      parts.push(new ToolCallPart({ toolName: b.name, toolCallId: b.id, args: b.input ?? {} }))
    }
  }
  const stop = result.stopReason
  return new ModelResponse({
    parts,
    modelName: result.model ?? modelName,
    providerName: "mcp-sampling",
    ...(stop === "maxTokens"
      ? { finishReason: "length" as const }
      : stop === "toolUse"
        ? { finishReason: "tool_call" as const }
        : stop === "endTurn" || stop === "stopSequence"
          ? { finishReason: "stop" as const }
          : {})
  })
}

/**
 * A model that asks the connected client's model (`sampling/createMessage`): the history goes as
 * sampling messages (system prompts and instructions as `systemPrompt`, text, inline images and
 * audio, tool calls as `tool_use` and their results as `tool_result`), function and output
 * tools as `tools`. A client that does not offer sampling, or fails, gives a `ModelAPIError`.
 * Streaming is the whole answer at once (sampling does not stream).
 */
export const samplingModel = (server: Server, options: SamplingOptions = {}): Model.Service => {
  const modelName = "mcp-sampling"
  const request = (
    history: ReadonlyArray<ModelMessage>,
    settings: ModelSettings,
    parameters: Model.ModelRequestParameters
  ): Effect.Effect<ModelResponse, ModelAPIError> =>
    Effect.suspend(() => {
      const { messages, system } = samplingMessages(history)
      const tools = parameters.allTools.map(
        (t): WireTool => ({
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          inputSchema: t.parametersJsonSchema as WireTool["inputSchema"]
        })
      )
      const params: CreateMessageRequestParams = {
        messages,
        maxTokens: settings.maxTokens ?? options.defaultMaxTokens ?? 4096,
        ...(system !== undefined ? { systemPrompt: system } : {}),
        ...(settings.temperature !== undefined ? { temperature: settings.temperature } : {}),
        ...(settings.stopSequences !== undefined
          ? { stopSequences: [...settings.stopSequences] }
          : {}),
        ...(options.modelPreferences !== undefined
          ? { modelPreferences: options.modelPreferences }
          : {}),
        ...(tools.length > 0
          ? {
              tools,
              toolChoice: { mode: parameters.allowTextOutput ? "auto" : "required" }
            }
          : {})
      }
      return Effect.tryPromise({
        try: (signal) => server.createMessage(params as any, { signal }),
        catch: (cause) =>
          new ModelAPIError({
            modelName,
            reason: `the MCP client's model could not be asked (sampling/createMessage): ${
              cause instanceof Error ? cause.message : String(cause)
            }`,
            cause
          })
      }).pipe(Effect.map((result) => responseOf(result as CreateMessageResult, modelName)))
    })
  return Model.make({
    modelName,
    system: "mcp-sampling",
    profile: Model.profile({ supportsTools: true, defaultStructuredOutputMode: "tool" }),
    settings: undefined,
    request,
    requestStream: (history, settings, parameters) =>
      Effect.map(request(history, settings, parameters), (response): Model.StreamedResponse => {
        const manager = new PartsManager()
        const events = response.parts.map((part, i) => manager.part(String(i), part))
        const all = [...events, ...manager.finish()]
        return {
          modelName,
          events: Stream.fromChunk(Chunk.unsafeFromArray(all)).pipe(
            Stream.concat(Stream.succeed(new ResponseCompleteEvent({ response }, true)))
          ),
          response: Effect.succeed(response)
        }
      })
  })
}
