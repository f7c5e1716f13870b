/**
 * An MCP client session as Effects: connect to a server over stdio (a child process) or
 * Streamable HTTP (with a fallback to the older HTTP+SSE transport), inside a `Scope` — the
 * session is closed and the process stopped when the scope closes. Tools, resources and
 * prompts are plain Effect functions; the server's requests back to the client are answered
 * by an agentfx `Model` (sampling) and a handler you give (elicitation). For an agent, wrap
 * the session as a toolset with `McpToolset`.
 *
 * @example
 * ```ts
 * import { McpClient } from "@agentfx/mcp"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const client = yield* McpClient.stdio({ command: "node", args: ["server.mjs"] })
 *     const resources = yield* client.listResources
 *     const first = yield* client.readResource(resources[0]!.uri)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Model from "@agentfx/core/Model"
import type { CallEndService } from "@agentfx/core/Tool"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { SSEClientTransport, SseError } from "@modelcontextprotocol/sdk/client/sse.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError
} from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { RequestOptions } from "@modelcontextprotocol/sdk/shared/protocol.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  type CallToolResult,
  CreateMessageRequestSchema,
  type CreateMessageRequestParams,
  type CreateMessageResult,
  ElicitRequestSchema,
  type ElicitRequestParams,
  type ElicitResult,
  type GetPromptResult,
  type Implementation,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  McpError as SdkMcpError,
  type ServerCapabilities,
  type Tool,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as PubSub from "effect/PubSub"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { callInRun, startTool } from "./internal/callInRun.js"
import { listVersion } from "./internal/listChanges.js"
import { sample } from "./internal/sampling.js"
import { ConnectionClosed, McpError, type Operation } from "./McpError.js"

/** A tool as the server lists it (name, description, input / output JSON Schema, annotations). */
export type McpTool = Tool

/** What a list-changed notification was about. */
export type ListChanged = "tools" | "resources" | "prompts"

/** Answers the server's `sampling/createMessage` requests yourself. */
export type SamplingHandler = (
  request: CreateMessageRequestParams
) => Effect.Effect<CreateMessageResult, unknown>

/**
 * Answers the server's `elicitation/create` requests (the server asks the user for input):
 * return `{ action: "accept", content }`, `{ action: "decline" }` or `{ action: "cancel" }`.
 */
export type ElicitationHandler = (
  request: ElicitRequestParams
) => Effect.Effect<ElicitResult, unknown>

/** Options shared by every transport. */
export interface Options {
  /** A label for errors and spans; default: the name the server reports, else the command / URL. */
  readonly name?: string
  /** How the client introduces itself; default `{ name: "agentfx", version: "0.1.0" }`. */
  readonly clientInfo?: Implementation
  /**
   * Time limit of every request to the server (default 60 seconds). On expiry the request fails
   * with an `McpError` whose `isTimeout` is true, and is cancelled on the server. It is the
   * SDK's timer (real time); a toolset's `timeout` is the run's, on Effect's clock. A tool call
   * in a run whose time limit (the agent's `toolTimeout`, a tool's `timeout`) is longer waits for
   * that limit instead, unless the toolset sets a `timeout` of its own.
   */
  readonly timeout?: Duration.DurationInput
  /**
   * Lets the server ask a model (`sampling/createMessage`): an agentfx `Model.Service` (e.g.
   * `yield* Model.Model`) answers with its text and tool calls (the client offers sampling with
   * tools), or a handler of your own. Without it the client does not offer sampling.
   */
  readonly sampling?: Model.Service | SamplingHandler
  /**
   * Lets the server ask the user for input (`elicitation/create`, form mode). Without it the
   * client does not offer elicitation.
   */
  readonly elicitation?: ElicitationHandler
}

/** Options of `stdio`. */
export interface StdioOptions extends Options {
  readonly command: string
  readonly args?: ReadonlyArray<string>
  /**
   * Environment of the server process, added to the SDK's safe default set (`PATH`, `HOME`…);
   * the rest of this process's environment is not passed on. Secrets may be `Redacted`.
   */
  readonly env?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  readonly cwd?: string
  /** Where the server's stderr goes (default: inherited). */
  readonly stderr?: "inherit" | "ignore" | "pipe"
}

/** Options of `http`. */
export interface HttpOptions extends Options {
  /** Headers of every request (e.g. `Authorization`); secrets may be `Redacted`. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>>
  /**
   * `"streamable"` (Streamable HTTP only), `"sse"` (the older HTTP+SSE transport only) or
   * `"auto"` (default: Streamable HTTP, and HTTP+SSE when the server answers 4xx to it — not
   * 401 / 403, a rejected credential, which fails with that `status`).
   */
  readonly transport?: "auto" | "streamable" | "sse"
}

/** Options of one tool call. */
export interface CallOptions {
  /** Time limit of this call (else the client's `timeout`); the SDK's timer, in real time. */
  readonly timeout?: Duration.DurationInput
}

/** A connected MCP session. Every request is an Effect; interrupting it cancels it on the server. */
export interface McpClient {
  /** The server's label in errors. */
  readonly server: string
  /** The SDK client, for what this module does not wrap. */
  readonly sdk: Client
  /** What the server reported about itself at initialization. */
  readonly serverInfo: Implementation | undefined
  readonly capabilities: ServerCapabilities | undefined
  /** The server's instructions, if it sent any (worth adding to an agent's instructions). */
  readonly instructions: string | undefined
  /** Lists every tool (all pages). */
  readonly listTools: Effect.Effect<ReadonlyArray<McpTool>, McpError>
  /** Calls a tool; the raw result (see `McpContent.toolReturn` for the agentfx value). */
  readonly callTool: (
    name: string,
    args: Record<string, unknown>,
    options?: CallOptions
  ) => Effect.Effect<CallToolResult, McpError>
  /** Lists every resource (all pages). */
  readonly listResources: Effect.Effect<ReadonlyArray<Resource>, McpError>
  /** Lists every resource template (all pages). */
  readonly listResourceTemplates: Effect.Effect<ReadonlyArray<ResourceTemplate>, McpError>
  /** Reads a resource. */
  readonly readResource: (uri: string) => Effect.Effect<ReadResourceResult, McpError>
  /** Lists every prompt (all pages). */
  readonly listPrompts: Effect.Effect<ReadonlyArray<Prompt>, McpError>
  /** Gets a prompt with its arguments (`McpContent.promptMessages` turns it into messages). */
  readonly getPrompt: (
    name: string,
    args?: Readonly<Record<string, string>>
  ) => Effect.Effect<GetPromptResult, McpError>
  /**
   * The server's list-changed notifications, as a stream (subscribe inside a scope:
   * `yield* client.listChanges`, then read the stream).
   */
  readonly listChanges: Effect.Effect<Stream.Stream<ListChanged>, never, Scope.Scope>
}

/**
 * The cancellation signal of one request: the part of `AbortSignal` the SDK's `request` uses
 * (`throwIfAborted`, `aborted`, `reason`, one `abort` listener). A real `AbortController` per
 * request costs more CPU than the rest of an SDK call (an EventTarget each); this costs an
 * object. The SDK version is pinned; the cancellation tests prove the SDK still reacts to it.
 */
class CancelSignal {
  aborted = false
  reason: unknown = undefined
  /** The request is answered (or failed): aborting it now would cancel nothing. */
  settled = false
  private listener: (() => void) | undefined = undefined
  throwIfAborted(): void {
    if (this.aborted) throw this.reason
  }
  addEventListener(_type: "abort", listener: () => void): void {
    this.listener = listener
  }
  removeEventListener(): void {
    this.listener = undefined
  }
  readonly abort = (): void => {
    if (this.aborted || this.settled) return
    this.aborted = true
    this.reason = new Error("The request was interrupted.")
    const listener = this.listener
    this.listener = undefined
    listener?.()
  }
}

/** How long a server that broke a stream has to answer a `ping` (see `fromSdk`). */
const PROBE_MILLIS = 5_000

/** The SDK's default request timeout. */
const DEFAULT_TIMEOUT = 60_000

const millis = (d: Duration.DurationInput | undefined): number | undefined =>
  d === undefined ? undefined : Duration.toMillis(Duration.decode(d))

/** How much longer than a run's time limit a call's own request timeout is set (see below). */
const RUN_LIMIT_MARGIN = 1_000
/** The longest delay `setTimeout` keeps (the SDK's timer; longer fires at once). */
const MAX_TIMER_MILLIS = 2 ** 31 - 1

/**
 * The request timeout of a tool call in a run with no toolset `timeout`: the client's, unless
 * the run's time limit for the call is longer — then that limit and a second, so the run's own
 * limit decides (its retry prompt, the call cancelled) and a call the agent lets run for five
 * minutes is not failed by the client's 60 seconds.
 */
const inRunTimeout = (timeout: number, timeLimit: Duration.Duration | undefined): number => {
  if (timeLimit === undefined) return timeout
  const limit = Duration.toMillis(timeLimit) + RUN_LIMIT_MARGIN
  return limit <= timeout ? timeout : Math.min(limit, MAX_TIMER_MILLIS)
}

const reveal = (
  record: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
): Record<string, string> | undefined => {
  if (record === undefined) return undefined
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(record))
    out[k] = Redacted.isRedacted(v) ? Redacted.value(v) : v
  return out
}

const SDK_PREFIX = /^(MCP error -?\d+: )+/

/** The HTTP status of a failed HTTP request (Streamable HTTP or HTTP+SSE), if it had one. */
const httpStatus = (e: unknown): number | undefined => {
  const status =
    e instanceof StreamableHTTPError || e instanceof SseError ? (e.code as unknown) : undefined
  return typeof status === "number" && status >= 100 && status < 600 ? status : undefined
}

const errorOf =
  (server: () => string, operation: Operation, target: string | undefined, closed: () => boolean) =>
  (e: unknown): McpError => {
    const code = e instanceof SdkMcpError ? e.code : closed() ? ConnectionClosed : undefined
    const status = httpStatus(e)
    return new McpError({
      server: server(),
      operation,
      // The SDK prefixes "MCP error {code}: " (twice for a server's error): the code is a field.
      reason: e instanceof Error ? e.message.replace(SDK_PREFIX, "") : String(e),
      ...(code !== undefined ? { code } : {}),
      ...(target !== undefined ? { target } : {}),
      ...(status !== undefined ? { status } : {})
    })
  }

const isModel = (u: Model.Service | SamplingHandler): u is Model.Service =>
  typeof u === "object" && u !== null && typeof (u as Model.Service).request === "function"

const newClient = (options: Options): Client =>
  new Client(options.clientInfo ?? { name: "agentfx", version: "0.1.0" }, {
    capabilities: {
      // An agentfx model answers sampling requests with tools too (`tool_use` blocks).
      ...(options.sampling === undefined
        ? {}
        : { sampling: isModel(options.sampling) ? { tools: {} } : {} }),
      ...(options.elicitation !== undefined ? { elicitation: {} } : {})
    }
  })

/**
 * Connects over a transport you build (e.g. an `InMemoryTransport` in tests, or a transport of
 * the SDK this module has no shortcut for). `label` names the server in errors until it has
 * reported its name. The session is closed when the scope closes.
 */
export const connect = (
  transport: () => Transport,
  options: Options & { readonly label?: string } = {}
): Effect.Effect<McpClient, McpError, Scope.Scope> =>
  connectWith([transport], options.label ?? "mcp", options)

/** How long closing waits for a Streamable HTTP server to confirm the end of its session. */
const TERMINATE_MILLIS = 5_000

/**
 * Ends the session: a Streamable HTTP session is ended on the server first (`DELETE`, as the
 * spec asks of a client that leaves; a server that does not answer within a few seconds is
 * left), then the transport is closed (a child process is stopped).
 */
const end = async (client: Client): Promise<void> => {
  const transport = client.transport
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      transport.terminateSession().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, TERMINATE_MILLIS)
      })
    ])
    clearTimeout(timer)
  }
  await client.close().catch(() => undefined)
}

/** Connects with the first transport that works (later ones are fallbacks on a 4xx answer but 401 / 403). */
const connectWith = (
  transports: ReadonlyArray<() => Transport>,
  label: string,
  options: Options
): Effect.Effect<McpClient, McpError, Scope.Scope> =>
  Effect.gen(function* () {
    const sdk = yield* Effect.acquireRelease(
      Effect.async<Client, McpError>((resume) => {
        let i = 0
        const attempt = (): void => {
          const client = newClient(options)
          const transport = transports[i]!()
          client.connect(transport, { timeout: millis(options.timeout) ?? DEFAULT_TIMEOUT }).then(
            () => resume(Effect.succeed(client)),
            (e: unknown) => {
              // Whatever was started (a child process, an HTTP session) is stopped.
              void client.close().catch(() => undefined)
              // A 4xx means "not this transport" (404, 405…), except a rejected credential:
              // the older transport would reject it too, and its error would hide this one.
              const status = e instanceof StreamableHTTPError ? httpStatus(e) : undefined
              if (
                i + 1 < transports.length &&
                status !== undefined &&
                status >= 400 &&
                status < 500 &&
                status !== 401 &&
                status !== 403
              ) {
                i++
                attempt()
              } else {
                resume(
                  Effect.fail(
                    errorOf(
                      () => options.name ?? label,
                      "connect",
                      undefined,
                      () => false
                    )(e)
                  )
                )
              }
            }
          )
        }
        attempt()
      }),
      (client) => Effect.promise(() => end(client))
    )
    return yield* fromSdk(sdk, label, options)
  })

const pages = <A>(
  request: (cursor: string | undefined) => Effect.Effect<
    {
      readonly items: ReadonlyArray<A>
      readonly nextCursor?: string | undefined
    },
    McpError
  >
): Effect.Effect<ReadonlyArray<A>, McpError> =>
  Effect.gen(function* () {
    const out: Array<A> = []
    let cursor: string | undefined
    do {
      const page = yield* request(cursor)
      out.push(...page.items)
      cursor = page.nextCursor
    } while (cursor !== undefined)
    return out
  })

/** Wraps an SDK client that is already connected; handlers are installed for the scope. */
const fromSdk = (
  sdk: Client,
  label: string,
  options: Options
): Effect.Effect<McpClient, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = options.name ?? sdk.getServerVersion()?.name ?? label
    let closed = false
    const previousOnClose = sdk.onclose
    sdk.onclose = () => {
      closed = true
      previousOnClose?.()
    }
    // Over HTTP a server that goes away mid-call only breaks the stream the answer was to come
    // on: the SDK reports it here and leaves the request waiting for its timeout. On any
    // transport error, one `ping` (a few seconds at most) asks whether the server is still
    // there; if it cannot be reached, or no longer knows the session, the session is closed
    // and every request in flight fails at once as a closed connection.
    let probing = false
    const previousOnError = sdk.onerror
    sdk.onerror = (error) => {
      previousOnError?.(error)
      if (
        closed ||
        probing ||
        !(
          sdk.transport instanceof StreamableHTTPClientTransport ||
          sdk.transport instanceof SSEClientTransport
        )
      )
        return
      probing = true
      sdk.ping({ timeout: PROBE_MILLIS }).then(
        () => {
          probing = false
        },
        (e: unknown) => {
          probing = false
          // a JSON-RPC error (a timeout included) came from a server that is still there
          if (!(e instanceof SdkMcpError) && !closed) void sdk.close().catch(() => undefined)
        }
      )
    }
    const timeout = millis(options.timeout) ?? DEFAULT_TIMEOUT
    const run = yield* FiberSet.makeRuntime<never, unknown, unknown>()
    /** Runs a handler for a server request; the server's cancellation interrupts it. */
    const answer = <A>(effect: Effect.Effect<A, unknown>, signal: AbortSignal): Promise<A> => {
      const fiber = run(effect)
      const onAbort = () => fiber.unsafeInterruptAsFork(fiber.id())
      signal.addEventListener("abort", onAbort, { once: true })
      return Effect.runPromise(Fiber.join(fiber)).finally(() =>
        signal.removeEventListener("abort", onAbort)
      )
    }
    const sampling = options.sampling
    if (sampling !== undefined) {
      const handle = isModel(sampling)
        ? (p: CreateMessageRequestParams) => sample(sampling, p)
        : sampling
      sdk.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
        answer(handle(request.params), extra.signal)
      )
    }
    const elicitation = options.elicitation
    if (elicitation !== undefined) {
      sdk.setRequestHandler(ElicitRequestSchema, (request, extra) =>
        answer(elicitation(request.params), extra.signal)
      )
    }
    const changes = yield* PubSub.sliding<ListChanged>(64)
    yield* Effect.addFinalizer(() => PubSub.shutdown(changes))
    const received = { tools: 0, resources: 0, prompts: 0 }
    const notified = (list: ListChanged) => {
      received[list]++
      changes.unsafeOffer(list)
    }
    sdk.setNotificationHandler(ToolListChangedNotificationSchema, () => notified("tools"))
    sdk.setNotificationHandler(ResourceListChangedNotificationSchema, () => notified("resources"))
    sdk.setNotificationHandler(PromptListChangedNotificationSchema, () => notified("prompts"))

    const toError = (operation: Operation, target: string | undefined) =>
      errorOf(
        () => server,
        operation,
        target,
        () => closed
      )
    const request = <A>(
      operation: Operation,
      target: string | undefined,
      f: (options: RequestOptions) => Promise<A>,
      ms: number = timeout,
      end?: CallEndService
    ): Effect.Effect<A, McpError> =>
      Effect.async<A, McpError>((resume) => {
        // Interruption aborts the signal, and the SDK sends `notifications/cancelled`; so does
        // its timer. (An `Effect.timeout` here would cost more than the call itself.)
        const signal = new CancelSignal()
        f({ signal: signal as unknown as AbortSignal, timeout: ms }).then(
          (a) => {
            signal.settled = true
            resume(Effect.succeed(a))
          },
          (e: unknown) => {
            signal.settled = true
            resume(Effect.fail(toError(operation, target)(e)))
          }
        )
        // [perf #16] Inside a run's tool call the call's end aborts it (a no-op once answered):
        // no canceller, so `Effect.async` opens no interruption region of its own.
        if (end !== undefined) end.onEnd(signal.abort)
        else return Effect.sync(signal.abort)
      })
    const callTool = (
      name: string,
      args: Record<string, unknown>,
      ms: number,
      end?: CallEndService
    ): Effect.Effect<CallToolResult, McpError> =>
      request(
        "callTool",
        name,
        (o) => sdk.callTool({ name, arguments: args }, undefined, o) as Promise<CallToolResult>,
        ms,
        end
      )

    const client: McpClient = {
      server,
      sdk,
      serverInfo: sdk.getServerVersion(),
      capabilities: sdk.getServerCapabilities(),
      instructions: sdk.getInstructions(),
      listTools: pages((cursor) =>
        request("listTools", undefined, (o) =>
          sdk.listTools(cursor === undefined ? undefined : { cursor }, o)
        ).pipe(Effect.map((r) => ({ items: r.tools, nextCursor: r.nextCursor })))
      ),
      callTool: (name, args, callOptions) =>
        callTool(name, args, millis(callOptions?.timeout) ?? timeout),
      listResources: pages((cursor) =>
        request("listResources", undefined, (o) =>
          sdk.listResources(cursor === undefined ? undefined : { cursor }, o)
        ).pipe(Effect.map((r) => ({ items: r.resources, nextCursor: r.nextCursor })))
      ),
      listResourceTemplates: pages((cursor) =>
        request("listResourceTemplates", undefined, (o) =>
          sdk.listResourceTemplates(cursor === undefined ? undefined : { cursor }, o)
        ).pipe(Effect.map((r) => ({ items: r.resourceTemplates, nextCursor: r.nextCursor })))
      ),
      readResource: (uri) => request("readResource", uri, (o) => sdk.readResource({ uri }, o)),
      listPrompts: pages((cursor) =>
        request("listPrompts", undefined, (o) =>
          sdk.listPrompts(cursor === undefined ? undefined : { cursor }, o)
        ).pipe(Effect.map((r) => ({ items: r.prompts, nextCursor: r.nextCursor })))
      ),
      getPrompt: (name, args) =>
        request("getPrompt", name, (o) =>
          sdk.getPrompt(args === undefined ? { name } : { name, arguments: { ...args } }, o)
        ),
      listChanges: Effect.map(PubSub.subscribe(changes), (queue) => Stream.fromQueue(queue))
    }
    listVersion.set(client, (list) => received[list])
    callInRun.set(client, (name, args, ms, end) =>
      callTool(name, args, ms ?? inRunTimeout(timeout, end.timeLimit), end)
    )
    startTool.set(client, (name, args, ms, timeLimit, onResult, onError) => {
      const signal = new CancelSignal()
      const promise = (
        sdk.callTool({ name, arguments: args }, undefined, {
          signal: signal as unknown as AbortSignal,
          timeout: ms ?? inRunTimeout(timeout, timeLimit)
        }) as Promise<CallToolResult>
      ).then(
        (result) => {
          signal.settled = true
          return onResult(result)
        },
        (e: unknown) => {
          signal.settled = true
          return onError(toError("callTool", name)(e))
        }
      )
      return { promise, cancel: signal.abort }
    })
    return client
  })

/**
 * Starts the server as a child process and talks MCP over its stdin / stdout. The process is
 * stopped when the scope closes.
 */
export const stdio = (options: StdioOptions): Effect.Effect<McpClient, McpError, Scope.Scope> =>
  connectWith(
    [
      () => {
        const env = reveal(options.env)
        return new StdioClientTransport({
          command: options.command,
          args: [...(options.args ?? [])],
          ...(env !== undefined ? { env } : {}),
          ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
          stderr: options.stderr ?? "inherit"
        })
      }
    ],
    [options.command, ...(options.args ?? [])].join(" "),
    options
  )

/**
 * Connects to a server over HTTP: Streamable HTTP, falling back to the older HTTP+SSE
 * transport when the server answers 4xx (see `HttpOptions.transport`). The session is
 * ended when the scope closes.
 */
export const http = (
  url: string | URL,
  options: HttpOptions = {}
): Effect.Effect<McpClient, McpError, Scope.Scope> => {
  const target = typeof url === "string" ? new URL(url) : url
  const headers = reveal(options.headers)
  const requestInit: RequestInit | undefined = headers === undefined ? undefined : { headers }
  const streamable = () =>
    new StreamableHTTPClientTransport(
      target,
      requestInit === undefined ? undefined : { requestInit }
    )
  const sse = () =>
    new SSEClientTransport(
      target,
      headers === undefined
        ? undefined
        : {
            requestInit: { headers },
            // The SSE stream is a GET opened by `eventsource`: give it the headers too.
            eventSourceInit: {
              fetch: (u, init) => {
                const merged = new Headers(init?.headers)
                for (const [k, v] of Object.entries(headers)) merged.set(k, v)
                return fetch(u, { ...init, headers: merged })
              }
            }
          }
    )
  const mode = options.transport ?? "auto"
  return connectWith(
    mode === "sse" ? [sse] : mode === "streamable" ? [streamable] : [streamable, sse],
    target.origin + target.pathname,
    options
  )
}
