/**
 * The spans a task opened while it ran, recorded in memory (one recorder per case attempt),
 * and queries over them: "did the agent call the tool `customer_balance`?", "how many `chat`
 * requests did the run make?". agentfx runs open `invoke_agent {agent}`, `chat {model}` and
 * `execute_tool {tool}` spans with OpenTelemetry GenAI attributes, so an evaluator can check
 * how an answer was reached, not only what it was.
 *
 * Recording wraps the tracer already installed (an OpenTelemetry exporter keeps receiving
 * every span) and is local to the effect it wraps: concurrent cases never see each other's
 * spans.
 *
 * @example
 * ```ts
 * import { SpanTree } from "@agentfx/evals"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const [exit, spans] = yield* SpanTree.capture(
 *     Effect.withSpan(Effect.void, "execute_tool lookup", {
 *       attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup" }
 *     })
 *   )
 *   return exit._tag === "Success" && spans.any(SpanTree.toolCall("lookup")) // true
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { record } from "./internal/recordingTracer.js"

/** One event recorded on a span. */
export class SpanEvent extends Schema.Class<SpanEvent>("SpanEvent")({
  name: Schema.String,
  /** Milliseconds since the epoch (the Effect clock's, so `TestClock` time in tests). */
  timeMs: Schema.Number,
  attributes: Schema.Record({ key: Schema.String, value: Schema.Unknown })
}) {}

/** A span the task opened: what it was, when, how it ended, and its attributes. */
export class CapturedSpan extends Schema.Class<CapturedSpan>("CapturedSpan")({
  name: Schema.String,
  spanId: Schema.String,
  traceId: Schema.String,
  /** The parent span's id, when the span has one (it may lie outside the capture). */
  parentSpanId: Schema.optional(Schema.String),
  /** Milliseconds since the epoch (the Effect clock's). */
  startTimeMs: Schema.Number,
  /** Absent while the span is still open. */
  durationMs: Schema.optional(Schema.Number),
  /** `error` when the spanned effect failed, died or was interrupted. */
  status: Schema.Literal("ok", "error", "running"),
  /** Attribute values, made JSON-safe (bigints become strings, functions are dropped). */
  attributes: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  events: Schema.Array(SpanEvent)
}) {}

/** A query over spans; every field given must match. */
export interface SpanQuery {
  /** Exact span name. */
  readonly name?: string
  /** Span name contains this text. */
  readonly nameContains?: string
  /** Span name matches this pattern. */
  readonly nameMatches?: RegExp
  /** Attributes equal to these values (compared as JSON-safe values). */
  readonly attributes?: Readonly<Record<string, unknown>>
  /** Attribute keys that must be present. */
  readonly hasAttributes?: ReadonlyArray<string>
  readonly status?: CapturedSpan["status"]
  /** Some ancestor span matches this query. */
  readonly descendantOf?: SpanQuery
  /** Some descendant span matches this query. */
  readonly hasDescendant?: SpanQuery
  /** At least this long. */
  readonly minDurationMs?: number
  /** At most this long. */
  readonly maxDurationMs?: number
}

/** The query matching an agentfx tool call (`execute_tool {name}` span) of the tool `name`. */
export const toolCall = (name: string): SpanQuery => ({
  attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name }
})

/** The query matching an agentfx run of the agent `name` (`invoke_agent {name}` span). */
export const agentRun = (name: string): SpanQuery => ({
  attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": name }
})

/** The query matching a model request (`chat {model}` span). */
export const modelRequest: SpanQuery = { attributes: { "gen_ai.operation.name": "chat" } }

const sameValue = (a: unknown, b: unknown): boolean =>
  a === b || JSON.stringify(a) === JSON.stringify(b)

/** The captured spans of one task run, as a forest (parents link by span id). */
export class SpanTree {
  /** The spans in the order they were opened. */
  readonly spans: ReadonlyArray<CapturedSpan>
  private readonly byId: ReadonlyMap<string, CapturedSpan>
  private readonly childrenOf: ReadonlyMap<string, ReadonlyArray<CapturedSpan>>

  constructor(spans: ReadonlyArray<CapturedSpan>) {
    this.spans = spans
    this.byId = new Map(spans.map((s) => [s.spanId, s]))
    const children = new Map<string, Array<CapturedSpan>>()
    for (const s of spans) {
      if (s.parentSpanId === undefined || !this.byId.has(s.parentSpanId)) continue
      const list = children.get(s.parentSpanId) ?? []
      list.push(s)
      children.set(s.parentSpanId, list)
    }
    this.childrenOf = children
  }

  /** An empty tree (a task that opened no span). */
  static readonly empty: SpanTree = new SpanTree([])

  /** Spans whose parent was not captured: the top of each captured subtree. */
  get roots(): ReadonlyArray<CapturedSpan> {
    return this.spans.filter((s) => s.parentSpanId === undefined || !this.byId.has(s.parentSpanId))
  }

  /** The direct children of `span`. */
  children(span: CapturedSpan): ReadonlyArray<CapturedSpan> {
    return this.childrenOf.get(span.spanId) ?? []
  }

  /** The captured ancestors of `span`, nearest first. */
  ancestors(span: CapturedSpan): ReadonlyArray<CapturedSpan> {
    const out: Array<CapturedSpan> = []
    let current = span.parentSpanId === undefined ? undefined : this.byId.get(span.parentSpanId)
    while (current !== undefined) {
      out.push(current)
      current = current.parentSpanId === undefined ? undefined : this.byId.get(current.parentSpanId)
    }
    return out
  }

  /** All captured descendants of `span`. */
  descendants(span: CapturedSpan): ReadonlyArray<CapturedSpan> {
    const out: Array<CapturedSpan> = []
    const visit = (s: CapturedSpan) => {
      for (const c of this.children(s)) {
        out.push(c)
        visit(c)
      }
    }
    visit(span)
    return out
  }

  /** Does `span` match `query`? */
  matches(span: CapturedSpan, query: SpanQuery): boolean {
    if (query.name !== undefined && span.name !== query.name) return false
    if (query.nameContains !== undefined && !span.name.includes(query.nameContains)) return false
    if (query.nameMatches !== undefined && !query.nameMatches.test(span.name)) return false
    if (query.status !== undefined && span.status !== query.status) return false
    if (query.attributes !== undefined) {
      for (const key in query.attributes) {
        if (!sameValue(span.attributes[key], query.attributes[key])) return false
      }
    }
    if (query.hasAttributes?.some((key) => !(key in span.attributes))) return false
    if (query.minDurationMs !== undefined && (span.durationMs ?? 0) < query.minDurationMs) {
      return false
    }
    if (
      query.maxDurationMs !== undefined &&
      (span.durationMs === undefined || span.durationMs > query.maxDurationMs)
    ) {
      return false
    }
    const ancestorQuery = query.descendantOf
    if (ancestorQuery !== undefined) {
      if (!this.ancestors(span).some((a) => this.matches(a, ancestorQuery))) return false
    }
    const descendantQuery = query.hasDescendant
    if (descendantQuery !== undefined) {
      if (!this.descendants(span).some((d) => this.matches(d, descendantQuery))) return false
    }
    return true
  }

  /** Every span matching `query`, in opening order. */
  findAll(query: SpanQuery): ReadonlyArray<CapturedSpan> {
    return this.spans.filter((s) => this.matches(s, query))
  }

  /** The first span matching `query`. */
  find(query: SpanQuery): CapturedSpan | undefined {
    return this.spans.find((s) => this.matches(s, query))
  }

  /** Does any span match `query`? */
  any(query: SpanQuery): boolean {
    return this.find(query) !== undefined
  }

  /** How many spans match `query`. */
  count(query: SpanQuery): number {
    return this.findAll(query).length
  }

  /** The names of the tools called (one entry per `execute_tool` span), in call order. */
  get toolCalls(): ReadonlyArray<string> {
    return this.spans.flatMap((s) =>
      s.attributes["gen_ai.operation.name"] === "execute_tool" &&
      typeof s.attributes["gen_ai.tool.name"] === "string"
        ? [s.attributes["gen_ai.tool.name"]]
        : []
    )
  }
}

/**
 * Runs `effect` with a span recorder installed (around the current tracer, which still gets
 * every span) and returns its exit together with the spans it opened. Never fails: the
 * effect's outcome is in the exit (interruption propagates).
 */
export const capture = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [Exit.Exit<A, E>, SpanTree], never, R> =>
  Effect.flatMap(record(effect), ([exit, spans]) =>
    Effect.succeed([exit, new SpanTree(spans)] as const)
  )
