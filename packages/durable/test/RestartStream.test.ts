/**
 * Streaming a durable run across a restart (SQLite, one runner at a time): a subscriber on the
 * first runner gets the run's events until the runner is killed (during a slow tool); on the
 * restarted runner, which resumes the run, a subscriber gets every event of the run (replayed
 * from storage, then executed), and a subscriber that goes on from where the first one
 * stopped (`from`) gets exactly the rest — each event once, every field as a UI needs it.
 */
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { eventually, type Runner, spawnRunner, tempDir } from "./support/processes.js"
import { assertRunEvents } from "./support/refundEvents.js"
import * as RefundServer from "./support/refundServer.js"

/** The events one subscription of a runner printed, once its stream ended. */
const eventsOf = (runner: Runner, id: string, from: number) =>
  runner.lines
    .filter((l) => l.event !== undefined && l.event.id === id && l.event.from === from)
    .map((l) => l.event)

const ended = (runner: Runner, id: string, from: number) =>
  runner.waitForLine(
    (l) => l.streamEnd !== undefined && l.streamEnd.id === id && l.streamEnd.from === from,
    `the stream of ${id} from ${from} to end`
  )

describe("a durable run's stream across a restart (SQLite)", () => {
  it.scopedLive(
    "the restarted runner's subscribers get the replayed and the new events, each once",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const server = yield* RefundServer.scoped
        const store = { kind: "sqlite", filename: path.join(dir, "runs.db") }
        const id = "order-s1"

        // 1st runner: streams the run it starts; killed while `write_report` sleeps.
        const first = yield* spawnRunner({
          store,
          modelUrl: server.url,
          slowMs: 600_000,
          subscribe: [{ id }],
          start: [id],
          await: [],
          exitWhenDone: false
        })
        yield* eventually(
          () => server.ledger.size === 1 || undefined,
          "write_report to write its ledger entry",
          60_000,
          [first]
        )
        // The call of write_report (position 6) is told before the tool runs.
        yield* eventually(
          () => first.lines.some((l) => l.event?.position === 6) || undefined,
          "the first subscriber to get the call of write_report",
          30_000,
          [first]
        )
        yield* first.crash
        const before = eventsOf(first, id, 0)
        assert.deepStrictEqual(
          before.filter((e) => e.position !== undefined).map((e) => e.position),
          [0, 1, 2, 3, 4, 5, 6]
        )
        assert.strictEqual(before.at(-1)?.tag, "FunctionToolCallEvent")
        assert.strictEqual(before.at(-1)?.toolName, "write_report")

        // 2nd runner on the same file resumes the run; two subscribers there: one from the
        // start, one going on after the last event the first subscriber got.
        // (The report takes 3 s here: the run must still be going when they subscribe — a run
        // that ended gives a new subscriber its result only.)
        const second = yield* spawnRunner({
          store,
          modelUrl: server.url,
          slowMs: 3_000,
          subscribe: [{ id }, { id, from: 7 }],
          start: [],
          await: [id],
          exitWhenDone: false
        })
        yield* ended(second, id, 0)
        yield* ended(second, id, 7)
        const all = eventsOf(second, id, 0)
        const rest = eventsOf(second, id, 7)
        // The answer after the restart streamed live to them: its deltas are there.
        assert.strictEqual(assertRunEvents(all, id, 0), 1)
        assert.strictEqual(assertRunEvents(rest, id, 7), 1)
        // The stream from 7 is the stream from 0 without its first seven events.
        assert.deepStrictEqual(
          rest.map((e) => ({ ...e, from: 0 })),
          all.filter((e) => e.position === undefined || e.position >= 7)
        )
        // Each subscription ended with the run (no error), and the run's result is the same.
        const streamEnds = second.lines.filter((l) => l.streamEnd !== undefined)
        assert.deepStrictEqual(
          streamEnds.map((l) => l.streamEnd).sort((a, b) => a.from - b.from),
          [
            { id, from: 0 },
            { id, from: 7 }
          ]
        )
        const result = (yield* second.waitForLine((l) => l.result !== undefined, "the result"))
          .result
        assert.strictEqual(result.output, `done ${id}: report filed for ${id}`)
        assert.strictEqual(all.at(-1)?.executionId, result.executionId)
        // The model saw each request once: the events after the restart come from the replay.
        assert.deepStrictEqual(
          [0, 1, 2].map((stage) => server.requestCount(id, stage)),
          [1, 1, 1]
        )
      }),
    120_000
  )
})
