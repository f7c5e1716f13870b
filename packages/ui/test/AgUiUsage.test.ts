/**
 * AG-UI usage: `RUN_FINISHED.usage` / `RUN_ERROR.usage` are `TokenUsage` entries, one per
 * provider and model, of the run's own responses and its sub-agents' (not the history's), in
 * AG-UI's accounting; counts a provider did not report, or that AG-UI cannot carry, are left out.
 */
import { EventSchemas } from "@ag-ui/core/schemas"
import { Agent, AgentError, Messages, Usage } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Model } from "@agentfx/core"
import * as F from "./fixtures.js"

const hasToolReturn = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.at(-1)?.parts.some((p) => p._tag === "ToolReturnPart") === true

const collect = <A, E>(
  events: Stream.Stream<Agent.AgentStreamEvent<A>, E, Model.Model>,
  model: Layer.Layer<Model.Model>,
  options: UiStream.AgUiOptions<A> = {}
) =>
  Stream.runCollect(
    UiStream.agUiEvents(events, { threadId: "t1", runId: "r1", ...options }).pipe(
      Stream.provideLayer(model)
    )
  ).pipe(
    Effect.map((chunk) => {
      const list = Chunk.toArray(chunk)
      for (const e of list) {
        const parsed = EventSchemas.safeParse(e)
        assert.isTrue(parsed.success, `${JSON.stringify(e)}: ${parsed.error?.message}`)
      }
      return list
    })
  )

const usage = (fields: ConstructorParameters<typeof Usage.RequestUsage>[0]) =>
  new Usage.RequestUsage(fields)

/** The sub-agent: answers with Anthropic's accounting (a cache write, no reasoning count). */
const analyst = Agent.make({
  name: "analyst",
  model: F.scriptedModel("claude-test", "anthropic", () => ({
    events: (m) => [m.textDelta("x", "Rain later.")],
    usage: usage({ inputTokens: 50, outputTokens: 5, cacheWriteTokens: 10 })
  }))
})

/** Calls the analyst; then answers. Reasoning and cache counts as OpenAI reports them. */
const openAi = F.scriptedModel("gpt-test", "openai", (messages) =>
  hasToolReturn(messages)
    ? {
        events: (m) => [m.textDelta("x", "Rain later.")],
        usage: usage({
          inputTokens: 150,
          outputTokens: 10,
          cacheReadTokens: 100,
          cacheWriteTokens: 20
        })
      }
    : {
        events: (m) => [
          m.toolCallDelta("c", {
            toolName: "ask_analyst",
            toolCallId: "c1",
            args: '{"prompt":"Rain?"}'
          })
        ],
        usage: usage({
          inputTokens: 100,
          outputTokens: 40,
          cacheReadTokens: 30,
          details: { reasoning_tokens: 25 }
        })
      }
)

const agent = Agent.make({ tools: [Agent.asTool(analyst, { name: "ask_analyst" })] })

/** What RUN_FINISHED of `agent` on `openAi` carries. */
const expected = [
  {
    provider: "openai",
    model: "gpt-test",
    inputTokens: 250,
    outputTokens: 50,
    totalTokens: 300,
    reasoningTokens: 25,
    cachedInputTokens: 130,
    cacheWriteInputTokens: 20
  },
  {
    provider: "anthropic",
    model: "claude-test",
    inputTokens: 50,
    outputTokens: 5,
    totalTokens: 55,
    cacheWriteInputTokens: 10
  }
]

/** A previous turn's request and response, with the tokens it cost then. */
const history = [
  new Messages.ModelRequest({
    parts: [new Messages.UserPromptPart({ content: "Hello" })],
    runId: "previous-run"
  }),
  new Messages.ModelResponse({
    parts: [new Messages.TextPart({ content: "Hi." })],
    usage: usage({ inputTokens: 999, outputTokens: 9 }),
    modelName: "gpt-test",
    providerName: "openai"
  })
]

describe("AG-UI usage on RUN_FINISHED / RUN_ERROR", () => {
  it.effect("one entry per provider and model, the sub-agent's included, every field", () =>
    Effect.gen(function* () {
      const events = yield* collect(agent.runStream("Rain?"), openAi)
      const finished = events.at(-1)!
      assert.strictEqual(finished.type, "RUN_FINISHED")
      assert.deepStrictEqual(finished.usage, expected)
      // the same when sub-agents are not shown
      const hidden = yield* collect(agent.runStream("Rain?"), openAi, { subAgents: false })
      assert.deepStrictEqual(hidden.at(-1)!.usage, expected)
      // the sub-agent's own terminal event has no usage field in AG-UI 1.0
      const sub = events.find((e) => e.type === "SUBAGENT_FINISHED")!
      assert.isUndefined(sub.usage)
    })
  )

  it.effect("a continued conversation counts this run's requests only, not the history's", () =>
    Effect.gen(function* () {
      const events = yield* collect(agent.runStream("Rain?", { messageHistory: history }), openAi)
      assert.deepStrictEqual(events.at(-1)!.usage, expected)
    })
  )

  it.effect("no usage when no provider reported tokens", () =>
    Effect.gen(function* () {
      const silent = F.scriptedModel("quiet", "local", () => ({
        events: (m) => [m.textDelta("x", "Hi.")]
      }))
      const events = yield* collect(Agent.make({}).runStream("Hi"), silent)
      const finished = events.at(-1)!
      assert.deepStrictEqual(finished, {
        type: "RUN_FINISHED",
        threadId: "t1",
        runId: "r1",
        result: "Hi."
      })
    })
  )

  it.effect("counts AG-UI cannot carry, or parts larger than their total, are left out", () =>
    Effect.gen(function* () {
      let n = 0
      const huge = F.scriptedModel("big", "acme", (messages) => {
        n++
        return hasToolReturn(messages)
          ? {
              events: (m) => [m.textDelta("x", "Done.")],
              usage: usage({ inputTokens: 10, outputTokens: 20, cacheReadTokens: 5 })
            }
          : {
              events: (m) => [
                m.toolCallDelta("c", {
                  toolName: "weather",
                  toolCallId: "c1",
                  args: '{"city":"Oslo"}'
                })
              ],
              // input past Number.MAX_SAFE_INTEGER once summed; more reasoning than output
              usage: usage({
                inputTokens: Number.MAX_SAFE_INTEGER - 1,
                outputTokens: 0,
                details: { reasoning_tokens: 50 }
              })
            }
      })
      const events = yield* collect(
        Agent.make({ tools: [F.weather] }).runStream("Go", { messageHistory: [] }),
        huge
      )
      assert.strictEqual(n, 2)
      assert.deepStrictEqual(events.at(-1)!.usage, [
        { provider: "acme", model: "big", outputTokens: 20 }
      ])
    })
  )

  it.effect("RUN_ERROR carries the usage of the responses before the failure", () =>
    Effect.gen(function* () {
      const failing = F.scriptedModel("gpt-test", "openai", (messages) =>
        hasToolReturn(messages)
          ? new AgentError.ModelHTTPError({ status: 503, modelName: "gpt-test" })
          : {
              events: (m) => [
                m.toolCallDelta("c", {
                  toolName: "weather",
                  toolCallId: "c1",
                  args: '{"city":"Oslo"}'
                })
              ],
              usage: usage({ inputTokens: 10, outputTokens: 3 })
            }
      )
      const run = Agent.make({ tools: [F.weather] })
      const events = yield* collect(run.runStream("Go", { messageHistory: history }), failing)
      assert.deepStrictEqual(events.at(-1), {
        type: "RUN_ERROR",
        message: "ModelHTTPError: HTTP 503 (model: gpt-test)",
        code: "ModelHTTPError",
        usage: [
          {
            provider: "openai",
            model: "gpt-test",
            inputTokens: 10,
            outputTokens: 3,
            totalTokens: 13
          }
        ]
      })
      // failing at once: nothing of its own (the history's response is not this run's)
      const down = F.scriptedModel(
        "gpt-test",
        "openai",
        () => new AgentError.ModelHTTPError({ status: 503, modelName: "gpt-test" })
      )
      const at = yield* collect(run.runStream("Go", { messageHistory: history }), down)
      assert.deepStrictEqual(at.at(-1), {
        type: "RUN_ERROR",
        message: "ModelHTTPError: HTTP 503 (model: gpt-test)",
        code: "ModelHTTPError"
      })
    })
  )

  it.effect("RUN_ERROR counts the sub-agents that finished, under one that had not", () =>
    Effect.gen(function* () {
      // top → lead → researcher: the researcher answers, then the lead's next request fails
      const researcher = Agent.make({
        name: "researcher",
        model: F.scriptedModel("gemini-test", "google", () => ({
          events: (m) => [m.textDelta("x", "Found.")],
          usage: usage({ inputTokens: 7, outputTokens: 2 })
        }))
      })
      const lead = Agent.make({
        name: "lead",
        tools: [Agent.asTool(researcher, { name: "ask_researcher" })],
        model: F.scriptedModel("claude-test", "anthropic", (messages) =>
          hasToolReturn(messages)
            ? new AgentError.ModelHTTPError({ status: 503, modelName: "claude-test" })
            : {
                events: (m) => [
                  m.toolCallDelta("c", {
                    toolName: "ask_researcher",
                    toolCallId: "n1",
                    args: '{"prompt":"?"}'
                  })
                ],
                usage: usage({ inputTokens: 50, outputTokens: 5 })
              }
        )
      })
      const top = F.scriptedModel("gpt-test", "openai", () => ({
        events: (m) => [
          m.toolCallDelta("c", { toolName: "ask_lead", toolCallId: "c1", args: '{"prompt":"Go"}' })
        ],
        usage: usage({ inputTokens: 10, outputTokens: 3 })
      }))
      const run = Agent.make({ tools: [Agent.asTool(lead, { name: "ask_lead" })] })
      const events = yield* collect(run.runStream("Go"), top)
      const error = events.at(-1)!
      assert.strictEqual(error.type, "RUN_ERROR")
      // The lead's own response (50 / 5 tokens) is not there: a response's usage reaches the
      // stream only with its run's result (core's run events carry no usage before it), and the
      // run's error carries the top run's messages, not the lead's.
      assert.deepStrictEqual(error.usage, [
        {
          provider: "openai",
          model: "gpt-test",
          inputTokens: 10,
          outputTokens: 3,
          totalTokens: 13
        },
        {
          provider: "google",
          model: "gemini-test",
          inputTokens: 7,
          outputTokens: 2,
          totalTokens: 9
        }
      ])
    })
  )

  it.effect("a handoff's responses count once", () =>
    Effect.gen(function* () {
      const support = Agent.make({
        name: "support",
        model: F.scriptedModel("claude-test", "anthropic", () => ({
          events: (m) => [m.textDelta("x", "Fixed.")],
          usage: usage({ inputTokens: 30, outputTokens: 4 })
        }))
      })
      const triage = Agent.make({ name: "triage" }).pipe(
        Agent.withHandoffs([Agent.handoff(support)])
      )
      const model = F.scriptedModel("gpt-test", "openai", () => ({
        events: (m) => [
          m.toolCallDelta("c", { toolName: "transfer_to_support", toolCallId: "h1", args: "{}" })
        ],
        usage: usage({ inputTokens: 20, outputTokens: 2 })
      }))
      const events = yield* collect(triage.runStream("Help"), model)
      assert.deepStrictEqual(events.at(-1)!.usage, [
        {
          provider: "openai",
          model: "gpt-test",
          inputTokens: 20,
          outputTokens: 2,
          totalTokens: 22
        },
        {
          provider: "anthropic",
          model: "claude-test",
          inputTokens: 30,
          outputTokens: 4,
          totalTokens: 34
        }
      ])
    })
  )

  it.effect("usage: false leaves it out of RUN_FINISHED and RUN_ERROR", () =>
    Effect.gen(function* () {
      const finished = yield* collect(agent.runStream("Rain?"), openAi, { usage: false })
      assert.isUndefined(finished.at(-1)!.usage)
      assert.strictEqual(finished.at(-1)!.type, "RUN_FINISHED")
      const failed = yield* collect(F.textAgent.runStream("hi"), F.failingModel, {
        usage: false
      })
      assert.deepStrictEqual(failed.at(-1), {
        type: "RUN_ERROR",
        message: "ModelHTTPError: HTTP 500 (model: fn), body: upstream broke",
        code: "ModelHTTPError"
      })
    })
  )

  it.effect("the fast path (run + onEvent) writes the same usage", () =>
    Effect.gen(function* () {
      const bytes = yield* Stream.runCollect(
        UiStream.agUiRun((onEvent) => agent.run("Rain?", { onEvent }), {
          threadId: "t1",
          runId: "r1"
        }).pipe(Stream.provideLayer(openAi))
      )
      const text = Chunk.toArray(bytes)
        .map((b) => new TextDecoder().decode(b))
        .join("")
      const last = text
        .split("\n\n")
        .filter((e) => e !== "")
        .map((e) => JSON.parse(e.replace(/^data: /, "")))
        .at(-1)
      assert.deepStrictEqual(last.usage, expected)
    })
  )
})
