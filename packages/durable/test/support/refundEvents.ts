/**
 * What a subscriber of a refund-desk run (`runner.ts`, the report flow) must receive, event by
 * event: the numbered events of the run (positions 0–10) with every field a UI relies on, the
 * live deltas (when the response streamed) adding up to each part, and the result.
 */
import { assert } from "@effect/vitest"

/** The numbered events of the report flow of `order`, by position. */
export const expectedEvents = (order: string): Array<Record<string, unknown>> => {
  const charge = { toolName: "charge_back", toolCallId: `call_${order}_0` }
  const report = { toolName: "write_report", toolCallId: `call_${order}_1` }
  const text = `done ${order}: report filed for ${order}`
  const call = (c: typeof charge) => ({ part: "ToolCallPart", ...c, args: { order } })
  return [
    { tag: "PartStartEvent", index: 0, ...call(charge) },
    { tag: "PartEndEvent", index: 0, ...call(charge) },
    { tag: "FunctionToolCallEvent", ...call(charge) },
    {
      tag: "FunctionToolResultEvent",
      result: "ToolReturnPart",
      ...charge,
      content: `charged back ${order}`
    },
    { tag: "PartStartEvent", index: 0, ...call(report) },
    { tag: "PartEndEvent", index: 0, ...call(report) },
    { tag: "FunctionToolCallEvent", ...call(report) },
    {
      tag: "FunctionToolResultEvent",
      result: "ToolReturnPart",
      ...report,
      content: `report filed for ${order}`
    },
    { tag: "PartStartEvent", index: 0, part: "TextPart", content: text },
    { tag: "FinalResultEvent" },
    { tag: "PartEndEvent", index: 0, part: "TextPart", content: text }
  ]
}

const argsOf = (args: unknown) => (typeof args === "string" ? JSON.parse(args) : args)

/**
 * Checks the events a subscriber of `order` printed (`{ event }` lines of one subscription,
 * in order): the numbered events from `from` to the last one, each once and in order, with
 * their fields; the deltas of a part streamed live add up to the part; the stream ends with
 * the run's result. Returns how many deltas there were.
 */
export const assertRunEvents = (
  events: ReadonlyArray<Record<string, any>>,
  order: string,
  from: number
): number => {
  const expected = expectedEvents(order)
  const numbered = events.filter((e) => e.position !== undefined && e.position !== null)
  assert.deepStrictEqual(
    numbered.map((e) => e.position),
    expected.map((_, i) => i).slice(from),
    `positions of ${order} from ${from}`
  )
  let deltas = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    if (e.tag === "PartDeltaEvent" || e.tag === "DurableRunResultEvent") continue
    const { id: _id, from: _from, position, ...fields } = e
    const want = expected[position]!
    if (e.tag !== "PartStartEvent") {
      assert.deepStrictEqual(
        { ...fields, ...(fields.args !== undefined ? { args: argsOf(fields.args) } : {}) },
        want,
        `event ${position} of ${order}`
      )
      continue
    }
    // A part's start: whole (told from storage), or its first chunk followed by deltas.
    const following: Array<string> = []
    for (let j = i + 1; j < events.length && events[j]!.tag !== "PartEndEvent"; j++) {
      if (events[j]!.tag !== "PartDeltaEvent") continue
      assert.strictEqual(events[j]!.index, e.index)
      following.push(events[j]!.text)
    }
    deltas += following.length
    const { content, args, ...rest } = fields
    const { content: wantContent, args: wantArgs, ...wantRest } = want
    assert.deepStrictEqual(rest, wantRest, `event ${position} of ${order}`)
    if (want.part === "TextPart") {
      assert.strictEqual(content + following.join(""), wantContent)
    } else {
      const whole = following.length === 0 ? args : `${args}${following.join("")}`
      assert.deepStrictEqual(argsOf(whole), wantArgs)
    }
  }
  const last = events.at(-1)!
  assert.deepStrictEqual(
    { ...last, executionId: undefined },
    {
      id: order,
      from,
      tag: "DurableRunResultEvent",
      output: `done ${order}: report filed for ${order}`,
      executionId: undefined,
      requests: 3,
      messages: 6
    }
  )
  assert.strictEqual(events.filter((e) => e.tag === "DurableRunResultEvent").length, 1)
  return deltas
}
