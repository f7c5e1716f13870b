/**
 * A deterministic embedding model for tests: no network, no key, and vectors that mean
 * something, so retrieval code can be tested end to end.
 *
 * How a vector is derived (`vectorOf`): the text is lower-cased and split into words (runs of
 * letters and digits); each word is hashed with 32-bit FNV-1a; the hash picks a dimension
 * (`hash % dimensions`) and a sign (bit 16 of the hash); each word adds `±1` there; the vector
 * is then scaled to length 1. A text without words gets the unit vector `[1, 0, 0, …]`. So the
 * same text always gets the same vector, and texts sharing words point in similar directions
 * (a hashed bag of words). `inputType` does not change the vector; it is recorded.
 *
 * Usage: one input token per word (as `TestModel` counts).
 *
 * @example
 * ```ts
 * import { EmbeddingModel, TestEmbeddingModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const result = yield* EmbeddingModel.embed(["cats purr"], { inputType: "query", dimensions: 4 })
 *   const test = yield* TestEmbeddingModel.TestEmbeddingModel
 *   const [call] = yield* test.calls // { texts: ["cats purr"], settings: { inputType: "query", … } }
 *   return result.vectors[0] // TestEmbeddingModel.vectorOf("cats purr", 4)
 * }).pipe(Effect.provide(TestEmbeddingModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as EmbeddingModel from "./EmbeddingModel.js"
import { RequestUsage } from "./Usage.js"

/** Options of the test embedding model. */
export interface Options {
  /** Default `"test-embedding"`. */
  readonly modelName?: string | undefined
  /** Default `"test"`. */
  readonly provider?: string | undefined
  /** Vector length when a call does not ask for `dimensions` (default 8). */
  readonly dimensions?: number | undefined
  /** Texts per request (default 100). */
  readonly maxBatchSize?: number | undefined
  readonly concurrency?: number | undefined
  readonly settings?: EmbeddingModel.EmbeddingSettings | undefined
}

/** One request (batch) the test model received. */
export interface RecordedCall {
  readonly texts: ReadonlyArray<string>
  readonly settings: EmbeddingModel.BatchSettings
}

/** The test model's own service: the embedding model plus what it recorded. */
export interface Service {
  readonly model: EmbeddingModel.Service
  /** Every request (batch) received, oldest first. */
  readonly calls: Effect.Effect<ReadonlyArray<RecordedCall>>
}

/** Access to the test embedding model of a program (provided by `layer`). */
export class TestEmbeddingModel extends Context.Tag("@agentfx/core/TestEmbeddingModel")<
  TestEmbeddingModel,
  Service
>() {}

const WORD = /[\p{L}\p{N}]+/gu

/** The words of a text, lower-cased (runs of letters and digits). */
export const words = (text: string): Array<string> => text.toLowerCase().match(WORD) ?? []

/** 32-bit FNV-1a of a string's UTF-16 code units. */
export const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A hashed bag of words of the given words, scaled to length 1 (see the module docs). */
export const bagOfWords = (tokens: ReadonlyArray<string>, dimensions: number): Array<number> => {
  const v = new Array<number>(dimensions).fill(0)
  for (const w of tokens) {
    const h = fnv1a(w)
    v[h % dimensions]! += (h >>> 16) & 1 ? -1 : 1
  }
  let norm = 0
  for (const x of v) norm += x * x
  if (norm === 0) {
    v.fill(0)
    v[0] = 1
    return v
  }
  const scale = 1 / Math.sqrt(norm)
  return v.map((x) => x * scale)
}

/** The vector the test model returns for a text (see the module docs). */
export const vectorOf = (text: string, dimensions = 8): Array<number> =>
  bagOfWords(words(text), dimensions)

/** Builds a test embedding model. */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.map(Ref.make<ReadonlyArray<RecordedCall>>([]), (recorded) => {
    const model = EmbeddingModel.make({
      modelName: options.modelName ?? "test-embedding",
      provider: options.provider ?? "test",
      maxBatchSize: options.maxBatchSize ?? 100,
      concurrency: options.concurrency,
      settings: options.settings,
      embedBatch: (texts, settings) =>
        Effect.as(
          Ref.update(recorded, (all) => [...all, { texts, settings }]),
          {
            vectors: texts.map((t) => vectorOf(t, settings.dimensions ?? options.dimensions ?? 8)),
            usage: new RequestUsage({
              inputTokens: texts.reduce((n, t) => n + words(t).length, 0)
            })
          }
        ),
      countTokens: (text) => Effect.succeed(words(text).length)
    })
    return { model, calls: Ref.get(recorded) }
  })

/**
 * A Layer providing `EmbeddingModel` (the test model) and `TestEmbeddingModel` (its
 * recordings). Each build starts with no recorded calls.
 */
export const layer = (
  options: Options = {}
): Layer.Layer<EmbeddingModel.EmbeddingModel | TestEmbeddingModel> =>
  Layer.effectContext(
    Effect.map(make(options), (service) =>
      Context.make(TestEmbeddingModel, service).pipe(
        Context.add(EmbeddingModel.EmbeddingModel, service.model)
      )
    )
  )
