/**
 * flight-booking — agents calling agents, and a handoff, on one shared usage budget.
 *
 * - `bookingAgent` talks to the traveller. `search_flights` is `searchAgent` used as a tool
 *   (`Agent.asTool`); seat questions are handed to `seatAgent` (`Agent.handoff`), whose answer
 *   ends the turn.
 * - `searchAgent`'s own tool `extract_flights` is `extractionAgent` used as a tool.
 * - The first turn is streamed: the sub-agents' events arrive in the booking agent's stream as
 *   `SubAgentEvent`s (printed indented, `flight-search > extraction: …`).
 * - Every request, sub-agents included, counts against one `UsageLimits`.
 * The agents, the scripted model and the session are in `lib/flightBooking.ts`; the test is
 * `examples/test/flight-booking.test.ts`.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/flight-booking.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples flight-booking
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { scripted, session } from "./lib/flightBooking.js"
import { pickModel } from "./lib/pickModel.js"

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  // every agent (and every sub-agent run inside a tool or a handoff) uses this model
  yield* Effect.provide(session, model.layer)
}).pipe(Effect.catchTag("UsageLimitExceeded", (e) => Console.log(`stopped: ${e.reason}`)))

NodeRuntime.runMain(program)
