/**
 * The provider families of the fault matrix, each as a model layer over a loopback base URL
 * and the wire bodies a case needs (a text answer, a tool call, a stream in pieces, an `error`
 * event, a malformed event). The bodies are the minimal shapes each decoder reads.
 */
import type { ModelSettings } from "@agentfx/core"
import type * as Model from "@agentfx/core/Model"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Anthropic from "../../src/Anthropic.js"
import * as AnthropicClient from "../../src/AnthropicClient.js"
import * as Cohere from "../../src/Cohere.js"
import * as Google from "../../src/Google.js"
import * as GoogleClient from "../../src/GoogleClient.js"
import * as Mistral from "../../src/Mistral.js"
import * as OpenAiChat from "../../src/OpenAiChat.js"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiResponses from "../../src/OpenAiResponses.js"
import type * as Http from "../../src/internal/http.js"
import { sseEvent as ev } from "../support/replay.js"
import { toolCallChoice } from "../support/chatServer.js"

/** The key every family is configured with (long enough for masked forms to be recognised). */
export const apiKey = "sk-proj-Zq8XkP3mLr7TnB2vWc9YhF4sJd6GaQ1e"

/** One provider family of the matrix. */
export interface Family {
  readonly name: string
  readonly layer: (
    baseUrl: string,
    options?: {
      readonly retry?: Partial<Http.RetryPolicy> | false
      readonly settings?: ModelSettings.ModelSettings
    }
  ) => Layer.Layer<Model.Model>
  /** A complete JSON answer whose text is "Hello". */
  readonly textJson: unknown
  /** A complete JSON answer calling the tool `wait` with `{}`. */
  readonly toolJson: unknown
  /** The SSE events of a stream: its start, one text delta, and its terminal events. */
  readonly streamStart: string
  readonly delta: (text: string) => string
  readonly streamEnd: string
  /** A provider `error` event. */
  readonly errorEvent: string
}

const chatDelta = (text: string) =>
  `data: ${JSON.stringify({ id: "c1", choices: [{ index: 0, delta: { content: text } }] })}\n\n`

const openAiClient = (baseUrl: string, retry: Partial<Http.RetryPolicy> | false | undefined) =>
  OpenAiClient.layer({
    baseUrl: `${baseUrl}/v1`,
    apiKey: Redacted.make(apiKey),
    retry: retry ?? false
  })

export const openAiChat: Family = {
  name: "OpenAI Chat",
  layer: (baseUrl, o = {}) =>
    OpenAiChat.model("gpt-4o", o.settings !== undefined ? { settings: o.settings } : {}).pipe(
      Layer.provide(openAiClient(baseUrl, o.retry)),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    id: "c1",
    choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hello" } }]
  },
  toolJson: { id: "c1", choices: [toolCallChoice("call_1", "wait", "{}")] },
  streamStart: "",
  delta: chatDelta,
  streamEnd: `data: ${JSON.stringify({ id: "c1", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\ndata: [DONE]\n\n`,
  errorEvent: `data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n`
}

const responsesMessage = {
  type: "message",
  id: "msg_1",
  role: "assistant",
  content: [{ type: "output_text", text: "Hello" }]
}

export const openAiResponses: Family = {
  name: "OpenAI Responses",
  layer: (baseUrl, o = {}) =>
    OpenAiResponses.model("gpt-5", o.settings !== undefined ? { settings: o.settings } : {}).pipe(
      Layer.provide(openAiClient(baseUrl, o.retry)),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    id: "resp_1",
    model: "gpt-5",
    status: "completed",
    output: [responsesMessage],
    usage: { input_tokens: 1, output_tokens: 1 }
  },
  toolJson: {
    id: "resp_1",
    model: "gpt-5",
    status: "completed",
    output: [
      { type: "function_call", id: "fc_1", call_id: "call_1", name: "wait", arguments: "{}" }
    ],
    usage: { input_tokens: 1, output_tokens: 1 }
  },
  streamStart: ev("response.created", {
    response: { id: "resp_1", model: "gpt-5", status: "in_progress" }
  }),
  delta: (text) =>
    ev("response.output_text.delta", { item_id: "msg_1", content_index: 0, delta: text }),
  streamEnd: ev("response.completed", {
    response: { id: "resp_1", model: "gpt-5", status: "completed", output: [] }
  }),
  errorEvent: ev("error", { code: "server_error", message: "overloaded" })
}

export const anthropic: Family = {
  name: "Anthropic",
  layer: (baseUrl, o = {}) =>
    Anthropic.model("claude-x", o.settings !== undefined ? { settings: o.settings } : {}).pipe(
      Layer.provide(
        AnthropicClient.layer({ baseUrl, apiKey: Redacted.make(apiKey), retry: o.retry ?? false })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-x",
    content: [{ type: "text", text: "Hello" }],
    stop_reason: "end_turn",
    usage: { input_tokens: 1, output_tokens: 1 }
  },
  toolJson: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-x",
    content: [{ type: "tool_use", id: "toolu_1", name: "wait", input: {} }],
    stop_reason: "tool_use",
    usage: { input_tokens: 1, output_tokens: 1 }
  },
  streamStart:
    ev("message_start", {
      message: { id: "msg_1", model: "claude-x", usage: { input_tokens: 1, output_tokens: 1 } }
    }) + ev("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
  delta: (text) => ev("content_block_delta", { index: 0, delta: { type: "text_delta", text } }),
  streamEnd:
    ev("content_block_stop", { index: 0 }) +
    ev("message_delta", { delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } }) +
    ev("message_stop", {}),
  errorEvent: ev("error", { error: { type: "overloaded_error", message: "Overloaded" } })
}

const geminiChunk = (parts: Array<unknown>, finishReason?: string) =>
  `data: ${JSON.stringify({
    candidates: [{ content: { role: "model", parts }, ...(finishReason ? { finishReason } : {}) }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1 }
  })}\n\n`

export const gemini: Family = {
  name: "Gemini",
  layer: (baseUrl, o = {}) =>
    Google.model("gemini-2.5-flash", o.settings !== undefined ? { settings: o.settings } : {}).pipe(
      Layer.provide(
        GoogleClient.layer({ apiKey: Redacted.make(apiKey), baseUrl, retry: o.retry ?? false })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    candidates: [{ content: { role: "model", parts: [{ text: "Hello" }] }, finishReason: "STOP" }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1 }
  },
  toolJson: {
    candidates: [
      {
        content: { role: "model", parts: [{ functionCall: { name: "wait", args: {} } }] },
        finishReason: "STOP"
      }
    ],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1 }
  },
  streamStart: "",
  delta: (text) => geminiChunk([{ text }]),
  streamEnd: geminiChunk([{ text: "" }], "STOP"),
  errorEvent: `data: ${JSON.stringify({ error: { code: 503, message: "overloaded", status: "UNAVAILABLE" } })}\n\n`
}

export const mistral: Family = {
  name: "Mistral",
  layer: (baseUrl, o = {}) =>
    Mistral.model(
      "mistral-large-latest",
      o.settings !== undefined ? { settings: o.settings } : {}
    ).pipe(
      Layer.provide(
        Mistral.layer({
          baseUrl: `${baseUrl}/v1`,
          apiKey: Redacted.make(apiKey),
          retry: o.retry ?? false
        })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    id: "m1",
    model: "mistral-large-latest",
    choices: [
      { index: 0, finish_reason: "stop", message: { role: "assistant", content: "Hello" } }
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1 }
  },
  toolJson: {
    id: "m1",
    model: "mistral-large-latest",
    choices: [
      {
        index: 0,
        finish_reason: "tool_calls",
        message: {
          role: "assistant",
          content: "",
          tool_calls: [{ id: "abcDEF123", function: { name: "wait", arguments: "{}" }, index: 0 }]
        }
      }
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1 }
  },
  streamStart: "",
  delta: chatDelta,
  streamEnd: `data: ${JSON.stringify({ id: "m1", choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 2 } })}\n\ndata: [DONE]\n\n`,
  errorEvent: `data: ${JSON.stringify({ object: "error", message: "Service overloaded", type: "internal_server_error" })}\n\n`
}

export const cohere: Family = {
  name: "Cohere",
  layer: (baseUrl, o = {}) =>
    Cohere.model(
      "command-a-03-2025",
      o.settings !== undefined ? { settings: o.settings } : {}
    ).pipe(
      Layer.provide(
        Cohere.layer({ baseUrl, apiKey: Redacted.make(apiKey), retry: o.retry ?? false })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    ),
  textJson: {
    id: "co1",
    finish_reason: "COMPLETE",
    message: { role: "assistant", content: [{ type: "text", text: "Hello" }] },
    usage: { tokens: { input_tokens: 1, output_tokens: 1 } }
  },
  toolJson: {
    id: "co1",
    finish_reason: "TOOL_CALL",
    message: {
      role: "assistant",
      tool_plan: "I will wait.",
      tool_calls: [{ id: "wait_1", type: "function", function: { name: "wait", arguments: "{}" } }]
    },
    usage: { tokens: { input_tokens: 1, output_tokens: 1 } }
  },
  streamStart:
    ev("message-start", { id: "co1", delta: { message: { role: "assistant" } } }) +
    ev("content-start", { index: 0, delta: { message: { content: { type: "text", text: "" } } } }),
  delta: (text) => ev("content-delta", { index: 0, delta: { message: { content: { text } } } }),
  streamEnd:
    ev("content-end", { index: 0 }) +
    ev("message-end", {
      delta: { finish_reason: "COMPLETE", usage: { tokens: { input_tokens: 1, output_tokens: 2 } } }
    }),
  errorEvent: ev("message-end", {
    delta: { finish_reason: "ERROR", error: "model overloaded" }
  })
}

/** Every family of the matrix. */
export const families: ReadonlyArray<Family> = [
  openAiChat,
  openAiResponses,
  anthropic,
  gemini,
  mistral,
  cohere
]
