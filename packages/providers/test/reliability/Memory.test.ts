/**
 * Heap across batches of concurrent agent runs (OpenAI Chat over undici against a loopback
 * server), measured in a child process with `--expose-gc` (`heapBatches.ts`): after the first
 * batch has filled the connection pool and warmed the code, later batches must not grow the
 * heap. A leak of even 1 KB per run would add `N` KB per batch.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"

const script = fileURLToPath(new URL("./heapBatches.ts", import.meta.url))

interface Report {
  readonly n: number
  readonly served: number
  readonly failed: number
  readonly reasons: Record<string, number>
  readonly baseline: number
  readonly after: ReadonlyArray<number>
}

const runBatches = (n: number, batches: number) =>
  Effect.async<Report, Error>((resume) => {
    const child = execFile(
      process.execPath,
      [
        "--expose-gc",
        "--conditions=@agentfx/source",
        "--import",
        "tsx",
        script,
        String(n),
        String(batches)
      ],
      { timeout: 170_000 },
      (error, stdout, stderr) => {
        if (error !== null) return resume(Effect.fail(new Error(`${error.message}\n${stderr}`)))
        resume(Effect.succeed(JSON.parse(stdout.trim().split("\n").at(-1)!) as Report))
      }
    )
    return Effect.sync(() => {
      child.kill()
    })
  })

/** Least-squares slope of `ys` over their indices. */
const slope = (ys: ReadonlyArray<number>): number => {
  const n = ys.length
  const mx = (n - 1) / 2
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  })
  return num / den
}

describe("memory", () => {
  it.live(
    "batches of concurrent runs do not grow the heap (the growth over the first batch is bounded)",
    () =>
      Effect.gen(function* () {
        const n = 500
        const batches = 8
        const report = yield* runBatches(n, batches)
        assert.strictEqual(report.failed, 0, JSON.stringify(report.reasons))
        assert.strictEqual(report.served, n * batches)
        // From the second batch on (the first warms the code and fills the connection pool)
        // the heap after a full GC stays level: measured ≈ +0.1 MB per batch of 500 (noise),
        // where a leak of 1 KB per run would add 0.5 MB per batch.
        const perBatch = slope(report.after.slice(1))
        assert.isBelow(perBatch, n * 600, JSON.stringify(report))
      }),
    { timeout: 180_000 }
  )
})
