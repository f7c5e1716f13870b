/**
 * A tracer that records every span opened under it, delegating to the tracer it wraps so an
 * installed exporter still receives them. One recorder per case attempt: the tracer lives in
 * the fiber's default services, inherited by the fibers the task forks and by no other.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { CapturedSpan, SpanEvent } from "../SpanTree.js"

const toMs = (nanos: bigint): number => Number(nanos / BigInt(1000)) / 1000

/** A JSON-safe copy of an attribute value. */
export const jsonSafe = (value: unknown): unknown => {
  if (typeof value === "bigint") return value.toString()
  if (typeof value === "function" || typeof value === "symbol") return undefined
  if (value === null || typeof value !== "object") return value
  try {
    return JSON.parse(
      JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
    ) as unknown
  } catch {
    return String(value)
  }
}

const safeRecord = (record: ReadonlyMap<string, unknown> | Record<string, unknown>) => {
  const out: Record<string, unknown> = {}
  const entries = record instanceof Map ? record.entries() : Object.entries(record)
  for (const [k, v] of entries) {
    const safe = jsonSafe(v)
    if (safe !== undefined) out[k] = safe
  }
  return out
}

/** A span that forwards to the wrapped tracer's span and remembers what happened to it. */
class RecordingSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly events: Array<[string, bigint, Record<string, unknown>]> = []
  constructor(
    readonly inner: Tracer.Span,
    readonly startTime: bigint
  ) {}
  get name() {
    return this.inner.name
  }
  get spanId() {
    return this.inner.spanId
  }
  get traceId() {
    return this.inner.traceId
  }
  get parent(): Option.Option<Tracer.AnySpan> {
    return this.inner.parent
  }
  get context() {
    return this.inner.context
  }
  get status() {
    return this.inner.status
  }
  get attributes() {
    return this.inner.attributes
  }
  get links() {
    return this.inner.links
  }
  get sampled() {
    return this.inner.sampled
  }
  get kind() {
    return this.inner.kind
  }
  ended: { readonly endTime: bigint; readonly ok: boolean } | undefined = undefined
  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.ended = { endTime, ok: Exit.isSuccess(exit) }
    this.inner.end(endTime, exit)
  }
  attribute(key: string, value: unknown): void {
    this.inner.attribute(key, value)
  }
  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.events.push([name, startTime, attributes ?? {}])
    this.inner.event(name, startTime, attributes)
  }
  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.inner.addLinks(links)
  }

  snapshot(): CapturedSpan {
    const parent = this.parent
    // Valid by construction: `true` skips the constructors' Schema validation, which was most
    // of what capturing cost per span.
    return new CapturedSpan(
      {
        name: this.name,
        spanId: this.spanId,
        traceId: this.traceId,
        ...(parent._tag === "Some" ? { parentSpanId: parent.value.spanId } : {}),
        startTimeMs: toMs(this.startTime),
        ...(this.ended !== undefined
          ? { durationMs: toMs(this.ended.endTime - this.startTime) }
          : {}),
        status: this.ended === undefined ? "running" : this.ended.ok ? "ok" : "error",
        attributes: safeRecord(this.attributes),
        events: this.events.map(
          ([name, time, attributes]) =>
            new SpanEvent({ name, timeMs: toMs(time), attributes: safeRecord(attributes) }, true)
        )
      },
      true
    )
  }
}

/** Runs `effect` under a recording tracer; returns its exit and the spans it opened. */
export const record = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [Exit.Exit<A, E>, ReadonlyArray<CapturedSpan>], never, R> =>
  Effect.flatMap(Effect.tracer, (outer) => {
    const recorded: Array<RecordingSpan> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = new RecordingSpan(
          outer.span(name, parent, context, links, startTime, kind, options),
          startTime
        )
        recorded.push(span)
        return span
      },
      context: (f, fiber) => outer.context(f, fiber)
    })
    return Effect.map(
      Effect.exit(Effect.withTracer(effect, tracer)),
      (exit) => [exit, recorded.map((s) => s.snapshot())] as const
    )
  })
