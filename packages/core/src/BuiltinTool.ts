/**
 * Built-in tools: tools the model provider runs itself (web search, code execution, a
 * provider-run MCP server…), as opposed to function tools that the agent runs. Give them to an
 * agent (`Agent.make({ builtinTools })`) or to one run (`agent.run(prompt, { builtinTools })`);
 * each provider maps every spec it supports to its own wire form and fails the request with a
 * `UserError` naming the provider and the tool for the ones it does not.
 *
 * The calls and results come back as `Messages.BuiltinToolCallPart` /
 * `Messages.BuiltinToolReturnPart` in the response; they stay in the history and go back to the
 * provider that produced them.
 *
 * | spec | OpenAI Responses | Anthropic | Gemini | Groq |
 * | --- | --- | --- | --- | --- |
 * | `WebSearch` | `web_search` | `web_search_20250305` | `google_search` | `browser_search` |
 * | `CodeExecution` | `code_interpreter` | `code_execution_20250825` | `code_execution` | `code_interpreter` |
 * | `UrlContext` | ✗ | ✗ | `url_context` | ✗ |
 * | `WebFetch` | ✗ | `web_fetch_20250910` | `url_context` | ✗ |
 * | `FileSearch` | `file_search` | ✗ | `file_search` | ✗ |
 * | `ImageGeneration` | `image_generation` | ✗ | ✗ | ✗ |
 * | `McpServer` | `mcp` | `mcp_servers` | ✗ | ✗ |
 * | `Memory` | ✗ | `memory_20250818` | ✗ | ✗ |
 * | `ToolSearch` | `tool_search` (no variant) | `tool_search_tool_bm25_20251119` / `_regex_` | ✗ | ✗ |
 * | `Advisor` | ✗ | `advisor_20260301` | ✗ | ✗ |
 *
 * @example
 * ```ts
 * import { Agent, BuiltinTool } from "@agentfx/core"
 * const agent = Agent.make({
 *   builtinTools: [new BuiltinTool.WebSearch({ allowedDomains: ["effect.website"] })]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { UserError } from "./AgentError.js"

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

/** Where the user is, to localise search results. */
export class UserLocation extends Schema.Class<UserLocation>("UserLocation")({
  city: optional(Schema.String),
  /** Two-letter ISO country code. */
  country: optional(Schema.String),
  region: optional(Schema.String),
  /** IANA time zone, e.g. `Europe/Paris`. */
  timezone: optional(Schema.String)
}) {}

/** Searches the web. */
export class WebSearch extends Schema.TaggedClass<WebSearch>()("WebSearch", {
  /** How much search context goes into the model's window (OpenAI). */
  searchContextSize: optional(Schema.Literal("low", "medium", "high")),
  userLocation: optional(UserLocation),
  /** Only these domains (Anthropic `allowed_domains`, OpenAI `filters.allowed_domains`). */
  allowedDomains: optional(Schema.Array(Schema.String)),
  /** Never these domains (Anthropic). */
  blockedDomains: optional(Schema.Array(Schema.String)),
  /** At most this many searches per request (Anthropic `max_uses`). */
  maxUses: optional(Schema.Number),
  /** `false`: search cached / indexed content only, no live fetches (OpenAI). */
  externalWebAccess: optional(Schema.Boolean)
}) {}

/** Runs code in a provider sandbox. */
export class CodeExecution extends Schema.TaggedClass<CodeExecution>()("CodeExecution", {}) {}

/** Lets the model read the pages of URLs in the prompt (Gemini `url_context`). */
export class UrlContext extends Schema.TaggedClass<UrlContext>()("UrlContext", {}) {}

/** Fetches web pages and documents (Anthropic `web_fetch`; Gemini `url_context`). */
export class WebFetch extends Schema.TaggedClass<WebFetch>()("WebFetch", {
  allowedDomains: optional(Schema.Array(Schema.String)),
  blockedDomains: optional(Schema.Array(Schema.String)),
  maxUses: optional(Schema.Number),
  /** Cite fetched documents (Anthropic `citations.enabled`). */
  enableCitations: optional(Schema.Boolean),
  /** Truncate fetched content to this many tokens (Anthropic). */
  maxContentTokens: optional(Schema.Number)
}) {}

/** Searches the provider's vector stores (OpenAI) / file search stores (Gemini). */
export class FileSearch extends Schema.TaggedClass<FileSearch>()("FileSearch", {
  /** Vector store ids (OpenAI) or file search store names (Gemini). */
  fileStoreIds: Schema.Array(Schema.String)
}) {}

/** Generates images (OpenAI Responses `image_generation`). */
export class ImageGeneration extends Schema.TaggedClass<ImageGeneration>()("ImageGeneration", {
  background: optional(Schema.Literal("transparent", "opaque", "auto")),
  quality: optional(Schema.Literal("low", "medium", "high", "auto")),
  size: optional(Schema.String),
  outputFormat: optional(Schema.Literal("png", "webp", "jpeg")),
  partialImages: optional(Schema.Number)
}) {}

/** An MCP server the provider connects to and calls itself. */
export class McpServer extends Schema.TaggedClass<McpServer>()("McpServer", {
  /** The server's label (`server_label` / `name` on the wire). */
  id: Schema.String,
  url: Schema.String,
  /** Bearer token for the server; never logged. */
  authorization: optional(Schema.Redacted(Schema.String)),
  description: optional(Schema.String),
  /** Only these tools of the server (all when absent). */
  allowedTools: optional(Schema.Array(Schema.String))
}) {}

/** Anthropic's memory tool (the model reads and writes a memory directory). */
export class Memory extends Schema.TaggedClass<Memory>()("Memory", {}) {}

/**
 * The provider searches the agent's tool definitions marked `deferLoading` and loads only the
 * ones it finds (Anthropic's tool search tool: BM25 or regex queries; OpenAI Responses
 * `tool_search`). Its calls and results are built-in tool parts (`tool_search`). For a search
 * the agent runs itself, on any provider, see `Toolset.withToolSearch`.
 */
export class ToolSearch extends Schema.TaggedClass<ToolSearch>()("ToolSearch", {
  /** How the model queries the tools (Anthropic only); default `bm25`. */
  variant: optional(Schema.Literal("bm25", "regex"))
}) {}

/**
 * A stronger model the provider consults mid-generation (Anthropic's advisor tool): the model
 * calls `advisor`, the provider runs the advisor model on the whole transcript, and its advice
 * (often encrypted: `advisor_redacted_result`) comes back as the tool's result.
 */
export class Advisor extends Schema.TaggedClass<Advisor>()("Advisor", {
  /** The advisor model, e.g. `claude-opus-4-7`. */
  model: Schema.String,
  /** At most this many output tokens (thinking + text) per consultation. */
  maxTokens: optional(Schema.Number),
  /** At most this many consultations per request. */
  maxUses: optional(Schema.Number)
}) {}

/** Any built-in tool spec. */
export const BuiltinTool = Schema.Union(
  WebSearch,
  CodeExecution,
  UrlContext,
  WebFetch,
  FileSearch,
  ImageGeneration,
  McpServer,
  Memory,
  ToolSearch,
  Advisor
)
/** Any built-in tool spec. */
export type BuiltinTool = typeof BuiltinTool.Type

/** The `UserError` of a built-in tool a provider does not have. */
export const unsupported = (provider: string, tool: BuiltinTool, detail?: string): UserError =>
  new UserError({
    reason: `The built-in tool ${tool._tag} is not supported by ${provider}${detail === undefined ? "" : ` (${detail})`}`
  })
