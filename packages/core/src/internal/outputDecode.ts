/**
 * Output decoding of the run loop: the agent's output decoded and validated (`decodeOutput`,
 * `ModelRetry` returned as a value), and the partial outputs `streamOutput` emits while a run
 * streams (`partialOutputs`).
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { ModelRetry } from "../AgentError.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import type { OutputValidation } from "../Capability.js"
import { afterOutputProcess, type CompiledHooks, validateOutput } from "./capabilities.js"
import type { AgentConfig, Machine } from "./runLoop.js"
import { makeToolCallPart } from "./makers.js"

const isModelRetry = (u: unknown): u is ModelRetry => u instanceof ModelRetry

/** A decoded output, or the `ModelRetry` that refused it. */
export type Decoded<A> = { ok: true; value: A } | { ok: false; error: ModelRetry }

/**
 * Decodes with the spec (`decode`), then runs the agent's validators; `ModelRetry` is returned,
 * not failed. The validators see the `RunContext` that `ctx` gives.
 */
export const decodeOutput = <A>(
  config: Pick<AgentConfig, "outputValidators" | "hooks">,
  ctx: Effect.Effect<RunContextService>,
  decode: Effect.Effect<A, ModelRetry, unknown>,
  hooked?: {
    readonly validation: OutputValidation
    readonly decode: (validation: OutputValidation) => Effect.Effect<A, ModelRetry, unknown>
  }
): Effect.Effect<Decoded<A>, unknown, unknown> => {
  const hooks = config.hooks
  if (hooked !== undefined && hooks?.output === true) {
    return decodeHooked(config.outputValidators, hooks, ctx, hooked.validation, hooked.decode)
  }
  const validators = config.outputValidators
  // A decode that is already an `Exit` (plain text) with no validators reads no context:
  // building and providing a `RunContext` would cost more than the decoding.
  const validated =
    validators.length === 0 && Exit.isExit(decode)
      ? decode
      : Effect.flatMap(ctx, (c) =>
          Effect.provideService(
            validators.length === 0
              ? decode
              : Effect.flatMap(decode, (a) =>
                  Effect.reduce(validators, a, (acc, validate) => validate(acc))
                ),
            RunContext,
            c
          )
        )
  return validated.pipe(
    Effect.map((value): Decoded<A> => ({ ok: true as const, value })),
    Effect.catchIf(isModelRetry, (error) => Effect.succeed<Decoded<A>>({ ok: false, error }))
  )
}

/**
 * `decodeOutput` through the capabilities' output hooks: the validation hooks around the spec's
 * decoding, the agent's validators, then the `afterOutputProcess` hooks.
 */
const decodeHooked = <A>(
  validators: AgentConfig["outputValidators"],
  hooks: CompiledHooks,
  ctx: Effect.Effect<RunContextService>,
  validation: OutputValidation,
  decode: (validation: OutputValidation) => Effect.Effect<A, ModelRetry, unknown>
): Effect.Effect<Decoded<A>, unknown, unknown> =>
  Effect.flatMap(ctx, (c) => {
    const validated = Effect.flatMap(
      validateOutput(hooks, c, validation, (v) => Effect.provideService(decode(v), RunContext, c)),
      (a) =>
        Effect.provideService(
          Effect.reduce(validators, a, (acc, validate) => validate(acc)),
          RunContext,
          c
        )
    )
    const processed =
      hooks.afterOutputProcess === undefined
        ? validated
        : Effect.flatMap(validated, (a) => afterOutputProcess(hooks.afterOutputProcess!, c, a))
    return processed.pipe(
      Effect.map((value): Decoded<A> => ({ ok: true as const, value: value as A })),
      Effect.catchIf(isModelRetry, (error) => Effect.succeed<Decoded<A>>({ ok: false, error }))
    )
  })

/**
 * `streamOutput`'s channel: partial outputs decoded from snapshots of each response
 * (`spec.handleText` / `spec.handleToolCall` with `partial: true`, failures swallowed, empty and
 * unchanged values skipped; at most once per `throttleMillis` when not 0), then the final
 * validated output last. Only the `OutputSpec` protocol is used, so any output mode works.
 */
export const partialOutputs = <A>(
  machine: Machine<A>,
  throttleMillis: number
): Channel.Channel<Chunk.Chunk<A>, unknown, unknown, unknown, unknown, unknown> => {
  let lastDecodeAt = Number.NEGATIVE_INFINITY
  const spec = machine.output
  const decodesText = spec.allowTextOutput || spec.acceptsText === true
  let text = ""
  const calls = new Map<number, { name: string; args: string }>()
  let last: unknown
  const decodeSnapshot = Effect.suspend(() => {
    let decode: Effect.Effect<A, ModelRetry, unknown> | undefined
    for (const [index, c] of calls) {
      // the step's offer (`prepareOutputTools` may hide output tools)
      if (machine.output.isOutputTool(c.name)) {
        decode = spec.handleToolCall(
          makeToolCallPart({ toolName: c.name, toolCallId: `partial_${index}`, args: c.args }),
          { partial: true }
        )
        break
      }
    }
    if (decode === undefined && decodesText && text !== "") {
      decode = spec.handleText(text, { partial: true })
    }
    if (decode === undefined) return Effect.succeed(Option.none<A>())
    return Effect.flatMap(machine.partialContext, (ctx) =>
      decode!.pipe(
        Effect.provideService(RunContext, ctx),
        Effect.provide(machine.context),
        Effect.map((a) => {
          if (a === undefined || a === null) return Option.none<A>()
          // Cheap dedupe: a primitive compares by value, an object by reference.
          if (a === last) return Option.none<A>()
          last = a
          return Option.some(a)
        }),
        Effect.orElseSucceed(() => Option.none<A>())
      )
    )
  })
  const outputs = machine.streamAll(machine.start).pipe(
    Stream.mapChunksEffect((chunk) => {
      let changed = false
      let final: A | undefined
      let hasFinal = false
      for (const e of chunk) {
        switch (e._tag) {
          case "PartStartEvent":
            if (e.index === 0) {
              text = ""
              calls.clear()
            }
            if (e.part._tag === "TextPart") {
              text += e.part.content
              changed = true
            } else if (e.part._tag === "ToolCallPart") {
              calls.set(e.index, {
                name: e.part.toolName,
                args: typeof e.part.args === "string" ? e.part.args : JSON.stringify(e.part.args)
              })
              changed = true
            }
            break
          case "PartDeltaEvent":
            if (e.delta._tag === "TextPartDelta") {
              text += e.delta.contentDelta
              changed = true
            } else if (e.delta._tag === "ToolCallPartDelta") {
              const c = calls.get(e.index)
              if (c !== undefined && typeof e.delta.argsDelta === "string") {
                c.args += e.delta.argsDelta
                changed = true
              }
            }
            break
          case "AgentRunResultEvent":
            final = e.result.output
            hasFinal = true
            break
        }
      }
      if (hasFinal) return Effect.succeed(Chunk.of(final as A))
      if (!changed) return Effect.succeed(Chunk.empty<A>())
      const emit = Effect.map(decodeSnapshot, (o) =>
        Option.isSome(o) ? Chunk.of(o.value) : Chunk.empty<A>()
      )
      if (throttleMillis === 0) return emit
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (now - lastDecodeAt < throttleMillis) return Effect.succeed(Chunk.empty<A>())
        lastDecodeAt = now
        return emit
      })
    })
  )
  return Stream.toChannel(outputs)
}
