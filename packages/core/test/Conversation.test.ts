/**
 * pydantic-ai's message fields: `ModelRequest.timestamp` (from Effect's `Clock`, so `TestClock`
 * drives it), `conversationId` on every message a run adds (the option, else the history's, else
 * a generated one; in `RunContext`), `metadata` / `providerUrl`, all through a JSON round trip.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Agent, FunctionModel, Messages, RunContext, Tool } from "@agentfx/core"

/** The conversation ids the `clock` tool saw in its `RunContext`. */
const seenIds: Array<string | undefined> = []

/** Moves the test clock on by 5 s: the next request is 5 s later. */
const clock = Tool.make("clock", {
  parameters: Schema.Struct({}),
  handler: () =>
    Effect.gen(function* () {
      const ctx = yield* RunContext.RunContext
      seenIds.push(ctx.conversationId)
      yield* TestClock.adjust("5 seconds")
      return "ticked"
    })
})

const agent = Agent.make({ tools: [clock] })

/** Calls `clock` once per run, then answers "done". */
const script = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const last = messages[messages.length - 1]
  const answered =
    last?._tag === "ModelRequest" && last.parts.some((p) => p._tag === "ToolReturnPart")
  return answered ? "done" : FunctionModel.toolCall("clock", {})
}
const model = FunctionModel.layer(script, { stream: FunctionModel.streamOf(script) })

const requests = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m): m is Messages.ModelRequest => m._tag === "ModelRequest")

describe("ModelRequest timestamp / conversation id", () => {
  it.effect("request timestamps come from the Clock; one generated conversation id", () =>
    Effect.gen(function* () {
      seenIds.length = 0
      yield* TestClock.setTime(1_700_000_000_000)
      const result = yield* agent.run("tick")
      const [first, second] = requests(result.allMessages())
      assert.strictEqual(first!.timestamp?.getTime(), 1_700_000_000_000)
      assert.strictEqual(second!.timestamp?.getTime(), 1_700_000_005_000)
      const id = first!.conversationId
      assert.match(id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      assert.deepStrictEqual(
        result.allMessages().map((m) => m.conversationId),
        [id, id, id, id]
      )
      assert.deepStrictEqual(seenIds, [id])
      // A new run without a history is a new conversation.
      const other = yield* agent.run("tick")
      assert.notStrictEqual(other.allMessages()[0]!.conversationId, id)
    }).pipe(Effect.provide(model))
  )

  it.effect("a continued conversation keeps its id, also after a JSON round trip", () =>
    Effect.gen(function* () {
      seenIds.length = 0
      const first = yield* agent.run("tick")
      const id = first.allMessages()[0]!.conversationId!
      const stored = Messages.encodeJson(first.allMessages())
      const history = yield* Messages.decodeJson(stored)
      assert.deepStrictEqual(history, first.allMessages())
      const next = yield* Agent.finalResult(agent.runStream("again", { messageHistory: history }))
      assert.deepStrictEqual(
        next.newMessages().map((m) => m.conversationId),
        [id, id, id, id]
      )
      assert.deepStrictEqual(seenIds, [id, id])
      // The option wins over the history's id.
      const forked = yield* agent.run("fork", { messageHistory: history, conversationId: "c-2" })
      assert.deepStrictEqual(
        forked.newMessages().map((m) => m.conversationId),
        ["c-2", "c-2", "c-2", "c-2"]
      )
      assert.deepStrictEqual(seenIds, [id, id, "c-2"])
      assert.strictEqual(forked.conversationId, "c-2")
      assert.strictEqual(next.conversationId, id)
      // The history's messages are not rewritten.
      assert.strictEqual(forked.allMessages()[0]!.conversationId, id)
      // "new": a new conversation on the same history (a branch).
      const branch = yield* agent.run("branch", { messageHistory: history, conversationId: "new" })
      const fresh = branch.conversationId!
      assert.match(fresh, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
      assert.notStrictEqual(fresh, id)
      assert.deepStrictEqual(
        branch.newMessages().map((m) => m.conversationId),
        [fresh, fresh, fresh, fresh]
      )
      assert.deepStrictEqual(seenIds, [id, id, "c-2", fresh])
    }).pipe(Effect.provide(model))
  )

  it.effect("metadata, providerUrl, timestamps and ids survive a JSON round trip", () =>
    Effect.gen(function* () {
      const messages: ReadonlyArray<Messages.ModelMessage> = [
        new Messages.ModelRequest({
          parts: [new Messages.UserPromptPart({ content: "hi" })],
          timestamp: new Date(1_700_000_000_000),
          conversationId: "c-1",
          metadata: { tenant: "acme", tags: ["a", "b"] }
        }),
        new Messages.ModelResponse({
          parts: [new Messages.TextPart({ content: "hello" })],
          timestamp: new Date(1_700_000_001_000),
          providerUrl: "https://api.example.test/v1",
          conversationId: "c-1",
          metadata: { reviewed: true }
        })
      ]
      const json = Messages.encodeJson(messages)
      const parsed = JSON.parse(json) as Array<Record<string, unknown>>
      assert.strictEqual(parsed[0]!.timestamp, "2023-11-14T22:13:20.000Z")
      assert.deepStrictEqual(parsed[0]!.metadata, { tenant: "acme", tags: ["a", "b"] })
      assert.strictEqual(parsed[1]!.providerUrl, "https://api.example.test/v1")
      const back = yield* Messages.decodeJson(json)
      assert.deepStrictEqual(back, messages)
      // Older histories without the fields still decode.
      const old = yield* Messages.decodeJson(
        '[{"_tag":"ModelRequest","parts":[{"_tag":"UserPromptPart","content":"hi"}]}]'
      )
      const request = old[0] as Messages.ModelRequest
      assert.isUndefined(request.timestamp)
      assert.isUndefined(request.conversationId)
      assert.isUndefined(request.metadata)
    })
  )

  it.effect("a request's metadata from the history is kept when it is sent again", () =>
    Effect.gen(function* () {
      const pending = new Messages.ModelRequest({
        parts: [new Messages.UserPromptPart({ content: "hi" })],
        metadata: { source: "inbox" }
      })
      const result = yield* agent
        .run(undefined, { messageHistory: [pending] })
        .pipe(Effect.provide(FunctionModel.layer(() => "ok")))
      const [sent] = requests(result.allMessages())
      assert.deepStrictEqual(sent!.metadata, { source: "inbox" })
      assert.isDefined(sent!.timestamp)
      assert.isDefined(sent!.conversationId)
      assert.strictEqual(result.allMessages()[1]!.conversationId, sent!.conversationId)
    })
  )
})

describe("stream drained", () => {
  it.effect("runStream stamps the same ids as run", () =>
    Effect.gen(function* () {
      const events = yield* Stream.runCollect(agent.runStream("tick", { conversationId: "s-1" }))
      const last = [...events].pop()!
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      if (last._tag === "AgentRunResultEvent") {
        assert.deepStrictEqual(
          last.result.allMessages().map((m) => m.conversationId),
          ["s-1", "s-1", "s-1", "s-1"]
        )
      }
    }).pipe(Effect.provide(model))
  )
})
