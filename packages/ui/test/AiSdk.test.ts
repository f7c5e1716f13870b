/**
 * Golden sequences of the AI SDK UI message stream encoder: what `useChat` receives for text,
 * reasoning, parallel tool calls, tool retries and failed runs, and the SSE framing.
 */
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import { asSchema, uiMessageChunkSchema } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { Agent, FunctionModel, type Model } from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import * as Schema from "effect/Schema"
import * as F from "./fixtures.js"

const chunks = <A>(
  agent: Agent.Agent<A, never, Model.Model>,
  model: Layer.Layer<Model.Model>,
  options?: UiStream.AiSdkOptions<A>
) =>
  Stream.runCollect(UiStream.aiSdkChunks(agent.runStream("hi"), options)).pipe(
    Effect.map(Chunk.toArray),
    Effect.provide(model),
    Effect.tap(validate)
  )

/** Every chunk must pass `ai`'s own UI message chunk schema. */
const validate = (chunks: ReadonlyArray<UiStream.AiSdkChunk>) =>
  Effect.promise(async () => {
    const schema = asSchema(uiMessageChunkSchema)
    for (const c of chunks) {
      const r = await schema.validate!(c)
      assert.isTrue(r.success, `${JSON.stringify(c)} is not a UI message chunk`)
    }
  })

describe("UiStream.aiSdkChunks", () => {
  it.effect("text: start, one step with a text part, finish", () =>
    Effect.gen(function* () {
      const out = yield* chunks(F.textAgent, F.textModel, { messageId: "msg-1" })
      assert.deepStrictEqual(out, [
        { type: "start", messageId: "msg-1" },
        { type: "start-step" },
        { type: "text-start", id: "text-1-0" },
        { type: "text-delta", id: "text-1-0", delta: "Hello" },
        { type: "text-delta", id: "text-1-0", delta: " world" },
        { type: "text-end", id: "text-1-0" },
        { type: "finish-step" },
        { type: "finish" }
      ])
    })
  )

  it.effect("reasoning: reasoning parts with the signature in providerMetadata", () =>
    Effect.gen(function* () {
      const out = yield* chunks(F.textAgent, F.reasoningModel)
      assert.deepStrictEqual(out, [
        { type: "start" },
        { type: "start-step" },
        { type: "reasoning-start", id: "reasoning-1-0" },
        { type: "reasoning-delta", id: "reasoning-1-0", delta: "Let me " },
        { type: "reasoning-delta", id: "reasoning-1-0", delta: "think." },
        { type: "text-start", id: "text-1-1" },
        { type: "text-delta", id: "text-1-1", delta: "It is 4." },
        {
          type: "reasoning-end",
          id: "reasoning-1-0",
          providerMetadata: { agentfx: { signature: "sig-1", providerName: "function" } }
        },
        { type: "text-end", id: "text-1-1" },
        { type: "finish-step" },
        { type: "finish" }
      ])
      const hidden = yield* chunks(F.textAgent, F.reasoningModel, { sendReasoning: false })
      assert.deepStrictEqual(
        hidden.map((c) => c.type),
        ["start", "start-step", "text-start", "text-delta", "text-end", "finish-step", "finish"]
      )
    })
  )

  it.effect("parallel tools: streamed inputs, both outputs in the step, then the answer", () =>
    Effect.gen(function* () {
      const out = yield* chunks(F.toolAgent, F.parallelToolsModel)
      assert.deepStrictEqual(out, [
        { type: "start" },
        { type: "start-step" },
        { type: "tool-input-start", toolCallId: "call_w", toolName: "weather" },
        { type: "tool-input-delta", toolCallId: "call_w", inputTextDelta: '{"city":' },
        { type: "tool-input-delta", toolCallId: "call_w", inputTextDelta: '"Paris"}' },
        { type: "tool-input-start", toolCallId: "call_c", toolName: "clock" },
        { type: "tool-input-delta", toolCallId: "call_c", inputTextDelta: '{"city":"Paris"}' },
        {
          type: "tool-input-available",
          toolCallId: "call_w",
          toolName: "weather",
          input: { city: "Paris" }
        },
        {
          type: "tool-input-available",
          toolCallId: "call_c",
          toolName: "clock",
          input: { city: "Paris" }
        },
        {
          type: "tool-output-available",
          toolCallId: "call_w",
          output: { city: "Paris", sky: "sunny" }
        },
        { type: "tool-output-available", toolCallId: "call_c", output: "12:00 in Paris" },
        { type: "finish-step" },
        { type: "start-step" },
        { type: "text-start", id: "text-2-0" },
        { type: "text-delta", id: "text-2-0", delta: "Sunny, " },
        { type: "text-delta", id: "text-2-0", delta: "noon." },
        { type: "text-end", id: "text-2-0" },
        { type: "finish-step" },
        { type: "finish" }
      ])
    })
  )

  it.effect("tool errors: a retry prompt is a tool-output-error, the retried call succeeds", () =>
    Effect.gen(function* () {
      const out = yield* chunks(F.retryAgent, F.retryModel)
      assert.deepStrictEqual(out, [
        { type: "start" },
        { type: "start-step" },
        { type: "tool-input-start", toolCallId: "call_1", toolName: "flaky" },
        { type: "tool-input-delta", toolCallId: "call_1", inputTextDelta: '{"n":0}' },
        { type: "tool-input-available", toolCallId: "call_1", toolName: "flaky", input: { n: 0 } },
        { type: "tool-output-error", toolCallId: "call_1", errorText: "n must be at least 1" },
        { type: "finish-step" },
        { type: "start-step" },
        { type: "tool-input-start", toolCallId: "call_2", toolName: "flaky" },
        { type: "tool-input-delta", toolCallId: "call_2", inputTextDelta: '{"n":1}' },
        { type: "tool-input-available", toolCallId: "call_2", toolName: "flaky", input: { n: 1 } },
        { type: "tool-output-available", toolCallId: "call_2", output: 2 },
        { type: "finish-step" },
        { type: "start-step" },
        { type: "text-start", id: "text-3-0" },
        { type: "text-delta", id: "text-3-0", delta: "Done: 2." },
        { type: "text-end", id: "text-3-0" },
        { type: "finish-step" },
        { type: "finish" }
      ])
    })
  )

  it.effect(
    "a failed run: open parts closed, one error chunk, the stream ends; onFinish gets the error",
    () =>
      Effect.gen(function* () {
        let outcome: UiStream.Outcome<string> | undefined
        const out = yield* chunks(F.textAgent, F.failingModel, {
          onFinish: (o) => Effect.sync(() => (outcome = o))
        })
        assert.deepStrictEqual(out, [
          { type: "start" },
          { type: "start-step" },
          { type: "text-start", id: "text-1-0" },
          { type: "text-delta", id: "text-1-0", delta: "Partial " },
          { type: "text-end", id: "text-1-0" },
          {
            type: "error",
            errorText: "ModelHTTPError: HTTP 500 (model: fn), body: upstream broke"
          }
        ])
        assert.strictEqual(outcome?._tag, "Failure")
        if (outcome?._tag !== "Failure") return
        assert.strictEqual((outcome.error as { _tag: string })._tag, "ModelHTTPError")
        assert.strictEqual(outcome.errorText, out.at(-1)!.errorText)
      })
  )

  it.effect("a run stopped by a usage limit keeps its messages (onFinish) and says why", () =>
    Effect.gen(function* () {
      let outcome: UiStream.Outcome<string> | undefined
      const out = yield* chunks(F.limitedAgent, F.parallelToolsModel, {
        onFinish: (o) => Effect.sync(() => (outcome = o))
      })
      assert.deepStrictEqual(out.at(-1), {
        type: "error",
        errorText: "UsageLimitExceeded: The next request would exceed the request_limit of 1"
      })
      // both tool outputs reached the client before the error
      assert.deepStrictEqual(
        out.filter((c) => c.type === "tool-output-available").map((c) => c.toolCallId),
        ["call_w", "call_c"]
      )
      assert.strictEqual(outcome?._tag, "Failure")
      const messages = outcome!.messages
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
      const returns = messages[2]!.parts.map((p) => p._tag)
      assert.deepStrictEqual(returns, ["ToolReturnPart", "ToolReturnPart"])
    })
  )

  it.effect("a defect is reported without its details; errorText can be replaced", () =>
    Effect.gen(function* () {
      const dies = Stream.concat(
        F.textAgent.runStream("hi"),
        Stream.die(new Error("secret internal detail"))
      )
      const out = yield* Stream.runCollect(UiStream.aiSdkChunks(dies)).pipe(
        Effect.provide(F.textModel)
      )
      assert.deepStrictEqual(Chunk.toArray(out).at(-1), {
        type: "error",
        errorText: "An error occurred."
      })
      const custom = yield* Stream.runCollect(
        UiStream.aiSdkChunks(dies, { errorText: () => "try again later" })
      ).pipe(Effect.provide(F.textModel))
      assert.deepStrictEqual(Chunk.toArray(custom).at(-1), {
        type: "error",
        errorText: "try again later"
      })
    })
  )

  it.effect("message metadata on finish, data parts after an event, onFinish with the result", () =>
    Effect.gen(function* () {
      let outcome: UiStream.Outcome<string> | undefined
      const out = yield* chunks(F.toolAgent, F.parallelToolsModel, {
        messageMetadata: (r) => ({ requests: r.usage.requests, runId: "fixed" }),
        dataParts: (e) =>
          e._tag === "FunctionToolResultEvent" && e.result._tag === "ToolReturnPart"
            ? [UiStream.dataPart("tool-log", { tool: e.result.toolName }, { transient: true })]
            : undefined,
        onFinish: (o) => Effect.sync(() => (outcome = o))
      })
      assert.deepStrictEqual(out.at(-1), {
        type: "finish",
        messageMetadata: { requests: 2, runId: "fixed" }
      })
      assert.deepStrictEqual(
        out.filter((c) => c.type === "data-tool-log"),
        [
          { type: "data-tool-log", data: { tool: "weather" }, transient: true },
          { type: "data-tool-log", data: { tool: "clock" }, transient: true }
        ]
      )
      assert.strictEqual(outcome?._tag, "Success")
      if (outcome?._tag !== "Success") return
      assert.strictEqual(outcome.result.output, "Sunny, noon.")
      assert.strictEqual(outcome.messages.length, 4)
    })
  )

  it.effect("SSE: one data line per chunk, [DONE] last, one buffer per network chunk", () =>
    Effect.gen(function* () {
      const buffers = yield* Stream.runCollect(UiStream.aiSdk(F.textAgent.runStream("hi"))).pipe(
        Effect.provide(F.textModel)
      )
      const text = Chunk.toArray(buffers)
        .map((b) => new TextDecoder().decode(b))
        .join("")
      const events = text.split("\n\n").filter((e) => e !== "")
      assert.strictEqual(events.at(-1), "data: [DONE]")
      const parsed = events.slice(0, -1).map((e) => {
        assert.isTrue(e.startsWith("data: "))
        return JSON.parse(e.slice(6))
      })
      assert.deepStrictEqual(
        parsed.map((c) => c.type),
        [
          "start",
          "start-step",
          "text-start",
          "text-delta",
          "text-delta",
          "text-end",
          "finish-step",
          "finish"
        ]
      )
      // fewer buffers than chunks: events of one network chunk are written together
      assert.isBelow(buffers.length, parsed.length + 1)
    })
  )
})

describe("UiStream.aiSdkChunks edge cases", () => {
  it.effect("failed tools carry their outcome; invalid JSON arguments are a tool-input-error", () =>
    Effect.gen(function* () {
      const out = yield* chunks(F.failuresAgent, F.failuresModel)
      assert.deepStrictEqual(
        out.filter((c) => c.type === "tool-output-error"),
        [
          {
            type: "tool-output-error",
            toolCallId: "call_b",
            errorText: "the service is down",
            toolMetadata: { outcome: "failed" }
          },
          { type: "tool-output-error", toolCallId: "call_f", errorText: "n must be at least 1" }
        ]
      )
      const bad = yield* chunks(F.toolAgent, F.badArgsModel)
      const inputError = bad.find((c) => c.type === "tool-input-error")
      assert.deepStrictEqual(
        { ...inputError, errorText: undefined },
        {
          type: "tool-input-error",
          toolCallId: "call_x",
          toolName: "weather",
          input: '{"city": Par',
          errorText: undefined
        }
      )
      assert.include(String(inputError?.errorText), "Invalid JSON arguments")
      // the retry prompt the agent sends back answers the call
      const answered = bad.find((c) => c.type === "tool-output-error" && c.toolCallId === "call_x")
      assert.isDefined(answered)
    })
  )
})

describe("UiStream.aiSdkChunks with structured output", () => {
  it.effect(
    "an output tool call is answered with its recorded return, leaving no tool part waiting",
    () =>
      Effect.gen(function* () {
        const agent = Agent.make({
          output: ToolOutput.make(Schema.Struct({ city: Schema.String }))
        })
        const model = FunctionModel.layer(undefined, {
          stream: () =>
            Stream.make({
              0: { name: "final_result", toolCallId: "out_1", jsonArgs: '{"city":"Paris"}' }
            })
        })
        const out = yield* chunks(agent, model)
        assert.deepStrictEqual(out.slice(-4), [
          {
            type: "tool-input-available",
            toolCallId: "out_1",
            toolName: "final_result",
            input: { city: "Paris" }
          },
          {
            type: "tool-output-available",
            toolCallId: "out_1",
            output: "Final result processed."
          },
          { type: "finish-step" },
          { type: "finish" }
        ])
      })
  )
})
