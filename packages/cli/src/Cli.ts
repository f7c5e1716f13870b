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
import { type AgentError, Messages, Model } from "@agentfx/core"
import { ModelRegistry } from "@agentfx/providers"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { createInterface } from "node:readline"
import * as Chat from "./Chat.js"
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

/** The providers' `ModelRegistry` over undici; `chat` holds it (and its connections) for its lifetime. */
export const registryLayer: Layer.Layer<Model.ModelRegistry> = ModelRegistry.layer().pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)

/**
 * Resolves a model string: `offline` (no network, no key; `AGENTFX_OFFLINE_DELAY_MS` sets the
 * pause between streamed words, default 15) or any `"provider:model"` of the `ModelRegistry`
 * (its keys from the environment; a missing key fails naming it). The model uses the
 * registry's HTTP client, so keep the registry's layer for as long as the model is used.
 */
export const resolveModel = (
  name: string
): Effect.Effect<Model.Service, AgentError.UserError, Model.ModelRegistry> =>
  name === "offline" || name.startsWith("offline:")
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
        const fs = yield* FileSystem.FileSystem
        const loaded = yield* fs
          .readFileString(path)
          .pipe(Effect.flatMap(Messages.decodeJson), Effect.either)
        if (loaded._tag === "Left") {
          yield* Effect.sync(() => {
            process.stderr.write(`agentfx: cannot load ${path}: ${loaded.left.message}\n`)
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

/** Runs the command line on `process.argv`-style arguments. */
export const run = Command.run(command, { name: "agentfx", version: "0.1.0" })
