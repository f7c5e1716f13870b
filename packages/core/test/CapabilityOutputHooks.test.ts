/**
 * The output hooks of capabilities: `beforeOutputValidate` / `wrapOutputValidate` /
 * `onOutputValidateError` / `afterOutputValidate` around the output spec's decoding of the
 * model's final answer (text or an output tool call), then the agent's `outputValidators`,
 * then `afterOutputProcess` on the final output — on `run` and `runStream` alike.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Agent, AgentError, Capability, FunctionModel, Messages } from "@agentfx/core"
import { finalResultOutput } from "./support/output.js"

/** `final_result` decoded strictly: its args must be a JSON object with a string `city`. */
const cityOutput = finalResultOutput<{ city: string }>(
  (call) =>
    Effect.suspend(() => {
      let args: unknown
      try {
        args = call.argsAsObject()
      } catch {
        return Effect.fail(new AgentError.ModelRetry({ reason: "Invalid JSON." }))
      }
      const city = (args as { city?: unknown }).city
      return typeof city === "string"
        ? Effect.succeed({ city })
        : Effect.fail(new AgentError.ModelRetry({ reason: "city must be a string" }))
    }),
  { type: "object", properties: { city: { type: "string" } } }
)

/** The retry prompts of a history. */
const retries = (messages: ReadonlyArray<Messages.ModelMessage>) =>
  messages
    .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
    .filter((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
    .map((p) => String(p.content))

/** A model answering with `final_result(args)` first, then `{ city: "Lyon" }`. */
const answering = (args: string | Record<string, unknown>) => {
  let n = 0
  return FunctionModel.layer(() =>
    ++n === 1
      ? FunctionModel.toolCall("final_result", args, "o1")
      : FunctionModel.toolCall("final_result", { city: "Lyon" }, "o2")
  )
}

describe("Capability output hooks", () => {
  it.effect("the order: before, wrap around the decoding, after, the validators, process", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const cap = (name: string) =>
        Capability.hooks({
          beforeOutputValidate: (_ctx, v) =>
            Effect.sync(() => {
              log.push(`${name}.before(${v.kind})`)
              return v
            }),
          wrapOutputValidate: (_ctx, v, next) =>
            Effect.sync(() => log.push(`${name}.wrap:in`)).pipe(
              Effect.zipRight(next(v)),
              Effect.tap(() => Effect.sync(() => log.push(`${name}.wrap:out`)))
            ),
          afterOutputValidate: (_ctx, _v, output) =>
            Effect.sync(() => {
              log.push(`${name}.afterValidate`)
              return output
            }),
          afterOutputProcess: (ctx, output) =>
            Effect.sync(() => {
              log.push(`${name}.afterProcess(${ctx.toolName})`)
              return output
            })
        })
      const agent = Agent.make({
        output: cityOutput,
        capabilities: [cap("a"), cap("b")],
        outputValidators: [
          (o) =>
            Effect.sync(() => {
              log.push("validator")
              return o
            })
        ]
      })
      const result = yield* agent.run("go").pipe(Effect.provide(answering({ city: "Paris" })))
      assert.deepStrictEqual(result.output, { city: "Paris" })
      assert.deepStrictEqual(log, [
        "a.before(tool)",
        "b.before(tool)",
        "a.wrap:in",
        "b.wrap:in",
        "b.wrap:out",
        "a.wrap:out",
        "b.afterValidate",
        "a.afterValidate",
        "validator",
        "b.afterProcess(final_result)",
        "a.afterProcess(final_result)"
      ])
    })
  )

  it.effect("beforeOutputValidate repairs an output tool's JSON; without it, a retry", () =>
    Effect.gen(function* () {
      const repair = Capability.hooks({
        beforeOutputValidate: (_ctx, v) =>
          Effect.succeed(
            v.kind === "tool" && typeof v.call.args === "string"
              ? {
                  ...v,
                  call: new Messages.ToolCallPart({
                    ...v.call,
                    args: v.call.args.replace(/,\s*}$/, "}")
                  })
                }
              : v
          )
      })
      const broken = '{"city": "Paris",}'
      const repaired = yield* Agent.make({ output: cityOutput, capabilities: [repair] })
        .run("go")
        .pipe(Effect.provide(answering(broken)))
      assert.deepStrictEqual(repaired.output, { city: "Paris" })
      assert.deepStrictEqual(retries(repaired.allMessages()), [])
      const plain = yield* Agent.make({ output: cityOutput })
        .run("go")
        .pipe(Effect.provide(answering(broken)))
      assert.deepStrictEqual(plain.output, { city: "Lyon" })
      assert.deepStrictEqual(retries(plain.allMessages()), ["Invalid JSON."])
    })
  )

  it.effect("onOutputValidateError recovers with an output; None passes the retry on", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const recovering = Capability.hooks({
        onOutputValidateError: (_ctx, v, error) =>
          Effect.sync(() => {
            seen.push(`${v.kind}: ${error.reason}`)
            return Option.some({ city: "Unknown" })
          })
      })
      const result = yield* Agent.make({ output: cityOutput, capabilities: [recovering] })
        .run("go")
        .pipe(Effect.provide(answering({ city: 42 })))
      assert.deepStrictEqual(result.output, { city: "Unknown" })
      assert.deepStrictEqual(seen, ["tool: city must be a string"])
      const passing = Capability.hooks({
        onOutputValidateError: () => Effect.succeed(Option.none())
      })
      const passed = yield* Agent.make({ output: cityOutput, capabilities: [passing] })
        .run("go")
        .pipe(Effect.provide(answering({ city: 42 })))
      assert.deepStrictEqual(passed.output, { city: "Lyon" })
      assert.deepStrictEqual(retries(passed.allMessages()), ["city must be a string"])
    })
  )

  it.effect("text output: rewritten before decoding, redacted after; runStream ends with it", () =>
    Effect.gen(function* () {
      const cap = Capability.hooks({
        beforeOutputValidate: (_ctx, v) =>
          Effect.succeed(v.kind === "text" ? { ...v, text: v.text.trim() } : v),
        afterOutputProcess: (_ctx, output) =>
          Effect.succeed(String(output).replace(/\d{3}-\d{4}/g, "[PHONE]"))
      })
      const agent = Agent.make({ capabilities: [cap] })
      const answer = () => FunctionModel.text("  Call me at 555-1234.  ")
      const model = FunctionModel.layer(answer, { stream: FunctionModel.streamOf(answer) })
      const result = yield* agent.run("go").pipe(Effect.provide(model))
      assert.strictEqual(result.output, "Call me at [PHONE].")
      const events = yield* Stream.runCollect(agent.runStream("go")).pipe(Effect.provide(model))
      const last = Chunk.unsafeLast(events)
      assert.strictEqual(last._tag, "AgentRunResultEvent")
      assert.strictEqual(
        (last as Agent.AgentRunResultEvent<string>).result.output,
        "Call me at [PHONE]."
      )
    })
  )

  it.effect("ModelRetry from afterOutputProcess asks the model again (output budget)", () =>
    Effect.gen(function* () {
      let n = 0
      const model = FunctionModel.layer(() => (++n === 1 ? "TODO" : "done"))
      const cap = Capability.hooks({
        afterOutputProcess: (_ctx, output) =>
          output === "TODO"
            ? Effect.fail(new AgentError.ModelRetry({ reason: "Give a real answer." }))
            : Effect.succeed(output)
      })
      const result = yield* Agent.make({ capabilities: [cap] })
        .run("go")
        .pipe(Effect.provide(model))
      assert.strictEqual(result.output, "done")
      assert.deepStrictEqual(retries(result.allMessages()), ["Give a real answer."])
      // With no budget left the run fails with the typed error and its history.
      const exhausted = yield* Effect.flip(
        Agent.make({ capabilities: [cap], outputRetries: 0 })
          .run("go")
          .pipe(Effect.provide(FunctionModel.layer(() => "TODO")))
      )
      assert.strictEqual(exhausted._tag, "UnexpectedModelBehavior")
    })
  )
})
