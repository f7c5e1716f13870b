import { Usage } from "@agentfx/core"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Dataset, Evaluator, Report, TaskContext } from "@agentfx/evals"

class Refused extends Data.TaggedError("Refused")<{ readonly why: string }> {
  override get message() {
    return this.why
  }
}

const Question = Schema.Struct({ text: Schema.String, at: Schema.DateFromString })
const schemas = {
  inputs: Question,
  output: Schema.String,
  metadata: Schema.Struct({ level: Schema.Number })
}
const at = new Date("2026-01-01T00:00:00.000Z")

const dataset = Dataset.make({
  name: "support",
  ...schemas,
  cases: [
    {
      name: "balance",
      inputs: { text: "balance?", at },
      expectedOutput: "$12",
      metadata: { level: 1 }
    },
    { name: "card", inputs: { text: "lost card", at }, expectedOutput: "blocked" },
    { name: "loan", inputs: { text: "loan?", at } },
    { name: "rude", inputs: { text: "!!!", at } }
  ],
  evaluators: [
    Evaluator.equalsExpected(),
    Evaluator.make("quality", ({ output }: Evaluator.Context<unknown, string, unknown>) => ({
      length: output.length,
      tone: output.includes("$") ? "factual" : "chatty"
    }))
  ]
})

/** A task whose answers and durations depend on `version`. */
const task =
  (version: 1 | 2) =>
  (q: typeof Question.Type): Effect.Effect<string, Refused> =>
    Effect.gen(function* () {
      yield* TaskContext.recordUsage(
        new Usage.RunUsage({ requests: 1, inputTokens: 10, outputTokens: version * 5 })
      )
      yield* Effect.sleep(version === 1 ? "40 millis" : "25 millis")
      if (q.text === "!!!") return yield* new Refused({ why: "will not answer" })
      if (q.text === "balance?") return "$12"
      if (q.text === "lost card") return version === 1 ? "sorry" : "blocked"
      return "Let me check."
    })

const evaluate = (version: 1 | 2) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(
      Dataset.evaluate(dataset, task(version), { name: `v${version}`, concurrency: 1 })
    )
    for (let i = 0; i < 4; i++) yield* TestClock.adjust("40 millis")
    return yield* Fiber.join(fiber)
  })

describe("Report", () => {
  it.effect(
    "averages: mean scores, assertion pass rate, label shares, mean duration, total usage",
    () =>
      Effect.gen(function* () {
        const report = yield* evaluate(1)
        const avg = Report.averages(report)
        assert.strictEqual(avg.cases, 3)
        assert.strictEqual(avg.failures, 1)
        assert.deepStrictEqual(avg.scores, { length: (3 + 5 + 13) / 3 })
        assert.deepStrictEqual(avg.assertions, { EqualsExpected: 0.5 })
        assert.strictEqual(avg.assertionPassRate, 0.5)
        assert.deepStrictEqual(avg.labels, { tone: { factual: 1 / 3, chatty: 2 / 3 } })
        assert.strictEqual(avg.durationMs, 40)
        assert.strictEqual(avg.usage.requests, 3)
        assert.strictEqual(avg.usage.outputTokens, 15)
      })
  )

  it.effect("render: an aligned table with averages, failures and failed assertions' reasons", () =>
    Effect.gen(function* () {
      const report = yield* evaluate(1)
      assert.strictEqual(
        Report.render(report),
        [
          "Evaluation: v1 (3 passed the task, 1 failed)",
          "Case     | Scores        | Labels                           | Assertions | Duration | Usage",
          "---------+---------------+----------------------------------+------------+----------+--------------",
          "balance  | length: 3.00  | tone: factual                    | ✔          |    40 ms | 1 req, 15 tok",
          "card     | length: 5.00  | tone: chatty                     | ✗          |    40 ms | 1 req, 15 tok",
          "loan     | length: 13.00 | tone: chatty                     |            |    40 ms | 1 req, 15 tok",
          "---------+---------------+----------------------------------+------------+----------+--------------",
          "averages | length: 7.00  | tone: factual 33.3% chatty 66.7% | 50% ✔      |    40 ms | 3 req, 45 tok",
          "Task failures:",
          "  rude: Refused: will not answer",
          "Failed assertions:",
          "  card / EqualsExpected: expected blocked, got sorry"
        ].join("\n")
      )
      const wide = Report.render(report, {
        includeInputs: true,
        includeOutput: true,
        includeExpectedOutput: true,
        reasons: "none",
        maxCellWidth: 200
      })
      const header = wide.split("\n")[1]!
      assert.match(header, /^Case {5}\| Inputs +\| Output +\| Expected +\| Scores/)
      assert.include(wide, '{"text":"balance?","at":"2026-01-01T00:00:00.000Z"}')
      assert.match(wide, /\| \$12 +\| \$12 +\| length: 3.00/)
      const narrow = Report.render(report, { maxCellWidth: 20 })
      assert.include(narrow, "| tone: factual 33.3%… |")
      assert.notInclude(wide, "Failed assertions:")
    })
  )

  it.effect("JSON: Schema-encoded, and read back with the data set's schemas", () =>
    Effect.gen(function* () {
      const report = yield* evaluate(1)
      const json = Report.toJson(report)
      const data = JSON.parse(json)
      assert.strictEqual(data.name, "v1")
      assert.deepStrictEqual(data.cases[0].inputs, {
        text: "balance?",
        at: "2026-01-01T00:00:00.000Z"
      })
      assert.deepStrictEqual(data.cases[0].metadata, { level: 1 })
      assert.strictEqual(data.cases[0].usage.requests, 1)
      assert.deepStrictEqual(data.cases[1].assertions.EqualsExpected, {
        name: "EqualsExpected",
        value: false,
        reason: "expected blocked, got sorry",
        source: "EqualsExpected"
      })
      assert.deepStrictEqual(data.failures[0].error, { tag: "Refused", message: "will not answer" })
      assert.notProperty(data.cases[2], "expectedOutput")

      const back = yield* Report.fromJson(json, schemas)
      assert.strictEqual(back.cases[0]!.inputs.at.getTime(), at.getTime())
      assert.strictEqual(back.failures[0]!.error.tag, "Refused")
      assert.strictEqual(back.failures[0]!.message, "Refused: will not answer")
      assert.instanceOf(back.cases[0]!.usage, Usage.RunUsage)
      assert.strictEqual(Report.render(back), Report.render(report))

      const bad = yield* Effect.flip(
        Report.fromJson('{"name": "x", "cases": [{}], "failures": []}', schemas)
      )
      assert.strictEqual(bad._tag, "ReportDecodeError")
      assert.include(bad.message, "cases")
      const badValue = yield* Effect.flip(
        Report.fromJson(json.replace('"level": 1', '"level": "one"'), schemas, "base.json")
      )
      assert.include(badValue.message, 'base.json: case "balance", field metadata')
    })
  )

  it.effect("save / load a baseline through FileSystem", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "agentfx-report-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const report = yield* evaluate(1)
      const path = join(dir, "baseline.json")
      yield* Report.save(report, path, { spans: false })
      const loaded = yield* Report.load(path, schemas)
      assert.strictEqual(loaded.cases.length, 3)
      assert.deepStrictEqual(Report.diff(loaded, report).averages.scores.length, {
        baseline: 7,
        candidate: 7,
        delta: 0
      })
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))
  )

  it.effect("diff: per-case and averaged score / assertion / duration deltas, rendered", () =>
    Effect.gen(function* () {
      const baseline = yield* evaluate(1)
      const candidate = yield* evaluate(2)
      const d = Report.diff(baseline, candidate)
      assert.strictEqual(d.baselineName, "v1")
      assert.strictEqual(d.candidateName, "v2")
      const card = d.cases.find((c) => c.name === "card")!
      assert.deepStrictEqual(card.scores.length, { baseline: 5, candidate: 7, delta: 2 })
      assert.deepStrictEqual(card.assertions.EqualsExpected, { baseline: false, candidate: true })
      assert.deepStrictEqual(card.assertionPassRate, { baseline: 0, candidate: 1, delta: 1 })
      assert.deepStrictEqual(card.durationMs, { baseline: 40, candidate: 25, delta: -15 })
      const rude = d.cases.find((c) => c.name === "rude")!
      assert.strictEqual(rude.baseline, "failed")
      assert.strictEqual(rude.candidate, "failed")
      assert.deepStrictEqual(d.averages.assertionPassRate, {
        baseline: 0.5,
        candidate: 1,
        delta: 0.5
      })
      assert.deepStrictEqual(d.averages.durationMs, { baseline: 40, candidate: 25, delta: -15 })
      assert.deepStrictEqual(d.averages.failures, { baseline: 1, candidate: 1, delta: 0 })
      assert.strictEqual(
        Report.renderDiff(d),
        [
          "Diff: v1 → v2",
          "Case     | Task   | Scores                        | Assertions        | Duration",
          "---------+--------+-------------------------------+-------------------+-----------------------",
          "balance  | ok     | length: 3.00 → 3.00 (±0.00)   | ✔ → ✔             | 40 ms → 25 ms (-15 ms)",
          "card     | ok     | length: 5.00 → 7.00 (+2.00)   | ✗ → ✔             | 40 ms → 25 ms (-15 ms)",
          "loan     | ok     | length: 13.00 → 13.00 (±0.00) |                   | 40 ms → 25 ms (-15 ms)",
          "rude     | failed |                               |                   |",
          "---------+--------+-------------------------------+-------------------+-----------------------",
          "averages |        | length: 7.00 → 7.67 (+0.67)   | 50% → 100% (+50%) | 40 ms → 25 ms (-15 ms)",
          "Changed assertions:",
          "  card / EqualsExpected: ✗ → ✔"
        ].join("\n")
      )
    })
  )

  it.effect("diff: cases only in one report, and a case that started failing", () =>
    Effect.gen(function* () {
      const baseline = yield* evaluate(1)
      const smaller = Dataset.make({
        name: "support",
        ...schemas,
        cases: dataset.cases.slice(0, 2),
        evaluators: dataset.evaluators
      })
      const failing = yield* Dataset.evaluate(smaller, (q) =>
        q.text === "balance?"
          ? Effect.fail(new Refused({ why: "down" }))
          : Effect.succeed("blocked")
      )
      const d = Report.diff(baseline, failing)
      assert.deepStrictEqual(
        d.cases.map((c) => [c.name, c.baseline, c.candidate]),
        [
          ["balance", "ok", "failed"],
          ["card", "ok", "ok"],
          ["loan", "ok", "absent"],
          ["rude", "failed", "absent"]
        ]
      )
      assert.deepStrictEqual(d.cases[0]!.scores.length, {
        baseline: 3,
        candidate: undefined,
        delta: undefined
      })
      assert.deepStrictEqual(d.averages.failures, { baseline: 1, candidate: 1, delta: 0 })
      const text = Report.renderDiff(d)
      assert.include(
        text,
        "balance  | ok → failed     | length: 3.00 → –            | ✔ → ·             | 40 ms → –"
      )
      assert.include(text, "loan     | ok → absent     | length: 13.00 → –")
      assert.include(text, "rude     | failed → absent |")
    })
  )
})
