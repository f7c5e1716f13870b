/**
 * A tracer for tests that records every span: its name, kind, attributes, parent name and how
 * it ended.
 */
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

/** One recorded span. */
export interface Recorded {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly attributes: Map<string, unknown>
  readonly parent: string | undefined
  ended: boolean
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** A tracer that records every span, its attributes and how it ended. */
export const recordingTracer = () => {
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const recorded: Recorded = {
        name,
        kind,
        attributes: new Map(),
        parent: parent._tag === "Some" ? (parent.value as Tracer.Span).name : undefined,
        ended: false,
        exit: undefined
      }
      spans.push(recorded)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: `s${spans.length}`,
        traceId: "t",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => {
          recorded.ended = true
          recorded.exit = exit
        },
        attribute: (k, v) => {
          recorded.attributes.set(k, v)
        },
        event: () => {},
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer, chats: () => spans.filter((s) => s.name.startsWith("chat ")) }
}
