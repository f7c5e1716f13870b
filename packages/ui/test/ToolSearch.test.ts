/**
 * Tool search in both protocols: the tool references of a search's return and the
 * `ToolAvailabilityDeltaEvent` after it. AI SDK: references in the tool part's output, a
 * `data-agentfx-tool-availability` part, both kept by `ai`'s `readUIMessageStream`, and the
 * history decoded back with its `ToolReference`s (the found tools stay loaded). AG-UI: a
 * `CUSTOM` event and the return's JSON in `TOOL_CALL_RESULT.metadata`, accepted by
 * `@ag-ui/core`'s schemas and decoded back from the tool message.
 */
import { EventSchemas } from "@ag-ui/core/schemas"
import { Agent, FunctionModel, Messages, Tool, Toolset } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { readMessages } from "./client.js"

const stock = Tool.make("stock_price", {
  description: "Look up a stock price by ticker symbol.",
  parameters: Schema.Struct({ symbol: Schema.String }),
  deferLoading: true,
  handler: ({ symbol }) => Effect.succeed(`${symbol}: $150`)
})
const agent = Agent.make({
  toolsets: [Toolset.fromTools([stock]).pipe(Toolset.withToolSearch())]
})
const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length
const model = FunctionModel.layer(undefined, {
  stream: (messages) =>
    responses(messages) === 0
      ? Stream.make({
          0: { name: "search_tools", jsonArgs: '{"queries":["stock price"]}', toolCallId: "call_s" }
        })
      : responses(messages) === 1
        ? Stream.make({
            0: { name: "stock_price", jsonArgs: '{"symbol":"ACME"}', toolCallId: "call_p" }
          })
        : Stream.make("ACME is at $150.")
})

const run = <O>(encode: (s: ReturnType<typeof agent.runStream>) => Stream.Stream<O, never, any>) =>
  Effect.gen(function* () {
    let result: Agent.AgentRunResult<string> | undefined
    const events = agent.runStream("ACME?").pipe(
      Stream.tap((e) =>
        Effect.sync(() => {
          if (e._tag === "AgentRunResultEvent") result = e.result
        })
      )
    )
    const out = Chunk.toArray(yield* Stream.runCollect(encode(events)))
    return { out, result: result! }
  }).pipe(Effect.provide(model))

const references = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.flatMap((p) => (p._tag === "ToolReturnPart" ? [...p.toolReferences] : []))
      : []
  )

describe("tool search parts", () => {
  it.effect("AI SDK: references in the output, a data part, both read back by ai", () =>
    Effect.gen(function* () {
      const { out, result } = yield* run((e) => UiStream.aiSdkChunks(e))
      const searchIdx = out.findIndex(
        (c) => c.type === "tool-output-available" && c.toolCallId === "call_s"
      )
      assert.deepStrictEqual(out.slice(searchIdx, searchIdx + 2), [
        {
          type: "tool-output-available",
          toolCallId: "call_s",
          output: [{ type: "tool-reference", toolName: "stock_price" }]
        },
        {
          type: "data-agentfx-tool-availability",
          data: { added: ["stock_price"], toolCallId: "call_s" }
        }
      ])
      assert.strictEqual(out.filter((c) => c.type === "data-agentfx-tool-availability").length, 1)
      const { seen, errors } = yield* readMessages(out)
      assert.deepStrictEqual(errors, [])
      const message = seen.at(-1)!
      const parts = message.parts as Array<Record<string, unknown>>
      const search = parts.find((p) => p.type === "tool-search_tools")!
      assert.strictEqual(search.state, "output-available")
      assert.deepStrictEqual(search.output, [{ type: "tool-reference", toolName: "stock_price" }])
      assert.deepStrictEqual(
        parts.find((p) => p.type === "data-agentfx-tool-availability"),
        {
          type: "data-agentfx-tool-availability",
          data: { added: ["stock_price"], toolCallId: "call_s" }
        }
      )
      // back to history: the search's return holds the reference again, so the next run
      // keeps stock_price loaded; the data part adds nothing (it repeats the references)
      const history = yield* UiStream.fromUiMessages([
        { id: "u1", role: "user", parts: [{ type: "text", text: "ACME?" }] },
        message
      ])
      assert.deepStrictEqual(references(history), [
        new Messages.ToolReference({ toolName: "stock_price" })
      ])
      assert.deepStrictEqual(references(history), references(result.allMessages()))
      assert.deepStrictEqual([...Messages.loadedToolNames(history)], ["stock_price"])
      assert.deepStrictEqual(
        history.map((m) => m._tag),
        result.allMessages().map((m) => m._tag)
      )
    })
  )

  it.effect("AG-UI: a CUSTOM event, the return's JSON in metadata, decoded back", () =>
    Effect.gen(function* () {
      const { out } = yield* run((e) => UiStream.agUiEvents(e, { threadId: "t1", runId: "r1" }))
      for (const e of out) {
        const parsed = EventSchemas.safeParse(e)
        assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
      }
      const idx = out.findIndex((e) => e.type === "TOOL_CALL_RESULT" && e.toolCallId === "call_s")
      assert.deepStrictEqual(out.slice(idx, idx + 2), [
        {
          type: "TOOL_CALL_RESULT",
          messageId: "r1-result-call_s",
          toolCallId: "call_s",
          content: '["Tool loaded: stock_price"]',
          role: "tool",
          metadata: { agentfx: { content: [{ type: "tool-reference", toolName: "stock_price" }] } }
        },
        {
          type: "CUSTOM",
          name: "agentfx.tool_availability",
          value: { added: ["stock_price"], toolCallId: "call_s" }
        }
      ])
      // the other result has no references: no metadata
      const other = out.find((e) => e.type === "TOOL_CALL_RESULT" && e.toolCallId === "call_p")
      assert.deepStrictEqual(other, {
        type: "TOOL_CALL_RESULT",
        messageId: "r1-result-call_p",
        toolCallId: "call_p",
        content: "ACME: $150",
        role: "tool"
      })
      const history = yield* UiStream.fromAgUiMessages([
        { id: "u1", role: "user", content: "ACME?" },
        {
          id: "a1",
          role: "assistant",
          toolCalls: [
            {
              id: "call_s",
              type: "function",
              function: { name: "search_tools", arguments: '{"queries":["stock price"]}' }
            }
          ]
        },
        {
          id: "r1-result-call_s",
          role: "tool",
          toolCallId: "call_s",
          content: '["Tool loaded: stock_price"]',
          metadata: idx >= 0 ? (out[idx]!.metadata as Record<string, unknown>) : {}
        }
      ])
      assert.deepStrictEqual(references(history), [
        new Messages.ToolReference({ toolName: "stock_price" })
      ])
      // without the metadata the text is all there is
      const plain = yield* UiStream.fromAgUiMessages([
        {
          id: "a1",
          role: "assistant",
          toolCalls: [{ id: "c", type: "function", function: { name: "f", arguments: "{}" } }]
        },
        { id: "t", role: "tool", toolCallId: "c", content: "x" }
      ])
      assert.deepStrictEqual(references(plain), [])
    })
  )
})
