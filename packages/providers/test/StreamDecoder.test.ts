import { AgentError, type Messages, PartsManager } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import type { SseEvent } from "../src/internal/sse.js"
import * as StreamDecoder from "../src/internal/streamDecoder.js"

/** A decoder that records what reaches it: text deltas from `{"t": …}`, an error from `{"e": …}`. */
const recording = () => {
  const seen: Array<Record<string, unknown>> = []
  const decoder: StreamDecoder.StreamDecoder<{ done: boolean; previewed: number }> = {
    makeState: () => ({ done: false, previewed: 0 }),
    preview: (event, state) => {
      if (event.event !== "raw") return undefined
      state.previewed++
      return true
    },
    done: (state) => {
      state.done = true
    },
    handleEvent: (data, _state, manager, out, modelName, ctx) => {
      seen.push(data)
      if (typeof data.e === "string")
        return new AgentError.ModelAPIError({ modelName, reason: data.e })
      if (typeof data.t === "string") {
        const e = manager.textDelta("t", data.t)
        if (e) out.push(e)
      } else ctx.skip(`unknown ${ctx.event.event}`)
      return undefined
    },
    end: (state, manager, modelName) =>
      state.done ? undefined : StreamDecoder.cutError(modelName, manager, "cut")
  }
  return { seen, decoder }
}

const ev = (data: string, event?: string): SseEvent => ({ event, data, id: undefined })

const setup = (limit: number) => {
  const { seen, decoder } = recording()
  const skipped: Array<string> = []
  const malformed: Array<string> = []
  const handler = StreamDecoder.handler(decoder, "m1", limit, {
    skip: (r) => skipped.push(r),
    malformed: (r) => malformed.push(r)
  })
  const manager = PartsManager.make()
  const out: Array<Messages.ModelResponseStreamEvent> = []
  return { seen, skipped, malformed, handler, manager, out }
}

describe("StreamDecoder.handler (the malformed-event policy)", () => {
  it("passes JSON objects to the decoder, [DONE] to `done`, previewed events nowhere else", () => {
    const t = setup(3)
    assert.isUndefined(t.handler.onEvent(ev('{"t":"a"}'), t.manager, t.out))
    assert.isUndefined(t.handler.onEvent(ev(' \n{"t":"b"}'), t.manager, t.out))
    assert.isUndefined(t.handler.onEvent(ev("not json at all", "raw"), t.manager, t.out))
    assert.isUndefined(t.handler.onEvent(ev('{"x":1}', "ping"), t.manager, t.out))
    assert.isUndefined(t.handler.onEvent(ev("[DONE]"), t.manager, t.out))
    assert.deepStrictEqual(t.seen, [{ t: "a" }, { t: "b" }, { x: 1 }])
    assert.deepStrictEqual(t.skipped, ["unknown ping"])
    assert.deepStrictEqual(t.malformed, [])
    assert.strictEqual(t.manager.response().text, "ab")
    assert.isUndefined(t.handler.onEnd(t.manager))
  })

  it("skips and reports malformed payloads (not JSON, arrays, scalars) up to the limit, then fails", () => {
    const t = setup(3)
    for (const bad of ["{oops", "[1,2]", "42"]) {
      assert.isUndefined(t.handler.onEvent(ev('{"t":"x"}'), t.manager, t.out))
      assert.isUndefined(t.handler.onEvent(ev(bad, "message"), t.manager, t.out))
    }
    // three skipped, each reported without its payload …
    assert.strictEqual(t.malformed.length, 3)
    assert.include(t.malformed[0]!, "event message (5 chars), 1 of at most 3")
    for (const line of t.malformed) assert.notInclude(line, "oops")
    assert.strictEqual(t.manager.response().text, "xxx")
    // … the fourth fails, naming neither payload
    const fourth = t.handler.onEvent(ev("{again"), t.manager, t.out)
    assert(fourth !== undefined && fourth._tag === "UnexpectedModelBehavior")
    assert.include(fourth.reason, "4 malformed stream events")
    assert.include(fourth.reason, "malformedEventLimit (3)")
    assert.notInclude(fourth.reason, "again")
  })

  it("limit 0 fails on the first malformed event; decoder errors pass through", () => {
    const t = setup(0)
    const first = t.handler.onEvent(ev("{bad"), t.manager, t.out)
    assert(first !== undefined && first._tag === "UnexpectedModelBehavior")
    const u = setup(3)
    const error = u.handler.onEvent(ev('{"e":"overloaded"}'), u.manager, u.out)
    assert(error !== undefined && error._tag === "ModelAPIError")
    assert.strictEqual(error.reason, "overloaded")
  })

  it("the end check reports a cut stream with the partial response", () => {
    const t = setup(3)
    t.handler.onEvent(ev('{"t":"Hel"}'), t.manager, t.out)
    const cut = t.handler.onEnd(t.manager)
    assert(cut !== undefined && cut._tag === "ModelAPIError")
    assert.strictEqual(cut.reason, "cut")
    assert.strictEqual(cut.partialResponse?.text, "Hel")
  })

  it("the limit comes from the settings, 3 by default", () => {
    assert.strictEqual(StreamDecoder.malformedEventLimitOf({}), 3)
    assert.strictEqual(StreamDecoder.malformedEventLimitOf({ malformedEventLimit: 0 }), 0)
  })
})
