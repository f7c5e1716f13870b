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

const runBatches = (n: number, batches: number, connections?: number) =>
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
        String(batches),
        ...(connections === undefined ? [] : [String(connections)])
      ],
      { timeout: 280_000 },
      (error, stdout, stderr) => {
        if (error !== null) return resume(Effect.fail(new Error(`${error.message}\n${stderr}`)))
        resume(Effect.succeed(JSON.parse(stdout.trim().split("\n").at(-1)!) as Report))
      }
    )
    return Effect.sync(() => {
      child.kill()
    })
  })

describe("memory", () => {
  it.live(
    "batches of concurrent runs do not grow the heap (the growth over the first batch is bounded)",
    () =>
      Effect.gen(function* () {
        const n = 500
        const batches = 10
        const report = yield* runBatches(n, batches)
        assert.strictEqual(report.failed, 0, JSON.stringify(report.reasons))
        assert.strictEqual(report.served, n * batches)
        // Measured over 24 batches of 500: 28.6 MB before any run, 34.1 MB after the first batch
        // (code warmed, connection pool filled), then a rise of ≈ 1.5 MB over the next eight
        // batches (V8 warming up further) and a plateau at 35–37 MB: bounded. A leak of 1 KB per
        // run would add 0.5 MB per batch, 4.5 MB over the nine batches after the first.
        const growth = Math.max(...report.after.slice(1)) - report.after[0]!
        assert.isBelow(growth, n * (batches - 1) * 1024, JSON.stringify(report))
      }),
    { timeout: 240_000 }
  )

  it.live(
    "10,000 concurrent runs all succeed, and a second and third batch do not grow the heap",
    () =>
      Effect.gen(function* () {
        const n = 10_000
        const batches = 3
        // Sockets capped at 1,000 (see heapBatches.ts): the 10,000 runs are all in flight at
        // once, queued on the pool as a production server's would be.
        const report = yield* runBatches(n, batches, 1_000)
        assert.strictEqual(report.failed, 0, JSON.stringify(report.reasons))
        assert.strictEqual(report.served, n * batches)
        // Measured: 29 MB before any run, 57.5 MB after the first batch (code warm-up and
        // pooled sockets), then +0.4 MB over the next two. A leak of 1 KB per run would add
        // 10 MB per batch, 20 MB over the two batches after the first.
        const growth = Math.max(...report.after.slice(1)) - report.after[0]!
        assert.isBelow(growth, n * (batches - 1) * 1024, JSON.stringify(report))
      }),
    { timeout: 300_000 }
  )
})
