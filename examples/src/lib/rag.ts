/**
 * The pieces of the RAG example (`examples/src/rag.ts`), kept apart so they can be tested:
 *
 * - `chunkMarkdown`: a Markdown document split into its sections (one per heading; code fences
 *   never split), each with a title, a URL-like source (`https://github.com/…/README.md#anchor`)
 *   and a summary (its first sentences, taken from the text: no model needed);
 * - `localHashEmbedding`: a small embedding computed locally, `local-hash-embedding` — a hashed
 *   bag of words (core's `TestEmbeddingModel.bagOfWords`) over the words left after dropping
 *   common English words and a plural "s". Good enough to find a section by its vocabulary; it
 *   knows nothing of meaning. With a key, the example uses a real embedder instead;
 * - `DocStore`: the sections in PGlite (Postgres in WASM) with pgvector, persisted in a
 *   directory built once and rebuilt when missing or stale (the sources, the embedder or the
 *   dimensions changed); `retrieve` is a top-k cosine search (`<=>`);
 * - `retrieveTool` and `ragAgent`: the agent answers from what `retrieve` returns, citing sources.
 *
 * A stored section has the record shape of the project's seed documents: front matter with
 * `url`, `title`, `summary` and `embedding` (see `toFrontMatter`), plus its text.
 */
import {
  Agent,
  EmbeddingModel,
  FunctionModel,
  Messages,
  TestEmbeddingModel,
  Tool,
  Usage
} from "@agentfx/core"
import * as CohereEmbedding from "@agentfx/providers/CohereEmbedding"
import * as GoogleClient from "@agentfx/providers/GoogleClient"
import * as GoogleEmbedding from "@agentfx/providers/GoogleEmbedding"
import * as OpenAiClient from "@agentfx/providers/OpenAiClient"
import * as OpenAiEmbedding from "@agentfx/providers/OpenAiEmbedding"
import * as VoyageEmbedding from "@agentfx/providers/VoyageEmbedding"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { PGlite } from "@electric-sql/pglite"
import { vector } from "@electric-sql/pglite-pgvector"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"

// -- sections ------------------------------------------------------------------------------

/** One section of a document, as stored. */
export interface Section {
  /** URL-like source: the file on GitHub plus the heading's anchor. */
  readonly url: string
  /** `<document title> › <heading>` (the document's own title for its preamble). */
  readonly title: string
  /** Its first sentences (at most ~240 characters). */
  readonly summary: string
  /** The section's Markdown, heading included. */
  readonly content: string
  /** Its position in the document, from 0. */
  readonly chunkNumber: number
}

/** A document to chunk: its Markdown and where it lives. */
export interface SourceDoc {
  /** Path relative to the repository root (`packages/core/README.md`). */
  readonly path: string
  readonly text: string
}

/** Where the repository's files are browsable. */
export const repositoryUrl = "https://github.com/agentfx/agentfx/blob/main"

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes. */
export const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .trim()
    .replace(/\s/g, "-")

const plain = (markdown: string): string =>
  markdown
    .replace(/```[\s\S]*?```/g, " ")
    .replace(/`([^`]*)`/g, "$1")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[*_>|#]/g, " ")
    .replace(/\s+/g, " ")
    .trim()

/** The first sentences of a section's prose, up to about `max` characters. */
export const summarize = (markdown: string, max = 240): string => {
  const body = markdown.replace(/^#{1,6} .*$/m, "")
  const text = plain(body)
  if (text.length <= max) return text
  // A sentence ends at . ! or ? followed by a space and a capital (not at `main.ts` or `Agent.run`).
  const sentences = text.split(/(?<=[.!?])\s+(?=[A-Z`"([])/)
  let out = ""
  for (const s of sentences) {
    if (out.length + s.length + 1 > max) break
    out = out === "" ? s : `${out} ${s}`
  }
  return (out === "" ? `${text.slice(0, max - 1)}…` : out).trim()
}

/**
 * Splits a Markdown document into sections at its headings (`#` to `####`), outside code
 * fences. The text before the first `##` belongs to the document's title section.
 */
export const chunkMarkdown = (doc: SourceDoc): Array<Section> => {
  const lines = doc.text.split("\n")
  const docTitle =
    lines
      .find((l) => /^# /.test(l))
      ?.slice(2)
      .trim() ?? doc.path
  const parts: Array<{ heading: string | undefined; lines: Array<string> }> = [
    { heading: undefined, lines: [] }
  ]
  let fence = false
  for (const line of lines) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence
    const m = fence ? null : /^(#{2,4}) (.+)$/.exec(line)
    if (m !== null) parts.push({ heading: m[2]!.trim(), lines: [line] })
    else parts[parts.length - 1]!.lines.push(line)
  }
  const fileUrl = `${repositoryUrl}/${doc.path}`
  const used = new Map<string, number>()
  return parts
    .map((p) => ({ ...p, content: p.lines.join("\n").trim() }))
    .filter((p) => plain(p.content).length > 0)
    .map((p, chunkNumber) => {
      let url = fileUrl
      if (p.heading !== undefined) {
        const base = slug(p.heading)
        const n = used.get(base) ?? 0
        used.set(base, n + 1)
        url = `${fileUrl}#${n === 0 ? base : `${base}-${n}`}`
      }
      return {
        url,
        title: p.heading === undefined ? docTitle : `${docTitle} › ${plain(p.heading)}`,
        summary: summarize(p.content) || plain(p.heading ?? docTitle),
        content: p.content,
        chunkNumber
      }
    })
}

/** The project's own documentation: README.md and packages/<name>/README.md. */
export const projectDocs = (root: string): Array<SourceDoc> => {
  const paths = ["README.md"]
  const packages = join(root, "packages")
  for (const name of readdirSync(packages).sort()) {
    if (existsSync(join(packages, name, "README.md"))) paths.push(`packages/${name}/README.md`)
  }
  return paths.map((path) => ({ path, text: readFileSync(join(root, path), "utf8") }))
}

/** A section in the seed documents' record shape: front matter (`url`, `title`, `summary`, `embedding`), then its text. */
export const toFrontMatter = (section: Section, embedding: ReadonlyArray<number>): string =>
  [
    "---",
    `url: ${section.url}`,
    `chunk_number: ${section.chunkNumber}`,
    `title: ${section.title}`,
    `summary: ${section.summary}`,
    `embedding: [${embedding.join(", ")}]`,
    "---",
    section.content
  ].join("\n")

// -- the local embedding ---------------------------------------------------------------------

const stopWords = new Set(
  (
    "a an and are as at be by can do does for from has have how i if in into is it its of on or " +
    "so than that the their then there these this to was what when where which while who why " +
    "will with you your not no all any each one more most other some such only own same also " +
    "use used using get set via we our"
  ).split(" ")
)

/** A crude English stemmer: `testing`, `tests`, `tested` → `test`; `bake`, `baking` → `bak`. */
export const stem = (word: string): string => {
  let w = word
  if (w.length > 5 && w.endsWith("ing")) w = w.slice(0, -3)
  else if (w.length > 4 && w.endsWith("ed")) w = w.slice(0, -2)
  else if (w.length > 4 && w.endsWith("es") && !w.endsWith("ses")) w = w.slice(0, -2)
  else if (w.length > 3 && w.endsWith("s") && !w.endsWith("ss")) w = w.slice(0, -1)
  // `bake` and `baking` meet at `bak`
  return w.length > 3 && w.endsWith("e") ? w.slice(0, -1) : w
}

/**
 * The words the local embedding counts, each once: no common English words, crudely stemmed.
 * Counting each word once keeps long sections from drowning short queries.
 */
export const keyWords = (text: string): Array<string> => [
  ...new Set(
    // `TestModel` counts as `testmodel`, `test` and `model`
    TestEmbeddingModel.words(text.replace(/([a-z])([A-Z])/g, "$1 $2"))
      .concat(TestEmbeddingModel.words(text))
      .filter((w) => !stopWords.has(w))
      .map(stem)
  )
]

/** Vector length of the local embedding. */
export const localDimensions = 512

/**
 * `local-hash-embedding`: hashed TF-IDF vectors computed in process (no network, no key). The
 * key words of a text (a document's title words count twice) are hashed into `dimensions`
 * buckets (FNV-1a, a sign from another bit, as core's `TestEmbeddingModel`), each weighted by
 * its inverse document frequency over the corpus's sections, so words every section has
 * ("agent", "model") weigh little and words none has weigh nothing. The corpus is part of the store's fingerprint, so documents
 * and queries are always embedded with the same weights.
 */
export const localHashEmbedding = (docs: ReadonlyArray<SourceDoc>): EmbeddingModel.Service => {
  const sections = docs.flatMap(chunkMarkdown)
  const df = new Map<string, number>()
  for (const s of sections)
    for (const w of keyWords(`${s.title}\n${s.content}`)) df.set(w, (df.get(w) ?? 0) + 1)
  const n = Math.max(1, sections.length)
  // A word no section has cannot match anything: weight 0 (it could only collide in a bucket).
  const idf = (w: string) => {
    const d = df.get(w)
    return d === undefined ? 0 : Math.log((n + 1) / (d + 1)) + 1
  }
  const embed = (text: string, dimensions: number): Array<number> => {
    const cut = text.indexOf("\n")
    const title = cut > 0 ? keyWords(text.slice(0, cut)) : []
    const v = new Array<number>(dimensions).fill(0)
    for (const w of [...keyWords(text), ...title]) {
      const h = TestEmbeddingModel.fnv1a(w)
      v[h % dimensions]! += ((h >>> 16) & 1 ? -1 : 1) * idf(w)
    }
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0))
    if (norm === 0) v[0] = 1
    return norm === 0 ? v : v.map((x) => x / norm)
  }
  return EmbeddingModel.make({
    modelName: "local-hash-embedding",
    provider: "local",
    maxBatchSize: 256,
    embedBatch: (texts, settings) =>
      Effect.succeed({
        vectors: texts.map((t) => embed(t, settings.dimensions ?? localDimensions)),
        usage: Usage.RequestUsage.empty
      })
  })
}

// -- the store ---------------------------------------------------------------------------------

/** A section found by `retrieve`, with its cosine similarity to the query. */
export interface Hit extends Section {
  readonly score: number
}

/** A database failure of the store. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  message: Schema.String
}) {}

/** The documentation store: built (or reused) when the layer starts. */
export class DocStore extends Context.Tag("examples/DocStore")<
  DocStore,
  {
    /** Whether this start built the store (`false`: reused the directory as it was). */
    readonly rebuilt: boolean
    readonly count: Effect.Effect<number, StoreError>
    /** The `k` sections closest to the query (cosine), best first. */
    readonly retrieve: (
      query: string,
      k: number
    ) => Effect.Effect<ReadonlyArray<Hit>, StoreError | EmbeddingModel.EmbeddingError>
    /** One stored section in the seed documents' record shape. */
    readonly record: (url: string) => Effect.Effect<string | undefined, StoreError>
  }
>() {}

/** The version of the stored format, chunking and local embedding: bump it when they change. */
export const storeVersion = 5

/** What identifies a build: the store version, the sources, the embedder and the dimensions. */
export const fingerprint = (
  docs: ReadonlyArray<SourceDoc>,
  embedder: EmbeddingModel.Service,
  dimensions: number
): string => {
  const h = createHash("sha256")
  h.update(`v${storeVersion} ${embedder.provider}:${embedder.modelName}:${dimensions}\n`)
  for (const d of docs) h.update(`${d.path}\n${d.text}\n`)
  return h.digest("hex")
}

const toSql = (v: ReadonlyArray<number>) => `[${v.join(",")}]`

/**
 * The store in `dataDir` (PGlite with pgvector; `memory://` keeps it in memory): rebuilt when the directory is missing or its
 * fingerprint differs, reused otherwise. Needs the `EmbeddingModel` to embed the sections (as
 * documents, with their titles) and the queries. Closed with the scope.
 */
export const layer = (options: {
  readonly dataDir: string
  readonly docs: ReadonlyArray<SourceDoc>
  readonly dimensions: number
}): Layer.Layer<
  DocStore,
  StoreError | EmbeddingModel.EmbeddingError,
  EmbeddingModel.EmbeddingModel
> =>
  Layer.scoped(
    DocStore,
    Effect.gen(function* () {
      const embedder = yield* EmbeddingModel.EmbeddingModel
      const pg = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            if (!options.dataDir.includes("://"))
              mkdirSync(dirname(options.dataDir), { recursive: true })
            const pg = new PGlite(options.dataDir, { extensions: { vector } })
            await pg.exec("CREATE EXTENSION IF NOT EXISTS vector")
            return pg
          },
          catch: (e) => new StoreError({ message: String(e) })
        }),
        (pg) => Effect.promise(() => pg.close())
      )
      const sql = <R>(text: string, params: ReadonlyArray<unknown> = []) =>
        Effect.tryPromise({
          try: () => pg.query<R>(text, [...params]),
          catch: (e) => new StoreError({ message: e instanceof Error ? e.message : String(e) })
        })
      const exec = (text: string) =>
        Effect.tryPromise({
          try: () => pg.exec(text),
          catch: (e) => new StoreError({ message: e instanceof Error ? e.message : String(e) })
        })
      const wanted = fingerprint(options.docs, embedder, options.dimensions)
      yield* exec("CREATE TABLE IF NOT EXISTS rag_meta (key text PRIMARY KEY, value text NOT NULL)")
      const built = yield* sql<{ value: string }>(
        "SELECT value FROM rag_meta WHERE key = 'fingerprint'"
      )
      const rebuilt = built.rows[0]?.value !== wanted
      if (rebuilt) {
        const sections = options.docs.flatMap(chunkMarkdown)
        const { vectors } = yield* embedder.embed(
          sections.map((s) => `${s.title}\n\n${s.content}`),
          { inputType: "document", dimensions: options.dimensions }
        )
        yield* exec(`
          DROP TABLE IF EXISTS doc_sections;
          CREATE TABLE doc_sections (
            url text PRIMARY KEY,
            chunk_number int NOT NULL,
            title text NOT NULL,
            summary text NOT NULL,
            content text NOT NULL,
            embedding vector(${options.dimensions}) NOT NULL
          );`)
        yield* sql("BEGIN")
        for (let i = 0; i < sections.length; i++) {
          const s = sections[i]!
          yield* sql(
            "INSERT INTO doc_sections (url, chunk_number, title, summary, content, embedding) VALUES ($1, $2, $3, $4, $5, $6)",
            [s.url, s.chunkNumber, s.title, s.summary, s.content, toSql(vectors[i]!)]
          )
        }
        yield* sql(
          "INSERT INTO rag_meta (key, value) VALUES ('fingerprint', $1) ON CONFLICT (key) DO UPDATE SET value = $1",
          [wanted]
        )
        yield* sql("COMMIT")
      }
      type Row = {
        url: string
        chunk_number: number
        title: string
        summary: string
        content: string
        score: number
      }
      return {
        rebuilt,
        count: Effect.map(
          sql<{ n: number }>("SELECT count(*)::int AS n FROM doc_sections"),
          (r) => r.rows[0]!.n
        ),
        retrieve: (query, k) =>
          Effect.gen(function* () {
            const { vectors } = yield* embedder.embed([query], {
              inputType: "query",
              dimensions: options.dimensions
            })
            const r = yield* sql<Row>(
              "SELECT url, chunk_number, title, summary, content, 1 - (embedding <=> $1) AS score FROM doc_sections ORDER BY embedding <=> $1, url LIMIT $2",
              [toSql(vectors[0]!), k]
            )
            return r.rows.map((row) => ({
              url: row.url,
              chunkNumber: row.chunk_number,
              title: row.title,
              summary: row.summary,
              content: row.content,
              score: Number(row.score)
            }))
          }),
        record: (url) =>
          Effect.map(
            sql<Row & { embedding: string }>(
              "SELECT url, chunk_number, title, summary, content, embedding::text AS embedding FROM doc_sections WHERE url = $1",
              [url]
            ),
            (r) => {
              const row = r.rows[0]
              if (row === undefined) return undefined
              return toFrontMatter(
                {
                  url: row.url,
                  chunkNumber: row.chunk_number,
                  title: row.title,
                  summary: row.summary,
                  content: row.content
                },
                JSON.parse(row.embedding) as Array<number>
              )
            }
          )
      }
    })
  )

// -- the agent --------------------------------------------------------------------------------

/** The `retrieve` tool: the top-k sections for a query, each with its source URL. */
export const retrieveTool = Tool.make("retrieve", {
  description:
    "Search the agentfx documentation. Returns the closest sections, each with its title, source URL, summary and text.",
  parameters: Schema.Struct({
    query: Schema.String.annotations({ description: "What to look for, in plain words" }),
    k: Schema.optional(
      Schema.Int.pipe(Schema.between(1, 8)).annotations({
        description: "How many sections (default 3)"
      })
    )
  }),
  handler: ({ query, k }) =>
    Effect.flatMap(DocStore, (store) => store.retrieve(query, k ?? 3)).pipe(
      Effect.map((hits) =>
        hits.map((h) => ({
          title: h.title,
          url: h.url,
          score: Math.round(h.score * 1000) / 1000,
          summary: h.summary,
          content: h.content.length > 1500 ? `${h.content.slice(0, 1500)}…` : h.content
        }))
      )
    )
})

/** The documentation agent: answers from `retrieve`, citing the sources it used. */
export const ragAgent = Agent.make({
  name: "docs",
  instructions:
    "You answer questions about agentfx, an Effect-based agent runtime for TypeScript. Always call `retrieve` first and answer only from the sections it returns. Cite every section you use as [title](url). If the sections do not answer the question, say so.",
  tools: [retrieveTool]
})

/**
 * The scripted model of the example (no key, no network): it calls `retrieve` with the question,
 * then answers with the summaries of the two best sections, each cited as [title](url).
 */
export const scriptedDocsModel = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const prompt = lastUserPrompt(messages)
  const returns = currentTurnToolReturns(messages)
  if (returns.length === 0) return FunctionModel.toolCall("retrieve", { query: prompt, k: 3 })
  const hits = returns[0]!.content as ReadonlyArray<{ title: string; url: string; summary: string }>
  if (hits.length === 0) return FunctionModel.text("The documentation has nothing on that.")
  return FunctionModel.text(
    [
      "From the agentfx documentation:",
      ...hits.slice(0, 2).map((h) => `- ${h.summary} — [${h.title}](${h.url})`)
    ].join("\n")
  )
}

const lastUserPrompt = (messages: ReadonlyArray<Messages.ModelMessage>): string => {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag !== "ModelRequest") continue
    for (const p of m.parts)
      if (p._tag === "UserPromptPart" && typeof p.content === "string") return p.content
  }
  return ""
}

const currentTurnToolReturns = (
  messages: ReadonlyArray<Messages.ModelMessage>
): Array<Messages.ToolReturnPart> => {
  const out: Array<Messages.ToolReturnPart> = []
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m._tag !== "ModelRequest") continue
    if (m.parts.some((p) => p._tag === "UserPromptPart")) break
    for (const p of m.parts)
      if (p._tag === "ToolReturnPart" && p.toolName === "retrieve") out.push(p)
  }
  return out
}

// -- which embedder -----------------------------------------------------------------------------

/** The embedder the example runs with, its vector length, and a line saying which it is. */
export interface PickedEmbedder {
  readonly layer: Layer.Layer<EmbeddingModel.EmbeddingModel>
  readonly dimensions: number
  /** e.g. `openai (text-embedding-3-small, 512 dimensions)`. */
  readonly description: string
}

const http = NodeHttpClient.layerUndici

/**
 * A real embedder when its key is set (`OPENAI_API_KEY`, `GEMINI_API_KEY` / `GOOGLE_API_KEY`,
 * `VOYAGE_API_KEY`, `CO_API_KEY`, in that order), else `local-hash-embedding`. With
 * `AGENTFX_MODEL=scripted`, always the local one.
 */
export const pickEmbedder = (
  env: Readonly<Record<string, string | undefined>>,
  docs: ReadonlyArray<SourceDoc>
): PickedEmbedder => {
  const has = (name: string) => (env[name] ?? "").trim() !== ""
  const real: ReadonlyArray<{
    readonly keys: ReadonlyArray<string>
    readonly provider: string
    readonly model: string
    readonly dimensions: number
    readonly layer: () => Layer.Layer<EmbeddingModel.EmbeddingModel, unknown, HttpClient.HttpClient>
  }> = [
    {
      keys: ["OPENAI_API_KEY"],
      provider: "openai",
      model: "text-embedding-3-small",
      dimensions: 512,
      layer: () =>
        OpenAiEmbedding.model("text-embedding-3-small").pipe(
          Layer.provide(OpenAiClient.layerConfig())
        )
    },
    {
      keys: ["GEMINI_API_KEY", "GOOGLE_API_KEY"],
      provider: "google",
      model: "gemini-embedding-001",
      dimensions: 768,
      layer: () =>
        GoogleEmbedding.model("gemini-embedding-001").pipe(
          Layer.provide(GoogleClient.layerConfig())
        )
    },
    {
      keys: ["VOYAGE_API_KEY"],
      provider: "voyage",
      model: "voyage-3.5",
      dimensions: 1024,
      layer: () =>
        VoyageEmbedding.model("voyage-3.5").pipe(Layer.provide(VoyageEmbedding.layerConfig()))
    },
    {
      keys: ["CO_API_KEY"],
      provider: "cohere",
      model: "embed-v4.0",
      dimensions: 1024,
      layer: () =>
        CohereEmbedding.model("embed-v4.0").pipe(Layer.provide(CohereEmbedding.layerConfig()))
    }
  ]
  const chosen = env.AGENTFX_MODEL === "scripted" ? undefined : real.find((r) => r.keys.some(has))
  if (chosen !== undefined)
    return {
      layer: Layer.orDie(chosen.layer().pipe(Layer.provide(http))),
      dimensions: chosen.dimensions,
      description: `${chosen.provider} (${chosen.model}, ${chosen.dimensions} dimensions)`
    }
  return {
    layer: Layer.sync(EmbeddingModel.EmbeddingModel, () => localHashEmbedding(docs)),
    dimensions: localDimensions,
    description: `local-hash-embedding (hashed TF-IDF computed locally, ${localDimensions} dimensions)`
  }
}
