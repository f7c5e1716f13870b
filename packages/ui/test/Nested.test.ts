/**
 * Built-in (provider-executed) tool parts and sub-agents in both protocols: golden sequences,
 * `ai`'s own `readUIMessageStream` showing the parts in the right state (and the history
 * decoded back from them), and `@ag-ui/core`'s own schemas accepting every AG-UI event.
 */
import { EventSchemas } from "@ag-ui/core/schemas"
import type { Agent, Model } from "@agentfx/core"
import { Messages } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { readMessages } from "./client.js"
import * as F from "./fixtures.js"

const collect = <A, O>(
  agent: Agent.Agent<A, never, Model.Model>,
  model: Layer.Layer<Model.Model>,
  encode: (
    events: Stream.Stream<Agent.AgentStreamEvent<A>, any, Model.Model>
  ) => Stream.Stream<O, never, Model.Model>
) =>
  Effect.gen(function* () {
    let result: Agent.AgentRunResult<A> | undefined
    const stream = agent.runStream("hi").pipe(
      Stream.tap((e) =>
        Effect.sync(() => {
          if (e._tag === "AgentRunResultEvent") result = e.result
        })
      )
    )
    const out = Chunk.toArray(yield* Stream.runCollect(encode(stream)).pipe(Effect.provide(model)))
    return { out, result: result! }
  })

const agUiChecked = <A>(
  agent: Agent.Agent<A, never, Model.Model>,
  model: Layer.Layer<Model.Model>
) =>
  Effect.tap(
    collect(agent, model, (events) => UiStream.agUiEvents(events, { threadId: "t1", runId: "r1" })),
    ({ out }) =>
      Effect.sync(() => {
        for (const e of out) {
          const parsed = EventSchemas.safeParse(e)
          assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
        }
      })
  )

describe("built-in (provider-executed) tools", () => {
  it.effect(
    "AI SDK: provider-executed tool parts, shown by readUIMessageStream, decoded back",
    () =>
      Effect.gen(function* () {
        const { out, result } = yield* collect(F.builtinAgent, F.builtinModel, (e) =>
          UiStream.aiSdkChunks(e)
        )
        const providerMetadata = { agentfx: { providerName: "anthropic" } }
        assert.deepStrictEqual(out, [
          { type: "start" },
          { type: "start-step" },
          {
            type: "tool-input-start",
            toolCallId: "srvtoolu_1",
            toolName: "web_search",
            providerExecuted: true,
            providerMetadata
          },
          { type: "tool-input-delta", toolCallId: "srvtoolu_1", inputTextDelta: '{"query":' },
          { type: "tool-input-delta", toolCallId: "srvtoolu_1", inputTextDelta: '"otters"}' },
          {
            type: "tool-input-available",
            toolCallId: "srvtoolu_1",
            toolName: "web_search",
            input: { query: "otters" },
            providerExecuted: true,
            providerMetadata
          },
          {
            type: "tool-output-available",
            toolCallId: "srvtoolu_1",
            output: [{ url: "https://example.com/otters", title: "Otters" }],
            providerExecuted: true
          },
          { type: "text-start", id: "text-1-2" },
          { type: "text-delta", id: "text-1-2", delta: "Otters hold hands." },
          { type: "text-end", id: "text-1-2" },
          { type: "finish-step" },
          { type: "finish", finishReason: "stop" }
        ])
        const { seen, errors } = yield* readMessages(out)
        assert.deepStrictEqual(errors, [])
        const message = seen.at(-1)!
        assert.deepStrictEqual(message.parts, [
          { type: "step-start" },
          {
            type: "tool-web_search",
            toolCallId: "srvtoolu_1",
            state: "output-available",
            input: { query: "otters" },
            output: [{ url: "https://example.com/otters", title: "Otters" }],
            providerExecuted: true,
            callProviderMetadata: providerMetadata
          },
          { type: "text", text: "Otters hold hands.", state: "done" }
        ] as never)
        // back to history: the built-in parts stay in the response (no function call, no return)
        const history = yield* UiStream.fromUiMessages([
          { id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] },
          message
        ])
        assert.strictEqual(history.length, 2)
        const response = history[1] as Messages.ModelResponse
        assert.strictEqual(response._tag, "ModelResponse")
        const recorded = result.newMessages()[1] as Messages.ModelResponse
        assert.deepStrictEqual(
          response.parts.map((p) => p._tag),
          recorded.parts.map((p) => p._tag)
        )
        const [call, ret] = response.parts as [
          Messages.BuiltinToolCallPart,
          Messages.BuiltinToolReturnPart
        ]
        assert.deepStrictEqual(
          {
            name: call.toolName,
            id: call.toolCallId,
            args: call.args,
            provider: call.providerName
          },
          { name: "web_search", id: "srvtoolu_1", args: { query: "otters" }, provider: "anthropic" }
        )
        assert.deepStrictEqual(
          { id: ret.toolCallId, content: ret.content, provider: ret.providerName },
          {
            id: "srvtoolu_1",
            content: [{ url: "https://example.com/otters", title: "Otters" }],
            provider: "anthropic"
          }
        )
        assert.strictEqual(response.toolCalls.length, 0)
      })
  )

  it.effect("AG-UI: TOOL_CALL_* and TOOL_CALL_RESULT marked provider-executed", () =>
    Effect.gen(function* () {
      const { out } = yield* agUiChecked(F.builtinAgent, F.builtinModel)
      const builtin = { providerExecuted: true, providerName: "anthropic" }
      const metadata = { agentfx: builtin }
      const position = { response: "r1-1", index: 1 }
      assert.deepStrictEqual(out, [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        {
          type: "TOOL_CALL_START",
          toolCallId: "srvtoolu_1",
          toolCallName: "web_search",
          parentMessageId: "r1-message-1",
          metadata: { agentfx: { ...builtin, position: { response: "r1-1", index: 0 } } }
        },
        { type: "TOOL_CALL_ARGS", toolCallId: "srvtoolu_1", delta: '{"query":' },
        { type: "TOOL_CALL_ARGS", toolCallId: "srvtoolu_1", delta: '"otters"}' },
        { type: "TOOL_CALL_END", toolCallId: "srvtoolu_1" },
        {
          type: "TOOL_CALL_RESULT",
          messageId: "r1-result-srvtoolu_1",
          toolCallId: "srvtoolu_1",
          content: '[{"url":"https://example.com/otters","title":"Otters"}]',
          role: "tool",
          metadata: { agentfx: { ...builtin, position } }
        },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-1-2",
          role: "assistant",
          metadata: F.at("r1-1", 2)
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-2", delta: "Otters hold hands." },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-1-2" },
        { type: "RUN_FINISHED", threadId: "t1", runId: "r1", result: "Otters hold hands." }
      ])
      // the messages a client builds from them, the events' metadata kept on the tool call /
      // result: decoded back to the one response the model gave (built-in parts and text)
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "hi" },
        {
          id: "a1",
          role: "assistant",
          toolCalls: [
            {
              id: "srvtoolu_1",
              type: "function",
              function: { name: "web_search", arguments: '{"query":"otters"}' },
              metadata
            }
          ]
        },
        {
          id: "r1-result-srvtoolu_1",
          role: "tool",
          toolCallId: "srvtoolu_1",
          content: '[{"url":"https://example.com/otters","title":"Otters"}]'
        },
        { id: "a2", role: "assistant", content: "Otters hold hands." }
      ])
      assert.deepStrictEqual(
        history.map((m) => m.parts.map((p) => p._tag)),
        [["UserPromptPart"], ["BuiltinToolCallPart", "BuiltinToolReturnPart", "TextPart"]]
      )
      const [call, ret] = (history[1] as Messages.ModelResponse).parts as [
        Messages.BuiltinToolCallPart,
        Messages.BuiltinToolReturnPart
      ]
      assert.deepStrictEqual(call.argsAsObject(), { query: "otters" })
      assert.strictEqual(call.providerName, "anthropic")
      assert.deepStrictEqual(ret.content, [{ url: "https://example.com/otters", title: "Otters" }])
      assert.strictEqual(ret.providerName, "anthropic")
    })
  )
})

describe("sub-agents (Agent.asTool)", () => {
  const sub = (parts: ReadonlyArray<Record<string, unknown>>) => ({
    type: "tool-output-available",
    toolCallId: "call_r",
    output: { id: "call_r", role: "assistant", parts, metadata: { agentName: "researcher" } },
    preliminary: true
  })

  it.effect("AI SDK: the sub-agent's message is the tool part's preliminary output", () =>
    Effect.gen(function* () {
      const { out, result } = yield* collect(F.parentAgent, F.parentModel, (e) =>
        UiStream.aiSdkChunks(e)
      )
      assert.deepStrictEqual(out, [
        { type: "start" },
        { type: "start-step" },
        { type: "tool-input-start", toolCallId: "call_r", toolName: "ask_researcher" },
        { type: "tool-input-delta", toolCallId: "call_r", inputTextDelta: '{"prompt":"Otters?"}' },
        {
          type: "tool-input-available",
          toolCallId: "call_r",
          toolName: "ask_researcher",
          input: { prompt: "Otters?" }
        },
        sub([{ type: "text", text: "Otters ", state: "streaming" }]),
        sub([{ type: "text", text: "Otters hold hands.", state: "streaming" }]),
        sub([{ type: "text", text: "Otters hold hands.", state: "done" }]),
        { type: "tool-output-available", toolCallId: "call_r", output: "Otters hold hands." },
        { type: "finish-step" },
        { type: "start-step" },
        { type: "text-start", id: "text-2-0" },
        { type: "text-delta", id: "text-2-0", delta: "They do." },
        { type: "text-end", id: "text-2-0" },
        { type: "finish-step" },
        { type: "finish" }
      ])
      const { seen, errors } = yield* readMessages(out)
      assert.deepStrictEqual(errors, [])
      const toolParts = seen.map((m) => m.parts.find((p) => p.type === "tool-ask_researcher"))
      // while the sub-agent runs, the client shows its message as a preliminary output
      const running = toolParts.find(
        (p) =>
          p !== undefined &&
          "preliminary" in p &&
          p.preliminary === true &&
          (p.output as { parts: Array<{ text: string }> }).parts[0]?.text === "Otters hold hands."
      )
      assert.isDefined(running)
      assert.strictEqual((running as { state: string }).state, "output-available")
      const final = seen.at(-1)!
      const part = final.parts.find((p) => p.type === "tool-ask_researcher") as Record<
        string,
        unknown
      >
      assert.strictEqual(part.state, "output-available")
      assert.strictEqual(part.output, "Otters hold hands.")
      assert.notStrictEqual(part.preliminary, true)
      // decoded back: the run's history (the tool's result, not the sub-agent's message)
      const history = yield* UiStream.fromUiMessages([
        { id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] },
        final
      ])
      const recorded = result.allMessages()
      assert.deepStrictEqual(
        history.map((m) => m.parts.map((p) => p._tag)),
        recorded.map((m) => m.parts.map((p) => p._tag))
      )
      const returned = (history[2] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
      assert.strictEqual(returned.content, "Otters hold hands.")
      // a conversation cut while the sub-agent ran: the preliminary output is no result
      const cut = yield* UiStream.fromUiMessages([
        { id: "u1", role: "user", parts: [{ type: "text", text: "hi" }] },
        seen.find((m) => m.parts.includes(running as never))!
      ])
      assert.deepStrictEqual(
        cut.map((m) => m.parts.map((p) => p._tag)),
        [["UserPromptPart"], ["ToolCallPart"]]
      )
    })
  )

  it.effect("AI SDK: subAgents: false sends none of the sub-agent's events", () =>
    Effect.gen(function* () {
      const { out } = yield* collect(F.parentAgent, F.parentModel, (e) =>
        UiStream.aiSdkChunks(e, { subAgents: false })
      )
      assert.isFalse(out.some((c) => c.preliminary === true))
      assert.strictEqual(out.filter((c) => c.type === "tool-output-available").length, 1)
    })
  )

  it.effect(
    "AG-UI: SUBAGENT_STARTED, the sub-agent's events with its subagentRunId, SUBAGENT_FINISHED",
    () =>
      Effect.gen(function* () {
        const { out } = yield* agUiChecked(F.parentAgent, F.parentModel)
        const subagentRunId = "r1-agent-call_r"
        const text = "r1-agent-call_r-text-1-0"
        assert.deepStrictEqual(out, [
          { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
          {
            type: "TOOL_CALL_START",
            toolCallId: "call_r",
            toolCallName: "ask_researcher",
            parentMessageId: "r1-message-1",
            metadata: F.at("r1-1", 0)
          },
          { type: "TOOL_CALL_ARGS", toolCallId: "call_r", delta: '{"prompt":"Otters?"}' },
          { type: "TOOL_CALL_END", toolCallId: "call_r" },
          {
            type: "SUBAGENT_STARTED",
            subagentRunId,
            name: "researcher",
            parentToolCallId: "call_r"
          },
          {
            type: "TEXT_MESSAGE_START",
            messageId: text,
            role: "assistant",
            subagentRunId,
            metadata: F.at(`${subagentRunId}-1`, 0)
          },
          { type: "TEXT_MESSAGE_CONTENT", messageId: text, subagentRunId, delta: "Otters " },
          { type: "TEXT_MESSAGE_CONTENT", messageId: text, subagentRunId, delta: "hold hands." },
          { type: "TEXT_MESSAGE_END", messageId: text, subagentRunId },
          { type: "SUBAGENT_FINISHED", subagentRunId, result: "Otters hold hands." },
          {
            type: "TOOL_CALL_RESULT",
            messageId: "r1-result-call_r",
            toolCallId: "call_r",
            content: "Otters hold hands.",
            role: "tool"
          },
          {
            type: "TEXT_MESSAGE_START",
            messageId: "r1-text-2-0",
            role: "assistant",
            metadata: F.at("r1-2", 0)
          },
          { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-2-0", delta: "They do." },
          { type: "TEXT_MESSAGE_END", messageId: "r1-text-2-0" },
          {
            type: "RUN_FINISHED",
            threadId: "t1",
            runId: "r1",
            result: "They do.",
            // the parent's two responses and the sub-agent's one (same FunctionModel name)
            usage: [F.functionUsage(157, 17)]
          }
        ])
        // the SSE bytes carry the same events (the delta path writes subagentRunId too)
        const sse = yield* Stream.runCollect(
          UiStream.agUi(F.parentAgent.runStream("hi"), { threadId: "t1", runId: "r1" })
        ).pipe(Effect.provide(F.parentModel))
        const decoded = new TextDecoder()
          .decode(Buffer.concat(Chunk.toArray(sse)))
          .split("\n\n")
          .filter((l) => l.startsWith("data: "))
          .map((l) => JSON.parse(l.slice("data: ".length)))
        assert.deepStrictEqual(decoded, out)
      })
  )
})

describe("sub-agents with tools and sub-agents of their own", () => {
  it.effect("AI SDK: tool parts and the nested sub-agent inside the preliminary message", () =>
    Effect.gen(function* () {
      const { out } = yield* collect(F.leadParent, F.leadParentModel, (e) =>
        UiStream.aiSdkChunks(e)
      )
      const { seen, errors } = yield* readMessages(out)
      assert.deepStrictEqual(errors, [])
      const lastPreliminary = out.filter((c) => c.preliminary === true).at(-1)!
      assert.strictEqual(lastPreliminary.toolCallId, "call_l")
      const message = lastPreliminary.output as { parts: Array<Record<string, unknown>> }
      assert.deepStrictEqual(message.parts, [
        {
          type: "tool-weather",
          toolCallId: "call_w",
          state: "output-available",
          input: { city: "Oslo" },
          output: { city: "Oslo", sky: "sunny" }
        },
        {
          type: "tool-ask_researcher",
          toolCallId: "call_n",
          state: "output-available",
          input: { prompt: "?" },
          output: "Otters hold hands."
        },
        { type: "text", text: "Done.", state: "done" }
      ])
      // while the nested one ran, its message was the nested tool part's preliminary output
      // (the last one before its result: the whole message)
      const nested = out
        .filter((c) => c.preliminary === true)
        .map((c) => (c.output as { parts: Array<Record<string, unknown>> }).parts[1])
        .filter((p) => p?.preliminary === true)
        .at(-1)
      assert.deepStrictEqual(nested?.output, {
        id: "call_n",
        role: "assistant",
        parts: [{ type: "text", text: "Otters hold hands.", state: "done" }],
        metadata: { agentName: "researcher" }
      })
      const final = seen.at(-1)!.parts.find((p) => p.type === "tool-ask_lead") as Record<
        string,
        unknown
      >
      assert.strictEqual(final.output, "Done.")
      assert.strictEqual(final.state, "output-available")
    })
  )

  it.effect(
    "AG-UI: the nested sub-agent names its parent; tool events carry the sub-agent id",
    () =>
      Effect.gen(function* () {
        const { out } = yield* agUiChecked(F.leadParent, F.leadParentModel)
        const lead = "r1-agent-call_l"
        const nested = "r1-agent-call_l-agent-call_n"
        const summary = out.map((e) =>
          [e.type, e.subagentRunId, e.toolCallId, e.parentSubagentRunId, e.parentToolCallId]
            .filter((x) => x !== undefined)
            .join(" ")
        )
        assert.deepStrictEqual(summary, [
          "RUN_STARTED",
          "TOOL_CALL_START call_l",
          "TOOL_CALL_ARGS call_l",
          "TOOL_CALL_END call_l",
          `SUBAGENT_STARTED ${lead} call_l`,
          `TOOL_CALL_START ${lead} call_w`,
          `TOOL_CALL_ARGS ${lead} call_w`,
          `TOOL_CALL_START ${lead} call_n`,
          `TOOL_CALL_ARGS ${lead} call_n`,
          `TOOL_CALL_END ${lead} call_w`,
          `TOOL_CALL_END ${lead} call_n`,
          `TOOL_CALL_RESULT ${lead} call_w`,
          `SUBAGENT_STARTED ${nested} ${lead} call_n`,
          `TEXT_MESSAGE_START ${nested}`,
          `TEXT_MESSAGE_CONTENT ${nested}`,
          `TEXT_MESSAGE_CONTENT ${nested}`,
          `TEXT_MESSAGE_END ${nested}`,
          `SUBAGENT_FINISHED ${nested}`,
          `TOOL_CALL_RESULT ${lead} call_n`,
          `TEXT_MESSAGE_START ${lead}`,
          `TEXT_MESSAGE_CONTENT ${lead}`,
          `TEXT_MESSAGE_END ${lead}`,
          `SUBAGENT_FINISHED ${lead}`,
          "TOOL_CALL_RESULT call_l",
          "TEXT_MESSAGE_START",
          "TEXT_MESSAGE_CONTENT",
          "TEXT_MESSAGE_END",
          "RUN_FINISHED"
        ])
      })
  )
})

describe("a sub-agent that fails", () => {
  it.effect(
    "AG-UI: SUBAGENT_ERROR (open messages closed first); AI SDK: the part ends in output-error",
    () =>
      Effect.gen(function* () {
        const { out } = yield* agUiChecked(F.strictParent, F.strictParentModel)
        const id = "r1-agent-call_s"
        const summary = out.map((e) =>
          [e.type, e.subagentRunId].filter((x) => x !== undefined).join(" ")
        )
        const start = summary.indexOf(`SUBAGENT_STARTED ${id}`)
        const error = out.find((e) => e.type === "SUBAGENT_ERROR")
        assert.isAbove(start, 0)
        assert.strictEqual(error?.subagentRunId, id)
        assert.include(String(error?.message), "strict")
        // every message the sub-agent opened is closed before its error; no SUBAGENT_FINISHED
        const between = summary.slice(start, summary.indexOf(`SUBAGENT_ERROR ${id}`))
        assert.strictEqual(between.filter((e) => e.startsWith("TEXT_MESSAGE_START")).length, 1)
        assert.strictEqual(
          between.filter((e) => e.startsWith("TEXT_MESSAGE_START")).length,
          between.filter((e) => e.startsWith("TEXT_MESSAGE_END")).length
        )
        assert.notInclude(summary, `SUBAGENT_FINISHED ${id}`)
        assert.strictEqual(summary.at(-1), "RUN_FINISHED")

        const chunks = (yield* collect(F.strictParent, F.strictParentModel, (e) =>
          UiStream.aiSdkChunks(e)
        )).out
        assert.isTrue(chunks.some((c) => c.preliminary === true && c.toolCallId === "call_s"))
        const { seen, errors } = yield* readMessages(chunks)
        assert.deepStrictEqual(errors, [])
        const part = seen.at(-1)!.parts.find((p) => p.type === "tool-ask_strict") as Record<
          string,
          unknown
        >
        assert.strictEqual(part.state, "output-error")
        assert.include(String(part.errorText), "strict")
      })
  )
})
