/**
 * The chat loop behind `agentfx chat`: reads lines, runs each as a turn of an agent with the
 * conversation so far, streams the answer's Markdown as it arrives, and prints the usage of
 * every turn. Lines starting with `/` are commands: `/save <file>` and `/load <file>` write and
 * read the history as JSON (`Messages.encode` format), `/clear`, `/help`, `/exit`.
 *
 * The loop only needs a `Model` and a `FileSystem`, and takes its input and output as values,
 * so it runs the same in a terminal, a child process or a test.
 *
 * @example
 * ```ts
 * import { Chat } from "@agentfx/cli"
 * import { TestModel } from "@agentfx/core"
 * import { NodeContext } from "@effect/platform-node"
 * import { Effect, Stream } from "effect"
 *
 * const program = Chat.run({
 *   lines: Stream.make("Hello", "/save chat.json"),
 *   write: (text) => Effect.sync(() => process.stdout.write(text))
 * }).pipe(Effect.provide(TestModel.layer()), Effect.provide(NodeContext.layer))
 * ```
 *
 * @since 0.1.0
 */
import { Agent, Messages, type Model, type Usage } from "@agentfx/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { MarkdownRenderer } from "./internal/markdown.js"

/** The agent `agentfx chat` talks to when none is given. */
export const defaultAgent = Agent.make({
  name: "agentfx-chat",
  instructions: "You are a helpful assistant in a terminal. Answer in concise Markdown."
})

/** Options of `run`. */
export interface RunOptions {
  /** The user's lines (a terminal's, a pipe's, a test's). The chat ends when they end. */
  readonly lines: Stream.Stream<string>
  /** Where everything goes. */
  readonly write: (text: string) => Effect.Effect<void>
  /** The agent (default `defaultAgent`); it must need nothing but a `Model`. */
  readonly agent?: Agent.Agent<string, unknown, Model.Model>
  /** The conversation to continue. */
  readonly history?: ReadonlyArray<Messages.ModelMessage>
  /** Written before each line is read (say `"> "` in a terminal); default none. */
  readonly prompt?: string
  /**
   * Style the answers' Markdown with ANSI escapes as they stream (headings, bold, italic,
   * code, bullets); default `false`, which writes the Markdown as is.
   */
  readonly markdown?: boolean
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** The usage line printed after each turn. */
export const usageLine = (usage: Usage.RunUsage): string =>
  `usage: ${plural(usage.requests, "request")}, ${plural(usage.toolCalls, "tool call")}, ` +
  `${usage.inputTokens} input + ${usage.outputTokens} output = ${usage.totalTokens} tokens`

/** The text of the commands. */
export const helpText = [
  "commands:",
  "  /save <file>  write the conversation to a JSON file",
  "  /load <file>  continue the conversation saved in a JSON file",
  "  /clear        start a new conversation",
  "  /help         this help",
  "  /exit         quit (so does end of input)"
].join("\n")

const errorText = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isNone(failure)) return Cause.pretty(cause)
  const e = failure.value as { _tag?: unknown; message?: unknown }
  const tag = typeof e?._tag === "string" ? `${e._tag}: ` : ""
  return `${tag}${typeof e?.message === "string" ? e.message : String(failure.value)}`
}

/** The messages an agentfx error carries (empty for other failures). */
const messagesOf = (cause: Cause.Cause<unknown>): ReadonlyArray<Messages.ModelMessage> => {
  const failure = Option.getOrUndefined(Cause.failureOption(cause)) as
    | { messages?: unknown }
    | undefined
  return Array.isArray(failure?.messages)
    ? (failure.messages as ReadonlyArray<Messages.ModelMessage>)
    : []
}

/**
 * Runs the chat until the lines end or `/exit`. A failed turn prints the error and keeps the
 * conversation (with what the failed turn recorded, when the error carries it).
 */
export const run = (
  options: RunOptions
): Effect.Effect<void, never, Model.Model | FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const agent = options.agent ?? defaultAgent
    const history = yield* Ref.make<ReadonlyArray<Messages.ModelMessage>>(options.history ?? [])
    const write = options.write
    const say = (line: string) => write(`${line}\n`)

    const turn = (prompt: string) =>
      Effect.gen(function* () {
        const messages = yield* Ref.get(history)
        let result: Agent.AgentRunResult<string> | undefined
        const md = options.markdown === true ? new MarkdownRenderer() : undefined
        const text = (t: string) => (md === undefined ? t : md.push(t))
        let lineStart = true
        yield* Stream.runForEachChunk(
          agent.runStream(prompt, { messageHistory: messages }),
          (chunk) => {
            let out = ""
            for (const e of chunk) {
              if (e._tag === "PartStartEvent" && e.part._tag === "TextPart") {
                out += text(e.part.content)
              } else if (e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta") {
                out += text(e.delta.contentDelta)
              } else if (e._tag === "FunctionToolCallEvent") {
                const before = `${out}${md?.end() ?? ""}`
                // the call goes on a line of its own
                const newline = before !== "" ? !before.endsWith("\n") : !lineStart
                out = `${before}${newline ? "\n" : ""}[${e.part.toolName}(${e.part.argsAsJson()})]\n`
              } else if (e._tag === "AgentRunResultEvent") result = e.result
            }
            if (out === "") return Effect.void
            lineStart = out.endsWith("\n")
            return write(out)
          }
        )
        yield* write(`${md?.end() ?? ""}\n`)
        if (result !== undefined) {
          yield* Ref.set(history, result.allMessages())
          yield* say(usageLine(result.usage))
        }
      }).pipe(
        Effect.catchAllCause((cause) =>
          Effect.gen(function* () {
            const kept = messagesOf(cause)
            if (kept.length > 0) yield* Ref.set(history, kept)
            yield* say(`\nerror: ${errorText(cause)}`)
          })
        )
      )

    const save = (path: string) =>
      Effect.gen(function* () {
        const messages = yield* Ref.get(history)
        yield* fs.writeFileString(path, `${JSON.stringify(Messages.encode(messages), null, 2)}\n`)
        yield* say(`saved ${plural(messages.length, "message")} to ${path}`)
      }).pipe(Effect.catchAll((e) => say(`error: cannot save ${path}: ${e.message}`)))

    const load = (path: string) =>
      Effect.gen(function* () {
        const text = yield* fs.readFileString(path)
        const messages = yield* Messages.decodeJson(text)
        yield* Ref.set(history, messages)
        yield* say(`loaded ${plural(messages.length, "message")} from ${path}`)
      }).pipe(Effect.catchAll((e) => say(`error: cannot load ${path}: ${e.message}`)))

    /** Handles one line; `false` ends the chat. */
    const handle = (raw: string): Effect.Effect<boolean, never, Model.Model> => {
      const line = raw.trim()
      if (line === "") return Effect.succeed(true)
      if (!line.startsWith("/")) return Effect.as(turn(line), true)
      const [command, ...rest] = line.split(/\s+/)
      const arg = rest.join(" ")
      switch (command) {
        case "/exit":
        case "/quit":
          return Effect.succeed(false)
        case "/help":
          return Effect.as(say(helpText), true)
        case "/clear":
          return Effect.as(
            Effect.zipRight(Ref.set(history, []), say("started a new conversation")),
            true
          )
        case "/save":
        case "/load":
          if (arg === "") return Effect.as(say(`usage: ${command} <file>`), true)
          return Effect.as(command === "/save" ? save(arg) : load(arg), true)
        default:
          return Effect.as(say(`unknown command ${command} (try /help)`), true)
      }
    }

    const prompt = options.prompt
    if (prompt !== undefined) yield* write(prompt)
    yield* Stream.runForEachWhile(options.lines, (line) =>
      Effect.tap(handle(line), (go) => (go && prompt !== undefined ? write(prompt) : Effect.void))
    )
  }).pipe(Effect.withSpan("Chat.run"))
