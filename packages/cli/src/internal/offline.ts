/**
 * The offline model of the CLI: a `FunctionModel` that answers in Markdown from the prompt and
 * the conversation (so history is visible), streamed word by word. Used when no provider key is
 * set, or with `--model offline`.
 */
import { FunctionModel, type Messages, type Model } from "@agentfx/core"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"

const prompts = (messages: ReadonlyArray<Messages.ModelMessage>): Array<string> =>
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

/** The offline answer to a conversation. */
export const answer = (messages: ReadonlyArray<Messages.ModelMessage>): string => {
  const all = prompts(messages)
  const current = all.at(-1) ?? ""
  const earlier = all.slice(0, -1)
  const history =
    earlier.length === 0
      ? "This is the first message of our chat."
      : `Before that you said ${earlier.map((p) => `"${p}"`).join(", ")}, so this is message ${all.length} of our chat.`
  return `**Offline model** (no API key set).\n\nYou said: *${current}*. ${history}`
}

const words = (text: string): Array<string> => text.match(/\s*\S+\s*/g) ?? [text]

/** The offline model; `delay` between streamed words (default 15 ms, so streaming shows). */
export const make = (delay: Duration.DurationInput = "15 millis"): Effect.Effect<Model.Service> =>
  FunctionModel.make((messages) => FunctionModel.text(answer(messages)), {
    modelName: "offline",
    stream: (messages) =>
      Duration.toMillis(Duration.decode(delay)) === 0
        ? Stream.fromIterable(words(answer(messages)))
        : Stream.schedule(Stream.fromIterable(words(answer(messages))), Schedule.spaced(delay))
  })
