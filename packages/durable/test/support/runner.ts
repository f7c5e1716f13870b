/**
 * A runner process for the durable tests: the refund-desk agent (OpenAI Chat against the
 * test's loopback server), registered as a durable workflow on SQLite or PostgreSQL. Started
 * by the tests with `spawnRunner` (see `processes.ts`) and configured by the JSON in the
 * `DURABLE_RUNNER` environment variable:
 *
 *   { store: { kind: "sqlite", filename } | { kind: "pg", url, port },
 *     modelUrl, slowMs, start: [ids], await: [ids], exitWhenDone,
 *     subscribe?: [{ id, from? }] }
 *
 * Writes one JSON object per stdout line: `{ "ready": true }` once registered, then
 * `{ "result": … }` for each awaited run, and `{ "event": … }` for each event of a subscribed
 * run's stream (`durable.stream(id, { from })`, opened before the runs start).
 */
import { Agent, RunContext, Tool } from "@agentfx/core"
import { OpenAiChat, OpenAiClient } from "@agentfx/providers"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ShardId from "@effect/cluster/ShardId"
import { Sharding } from "@effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { DurableAgent, DurableRunner } from "../../src/index.js"

interface Config {
  readonly store:
    | { readonly kind: "sqlite"; readonly filename: string }
    | { readonly kind: "pg"; readonly url: string; readonly port: number }
  readonly modelUrl: string
  readonly slowMs: number
  readonly start: ReadonlyArray<string>
  readonly await: ReadonlyArray<string>
  readonly exitWhenDone: boolean
  readonly name?: string
  readonly clientOnly?: boolean
  /** Report the status of these runs (`{ status: { id, tag } }`) whenever it changes. */
  readonly watch?: ReadonlyArray<string>
  /** Stream these runs (from `from`) and print their events. */
  readonly subscribe?: ReadonlyArray<{ readonly id: string; readonly from?: number }>
  /** Resolve these deferred calls (by run id and tool call id) once ready. */
  readonly resolve?: ReadonlyArray<{
    readonly id: string
    readonly toolCallId: string
    readonly decision: "approve" | "deny"
    readonly message?: string
  }>
}

/** Shards of the cluster (fewer than the default 300: quicker to split in tests). */
const shardsPerGroup = 30

const config: Config = JSON.parse(process.env.DURABLE_RUNNER ?? "{}")

const emit = (value: unknown) =>
  Effect.sync(() => process.stdout.write(`${JSON.stringify(value)}\n`))

/** A side effect in the outside world (the test server counts them). */
const effect = (key: string) =>
  Effect.promise(() =>
    fetch(`${config.modelUrl}/effects/${key}?runner=${config.name ?? ""}`, { method: "POST" }).then(
      (r) => r.json()
    )
  )

const Order = Schema.Struct({ order: Schema.String })

const chargeBack = Tool.make("charge_back", {
  description: "Charges the order back to the card.",
  parameters: Order,
  handler: ({ order }) => Effect.as(effect(`charge_back/${order}`), `charged back ${order}`)
})

/** Writes to the ledger (which dedupes by key) under the call's idempotency key. */
const ledger = (value: string) =>
  Effect.flatMap(RunContext.RunContext, (ctx) =>
    Effect.promise(() =>
      fetch(`${config.modelUrl}/ledger/${encodeURIComponent(RunContext.idempotencyKey(ctx))}`, {
        method: "POST",
        body: value
      }).then((r) => r.json())
    )
  )

const writeReport = Tool.make("write_report", {
  description: "Files the refund report (slow), in the ledger under its idempotency key.",
  parameters: Order,
  handler: ({ order }) =>
    effect(`report_start/${order}`).pipe(
      Effect.zipRight(ledger(`report ${order}`)),
      Effect.zipRight(Effect.sleep(config.slowMs)),
      Effect.zipRight(effect(`report_done/${order}`)),
      Effect.as(`report filed for ${order}`)
    )
})

const issueRefund = Tool.make("issue_refund", {
  description: "Pays a refund back to the customer (needs a manager's approval).",
  parameters: Schema.Struct({ order: Schema.String, amount: Schema.Number }),
  requiresApproval: true,
  handler: ({ order, amount }) =>
    Effect.as(effect(`issue_refund/${order}`), `refunded ${amount} for ${order}`)
})

const model = OpenAiChat.model("gpt-4o").pipe(
  Layer.provide(
    OpenAiClient.layer({
      baseUrl: `${config.modelUrl}/v1`,
      apiKey: Redacted.make("sk-test"),
      retry: false
    })
  ),
  Layer.provide(NodeHttpClient.layerUndici)
)

const agent = Agent.make({ name: "refund-desk", tools: [chargeBack, writeReport, issueRefund] })
export const durable = DurableAgent.make(agent, {
  name: "refund-desk",
  output: Schema.String,
  // The manager is notified once per stop, with the tokens (the test server records it).
  onDeferred: (request) =>
    Effect.promise(() =>
      fetch(`${config.modelUrl}/effects/notify/${request.id}?runner=${config.name ?? ""}`, {
        method: "POST",
        body: JSON.stringify(request.calls)
      })
    ).pipe(Effect.asVoid)
})

/** Orders named `appr-…` ask for an approved refund; the others go through the report flow. */
const promptFor = (id: string) => (id.startsWith("appr-") ? `approve ${id}` : `refund ${id}`)

const store =
  config.store.kind === "sqlite"
    ? DurableRunner.layerSqlite({ filename: config.store.filename })
    : DurableRunner.layerPostgres({
        url: config.store.url,
        ...(config.clientOnly === true
          ? { clientOnly: true as const }
          : { runner: { host: "127.0.0.1", port: config.store.port } }),
        sharding: {
          shardsPerGroup,
          shardLockRefreshInterval: "2 seconds",
          shardLockExpiration: "10 seconds",
          refreshAssignmentsInterval: "500 millis",
          runnerHealthCheckInterval: "1 second"
        }
      })

/** Reports how many shards this runner owns whenever that changes (`{ shards: n }`). */
const reportShards = Effect.gen(function* () {
  const sharding = yield* Sharding
  let last = -1
  while (true) {
    let owned = 0
    for (let i = 1; i <= shardsPerGroup; i++) {
      if (sharding.hasShardId(ShardId.make("default", i))) owned++
    }
    if (owned !== last) {
      last = owned
      yield* emit({ shards: owned })
    }
    yield* Effect.sleep("100 millis")
  }
})

/** Reports the status of a run whenever it changes. */
const watch = (id: string) =>
  Effect.gen(function* () {
    const executionId = yield* durable.executionId(id)
    let last = ""
    while (true) {
      const status = yield* durable.poll(executionId)
      if (status._tag !== last) {
        last = status._tag
        yield* emit({ status: { id, tag: status._tag } })
      }
      yield* Effect.sleep("100 millis")
    }
  })

/** The fields of a part a UI shows. */
const partFields = (part: any) =>
  part._tag === "TextPart"
    ? { part: part._tag, content: part.content }
    : { part: part._tag, toolName: part.toolName, toolCallId: part.toolCallId, args: part.args }
// `args` as sent: a live part's start has the arguments so far (a JSON string), its end the whole

/** An event of a durable stream as a JSON line: its position and the fields a UI relies on. */
const describe = (event: DurableAgent.DurableStreamEvent<string>): Record<string, unknown> => {
  const position = DurableAgent.position(event)
  const e = event as any
  switch (event._tag) {
    case "PartStartEvent":
    case "PartEndEvent":
      return { position, tag: event._tag, index: e.index, ...partFields(e.part) }
    case "PartDeltaEvent":
      return {
        position,
        tag: event._tag,
        index: e.index,
        delta: e.delta._tag,
        text: e.delta._tag === "TextPartDelta" ? e.delta.contentDelta : e.delta.argsDelta
      }
    case "FinalResultEvent":
      return { position, tag: event._tag, toolName: e.toolName, toolCallId: e.toolCallId }
    case "FunctionToolCallEvent":
      return { position, tag: event._tag, ...partFields(e.part) }
    case "FunctionToolResultEvent":
      return {
        position,
        tag: event._tag,
        result: e.result._tag,
        toolName: e.result.toolName,
        toolCallId: e.result.toolCallId,
        content: e.result.content
      }
    case "DurableRunResultEvent":
      return {
        position,
        tag: event._tag,
        output: e.result.output,
        executionId: e.result.executionId,
        requests: e.result.usage.requests,
        messages: e.result.allMessages().length
      }
    default:
      return { position, tag: event._tag }
  }
}

/** Prints the events of a run's stream (from `from`), then `{ streamEnd }`. */
const subscribe = (id: string, from: number | undefined) =>
  durable.stream(id, from === undefined ? undefined : { from }).pipe(
    Stream.runForEach((event) => emit({ event: { id, from: from ?? 0, ...describe(event) } })),
    Effect.matchCauseEffect({
      onFailure: (cause) => emit({ streamEnd: { id, from: from ?? 0, error: String(cause) } }),
      onSuccess: () => emit({ streamEnd: { id, from: from ?? 0 } })
    })
  )

const main = Effect.gen(function* () {
  yield* emit({ ready: true, pid: process.pid })
  const streams = yield* Effect.forEach(config.subscribe ?? [], (s) =>
    Effect.fork(subscribe(s.id, s.from))
  )
  if (config.clientOnly !== true) yield* Effect.fork(reportShards)
  yield* Effect.forEach(config.start, (id) => durable.start({ id, prompt: promptFor(id) }), {
    concurrency: "unbounded",
    discard: true
  })
  yield* emit({ started: config.start.length })
  for (const id of config.watch ?? []) yield* Effect.fork(watch(id))
  for (const r of config.resolve ?? []) {
    const token = yield* durable.token(r.id, r.toolCallId)
    yield* r.decision === "approve"
      ? DurableAgent.approve(token)
      : DurableAgent.deny(token, r.message)
  }
  yield* Effect.forEach(
    config.await,
    (id) =>
      durable.run({ id, prompt: promptFor(id) }).pipe(
        Effect.flatMap((result) =>
          emit({
            result: {
              id,
              executionId: result.executionId,
              output: result.output,
              requests: result.usage.requests,
              toolCalls: result.usage.toolCalls,
              messages: result.allMessages().length
            }
          })
        )
      ),
    { concurrency: "unbounded", discard: true }
  )
  // Exits once the streams have printed their runs' ends too.
  yield* Fiber.joinAll(streams)
  if (!config.exitWhenDone) yield* Effect.never
})

main.pipe(
  Effect.provide(
    config.clientOnly === true
      ? store
      : durable.layer.pipe(Layer.provideMerge(store), Layer.provide(model))
  ),
  Effect.provide(
    Logger.minimumLogLevel(process.env.DURABLE_DEBUG === "1" ? LogLevel.Debug : LogLevel.Info)
  ),
  NodeRuntime.runMain
)
