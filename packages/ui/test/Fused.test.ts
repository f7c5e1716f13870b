/**
 * The encoders run inside the run's own stream when given `agent.runStream(...)` as it is
 * (`Agent.mapRunStreamChunks`), and through a stream stage otherwise: both give the same bytes,
 * for text, parallel tools, retries, failures and a failed run, with `onFinish` seeing the same
 * outcome.
 */
import { UiStream } from "@agentfx/ui"
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type { Agent, Model } from "@agentfx/core"
import * as F from "./fixtures.js"

const decoder = new TextDecoder()

/** The SSE text of `encode(stream)` and what `onFinish` got. */
const sse = (
  encode: (
    events: Stream.Stream<Agent.AgentStreamEvent<string>, unknown, Model.Model>,
    onFinish: (outcome: UiStream.Outcome<string>) => Effect.Effect<void>
  ) => Stream.Stream<Uint8Array, never, Model.Model>,
  events: Stream.Stream<Agent.AgentStreamEvent<string>, unknown, Model.Model>,
  model: Layer.Layer<Model.Model>
) =>
  Effect.gen(function* () {
    let finished: UiStream.Outcome<string> | undefined
    const buffers = yield* Stream.runCollect(
      encode(events, (o) =>
        Effect.sync(() => {
          finished = o
        })
      )
    ).pipe(Effect.provide(model))
    const text = Chunk.toArray(buffers)
      .map((b) => decoder.decode(b))
      .join("")
    return { text, finished }
  })

const cases: ReadonlyArray<
  [string, Agent.Agent<string, any, Model.Model>, Layer.Layer<Model.Model>]
> = [
  ["text", F.textAgent, F.textModel],
  ["parallel tools", F.toolAgent, F.parallelToolsModel],
  ["retry", F.retryAgent, F.retryModel],
  ["failed and retried tools", F.failuresAgent, F.failuresModel],
  ["a failed run", F.textAgent, F.failingModel],
  ["a usage limit", F.limitedAgent, F.parallelToolsModel]
]

const encoders = {
  aiSdk: (
    events: Stream.Stream<Agent.AgentStreamEvent<string>, unknown, Model.Model>,
    onFinish: any
  ) => UiStream.aiSdk(events, { onFinish }),
  agUi: (
    events: Stream.Stream<Agent.AgentStreamEvent<string>, unknown, Model.Model>,
    onFinish: any
  ) => UiStream.agUi(events, { runId: "r", threadId: "t", onFinish })
}

describe("UiStream fused into the run's stream", () => {
  for (const [name, encode] of Object.entries(encoders)) {
    for (const [label, agent, model] of cases) {
      it.effect(`${name}, ${label}: the same bytes and outcome as through a stream stage`, () =>
        Effect.gen(function* () {
          const fused = yield* sse(encode, agent.runStream("hi"), model)
          // any operator makes it a plain stream: the encoder then runs as a stage of its own
          const staged = yield* sse(
            encode,
            Stream.map(agent.runStream("hi"), (e) => e),
            model
          )
          assert.isTrue(fused.text.length > 0)
          assert.strictEqual(fused.text, staged.text)
          assert.isDefined(fused.finished)
          assert.strictEqual(fused.finished!._tag, staged.finished!._tag)
          assert.deepStrictEqual(
            fused.finished!.messages.map((m) => m._tag),
            staged.finished!.messages.map((m) => m._tag)
          )
          if (label === "a failed run" || label === "a usage limit") {
            assert.strictEqual(fused.finished!._tag, "Failure")
          } else assert.strictEqual(fused.finished!._tag, "Success")
        })
      )
    }
  }

  it.effect("a stream value run twice encodes each run afresh", () =>
    Effect.gen(function* () {
      const stream = UiStream.aiSdk(F.toolAgent.runStream("hi"))
      const once = yield* Stream.runCollect(stream).pipe(Effect.provide(F.parallelToolsModel))
      const twice = yield* Stream.runCollect(stream).pipe(Effect.provide(F.parallelToolsModel))
      const text = (c: Chunk.Chunk<Uint8Array>) =>
        Chunk.toArray(c)
          .map((b) => decoder.decode(b))
          .join("")
      assert.strictEqual(text(twice), text(once))
      assert.strictEqual(text(once).match(/"type":"start"/g)?.length, 1)
    })
  )
})
