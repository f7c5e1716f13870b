/**
 * @agentfx/evals — evaluate agents (or any Effect) on a data set: Schema-typed cases loaded
 * from YAML / JSON, evaluators (equality, contains, schema, duration, LLM judge, span checks,
 * your own Effects), concurrent runs with retries and timeouts, reports as text and JSON, and
 * diffs between two reports. Each module is exported as a namespace.
 *
 * @example
 * ```ts
 * import { Dataset, Evaluator, Report } from "@agentfx/evals"
 * import { Console, Effect, Schema } from "effect"
 *
 * const dataset = Dataset.make({
 *   inputs: Schema.String,
 *   output: Schema.String,
 *   cases: [{ name: "hi", inputs: "hi", expectedOutput: "HI" }],
 *   evaluators: [Evaluator.equalsExpected()]
 * })
 * const program = Effect.flatMap(
 *   Dataset.evaluate(dataset, (s) => Effect.succeed(s.toUpperCase())),
 *   (report) => Console.log(Report.render(report))
 * )
 * ```
 *
 * @since 0.1.0
 */
export * as Dataset from "./Dataset.js"
export * as EvalError from "./EvalError.js"
export * as Evaluator from "./Evaluator.js"
export * as Report from "./Report.js"
export * as SpanTree from "./SpanTree.js"
export * as TaskContext from "./TaskContext.js"
