import { FunctionModel, type Messages } from "@agentfx/core"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import * as TestServices from "effect/TestServices"

/** The stdio command of the fixture server (run through tsx). */
export const fixtureServer = {
  command: process.execPath,
  args: [
    "--import",
    "tsx",
    fileURLToPath(new URL("../fixtures/server.ts", import.meta.url)),
    "stdio"
  ]
}

/**
 * A model that plays `steps` in order: step i answers the i-th request of a run (counted by the
 * responses already in the conversation), given the messages so far.
 */
export const scripted = (
  steps: ReadonlyArray<
    (messages: ReadonlyArray<Messages.ModelMessage>) => FunctionModel.FunctionResult
  >
) =>
  FunctionModel.layer((messages) => {
    const turn = messages.filter((m) => m._tag === "ModelResponse").length
    const step = steps[Math.min(turn, steps.length - 1)]!
    return step(messages)
  })

/** Every part of a type in a conversation. */
export const partsOf = <T extends string>(
  messages: ReadonlyArray<Messages.ModelMessage>,
  tag: T
): Array<Extract<Messages.ModelMessage["parts"][number], { _tag: T }>> =>
  messages.flatMap((m) => m.parts.filter((p) => p._tag === tag)) as any

/**
 * Runs `effect` until `done` holds for its value, every 10 ms of real time (the server works in
 * real time even when the test runs on the TestClock), for at most 15 seconds.
 */
export const pollUntil = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  done: (a: A) => boolean
): Effect.Effect<A, E | Error, R> => {
  const loop: Effect.Effect<A, E, R> = Effect.flatMap(effect, (a) =>
    done(a) ? Effect.succeed(a) : Effect.zipRight(Effect.sleep("10 millis"), loop)
  )
  return loop.pipe(
    Effect.timeoutFail({
      duration: "15 seconds",
      onTimeout: () => new Error("pollUntil: timed out")
    }),
    TestServices.provideLive
  )
}
