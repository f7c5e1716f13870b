/**
 * The evaluation run: cases concurrently (`Effect.forEach` with `concurrency`), each attempt of
 * the task under its own span recorder and `TaskContext`, retried with a `Schedule`, bounded by
 * a timeout; then the evaluators of the case concurrently, each failure captured.
 *
 * @internal
 */
import { Usage } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type { Case, Dataset, EvaluateOptions, TaskError } from "../Dataset.js"
import { TaskDefect, TaskTimeout } from "../EvalError.js"
import {
  type Context as EvaluatorContext,
  type EvaluationResult,
  type Evaluator,
  EvaluatorFailure,
  type Output,
  type Result,
  type Value
} from "../Evaluator.js"
import type { EvaluationReport, ReportCase, ReportFailure } from "../Report.js"
import { type CapturedSpan, SpanTree } from "../SpanTree.js"
import { TaskContext } from "../TaskContext.js"
import { makeProgress } from "./progress.js"
import { record } from "./recordingTracer.js"
import { describeError, display } from "./values.js"

/** What one attempt reported through `TaskContext`. */
interface Recorded {
  usage: Usage.RunUsage | undefined
  readonly attributes: Record<string, unknown>
}

/** What a successful attempt produced. */
interface Attempt<O> {
  readonly output: O
  readonly durationMs: number
  readonly spans: ReadonlyArray<CapturedSpan>
  readonly recorded: Recorded
}

/**
 * Usage summed from an agentfx run's spans: one request per `chat` span (with its
 * `gen_ai.usage.*` tokens), one tool call per successful `execute_tool` span.
 */
export const usageFromSpans = (spans: ReadonlyArray<CapturedSpan>): Usage.RunUsage => {
  let requests = 0
  let inputTokens = 0
  let outputTokens = 0
  let toolCalls = 0
  for (const s of spans) {
    const op = s.attributes["gen_ai.operation.name"]
    if (op === "chat") {
      requests++
      inputTokens += Number(s.attributes["gen_ai.usage.input_tokens"] ?? 0) || 0
      outputTokens += Number(s.attributes["gen_ai.usage.output_tokens"] ?? 0) || 0
    } else if (op === "execute_tool" && s.status === "ok") {
      toolCalls++
    }
  }
  return new Usage.RunUsage({ requests, inputTokens, outputTokens, toolCalls })
}

const isResult = (u: unknown): u is Result =>
  typeof u === "object" &&
  u !== null &&
  "value" in u &&
  ["boolean", "number", "string"].includes(typeof u.value)

/**
 * The named results of an evaluator's output, or why it is not one. A score that is not a
 * finite number (`0 / 0`) is refused: it would turn every average into NaN and a saved report
 * into one that no longer loads (JSON has no NaN).
 */
const resultsOf = (
  evaluator: string,
  output: Output
): Either.Either<Array<EvaluationResult>, string> => {
  const one = (name: string, v: Value | Result): Either.Either<EvaluationResult, string> => {
    const result: EvaluationResult =
      typeof v === "object" && v !== null
        ? { name, value: v.value, reason: v.reason, source: evaluator }
        : { name, value: v, reason: undefined, source: evaluator }
    const value: unknown = result.value
    if (typeof value === "number" && !Number.isFinite(value)) {
      return Either.left(`${name} is ${value}: a score must be a finite number`)
    }
    if (typeof value !== "number" && typeof value !== "boolean" && typeof value !== "string") {
      return Either.left(`${name} is ${display(value)}: not a boolean, number or string`)
    }
    if (result.reason !== undefined && typeof result.reason !== "string") {
      return Either.left(`${name}: the reason ${display(result.reason)} is not a string`)
    }
    return Either.right(result)
  }
  if (typeof output !== "object" || output === null || isResult(output)) {
    return Either.map(one(evaluator, output), (r) => [r])
  }
  return Either.all(Object.entries(output).map(([name, v]) => one(name, v)))
}

const runEvaluators = <I, O, M, R>(
  evaluators: ReadonlyArray<Evaluator<I, O, M, unknown, R>>,
  context: EvaluatorContext<I, O, M>
) =>
  Effect.map(
    Effect.forEach(
      evaluators,
      (evaluator) =>
        Effect.suspend(() => evaluator.evaluate(context)).pipe(
          Effect.map((output) =>
            Either.mapLeft(
              resultsOf(evaluator.name, output),
              (message) => new EvaluatorFailure({ evaluator: evaluator.name, message })
            )
          ),
          // An evaluator that interrupts itself is its own failure; when the evaluation is
          // interrupted from outside, the runtime skips this handler.
          Effect.catchAllCause((cause) =>
            Effect.succeed(
              Either.left(
                new EvaluatorFailure({ evaluator: evaluator.name, message: causeMessage(cause) })
              )
            )
          )
        ),
      { concurrency: "unbounded" }
    ),
    (outcomes) => {
      const scores: Record<string, EvaluationResult<number>> = {}
      const assertions: Record<string, EvaluationResult<boolean>> = {}
      const labels: Record<string, EvaluationResult<string>> = {}
      const failures: Array<EvaluatorFailure> = []
      const taken = new Set<string>()
      for (const outcome of outcomes) {
        if (Either.isLeft(outcome)) {
          failures.push(outcome.left)
          continue
        }
        for (const result of outcome.right) {
          let name = result.name
          for (let n = 2; taken.has(name); n++) name = `${result.name}_${n}`
          taken.add(name)
          const r = { ...result, name }
          if (typeof r.value === "boolean") assertions[name] = r as EvaluationResult<boolean>
          else if (typeof r.value === "number") scores[name] = r as EvaluationResult<number>
          else labels[name] = r as EvaluationResult<string>
        }
      }
      return { scores, assertions, labels, evaluatorFailures: failures }
    }
  )

/** A readable message for a failure or a defect. */
const causeMessage = (cause: Cause.Cause<unknown>): string => {
  if (Cause.isInterruptedOnly(cause)) return "interrupted"
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const { tag, message } = describeError(failure.value)
    return `${tag}: ${message}`
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect)) {
    const { message } = describeError(defect.value)
    return `defect: ${message}`
  }
  return Cause.pretty(cause)
}

const retrySchedule = (
  retries: EvaluateOptions["retries"]
): Schedule.Schedule<unknown, unknown> | undefined =>
  retries === undefined || retries === 0
    ? undefined
    : typeof retries === "number"
      ? Schedule.recurs(retries)
      : retries

/** Runs the task on every case, evaluates, and builds the report. */
export const evaluateDataset = <I, O, M, R, E, R2>(
  dataset: Dataset<I, O, M, R>,
  task: (inputs: I) => Effect.Effect<O, E, R2>,
  options: EvaluateOptions & { readonly timeoutMs: number | undefined }
): Effect.Effect<EvaluationReport<I, O, M, TaskError<E>>, never, R | Exclude<R2, TaskContext>> =>
  Effect.gen(function* () {
    const name = options.name ?? dataset.name
    const progress = makeProgress(name, dataset.cases.length, options.progress ?? "auto")
    const schedule = retrySchedule(options.retries)

    const runCase = (c: Case<I, O, M>) =>
      Effect.gen(function* () {
        let attempts = 0
        let lastSpans: ReadonlyArray<CapturedSpan> = []
        const attempt: Effect.Effect<Attempt<O>, E | TaskTimeout, R2> = Effect.suspend(() => {
          attempts++
          const recorded: Recorded = { usage: undefined, attributes: {} }
          const service = TaskContext.of({
            caseName: c.name,
            attempt: attempts,
            recordUsage: (usage) =>
              Effect.sync(() => {
                recorded.usage = recorded.usage === undefined ? usage : recorded.usage.add(usage)
              }),
            setAttribute: (key, value) =>
              Effect.sync(() => {
                recorded.attributes[key] = value
              })
          })
          let body: Effect.Effect<O, E | TaskTimeout, R2> = Effect.provideService(
            Effect.suspend(() => task(c.inputs)),
            TaskContext,
            service
          )
          if (options.timeoutMs !== undefined) {
            const timeoutMs = options.timeoutMs
            body = Effect.timeoutFail(body, {
              duration: timeoutMs,
              onTimeout: () => new TaskTimeout({ timeoutMs })
            })
          }
          return Effect.flatMap(record(Effect.timed(body)), ([exit, spans]) => {
            lastSpans = spans
            return Exit.map(exit, ([duration, output]) => ({
              output,
              durationMs: Duration.toMillis(duration),
              spans,
              recorded
            }))
          })
        })
        const exit = yield* Effect.exit(
          schedule === undefined ? attempt : Effect.retry(attempt, schedule)
        )
        const base = {
          name: c.name,
          inputs: c.inputs,
          expectedOutput: c.expectedOutput,
          metadata: c.metadata,
          attempts
        }
        if (Exit.isFailure(exit)) {
          // Interruption from outside never gets here (the runtime skips `exit`'s handler), so
          // an interrupted attempt is the task interrupting itself: a failure of this case
          // only, not of the whole evaluation.
          const failure = Cause.failureOption(exit.cause)
          const error: TaskError<E> = Option.isSome(failure)
            ? failure.value
            : new TaskDefect({
                detail: Cause.isInterruptedOnly(exit.cause)
                  ? "the task was interrupted"
                  : describeError(Cause.squash(exit.cause)).message,
                defect: Cause.squash(exit.cause)
              })
          const { tag, message } = describeError(error)
          yield* progress.done(c.name, false)
          return {
            _tag: "failure",
            value: { ...base, error, message: `${tag}: ${message}`, spans: new SpanTree(lastSpans) }
          } as const
        }
        const result = exit.value
        const spans = new SpanTree(result.spans)
        const usage = result.recorded.usage ?? usageFromSpans(result.spans)
        const context: EvaluatorContext<I, O, M> = {
          name: c.name,
          inputs: c.inputs,
          output: result.output,
          expectedOutput: c.expectedOutput,
          metadata: c.metadata,
          durationMs: result.durationMs,
          spans,
          usage,
          attributes: result.recorded.attributes
        }
        const evaluated = yield* runEvaluators<I, O, M, R>(
          [
            ...dataset.evaluators,
            ...((c.evaluators ?? []) as ReadonlyArray<Evaluator<I, O, M, unknown, R>>)
          ],
          context
        )
        yield* progress.done(c.name, true)
        return {
          _tag: "case",
          value: {
            ...base,
            output: result.output,
            durationMs: result.durationMs,
            usage,
            attributes: result.recorded.attributes,
            spans,
            ...evaluated
          }
        } as const
      })

    const outcomes = yield* Effect.forEach(dataset.cases, runCase, {
      concurrency: options.concurrency ?? 4
    }).pipe(Effect.ensuring(progress.finish))
    const cases: Array<ReportCase<I, O, M>> = []
    const failures: Array<ReportFailure<I, O, M, TaskError<E>>> = []
    for (const o of outcomes) {
      if (o._tag === "case") cases.push(o.value)
      else failures.push(o.value)
    }
    return { name, schemas: dataset.schemas, cases, failures }
  }) as Effect.Effect<EvaluationReport<I, O, M, TaskError<E>>, never, R | Exclude<R2, TaskContext>>
