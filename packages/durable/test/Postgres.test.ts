/**
 * (c) Two runner processes sharing PostgreSQL: runs are spread over both; one is killed while
 * it has runs in flight, and the other takes over its shards and finishes them — with every
 * model request and every completed tool side effect exactly once. A client-only process
 * streams every run: its streams go on with the events of the runner that took a run over,
 * each event once.
 */
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Postgres from "./support/postgres.js"
import { eventually, spawnRunner } from "./support/processes.js"
import { assertRunEvents } from "./support/refundEvents.js"
import * as RefundServer from "./support/refundServer.js"

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = net.createServer()
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo
        server.close(() => resolve(port))
      })
    })
)

if (!Postgres.available && process.env.CI === "true") {
  throw new Error("CI: PostgreSQL is not installed; .ci/run installs Debian's postgresql")
}
if (!Postgres.available) {
  console.warn(
    "durable Postgres tests skipped: PostgreSQL is not installed (apt-get install postgresql)"
  )
}

describe.runIf(Postgres.available)("two durable runners sharing PostgreSQL", () => {
  it.scopedLive(
    "a killed runner's in-flight runs are finished by the other runner",
    () =>
      Effect.gen(function* () {
        const pg = yield* Postgres.cluster
        const server = yield* RefundServer.scoped
        const orders = Array.from({ length: 10 }, (_, i) => `pg-${i}`)
        const runner = (name: string, port: number) =>
          spawnRunner({
            name,
            store: { kind: "pg", url: pg.url, port },
            modelUrl: server.url,
            slowMs: 5_000,
            start: [],
            await: [],
            exitWhenDone: false
          })
        const a = yield* runner("a", yield* freePort)
        yield* a.waitForLine((l) => l.ready === true, "runner a to be ready")
        const b = yield* runner("b", yield* freePort)
        // Both runners own shards (the 30 shards are split between them) before runs start, so
        // runs go to both and no shard moves while a tool runs (a move is not what is tested).
        const owned = (r: typeof a) =>
          r.lines.filter((l) => l.shards !== undefined).at(-1)?.shards ?? 0
        yield* eventually(
          () => (owned(a) > 0 && owned(b) > 0 && owned(a) + owned(b) === 30) || undefined,
          "the shards to be split between the runners"
        )
        // A client-only process (an API server, say) streams the runs, starts them and waits for
        // their results.
        const client = yield* spawnRunner({
          name: "client",
          store: { kind: "pg", url: pg.url, port: yield* freePort },
          modelUrl: server.url,
          slowMs: 5_000,
          start: [],
          await: orders,
          subscribe: orders.map((id) => ({ id })),
          exitWhenDone: true,
          clientOnly: true
        })

        // Every run is inside its slow `write_report`; which runner executes which run?
        yield* eventually(
          () => orders.every((o) => server.count(`report_start/${o}`) === 1) || undefined,
          "every run to reach write_report"
        )
        const on = (name: string) =>
          orders.filter((o) =>
            server.effectLog.some((e) => e.key === `report_start/${o}` && e.runner === name)
          )
        assert.isAbove(on("a").length, 0)
        assert.isAbove(on("b").length, 0)
        // a's runs whose report was started and not written when a dies: b must run them again.
        const done = (o: string) => server.count(`report_done/${o}`) > 0
        const taken = on("a").filter((o) => !done(o))
        assert.isAbove(taken.length, 0, "a has runs in flight when it is killed")
        yield* a.crash

        // b finishes all runs, its own and a's; the client gets every result.
        yield* eventually(
          () =>
            client.lines.filter((l) => l.result !== undefined).length === orders.length ||
            undefined,
          "the client to get every result",
          90_000
        )
        assert.strictEqual(yield* client.exited, 0)
        let takenOver = 0
        const results = client.lines.filter((l) => l.result !== undefined).map((l) => l.result)
        for (const order of orders) {
          const { executionId, ...result } = results.find((r) => r.id === order)
          assert.deepStrictEqual(result, {
            id: order,
            output: `done ${order}: report filed for ${order}`,
            requests: 3,
            toolCalls: 2,
            messages: 6
          })
          assert.deepStrictEqual(
            [0, 1, 2].map((stage) => server.requestCount(order, stage)),
            [1, 1, 1],
            `model requests of ${order}`
          )
          assert.strictEqual(server.count(`charge_back/${order}`), 1, `charge_back of ${order}`)
          // Each report written once. a's reports in flight when it died were started again
          // and written by b (unless a wrote one in the instant before the kill).
          const writers = server.effectLog
            .filter((e) => e.key === `report_done/${order}`)
            .map((e) => e.runner)
          assert.strictEqual(writers.length, 1, `report_done of ${order}`)
          const startedOnA = on("a").includes(order)
          const restarted = startedOnA && writers[0] === "b"
          assert.strictEqual(server.count(`report_start/${order}`), restarted ? 2 : 1, order)
          // The report's ledger entry (deduped by the call's idempotency key) once.
          const entry = server.ledger.get(`${executionId}/call_${order}_1`)
          assert.strictEqual(entry?.value, `report ${order}`, `ledger of ${order}`)
          assert.strictEqual(
            [...server.ledger.keys()].filter((k) => k.endsWith(`/call_${order}_1`)).length,
            1
          )
          if (restarted) takenOver++
          if (!startedOnA) assert.strictEqual(writers[0], "b", order)
        }
        // b took over at least one of a's runs in the middle of its tool call.
        assert.isAbove(takenOver, 0)

        // The client's stream of every run — those taken over included — told every event of
        // the run once, in order, with its fields, and ended with the result.
        let streamedDeltas = 0
        for (const order of orders) {
          const events = client.lines
            .filter((l) => l.event !== undefined && l.event.id === order)
            .map((l) => l.event)
          streamedDeltas += assertRunEvents(events, order, 0)
          assert.deepStrictEqual(
            client.lines.filter((l) => l.streamEnd?.id === order).map((l) => l.streamEnd),
            [{ id: order, from: 0 }]
          )
        }
        // The runners streamed the model's responses to the client (deltas went over the wire).
        assert.isAbove(streamedDeltas, 0)
      }),
    150_000
  )
})
