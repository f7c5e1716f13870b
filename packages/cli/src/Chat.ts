/**
 * The chat loop behind `agentfx chat`: reads lines, runs each as a turn of an agent with the
 * conversation so far, streams the answer's Markdown as it arrives, and prints the usage of
 * every turn. Lines starting with `/` are commands: `/save <file>` and `/load <file>` write and
 * read the history as JSON (`Messages.encode` format), `/clear`, `/help`, `/exit`. Interrupts
 * (Ctrl-C in `agentfx chat`) cancel the turn in progress, or end the chat between turns.
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
import { Agent, CaptureRunMessages, Messages, type Model, Usage } from "@agentfx/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { MarkdownRenderer, stripStyles } from "./internal/markdown.js"

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
  /**
   * Interrupts, say Ctrl-C (`agentfx chat` passes its SIGINTs). One during a turn cancels that
   * turn: the answer stops, what it streamed so far stays in the conversation, and the chat goes
   * on. One between turns ends the chat, like `/exit`.
   */
  readonly interrupts?: Stream.Stream<unknown>
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
  "  /exit         quit (so does end of input)",
  "Ctrl-C cancels the answer being written; at the prompt it quits."
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

/** A history file that cannot be read or is no saved conversation. */
export class LoadError extends Schema.TaggedError<LoadError>()("LoadError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot load ${this.path}: ${this.reason}`
  }
}

/**
 * Reads a conversation saved by `/save` (the `Messages.encode` format). Fails with a `LoadError`
 * saying whether the file is missing, not JSON, or JSON that is no conversation (with the path
 * of the first wrong value).
 */
export const load = (
  path: string
): Effect.Effect<ReadonlyArray<Messages.ModelMessage>, LoadError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError(
        (e) =>
          new LoadError({
            path,
            reason: e._tag === "SystemError" && e.reason === "NotFound" ? "no such file" : e.message
          })
      )
    )
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new LoadError({ path, reason: `not JSON (${(e as Error).message})` })
    })
    return yield* Messages.decode(json).pipe(
      Effect.mapError(
        (e) => new LoadError({ path, reason: `not a saved conversation: ${e.message}` })
      )
    )
  })

/**
 * Runs the chat until the lines end, `/exit`, or an interrupt between turns. A failed turn
 * prints the error and keeps the conversation (with what the failed turn recorded, when the
 * error carries it); an interrupted turn keeps what it streamed so far. Every turn ends with its
 * usage line, a failed or cancelled one with what it spent before it stopped.
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
    // set while a turn runs: an interrupt completes it to cancel the turn
    const cancelTurn = yield* Ref.make<Option.Option<Deferred.Deferred<void>>>(Option.none())
    const quit = yield* Deferred.make<void>()
    // whether what was written last ends a line (styles aside)
    let lineStart = true
    const endsLine = (text: string) => {
      const seen = stripStyles(text)
      return seen === "" ? lineStart : seen.endsWith("\n")
    }
    const out = (text: string) => {
      if (text === "") return Effect.void
      lineStart = endsLine(text)
      return write(text)
    }

    const turn = (prompt: string) =>
      Effect.gen(function* () {
        const messages = yield* Ref.get(history)
        // what the turn spends, also when it fails or is cancelled
        const spent = yield* Ref.make(Usage.RunUsage.empty)
        let result: Agent.AgentRunResult<string> | undefined
        const md = options.markdown === true ? new MarkdownRenderer() : undefined
        const text = (t: string) => (md === undefined ? t : md.push(t))
        const streamed = Stream.runForEachChunk(
          agent.runStream(prompt, { messageHistory: messages, usage: spent }),
          (chunk) => {
            let piece = ""
            for (const e of chunk) {
              if (e._tag === "PartStartEvent" && e.part._tag === "TextPart") {
                piece += text(e.part.content)
              } else if (e._tag === "PartDeltaEvent" && e.delta._tag === "TextPartDelta") {
                piece += text(e.delta.contentDelta)
              } else if (e._tag === "FunctionToolCallEvent") {
                const before = `${piece}${md?.end() ?? ""}`
                // the call goes on a line of its own
                const newline = !endsLine(before)
                piece = `${before}${newline ? "\n" : ""}[${e.part.toolName}(${e.part.argsAsJson()})]\n`
              } else if (e._tag === "AgentRunResultEvent") result = e.result
            }
            return out(piece)
          }
        )
        const cancel = yield* Deferred.make<void>()
        yield* Ref.set(cancelTurn, Option.some(cancel))
        const { exit, messages: recorded } = yield* CaptureRunMessages.capture(
          Effect.raceFirst(Effect.as(streamed, false), Effect.as(Deferred.await(cancel), true))
        ).pipe(Effect.ensuring(Ref.set(cancelTurn, Option.none())))
        // what the renderer held back, the end of its styles, and of the answer's line
        const tail = md?.end() ?? ""
        yield* out(`${tail}${endsLine(tail) ? "" : "\n"}`)
        if (Exit.isSuccess(exit) && !exit.value) {
          if (result === undefined) return
          yield* Ref.set(history, result.allMessages())
          return yield* out(`${usageLine(result.usage)}\n`)
        }
        const kept = Exit.isFailure(exit) ? messagesOf(exit.cause) : []
        const toKeep = kept.length > 0 ? kept : recorded
        if (toKeep.length > 0) yield* Ref.set(history, toKeep)
        yield* out(
          Exit.isSuccess(exit)
            ? "cancelled (what was said so far is kept)\n"
            : `error: ${errorText(exit.cause)}\n`
        )
        yield* out(`${usageLine(yield* Ref.get(spent))}\n`)
      })

    const save = (path: string) =>
      Effect.gen(function* () {
        const messages = yield* Ref.get(history)
        yield* fs.writeFileString(path, `${JSON.stringify(Messages.encode(messages), null, 2)}\n`)
        yield* say(`saved ${plural(messages.length, "message")} to ${path}`)
      }).pipe(Effect.catchAll((e) => say(`error: cannot save ${path}: ${e.message}`)))

    const loadFile = (path: string) =>
      Effect.gen(function* () {
        const messages = yield* load(path)
        yield* Ref.set(history, messages)
        yield* say(`loaded ${plural(messages.length, "message")} from ${path}`)
      }).pipe(
        Effect.catchAll((e) => say(`error: ${e.message}`)),
        Effect.provideService(FileSystem.FileSystem, fs)
      )

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
          return Effect.as(command === "/save" ? save(arg) : loadFile(arg), true)
        default:
          return Effect.as(say(`unknown command ${command} (try /help)`), true)
      }
    }

    if (options.interrupts !== undefined) {
      yield* Effect.forkScoped(
        Stream.runForEach(options.interrupts, () =>
          Effect.flatMap(Ref.get(cancelTurn), (turn) =>
            Option.isSome(turn)
              ? Deferred.succeed(turn.value, undefined)
              : Deferred.succeed(quit, undefined)
          )
        )
      )
    }
    const prompt = options.prompt
    if (prompt !== undefined) yield* out(prompt)
    yield* Stream.runForEachWhile(
      Stream.interruptWhen(options.lines, Deferred.await(quit)),
      (line) =>
        Effect.tap(handle(line), (go) => (go && prompt !== undefined ? out(prompt) : Effect.void))
    )
    // an interrupt at the prompt: end its line
    if (!lineStart && (yield* Deferred.isDone(quit))) yield* out("\n")
  }).pipe(Effect.scoped, Effect.withSpan("Chat.run"))
