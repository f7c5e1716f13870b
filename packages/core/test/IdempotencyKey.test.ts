/**
 * `RunContext.idempotencyKey`: the same for every execution of one call, different for every
 * other call of the run — also when the model reuses a call id in a later response.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, FunctionModel, type Messages, RunContext, Tool } from "@agentfx/core"

const responses = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages.filter((m) => m._tag === "ModelResponse").length

/** A `charge` tool recording the key and amount of every execution. */
const charges = () => {
  const seen: Array<{ readonly key: string; readonly amount: number }> = []
  const tool = Tool.make("charge", {
    parameters: Schema.Struct({ amount: Schema.Number }),
    handler: ({ amount }) =>
      Effect.map(RunContext.RunContext, (ctx) => {
        seen.push({ key: RunContext.idempotencyKey(ctx), amount })
        return "charged"
      })
  })
  return { seen, tool }
}

describe("RunContext.idempotencyKey", () => {
  it.effect("a call id the model reuses in a later response gets its own key", () =>
    Effect.gen(function* () {
      const { seen, tool } = charges()
      // three responses calling `charge`, each with the same id (as FunctionModel.toolCall
      // without an id, or a provider numbering calls per response)
      const model = FunctionModel.layer((messages) => {
        const n = responses(messages)
        return n < 3 ? FunctionModel.toolCall("charge", { amount: n + 1 }) : "done"
      })
      const result = yield* Agent.make({ tools: [tool] })
        .run("pay")
        .pipe(Effect.provide(model))
      const runId = seen[0]!.key.split("/")[0]!
      assert.deepStrictEqual(seen, [
        { key: `${runId}/call_charge`, amount: 1 },
        { key: `${runId}/call_charge@2`, amount: 2 },
        { key: `${runId}/call_charge@3`, amount: 3 }
      ])
      assert.strictEqual(result.output, "done")
    })
  )

  it.effect("distinct ids keep the plain key; calls of one response each get their own", () =>
    Effect.gen(function* () {
      const { seen, tool } = charges()
      const model = FunctionModel.layer((messages) =>
        responses(messages) === 0
          ? FunctionModel.toolCalls([
              { toolName: "charge", args: { amount: 1 }, toolCallId: "a" },
              { toolName: "charge", args: { amount: 2 }, toolCallId: "b" }
            ])
          : "done"
      )
      yield* Agent.make({ tools: [tool], maxConcurrency: 1 })
        .run("pay")
        .pipe(Effect.provide(model))
      const runId = seen[0]!.key.split("/")[0]!
      assert.deepStrictEqual(
        seen.map((s) => s.key),
        [`${runId}/a`, `${runId}/b`]
      )
    })
  )

  it.effect("the same call gives the same key when its run is replayed from the same history", () =>
    Effect.gen(function* () {
      // a run continued from a history that already called `call_charge` once: the new call is
      // the second use of the id, in this run and in any replay of it
      const first = charges()
      const model = FunctionModel.layer((messages) =>
        messages[messages.length - 1]!._tag === "ModelRequest" &&
        (messages[messages.length - 1] as Messages.ModelRequest).parts.some(
          (p) => p._tag === "UserPromptPart"
        )
          ? FunctionModel.toolCall("charge", { amount: 5 })
          : "done"
      )
      const earlier = yield* Agent.make({ tools: [first.tool] })
        .run("pay 5")
        .pipe(Effect.provide(model))
      const keys: Array<string> = []
      for (let i = 0; i < 2; i++) {
        const again = charges()
        yield* Agent.make({ tools: [again.tool] })
          .run("pay 5 again", { messageHistory: earlier.allMessages(), runId: "fixed-run" })
          .pipe(Effect.provide(model))
        keys.push(again.seen[0]!.key)
      }
      assert.strictEqual(keys[0], keys[1])
      assert.match(keys[0]!, /\/call_charge@2$/)
    })
  )
})
