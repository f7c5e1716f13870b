/**
 * The flight-booking example's agents, its scripted model and the booking session (what
 * `flight-booking.ts` runs and `examples/test/flight-booking.test.ts` checks):
 *
 * - `bookingAgent` talks to the traveller. It calls `search_flights`, which is `searchAgent`
 *   used as a tool (`Agent.asTool`), and hands the conversation to `seatAgent` when the traveller
 *   talks about seats (`Agent.handoff`), so its output is a flight, "no flight", or a seat.
 * - `searchAgent` finds the cheapest matching flight; its tool `extract_flights` is
 *   `extractionAgent` used as a tool, fed the flights page.
 * - Every agent's requests count against one usage budget: sub-agents share the run's usage
 *   and limits by themselves; the two turns share one `Ref` given to both runs.
 */
import { Agent, FunctionModel, type Messages, Usage } from "@agentfx/core"
import { Output, ToolOutput } from "@agentfx/output"
import * as Scripted from "@agentfx/cli/Scripted"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

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
export const flightsPage = `
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

/** Finds the cheapest flight matching the request. */
export const searchAgent = Agent.make({
  name: "flight-search",
  instructions:
    "You are a flight search agent: find the cheapest flight matching the user's request. " +
    "Use extract_flights to see the flights on sale.",
  tools: [
    // the extraction agent as a tool: it reads the page, its output is the tool's result
    Agent.asTool(extractionAgent, {
      name: "extract_flights",
      description: "Get the details of all flights on sale.",
      parameters: Schema.Struct({}),
      input: () => flightsPage
    })
  ],
  output: Output.union([ToolOutput.make(FlightDetails), ToolOutput.make(NoFlightFound)])
})

/** Understands seat requests. */
export const seatAgent = Agent.make({
  name: "seat",
  instructions:
    "Extract the user's seat preference. Seats A and F are window seats, rows 1-3 are in the front.",
  output: ToolOutput.make(SeatPreference)
})

/** Talks to the traveller: searches through `searchAgent`, hands seat questions to `seatAgent`. */
export const bookingAgent = Agent.make({
  name: "booking",
  instructions:
    "You are a flight booking assistant. Use search_flights to find a flight for the user's " +
    "route and date and return it. When the user talks about seats, transfer to the seat agent.",
  tools: [
    Agent.asTool(searchAgent, {
      name: "search_flights",
      description: "Find the cheapest flight for a route and a date.",
      parameters: Schema.Struct({
        origin: Schema.String.annotations({ description: "Three-letter airport code" }),
        destination: Schema.String.annotations({ description: "Three-letter airport code" }),
        date: Schema.String.annotations({ description: "YYYY-MM-DD" })
      }),
      input: ({ origin, destination, date }) =>
        `Find me a flight from ${origin} to ${destination} on ${date}`
    })
  ],
  output: Output.union([ToolOutput.make(FlightDetails), ToolOutput.make(NoFlightFound)])
}).pipe(
  Agent.withHandoffs([
    Agent.handoff(seatAgent, { description: "Seat choices: rows, window or aisle seats." })
  ])
)

// -- the scripted model: one script, it tells the agents apart by their instructions ----------

const route = (prompt: string) => /from (\w{3}) to (\w{3}) on (\S+)/.exec(prompt) ?? []

export const scripted = Scripted.make("flight-booking", (messages, info) => {
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
    const [, origin, destination, date] = route(prompt)
    const matching = (returned.content as ReadonlyArray<typeof FlightDetails.Encoded>)
      .filter((f) => f.origin === origin && f.destination === destination && f.date === date)
      .sort((a, b) => a.price - b.price)
    return matching[0] !== undefined
      ? FunctionModel.toolCall(Scripted.outputTool(info, "FlightDetails"), matching[0])
      : FunctionModel.toolCall(Scripted.outputTool(info, "NoFlightFound"), {
          reason: `No flight from ${origin} to ${destination} on ${date}.`
        })
  }
  if (instructions.startsWith("You are a flight booking")) {
    if (/seat/i.test(prompt)) return FunctionModel.toolCall("transfer_to_seat", {})
    const [found] = Scripted.toolReturns(messages, "search_flights")
    if (found === undefined) {
      const [, origin, destination, date] = route(prompt)
      return FunctionModel.toolCall("search_flights", { origin, destination, date })
    }
    const flight = found.content as typeof FlightDetails.Encoded | typeof NoFlightFound.Encoded
    return "flight_number" in flight
      ? FunctionModel.toolCall(Scripted.outputTool(info, "FlightDetails"), flight)
      : FunctionModel.toolCall(Scripted.outputTool(info, "NoFlightFound"), flight)
  }
  const row = Number(/row (\d+)/i.exec(prompt)?.[1] ?? "1")
  const seat = /window/i.test(prompt)
    ? "A"
    : (/seat ([A-F])\b/i.exec(prompt)?.[1] ?? "C").toUpperCase()
  return FunctionModel.toolCall(Scripted.outputTool(info), { row, seat })
})

// -- the session ---------------------------------------------------------------------------

/** What a booking session ended with. */
export interface Booking {
  readonly flight: FlightDetails | NoFlightFound
  readonly seat: SeatPreference | undefined
  /** The sub-agent events forwarded into the first turn's stream, as `agent > agent: event`. */
  readonly forwarded: ReadonlyArray<string>
  /** The conversation after the second turn (the seat agent's messages after the handoff). */
  readonly messages: ReadonlyArray<Messages.ModelMessage>
  readonly usage: Usage.RunUsage
  readonly usageLimits: Usage.UsageLimits
}

/** `agent > agent: event` for a (possibly nested) sub-agent event; undefined for the caller's own. */
const forwardedLine = (e: Agent.AgentStreamEvent<unknown>, path = ""): string | undefined => {
  if (e._tag !== "SubAgentEvent") {
    if (path === "") return undefined
    return e._tag === "FunctionToolCallEvent"
      ? `${path}: calls ${e.part.toolName}`
      : e._tag === "AgentRunResultEvent"
        ? `${path}: done`
        : `${path}: ${e._tag}`
  }
  return forwardedLine(e.event, path === "" ? e.agentName : `${path} > ${e.agentName}`)
}

/**
 * Two turns with the booking agent, one budget: a flight search (streamed, showing the
 * sub-agents' forwarded events), then a seat request handed off to the seat agent.
 */
export const session = Effect.gen(function* () {
  const usage = yield* Ref.make(Usage.RunUsage.empty)
  const usageLimits = new Usage.UsageLimits({ requestLimit: 15 })

  const request = "Find me a flight from SFO to ANC on 2025-01-10"
  yield* Console.log(`> ${request}`)
  const forwarded: Array<string> = []
  const first = yield* bookingAgent.runStream(request, { usage, usageLimits }).pipe(
    Stream.tap((e) => {
      const line = forwardedLine(e)
      if (line === undefined || !/calls|done/.test(line)) return Effect.void
      forwarded.push(line)
      return Console.log(`  ${line}`)
    }),
    Agent.finalResult
  )
  const flight = first.output
  if (flight instanceof NoFlightFound) {
    yield* Console.log(`no flight: ${flight.reason}`)
  } else if (flight instanceof FlightDetails) {
    yield* Console.log(
      `flight: ${flight.flight_number}, ${flight.origin} → ${flight.destination} on ${flight.date}, $${flight.price}`
    )
  }
  if (!(flight instanceof FlightDetails) && !(flight instanceof NoFlightFound)) {
    return yield* Effect.dieMessage("the first turn did not end with a flight")
  }
  let seat: SeatPreference | undefined
  let messages = first.allMessages()
  if (flight instanceof FlightDetails) {
    const wish = "A window seat in row 2, please"
    yield* Console.log(`> ${wish}`)
    // the booking agent hands this turn to the seat agent: its output is the seat agent's
    const second = yield* bookingAgent.run(wish, {
      messageHistory: first.allMessages(),
      usage,
      usageLimits
    })
    messages = second.allMessages()
    if (second.output instanceof SeatPreference) {
      seat = second.output
      yield* Console.log(`seat: row ${seat.row}, seat ${seat.seat} (answered by the seat agent)`)
    }
  }
  const total = yield* Ref.get(usage)
  yield* Console.log(
    `total usage (5 agents, one budget of ${usageLimits.requestLimit} requests): ${total.requests} requests, ` +
      `${total.toolCalls} tool calls, ${total.inputTokens} input / ${total.outputTokens} output tokens`
  )
  return { flight, seat, forwarded, messages, usage: total, usageLimits }
})
