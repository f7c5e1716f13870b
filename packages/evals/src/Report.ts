/**
 * The result of `Dataset.evaluate`: per case the output, the evaluators' scores, assertions and
 * labels, the duration, usage and spans; the cases whose task failed, with their typed error.
 * Render it as a text table, save it as JSON (values encoded with the data set's schemas) and
 * compare two reports (baseline vs candidate) case by case.
 *
 * @example
 * ```ts
 * import { Dataset, Evaluator, Report } from "@agentfx/evals"
 * import { Console, Effect, Schema } from "effect"
 *
 * const dataset = Dataset.make({
 *   name: "upper",
 *   inputs: Schema.String,
 *   output: Schema.String,
 *   cases: [{ name: "hello", inputs: "hello", expectedOutput: "HELLO" }],
 *   evaluators: [Evaluator.equalsExpected()]
 * })
 * const program = Effect.gen(function* () {
 *   const baseline = yield* Dataset.evaluate(dataset, (s) => Effect.succeed(s))
 *   const candidate = yield* Dataset.evaluate(dataset, (s) => Effect.succeed(s.toUpperCase()))
 *   yield* Console.log(Report.render(candidate))
 *   yield* Console.log(Report.renderDiff(Report.diff(baseline, candidate)))
 * })
 * ```
 *
 * @since 0.1.0
 */
import { Usage } from "@agentfx/core"
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Schemas } from "./Dataset.js"
import { RecordedError, ReportDecodeError } from "./EvalError.js"
import { type EvaluationResult, EvaluatorFailure } from "./Evaluator.js"
import { jsonSafe } from "./internal/recordingTracer.js"
import { formatDelta, formatMs, formatNumber, formatPercent, table } from "./internal/table.js"
import { describeError, display } from "./internal/values.js"
import { CapturedSpan, SpanTree } from "./SpanTree.js"

/** A case whose task succeeded, with what the evaluators made of it. */
export interface ReportCase<I, O, M> {
  readonly name: string
  readonly inputs: I
  readonly expectedOutput: O | undefined
  readonly metadata: M | undefined
  /** What the task returned. */
  readonly output: O
  /** Duration of the successful attempt, in milliseconds (Effect clock). */
  readonly durationMs: number
  /** How many attempts the task took (1 without retries). */
  readonly attempts: number
  readonly scores: Readonly<Record<string, EvaluationResult<number>>>
  readonly assertions: Readonly<Record<string, EvaluationResult<boolean>>>
  readonly labels: Readonly<Record<string, EvaluationResult<string>>>
  /** Evaluators that failed on this case (the others still ran). */
  readonly evaluatorFailures: ReadonlyArray<EvaluatorFailure>
  /** Reported by the task (`TaskContext.recordUsage`), else summed from its spans. */
  readonly usage: Usage.RunUsage
  /** Set by the task with `TaskContext.setAttribute`. */
  readonly attributes: Readonly<Record<string, unknown>>
  /** The spans of the successful attempt. */
  readonly spans: SpanTree
}

/** A case whose task failed on every attempt. */
export interface ReportFailure<I, O, M, E> {
  readonly name: string
  readonly inputs: I
  readonly expectedOutput: O | undefined
  readonly metadata: M | undefined
  /** The task's typed error, `TaskTimeout` or `TaskDefect` (a `RecordedError` when loaded). */
  readonly error: E
  /** `Tag: message` of the error. */
  readonly message: string
  readonly attempts: number
  /** The spans of the last attempt. */
  readonly spans: SpanTree
}

/** The report of one evaluation (one experiment). */
export interface EvaluationReport<I, O, M, E> {
  /** The experiment's name (`evaluate`'s `name` option, else the data set's name). */
  readonly name: string
  /** The data set's schemas: they encode the report's values to JSON. */
  readonly schemas: Schemas<I, O, M>
  /** Cases whose task succeeded, in data-set order. */
  readonly cases: ReadonlyArray<ReportCase<I, O, M>>
  /** Cases whose task failed, in data-set order. */
  readonly failures: ReadonlyArray<ReportFailure<I, O, M, E>>
}

/** Any report. */
export type Any = EvaluationReport<any, any, any, any>

// -- averages ------------------------------------------------------------------------------

/** Aggregates over the successful cases of a report. */
export interface Averages {
  /** Successful cases. */
  readonly cases: number
  /** Failed cases. */
  readonly failures: number
  /** Mean of each score, over the cases that have it. */
  readonly scores: Readonly<Record<string, number>>
  /** Pass rate of each assertion, over the cases that have it (0 to 1). */
  readonly assertions: Readonly<Record<string, number>>
  /** Passed assertions / all assertions, over all cases; undefined without assertions. */
  readonly assertionPassRate: number | undefined
  /** Share of each value of each label (0 to 1). */
  readonly labels: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** Mean duration; undefined without successful cases. */
  readonly durationMs: number | undefined
  /** Total usage of the successful cases. */
  readonly usage: Usage.RunUsage
}

const mean = (values: ReadonlyArray<number>): number | undefined =>
  values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0) / values.length

const collect = <V>(
  cases: ReadonlyArray<ReportCase<any, any, any>>,
  pick: (c: ReportCase<any, any, any>) => Readonly<Record<string, EvaluationResult<any>>>,
  map: (v: any) => V
): Map<string, Array<V>> => {
  const out = new Map<string, Array<V>>()
  for (const c of cases) {
    for (const [name, result] of Object.entries(pick(c))) {
      const list = out.get(name) ?? []
      list.push(map(result.value))
      out.set(name, list)
    }
  }
  return out
}

/** The aggregates of a report. */
export const averages = (report: Any): Averages => {
  const cases = report.cases
  const scores: Record<string, number> = {}
  for (const [name, values] of collect(cases, (c) => c.scores, Number)) {
    scores[name] = mean(values)!
  }
  const assertions: Record<string, number> = {}
  let passed = 0
  let total = 0
  for (const [name, values] of collect(
    cases,
    (c) => c.assertions,
    (v): number => (v ? 1 : 0)
  )) {
    assertions[name] = mean(values)!
    passed += values.reduce((a, b) => a + b, 0)
    total += values.length
  }
  const labels: Record<string, Record<string, number>> = {}
  for (const [name, values] of collect(cases, (c) => c.labels, String)) {
    const shares: Record<string, number> = {}
    for (const v of values) shares[v] = (shares[v] ?? 0) + 1 / values.length
    labels[name] = shares
  }
  return {
    cases: cases.length,
    failures: report.failures.length,
    scores,
    assertions,
    assertionPassRate: total === 0 ? undefined : passed / total,
    labels,
    durationMs: mean(cases.map((c) => c.durationMs)),
    usage: cases.reduce((u, c) => u.add(c.usage), Usage.RunUsage.empty)
  }
}

// -- secrets ------------------------------------------------------------------------------

/** The text of every `Redacted` string inside `value` (fields, array items, map and set entries). */
const secretsIn = (value: unknown): ReadonlySet<string> => {
  const secrets = new Set<string>()
  const seen = new Set<object>()
  const visit = (v: unknown, secret: boolean): void => {
    if (typeof v === "string") {
      if (secret && v.length > 0) secrets.add(v)
      return
    }
    if (typeof v !== "object" || v === null || seen.has(v)) return
    seen.add(v)
    if (Redacted.isRedacted(v)) {
      visit(Redacted.value(v), true)
      return
    }
    const items =
      v instanceof Map
        ? [...v.keys(), ...v.values()]
        : v instanceof Set || Array.isArray(v)
          ? [...v]
          : Object.values(v)
    for (const item of items) visit(item, secret)
  }
  visit(value, false)
  return secrets
}

/** Short secrets are only hidden where they are a whole value; longer ones inside text too. */
const minSecretInText = 6

/** `value` (JSON data) with every secret replaced by `<redacted>`. */
const scrub = (value: unknown, secrets: ReadonlySet<string>): unknown => {
  if (secrets.size === 0) return value
  if (typeof value === "string") {
    if (secrets.has(value)) return "<redacted>"
    let text = value
    for (const secret of secrets) {
      if (secret.length >= minSecretInText) text = text.split(secret).join("<redacted>")
    }
    return text
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]))
  }
  return value
}

// -- rendering -----------------------------------------------------------------------------

/** Options of `render`. */
export interface RenderOptions {
  /** Add an Inputs column (default false). */
  readonly includeInputs?: boolean
  /** Add an Output column (default false). */
  readonly includeOutput?: boolean
  /** Add an Expected column (default false). */
  readonly includeExpectedOutput?: boolean
  /** List the reasons of failed assertions (and of every result with `"all"`) under the table (default `"failed"`). */
  readonly reasons?: "none" | "failed" | "all"
  /** Longest cell, in characters, before it is cut with `…` (default 40). */
  readonly maxCellWidth?: number
}

const cut = (text: string, max: number): string => {
  const one = text.replace(/\s+/g, " ")
  return one.length <= max ? one : `${one.slice(0, Math.max(1, max - 1))}…`
}

const usageText = (usage: Usage.RunUsage): string =>
  usage.requests === 0 && usage.totalTokens === 0
    ? ""
    : `${usage.requests} req, ${usage.totalTokens} tok${usage.toolCalls > 0 ? `, ${usage.toolCalls} tools` : ""}`

const marks = (assertions: Readonly<Record<string, EvaluationResult<boolean>>>): string =>
  Object.values(assertions)
    .map((a) => (a.value ? "✔" : "✗"))
    .join("")

const named = (record: Readonly<Record<string, string>>): string =>
  Object.entries(record)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ")

/**
 * The report as a plain-text table: one row per successful case (scores, labels, assertion
 * marks ✔/✗, duration, usage), an averages row (mean scores, assertion pass rate, mean
 * duration, total usage), then the failed cases, evaluator failures and reasons (with the
 * `Redacted` secrets of their case hidden).
 */
export const render = (report: Any, options: RenderOptions = {}): string => {
  const max = options.maxCellWidth ?? 40
  const cases = report.cases
  const hasScores = cases.some((c) => Object.keys(c.scores).length > 0)
  const hasLabels = cases.some((c) => Object.keys(c.labels).length > 0)
  const hasAssertions = cases.some((c) => Object.keys(c.assertions).length > 0)
  const hasUsage = cases.some((c) => usageText(c.usage) !== "")
  const columns: Array<{
    readonly title: string
    readonly align?: "right"
    readonly cell: (c: ReportCase<any, any, any>) => string
    readonly total: (a: Averages) => string
  }> = [{ title: "Case", cell: (c) => c.name, total: () => "averages" }]
  if (options.includeInputs === true) {
    columns.push({ title: "Inputs", cell: (c) => display(c.inputs), total: () => "" })
  }
  if (options.includeOutput === true) {
    columns.push({ title: "Output", cell: (c) => display(c.output), total: () => "" })
  }
  if (options.includeExpectedOutput === true) {
    columns.push({
      title: "Expected",
      cell: (c) => (c.expectedOutput === undefined ? "" : display(c.expectedOutput)),
      total: () => ""
    })
  }
  if (hasScores) {
    columns.push({
      title: "Scores",
      cell: (c) =>
        named(
          Object.fromEntries(Object.entries(c.scores).map(([k, r]) => [k, formatNumber(r.value)]))
        ),
      total: (a) =>
        named(Object.fromEntries(Object.entries(a.scores).map(([k, v]) => [k, formatNumber(v)])))
    })
  }
  if (hasLabels) {
    columns.push({
      title: "Labels",
      cell: (c) =>
        named(Object.fromEntries(Object.entries(c.labels).map(([k, r]) => [k, r.value]))),
      total: (a) =>
        named(
          Object.fromEntries(
            Object.entries(a.labels).map(([k, shares]) => [
              k,
              Object.entries(shares)
                .map(([v, s]) => `${v} ${formatPercent(s)}`)
                .join(" ")
            ])
          )
        )
    })
  }
  if (hasAssertions) {
    columns.push({
      title: "Assertions",
      cell: (c) => marks(c.assertions),
      total: (a) =>
        a.assertionPassRate === undefined ? "" : `${formatPercent(a.assertionPassRate)} ✔`
    })
  }
  columns.push({
    title: "Duration",
    align: "right",
    cell: (c) => formatMs(c.durationMs),
    total: (a) => (a.durationMs === undefined ? "" : formatMs(a.durationMs))
  })
  if (hasUsage) {
    columns.push({
      title: "Usage",
      cell: (c) => usageText(c.usage),
      total: (a) => usageText(a.usage)
    })
  }
  const avg = averages(report)
  const lines: Array<string> = [
    `Evaluation: ${report.name} (${cases.length} passed the task, ${report.failures.length} failed)`
  ]
  if (cases.length > 0) {
    lines.push(
      table(
        columns.map((c) => ({ title: c.title, ...(c.align ? { align: c.align } : {}) })),
        cases.map((c) => columns.map((col) => cut(col.cell(c), max))),
        columns.map((col) => cut(col.total(avg), max))
      )
    )
  }
  // Messages and reasons are free text: the secrets of their case are hidden in them too.
  const hide = (text: string, c: { inputs: unknown; expectedOutput: unknown; metadata: unknown }) =>
    scrub(
      text,
      secretsIn([c.inputs, c.expectedOutput, c.metadata, "output" in c ? c.output : undefined])
    ) as string
  if (report.failures.length > 0) {
    lines.push("Task failures:")
    for (const f of report.failures) {
      lines.push(
        `  ${f.name}: ${hide(f.message, f)}${f.attempts > 1 ? ` (after ${f.attempts} attempts)` : ""}`
      )
    }
  }
  const evaluatorFailures = cases.flatMap((c) =>
    c.evaluatorFailures.map((f) => `  ${c.name}: ${f.evaluator}: ${hide(f.message, c)}`)
  )
  if (evaluatorFailures.length > 0) lines.push("Evaluator failures:", ...evaluatorFailures)
  const reasons = options.reasons ?? "failed"
  if (reasons !== "none") {
    const why = cases.flatMap((c) =>
      [...Object.values(c.assertions), ...Object.values(c.scores), ...Object.values(c.labels)]
        .filter((r) => r.reason !== undefined && (reasons === "all" || r.value === false))
        .map((r) => `  ${c.name} / ${r.name}: ${hide(r.reason!, c)}`)
    )
    if (why.length > 0) lines.push(reasons === "all" ? "Reasons:" : "Failed assertions:", ...why)
  }
  return lines.join("\n")
}

// -- JSON ----------------------------------------------------------------------------------

const resultJson = <V extends Schema.Schema<any, any, never>>(value: V) =>
  Schema.Record({
    key: Schema.String,
    value: Schema.Struct({
      name: Schema.String,
      value,
      reason: Schema.optional(Schema.String),
      source: Schema.String
    })
  })

/** A successful case in a saved report (inputs, outputs and metadata already encoded). */
export const CaseJson = Schema.Struct({
  name: Schema.String,
  inputs: Schema.Unknown,
  expectedOutput: Schema.optional(Schema.Unknown),
  metadata: Schema.optional(Schema.Unknown),
  output: Schema.Unknown,
  durationMs: Schema.Number,
  attempts: Schema.Number,
  scores: resultJson(Schema.Number),
  assertions: resultJson(Schema.Boolean),
  labels: resultJson(Schema.String),
  evaluatorFailures: Schema.Array(EvaluatorFailure),
  usage: Usage.RunUsage,
  attributes: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  spans: Schema.Array(CapturedSpan)
})

/** A failed case in a saved report. */
export const FailureJson = Schema.Struct({
  name: Schema.String,
  inputs: Schema.Unknown,
  expectedOutput: Schema.optional(Schema.Unknown),
  metadata: Schema.optional(Schema.Unknown),
  error: Schema.Struct({ tag: Schema.String, message: Schema.String }),
  attempts: Schema.Number,
  spans: Schema.Array(CapturedSpan)
})

/** A saved report: the JSON form of `EvaluationReport`. */
export const ReportJson = Schema.Struct({
  name: Schema.String,
  cases: Schema.Array(CaseJson),
  failures: Schema.Array(FailureJson)
})
/** The type of a saved report. */
export type ReportJson = typeof ReportJson.Type

/** Options of `toJson` / `save`. */
export interface JsonOptions {
  /** Keep each case's spans (default true). */
  readonly spans?: boolean
}

const encodeWith = (schema: Schema.Schema<any, any, never>, value: unknown): unknown =>
  Either.getOrElse(Schema.encodeEither(schema)(value), () => jsonSafe(value))

const optionalField = <K extends string>(key: K, value: unknown) =>
  (value === undefined ? {} : { [key]: value }) as { readonly [k in K]?: unknown }

const encodeResults = <V>(results: Readonly<Record<string, EvaluationResult<any>>>) => {
  const out: Record<string, { name: string; value: V; reason?: string; source: string }> = {}
  for (const [k, r] of Object.entries(results)) {
    out[k] = {
      name: r.name,
      value: r.value,
      source: r.source,
      ...(r.reason === undefined ? {} : { reason: r.reason })
    }
  }
  return out
}

/** The fields every saved case has: name, and its values encoded with the data set's schemas. */
const caseFields = (
  s: Schemas<any, any, any>,
  c: { name: string; inputs: unknown; expectedOutput: unknown; metadata: unknown }
) => ({
  name: c.name,
  inputs: encodeWith(s.inputs, c.inputs),
  ...optionalField(
    "expectedOutput",
    c.expectedOutput === undefined ? undefined : encodeWith(s.output, c.expectedOutput)
  ),
  ...optionalField(
    "metadata",
    c.metadata === undefined ? undefined : encodeWith(s.metadata, c.metadata)
  )
})

/**
 * The report as `ReportJson` data: values encoded with the data set's schemas. `Redacted`
 * values are written as `<redacted>` (a `Schema.Redacted` field encodes to its secret, and a
 * report is a CI artifact), in the values, the attributes and the error messages of their case.
 */
export const toJsonData = (report: Any, options: JsonOptions = {}): ReportJson => {
  const s = report.schemas
  const spans = (tree: SpanTree) => (options.spans === false ? [] : tree.spans)
  return {
    name: report.name,
    cases: report.cases.map((c) => {
      const secrets = secretsIn([c.inputs, c.expectedOutput, c.metadata, c.output, c.attributes])
      return {
        ...(scrub(caseFields(s, c), secrets) as ReturnType<typeof caseFields>),
        output: scrub(encodeWith(s.output, c.output), secrets),
        durationMs: c.durationMs,
        attempts: c.attempts,
        scores: encodeResults<number>(c.scores),
        assertions: encodeResults<boolean>(c.assertions),
        labels: encodeResults<string>(c.labels),
        evaluatorFailures: c.evaluatorFailures.map((f) =>
          secrets.size === 0
            ? f
            : new EvaluatorFailure({
                evaluator: f.evaluator,
                message: scrub(f.message, secrets) as string
              })
        ),
        usage: c.usage,
        attributes: scrub(jsonSafe(c.attributes), secrets) as Record<string, unknown>,
        spans: spans(c.spans)
      }
    }),
    failures: report.failures.map((f) => {
      const secrets = secretsIn([f.inputs, f.expectedOutput, f.metadata])
      return {
        ...(scrub(caseFields(s, f), secrets) as ReturnType<typeof caseFields>),
        error: scrub(describeError(f.error), secrets) as { tag: string; message: string },
        attempts: f.attempts,
        spans: spans(f.spans)
      }
    })
  }
}

/** The report as JSON text (Schema-encoded; see `ReportJson`). */
export const toJson = (report: Any, options: JsonOptions = {}): string =>
  JSON.stringify(Schema.encodeSync(ReportJson)(toJsonData(report, options)), null, 2)

const decodeValue = (schema: Schema.Schema<any, any, never>, value: unknown, where: string) =>
  Either.mapLeft(
    Schema.decodeUnknownEither(schema)(value),
    (e) => `${where}: ${ParseResult.TreeFormatter.formatErrorSync(e)}`
  )

/** Reads a report saved with `toJson`, decoding its values with `schemas`. */
export const fromJson = <I, O, M>(
  text: string,
  schemas: Schemas<I, O, M>,
  source = "<json>"
): Effect.Effect<EvaluationReport<I, O, M, RecordedError>, ReportDecodeError> =>
  Effect.gen(function* () {
    const data = yield* Schema.decodeUnknown(Schema.parseJson(ReportJson))(text).pipe(
      Effect.mapError(
        (e) =>
          new ReportDecodeError({ source, detail: ParseResult.TreeFormatter.formatErrorSync(e) })
      )
    )
    const fail = (detail: string) => new ReportDecodeError({ source, detail })
    const value = <A>(schema: Schema.Schema<A, any, never>, v: unknown, where: string) =>
      Either.match(decodeValue(schema, v, where), {
        onLeft: (d) => Effect.fail(fail(d)),
        onRight: (a) => Effect.succeed(a as A)
      })
    const optional = <A>(schema: Schema.Schema<A, any, never>, v: unknown, where: string) =>
      v === undefined ? Effect.succeed(undefined) : value(schema, v, where)
    // name, inputs, expectedOutput, metadata: shared by cases and failures
    const fields = (
      kind: string,
      c: {
        readonly name: string
        readonly inputs: unknown
        readonly expectedOutput?: unknown
        readonly metadata?: unknown
      }
    ) =>
      Effect.gen(function* () {
        const where = (field: string) => `${kind} "${c.name}", field ${field}`
        return {
          name: c.name,
          inputs: yield* value(schemas.inputs, c.inputs, where("inputs")),
          expectedOutput: yield* optional(
            schemas.output,
            c.expectedOutput,
            where("expectedOutput")
          ),
          metadata: yield* optional(schemas.metadata, c.metadata, where("metadata"))
        }
      })
    const cases = yield* Effect.forEach(data.cases, (c) =>
      Effect.gen(function* () {
        return {
          ...c,
          ...(yield* fields("case", c)),
          output: yield* value(schemas.output, c.output, `case "${c.name}", field output`),
          scores: decodeResults(c.scores),
          assertions: decodeResults(c.assertions),
          labels: decodeResults(c.labels),
          spans: new SpanTree(c.spans)
        } satisfies ReportCase<I, O, M>
      })
    )
    const failures = yield* Effect.forEach(data.failures, (f) =>
      Effect.gen(function* () {
        return {
          ...(yield* fields("failure", f)),
          error: new RecordedError(f.error),
          message: `${f.error.tag}: ${f.error.message}`,
          attempts: f.attempts,
          spans: new SpanTree(f.spans)
        } satisfies ReportFailure<I, O, M, RecordedError>
      })
    )
    return { name: data.name, schemas, cases, failures }
  })

const decodeResults = <V extends boolean | number | string>(
  results: Readonly<
    Record<string, { name: string; value: V; reason?: string | undefined; source: string }>
  >
): Record<string, EvaluationResult<V>> => {
  const out: Record<string, EvaluationResult<V>> = {}
  for (const [k, r] of Object.entries(results)) {
    out[k] = { name: r.name, value: r.value, reason: r.reason, source: r.source }
  }
  return out
}

/** Saves the report as JSON at `path`. */
export const save = (
  report: Any,
  path: string,
  options: JsonOptions = {}
): Effect.Effect<void, PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    fs.writeFileString(path, `${toJson(report, options)}\n`)
  )

/** Loads a report saved with `save`, decoding its values with `schemas`. */
export const load = <I, O, M>(
  path: string,
  schemas: Schemas<I, O, M>
): Effect.Effect<
  EvaluationReport<I, O, M, RecordedError>,
  ReportDecodeError | PlatformError,
  FileSystem.FileSystem
> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.flatMap(fs.readFileString(path), (text) => fromJson(text, schemas, path))
  )

// -- diff ----------------------------------------------------------------------------------

/** A number in the baseline and the candidate; `delta` = candidate − baseline when both exist. */
export interface Delta {
  readonly baseline: number | undefined
  readonly candidate: number | undefined
  readonly delta: number | undefined
}

const delta = (baseline: number | undefined, candidate: number | undefined): Delta => ({
  baseline,
  candidate,
  delta: baseline === undefined || candidate === undefined ? undefined : candidate - baseline
})

/** An assertion in the baseline and the candidate. */
export interface AssertionChange {
  readonly baseline: boolean | undefined
  readonly candidate: boolean | undefined
}

/** How one case changed. */
export interface CaseDiff {
  readonly name: string
  /** Whether the task succeeded / failed / the case is absent, in each report. */
  readonly baseline: "ok" | "failed" | "absent"
  readonly candidate: "ok" | "failed" | "absent"
  readonly scores: Readonly<Record<string, Delta>>
  readonly assertions: Readonly<Record<string, AssertionChange>>
  /** Share of the case's assertions that passed (0 to 1). */
  readonly assertionPassRate: Delta
  readonly durationMs: Delta
}

/** How a candidate report differs from a baseline. */
export interface ReportDiff {
  readonly baselineName: string
  readonly candidateName: string
  /** Every case of either report, baseline order first. */
  readonly cases: ReadonlyArray<CaseDiff>
  readonly averages: {
    readonly scores: Readonly<Record<string, Delta>>
    readonly assertionPassRate: Delta
    readonly durationMs: Delta
    readonly failures: Delta
  }
}

const passRate = (c: ReportCase<any, any, any> | undefined): number | undefined => {
  if (c === undefined) return undefined
  const values = Object.values(c.assertions)
  return values.length === 0 ? undefined : values.filter((a) => a.value).length / values.length
}

const keys = (...records: ReadonlyArray<object | undefined>): Array<string> => [
  ...new Set(records.flatMap((r) => (r === undefined ? [] : Object.keys(r))))
]

/** Compares a candidate report with a baseline, case by case (matched by name) and on average. */
export const diff = (baseline: Any, candidate: Any): ReportDiff => {
  const names = [
    ...new Set([
      ...[...baseline.cases, ...baseline.failures].map((c) => c.name),
      ...[...candidate.cases, ...candidate.failures].map((c) => c.name)
    ])
  ]
  const status = (report: Any, name: string) =>
    report.cases.some((c) => c.name === name)
      ? ("ok" as const)
      : report.failures.some((f) => f.name === name)
        ? ("failed" as const)
        : ("absent" as const)
  const cases = names.map((name): CaseDiff => {
    const b = baseline.cases.find((c) => c.name === name)
    const c = candidate.cases.find((x) => x.name === name)
    const scores: Record<string, Delta> = {}
    for (const k of keys(b?.scores, c?.scores))
      scores[k] = delta(b?.scores[k]?.value, c?.scores[k]?.value)
    const assertions: Record<string, AssertionChange> = {}
    for (const k of keys(b?.assertions, c?.assertions)) {
      assertions[k] = { baseline: b?.assertions[k]?.value, candidate: c?.assertions[k]?.value }
    }
    return {
      name,
      baseline: status(baseline, name),
      candidate: status(candidate, name),
      scores,
      assertions,
      assertionPassRate: delta(passRate(b), passRate(c)),
      durationMs: delta(b?.durationMs, c?.durationMs)
    }
  })
  const ab = averages(baseline)
  const ac = averages(candidate)
  const scores: Record<string, Delta> = {}
  for (const k of keys(ab.scores, ac.scores)) scores[k] = delta(ab.scores[k], ac.scores[k])
  return {
    baselineName: baseline.name,
    candidateName: candidate.name,
    cases,
    averages: {
      scores,
      assertionPassRate: delta(ab.assertionPassRate, ac.assertionPassRate),
      durationMs: delta(ab.durationMs, ac.durationMs),
      failures: delta(ab.failures, ac.failures)
    }
  }
}

const deltaText = (d: Delta, format: (n: number) => string): string => {
  if (d.baseline === undefined && d.candidate === undefined) return ""
  const b = d.baseline === undefined ? "–" : format(d.baseline)
  const c = d.candidate === undefined ? "–" : format(d.candidate)
  return d.delta === undefined ? `${b} → ${c}` : `${b} → ${c} (${formatDelta(d.delta, format)})`
}

const markOf = (v: boolean | undefined) => (v === undefined ? "·" : v ? "✔" : "✗")

/**
 * A diff as a plain-text table: per case and averaged score, assertion and duration changes,
 * then the assertions whose outcome flipped, by name.
 */
export const renderDiff = (
  d: ReportDiff,
  options: { readonly maxCellWidth?: number } = {}
): string => {
  const max = options.maxCellWidth ?? 60
  const rows = d.cases.map((c) => {
    const state = c.baseline === c.candidate ? c.candidate : `${c.baseline} → ${c.candidate}`
    const scores = Object.entries(c.scores)
      .map(([k, v]) => `${k}: ${deltaText(v, formatNumber)}`)
      .join(", ")
    const names = Object.keys(c.assertions)
    const assertions =
      names.length === 0
        ? ""
        : `${names.map((k) => markOf(c.assertions[k]!.baseline)).join("")} → ${names
            .map((k) => markOf(c.assertions[k]!.candidate))
            .join("")}`
    return [c.name, state, scores, assertions, deltaText(c.durationMs, formatMs)].map((x) =>
      cut(x, max)
    )
  })
  const a = d.averages
  const totals = [
    "averages",
    a.failures.delta === 0 || a.failures.delta === undefined
      ? ""
      : `failures ${deltaText(a.failures, String)}`,
    Object.entries(a.scores)
      .map(([k, v]) => `${k}: ${deltaText(v, formatNumber)}`)
      .join(", "),
    deltaText(a.assertionPassRate, formatPercent),
    deltaText(a.durationMs, formatMs)
  ].map((x) => cut(x, max))
  const changed = d.cases.flatMap((c) =>
    Object.entries(c.assertions)
      .filter(
        ([, a]) =>
          a.baseline !== undefined && a.candidate !== undefined && a.baseline !== a.candidate
      )
      .map(([k, a]) => `  ${c.name} / ${k}: ${markOf(a.baseline)} → ${markOf(a.candidate)}`)
  )
  // Columns empty in every row (no scores, no assertions) are left out.
  const keep = [0, 1, 2, 3, 4].filter(
    (i) => i <= 1 || i === 4 || rows.some((r) => r[i] !== "") || totals[i] !== ""
  )
  const titles = ["Case", "Task", "Scores", "Assertions", "Duration"]
  return [
    `Diff: ${d.baselineName} → ${d.candidateName}`,
    table(
      keep.map((i) => ({ title: titles[i]! })),
      rows.map((r) => keep.map((i) => r[i]!)),
      keep.map((i) => totals[i]!)
    ),
    ...(changed.length === 0 ? [] : ["Changed assertions:", ...changed])
  ].join("\n")
}
