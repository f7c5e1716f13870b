/**
 * On-demand capabilities (pydantic-ai's `defer_loading`): a capability made with
 * `deferLoading: true` is folded into the configuration collapsed — its tools hidden, its hooks,
 * history processors, settings and built-in tools inert — and listed in a catalog appended to
 * the instructions. The model loads it with the `load_capability` tool, whose return is the
 * capability's instructions; from the next request on the bundle is live. Which capabilities
 * are loaded is read from the history (answered `load_capability` calls), so a conversation
 * resumed elsewhere keeps them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { UserError } from "../AgentError.js"
import type { Instruction } from "../AgentGraph.js"
import type { Any as AnyCapability, Hooks } from "../Capability.js"
import type * as HistoryProcessor from "../HistoryProcessor.js"
import type { ModelMessage } from "../Messages.js"
import * as Model from "../Model.js"
import * as ModelSettings from "../ModelSettings.js"
import { RunContext, type Service as RunContextService } from "../RunContext.js"
import * as Tool from "../Tool.js"
import * as Toolset from "../Toolset.js"

/** The name of the tool that loads a deferred capability (reserved when there is one). */
export const LOAD_TOOL = "load_capability"

// The run's histories are immutable (it appends by copying); the length guards an array a
// caller mutated in place.
const cache = new WeakMap<
  ReadonlyArray<ModelMessage>,
  { readonly length: number; readonly ids: ReadonlySet<string> }
>()

/**
 * The ids of the capabilities this conversation has loaded: `load_capability` calls answered
 * with a return (not a retry prompt, a failed or a denied result).
 */
export const loadedIds = (messages: ReadonlyArray<ModelMessage>): ReadonlySet<string> => {
  const cached = cache.get(messages)
  if (cached !== undefined && cached.length === messages.length) return cached.ids
  const asked = new Map<string, string>()
  const loaded = new Set<string>()
  for (const m of messages) {
    if (m._tag === "ModelResponse") {
      for (const p of m.parts) {
        if (p._tag !== "ToolCallPart" || p.toolName !== LOAD_TOOL) continue
        const id = safeArgs(() => p.argsAsObject()).id
        if (typeof id === "string") asked.set(p.toolCallId, id)
      }
    } else {
      for (const p of m.parts) {
        if (p._tag !== "ToolReturnPart" || p.toolName !== LOAD_TOOL) continue
        const id = asked.get(p.toolCallId)
        if (id !== undefined && p.outcome === "success") loaded.add(id)
      }
    }
  }
  cache.set(messages, { length: messages.length, ids: loaded })
  return loaded
}

const safeArgs = (f: () => Record<string, unknown>): Record<string, unknown> => {
  try {
    return f()
  } catch {
    return {}
  }
}

const isLoaded = (ctx: RunContextService, id: string): boolean => loadedIds(ctx.messages).has(id)

/** The catalog the model reads: each deferred capability's id and description. */
const catalog = (caps: ReadonlyArray<AnyCapability>): string =>
  [
    `The following capabilities are deferred and can be loaded using the \`${LOAD_TOOL}\` tool. A capability may have tools; they stay hidden until it is loaded:`,
    ...caps.map((c) => `- ${c.id}${c.description !== undefined ? `: ${c.description}` : ""}`)
  ].join("\n")

/** A capability's instructions as one text (each evaluated; empty ones left out). */
const instructionsText = (
  instructions: ReadonlyArray<Instruction<any, any>>
): Effect.Effect<string, unknown, unknown> =>
  Effect.map(
    Effect.forEach(instructions, (i) => (typeof i === "string" ? Effect.succeed(i) : i)),
    (texts) => texts.filter((t): t is string => t !== undefined && t !== "").join("\n\n")
  )

/** The `load_capability` tool over these deferred capabilities. */
const loadTool = (caps: ReadonlyArray<AnyCapability>) => {
  const byId = new Map(caps.map((c) => [c.id!, c]))
  const ids = caps.map((c) => c.id!) as [string, ...Array<string>]
  return Tool.make(LOAD_TOOL, {
    description:
      "Loads a deferred capability by its id: returns its instructions, and makes its tools available from the next step on.",
    parameters: Schema.Struct({
      id: Schema.Literal(...ids).annotations({ description: "The id of the capability to load." })
    }),
    handler: ({ id }) =>
      Effect.flatMap(RunContext, (ctx) => {
        if (isLoaded(ctx, id)) return Effect.succeed(`Capability '${id}' is already loaded.`)
        return Effect.map(instructionsText(byId.get(id)!.instructions), (text) =>
          text === "" ? `Capability '${id}' loaded.` : `Capability '${id}' loaded.\n\n${text}`
        )
      }) as Effect.Effect<string>
  })
}

/**
 * A deferred capability's hooks, each inert until the capability is loaded: a `before*` hook
 * gives back its input, a `wrap*` hook calls `next`, an `after*` hook its value, an error hook
 * `Option.none()`, `prepareTools` the definitions, `beforeRun` nothing.
 */
const guardHooks = (id: string, hooks: Hooks<any, any>): Hooks<any, any> => {
  const out: Record<string, unknown> = {}
  const live = (ctx: RunContextService) => isLoaded(ctx, id)
  for (const [key, f] of Object.entries(hooks) as Array<[string, (...args: any) => any]>) {
    if (f === undefined) continue
    out[key] = (...args: Array<any>) => (live(args[0]) ? f(...args) : passThrough(key, args))
  }
  return out as Hooks<any, any>
}
const noneValue = Option.none()

/**
 * What a hook that does not apply does with its arguments (an on-demand capability not loaded,
 * a tool hook filtered to other tools): a `before*` hook gives back its input, a `wrap*` hook
 * calls `next`, an `after*` hook its value, an error hook `Option.none()`, `prepare*` the
 * definitions, `beforeRun` nothing.
 */
export const passThrough = (key: string, args: ReadonlyArray<any>): Effect.Effect<unknown> => {
  if (key === "beforeRun") return Effect.void
  if (key.startsWith("wrap")) return args[args.length - 1](args[1])
  if (key.startsWith("on")) return Effect.succeed(noneValue)
  if (key.startsWith("after")) return Effect.succeed(args[args.length - 1])
  return Effect.succeed(args[1])
}

/**
 * The parts of deferred capabilities the configuration folds in: tools (hidden until loaded),
 * hooks (inert until loaded, plus one applying the settings and built-in tools once loaded),
 * history processors (identity until loaded).
 */
export const deferredParts = (
  caps: ReadonlyArray<AnyCapability>
): {
  readonly toolsets: ReadonlyArray<Toolset.Any>
  readonly hooks: ReadonlyArray<Hooks<any, any>>
  readonly historyProcessors: ReadonlyArray<HistoryProcessor.HistoryProcessor<any, any>>
} => {
  const toolsets: Array<Toolset.Any> = []
  const hooks: Array<Hooks<any, any>> = []
  const processors: Array<HistoryProcessor.HistoryProcessor<any, any>> = []
  for (const c of caps) {
    const id = c.id!
    if (c.toolset !== undefined) {
      toolsets.push(Toolset.filter(c.toolset, (ctx) => isLoaded(ctx, id)))
    }
    hooks.push(guardHooks(id, c.hooks))
    if (c.modelSettings !== undefined || c.builtinTools.length > 0) {
      const settings = c.modelSettings
      const builtins = c.builtinTools
      hooks.push({
        // Loaded: its settings fill in what the agent and the run leave unset; its built-in
        // tools join the request's.
        beforeModelRequest: (ctx, request) =>
          Effect.succeed(
            !isLoaded(ctx, id)
              ? request
              : {
                  ...request,
                  modelSettings:
                    settings === undefined
                      ? request.modelSettings
                      : ModelSettings.merge(settings, request.modelSettings),
                  parameters:
                    builtins.length === 0
                      ? request.parameters
                      : new Model.ModelRequestParameters({
                          ...request.parameters,
                          builtinTools: [...request.parameters.builtinTools, ...builtins]
                        })
                }
          )
      })
    }
    for (const p of c.historyProcessors) {
      processors.push((messages, ctx) => (isLoaded(ctx, id) ? p(messages, ctx) : messages))
    }
  }
  return { toolsets, hooks, historyProcessors: processors }
}

/** The `load_capability` toolset and the catalog instruction for every deferred capability. */
export const loader = (
  caps: ReadonlyArray<AnyCapability>
): { readonly toolset: Toolset.Any; readonly instruction: string } => {
  const ids = caps.map((c) => c.id!)
  const twice = ids.find((id, i) => ids.indexOf(id) !== i)
  return {
    // Two on-demand capabilities with one id: the run fails when it lists its tools, as for two
    // tools with one name.
    toolset:
      twice === undefined
        ? Toolset.fromTools([loadTool(caps)])
        : Toolset.make(() =>
            Effect.fail(
              new UserError({
                reason: `On-demand capability id '${twice}' is used more than once; ids must be unique.`
              })
            )
          ),
    instruction: catalog(caps)
  }
}
