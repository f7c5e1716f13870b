/**
 * bank-support — dynamic instructions from a service, a tool, and structured output with a
 * validator.
 *
 * - `DatabaseConn` (a service provided by a Layer) and `Customer` (provided per run) are the
 *   agent's dependencies: they are Effect requirements, checked by the compiler.
 * - The instructions include the customer's name, looked up from the database on every request.
 * - The output is a `SupportOutput`; a validator sends the model back (`ModelRetry`) when it
 *   blocks a card without rating the risk as high.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/bank-support.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples bank-support
 */
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { Output, ToolOutput } from "@agentfx/output"
import { pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// -- dependencies --------------------------------------------------------------------------

/** The bank's database (here: two customers in memory). */
export class DatabaseConn extends Context.Tag("examples/DatabaseConn")<
  DatabaseConn,
  {
    readonly customerName: (id: number) => Effect.Effect<string>
    readonly customerBalance: (id: number, includePending: boolean) => Effect.Effect<number>
  }
>() {
  static readonly layerDemo = Layer.succeed(DatabaseConn, {
    customerName: (id) => Effect.succeed(id === 123 ? "John" : "Jane"),
    customerBalance: (id, includePending) =>
      Effect.succeed(id === 123 ? (includePending ? 123.45 : 100.0) : 0)
  })
}

/** Who is talking to the agent: provided per run. */
export class Customer extends Context.Tag("examples/Customer")<
  Customer,
  { readonly id: number }
>() {}

// -- output --------------------------------------------------------------------------------

export class SupportOutput extends Schema.Class<SupportOutput>("SupportOutput")({
  support_advice: Schema.String.annotations({ description: "Advice returned to the customer" }),
  block_card: Schema.Boolean.annotations({ description: "Whether to block the customer's card" }),
  risk: Schema.Int.pipe(Schema.between(0, 10)).annotations({
    description: "Risk level of the query, 0 to 10"
  })
}) {}

const output = Output.withValidator(ToolOutput.make(SupportOutput), (o) =>
  o.block_card && o.risk < 7
    ? Output.retry("Blocking a card is a high-risk case: the risk must be at least 7.")
    : Effect.succeed(o)
)

// -- the agent -----------------------------------------------------------------------------

const customerBalance = Tool.make("customer_balance", {
  description: "Returns the customer's current account balance.",
  parameters: Schema.Struct({ include_pending: Schema.Boolean }),
  handler: ({ include_pending }) =>
    Effect.gen(function* () {
      const db = yield* DatabaseConn
      const customer = yield* Customer
      const balance = yield* db.customerBalance(customer.id, include_pending)
      return `$${balance.toFixed(2)}`
    })
})

/** Recomputed for every request, so it always reflects the database. */
const customerNameInstruction = Effect.gen(function* () {
  const db = yield* DatabaseConn
  const customer = yield* Customer
  return `The customer's name is ${yield* db.customerName(customer.id)}.`
})

/** `Agent<SupportOutput, never, DatabaseConn | Customer | Model>` */
export const supportAgent = Agent.make({
  name: "bank-support",
  instructions: [
    "You are a support agent in our bank: give the customer support and judge the risk level of their query.",
    customerNameInstruction
  ],
  tools: [customerBalance],
  output
})

// -- the scripted model ----------------------------------------------------------------------

/** The offline stand-in for a real model (also used by `evals-bank-support.ts`). */
export const scripted = Scripted.make("bank-support", (messages, info) => {
  const name = /customer's name is (\w+)/.exec(info.instructions ?? "")?.[1] ?? "there"
  const prompt = Scripted.lastPrompt(messages).toLowerCase()
  const final = (args: typeof SupportOutput.Encoded) =>
    FunctionModel.toolCall(Scripted.outputTool(info), args)
  if (prompt.includes("balance")) {
    const [balance] = Scripted.toolReturns(messages, "customer_balance")
    if (balance === undefined) {
      return FunctionModel.toolCall("customer_balance", { include_pending: true })
    }
    return final({
      support_advice: `Hello ${name}, your current account balance, including pending transactions, is ${balance.contentText}.`,
      block_card: false,
      risk: 1
    })
  }
  if (prompt.includes("lost") || prompt.includes("stolen")) {
    // first answer underrates the risk; the validator's retry prompt makes it think again
    const risk = Scripted.retryPrompts(messages).length === 0 ? 5 : 8
    return final({
      support_advice: `I'm sorry to hear that, ${name}. We are temporarily blocking your card to prevent unauthorized transactions.`,
      block_card: true,
      risk
    })
  }
  return final({ support_advice: `Hello ${name}, how can I help?`, block_card: false, risk: 0 })
})

// -- the program ---------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  for (const prompt of ["What is my balance?", "I just lost my card!"]) {
    const result = yield* supportAgent.run(prompt).pipe(Effect.provide(model.layer))
    const retries = result
      .allMessages()
      .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
      .filter((p) => p._tag === "RetryPromptPart").length
    yield* Console.log(`\n> ${prompt}`)
    yield* Console.log(`  support_advice: ${result.output.support_advice}`)
    yield* Console.log(`  block_card: ${result.output.block_card}, risk: ${result.output.risk}`)
    yield* Console.log(`  (${result.usage.requests} requests, ${retries} validator retries)`)
  }
})

// Only when run as a program: `evals-bank-support.ts` imports the agent from this module.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  program.pipe(
    Effect.provideService(Customer, { id: 123 }),
    Effect.provide(DatabaseConn.layerDemo),
    NodeRuntime.runMain
  )
}
