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
import * as Option from "effect/Option"
import { isModelError, type ModelError, ModelRetry, ToolFailed, UserError } from "../AgentError.js"
import type { AgentNode, AgentRunResult } from "../AgentGraph.js"
import {
  type Any as AnyCapability,
  type Hooks,
  type ModelRequestContext,
  type OutputValidation,
  SkipModelRequest,
  SkipToolExecution,
  SkipToolValidation,
  type ToolExecution,
  type ToolValidation
} from "../Capability.js"
import type { ModelResponse } from "../Messages.js"
import * as ModelSettings from "../ModelSettings.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import type { ToolDefinition } from "../Tool.js"
import * as Toolset from "../Toolset.js"
import * as onDemand from "./onDemand.js"
import type { AgentConfig } from "./runLoop.js"

type Fn<K extends keyof Hooks<any, any>> = NonNullable<Hooks<any, any>[K]>
type List<K extends keyof Hooks<any, any>> = ReadonlyArray<Fn<K>> | undefined

/** The hooks of a configuration's capabilities, one list per hook point (`undefined`: none). */
export interface CompiledHooks {
  readonly beforeRun: List<"beforeRun">
  /** Reversed: the last capability's first. */
  readonly afterRun: List<"afterRun">
  readonly wrapRun: List<"wrapRun">
  readonly beforeNodeRun: List<"beforeNodeRun">
  readonly wrapNodeRun: List<"wrapNodeRun">
  /** Reversed. */
  readonly afterNodeRun: List<"afterNodeRun">
  /** Reversed. */
  readonly onNodeRunError: List<"onNodeRunError">
  /** Any node hook. */
  readonly node: boolean
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
  /** Reversed. */
  readonly onModelRequestError: List<"onModelRequestError">
  /** Reversed. */
  readonly onToolExecuteError: List<"onToolExecuteError">
  readonly beforeToolValidate: List<"beforeToolValidate">
  readonly wrapToolValidate: List<"wrapToolValidate">
  /** Reversed. */
  readonly onToolValidateError: List<"onToolValidateError">
  /** Reversed. */
  readonly afterToolValidate: List<"afterToolValidate">
  /** Any tool validation hook. */
  readonly validate: boolean
  readonly prepareTools: List<"prepareTools">
  readonly prepareOutputTools: List<"prepareOutputTools">
  /** Reversed. */
  readonly onRunError: List<"onRunError">
  readonly beforeOutputValidate: List<"beforeOutputValidate">
  readonly wrapOutputValidate: List<"wrapOutputValidate">
  /** Reversed. */
  readonly onOutputValidateError: List<"onOutputValidateError">
  /** Reversed. */
  readonly afterOutputValidate: List<"afterOutputValidate">
  /** Reversed. */
  readonly afterOutputProcess: List<"afterOutputProcess">
  /** Any output hook. */
  readonly output: boolean
}

/** The hooks a capability contributes: its own, or an on-demand one's, inert until loaded. */
const hookSets = new WeakMap<AnyCapability, ReadonlyArray<Hooks<any, any>>>()
const hooksOf = (c: AnyCapability): ReadonlyArray<Hooks<any, any>> => {
  if (!c.deferLoading) return [c.hooks]
  let sets = hookSets.get(c)
  if (sets === undefined) hookSets.set(c, (sets = onDemand.deferredParts([c]).hooks))
  return sets
}

const collect = <K extends keyof Hooks<any, any>>(
  caps: ReadonlyArray<AnyCapability>,
  key: K,
  reversed = false
): List<K> => {
  const out: Array<Fn<K>> = []
  for (const c of caps) {
    for (const hooks of hooksOf(c)) {
      const f = hooks[key]
      if (f !== undefined) out.push(f as Fn<K>)
    }
  }
  if (out.length === 0) return undefined
  return reversed ? out.reverse() : out
}

/** The hooks of these capabilities, or `undefined` when none has any. */
export const compile = (caps: ReadonlyArray<AnyCapability>): CompiledHooks | undefined => {
  const lists = {
    beforeRun: collect(caps, "beforeRun"),
    afterRun: collect(caps, "afterRun", true),
    wrapRun: collect(caps, "wrapRun"),
    beforeNodeRun: collect(caps, "beforeNodeRun"),
    wrapNodeRun: collect(caps, "wrapNodeRun"),
    afterNodeRun: collect(caps, "afterNodeRun", true),
    onNodeRunError: collect(caps, "onNodeRunError", true),
    beforeModelRequest: collect(caps, "beforeModelRequest"),
    wrapModelRequest: collect(caps, "wrapModelRequest"),
    afterModelRequest: collect(caps, "afterModelRequest", true),
    onModelRequestError: collect(caps, "onModelRequestError", true),
    beforeToolExecute: collect(caps, "beforeToolExecute"),
    wrapToolExecute: collect(caps, "wrapToolExecute"),
    afterToolExecute: collect(caps, "afterToolExecute", true),
    onToolExecuteError: collect(caps, "onToolExecuteError", true),
    beforeToolValidate: collect(caps, "beforeToolValidate"),
    wrapToolValidate: collect(caps, "wrapToolValidate"),
    onToolValidateError: collect(caps, "onToolValidateError", true),
    afterToolValidate: collect(caps, "afterToolValidate", true),
    prepareTools: collect(caps, "prepareTools"),
    prepareOutputTools: collect(caps, "prepareOutputTools"),
    onRunError: collect(caps, "onRunError", true),
    beforeOutputValidate: collect(caps, "beforeOutputValidate"),
    wrapOutputValidate: collect(caps, "wrapOutputValidate"),
    onOutputValidateError: collect(caps, "onOutputValidateError", true),
    afterOutputValidate: collect(caps, "afterOutputValidate", true),
    afterOutputProcess: collect(caps, "afterOutputProcess", true)
  }
  if (Object.values(lists).every((l) => l === undefined)) return undefined
  return {
    ...lists,
    node:
      lists.beforeNodeRun !== undefined ||
      lists.wrapNodeRun !== undefined ||
      lists.afterNodeRun !== undefined ||
      lists.onNodeRunError !== undefined,
    model:
      lists.beforeModelRequest !== undefined ||
      lists.wrapModelRequest !== undefined ||
      lists.afterModelRequest !== undefined ||
      lists.onModelRequestError !== undefined,
    tool:
      lists.beforeToolExecute !== undefined ||
      lists.wrapToolExecute !== undefined ||
      lists.afterToolExecute !== undefined ||
      lists.onToolExecuteError !== undefined,
    output:
      lists.beforeOutputValidate !== undefined ||
      lists.wrapOutputValidate !== undefined ||
      lists.onOutputValidateError !== undefined ||
      lists.afterOutputValidate !== undefined ||
      lists.afterOutputProcess !== undefined,
    validate:
      lists.beforeToolValidate !== undefined ||
      lists.wrapToolValidate !== undefined ||
      lists.onToolValidateError !== undefined ||
      lists.afterToolValidate !== undefined
  }
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
  const eager = caps.filter((c) => !c.deferLoading)
  const deferred = caps.filter((c) => c.deferLoading)
  for (const c of eager) {
    if (c.toolset !== undefined) sets.push(c.toolset)
    if (c.modelSettings !== undefined) settings.push(c.modelSettings)
  }
  const parts = onDemand.deferredParts(deferred)
  sets.push(...parts.toolsets)
  const builtinTools = eager.flatMap((c) => c.builtinTools)
  const processors = [...eager.flatMap((c) => c.historyProcessors), ...parts.historyProcessors]
  const all = [...(config.capabilities ?? []), ...caps]
  // On-demand capabilities: ONE `load_capability` tool and catalog for all of them (the agent's
  // and the run's), over the toolset and instructions without them.
  const base = config.onDemand ?? { toolset: config.toolset, instructions: config.instructions }
  const toolset = sets.length === 0 ? base.toolset : Toolset.combine(base.toolset, ...sets)
  const instructions = [...base.instructions, ...eager.flatMap((c) => c.instructions)]
  const allDeferred = all.filter((c) => c.deferLoading)
  const loader = allDeferred.length === 0 ? undefined : onDemand.loader(allDeferred)
  return {
    ...config,
    instructions: loader === undefined ? instructions : [...instructions, loader.instruction],
    toolset: loader === undefined ? toolset : Toolset.combine(toolset, loader.toolset),
    ...(loader === undefined ? {} : { onDemand: { toolset, instructions } }),
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

/**
 * `core` inside `wrap*` hooks, the first one outermost: `call(f, input, next)` calls one hook
 * with what it wraps (its `next` typed as the hook point says).
 */
const nest = <F, I, O>(
  fns: ReadonlyArray<F>,
  ctx: RunContextService,
  core: (input: I) => Effect.Effect<O, unknown, unknown>,
  call: (
    f: F,
    input: I,
    next: (input: I) => Effect.Effect<O, any>
  ) => Effect.Effect<O, unknown, unknown>
): ((input: I) => Effect.Effect<O, unknown, unknown>) => {
  let next = core
  for (let i = fns.length - 1; i >= 0; i--) {
    const f = fns[i]!
    // a hook's `next` is typed without requirements: the run provides them around the chain
    const inner = next as (input: I) => Effect.Effect<O, any>
    next = (input) => withCtx(call(f, input, inner), ctx)
  }
  return next
}

/** `next` inside the `wrapRun` hooks, the first one outermost. */
export const wrapRun = (
  fns: ReadonlyArray<Fn<"wrapRun">>,
  ctx: RunContextService,
  core: Effect.Effect<AgentRunResult<unknown>, unknown, unknown>
): Effect.Effect<AgentRunResult<unknown>, unknown, unknown> =>
  Effect.suspend(() =>
    nest<Fn<"wrapRun">, void, AgentRunResult<unknown>>(
      fns,
      ctx,
      () => core,
      (f, _, next) => f(ctx, () => next())
    )()
  )

/** `beforeNodeRun` hooks in order, each given the previous one's node. */
export const beforeNodeRun = (
  fns: ReadonlyArray<Fn<"beforeNodeRun">>,
  ctx: RunContextService,
  node: AgentNode<unknown>
): Effect.Effect<AgentNode<unknown>, unknown, unknown> =>
  Effect.reduce(fns, node, (n, f) => withCtx(f(ctx, n), ctx))

/** `core` inside the `wrapNodeRun` hooks, the first one outermost. */
export const wrapNodeRun = (
  fns: ReadonlyArray<Fn<"wrapNodeRun">>,
  ctx: RunContextService,
  node: AgentNode<unknown>,
  core: (node: AgentNode<unknown>) => Effect.Effect<AgentNode<unknown>, unknown, unknown>
): Effect.Effect<AgentNode<unknown>, unknown, unknown> =>
  Effect.suspend(() => nest(fns, ctx, core, (f, n, next) => f(ctx, n, next))(node))

/** `afterNodeRun` hooks (a reversed list), each given the previous one's next node. */
export const afterNodeRun = (
  fns: ReadonlyArray<Fn<"afterNodeRun">>,
  ctx: RunContextService,
  node: AgentNode<unknown>,
  next: AgentNode<unknown>
): Effect.Effect<AgentNode<unknown>, unknown, unknown> =>
  Effect.reduce(fns, next, (n, f) => withCtx(f(ctx, node, n), ctx))

/** `onNodeRunError` hooks (a reversed list): the node to go on with, or the error. */
export const onNodeRunError = (
  fns: ReadonlyArray<Fn<"onNodeRunError">>,
  ctx: RunContextService,
  node: AgentNode<unknown>,
  error: unknown
): Effect.Effect<AgentNode<unknown>, unknown, unknown> =>
  recoverWith(
    fns,
    error,
    () => false,
    (f, e) => withCtx(f(ctx, node, e), ctx)
  )

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
): Effect.Effect<ModelResponse, unknown, unknown> =>
  nest(fns, ctx, core, (f, r, next) => f(ctx, r, next))(request)

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
  core: (args: unknown) => Effect.Effect<unknown, unknown, unknown>,
  /** What keeps its meaning at the tool's boundary (a retry, a failed result, a deferral). */
  isToolControl: (e: unknown) => boolean
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
    const errors = hooks.onToolExecuteError
    const out =
      errors === undefined
        ? next(execution)
        : Effect.catchAll(next(execution), (e) =>
            isToolControl(e)
              ? Effect.fail(e)
              : recoverWith(errors, e, isToolControl, (f, err) =>
                  withCtx(f(ctx, execution, err), ctx)
                )
          )
    return Effect.map(out, (value) => ({ value, executed }))
  })

/**
 * An error through error hooks (a reversed list): each is given the current error; the first
 * `Some` recovers with its value, `None` passes the error on to the next hook, a failure
 * replaces it (a `stop` failure — a retry, a failed result — ends the chain at once). An error
 * past the last hook fails.
 */
export const recoverWith = <F, X>(
  fns: ReadonlyArray<F>,
  error: unknown,
  stop: (e: unknown) => boolean,
  call: (f: F, error: any) => Effect.Effect<Option.Option<X>, unknown, unknown>,
  sees: (e: unknown) => boolean = () => true
): Effect.Effect<X, unknown, unknown> => {
  const go = (i: number, e: unknown): Effect.Effect<X, unknown, unknown> =>
    i >= fns.length || !sees(e)
      ? Effect.fail(e)
      : Effect.matchEffect(call(fns[i]!, e), {
          onFailure: (next) => (stop(next) ? Effect.fail(next) : go(i + 1, next)),
          onSuccess: (recovered) =>
            Option.isSome(recovered) ? Effect.succeed(recovered.value) : go(i + 1, e)
        })
  return Effect.suspend(() => go(0, error))
}

/**
 * A function tool call's arguments through the validation hooks: the `beforeToolValidate`
 * hooks (a `SkipToolValidation` takes its arguments as validated), `core` (the tool's decoding
 * and `validate`) inside the `wrapToolValidate` chain (first outermost), the
 * `onToolValidateError` hooks on a `ModelRetry`, then the `afterToolValidate` hooks.
 */
export const validateTool = (
  hooks: CompiledHooks,
  ctx: RunContextService,
  validation: ToolValidation,
  core: (args: ToolValidation["args"]) => Effect.Effect<unknown, unknown, unknown>
): Effect.Effect<unknown, unknown, unknown> => {
  const befores = hooks.beforeToolValidate
  const before = (
    v: ToolValidation,
    i: number
  ): Effect.Effect<ToolValidation | SkipToolValidation, unknown, unknown> =>
    befores === undefined || i >= befores.length
      ? Effect.succeed(v)
      : Effect.flatMap(withCtx(befores[i]!(ctx, v), ctx), (out) =>
          out instanceof SkipToolValidation ? Effect.succeed(out) : before(out, i + 1)
        )
  return Effect.flatMap(before(validation, 0), (prepared) =>
    prepared instanceof SkipToolValidation
      ? validationPhase(ctx, validation, () => Effect.succeed(prepared.args), {
          afters: hooks.afterToolValidate
        })
      : validationPhase(ctx, prepared, (v) => core(v.args), {
          wraps: hooks.wrapToolValidate,
          errors: hooks.onToolValidateError,
          afters: hooks.afterToolValidate,
          stop: (x) => x instanceof ToolFailed
        })
  )
}

type Phase<V> = {
  readonly wraps?:
    | ReadonlyArray<
        (
          ctx: RunContextService,
          input: V,
          next: (input: V) => Effect.Effect<unknown, ModelRetry>
        ) => Effect.Effect<unknown, unknown, unknown>
      >
    | undefined
  readonly errors?:
    | ReadonlyArray<
        (
          ctx: RunContextService,
          input: V,
          error: ModelRetry
        ) => Effect.Effect<Option.Option<unknown>, unknown, unknown>
      >
    | undefined
  readonly afters?:
    | ReadonlyArray<
        (
          ctx: RunContextService,
          input: V,
          value: unknown
        ) => Effect.Effect<unknown, unknown, unknown>
      >
    | undefined
  /** A failure of an error hook that ends the chain at once (besides passing it on). */
  readonly stop?: (e: unknown) => boolean
}

/**
 * A validation phase (a tool call's arguments, the final output) after its `before*` hooks:
 * `core` inside the `wrap*` chain (first outermost), the `on*Error` hooks on its `ModelRetry`
 * (a reversed list; only a `ModelRetry` reaches them), then the `after*` hooks (a reversed
 * list), each given the phase's input and the previous value.
 */
const validationPhase = <V>(
  ctx: RunContextService,
  input: V,
  core: (input: V) => Effect.Effect<unknown, unknown, unknown>,
  phase: Phase<V>
): Effect.Effect<unknown, unknown, unknown> => {
  let next = core
  const wraps = phase.wraps ?? []
  for (let i = wraps.length - 1; i >= 0; i--) {
    const f = wraps[i]!
    const nested = next as (v: V) => Effect.Effect<unknown, ModelRetry>
    next = (v) => withCtx(f(ctx, v, nested), ctx)
  }
  const errors = phase.errors
  const value =
    errors === undefined
      ? next(input)
      : Effect.catchIf(
          next(input),
          (e) => e instanceof ModelRetry,
          (e) =>
            recoverWith(
              errors,
              e,
              phase.stop ?? (() => false),
              (f, err: ModelRetry) => withCtx(f(ctx, input, err), ctx),
              (x) => x instanceof ModelRetry
            )
        )
  const afters = phase.afters
  return afters === undefined
    ? value
    : Effect.flatMap(value, (v) =>
        Effect.reduce(afters, v, (acc, f) => withCtx(f(ctx, input, acc), ctx))
      )
}

/**
 * The `onModelRequestError` hooks (a reversed list) on a request's failure: only a
 * `ModelError` reaches them (a hook's own error or a retry passes by).
 */
export const onModelRequestError = (
  fns: ReadonlyArray<Fn<"onModelRequestError">>,
  ctx: RunContextService,
  request: ModelRequestContext,
  error: unknown
): Effect.Effect<ModelResponse, unknown, unknown> =>
  recoverWith(
    fns,
    error,
    (e) => e instanceof ModelRetry,
    (f, e: ModelError) => withCtx(f(ctx, request, e), ctx),
    isModelError
  )

/** The `onRunError` hooks (a reversed list) on a run's failure: the recovered output, or the error. */
export const onRunError = (
  fns: ReadonlyArray<Fn<"onRunError">>,
  ctx: RunContextService,
  error: unknown
): Effect.Effect<unknown, unknown, unknown> =>
  recoverWith(
    fns,
    error,
    () => false,
    (f, e) => withCtx(f(ctx, e), ctx)
  )

/**
 * Definitions through `prepareTools` / `prepareOutputTools` hooks, in order, each matched back by
 * name to one of `definitions` (`rebuild(index, definition)`); an unknown name is a `UserError`.
 */
const prepareDefinitions = <T>(
  hook: "prepareTools" | "prepareOutputTools",
  fns: ReadonlyArray<Fn<"prepareTools">>,
  ctx: RunContextService,
  definitions: ReadonlyArray<ToolDefinition>,
  rebuild: (index: number, definition: ToolDefinition) => T
): Effect.Effect<ReadonlyArray<T>, unknown, unknown> =>
  Effect.flatMap(
    Effect.reduce(fns, definitions, (defs, f) => withCtx(f(ctx, defs), ctx)),
    (defs) => {
      const byName = new Map(definitions.map((d, i) => [d.name, i]))
      const out: Array<T> = []
      for (const d of defs) {
        const i = byName.get(d.name)
        if (i === undefined) {
          return Effect.fail(
            new UserError({
              reason: `A ${hook} hook returned an unknown tool '${d.name}'; it may hide or edit tools, not rename or add them.`
            })
          )
        }
        out.push(rebuild(i, d))
      }
      return Effect.succeed(out)
    }
  )

/**
 * The function tools of a step through the `prepareTools` hooks, in order: the definitions
 * they return are matched back to the tools by name (an unknown name is a `UserError`).
 */
export const prepareTools = (
  fns: ReadonlyArray<Fn<"prepareTools">>,
  ctx: RunContextService,
  tools: ReadonlyArray<Toolset.ToolsetTool<any, any>>
): Effect.Effect<ReadonlyArray<Toolset.ToolsetTool<any, any>>, unknown, unknown> =>
  prepareDefinitions(
    "prepareTools",
    fns,
    ctx,
    tools.map((t) => t.definition),
    (i, d) => (tools[i]!.definition === d ? tools[i]! : { ...tools[i]!, definition: d })
  )

/** The output tools of a step through the `prepareOutputTools` hooks, as `prepareTools`. */
export const prepareOutputTools = (
  fns: ReadonlyArray<Fn<"prepareOutputTools">>,
  ctx: RunContextService,
  definitions: ReadonlyArray<ToolDefinition>
): Effect.Effect<ReadonlyArray<ToolDefinition>, unknown, unknown> =>
  prepareDefinitions("prepareOutputTools", fns, ctx, definitions, (_, d) => d)

/**
 * The model's final answer through the output validation hooks: the `beforeOutputValidate`
 * hooks, `core` (the spec's decoding) inside the `wrapOutputValidate` chain (first outermost),
 * the `onOutputValidateError` hooks on a `ModelRetry`, then the `afterOutputValidate` hooks.
 */
export const validateOutput = (
  hooks: CompiledHooks,
  ctx: RunContextService,
  validation: OutputValidation,
  core: (validation: OutputValidation) => Effect.Effect<unknown, ModelRetry, unknown>
): Effect.Effect<unknown, unknown, unknown> => {
  const befores = hooks.beforeOutputValidate ?? []
  const prepared = Effect.reduce(befores, validation, (v, f) => withCtx(f(ctx, v), ctx))
  return Effect.flatMap(prepared, (v) =>
    validationPhase(ctx, v, core, {
      wraps: hooks.wrapOutputValidate,
      errors: hooks.onOutputValidateError,
      afters: hooks.afterOutputValidate
    })
  )
}

/** The `afterOutputProcess` hooks (a reversed list) over the validated final output. */
export const afterOutputProcess = (
  fns: ReadonlyArray<Fn<"afterOutputProcess">>,
  ctx: RunContextService,
  output: unknown
): Effect.Effect<unknown, unknown, unknown> =>
  Effect.reduce(fns, output, (o, f) => withCtx(f(ctx, o), ctx))
