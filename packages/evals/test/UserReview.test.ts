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
