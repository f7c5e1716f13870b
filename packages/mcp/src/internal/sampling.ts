/** Answers an MCP server's `sampling/createMessage` request with an agentfx model. */
import type * as Model from "@agentfx/core/Model"
import { ModelRequestParameters } from "@agentfx/core/Model"
import { type ModelSettings, merge } from "@agentfx/core/ModelSettings"
import type {
  CreateMessageRequestParams,
  CreateMessageResult
} from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import { messages, type Turn } from "../McpContent.js"

/**
 * Sends the request's messages (with its system prompt, `maxTokens`, `temperature` and
 * `stopSequences`) to `model` and answers with the response's text.
 */
export const sample = (
  model: Model.Service,
  params: CreateMessageRequestParams
): Effect.Effect<CreateMessageResult, unknown> => {
  const settings: ModelSettings = {
    maxTokens: params.maxTokens,
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.stopSequences !== undefined ? { stopSequences: params.stopSequences } : {})
  }
  const history = messages(params.messages as ReadonlyArray<Turn>, params.systemPrompt)
  return Effect.map(
    model.request(history, merge(model.settings, settings), ModelRequestParameters.empty),
    (response): CreateMessageResult => ({
      role: "assistant",
      content: { type: "text", text: response.text },
      model: response.modelName ?? model.modelName,
      stopReason:
        response.finishReason === "length"
          ? "maxTokens"
          : response.finishReason === "stop" || response.finishReason === undefined
            ? "endTurn"
            : response.finishReason
    })
  )
}
