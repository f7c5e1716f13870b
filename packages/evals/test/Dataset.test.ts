import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Dataset, Evaluator } from "@agentfx/evals"

class Query extends Schema.Class<Query>("Query")({
  customerId: Schema.Number,
  question: Schema.String
}) {}
const Answer = Schema.Struct({
  advice: Schema.String,
  risk: Schema.Int.pipe(Schema.between(0, 10))
})
const Meta = Schema.Struct({
  difficulty: Schema.Literal("easy", "hard"),
  since: Schema.DateFromString
})

const schemas = { inputs: Query, output: Answer, metadata: Meta }

const dataset = Dataset.make({
  name: "support",
  ...schemas,
  cases: [
    {
      name: "balance",
      inputs: new Query({ customerId: 123, question: "What is my balance?" }),
      expectedOutput: { advice: "Your balance is $123.45", risk: 1 },
      metadata: { difficulty: "easy", since: new Date("2025-01-02T00:00:00.000Z") }
    },
    { name: "lost card", inputs: new Query({ customerId: 7, question: "I lost my card" }) }
  ],
  evaluators: [Evaluator.equalsExpected()]
})

describe("Dataset", () => {
  it.effect(
    "round-trips through YAML: classes, dates and absent fields come back as they were",
    () =>
      Effect.gen(function* () {
        const yaml = yield* Dataset.encodeYaml(dataset)
        assert.include(yaml, "name: support")
        assert.include(yaml, "since: 2025-01-02T00:00:00.000Z")
        assert.notInclude(yaml, "expectedOutput: null")
        const back = yield* Dataset.decodeYaml(yaml, schemas)
        assert.strictEqual(back.name, "support")
        assert.deepStrictEqual(
          back.cases.map((c) => c.name),
          ["balance", "lost card"]
        )
        const [balance, lost] = back.cases
        assert.instanceOf(balance!.inputs, Query)
        assert.strictEqual(balance!.inputs.customerId, 123)
        assert.deepStrictEqual(balance!.expectedOutput, {
          advice: "Your balance is $123.45",
          risk: 1
        })
        assert.instanceOf(balance!.metadata!.since, Date)
        assert.strictEqual(balance!.metadata!.since.toISOString(), "2025-01-02T00:00:00.000Z")
        assert.isUndefined(lost!.expectedOutput)
        assert.isUndefined(lost!.metadata)
        assert.isFalse("expectedOutput" in lost!)
      })
  )

  it.effect("round-trips through JSON, and unnamed cases get a name from their position", () =>
    Effect.gen(function* () {
      const json = yield* Dataset.encodeJson(dataset)
      const back = yield* Dataset.decodeJson(json, schemas)
      assert.strictEqual(yield* Dataset.encodeJson(back), json)
      const unnamed = yield* Dataset.decodeJson(
        JSON.stringify({
          cases: [{ inputs: "a" }, { inputs: "b", name: "second" }, { inputs: "c" }]
        }),
        { inputs: Schema.String }
      )
      assert.strictEqual(unnamed.name, "dataset")
      assert.deepStrictEqual(
        unnamed.cases.map((c) => [c.name, c.inputs]),
        [
          ["Case 1", "a"],
          ["second", "b"],
          ["Case 3", "c"]
        ]
      )
    })
  )

  it.effect("decode errors name every bad case and field", () =>
    Effect.gen(function* () {
      const yaml = [
        "name: support",
        "cases:",
        "  - name: ok",
        "    inputs: { customerId: 1, question: hi }",
        "  - name: bad-id",
        "    inputs: { customerId: abc, question: hi }",
        "  - inputs: { customerId: 2, question: hi }",
        "    expectedOutput: { advice: x, risk: 11 }",
        "    metadata: { difficulty: medium, since: 2025-01-01 }"
      ].join("\n")
      const error = yield* Effect.flip(Dataset.decodeYaml(yaml, schemas, "cases.yaml"))
      assert.strictEqual(error._tag, "DatasetDecodeError")
      assert.strictEqual(error.source, "cases.yaml")
      assert.deepStrictEqual(
        error.issues.map((i) => [i.caseIndex, i.caseName, i.field]),
        [
          [1, "bad-id", "inputs.customerId"],
          [2, "Case 3", "expectedOutput.risk"],
          [2, "Case 3", "metadata.difficulty"]
        ]
      )
      assert.include(error.issues[0]!.message, '"abc"')
      assert.include(error.message, 'cases.yaml: case "bad-id", field inputs.customerId:')
      assert.include(error.message, 'case "Case 3", field metadata.difficulty:')
    })
  )

  it.effect("bad files: not YAML, no cases array, duplicate names", () =>
    Effect.gen(function* () {
      const notYaml = yield* Effect.flip(Dataset.decodeYaml("cases: [unclosed", schemas))
      assert.match(notYaml.issues[0]!.message, /^not valid YAML: /)
      const notJson = yield* Effect.flip(Dataset.decodeJson("{", schemas))
      assert.match(notJson.issues[0]!.message, /^not valid JSON: /)
      const noCases = yield* Effect.flip(Dataset.decodeJson('{"name": "x"}', schemas))
      assert.strictEqual(noCases.issues[0]!.field, "cases")
      const twice = yield* Effect.flip(
        Dataset.decodeJson('{"cases": [{"name": "a", "inputs": 1}, {"name": "a", "inputs": 2}]}', {
          inputs: Schema.Number
        })
      )
      assert.deepStrictEqual(
        twice.issues.map((i) => [i.caseIndex, i.field, i.message]),
        [[1, "name", "another case has this name"]]
      )
      assert.throws(
        () =>
          Dataset.make({
            inputs: Schema.Number,
            cases: [
              { name: "a", inputs: 1 },
              { name: "a", inputs: 2 }
            ]
          }),
        /two cases are named "a"/
      )
    })
  )

  it.effect("encoding a value the schema rejects names the case and field", () =>
    Effect.gen(function* () {
      const bad = Dataset.make({
        inputs: Schema.Number,
        output: Answer,
        cases: [{ name: "x", inputs: 1, expectedOutput: { advice: "a", risk: 99 } }]
      })
      const error = yield* Effect.flip(Dataset.encodeYaml(bad))
      assert.strictEqual(error._tag, "DatasetEncodeError")
      assert.strictEqual(error.caseName, "x")
      assert.strictEqual(error.field, "expectedOutput")
    })
  )

  it.effect("save / load through FileSystem picks the format from the extension", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "agentfx-evals-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const yamlPath = join(dir, "cases.yaml")
      const jsonPath = join(dir, "cases.json")
      yield* Dataset.save(dataset, yamlPath)
      yield* Dataset.save(dataset, jsonPath)
      assert.match(readFileSync(yamlPath, "utf8"), /^name: support\ncases:\n {2}- name: balance/)
      assert.strictEqual(JSON.parse(readFileSync(jsonPath, "utf8")).cases[1].name, "lost card")
      const fromYaml = yield* Dataset.load(yamlPath, schemas)
      const fromJson = yield* Dataset.load(jsonPath, schemas)
      assert.deepStrictEqual(fromYaml.cases[0]!.expectedOutput, fromJson.cases[0]!.expectedOutput)
      assert.strictEqual(fromYaml.cases[0]!.inputs.question, "What is my balance?")
      writeFileSync(yamlPath, "cases:\n  - name: broken\n    inputs: 5\n")
      const error = yield* Effect.flip(Dataset.load(yamlPath, schemas))
      assert.strictEqual(error._tag, "DatasetDecodeError")
      if (error._tag === "DatasetDecodeError") {
        assert.strictEqual(error.source, yamlPath)
        assert.strictEqual(error.issues[0]!.caseName, "broken")
        assert.strictEqual(error.issues[0]!.field, "inputs")
      }
      const missing = yield* Effect.flip(Dataset.load(join(dir, "nope.yaml"), schemas))
      assert.strictEqual(missing._tag, "SystemError")
    }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))
  )

  it("jsonSchema describes the file format with the encoded case schemas", () => {
    const schema = Dataset.jsonSchema(dataset) as any
    const caseSchema = schema.properties.cases.items
    assert.deepStrictEqual(caseSchema.required, ["name", "inputs"])
    assert.strictEqual(caseSchema.properties.inputs.properties.customerId.type, "number")
    assert.strictEqual(caseSchema.properties.metadata.properties.since.type, "string")
  })

  it("withEvaluators and addCases return new data sets", () => {
    const more = dataset.pipe(
      Dataset.withEvaluators(Evaluator.maxDuration("1 second")),
      Dataset.addCases([{ name: "third", inputs: new Query({ customerId: 1, question: "?" }) }])
    )
    assert.deepStrictEqual(
      more.evaluators.map((e) => e.name),
      ["EqualsExpected", "MaxDuration"]
    )
    assert.strictEqual(more.cases.length, 3)
    assert.strictEqual(dataset.cases.length, 2)
  })
})
