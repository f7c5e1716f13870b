/**
 * The fast path (`aiSdkRun` / `agUiRun` and their handlers): a run driven with `onEvent` writes
 * byte for byte the SSE body the `runStream` helpers write — text, reasoning, parallel tools,
 * a retry, failed tools, a provider error, a usage limit — and `onFinish` gets the same outcome
 * (result or error, with the messages). Over HTTP the one-line handler serves `ai`'s own
 * transport, and a client that goes away interrupts the run.
 */
import type { Agent, Model } from "@agentfx/core"
import { UiStream } from "@agentfx/ui"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { assert, describe, it } from "@effect/vitest"
import { DefaultChatTransport, readUIMessageStream, type UIMessage } from "ai"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { assertDisconnectClosesModel } from "./client.js"
import * as F from "./fixtures.js"
import { serve } from "./server.js"

const text = (chunks: Chunk.Chunk<Uint8Array>) => {
  const decoder = new TextDecoder()
  return Chunk.toReadonlyArray(chunks)
    .map((c) => decoder.decode(c, { stream: true }))
    .join("")
}

type Case = readonly [string, Agent.Agent<any, any, Model.Model>, Layer.Layer<Model.Model>]
const cases: ReadonlyArray<Case> = [
  ["text", F.textAgent, F.textModel],
  ["reasoning", F.textAgent, F.reasoningModel],
  ["parallel tools", F.toolAgent, F.parallelToolsModel],
  ["a retry", F.retryAgent, F.retryModel],
  ["failed tools", F.failuresAgent, F.failuresModel],
  ["a provider error", F.textAgent, F.failingModel],
  ["a usage limit", F.limitedAgent, F.parallelToolsModel]
]

/** Both bodies of one case and what `onFinish` saw for each. */
const both = (
  agent: Agent.Agent<any, any, Model.Model>,
  model: Layer.Layer<Model.Model>,
  protocol: "aiSdk" | "agUi"
) =>
  Effect.gen(function* () {
    const outcomes: Array<UiStream.Outcome<unknown>> = []
    const onFinish = (o: UiStream.Outcome<unknown>) => Effect.sync(() => outcomes.push(o))
    const viaStream =
      protocol === "aiSdk"
        ? UiStream.aiSdk(agent.runStream("hi"), { onFinish, messageId: "m1" })
        : UiStream.agUi(agent.runStream("hi"), { onFinish, runId: "r1", threadId: "t1" })
    const run = (onEvent: UiStream.OnEvent) => agent.run("hi", { onEvent })
    const viaEvents =
      protocol === "aiSdk"
        ? UiStream.aiSdkRun(run, { onFinish, messageId: "m1" })
        : UiStream.agUiRun(run, { onFinish, runId: "r1", threadId: "t1" })
    const a = text(yield* Stream.runCollect(viaStream))
    const b = text(yield* Stream.runCollect(viaEvents))
    return { a, b, outcomes }
  }).pipe(Effect.provide(model))

describe("fast path (run + onEvent)", () => {
  for (const [name, agent, model] of cases) {
    for (const protocol of ["aiSdk", "agUi"] as const) {
      it.effect(`${protocol}: ${name} — the same bytes and outcome as the runStream helper`, () =>
        Effect.gen(function* () {
          const { a, b, outcomes } = yield* both(agent, model, protocol)
          assert.isAbove(a.length, 0)
          assert.strictEqual(b, a)
          const [x, y] = outcomes
          assert.strictEqual(outcomes.length, 2)
          assert.strictEqual(y!._tag, x!._tag)
          // the messages (a failure's included) survive on both paths alike
          assert.isAbove(x!.messages.length, 0)
          assert.deepStrictEqual(
            y!.messages.map((m) => m._tag),
            x!.messages.map((m) => m._tag)
          )
          if (x!._tag === "Failure" && y!._tag === "Failure") {
            assert.strictEqual(y.errorText, x.errorText)
            assert.strictEqual(
              (y.error as { _tag?: string })._tag,
              (x.error as { _tag?: string })._tag
            )
          }
          if (x!._tag === "Success" && y!._tag === "Success") {
            assert.deepStrictEqual(y.result.output, x.result.output)
          }
        })
      )
    }
  }

  it.effect("the error cases do end with an error event", () =>
    Effect.gen(function* () {
      const { b } = yield* both(F.textAgent, F.failingModel, "aiSdk")
      assert.include(b, '"type":"error"')
      assert.include(b, "ModelHTTPError")
      assert.isTrue(b.endsWith("data: [DONE]\n\n"))
      const limited = yield* both(F.limitedAgent, F.parallelToolsModel, "agUi")
      assert.include(limited.b, '"type":"RUN_ERROR"')
    })
  )

  it.scopedLive("aiSdkRunHandler: ai's transport reads the answer", () =>
    Effect.gen(function* () {
      const model = yield* Layer.build(F.parallelToolsModel)
      const url = yield* serve(
        HttpRouter.empty.pipe(
          HttpRouter.post(
            "/api/chat",
            UiStream.aiSdkRunHandler((chat, onEvent) =>
              F.toolAgent.run(undefined, { ...UiStream.runOptions(chat), onEvent })
            )
          ),
          Effect.provide(model)
        )
      )
      const message = yield* Effect.promise(async () => {
        const transport = new DefaultChatTransport<UIMessage>({ api: `${url}/api/chat` })
        const stream = await transport.sendMessages({
          trigger: "submit-message",
          chatId: "c1",
          messageId: undefined,
          messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "weather?" }] }],
          abortSignal: undefined
        })
        let last: UIMessage | undefined
        for await (const m of readUIMessageStream<UIMessage>({ stream })) last = m
        return last
      }).pipe(Effect.timeout("10 seconds"))
      const parts = (message?.parts ?? []) as Array<Record<string, unknown>>
      assert.deepStrictEqual(
        parts.filter((p) => p.type !== "step-start").map((p) => [p.type, p.state]),
        [
          ["tool-weather", "output-available"],
          ["tool-clock", "output-available"],
          ["text", "done"]
        ]
      )
      assert.strictEqual(parts.at(-1)?.text, "Sunny, noon.")
    })
  )

  it.scopedLive("a client that goes away interrupts the run (the model stream is closed)", () =>
    assertDisconnectClosesModel((model) =>
      serve(
        HttpRouter.empty.pipe(
          HttpRouter.post(
            "/api/chat",
            UiStream.aiSdkRunHandler((chat, onEvent) =>
              F.textAgent.run(undefined, { messageHistory: chat.messages, onEvent })
            )
          ),
          Effect.provide(model)
        )
      )
    )
  )
})
