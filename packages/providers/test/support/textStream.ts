import { AgentError } from "@agentfx/core"
import type * as Stream from "effect/Stream"
import * as Http from "../../src/internal/http.js"

/** A tiny text protocol: each SSE `data` is text; `event: error` fails; `event: end` terminates. */
export const textResponse = (events: Stream.Stream<Http.SseEvent, AgentError.ModelAPIError>) => {
  let ended = false
  return Http.streamedResponse({
    modelName: "m1",
    providerName: "test",
    events,
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
}
