import { Messages, Model, RunContext, TestModel, Usage } from "@agentfx/core"
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

/** A RunContext for calling specs directly, outside a run. */
export const context = (
  overrides: Partial<RunContext.Service> = {}
): Layer.Layer<RunContext.RunContext> =>
  Layer.succeed(RunContext.RunContext, {
    runId: "run",
    agentName: undefined,
    model: undefined as unknown as Model.Service,
    prompt: "hi",
    messages: [],
    usage: new Usage.RunUsage(),
    usageLimits: new Usage.UsageLimits(),
    modelSettings: {},
    runStep: 1,
    retry: 0,
    maxRetries: 1,
    toolName: undefined,
    toolCallId: undefined,
    partialOutput: false,
    ...overrides
  } as RunContext.Service)

export const call = (toolName: string, args: Messages.ToolArgs, toolCallId = "call_1") =>
  new Messages.ToolCallPart({ toolName, args, toolCallId })

/** Runs an effect needing a RunContext and returns Either. */
export const attempt = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.either(effect).pipe(Effect.provide(context() as Layer.Layer<any>)) as Effect.Effect<
    Either.Either<A, E>
  >

/** The text the model would see for a ModelRetry from output decoding. */
export const retryText = (
  e: { reason: string; issues?: ReadonlyArray<Messages.ValidationIssue> | undefined },
  toolName?: string
) =>
  new Messages.RetryPromptPart({
    content: e.issues ?? e.reason,
    ...(toolName !== undefined ? { toolName } : {})
  }).modelResponse

/** A two-field class used as an output target. */
export class Fruit extends Schema.Class<Fruit>("Fruit")({
  name: Schema.String,
  color: Schema.String
}) {}

/** A second class target, for unions. */
export class Vehicle extends Schema.Class<Vehicle>("Vehicle")({
  name: Schema.String,
  wheels: Schema.Number
}) {}

/**
 * The parameters of the test model's last request, checked to ask for tool output with only
 * `final_result` (no text output).
 */
export const toolOutputParameters = Effect.gen(function* () {
  const test = yield* TestModel.TestModel
  const params = (yield* test.lastRequest).parameters
  assert.strictEqual(params.outputMode, "tool")
  assert.isFalse(params.allowTextOutput)
  assert.deepStrictEqual(
    params.outputTools.map((t) => t.name),
    ["final_result"]
  )
  return params
})
