/**
 * evals-bank-support — evaluating the `bank-support` agent on a data set with @agentfx/evals.
 *
 * - The cases are YAML (as a team would keep them in a file), decoded with Schemas: a case with
 *   a bad field fails with an error naming the case and the field.
 * - Evaluators: the output matches `SupportOutput`, the risk lies in the range the case's
 *   metadata gives, balance questions call the `customer_balance` tool (checked on the spans
 *   the run opened), card losses block the card, and an LLM judge grades the advice against a
 *   rubric (a scripted judge offline, the same model as the agent with a key).
 * - The report is printed as a table; then a "careless" model that answers balance questions
 *   without looking them up is evaluated and compared with the first run (the diff shows the
 *   regression).
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/evals-bank-support.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples evals-bank-support
 */
import { FunctionModel, type Model } from "@agentfx/core"
import { Dataset, Evaluator, Report, TaskContext } from "@agentfx/evals"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { Customer, DatabaseConn, SupportOutput, scripted, supportAgent } from "./bank-support.js"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "./lib/scripted.js"

// -- the data set --------------------------------------------------------------------------

const Inputs = Schema.Struct({ customerId: Schema.Int, prompt: Schema.String })
const Metadata = Schema.Struct({
  category: Schema.Literal("balance", "card", "other"),
  riskAtLeast: Schema.optional(Schema.Int),
  riskAtMost: Schema.optional(Schema.Int)
})

const casesYaml = `
name: bank-support
cases:
  - name: balance
    inputs: { customerId: 123, prompt: What is my balance? }
    metadata: { category: balance, riskAtMost: 3 }
  - name: balance (other customer)
    inputs: { customerId: 7, prompt: "How much is in my account? I need my balance." }
    metadata: { category: balance, riskAtMost: 3 }
  - name: lost card
    inputs: { customerId: 123, prompt: I just lost my card! }
    expectedOutput:
      support_advice: I'm sorry to hear that, John. We are temporarily blocking your card to prevent unauthorized transactions.
      block_card: true
      risk: 8
    metadata: { category: card, riskAtLeast: 7 }
  - name: stolen card
    inputs: { customerId: 7, prompt: My card was stolen yesterday }
    metadata: { category: card, riskAtLeast: 7 }
  - name: greeting
    inputs: { customerId: 123, prompt: Hello there }
    metadata: { category: other, riskAtMost: 2 }
`

type Ctx = Evaluator.Context<typeof Inputs.Type, SupportOutput, typeof Metadata.Type>

/** The risk lies in the range the case's metadata gives. */
const riskInRange = Evaluator.make("RiskInRange", ({ output, metadata }: Ctx) => {
  const low = metadata?.riskAtLeast ?? 0
  const high = metadata?.riskAtMost ?? 10
  return {
    value: output.risk >= low && output.risk <= high,
    reason: `risk ${output.risk}, expected ${low}..${high}`
  }
})

/** Category-specific checks: balance answers look the balance up; lost cards get blocked. */
const byCategory = Evaluator.make("Category", ({ output, metadata, spans }: Ctx) => {
  switch (metadata?.category) {
    case "balance":
      return {
        LooksUpBalance: {
          value: spans.toolCalls.includes("customer_balance"),
          reason: `tools called: ${spans.toolCalls.join(", ") || "none"}`
        }
      }
    case "card":
      return { BlocksCard: output.block_card }
    default:
      return {}
  }
})

// -- the judge -----------------------------------------------------------------------------

const rubric = "The advice addresses the customer by name and answers their question politely."

/** Offline judge: passes advice that names a customer of the demo database. */
const scriptedJudge = FunctionModel.layer((messages, info) => {
  const prompt = Scripted.lastPrompt(messages)
  const named = /\b(John|Jane)\b/.test(prompt.split("<rubric>")[0] ?? "")
  return FunctionModel.toolCall(info.outputTools[0]!.name, {
    reason: named ? "greets the customer by name" : "does not use the customer's name",
    pass: named,
    score: named ? 0.9 : 0.3
  })
})

// -- the task ------------------------------------------------------------------------------

/** Runs the agent for one case with `model`; reports the run's usage to the evaluation. */
const task =
  (model: Layer.Layer<Model.Model>) =>
  ({ customerId, prompt }: typeof Inputs.Type) =>
    Effect.gen(function* () {
      const result = yield* supportAgent
        .run(prompt)
        .pipe(Effect.provideService(Customer, { id: customerId }), Effect.provide(model))
      yield* TaskContext.recordUsage(result.usage)
      return result.output
    })

/** A careless model: answers balance questions without calling the tool. */
const careless = Scripted.make("careless", (messages, info) => {
  const prompt = Scripted.lastPrompt(messages).toLowerCase()
  const name = /customer's name is (\w+)/.exec(info.instructions ?? "")?.[1] ?? "there"
  if (prompt.includes("balance")) {
    return FunctionModel.toolCall(Scripted.outputTool(info), {
      support_advice: `Hello ${name}, your balance is about $100.`,
      block_card: false,
      risk: 1
    })
  }
  return FunctionModel.toolCall(Scripted.outputTool(info), {
    support_advice: `Hello ${name}, we are blocking your card.`,
    block_card: prompt.includes("card"),
    risk: prompt.includes("card") ? 8 : 0
  })
})

// -- the program ---------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  const judgeModel = model.kind === "scripted" ? scriptedJudge : model.layer
  const dataset = (yield* Dataset.decodeYaml(casesYaml, {
    inputs: Inputs,
    output: SupportOutput,
    metadata: Metadata
  })).pipe(
    Dataset.withEvaluators(
      Evaluator.matchesSchema(SupportOutput),
      Evaluator.equalsExpected(),
      riskInRange,
      byCategory,
      Evaluator.maxDuration("30 seconds"),
      Evaluator.llmJudge({ rubric, model: judgeModel, name: "Judge", report: "both" })
    )
  )

  const baseline = yield* Dataset.evaluate(dataset, task(model.layer), {
    name: `bank-support (${model.description})`,
    concurrency: 3,
    retries: 1,
    timeout: "60 seconds"
  })
  yield* Console.log(`\n${Report.render(baseline)}`)
  // Offline, the scripted agent is the reference: every assertion must pass (the smoke test
  // relies on this to catch a broken evaluation).
  const passRate = Report.averages(baseline).assertionPassRate
  if (model.kind === "scripted" && (baseline.failures.length > 0 || passRate !== 1)) {
    return yield* Effect.dieMessage(
      `the scripted baseline should pass everything (pass rate ${passRate})`
    )
  }

  const candidate = yield* Dataset.evaluate(dataset, task(careless.layer), {
    name: "bank-support (careless)",
    concurrency: 3
  })
  yield* Console.log(`\n${Report.renderDiff(Report.diff(baseline, candidate))}`)
})

program.pipe(Effect.provide(DatabaseConn.layerDemo), NodeRuntime.runMain)
