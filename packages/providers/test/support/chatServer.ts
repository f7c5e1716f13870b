/** A loopback server answering every request with one fixed Chat Completions reply. */
import { loopbackServer } from "./replay.js"

/** Options of `chatCompletionServer`. */
export interface ChatReplyOptions {
  readonly finishReason?: string
  /** Sent as the response's `model` when given. */
  readonly model?: string
}

/** A chat completion choice that calls one function tool. */
export const toolCallChoice = (id: string, name: string, args: string) => ({
  index: 0,
  finish_reason: "tool_calls",
  message: {
    role: "assistant",
    content: null,
    tool_calls: [{ id, type: "function", function: { name, arguments: args } }]
  }
})

/** The JSON body of a one-choice, text-only chat completion. */
export const chatCompletionBody = (content: string, options: ChatReplyOptions = {}): string =>
  JSON.stringify({
    id: "x",
    ...(options.model !== undefined ? { model: options.model } : {}),
    choices: [
      {
        index: 0,
        finish_reason: options.finishReason ?? "stop",
        message: { role: "assistant", content }
      }
    ]
  })

/** A loopback server replying 200 with `chatCompletionBody(content, options)` to every request. */
export const chatCompletionServer = (content: string, options: ChatReplyOptions = {}) =>
  loopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(chatCompletionBody(content, options))
  })
