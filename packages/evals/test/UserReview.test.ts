// Scenarios a team gating releases on @agentfx/evals relies on, checked field by field.
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Dataset, Evaluator, Report, SpanTree } from "@agentfx/evals"
import { RecordedError } from "@agentfx/evals/EvalError"

class Ticket extends Schema.Class<Ticket>("Ticket")({
  id: Schema.Number,
  opened: Schema.Date,
  body: Schema.String
}) {}

const Triage = Schema.Struct({ queue: Schema.Literal("billing", "tech"), urgent: Schema.Boolean })

const tickets = Dataset.make({
  name: "triage",
  inputs: Ticket,
  output: Triage,
  metadata: Schema.Struct({ source: Schema.String, tags: Schema.Array(Schema.String) }),
  cases: [
    {
      name: "refund",
      inputs: new Ticket({ id: 1, opened: new Date("2024-03-01T10:00:00Z"), body: "Refund me" }),
      expectedOutput: { queue: "billing", urgent: false },
      metadata: { source: "email", tags: ["money"] }
    },
    {
      name: "outage: yes / no",
      inputs: new Ticket({ id: 2, opened: new Date("2024-03-02T00:00:00Z"), body: "true\nnull" }),
      expectedOutput: { queue: "tech", urgent: true }
    },
    { name: "404", inputs: new Ticket({ id: 3, opened: new Date(0), body: "" }) }
  ]
})

class Overloaded extends Data.TaggedError("Overloaded")<{ readonly id: number }> {
  override get message() {
    return `ticket ${this.id}: model overloaded`
  }
}

describe("user review: data set files", () => {
  it.effect("YAML and JSON files round-trip classes, dates, tricky strings and names exactly", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "agentfx-evals-review-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const schemas = tickets.schemas
      for (const file of ["cases.yml", "cases.json"]) {
        const path = join(dir, file)
        yield* Dataset.save(tickets, path)
        const back = yield* Dataset.load(path, schemas)
        assert.strictEqual(back.name, "triage")
        assert.deepStrictEqual(
          back.cases.map((c) => c.name),
          ["refund", "outage: yes / no", "404"]
        )
        for (const [i, c] of back.cases.entries()) {
          const original = tickets.cases[i]!
          assert.instanceOf(c.inputs, Ticket)
          assert.instanceOf(c.inputs.opened, Date)
          assert.deepStrictEqual(c.inputs, original.inputs)
          assert.deepStrictEqual(c.expectedOutput, original.expectedOutput)
          assert.deepStrictEqual(c.metadata, original.metadata)
          assert.strictEqual("expectedOutput" in c, original.expectedOutput !== undefined)
        }
        // Saving what was loaded writes the same file.
        const again = join(dir, `again-${file}`)
        yield* Dataset.save(back, again)
        assert.strictEqual(readFileSync(again, "utf8"), readFileSync(path, "utf8"))
      }
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))
  )

  it.effect("every schema problem names its case and field, in file order", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Dataset.decodeJson(
          JSON.stringify({
            cases: [
              { name: "ok", inputs: { id: 1, opened: "2024-01-01T00:00:00.000Z", body: "x" } },
              { name: "bad date", inputs: { id: 2, opened: "yesterday", body: "x" } },
              {
                inputs: { id: "3", opened: "2024-01-01T00:00:00.000Z", body: "x" },
                expectedOutput: { queue: "sales", urgent: false }
              }
            ]
          }),
          tickets.schemas
        )
      )
      assert.strictEqual(error._tag, "DatasetDecodeError")
      assert.strictEqual(error.source, "<json>")
      assert.deepStrictEqual(
        error.issues.map((i) => [i.caseIndex, i.caseName, i.field]),
        [
          [1, "bad date", "inputs.opened"],
          [2, "Case 3", "inputs.id"],
          [2, "Case 3", "expectedOutput.queue"]
        ]
      )
      assert.include(error.message, 'case "Case 3", field expectedOutput.queue: Expected "billing"')
    })
  )

  it.effect("a misspelt or unsupported case field is an error, not silently dropped", () =>
    Effect.gen(function* () {
      // pydantic-evals files spell it expected_output; dropping it would make every
      // EqualsExpected vanish and the gate pass vacuously.
      const error = yield* Effect.flip(
        Dataset.decodeYaml(
          [
            "name: migrated",
            "evaluators: [EqualsExpected]",
            "cases:",
            "  - name: one",
            "    inputs: 1",
            "    expected_output: 2",
            "  - name: two",
            "    inputs: 2",
            "    expectedOutput: 4"
          ].join("\n"),
          { inputs: Schema.Number, output: Schema.Number }
        )
      )
      assert.deepStrictEqual(
        error.issues.map((i) => [i.caseName, i.field, i.message]),
        [
          [
            undefined,
            "evaluators",
            "unknown field (a data set file has name and cases; evaluators are set in code)"
          ],
          ["one", "expected_output", "unknown field (did you mean expectedOutput?)"]
        ]
      )
      // `$schema` (editor completion from Dataset.jsonSchema) is allowed.
      const ok = yield* Dataset.decodeJson(
        JSON.stringify({ $schema: "./cases.schema.json", cases: [{ name: "a", inputs: 1 }] }),
        { inputs: Schema.Number }
      )
      assert.strictEqual(ok.cases.length, 1)
    })
  )
})

const triage = (t: Ticket) =>
  Effect.succeed({
    queue: t.body.includes("Refund") ? ("billing" as const) : ("tech" as const),
    urgent: t.id === 2
  })

describe("user review: running", () => {
  it.effect(
    "a failing, a hanging and a dying case are reported each on its own; the rest are kept",
    () =>
      Effect.gen(function* () {
        const dataset = tickets.pipe(Dataset.withEvaluators(Evaluator.equalsExpected()))
        const fiber = yield* Effect.fork(
          Dataset.evaluate(
            Dataset.addCases(dataset, [
              { name: "dies", inputs: new Ticket({ id: 4, opened: new Date(0), body: "" }) },
              {
                name: "ok again",
                inputs: new Ticket({ id: 5, opened: new Date(0), body: "Refund" })
              }
            ]),
            (t) =>
              t.id === 1
                ? Effect.fail(new Overloaded({ id: 1 }))
                : t.id === 3
                  ? Effect.never
                  : t.id === 4
                    ? Effect.dieMessage("out of memory")
                    : triage(t),
            { timeout: "30 seconds", retries: 2, concurrency: 2 }
          )
        )
        yield* TestClock.adjust("30 seconds")
        yield* TestClock.adjust("30 seconds")
        yield* TestClock.adjust("30 seconds")
        const report = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          report.cases.map((c) => [c.name, c.attempts, c.assertions.EqualsExpected?.value]),
          [
            ["outage: yes / no", 1, true],
            ["ok again", 1, undefined]
          ]
        )
        assert.deepStrictEqual(
          report.failures.map((f) => [f.name, f.error._tag, f.message, f.attempts]),
          [
            ["refund", "Overloaded", "Overloaded: ticket 1: model overloaded", 3],
            ["404", "TaskTimeout", "TaskTimeout: the task took longer than 30000 ms", 3],
            // defects are not retried
            ["dies", "TaskDefect", "TaskDefect: out of memory", 1]
          ]
        )
        const refund = report.failures[0]!
        assert.instanceOf(refund.error, Overloaded)
        assert.deepStrictEqual(refund.inputs, dataset.cases[0]!.inputs)
        assert.deepStrictEqual(refund.expectedOutput, { queue: "billing", urgent: false })
        assert.deepStrictEqual(refund.metadata, { source: "email", tags: ["money"] })
      })
  )

  it.effect("a task that interrupts itself is a failure of its case, not of the evaluation", () =>
    Effect.gen(function* () {
      const report = yield* Dataset.evaluate(tickets, (t) =>
        t.id === 1 ? Effect.interrupt : triage(t)
      )
      assert.deepStrictEqual(
        report.cases.map((c) => c.name),
        ["outage: yes / no", "404"]
      )
      assert.deepStrictEqual(
        report.failures.map((f) => [f.name, f.error._tag, f.message]),
        [["refund", "TaskDefect", "TaskDefect: the task was interrupted"]]
      )
    })
  )

  it.effect("an evaluator that interrupts itself is an evaluator failure of its case", () =>
    Effect.gen(function* () {
      const report = yield* Dataset.evaluate(
        tickets.pipe(
          Dataset.withEvaluators(
            Evaluator.make("quits", () => Effect.interrupt),
            Evaluator.equalsExpected()
          )
        ),
        triage
      )
      assert.strictEqual(report.cases.length, 3)
      for (const c of report.cases) {
        assert.deepStrictEqual(c.evaluatorFailures, [
          { evaluator: "quits", message: "interrupted" }
        ])
      }
      assert.strictEqual(report.cases[0]!.assertions.EqualsExpected!.value, true)
    })
  )

  it.effect("at most `concurrency` tasks are in flight; the report keeps data-set order", () =>
    Effect.gen(function* () {
      let inFlight = 0
      let most = 0
      const dataset = Dataset.make({
        inputs: Schema.Number,
        output: Schema.Number,
        cases: Array.from({ length: 7 }, (_, i) => ({ name: `c${i}`, inputs: i }))
      })
      const fiber = yield* Effect.fork(
        Dataset.evaluate(
          dataset,
          (i) =>
            Effect.gen(function* () {
              inFlight++
              most = Math.max(most, inFlight)
              // later cases finish first
              yield* Effect.sleep(`${10 - i} seconds`)
              inFlight--
              return i
            }),
          { concurrency: 3 }
        )
      )
      for (let s = 0; s < 40; s++) yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      assert.strictEqual(most, 3)
      assert.deepStrictEqual(
        report.cases.map((c) => c.output),
        [0, 1, 2, 3, 4, 5, 6]
      )
      assert.deepStrictEqual(
        report.cases.map((c) => c.durationMs),
        [10000, 9000, 8000, 7000, 6000, 5000, 4000]
      )
    })
  )
})

describe("user review: interruption from outside", () => {
  it.effect("interrupting the evaluation stops every case and reports nothing", () =>
    Effect.gen(function* () {
      let started = 0
      const fiber = yield* Effect.fork(
        Dataset.evaluate(
          tickets,
          () =>
            Effect.zipRight(
              Effect.sync(() => started++),
              Effect.never
            ),
          { concurrency: "unbounded", timeout: "1 hour" }
        )
      )
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      assert.strictEqual(started, 3)
      assert.strictEqual(exit._tag, "Failure")
      assert.isTrue(exit._tag === "Failure" && Cause.isInterruptedOnly(exit.cause))
    })
  )
})

// Four cases with hand-checked numbers: a and b have a score, c has none, d's task fails.
const graded = Dataset.make({
  name: "graded",
  inputs: Schema.String,
  output: Schema.String,
  cases: [
    { name: "a", inputs: "a", expectedOutput: "A" },
    { name: "b", inputs: "b", expectedOutput: "B!" },
    { name: "c", inputs: "ccc" },
    { name: "d", inputs: "d" }
  ],
  evaluators: [
    Evaluator.equalsExpected(),
    Evaluator.make("short", ({ output }: Evaluator.Context<string, string, unknown>) =>
      output.length <= 1 ? true : { value: false, reason: `${output.length} characters` }
    ),
    Evaluator.make("acc", ({ inputs }: Evaluator.Context<string, string, unknown>) =>
      inputs === "a" ? 1 : inputs === "b" ? 0.5 : {}
    ),
    Evaluator.make("tone", ({ inputs }: Evaluator.Context<string, string, unknown>) =>
      inputs === "ccc" ? "curt" : "polite"
    )
  ]
})

const runGraded = Effect.gen(function* () {
  const fiber = yield* Effect.fork(
    Dataset.evaluate(graded, (s) =>
      s === "d"
        ? Effect.fail(new Overloaded({ id: 4 }))
        : Effect.as(
            Effect.sleep(`${s.length === 3 ? 3 : s === "a" ? 1 : 2} seconds`),
            s.toUpperCase()
          )
    )
  )
  yield* TestClock.adjust("3 seconds")
  return yield* Fiber.join(fiber)
})

describe("user review: reports", () => {
  it.effect("averages and the rendered table match the numbers worked out by hand", () =>
    Effect.gen(function* () {
      const report = yield* runGraded
      const avg = Report.averages(report)
      assert.strictEqual(avg.cases, 3)
      assert.strictEqual(avg.failures, 1)
      assert.deepStrictEqual(avg.scores, { acc: 0.75 })
      // EqualsExpected: a ✔, b ✗ (c has no expected output); short: a ✔, b ✔, c ✗
      assert.deepStrictEqual(avg.assertions, { EqualsExpected: 0.5, short: 2 / 3 })
      assert.strictEqual(avg.assertionPassRate, 3 / 5)
      assert.deepStrictEqual(avg.labels, { tone: { polite: 2 / 3, curt: 1 / 3 } })
      assert.strictEqual(avg.durationMs, 2000)
      assert.strictEqual(avg.usage.requests, 0)
      assert.strictEqual(
        Report.render(report),
        [
          "Evaluation: graded (3 passed the task, 1 failed)",
          "Case     | Scores    | Labels                        | Assertions | Duration",
          "---------+-----------+-------------------------------+------------+---------",
          "a        | acc: 1.00 | tone: polite                  | ✔✔         |    1.0 s",
          "b        | acc: 0.50 | tone: polite                  | ✗✔         |    2.0 s",
          "c        |           | tone: curt                    | ✗          |    3.0 s",
          "---------+-----------+-------------------------------+------------+---------",
          "averages | acc: 0.75 | tone: polite 66.7% curt 33.3% | 60% ✔      |    2.0 s",
          "Task failures:",
          "  d: Overloaded: ticket 4: model overloaded",
          "Failed assertions:",
          "  b / EqualsExpected: expected B!, got B",
          "  c / short: 3 characters"
        ].join("\n")
      )
    })
  )

  it.effect(
    "a saved report loads back to the same report, and diffs against itself as unchanged",
    () =>
      Effect.gen(function* () {
        const report = yield* runGraded
        const text = Report.toJson(report)
        const back = yield* Report.fromJson(text, graded.schemas)
        assert.strictEqual(Report.toJson(back), text)
        assert.strictEqual(Report.render(back), Report.render(report))
        assert.deepStrictEqual(
          back.failures[0]!.error,
          new RecordedError({
            tag: "Overloaded",
            message: "ticket 4: model overloaded"
          })
        )
        const d = Report.diff(report, back)
        assert.deepStrictEqual(d.averages.assertionPassRate, {
          baseline: 0.6,
          candidate: 0.6,
          delta: 0
        })
        assert.deepStrictEqual(d.averages.scores, {
          acc: { baseline: 0.75, candidate: 0.75, delta: 0 }
        })
        assert.deepStrictEqual(d.averages.failures, { baseline: 1, candidate: 1, delta: 0 })
        assert.deepStrictEqual(
          d.cases.map((c) => [c.name, c.baseline, c.candidate, c.assertionPassRate.delta]),
          [
            ["a", "ok", "ok", 0],
            ["b", "ok", "ok", 0],
            ["c", "ok", "ok", 0],
            ["d", "failed", "failed", undefined]
          ]
        )
      })
  )

  it.effect("empty data sets and cases without evaluators render and average without NaN", () =>
    Effect.gen(function* () {
      const empty = yield* Dataset.evaluate(
        Dataset.make({ name: "empty", inputs: Schema.String }),
        Effect.succeed
      )
      const avg = Report.averages(empty)
      assert.deepStrictEqual(
        [avg.cases, avg.failures, avg.durationMs, avg.assertionPassRate, avg.scores, avg.labels],
        [0, 0, undefined, undefined, {}, {}]
      )
      assert.strictEqual(Report.render(empty), "Evaluation: empty (0 passed the task, 0 failed)")
      const d = Report.diff(empty, empty)
      assert.deepStrictEqual(d.cases, [])
      assert.strictEqual(
        Report.renderDiff(d),
        [
          "Diff: empty → empty",
          "Case     | Task | Duration",
          "---------+------+---------",
          "---------+------+---------",
          "averages |      |"
        ].join("\n")
      )
      const bare = yield* Dataset.evaluate(
        Dataset.make({ name: "bare", inputs: Schema.String, cases: [{ name: "x", inputs: "x" }] }),
        Effect.succeed
      )
      assert.strictEqual(
        Report.render(bare),
        [
          "Evaluation: bare (1 passed the task, 0 failed)",
          "Case     | Duration",
          "---------+---------",
          "x        |     0 ms",
          "---------+---------",
          "averages |     0 ms"
        ].join("\n")
      )
    })
  )

  it.effect(
    "a NaN score is an evaluator failure: it neither poisons averages nor breaks the saved report",
    () =>
      Effect.gen(function* () {
        const dataset = Dataset.make({
          name: "ratio",
          inputs: Schema.Array(Schema.Boolean),
          cases: [
            { name: "some", inputs: [true, false] },
            { name: "none", inputs: [] }
          ],
          evaluators: [
            // the classic: 0 / 0 on an empty case
            Evaluator.make(
              "hitRate",
              ({ inputs }: Evaluator.Context<ReadonlyArray<boolean>, unknown, unknown>) =>
                inputs.filter(Boolean).length / inputs.length
            ),
            Evaluator.make("many", () => ({ inf: Number.POSITIVE_INFINITY, ok: true }))
          ]
        })
        const report = yield* Dataset.evaluate(dataset, Effect.succeed)
        assert.deepStrictEqual(
          report.cases.map((c) => c.scores.hitRate?.value),
          [0.5, undefined]
        )
        assert.deepStrictEqual(report.cases[1]!.evaluatorFailures, [
          new Evaluator.EvaluatorFailure({
            evaluator: "hitRate",
            message: "hitRate is NaN: a score must be a finite number"
          }),
          new Evaluator.EvaluatorFailure({
            evaluator: "many",
            message: "inf is Infinity: a score must be a finite number"
          })
        ])
        assert.deepStrictEqual(report.cases[1]!.assertions.ok?.value, undefined)
        assert.deepStrictEqual(Report.averages(report).scores, { hitRate: 0.5 })
        const back = yield* Report.fromJson(Report.toJson(report), report.schemas)
        assert.deepStrictEqual(Report.averages(back).scores, { hitRate: 0.5 })
      })
  )
})

// An agent that looks the city up with a tool, then answers; its judge is scripted too.
const forecast = Tool.make("forecast", {
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(city === "London" ? "rain" : "sun")
})
const weather = Agent.make({ name: "weather", tools: [forecast] })
const weatherModel = FunctionModel.layer((messages) => {
  const last = messages[messages.length - 1]!
  const result =
    last._tag === "ModelRequest" ? last.parts.find((p) => p._tag === "ToolReturnPart") : undefined
  if (result !== undefined) return FunctionModel.text(`Expect ${result.contentText}.`)
  const first = messages[0]!._tag === "ModelRequest" ? messages[0]!.parts[0] : undefined
  const city = first?._tag === "UserPromptPart" ? String(first.content) : ""
  return city === "Nowhere"
    ? FunctionModel.text("I do not know.")
    : FunctionModel.toolCall("forecast", { city })
})
const judge = FunctionModel.layer((messages, info) => {
  const request = messages[messages.length - 1]!
  const prompt =
    request._tag === "ModelRequest"
      ? request.parts.find((p) => p._tag === "UserPromptPart")
      : undefined
  const text = String(prompt?.content ?? "")
  const good = text.includes("Expect")
  return FunctionModel.toolCall(info.outputTools[0]!.name, {
    reason: good ? "a forecast" : "no forecast",
    pass: good,
    score: good ? 0.9 : 0.1
  })
})

describe("user review: agents, spans and the judge", () => {
  it.effect("span evaluators and usage see the task's agent run; the judge grades each case", () =>
    Effect.gen(function* () {
      const dataset = Dataset.make({
        name: "weather",
        inputs: Schema.String,
        output: Schema.String,
        cases: [
          { name: "london", inputs: "London" },
          { name: "nowhere", inputs: "Nowhere" }
        ],
        evaluators: [
          Evaluator.hasToolCall("forecast"),
          Evaluator.hasMatchingSpan({
            ...SpanTree.toolCall("forecast"),
            descendantOf: SpanTree.agentRun("weather")
          }),
          Evaluator.make("requests", ({ spans }) => spans.count(SpanTree.modelRequest)),
          Evaluator.llmJudge({ rubric: "A forecast", model: judge, report: "both" })
        ]
      })
      const report = yield* Dataset.evaluate(dataset, (city) =>
        weather.run(city).pipe(
          Effect.map((r) => r.output),
          Effect.provide(weatherModel)
        )
      )
      const [london, nowhere] = report.cases
      assert.strictEqual(london!.output, "Expect rain.")
      assert.deepStrictEqual(london!.spans.toolCalls, ["forecast"])
      assert.deepStrictEqual(
        Object.values(london!.assertions).map((a) => [a.name, a.value]),
        [
          ["HasToolCall(forecast)", true],
          ["HasMatchingSpan", true],
          ["LlmJudge", true]
        ]
      )
      assert.deepStrictEqual(london!.scores.requests!.value, 2)
      assert.deepStrictEqual(london!.scores["LlmJudge.score"], {
        name: "LlmJudge.score",
        value: 0.9,
        reason: "a forecast",
        source: "LlmJudge"
      })
      assert.deepStrictEqual([london!.usage.requests, london!.usage.toolCalls], [2, 1])
      // The judge's own model requests are not the task's.
      assert.strictEqual(london!.spans.count(SpanTree.agentRun("llm-judge")), 0)
      assert.deepStrictEqual(
        Object.values(nowhere!.assertions).map((a) => [a.name, a.value, a.reason]),
        [
          ["HasToolCall(forecast)", false, "no tool was called"],
          [
            "HasMatchingSpan",
            false,
            `no span matches ${JSON.stringify({
              attributes: {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "forecast"
              },
              descendantOf: {
                attributes: {
                  "gen_ai.operation.name": "invoke_agent",
                  "gen_ai.agent.name": "weather"
                }
              }
            })}`
          ],
          ["LlmJudge", false, "no forecast"]
        ]
      )
      assert.deepStrictEqual([nowhere!.usage.requests, nowhere!.usage.toolCalls], [1, 0])
    })
  )

  it.effect(
    "a judge that cannot answer is an evaluator failure of its case; the others still count",
    () =>
      Effect.gen(function* () {
        const broken = FunctionModel.layer(() => FunctionModel.text("I refuse to use tools"))
        const dataset = Dataset.make({
          inputs: Schema.String,
          output: Schema.String,
          cases: [{ name: "x", inputs: "x", expectedOutput: "x" }],
          evaluators: [
            Evaluator.llmJudge({ rubric: "anything", model: broken, name: "Judge" }),
            Evaluator.equalsExpected()
          ]
        })
        const report = yield* Dataset.evaluate(dataset, Effect.succeed)
        const c = report.cases[0]!
        assert.deepStrictEqual(Object.keys(c.assertions), ["EqualsExpected"])
        assert.strictEqual(c.evaluatorFailures.length, 1)
        assert.strictEqual(c.evaluatorFailures[0]!.evaluator, "Judge")
        assert.match(c.evaluatorFailures[0]!.message, /^UnexpectedModelBehavior: /)
      })
  )
})

describe("user review: secrets", () => {
  it.effect("Redacted values stay redacted in rendered and saved reports", () =>
    Effect.gen(function* () {
      const Inputs = Schema.Struct({
        apiKey: Schema.Redacted(Schema.String),
        prompt: Schema.String
      })
      const dataset = Dataset.make({
        name: "keys",
        inputs: Inputs,
        output: Schema.Struct({ echo: Schema.Redacted(Schema.String) }),
        cases: [
          { name: "ok", inputs: { apiKey: Redacted.make("sk-live-123"), prompt: "hi" } },
          { name: "fails", inputs: { apiKey: Redacted.make("sk-live-456"), prompt: "bye" } }
        ],
        evaluators: [
          Evaluator.make(
            "leaky",
            ({ inputs }: Evaluator.Context<typeof Inputs.Type, unknown, unknown>) =>
              Effect.fail({ key: inputs.apiKey })
          )
        ]
      })
      const report = yield* Dataset.evaluate(dataset, (i) =>
        i.prompt === "bye"
          ? // a message built from the secret itself, not from the Redacted
            Effect.fail(new Error(`rejected ${Redacted.value(i.apiKey)}`))
          : Effect.succeed({ echo: i.apiKey })
      )
      const rendered = Report.render(report, { includeInputs: true, includeOutput: true })
      const json = Report.toJson(report)
      for (const text of [rendered, json]) {
        assert.notInclude(text, "sk-live")
      }
      assert.include(json, '"apiKey": "<redacted>"')
      assert.include(json, '"message": "rejected <redacted>"')
      assert.include(json, '"echo": "<redacted>"')
      // the rendered report hides it as well
      assert.include(Report.render(report), "fails: Error: rejected <redacted>")
      const back = yield* Report.fromJson(json, report.schemas)
      assert.isTrue(Redacted.isRedacted(back.cases[0]!.inputs.apiKey))
      assert.strictEqual(back.cases[0]!.inputs.prompt, "hi")
    })
  )
})
