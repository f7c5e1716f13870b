/**
 * Resuming a subscription after its runner went away (`internal/subscription.ts`): the next
 * runner tells the model response in progress again from its start. What repeats what the
 * subscriber was told is dropped; what differs, or goes on past a part cut short, is told
 * from the start of that part — each case here with the positions a subscriber gets.
 */
import { Messages } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import type { Told } from "../src/internal/events.js"
import { Resume } from "../src/internal/subscription.js"

const call = (id: string) =>
  new Messages.ToolCallPart({ toolName: "write_report", toolCallId: id, args: { order: id } })
const text = (content: string) => new Messages.TextPart({ content })
const at = (position: number, event: Told["event"], delta = false): Told => ({
  position,
  delta,
  event
})
const start = (p: number, index: number, part: Messages.ModelResponsePart) =>
  at(p, new Messages.PartStartEvent({ index, part }))
const end = (p: number, index: number, part: Messages.ModelResponsePart) =>
  at(p, new Messages.PartEndEvent({ index, part }))
const delta = (p: number, index: number, s: string) =>
  at(
    p,
    new Messages.PartDeltaEvent({ index, delta: new Messages.TextPartDelta({ contentDelta: s }) }),
    true
  )
const toolCall = (p: number, id: string) =>
  at(p, new Messages.FunctionToolCallEvent({ part: call(id) }))

/** What the subscriber is told for these received events, as `position` / `position~` (delta). */
const tell = (resume: Resume, items: ReadonlyArray<Told>): Array<string> =>
  items.flatMap((i) => resume.accept(i)).map((t) => `${t.position}${t.delta ? "~" : ""}`)

describe("Resume", () => {
  it("a stored response told again after a crash is not told twice", () => {
    const resume = new Resume(0)
    // the first runner: a tool call response, its call, its result; then a second response
    // whose parts were all told before the runner died (its tool call event not yet)
    const told = [start(0, 0, call("a")), end(1, 0, call("a")), toolCall(2, "a")]
    assert.deepStrictEqual(tell(resume, told), ["0", "1", "2"])
    assert.deepStrictEqual(tell(resume, [start(3, 0, call("b")), end(4, 0, call("b"))]), ["3", "4"])
    // resubscribed from the start of the response in progress
    assert.strictEqual(resume.from, 3)
    // the next runner tells it from storage (the part whole, its arguments as a JSON string
    // here), then goes on
    const stored = new Messages.ToolCallPart({ ...call("b"), args: JSON.stringify(call("b").args) })
    const retold = [start(3, 0, stored), end(4, 0, stored), toolCall(5, "b")]
    assert.deepStrictEqual(tell(resume, retold), ["5"])
    assert.strictEqual(resume.from, 6)
  })

  it("a part streamed live and told again whole from storage is not told twice", () => {
    const resume = new Resume(0)
    const live = [
      start(0, 0, text("do")),
      delta(1, 0, "ne"),
      at(1, new Messages.FinalResultEvent({})),
      end(2, 0, text("done"))
    ]
    assert.deepStrictEqual(tell(resume, live), ["0", "1~", "1", "2"])
    const retold = [
      start(0, 0, text("done")),
      at(1, new Messages.FinalResultEvent({})),
      end(2, 0, text("done"))
    ]
    assert.deepStrictEqual(tell(resume, retold), [])
    assert.strictEqual(resume.from, 0)
  })

  it("a part cut short is told again from its start, the parts before it once", () => {
    const resume = new Resume(0)
    const told = [
      start(0, 0, call("a")),
      end(1, 0, call("a")),
      start(2, 1, text("he")),
      delta(3, 1, "l")
    ]
    assert.deepStrictEqual(tell(resume, told), ["0", "1", "2", "3~"])
    const retold = [
      start(0, 0, call("a")),
      end(1, 0, call("a")),
      start(2, 1, text("hello")),
      end(3, 1, text("hello"))
    ]
    assert.deepStrictEqual(tell(resume, retold), ["2", "3"])
  })

  it("a response asked again and answered differently is told from where it differs", () => {
    const resume = new Resume(0)
    const told = [
      start(0, 0, text("one")),
      end(1, 0, text("one")),
      start(2, 1, call("a")),
      end(3, 1, call("a"))
    ]
    assert.deepStrictEqual(tell(resume, told), ["0", "1", "2", "3"])
    const retold = [
      start(0, 0, text("two")),
      delta(1, 0, "!"),
      end(1, 0, text("two!")),
      start(2, 1, call("b")),
      end(3, 1, call("b")),
      toolCall(4, "b")
    ]
    assert.deepStrictEqual(tell(resume, retold), ["0", "1~", "1", "2", "3", "4"])
  })

  it("events before the response in progress and the run's end", () => {
    const resume = new Resume(2)
    assert.deepStrictEqual(tell(resume, [toolCall(1, "x"), toolCall(2, "a")]), ["2"])
    const endItem = at(3, { _tag: "End", exit: undefined as never })
    assert.deepStrictEqual(tell(resume, [toolCall(2, "a"), endItem]), ["3"])
    assert.isTrue(resume.ended)
  })
})
