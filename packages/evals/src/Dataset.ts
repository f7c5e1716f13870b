/**
 * A data set: named cases (inputs, expected output, metadata), the Schemas that type them, and
 * the evaluators that judge every case. Datasets are written in code or loaded from YAML /
 * JSON files (decode errors name the case and the field), and evaluated against a task — any
 * Effect, typically an agent run — with bounded concurrency, retries and a timeout.
 *
 * @example
 * ```ts
 * import { Dataset, Evaluator, Report } from "@agentfx/evals"
 * import { Console, Effect, Schema } from "effect"
 *
 * const dataset = Dataset.make({
 *   name: "capitals",
 *   inputs: Schema.Struct({ country: Schema.String }),
 *   output: Schema.String,
 *   metadata: Schema.Struct({ difficulty: Schema.Literal("easy", "hard") }),
 *   cases: [
 *     { name: "france", inputs: { country: "France" }, expectedOutput: "Paris", metadata: { difficulty: "easy" } },
 *     { name: "australia", inputs: { country: "Australia" }, expectedOutput: "Canberra", metadata: { difficulty: "hard" } }
 *   ],
 *   evaluators: [Evaluator.equalsExpected()]
 * })
 *
 * const capitals: Record<string, string> = { France: "Paris", Australia: "Sydney" }
 * const program = Effect.gen(function* () {
 *   const report = yield* Dataset.evaluate(dataset, ({ country }) => Effect.succeed(capitals[country] ?? "?"), {
 *     concurrency: 4
 *   })
 *   yield* Console.log(Report.render(report))
 *   yield* Console.log(yield* Dataset.encodeYaml(dataset)) // the cases as YAML
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { dual } from "effect/Function"
import * as JSONSchema from "effect/JSONSchema"
import * as ParseResult from "effect/ParseResult"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Yaml from "yaml"
import { DatasetDecodeError, DatasetEncodeError, DecodeIssue } from "./EvalError.js"
import type * as Evaluator from "./Evaluator.js"
import { evaluateDataset } from "./internal/evaluate.js"
import type { EvaluationReport } from "./Report.js"
import type { TaskContext } from "./TaskContext.js"
import type { TaskDefect, TaskTimeout } from "./EvalError.js"

/** The Schemas of a data set's inputs, outputs (expected and actual) and metadata. */
export interface Schemas<I, O, M> {
  readonly inputs: Schema.Schema<I, any, never>
  readonly output: Schema.Schema<O, any, never>
  readonly metadata: Schema.Schema<M, any, never>
}

/** One test scenario. */
export interface Case<I, O, M> {
  /** Unique within the data set; names the case in reports and errors. */
  readonly name: string
  readonly inputs: I
  readonly expectedOutput?: O | undefined
  readonly metadata?: M | undefined
  /** Evaluators for this case only, run after the data set's (code only; not saved to files). */
  readonly evaluators?: ReadonlyArray<Evaluator.Evaluator<I, O, M, unknown, never>>
}

const TypeId: unique symbol = Symbol.for("@agentfx/evals/Dataset")

/** A data set of cases with inputs `I`, outputs `O`, metadata `M`; its evaluators need `R`. */
export interface Dataset<I, O, M, R = never> extends Pipeable {
  readonly [TypeId]: typeof TypeId
  readonly name: string
  readonly schemas: Schemas<I, O, M>
  readonly cases: ReadonlyArray<Case<I, O, M>>
  /** Run on every case. */
  readonly evaluators: ReadonlyArray<Evaluator.Evaluator<I, O, M, unknown, R>>
}

/** Any data set. */
export type Any = Dataset<any, any, any, any>

/** Is `u` a data set? */
export const isDataset = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && TypeId in u

const build = <I, O, M, R>(
  name: string,
  schemas: Schemas<I, O, M>,
  cases: ReadonlyArray<Case<I, O, M>>,
  evaluators: ReadonlyArray<Evaluator.Evaluator<I, O, M, unknown, R>>
): Dataset<I, O, M, R> => {
  const seen = new Set<string>()
  for (const c of cases) {
    if (seen.has(c.name)) throw new RangeError(`Dataset "${name}": two cases are named "${c.name}"`)
    seen.add(c.name)
  }
  return {
    [TypeId]: TypeId,
    name,
    schemas,
    cases,
    evaluators,
    pipe() {
      return pipeArguments(this, arguments)
    }
  }
}

/** Options of `make`. */
export interface MakeOptions<I, O, M, Evs extends ReadonlyArray<Evaluator.Any>> {
  /** Default `dataset`. */
  readonly name?: string
  readonly inputs: Schema.Schema<I, any, never>
  /** Default `Schema.Unknown`. */
  readonly output?: Schema.Schema<O, any, never>
  /** Default `Schema.Unknown`. */
  readonly metadata?: Schema.Schema<M, any, never>
  readonly cases?: ReadonlyArray<Case<NoInfer<I>, NoInfer<O>, NoInfer<M>>>
  readonly evaluators?: Evs
}

/**
 * A data set from Schemas and cases. Case names must be unique (a `RangeError` otherwise).
 */
export const make = <
  I,
  O = unknown,
  M = unknown,
  const Evs extends ReadonlyArray<Evaluator.Any> = []
>(
  options: MakeOptions<I, O, M, Evs>
): Dataset<I, O, M, Evaluator.Requirements<Evs[number]>> =>
  build(
    options.name ?? "dataset",
    {
      inputs: options.inputs,
      output: options.output ?? (Schema.Unknown as unknown as Schema.Schema<O>),
      metadata: options.metadata ?? (Schema.Unknown as unknown as Schema.Schema<M>)
    },
    options.cases ?? [],
    (options.evaluators ?? []) as ReadonlyArray<
      Evaluator.Evaluator<I, O, M, unknown, Evaluator.Requirements<Evs[number]>>
    >
  )

/** The data set with more evaluators run on every case. */
export const withEvaluators: <
  I,
  O,
  M,
  Evs extends ReadonlyArray<Evaluator.Evaluator<I, O, M, any, any>>
>(
  ...evaluators: Evs
) => <R>(self: Dataset<I, O, M, R>) => Dataset<I, O, M, R | Evaluator.Requirements<Evs[number]>> =
  (...evaluators: ReadonlyArray<Evaluator.Any>) =>
  (self: Any): Any =>
    build(self.name, self.schemas, self.cases, [...self.evaluators, ...evaluators])

/** The data set with more cases. */
export const addCases: {
  <I, O, M>(
    cases: ReadonlyArray<Case<I, O, M>>
  ): <R>(self: Dataset<I, O, M, R>) => Dataset<I, O, M, R>
  <I, O, M, R>(self: Dataset<I, O, M, R>, cases: ReadonlyArray<Case<I, O, M>>): Dataset<I, O, M, R>
} = dual(
  2,
  <I, O, M, R>(
    self: Dataset<I, O, M, R>,
    cases: ReadonlyArray<Case<I, O, M>>
  ): Dataset<I, O, M, R> =>
    build(self.name, self.schemas, [...self.cases, ...cases], self.evaluators)
)

// -- files ---------------------------------------------------------------------------------

/** The file format of a data set. */
export type Format = "yaml" | "json"

/** The format a path's extension says (`.yaml` / `.yml` → yaml, else json). */
export const formatOf = (path: string): Format => (/\.ya?ml$/i.test(path) ? "yaml" : "json")

/** What a data set file holds: a name and the encoded cases. */
const FileShape = Schema.Struct({
  name: Schema.optional(Schema.String),
  cases: Schema.Array(Schema.Unknown)
})

const pathText = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
    .join("")
    .replace(/^\./, "")

/** One issue per field: the alternatives of a union on the same field are joined with "or". */
const issuesOf = (
  error: ParseResult.ParseError,
  where: { readonly caseIndex?: number; readonly caseName?: string }
): Array<DecodeIssue> => {
  const byField = new Map<string, Array<string>>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const field = pathText(issue.path)
    const messages = byField.get(field) ?? []
    if (!messages.includes(issue.message)) messages.push(issue.message)
    byField.set(field, messages)
  }
  return [...byField].map(
    ([field, messages]) => new DecodeIssue({ ...where, field, message: messages.join(" or ") })
  )
}

/** The fields a case may have in a file; anything else is reported, not silently dropped. */
const caseFields: ReadonlyArray<string> = ["name", "inputs", "expectedOutput", "metadata"]

/** `expected_output` → `expectedOutput`: the spelling of pydantic-evals files. */
const camel = (key: string): string => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

const unknownFields = (
  raw: unknown,
  allowed: ReadonlyArray<string>,
  message: (key: string) => string,
  where: { readonly caseIndex?: number; readonly caseName?: string }
): Array<DecodeIssue> =>
  typeof raw === "object" && raw !== null && !Array.isArray(raw)
    ? Object.keys(raw)
        .filter((key) => !allowed.includes(key))
        .map((field) => new DecodeIssue({ ...where, field, message: message(field) }))
    : []

const unknownCaseField = (key: string): string =>
  caseFields.includes(camel(key))
    ? `unknown field (did you mean ${camel(key)}?)`
    : `unknown field (a case has ${caseFields.join(", ")})`

const unknownFileField = (key: string): string =>
  key === "evaluators"
    ? "unknown field (a data set file has name and cases; evaluators are set in code)"
    : "unknown field (a data set file has name and cases)"

const caseSchema = <I, O, M>(schemas: Schemas<I, O, M>) =>
  Schema.Struct({
    name: Schema.optionalWith(Schema.String, { exact: true }),
    inputs: schemas.inputs,
    expectedOutput: Schema.optionalWith(schemas.output, { exact: true }),
    metadata: Schema.optionalWith(schemas.metadata, { exact: true })
  })

/**
 * Decodes parsed file content (`{ name?, cases: [{ name?, inputs, expectedOutput?, metadata? }] }`)
 * with `schemas`. Every case is decoded; all problems are reported together, each naming its
 * case and field, including fields the format does not have (a misspelt `expected_output` would
 * otherwise vanish, and with it the case's expected output). Unnamed cases are named `Case <n>`.
 */
export const decode = <I, O = unknown, M = unknown>(
  content: unknown,
  schemas: {
    readonly inputs: Schema.Schema<I, any, never>
    readonly output?: Schema.Schema<O, any, never>
    readonly metadata?: Schema.Schema<M, any, never>
  },
  source = "<data>"
): Effect.Effect<Dataset<I, O, M>, DatasetDecodeError> =>
  Effect.suspend(() => {
    const full: Schemas<I, O, M> = {
      inputs: schemas.inputs,
      output: schemas.output ?? (Schema.Unknown as unknown as Schema.Schema<O>),
      metadata: schemas.metadata ?? (Schema.Unknown as unknown as Schema.Schema<M>)
    }
    const shape = Schema.decodeUnknownEither(FileShape)(content, { onExcessProperty: "ignore" })
    if (Either.isLeft(shape)) {
      return Effect.fail(new DatasetDecodeError({ source, issues: issuesOf(shape.left, {}) }))
    }
    const decodeCase = Schema.decodeUnknownEither(caseSchema(full), { errors: "all" })
    // `$schema` points an editor at `jsonSchema(dataset)`.
    const issues: Array<DecodeIssue> = unknownFields(
      content,
      ["$schema", "name", "cases"],
      unknownFileField,
      {}
    )
    const cases: Array<Case<I, O, M>> = []
    const names = new Set<string>()
    shape.right.cases.forEach((raw, caseIndex) => {
      const rawName =
        typeof raw === "object" && raw !== null && "name" in raw && typeof raw.name === "string"
          ? raw.name
          : undefined
      const caseName = rawName ?? `Case ${caseIndex + 1}`
      const decoded = decodeCase(raw)
      const unknown = unknownFields(raw, caseFields, unknownCaseField, { caseIndex, caseName })
      if (Either.isLeft(decoded) || unknown.length > 0) {
        issues.push(
          ...(Either.isLeft(decoded) ? issuesOf(decoded.left, { caseIndex, caseName }) : []),
          ...unknown
        )
        return
      }
      if (names.has(caseName)) {
        issues.push(
          new DecodeIssue({
            caseIndex,
            caseName,
            field: "name",
            message: "another case has this name"
          })
        )
        return
      }
      names.add(caseName)
      const c = decoded.right
      cases.push({
        name: caseName,
        inputs: c.inputs,
        ...(c.expectedOutput === undefined ? {} : { expectedOutput: c.expectedOutput }),
        ...(c.metadata === undefined ? {} : { metadata: c.metadata })
      })
    })
    if (issues.length > 0) return Effect.fail(new DatasetDecodeError({ source, issues }))
    return Effect.succeed(build(shape.right.name ?? "dataset", full, cases, []))
  })

const parseText = (
  text: string,
  format: Format,
  source: string
): Effect.Effect<unknown, DatasetDecodeError> =>
  Effect.try({
    try: () => (format === "yaml" ? Yaml.parse(text) : JSON.parse(text)) as unknown,
    catch: (e) =>
      new DatasetDecodeError({
        source,
        issues: [
          new DecodeIssue({
            field: "",
            message: `not valid ${format === "yaml" ? "YAML" : "JSON"}: ${e instanceof Error ? e.message : String(e)}`
          })
        ]
      })
  })

/** Decodes a data set from text in `format`. */
const decodeText =
  (format: Format) =>
  <I, O = unknown, M = unknown>(
    text: string,
    schemas: Parameters<typeof decode<I, O, M>>[1],
    source = `<${format}>`
  ): Effect.Effect<Dataset<I, O, M>, DatasetDecodeError> =>
    Effect.flatMap(parseText(text, format, source), (content) => decode(content, schemas, source))

/** Decodes a data set from YAML text. */
export const decodeYaml = decodeText("yaml")

/** Decodes a data set from JSON text. */
export const decodeJson = decodeText("json")

/** The data set's file content: its name and the cases, encoded with its schemas. */
export const encode = <I, O, M, R>(
  dataset: Dataset<I, O, M, R>
): Effect.Effect<
  { readonly name: string; readonly cases: ReadonlyArray<unknown> },
  DatasetEncodeError
> =>
  Effect.map(
    Effect.forEach(dataset.cases, (c) =>
      Effect.gen(function* () {
        const field = <A>(schema: Schema.Schema<A, any, never>, value: A, name: string) =>
          Schema.encode(schema)(value).pipe(
            Effect.mapError(
              (e) =>
                new DatasetEncodeError({
                  caseName: c.name,
                  field: name,
                  detail: ParseResult.TreeFormatter.formatErrorSync(e)
                })
            )
          )
        const out: Record<string, unknown> = {
          name: c.name,
          inputs: yield* field(dataset.schemas.inputs, c.inputs, "inputs")
        }
        if (c.expectedOutput !== undefined) {
          out.expectedOutput = yield* field(
            dataset.schemas.output,
            c.expectedOutput,
            "expectedOutput"
          )
        }
        if (c.metadata !== undefined)
          out.metadata = yield* field(dataset.schemas.metadata, c.metadata, "metadata")
        return out
      })
    ),
    (cases) => ({ name: dataset.name, cases })
  )

/** The data set as YAML text. */
export const encodeYaml = <I, O, M, R>(
  dataset: Dataset<I, O, M, R>
): Effect.Effect<string, DatasetEncodeError> =>
  Effect.map(encode(dataset), (content) => Yaml.stringify(content))

/** The data set as JSON text. */
export const encodeJson = <I, O, M, R>(
  dataset: Dataset<I, O, M, R>
): Effect.Effect<string, DatasetEncodeError> =>
  Effect.map(encode(dataset), (content) => `${JSON.stringify(content, null, 2)}\n`)

/**
 * The JSON Schema of the data set's file format (for editor completion of YAML / JSON data
 * sets): the case fields with the inputs / output / metadata schemas.
 */
export const jsonSchema = <I, O, M, R>(dataset: Dataset<I, O, M, R>): JSONSchema.JsonSchema7Root =>
  JSONSchema.make(
    Schema.Struct({
      name: Schema.optional(Schema.String),
      cases: Schema.Array(
        Schema.Struct({
          name: Schema.String,
          inputs: Schema.encodedSchema(dataset.schemas.inputs),
          expectedOutput: Schema.optional(Schema.encodedSchema(dataset.schemas.output)),
          metadata: Schema.optional(Schema.encodedSchema(dataset.schemas.metadata))
        })
      )
    })
  )

/** Loads a data set file (YAML for `.yaml` / `.yml`, else JSON) and decodes it with `schemas`. */
export const load = <I, O = unknown, M = unknown>(
  path: string,
  schemas: Parameters<typeof decode<I, O, M>>[1]
): Effect.Effect<Dataset<I, O, M>, DatasetDecodeError | PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.flatMap(fs.readFileString(path), (text) =>
      Effect.flatMap(parseText(text, formatOf(path), path), (content) =>
        decode(content, schemas, path)
      )
    )
  )

/** Saves the data set's cases to `path` (YAML for `.yaml` / `.yml`, else JSON). */
export const save = <I, O, M, R>(
  dataset: Dataset<I, O, M, R>,
  path: string
): Effect.Effect<void, DatasetEncodeError | PlatformError, FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.flatMap(formatOf(path) === "yaml" ? encodeYaml(dataset) : encodeJson(dataset), (text) =>
      fs.writeFileString(path, text)
    )
  )

// -- evaluation ----------------------------------------------------------------------------

/** Options of `evaluate`. */
export interface EvaluateOptions {
  /** The experiment's name in the report; default the data set's name. */
  readonly name?: string
  /** How many cases run at once (default 4; `"unbounded"` runs all at once). */
  readonly concurrency?: number | "unbounded"
  /**
   * Retries of a failing task attempt (its typed errors and timeouts; not defects): a number of
   * immediate retries, or a `Schedule` (e.g. `Schedule.exponential("1 second").pipe(Schedule.intersect(Schedule.recurs(3)))`).
   */
  readonly retries?: number | Schedule.Schedule<unknown, unknown>
  /** Deadline of one attempt of the task; an attempt over it fails with `TaskTimeout`. */
  readonly timeout?: Duration.DurationInput
  /**
   * Show progress (`evaluating <name>: 3/10`) on stderr: `true`, `false`, or `"auto"` (default:
   * only when stderr is a TTY, so logs and CI output stay clean).
   */
  readonly progress?: boolean | "auto"
}

/** What a task fails with in a report: its own error, a timeout, or a defect. */
export type TaskError<E> = E | TaskTimeout | TaskDefect

/**
 * Runs `task` on every case (at most `concurrency` at once), then the evaluators on each
 * successful output, and returns the report. Never fails: task failures (after retries),
 * timeouts and defects become `failures` of the report; evaluator failures are recorded on
 * their case. The task may use `TaskContext` (provided here).
 */
export const evaluate: {
  <I, O, E, R2>(
    task: (inputs: I) => Effect.Effect<O, E, R2>,
    options?: EvaluateOptions
  ): <M, R>(
    self: Dataset<I, O, M, R>
  ) => Effect.Effect<EvaluationReport<I, O, M, TaskError<E>>, never, R | Exclude<R2, TaskContext>>
  <I, O, M, R, E, R2>(
    self: Dataset<I, O, M, R>,
    task: (inputs: I) => Effect.Effect<O, E, R2>,
    options?: EvaluateOptions
  ): Effect.Effect<EvaluationReport<I, O, M, TaskError<E>>, never, R | Exclude<R2, TaskContext>>
} = dual(
  (args) => isDataset(args[0]),
  <I, O, M, R, E, R2>(
    self: Dataset<I, O, M, R>,
    task: (inputs: I) => Effect.Effect<O, E, R2>,
    options: EvaluateOptions = {}
  ): Effect.Effect<EvaluationReport<I, O, M, TaskError<E>>, never, R | Exclude<R2, TaskContext>> =>
    Effect.withSpan(
      evaluateDataset(self, task, {
        ...options,
        timeoutMs:
          options.timeout === undefined
            ? undefined
            : Duration.toMillis(Duration.decode(options.timeout))
      }),
      "Dataset.evaluate",
      { attributes: { dataset: self.name, cases: self.cases.length } }
    )
)
