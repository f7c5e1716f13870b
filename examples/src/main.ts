/**
 * The README's main example: an agent with a tool that uses a service provided by a Layer,
 * and a typed, validated output.
 *
 * Run (from the repo root): npx -y pnpm@10.34.9 example
 *   = npx tsx --conditions=@agentfx/source examples/src/main.ts
 * With OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY set it talks to that provider; with
 * an Ollama server on localhost, to Ollama; otherwise to a scripted model (no network needed).
 */
import { Agent, FunctionModel, Tool } from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// A dependency of the tool: a service, provided by a Layer (swap it for a test double at will).
class Bank extends Context.Tag("examples/Bank")<
  Bank,
  { readonly balance: (customerId: number) => Effect.Effect<number> }
>() {}
const BankLive = Layer.succeed(Bank, {
  balance: (customerId) => Effect.succeed(customerId === 123 ? 123.45 : 0)
})

const customerBalance = Tool.make("customer_balance", {
  description: "The current balance of a customer's account, in USD.",
  parameters: Schema.Struct({ customer_id: Schema.Number }),
  handler: ({ customer_id }) => Effect.flatMap(Bank, (bank) => bank.balance(customer_id))
})

// The output: a Schema; the model's answer is decoded into it (or sent back to be fixed).
class SupportAnswer extends Schema.Class<SupportAnswer>("SupportAnswer")({
  advice: Schema.String,
  block_card: Schema.Boolean,
  risk: Schema.Int.pipe(Schema.between(0, 10))
}) {}

// Agent<SupportAnswer, never, Bank | Model>: the compiler knows what the run needs.
const agent = Agent.make({
  name: "support",
  instructions:
    "You are a bank support agent. The customer's id is 123. Judge the risk of each query.",
  tools: [customerBalance],
  output: ToolOutput.make(SupportAnswer)
})

// Without a key or a local Ollama: a scripted model that behaves like a real one would.
const scripted = Scripted.make("support", (messages, info) => {
  const [balance] = Scripted.toolReturns(messages, "customer_balance")
  if (balance === undefined) return FunctionModel.toolCall("customer_balance", { customer_id: 123 })
  return FunctionModel.toolCall(Scripted.outputTool(info), {
    advice: `Your balance is $${balance.contentText}.`,
    block_card: false,
    risk: 1
  })
})

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  const result = yield* agent.run("What is my balance?").pipe(Effect.provide(model.layer))
  yield* Console.log(`advice: ${result.output.advice}`)
  yield* Console.log(`block_card: ${result.output.block_card}, risk: ${result.output.risk}`)
  yield* Console.log(
    `usage: ${result.usage.requests} requests, ${result.usage.toolCalls} tool call(s)`
  )
})

program.pipe(Effect.provide(BankLive), NodeRuntime.runMain)
