/**
 * The RAG example's pieces: chunking into sections, the PGlite + pgvector store (the right
 * section retrieved, built once and rebuilt when stale, the seed record shape), and the agent
 * answering with citations — on a small fixture corpus, then on the project's real docs.
 */
import { Agent, EmbeddingModel, FunctionModel } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Rag from "../src/lib/rag.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const guide: Rag.SourceDoc = {
  path: "docs/guide.md",
  text: [
    "# Guide",
    "",
    "The guide to the kitchen. See `main.ts` for the code.",
    "",
    "## Baking bread",
    "",
    "Knead the dough for ten minutes. Let the dough rise overnight, then bake the bread at 230 degrees.",
    "",
    "```sh",
    "## not a heading: inside a code fence",
    "```",
    "",
    "## Brewing coffee",
    "",
    "Grind the beans coarsely. Pour water just off the boil over the grounds and wait four minutes.",
    "",
    "## Brewing coffee",
    "",
    "A second section with the same heading gets its own anchor.",
    "",
    "### Cleaning the espresso machine",
    "",
    "Descale the espresso machine monthly with citric acid; flush the group head daily."
  ].join("\n")
}

const garden: Rag.SourceDoc = {
  path: "docs/garden.md",
  text: "# Garden\n\n## Watering tomatoes\n\nWater tomatoes at the roots in the morning, never the leaves.\n"
}

const url = (path: string, anchor?: string) =>
  `${Rag.repositoryUrl}/${path}${anchor === undefined ? "" : `#${anchor}`}`

describe("chunkMarkdown", () => {
  it("splits at headings outside code fences, with titles, anchors and summaries", () => {
    const sections = Rag.chunkMarkdown(guide)
    assert.deepStrictEqual(
      sections.map((s) => [s.chunkNumber, s.title, s.url]),
      [
        [0, "Guide", url("docs/guide.md")],
        [1, "Guide › Baking bread", url("docs/guide.md", "baking-bread")],
        [2, "Guide › Brewing coffee", url("docs/guide.md", "brewing-coffee")],
        [3, "Guide › Brewing coffee", url("docs/guide.md", "brewing-coffee-1")],
        [
          4,
          "Guide › Cleaning the espresso machine",
          url("docs/guide.md", "cleaning-the-espresso-machine")
        ]
      ]
    )
    // The fenced "## …" line stays in the bread section.
    assert.include(sections[1]!.content, "## not a heading: inside a code fence")
    assert.strictEqual(sections[0]!.summary, "The guide to the kitchen. See main.ts for the code.")
    assert.strictEqual(
      sections[1]!.summary,
      "Knead the dough for ten minutes. Let the dough rise overnight, then bake the bread at 230 degrees."
    )
  })

  it("summaries stop at a sentence end (not at `Agent.run`), within the limit", () => {
    const long = `## Long\n\nCall \`Agent.run\` to run it. ${"Another sentence here. ".repeat(20)}`
    const [section] = Rag.chunkMarkdown({ path: "x.md", text: long })
    assert.isAtMost(section!.summary.length, 240)
    assert.isTrue(section!.summary.startsWith("Call Agent.run to run it. Another sentence here."))
    assert.isTrue(section!.summary.endsWith("."))
  })

  it("the project's docs: every README is chunked, each section has a source and a summary", () => {
    const docs = Rag.projectDocs(root)
    assert.include(
      docs.map((d) => d.path),
      "README.md"
    )
    assert.include(
      docs.map((d) => d.path),
      "packages/core/README.md"
    )
    const sections = docs.flatMap(Rag.chunkMarkdown)
    assert.isAbove(sections.length, 40)
    for (const s of sections) {
      assert.match(s.url, /^https:\/\/github\.com\/agentfx\/agentfx\/blob\/main\/\S+\.md(#\S+)?$/)
      assert.notStrictEqual(s.summary, "")
    }
    assert.strictEqual(new Set(sections.map((s) => s.url)).size, sections.length)
  })
})

/** The local embedder, counting the texts it embeds. */
const counting = (docs: ReadonlyArray<Rag.SourceDoc>) => {
  const embedded: Array<string> = []
  const local = Rag.localHashEmbedding(docs)
  const service = EmbeddingModel.make({
    modelName: local.modelName,
    provider: local.provider,
    maxBatchSize: local.maxBatchSize,
    embedBatch: (texts, settings) => {
      embedded.push(...texts)
      // Without the run's usage in context: this wrapper's own `make` counts the request once.
      return Effect.map(
        Effect.mapInputContext(local.embed(texts, settings), Context.omit(Agent.CurrentUsage)),
        (r) => ({ vectors: r.vectors, usage: r.usage })
      )
    }
  })
  return { embedded, layer: Layer.succeed(EmbeddingModel.EmbeddingModel, service) }
}

const storeIn = (dataDir: string, docs: ReadonlyArray<Rag.SourceDoc>, dimensions = 256) => {
  const embedder = counting(docs)
  return {
    embedded: embedder.embedded,
    layer: Rag.layer({ dataDir, docs, dimensions }).pipe(Layer.provideMerge(embedder.layer))
  }
}

describe("DocStore (PGlite + pgvector)", () => {
  it.live(
    "retrieves the right section, answers citing it, is reused, and rebuilt when stale",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-rag-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true })))
        const dataDir = join(dir, "db")
        const docs = [guide, garden]

        const first = storeIn(dataDir, docs)
        yield* Effect.gen(function* () {
          const store = yield* Rag.DocStore
          assert.isTrue(store.rebuilt)
          // guide: preamble + 4 sections; garden: preamble + 1
          assert.strictEqual(yield* store.count, 7)
          assert.strictEqual(first.embedded.length, 7)
          // Documents are embedded with their titles.
          assert.isTrue(first.embedded[1]!.startsWith("Guide › Baking bread\n\n## Baking bread"))

          const hits = yield* store.retrieve("how long should the dough rise before baking?", 3)
          assert.strictEqual(hits.length, 3)
          assert.strictEqual(hits[0]!.url, url("docs/guide.md", "baking-bread"))
          assert.strictEqual(hits[0]!.title, "Guide › Baking bread")
          assert.isAbove(hits[0]!.score, hits[1]!.score)
          assert.isTrue(hits.every((h, i) => i === 0 || h.score <= hits[i - 1]!.score))
          const water = yield* store.retrieve("when to water the tomatoes", 1)
          assert.deepStrictEqual(
            water.map((h) => h.url),
            [url("docs/garden.md", "watering-tomatoes")]
          )
          const espresso = yield* store.retrieve("descale espresso machine", 2)
          assert.strictEqual(
            espresso[0]!.url,
            url("docs/guide.md", "cleaning-the-espresso-machine")
          )

          // The seed documents' record shape: front matter with url, title, summary, embedding.
          const record = (yield* store.record(url("docs/garden.md", "watering-tomatoes")))!
          const front = record.split("\n---\n")[0]!.split("\n")
          assert.strictEqual(front[0], "---")
          assert.strictEqual(front[1], `url: ${url("docs/garden.md", "watering-tomatoes")}`)
          assert.strictEqual(front[3], "title: Garden › Watering tomatoes")
          assert.strictEqual(
            front[4],
            "summary: Water tomatoes at the roots in the morning, never the leaves."
          )
          const embedding = JSON.parse(front[5]!.slice("embedding: ".length)) as Array<number>
          assert.strictEqual(embedding.length, 256)
          assert.closeTo(Math.hypot(...embedding), 1, 1e-5)
          assert.isTrue(
            record.endsWith("Water tomatoes at the roots in the morning, never the leaves.")
          )

          // The agent, on the scripted model: retrieve, then an answer citing the best sections.
          const result = yield* Rag.ragAgent
            .run("How long should bread dough rise?")
            .pipe(Effect.provide(FunctionModel.layer(Rag.scriptedDocsModel)))
          assert.include(
            result.output,
            `[Guide › Baking bread](${url("docs/guide.md", "baking-bread")})`
          )
          assert.include(result.output, "Let the dough rise overnight")
          assert.strictEqual(result.usage.toolCalls, 1)
          // The query's embedding request is counted in the run's usage.
          assert.strictEqual(result.usage.details.embeddingRequests, 1)
        }).pipe(Effect.provide(first.layer), Effect.scoped)

        // Same sources, same embedder: the directory is reused, nothing is embedded.
        const again = storeIn(dataDir, docs)
        yield* Effect.gen(function* () {
          const store = yield* Rag.DocStore
          assert.isFalse(store.rebuilt)
          assert.strictEqual(yield* store.count, 7)
          assert.strictEqual(again.embedded.length, 0)
        }).pipe(Effect.provide(again.layer), Effect.scoped)

        // A changed source makes it stale: rebuilt.
        const changed = storeIn(dataDir, [
          guide,
          { ...garden, text: `${garden.text}\n## Pruning roses\n\nPrune roses in late winter.\n` }
        ])
        yield* Effect.gen(function* () {
          const store = yield* Rag.DocStore
          assert.isTrue(store.rebuilt)
          assert.strictEqual(yield* store.count, 8)
          const hits = yield* store.retrieve("prune the roses", 1)
          assert.strictEqual(hits[0]!.url, url("docs/garden.md", "pruning-roses"))
        }).pipe(Effect.provide(changed.layer), Effect.scoped)
      }).pipe(Effect.scoped),
    180_000
  )

  it.live(
    "on the project's docs, the local embedding finds the durable-execution section",
    () =>
      Effect.gen(function* () {
        const docs = Rag.projectDocs(root)
        const store = storeIn("memory://", docs, Rag.localDimensions)
        const hits = yield* Effect.flatMap(Rag.DocStore, (s) =>
          s.retrieve("How does durable execution survive a restart?", 3)
        ).pipe(Effect.provide(store.layer), Effect.scoped)
        assert.isTrue(
          hits[0]!.url.startsWith(`${Rag.repositoryUrl}/packages/durable/README.md`),
          hits.map((h) => h.url).join(", ")
        )
      }),
    180_000
  )
})
