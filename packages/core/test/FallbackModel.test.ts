import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import {
  Agent,
  AgentError,
  FallbackModel,
  FunctionModel,
  Model,
  type ModelSettings,
  WrapperModel
} from "@agentfx/core"

const http = (status: number, modelName: string) =>
  new AgentError.ModelHTTPError({ status, modelName, body: { error: "boom" } })

/** A function model failing with `error` for its first `failures` calls (all if undefined). */
const flaky = (
  name: string,
  calls: Ref.Ref<number>,
  error: AgentError.ModelError | undefined,
  failures = Number.POSITIVE_INFINITY
) =>
  FunctionModel.make(
    () =>
      Effect.flatMap(
        Ref.getAndUpdate(calls, (n) => n + 1),
        (n) =>
          error !== undefined && n < failures ? Effect.fail(error) : Effect.succeed(`from ${name}`)
      ),
    { modelName: name }
  )

describe("FallbackModel", () => {
  it.effect("falls back on a 500 and the agent gets the next model's answer", () =>
    Effect.gen(function* () {
      const aCalls = yield* Ref.make(0)
      const bCalls = yield* Ref.make(0)
      const a = yield* flaky("a", aCalls, http(500, "a"))
      const b = yield* flaky("b", bCalls, undefined)
      const model = FallbackModel.make([a, b])
      assert.strictEqual(model.modelName, "fallback:a,b")
      const result = yield* Agent.make({}).run("hi", { model })
      assert.strictEqual(result.output, "from b")
      assert.strictEqual(result.response.modelName, "b")
      assert.strictEqual(result.usage.requests, 1)
      assert.strictEqual(yield* Ref.get(aCalls), 1)
      assert.strictEqual(yield* Ref.get(bCalls), 1)
    })
  )

  it.effect("a model that recovers is tried first again on the next request", () =>
    Effect.gen(function* () {
      const aCalls = yield* Ref.make(0)
      const bCalls = yield* Ref.make(0)
      const model = FallbackModel.make([
        yield* flaky("a", aCalls, http(503, "a"), 1),
        yield* flaky("b", bCalls, undefined)
      ])
      const first = yield* Agent.make({}).run("1", { model })
      const second = yield* Agent.make({}).run("2", { model })
      assert.strictEqual(first.output, "from b")
      assert.strictEqual(second.output, "from a")
    })
  )

  it.effect("errors that are not provider failures propagate without trying the next model", () =>
    Effect.gen(function* () {
      const bCalls = yield* Ref.make(0)
      const filtered = new AgentError.ContentFilterError({ reason: "blocked" })
      const model = FallbackModel.make([
        yield* flaky("a", yield* Ref.make(0), filtered),
        yield* flaky("b", bCalls, undefined)
      ])
      const error = yield* Effect.flip(Agent.make({}).run("hi", { model }))
      assert.strictEqual(error._tag, "ContentFilterError")
      assert.strictEqual(yield* Ref.get(bCalls), 0)
    })
  )

  it.effect("all failing: a ModelAPIError carrying every model's error, in order", () =>
    Effect.gen(function* () {
      const model = FallbackModel.make([
        yield* flaky("a", yield* Ref.make(0), http(500, "a")),
        yield* flaky(
          "b",
          yield* Ref.make(0),
          new AgentError.ModelAPIError({ modelName: "b", reason: "Connection refused" })
        )
      ])
      const error = yield* Effect.flip(Agent.make({}).run("hi", { model }))
      assert.strictEqual(error._tag, "ModelAPIError")
      const all = FallbackModel.failures(error)!
      assert.deepStrictEqual(
        all.map((e) => e._tag),
        ["ModelHTTPError", "ModelAPIError"]
      )
      assert.strictEqual((all[0] as AgentError.ModelHTTPError).status, 500)
      assert.match(error.message, /a: ModelHTTPError: HTTP 500 \(model: a\)/)
      assert.match(error.message, /b: ModelAPIError: Connection refused/)
      // The conversation so far is kept on the error, as for any run failure.
      assert.strictEqual((error as AgentError.ModelAPIError).messages.length, 1)
    })
  )

  it.effect("fallbackOn decides which errors fall back", () =>
    Effect.gen(function* () {
      const onlyOverloaded = (e: AgentError.ModelError) =>
        e._tag === "ModelHTTPError" && e.status === 529
      const bCalls = yield* Ref.make(0)
      const b = yield* flaky("b", bCalls, undefined)
      const overloaded = FallbackModel.make(
        [yield* flaky("a", yield* Ref.make(0), http(529, "a")), b],
        { fallbackOn: onlyOverloaded }
      )
      assert.strictEqual((yield* Agent.make({}).run("x", { model: overloaded })).output, "from b")
      const badRequest = FallbackModel.make(
        [yield* flaky("a", yield* Ref.make(0), http(400, "a")), b],
        { fallbackOn: onlyOverloaded }
      )
      const error = yield* Effect.flip(Agent.make({}).run("x", { model: badRequest }))
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual(yield* Ref.get(bCalls), 1)
    })
  )

  it.effect("each model's own settings apply under the run's settings", () =>
    Effect.gen(function* () {
      const seen: Array<ModelSettings.ModelSettings> = []
      const b = yield* FunctionModel.make(
        (_, info) => {
          seen.push(info.modelSettings)
          return "ok"
        },
        { modelName: "b", settings: { temperature: 0.5, maxTokens: 10 } }
      )
      const model = FallbackModel.make([yield* flaky("a", yield* Ref.make(0), http(500, "a")), b])
      yield* Agent.make({ modelSettings: { maxTokens: 99 } }).run("x", { model })
      assert.strictEqual(seen[0]!.temperature, 0.5)
      assert.strictEqual(seen[0]!.maxTokens, 99)
    })
  )

  it.effect("streams fall back on errors while opening the stream", () =>
    Effect.gen(function* () {
      const a = WrapperModel.make(yield* FunctionModel.make(undefined, { modelName: "a" }), {
        requestStream: () => Effect.fail(http(502, "a"))
      })
      const b = yield* FunctionModel.make(undefined, {
        modelName: "b",
        stream: () => Stream.make("streamed ", "from b")
      })
      const text = yield* Agent.make({})
        .runStream("hi", { model: FallbackModel.make([a, b]) })
        .pipe(Agent.streamText, Stream.runCollect)
      assert.strictEqual([...text][text.length - 1], "streamed from b")
    })
  )

  it.effect("an error after the stream has started propagates: no fallback mid-stream", () =>
    Effect.gen(function* () {
      const bCalls = yield* Ref.make(0)
      const a = yield* FunctionModel.make(undefined, {
        modelName: "a",
        stream: () =>
          Stream.concat(
            Stream.make("half an answer"),
            Stream.fail(new AgentError.ModelAPIError({ modelName: "a", reason: "reset" }))
          )
      })
      const b = yield* FunctionModel.make(undefined, {
        modelName: "b",
        stream: () =>
          Stream.fromEffect(
            Effect.as(
              Ref.update(bCalls, (n) => n + 1),
              "from b"
            )
          )
      })
      const error = yield* Agent.make({})
        .runStream("hi", { model: FallbackModel.make([a, b]) })
        .pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.strictEqual((error as AgentError.ModelAPIError).reason, "reset")
      assert.strictEqual(yield* Ref.get(bCalls), 0)
    })
  )

  it.effect("layer: combines model Layers, each built on its own", () =>
    Effect.gen(function* () {
      const result = yield* Agent.make({}).run("hi")
      assert.strictEqual(result.output, "layer b")
      const model = yield* Model.Model
      assert.strictEqual(model.modelName, "fallback:a,b")
    }).pipe(
      Effect.provide(
        FallbackModel.layer([
          FunctionModel.layer(() => Effect.fail(http(500, "a")), { modelName: "a" }),
          FunctionModel.layer(() => "layer b", { modelName: "b" })
        ])
      )
    )
  )
})
