import { FunctionModel, Messages, Usage } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Evaluator, SpanTree } from "@agentfx/evals"

const context = <O>(
  output: O,
  extra: Partial<Evaluator.Context<unknown, O, unknown>> = {}
): Evaluator.Context<unknown, O, unknown> => ({
  name: "case",
  inputs: "What is my balance?",
  output,
  expectedOutput: undefined,
  metadata: undefined,
  durationMs: 10,
  spans: SpanTree.SpanTree.empty,
  usage: Usage.RunUsage.empty,
  attributes: {},
  ...extra
})

const run = <O>(
  evaluator: Evaluator.Evaluator<unknown, O, unknown, any, never>,
  ctx: Evaluator.Context<unknown, O, unknown>
) => evaluator.evaluate(ctx)

describe("Evaluator", () => {
  it.effect(
    "equalsExpected: deep equality, a reason on mismatch, nothing without an expected output",
    () =>
      Effect.gen(function* () {
        const e = Evaluator.equalsExpected()
        assert.strictEqual(e.name, "EqualsExpected")
        assert.deepStrictEqual(
          yield* run(e, context({ a: [1, { b: 2 }] }, { expectedOutput: { a: [1, { b: 2 }] } })),
          { value: true }
        )
        assert.deepStrictEqual(yield* run(e, context({ a: 1 }, { expectedOutput: { a: 2 } })), {
          value: false,
          reason: 'expected {"a":2}, got {"a":1}'
        })
        assert.deepStrictEqual(yield* run(e, context("x")), {})
        class P extends Data.Class<{ x: number }> {}
        assert.deepStrictEqual(
          yield* run(e, context(new P({ x: 1 }), { expectedOutput: new P({ x: 1 }) })),
          {
            value: true
          }
        )
        assert.deepStrictEqual(yield* run(Evaluator.equals(3), context(3)), { value: true })
        assert.strictEqual(
          ((yield* run(Evaluator.equals(3), context(4))) as Evaluator.Result).value,
          false
        )
      })
  )

  it.effect("contains: substrings (case option), array elements, object field subsets", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(
        yield* run(Evaluator.contains("balance"), context("Your balance is $1")),
        {
          value: true
        }
      )
      assert.deepStrictEqual(yield* run(Evaluator.contains("BALANCE"), context("Your balance")), {
        value: false,
        reason: "BALANCE not found in Your balance"
      })
      assert.deepStrictEqual(
        yield* run(
          Evaluator.contains("BALANCE", { caseSensitive: false }),
          context("Your balance")
        ),
        { value: true }
      )
      assert.deepStrictEqual(
        yield* run(Evaluator.contains({ id: 2 }), context([{ id: 1 }, { id: 2 }])),
        {
          value: true
        }
      )
      assert.deepStrictEqual(
        yield* run(Evaluator.contains({ risk: 8 }), context({ risk: 8, block: true })),
        {
          value: true
        }
      )
      assert.deepStrictEqual(
        yield* run(Evaluator.contains({ risk: 8 }), context({ risk: 5, block: true })),
        {
          value: false,
          reason: "field risk: expected 8, got 5"
        }
      )
      assert.deepStrictEqual(yield* run(Evaluator.contains({ level: 8 }), context({ risk: 5 })), {
        value: false,
        reason: "field level is missing"
      })
      assert.strictEqual(
        ((yield* run(Evaluator.contains("x"), context(42))) as Evaluator.Result).value,
        false
      )
    })
  )

  it.effect("matchesSchema: passes valid values, explains invalid ones", () =>
    Effect.gen(function* () {
      const e = Evaluator.matchesSchema(
        Schema.Struct({ risk: Schema.Int.pipe(Schema.between(0, 10)) })
      )
      assert.deepStrictEqual(yield* run(e, context({ risk: 3 })), { value: true })
      const bad = (yield* run(e, context({ risk: 30 }))) as Evaluator.Result
      assert.strictEqual(bad.value, false)
      assert.include(bad.reason, "risk")
      assert.include(bad.reason, "between 0 and 10")
    })
  )

  it.effect("maxDuration compares the task's duration with the limit", () =>
    Effect.gen(function* () {
      const e = Evaluator.maxDuration("50 millis")
      assert.deepStrictEqual(yield* run(e, context("x", { durationMs: 50 })), { value: true })
      assert.deepStrictEqual(yield* run(e, context("x", { durationMs: 51 })), {
        value: false,
        reason: "took 51 ms, more than 50 ms"
      })
    })
  )

  it.effect("hasToolCall / hasMatchingSpan query the captured spans", () =>
    Effect.gen(function* () {
      const span = (
        name: string,
        attributes: Record<string, unknown>,
        spanId: string,
        parentSpanId?: string
      ) =>
        new SpanTree.CapturedSpan({
          name,
          spanId,
          traceId: "t",
          ...(parentSpanId ? { parentSpanId } : {}),
          startTimeMs: 0,
          durationMs: 1,
          status: "ok",
          attributes,
          events: []
        })
      const spans = new SpanTree.SpanTree([
        span(
          "invoke_agent bank",
          { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "bank" },
          "1"
        ),
        span(
          "execute_tool customer_balance",
          { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "customer_balance" },
          "2",
          "1"
        )
      ])
      assert.deepStrictEqual(
        yield* run(Evaluator.hasToolCall("customer_balance"), context("x", { spans })),
        {
          value: true
        }
      )
      assert.deepStrictEqual(
        yield* run(
          Evaluator.hasToolCall("customer_balance", { times: 2 }),
          context("x", { spans })
        ),
        {
          value: false,
          reason: "customer_balance called 1 time(s), expected at least 2; calls: customer_balance"
        }
      )
      assert.deepStrictEqual(yield* run(Evaluator.hasToolCall("block_card"), context("x")), {
        value: false,
        reason: "no tool was called"
      })
      const nested = Evaluator.hasMatchingSpan({
        ...SpanTree.toolCall("customer_balance"),
        descendantOf: SpanTree.agentRun("bank")
      })
      assert.deepStrictEqual(yield* run(nested, context("x", { spans })), { value: true })
      const wrongParent = Evaluator.hasMatchingSpan({
        ...SpanTree.toolCall("customer_balance"),
        descendantOf: SpanTree.agentRun("other")
      })
      assert.strictEqual(
        ((yield* run(wrongParent, context("x", { spans }))) as Evaluator.Result).value,
        false
      )
    })
  )

  it.effect("make: plain values and Effects, several named results", () =>
    Effect.gen(function* () {
      const plain = Evaluator.make(
        "len",
        ({ output }: Evaluator.Context<unknown, string, unknown>) => output.length
      )
      assert.strictEqual(yield* plain.evaluate(context("abcd")), 4)
      const effectful = Evaluator.make("both", () =>
        Effect.succeed({ tone: "polite", ok: { value: true, reason: "fine" } })
      )
      assert.deepStrictEqual(yield* effectful.evaluate(context("x")), {
        tone: "polite",
        ok: { value: true, reason: "fine" }
      })
    })
  )

  it.effect("llmJudge: asks the judge model with the rubric and returns its verdict", () =>
    Effect.gen(function* () {
      const prompts: Array<string> = []
      const judge = FunctionModel.layer((messages, info) => {
        const request = messages[messages.length - 1] as Messages.ModelRequest
        const prompt = request.parts.find((p) => p._tag === "UserPromptPart")
        const text = typeof prompt?.content === "string" ? prompt.content : ""
        prompts.push(text)
        const polite = text.includes("<output>\nThank you")
        return FunctionModel.toolCall(info.outputTools[0]!.name, {
          reason: polite ? "thanks the customer" : "curt",
          pass: polite,
          score: polite ? 0.9 : 0.2
        })
      })
      const e = Evaluator.llmJudge({
        rubric: "The answer is polite",
        model: judge,
        includeInput: true,
        report: "both"
      })
      const good = yield* e.evaluate(context("Thank you for asking: $12"))
      assert.deepStrictEqual(good, {
        LlmJudge: { value: true, reason: "thanks the customer" },
        "LlmJudge.score": { value: 0.9, reason: "thanks the customer" }
      })
      assert.strictEqual(
        prompts[0],
        "<input>\nWhat is my balance?\n</input>\n<output>\nThank you for asking: $12\n</output>\n<rubric>\nThe answer is polite\n</rubric>"
      )
      const bad = yield* Evaluator.llmJudge({
        rubric: "polite",
        model: judge,
        name: "Polite"
      }).evaluate(context({ text: "No." }, { expectedOutput: { text: "Sure!" } }))
      assert.deepStrictEqual(bad, { value: false, reason: "curt" })
      assert.notInclude(prompts[1]!, "<input>")
      assert.notInclude(prompts[1]!, "<expected_output>")
      const score = yield* Evaluator.llmJudge({
        rubric: "polite",
        model: judge,
        report: "score",
        includeExpectedOutput: true
      }).evaluate(context("Nope", { expectedOutput: "Sure" }))
      assert.deepStrictEqual(score, { value: 0.2, reason: "curt" })
      assert.include(prompts[2]!, "<expected_output>\nSure\n</expected_output>")
    })
  )

  it.effect(
    "llmJudge without a model uses the Model service; a bad verdict fails with an AgentError",
    () =>
      Effect.gen(function* () {
        const e = Evaluator.llmJudge({ rubric: "anything" })
        const broken = FunctionModel.layer((_m, info) =>
          FunctionModel.toolCall(info.outputTools[0]!.name, { pass: "yes" })
        )
        const error = yield* Effect.flip(e.evaluate(context("x")).pipe(Effect.provide(broken)))
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
      })
  )
})
