/**
 * Deferred tools through the UI protocols, end to end. AI SDK: `ai`'s own chat client
 * (`AbstractChat` with `DefaultChatTransport`, what `useChat` wraps) posts to our one-line
 * handler over loopback; a run stopping on a call that needs approval and a call of an external
 * tool shows `approval-requested` / `input-available` parts; the client answers with
 * `addToolApprovalResponse` / `addToolOutput` and sends again; the handler decodes the answers
 * as `deferredToolResults` and the run resumes without repeating its model request or a tool.
 * AG-UI: the same run ends with an interrupt outcome and resumes from `RunAgentInput.resume`.
 */
import { Agent, DeferredTools, FunctionModel, Messages, Tool } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import { EventSchemas } from "@ag-ui/core/schemas"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { assert, describe, it } from "@effect/vitest"
import { AbstractChat, type ChatState, DefaultChatTransport, type UIMessage } from "ai"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { functionUsage } from "./fixtures.js"
import { serve } from "./server.js"

/** The smallest `ChatState`: plain arrays (what `useChat` keeps in React state). */
class ArrayState implements ChatState<UIMessage> {
  status: ChatState<UIMessage>["status"] = "ready"
  error: Error | undefined = undefined
  messages: Array<UIMessage> = []
  pushMessage = (m: UIMessage) => {
    this.messages = [...this.messages, m]
  }
  popMessage = () => {
    this.messages = this.messages.slice(0, -1)
  }
  replaceMessage = (i: number, m: UIMessage) => {
    this.messages = this.messages.map((x, j) => (j === i ? m : x))
  }
  snapshot = <T>(thing: T): T => structuredClone(thing)
}

class Chat extends AbstractChat<UIMessage> {
  constructor(api: string) {
    super({ id: "chat-1", transport: new DefaultChatTransport({ api }), state: new ArrayState() })
  }
}

/** As the client would post it: JSON (drops the keys ai leaves undefined). */
const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

const harness = () => {
  const ran = { weather: 0, refund: 0 }
  const requests: Array<ReadonlyArray<Messages.ModelMessage>> = []
  const weather = Tool.make("weather", {
    parameters: Schema.Struct({ city: Schema.String }),
    handler: ({ city }) =>
      Effect.sync(() => {
        ran.weather++
        return `sunny in ${city}`
      })
  })
  const refund = Tool.make("refund", {
    parameters: Schema.Struct({ amount: Schema.Number }),
    requiresApproval: true,
    metadata: { policy: "manager" },
    handler: ({ amount }) =>
      Effect.sync(() => {
        ran.refund++
        return `refunded ${amount}`
      })
  })
  const locate = Tool.external("locate", { parameters: Schema.Struct({}) })
  const agent = Agent.make({ tools: [weather, refund, locate] })
  /** Calls the three tools at once; once answered, says what each call returned. */
  const model = FunctionModel.layer(undefined, {
    stream: (messages) => {
      requests.push(messages)
      const last = messages.at(-1)
      if (last?._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")) {
        const said = last.parts.flatMap((p) =>
          p._tag === "ToolReturnPart" ? [`${p.toolName}=${p.contentText}`] : []
        )
        return Stream.make(said.join("; "))
      }
      return Stream.make({
        0: { name: "weather", toolCallId: "call_w", jsonArgs: '{"city":"Oslo"}' },
        1: { name: "refund", toolCallId: "call_r", jsonArgs: '{"amount":12}' },
        2: { name: "locate", toolCallId: "call_l", jsonArgs: "{}" }
      })
    }
  })
  return { ran, requests, agent, model }
}

/** Serves the harness' agent on both protocols; every request may resume a stopped run. */
const serveBoth = (h: ReturnType<typeof harness>) =>
  Effect.flatMap(Layer.build(h.model), (model) =>
    serve(
      HttpRouter.empty.pipe(
        HttpRouter.post(
          "/api/chat",
          UiStream.aiSdkHandler((chat) => h.agent.runStream(undefined, UiStream.runOptions(chat)))
        ),
        HttpRouter.post(
          "/agui",
          UiStream.agUiHandler((input) => h.agent.runStream(undefined, UiStream.runOptions(input)))
        ),
        Effect.provide(model)
      )
    )
  )

/** First turn: the run stops; returns the chat with the assistant message waiting. */
const stopped = (url: string) =>
  Effect.promise(async () => {
    const chat = new Chat(`${url}/api/chat`)
    await chat.sendMessage({ text: "Weather, refund and where am I?" })
    return chat
  })

const waitingParts = [
  { type: "step-start" },
  {
    type: "tool-weather",
    toolCallId: "call_w",
    state: "output-available",
    input: { city: "Oslo" },
    output: "sunny in Oslo"
  },
  {
    type: "tool-refund",
    toolCallId: "call_r",
    state: "approval-requested",
    input: { amount: 12 },
    approval: { id: "call_r", descriptor: { policy: "manager" } }
  },
  { type: "tool-locate", toolCallId: "call_l", state: "input-available", input: {} },
  {
    type: "data-deferred-tool-requests",
    data: {
      approvals: ["call_r"],
      calls: ["call_l"],
      metadata: { call_r: { policy: "manager" } }
    }
  }
]

describe("tool approval over the AI SDK UI message stream (ai's own chat client)", () => {
  it.scopedLive("approve: the run resumes, runs the approved call and answers", () =>
    Effect.gen(function* () {
      const h = harness()
      const url = yield* serveBoth(h)
      const chat = yield* stopped(url)
      assert.strictEqual(chat.error, undefined)
      const waiting = json(chat.messages[1]!)
      assert.strictEqual(waiting.role, "assistant")
      assert.deepStrictEqual(waiting.parts, waitingParts as unknown as UIMessage["parts"])
      assert.deepStrictEqual(h.ran, { weather: 1, refund: 0 })

      yield* Effect.promise(async () => {
        await chat.addToolOutput({ tool: "locate", toolCallId: "call_l", output: "Oslo, NO" })
        await chat.addToolApprovalResponse({ id: "call_r", approved: true })
        await chat.sendMessage()
      })
      assert.strictEqual(chat.error, undefined)
      // the same assistant message goes on: outputs land on the waiting parts, then the answer
      assert.strictEqual(chat.messages.length, 2)
      const parts = json(chat.messages[1]!.parts)
      assert.deepStrictEqual(parts.slice(2, 4), [
        {
          type: "tool-refund",
          toolCallId: "call_r",
          state: "output-available",
          input: { amount: 12 },
          output: "refunded 12",
          approval: { id: "call_r", descriptor: { policy: "manager" }, approved: true }
        },
        {
          type: "tool-locate",
          toolCallId: "call_l",
          state: "output-available",
          input: {},
          output: "Oslo, NO"
        }
      ] as unknown as UIMessage["parts"])
      assert.deepStrictEqual(parts.slice(5), [
        { type: "step-start" },
        {
          type: "text",
          text: "weather=sunny in Oslo; refund=refunded 12; locate=Oslo, NO",
          state: "done"
        }
      ] as unknown as UIMessage["parts"])
      // no model request repeated, no tool run twice
      assert.strictEqual(h.requests.length, 2)
      assert.deepStrictEqual(h.ran, { weather: 1, refund: 1 })
    })
  )

  it.scopedLive("deny: the tool does not run and the model gets the reason", () =>
    Effect.gen(function* () {
      const h = harness()
      const url = yield* serveBoth(h)
      const chat = yield* stopped(url)
      yield* Effect.promise(async () => {
        await chat.addToolOutput({ tool: "locate", toolCallId: "call_l", output: "Oslo, NO" })
        await chat.addToolApprovalResponse({ id: "call_r", approved: false, reason: "Too much." })
        await chat.sendMessage()
      })
      assert.strictEqual(chat.error, undefined)
      const parts = json(chat.messages[1]!.parts)
      assert.deepStrictEqual(parts[2], {
        type: "tool-refund",
        toolCallId: "call_r",
        state: "output-denied",
        input: { amount: 12 },
        approval: {
          id: "call_r",
          descriptor: { policy: "manager" },
          approved: false,
          reason: "Too much."
        }
      } as unknown as UIMessage["parts"][number])
      assert.deepStrictEqual(parts.at(-1), {
        type: "text",
        text: "weather=sunny in Oslo; refund=Too much.; locate=Oslo, NO",
        state: "done"
      } as unknown as UIMessage["parts"][number])
      assert.strictEqual(h.requests.length, 2)
      assert.deepStrictEqual(h.ran, { weather: 1, refund: 0 })
      // the model saw the denial as a denied return
      const denied = h.requests[1]!.at(-1)!.parts.find(
        (p) => p._tag === "ToolReturnPart" && p.toolCallId === "call_r"
      ) as Messages.ToolReturnPart
      assert.strictEqual(denied.outcome, "denied")
    })
  )

  it.scopedLive("deny, then talk on: the next turn's history has the denial the model saw", () =>
    Effect.gen(function* () {
      const h = harness()
      const url = yield* serveBoth(h)
      const chat = yield* stopped(url)
      yield* Effect.promise(async () => {
        await chat.addToolOutput({ tool: "locate", toolCallId: "call_l", output: "Oslo, NO" })
        await chat.addToolApprovalResponse({ id: "call_r", approved: false, reason: "Too much." })
        await chat.sendMessage()
        await chat.sendMessage({ text: "Why not?" })
      })
      assert.strictEqual(chat.error, undefined)
      assert.strictEqual(h.requests.length, 3)
      const returns = (history: ReadonlyArray<Messages.ModelMessage>) =>
        history.flatMap((m) =>
          m.parts.flatMap((p) =>
            p._tag === "ToolReturnPart" ? [[p.toolCallId, p.contentText, p.outcome]] : []
          )
        )
      // what the model was sent when the run resumed, and on the turn after it: the same returns
      assert.deepStrictEqual(returns(h.requests[1]!), [
        ["call_w", "sunny in Oslo", "success"],
        ["call_r", "Too much.", "denied"],
        ["call_l", "Oslo, NO", "success"]
      ])
      assert.deepStrictEqual(returns(h.requests[2]!), returns(h.requests[1]!))
    })
  )

  it.effect(
    "the request decodes answers into deferredToolResults; a new message abandons them",
    () =>
      Effect.gen(function* () {
        const u = { id: "u1", role: "user" as const, parts: [{ type: "text", text: "hi" }] }
        const answered = {
          id: "a1",
          role: "assistant" as const,
          parts: [
            ...waitingParts.slice(0, 2),
            {
              ...waitingParts[2],
              state: "approval-responded",
              approval: { id: "call_r", approved: false }
            },
            { ...waitingParts[3], state: "output-error", errorText: "GPS off" },
            waitingParts[4]
          ]
        }
        const request = yield* UiStream.decodeAiSdkRequest({ id: "c", messages: [u, answered] })
        const results = request.deferredToolResults!
        assert.deepStrictEqual(Object.keys(results.approvals), ["call_r"])
        assert.instanceOf(results.approvals.call_r, DeferredTools.ToolDenied)
        assert.strictEqual(
          (results.approvals.call_r as DeferredTools.ToolDenied).message,
          DeferredTools.deniedMessage
        )
        assert.deepStrictEqual(Object.keys(results.calls), ["call_l"])
        assert.strictEqual((results.calls.call_l as { reason: string }).reason, "GPS off")
        // history: the three calls, only the weather return (the others are in the results)
        const last = request.messages.at(-1)!
        assert.deepStrictEqual(
          last.parts.map((p) => p._tag),
          ["ToolReturnPart"]
        )
        assert.strictEqual(request.messages.at(-2)!._tag, "ModelResponse")

        const later = yield* UiStream.decodeAiSdkRequest({
          messages: [u, answered, { ...u, id: "u2" }]
        })
        assert.strictEqual(later.deferredToolResults, undefined)
      })
  )
})

describe("tool approval over AG-UI (interrupt outcome, RunAgentInput.resume)", () => {
  const post = (url: string, body: unknown) =>
    Effect.promise(() =>
      fetch(`${url}/agui`, { method: "POST", body: JSON.stringify(body) }).then(async (r) => ({
        status: r.status,
        text: await r.text()
      }))
    )
  const events = (text: string) =>
    text
      .split("\n\n")
      .filter((l) => l.startsWith("data: "))
      .map((l) => JSON.parse(l.slice(6)) as { type: string; [k: string]: unknown })

  const user = { id: "m1", role: "user", content: "Weather, refund and where am I?" }
  const assistant = {
    id: "m2",
    role: "assistant",
    toolCalls: [
      {
        id: "call_w",
        type: "function",
        function: { name: "weather", arguments: '{"city":"Oslo"}' }
      },
      { id: "call_r", type: "function", function: { name: "refund", arguments: '{"amount":12}' } },
      { id: "call_l", type: "function", function: { name: "locate", arguments: "{}" } }
    ]
  }
  const weatherResult = { id: "m3", role: "tool", toolCallId: "call_w", content: "sunny in Oslo" }

  for (const approved of [true, false]) {
    it.scopedLive(`${approved ? "approve" : "deny"}: interrupts, then resume`, () =>
      Effect.gen(function* () {
        const h = harness()
        const url = yield* serveBoth(h)
        const first = events(
          (yield* post(url, { threadId: "t", runId: "r1", messages: [user] })).text
        )
        for (const e of first) EventSchemas.parse(e)
        const finished = first.at(-1)!
        assert.deepStrictEqual(finished, {
          type: "RUN_FINISHED",
          threadId: "t",
          runId: "r1",
          outcome: {
            type: "interrupt",
            interrupts: [
              {
                id: "tool_approval:call_r",
                reason: "tool_approval",
                message: "Approve calling refund?",
                toolCallId: "call_r",
                metadata: { agentfx: { policy: "manager" } }
              },
              {
                id: "tool_result:call_l",
                reason: "tool_result",
                message: "Give the result of locate.",
                toolCallId: "call_l"
              }
            ]
          },
          usage: [functionUsage(56, 11)]
        })
        // the three calls were shown once, only weather has a result
        assert.deepStrictEqual(
          first.filter((e) => e.type === "TOOL_CALL_START").map((e) => e.toolCallId),
          ["call_w", "call_r", "call_l"]
        )
        assert.deepStrictEqual(
          first.filter((e) => e.type === "TOOL_CALL_RESULT").map((e) => e.toolCallId),
          ["call_w"]
        )

        const second = events(
          (yield* post(url, {
            threadId: "t",
            runId: "r2",
            messages: [user, assistant, weatherResult],
            resume: [
              {
                interruptId: "tool_approval:call_r",
                status: "resolved",
                payload: approved ? { approved: true } : { approved: false, reason: "Too much." }
              },
              { interruptId: "tool_result:call_l", status: "resolved", payload: { result: "Oslo" } }
            ]
          })).text
        )
        for (const e of second) EventSchemas.parse(e)
        // the resumed calls are not started again: their results, then the answer
        assert.deepStrictEqual(
          second.filter((e) => e.type.startsWith("TOOL_CALL")).map((e) => [e.type, e.toolCallId]),
          [
            ["TOOL_CALL_RESULT", "call_r"],
            ["TOOL_CALL_RESULT", "call_l"]
          ]
        )
        const text = second
          .filter((e) => e.type === "TEXT_MESSAGE_CONTENT")
          .map((e) => e.delta)
          .join("")
        assert.strictEqual(
          text,
          `weather=sunny in Oslo; refund=${approved ? "refunded 12" : "Too much."}; locate=Oslo`
        )
        assert.deepStrictEqual(second.at(-1), {
          type: "RUN_FINISHED",
          threadId: "t",
          runId: "r2",
          result: text,
          // its own request only (the first run's response is history now)
          usage: [approved ? functionUsage(62, 17) : functionUsage(63, 18)]
        })
        assert.strictEqual(h.requests.length, 2)
        assert.deepStrictEqual(h.ran, { weather: 1, refund: approved ? 1 : 0 })
      })
    )
  }

  it.scopedLive("a resume entry for an unknown interrupt gets a 400 naming it", () =>
    Effect.gen(function* () {
      const h = harness()
      const url = yield* serveBoth(h)
      const r = yield* post(url, {
        threadId: "t",
        runId: "r",
        messages: [user],
        resume: [{ interruptId: "mystery", status: "resolved" }]
      })
      assert.strictEqual(r.status, 400)
      assert.include(r.text, "resume[0].interruptId")
      assert.include(r.text, "'mystery' is not an interrupt of this agent")
    })
  )
})
