/**
 * Built-in (provider-run) tools across providers: the wire form of each spec, a `UserError`
 * naming provider and tool before anything is sent when a provider lacks one, and built-in
 * parts going back only to the provider that produced them.
 */
import { BuiltinTool, Messages, Model, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { loadCase, replayServer } from "./support/replay.js"

const params = (builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>) =>
  new Model.ModelRequestParameters({ builtinTools })

/** An HTTP client that counts requests and answers none (they must not be sent). */
const noNetwork = () => {
  let sent = 0
  const client = HttpClient.make(() => {
    sent++
    return Effect.die("a request was sent")
  })
  return { layer: Layer.succeed(HttpClient.HttpClient, client), sent: () => sent }
}

const models = {
  Anthropic: Anthropic.model("claude-sonnet-4-5").pipe(
    Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("k"), retry: false }))
  ),
  "OpenAI Responses": OpenAiResponses.model("gpt-5").pipe(
    Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("k"), retry: false }))
  ),
  Gemini: Google.model("gemini-2.5-flash").pipe(
    Layer.provide(GoogleClient.layer({ apiKey: Redacted.make("k"), retry: false }))
  )
} as const

const unsupported: ReadonlyArray<readonly [keyof typeof models, BuiltinTool.BuiltinTool]> = [
  ["Anthropic", new BuiltinTool.FileSearch({ fileStoreIds: ["vs_1"] })],
  ["Anthropic", new BuiltinTool.ImageGeneration()],
  ["Anthropic", new BuiltinTool.UrlContext()],
  ["OpenAI Responses", new BuiltinTool.Memory()],
  ["OpenAI Responses", new BuiltinTool.ToolSearch({ variant: "regex" })],
  ["OpenAI Responses", new BuiltinTool.WebFetch()],
  ["OpenAI Responses", new BuiltinTool.WebSearch({ blockedDomains: ["x.com"] })],
  ["Gemini", new BuiltinTool.McpServer({ id: "s", url: "https://mcp.example" })],
  ["Gemini", new BuiltinTool.ImageGeneration()],
  ["Gemini", new BuiltinTool.WebSearch({ allowedDomains: ["a.com"] })],
  ["OpenAI Responses", new BuiltinTool.Advisor({ model: "claude-opus-4-7" })],
  ["Gemini", new BuiltinTool.Advisor({ model: "claude-opus-4-7" })]
]

describe("built-in tools", () => {
  for (const [provider, tool] of unsupported) {
    it.effect(`${provider} refuses ${tool._tag} with a UserError, sending nothing`, () =>
      Effect.gen(function* () {
        const net = noNetwork()
        const exit = yield* Effect.exit(
          Effect.flatMap(Model.Model, (m) =>
            m.request([Messages.userPrompt("hi")], {}, params([tool]))
          ).pipe(Effect.provide(models[provider].pipe(Layer.provide(net.layer))))
        )
        assert.isTrue(Exit.isFailure(exit))
        const error =
          Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
        assert.strictEqual(error?._tag, "UserError")
        assert.include(
          error?.message,
          `The built-in tool ${tool._tag} is not supported by ${provider}`
        )
        assert.strictEqual(net.sent(), 0)
      })
    )
  }

  it("Anthropic: every spec's wire form, MCP servers with their token, beta-free body", () => {
    const body = Anthropic.encodeRequest(
      [Messages.userPrompt("hi")],
      {},
      params([
        new BuiltinTool.WebSearch({
          allowedDomains: ["effect.website"],
          maxUses: 3,
          userLocation: new BuiltinTool.UserLocation({ city: "Paris", country: "FR" })
        }),
        new BuiltinTool.WebFetch({ enableCitations: true, maxContentTokens: 1000 }),
        new BuiltinTool.CodeExecution(),
        new BuiltinTool.Memory(),
        new BuiltinTool.McpServer({
          id: "deepwiki",
          url: "https://mcp.deepwiki.com/mcp",
          authorization: Redacted.make("tok"),
          allowedTools: ["ask_question"]
        })
      ]),
      { modelName: "claude-sonnet-4-5", stream: false }
    )
    assert.deepStrictEqual(body.tools, [
      {
        type: "web_search_20250305",
        name: "web_search",
        allowed_domains: ["effect.website"],
        max_uses: 3,
        user_location: { type: "approximate", city: "Paris", country: "FR" }
      },
      {
        type: "web_fetch_20250910",
        name: "web_fetch",
        citations: { enabled: true },
        max_content_tokens: 1000
      },
      { type: "code_execution_20260120", name: "code_execution" },
      { type: "memory_20250818", name: "memory" }
    ])
    assert.deepStrictEqual(body.mcp_servers, [
      {
        type: "url",
        name: "deepwiki",
        url: "https://mcp.deepwiki.com/mcp",
        authorization_token: "tok",
        tool_configuration: { enabled: true, allowed_tools: ["ask_question"] }
      }
    ])
    assert.deepStrictEqual(body.tool_choice, { type: "auto" })
    // older Claude models take the first code execution tool
    const old = Anthropic.encodeRequest([], {}, params([new BuiltinTool.CodeExecution()]), {
      modelName: "claude-sonnet-4-0",
      stream: false
    })
    assert.deepStrictEqual(old.tools, [{ type: "code_execution_20250522", name: "code_execution" }])
  })

  it("Anthropic tool search: the search tool, deferred definitions, and the beta", () => {
    const deferred = new Tool.ToolDefinition({
      name: "get_exchange_rate",
      parametersJsonSchema: { type: "object", properties: {} },
      deferLoading: true
    })
    const body = Anthropic.encodeRequest(
      [Messages.userPrompt("rate?")],
      {},
      new Model.ModelRequestParameters({
        functionTools: [deferred],
        builtinTools: [new BuiltinTool.ToolSearch({ variant: "regex" })]
      }),
      { modelName: "claude-sonnet-4-5", stream: false }
    )
    assert.deepStrictEqual(body.tools, [
      {
        name: "get_exchange_rate",
        description: "",
        input_schema: { type: "object", properties: {} },
        defer_loading: true
      },
      { type: "tool_search_tool_regex_20251119", name: "tool_search_tool_regex" }
    ])
    // Tool.make carries the flag onto the definition
    const made = Tool.make("lookup", {
      parameters: Schema.Struct({}),
      deferLoading: true,
      handler: () => Effect.succeed("x")
    })
    assert.strictEqual(made.definition.deferLoading, true)
  })

  it.scopedLive(
    "Anthropic advisor: advisor_20260301 with its model and budget, the beta, the consultation as built-in parts sent back verbatim",
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "anthropic",
          "models.test_anthropic.test_anthropic_advisor_tool_redacted"
        )
        const server = yield* replayServer(c)
        const model = Anthropic.model("claude-sonnet-5").pipe(
          Layer.provide(
            AnthropicClient.layer({
              baseUrl: server.baseUrl,
              apiKey: Redacted.make("k"),
              retry: false
            })
          ),
          Layer.provide(NodeHttpClient.layerUndici)
        )
        const advisor = new BuiltinTool.Advisor({ model: "claude-fable-5", maxTokens: 1024 })
        const response = yield* Effect.flatMap(Model.Model, (m) =>
          m.request(
            [Messages.userPrompt("What's 2+2? Consult your advisor first.")],
            { maxTokens: 4096 },
            params([advisor])
          )
        ).pipe(Effect.provide(model))
        const sent = server.received[0]!
        assert.deepStrictEqual((sent.body as any).tools, [
          { type: "advisor_20260301", name: "advisor", model: "claude-fable-5", max_tokens: 1024 }
        ])
        assert.include(sent.headers["anthropic-beta"], "advisor-tool-2026-03-01")
        const recorded = (c.interactions[0]!.response.json as any).content
        const use = recorded.find((b: any) => b.type === "server_tool_use")
        const result = recorded.find((b: any) => b.type === "advisor_tool_result")
        const [call, ret] = response.builtinToolParts
        assert.strictEqual(response.builtinToolParts.length, 2)
        assert.deepStrictEqual(
          [call?._tag, call?.toolName, call?.toolCallId, call?.providerName],
          ["BuiltinToolCallPart", "advisor", use.id, "anthropic"]
        )
        assert.deepStrictEqual(call?._tag === "BuiltinToolCallPart" && call.argsAsObject(), {})
        assert.deepStrictEqual(
          [ret?._tag, ret?.toolName, ret?.toolCallId],
          ["BuiltinToolReturnPart", "advisor", use.id]
        )
        assert.deepStrictEqual(ret?._tag === "BuiltinToolReturnPart" && ret.content, result.content)
        assert.strictEqual(
          response.text,
          recorded
            .filter((b: any) => b.type === "text")
            .map((b: any) => b.text)
            .join("")
        )
        // The consultation goes back to Anthropic as it came.
        const again = Anthropic.encodeRequest(
          [Messages.userPrompt("q"), response, Messages.userPrompt("and 3+3?")],
          {},
          params([advisor]),
          { modelName: "claude-sonnet-5", stream: false }
        )
        const blocks = (again.messages as Array<any>)[1].content
        assert.deepStrictEqual(
          blocks.find((b: any) => b.type === "server_tool_use"),
          use
        )
        assert.deepStrictEqual(
          blocks.find((b: any) => b.type === "advisor_tool_result"),
          result
        )
      })
  )

  it("OpenAI Responses: every spec's wire form; code interpreter outputs are included", () => {
    const body = OpenAiResponses.encodeRequest(
      [Messages.userPrompt("hi")],
      {},
      params([
        new BuiltinTool.WebSearch({ searchContextSize: "high", allowedDomains: ["a.org"] }),
        new BuiltinTool.CodeExecution(),
        new BuiltinTool.FileSearch({ fileStoreIds: ["vs_1"] }),
        new BuiltinTool.ImageGeneration({ quality: "low", size: "1024x1024" }),
        new BuiltinTool.McpServer({ id: "s", url: "https://mcp.example", allowedTools: ["t"] })
      ]),
      { modelName: "gpt-5", profile: OpenAiResponses.profileFor("gpt-5"), stream: false }
    )
    assert.deepStrictEqual(body.tools, [
      { type: "web_search", search_context_size: "high", filters: { allowed_domains: ["a.org"] } },
      { type: "code_interpreter", container: { type: "auto" } },
      { type: "file_search", vector_store_ids: ["vs_1"] },
      { type: "image_generation", quality: "low", size: "1024x1024" },
      {
        type: "mcp",
        server_label: "s",
        server_url: "https://mcp.example",
        require_approval: "never",
        allowed_tools: ["t"]
      }
    ])
    assert.deepStrictEqual(body.include, [
      "reasoning.encrypted_content",
      "code_interpreter_call.outputs"
    ])
    assert.strictEqual(body.tool_choice, "auto")
  })

  it("Gemini: built-in tools before function declarations; Gemini 3 asks for server-side invocations", () => {
    const body = Google.encodeRequest(
      [Messages.userPrompt("hi")],
      {},
      params([
        new BuiltinTool.WebSearch(),
        new BuiltinTool.UrlContext(),
        new BuiltinTool.WebFetch(),
        new BuiltinTool.FileSearch({ fileStoreIds: ["fileSearchStores/x"] })
      ]),
      { modelName: "gemini-3-flash-preview" }
    )
    assert.deepStrictEqual(body.tools, [
      { googleSearch: {} },
      { urlContext: {} },
      { fileSearch: { fileSearchStoreNames: ["fileSearchStores/x"] } }
    ])
    assert.deepStrictEqual(body.toolConfig, { includeServerSideToolInvocations: true })
    const code = Google.encodeRequest([], {}, params([new BuiltinTool.CodeExecution()]), {
      modelName: "gemini-3-flash-preview"
    })
    assert.deepStrictEqual(code.tools, [{ codeExecution: {} }])
    assert.isUndefined(code.toolConfig)
  })

  it("built-in parts go back to their provider only; other providers drop them and keep the text", () => {
    const anthropicSearch = new Messages.ModelResponse({
      parts: [
        new Messages.BuiltinToolCallPart({
          toolName: "web_search",
          args: { query: "q" },
          toolCallId: "srvtoolu_1",
          providerName: "anthropic"
        }),
        new Messages.BuiltinToolReturnPart({
          toolName: "web_search",
          content: [{ type: "web_search_result", url: "https://a" }],
          toolCallId: "srvtoolu_1",
          providerName: "anthropic",
          providerDetails: { type: "web_search_tool_result" }
        }),
        new Messages.TextPart({ content: "Answer." })
      ],
      providerName: "anthropic"
    })
    const history = [Messages.userPrompt("q"), anthropicSearch, Messages.userPrompt("more")]
    const anthropic = Anthropic.encodeRequest(history, {}, params([]), {
      modelName: "claude-sonnet-4-5",
      stream: false
    }) as { messages: Array<{ content: Array<unknown> }> }
    assert.deepStrictEqual(anthropic.messages[1]!.content, [
      { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "q" } },
      {
        type: "web_search_tool_result",
        tool_use_id: "srvtoolu_1",
        content: [{ type: "web_search_result", url: "https://a" }]
      },
      { type: "text", text: "Answer." }
    ])
    const openai = OpenAiResponses.encodeRequest(history, {}, params([]), {
      modelName: "gpt-4.1",
      profile: OpenAiResponses.profileFor("gpt-4.1"),
      stream: false
    })
    assert.deepStrictEqual(openai.input, [
      { role: "user", content: "q" },
      { role: "assistant", content: "Answer." },
      { role: "user", content: "more" }
    ])
    const gemini = Google.encodeRequest(history, {}, params([]), { modelName: "gemini-2.5-flash" })
    assert.deepStrictEqual(gemini.contents[1], { role: "model", parts: [{ text: "Answer." }] })
  })

  it("Anthropic decodes server tool blocks and their usage counters", () => {
    const response = Anthropic.decodeResponse(
      {
        id: "msg_1",
        content: [
          { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "q" } },
          {
            type: "web_search_tool_result",
            tool_use_id: "srvtoolu_1",
            content: [{ type: "web_search_result", url: "https://a" }]
          },
          {
            type: "mcp_tool_use",
            id: "mcptoolu_1",
            name: "ask",
            server_name: "deepwiki",
            input: {}
          },
          { type: "mcp_tool_result", tool_use_id: "mcptoolu_1", is_error: false, content: [] },
          { type: "text", text: "ok" }
        ],
        stop_reason: "end_turn",
        usage: {
          input_tokens: 10,
          output_tokens: 2,
          server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 }
        }
      },
      "claude-sonnet-4-5"
    )
    const [search, searchResult, mcp, mcpResult] = response.builtinToolParts
    assert.deepStrictEqual(
      [search, searchResult, mcp, mcpResult].map((p) => [p!._tag, p!.toolName, p!.toolCallId]),
      [
        ["BuiltinToolCallPart", "web_search", "srvtoolu_1"],
        ["BuiltinToolReturnPart", "web_search", "srvtoolu_1"],
        ["BuiltinToolCallPart", "ask", "mcptoolu_1"],
        ["BuiltinToolReturnPart", "mcp", "mcptoolu_1"]
      ]
    )
    assert.deepStrictEqual(mcp!.providerDetails, { type: "mcp_tool_use", server_name: "deepwiki" })
    assert.deepStrictEqual(mcpResult!.providerDetails, { type: "mcp_tool_result", is_error: false })
    assert.deepStrictEqual(response.usage.details, { web_search_requests: 1 })
    assert.strictEqual(response.text, "ok")
  })
})
