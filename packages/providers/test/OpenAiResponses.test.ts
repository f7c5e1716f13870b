import { Agent, AgentError, BuiltinTool, Messages, Model, Tool } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import {
  apiErrorOf,
  collectStream,
  loadCase,
  replayServer,
  sseCase as replaySseCase,
  sseEvent as ev
} from "./support/replay.js"
import { responsesModelLayer } from "./support/models.js"

const modelLayer = responsesModelLayer

const sseCase = (sse: string) =>
  replaySseCase("openai-responses", "responses", "/v1/responses", sse)

const streamStart =
  ev("response.created", { response: { id: "resp_1", model: "gpt-5", status: "in_progress" } }) +
  ev("response.output_item.added", { item: { id: "rs_1", type: "reasoning", summary: [] } }) +
  ev("response.reasoning_summary_text.delta", {
    item_id: "rs_1",
    summary_index: 0,
    delta: "Think"
  }) +
  ev("response.output_item.done", {
    item: {
      id: "rs_1",
      type: "reasoning",
      summary: [{ type: "summary_text", text: "Think" }],
      encrypted_content: "enc"
    }
  }) +
  ev("response.output_item.added", {
    item: { id: "fc_1", type: "function_call", call_id: "call_1", name: "lookup", arguments: "" }
  }) +
  ev("response.function_call_arguments.delta", { item_id: "fc_1", delta: '{"q":' }) +
  ev("response.function_call_arguments.delta", { item_id: "fc_1", delta: "1}" }) +
  ev("response.some_future_event", { whatever: true })

const runStream = (baseUrl: string) => collectStream(modelLayer(baseUrl, "gpt-5"))

describe("OpenAI Responses request encoding", () => {
  const output = new Tool.ToolDefinition({
    name: "final_result",
    parametersJsonSchema: { type: "object" },
    kind: "output"
  })

  it("instructions come from the latest request; tool_choice is required when text is not allowed", () => {
    const body = OpenAiResponses.encodeRequest(
      [
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: "a" })],
          instructions: "old"
        }),
        new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "b" })] }),
        new Messages.ModelRequest({
          parts: [new Messages.RetryPromptPart({ content: "no text please" })],
          instructions: "new"
        })
      ],
      { maxTokens: 100 },
      new Model.ModelRequestParameters({
        outputTools: [output],
        allowTextOutput: false,
        outputMode: "tool"
      }),
      { modelName: "gpt-4o", profile: OpenAiResponses.profileFor("gpt-4o"), stream: false }
    )
    assert.strictEqual(body.instructions, "new")
    assert.strictEqual(body.tool_choice, "required")
    assert.strictEqual(body.max_output_tokens, 100)
    assert.deepStrictEqual(body.input, [
      { role: "user", content: "a" },
      { role: "assistant", content: "b" },
      {
        role: "user",
        content: "Validation feedback:\nno text please\n\nFix the errors and try again."
      }
    ])
    assert.strictEqual(body.include, undefined)
  })

  it("native output goes to text.format as a json_schema; reasoning settings map to effort", () => {
    const body = OpenAiResponses.encodeRequest(
      [Messages.userPrompt("x")],
      { thinking: "high" },
      new Model.ModelRequestParameters({
        outputMode: "native",
        outputObject: new Model.OutputObjectDefinition({
          jsonSchema: {
            type: "object",
            properties: { city: { type: "string" }, country: { type: "string" } },
            required: ["city"]
          },
          name: "City"
        })
      }),
      { modelName: "gpt-5", profile: OpenAiResponses.profileFor("gpt-5"), stream: true }
    )
    // Strict output goes through OpenAI's strict transformer: closed object, all required,
    // the optional field nullable.
    assert.deepStrictEqual(body.text, {
      format: {
        type: "json_schema",
        name: "City",
        schema: {
          type: "object",
          properties: { city: { type: "string" }, country: { type: ["string", "null"] } },
          required: ["city", "country"],
          additionalProperties: false
        },
        strict: true
      }
    })
    assert.deepStrictEqual(body.reasoning, { effort: "high", summary: "auto" })
    assert.deepStrictEqual(body.include, ["reasoning.encrypted_content"])
    assert.strictEqual(body.stream, true)
  })

  it("OpenAiResponses.layer / layerConfig are the OpenAI client layers (one import covers the common case)", () => {
    assert.strictEqual(OpenAiResponses.layer, OpenAiClient.layer)
    assert.strictEqual(OpenAiResponses.layerConfig, OpenAiClient.layerConfig)
  })

  it("tools are strict when their schema allows it; strict: true rewrites, strict: false opts out", () => {
    const closed = {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
      additionalProperties: false
    }
    const open = {
      type: "object",
      properties: { q: { type: "string" }, limit: { type: "number" } },
      required: ["q"]
    }
    const body = OpenAiResponses.encodeRequest(
      [Messages.userPrompt("x")],
      {},
      new Model.ModelRequestParameters({
        functionTools: [
          new Tool.ToolDefinition({ name: "closed", parametersJsonSchema: closed }),
          new Tool.ToolDefinition({ name: "open", parametersJsonSchema: open }),
          new Tool.ToolDefinition({
            name: "none",
            parametersJsonSchema: { type: "object", properties: {}, additionalProperties: false }
          }),
          new Tool.ToolDefinition({ name: "forced", parametersJsonSchema: open, strict: true }),
          new Tool.ToolDefinition({ name: "off", parametersJsonSchema: closed, strict: false })
        ]
      }),
      { modelName: "gpt-5", profile: OpenAiResponses.profileFor("gpt-5"), stream: false }
    )
    const tools = body.tools as Array<any>
    assert.deepStrictEqual(
      tools.map((t) => [t.name, t.strict]),
      [
        ["closed", true],
        ["open", false],
        ["none", false],
        ["forced", true],
        ["off", false]
      ]
    )
    assert.deepStrictEqual(tools[1].parameters, open)
    assert.deepStrictEqual(tools[3].parameters, {
      type: "object",
      properties: { q: { type: "string" }, limit: { type: ["number", "null"] } },
      required: ["q", "limit"],
      additionalProperties: false
    })
  })

  it("reasoning parts with the same id are merged back into one item; other providers' thinking is dropped", () => {
    const body = OpenAiResponses.encodeRequest(
      [
        Messages.userPrompt("q"),
        new Messages.ModelResponse({
          parts: [
            new Messages.ThinkingPart({
              content: "one",
              id: "rs_1",
              signature: "enc",
              providerName: "openai"
            }),
            new Messages.ThinkingPart({ content: "two", id: "rs_1", providerName: "openai" }),
            new Messages.ThinkingPart({
              content: "claude's",
              signature: "sig",
              providerName: "anthropic"
            }),
            new Messages.ToolCallPart({
              toolName: "t",
              args: {},
              toolCallId: "call_1",
              id: "fc_1",
              providerName: "openai"
            })
          ]
        })
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gpt-5", profile: OpenAiResponses.profileFor("gpt-5"), stream: false }
    )
    assert.deepStrictEqual((body.input as Array<unknown>).slice(1), [
      {
        type: "reasoning",
        id: "rs_1",
        summary: [
          { type: "summary_text", text: "one" },
          { type: "summary_text", text: "two" }
        ],
        encrypted_content: "enc"
      },
      { type: "function_call", call_id: "call_1", name: "t", arguments: "{}", id: "fc_1" }
    ])
  })
})

describe("OpenAI Responses over the wire", () => {
  it.scopedLive(
    'openaiPreviousResponseId "auto": each request chains to the last stored response and sends only what follows it, through tool retries',
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "openai-responses",
          "models.test_openai_responses.test_openai_previous_response_id_seed_auto_chains_through_retries"
        )
        const server = yield* replayServer(c)
        const getWeather = Tool.make("get_weather", {
          parameters: Schema.Struct({ city: Schema.String }),
          handler: ({ city }) =>
            city === "NYC"
              ? Effect.succeed("Sunny, 72F")
              : Effect.fail(
                  new AgentError.ModelRetry({
                    reason:
                      'Location not recognized. The tool only supports the airport code "NYC". Call again with city="NYC".'
                  })
                )
        })
        const settings: OpenAiResponses.Settings = { openaiPreviousResponseId: "auto" }
        const agent = Agent.make({ tools: [getWeather], modelSettings: settings })
        const layer = modelLayer(server.baseUrl, "gpt-4.1")
        const first = yield* agent
          .run("Say hi in one word, no punctuation.")
          .pipe(Effect.provide(layer))
        assert.strictEqual(first.output, "Hello")
        const second = yield* agent
          .run("What's the weather in New York?", { messageHistory: first.allMessages() })
          .pipe(Effect.provide(layer))
        assert.strictEqual(second.output, "The weather in New York is sunny and 72°F.")
        assert.strictEqual(server.unused(), 0)
        const sent = server.received.map((r) => r.body as any)
        const ids = c.interactions.map((i) => (i.response.json as any).id as string)
        // No stored response yet: everything goes, unchained.
        assert.isUndefined(sent[0].previous_response_id)
        assert.deepStrictEqual(sent[0].input, [
          { role: "user", content: "Say hi in one word, no punctuation." }
        ])
        // Then each request names the response before it and carries only the new input.
        assert.deepStrictEqual(
          sent.slice(1).map((b) => b.previous_response_id),
          ids.slice(0, 3)
        )
        assert.deepStrictEqual(sent[1].input, [
          { role: "user", content: "What's the weather in New York?" }
        ])
        assert.deepStrictEqual(
          sent[2].input.map((i: any) => [i.type, i.call_id]),
          [["function_call_output", "call_P1vN20XNjvNyIm0VshHYzmSA"]]
        )
        assert.include(sent[2].input[0].output, 'Call again with city="NYC"')
        assert.deepStrictEqual(sent[3].input, [
          {
            type: "function_call_output",
            call_id: "call_N2BikjqNxghwNIwHl2XKfb0F",
            output: "Sunny, 72F"
          }
        ])
        // The whole conversation stays in the history on our side.
        assert.strictEqual(second.allMessages().length, 8)
      })
  )

  it.scopedLive(
    'openaiConversationId: a response keeps its conversation; "auto" continues it sending only the new prompt',
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "openai-responses",
          "models.test_openai_responses.test_openai_conversation_id_explicit_and_auto"
        )
        const server = yield* replayServer(c)
        const conv = "conv_010000000000000000000000000000000000000000000000"
        const agent = Agent.make({
          instructions:
            "Follow the user instructions exactly. When asked for a code, reply only with that code."
        })
        const layer = modelLayer(server.baseUrl, "gpt-4.1")
        const explicit: OpenAiResponses.Settings = { openaiConversationId: conv }
        const first = yield* agent
          .run(
            "Remember this exact code for later in this conversation: CONV-PAI-5222. Reply exactly: stored",
            { modelSettings: explicit }
          )
          .pipe(Effect.provide(layer))
        assert.deepStrictEqual(first.response.providerDetails, { conversation_id: conv })
        const auto: OpenAiResponses.Settings = { openaiConversationId: "auto" }
        const second = yield* agent
          .run("What exact code did I ask you to remember? Reply with only the code.", {
            messageHistory: first.allMessages(),
            modelSettings: auto
          })
          .pipe(Effect.provide(layer))
        assert.strictEqual(
          second.output,
          (c.interactions[2]!.response.json as any).output[0].content[0].text
        )
        const sent = server.received.map((r) => r.body as any)
        assert.deepStrictEqual(
          sent.map((b) => [b.conversation, b.input.length]),
          [
            [conv, 1],
            [conv, 1]
          ]
        )
        assert.deepStrictEqual(sent[1].input[0], {
          role: "user",
          content: "What exact code did I ask you to remember? Reply with only the code."
        })
        // "auto" with no conversation in the history sends none.
        const none = OpenAiResponses.encodeRequest(
          [Messages.userPrompt("hi")],
          auto,
          Model.ModelRequestParameters.empty,
          { modelName: "gpt-4.1", profile: OpenAiResponses.profileFor("gpt-4.1"), stream: false }
        )
        assert.isFalse("conversation" in none)
      })
  )

  it.scopedLive(
    'openaiConversationId "auto" does not continue the OpenAI conversation of a history forked into a new run conversation',
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "openai-responses",
          "models.test_openai_responses.test_openai_conversation_id_auto_respects_pydantic_ai_conversation_id"
        )
        const server = yield* replayServer(c)
        const conv = "conv_010000000000000000000000000000000000000000000000"
        const agent = Agent.make({ instructions: "Follow the user instructions exactly." })
        const layer = modelLayer(server.baseUrl, "gpt-4.1")
        const first = yield* agent
          .run("Reply exactly: stored", {
            modelSettings: { openaiConversationId: conv } as OpenAiResponses.Settings
          })
          .pipe(Effect.provide(layer))
        assert.deepStrictEqual(first.response.providerDetails, { conversation_id: conv })
        const original = first.response.conversationId
        assert.isDefined(original)
        // The history goes on in a new agent conversation: its OpenAI conversation is not
        // continued, the whole history is sent.
        const forked = yield* agent
          .run("Reply exactly: forked", {
            messageHistory: first.allMessages(),
            conversationId: "new",
            modelSettings: { openaiConversationId: "auto" } as OpenAiResponses.Settings
          })
          .pipe(Effect.provide(layer))
        assert.strictEqual(forked.output, "forked")
        assert.notStrictEqual(forked.conversationId, original)
        assert.isUndefined(forked.response.providerDetails?.conversation_id)
        const sent = server.received.filter((r) => r.path === "/v1/responses").map((r) => r.body)
        const recorded = c.interactions
          .filter((i) => i.endpoint === "responses")
          .map((i) => i.request.body as Record<string, unknown>)
        assert.strictEqual(sent.length, 2)
        for (const [i, body] of sent.entries()) {
          const b = body as Record<string, unknown>
          // The same turns (agentfx sends its assistant turns as message items, with their ids).
          const turns = (input: unknown) =>
            (input as Array<Record<string, any>>).map((item) => [
              item.role,
              typeof item.content === "string"
                ? item.content
                : item.content.map((c: Record<string, any>) => c.text).join("")
            ])
          assert.deepStrictEqual(turns(b.input), turns(recorded[i]!.input), `request ${i}: input`)
          assert.strictEqual(
            b.conversation,
            recorded[i]!.conversation,
            `request ${i}: conversation`
          )
          assert.strictEqual(b.instructions, recorded[i]!.instructions)
        }
        // The same history in its own agent conversation continues the OpenAI one.
        const same = OpenAiResponses.encodeRequest(
          [
            ...first.allMessages(),
            new Messages.ModelRequest({
              parts: [new Messages.UserPromptPart({ content: "again" })],
              conversationId: original!
            })
          ],
          { openaiConversationId: "auto" } as OpenAiResponses.Settings,
          Model.ModelRequestParameters.empty,
          { modelName: "gpt-4.1", profile: OpenAiResponses.profileFor("gpt-4.1"), stream: false }
        )
        assert.strictEqual(same.conversation, conv)
        assert.deepStrictEqual(same.input, [{ role: "user", content: "again" }])
      })
  )

  it("image detail: a file's vendorMetadata.detail goes out as the recorded input_image detail (tool result files)", () => {
    const c = loadCase(
      "openai-responses",
      "models.test_multimodal_tool_returns.test_vendor_metadata_detail"
    )
    const recorded = (c.interactions[1]!.request.body as any).input.find(
      (i: any) => i.type === "function_call_output"
    )
    const [high, low] = recorded.output
    const data = /^data:([^;]+);base64,(.*)$/s.exec(high.image_url)!
    const files = [
      new Messages.BinaryContent({
        data: new Uint8Array(Buffer.from(data[2]!, "base64")),
        mediaType: data[1]!,
        vendorMetadata: { detail: "high" }
      }),
      new Messages.ImageUrl({ url: low.image_url, vendorMetadata: { detail: "low" } })
    ]
    const body = OpenAiResponses.encodeRequest(
      [
        Messages.userPrompt("Call the get_images_with_metadata tool and describe what you see."),
        new Messages.ModelResponse({
          parts: [
            new Messages.ToolCallPart({
              toolName: "get_images_with_metadata",
              args: "{}",
              toolCallId: recorded.call_id
            })
          ]
        }),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({
              toolName: "get_images_with_metadata",
              toolCallId: recorded.call_id,
              content: files
            })
          ]
        })
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gpt-5-mini", profile: OpenAiResponses.profileFor("gpt-5-mini"), stream: false }
    )
    const sent = (body.input as Array<any>).find((i) => i.type === "function_call_output")
    assert.deepStrictEqual(sent.output, [high, low])
    // Without vendor metadata the detail stays "auto"; a value OpenAI does not know is ignored.
    const plain = OpenAiResponses.encodeRequest(
      [
        Messages.userPrompt([
          new Messages.ImageUrl({ url: "https://x/a.png" }),
          new Messages.ImageUrl({ url: "https://x/b.png", vendorMetadata: { detail: "huge" } })
        ])
      ],
      {},
      Model.ModelRequestParameters.empty,
      { modelName: "gpt-5-mini", profile: OpenAiResponses.profileFor("gpt-5-mini"), stream: false }
    )
    assert.deepStrictEqual(
      ((plain.input as Array<any>)[0].content as Array<any>).map((c) => c.detail),
      ["auto", "auto"]
    )
  })

  it("openaiPreviousResponseId: an explicit id is sent with every message; auto skips other providers' responses", () => {
    const history = [
      Messages.userPrompt("one"),
      new Messages.ModelResponse({
        parts: [new Messages.TextPart({ content: "a" })],
        providerName: "openai",
        providerResponseId: "resp_1"
      }),
      Messages.userPrompt("two"),
      new Messages.ModelResponse({
        parts: [new Messages.TextPart({ content: "b" })],
        providerName: "anthropic",
        providerResponseId: "msg_x"
      }),
      Messages.userPrompt("three")
    ]
    const encode = (settings: OpenAiResponses.Settings) =>
      OpenAiResponses.encodeRequest(history, settings, Model.ModelRequestParameters.empty, {
        modelName: "gpt-4.1",
        profile: OpenAiResponses.profileFor("gpt-4.1"),
        stream: false
      })
    const auto = encode({ openaiPreviousResponseId: "auto" })
    assert.strictEqual(auto.previous_response_id, "resp_1")
    assert.deepStrictEqual(auto.input, [
      { role: "user", content: "two" },
      { role: "assistant", content: "b" },
      { role: "user", content: "three" }
    ])
    const explicit = encode({ openaiPreviousResponseId: "resp_0" })
    assert.strictEqual(explicit.previous_response_id, "resp_0")
    assert.strictEqual((explicit.input as Array<unknown>).length, 5)
    assert.isFalse("previous_response_id" in encode({}))
  })

  it.scopedLive(
    "web search citations: streamed url_citation annotations are kept on the text part and go back with the message",
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "openai-responses",
          "models.test_openai_responses.test_openai_include_raw_annotations_streaming"
        )
        const server = yield* replayServer(c)
        const agent = Agent.make({
          instructions: "Use web search and include citations in your answer.",
          builtinTools: [new BuiltinTool.WebSearch({ searchContextSize: "medium" })]
        })
        const layer = modelLayer(server.baseUrl, "gpt-5.2")
        const events = yield* agent
          .runStream(
            "What is the tallest mountain in Alberta? Provide one sentence with a citation."
          )
          .pipe(Stream.runCollect, Effect.provide(layer))
        const all = Chunk.toReadonlyArray(events) as ReadonlyArray<any>
        const result = all[all.length - 1].result as Agent.AgentRunResult<string>
        const recordedItem = (c.interactions[0]!.response.sse as string)
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => JSON.parse(l.slice(5)))
          .find((e) => e.type === "response.output_item.done" && e.item.type === "message").item
        const recorded = recordedItem.content[0].annotations
        assert.strictEqual(recorded.length, 1)
        assert.strictEqual(recorded[0].type, "url_citation")
        const text = result.response.parts.find((p) => p._tag === "TextPart")!
        assert.deepStrictEqual(OpenAiResponses.annotationsOf(text), recorded)
        assert.strictEqual(text.id, recordedItem.id)
        // The streamed part-end event carries the annotations too.
        const end = all.find((e) => e._tag === "PartEndEvent" && e.part._tag === "TextPart")
        assert.deepStrictEqual(end.part.providerDetails, { annotations: recorded })
        // The next turn sends the message back with its citations.
        yield* agent
          .runStream("And the second tallest?", { messageHistory: result.allMessages() })
          .pipe(Stream.runDrain, Effect.provide(layer))
        const sent = (server.received[1]!.body as any).input
        assert.deepStrictEqual(sent[sent.length - 2], {
          type: "message",
          role: "assistant",
          id: recordedItem.id,
          status: "completed",
          content: [
            { type: "output_text", text: recordedItem.content[0].text, annotations: recorded }
          ]
        })
      })
  )

  it.scopedLive(
    "multi-turn agent run with reasoning round trip: tool call → tool result → final text",
    () =>
      Effect.gen(function* () {
        const c = loadCase(
          "openai-responses",
          "models.test_tool_choice_matrix.test_tool_choice_matrix-auto-openai_responses"
        )
        const server = yield* replayServer(c)
        const weather = Tool.make("get_weather", {
          description: "Get the current weather for a city.",
          parameters: Schema.Struct({ city: Schema.String }),
          handler: ({ city }) => Effect.succeed(`Sunny, 22C in ${city}`)
        })
        const agent = Agent.make({ tools: [weather] })
        const result = yield* agent
          .run("What's the weather in Paris?")
          .pipe(Effect.provide(modelLayer(server.baseUrl, "gpt-5-mini")))
        assert.strictEqual(
          result.output,
          "Currently it's sunny in Paris with a temperature of 22°C."
        )
        assert.strictEqual(result.usage.requests, 2)
        const firstOutput = (c.interactions[0]!.response.json as any).output
        const reasoning = firstOutput.find((i: any) => i.type === "reasoning")
        const sent = server.received[1]!.body as any
        // The encrypted reasoning item goes back verbatim, before its function call.
        assert.deepStrictEqual(sent.input[1], {
          type: "reasoning",
          id: reasoning.id,
          summary: [],
          encrypted_content: reasoning.encrypted_content
        })
        assert.deepStrictEqual(sent.input[3], {
          type: "function_call_output",
          call_id: firstOutput.find((i: any) => i.type === "function_call").call_id,
          output: "Sunny, 22C in Paris"
        })
        assert.strictEqual(server.received[0]!.headers.authorization, "Bearer sk-secret")
        assert.strictEqual(server.unused(), 0)
      })
  )

  it.scopedLive(
    "streaming: reasoning summary + signature, tool call arguments, usage; unknown events skipped",
    () =>
      Effect.gen(function* () {
        const server = yield* replayServer(
          sseCase(
            streamStart +
              ev("response.output_item.done", {
                item: {
                  id: "fc_1",
                  type: "function_call",
                  call_id: "call_1",
                  name: "lookup",
                  arguments: '{"q":1}'
                }
              }) +
              ev("response.completed", {
                response: {
                  id: "resp_1",
                  model: "gpt-5",
                  status: "completed",
                  usage: {
                    input_tokens: 20,
                    output_tokens: 9,
                    input_tokens_details: { cached_tokens: 4 },
                    output_tokens_details: { reasoning_tokens: 6 }
                  }
                }
              })
          ),
          { rechunkSeed: 5 }
        )
        const exit = yield* runStream(server.baseUrl)
        if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
        const done = [...exit.value].at(-1)!
        if (done._tag !== "ResponseCompleteEvent") return assert.fail("no ResponseCompleteEvent")
        const r = done.response
        assert.strictEqual(r.thinking[0]!.content, "Think")
        assert.strictEqual(r.thinking[0]!.signature, "enc")
        assert.strictEqual(r.thinking[0]!.id, "rs_1")
        assert.deepStrictEqual(r.toolCalls[0]!.argsAsObject(), { q: 1 })
        assert.strictEqual(r.toolCalls[0]!.toolCallId, "call_1")
        assert.strictEqual(r.finishReason, "tool_call")
        assert.strictEqual(r.usage.inputTokens, 20)
        assert.strictEqual(r.usage.cacheReadTokens, 4)
        assert.strictEqual(r.usage.details.reasoning_tokens, 6)
      })
  )

  it.scopedLive("response.failed fails with ModelAPIError keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(
        sseCase(
          streamStart +
            ev("response.failed", {
              response: {
                id: "resp_1",
                status: "failed",
                error: { code: "server_error", message: "boom" }
              }
            })
        )
      )
      const exit = yield* runStream(server.baseUrl)
      const error = apiErrorOf(exit)
      assert.include(error.reason, "server_error")
      assert.strictEqual(error.partialResponse?.thinking[0]?.content, "Think")
      assert.notInclude(JSON.stringify(error), "sk-secret")
    })
  )

  it.scopedLive("a stream cut before response.completed fails keeping the partial response", () =>
    Effect.gen(function* () {
      const server = yield* replayServer(sseCase(streamStart))
      const exit = yield* runStream(server.baseUrl)
      assert.strictEqual(apiErrorOf(exit).partialResponse?.toolCalls[0]?.argsAsJson(), '{"q":1}')
    })
  )
})
