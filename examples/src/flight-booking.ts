/**
 * flight-booking — agents delegating to agents, with one shared usage budget.
 *
 * - `searchAgent` finds a flight. Its tool `extract_flights` reads a (canned) flights page and
 *   delegates the reading to `extractionAgent`, which returns a typed list of flights.
 * - `seatAgent` turns the traveller's words into a `SeatPreference`.
 * - Every run, including the delegated one, adds to one usage `Ref` checked against one
 *   `UsageLimits`: the tool passes `Agent.CurrentUsage` and the run's limits on to the sub-agent.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/flight-booking.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples flight-booking
 */
import { Agent, FunctionModel, RunContext, Tool, Usage } from "@agentfx/core"
import { Output, ToolOutput } from "@agentfx/output"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// -- data ----------------------------------------------------------------------------------

export class FlightDetails extends Schema.Class<FlightDetails>("FlightDetails")({
  flight_number: Schema.String,
  price: Schema.Number.annotations({ description: "Price in USD" }),
  origin: Schema.String.annotations({ description: "Three-letter airport code" }),
  destination: Schema.String.annotations({ description: "Three-letter airport code" }),
  date: Schema.String.annotations({ description: "YYYY-MM-DD" })
}) {}

export class NoFlightFound extends Schema.Class<NoFlightFound>("NoFlightFound")({
  reason: Schema.String
}) {}

export class SeatPreference extends Schema.Class<SeatPreference>("SeatPreference")({
  row: Schema.Int.pipe(Schema.between(1, 30)),
  seat: Schema.Literal("A", "B", "C", "D", "E", "F")
}) {}

/** What the booking site shows (a real example would fetch it). */
const flightsPage = `
Flights on sale this week:
1. Flight SFO-AK123 | $350 | from SFO to ANC | 2025-01-10
2. Flight SFO-AK456 | $370 | from SFO to ANC | 2025-01-10
3. Flight NYC-LA101 | $250 | from JFK to LAX | 2025-01-10
4. Flight CHI-NY202 | $200 | from ORD to JFK | 2025-01-12
5. Flight SFO-AK789 | $310 | from SFO to ANC | 2025-01-11
`

// -- agents --------------------------------------------------------------------------------

/** Reads flights out of free text. */
export const extractionAgent = Agent.make({
  name: "extraction",
  instructions: "Extract all the flight details from the given text.",
  output: ToolOutput.make(Schema.Array(FlightDetails))
})

const extractFlights = Tool.make("extract_flights", {
  description: "Get the details of all flights on sale.",
  parameters: Schema.Struct({}),
  handler: () =>
    Effect.gen(function* () {
      const ctx = yield* RunContext.RunContext
      // the delegated run counts against the caller's budget
      const usage = yield* Agent.CurrentUsage
      const result = yield* extractionAgent.run(flightsPage, {
        usage,
        usageLimits: ctx.usageLimits
      })
      return result.output
    })
})

/** Finds the cheapest flight matching the traveller's request. */
export const searchAgent = Agent.make({
  name: "flight-search",
  instructions:
    "You are a flight search agent: find the cheapest flight matching the user's request. " +
    "Use extract_flights to see the flights on sale.",
  tools: [extractFlights],
  output: Output.union([ToolOutput.make(FlightDetails), ToolOutput.make(NoFlightFound)])
})

/** Understands seat requests. */
export const seatAgent = Agent.make({
  name: "seat",
  instructions:
    "Extract the user's seat preference. Seats A and F are window seats, rows 1-3 are in the front.",
  output: ToolOutput.make(SeatPreference)
})

// -- the scripted model: one script, it tells the agents apart by their instructions ----------

const scripted = Scripted.make("flight-booking", (messages, info) => {
  const instructions = info.instructions ?? ""
  const prompt = Scripted.lastPrompt(messages)
  if (instructions.startsWith("Extract all the flight")) {
    const flights = [
      ...prompt.matchAll(/Flight (\S+) \| \$(\d+) \| from (\w{3}) to (\w{3}) \| (\S+)/g)
    ].map(([, flight_number, price, origin, destination, date]) => ({
      flight_number: flight_number!,
      price: Number(price),
      origin: origin!,
      destination: destination!,
      date: date!
    }))
    return FunctionModel.toolCall(Scripted.outputTool(info), { response: flights })
  }
  if (instructions.includes("flight search")) {
    const [returned] = Scripted.toolReturns(messages, "extract_flights")
    if (returned === undefined) return FunctionModel.toolCall("extract_flights", {})
    const [, origin, destination, date] = /from (\w{3}) to (\w{3}) on (\S+)/.exec(prompt) ?? []
    const matching = (returned.content as ReadonlyArray<typeof FlightDetails.Encoded>)
      .filter((f) => f.origin === origin && f.destination === destination && f.date === date)
      .sort((a, b) => a.price - b.price)
    return matching[0] !== undefined
      ? FunctionModel.toolCall(Scripted.outputTool(info, "FlightDetails"), matching[0])
      : FunctionModel.toolCall(Scripted.outputTool(info, "NoFlightFound"), {
          reason: `No flight from ${origin} to ${destination} on ${date}.`
        })
  }
  const row = Number(/row (\d+)/i.exec(prompt)?.[1] ?? "1")
  const seat = /window/i.test(prompt)
    ? "A"
    : (/seat ([A-F])\b/i.exec(prompt)?.[1] ?? "C").toUpperCase()
  return FunctionModel.toolCall(Scripted.outputTool(info), { row, seat })
})

// -- the program ---------------------------------------------------------------------------

const booking = Effect.gen(function* () {
  // one budget for the whole booking, sub-agents included
  const usage = yield* Ref.make(Usage.RunUsage.empty)
  const usageLimits = new Usage.UsageLimits({ requestLimit: 15 })

  const request = "Find me a flight from SFO to ANC on 2025-01-10"
  yield* Console.log(`> ${request}`)
  const found = yield* searchAgent.run(request, { usage, usageLimits })
  const flight = found.output
  if (flight instanceof NoFlightFound) {
    yield* Console.log(`no flight: ${flight.reason}`)
  } else {
    yield* Console.log(
      `flight: ${flight.flight_number}, ${flight.origin} → ${flight.destination} on ${flight.date}, $${flight.price}`
    )
    const wish = "A window seat in row 2, please"
    yield* Console.log(`> ${wish}`)
    const seat = yield* seatAgent.run(wish, { usage, usageLimits })
    yield* Console.log(`seat: row ${seat.output.row}, seat ${seat.output.seat}`)
  }
  const total = yield* Ref.get(usage)
  yield* Console.log(
    `total usage (3 agents, one budget of ${usageLimits.requestLimit} requests): ${total.requests} requests, ` +
      `${total.toolCalls} tool calls, ${total.inputTokens} input / ${total.outputTokens} output tokens`
  )
}).pipe(Effect.catchTag("UsageLimitExceeded", (e) => Console.log(`stopped: ${e.reason}`)))

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  // every agent (and the delegated run inside the tool) uses this model
  yield* Effect.provide(booking, model.layer)
})

NodeRuntime.runMain(program)
