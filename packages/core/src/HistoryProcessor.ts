/**
 * History processors: functions that rewrite the conversation right before each model request
 * of a run (pydantic-ai's `history_processors`), to keep long conversations inside the context
 * window, cut cost, or hide what the model should not see. Give them to
 * `Agent.make({ historyProcessors })` (and more per run with `RunOptions.historyProcessors`).
 *
 * A processor gets the messages about to be sent (the run's history, ending with the request
 * being sent) and the `RunContext`, and returns the messages to send instead: a plain array, or
 * an Effect (its errors join the run's error type, its requirements the agent's; `RunContext`
 * is provided). Processors run in order, before every request of the run (also each request
 * of a tool loop); the model receives the last one's answer. The run's stored history is NOT
 * replaced (pydantic-ai replaces it): `result.messages` keeps the whole conversation, and the
 * processors see it whole again before the next request. An answer that is empty or does not
 * end with a `ModelRequest` fails the run with a `UserError`.
 *
 * The helpers work in *turns*: a turn is a request holding a user prompt and everything after
 * it until the next one. Cutting at a turn keeps tool calls with their returns (parallel calls
 * included) and carries the system prompt of the dropped turns into the first kept request;
 * instructions are on the request being sent, so they are never dropped.
 *
 * @example
 * ```ts
 * import { Agent, HistoryProcessor } from "@agentfx/core"
 *
 * const agent = Agent.make({
 *   instructions: "Be brief.",
 *   historyProcessors: [HistoryProcessor.dropThinking, HistoryProcessor.keepLastTurns(10)]
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { ModelError } from "./AgentError.js"
import { UnexpectedModelBehavior } from "./AgentError.js"
import {
  type ModelMessage,
  type ModelRequestPart,
  renderToolContent,
  type UserContent
} from "./Messages.js"
import { CurrentUsage } from "./AgentGraph.js"
import * as InstrumentedModel from "./InstrumentedModel.js"
import * as Model from "./Model.js"
import type { ModelSettings } from "./ModelSettings.js"
import type { Service as RunContextService } from "./RunContext.js"
import { type RequestUsage, RunUsage } from "./Usage.js"
import * as internal from "./internal/historyProcessors.js"
import { makeModelRequest, makeModelResponse, makeUserPromptPart } from "./internal/makers.js"

/**
 * A history processor: the messages about to be sent (ending with the request being sent) and
 * the run's context in, the messages to send out — directly, or as an Effect failing with `E`
 * and requiring `R` (`RunContext` is provided to it).
 */
export type HistoryProcessor<E = never, R = never> = (
  messages: ReadonlyArray<ModelMessage>,
  ctx: RunContextService
) => ReadonlyArray<ModelMessage> | Effect.Effect<ReadonlyArray<ModelMessage>, E, R>

/** The errors of a processor. */
export type Errors<P> = P extends HistoryProcessor<infer E, any> ? E : never
/** The requirements of a processor. */
export type Requirements<P> = P extends HistoryProcessor<any, infer R> ? R : never

/**
 * The index where each turn of `messages` starts (a request holding a user prompt; messages
 * before the first user prompt belong to the first turn).
 */
export const turnStarts = (messages: ReadonlyArray<ModelMessage>): ReadonlyArray<number> =>
  internal.turnStarts(messages)

const positive = (name: string, n: number): void => {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`HistoryProcessor.${name}: expected a positive integer, got ${n}`)
  }
}

/**
 * Keeps the last `n` turns (a positive integer; anything else throws a `RangeError`). Tool calls
 * stay with their returns, and the system prompt parts of the dropped turns move into the first
 * kept request. The current turn (the one being sent) is always kept.
 */
export const keepLastTurns = (n: number): HistoryProcessor => {
  positive("keepLastTurns", n)
  return (messages) => internal.keepLastTurns(messages, n)
}

/**
 * Removes `ThinkingPart`s from responses, except signed thinking (`signature` set) in the
 * responses of the current turn: Anthropic requires the signed thinking blocks of an ongoing
 * tool loop to be sent back while thinking is on, and drops them by itself from earlier turns.
 * A response left with no part at all is removed.
 */
export const dropThinking: HistoryProcessor = (messages) => {
  const starts = internal.turnStarts(messages)
  const current = starts[starts.length - 1] ?? 0
  let out: Array<ModelMessage> | undefined
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!
    if (m._tag === "ModelResponse" && m.parts.some((p) => p._tag === "ThinkingPart")) {
      const parts = m.parts.filter(
        (p) => p._tag !== "ThinkingPart" || (i >= current && p.signature !== undefined)
      )
      if (parts.length !== m.parts.length) {
        out ??= messages.slice(0, i) as Array<ModelMessage>
        if (parts.length > 0) out.push(makeModelResponse.copy(m, { parts }))
        continue
      }
    }
    out?.push(m)
  }
  return out ?? messages
}

// ---------------------------------------------------------------------------
// Token estimates and budgets
// ---------------------------------------------------------------------------

/** Tokens a file (image, audio, document…) counts for in `estimateTokens`. */
export const estimatedFileTokens = 1000

const contentChars = (content: string | ReadonlyArray<UserContent>): [number, number] => {
  if (typeof content === "string") return [content.length, 0]
  let chars = 0
  let files = 0
  for (const item of content) {
    if (typeof item === "string") chars += item.length
    else if (item._tag === "TextContent") chars += item.content.length
    else if (item._tag !== "CachePoint") files += 1
  }
  return [chars, files]
}

const json = (u: unknown): number => {
  try {
    return JSON.stringify(u)?.length ?? 0
  } catch {
    return 0
  }
}

const messageChars = (m: ModelMessage): [number, number] => {
  let chars = 0
  let files = 0
  if (m._tag === "ModelRequest") {
    for (const p of m.parts as ReadonlyArray<ModelRequestPart>) {
      switch (p._tag) {
        case "SystemPromptPart":
          chars += p.content.length
          break
        case "UserPromptPart": {
          const [c, f] = contentChars(p.content)
          chars += c
          files += f
          break
        }
        case "ToolReturnPart":
          chars += p.toolName.length + renderToolContent(p.content).length
          files += p.files.length
          break
        case "RetryPromptPart":
          chars += p.modelResponse.length
          break
        default:
          chars += json(p)
      }
    }
  } else {
    for (const p of m.parts) {
      switch (p._tag) {
        case "TextPart":
        case "ThinkingPart":
          chars += p.content.length
          break
        case "ToolCallPart":
          chars += p.toolName.length + p.argsAsJson().length
          break
        default:
          chars += json(p)
      }
    }
  }
  return [chars, files]
}

/** Overhead counted per message (role markers, separators) by `estimateTokens`. */
export const estimatedMessageOverhead = 4

const messageTokens = (m: ModelMessage): number => {
  const [chars, files] = messageChars(m)
  return Math.ceil(chars / 4) + files * estimatedFileTokens + estimatedMessageOverhead
}

/**
 * A rough input-token estimate of a conversation, for models that cannot count: characters / 4
 * (text, tool names, arguments and results as the model sees them) plus
 * `estimatedMessageOverhead` tokens per message, `estimatedFileTokens` per file, and the
 * instructions of the last request. English text runs at about 4 characters per token;
 * code and other languages run denser, so keep headroom in a budget built on it.
 */
export const estimateTokens = (messages: ReadonlyArray<ModelMessage>): number => {
  let tokens = 0
  for (const m of messages) tokens += messageTokens(m)
  const last = messages[messages.length - 1]
  if (last?._tag === "ModelRequest" && last.instructions !== undefined) {
    tokens += Math.ceil(last.instructions.length / 4)
  }
  return tokens
}

/** Options of `tokenBudget`. */
export interface TokenBudgetOptions<E = never, R = never> {
  /** The most input tokens a request may hold (leave room for tool definitions and output). */
  readonly maxTokens: number
  /**
   * Counts the tokens of a history. Default: the run's model's `countTokens` when it has one
   * (the provider's tokenizer, one HTTP call per count), else `estimateTokens`.
   */
  readonly count?: (
    messages: ReadonlyArray<ModelMessage>,
    ctx: RunContextService
  ) => number | Effect.Effect<number, E, R>
}

const modelCount = (
  messages: ReadonlyArray<ModelMessage>,
  ctx: RunContextService
): number | Effect.Effect<number, ModelError> => {
  const counter = ctx.model.countTokens
  return counter === undefined
    ? estimateTokens(messages)
    : Effect.map(
        counter(messages, ctx.modelSettings, Model.ModelRequestParameters.empty),
        (usage) => usage.inputTokens
      )
}

/**
 * Drops the oldest turns until the history fits in `maxTokens` (cut as `keepLastTurns` cuts).
 * Counted with the run's model's `countTokens` when it has one (tool definitions are not
 * counted: they are not part of the history), else with `estimateTokens`, or with `count`.
 * With a provider counter it costs one count when the history fits, and usually two when it
 * does not (the cut is guessed from estimates scaled to the provider's count, then checked,
 * dropping one more turn while it still does not fit). The current turn is always kept, even
 * when it alone is over the budget. A failing count fails the run with its error.
 */
export const tokenBudget = <E = ModelError, R = never>(
  options: TokenBudgetOptions<E, R>
): HistoryProcessor<E | ModelError, R> => {
  positive("tokenBudget({ maxTokens })", options.maxTokens)
  const max = options.maxTokens
  const count = options.count ?? modelCount
  return (messages, ctx) => {
    const measure = (candidate: ReadonlyArray<ModelMessage>) => {
      const n = count(candidate, ctx)
      return typeof n === "number" ? Effect.succeed(n) : n
    }
    return Effect.gen(function* () {
      const total = yield* measure(messages)
      const starts = internal.turnStarts(messages)
      if (total <= max || starts.length <= 1) return messages
      // Guess the cut from per-message estimates scaled to the real count, then check it.
      const suffix = new Array<number>(messages.length + 1).fill(0)
      for (let i = messages.length - 1; i >= 0; i--) {
        suffix[i] = suffix[i + 1]! + messageTokens(messages[i]!)
      }
      const ratio = total / Math.max(1, suffix[0]!)
      let keep = starts.length - 1
      while (keep > 1 && suffix[starts[starts.length - keep]!]! * ratio > max) keep--
      for (;;) {
        const candidate = internal.cutAt(messages, starts[starts.length - keep]!)
        if (keep === 1 || (yield* measure(candidate)) <= max) return candidate
        keep--
      }
    })
  }
}

// ---------------------------------------------------------------------------
// Summaries
// ---------------------------------------------------------------------------

/** The default instructions of the summarising model. */
export const defaultSummaryInstructions =
  "Summarise the conversation below for an assistant that will continue it without seeing it. " +
  "Keep every fact, decision, name, number, open question and tool result the assistant may " +
  "need; drop small talk. Answer with the summary only."

/** The text the summary is sent to the model with, before the summary itself. */
export const summaryPrefix = "Summary of the earlier conversation:\n"

/** Options of `summarise`. */
export interface SummariseOptions<M extends Model.Input> {
  /** The (cheaper) model that writes the summary: a service, a Layer or a `"provider:model"` string. */
  readonly model: M
  /** How many of the latest turns are sent as they are (a positive integer). */
  readonly keepLastTurns: number
  /** Instructions of the summarising request; default `defaultSummaryInstructions`. */
  readonly instructions?: string
  /** Settings of the summarising request. */
  readonly modelSettings?: ModelSettings
}

/** A conversation as a plain transcript for the summarising model (system prompts left out). */
export const transcript = (messages: ReadonlyArray<ModelMessage>): string => {
  const lines: Array<string> = []
  for (const m of messages) {
    if (m._tag === "ModelRequest") {
      for (const p of m.parts) {
        switch (p._tag) {
          case "UserPromptPart":
            lines.push(
              `User: ${
                typeof p.content === "string"
                  ? p.content
                  : p.content
                      .map((c) =>
                        typeof c === "string"
                          ? c
                          : c._tag === "TextContent"
                            ? c.content
                            : `[${c._tag}]`
                      )
                      .join(" ")
              }`
            )
            break
          case "ToolReturnPart":
            lines.push(`Tool result (${p.toolName}): ${p.contentText}`)
            break
          case "RetryPromptPart":
            lines.push(`Retry request: ${p.modelResponse}`)
            break
        }
      }
    } else {
      for (const p of m.parts) {
        if (p._tag === "TextPart") lines.push(`Assistant: ${p.content}`)
        else if (p._tag === "ToolCallPart") {
          lines.push(`Assistant called ${p.toolName}(${p.argsAsJson()})`)
        }
      }
    }
  }
  return lines.join("\n")
}

/** Adds a summarising request's usage to the run's usage, when run inside a run. */
const countSummary = (usage: RequestUsage): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(CurrentUsage), (ref) =>
    Option.isNone(ref)
      ? Effect.void
      : Ref.update(ref.value, (run) => {
          const added = run.addRequest(usage)
          const details = { ...added.details }
          details.summaryRequests = (details.summaryRequests ?? 0) + 1
          return new RunUsage({ ...added, requests: run.requests, details }, true)
        })
  )

/** How many summaries a `summarise` processor remembers (the oldest goes first). */
export const summaryCacheSize = 16

/**
 * Replaces the turns before the last `keepLastTurns` with a summary written by `model` (a
 * cheaper one, usually), sent as a user prompt part (`summaryPrefix` + summary) at the start of
 * the first kept request, after the carried system prompt. Each processor remembers its last
 * `summaryCacheSize` summaries, keyed by the prefix's `transcript`, and reuses one for every
 * later request whose prefix reads the same — each request of a tool loop, a next run given
 * `result.messages` (also decoded from JSON) — so a prefix is summarised once. A summarising
 * request is a `chat` span of its own and is counted in the run's usage: its tokens (so token
 * limits see them), its price (`RunUsage.cost`, with a pricing installed) and
 * `details.summaryRequests` — but not `requests`, which counts the agent's own model requests
 * (`requestLimit`). A failing one fails the run with its error.
 */
export const summarise = <M extends Model.Input>(
  options: SummariseOptions<M>
): HistoryProcessor<ModelError | Model.InputError<M>, Model.InputContext<M>> => {
  positive("summarise({ keepLastTurns })", options.keepLastTurns)
  const keep = options.keepLastTurns
  const instructions = options.instructions ?? defaultSummaryInstructions
  const settings = options.modelSettings ?? {}
  // Transcript of a prefix → its summary, in insertion order (a Map iterates oldest first).
  const cache = new Map<string, string>()
  const write = (
    text: string
  ): Effect.Effect<string, ModelError | Model.InputError<M>, Model.InputContext<M>> =>
    Effect.scoped(
      Effect.flatMap(
        Model.resolve(options.model) as Effect.Effect<
          Model.Service,
          Model.InputError<M>,
          Model.InputContext<M>
        >,
        (model) =>
          Effect.flatMap(
            InstrumentedModel.instrument(model).request(
              [makeModelRequest({ parts: [makeUserPromptPart({ content: text })], instructions })],
              settings,
              Model.ModelRequestParameters.empty
            ),
            (response) =>
              response.text.trim() === ""
                ? Effect.fail(
                    new UnexpectedModelBehavior({
                      reason: `The summarising model ${model.modelName} returned no text`
                    })
                  )
                : Effect.as(countSummary(response.usage), response.text.trim())
          )
      )
    )
  return (messages) => {
    const starts = internal.turnStarts(messages)
    if (starts.length <= keep) return messages
    const cut = starts[starts.length - keep]!
    const key = transcript(messages.slice(0, cut))
    const withSummary = (summary: string) =>
      internal.cutAt(messages, cut, [makeUserPromptPart({ content: summaryPrefix + summary })])
    const found = cache.get(key)
    if (found !== undefined) return withSummary(found)
    return Effect.map(write(key), (summary) => {
      cache.set(key, summary)
      if (cache.size > summaryCacheSize) cache.delete(cache.keys().next().value!)
      return withSummary(summary)
    })
  }
}
