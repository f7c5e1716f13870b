import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { FunctionModel, Messages, Model, Tool, Usage } from "@agentfx/core"

const weather = Tool.make("weather", {
  description: "Weather of a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`sunny in ${city}`)
})

const params = new Model.ModelRequestParameters({ functionTools: [weather.definition] })

const history: ReadonlyArray<Messages.ModelMessage> = [
  new Messages.ModelRequest({
    parts: [new Messages.UserPromptPart({ content: "What is the weather in Paris?" })],
    instructions: "Be brief."
  })
]

const request = (messages: ReadonlyArray<Messages.ModelMessage>, parameters = params) =>
  Effect.flatMap(Model.Model, (m) => m.request(messages, { temperature: 0 }, parameters))

const requestStream = (messages: ReadonlyArray<Messages.ModelMessage>, parameters = params) =>
  Effect.scoped(
    Effect.gen(function* () {
      const model = yield* Model.Model
      const streamed = yield* model.requestStream(messages, { temperature: 0 }, parameters)
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(streamed.events))
      const response = yield* streamed.response
      return { events, response }
    })
  )

describe("FunctionModel", () => {
  it.effect("passes messages and AgentInfo to the function and estimates usage", () =>
    Effect.gen(function* () {
      const seen = yield* Ref.make<FunctionModel.AgentInfo | undefined>(undefined)
      const layer = FunctionModel.layer((messages, info) =>
        Effect.as(Ref.set(seen, info), FunctionModel.text(`got ${messages.length} message`))
      )
      const response = yield* request(history).pipe(Effect.provide(layer))
      assert.strictEqual(response.text, "got 1 message")
      const info = (yield* Ref.get(seen))!
      assert.deepStrictEqual(
        info.functionTools.map((t) => t.name),
        ["weather"]
      )
      assert.strictEqual(info.instructions, "Be brief.")
      assert.strictEqual(info.allowTextOutput, true)
      assert.strictEqual(info.outputMode, "text")
      assert.deepStrictEqual(info.modelSettings, { temperature: 0 })
      // 50 overhead + "What is the weather in Paris?" (6 words, trailing "?" kept on Paris?)
      assert.strictEqual(response.usage.inputTokens, 56)
      // "got 1 message" = 3 words
      assert.strictEqual(response.usage.outputTokens, 3)
      assert.strictEqual(response.modelName, "function::")
    })
  )

  it.effect("model name comes from the function name, or is given", () =>
    Effect.gen(function* () {
      function myModel() {
        return "hi"
      }
      const a = yield* Effect.provide(Model.Model, FunctionModel.layer(myModel))
      assert.strictEqual(a.modelName, "function:myModel:")
      assert.strictEqual(a.system, "function")
      const b = yield* Effect.provide(
        Model.Model,
        FunctionModel.layer(myModel, { modelName: "custom" })
      )
      assert.strictEqual(b.modelName, "custom")
      const response = yield* Effect.provide(request(history), FunctionModel.layer(myModel))
      assert.strictEqual(response.text, "hi")
      assert.strictEqual(response.modelName, "function:myModel:")
    })
  )

  it.effect("keeps usage the function reported", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [new Messages.TextPart({ content: "x" })],
            usage: new Usage.RequestUsage({ inputTokens: 7, outputTokens: 3 })
          })
      )
      const response = yield* Effect.provide(request(history), layer)
      assert.strictEqual(response.usage.inputTokens, 7)
      assert.strictEqual(response.usage.outputTokens, 3)
    })
  )

  it.effect("instructions fall back to the request before a tool-returns-only request", () =>
    Effect.sync(() => {
      const messages: Array<Messages.ModelMessage> = [
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: "hi" })],
          instructions: "first"
        }),
        FunctionModel.toolCall("final_result", { a: 1 }, "c1"),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({
              toolName: "final_result",
              toolCallId: "c1",
              content: "ok"
            })
          ]
        })
      ]
      assert.strictEqual(FunctionModel.instructionsOf(messages), "first")
      const withPrompt = [
        ...messages,
        FunctionModel.text("x"),
        new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content: "again" })] })
      ]
      assert.strictEqual(FunctionModel.instructionsOf(withPrompt), undefined)
    })
  )

  it.effect("function errors are the request's errors", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(() =>
        Effect.fail(new Messages.TextPart({ content: "" }) as never)
      )
      const exit = yield* Effect.exit(Effect.provide(request(history), layer))
      assert.isTrue(Exit.isFailure(exit))
      const noStream = FunctionModel.layer(() => "x")
      const streamExit = yield* Effect.exit(Effect.provide(requestStream(history), noStream))
      assert.isTrue(Exit.isFailure(streamExit))
    })
  )

  it.effect("streams text and tool-call deltas through the parts manager", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(undefined, {
        stream: () =>
          Stream.make<Array<FunctionModel.StreamItem>>(
            "The ",
            "weather:",
            { 0: { name: "wea" } },
            { 0: { name: "ther", jsonArgs: '{"city":', toolCallId: "t1" } },
            { 0: { jsonArgs: '"Paris"}' } }
          )
      })
      const { events, response } = yield* Effect.provide(requestStream(history), layer)
      const tags = events.map((e) => e._tag)
      assert.deepStrictEqual(tags, [
        "PartStartEvent",
        "PartDeltaEvent",
        "PartStartEvent",
        "PartDeltaEvent",
        "PartDeltaEvent",
        "PartEndEvent",
        "PartEndEvent",
        "ResponseCompleteEvent"
      ])
      const toolStart = events[2] as Messages.PartStartEvent
      assert.strictEqual(toolStart.index, 1)
      assert.strictEqual((toolStart.part as Messages.ToolCallPart).toolName, "wea")
      assert.strictEqual(response.text, "The weather:")
      assert.strictEqual(response.state, "complete")
      const call = response.toolCalls[0]!
      assert.strictEqual(call.toolName, "weather")
      assert.strictEqual(call.toolCallId, "t1")
      assert.deepStrictEqual(call.argsAsObject(), { city: "Paris" })
      const last = events[events.length - 1] as Messages.ResponseCompleteEvent
      assert.deepStrictEqual(last.response.parts, response.parts)
    })
  )

  it.effect("streams thinking deltas with signatures", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(undefined, {
        stream: () =>
          Stream.make<Array<FunctionModel.StreamItem>>(
            { 0: { content: "Let me " } },
            { 0: { content: "think", signature: "sig" } },
            "Done"
          )
      })
      const { response } = yield* Effect.provide(requestStream(history), layer)
      const thinking = response.thinking[0]!
      assert.strictEqual(thinking.content, "Let me think")
      assert.strictEqual(thinking.signature, "sig")
      assert.strictEqual(thinking.providerName, "function")
      assert.strictEqual(response.text, "Done")
    })
  )

  it.effect("streamed and non-streamed responses agree on parts and usage", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(
        () =>
          new Messages.ModelResponse({
            parts: [
              new Messages.TextPart({ content: "Calling the tool now." }),
              new Messages.ToolCallPart({
                toolName: "weather",
                args: '{"city":"Paris"}',
                toolCallId: "t1"
              })
            ]
          }),
        {
          stream: () =>
            Stream.make<Array<FunctionModel.StreamItem>>(
              "Calling ",
              "the tool ",
              "now.",
              { 0: { name: "weather", toolCallId: "t1" } },
              { 0: { jsonArgs: '{"city":' } },
              { 0: { jsonArgs: '"Paris"}' } }
            )
        }
      )
      const plain = yield* Effect.provide(request(history), layer)
      const { response: streamed } = yield* Effect.provide(requestStream(history), layer)
      assert.deepStrictEqual(streamed.parts, plain.parts)
      assert.deepStrictEqual(streamed.usage, plain.usage)
      assert.strictEqual(streamed.modelName, plain.modelName)
      assert.isTrue(plain.usage.outputTokens > 0)
    })
  )

  it.effect("emits events in chunks, not one effect per delta", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(undefined, {
        stream: () => Stream.fromIterable(["a ", "b ", "c ", "d"])
      })
      const sizes = yield* Effect.scoped(
        Effect.gen(function* () {
          const model = yield* Model.Model
          const streamed = yield* model.requestStream(history, {}, params)
          return yield* streamed.events.pipe(
            Stream.mapChunks((c) => Chunk.of(c.length)),
            Stream.runCollect
          )
        })
      ).pipe(Effect.provide(layer))
      // four deltas arrive as one chunk, then the end events
      assert.strictEqual(Chunk.unsafeGet(sizes, 0), 4)
    })
  )

  it.effect("a stream with no items fails", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(undefined, { stream: () => Stream.empty })
      const exit = yield* Effect.exit(Effect.provide(requestStream(history), layer))
      assert.isTrue(Exit.isFailure(exit))
    })
  )

  it.effect("response snapshot is incomplete mid-stream", () =>
    Effect.gen(function* () {
      const layer = FunctionModel.layer(undefined, {
        stream: () => Stream.make("Hello ", "world")
      })
      const snapshot = yield* Effect.scoped(
        Effect.gen(function* () {
          const model = yield* Model.Model
          const streamed = yield* model.requestStream(history, {}, params)
          yield* Stream.runDrain(Stream.take(streamed.events, 1))
          return yield* streamed.response
        })
      ).pipe(Effect.provide(layer))
      assert.strictEqual(snapshot.state, "incomplete")
      assert.isTrue(snapshot.text.startsWith("Hello"))
    })
  )

  it.effect("functions may require services", () =>
    Effect.gen(function* () {
      class Greeting extends Effect.Service<Greeting>()("test/Greeting", {
        succeed: { text: "bonjour" }
      }) {}
      const layer = FunctionModel.layer(() => Effect.map(Greeting, (g) => g.text))
      const response = yield* request(history).pipe(
        Effect.provide(layer),
        Effect.provide(Greeting.Default)
      )
      assert.strictEqual(response.text, "bonjour")
    })
  )
})
