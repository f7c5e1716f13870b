/**
 * The `agentfx` command line, on `@effect/cli`:
 *
 * ```sh
 * agentfx chat                          # the first provider with a key, else the offline model
 * agentfx chat --model openai:gpt-4o    # any "provider:model" the ModelRegistry knows
 * agentfx chat --model offline --load chat.json
 * ```
 *
 * `chat` streams the answers' Markdown to the terminal, keeps the conversation for the session,
 * prints the usage of every turn, and has `/save` and `/load` for the history (see `Chat`).
 *
 * @since 0.1.0
 */
import { type AgentError, type Messages, Model } from "@agentfx/core"
import { ModelRegistry } from "@agentfx/providers"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createInterface } from "node:readline"
import * as Chat from "./Chat.js"
import { stripStyles } from "./internal/markdown.js"
import * as Scripted from "./Scripted.js"

/** The model `chat` uses without `--model`: `AGENTFX_MODEL`, else the first provider with a key, else `offline`. */
export const defaultModel = (env: Readonly<Record<string, string | undefined>>): string => {
  const set = (name: string) => (env[name] ?? "").trim() !== ""
  if (set("AGENTFX_MODEL")) return env.AGENTFX_MODEL!.trim()
  if (set("OPENAI_API_KEY")) return "openai:gpt-4o-mini"
  if (set("ANTHROPIC_API_KEY")) return "anthropic:claude-haiku-4-5"
  if (set("GEMINI_API_KEY") || set("GOOGLE_API_KEY")) return "google:gemini-2.5-flash"
  return "offline"
}

const offlineDelay = () =>
  Duration.millis(Number(process.env.AGENTFX_OFFLINE_DELAY_MS ?? "15") || 0)

/**
 * The providers' `ModelRegistry` over undici, with `offline:` added (so a misspelt `offline` is
 * answered with it among the suggestions); `chat` holds it (and its connections) for its lifetime.
 */
export const registryLayer: Layer.Layer<Model.ModelRegistry> = ModelRegistry.layer({
  factories: { offline: () => Scripted.offline(offlineDelay()) }
}).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * Resolves a model string: `offline` (no network, no key; `AGENTFX_OFFLINE_DELAY_MS` sets the
 * pause between streamed words, default 15) or any `"provider:model"` of the `ModelRegistry`
 * (its keys from the environment; a missing key fails naming it). The model uses the
 * registry's HTTP client, so keep the registry's layer for as long as the model is used.
 */
export const resolveModel = (
  name: string
): Effect.Effect<Model.Service, AgentError.UserError, Model.ModelRegistry> =>
  name === "offline"
    ? Scripted.offline(offlineDelay())
    : Effect.flatMap(Model.ModelRegistry, (r) => r.resolve(name))

/** The lines of standard input, closed with the scope. */
const stdinLines: Stream.Stream<string> = Stream.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })
      ),
      (rl) => Effect.sync(() => rl.close())
    ),
    (rl) => Stream.orDie(Stream.fromAsyncIterable(rl, (e) => e))
  )
)

/**
 * SIGINT (Ctrl-C) for as long as the chat runs. The chat takes it over from the listeners already
 * there (`NodeRuntime.runMain`'s would interrupt the whole program), so that Ctrl-C cancels the
 * turn being streamed; they are put back when the chat ends.
 */
const sigints: Stream.Stream<void> = Stream.asyncScoped<void>((emit) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const others = process.listeners("SIGINT")
      // one by one: a loader (tsx) may hold a listener of its own that `listeners` does not show
      for (const other of others) process.removeListener("SIGINT", other)
      const listener = () => void emit.single(undefined)
      process.on("SIGINT", listener)
      return { others, listener }
    }),
    ({ others, listener }) =>
      Effect.sync(() => {
        process.removeListener("SIGINT", listener)
        for (const other of others) process.on("SIGINT", other)
      })
  )
)

const write = (text: string) => Effect.sync(() => void process.stdout.write(text))

/** `agentfx chat`. */
export const chat = Command.make(
  "chat",
  {
    model: Options.text("model").pipe(
      Options.withAlias("m"),
      Options.withDescription('"provider:model" (openai:gpt-4o, anthropic:…, ollama:…, offline)'),
      Options.optional
    ),
    load: Options.text("load").pipe(
      Options.withDescription("continue the conversation saved in this JSON file"),
      Options.optional
    ),
    raw: Options.boolean("raw").pipe(
      Options.withDescription(
        "print the answers' Markdown as is (default in a pipe or with NO_COLOR)"
      )
    )
  },
  (options) =>
    Effect.gen(function* () {
      const name = Option.getOrElse(options.model, () => defaultModel(process.env))
      const resolved = yield* Effect.either(resolveModel(name))
      if (resolved._tag === "Left") {
        yield* Effect.sync(() => {
          process.stderr.write(`agentfx: ${resolved.left.message}\n`)
          process.exitCode = 1
        })
        return
      }
      yield* write(`model: ${name} (/help for commands)\n`)
      let history: ReadonlyArray<Messages.ModelMessage> = []
      if (Option.isSome(options.load)) {
        const path = options.load.value
        const loaded = yield* Effect.either(Chat.load(path))
        if (loaded._tag === "Left") {
          yield* Effect.sync(() => {
            process.stderr.write(`agentfx: ${loaded.left.message}\n`)
            process.exitCode = 1
          })
          return
        }
        history = loaded.right
        yield* write(`loaded ${loaded.right.length} messages from ${path}\n`)
      }
      yield* Chat.run({
        lines: stdinLines,
        write,
        history,
        interrupts: sigints,
        markdown:
          !options.raw && process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === "",
        ...(process.stdin.isTTY === true ? { prompt: "> " } : {})
      }).pipe(Effect.provideService(Model.Model, resolved.right))
    }).pipe(Effect.provide(registryLayer))
).pipe(Command.withDescription("chat with a model in the terminal"))

/** The `agentfx` command. */
export const command = Command.make("agentfx").pipe(
  Command.withDescription("agentfx: Effect agents from the command line"),
  Command.withSubcommands([chat])
)

const runCommand = Command.run(command, { name: "agentfx", version: "0.1.0" })

/** Strips the styles from what `@effect/cli` prints (help, errors) when stdout is no terminal. */
const plainConsole = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""
    ? effect
    : Console.consoleWith((console) => {
        const plain = (args: ReadonlyArray<unknown>) =>
          args.map((a) => (typeof a === "string" ? stripStyles(a) : a))
        return Effect.withConsole(effect, {
          ...console,
          log: (...args) => console.log(...plain(args)),
          error: (...args) => console.error(...plain(args))
        })
      })

/**
 * Runs the command line on `process.argv`-style arguments. Help and usage errors are styled for
 * a terminal, plain in a pipe or with `NO_COLOR`.
 */
export const run = (argv: ReadonlyArray<string>): ReturnType<typeof runCommand> =>
  plainConsole(runCommand(argv))
