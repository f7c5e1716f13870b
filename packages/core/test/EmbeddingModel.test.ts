import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import {
  Agent,
  Cost,
  EmbeddingModel,
  TestEmbeddingModel,
  TestModel,
  Tool,
  Usage
} from "@agentfx/core"

const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

describe("TestEmbeddingModel", () => {
  it.effect("derives unit vectors from the words, records every call and counts words", () =>
    Effect.gen(function* () {
      const result = yield* EmbeddingModel.embed(["Cats purr.", "cats PURR", "dogs bark", ""], {
        inputType: "document",
        dimensions: 16,
        title: "pets"
      })
      assert.strictEqual(result.vectors.length, 4)
      assert.deepStrictEqual(result.vectors[0], TestEmbeddingModel.vectorOf("Cats purr.", 16))
      // Same words (case and punctuation aside) → same vector; unit length.
      assert.deepStrictEqual(result.vectors[0], result.vectors[1])
      assert.closeTo(norm(result.vectors[0]!), 1, 1e-12)
      assert.notDeepEqual(result.vectors[0], result.vectors[2])
      // No words → the first unit vector.
      assert.deepStrictEqual(result.vectors[3], [1, ...new Array(15).fill(0)])
      assert.strictEqual(result.inputType, "document")
      assert.strictEqual(result.model, "test-embedding")
      assert.strictEqual(result.provider, "test")
      assert.strictEqual(result.requests, 1)
      assert.strictEqual(result.usage.inputTokens, 6)
      assert.strictEqual(result.usage.outputTokens, 0)
      const test = yield* TestEmbeddingModel.TestEmbeddingModel
      const calls = yield* test.calls
      assert.strictEqual(calls.length, 1)
      assert.deepStrictEqual(calls[0]!.texts, ["Cats purr.", "cats PURR", "dogs bark", ""])
      assert.deepStrictEqual(calls[0]!.settings, {
        inputType: "document",
        dimensions: 16,
        title: "pets"
      })
      const model = yield* EmbeddingModel.EmbeddingModel
      assert.isTrue(Option.isSome(model.countTokens))
      if (Option.isSome(model.countTokens))
        assert.strictEqual(yield* model.countTokens.value("one two three"), 3)
    }).pipe(Effect.provide(TestEmbeddingModel.layer()))
  )

  it("vectorOf is a hashed bag of words: shared words raise the cosine similarity", () => {
    const q = TestEmbeddingModel.vectorOf("how do I cancel a run", 256)
    const near = TestEmbeddingModel.vectorOf("cancel a run by interrupting its fiber", 256)
    const far = TestEmbeddingModel.vectorOf("pricing tables for providers", 256)
    assert.isAbove(
      EmbeddingModel.cosineSimilarity(q, near),
      EmbeddingModel.cosineSimilarity(q, far)
    )
    assert.deepStrictEqual(TestEmbeddingModel.vectorOf("x", 8), TestEmbeddingModel.vectorOf("x", 8))
  })
})

describe("EmbeddingModel.make", () => {
  it.effect("splits into batches of at most maxBatchSize (or batchSize), keeps input order", () =>
    Effect.gen(function* () {
      const test = yield* TestEmbeddingModel.make({ maxBatchSize: 100, dimensions: 4 })
      const texts = Array.from({ length: 250 }, (_, i) => `text number ${i}`)
      const result = yield* test.model.embed(texts, { inputType: "query" })
      const calls = yield* test.calls
      assert.deepStrictEqual(
        calls.map((c) => c.texts.length),
        [100, 100, 50]
      )
      assert.deepStrictEqual(
        calls.flatMap((c) => c.texts),
        texts
      )
      assert.deepStrictEqual(
        result.vectors,
        texts.map((t) => TestEmbeddingModel.vectorOf(t, 4))
      )
      assert.strictEqual(result.requests, 3)
      assert.strictEqual(result.usage.inputTokens, 750)
      // A smaller batchSize wins; a larger one is capped at maxBatchSize.
      const small = yield* test.model.embed(texts.slice(0, 10), {
        inputType: "query",
        batchSize: 4
      })
      assert.strictEqual(small.requests, 3)
      const big = yield* test.model.embed(texts, { inputType: "query", batchSize: 1000 })
      assert.strictEqual(big.requests, 3)
      // No texts: no request.
      const none = yield* test.model.embed([], { inputType: "query" })
      assert.deepStrictEqual(none.vectors, [])
      assert.strictEqual(none.requests, 0)
    })
  )

  it.effect("sends at most `concurrency` requests at a time", () =>
    Effect.gen(function* () {
      const inFlight = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const model = EmbeddingModel.make({
        modelName: "m",
        provider: "p",
        maxBatchSize: 1,
        concurrency: 3,
        embedBatch: (texts) =>
          Effect.gen(function* () {
            const n = yield* Ref.updateAndGet(inFlight, (x) => x + 1)
            yield* Ref.update(peak, (p) => Math.max(p, n))
            for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
            yield* Ref.update(inFlight, (x) => x - 1)
            return { vectors: texts.map(() => [1]), usage: Usage.RequestUsage.empty }
          })
      })
      const texts = Array.from({ length: 12 }, (_, i) => `t${i}`)
      yield* model.embed(texts, { inputType: "document" })
      assert.strictEqual(yield* Ref.get(peak), 3)
      yield* Ref.set(peak, 0)
      yield* model.embed(texts, { inputType: "document", concurrency: 1 })
      assert.strictEqual(yield* Ref.get(peak), 1)
    })
  )

  it.effect("bad options are a UserError; a wrong vector count is UnexpectedModelBehavior", () =>
    Effect.gen(function* () {
      const test = yield* TestEmbeddingModel.make()
      const dims = yield* Effect.flip(
        test.model.embed(["a"], { inputType: "query", dimensions: 0 })
      )
      assert.strictEqual(dims._tag, "UserError")
      assert.include(dims.message, "dimensions must be a positive integer")
      const type = yield* Effect.flip(test.model.embed(["a"], { inputType: "title" as any }))
      assert.strictEqual(type._tag, "UserError")
      assert.include(type.message, 'inputType must be "query" or "document"')
      assert.deepStrictEqual(yield* test.calls, [])
      const short = EmbeddingModel.make({
        modelName: "m",
        provider: "p",
        maxBatchSize: 10,
        embedBatch: () => Effect.succeed({ vectors: [[1]], usage: Usage.RequestUsage.empty })
      })
      const e = yield* Effect.flip(short.embed(["a", "b"], { inputType: "query" }))
      assert.strictEqual(e._tag, "UnexpectedModelBehavior")
      assert.include(e.message, "returned 1 vectors for 2 texts")
    })
  )

  it.effect("model settings are defaults, a call's settings win key by key", () =>
    Effect.gen(function* () {
      const test = yield* TestEmbeddingModel.make({
        settings: { dimensions: 3, extraHeaders: { a: "1", b: "1" }, truncate: true }
      })
      yield* test.model.embed(["x"], { inputType: "query", extraHeaders: { b: "2" } })
      const [call] = yield* test.calls
      assert.deepStrictEqual(call!.settings, {
        inputType: "query",
        dimensions: 3,
        truncate: true,
        extraHeaders: { a: "1", b: "2" }
      })
    })
  )

  it.effect("inside an agent run, embedding usage is added to the run's usage", () =>
    Effect.gen(function* () {
      const search = (embed: boolean) =>
        Tool.make("search", {
          parameters: Schema.Struct({}),
          handler: () =>
            embed
              ? Effect.as(
                  EmbeddingModel.embed(["five words in this query"], { inputType: "query" }),
                  "ok"
                )
              : Effect.succeed("ok")
        })
      const run = (embed: boolean) =>
        Agent.make({ tools: [search(embed)] })
          .run("find it")
          .pipe(Effect.provide(TestModel.layer()), Effect.provide(TestEmbeddingModel.layer()))
      const plain = yield* run(false)
      const withEmbedding = yield* run(true)
      assert.strictEqual(withEmbedding.usage.requests, plain.usage.requests)
      assert.strictEqual(withEmbedding.usage.inputTokens, plain.usage.inputTokens + 5)
      assert.strictEqual(withEmbedding.usage.outputTokens, plain.usage.outputTokens)
      assert.deepStrictEqual(withEmbedding.usage.details, {
        embeddingRequests: 1,
        embeddingInputTokens: 5
      })
      // A token limit sees them: the run's next request is refused.
      const limited = yield* Effect.flip(
        Agent.make({ tools: [search(true)] })
          .run("find it", {
            usageLimits: new Usage.UsageLimits({ inputTokensLimit: plain.usage.inputTokens + 4 })
          })
          .pipe(Effect.provide(TestModel.layer()), Effect.provide(TestEmbeddingModel.layer()))
      )
      assert.strictEqual(limited._tag, "UsageLimitExceeded")
    })
  )

  it.effect(
    "with a pricing, each request is priced and the run's cost and costLimit count it",
    () =>
      Effect.gen(function* () {
        // $2 per million input tokens for the embedder; the chat test model has no price.
        const pricing = Cost.fromTable({
          "test-embedding": { inputPerMillion: 2, outputPerMillion: 0 }
        })
        const alone = yield* EmbeddingModel.embed(["a b c", "d"], {
          inputType: "document",
          batchSize: 1
        }).pipe(Cost.withPricing(pricing))
        assert.strictEqual(alone.requests, 2)
        assert.strictEqual(alone.usage.inputTokens, 4)
        assert.closeTo(alone.usage.cost!, (4 * 2) / 1_000_000, 1e-15)
        // Without a pricing nothing is priced.
        const unpriced = yield* EmbeddingModel.embed(["a b c"], { inputType: "document" })
        assert.strictEqual(unpriced.usage.cost, undefined)

        const search = Tool.make("search", {
          parameters: Schema.Struct({}),
          handler: () =>
            Effect.as(
              EmbeddingModel.embed(["five words in this query"], { inputType: "query" }),
              "ok"
            )
        })
        const agent = Agent.make({ tools: [search] })
        const result = yield* agent.run("find it").pipe(Cost.withPricing(pricing))
        assert.closeTo(result.usage.cost!, (5 * 2) / 1_000_000, 1e-15)
        // A cost limit below the embedding's price stops the run before its next model request.
        const limited = yield* Effect.flip(
          agent
            .run("find it", { usageLimits: new Usage.UsageLimits({ costLimit: 9 / 1_000_000 }) })
            .pipe(Cost.withPricing(pricing))
        )
        assert.strictEqual(limited._tag, "UsageLimitExceeded")
        assert.strictEqual(limited._tag === "UsageLimitExceeded" && limited.limit, "costLimit")
      }).pipe(Effect.provide(TestModel.layer()), Effect.provide(TestEmbeddingModel.layer()))
  )

  it.effect("outside a run, nothing else is touched", () =>
    Effect.gen(function* () {
      const r = yield* EmbeddingModel.embed(["a b"], { inputType: "query" })
      assert.strictEqual(r.usage.inputTokens, 2)
    }).pipe(Effect.provide(TestEmbeddingModel.layer()))
  )
})
