/**
 * Progress of an evaluation on stderr: one line rewritten in place on a TTY
 * (`evaluating bank-support: 3/10 (1 failed)`), nothing at all otherwise, so logs and CI output
 * stay clean.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

interface Stream {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

const stderr = (): Stream | undefined =>
  (globalThis as { process?: { stderr?: Stream } }).process?.stderr

/** The progress display of one evaluation. */
export interface Progress {
  /** A case finished (`ok`: its task succeeded). */
  readonly done: (caseName: string, ok: boolean) => Effect.Effect<void>
  /** Clears the line. */
  readonly finish: Effect.Effect<void>
}

const silent: Progress = { done: () => Effect.void, finish: Effect.void }

/** A progress display, or a silent one (`"auto"`: only when stderr is a TTY). */
export const makeProgress = (name: string, total: number, mode: boolean | "auto"): Progress => {
  const out = stderr()
  const on = mode === "auto" ? out?.isTTY === true : mode
  if (!on || out === undefined) return silent
  let finished = 0
  let failed = 0
  let shown = false
  const show = (last: string) => {
    const text = `evaluating ${name}: ${finished}/${total}${failed > 0 ? ` (${failed} failed)` : ""} — ${last}`
    const width = out.columns ?? 100
    out.write(`\r${text.slice(0, Math.max(10, width - 1))}\x1b[K`)
    shown = true
  }
  return {
    done: (caseName, ok) =>
      Effect.sync(() => {
        finished++
        if (!ok) failed++
        show(caseName)
      }),
    finish: Effect.sync(() => {
      if (shown) out.write("\r\x1b[K")
    })
  }
}
