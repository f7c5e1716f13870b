/**
 * Tools: functions the model can call. Parameters are a Schema (the model sees its JSON
 * Schema, descriptions come from annotations), the handler is an Effect whose requirements
 * become the agent's requirements.
 *
 * @example
 * ```ts
 * import { Tool } from "@agentfx/core"
 * import { Effect, Schema } from "effect"
 *
 * const add = Tool.make("add", {
 *   description: "Add two numbers",
 *   parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   handler: ({ a, b }) => Effect.succeed(a + b)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as JSONSchema from "effect/JSONSchema"
import * as ModuleVersion from "effect/ModuleVersion"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import { ModelRetry, ToolFailed, UserError } from "./AgentError.js"
import { type ApprovalRequired, CallDeferred, type Deferral } from "./DeferredTools.js"
import { type ToolArgs, ValidationIssue } from "./Messages.js"
import type { Service as RunContextService } from "./RunContext.js"

/**
 * A tool result with data for the application (pydantic-ai's `ToolReturn`, without its extra
 * user content): `value` is what the model sees, `metadata` is kept on the `ToolReturnPart`
 * and never sent. Return it from a handler.
 *
 * @example
 * ```ts
 * const lookup = Tool.make("lookup", {
 *   parameters: Schema.Struct({ id: Schema.String }),
 *   handler: ({ id }) => Effect.succeed(new Tool.ToolReturn({ value: `found ${id}`, metadata: { source: "db" } }))
 * })
 * ```
 */
export class ToolReturn<out A = unknown> {
  readonly _tag = "ToolReturn" as const
  readonly value: A
  readonly metadata: unknown
  constructor(props: { readonly value: A; readonly metadata?: unknown }) {
    this.value = props.value
    this.metadata = props.metadata
  }
}

/** A JSON Schema object, as sent to providers. */
export type JsonSchema = Record<string, unknown>

/** What a tool is for the run loop: a function tool, an output tool, or one executed elsewhere. */
export const ToolKind = Schema.Literal("function", "output", "external")
/** What a tool is for the run loop: `function`, `output` or `external`. */
export type ToolKind = typeof ToolKind.Type

/** The definition of a tool as sent to the model. */
export class ToolDefinition extends Schema.Class<ToolDefinition>("ToolDefinition")({
  name: Schema.String,
  description: Schema.optionalWith(Schema.String, { exact: true }),
  parametersJsonSchema: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** Ask for strict schema adherence (OpenAI `strict`); `undefined` lets the provider decide. */
  strict: Schema.optionalWith(Schema.Boolean, { exact: true }),
  kind: Schema.optionalWith(ToolKind, { default: () => "function" as const }),
  /** Calls of a sequential tool are not run concurrently with other calls. */
  sequential: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  metadata: Schema.optionalWith(Schema.Unknown, { exact: true }),
  /**
   * Load the definition only when a tool search finds it: the provider's own
   * (`BuiltinTool.ToolSearch`; Anthropic / OpenAI `defer_loading`) or the agent's
   * (`Toolset.withToolSearch`). Providers that cannot defer tools get it only once the
   * conversation has loaded it (`Messages.loadedToolNames`), as an ordinary tool.
   */
  deferLoading: Schema.optionalWith(Schema.Boolean, { exact: true }),
  /**
   * This function tool is the agent's own tool search (`Toolset.withToolSearch`): providers
   * with a client-executed search tool send it in that form (OpenAI Responses `tool_search`
   * with `execution: "client"`).
   */
  toolSearch: Schema.optionalWith(Schema.Boolean, { exact: true }),
  /** The JSON Schema of what the tool returns (`Tool.make({ returns })`). */
  returnSchema: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Unknown }), {
    exact: true
  }),
  /**
   * Tell the model what the tool returns (pydantic-ai's `include_return_schema`): providers with a
   * field for it get `returnSchema` there (Gemini `responseJsonSchema`), the others get it at the
   * end of the description.
   */
  includeReturnSchema: Schema.optionalWith(Schema.Boolean, { exact: true })
}) {}

/** A tool: its definition plus a typed handler. */
export interface Tool<in out Name extends string, in out Args, out Success, out E, out R> {
  readonly name: Name
  readonly description: string | undefined
  readonly parameters: Schema.Schema<Args, any>
  readonly definition: ToolDefinition
  /** Retries allowed for this tool (overrides the agent's `retries`). */
  readonly maxRetries: number | undefined
  /** Called before each model request; may hide (`undefined`) or edit the definition. */
  readonly prepare:
    | ((definition: ToolDefinition) => Effect.Effect<ToolDefinition | undefined, never, R>)
    | undefined
  readonly handler: (args: Args) => Effect.Effect<Success, E | ModelRetry, R>
  /**
   * How long one call may run (overrides the agent's `toolTimeout`). On expiry the call is
   * interrupted and the model gets a retry prompt "Timed out after {t} seconds.", which counts
   * against the tool's retry budget.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** Decodes raw model arguments; failures become a `ModelRetry` listing the issues. */
  readonly decodeArgs: (args: ToolArgs) => Effect.Effect<Args, ModelRetry>
  /**
   * Does a call need a person's approval before it runs? `true`, or a predicate of the decoded
   * arguments and the run (see `MakeOptions.requiresApproval`). `undefined`: never.
   */
  readonly requiresApproval?: RequiresApproval<Args, R> | undefined
  /** Checks decoded arguments before the call runs or waits for approval (see `MakeOptions.validate`). */
  readonly validate?: ((args: Args) => Effect.Effect<void, E | ModelRetry, R>) | undefined
  /**
   * The same call as `handler`, as a promise (`fromAsync` tools): a run may start a response's
   * calls this way, all from its own fiber (see `StartCall`).
   */
  readonly start?: StartCall | undefined
}

/**
 * A tool call as a promise (`Tool.start`, `Toolset.ToolsetTool.start`). A run uses it instead of
 * the tool's Effect for a segment of calls (the calls of one response run together, split by
 * `sequential` tools) when:
 * - every call of the segment is to a tool with a `start` whose `of` is still the tool's call
 *   (`handler` / `ToolsetTool.call`): a wrapper that replaces the call — spreading the tool —
 *   leaves `start` behind, and the run then calls the wrapper;
 * - no tool of the segment needs approval, validates its arguments or is external, and the run
 *   has no tool or validation hooks;
 * - the run resumes no deferred calls and its spans are not recorded (no `execute_tool` span
 *   is due); a time limit is kept only on Effect's own clock (a `TestClock` keeps the per-call
 *   path).
 * A streaming run (`runStream`, `onEvent`) gets each call's result event as the call ends, as
 * through the Effect.
 * Otherwise each call runs through its Effect in its own region. Through `start` a call keeps
 * its argument decoding, time limit (the tool's or the agent's `toolTimeout`: `cancel`, then a
 * retry prompt), retry budget, usage count and result part; at most `maxConcurrency` are in
 * flight; a failure that ends the run (an error, a spent retry budget) cancels the others and
 * starts no more; interrupting the run cancels all in flight.
 *
 * The promise rejects with `ModelRetry` or `ToolFailed` as the Effect fails with them; with
 * anything else the call fails with it (the tool's error), or dies with it when `dies` is set
 * (as `fromAsync`'s handler does). The call sees no `RunContext`.
 */
export interface StartCall {
  /** The call this stands for: used only while the tool's call is this function. */
  readonly of: (args: any) => Effect.Effect<unknown, any, any>
  /**
   * Starts a call on decoded arguments. `timeLimit` is the call's time limit in the run (the
   * tool's `timeout`, else the agent's `toolTimeout`), after which the run cancels it; a call
   * with a transport deadline of its own should not give up before it.
   */
  readonly start: (args: any, timeLimit?: Duration.Duration | undefined) => StartedCall
  /** A rejection other than `ModelRetry` / `ToolFailed` is a defect, not the tool's error. */
  readonly dies?: boolean | undefined
}

/** A call started by `StartCall.start`: its result, and how to stop it (a no-op once settled). */
export interface StartedCall {
  readonly promise: PromiseLike<unknown>
  readonly cancel: () => void
}

/**
 * Whether a call needs approval: always (`true`), never (`false`), or as a predicate of the
 * decoded arguments and the run decides.
 */
export type RequiresApproval<Args, R = never> =
  | boolean
  | ((args: Args, ctx: RunContextService) => Effect.Effect<boolean, never, R>)

/** Any tool. */
export type Any = Tool<string, any, any, any, any>

/** The services a tool needs. */
export type Requirements<T> = T extends Tool<any, any, any, any, infer R> ? R : never
/**
 * The errors a tool can fail with, besides `ModelRetry`, `ToolFailed` (which the run loop turns
 * into a retry prompt / a failed tool return) and the deferrals (`ApprovalRequired`,
 * `CallDeferred`: the run stops with `DeferredToolRequests`).
 */
export type Errors<T> =
  T extends Tool<any, any, any, infer E, any>
    ? Exclude<E, ModelRetry | ToolFailed | Deferral>
    : never
/**
 * How a tool can defer its calls: `ApprovalRequired` (it may need approval), `CallDeferred`
 * (external), or `never`. An agent with such a tool has `DeferredToolRequests` in its output.
 */
export type Deferrals<T> =
  T extends Tool<any, any, any, infer E, any> ? Extract<E, Deferral> : never

/**
 * JSON Schema of a Schema, without the `$schema` key, `$defs` kept at the root. A schema with no
 * JSON Schema (`Schema.DateFromSelf`, `Schema.instanceOf(URL)`, …) throws a `UserError` naming
 * `owner` (e.g. `Tool "book"`), the `member` (parameter, field) at fault and what to annotate.
 */
export const jsonSchema = (
  schema: Schema.Schema.Any,
  owner = "Schema",
  member = "parameter"
): JsonSchema => {
  if (!Schema.isSchema(schema)) throw notOurSchema(owner, schema)
  let js: Record<string, unknown>
  try {
    js = JSONSchema.make(schema as Schema.Schema<any, any, never>) as unknown as Record<
      string,
      unknown
    >
  } catch (e) {
    throw missingJsonSchema(owner, member, e)
  }
  const { $schema: _ignored, ...rest } = js
  return rest
}

/**
 * The Effect line agentfx runs on is 3 (`effect@3`). A schema built with another major of
 * `effect` (4 exports `Schema` too, with other internals) would crash deep inside `SchemaAST`;
 * say what happened instead. `npm ls effect` lists the copies an app has.
 */
const notOurSchema = (owner: string, value: unknown): UserError => {
  const loaded = ModuleVersion.getCurrentVersion()
  const fromEffect4 =
    value !== null && (typeof value === "object" || typeof value === "function")
      ? "~effect/Schema/Schema" in value
      : false
  return new UserError({
    reason:
      `${owner}: the schema is not a Schema of effect ${loaded}, the Effect 3 line agentfx ` +
      `runs on${fromEffect4 ? " (it was built with effect 4)" : ""}. Install effect@3 in your ` +
      "app (npm install effect@3; `npm ls effect` lists every copy) and import Schema from it."
  })
}

/** Effect says `Missing annotation\nat path: ["a"]["b"]\n…\nschema (Declaration): URL`. */
const missingJsonSchema = (owner: string, member: string, e: unknown): UserError => {
  const text = e instanceof Error ? e.message : String(e)
  const path = /at path: ((?:\[[^\]]*\])+)/.exec(text)?.[1]
  const keys = path === undefined ? [] : [...path.matchAll(/\[("?)(.*?)\1\]/g)].map((m) => m[2])
  const kind = /schema \([^)]*\): (.*)$/m.exec(text)?.[1]
  const what = keys.length === 0 ? "the schema" : `${member} "${keys.join(".")}"`
  const annotate =
    kind === undefined ? "the schema" : `the schema (${kind.length > 60 ? "…" : kind})`
  return new UserError({
    reason:
      `${owner}: ${what} has no JSON Schema, so the model cannot be told its type. ` +
      `Annotate ${annotate} with one, e.g. \`.annotations({ jsonSchema: { type: "string", ` +
      `format: "date-time" } })\`, or use a schema that encodes to JSON (\`Schema.Date\` ` +
      `instead of \`Schema.DateFromSelf\`, \`Schema.URL\` instead of \`Schema.instanceOf(URL)\`). ` +
      `(Effect: ${text.split("\n").join(" ")})`
  })
}

const parseIssues = (error: ParseResult.ParseError, input: unknown): Array<ValidationIssue> =>
  ParseResult.ArrayFormatter.formatErrorSync(error).map(
    (i) =>
      new ValidationIssue(
        {
          path: i.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
          message: i.message,
          input: valueAt(input, i.path)
        },
        true
      )
  )

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let cur: any = input
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined
    cur = cur[k as any]
  }
  return cur
}

/**
 * Decodes model-provided arguments (a JSON string or an object) with a Schema. Bad JSON or a
 * schema mismatch fails with a `ModelRetry` whose issues go back to the model.
 */
export const decodeWith = <A, I>(
  schema: Schema.Schema<A, I, never>
): ((args: ToolArgs) => Effect.Effect<A, ModelRetry>) => {
  const options = { errors: "all", onExcessProperty: "ignore" } as const
  // [perf] The synchronous decoder first (its result is a plain `Either`; the Effect decoder
  // spreads its options into a new object and wraps the result, ≈ 2 µs a call); the Effect
  // decoder on any failure, which also covers schemas with asynchronous transformations (the
  // synchronous one reports them as `Forbidden`) and gives the errors their usual form.
  const decodeSync = ParseResult.decodeUnknownEither(schema, options)
  const decode = Schema.decodeUnknown(schema, options)
  return (args) => {
    let value: unknown = args
    if (typeof args === "string") {
      const text = args.trim() === "" ? "{}" : args
      try {
        value = JSON.parse(text)
      } catch (e) {
        return Effect.fail(
          new ModelRetry({
            reason: `Invalid JSON: ${(e as Error).message}`,
            issues: [
              new ValidationIssue(
                { path: [], message: `Invalid JSON: ${(e as Error).message}`, input: args },
                true
              )
            ]
          })
        )
      }
    }
    const sync = decodeSync(value)
    if (sync._tag === "Right") return Effect.succeed(sync.right)
    return Effect.mapError(
      decode(value),
      (error) =>
        new ModelRetry({
          reason: ParseResult.TreeFormatter.formatErrorSync(error),
          issues: parseIssues(error, value)
        })
    )
  }
}

const descriptionOf = (ast: SchemaAST.AST): string | undefined => {
  const d = ast.annotations[Symbol.for("effect/annotation/Description")]
  return typeof d === "string" ? d : undefined
}

/** Options of `make`. */
export interface MakeOptions<Args, I, Success, E, R> {
  readonly description?: string
  /** The arguments. An object Schema (`Schema.Struct`/`Schema.Class`); annotate fields with `description`. */
  readonly parameters: Schema.Schema<Args, I, never>
  readonly handler: (args: Args) => Effect.Effect<Success, E | ModelRetry, R>
  /** Retries of this tool (wins over the agent's `retries`). */
  readonly retries?: number
  /** @deprecated Use `retries` (the agent's option has the same name). */
  readonly maxRetries?: number
  readonly strict?: boolean
  readonly sequential?: boolean
  readonly metadata?: unknown
  /** Leave the definition to the provider's tool search (see `ToolDefinition.deferLoading`). */
  readonly deferLoading?: boolean
  /**
   * What the handler returns, as a Schema: its JSON Schema becomes `definition.returnSchema`,
   * told to the model when `includeReturnSchema` is set (here or with
   * `Toolset.includeReturnSchemas`).
   */
  readonly returns?: Schema.Schema<Success, any, never>
  /** Tell the model what the tool returns (`returns` must be given; see `ToolDefinition`). */
  readonly includeReturnSchema?: boolean
  /** How long one call may run; expiry becomes a retry prompt (see `Tool.timeout`). */
  readonly timeout?: Duration.DurationInput
  readonly prepare?: (
    definition: ToolDefinition
  ) => Effect.Effect<ToolDefinition | undefined, never, R>
  /**
   * Ask a person before each call runs (pydantic-ai's `requires_approval`): `true`, or a
   * predicate of the decoded arguments and the run. A call that needs approval ends the run
   * with `DeferredToolRequests` (listed in `approvals`); the tool's type then carries
   * `ApprovalRequired`, so the agent's output type includes `DeferredToolRequests`.
   */
  readonly requiresApproval?: RequiresApproval<Args, R>
  /**
   * Checks the decoded arguments beyond their Schema (pydantic-ai's `args_validator`), before
   * the call runs — and before it waits for approval, so a person never approves arguments the
   * tool would refuse. Fail with `ModelRetry` (the model tries again; counts against the
   * tool's retries), `ToolFailed`, or a deferral (`ApprovalRequired` / `CallDeferred`: the call
   * waits, it did not fail). It runs again on an approved call, with the approved (or
   * overriding) arguments and `RunContext.toolCallApproved` set.
   */
  readonly validate?: (args: Args) => Effect.Effect<void, E | ModelRetry, R>
}

/**
 * Builds a tool. With `requiresApproval` the tool's error type carries `ApprovalRequired` (its
 * calls may stop the run for approval).
 */
export function make<const Name extends string, Args, I, Success, E = never, R = never>(
  name: Name,
  options: MakeOptions<Args, I, Success, E, R> & {
    readonly requiresApproval: RequiresApproval<Args, R>
  }
): Tool<Name, Args, Success, E | ApprovalRequired, R>
export function make<const Name extends string, Args, I, Success, E = never, R = never>(
  name: Name,
  options: MakeOptions<Args, I, Success, E, R> & { readonly requiresApproval?: undefined }
): Tool<Name, Args, Success, E, R>
export function make<const Name extends string, Args, I, Success, E = never, R = never>(
  name: Name,
  options: MakeOptions<Args, I, Success, E, R>
): Tool<Name, Args, Success, E | ApprovalRequired, R>
export function make<const Name extends string, Args, I, Success, E = never, R = never>(
  name: Name,
  options: MakeOptions<Args, I, Success, E, R>
): Tool<Name, Args, Success, E, R> {
  if (!Schema.isSchema(options.parameters)) throw notOurSchema(`Tool "${name}"`, options.parameters)
  const description = options.description ?? descriptionOf(options.parameters.ast)
  const definition = new ToolDefinition({
    name,
    ...(description !== undefined ? { description } : {}),
    parametersJsonSchema: jsonSchema(options.parameters, `Tool "${name}"`),
    ...(options.strict !== undefined ? { strict: options.strict } : {}),
    kind: "function",
    sequential: options.sequential ?? false,
    ...(options.metadata !== undefined ? { metadata: options.metadata } : {}),
    ...(options.deferLoading !== undefined ? { deferLoading: options.deferLoading } : {}),
    ...(options.returns !== undefined
      ? { returnSchema: jsonSchema(options.returns, `Tool "${name}"`, "return") }
      : {}),
    ...(options.includeReturnSchema !== undefined
      ? { includeReturnSchema: options.includeReturnSchema }
      : {})
  })
  if (options.includeReturnSchema === true && options.returns === undefined) {
    throw new UserError({
      reason: `Tool "${name}": includeReturnSchema needs the return Schema (\`returns\`).`
    })
  }
  return {
    name,
    description,
    parameters: options.parameters,
    definition,
    maxRetries: options.retries ?? options.maxRetries,
    prepare: options.prepare,
    handler: options.handler,
    timeout: options.timeout,
    decodeArgs: decodeWith(options.parameters),
    requiresApproval: options.requiresApproval === false ? undefined : options.requiresApproval,
    validate: options.validate
  }
}

/** Options of `external`. */
export interface ExternalOptions<Args, I> {
  readonly description?: string
  /** The arguments the model sends; they are decoded (bad ones go back to the model) before the run stops. */
  readonly parameters: Schema.Schema<Args, I, never>
  readonly strict?: boolean
  readonly sequential?: boolean
  /** Stored on the definition and given with each request (`DeferredToolRequests.metadata`). */
  readonly metadata?: unknown
}

/**
 * A tool whose calls are executed outside the run (pydantic-ai's external tools, `ToolKind`
 * `"external"`): it has no handler. The model sees it as any tool; a call ends the run with
 * `DeferredToolRequests` (listed in `calls`), and the result comes back in
 * `DeferredToolResults.calls` — from a browser, another service, a person.
 *
 * @example
 * ```ts
 * const geolocate = Tool.external("geolocate", {
 *   description: "The user's position, from their browser",
 *   parameters: Schema.Struct({ precise: Schema.Boolean })
 * })
 * ```
 */
export const external = <const Name extends string, Args, I>(
  name: Name,
  options: ExternalOptions<Args, I>
): Tool<Name, Args, never, CallDeferred, never> => {
  if (!Schema.isSchema(options.parameters)) throw notOurSchema(`Tool "${name}"`, options.parameters)
  const description = options.description ?? descriptionOf(options.parameters.ast)
  const metadata = options.metadata
  return {
    name,
    description,
    parameters: options.parameters,
    definition: new ToolDefinition({
      name,
      ...(description !== undefined ? { description } : {}),
      parametersJsonSchema: jsonSchema(options.parameters, `Tool "${name}"`),
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
      kind: "external",
      sequential: options.sequential ?? false,
      ...(metadata !== undefined ? { metadata } : {})
    }),
    maxRetries: undefined,
    prepare: undefined,
    // The run loop never calls it (the kind says so); called directly, it defers as well.
    handler: () => Effect.fail(new CallDeferred(metadata !== undefined ? { metadata } : {})),
    timeout: undefined,
    decodeArgs: decodeWith(options.parameters)
  }
}

/**
 * A tool whose arguments are described by a raw JSON Schema and passed through undecoded
 * (for tools defined elsewhere, e.g. by an MCP server).
 */
export const fromJsonSchema = <const Name extends string, Success, E = never, R = never>(
  name: Name,
  options: {
    readonly description?: string
    readonly jsonSchema: JsonSchema
    readonly handler: (args: Record<string, unknown>) => Effect.Effect<Success, E | ModelRetry, R>
    /** Retries of this tool (wins over the agent's `retries`). */
    readonly retries?: number
    /** @deprecated Use `retries`. */
    readonly maxRetries?: number
    readonly strict?: boolean
    readonly sequential?: boolean
    readonly timeout?: Duration.DurationInput
  }
): Tool<Name, Record<string, unknown>, Success, E, R> => {
  const parameters = Schema.Record({ key: Schema.String, value: Schema.Unknown })
  const decode = decodeWith(parameters)
  return {
    name,
    description: options.description,
    parameters,
    definition: new ToolDefinition({
      name,
      ...(options.description !== undefined ? { description: options.description } : {}),
      parametersJsonSchema: options.jsonSchema,
      ...(options.strict !== undefined ? { strict: options.strict } : {}),
      sequential: options.sequential ?? false
    }),
    maxRetries: options.retries ?? options.maxRetries,
    prepare: undefined,
    handler: options.handler,
    timeout: options.timeout,
    // [perf #16] Any JSON object is a valid record: no schema walk per call (bad input still
    // gets the schema's errors).
    decodeArgs: (args) => {
      let value: unknown = args
      if (typeof args === "string") {
        try {
          value = JSON.parse(args)
        } catch {
          return decode(args)
        }
      }
      return value !== null && typeof value === "object" && !Array.isArray(value)
        ? Effect.succeed(value as Record<string, unknown>)
        : decode(args)
    }
  }
}

/** What `CallEnd` offers a handler: callbacks for the end of its call. */
export interface CallEndService {
  /**
   * Runs `f` once when the current tool call ends, however it ends: a result, a failure, the
   * tool's time limit, or the run being interrupted. `f` is synchronous and must not throw.
   */
  readonly onEnd: (f: () => void) => void
  /**
   * The call's time limit in the run (the tool's `timeout`, else the agent's `toolTimeout`),
   * after which the run ends it; `undefined` when it has none. A handler whose transport has a
   * deadline of its own (a request timeout) should not give up before it.
   */
  readonly timeLimit: Duration.Duration | undefined
}

/**
 * The end of the tool call a handler runs in, provided by the run for every function tool call
 * (absent outside a run). For a handler that starts work outside Effect — a request in flight —
 * and must stop it if the call is abandoned, without an interruption region of its own per call
 * (`Effect.async` with a canceller, `Effect.onInterrupt`): the run already closes one region per
 * call, and `onEnd` callbacks run in it.
 *
 * @example
 * ```ts
 * import { Tool } from "@agentfx/core"
 * import { Effect, Schema } from "effect"
 *
 * const lookup = Tool.make("lookup", {
 *   parameters: Schema.Struct({ key: Schema.String }),
 *   handler: ({ key }) =>
 *     Effect.flatMap(Effect.serviceOption(Tool.CallEnd), (end) =>
 *       Effect.async<string>((resume) => {
 *         const timer = setTimeout(() => resume(Effect.succeed(key.toUpperCase())), 10)
 *         // stops the timer if the call ends first (its time limit, the run interrupted)
 *         if (end._tag === "Some") end.value.onEnd(() => clearTimeout(timer))
 *         else return Effect.sync(() => clearTimeout(timer))
 *       })
 *     )
 * })
 * ```
 */
export class CallEnd extends Context.Tag("@agentfx/core/Tool/CallEnd")<CallEnd, CallEndService>() {}

/** What an async tool handler gets besides its arguments. */
export interface AsyncHandlerContext {
  /** Aborted when the call is interrupted (run cancelled, tool timeout, a dropped stream). */
  readonly signal: AbortSignal
}

/** Options of `fromAsync`: as `make`, with a Promise-returning handler. */
export interface AsyncOptions<Args, I, Success>
  extends Omit<MakeOptions<Args, I, Success, never, never>, "handler" | "prepare"> {
  /**
   * The handler, for code without Effect. Throw (or reject with) an `AgentError.ModelRetry` to
   * send the model a retry prompt, or an `AgentError.ToolFailed` for a failed tool return; any
   * other exception ends the run the same way as an Effect handler that throws.
   */
  readonly handler: (args: Args, context: AsyncHandlerContext) => PromiseLike<Success> | Success
}

/**
 * A tool whose handler is an async function, for code that does not use Effect. The call's
 * `signal` is aborted when the call is interrupted, so `fetch(url, { signal })` stops with it.
 *
 * @example
 * ```ts
 * import { Tool } from "@agentfx/core"
 * import { Schema } from "effect"
 *
 * const weather = Tool.fromAsync("weather", {
 *   parameters: Schema.Struct({ city: Schema.String }),
 *   handler: async ({ city }, { signal }) => {
 *     const res = await fetch(`https://wttr.in/${city}?format=3`, { signal })
 *     return res.text()
 *   }
 * })
 * ```
 */
export function fromAsync<const Name extends string, Args, I, Success>(
  name: Name,
  options: AsyncOptions<Args, I, Success> & { readonly requiresApproval: RequiresApproval<Args> }
): Tool<Name, Args, Success, ToolFailed | ApprovalRequired, never>
export function fromAsync<const Name extends string, Args, I, Success>(
  name: Name,
  options: AsyncOptions<Args, I, Success> & { readonly requiresApproval?: undefined }
): Tool<Name, Args, Success, ToolFailed, never>
export function fromAsync<const Name extends string, Args, I, Success>(
  name: Name,
  options: AsyncOptions<Args, I, Success>
): Tool<Name, Args, Success, ToolFailed | ApprovalRequired, never> {
  const { handler, ...rest } = options
  // The call as a promise: what the run starts for a response's calls (`StartCall`), and what
  // the Effect handler below awaits — one place runs the user's function with its signal.
  const start = (args: Args): StartedCall => {
    const controller = new AbortController()
    let promise: PromiseLike<unknown>
    try {
      // the handler's own promise (no `async` wrapper: it would add reactions per call)
      const out = handler(args, { signal: controller.signal })
      promise = Predicate.isPromiseLike(out) ? out : Promise.resolve(out)
    } catch (e) {
      promise = Promise.reject(e)
    }
    return { promise, cancel: () => controller.abort() }
  }
  const tool = make(name, {
    ...rest,
    // a retry or a failed result fails the call; anything else thrown is a defect
    handler: (args) =>
      Effect.async<Success, ModelRetry | ToolFailed>((resume) => {
        const { promise, cancel } = start(args)
        promise.then(
          (a) => resume(Effect.succeed(a as Success)),
          (e) =>
            resume(
              e instanceof ModelRetry || e instanceof ToolFailed ? Effect.fail(e) : Effect.die(e)
            )
        )
        return Effect.sync(cancel)
      })
  })
  return { ...tool, start: { of: tool.handler, start, dies: true } }
}
