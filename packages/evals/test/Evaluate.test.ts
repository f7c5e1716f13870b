import { Agent, FunctionModel, Tool, Usage } from "@agentfx/core"
import { assert, describe, it, vi } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { Dataset, Evaluator, SpanTree, TaskContext } from "@agentfx/evals"

class Flaky extends Data.TaggedError("Flaky")<{ readonly attempt: number }> {
  override get message() {
    return `attempt ${this.attempt} failed`
  }
}

const numbers = (n: number) =>
  Dataset.make({
    name: "numbers",
    inputs: Schema.Number,
    output: Schema.Number,
    cases: Array.from({ length: n }, (_, i) => ({
      name: `n${i}`,
      inputs: i,
      expectedOutput: i * 2
    })),
    evaluators: [Evaluator.equalsExpected()]
  })

// The bank agent of the span tests: a tool, then a text answer.
const balance = Tool.make("customer_balance", {
  parameters: Schema.Struct({ include_pending: Schema.Boolean }),
  handler: ({ include_pending }) => Effect.succeed(include_pending ? "$123.45" : "$100.00")
})
const agent = Agent.make({ name: "bank", tools: [balance] })
const model = FunctionModel.layer((messages) => {
  const last = messages[messages.length - 1]!
  const returned =
    last._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")
  const prompt = messages[0]!._tag === "ModelRequest" ? messages[0]!.parts : []
  const asksBalance = prompt.some(
    (p) => p._tag === "UserPromptPart" && String(p.content).includes("balance")
  )
  if (asksBalance && !returned)
    return FunctionModel.toolCall("customer_balance", { include_pending: true })
  return FunctionModel.text(returned ? "Your balance is $123.45." : "Hello!")
})

describe("Dataset.evaluate", () => {
  it.effect("runs every case, evaluates it, and keeps data-set order", () =>
    Effect.gen(function* () {
      const report = yield* Dataset.evaluate(numbers(5), (i) => Effect.succeed(i === 3 ? 7 : i * 2))
      assert.strictEqual(report.name, "numbers")
      assert.deepStrictEqual(
        report.cases.map((c) => [c.name, c.output, c.assertions.EqualsExpected!.value, c.attempts]),
        [
          ["n0", 0, true, 1],
          ["n1", 2, true, 1],
          ["n2", 4, true, 1],
          ["n3", 7, false, 1],
          ["n4", 8, true, 1]
        ]
      )
      assert.strictEqual(report.cases[3]!.assertions.EqualsExpected!.reason, "expected 6, got 7")
      assert.strictEqual(report.cases[3]!.assertions.EqualsExpected!.source, "EqualsExpected")
      assert.strictEqual(report.failures.length, 0)
    })
  )

  it.effect(
    "bounds concurrency: never more than `concurrency` tasks at once, and uses all of it",
    () =>
      Effect.gen(function* () {
        const inFlight = yield* Ref.make(0)
        const peak = yield* Ref.make(0)
        const task = (i: number) =>
          Effect.gen(function* () {
            const now = yield* Ref.updateAndGet(inFlight, (n) => n + 1)
            yield* Ref.update(peak, (p) => Math.max(p, now))
            yield* Effect.sleep("1 second")
            yield* Ref.update(inFlight, (n) => n - 1)
            return i * 2
          })
        const fiber = yield* Effect.fork(Dataset.evaluate(numbers(7), task, { concurrency: 3 }))
        for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 second")
        const report = yield* Fiber.join(fiber)
        assert.strictEqual(yield* Ref.get(peak), 3)
        assert.strictEqual(report.cases.length, 7)
        assert.isTrue(report.cases.every((c) => c.durationMs === 1000))
      })
  )

  it.effect(
    "retries a failing task (number or Schedule); the last error is kept after the budget",
    () =>
      Effect.gen(function* () {
        const attempts = new Map<number, number>()
        const task = (i: number) =>
          Effect.suspend(() => {
            const n = (attempts.get(i) ?? 0) + 1
            attempts.set(i, n)
            // case i succeeds on attempt i + 1
            return n <= i ? Effect.fail(new Flaky({ attempt: n })) : Effect.succeed(i * 2)
          })
        const report = yield* Dataset.evaluate(numbers(4), task, { retries: 2 })
        assert.deepStrictEqual(
          report.cases.map((c) => [c.name, c.attempts]),
          [
            ["n0", 1],
            ["n1", 2],
            ["n2", 3]
          ]
        )
        assert.strictEqual(report.failures.length, 1)
        const failure = report.failures[0]!
        assert.strictEqual(failure.name, "n3")
        assert.strictEqual(failure.attempts, 3)
        assert.instanceOf(failure.error, Flaky)
        assert.strictEqual((failure.error as Flaky).attempt, 3)
        assert.strictEqual(failure.message, "Flaky: attempt 3 failed")

        attempts.clear()
        const spaced = yield* Effect.fork(
          Dataset.evaluate(numbers(3), task, {
            retries: Schedule.spaced("10 seconds").pipe(Schedule.intersect(Schedule.recurs(5)))
          })
        )
        yield* TestClock.adjust("20 seconds")
        const r2 = yield* Fiber.join(spaced)
        assert.deepStrictEqual(
          r2.cases.map((c) => c.attempts),
          [1, 2, 3]
        )
      })
  )

  it.effect("times out each attempt with TaskTimeout (retried like any failure)", () =>
    Effect.gen(function* () {
      const slow = (i: number) => Effect.as(Effect.sleep(i === 1 ? "5 seconds" : "1 second"), i * 2)
      const fiber = yield* Effect.fork(
        Dataset.evaluate(numbers(2), slow, { timeout: "2 seconds", retries: 1, concurrency: 2 })
      )
      yield* TestClock.adjust("2 seconds")
      yield* TestClock.adjust("2 seconds")
      const report = yield* Fiber.join(fiber)
      assert.deepStrictEqual(
        report.cases.map((c) => c.name),
        ["n0"]
      )
      const failure = report.failures[0]!
      assert.strictEqual(failure.name, "n1")
      assert.strictEqual(failure.attempts, 2)
      assert.strictEqual(failure.error._tag, "TaskTimeout")
      assert.strictEqual(failure.message, "TaskTimeout: the task took longer than 2000 ms")
    })
  )

  it.effect("a defect becomes a TaskDefect failure; other cases go on", () =>
    Effect.gen(function* () {
      const report = yield* Dataset.evaluate(numbers(2), (i) =>
        i === 0 ? Effect.die(new Error("boom")) : Effect.succeed(i * 2)
      )
      assert.strictEqual(report.cases.length, 1)
      const failure = report.failures[0]!
      assert.strictEqual(failure.error._tag, "TaskDefect")
      assert.include(failure.message, "boom")
    })
  )

  it.effect("evaluator failures are captured per case; the other evaluators still report", () =>
    Effect.gen(function* () {
      const dataset = numbers(2).pipe(
        Dataset.withEvaluators(
          Evaluator.make("picky", ({ output }: Evaluator.Context<number, number, unknown>) =>
            output === 0 ? Effect.fail(new Flaky({ attempt: 0 })) : Effect.succeed(1)
          ),
          Evaluator.make("crashy", ({ output }: Evaluator.Context<number, number, unknown>) => {
            if (output === 2) throw new Error("evaluator bug")
            return "fine"
          })
        )
      )
      const report = yield* Dataset.evaluate(dataset, (i) => Effect.succeed(i * 2))
      const [n0, n1] = report.cases
      assert.deepStrictEqual(
        n0!.evaluatorFailures.map((f) => [f.evaluator, f.message]),
        [["picky", "Flaky: attempt 0 failed"]]
      )
      assert.strictEqual(n0!.labels.crashy!.value, "fine")
      assert.strictEqual(n0!.assertions.EqualsExpected!.value, true)
      assert.deepStrictEqual(
        n1!.evaluatorFailures.map((f) => [f.evaluator, f.message]),
        [["crashy", "defect: evaluator bug"]]
      )
      assert.strictEqual(n1!.scores.picky!.value, 1)
    })
  )

  it.effect(
    "results are sorted into scores, assertions and labels; duplicate names get a suffix",
    () =>
      Effect.gen(function* () {
        const dataset = numbers(1).pipe(
          Dataset.withEvaluators(
            Evaluator.make("multi", () => ({
              accuracy: 0.5,
              tone: { value: "polite", reason: "said please" },
              EqualsExpected: false
            }))
          )
        )
        const report = yield* Dataset.evaluate(dataset, (i) => Effect.succeed(i * 2))
        const c = report.cases[0]!
        assert.deepStrictEqual(c.scores.accuracy, {
          name: "accuracy",
          value: 0.5,
          reason: undefined,
          source: "multi"
        })
        assert.deepStrictEqual(c.labels.tone, {
          name: "tone",
          value: "polite",
          reason: "said please",
          source: "multi"
        })
        assert.deepStrictEqual(Object.keys(c.assertions), ["EqualsExpected", "EqualsExpected_2"])
        assert.strictEqual(c.assertions.EqualsExpected_2!.source, "multi")
      })
  )

  it.effect(
    "captures the agent's spans per case: the tool call is found, usage comes from the spans",
    () =>
      Effect.gen(function* () {
        const dataset = Dataset.make({
          name: "bank",
          inputs: Schema.String,
          output: Schema.String,
          cases: [
            { name: "balance", inputs: "What is my balance?" },
            { name: "hello", inputs: "Hi" }
          ],
          evaluators: [Evaluator.hasToolCall("customer_balance"), Evaluator.contains("$123.45")]
        })
        const task = (prompt: string) =>
          Effect.map(agent.run(prompt).pipe(Effect.provide(model)), (r) => r.output)
        const report = yield* Dataset.evaluate(dataset, task, { concurrency: 2 })
        const [withTool, without] = report.cases
        assert.isTrue(withTool!.assertions["HasToolCall(customer_balance)"]!.value)
        assert.isTrue(withTool!.assertions.Contains!.value)
        assert.deepStrictEqual(withTool!.spans.toolCalls, ["customer_balance"])
        const run = withTool!.spans.find(SpanTree.agentRun("bank"))!
        assert.strictEqual(run.name, "invoke_agent bank")
        assert.strictEqual(run.status, "ok")
        assert.strictEqual(withTool!.spans.count(SpanTree.modelRequest), 2)
        assert.isTrue(
          withTool!.spans.any({
            ...SpanTree.toolCall("customer_balance"),
            descendantOf: SpanTree.agentRun("bank")
          })
        )
        assert.strictEqual(withTool!.usage.requests, 2)
        assert.strictEqual(withTool!.usage.toolCalls, 1)
        assert.isAbove(withTool!.usage.inputTokens, 0)
        assert.isAbove(withTool!.usage.outputTokens, 0)
        // the other case's spans are its own
        assert.deepStrictEqual(without!.spans.toolCalls, [])
        assert.isFalse(without!.assertions["HasToolCall(customer_balance)"]!.value)
        assert.strictEqual(
          without!.assertions["HasToolCall(customer_balance)"]!.reason,
          "no tool was called"
        )
        assert.strictEqual(without!.usage.requests, 1)
      })
  )

  it.effect(
    "TaskContext: reported usage wins over the spans; attributes reach evaluators and the report",
    () =>
      Effect.gen(function* () {
        const dataset = Dataset.make({
          inputs: Schema.String,
          output: Schema.String,
          cases: [{ name: "balance", inputs: "What is my balance?" }],
          evaluators: [
            Evaluator.make(
              "seen",
              ({ attributes, usage }: Evaluator.Context<string, string, unknown>) => ({
                messages: Number(attributes.messages),
                cacheRead: usage.cacheReadTokens
              })
            )
          ]
        })
        const task = (prompt: string) =>
          Effect.gen(function* () {
            const ctx = yield* TaskContext.TaskContext
            assert.strictEqual(ctx.caseName, "balance")
            assert.strictEqual(ctx.attempt, 1)
            const result = yield* agent.run(prompt).pipe(Effect.provide(model))
            yield* TaskContext.recordUsage(result.usage)
            yield* TaskContext.recordUsage(new Usage.RunUsage({ cacheReadTokens: 7 }))
            yield* TaskContext.setAttribute("messages", result.allMessages().length)
            return result.output
          })
        const report = yield* Dataset.evaluate(dataset, task)
        const c = report.cases[0]!
        assert.strictEqual(c.usage.requests, 2)
        assert.strictEqual(c.usage.cacheReadTokens, 7)
        assert.strictEqual(c.attributes.messages, 4)
        assert.strictEqual(c.scores.messages!.value, 4)
        assert.strictEqual(c.scores.cacheRead!.value, 7)
        // outside an evaluation the helpers do nothing
        yield* TaskContext.recordUsage(Usage.RunUsage.empty)
        yield* TaskContext.setAttribute("x", 1)
      })
  )

  it.effect("per-case evaluators run on their case only, after the data set's", () =>
    Effect.gen(function* () {
      const dataset = Dataset.make({
        inputs: Schema.Number,
        output: Schema.Number,
        cases: [
          { name: "a", inputs: 1, evaluators: [Evaluator.equals(2, { name: "IsTwo" })] },
          { name: "b", inputs: 2 }
        ],
        evaluators: [Evaluator.make("Positive", ({ output }) => Number(output) > 0)]
      })
      const report = yield* Dataset.evaluate(dataset, (i) => Effect.succeed(i * 2))
      assert.deepStrictEqual(Object.keys(report.cases[0]!.assertions), ["Positive", "IsTwo"])
      assert.deepStrictEqual(Object.keys(report.cases[1]!.assertions), ["Positive"])
    })
  )

  it.effect("SpanTree.capture records nested spans with status, attributes and events", () =>
    Effect.gen(function* () {
      const inner = Effect.withSpan(
        Effect.zipRight(Effect.annotateCurrentSpan("n", BigInt(5)), Effect.fail("bad")),
        "inner",
        { attributes: { kind: "child" } }
      )
      const outer = Effect.withSpan(
        Effect.zipRight(Effect.logInfo("hello"), Effect.either(inner)),
        "outer"
      )
      const [exit, tree] = yield* SpanTree.capture(outer)
      assert.strictEqual(exit._tag, "Success")
      assert.deepStrictEqual(
        tree.spans.map((s) => [s.name, s.status]),
        [
          ["outer", "ok"],
          ["inner", "error"]
        ]
      )
      const [o, i] = tree.spans
      assert.strictEqual(i!.parentSpanId, o!.spanId)
      assert.deepStrictEqual(tree.roots, [o])
      assert.deepStrictEqual(tree.children(o!), [i])
      assert.strictEqual(i!.attributes.kind, "child")
      assert.strictEqual(i!.attributes.n, "5") // a bigint, made JSON-safe
      assert.strictEqual(o!.events[0]!.name, "hello")
      assert.isTrue(tree.any({ name: "inner", status: "error", descendantOf: { name: "outer" } }))
      assert.isTrue(tree.any({ name: "outer", hasDescendant: { attributes: { kind: "child" } } }))
      assert.isFalse(tree.any({ nameMatches: /^in/, status: "ok" }))
    })
  )

  it.effect(
    "progress: one line rewritten on stderr when asked (or on a TTY), nothing otherwise",
    () =>
      Effect.gen(function* () {
        const writes: Array<string> = []
        const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: any) => {
          writes.push(String(chunk))
          return true
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => spy.mockRestore()))
        const task = (i: number) => (i === 1 ? Effect.fail("no") : Effect.succeed(i * 2))
        yield* Dataset.evaluate(numbers(3), task, { progress: true, concurrency: 1 })
        assert.deepStrictEqual(writes.slice(0, 3), [
          "\revaluating numbers: 1/3 — n0\x1b[K",
          "\revaluating numbers: 2/3 (1 failed) — n1\x1b[K",
          "\revaluating numbers: 3/3 (1 failed) — n2\x1b[K"
        ])
        assert.deepStrictEqual(writes.slice(3), ["\r\x1b[K"])
        writes.length = 0
        const wasTTY = process.stderr.isTTY
        process.stderr.isTTY = false
        yield* Effect.addFinalizer(() => Effect.sync(() => (process.stderr.isTTY = wasTTY)))
        yield* Dataset.evaluate(numbers(3), task)
        yield* Dataset.evaluate(numbers(3), task, { progress: false })
        assert.deepStrictEqual(writes, [])
        process.stderr.isTTY = true
        yield* Dataset.evaluate(numbers(1), task)
        assert.strictEqual(writes.length, 2)
      }).pipe(Effect.scoped)
  )

  it.effect("evaluators needing a service make evaluate need it; the pipeable form works", () =>
    Effect.gen(function* () {
      const judged = numbers(1).pipe(
        Dataset.withEvaluators(Evaluator.llmJudge({ rubric: "an even number", report: "score" }))
      )
      const judge = FunctionModel.layer((_m, info) =>
        FunctionModel.toolCall(info.outputTools[0]!.name, { reason: "even", pass: true, score: 1 })
      )
      const report = yield* judged.pipe(
        Dataset.evaluate((i: number) => Effect.succeed(i * 2), { name: "judged run" }),
        Effect.provide(judge)
      )
      assert.strictEqual(report.name, "judged run")
      assert.deepStrictEqual(report.cases[0]!.scores.LlmJudge, {
        name: "LlmJudge",
        value: 1,
        reason: "even",
        source: "LlmJudge"
      })
      // the judge's own agent run is not part of the task's spans
      assert.deepStrictEqual(report.cases[0]!.spans.spans, [])
    })
  )
})
