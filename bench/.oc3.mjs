import * as Effect from "effect/Effect"
import { Agent, Messages, Model, Usage } from "@agentfx/core"
import * as internal from "../packages/core/dist/internal/runLoop.js"
import * as IM from "../packages/core/dist/InstrumentedModel.js"
import { countOps } from "./_opcounter.mjs"
const usage = () => new Usage.RequestUsage({ inputTokens: 10, outputTokens: 8 }, true)
const memModel = Model.make({ modelName: "mem", system: "mem", profile: Model.defaultProfile, settings: undefined,
  request: () => Effect.sync(() => new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "Hello." }, true)], usage: usage(), finishReason: "stop" }, true)),
  requestStream: () => Effect.die("x") })
const plain = Agent.make({ name: "bench", model: memModel })
const cfg = plain.config
const im = IM.make(memModel)
const cases = {
  "makeMachine": Effect.scoped(internal.makeMachine(cfg, "Say hello.", {})),
  "makeMachine+runAll": Effect.scoped(Effect.flatMap(internal.makeMachine(cfg, "Say hello.", {}), (m) => m.runAll)),
  "full run": plain.run("Say hello."),
  "instrumented request": im.request([], {}, Model.ModelRequestParameters.empty),
  "raw request": memModel.request([], {}, Model.ModelRequestParameters.empty),
}
for (const [k, e] of Object.entries(cases)) { await Effect.runPromise(e); console.log(k.padEnd(24), await countOps(() => Effect.runPromise(e))) }
