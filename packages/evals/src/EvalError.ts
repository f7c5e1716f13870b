/**
 * The errors of `@agentfx/evals`: a data set or a report that does not decode (naming the
 * case and the field), a data set that does not encode, and the ways a task can fail besides
 * its own typed errors (a timeout, a defect).
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** One problem found while decoding a data set. */
export class DecodeIssue extends Schema.Class<DecodeIssue>("DecodeIssue")({
  /** 0-based position of the case in `cases`; absent for problems outside the cases. */
  caseIndex: Schema.optional(Schema.Number),
  /** The case's name (from the file when it has one, else `Case <index + 1>`). */
  caseName: Schema.optional(Schema.String),
  /** The field, as a dotted path inside the case (`inputs.customer_id`) or the file. */
  field: Schema.String,
  message: Schema.String
}) {}

const issueLine = (issue: DecodeIssue): string =>
  `${issue.caseName === undefined ? "" : `case "${issue.caseName}", `}${issue.field === "" ? "top level" : `field ${issue.field}`}: ${issue.message}`

/** A data set file (or text) that is not valid YAML / JSON or does not match the schemas. */
export class DatasetDecodeError extends Schema.TaggedError<DatasetDecodeError>()(
  "DatasetDecodeError",
  {
    /** The file path, or `<yaml>` / `<json>` for text. */
    source: Schema.String,
    issues: Schema.Array(DecodeIssue)
  }
) {
  override get message(): string {
    return `${this.source}: ${this.issues.map(issueLine).join("; ")}`
  }
}

/** A case whose values do not encode with the data set's schemas. */
export class DatasetEncodeError extends Schema.TaggedError<DatasetEncodeError>()(
  "DatasetEncodeError",
  { caseName: Schema.String, field: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `case "${this.caseName}", field ${this.field}: ${this.detail}`
  }
}

/** A saved report that does not decode. */
export class ReportDecodeError extends Schema.TaggedError<ReportDecodeError>()(
  "ReportDecodeError",
  { source: Schema.String, detail: Schema.String }
) {
  override get message(): string {
    return `${this.source}: ${this.detail}`
  }
}

/** An attempt of the task took longer than the `timeout` of `Dataset.evaluate`. */
export class TaskTimeout extends Schema.TaggedError<TaskTimeout>()("TaskTimeout", {
  timeoutMs: Schema.Number
}) {
  override get message(): string {
    return `the task took longer than ${this.timeoutMs} ms`
  }
}

/** The task died (a defect: a thrown exception, `Effect.die`). */
export class TaskDefect extends Schema.TaggedError<TaskDefect>()("TaskDefect", {
  detail: Schema.String,
  defect: Schema.Unknown
}) {
  override get message(): string {
    return this.detail
  }
}

/** A task error read back from a saved report: its tag and message. */
export class RecordedError extends Schema.TaggedClass<RecordedError>()("RecordedError", {
  tag: Schema.String,
  message: Schema.String
}) {}
