/**
 * Instructions and system prompts of the run loop: the system prompt parts of a fresh
 * conversation, dynamic system prompts re-evaluated in a continued one, and the instructions
 * text sent with every request (static ones, dynamic ones evaluated per request, the output
 * mode's own).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { DynamicSystemPrompt, type SystemPrompt } from "../AgentGraph.js"
import { type ModelMessage, type ModelRequestPart, SystemPromptPart } from "../Messages.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import { makeModelRequest, makeSystemPromptPart } from "./makers.js"

/** The system prompt parts of a fresh conversation (empty results are left out). */
export const systemPromptParts = (
  prompts: ReadonlyArray<SystemPrompt<any, any>>,
  ctx: Effect.Effect<RunContextService>
): Effect.Effect<Array<SystemPromptPart>, unknown, unknown> => {
  if (prompts.length === 0) return Effect.sync(() => [])
  return Effect.flatMap(ctx, (ctx) =>
    Effect.map(
      Effect.forEach(prompts, (p) =>
        typeof p === "string"
          ? Effect.succeed(p === "" ? undefined : makeSystemPromptPart({ content: p }))
          : p instanceof DynamicSystemPrompt
            ? Effect.map(Effect.provideService(p.prompt, RunContext, ctx), (content) =>
                content === undefined || content === ""
                  ? undefined
                  : makeSystemPromptPart({ content, dynamicRef: p.ref })
              )
            : Effect.map(Effect.provideService(p, RunContext, ctx), (content) =>
                content === undefined || content === ""
                  ? undefined
                  : makeSystemPromptPart({ content })
              )
      ),
      (parts) => parts.filter((p): p is SystemPromptPart => p !== undefined)
    )
  )
}

/**
 * Re-evaluates the dynamic system prompts of a continued conversation: every part whose
 * `dynamicRef` names one of `dynamicByRef` gets a fresh evaluation (with the `RunContext` that
 * `ctx(history)` gives).
 */
export const reevaluateSystemPrompts = (
  history: ReadonlyArray<ModelMessage>,
  dynamicByRef: ReadonlyMap<string, DynamicSystemPrompt<any, any>>,
  ctx: (history: ReadonlyArray<ModelMessage>) => Effect.Effect<RunContextService>
): Effect.Effect<ReadonlyArray<ModelMessage>, unknown, unknown> => {
  if (dynamicByRef.size === 0) return Effect.succeed(history)
  return Effect.gen(function* () {
    const context = yield* ctx(history)
    const out: Array<ModelMessage> = []
    for (const m of history) {
      const refreshed =
        m._tag === "ModelRequest" &&
        m.parts.some(
          (p) =>
            p._tag === "SystemPromptPart" &&
            p.dynamicRef !== undefined &&
            dynamicByRef.has(p.dynamicRef)
        )
      if (!refreshed) {
        out.push(m)
        continue
      }
      const parts: Array<ModelRequestPart> = []
      for (const p of m.parts) {
        const dynamic =
          p._tag === "SystemPromptPart" && p.dynamicRef !== undefined
            ? dynamicByRef.get(p.dynamicRef)
            : undefined
        if (dynamic === undefined) {
          parts.push(p)
          continue
        }
        const content = yield* Effect.provideService(dynamic.prompt, RunContext, context)
        parts.push(makeSystemPromptPart({ content: content ?? "", dynamicRef: dynamic.ref }))
      }
      out.push(makeModelRequest.copy(m, { parts }))
    }
    return out
  })
}

/**
 * The instructions of one request: the static ones, the dynamic ones evaluated for it, then
 * the output mode's (`extra`), joined by blank lines; `undefined` when there are none.
 */
export const instructionsText = (
  statics: ReadonlyArray<string>,
  dynamic: ReadonlyArray<string>,
  extra: string | undefined
): string | undefined => {
  const hasExtra = extra !== undefined && extra !== ""
  if (dynamic.length === 0 && !hasExtra) {
    return statics.length === 0
      ? undefined
      : statics.length === 1
        ? statics[0]
        : statics.join("\n\n")
  }
  const all = [...statics, ...dynamic]
  if (hasExtra) all.push(extra)
  return all.length > 0 ? all.join("\n\n") : undefined
}
