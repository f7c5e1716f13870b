import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { AgentError, FunctionModel, Messages, Model, TestModel, Tool } from "@agentfx/core"
import { Direct } from "@agentfx/direct"

const echo = FunctionModel.layer(
  (messages, info) =>
    `${info.instructions ?? "-"}|${messages.length}|${(messages[0] as Messages.ModelRequest).parts.length}|${info.modelSettings.temperature ?? "?"}`,
  {
    stream: () => Stream.make("Hello ", "streamed ", "world"),
    modelName: "echo",
    settings: { temperature: 0.3, maxTokens: 10 }
  }
)

const registry = Layer.effect(
  Model.ModelRegistry,
  Effect.map(
    Effect.provide(Model.Model, TestModel.layer({ customOutputText: "from registry" })),
    (test) =>
      Model.ModelRegistry.of({
        resolve: (name) =>
          name === "test:model"
            ? Effect.succeed(test)
            : Effect.fail(new AgentError.UserError({ reason: `Unknown model: ${name}` }))
      })
  )
)

const weather = Tool.make("weather", {
  parameters: Schema.Struct({ city: Schema.String }),
  handler: () => Effect.succeed("sunny")
})

describe("Direct (Effect)", () => {
  it.effect("modelRequest with a Layer, a string prompt and settings over the model's", () =>
    Effect.gen(function* () {
      const r = yield* Direct.modelRequest(echo, "hi", { settings: { temperature: 0.9 } })
      assert.strictEqual(r.text, "-|1|1|0.9")
      const r2 = yield* Direct.modelRequest(echo, "hi")
      assert.strictEqual(r2.text, "-|1|1|0.3")
      assert.strictEqual(r.modelName, "echo")
    })
  )

  it.effect("modelRequest with a conversation: instructions from the latest request", () =>
    Effect.gen(function* () {
      const messages = [
        new Messages.ModelRequest({
          parts: [
            new Messages.SystemPromptPart({ content: "sys" }),
            new Messages.UserPromptPart({ content: "hi" })
          ],
          instructions: "Be brief."
        })
      ]
      const r = yield* Direct.modelRequest(echo, messages)
      assert.strictEqual(r.text, "Be brief.|1|2|0.3")
    })
  )

  it.effect("modelRequest with a service value and tool parameters", () =>
    Effect.gen(function* () {
      const service = yield* Effect.provide(Model.Model, TestModel.layer())
      const r = yield* Direct.modelRequest(service, "weather?", {
        parameters: { functionTools: [weather.definition] }
      })
      assert.deepStrictEqual(
        r.toolCalls.map((c) => [c.toolName, c.args]),
        [["weather", { city: "a" }]]
      )
    })
  )

  it.effect("modelRequest with a model string through the ModelRegistry", () =>
    Effect.gen(function* () {
      const r = yield* Direct.modelRequest("test:model", "hi")
      assert.strictEqual(r.text, "from registry")
      const exit = yield* Effect.exit(Direct.modelRequest("nope:x", "hi"))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(exit), "Unknown model: nope:x")
    }).pipe(Effect.provide(registry))
  )

  it.effect("modelRequestStream: events then the final response, within a scope", () =>
    Effect.gen(function* () {
      const { events, response } = yield* Effect.scoped(
        Effect.gen(function* () {
          const streamed = yield* Direct.modelRequestStream(echo, "hi")
          const events = Chunk.toReadonlyArray(yield* Stream.runCollect(streamed.events))
          return { events, response: yield* streamed.response }
        })
      )
      assert.strictEqual(events[0]!._tag, "PartStartEvent")
      assert.strictEqual(events[events.length - 1]!._tag, "ResponseCompleteEvent")
      assert.strictEqual(response.text, "Hello streamed world")
      assert.strictEqual(response.state, "complete")
      assert.isTrue(response.usage.inputTokens > 50)
    })
  )

  it.effect("modelRequestEvents + finalResponse", () =>
    Effect.gen(function* () {
      const response = yield* Direct.finalResponse(
        Direct.modelRequestEvents(TestModel.layer({ customOutputText: "a b c" }), "hi")
      )
      assert.strictEqual(response.text, "a b c")
      const texts = yield* Direct.modelRequestEvents(
        TestModel.layer({ customOutputText: "a b c" }),
        "hi"
      ).pipe(
        Stream.filter((e): e is Messages.PartDeltaEvent => e._tag === "PartDeltaEvent"),
        Stream.map((e) => (e.delta as Messages.TextPartDelta).contentDelta),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(texts), ["a ", "b ", "c"])
      const exit = yield* Effect.exit(Direct.finalResponse(Stream.empty))
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("interrupting the event stream releases the model's stream and layer", () =>
    Effect.gen(function* () {
      const released: Array<string> = []
      const model = Layer.merge(
        FunctionModel.layer(undefined, {
          stream: () =>
            Stream.make("a ", "b ", "c").pipe(
              Stream.concat(Stream.never),
              Stream.ensuring(Effect.sync(() => released.push("stream")))
            )
        }),
        Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => released.push("layer"))))
      )
      const firstTwo = yield* Direct.modelRequestEvents(model, "hi").pipe(
        Stream.take(2),
        Stream.runCollect
      )
      assert.strictEqual(Chunk.size(firstTwo), 2)
      assert.deepStrictEqual(released.sort(), ["layer", "stream"])
    })
  )
})

describe("Direct types", () => {
  it("a model string requires the ModelRegistry; a service value requires nothing", () => {
    const fromString: Effect.Effect<
      Messages.ModelResponse,
      AgentError.ModelError,
      Model.ModelRegistry
    > = Direct.modelRequest("test:model", "hi")
    const fromLayer: Effect.Effect<Messages.ModelResponse, AgentError.ModelError> =
      Direct.modelRequest(echo, "hi")
    assert.isTrue(Effect.isEffect(fromString) && Effect.isEffect(fromLayer))
  })
})

describe("Direct (Promise / AsyncIterable)", () => {
  it("modelRequestPromise with a layer model", async () => {
    const r = await Direct.modelRequestPromise(echo, "hi", { settings: { temperature: 1 } })
    assert.strictEqual(r.text, "-|1|1|1")
  })

  it("modelRequestPromise with a model string needs a registry (runtime or layer)", async () => {
    const runtime = ManagedRuntime.make(registry)
    const r = await Direct.modelRequestPromise("test:model", "hi", { runtime })
    assert.strictEqual(r.text, "from registry")
    await runtime.dispose()
    const viaLayer = await Direct.modelRequestPromise("test:model", "hi", { layer: registry })
    assert.strictEqual(viaLayer.text, "from registry")
    const error = await Direct.modelRequestPromise("test:model", "hi").then(
      () => undefined,
      (e) => e
    )
    assert.instanceOf(error, AgentError.UserError)
    assert.include(error.message, "no ModelRegistry")
  })

  it("modelRequestPromise rejects with the model's typed error", async () => {
    const failing = FunctionModel.layer(() =>
      Effect.fail(new AgentError.ModelHTTPError({ status: 503, modelName: "f" }))
    )
    const error = await Direct.modelRequestPromise(failing, "hi").then(
      () => undefined,
      (e) => e
    )
    assert.instanceOf(error, AgentError.ModelHTTPError)
    assert.strictEqual(error.status, 503)
  })

  it("modelRequestStreamIterable yields events and the final response", async () => {
    const stream = Direct.modelRequestStreamIterable(echo, "hi")
    const tags: Array<string> = []
    for await (const event of stream) tags.push(event._tag)
    assert.strictEqual(tags[0], "PartStartEvent")
    assert.strictEqual(tags[tags.length - 1], "ResponseCompleteEvent")
    const response = await stream.response()
    assert.strictEqual(response.text, "Hello streamed world")
  })

  it("response() without iterating consumes the stream; a string model via runtime", async () => {
    const runtime = ManagedRuntime.make(registry)
    const stream = Direct.modelRequestStreamIterable("test:model", "hi", { runtime })
    const response = await stream.response()
    assert.strictEqual(response.text, "from registry")
    await runtime.dispose()
  })

  it("breaking out of the iterable releases the model stream", async () => {
    const released: Array<string> = []
    const model = FunctionModel.layer(undefined, {
      stream: () =>
        Stream.make("a ", "b ", "c").pipe(
          Stream.concat(Stream.never),
          Stream.ensuring(Effect.sync(() => released.push("stream")))
        )
    })
    const stream = Direct.modelRequestStreamIterable(model, "hi")
    let seen = 0
    for await (const _event of stream) {
      seen++
      if (seen === 2) break
    }
    assert.strictEqual(seen, 2)
    assert.deepStrictEqual(released, ["stream"])
    const error = await stream.response().then(
      () => undefined,
      (e) => e
    )
    assert.include(String(error), "closed before the response completed")
  })

  it("an abort signal stops the stream", async () => {
    const released: Array<string> = []
    const model = FunctionModel.layer(undefined, {
      stream: () =>
        Stream.make("a ").pipe(
          Stream.concat(Stream.never),
          Stream.ensuring(Effect.sync(() => released.push("stream")))
        )
    })
    const controller = new AbortController()
    const stream = Direct.modelRequestStreamIterable(model, "hi", { signal: controller.signal })
    const it = stream[Symbol.asyncIterator]()
    const first = await it.next()
    assert.isFalse(first.done)
    controller.abort()
    const error = await stream.response().then(
      () => undefined,
      (e) => e
    )
    assert.isDefined(error)
    await it.return?.()
    assert.deepStrictEqual(released, ["stream"])
  })

  it("stream errors reject the iteration with the typed error", async () => {
    const model = FunctionModel.layer(undefined, {
      stream: () =>
        Stream.make<Array<FunctionModel.StreamItem>>("a").pipe(
          Stream.concat(
            Stream.fail(
              new AgentError.ModelAPIError({ modelName: "f", reason: "connection reset" })
            )
          )
        )
    })
    const stream = Direct.modelRequestStreamIterable(model, "hi")
    const error = await (async () => {
      for await (const _ of stream) {
        // consume
      }
    })().then(
      () => undefined,
      (e) => e
    )
    assert.instanceOf(error, AgentError.ModelAPIError)
    const final = await stream.response().then(
      () => undefined,
      (e) => e
    )
    assert.instanceOf(final, AgentError.ModelAPIError)
  })
})
