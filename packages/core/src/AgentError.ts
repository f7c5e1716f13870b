/**
 * The typed errors of agentfx. Every error a run, a model or a tool can fail with is one of
 * these tagged classes, so callers can `Effect.catchTag("ModelHTTPError", …)`. Errors that end
 * a run carry the messages recorded so far in `messages`, so no conversation is lost.
 *
 * An interrupted run (`Effect.timeout`, `Fiber.interrupt`, a dropped stream) is not one of these
 * errors: it ends interrupted, as every Effect does, and `CaptureRunMessages` keeps the
 * messages recorded up to the interruption (pydantic-ai's `RunCancelled` carries them instead).
 *
 * @example
 * ```ts
 * agent.run("hi").pipe(
 *   Effect.catchTag("UsageLimitExceeded", (e) => Effect.succeed(e.messages))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { ModelMessage, ModelResponse, ValidationIssue } from "./Messages.js"
import { LimitName } from "./Usage.js"

const messages = Schema.optionalWith(Schema.Array(ModelMessage), { default: () => [] })
const opt = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })

const truncate = (s: string, n = 500) => (s.length > n ? `${s.slice(0, n)}…` : s)
const bodyText = (body: unknown): string =>
  body === undefined || body === null ? "" : typeof body === "string" ? body : JSON.stringify(body)

/** The provider answered with a non-2xx status. */
export class ModelHTTPError extends Schema.TaggedError<ModelHTTPError>()("ModelHTTPError", {
  status: Schema.Number,
  modelName: Schema.String,
  /** The provider's error body (parsed JSON when it was JSON). */
  body: opt(Schema.Unknown),
  /** From `Retry-After` (seconds or HTTP date), in milliseconds. */
  retryAfterMillis: opt(Schema.Number),
  /** How many times the provider's transport retries resent the request before giving up. */
  retries: opt(Schema.Number),
  /** How long those retries took, from the first failure to the last, in milliseconds. */
  retriedMillis: opt(Schema.Number),
  messages
}) {
  override get message(): string {
    const body = bodyText(this.body)
    const retried =
      this.retries === undefined || this.retries === 0
        ? ""
        : `; retried ${this.retries} time${this.retries === 1 ? "" : "s"} over ${((this.retriedMillis ?? 0) / 1000).toFixed(1)} s`
    return `HTTP ${this.status} (model: ${this.modelName}${retried})${body ? `, body: ${truncate(body)}` : ""}`
  }
  /** 429, 408, 409, 5xx (incl. Anthropic's 529 overloaded) are worth retrying. */
  get isRetryable(): boolean {
    return this.status === 429 || this.status === 408 || this.status === 409 || this.status >= 500
  }
}

/** The request never got an answer: connection refused or reset, DNS, timeout, a broken stream. */
export class ModelAPIError extends Schema.TaggedError<ModelAPIError>()("ModelAPIError", {
  modelName: Schema.String,
  reason: Schema.String,
  /**
   * Set when the request ran out of time: `"total"` (the `timeout` setting, whole request),
   * `"idle"` (the `idleTimeout` setting: no bytes of a stream for that long) or `"connect"`
   * (the transport could not open a connection in time). Absent for every other failure.
   */
  timeoutKind: opt(Schema.Literal("total", "idle", "connect")),
  /** What arrived of a streamed response before it broke. */
  partialResponse: opt(ModelResponse),
  cause: opt(Schema.Unknown),
  messages
}) {
  override get message(): string {
    return `${this.reason} (model: ${this.modelName})`
  }
}

/** The model did something the run cannot continue from (retries exhausted, malformed output…). */
export class UnexpectedModelBehavior extends Schema.TaggedError<UnexpectedModelBehavior>()(
  "UnexpectedModelBehavior",
  {
    reason: Schema.String,
    body: opt(Schema.String),
    partialResponse: opt(ModelResponse),
    messages
  }
) {
  override get message(): string {
    return this.body === undefined ? this.reason : `${this.reason}, body:\n${truncate(this.body)}`
  }
}

/** The provider refused or cut the response for content reasons. */
export class ContentFilterError extends Schema.TaggedError<ContentFilterError>()(
  "ContentFilterError",
  {
    reason: Schema.String,
    body: opt(Schema.String),
    messages
  }
) {
  override get message(): string {
    return this.reason
  }
}

/** A run limit was hit. `messages` holds everything recorded up to that point. */
export class UsageLimitExceeded extends Schema.TaggedError<UsageLimitExceeded>()(
  "UsageLimitExceeded",
  {
    limit: LimitName,
    limitValue: Schema.Number,
    value: Schema.Number,
    reason: Schema.String,
    messages
  }
) {
  override get message(): string {
    return this.reason
  }
}

/** The library was used wrongly (duplicate tool names, unknown model string, bad configuration). */
export class UserError extends Schema.TaggedError<UserError>()("UserError", {
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

/**
 * Raised by a tool, output function or validator to ask the model to try again. The message
 * (or the validation issues) go back to the model as a retry prompt, and the retry counts
 * against the tool's or the output's budget.
 */
export class ModelRetry extends Schema.TaggedError<ModelRetry>()("ModelRetry", {
  reason: Schema.String,
  issues: opt(Schema.Array(ValidationIssue))
}) {
  override get message(): string {
    return this.reason
  }
}

/**
 * Raised by a tool to report a terminal failure (pydantic-ai's `ToolFailed`): the model gets a
 * tool return with outcome `failed` and `reason` as its content (Anthropic marks it `is_error`),
 * no retry budget is spent, the call does not count as a successful tool call, and the run
 * continues. Use it for failures the model should know about but cannot fix by retrying.
 */
export class ToolFailed extends Schema.TaggedError<ToolFailed>()("ToolFailed", {
  reason: Schema.String,
  /** Stored on the `ToolReturnPart` for the application; never sent to the model. */
  metadata: opt(Schema.Unknown)
}) {
  override get message(): string {
    return this.reason
  }
}

/**
 * A run (or a model request) could not start: its concurrency limit has `maxRunning` going and
 * `maxQueued` more already waiting (pydantic-ai's `ConcurrencyLimitExceeded`).
 */
export class ConcurrencyLimitExceeded extends Schema.TaggedError<ConcurrencyLimitExceeded>()(
  "ConcurrencyLimitExceeded",
  {
    maxRunning: Schema.Number,
    maxQueued: Schema.Number,
    reason: Schema.String
  }
) {
  override get message(): string {
    return this.reason
  }
}

/** What a `Model` can fail with. */
export type ModelError =
  | ModelHTTPError
  | ModelAPIError
  | UnexpectedModelBehavior
  | ContentFilterError
  | UserError
  | ConcurrencyLimitExceeded

/** Is this value one of the `ModelError`s? */
export const isModelError = (u: unknown): u is ModelError =>
  u instanceof ModelHTTPError ||
  u instanceof ModelAPIError ||
  u instanceof UnexpectedModelBehavior ||
  u instanceof ContentFilterError ||
  u instanceof UserError ||
  u instanceof ConcurrencyLimitExceeded

/** What an agent run can fail with (besides the tools' own typed errors). */
export type AgentError =
  | ModelHTTPError
  | ModelAPIError
  | UnexpectedModelBehavior
  | ContentFilterError
  | UsageLimitExceeded
  | UserError
  | ConcurrencyLimitExceeded

/** Returns the error with `messages` set, for errors that carry the conversation. */
export const withMessages = <E>(error: E, msgs: ReadonlyArray<ModelMessage>): E => {
  const e = error as any
  if (e !== null && typeof e === "object" && "messages" in e && typeof e._tag === "string") {
    switch (e._tag) {
      case "ModelHTTPError":
        return new ModelHTTPError({ ...e, messages: msgs }) as E
      case "ModelAPIError":
        // `cause` is not enumerable on errors: copy it explicitly or the spread drops it.
        return new ModelAPIError({
          ...e,
          ...(e.cause !== undefined ? { cause: e.cause } : {}),
          messages: msgs
        }) as E
      case "UnexpectedModelBehavior":
        return new UnexpectedModelBehavior({ ...e, messages: msgs }) as E
      case "ContentFilterError":
        return new ContentFilterError({ ...e, messages: msgs }) as E
      case "UsageLimitExceeded":
        return new UsageLimitExceeded({ ...e, messages: msgs }) as E
    }
  }
  return error
}
