/**
 * Keeps the messages of a run even when it fails or is interrupted (the analogue of
 * pydantic-ai's `capture_run_messages`). The first agent run started inside `capture` records
 * its messages as it goes; the innermost `capture` wins for nested runs.
 *
 * @example
 * ```ts
 * const { exit, messages } = yield* CaptureRunMessages.capture(
 *   agent.run("hi").pipe(Effect.timeout("5 seconds"))
 * )
 * // `messages` holds everything recorded before the timeout
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import type { ModelMessage } from "./Messages.js"

/** A capture slot; claimed by the first run that starts inside `capture`. */
export interface Slot {
  claimed: boolean
  messages: ReadonlyArray<ModelMessage>
}

/** The capture slot in scope, if any. Used by the run loop. */
export const currentSlot: FiberRef.FiberRef<Option.Option<Slot>> = FiberRef.unsafeMake<
  Option.Option<Slot>
>(Option.none())

/** What `capture` returns: how the effect ended and the captured run's messages. */
export interface Captured<A, E> {
  readonly exit: Exit.Exit<A, E>
  readonly messages: ReadonlyArray<ModelMessage>
}

/**
 * Runs `effect` and returns its exit together with the messages of the first agent run it
 * started — complete on success, the messages so far on failure or interruption inside
 * `effect` (e.g. an `Effect.timeout` applied to the run).
 */
export const capture = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Captured<A, E>, never, R> =>
  Effect.suspend(() => {
    const slot: Slot = { claimed: false, messages: [] }
    return Effect.locally(Effect.exit(effect), currentSlot, Option.some(slot)).pipe(
      Effect.map((exit) => ({ exit, messages: slot.messages }))
    )
  })

/**
 * Claims a slot for a new run: returns it when it is there and not claimed yet (the run then
 * writes its messages to `slot.messages` on every change), `undefined` otherwise.
 */
export const claimSlot = (slot: Option.Option<Slot>): Slot | undefined => {
  if (Option.isNone(slot) || slot.value.claimed) return undefined
  slot.value.claimed = true
  return slot.value
}
