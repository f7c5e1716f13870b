/** A tracer for tests that keeps every span it opens (on top of the current tracer). */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/** `{ spans, tracer }`: install `tracer` with `Effect.withTracer`; `spans` fills as spans open. */
export const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: (f, fiber) => base.context(f, fiber)
  })
  return { spans, tracer }
})
