// Scenarios a team gating releases on @agentfx/evals relies on, checked field by field.
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
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
