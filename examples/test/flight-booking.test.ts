/**
 * The flight-booking example on its scripted model: the booking agent delegates the search to
 * the search agent (`Agent.asTool`), which delegates reading the page to the extraction agent;
 * a seat request is handed off to the seat agent. Checks the outputs, the forwarded events of
 * the streamed turn, the usage of all five agent runs summed into one budget, and that a
 * sub-agent's request counts against the caller's limit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Usage } from "@agentfx/core"
import {
  bookingAgent,
  FlightDetails,
  scripted,
  SeatPreference,
  session
} from "../src/lib/flightBooking.js"

describe("flight-booking", () => {
  it.effect("search by delegation, seat by handoff, one usage budget", () =>
    Effect.gen(function* () {
      const booking = yield* session.pipe(Effect.provide(scripted.layer))
      assert.instanceOf(booking.flight, FlightDetails)
      assert.deepStrictEqual(
        booking.flight,
        new FlightDetails({
          flight_number: "SFO-AK123",
          price: 350,
          origin: "SFO",
          destination: "ANC",
          date: "2025-01-10"
        })
      )
      assert.deepStrictEqual(booking.seat, new SeatPreference({ row: 2, seat: "A" }))
      // the streamed turn: the search agent's events, and the extraction agent's inside them
      assert.deepStrictEqual(booking.forwarded, [
        "flight-search: calls extract_flights",
        "flight-search > extraction: done",
        "flight-search: done"
      ])
      // turn 1: booking ×2, flight-search ×2, extraction ×1; turn 2: booking ×1, seat ×1
      assert.strictEqual(booking.usage.requests, 7)
      // search_flights and extract_flights
      assert.strictEqual(booking.usage.toolCalls, 2)
      assert.isAbove(booking.usage.inputTokens, 0)
      // the seat agent answered the second turn, after the handoff
      const handoff = booking.messages.flatMap((m) =>
        m._tag === "ModelRequest"
          ? m.parts.filter((p) => p._tag === "ToolReturnPart" && p.toolName === "transfer_to_seat")
          : []
      )
      assert.strictEqual(handoff.length, 1)
      assert.strictEqual(
        (handoff[0] as { readonly content: unknown }).content,
        "Transferred to seat."
      )
    })
  )

  it.effect("a sub-agent's request counts against the booking agent's request limit", () =>
    Effect.gen(function* () {
      // booking (1), flight-search (2), extraction would be the 3rd
      const error = yield* Effect.flip(
        bookingAgent
          .run("Find me a flight from SFO to ANC on 2025-01-10", {
            usageLimits: new Usage.UsageLimits({ requestLimit: 2 })
          })
          .pipe(Effect.provide(scripted.layer))
      )
      assert.strictEqual(error._tag, "UsageLimitExceeded")
      if (error._tag === "UsageLimitExceeded") {
        assert.strictEqual(error.limitValue, 2)
        assert.strictEqual(error.value, 3)
      }
    })
  )
})
