import { FunctionModel, type Messages } from "@agentfx/core"
import { fileURLToPath } from "node:url"

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
