/**
 * Toolsets: groups of tools an agent offers the model, computed per run step. A toolset is
 * built from tools (`fromTools`) and reshaped with combinators: `combine`, `filter`, `prefix`,
 * `rename`, `deferLoading`, `withMetadata`, `includeReturnSchemas` and `prepare` (per-step
 * editing or hiding of definitions). Duplicate names across a combined toolset are a `UserError`.
 *
 * @example
 * ```ts
 * import { Tool, Toolset } from "@agentfx/core"
 * const math = Toolset.fromTools([add, mul]).pipe(Toolset.prefix("math"))
 * const all = Toolset.combine(math, Toolset.fromTools([search]))
 * const agent = Agent.make({ toolsets: [all] })
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import { type ModelRetry, type ToolFailed, UserError } from "./AgentError.js"
import type { ApprovalRequired, Deferral } from "./DeferredTools.js"
import { type ToolArgs, ToolReference } from "./Messages.js"
import { RunContext, type Service as RunContextService } from "./RunContext.js"
import * as Schema from "effect/Schema"
import * as Tool from "./Tool.js"
import { ToolDefinition } from "./Tool.js"
import { makeToolDefinition } from "./internal/makers.js"

/** Brands toolsets, so `isToolset` can tell them from plain tools. */
export const TypeId: unique symbol = Symbol.for("@agentfx/core/Toolset")
/** The type of `TypeId`. */
export type TypeId = typeof TypeId

/** One tool as the run loop sees it for one step: its (prepared) definition and how to call it. */
export interface ToolsetTool<out E, out R> {
  readonly definition: ToolDefinition
  /** Retries allowed for this tool; `undefined` uses the agent's `retries`. */
  readonly maxRetries: number | undefined
  /** Decodes raw model arguments; failures are sent back to the model. */
  readonly decodeArgs: (args: ToolArgs) => Effect.Effect<unknown, ModelRetry>
  /** How long one call may run; `undefined` uses the agent's `toolTimeout`. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Runs the tool on decoded arguments. */
  readonly call: (args: unknown) => Effect.Effect<unknown, E | ModelRetry, R | RunContext>
  /**
   * Does a call need approval before it runs? Called with the decoded arguments; `undefined`:
   * never. A call that needs it stops the run (`DeferredToolRequests.approvals`).
   */
  readonly requiresApproval?:
    | ((args: unknown, ctx: RunContextService) => Effect.Effect<boolean, never, R>)
    | undefined
  /**
   * Checks decoded arguments before the call runs or waits for approval (`Tool.make({ validate
   * })`); fails like the tool (`ModelRetry`, `ToolFailed`, a deferral).
   */
  readonly validateArgs?:
    | ((args: unknown) => Effect.Effect<void, E | ModelRetry, R | RunContext>)
    | undefined
  /**
   * The same call as `call`, started as a promise: for a tool whose work is one request on a
   * connection it holds (an MCP session). When every call of a response's segment has one and
   * nothing observes a call on its own, the run starts them from its own fiber and waits once
   * for all (see `Tool.StartCall`).
   */
  readonly start?: Tool.StartCall | undefined
}

/**
 * A set of tools. `E` are the tools' own typed errors, `R` the services they need (the agent
 * provides `RunContext` itself).
 */
export interface Toolset<out E, out R> extends Pipeable {
  readonly [TypeId]: TypeId
  /** The tools available at this step (after per-step `prepare`/`filter`). */
  readonly tools: (
    ctx: RunContextService
  ) => Effect.Effect<ReadonlyArray<ToolsetTool<E, R>>, UserError, R>
  /**
   * The same list at every step, when it is known up front (no per-step `prepare`/`filter`):
   * the run loop then reuses it instead of calling `tools` at each step.
   */
  readonly fixed?: ReadonlyArray<ToolsetTool<E, R>> | undefined
}

/** Any tool (with any literal name; `Tool.Any` fixes the name to `string`). */
export type AnyTool = Tool.Tool<any, any, any, any, any>

/** Any toolset. */
export type Any = Toolset<any, any>
/**
 * The errors a toolset's tools can fail with (`ToolFailed` becomes a failed tool return, the
 * deferrals stop the run with `DeferredToolRequests`).
 */
export type Errors<T> = T extends Toolset<infer E, any> ? Exclude<E, ToolFailed | Deferral> : never
/** How a toolset's tools can defer their calls (`ApprovalRequired`, `CallDeferred`), or `never`. */
export type Deferrals<T> = T extends Toolset<infer E, any> ? Extract<E, Deferral> : never
/** The services a toolset's tools need (without `RunContext`). */
export type Requirements<T> = T extends Toolset<any, infer R> ? Exclude<R, RunContext> : never

const proto = {
  [TypeId]: TypeId,
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Builds a toolset from a `tools` function. Pass `fixed` when the list is the same at every
 * step (what `tools` returns anyway): the run loop then reuses it and its request parameters
 * instead of calling `tools` at each step.
 */
export const make = <E, R>(
  tools: Toolset<E, R>["tools"],
  fixed?: ReadonlyArray<ToolsetTool<E, R>>
): Toolset<E, R> => {
  const self = Object.create(proto)
  self.tools = tools
  if (fixed !== undefined) self.fixed = fixed
  return self
}

/** Is this value a toolset? */
export const isToolset = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && TypeId in u

const checkDuplicates = <T extends { readonly definition: ToolDefinition }>(
  tools: ReadonlyArray<T>,
  where: string
): Effect.Effect<ReadonlyArray<T>, UserError> => {
  const seen = new Set<string>()
  for (const t of tools) {
    if (seen.has(t.definition.name)) {
      return Effect.fail(
        new UserError({
          reason: `${where}: tool name conflict: '${t.definition.name}' is defined more than once. Rename one of them (e.g. with Toolset.prefix).`
        })
      )
    }
    seen.add(t.definition.name)
  }
  return Effect.succeed(tools)
}

/** A tool as the run loop calls it, with this step's definition. */
const toolsetTool = (tool: AnyTool, definition: ToolDefinition): ToolsetTool<any, any> => {
  const approval = tool.requiresApproval
  return {
    definition,
    maxRetries: tool.maxRetries,
    timeout: tool.timeout,
    decodeArgs: tool.decodeArgs,
    call: tool.handler,
    ...(tool.start !== undefined ? { start: tool.start } : {}),
    requiresApproval:
      approval === undefined || approval === false
        ? undefined
        : approval === true
          ? always
          : approval,
    ...(tool.validate !== undefined ? { validateArgs: tool.validate } : {})
  }
}
const always = () => Effect.succeed(true)

/**
 * A toolset of function tools. Each tool's own `prepare` runs at every step and may hide
 * (`undefined`) or edit its definition.
 */
export const fromTools = <const Tools extends ReadonlyArray<AnyTool>>(
  tools: Tools
): Toolset<
  Tool.Errors<Tools[number]> | Tool.Deferrals<Tools[number]>,
  Tool.Requirements<Tools[number]>
> => {
  // Without `prepare` (and without a name conflict) every step sees the same list: built once.
  const list =
    tools.every((t) => t.prepare === undefined) &&
    new Set(tools.map((t) => t.definition.name)).size === tools.length
      ? tools.map((tool): ToolsetTool<any, any> => toolsetTool(tool, tool.definition))
      : undefined
  const fixed = list === undefined ? undefined : Effect.succeed(list)
  return make(
    (ctx) =>
      fixed ??
      Effect.gen(function* () {
        yield* checkDuplicates(tools, "Toolset.fromTools")
        const out: Array<ToolsetTool<any, any>> = []
        for (const tool of tools) {
          let definition: ToolDefinition | undefined = tool.definition
          if (tool.prepare !== undefined) {
            definition = yield* Effect.provideService(
              tool.prepare(tool.definition),
              RunContext,
              ctx
            )
          }
          if (definition === undefined) continue
          out.push(toolsetTool(tool, definition))
        }
        return out
      }),
    list
  ) as any
}

/** Merges toolsets; a name defined twice fails the run with a `UserError`. */
export const combine = <const Sets extends ReadonlyArray<Any>>(
  ...toolsets: Sets
): Toolset<Errors<Sets[number]>, Requirements<Sets[number]>> =>
  make(
    (ctx) =>
      Effect.forEach(toolsets, (ts) => ts.tools(ctx)).pipe(
        Effect.flatMap((lists) => checkDuplicates(lists.flat(), "Toolset.combine"))
      ),
    fixedUnion(toolsets)
  )

/** The fixed list of combined toolsets: when every one is fixed and no name repeats. */
const fixedUnion = (
  toolsets: ReadonlyArray<Any>
): ReadonlyArray<ToolsetTool<any, any>> | undefined => {
  const out: Array<ToolsetTool<any, any>> = []
  const names = new Set<string>()
  for (const ts of toolsets) {
    if (ts.fixed === undefined) return undefined
    for (const t of ts.fixed) {
      if (names.has(t.definition.name)) return undefined
      names.add(t.definition.name)
      out.push(t)
    }
  }
  return out
}

/** Keeps only the tools for which `predicate` holds at this step. */
export const filter: {
  (
    predicate: (ctx: RunContextService, definition: ToolDefinition) => boolean
  ): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(
    self: Toolset<E, R>,
    predicate: (ctx: RunContextService, definition: ToolDefinition) => boolean
  ): Toolset<E, R>
} = dual(
  2,
  <E, R>(
    self: Toolset<E, R>,
    predicate: (ctx: RunContextService, definition: ToolDefinition) => boolean
  ): Toolset<E, R> =>
    make((ctx) =>
      Effect.map(self.tools(ctx), (tools) => tools.filter((t) => predicate(ctx, t.definition)))
    )
)

/** Renames every tool to `${prefix}_${name}`. */
export const prefix: {
  (prefix: string): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, prefix: string): Toolset<E, R>
} = dual(
  2,
  <E, R>(self: Toolset<E, R>, prefix: string): Toolset<E, R> =>
    make((ctx) =>
      Effect.map(self.tools(ctx), (tools) =>
        tools.map((t) => ({
          ...t,
          definition: makeToolDefinition.copy(t.definition, {
            name: `${prefix}_${t.definition.name}`
          })
        }))
      )
    )
)

/**
 * Renames some tools (pydantic-ai's `RenamedToolset`): `names` maps each new name to the name
 * the toolset gives the tool, `Toolset.rename(ts, { lookup: "get_weather" })` offers
 * `get_weather` as `lookup`. Tools not named keep their names; a name whose tool is not listed
 * at a step (hidden by a `filter`) is skipped. Two tools ending up with one name, or one tool
 * given two names, fails the run with a `UserError`.
 */
export const rename: {
  (names: Readonly<Record<string, string>>): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, names: Readonly<Record<string, string>>): Toolset<E, R>
} = dual(2, <E, R>(self: Toolset<E, R>, names: Readonly<Record<string, string>>): Toolset<E, R> => {
  const newName = new Map<string, string>()
  for (const [to, from] of Object.entries(names)) {
    if (newName.has(from)) {
      const error = new UserError({
        reason: `Toolset.rename: '${from}' is given two names ('${newName.get(from)}' and '${to}').`
      })
      return make(() => Effect.fail(error))
    }
    newName.set(from, to)
  }
  const renamed = (tools: ReadonlyArray<ToolsetTool<E, R>>): ReadonlyArray<ToolsetTool<E, R>> =>
    tools.map((t) => {
      const to = newName.get(t.definition.name)
      return to === undefined
        ? t
        : { ...t, definition: makeToolDefinition.copy(t.definition, { name: to }) }
    })
  const fixed = self.fixed === undefined ? undefined : renamed(self.fixed)
  const fixedOk =
    fixed !== undefined && new Set(fixed.map((t) => t.definition.name)).size === fixed.length
  return make(
    (ctx) =>
      fixedOk
        ? Effect.succeed(fixed)
        : Effect.flatMap(self.tools(ctx), (tools) =>
            checkDuplicates(renamed(tools), "Toolset.rename")
          ),
    fixedOk ? fixed : undefined
  )
})

/**
 * Edits the definitions at every step: return a new list to hide tools (leave them out) or to
 * change their descriptions / schemas. Tools are matched back by name; an unknown name is a
 * `UserError` (use `prefix` to rename).
 */
export const prepare: {
  <R2>(
    f: (
      definitions: ReadonlyArray<ToolDefinition>
    ) => Effect.Effect<ReadonlyArray<ToolDefinition>, never, R2>
  ): <E, R>(self: Toolset<E, R>) => Toolset<E, R | Exclude<R2, RunContext>>
  <E, R, R2>(
    self: Toolset<E, R>,
    f: (
      definitions: ReadonlyArray<ToolDefinition>
    ) => Effect.Effect<ReadonlyArray<ToolDefinition>, never, R2>
  ): Toolset<E, R | Exclude<R2, RunContext>>
} = dual(
  2,
  <E, R, R2>(
    self: Toolset<E, R>,
    f: (
      definitions: ReadonlyArray<ToolDefinition>
    ) => Effect.Effect<ReadonlyArray<ToolDefinition>, never, R2>
  ): Toolset<E, R | Exclude<R2, RunContext>> =>
    make(
      (ctx) =>
        Effect.gen(function* () {
          const tools = yield* self.tools(ctx)
          const byName = new Map(tools.map((t) => [t.definition.name, t]))
          const defs = yield* Effect.provideService(
            f(tools.map((t) => t.definition)),
            RunContext,
            ctx
          )
          const out: Array<ToolsetTool<E, R>> = []
          for (const d of defs) {
            const t = byName.get(d.name)
            if (t === undefined) {
              return yield* new UserError({
                reason: `Toolset.prepare returned an unknown tool '${d.name}'; prepare may hide or edit tools, not rename or add them.`
              })
            }
            out.push({ ...t, definition: d })
          }
          return out
        }) as Effect.Effect<ReadonlyArray<ToolsetTool<E, R>>, UserError, any>
    )
)

/**
 * Calls of these tools need a person's approval before they run (pydantic-ai's
 * `ApprovalRequiredToolset`): every call, or those for which `predicate(definition, args, ctx)`
 * holds (`args` decoded). Such a call stops the run with `DeferredToolRequests`
 * (`approvals`); a tool's own `requiresApproval` still applies. The toolset's type carries
 * `ApprovalRequired`, so an agent using it has `DeferredToolRequests` in its output.
 *
 * @example
 * ```ts
 * const guarded = Toolset.fromTools([readFile, deleteFile]).pipe(
 *   Toolset.approvalRequired((definition) => definition.name.startsWith("delete"))
 * )
 * ```
 */
export const approvalRequired: {
  (
    predicate?: (definition: ToolDefinition, args: unknown, ctx: RunContextService) => boolean
  ): <E, R>(self: Toolset<E, R>) => Toolset<E | ApprovalRequired, R>
  <E, R>(
    self: Toolset<E, R>,
    predicate?: (definition: ToolDefinition, args: unknown, ctx: RunContextService) => boolean
  ): Toolset<E | ApprovalRequired, R>
} = dual(
  (args) => isToolset(args[0]),
  <E, R>(
    self: Toolset<E, R>,
    predicate?: (definition: ToolDefinition, args: unknown, ctx: RunContextService) => boolean
  ): Toolset<E | ApprovalRequired, R> => {
    const wrap = (t: ToolsetTool<E, R>): ToolsetTool<E, R> => {
      const own = t.requiresApproval
      const needs = (args: unknown, ctx: RunContextService): Effect.Effect<boolean, never, R> =>
        predicate === undefined || predicate(t.definition, args, ctx)
          ? Effect.succeed(true)
          : own === undefined
            ? Effect.succeed(false)
            : own(args, ctx)
      return { ...t, requiresApproval: needs }
    }
    return make(
      (ctx) => Effect.map(self.tools(ctx), (tools) => tools.map(wrap)),
      self.fixed?.map(wrap)
    )
  }
)

/** Edits each tool's definition, at every step; a fixed toolset stays fixed. */
const mapDefinitions = <E, R>(
  self: Toolset<E, R>,
  f: (definition: ToolDefinition) => ToolDefinition
): Toolset<E, R> => {
  const mapped = (tools: ReadonlyArray<ToolsetTool<E, R>>): ReadonlyArray<ToolsetTool<E, R>> =>
    tools.map((t) => {
      const definition = f(t.definition)
      return definition === t.definition ? t : { ...t, definition }
    })
  return make(
    (ctx) => Effect.map(self.tools(ctx), mapped),
    self.fixed === undefined ? undefined : mapped(self.fixed)
  )
}

/**
 * Sets `fields` on the definitions of the named tools (or all) for which `applies` holds; the
 * others are left as they are, and a fixed toolset stays fixed.
 */
const markTools = <E, R>(
  self: Toolset<E, R>,
  names: ReadonlyArray<string> | undefined,
  applies: (definition: ToolDefinition) => boolean,
  fields: Partial<Pick<ToolDefinition, "deferLoading" | "includeReturnSchema">>
): Toolset<E, R> => {
  const only = names === undefined ? undefined : new Set(names)
  return mapDefinitions(self, (d) =>
    !applies(d) || (only !== undefined && !only.has(d.name))
      ? d
      : makeToolDefinition.copy(d, fields)
  )
}

/**
 * Marks tools as loaded only when a tool search finds them (`deferLoading: true`, pydantic-ai's
 * `defer_loading()` wrapper): the named ones, or every tool of the toolset when no names are
 * given. Pair it with the provider's search (`BuiltinTool.ToolSearch`) or the agent's
 * (`withToolSearch`, applied after it).
 *
 * @example
 * ```ts
 * const tools = Toolset.fromTools([getWeather, getExchangeRate]).pipe(
 *   Toolset.deferLoading(["get_exchange_rate"]),
 *   Toolset.withToolSearch()
 * )
 * ```
 */
export const deferLoading: {
  (names?: ReadonlyArray<string>): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, names?: ReadonlyArray<string>): Toolset<E, R>
} = dual(
  (args) => isToolset(args[0]),
  <E, R>(self: Toolset<E, R>, names?: ReadonlyArray<string>): Toolset<E, R> =>
    markTools(self, names, (d) => d.deferLoading !== true, { deferLoading: true })
)

/**
 * Adds metadata to every tool's definition (pydantic-ai's `SetMetadataToolset`): the keys are
 * merged over a tool's own object metadata (a tool's non-object metadata is replaced). Metadata
 * is never sent to the model; `prepare`, `filter` and wrapping models read it.
 */
export const withMetadata: {
  (metadata: Readonly<Record<string, unknown>>): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, metadata: Readonly<Record<string, unknown>>): Toolset<E, R>
} = dual(
  2,
  <E, R>(self: Toolset<E, R>, metadata: Readonly<Record<string, unknown>>): Toolset<E, R> =>
    mapDefinitions(self, (d) => {
      const own = d.metadata
      const merged =
        typeof own === "object" && own !== null && !Array.isArray(own)
          ? { ...own, ...metadata }
          : { ...metadata }
      return makeToolDefinition.copy(d, { metadata: merged })
    })
)

/**
 * Tells the model what the tools return (pydantic-ai's `include_return_schemas()`): sets
 * `includeReturnSchema` on the named tools (or all) that have a return schema
 * (`Tool.make({ returns })`); the others are left as they are.
 */
export const includeReturnSchemas: {
  (names?: ReadonlyArray<string>): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, names?: ReadonlyArray<string>): Toolset<E, R>
} = dual(
  (args) => isToolset(args[0]),
  <E, R>(self: Toolset<E, R>, names?: ReadonlyArray<string>): Toolset<E, R> =>
    markTools(self, names, (d) => d.returnSchema !== undefined && d.includeReturnSchema !== true, {
      includeReturnSchema: true
    })
)

/** The default name of the agent's tool search tool (`withToolSearch`). */
export const toolSearchName = "search_tools"

/** Options of `withToolSearch`. */
export interface ToolSearchOptions {
  /**
   * The search tool's name (default `search_tools`). Keep the default on OpenAI Responses: its
   * client `tool_search` calls carry no name and are decoded as calls of `search_tools`.
   */
  readonly name?: string
  readonly description?: string
  /** At most this many tools per search (default 5). */
  readonly maxResults?: number
}

const searchWords = (s: string): Array<string> =>
  s
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0)

/**
 * The deferred definitions matching the queries, best first: each query is split into words and
 * a tool scores one point per word found in its name or description (matches across queries
 * add up). Tools scoring nothing are left out.
 */
export const searchDeferredTools = (
  definitions: ReadonlyArray<ToolDefinition>,
  queries: ReadonlyArray<string>,
  maxResults = 5
): ReadonlyArray<ToolDefinition> => {
  const scored: Array<readonly [ToolDefinition, number]> = []
  for (const d of definitions) {
    if (d.deferLoading !== true) continue
    const words = new Set(searchWords(`${d.name} ${d.description ?? ""}`))
    let score = 0
    for (const q of queries) for (const w of searchWords(q)) if (words.has(w)) score++
    if (score > 0) scored.push([d, score])
  }
  return scored
    .sort((a, b) => b[1] - a[1])
    .slice(0, maxResults)
    .map(([d]) => d)
}

const SearchArgs = Schema.Struct({
  queries: Schema.Array(Schema.String).annotations({
    description:
      "Search queries matched against tool names and descriptions; use words likely to appear in them. Matches across queries are unioned."
  })
})

const defaultSearchDescription =
  "There are more tools than the ones you can see. When you need a capability your current tools do not provide, search for it here; the tools found become available to call. If nothing is found, the tool does not exist: do not retry."

/**
 * Adds the agent's own tool search (pydantic-ai's `search_tools`) over this toolset's deferred
 * tools (`deferLoading: true`): the model calls it with queries; the tools found come back as
 * `Messages.ToolReference`s, which the provider turns into loaded tools (Anthropic
 * `tool_reference` blocks, OpenAI Responses `tool_search_output`, where the search tool is sent
 * as a client-executed `tool_search`), and other providers get as ordinary tools from the next
 * request on. The model then calls a found tool like any other; the agent runs it.
 *
 * @example
 * ```ts
 * const tools = Toolset.fromTools([getWeather, getExchangeRate]).pipe(Toolset.withToolSearch())
 * ```
 */
export const withToolSearch: {
  (options?: ToolSearchOptions): <E, R>(self: Toolset<E, R>) => Toolset<E, R>
  <E, R>(self: Toolset<E, R>, options?: ToolSearchOptions): Toolset<E, R>
} = dual(
  (args) => isToolset(args[0]),
  <E, R>(self: Toolset<E, R>, options: ToolSearchOptions = {}): Toolset<E, R> => {
    const name = options.name ?? toolSearchName
    const withSearch = (tools: ReadonlyArray<ToolsetTool<E, R>>): Array<ToolsetTool<E, R>> => {
      const definitions = tools.map((t) => t.definition)
      const search = Tool.make(name, {
        description: options.description ?? defaultSearchDescription,
        parameters: SearchArgs,
        handler: ({ queries }) => {
          const found = searchDeferredTools(definitions, queries, options.maxResults)
          return Effect.succeed(
            found.length > 0
              ? found.map((d) => new ToolReference({ toolName: d.name }))
              : "No matching tools found. The tools you need may not be available."
          )
        }
      })
      const definition = makeToolDefinition.copy(search.definition, { toolSearch: true })
      return [...tools, toolsetTool(search, definition)]
    }
    return make(
      (ctx) =>
        Effect.flatMap(self.tools(ctx), (tools) =>
          checkDuplicates(withSearch(tools), "Toolset.withToolSearch")
        ),
      self.fixed === undefined ? undefined : withSearch(self.fixed)
    )
  }
)

/** An empty toolset. */
export const empty: Toolset<never, never> = make(() => Effect.succeed([]), [])
