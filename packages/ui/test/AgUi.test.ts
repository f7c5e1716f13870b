/**
 * AG-UI: golden event sequences, every event parsed by `@ag-ui/core`'s own schemas, state
 * events, failed runs as RUN_ERROR, the one-line handler over loopback, and AG-UI messages
 * decoded into agentfx history.
 */
import { EventSchemas, RunAgentInputSchema } from "@ag-ui/core/schemas"
import { UiStream } from "@agentfx/ui"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Agent, Messages, Model } from "@agentfx/core"
import * as F from "./fixtures.js"
import { serve } from "./server.js"

const events = <A>(
  agent: Agent.Agent<A, never, Model.Model>,
  model: Layer.Layer<Model.Model>,
  options: UiStream.AgUiOptions<A> = {}
) =>
  Stream.runCollect(
    UiStream.agUiEvents(agent.runStream("hi"), { threadId: "t1", runId: "r1", ...options })
  ).pipe(
    Effect.map(Chunk.toArray),
    Effect.provide(model),
    Effect.tap((list) =>
      Effect.sync(() => {
        for (const e of list) {
          const parsed = EventSchemas.safeParse(e)
          assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
        }
      })
    )
  )

describe("UiStream.agUiEvents", () => {
  it.effect("text", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* events(F.textAgent, F.textModel), [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-1-0",
          role: "assistant",
          // where the part is in its response, for the decoder to put it back there
          metadata: F.at("r1-1", 0)
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-0", delta: "Hello" },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-0", delta: " world" },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-1-0" },
        {
          type: "RUN_FINISHED",
          threadId: "t1",
          runId: "r1",
          result: "Hello world",
          usage: [F.functionUsage(51, 2)]
        }
      ])
    })
  )

  it.effect("reasoning, with the signature as an encrypted value", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* events(F.textAgent, F.reasoningModel), [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        { type: "REASONING_START", messageId: "r1-reasoning-1-0" },
        { type: "REASONING_MESSAGE_START", messageId: "r1-reasoning-1-0", role: "reasoning" },
        { type: "REASONING_MESSAGE_CONTENT", messageId: "r1-reasoning-1-0", delta: "Let me " },
        { type: "REASONING_MESSAGE_CONTENT", messageId: "r1-reasoning-1-0", delta: "think." },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-1-1",
          role: "assistant",
          metadata: F.at("r1-1", 1)
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-1", delta: "It is 4." },
        {
          type: "REASONING_MESSAGE_END",
          messageId: "r1-reasoning-1-0",
          // its place and the provider that signed it, for the client to keep on the message
          metadata: {
            agentfx: { position: { response: "r1-1", index: 0 }, providerName: "function" }
          }
        },
        {
          type: "REASONING_ENCRYPTED_VALUE",
          subtype: "message",
          entityId: "r1-reasoning-1-0",
          encryptedValue: "sig-1"
        },
        { type: "REASONING_END", messageId: "r1-reasoning-1-0" },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-1-1" },
        {
          type: "RUN_FINISHED",
          threadId: "t1",
          runId: "r1",
          result: "It is 4.",
          usage: [F.functionUsage(51, 8)]
        }
      ])
    })
  )

  it.effect("parallel tools and state events", () =>
    Effect.gen(function* () {
      const out = yield* events(F.toolAgent, F.parallelToolsModel, {
        initialState: { calls: 0 },
        stateEvents: (e) =>
          e._tag === "FunctionToolResultEvent"
            ? [UiStream.stateDelta([{ op: "add", path: "/last", value: e.result.toolName }])]
            : e._tag === "AgentRunResultEvent"
              ? [UiStream.stateSnapshot({ calls: 2 })]
              : undefined
      })
      assert.deepStrictEqual(out, [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        { type: "STATE_SNAPSHOT", snapshot: { calls: 0 } },
        {
          type: "TOOL_CALL_START",
          toolCallId: "call_w",
          toolCallName: "weather",
          parentMessageId: "r1-message-1",
          metadata: F.at("r1-1", 0)
        },
        { type: "TOOL_CALL_ARGS", toolCallId: "call_w", delta: '{"city":' },
        { type: "TOOL_CALL_ARGS", toolCallId: "call_w", delta: '"Paris"}' },
        {
          type: "TOOL_CALL_START",
          toolCallId: "call_c",
          toolCallName: "clock",
          parentMessageId: "r1-message-1",
          metadata: F.at("r1-1", 1)
        },
        { type: "TOOL_CALL_ARGS", toolCallId: "call_c", delta: '{"city":"Paris"}' },
        { type: "TOOL_CALL_END", toolCallId: "call_w" },
        { type: "TOOL_CALL_END", toolCallId: "call_c" },
        {
          type: "TOOL_CALL_RESULT",
          messageId: "r1-result-call_w",
          toolCallId: "call_w",
          content: '{"city":"Paris","sky":"sunny"}',
          role: "tool"
        },
        { type: "STATE_DELTA", delta: [{ op: "add", path: "/last", value: "weather" }] },
        {
          type: "TOOL_CALL_RESULT",
          messageId: "r1-result-call_c",
          toolCallId: "call_c",
          content: "12:00 in Paris",
          role: "tool"
        },
        { type: "STATE_DELTA", delta: [{ op: "add", path: "/last", value: "clock" }] },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-2-0",
          role: "assistant",
          metadata: F.at("r1-2", 0)
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-2-0", delta: "Sunny, " },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-2-0", delta: "noon." },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-2-0" },
        { type: "STATE_SNAPSHOT", snapshot: { calls: 2 } },
        {
          type: "RUN_FINISHED",
          threadId: "t1",
          runId: "r1",
          result: "Sunny, noon.",
          // both requests
          usage: [F.functionUsage(112, 23)]
        }
      ])
    })
  )

  it.effect("a retry prompt is the tool's result text", () =>
    Effect.gen(function* () {
      const out = yield* events(F.retryAgent, F.retryModel)
      const results = out.filter((e) => e.type === "TOOL_CALL_RESULT")
      assert.deepStrictEqual(
        results.map((e) => [e.toolCallId, e.content]),
        [
          ["call_1", "n must be at least 1\n\nFix the errors and try again."],
          ["call_2", "2"]
        ]
      )
    })
  )

  it.effect("a failed run: open messages closed, RUN_ERROR with the error's tag", () =>
    Effect.gen(function* () {
      let outcome: UiStream.Outcome<string> | undefined
      const out = yield* events(F.textAgent, F.failingModel, {
        onFinish: (o) => Effect.sync(() => (outcome = o))
      })
      assert.deepStrictEqual(out, [
        { type: "RUN_STARTED", threadId: "t1", runId: "r1" },
        {
          type: "TEXT_MESSAGE_START",
          messageId: "r1-text-1-0",
          role: "assistant",
          metadata: F.at("r1-1", 0)
        },
        { type: "TEXT_MESSAGE_CONTENT", messageId: "r1-text-1-0", delta: "Partial " },
        { type: "TEXT_MESSAGE_END", messageId: "r1-text-1-0" },
        {
          type: "RUN_ERROR",
          message: "ModelHTTPError: HTTP 500 (model: fn), body: upstream broke",
          code: "ModelHTTPError",
          // the incomplete response the run kept (its tokens estimated by FunctionModel)
          usage: [F.functionUsage(51, 1)]
        }
      ])
      assert.strictEqual(outcome?._tag, "Failure")
    })
  )
})

describe("UiStream.agUiHandler", () => {
  it.scopedLive("serves RunAgentInput over SSE with the input's ids and history", () =>
    Effect.gen(function* () {
      const model = yield* Layer.build(F.parallelToolsModel)
      const seen: Array<ReadonlyArray<Messages.ModelMessage>> = []
      const router = HttpRouter.empty.pipe(
        HttpRouter.post(
          "/agui",
          UiStream.agUiHandler((input) => {
            seen.push(input.messages)
            return F.toolAgent.runStream(undefined, { messageHistory: input.messages })
          })
        )
      )
      const url = yield* serve(router.pipe(Effect.provide(model)))
      const input = {
        threadId: "thread-7",
        runId: "run-7",
        state: {},
        messages: [
          { id: "s", role: "system", content: "Be brief." },
          { id: "u1", role: "user", content: "Weather?" },
          {
            id: "a1",
            role: "assistant",
            content: "Checking.",
            toolCalls: [
              {
                id: "c0",
                type: "function",
                function: { name: "weather", arguments: '{"city":"Rome"}' }
              }
            ]
          },
          { id: "t1", role: "tool", toolCallId: "c0", content: "rainy" },
          { id: "u2", role: "user", content: [{ type: "text", text: "And Paris?" }] }
        ],
        tools: [],
        context: [],
        forwardedProps: {}
      }
      assert.isTrue(RunAgentInputSchema.safeParse(input).success)
      const response = yield* Effect.promise(() =>
        fetch(`${url}/agui`, { method: "POST", body: JSON.stringify(input) }).then(async (r) => ({
          type: r.headers.get("content-type"),
          body: await r.text()
        }))
      )
      assert.strictEqual(response.type, "text/event-stream")
      const parsed = response.body
        .split("\n\n")
        .filter((e) => e !== "")
        .map((e) => EventSchemas.parse(JSON.parse(e.replace(/^data: /, ""))))
      assert.deepStrictEqual(parsed[0], {
        type: "RUN_STARTED",
        threadId: "thread-7",
        runId: "run-7"
      } as never)
      assert.deepStrictEqual(parsed.at(-1), {
        type: "RUN_FINISHED",
        threadId: "thread-7",
        runId: "run-7",
        result: "Sunny, noon.",
        // the run's own request only, not the history's response
        usage: [F.functionUsage(54, 10)]
      } as never)
      // the history the agent got
      const history = seen[0]!
      // The client's system message is not the agent's: the handler sanitizes the history.
      assert.deepStrictEqual(
        history.map((m) => m.parts.map((p) => p._tag)),
        [["UserPromptPart"], ["TextPart", "ToolCallPart"], ["ToolReturnPart", "UserPromptPart"]]
      )
      const trusted = yield* UiStream.fromAgUiMessages(input.messages, { history: "trusted" })
      assert.deepStrictEqual(
        trusted[0]!.parts.map((p) => p._tag),
        ["SystemPromptPart", "UserPromptPart"]
      )
      const ret = history[2]!.parts[0] as Messages.ToolReturnPart
      assert.strictEqual(ret.toolName, "weather")
      assert.strictEqual(ret.content, "rainy")
      assert.strictEqual((history[2]!.parts[1] as Messages.UserPromptPart).content, "And Paris?")

      const bad = yield* Effect.promise(() =>
        fetch(`${url}/agui`, { method: "POST", body: JSON.stringify({ runId: 1 }) }).then(
          async (r) => ({ status: r.status, text: await r.text() })
        )
      )
      assert.strictEqual(bad.status, 400)
      assert.include(bad.text, "threadId and runId must be strings")
    })
  )
})
