/**
 * `UsageLimits.countTokensBeforeRequest`: before a model request, the request's input is
 * counted with the model's `countTokens` and checked against the token limits, so a request
 * that would exceed them is never sent (pydantic-ai's `count_tokens_before_request`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type ModelError, UserError } from "../AgentError.js"
import type { ModelMessage } from "../Messages.js"
import type * as Model from "../Model.js"
import type { ModelSettings } from "../ModelSettings.js"
import type { LimitViolation, RunUsage, UsageLimits } from "../Usage.js"

/**
 * The limit the counted request would exceed, if any. Nothing is counted unless the limits
 * ask for it; a model without `countTokens` is a `UserError` (the option cannot be honoured).
 */
export const countBeforeRequest = (
  limits: UsageLimits,
  model: Model.Service,
  usage: RunUsage,
  messages: ReadonlyArray<ModelMessage>,
  settings: ModelSettings,
  parameters: Model.ModelRequestParameters
): Effect.Effect<Option.Option<LimitViolation>, ModelError | UserError> => {
  if (limits.countTokensBeforeRequest !== true) return Effect.succeed(Option.none())
  const count = model.countTokens
  if (count === undefined) {
    return Effect.fail(
      new UserError({
        reason: `UsageLimits.countTokensBeforeRequest: the model '${model.modelName}' (${model.system}) cannot count tokens ahead of a request (it has no Model.countTokens)`
      })
    )
  }
  return Effect.map(count(messages, settings, parameters), (counted) =>
    limits.checkCountedRequest(usage, counted)
  )
}
