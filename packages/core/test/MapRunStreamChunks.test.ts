/**
 * `Agent.mapRunStreamChunks`: on `agent.runStream(...)` as returned, the mapping runs inside the
 * run where each chunk is emitted (no stream stage of its own); on any other stream it is
 * `Stream.mapChunks`. Either way every event is mapped once, in order, chunk by chunk.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { Agent, AgentError, FunctionModel, Tool } from "@agentfx/core"

/** Set by the mapping when it sees the call event; read by the tool's handler. */
let callMapped = false
const seen: Array<boolean> = []
const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) =>
    Effect.sync(() => {
      seen.push(callMapped)
      return a + b
    })
})

const model = FunctionModel.layer(undefined, {
  stream: (messages) =>
    messages.some(
      (m) => m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "ToolReturnPart")
    )
      ? Stream.make("The sum ", "is 3.")
      : Stream.make({ 0: { name: "add", toolCallId: "c1", jsonArgs: '{"a":1,"b":2}' } })
})
const agent = Agent.make({ tools: [add] })

/** Maps a chunk to its events' tags, one string per chunk. */
const tags = (chunk: Chunk.Chunk<Agent.AgentStreamEvent<string>>) => {
  const out: Array<string> = []
  for (const e of chunk) {
    if (e._tag === "FunctionToolCallEvent") callMapped = true
    out.push(e._tag)
  }
  return Chunk.of(out.join(","))
}

describe("Agent.mapRunStreamChunks", () => {
  it.effect("maps every event once, in order, fused or through a stage alike", () =>
    Effect.gen(function* () {
      const plain = yield* Stream.runCollect(agent.runStream("1 + 2?")).pipe(Effect.provide(model))
      callMapped = false
      const fused = yield* Stream.runCollect(
        Agent.mapRunStreamChunks(agent.runStream("1 + 2?"), tags)
      ).pipe(Effect.provide(model))
      callMapped = false
      const staged = yield* Stream.runCollect(
        Agent.mapRunStreamChunks(
          Stream.map(agent.runStream("1 + 2?"), (e) => e),
          tags
        )
      ).pipe(Effect.provide(model))
      const all = (c: Chunk.Chunk<string>) =>
        Chunk.toArray(c)
          .filter((s) => s !== "")
          .join(",")
      assert.strictEqual(
        all(fused),
        Chunk.toArray(plain)
          .map((e) => e._tag)
          .join(",")
      )
      assert.strictEqual(all(staged), all(fused))
      assert.isTrue(all(fused).endsWith("AgentRunResultEvent"))
      assert.include(all(fused), "FunctionToolCallEvent,FunctionToolResultEvent")
    })
  )

  it.effect(
    "fused: a chunk is mapped when the run emits it (before the tool it announces runs)",
    () =>
      Effect.gen(function* () {
        callMapped = false
        seen.length = 0
        yield* Stream.runDrain(Agent.mapRunStreamChunks(agent.runStream("1 + 2?"), tags)).pipe(
          Effect.provide(model)
        )
        assert.deepStrictEqual(seen, [true])
      })
  )

  it.effect("a failed run fails the mapped stream with the run's error", () =>
    Effect.gen(function* () {
      const failing = FunctionModel.layer(undefined, {
        stream: () =>
          Stream.concat(
            Stream.make("Partial "),
            Stream.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "fn", body: "x" }))
          )
      })
      const mapped: Array<string> = []
      const error = yield* Stream.runDrain(
        Agent.mapRunStreamChunks(agent.runStream("hi"), (chunk) => {
          for (const e of chunk) mapped.push(e._tag)
          return chunk
        })
      ).pipe(Effect.flip, Effect.provide(failing))
      assert.strictEqual((error as { _tag: string })._tag, "ModelHTTPError")
      assert.include(mapped, "PartStartEvent")
      assert.notInclude(mapped, "AgentRunResultEvent")
    })
  )
})
