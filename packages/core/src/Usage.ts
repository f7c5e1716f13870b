/**
 * Token and request accounting: the usage of one request, the usage of a run, and the
 * limits a run must stay within.
 *
 * @example
 * ```ts
 * import { Usage } from "@agentfx/core"
 * const limits = Usage.UsageLimits.make({ requestLimit: 5, totalTokensLimit: 10_000 })
 * ```
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { unvalidated } from "./internal/construct.js"

const count = Schema.optionalWith(Schema.Number, { default: () => 0 })
const details = Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Number }), {
  default: () => ({})
})

const addDetails = (
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>
): Record<string, number> => {
  const out: Record<string, number> = { ...a }
  for (const k in b) out[k] = (out[k] ?? 0) + b[k]!
  return out
}

/** The token counts shared by request and run usage, and the price when known. */
const tokenFields = {
  inputTokens: count,
  outputTokens: count,
  cacheReadTokens: count,
  cacheWriteTokens: count,
  inputAudioTokens: count,
  outputAudioTokens: count,
  details,
  /**
   * The price in US dollars, when a `Cost` pricing is installed and knows the model (see the
   * `Cost` module); `undefined` otherwise.
   */
  cost: Schema.optionalWith(Schema.Number, { exact: true })
}

type Tokens = {
  readonly inputTokens: number
  readonly outputTokens: number
  readonly cacheReadTokens: number
  readonly cacheWriteTokens: number
  readonly inputAudioTokens: number
  readonly outputAudioTokens: number
  readonly details: Readonly<Record<string, number>>
  readonly cost?: number
}

/**
 * Sum of two prices: a known price plus an unknown one is the known one (so a run's cost is
 * the sum of the prices that are known); both unknown stays unknown.
 */
const sumCost = (a: number | undefined, b: number | undefined): { cost?: number } =>
  a === undefined ? (b === undefined ? {} : { cost: b }) : { cost: b === undefined ? a : a + b }

/** Field-wise sum of the token counts (and prices) of `a` and `b`. */
const sumTokens = (a: Tokens, b: Tokens): Tokens => ({
  inputTokens: a.inputTokens + b.inputTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  inputAudioTokens: a.inputAudioTokens + b.inputAudioTokens,
  outputAudioTokens: a.outputAudioTokens + b.outputAudioTokens,
  details: addDetails(a.details, b.details),
  ...sumCost(a.cost, b.cost)
})

/**
 * The usage of one model request. `inputTokens` includes cached tokens; `details` holds
 * provider extras such as `reasoning_tokens`.
 */
export class RequestUsage extends Schema.Class<RequestUsage>("RequestUsage")(tokenFields) {
  static readonly empty: RequestUsage = new RequestUsage({})
  get totalTokens(): number {
    return this.inputTokens + this.outputTokens
  }
  /** Sum of two usages. */
  add(that: RequestUsage): RequestUsage {
    return makeRequestUsage(sumTokens(this, that))
  }
}

/** The usage of a whole run (or several runs sharing one budget). */
export class RunUsage extends Schema.Class<RunUsage>("RunUsage")({
  requests: count,
  toolCalls: count,
  ...tokenFields
}) {
  static readonly empty: RunUsage = new RunUsage({})
  get totalTokens(): number {
    return this.inputTokens + this.outputTokens
  }
  /** This usage plus one request's usage (counts one request). */
  addRequest(usage: RequestUsage): RunUsage {
    return makeRunUsage({
      requests: this.requests + 1,
      toolCalls: this.toolCalls,
      ...sumTokens(this, usage)
    })
  }
  /** This usage plus `n` successful tool calls. */
  addToolCalls(n: number): RunUsage {
    return makeRunUsage.copy(this, { toolCalls: this.toolCalls + n })
  }
  /** Sum of two run usages. */
  add(that: RunUsage): RunUsage {
    return makeRunUsage({
      requests: this.requests + that.requests,
      toolCalls: this.toolCalls + that.toolCalls,
      ...sumTokens(this, that)
    })
  }
}

// Usage is summed once per request and tool step: without the Schema constructor's work.
const makeRequestUsage = unvalidated(RequestUsage)
const makeRunUsage = unvalidated(RunUsage)

/** Which limit a run hit. */
export const LimitName = Schema.Literal(
  "requestLimit",
  "toolCallsLimit",
  "inputTokensLimit",
  "outputTokensLimit",
  "totalTokensLimit",
  "perRequestInputTokensLimit",
  "costLimit"
)
/** Which limit was hit: names the field of `UsageLimits`. */
export type LimitName = typeof LimitName.Type

/** A limit that was (or would be) exceeded. */
export interface LimitViolation {
  readonly limit: LimitName
  readonly limitValue: number
  readonly value: number
  readonly message: string
}

const opt = Schema.optionalWith(Schema.Number, { exact: true })

/** The message of a token limit exceeded by the run so far. */
const exceeded = (what: string, limitValue: number, value: number): string =>
  `Exceeded the ${what}_limit of ${limitValue} (${what}=${value})`

/** The violation of `limit` when `value` is over its set `limitValue`, with `message`. */
const over = (
  limit: LimitName,
  limitValue: number | undefined,
  value: number,
  what: string,
  message: (what: string, limitValue: number, value: number) => string
): Option.Option<LimitViolation> =>
  limitValue !== undefined && value > limitValue
    ? Option.some({ limit, limitValue, value, message: message(what, limitValue, value) })
    : Option.none()

/**
 * Limits for a run. `requestLimit` defaults to 50; the others are off unless set.
 * A limit of N allows exactly N requests / tool calls / tokens.
 */
export class UsageLimits extends Schema.Class<UsageLimits>("UsageLimits")({
  requestLimit: Schema.optionalWith(Schema.NullOr(Schema.Number), { default: () => 50 }),
  toolCallsLimit: opt,
  inputTokensLimit: opt,
  outputTokensLimit: opt,
  totalTokensLimit: opt,
  /** Input tokens allowed in any single request (checked after each response). */
  perRequestInputTokensLimit: opt,
  /**
   * US dollars the run may spend (`RunUsage.cost`). Checked before each request (spent so far
   * plus a lower bound of the request's price: its input is at least the previous request's
   * input and response) and after each response.
   * Setting it turns pricing on for the run (the bundled `@pydantic/genai-prices` data unless
   * a `Cost` pricing is installed); requests whose price is unknown add nothing.
   */
  costLimit: opt,
  /**
   * Before each model request, count the request's input tokens with the model's
   * `countTokens` (one extra provider call per request) and fail with `UsageLimitExceeded`
   * before sending when the count would exceed `inputTokensLimit` or `totalTokensLimit`.
   * A model that cannot count fails the run with a `UserError`. Off by default
   * (pydantic-ai's `count_tokens_before_request`).
   */
  countTokensBeforeRequest: Schema.optionalWith(Schema.Boolean, { exact: true })
}) {
  static readonly default: UsageLimits = new UsageLimits({})

  /** Checked before a request: would one more request exceed a limit, or are tokens already over? */
  checkBeforeRequest(usage: RunUsage): Option.Option<LimitViolation> {
    if (this.requestLimit !== null && usage.requests >= this.requestLimit) {
      return Option.some({
        limit: "requestLimit",
        limitValue: this.requestLimit,
        value: usage.requests + 1,
        message: `The next request would exceed the request_limit of ${this.requestLimit}`
      })
    }
    if (this.costLimit !== undefined && usage.cost !== undefined && usage.cost >= this.costLimit) {
      return Option.some({
        limit: "costLimit",
        limitValue: this.costLimit,
        value: usage.cost,
        message: `The next request would exceed the cost_limit of $${this.costLimit} (cost=$${usage.cost} already spent)`
      })
    }
    return this.checkTokens(usage)
  }

  /**
   * Checked before a request whose input was counted (`countTokensBeforeRequest`): the run's
   * tokens so far plus the counted input, against `inputTokensLimit` and `totalTokensLimit`.
   */
  checkCountedRequest(usage: RunUsage, counted: RequestUsage): Option.Option<LimitViolation> {
    const next = (what: string, limitValue: number, value: number) =>
      `The next request would exceed the ${what}_limit of ${limitValue} (${what}=${value})`
    const input = usage.inputTokens + counted.inputTokens
    const total = usage.totalTokens + counted.totalTokens
    return over("inputTokensLimit", this.inputTokensLimit, input, "input_tokens", next).pipe(
      Option.orElse(() =>
        over("totalTokensLimit", this.totalTokensLimit, total, "total_tokens", next)
      )
    )
  }

  /** Checked after a response: tokens (and cost) so far. */
  checkTokens(usage: RunUsage): Option.Option<LimitViolation> {
    // no token or cost limit (the default): nothing to build per response
    if (
      this.inputTokensLimit === undefined &&
      this.outputTokensLimit === undefined &&
      this.totalTokensLimit === undefined &&
      this.costLimit === undefined
    )
      return Option.none()
    const check = (limit: LimitName, limitValue: number | undefined, value: number, what: string) =>
      over(limit, limitValue, value, what, exceeded)
    return check("inputTokensLimit", this.inputTokensLimit, usage.inputTokens, "input_tokens").pipe(
      Option.orElse(() =>
        check("outputTokensLimit", this.outputTokensLimit, usage.outputTokens, "output_tokens")
      ),
      Option.orElse(() =>
        check("totalTokensLimit", this.totalTokensLimit, usage.totalTokens, "total_tokens")
      ),
      Option.orElse(() =>
        this.costLimit !== undefined && usage.cost !== undefined && usage.cost > this.costLimit
          ? Option.some<LimitViolation>({
              limit: "costLimit",
              limitValue: this.costLimit,
              value: usage.cost,
              message: `Exceeded the cost_limit of $${this.costLimit} (cost=$${usage.cost})`
            })
          : Option.none()
      )
    )
  }

  /**
   * Checked after a response: the run's tokens so far (`checkTokens`), then the input tokens
   * of that one request against `perRequestInputTokensLimit`.
   */
  checkAfterResponse(usage: RunUsage, request: RequestUsage): Option.Option<LimitViolation> {
    const run = this.checkTokens(usage)
    if (Option.isSome(run) || this.perRequestInputTokensLimit === undefined) return run
    return request.inputTokens > this.perRequestInputTokensLimit
      ? Option.some({
          limit: "perRequestInputTokensLimit",
          limitValue: this.perRequestInputTokensLimit,
          value: request.inputTokens,
          message: `Exceeded the per_request_input_tokens_limit of ${this.perRequestInputTokensLimit} (input_tokens=${request.inputTokens})`
        })
      : Option.none()
  }

  /** Checked before a batch of tool calls: would `projected` more calls exceed the limit? */
  checkToolCalls(usage: RunUsage, projected: number): Option.Option<LimitViolation> {
    if (this.toolCallsLimit !== undefined && usage.toolCalls + projected > this.toolCallsLimit) {
      return Option.some({
        limit: "toolCallsLimit",
        limitValue: this.toolCallsLimit,
        value: usage.toolCalls + projected,
        message: `The next tool call(s) would exceed the tool_calls_limit of ${this.toolCallsLimit} (tool_calls=${usage.toolCalls + projected})`
      })
    }
    return Option.none()
  }
}
