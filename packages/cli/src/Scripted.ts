/**
 * Scripted models: a `FunctionModel` driven by a small script that reads the request (the
 * prompt, the tools offered, the tool returns and retry prompts so far) and answers like a
 * plausible model would. The agent loop around it is the real one: tools run, arguments and
 * outputs are validated, validators can send it back with a retry prompt. The CLI's offline
 * model (`agentfx chat --model offline`) is one, and so is every example's offline model.
 *
 * A script is written once, for non-streamed requests; the streamed form is derived from it
 * (text split into words, tool-call arguments into small JSON fragments), so `run`,
 * `runStream` and `streamOutput` all work.
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import * as Scripted from "@agentfx/cli/Scripted"
 * import { Effect } from "effect"
 *
 * const echo = Scripted.make("echo", (messages) => `You said: ${Scripted.lastPrompt(messages)}`)
 * const program = Agent.make().run("hi").pipe(Effect.provide(echo.layer))
 * ```
 *
 * @since 0.1.0
 */
import { FunctionModel, Messages, Model } from "@agentfx/core"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

/** A script: what the model answers to this request. */
export type Script = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  info: FunctionModel.AgentInfo
) => FunctionModel.FunctionResult

/** Options of `make` and `model`. */
export interface Options {
  /** Pause between streamed fragments, to make streaming visible (default none). */
  readonly delay?: Duration.DurationInput
  /** The model name responses carry (default `scripted:<name>`). */
  readonly modelName?: string
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

/** A scripted model and the name examples show for it (`model: scripted (<name>)`). */
export interface ScriptedModel {
  readonly name: string
  readonly layer: Layer.Layer<Model.Model>
}

/** The model a script plays (`make` wraps it in a layer). */
export const model = (
  name: string,
  script: Script,
  options: Options = {}
): Effect.Effect<Model.Service> => {
  const respond = (
    messages: ReadonlyArray<Messages.ModelMessage>,
    info: FunctionModel.AgentInfo
  ): Messages.ModelResponse => {
    const r = script(messages, info)
    return typeof r === "string" ? FunctionModel.text(r) : r
  }
  const delay = options.delay
  const paced = delay !== undefined && Duration.toMillis(Duration.decode(delay)) > 0
  return FunctionModel.make(respond, {
    modelName: options.modelName ?? `scripted:${name}`,
    stream: (messages, info) => {
      const items = Stream.fromIterable(toStreamItems(respond(messages, info), options.argsChunk))
      return paced ? Stream.schedule(items, Schedule.spaced(delay)) : Stream.rechunk(items, 1)
    }
  })
}

/** A scripted model as a layer, with its name. */
export const make = (name: string, script: Script, options: Options = {}): ScriptedModel => ({
  name,
  layer: Layer.effect(Model.Model, model(name, script, options))
})

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
                  : p.content.filter((c): c is string => typeof c === "string").join(" ")
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

// ---------------------------------------------------------------------------
// The offline chat model
// ---------------------------------------------------------------------------

/** The offline model's answer: the prompt and what was said before (so history shows). */
export const offlineAnswer = (messages: ReadonlyArray<Messages.ModelMessage>): string => {
  const all = userPrompts(messages)
  const current = all.at(-1) ?? ""
  const earlier = all.slice(0, -1)
  const history =
    earlier.length === 0
      ? "This is the first message of our chat."
      : `Before that you said ${earlier.map((p) => `"${p}"`).join(", ")}, so this is message ${all.length} of our chat.`
  return `**Offline model** (no API key set).\n\nYou said: *${current}*. ${history}`
}

/**
 * The CLI's offline model (`--model offline`, model name `offline`): answers in Markdown from
 * the conversation, streamed word by word with `delay` between words (default 15 ms).
 */
export const offline = (
  delay: Duration.DurationInput = "15 millis"
): Effect.Effect<Model.Service> => model("offline", offlineAnswer, { modelName: "offline", delay })
