/**
 * `UsageLimits.countTokensBeforeRequest`: each request's input is counted with the model's
 * `countTokens` before it is sent, and a request that would exceed the token limits is not
 * sent. The provider side (recorded count + generation traffic) is in
 * packages/providers/test/CountTokens.test.ts.
 */
import {
  Agent,
  FunctionModel,
  Messages,
  type Model,
  Tool,
  Usage,
  WrapperModel
} from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const ping = Tool.make("ping", {
  parameters: Schema.Struct({}),
  handler: () => Effect.succeed("pong")
})

const responsesIn = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

/**
 * A function model that calls `ping` once then answers, reporting 10 input / 2 output tokens
 * per request; its `countTokens` answers 7 tokens per message and records what it was given.
 */
const countingModel = Effect.gen(function* () {
  const requests = yield* Ref.make(0)
  const counted = yield* Ref.make<
    Array<{ messages: number; tools: ReadonlyArray<string>; temperature: unknown }>
  >([])
  const reply = (messages: ReadonlyArray<Messages.ModelMessage>) =>
    new Messages.ModelResponse({
      parts:
        responsesIn(messages) === 0
          ? [new Messages.ToolCallPart({ toolName: "ping", args: {}, toolCallId: "c1" })]
          : [new Messages.TextPart({ content: "done" })],
      usage: new Usage.RequestUsage({ inputTokens: 10, outputTokens: 2 })
    })
  const inner = yield* FunctionModel.make(
    (messages) =>
      Effect.as(
        Ref.update(requests, (n) => n + 1),
        reply(messages)
      ),
    {
      stream: (messages) =>
        Stream.unwrap(
          Effect.as(
            Ref.update(requests, (n) => n + 1),
            Stream.make(
              responsesIn(messages) === 0 ? { 0: { name: "ping", jsonArgs: "{}" } } : "done"
            )
          )
        )
    }
  )
  const model: Model.Service = WrapperModel.make(inner, {
    countTokens: (messages, settings, parameters) =>
      Effect.as(
        Ref.update(counted, (xs) => [
          ...xs,
          {
            messages: messages.length,
            tools: parameters.functionTools.map((t) => t.name),
            temperature: settings.temperature
          }
        ]),
        new Usage.RequestUsage({ inputTokens: 7 * messages.length })
      )
  })
  return { model, requests, counted }
})

describe("UsageLimits.countTokensBeforeRequest", () => {
  it.effect("counts every request with the run's settings and tools; within limits it runs", () =>
    Effect.gen(function* () {
      const { model, requests, counted } = yield* countingModel
      const agent = Agent.make({ model, tools: [ping], modelSettings: { temperature: 0.3 } })
      const result = yield* agent.run("go", {
        usageLimits: new Usage.UsageLimits({ inputTokensLimit: 40, countTokensBeforeRequest: true })
      })
      assert.strictEqual(result.output, "done")
      assert.strictEqual(yield* Ref.get(requests), 2)
      // Request 1: one message; request 2: prompt, call, return.
      assert.deepStrictEqual(yield* Ref.get(counted), [
        { messages: 1, tools: ["ping"], temperature: 0.3 },
        { messages: 3, tools: ["ping"], temperature: 0.3 }
      ])
      // The counts are a check only: the run's usage is the responses' usage.
      assert.strictEqual(result.usage.inputTokens, 20)
      assert.strictEqual(result.usage.requests, 2)
    })
  )

  it.effect("a request whose counted input would exceed inputTokensLimit is not sent", () =>
    Effect.gen(function* () {
      const { model, requests } = yield* countingModel
      const agent = Agent.make({ model, tools: [ping] })
      // Request 2: 10 input tokens so far + 3 messages × 7 = 31 > 30.
      const error = yield* agent
        .run("go", {
          usageLimits: new Usage.UsageLimits({
            inputTokensLimit: 30,
            countTokensBeforeRequest: true
          })
        })
        .pipe(Effect.flip)
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      if (error._tag !== "UsageLimitExceeded") return
      assert.strictEqual(yield* Ref.get(requests), 1)
      assert.strictEqual(error.limit, "inputTokensLimit")
      assert.strictEqual(error.limitValue, 30)
      assert.strictEqual(error.value, 31)
      assert.strictEqual(
        error.message,
        "The next request would exceed the input_tokens_limit of 30 (input_tokens=31)"
      )
      // Nothing is lost: the history up to the request that was not sent.
      assert.deepStrictEqual(
        error.messages.map((m) => m._tag),
        ["ModelRequest", "ModelResponse", "ModelRequest"]
      )
    })
  )

  it.effect(
    "totalTokensLimit counts the run's output tokens too; streamed runs check as well",
    () =>
      Effect.gen(function* () {
        const { model, requests } = yield* countingModel
        const agent = Agent.make({ model, tools: [ping] })
        // A streamed response's usage is FunctionModel's estimate: measure the first one.
        const whole = yield* Agent.finalResult(agent.runStream("go"))
        const firstResponse = whole.allMessages()[1]
        assert.strictEqual(firstResponse?._tag, "ModelResponse")
        const spent = (firstResponse as Messages.ModelResponse).usage.totalTokens
        yield* Ref.set(requests, 0)
        // Request 2 counts 3 × 7 = 21 tokens: one under the limit of spent + 20.
        const limit = spent + 20
        const error = yield* agent
          .runStream("go", {
            usageLimits: new Usage.UsageLimits({
              totalTokensLimit: limit,
              countTokensBeforeRequest: true
            })
          })
          .pipe(Stream.runCollect, Effect.flip)
        assert.strictEqual(error._tag, "UsageLimitExceeded")
        if (error._tag !== "UsageLimitExceeded") return
        assert.strictEqual(yield* Ref.get(requests), 1)
        assert.strictEqual(error.limit, "totalTokensLimit")
        assert.strictEqual(error.value, spent + 21)
        assert.strictEqual(
          error.message,
          `The next request would exceed the total_tokens_limit of ${limit} (total_tokens=${spent + 21})`
        )
      })
  )

  it.effect("the count sees what history processors send, not the stored history", () =>
    Effect.gen(function* () {
      const { model, counted } = yield* countingModel
      const agent = Agent.make({
        model,
        tools: [ping],
        // The second request goes out without the prompt.
        historyProcessors: [(messages) => (messages.length > 1 ? messages.slice(1) : messages)]
      })
      yield* agent.run("go", {
        usageLimits: new Usage.UsageLimits({ countTokensBeforeRequest: true })
      })
      assert.deepStrictEqual(
        (yield* Ref.get(counted)).map((c) => c.messages),
        [1, 2]
      )
    })
  )

  it.effect("a model that cannot count: UserError before anything is sent", () =>
    Effect.gen(function* () {
      const requests = yield* Ref.make(0)
      const model = yield* FunctionModel.make(() =>
        Effect.as(
          Ref.update(requests, (n) => n + 1),
          FunctionModel.text("hi")
        )
      )
      const error = yield* Agent.make({ model })
        .run("go", {
          usageLimits: new Usage.UsageLimits({
            inputTokensLimit: 5,
            countTokensBeforeRequest: true
          })
        })
        .pipe(Effect.flip)
      assert.strictEqual(error._tag, "UserError")
      assert.match(error.message, /cannot count tokens ahead of a request/)
      assert.include(error.message, model.modelName)
      assert.strictEqual(yield* Ref.get(requests), 0)
    })
  )

  it.effect("off by default: the model is never asked to count", () =>
    Effect.gen(function* () {
      const { model, counted } = yield* countingModel
      const result = yield* Agent.make({ model, tools: [ping] }).run("go", {
        usageLimits: new Usage.UsageLimits({ inputTokensLimit: 30 })
      })
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(yield* Ref.get(counted), [])
    })
  )

  it("checkCountedRequest: input and total against the run so far plus the count", () => {
    const limits = new Usage.UsageLimits({ inputTokensLimit: 18, totalTokensLimit: 25 })
    const run = new Usage.RunUsage({ inputTokens: 0 })
    const v = limits.checkCountedRequest(run, new Usage.RequestUsage({ inputTokens: 19 }))
    assert.deepStrictEqual(
      v._tag === "Some" ? v.value.message : undefined,
      "The next request would exceed the input_tokens_limit of 18 (input_tokens=19)"
    )
    const t = limits.checkCountedRequest(
      new Usage.RunUsage({ inputTokens: 5, outputTokens: 8 }),
      new Usage.RequestUsage({ inputTokens: 13 })
    )
    assert.deepStrictEqual(t._tag === "Some" ? [t.value.limit, t.value.value] : undefined, [
      "totalTokensLimit",
      26
    ])
    assert.strictEqual(
      limits.checkCountedRequest(run, new Usage.RequestUsage({ inputTokens: 18 }))._tag,
      "None"
    )
  })
})
