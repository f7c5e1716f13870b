/** Answers an MCP server's `sampling/createMessage` request with an agentfx model. */
import {
  ModelRequest,
  ModelResponse,
  type ModelMessage,
  type ModelRequestPart,
  type ModelResponsePart,
  SystemPromptPart,
  TextPart,
  ToolCallPart,
  ToolReturnPart,
  UserPromptPart,
  type UserContent
} from "@agentfx/core/Messages"
import type * as Model from "@agentfx/core/Model"
import { ModelRequestParameters } from "@agentfx/core/Model"
import { type ModelSettings, merge } from "@agentfx/core/ModelSettings"
import { ToolDefinition } from "@agentfx/core/Tool"
import type {
  ContentBlock,
  CreateMessageRequestParams,
  CreateMessageResult
} from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import { blockValue, userContent } from "../McpContent.js"

type Block = { readonly type: string } & Record<string, any>

const blocksOf = (content: unknown): ReadonlyArray<Block> =>
  (Array.isArray(content) ? content : [content]).filter(
    (b): b is Block => typeof b === "object" && b !== null && typeof (b as Block).type === "string"
  )

/** A tool result's content as a tool return value: one block as is, several as an array. */
const resultValue = (block: Block): unknown => {
  if (block.structuredContent !== undefined) return block.structuredContent
  const values = blocksOf(block.content).map((b) => blockValue(b as ContentBlock))
  return values.length === 1 ? values[0] : values
}

/**
 * The sampling messages as agentfx history: user turns (text, files, `tool_result`s) as
 * requests, assistant turns (text, `tool_use`s) as responses; the system prompt first.
 */
const historyOf = (params: CreateMessageRequestParams): Array<ModelMessage> => {
  const out: Array<ModelMessage> = []
  const names = new Map<string, string>()
  let parts: Array<ModelRequestPart> =
    params.systemPrompt !== undefined && params.systemPrompt !== ""
      ? [new SystemPromptPart({ content: params.systemPrompt })]
      : []
  const flush = () => {
    if (parts.length > 0) out.push(new ModelRequest({ parts }))
    parts = []
  }
  for (const message of params.messages) {
    const blocks = blocksOf(message.content)
    if (message.role === "assistant") {
      flush()
      const response: Array<ModelResponsePart> = []
      for (const b of blocks) {
        if (b.type === "tool_use") {
          names.set(b.id, b.name)
          response.push(
            new ToolCallPart({ toolName: b.name, toolCallId: b.id, args: b.input ?? {} })
          )
        } else if (b.type === "text") response.push(new TextPart({ content: b.text }))
      }
      out.push(new ModelResponse({ parts: response }))
      continue
    }
    const items: Array<UserContent> = []
    for (const b of blocks) {
      if (b.type === "tool_result") {
        const value = resultValue(b)
        parts.push(
          new ToolReturnPart({
            toolName: names.get(b.toolUseId) ?? "unknown",
            toolCallId: b.toolUseId,
            content: value,
            ...(b.isError === true ? { outcome: "failed" as const } : {})
          })
        )
      } else items.push(userContent(b as ContentBlock))
    }
    if (items.length > 0) {
      parts.push(
        new UserPromptPart({
          content: items.length === 1 && typeof items[0] === "string" ? (items[0] as string) : items
        })
      )
    }
  }
  flush()
  return out
}

/** The request's tools as function tools (none when `toolChoice.mode` is `none`). */
const parametersOf = (params: CreateMessageRequestParams): ModelRequestParameters => {
  const tools = params.toolChoice?.mode === "none" ? [] : (params.tools ?? [])
  if (tools.length === 0) return ModelRequestParameters.empty
  return new ModelRequestParameters({
    functionTools: tools.map(
      (t) =>
        new ToolDefinition({
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          parametersJsonSchema: t.inputSchema as Record<string, unknown>
        })
    ),
    allowTextOutput: params.toolChoice?.mode !== "required"
  })
}

/**
 * Sends the request's messages (with its system prompt, `maxTokens`, `temperature`,
 * `stopSequences` and tools) to `model` and answers with the response's text and tool calls
 * (`tool_use` blocks, `stopReason: "toolUse"`).
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
  return Effect.map(
    model.request(historyOf(params), merge(model.settings, settings), parametersOf(params)),
    (response): CreateMessageResult => {
      const content: Array<Block> = []
      for (const p of response.parts) {
        if (p._tag === "TextPart") content.push({ type: "text", text: p.content })
        else if (p._tag === "ToolCallPart") {
          content.push({
            type: "tool_use",
            id: p.toolCallId,
            name: p.toolName,
            input: p.argsAsObject()
          })
        }
      }
      const calls = content.some((b) => b.type === "tool_use")
      if (content.length === 0) content.push({ type: "text", text: "" })
      return {
        role: "assistant",
        content: (content.length === 1 && !calls ? content[0] : content) as any,
        model: response.modelName ?? model.modelName,
        stopReason: calls
          ? "toolUse"
          : response.finishReason === "length"
            ? "maxTokens"
            : response.finishReason === "stop" || response.finishReason === undefined
              ? "endTurn"
              : response.finishReason
      }
    }
  )
}
