/**
 * sql-gen — an output validator that checks generated SQL against a real database.
 *
 * The agent turns a question into a Postgres query. Its output is one of two Schemas (a union
 * of output tools): `Success` (a query and an explanation) or `InvalidRequest`. A validator runs
 * `EXPLAIN <query>` in an embedded Postgres (PGlite, WASM, in process); a database error goes
 * back to the model as a `ModelRetry`, so it can fix the query. The scripted model's first
 * query names a column that does not exist, so the retry path runs visibly.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/sql-gen.ts ["your question"]
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples sql-gen
 */
import { Agent, FunctionModel } from "@agentfx/core"
import { Output, ToolOutput } from "@agentfx/output"
import { PGlite } from "@electric-sql/pglite"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// -- the database --------------------------------------------------------------------------

const DDL = `
CREATE TABLE records (
  created_at timestamptz NOT NULL DEFAULT now(),
  start_timestamp timestamptz NOT NULL,
  level text NOT NULL CHECK (level IN ('debug', 'info', 'warning', 'error')),
  message text NOT NULL,
  attributes jsonb,
  tags text[]
);`

const SEED = `
INSERT INTO records (start_timestamp, level, message, attributes, tags) VALUES
  (now() - interval '1 day', 'error', 'payment failed', '{"order": 17}', '{payments}'),
  (now() - interval '1 day', 'info', 'user signed in', '{"user": "ada"}', '{auth}'),
  (now() - interval '1 day', 'error', 'timeout calling inventory', '{"ms": 30000}', '{inventory}'),
  (now() - interval '3 days', 'error', 'disk almost full', NULL, '{ops}'),
  (now(), 'warning', 'slow query', '{"ms": 1200}', '{db}');`

/** A database error, as text the model can act on. */
export class SqlError extends Schema.TaggedError<SqlError>()("SqlError", {
  message: Schema.String
}) {}

/** The database the queries run against. */
export class Db extends Context.Tag("examples/Db")<
  Db,
  {
    readonly explain: (sql: string) => Effect.Effect<void, SqlError>
    readonly query: (sql: string) => Effect.Effect<ReadonlyArray<Record<string, unknown>>, SqlError>
  }
>() {
  /** An in-memory Postgres with the `records` table and a few rows; closed with the scope. */
  static readonly layerPGlite = Layer.scoped(
    Db,
    Effect.gen(function* () {
      const pg = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const pg = new PGlite()
          await pg.exec(DDL + SEED)
          return pg
        }),
        (pg) => Effect.promise(() => pg.close())
      )
      const query = (sql: string) =>
        Effect.tryPromise({
          try: () => pg.query<Record<string, unknown>>(sql),
          catch: (e) => new SqlError({ message: e instanceof Error ? e.message : String(e) })
        })
      return {
        explain: (sql) => Effect.asVoid(query(`EXPLAIN ${sql}`)),
        query: (sql) => Effect.map(query(sql), (r) => r.rows)
      }
    })
  )
}

// -- the agent -----------------------------------------------------------------------------

export class Success extends Schema.Class<Success>("Success")({
  sql_query: Schema.String.annotations({ description: "A Postgres SELECT query" }),
  explanation: Schema.String.annotations({ description: "Explanation of the query, as markdown" })
}) {}

export class InvalidRequest extends Schema.Class<InvalidRequest>("InvalidRequest")({
  error_message: Schema.String
}) {}

/** Checks the query in the database; errors become a retry prompt for the model. */
const validateQuery = (output: Success) =>
  Effect.gen(function* () {
    const sql = output.sql_query.trim().replace(/;\s*$/, "")
    if (!/^select\b/i.test(sql)) return yield* Output.retry("Please create a SELECT query.")
    const db = yield* Db
    yield* db
      .explain(sql)
      .pipe(Effect.catchTag("SqlError", (e) => Output.retry(`Invalid query: ${e.message}`)))
    return new Success({ sql_query: sql, explanation: output.explanation })
  })

/** `Agent<Success | InvalidRequest, never, Db | Model>` */
export const sqlAgent = Agent.make({
  name: "sql-gen",
  instructions: [
    `Given the following PostgreSQL table of records, your job is to write a SQL query that suits the user's request.\n${DDL}`,
    Effect.sync(() => `Today's date is ${new Date().toISOString().slice(0, 10)}.`)
  ],
  output: Output.union([
    Output.withValidator(ToolOutput.make(Success), validateQuery),
    ToolOutput.make(InvalidRequest)
  ]),
  outputRetries: 2
})

// -- the scripted model ----------------------------------------------------------------------

const scripted = Scripted.make("sql-gen", (messages, info) => {
  const prompt = Scripted.lastPrompt(messages).toLowerCase()
  if (!prompt.includes("log") && !prompt.includes("record")) {
    return FunctionModel.toolCall(Scripted.outputTool(info, "InvalidRequest"), {
      error_message: "I can only answer questions about the records table."
    })
  }
  const level = /level '?(\w+)'?/.exec(prompt)?.[1] ?? "error"
  // first try: a plausible mistake (there is no "severity" column); after the retry prompt, fixed
  const column = Scripted.retryPrompts(messages).length === 0 ? "severity" : "level"
  return FunctionModel.toolCall(Scripted.outputTool(info, "Success"), {
    sql_query: `SELECT start_timestamp, level, message FROM records WHERE ${column} = '${level}' AND start_timestamp::date = CURRENT_DATE - INTERVAL '1 day' ORDER BY start_timestamp`,
    explanation: `Records of level \`${level}\` whose start date is yesterday.`
  })
})

// -- the program ---------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  const question = process.argv[2] ?? "show me logs from yesterday, with level 'error'"
  yield* Console.log(`question: ${question}`)
  const result = yield* sqlAgent.run(question).pipe(Effect.provide(model.layer))
  for (const m of result.allMessages()) {
    if (m._tag !== "ModelRequest") continue
    for (const p of m.parts) {
      if (p._tag === "RetryPromptPart") yield* Console.log(`validator → ModelRetry: ${p.content}`)
    }
  }
  const output = result.output
  if (output instanceof InvalidRequest) {
    yield* Console.log(`invalid request: ${output.error_message}`)
    return
  }
  yield* Console.log(`sql: ${output.sql_query}`)
  yield* Console.log(`explanation: ${output.explanation}`)
  const db = yield* Db
  const rows = yield* db.query(output.sql_query)
  yield* Console.log(`rows (${rows.length}):`)
  for (const row of rows) {
    yield* Console.log(
      `  ${(row.start_timestamp as Date).toISOString()}  ${row.level}  ${row.message}`
    )
  }
})

program.pipe(Effect.provide(Db.layerPGlite), NodeRuntime.runMain)
