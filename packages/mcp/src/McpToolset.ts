/**
 * An MCP server as an agentfx `Toolset`: its tools are offered to the model (their input JSON
 * Schema as is, through `Tool.fromJsonSchema`; names model APIs reject made safe, see
 * `ToolsetOptions.names`) and called over one session. The tools are
 * listed once at connection and listed again when the server sends
 * `notifications/tools/list_changed`. Results become tool return values (`McpContent`); a
 * result with `isError: true` is a retry prompt to the model; a call that outlives `timeout`
 * is interrupted and the model is told it timed out. Interrupting a run (or a timeout) sends
 * MCP cancellation for its calls in flight. A server that fails or exits mid-call fails the
 * run with an `McpError` (the messages so far stay retrievable with `CaptureRunMessages`).
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { McpToolset } from "@agentfx/mcp"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const files = yield* McpToolset.stdio({ command: "node", args: ["files.mjs"], prefix: "fs" })
 *     const agent = Agent.make({ toolsets: [files] })
 *     return yield* agent.run("What is in notes.txt?")
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { ModelRetry } from "@agentfx/core/AgentError"
import * as AgentError from "@agentfx/core/AgentError"
import { ApprovalRequired } from "@agentfx/core/DeferredTools"
import { RunContext } from "@agentfx/core/RunContext"
import * as Tool from "@agentfx/core/Tool"
import * as Toolset from "@agentfx/core/Toolset"
import {
  type CallToolResult,
  type ElicitRequestParams,
  ElicitRequestSchema,
  type ElicitResult
} from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { callInRun, immediateReturn, needsRead, startTool } from "./internal/callInRun.js"
import { listVersion } from "./internal/listChanges.js"
import * as McpClient from "./McpClient.js"
import * as McpContent from "./McpContent.js"
import type { McpError } from "./McpError.js"

/** How the server's tools are offered to the model. */
export interface ToolsetOptions {
  /** Renames every tool to `${prefix}_${name}` (the server still gets the original name). */
  readonly prefix?: string
  /**
   * Time limit of one tool call. On expiry the call is interrupted (MCP cancellation is sent)
   * and the model gets the retry prompt "Timed out after {t} seconds.". Default: the agent's
   * `toolTimeout` (or the tool's), and the client's request `timeout` (60 seconds unless set)
   * when the run has no longer limit for the call.
   */
  readonly timeout?: Duration.DurationInput
  /** Retries allowed per tool (else the agent's `retries`). */
  readonly maxRetries?: number
  /**
   * How a tool's name is offered to the model. MCP allows names that model APIs reject (dots,
   * slashes, over 64 characters; OpenAI, Anthropic and Gemini all accept
   * `[A-Za-z0-9_-]{1,64}`). `"safe"` (default): every other character becomes `_`, a longer
   * name is cut to 55 characters plus `_` and 8 hex digits of a hash of the whole name, and a
   * name that would clash with another tool's gets `_2`, `_3`, …; a name that is already valid
   * is kept as is. `"verbatim"`: the server's names (after `prefix`) unchanged. Either way the
   * server is called with its own name, kept in the definition's `metadata.mcp.name`.
   */
  readonly names?: "safe" | "verbatim"
  /** Offer only the tools for which this holds. */
  readonly include?: (tool: McpClient.McpTool) => boolean
  /** Read the resource a `resource_link` result points to (default `true`). */
  readonly readResourceLinks?: boolean
  /**
   * How the server's questions to the user (`elicitation/create`) are answered:
   *
   * - a handler (`McpClient.ElicitationHandler`): answers at once, while the call waits — for an
   *   application that can ask its user right away (a terminal, a live socket). With
   *   `fromClient` it replaces the session's handler (the session must offer elicitation);
   * - `"defer"`: the question goes to the agent's user through the deferred tools. The server
   *   gets `cancel`, and the call ends the run with `DeferredToolRequests`: it is listed in
   *   `approvals`, its metadata is `{ mcp, elicitation }` (the server's message and requested
   *   schema). Resume with the call approved and the answer as its metadata
   *   (`elicitationAnswer(...)`): the tool is called again and the server's question gets that
   *   answer. A denial tells the model the call was denied. MCP does not tie a question to the
   *   call that asked, so with `"defer"` the toolset's calls run one at a time.
   *
   * Without it the client does not offer elicitation.
   */
  readonly elicitation?: McpClient.ElicitationHandler | "defer"
}

/** What `ApprovalRequired.metadata` holds for a call stopped on an elicitation (`"defer"`). */
export interface ElicitationRequest {
  readonly mcp: { readonly server: string; readonly name: string }
  /** The server's question: `message`, and `requestedSchema` (form mode) or `url` (URL mode). */
  readonly elicitation: ElicitRequestParams
}

/**
 * The metadata answering a call stopped on an elicitation, for
 * `DeferredToolResults.metadata[toolCallId]` (with the call approved): every question the
 * server asks during the call again gets `answer`.
 */
export const elicitationAnswer = (
  answer: ElicitResult
): { readonly elicitation: ElicitResult } => ({
  elicitation: answer
})

const answerOf = (metadata: unknown): ElicitResult | undefined => {
  const e = (metadata as { elicitation?: unknown } | null | undefined)?.elicitation
  const action = (e as { action?: unknown } | null | undefined)?.action
  return action === "accept" || action === "decline" || action === "cancel"
    ? (e as ElicitResult)
    : undefined
}

/**
 * A connected MCP server as a toolset; `client` has its resources, prompts and raw calls.
 * `D` is `ApprovalRequired` when elicitations are deferred (so the agent's output type includes
 * `DeferredToolRequests`).
 */
export interface McpToolset<D = never> extends Toolset.Toolset<McpError | D, never> {
  readonly client: McpClient.McpClient
  /** The tools offered right now (after `prefix` and `include`). */
  readonly current: Effect.Effect<ReadonlyArray<Tool.ToolDefinition>>
  /** The offered tools, now and after every re-listing. */
  readonly changes: Stream.Stream<ReadonlyArray<Tool.ToolDefinition>>
}

/** The longest tool name every supported model API accepts. */
const NAME_LIMIT = 64
const VALID_NAME = /^[A-Za-z0-9_-]{1,64}$/

/** 8 hex digits of FNV-1a over the name's UTF-16 units (stable across runs and machines). */
const hash8 = (name: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, "0")
}

/** `name` with every character a model API rejects replaced, cut to the limit with a hash. */
const safeName = (name: string): string => {
  const replaced = name.replace(/[^A-Za-z0-9_-]/g, "_")
  if (replaced.length === 0) return `tool_${hash8(name)}`
  return replaced.length <= NAME_LIMIT
    ? replaced
    : `${replaced.slice(0, NAME_LIMIT - 9)}_${hash8(name)}`
}

/**
 * The offered names of `names` (same order), valid for every model API and distinct: valid
 * names are kept and claimed first, the others made safe and, on a clash, numbered.
 */
const offeredNames = (names: ReadonlyArray<string>): Array<string> => {
  const taken = new Set(names.filter((n) => VALID_NAME.test(n)))
  return names.map((name) => {
    if (VALID_NAME.test(name)) return name
    const base = safeName(name)
    let candidate = base
    for (let n = 2; taken.has(candidate); n++) {
      const suffix = `_${n}`
      candidate = `${base.slice(0, NAME_LIMIT - suffix.length)}${suffix}`
    }
    taken.add(candidate)
    return candidate
  })
}

const stripSchemaKey = (schema: Record<string, unknown>): Tool.JsonSchema => {
  const { $schema: _ignored, ...rest } = schema
  return rest
}

/**
 * Wraps a connected client as a toolset. Lists its tools now, and again on every
 * `tools/list_changed` notification for as long as the scope is open.
 */
export const fromClient = <const O extends ToolsetOptions = {}>(
  client: McpClient.McpClient,
  options: O = {} as O
): Effect.Effect<McpToolset<DeferralOf<O>>, McpError, Scope.Scope> =>
  Effect.gen(function* () {
    const timeout = options.timeout === undefined ? undefined : Duration.decode(options.timeout)
    const callOptions = timeout === undefined ? undefined : { timeout }
    const readResource = options.readResourceLinks === false ? undefined : client.readResource
    const timedOut =
      timeout === undefined
        ? undefined
        : new AgentError.ModelRetry({
            reason: `Timed out after ${Duration.toSeconds(timeout)} seconds.`
          })

    const toReturn = (result: CallToolResult) => McpContent.toolReturn(result, readResource)
    // [perf #16] In a run's tool call, the request is cancelled when the call ends (the run's
    // region, `Tool.CallEnd`), not by an interruption region of its own per call.
    const inRun = callInRun.get(client)
    const timeoutMillis = timeout === undefined ? undefined : Duration.toMillis(timeout)
    const callTool = (
      name: string,
      args: Record<string, unknown>
    ): Effect.Effect<CallToolResult, McpError> =>
      inRun === undefined
        ? client.callTool(name, args, callOptions)
        : Effect.withFiberRuntime((fiber) => {
            const end = fiber.currentContext.unsafeMap.get(Tool.CallEnd.key) as
              | Tool.CallEndService
              | undefined
            return end === undefined
              ? client.callTool(name, args, callOptions)
              : inRun(name, args, timeoutMillis, end)
          })
    // [perf #16] Without a toolset timeout there is no timeout to translate: no handler per call.
    const plain = (
      name: string,
      args: Record<string, unknown>
    ): Effect.Effect<unknown, McpError | ModelRetry> =>
      timedOut === undefined
        ? Effect.flatMap(callTool(name, args), toReturn)
        : callTool(name, args).pipe(
            Effect.catchIf(
              (e) => e.isTimeout,
              () => Effect.fail(timedOut)
            ),
            Effect.flatMap(toReturn)
          )

    // [perf #16] The same call as a promise, for a run starting a segment of calls at once
    // (`Tool.StartCall`): the request, then the result's value (a resource link read through
    // the client), an error result or the toolset's timeout rejecting with a `ModelRetry`.
    const starter = startTool.get(client)
    // Rejects with the read's own `McpError` (as the Effect path fails), not a `FiberFailure`.
    const readLinked = (result: CallToolResult) =>
      Effect.runPromise(Effect.either(toReturn(result))).then((value) => {
        if (Either.isLeft(value)) throw value.left
        return value.right
      })
    const onResult = (result: CallToolResult): unknown => {
      if (result.isError === true) {
        throw new AgentError.ModelRetry({ reason: McpContent.errorText(result) })
      }
      const now = immediateReturn(result, readResource !== undefined, McpContent.blockValue)
      return now === needsRead ? readLinked(result) : now
    }
    const onError = (e: McpError): never => {
      throw timedOut !== undefined && e.isTimeout ? timedOut : e
    }
    const started =
      starter === undefined
        ? undefined
        : (name: string) =>
            (args: unknown, timeLimit?: Duration.Duration): Tool.StartedCall =>
              starter(
                name,
                args as Record<string, unknown>,
                timeoutMillis,
                timeLimit,
                onResult,
                onError
              )

    let call: (
      name: string,
      args: Record<string, unknown>
    ) => Effect.Effect<unknown, McpError | ModelRetry | ApprovalRequired, RunContext> = plain
    /** Answers the server's `elicitation/create` requests with `handler` from now on. */
    const answerElicitations = (
      handler: (
        params: ElicitRequestParams,
        signal: AbortSignal
      ) => Promise<ElicitResult> | ElicitResult
    ) =>
      Effect.try({
        try: () =>
          client.sdk.setRequestHandler(ElicitRequestSchema, (request, extra) =>
            handler(request.params, extra.signal)
          ),
        catch: (e) => e
      }).pipe(
        Effect.orDieWith(
          (e) =>
            new Error(
              `McpToolset: elicitation needs a client that offers it (connect it with an \`elicitation\` handler, or use McpToolset.stdio / http): ${String(e)}`
            )
        )
      )
    const elicitation = options.elicitation
    // A handler given here answers for this session (`stdio` / `http` gave it to the client too).
    if (typeof elicitation === "function") {
      const runFork = yield* FiberSet.makeRuntime<never, ElicitResult, unknown>()
      yield* answerElicitations((params, signal) => {
        const fiber = runFork(elicitation(params))
        const onAbort = () => fiber.unsafeInterruptAsFork(fiber.id())
        signal.addEventListener("abort", onAbort, { once: true })
        return Effect.runPromise(Fiber.join(fiber)).finally(() =>
          signal.removeEventListener("abort", onAbort)
        )
      })
    }
    if (elicitation === "defer") {
      /** The call in flight (one at a time): the answer it resumes with, the question it got. */
      let current: { answer: ElicitResult | undefined; asked?: ElicitRequestParams } | undefined
      yield* answerElicitations((params) => {
        if (current === undefined) return { action: "cancel" }
        if (current.answer !== undefined) return current.answer
        current.asked ??= params
        return { action: "cancel" }
      })
      const lock = yield* Effect.makeSemaphore(1)
      call = (name, args) =>
        lock.withPermits(1)(
          Effect.gen(function* () {
            const ctx = yield* Effect.serviceOption(RunContext)
            const slot: { answer: ElicitResult | undefined; asked?: ElicitRequestParams } = {
              answer: Option.isSome(ctx) ? answerOf(ctx.value.toolCallMetadata) : undefined
            }
            current = slot
            const result = yield* Effect.ensuring(
              plain(name, args),
              Effect.sync(() => {
                current = undefined
              })
            )
            if (slot.asked === undefined) return result
            const metadata: ElicitationRequest = {
              mcp: { server: client.server, name },
              elicitation: slot.asked
            }
            return yield* new ApprovalRequired({ metadata })
          })
        )
    }

    const build = (
      list: ReadonlyArray<McpClient.McpTool>
    ): ReadonlyArray<Toolset.ToolsetTool<McpError | ApprovalRequired, never>> => {
      const offered = list.filter((t) => options.include === undefined || options.include(t))
      const given = offered.map((mcp) =>
        options.prefix === undefined ? mcp.name : `${options.prefix}_${mcp.name}`
      )
      const names = options.names === "verbatim" ? given : offeredNames(given)
      return offered.map((mcp, i) => {
        const name = names[i]!
        const tool = Tool.fromJsonSchema(name, {
          ...(mcp.description !== undefined ? { description: mcp.description } : {}),
          jsonSchema: stripSchemaKey(mcp.inputSchema),
          handler: (args) => call(mcp.name, args)
        })
        const handler = tool.handler as (
          args: unknown
        ) => Effect.Effect<unknown, McpError | ApprovalRequired | ModelRetry, RunContext>
        return {
          definition: new Tool.ToolDefinition(
            {
              ...tool.definition,
              metadata: {
                mcp: {
                  server: client.server,
                  name: mcp.name,
                  ...(mcp.title !== undefined ? { title: mcp.title } : {}),
                  ...(mcp.annotations !== undefined ? { annotations: mcp.annotations } : {}),
                  ...(mcp.outputSchema !== undefined ? { outputSchema: mcp.outputSchema } : {})
                }
              }
            },
            true
          ),
          maxRetries: options.maxRetries,
          timeout,
          decodeArgs: tool.decodeArgs,
          call: handler,
          // Not with `elicitation: "defer"`: that call needs its `RunContext`.
          ...(started !== undefined && call === plain
            ? { start: { of: handler, start: started(mcp.name) } }
            : {})
        }
      })
    }

    // The `tools/list_changed` notifications received so far (counted as each arrives), and how
    // many of them the list in `ref` has taken into account.
    const version = listVersion.get(client)
    const received = version === undefined ? () => 0 : () => version("tools")
    let listedAt = received()
    const first = build(yield* client.listTools)
    const ref = yield* SubscriptionRef.make(first)
    /**
     * Lists the tools again if a notification came since the last listing. A run's step and
     * `current` wait for it: over stdio a notification the server sends before a result
     * (a tool that adds or removes tools) is counted before the run sees that result, so the
     * next step offers the new list.
     */
    const listAgain = client.listTools.pipe(
      Effect.flatMap((list) => SubscriptionRef.set(ref, build(list))),
      Effect.catchAll((e) => Effect.logWarning(`MCP tools could not be listed again: ${e.message}`))
    )
    const relist = (yield* Effect.makeSemaphore(1)).withPermits(1)(
      Effect.suspend(() => {
        const now = received()
        // counted once listed or failed, not interrupted (a step arriving meanwhile waits for it)
        return now === listedAt
          ? Effect.void
          : Effect.tap(listAgain, () => {
              listedAt = now
            })
      })
    )
    const fresh = Effect.suspend(() =>
      received() === listedAt
        ? SubscriptionRef.get(ref)
        : Effect.zipRight(relist, SubscriptionRef.get(ref))
    )
    // Every server is listened to, announced `listChanged` or not: the SDK lets a server with
    // `tools: {}` send the notification, and such a list is not fixed (no `fixed` list).
    const changes = yield* client.listChanges
    yield* changes.pipe(
      Stream.filter((c) => c === "tools"),
      // a client not made by `McpClient` has no count: every notification lists again
      Stream.runForEach(() => (version === undefined ? listAgain : relist)),
      Effect.forkScoped
    )
    const toolset = Toolset.make<McpError | ApprovalRequired, never>(() => fresh) as McpToolset<
      DeferralOf<O>
    >
    return Object.assign(toolset, {
      client,
      current: Effect.map(fresh, (tools) => tools.map((t) => t.definition)),
      changes: Stream.map(ref.changes, (tools) => tools.map((t) => t.definition))
    })
  })

/** `ApprovalRequired` when the options defer elicitations, else `never`. */
export type DeferralOf<O> = O extends { readonly elicitation: "defer" } ? ApprovalRequired : never

/** The client's options for these toolset options (a placeholder handler for `"defer"`). */
const clientOptions = <C extends McpClient.Options>(
  options: Omit<C, "elicitation"> & ToolsetOptions
): C => {
  const { elicitation, ...rest } = options
  return (
    elicitation === undefined
      ? rest
      : {
          ...rest,
          // "defer": the toolset installs its own handler; this one only offers the capability
          elicitation:
            elicitation === "defer"
              ? () => Effect.succeed({ action: "cancel" } as ElicitResult)
              : elicitation
        }
  ) as C
}

/** Options of `stdio`. */
export type StdioOptions = Omit<McpClient.StdioOptions, "elicitation"> & ToolsetOptions
/** Options of `http`. */
export type HttpOptions = Omit<McpClient.HttpOptions, "elicitation"> & ToolsetOptions

/**
 * Starts a server process (stdio) and offers its tools. The process is stopped when the
 * scope closes.
 */
export const stdio = <const O extends StdioOptions>(
  options: O
): Effect.Effect<McpToolset<DeferralOf<O>>, McpError, Scope.Scope> =>
  Effect.flatMap(McpClient.stdio(clientOptions<McpClient.StdioOptions>(options)), (client) =>
    fromClient(client, options)
  )

/**
 * Connects to a server over Streamable HTTP (HTTP+SSE fallback) and offers its tools. The
 * session is ended when the scope closes.
 */
export const http = <const O extends HttpOptions = {}>(
  url: string | URL,
  options: O = {} as O
): Effect.Effect<McpToolset<DeferralOf<O>>, McpError, Scope.Scope> =>
  Effect.flatMap(McpClient.http(url, clientOptions<McpClient.HttpOptions>(options)), (client) =>
    fromClient(client, options)
  )
