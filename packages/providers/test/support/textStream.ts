import { AgentError } from "@agentfx/core"
import type { StreamBody } from "../../src/internal/streamBody.js"
import { streamedResponse } from "../../src/internal/streamedResponse.js"

/** A tiny text protocol: each SSE `data` is text; `event: error` fails; `event: end` terminates. */
export const textResponse = (body: StreamBody) => {
  let ended = false
  return streamedResponse({
    modelName: "m1",
    providerName: "test",
    body,
    handler: () => ({
      onEvent: (event, manager, out) => {
        if (event.event === "error") {
          return new AgentError.ModelAPIError({
            modelName: "m1",
            reason: `provider error: ${event.data}`
          })
        }
        if (event.event === "end") {
          ended = true
          return undefined
        }
        const e = manager.textDelta("t", event.data)
        if (e) out.push(e)
        return undefined
      },
      onEnd: () =>
        ended
          ? undefined
          : new AgentError.ModelAPIError({ modelName: "m1", reason: "stream ended early" })
    })
  })
}
