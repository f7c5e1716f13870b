/**
 * The makers of core's message classes (`Messages.unvalidated`, `construct.ts`): one per class,
 * shared by the modules that build messages on a run's path.
 *
 * @internal
 */
import { ModelRequestParameters } from "../Model.js"
import {
  BuiltinToolCallPart,
  ModelRequest,
  ModelResponse,
  PartEndEvent,
  PartStartEvent,
  ResponseCompleteEvent,
  RetryPromptPart,
  SystemPromptPart,
  TextPart,
  ThinkingPart,
  ToolCallPart,
  ToolReturnPart,
  UserPromptPart
} from "../Messages.js"
import { ToolDefinition } from "../Tool.js"
import { RequestUsage } from "../Usage.js"
import { unvalidated } from "./construct.js"

export const makeBuiltinToolCallPart = unvalidated(BuiltinToolCallPart)
export const makeModelRequest = unvalidated(ModelRequest)
export const makeModelResponse = unvalidated(ModelResponse)
export const makePartEndEvent = unvalidated(PartEndEvent)
export const makePartStartEvent = unvalidated(PartStartEvent)
export const makeResponseCompleteEvent = unvalidated(ResponseCompleteEvent)
export const makeRetryPromptPart = unvalidated(RetryPromptPart)
export const makeSystemPromptPart = unvalidated(SystemPromptPart)
export const makeTextPart = unvalidated(TextPart)
export const makeThinkingPart = unvalidated(ThinkingPart)
export const makeToolCallPart = unvalidated(ToolCallPart)
export const makeToolReturnPart = unvalidated(ToolReturnPart)
export const makeUserPromptPart = unvalidated(UserPromptPart)
export const makeRequestUsage = unvalidated(RequestUsage)
export const makeModelRequestParameters = unvalidated(ModelRequestParameters)
export const makeToolDefinition = unvalidated(ToolDefinition)
