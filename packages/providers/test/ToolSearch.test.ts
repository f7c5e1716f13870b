/**
 * Tool search end to end over loopback replays of recorded traffic:
 * - an agent with its own tool search (`Toolset.withToolSearch`) on OpenAI Responses: the model
 *   calls the client-executed `tool_search`, the agent searches its deferred tools and answers
 *   with a `tool_search_output` holding the found definition, the model calls the found tool and
 *   the agent runs it; every request body the agent sends equals the recorded one;
 * - an agent on Anthropic continuing a history where a local search loaded a deferred tool
 *   (`tool_reference`): the model calls the loaded tool, the agent runs it;
 * - streamed OpenAI tool search items and message phases arrive as part events.
 */
import { Agent, BuiltinTool, Messages, Model, Tool, Toolset } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Google from "../src/Google.js"
import * as ChatWire from "../src/internal/openaiChat.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { canonical } from "./support/conformance.js"
import { loadCase, replayServer } from "./support/replay.js"

type Json = Record<string, any>

const responsesModel = (baseUrl: string, name: string) =>
  OpenAiResponses.model(name).pipe(
    Layer.provide(
      OpenAiClient.layer({ baseUrl: `${baseUrl}/v1`, apiKey: Redacted.make("sk"), retry: false })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const anthropicModel = (baseUrl: string, name: string) =>
  Anthropic.model(name).pipe(
    Layer.provide(
      AnthropicClient.layer({ baseUrl, apiKey: Redacted.make("sk-ant"), retry: false })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const calls: Array<unknown> = []
const getWeather = Tool.make("get_weather", {
  description: "Get the current weather for a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`Sunny in ${city}`)
})
const getExchangeRate = Tool.make("get_exchange_rate", {
  description: "Look up the current exchange rate between two currencies.",
  parameters: Schema.Struct({ from_currency: Schema.String, to_currency: Schema.String }),
  deferLoading: true,
  handler: (args) => Effect.sync(() => calls.push(args)).pipe(Effect.as("1 USD = 0.92 EUR"))
})
const stockLookup = Tool.make("stock_lookup", {
  description: "Look up stock price by ticker symbol.",
  parameters: Schema.Struct({ symbol: Schema.String }),
  deferLoading: true,
  handler: ({ symbol }) => Effect.succeed(`Stock ${symbol}: $150.00`)
})

/** `status` is an output-only field pydantic-ai echoed on some items; we do not send it back. */
const withoutStatus = (items: ReadonlyArray<Json>) =>
  items.map((i) => {
    if (i.type === "tool_search_call" || i.type === "tool_search_output") return i
    const { status: _, ...rest } = i
    return rest
  })

describe("tool search end to end", () => {
  it.scopedLive(
    "OpenAI Responses: the agent's tool search finds a deferred tool, the model calls it, the agent runs it",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        const c = loadCase(
          "openai-responses",
          "test_tool_search.test_openai_execution_client_round_trip"
        )
        const recorded = c.interactions.map((i) => i.request.body as Json)
        const server = yield* replayServer(c)
        const searchTool = recorded[0]!.tools[0]
        const toolset = Toolset.fromTools([getWeather, getExchangeRate, stockLookup]).pipe(
          Toolset.withToolSearch({ description: searchTool.description })
        )
        const agent = Agent.make({ instructions: recorded[0]!.instructions, toolsets: [toolset] })
        const result = yield* agent
          .run("What is the current exchange rate from USD to EUR?")
          .pipe(Effect.provide(responsesModel(server.baseUrl, "gpt-5.4")))
        assert.strictEqual(result.output, "1 USD = 0.92 EUR.")
        assert.deepStrictEqual(calls, [{ from_currency: "USD", to_currency: "EUR" }])
        assert.strictEqual(server.unused(), 0)
        const sent = server.received.map((r) => r.body as Json)
        assert.strictEqual(sent.length, 3)
        for (let i = 0; i < 3; i++) {
          // The conversation, byte for byte as recorded (ids, call ids, found definitions).
          assert.strictEqual(
            canonical(withoutStatus(sent[i]!.input)),
            canonical(withoutStatus(recorded[i]!.input)),
            `request ${i + 1}: input`
          )
          assert.strictEqual(sent[i]!.instructions, recorded[i]!.instructions)
          // The search tool goes as a client-executed tool_search, the deferred tools with
          // defer_loading; the function tools as recorded.
          assert.deepStrictEqual(
            { ...sent[i]!.tools[0], parameters: undefined },
            { ...searchTool, parameters: undefined }
          )
          assert.strictEqual(
            canonical(sent[i]!.tools.slice(1)),
            canonical(recorded[i]!.tools.slice(1))
          )
        }
        // The found definition went back in a tool_search_output item.
        assert.deepStrictEqual(
          sent[1]!.input[2].tools.map((t: Json) => t.name),
          ["get_exchange_rate"]
        )
        // The history keeps the search (a call of search_tools answered by a ToolReference).
        const messages = result.allMessages()
        const back = yield* Messages.decodeJson(result.allMessagesJson())
        assert.deepStrictEqual(back, messages)
        const searchCall = messages
          .flatMap((m) => (m._tag === "ModelResponse" ? m.toolCalls : []))
          .find((p) => p.toolName === "search_tools")
        assert.deepStrictEqual(searchCall?.providerDetails, {
          type: "tool_search_call",
          execution: "client",
          status: "completed"
        })
        assert.deepStrictEqual([...Messages.loadedToolNames(messages)], ["get_exchange_rate"])
        // The history, back from JSON, encodes to the recorded last input again.
        const parameters = new Model.ModelRequestParameters({
          functionTools: (yield* toolset.tools({} as never)).map((t) => t.definition)
        })
        const again = OpenAiResponses.encodeRequest(back, {}, parameters, {
          modelName: "gpt-5.4",
          profile: OpenAiResponses.profileFor("gpt-5.4"),
          stream: false
        })
        assert.strictEqual(
          canonical(withoutStatus(again.input as Array<Json>).slice(0, recorded[2]!.input.length)),
          canonical(withoutStatus(recorded[2]!.input))
        )
      })
  )
})

describe("tool search on Anthropic and in streams", () => {
  it.scopedLive(
    "Anthropic: a history whose local search loaded a deferred tool (tool_reference); the model calls it and the agent runs it",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        const c = loadCase(
          "anthropic",
          "test_tool_search.test_anthropic_promotes_local_search_history_round_trip"
        )
        const recorded = c.interactions.map((i) => i.request.body as Json)
        const server = yield* replayServer(c)
        const history = [
          Messages.userPrompt("I might want to look up exchange rates later."),
          new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({
                toolName: "search_tools",
                args: { queries: ["exchange rate"] },
                toolCallId: "loc_search_1"
              })
            ]
          }),
          new Messages.ModelRequest({
            parts: [
              new Messages.ToolReturnPart({
                toolName: "search_tools",
                toolCallId: "loc_search_1",
                content: [new Messages.ToolReference({ toolName: "get_exchange_rate" })]
              })
            ]
          })
        ]
        const agent = Agent.make({
          tools: [getExchangeRate, stockLookup],
          builtinTools: [new BuiltinTool.ToolSearch()]
        })
        const result = yield* agent
          .run("What is the USD to EUR exchange rate?", { messageHistory: history })
          .pipe(Effect.provide(anthropicModel(server.baseUrl, "claude-sonnet-4-5")))
        assert.match(result.output, /1 USD = 0\.92 EUR/)
        assert.deepStrictEqual(calls, [{ from_currency: "USD", to_currency: "EUR" }])
        assert.strictEqual(server.unused(), 0)
        const sent = server.received.map((r) => r.body as Json)
        for (let i = 0; i < 2; i++) {
          // Messages (the tool_reference block included) and tools as recorded.
          assert.strictEqual(canonical(sent[i]!.messages), canonical(recorded[i]!.messages))
          assert.strictEqual(canonical(sent[i]!.tools), canonical(recorded[i]!.tools))
        }
      })
  )

  it.scopedLive(
    "OpenAI Responses streams tool search items and message phases as part events",
    () =>
      Effect.gen(function* () {
        // The first recorded response of a case, streamed (re-chunked) through the real model.
        const streamOf = (caseId: string) =>
          Effect.gen(function* () {
            const c = loadCase("openai-responses", caseId)
            const server = yield* replayServer(c, { rechunkSeed: 3 })
            const layer = responsesModel(
              server.baseUrl,
              (c.interactions[0]!.request.body as Json).model
            )
            return yield* Effect.gen(function* () {
              const model = yield* Model.Model
              const s = yield* model.requestStream(
                [Messages.userPrompt("hi")],
                {},
                Model.ModelRequestParameters.empty
              )
              return Chunk.toArray(yield* Stream.runCollect(s.events))
            }).pipe(Effect.provide(layer))
          })
        const starts = (events: ReadonlyArray<Messages.ModelResponseStreamEvent>) =>
          events.flatMap((e) => (e._tag === "PartStartEvent" ? [e.part] : []))
        const ends = (events: ReadonlyArray<Messages.ModelResponseStreamEvent>) =>
          events.filter((e) => e._tag === "PartEndEvent").length

        // The provider's search: a built-in call, its output, then the loaded tool's call.
        const native = yield* streamOf("test_tool_search.test_openai_native_tool_search_streaming")
        const nativeStarts = starts(native)
        assert.deepStrictEqual(
          nativeStarts.map((p) => [p._tag, "toolName" in p ? p.toolName : ""]),
          [
            ["BuiltinToolCallPart", "tool_search"],
            ["BuiltinToolReturnPart", "tool_search"],
            ["ToolCallPart", "get_exchange_rate"]
          ]
        )
        const [call, output, loaded] = nativeStarts as [
          Messages.BuiltinToolCallPart,
          Messages.BuiltinToolReturnPart,
          Messages.ToolCallPart
        ]
        assert.deepStrictEqual(call.args, { paths: ["get_exchange_rate"] })
        assert.strictEqual(output.toolCallId, call.toolCallId)
        assert.deepStrictEqual(
          (output.content as Json).tools.map((t: Json) => t.name),
          ["get_exchange_rate"]
        )
        assert.deepStrictEqual(loaded.providerDetails, { namespace: "get_exchange_rate" })
        assert.strictEqual(ends(native), 3)
        const final = native.at(-1) as Messages.ResponseCompleteEvent
        assert.strictEqual(final.response.finishReason, "tool_call")

        // The client's search: a call of the agent's search tool.
        const client = yield* streamOf("test_tool_search.test_openai_client_tool_search_streaming")
        const [search] = starts(client) as [Messages.ToolCallPart]
        assert.strictEqual(search.toolName, Toolset.toolSearchName)
        assert.strictEqual(search.toolCallId, "call_HoZLyVrNA5gX9RcfrRNI733g")
        assert.strictEqual(
          (client.at(-1) as Messages.ResponseCompleteEvent).response.finishReason,
          "tool_call"
        )

        // A message's phase is on the text part from its start.
        const phased = yield* streamOf(
          "models.test_openai_responses.test_openai_responses_phase_streamed_on_part_start"
        )
        const text = starts(phased).find((p) => p._tag === "TextPart")
        assert.deepStrictEqual(text?.providerDetails, { phase: "commentary" })
      })
  )
})

describe("tool search history on other providers", () => {
  // An OpenAI Responses history: the provider's own search (built-in parts), the agent's search
  // (a client tool_search call answered with a reference), and a tool made available.
  const history: ReadonlyArray<Messages.ModelMessage> = [
    Messages.userPrompt("USD to EUR?"),
    new Messages.ModelResponse({
      parts: [
        new Messages.BuiltinToolCallPart({
          toolName: "tool_search",
          args: { paths: ["stock_lookup"] },
          toolCallId: "tsc_1",
          providerName: "openai",
          providerDetails: { type: "tool_search_call", id: "tsc_1", execution: "server" }
        }),
        new Messages.BuiltinToolReturnPart({
          toolName: "tool_search",
          content: { tools: [{ type: "function", name: "stock_lookup" }] },
          toolCallId: "tsc_1",
          providerName: "openai",
          providerDetails: { type: "tool_search_output", id: "tso_1", execution: "server" }
        }),
        new Messages.ToolCallPart({
          toolName: "search_tools",
          args: { queries: ["exchange rate"] },
          toolCallId: "call_1",
          id: "tsc_2",
          providerName: "openai",
          providerDetails: { type: "tool_search_call", execution: "client", status: "completed" }
        })
      ]
    }),
    new Messages.ModelRequest({
      parts: [
        new Messages.ToolReturnPart({
          toolName: "search_tools",
          toolCallId: "call_1",
          content: [new Messages.ToolReference({ toolName: "get_exchange_rate" })]
        }),
        new Messages.ToolAvailabilityDeltaPart({ added: ["stock_lookup"] })
      ]
    })
  ]
  const parameters = new Model.ModelRequestParameters({
    functionTools: [getExchangeRate.definition, stockLookup.definition]
  })

  it("Anthropic: OpenAI's built-in search is dropped; the reference and the addition load the tools", () => {
    const body = Anthropic.encodeRequest(history, {}, parameters, {
      modelName: "claude-sonnet-4-5",
      stream: false
    }) as Json
    assert.deepStrictEqual(body.messages.slice(1), [
      {
        role: "assistant",
        content: [
          {
            type: "tool_use",
            id: "call_1",
            name: "search_tools",
            input: { queries: ["exchange rate"] }
          }
        ]
      },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "call_1",
            content: [{ type: "tool_reference", tool_name: "get_exchange_rate" }],
            is_error: false
          }
        ]
      },
      {
        role: "system",
        content: [{ type: "tool_addition", tool: { type: "tool_reference", name: "stock_lookup" } }]
      }
    ])
    assert.deepStrictEqual(
      body.tools.map((t: Json) => [t.name, t.defer_loading]),
      [
        ["get_exchange_rate", true],
        ["stock_lookup", true]
      ]
    )
  })

  it("OpenAI Chat and Gemini: references read as text, the addition is not sent", () => {
    const chat = ChatWire.encodeRequest(history, {}, parameters, {
      modelName: "gpt-4o",
      system: "openai",
      profile: OpenAiChat.openAiProfile("gpt-4o"),
      stream: false
    }) as Json
    const toolMessage = chat.messages.find((m: Json) => m.role === "tool")
    assert.deepStrictEqual(toolMessage, {
      role: "tool",
      tool_call_id: "call_1",
      content: '["Tool loaded: get_exchange_rate"]'
    })
    assert.strictEqual(chat.messages.length, 3)
    const gemini = Google.encodeRequest(history, {}, parameters, {
      modelName: "gemini-2.5-flash"
    }) as Json
    const response = gemini.contents
      .flatMap((c: Json) => c.parts)
      .find((p: Json) => p.functionResponse !== undefined)
    assert.deepStrictEqual(response.functionResponse.response, {
      return_value: '["Tool loaded: get_exchange_rate"]'
    })
  })
})
