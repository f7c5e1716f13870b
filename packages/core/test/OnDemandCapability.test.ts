/**
 * On-demand capabilities (`deferLoading`): collapsed to a catalog entry and a `load_capability`
 * tool until the model loads one; then its instructions come back as the tool's return and its
 * tools, hooks, settings and history processors are live from the next request — also in a
 * conversation continued from the history.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, Capability, FunctionModel, type Messages, Tool } from "@agentfx/core"

interface Seen {
  readonly tools: ReadonlyArray<string>
  readonly instructions: string | undefined
  readonly temperature: number | undefined
}

const refundStatus = Tool.make("refund_status", {
  description: "Looks up the refund status of an order.",
  parameters: Schema.Struct({ orderId: Schema.String }),
  handler: ({ orderId }) => Effect.succeed(`Order ${orderId}: refund issued on 2026-05-01.`)
})

const refunds = (log: Array<string>) =>
  Capability.make({
    id: "refunds",
    description: "Use for refund eligibility, refund status, or processing a refund.",
    instructions: "Always confirm the order ID before issuing a refund.",
    tools: [refundStatus],
    modelSettings: { temperature: 0.1 },
    deferLoading: true,
    hooks: {
      beforeModelRequest: (ctx, request) =>
        Effect.sync(() => {
          log.push(`refunds.beforeModelRequest(${ctx.runStep})`)
          return request
        })
    }
  })

/** The last request's parts. */
const lastParts = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const last = messages[messages.length - 1]
  return last?._tag === "ModelRequest" ? last.parts : []
}

/**
 * A model that loads `refunds`, then calls `refund_status`, then answers with what it got;
 * records what each request offered.
 */
const scripted = (seen: Array<Seen>, first: "load" | "hidden" = "load") =>
  FunctionModel.layer((messages, info) => {
    seen.push({
      tools: info.functionTools.map((t) => t.name),
      instructions: FunctionModel.instructionsOf(messages),
      temperature: info.modelSettings.temperature
    })
    const parts = lastParts(messages)
    const returned = parts.find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
    const retry = parts.find((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
    if (retry !== undefined) return FunctionModel.text(`retry: ${String(retry.content)}`)
    if (returned?.toolName === "refund_status") return FunctionModel.text(String(returned.content))
    if (returned?.toolName === "load_capability") {
      return FunctionModel.toolCall("refund_status", { orderId: "ABC-123" }, "c2")
    }
    return first === "load"
      ? FunctionModel.toolCall("load_capability", { id: "refunds" }, "c1")
      : FunctionModel.toolCall("refund_status", { orderId: "ABC-123" }, "c1")
  })

describe("on-demand capabilities", () => {
  it.effect("collapsed until loaded; the load returns its instructions; then it is live", () =>
    Effect.gen(function* () {
      const seen: Array<Seen> = []
      const log: Array<string> = []
      const agent = Agent.make({
        instructions: "You are a customer support assistant.",
        capabilities: [refunds(log)]
      })
      const result = yield* agent
        .run("Where is my refund for ABC-123?")
        .pipe(Effect.provide(scripted(seen)))
      assert.strictEqual(result.output, "Order ABC-123: refund issued on 2026-05-01.")
      // Request 1: the catalog and the loader, not the capability's tool, instructions or settings.
      assert.deepStrictEqual(seen[0]!.tools, ["load_capability"])
      assert.include(seen[0]!.instructions, "You are a customer support assistant.")
      assert.include(
        seen[0]!.instructions,
        "- refunds: Use for refund eligibility, refund status, or processing a refund."
      )
      assert.notInclude(seen[0]!.instructions, "Always confirm the order ID")
      assert.strictEqual(seen[0]!.temperature, undefined)
      // The load's return is the capability's instructions.
      const load = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .find((p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart")
      assert.strictEqual(
        load?.content,
        "Capability 'refunds' loaded.\n\nAlways confirm the order ID before issuing a refund."
      )
      // Request 2 on: its tool and its settings; its hook fires from then on only.
      assert.deepStrictEqual(seen[1]!.tools, ["refund_status", "load_capability"])
      assert.strictEqual(seen[1]!.temperature, 0.1)
      assert.deepStrictEqual(log, [
        "refunds.beforeModelRequest(2)",
        "refunds.beforeModelRequest(3)"
      ])
      assert.deepStrictEqual([...Capability.loadedIds(result.allMessages())], ["refunds"])
    })
  )

  it.effect("a hidden tool cannot be called before its capability is loaded", () =>
    Effect.gen(function* () {
      const seen: Array<Seen> = []
      const agent = Agent.make({ capabilities: [refunds([])] })
      const result = yield* agent.run("refund?").pipe(Effect.provide(scripted(seen, "hidden")))
      assert.include(result.output, "Unknown tool name: 'refund_status'")
      assert.strictEqual(result.usage.toolCalls, 0)
    })
  )

  it.effect("a conversation continued from its history keeps what it loaded", () =>
    Effect.gen(function* () {
      const seen: Array<Seen> = []
      const agent = Agent.make({ capabilities: [refunds([])] })
      const first = yield* agent.run("refund?").pipe(Effect.provide(scripted(seen)))
      const again: Array<Seen> = []
      yield* agent
        .run("And the other order?", { messageHistory: first.allMessages() })
        .pipe(Effect.provide(scripted(again)))
      // The first request of the continued run already offers the loaded capability's tool.
      assert.deepStrictEqual(again[0]!.tools, ["refund_status", "load_capability"])
      assert.strictEqual(again[0]!.temperature, 0.1)
    })
  )

  it.effect("the agent's and the run's on-demand capabilities share one loader and catalog", () =>
    Effect.gen(function* () {
      let offered: ReadonlyArray<Record<string, unknown>> = []
      let instructions: string | undefined
      const model = FunctionModel.layer((messages, info) => {
        offered = info.functionTools.map((t) => t.parametersJsonSchema)
        instructions = FunctionModel.instructionsOf(messages)
        return FunctionModel.text("ok")
      })
      const shipping = Capability.make({
        id: "shipping",
        description: "Use for delivery questions.",
        deferLoading: true
      })
      const agent = Agent.make({ capabilities: [refunds([])] })
      yield* agent.run("hi", { capabilities: [shipping] }).pipe(Effect.provide(model))
      assert.strictEqual(offered.length, 1)
      const id = (offered[0]!.properties as Record<string, Record<string, unknown>>).id!
      assert.deepStrictEqual(id.enum, ["refunds", "shipping"])
      assert.include(instructions, "- refunds: Use for refund")
      assert.include(instructions, "- shipping: Use for delivery questions.")
      assert.strictEqual(instructions!.split("load_capability").length, 2)
    })
  )

  it.effect("loading twice says so; an unknown id is a retry prompt", () =>
    Effect.gen(function* () {
      let step = 0
      const model = FunctionModel.layer((messages) => {
        step++
        const parts = lastParts(messages)
        const texts = parts.map((p) =>
          p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart" ? String(p.content) : ""
        )
        if (step === 1) return FunctionModel.toolCall("load_capability", { id: "refunds" }, "a")
        if (step === 2) return FunctionModel.toolCall("load_capability", { id: "refunds" }, "b")
        if (step === 3) return FunctionModel.toolCall("load_capability", { id: "nope" }, "c")
        return FunctionModel.text(texts.join(" | "))
      })
      const agent = Agent.make({ capabilities: [refunds([])] })
      const result = yield* agent.run("x").pipe(Effect.provide(model))
      const contents = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .filter((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
        .map((p) => p._tag)
      assert.deepStrictEqual(contents, ["ToolReturnPart", "ToolReturnPart", "RetryPromptPart"])
      const second = result
        .allMessages()
        .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
        .find(
          (p): p is Messages.ToolReturnPart => p._tag === "ToolReturnPart" && p.toolCallId === "b"
        )
      assert.strictEqual(second?.content, "Capability 'refunds' is already loaded.")
    })
  )

  it.effect("two on-demand capabilities with one id fail the run with a UserError", () =>
    Effect.gen(function* () {
      const again = Capability.make({ id: "refunds", deferLoading: true })
      const agent = Agent.make({ capabilities: [refunds([]), again] })
      const error = yield* Effect.flip(
        agent.run("x").pipe(Effect.provide(FunctionModel.layer(() => "ok")))
      )
      assert.strictEqual(error._tag, "UserError")
      assert.include((error as { reason: string }).reason, "'refunds' is used more than once")
    })
  )

  it("deferLoading needs an id", () => {
    assert.throws(
      () => Capability.make({ name: "x", deferLoading: true }),
      /deferLoading needs an id/
    )
  })
})
