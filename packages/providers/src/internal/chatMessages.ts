/**
 * The request side shared by the chat dialects that keep OpenAI's message roles but not its
 * wire (Mistral, Cohere v2): system / user / tool / assistant messages from agentfx messages,
 * files returned by tools sent in a user message after the tool messages, the instructions in
 * force after the leading system messages, text files inlined, and which tools a `toolChoice`
 * leaves. Each dialect supplies its user chunks, tool call ids and assistant messages.
 *
 * @internal
 */
import { AgentError, Messages, type Model, type ModelSettings } from "@agentfx/core"

type Json = Record<string, unknown>

/** A JSON object (not an array). */
export const isObj = (u: unknown): u is Json =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A finite number, else 0. */
export const num = (u: unknown): number => (typeof u === "number" && Number.isFinite(u) ? u : 0)

/** A Unix time in seconds as a `Date`. */
export const timestampOf = (created: unknown): Date | undefined =>
  typeof created === "number" ? new Date(created * 1000) : undefined

/** Media types sent as inline text (plain text, markdown, CSV, HTML, JSON…). */
export const isTextDocument = (mediaType: string): boolean =>
  mediaType.startsWith("text/") || mediaType === "application/json"

/** A text file inlined as text, delimited so the model can refer to it by its identifier. */
export const inlineTextFile = (file: Messages.BinaryContent): string => {
  const id = Messages.fileIdentifier(file)
  const text = new TextDecoder().decode(file.data)
  return `-----BEGIN FILE id="${id}" type="${file.mediaType}"-----\n${text}\n-----END FILE id="${id}"-----`
}

/** The instructions in force: those of the last request that has any. */
export const instructionsOf = (
  messages: ReadonlyArray<Messages.ModelMessage>
): string | undefined => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag === "ModelRequest" && m.instructions !== undefined && m.instructions !== "")
      return m.instructions
  }
  return undefined
}

/** What a dialect supplies to `encodeMessages`. */
export interface Dialect {
  /** A user content item (text, file) as the dialect's chunk, or why it cannot be sent. */
  readonly userChunk: (item: Messages.UserContent) => Json | AgentError.UserError
  /** The id a tool call is sent under (Mistral maps ids to its 9-character form). */
  readonly toolCallId: (id: string) => string
  /** A model response as the dialect's assistant message. */
  readonly assistant: (message: Messages.ModelResponse) => Json
}

/** Encodes a conversation as role messages in a dialect. */
export const encodeMessages = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  dialect: Dialect
): Array<Json> | AgentError.UserError => {
  const out: Array<Json> = []
  for (const message of messages) {
    if (message._tag === "ModelResponse") {
      out.push(dialect.assistant(message))
      continue
    }
    // Tool messages are text only: files returned by tools are referenced there ("See file
    // {id}.") and sent in a user message after the tool messages.
    let files: Array<Json> = []
    const flushFiles = () => {
      if (files.length > 0) out.push({ role: "user", content: files })
      files = []
    }
    for (const part of message.parts) {
      switch (part._tag) {
        case "SystemPromptPart":
          flushFiles()
          out.push({ role: "system", content: part.content })
          break
        case "UserPromptPart": {
          flushFiles()
          if (typeof part.content === "string") {
            out.push({ role: "user", content: part.content })
            break
          }
          const content: Array<Json> = []
          for (const item of part.content) {
            if (typeof item !== "string" && item._tag === "CachePoint") continue
            const c = dialect.userChunk(item)
            if (c instanceof AgentError.UserError) return c
            content.push(c)
          }
          out.push({ role: "user", content })
          break
        }
        case "ToolReturnPart":
          out.push({
            role: "tool",
            tool_call_id: dialect.toolCallId(part.toolCallId),
            content: part.contentText
          })
          for (const file of part.files) {
            const c = dialect.userChunk(file)
            if (c instanceof AgentError.UserError) return c
            files.push({ type: "text", text: `This is file ${Messages.fileIdentifier(file)}:` }, c)
          }
          break
        case "RetryPromptPart":
          if (part.toolName === undefined || part.toolCallId === undefined) {
            flushFiles()
            out.push({ role: "user", content: part.modelResponse })
          } else
            out.push({
              role: "tool",
              tool_call_id: dialect.toolCallId(part.toolCallId),
              content: part.modelResponse
            })
          break
      }
    }
    flushFiles()
  }
  const instructions = instructionsOf(messages)
  if (instructions !== undefined) {
    // After leading system prompts, before the conversation.
    let at = 0
    while (at < out.length && out[at]!.role === "system") at++
    out.splice(at, 0, { role: "system", content: instructions })
  }
  return out
}

/**
 * The tools a request sends and whether a call is required, for dialects without a named
 * tool choice: `none` keeps only the output tools (or reports `none` with the function tools
 * when there are none), a list keeps only the listed function tools (and the output tools) and
 * requires one of them; otherwise a call is required when text is not allowed.
 */
export const selectTools = (
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters
): {
  readonly tools: Model.ModelRequestParameters["functionTools"]
  readonly choice: "auto" | "required" | "none"
} => {
  const choice = settings.toolChoice
  const required = !parameters.allowTextOutput
  if (choice === "none") {
    return parameters.outputTools.length === 0
      ? { tools: parameters.functionTools, choice: "none" }
      : { tools: parameters.outputTools, choice: required ? "required" : "auto" }
  }
  if (Array.isArray(choice)) {
    const names = new Set(choice)
    return {
      tools: [
        ...parameters.functionTools.filter((t) => names.has(t.name)),
        ...parameters.outputTools
      ],
      choice: "required"
    }
  }
  return {
    tools: parameters.allTools,
    choice: choice === "required" || required ? "required" : "auto"
  }
}
