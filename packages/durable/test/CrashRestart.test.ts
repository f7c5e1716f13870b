/**
 * (a) A runner process killed in the middle of a run (after the first model request, during a
 * slow tool): a restarted runner finishes the run; the model server saw each request exactly
 * once and each tool side effect happened once. The tool killed in the middle of its call runs
 * again, with the same idempotency key: its keyed side effect is recorded once.
 */
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { eventually, spawnRunner, tempDir } from "./support/processes.js"
import * as RefundServer from "./support/refundServer.js"

describe("durable run across a crash (SQLite, one runner at a time)", () => {
  it.scopedLive(
    "a killed runner's run is finished by the next runner, no step repeated, keyed effects once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const server = yield* RefundServer.scoped
        const store = { kind: "sqlite", filename: path.join(dir, "runs.db") }

        // 1st runner: starts the run, is killed while `write_report` sleeps.
        const first = yield* spawnRunner({
          store,
          modelUrl: server.url,
          slowMs: 600_000,
          start: ["order-1"],
          await: [],
          exitWhenDone: false
        })
        yield* first.waitForLine((l) => l.started === 1, "the run to start")
        yield* eventually(
          () => server.ledger.size === 1 || undefined,
          "write_report to write its ledger entry",
          60_000,
          [first]
        )
        yield* first.crash
        assert.strictEqual(server.requestCount("order-1", 0), 1)
        assert.strictEqual(server.requestCount("order-1", 1), 1)
        assert.strictEqual(server.requestCount("order-1", 2), 0)
        assert.strictEqual(server.count("charge_back/order-1"), 1)
        assert.strictEqual(server.count("report_done/order-1"), 0)

        // 2nd runner on the same file: resumes the run by itself; `run` with the same id joins it.
        const second = yield* spawnRunner({
          store,
          modelUrl: server.url,
          slowMs: 50,
          start: [],
          await: ["order-1"],
          exitWhenDone: true
        })
        const done = yield* second.waitForLine((l) => l.result !== undefined, "the run's result")
        const { executionId } = done.result
        assert.deepStrictEqual(done.result, {
          id: "order-1",
          executionId,
          output: "done order-1: report filed for order-1",
          requests: 3,
          toolCalls: 2,
          // user prompt, call, return, call, return, answer
          messages: 6
        })
        assert.strictEqual(yield* second.exited, 0)

        // Every model request once; the charge-back once; the report written once (its first
        // attempt was killed before it wrote, the retry after the restart wrote it).
        assert.deepStrictEqual(
          [0, 1, 2].map((stage) => server.requestCount("order-1", stage)),
          [1, 1, 1]
        )
        assert.strictEqual(server.count("charge_back/order-1"), 1)
        assert.strictEqual(server.count("report_start/order-1"), 2)
        assert.strictEqual(server.count("report_done/order-1"), 1)
        // The killed call ran again (at least once) with the same idempotency key, so the
        // ledger, which dedupes by key, recorded the report once: effectively once.
        assert.deepStrictEqual(
          [...server.ledger],
          [[`${executionId}/call_order-1_1`, { value: "report order-1", attempts: 2 }]]
        )
        // The model saw the report's result, not a re-run of the charge-back.
        assert.strictEqual(server.requests.at(-1)?.lastToolResult, "report filed for order-1")
      }),
    120_000
  )
})
