/**
 * Scripted models: a `FunctionModel` driven by a small script that reads the request (the
 * prompt, the tools offered, the tool returns and retry prompts so far) and answers like a
 * plausible model would. The agent loop around it is the real one: tools run, arguments and
 * outputs are validated, validators can send it back with a retry prompt.
 *
 * A script is written once, for non-streamed requests; the streamed form is derived from it
 * (text split into words, tool-call arguments into small JSON fragments), so `run`,
 * `runStream` and `streamOutput` all work.
 */
import { FunctionModel, Messages } from "@agentfx/core"
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import type { Scripted } from "./pickModel.js"

/** A script: what the model answers to this request. */
export type Script = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  info: FunctionModel.AgentInfo
) => FunctionModel.FunctionResult

/** Options of `make`. */
export interface Options {
  /** Pause between streamed fragments, to make streaming visible (default none). */
  readonly delay?: Duration.DurationInput
  /** Characters per streamed fragment of tool-call arguments (default 12). */
  readonly argsChunk?: number
}

/** Splits text into word-sized fragments, keeping the whitespace. */
export const words = (text: string): Array<string> => text.match(/\s*\S+\s*/g) ?? [text]

/** The streamed form of a response, as `FunctionModel` stream items. */
export const toStreamItems = (
  response: Messages.ModelResponse,
  argsChunk = 12
): Array<FunctionModel.StreamItem> => {
  const items: Array<FunctionModel.StreamItem> = []
  let toolIndex = 0
  for (const part of response.parts) {
    if (part._tag === "TextPart") {
      items.push(...words(part.content))
    } else if (part._tag === "ToolCallPart") {
      const index = toolIndex++
      const args = typeof part.args === "string" ? part.args : JSON.stringify(part.args)
      const pieces = args.match(new RegExp(`[\\s\\S]{1,${argsChunk}}`, "g")) ?? [""]
      pieces.forEach((jsonArgs, i) => {
        items.push({
          [index]:
            i === 0 ? { name: part.toolName, toolCallId: part.toolCallId, jsonArgs } : { jsonArgs }
        })
      })
    }
  }
  return items
}

/** A scripted model for the examples (`model: scripted (<name>)`). */
export const make = (name: string, script: Script, options: Options = {}): Scripted => {
  const respond = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    info: FunctionModel.AgentInfo
  ): Messages.ModelResponse => {
    const r = script(messages, info)
    return typeof r === "string" ? FunctionModel.text(r) : r
  }
  return {
    name,
    layer: FunctionModel.layer(respond, {
      modelName: `scripted:${name}`,
      stream: (messages, info) => {
        const items = Stream.fromIterable(toStreamItems(respond(messages, info), options.argsChunk))
        return options.delay === undefined
          ? Stream.rechunk(items, 1)
          : Stream.schedule(items, Schedule.spaced(options.delay))
      }
    })
  }
}

// ---------------------------------------------------------------------------
// Reading the conversation
// ---------------------------------------------------------------------------

/** The text of every user prompt, oldest first. */
export const userPrompts = (messages: ReadonlyArray<Messages.ModelMessage>): Array<string> =>
  messages.flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.flatMap((p) =>
          p._tag === "UserPromptPart"
            ? [
                typeof p.content === "string"
                  ? p.content
                  : p.content.map((c) => (typeof c === "string" ? c : "")).join("")
              ]
            : []
        )
      : []
  )

/** The latest user prompt ("" if none). */
export const lastPrompt = (messages: ReadonlyArray<Messages.ModelMessage>): string =>
  userPrompts(messages).at(-1) ?? ""

/** The messages since the latest user prompt: the current turn. */
export const currentTurn = (
  messages: ReadonlyArray<Messages.ModelMessage>
): ReadonlyArray<Messages.ModelMessage> => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "UserPromptPart")) {
      return messages.slice(i)
    }
  }
  return messages
}

/** The tool returns received in the current turn, by tool name. */
export const toolReturns = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  toolName?: string
): Array<Messages.ToolReturnPart> =>
  currentTurn(messages).flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter(
          (p): p is Messages.ToolReturnPart =>
            p._tag === "ToolReturnPart" && (toolName === undefined || p.toolName === toolName)
        )
      : []
  )

/** The retry prompts received in the current turn. */
export const retryPrompts = (
  messages: ReadonlyArray<Messages.ModelMessage>
): Array<Messages.RetryPromptPart> =>
  currentTurn(messages).flatMap((m) =>
    m._tag === "ModelRequest"
      ? m.parts.filter((p): p is Messages.RetryPromptPart => p._tag === "RetryPromptPart")
      : []
  )

/** The name of the output tool to call (the one whose name contains `hint`, else the first). */
export const outputTool = (info: FunctionModel.AgentInfo, hint?: string): string => {
  const tools = info.outputTools
  const found = hint === undefined ? undefined : tools.find((t) => t.name.includes(hint))
  return (found ?? tools[0])?.name ?? "final_result"
}
