/**
 * Capabilities inside the run loop: what a capability contributes is folded into the agent's
 * configuration (tools, built-in tools, instructions, settings, history processors), and its
 * hooks are compiled once per configuration into one list per hook point — `undefined` when
 * no capability has a hook there, so a run without hooks does exactly the work it did before.
 *
 * Middleware order: `before*` lists in declaration order, `after*` lists reversed, `wrap*`
 * chains built so that the first capability is outermost. Every hook's Effect is given the
 * `RunContext` it receives as its first argument.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type { ModelError } from "../AgentError.js"
import type { AgentRunResult } from "../AgentGraph.js"
import {
  type Any as AnyCapability,
  type Hooks,
  type ModelRequestContext,
  SkipModelRequest,
  SkipToolExecution,
  type ToolExecution
} from "../Capability.js"
import type { ModelResponse } from "../Messages.js"
import * as ModelSettings from "../ModelSettings.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import * as Toolset from "../Toolset.js"
import type { AgentConfig } from "./runLoop.js"

type Fn<K extends keyof Hooks<any, any>> = NonNullable<Hooks<any, any>[K]>
type List<K extends keyof Hooks<any, any>> = ReadonlyArray<Fn<K>> | undefined

/** The hooks of a configuration's capabilities, one list per hook point (`undefined`: none). */
export interface CompiledHooks {
  readonly beforeRun: List<"beforeRun">
  /** Reversed: the last capability's first. */
  readonly afterRun: List<"afterRun">
  readonly beforeModelRequest: List<"beforeModelRequest">
  readonly wrapModelRequest: List<"wrapModelRequest">
  /** Reversed. */
  readonly afterModelRequest: List<"afterModelRequest">
  /** Any model-request hook. */
  readonly model: boolean
  readonly beforeToolExecute: List<"beforeToolExecute">
  readonly wrapToolExecute: List<"wrapToolExecute">
  /** Reversed. */
  readonly afterToolExecute: List<"afterToolExecute">
  /** Any tool hook. */
  readonly tool: boolean
}

const collect = <K extends keyof Hooks<any, any>>(
  caps: ReadonlyArray<AnyCapability>,
  key: K,
  reversed = false
): List<K> => {
  const out: Array<Fn<K>> = []
  for (const c of caps) {
    const f = c.hooks[key]
    if (f !== undefined) out.push(f as Fn<K>)
  }
  if (out.length === 0) return undefined
  return reversed ? out.reverse() : out
}

/** The hooks of these capabilities, or `undefined` when none has any. */
export const compile = (caps: ReadonlyArray<AnyCapability>): CompiledHooks | undefined => {
  const hooks: CompiledHooks = {
    beforeRun: collect(caps, "beforeRun"),
    afterRun: collect(caps, "afterRun", true),
    beforeModelRequest: collect(caps, "beforeModelRequest"),
    wrapModelRequest: collect(caps, "wrapModelRequest"),
    afterModelRequest: collect(caps, "afterModelRequest", true),
    model: false,
    beforeToolExecute: collect(caps, "beforeToolExecute"),
    wrapToolExecute: collect(caps, "wrapToolExecute"),
    afterToolExecute: collect(caps, "afterToolExecute", true),
    tool: false
  }
  const model =
    hooks.beforeModelRequest !== undefined ||
    hooks.wrapModelRequest !== undefined ||
    hooks.afterModelRequest !== undefined
  const tool =
    hooks.beforeToolExecute !== undefined ||
    hooks.wrapToolExecute !== undefined ||
    hooks.afterToolExecute !== undefined
  if (!model && !tool && hooks.beforeRun === undefined && hooks.afterRun === undefined) {
    return undefined
  }
  return { ...hooks, model, tool }
}

/**
 * The configuration with these capabilities added after the ones it has: their toolsets
 * combined with its toolset, built-in tools, instructions and history processors appended,
 * settings merged over its settings, hooks compiled over all its capabilities.
 */
export const withCapabilities = (
  config: AgentConfig,
  caps: ReadonlyArray<AnyCapability>
): AgentConfig => {
  if (caps.length === 0) return config
  const sets: Array<Toolset.Any> = []
  const settings: Array<ModelSettings.ModelSettings> = []
  for (const c of caps) {
    if (c.toolset !== undefined) sets.push(c.toolset)
    if (c.modelSettings !== undefined) settings.push(c.modelSettings)
  }
  const builtinTools = caps.flatMap((c) => c.builtinTools)
  const processors = caps.flatMap((c) => c.historyProcessors)
  const all = [...(config.capabilities ?? []), ...caps]
  return {
    ...config,
    instructions: [...config.instructions, ...caps.flatMap((c) => c.instructions)],
    toolset: sets.length === 0 ? config.toolset : Toolset.combine(config.toolset, ...sets),
    ...(builtinTools.length > 0
      ? { builtinTools: [...(config.builtinTools ?? []), ...builtinTools] }
      : {}),
    ...(settings.length > 0
      ? { modelSettings: ModelSettings.merge(config.modelSettings, ...settings) }
      : {}),
    ...(processors.length > 0
      ? { historyProcessors: [...(config.historyProcessors ?? []), ...processors] }
      : {}),
    capabilities: all,
    hooks: compile(all)
  }
}

const withCtx = <X>(
  effect: Effect.Effect<X, unknown, unknown>,
  ctx: RunContextService
): Effect.Effect<X, unknown, unknown> => Effect.provideService(effect, RunContext, ctx)

/** `beforeRun` hooks, in order. */
export const beforeRun = (
  fns: ReadonlyArray<Fn<"beforeRun">>,
  ctx: RunContextService
): Effect.Effect<void, unknown, unknown> =>
  Effect.forEach(fns, (f) => withCtx(f(ctx), ctx), { discard: true })

/** `afterRun` hooks (a reversed list), each given the previous one's result. */
export const afterRun = (
  fns: ReadonlyArray<Fn<"afterRun">>,
  ctx: RunContextService,
  result: AgentRunResult<unknown>
): Effect.Effect<AgentRunResult<unknown>, unknown, unknown> =>
  Effect.reduce(fns, result, (r, f) => withCtx(f(ctx, r), ctx))

/** `beforeModelRequest` hooks in order; the first `SkipModelRequest` ends the chain. */
export const beforeModelRequest = (
  fns: ReadonlyArray<Fn<"beforeModelRequest">>,
  ctx: RunContextService,
  request: ModelRequestContext
): Effect.Effect<ModelRequestContext | SkipModelRequest, unknown, unknown> => {
  const go = (
    i: number,
    current: ModelRequestContext
  ): Effect.Effect<ModelRequestContext | SkipModelRequest, unknown, unknown> =>
    i >= fns.length
      ? Effect.succeed(current)
      : Effect.flatMap(withCtx(fns[i]!(ctx, current), ctx), (out) =>
          out instanceof SkipModelRequest ? Effect.succeed(out) : go(i + 1, out)
        )
  return Effect.suspend(() => go(0, request))
}

/** `core` inside the `wrapModelRequest` hooks, the first one outermost. */
export const wrapModelRequest = (
  fns: ReadonlyArray<Fn<"wrapModelRequest">>,
  ctx: RunContextService,
  request: ModelRequestContext,
  core: (request: ModelRequestContext) => Effect.Effect<ModelResponse, unknown, unknown>
): Effect.Effect<ModelResponse, unknown, unknown> => {
  let next = core
  for (let i = fns.length - 1; i >= 0; i--) {
    const f = fns[i]!
    const inner = next as (r: ModelRequestContext) => Effect.Effect<ModelResponse, ModelError>
    next = (r) => withCtx(f(ctx, r, inner), ctx)
  }
  return next(request)
}

/** `afterModelRequest` hooks (a reversed list), each given the previous one's response. */
export const afterModelRequest = (
  fns: ReadonlyArray<Fn<"afterModelRequest">>,
  ctx: RunContextService,
  request: ModelRequestContext,
  response: ModelResponse
): Effect.Effect<ModelResponse, unknown, unknown> =>
  Effect.reduce(fns, response, (r, f) => withCtx(f(ctx, request, r), ctx))

/** What a hooked tool execution gave: its result, and whether the tool really ran. */
export interface Executed {
  readonly value: unknown
  readonly executed: boolean
}

/**
 * A function tool call through the tool hooks: the `wrapToolExecute` chain (first outermost)
 * around the `beforeToolExecute` hooks (a `SkipToolExecution` skips the tool), `core` (the
 * tool, with its time limit) and the `afterToolExecute` hooks.
 */
export const executeTool = (
  hooks: CompiledHooks,
  ctx: RunContextService,
  execution: ToolExecution,
  core: (args: unknown) => Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<Executed, unknown, unknown> =>
  Effect.suspend(() => {
    let executed = false
    const befores = hooks.beforeToolExecute
    const afters = hooks.afterToolExecute
    const run = (e: ToolExecution): Effect.Effect<unknown, unknown, unknown> =>
      Effect.suspend(() => {
        executed = true
        return core(e.args)
      })
    const before = (e: ToolExecution, i: number): Effect.Effect<unknown, unknown, unknown> =>
      befores === undefined || i >= befores.length
        ? run(e)
        : Effect.flatMap(withCtx(befores[i]!(ctx, e), ctx), (out) =>
            out instanceof SkipToolExecution ? Effect.succeed(out.result) : before(out, i + 1)
          )
    const inner = (e: ToolExecution): Effect.Effect<unknown, unknown, unknown> => {
      const value = before(e, 0)
      return afters === undefined
        ? value
        : Effect.flatMap(value, (v) =>
            Effect.reduce(afters, v, (r, f) => withCtx(f(ctx, e, r), ctx))
          )
    }
    let next = inner
    const wraps = hooks.wrapToolExecute ?? []
    for (let i = wraps.length - 1; i >= 0; i--) {
      const f = wraps[i]!
      const nested = next as (e: ToolExecution) => Effect.Effect<unknown, never>
      next = (e) => withCtx(f(ctx, e, nested), ctx)
    }
    return Effect.map(next(execution), (value) => ({ value, executed }))
  })
