/**
 * (b) Runs waiting for a manager's approval survive a restart of the runner: the process is
 * killed while they wait; a new runner resumes them when the calls are approved or denied
 * by token, the approved refund is paid once, and the denial reaches the model.
 */
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { eventually, spawnRunner, tempDir } from "./support/processes.js"
import * as RefundServer from "./support/refundServer.js"

describe("durable approval across a restart (SQLite)", () => {
  it.scopedLive(
    "waiting runs resume when approved or denied after the runner was restarted",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const server = yield* RefundServer.scoped
        const store = { kind: "sqlite", filename: path.join(dir, "runs.db") }
        const base = { store, modelUrl: server.url, slowMs: 10 }

        const first = yield* spawnRunner({
          ...base,
          name: "first",
          start: ["appr-1", "appr-2"],
          watch: ["appr-1", "appr-2"],
          await: [],
          exitWhenDone: false
        })
        // Both runs asked for approval and wait: the manager was notified, nothing was paid.
        const waiting = (id: string) =>
          first.lines.some((l) => l.status?.id === id && l.status.tag === "Waiting")
        yield* eventually(
          () => (waiting("appr-1") && waiting("appr-2")) || undefined,
          "both runs to wait for approval",
          60_000,
          [first]
        )
        assert.strictEqual(server.count("notify/appr-1"), 1)
        assert.strictEqual(server.count("notify/appr-2"), 1)
        yield* first.crash
        assert.strictEqual(server.count("issue_refund/appr-1"), 0)
        assert.strictEqual(server.requestCount("appr-1", 1), 0)

        // A new runner: the manager approves one refund and denies the other.
        const second = yield* spawnRunner({
          ...base,
          name: "second",
          start: [],
          resolve: [
            { id: "appr-1", toolCallId: "call_appr-1_0", decision: "approve" },
            {
              id: "appr-2",
              toolCallId: "call_appr-2_0",
              decision: "deny",
              message: "Over the refund limit."
            }
          ],
          await: ["appr-1", "appr-2"],
          exitWhenDone: true
        })
        yield* eventually(
          () => second.lines.filter((l) => l.result !== undefined).length === 2 || undefined,
          "both results",
          90_000,
          [second]
        )
        assert.strictEqual(yield* second.exited, 0)
        const result = (id: string) => {
          const { executionId, ...rest } =
            second.lines.find((l) => l.result?.id === id)?.result ?? {}
          assert.isString(executionId)
          return rest
        }
        assert.deepStrictEqual(result("appr-1"), {
          id: "appr-1",
          output: "refund appr-1: refunded 120 for appr-1",
          requests: 2,
          toolCalls: 1,
          // prompt, call, (approved) return, answer
          messages: 4
        })
        assert.deepStrictEqual(result("appr-2"), {
          id: "appr-2",
          output: "refund appr-2: Over the refund limit.",
          requests: 2,
          toolCalls: 0,
          messages: 4
        })
        for (const id of ["appr-1", "appr-2"]) {
          assert.deepStrictEqual(
            [server.requestCount(id, 0), server.requestCount(id, 1)],
            [1, 1],
            id
          )
          // Notified once: the restart replayed the notification from storage.
          assert.strictEqual(server.count(`notify/${id}`), 1, id)
        }
        assert.strictEqual(server.count("issue_refund/appr-1"), 1)
        assert.strictEqual(server.count("issue_refund/appr-2"), 0)
      }),
    120_000
  )
})
