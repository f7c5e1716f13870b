/**
 * A rough, deterministic token estimate for the test models (`TestModel`, `FunctionModel`),
 * following pydantic-ai's `_estimate_usage`: 50 tokens of request overhead plus word counts.
 * Only meant to give plausible, stable numbers in tests.
 *
 * @internal
 */
import type { ModelMessage, ModelResponsePart, UserContent } from "../Messages.js"
import { RequestUsage } from "../Usage.js"
import { makeRequestUsage } from "./makers.js"

const TOKEN_SPLIT = /[\s",.:]+/

/** Words in a string (split on whitespace, `"`, `,`, `.`, `:`); binary content counts its bytes. */
export const estimateStringTokens = (content: string | ReadonlyArray<UserContent>): number => {
  if (content.length === 0) return 0
  if (typeof content === "string") return content.trim().split(TOKEN_SPLIT).length
  let tokens = 0
  for (const item of content) {
    if (typeof item === "string") tokens += item.trim().split(TOKEN_SPLIT).length
    else if (item._tag === "TextContent") tokens += item.content.trim().split(TOKEN_SPLIT).length
    else if (item._tag === "BinaryContent") tokens += item.data.length
  }
  return tokens
}

/** Output tokens of response parts: words of text/thinking, `1 + words(args JSON)` per tool call, a file's bytes. */
export const estimateResponseTokens = (parts: ReadonlyArray<ModelResponsePart>): number => {
  let tokens = 0
  for (const part of parts) {
    switch (part._tag) {
      case "TextPart":
      case "ThinkingPart":
        tokens += estimateStringTokens(part.content)
        break
      case "ToolCallPart":
        tokens += 1 + estimateStringTokens(part.argsAsJson())
        break
      case "FilePart":
        tokens += part.content.data.length
        break
    }
  }
  return tokens
}

/** The estimated usage of a conversation: requests count as input, responses as output. */
export const estimateUsage = (messages: Iterable<ModelMessage>): RequestUsage => {
  let inputTokens = 50
  let outputTokens = 0
  for (const message of messages) {
    if (message._tag === "ModelRequest") {
      for (const part of message.parts) {
        switch (part._tag) {
          case "SystemPromptPart":
          case "UserPromptPart":
            inputTokens += estimateStringTokens(part.content)
            break
          case "ToolReturnPart":
            inputTokens += estimateStringTokens(part.contentText)
            break
          case "RetryPromptPart":
            inputTokens += estimateStringTokens(part.modelResponse)
            break
        }
      }
    } else {
      outputTokens += estimateResponseTokens(message.parts)
    }
  }
  return makeRequestUsage({ inputTokens, outputTokens })
}

/** Does a usage carry any number (a model-reported usage we should keep)? */
export const hasValues = (usage: RequestUsage): boolean =>
  usage.inputTokens > 0 ||
  usage.outputTokens > 0 ||
  usage.cacheReadTokens > 0 ||
  usage.cacheWriteTokens > 0 ||
  usage.inputAudioTokens > 0 ||
  usage.outputAudioTokens > 0 ||
  Object.keys(usage.details).length > 0
