/**
 * Evaluators: what decides whether a case went well. An evaluator looks at the case (inputs,
 * expected output, metadata), what the task returned, how long it took, its usage and the
 * spans it opened, and returns
 *
 * - an assertion (`boolean`): passed or not,
 * - a score (`number`): e.g. 0 to 1,
 * - a label (`string`): a category such as `"polite"`,
 *
 * each optionally with a reason (`{ value, reason }`), or a record of several named ones.
 * Evaluators are Effects: they can call services, a model, anything. An evaluator that fails
 * (or dies) is recorded on its case as an `EvaluatorFailure`; the other evaluators and cases go
 * on.
 *
 * @example
 * ```ts
 * import { Evaluator } from "@agentfx/evals"
 * import { Effect, Schema } from "effect"
 *
 * const evaluators = [
 *   Evaluator.equalsExpected(),
 *   Evaluator.contains("balance"),
 *   Evaluator.matchesSchema(Schema.String),
 *   Evaluator.maxDuration("2 seconds"),
 *   Evaluator.hasToolCall("customer_balance"),
 *   Evaluator.make("short", ({ output }) =>
 *     Effect.succeed({ value: String(output).length < 200, reason: "under 200 characters" })
 *   )
 * ]
 * ```
 *
 * @since 0.1.0
 */
import { Agent, type AgentError, type Model, type Usage } from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { deepEqual, display } from "./internal/values.js"
import { type SpanQuery, type SpanTree, toolCall } from "./SpanTree.js"

/** The value of one result: assertion, score or label. */
export type Value = boolean | number | string

/** A value with the reason for it. */
export interface Result {
  readonly value: Value
  readonly reason?: string | undefined
}

/** What an evaluator returns: one value (named after the evaluator) or several named ones. */
export type Output = Value | Result | Readonly<Record<string, Value | Result>>

/** Everything an evaluator may look at. */
export interface Context<I, O, M> {
  /** The case's name. */
  readonly name: string
  readonly inputs: I
  /** What the task returned. */
  readonly output: O
  readonly expectedOutput: O | undefined
  readonly metadata: M | undefined
  /** How long the (successful attempt of the) task took, in milliseconds. */
  readonly durationMs: number
  /** The spans the task opened (agent runs, model requests, tool calls, your own). */
  readonly spans: SpanTree
  /** What the task reported with `TaskContext.recordUsage`, else what its spans show. */
  readonly usage: Usage.RunUsage
  /** Attributes the task set with `TaskContext.setAttribute`. */
  readonly attributes: Readonly<Record<string, unknown>>
}

/** An evaluator of cases with inputs `I`, outputs `O` and metadata `M`. */
export interface Evaluator<
  in I = unknown,
  in O = unknown,
  in M = unknown,
  out E = never,
  out R = never
> {
  /** Names its result (a single value) and its failures. */
  readonly name: string
  readonly evaluate: (context: Context<I, O, M>) => Effect.Effect<Output, E, R>
}

/** Any evaluator. */
export type Any = Evaluator<any, any, any, any, any>

/** The services an evaluator needs. */
export type Requirements<T> = T extends Evaluator<any, any, any, any, infer R> ? R : never

/** One named result of an evaluator, in a report. */
export interface EvaluationResult<V extends Value = Value> {
  readonly name: string
  readonly value: V
  readonly reason: string | undefined
  /** The name of the evaluator that produced it. */
  readonly source: string
}

/** An evaluator that failed or died on a case: recorded, not fatal. */
export class EvaluatorFailure extends Schema.Class<EvaluatorFailure>("EvaluatorFailure")({
  /** The evaluator's name. */
  evaluator: Schema.String,
  /** What went wrong (the error's message, or its tag and fields). */
  message: Schema.String
}) {}

/**
 * An evaluator from a function returning an `Output`, or an Effect of one.
 */
export const make = <I = unknown, O = unknown, M = unknown, E = never, R = never>(
  name: string,
  evaluate: (context: Context<I, O, M>) => Effect.Effect<Output, E, R> | Output
): Evaluator<I, O, M, E, R> => ({
  name,
  evaluate: (context) => {
    const out = evaluate(context)
    return Effect.isEffect(out) ? out : Effect.succeed(out)
  }
})

/** An assertion with a reason when it fails. */
const check = (ok: boolean, reason: () => string): Result =>
  ok ? { value: true } : { value: false, reason: reason() }

/**
 * Asserts that the output equals the case's expected output (deep, structural equality;
 * `Equal` values compare with `Equal.equals`). A case without an expected output gets no
 * result.
 */
export const equalsExpected = (options: { readonly name?: string } = {}): Evaluator => {
  const name = options.name ?? "EqualsExpected"
  return make(name, ({ output, expectedOutput }) =>
    expectedOutput === undefined
      ? {}
      : check(
          deepEqual(output, expectedOutput),
          () => `expected ${display(expectedOutput)}, got ${display(output)}`
        )
  )
}

/** Asserts that the output equals `value` (deep, structural equality). */
export const equals = (value: unknown, options: { readonly name?: string } = {}): Evaluator =>
  make(options.name ?? "Equals", ({ output }) =>
    check(deepEqual(output, value), () => `expected ${display(value)}, got ${display(output)}`)
  )

/** Options of `contains`. */
export interface ContainsOptions {
  readonly name?: string
  /** Strings only; default true. */
  readonly caseSensitive?: boolean
}

/**
 * Asserts that the output contains `value`: a substring of a string output, an element of an
 * array output, or a subset of an object output's fields (`{ risk: 8 }` in `{ risk: 8, … }`).
 */
export const contains = (value: unknown, options: ContainsOptions = {}): Evaluator =>
  make(options.name ?? "Contains", ({ output }) => {
    if (typeof output === "string") {
      if (typeof value !== "string") {
        return { value: false, reason: `cannot look for ${display(value)} in a string` }
      }
      const sensitive = options.caseSensitive ?? true
      const found = sensitive
        ? output.includes(value)
        : output.toLowerCase().includes(value.toLowerCase())
      return check(found, () => `${display(value)} not found in ${display(output)}`)
    }
    if (Array.isArray(output)) {
      return check(
        output.some((item) => deepEqual(item, value)),
        () => `${display(value)} not found in ${display(output)}`
      )
    }
    if (typeof output === "object" && output !== null) {
      if (typeof value !== "object" || value === null) {
        return { value: false, reason: `cannot look for ${display(value)} in an object` }
      }
      const record = output as Record<string, unknown>
      for (const [key, expected] of Object.entries(value)) {
        if (!(key in record)) return { value: false, reason: `field ${key} is missing` }
        if (!deepEqual(record[key], expected)) {
          return {
            value: false,
            reason: `field ${key}: expected ${display(expected)}, got ${display(record[key])}`
          }
        }
      }
      return { value: true }
    }
    return { value: false, reason: `cannot look for ${display(value)} in ${display(output)}` }
  })

/** Asserts that the output is a valid `schema` value (the is-instance check, by Schema). */
export const matchesSchema = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options: { readonly name?: string } = {}
): Evaluator => {
  const is = ParseResult.validateEither(schema as Schema.Schema<A, I, never>)
  return make(options.name ?? "MatchesSchema", ({ output }) => {
    const result = is(output)
    return result._tag === "Right"
      ? { value: true }
      : { value: false, reason: ParseResult.TreeFormatter.formatIssueSync(result.left) }
  })
}

/** Asserts that the task took at most `max`. */
export const maxDuration = (
  max: Duration.DurationInput,
  options: { readonly name?: string } = {}
): Evaluator => {
  const limit = Duration.toMillis(Duration.decode(max))
  return make(options.name ?? "MaxDuration", ({ durationMs }) =>
    check(durationMs <= limit, () => `took ${durationMs} ms, more than ${limit} ms`)
  )
}

/** Asserts that some span the task opened matches `query`. */
export const hasMatchingSpan = (
  query: SpanQuery,
  options: { readonly name?: string } = {}
): Evaluator =>
  make(options.name ?? "HasMatchingSpan", ({ spans }) =>
    check(spans.any(query), () => `no span matches ${display(query)}`)
  )

/**
 * Asserts that the task's agent called the tool `tool` (an agentfx `execute_tool {tool}` span),
 * at least `times` times (default once).
 */
export const hasToolCall = (
  tool: string,
  options: { readonly name?: string; readonly times?: number } = {}
): Evaluator => {
  const times = options.times ?? 1
  return make(options.name ?? `HasToolCall(${tool})`, ({ spans }) => {
    const count = spans.count(toolCall(tool))
    return check(count >= times, () =>
      spans.toolCalls.length === 0
        ? `no tool was called`
        : `${tool} called ${count} time(s), expected at least ${times}; calls: ${spans.toolCalls.join(", ")}`
    )
  })
}

// -- LLM as a judge ------------------------------------------------------------------------

/** The judge's verdict: its structured output. */
export class JudgeVerdict extends Schema.Class<JudgeVerdict>("JudgeVerdict")({
  reason: Schema.String.annotations({ description: "Why the output passes or fails the rubric" }),
  pass: Schema.Boolean.annotations({ description: "Whether the output satisfies the rubric" }),
  score: Schema.Number.pipe(Schema.between(0, 1)).annotations({
    description: "How well the output satisfies the rubric, from 0 to 1"
  })
}) {}

/** The judge's instructions. */
export const judgeInstructions =
  "You grade the output of an AI system against a rubric. Read the rubric, then the output " +
  "(and the input and expected output when given). Decide whether the output satisfies the " +
  "rubric, give a score from 0 (not at all) to 1 (fully), and explain your decision briefly."

/** The agent that judges: structured output `JudgeVerdict`, no tools. */
export const judgeAgent = Agent.make({
  name: "llm-judge",
  instructions: judgeInstructions,
  output: ToolOutput.make(JudgeVerdict)
})

/** Options of `llmJudge`. */
export interface JudgeOptions {
  /** What a good output is, in words. */
  readonly rubric: string
  /** Default `LlmJudge`. */
  readonly name?: string
  /** Show the judge the case's inputs (default false). */
  readonly includeInput?: boolean
  /** Show the judge the case's expected output (default false; no effect when there is none). */
  readonly includeExpectedOutput?: boolean
  /**
   * Which results to report: the pass/fail assertion (named `name`), the 0–1 score (named
   * `name` when alone, else `${name}.score`), or both. Default `assertion`.
   */
  readonly report?: "assertion" | "score" | "both"
}

/** The judge's prompt for one case. */
export const judgePrompt = (
  options: JudgeOptions,
  context: Context<unknown, unknown, unknown>
): string => {
  const sections: Array<string> = []
  if (options.includeInput === true) sections.push(`<input>\n${display(context.inputs)}\n</input>`)
  sections.push(`<output>\n${display(context.output)}\n</output>`)
  if (options.includeExpectedOutput === true && context.expectedOutput !== undefined) {
    sections.push(`<expected_output>\n${display(context.expectedOutput)}\n</expected_output>`)
  }
  sections.push(`<rubric>\n${options.rubric}\n</rubric>`)
  return sections.join("\n")
}

/** Turns a verdict into the results `options.report` asks for. */
const verdictOutput = (options: JudgeOptions, name: string, verdict: JudgeVerdict): Output => {
  const assertion: Result = { value: verdict.pass, reason: verdict.reason }
  const score: Result = { value: verdict.score, reason: verdict.reason }
  switch (options.report ?? "assertion") {
    case "assertion":
      return assertion
    case "score":
      return score
    case "both":
      return { [name]: assertion, [`${name}.score`]: score }
  }
}

/**
 * LLM as a judge: asks a model whether the output satisfies `rubric`. The judge is an agentfx
 * agent with structured output `JudgeVerdict` (`{ reason, pass, score }`), so any agentfx
 * model works, including `FunctionModel` in tests. Without `model`, the judge uses the `Model`
 * service of the evaluation (the evaluator then requires `Model`).
 */
export function llmJudge(
  options: JudgeOptions & { readonly model: Model.Service | Layer.Layer<Model.Model> }
): Evaluator<unknown, unknown, unknown, AgentError.AgentError>
export function llmJudge(
  options: JudgeOptions
): Evaluator<unknown, unknown, unknown, AgentError.AgentError, Model.Model>
export function llmJudge(
  options: JudgeOptions & { readonly model?: Model.Service | Layer.Layer<Model.Model> }
): Evaluator<unknown, unknown, unknown, AgentError.AgentError, Model.Model> {
  const name = options.name ?? "LlmJudge"
  return {
    name,
    evaluate: (context) => {
      const prompt = judgePrompt(options, context)
      const run: Effect.Effect<
        Agent.AgentRunResult<JudgeVerdict>,
        AgentError.AgentError,
        Model.Model
      > = options.model === undefined
        ? judgeAgent.run(prompt)
        : judgeAgent.run(prompt, { model: options.model })
      return Effect.map(run, (result) => verdictOutput(options, name, result.output))
    }
  }
}
