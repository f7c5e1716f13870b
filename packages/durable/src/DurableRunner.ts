/**
 * Runners for durable agents: the `WorkflowEngine` of `@effect/cluster` over a SQL store.
 *
 * - `layerSqlite` — embedded, zero set-up: one runner in this process (`SingleRunner`),
 *   everything persisted in one SQLite file. Restart the process and its unfinished runs go on.
 * - `layerSocket` / `layerPostgres` — scale-out: several runner processes share one database
 *   (PostgreSQL); runs are spread over the runners by shard, and when a runner dies the others
 *   take its shards over and resume its runs.
 *
 * @example
 * ```ts
 * import { DurableRunner } from "@agentfx/durable"
 *
 * // one process, one file
 * const Embedded = DurableRunner.layerSqlite({ filename: "runs.db" })
 *
 * // one of several runners sharing PostgreSQL, reachable by the others at host:port
 * const Clustered = DurableRunner.layerPostgres({
 *   url: "postgres://agentfx@127.0.0.1:5432/agentfx",
 *   runner: { host: "10.0.0.5", port: 34431 }
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import { RunnerAddress } from "@effect/cluster/RunnerAddress"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import type { Sharding } from "@effect/cluster/Sharding"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type { ConfigError } from "effect/ConfigError"
import type { SqlError } from "@effect/sql/SqlError"
import type { SocketServerError } from "@effect/platform/SocketServer"

/**
 * The layers provide the `WorkflowEngine` durable agents run on and `@effect/cluster`'s
 * `Sharding` (to register your own entities next to the agents, or to inspect shards).
 */

/** Tuning of the cluster (`@effect/cluster`'s `ShardingConfig`); defaults are theirs. */
export type ShardingOptions = Partial<ShardingConfig.ShardingConfig["Type"]>

/** Why a runner could not start: its configuration, its database, or its socket server. */
export type RunnerError = ConfigError | SqlError | SocketServerError

/**
 * How often a runner polls the database for work it was not told about directly (runs
 * resumed from storage, messages for its shards sent by other processes). `@effect/cluster`'s
 * default is 10 seconds; one second makes a restarted or taking-over runner pick runs up
 * quickly at the cost of one small query per second.
 */
const defaultPollInterval = "1 second"

/**
 * The embedded runner: `SingleRunner` over SQLite in `filename` (`":memory:"` for tests). One
 * process owns the file; restarting it resumes the runs it had not finished.
 */
export const layerSqlite = (options: {
  readonly filename: string
  readonly sharding?: ShardingOptions
}): Layer.Layer<WorkflowEngine | Sharding, RunnerError> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      SingleRunner.layer({
        runnerStorage: "memory",
        shardingConfig: {
          entityMessagePollInterval: defaultPollInterval,
          ...options.sharding
        }
      })
    ),
    Layer.provide(SqliteClient.layer({ filename: options.filename }))
  )

/** Where a runner of a cluster listens and how the other runners reach it. */
export interface RunnerOptions {
  /** The host other runners connect to. */
  readonly host: string
  readonly port: number
  /** The address to listen on (default: `host`). */
  readonly listenHost?: string
}

/** Options of `layerSocket` / `layerPostgres`. */
export type SocketOptions =
  | {
      /** This process executes runs: it listens on `runner.port` and owns shards. */
      readonly runner: RunnerOptions
      readonly clientOnly?: false
      readonly sharding?: ShardingOptions
    }
  | {
      /**
       * This process only starts, awaits, polls and resolves runs (an API server, a CLI): it
       * owns no shards and executes nothing; register no workflows on it.
       */
      readonly clientOnly: true
      readonly sharding?: ShardingOptions
    }

/**
 * A process of a cluster sharing the database in the provided `SqlClient`. A runner listens on
 * `runner.port` (the other runners reach it at `runner.host`), takes a share of the shards,
 * and takes over the shards of runners that stop answering.
 */
export const layerSocket = (
  options: SocketOptions
): Layer.Layer<WorkflowEngine | Sharding, RunnerError, SqlClient.SqlClient> => {
  const runner = options.clientOnly === true ? undefined : options.runner
  return ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({
        storage: "sql",
        clientOnly: runner === undefined,
        shardingConfig: {
          runnerAddress:
            runner === undefined
              ? Option.none()
              : Option.some(RunnerAddress.make({ host: runner.host, port: runner.port })),
          runnerListenAddress:
            runner === undefined
              ? Option.none()
              : Option.some(
                  RunnerAddress.make({ host: runner.listenHost ?? runner.host, port: runner.port })
                ),
          entityMessagePollInterval: defaultPollInterval,
          ...options.sharding
        }
      })
    )
  )
}

/** `layerSocket` over PostgreSQL at `url` (`@effect/sql-pg`). */
export const layerPostgres = (
  options: SocketOptions & {
    readonly url: string | Redacted.Redacted
    readonly maxConnections?: number
  }
): Layer.Layer<WorkflowEngine | Sharding, RunnerError> =>
  layerSocket(options).pipe(
    Layer.provide(
      PgClient.layer({
        url: Redacted.isRedacted(options.url) ? options.url : Redacted.make(options.url),
        ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {})
      })
    )
  )
