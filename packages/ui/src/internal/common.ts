/**
 * Pieces shared by the UI encoders: JSON-safe tool outputs, error texts, the messages an error
 * carries, and SSE framing.
 */
import type { Agent } from "@agentfx/core"
import { Messages } from "@agentfx/core"
import * as Cause from "effect/Cause"
import * as Option from "effect/Option"

/** An event of `agent.runStream`. */
export type RunEvent<A> = Agent.AgentStreamEvent<A>

/** A file as a JSON value a browser can show (`BinaryContent` as a `data:` URL). */
const fileJson = (file: Messages.FileContent) =>
  file._tag === "BinaryContent"
    ? { type: "file", mediaType: file.mediaType, url: file.dataUrl }
    : {
        type: "file",
        url: file.url,
        ...(file.mediaType !== undefined ? { mediaType: file.mediaType } : {})
      }

/** A tool's return value as JSON: files become `{ type: "file", mediaType, url }`. */
export const toolOutputJson = (content: unknown): unknown => {
  if (Messages.isFileContent(content)) return fileJson(content)
  if (Array.isArray(content) && content.some(Messages.isFileContent)) {
    return content.map((c) => (Messages.isFileContent(c) ? fileJson(c) : c))
  }
  return content === undefined ? null : content
}

/**
 * The text shown for a failed run: a typed error's `_tag` and message (agentfx errors carry no
 * secrets), a generic text for defects, which may hold anything.
 */
export const defaultErrorText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e !== null && typeof e === "object") {
      const tag = (e as { _tag?: unknown })._tag
      const message = (e as { message?: unknown }).message
      if (typeof tag === "string") {
        return typeof message === "string" && message !== "" ? `${tag}: ${message}` : tag
      }
      if (typeof message === "string") return message
    }
    return String(e)
  }
  return Cause.isInterruptedOnly(cause) ? "The run was interrupted." : "An error occurred."
}

/** The failure of a cause, if any (a defect or an interruption has none). */
export const failureOf = (cause: Cause.Cause<unknown>): unknown =>
  Option.getOrUndefined(Cause.failureOption(cause))

/** The messages an agentfx error carries (`UsageLimitExceeded`, `ModelHTTPError`, …), else `[]`. */
export const messagesOf = (error: unknown): ReadonlyArray<Messages.ModelMessage> => {
  if (error !== null && typeof error === "object" && "messages" in error) {
    const m = (error as { messages: unknown }).messages
    if (Array.isArray(m)) return m as ReadonlyArray<Messages.ModelMessage>
  }
  return []
}

/** What a finished stream reports to `onFinish`: the result, or the error and its messages. */
export type Outcome<A> =
  | {
      readonly _tag: "Success"
      readonly result: Agent.AgentRunResult<A>
      readonly messages: ReadonlyArray<Messages.ModelMessage>
    }
  | {
      readonly _tag: "Failure"
      readonly error: unknown
      readonly errorText: string
      readonly messages: ReadonlyArray<Messages.ModelMessage>
    }

/** The arguments of a tool call as an object, or the parse error of its JSON. */
export const parseArgs = (
  part: Messages.ToolCallPart
):
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: string } => {
  if (typeof part.args !== "string") return { ok: true, value: part.args }
  if (part.args.trim() === "") return { ok: true, value: {} }
  try {
    return { ok: true, value: JSON.parse(part.args) }
  } catch (e) {
    return { ok: false, error: `Invalid JSON arguments: ${(e as Error).message}` }
  }
}

export const encoder = new TextEncoder()
