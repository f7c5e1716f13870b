/**
 * rag — retrieval-augmented answers over the project's own documentation.
 *
 * README.md and packages/<name>/README.md are split into sections; each is stored with its
 * title, a URL-like source, a summary and its embedding (the record shape of the seed
 * documents: front matter with url, title, summary, embedding) in PGlite — Postgres in WASM —
 * with pgvector, persisted in `examples/.data/rag-docs` (gitignored; `AGENTFX_RAG_DIR` to move
 * it). The store is built once and rebuilt when it is missing or stale (a README changed, or
 * another embedder or vector length is used). The agent gets a `retrieve` tool (top-k cosine
 * search) and answers citing its sources.
 *
 * Models: the chat model as every example picks it (a key, a local Ollama, or the scripted
 * model); the embedder is a real one when its key is set (OPENAI_API_KEY, GEMINI_API_KEY,
 * VOYAGE_API_KEY, CO_API_KEY), else `local-hash-embedding`, a hashed bag of words computed
 * locally (no network).
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/rag.ts ["your question"]
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples rag
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { pickModel } from "./lib/pickModel.js"
import * as Rag from "./lib/rag.js"
import * as Scripted from "./lib/scripted.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..")

const scripted = Scripted.make("rag", (messages) => Rag.scriptedDocsModel(messages))

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  const docs = Rag.projectDocs(root)
  const embedder = Rag.pickEmbedder(process.env, docs)
  yield* Console.log(`model: ${model.description}`)
  yield* Console.log(`embedder: ${embedder.description}`)
  const question = process.argv[2] ?? "How does durable execution survive a restart?"
  const dataDir = process.env.AGENTFX_RAG_DIR ?? join(root, "examples", ".data", "rag-docs")
  const storeLayer = Rag.layer({
    dataDir,
    docs,
    dimensions: embedder.dimensions
  }).pipe(Layer.provideMerge(embedder.layer))
  yield* Effect.gen(function* () {
    const store = yield* Rag.DocStore
    const sections = yield* store.count
    yield* Console.log(
      `store: ${dataDir} (${sections} sections, ${store.rebuilt ? "built now" : "reused"})`
    )
    yield* Console.log(`question: ${question}`)
    const result = yield* Rag.ragAgent.run(question).pipe(Effect.provide(model.layer))
    for (const m of result.newMessages()) {
      if (m._tag !== "ModelRequest") continue
      for (const p of m.parts) {
        if (p._tag !== "ToolReturnPart") continue
        yield* Console.log("retrieved:")
        for (const h of p.content as ReadonlyArray<{ score: number; url: string }>)
          yield* Console.log(`  ${h.score.toFixed(3)}  ${h.url}`)
      }
    }
    yield* Console.log(`answer:\n${result.output}`)
    yield* Console.log(
      `usage: ${result.usage.requests} requests, ${result.usage.details.embeddingRequests ?? 0} embedding request(s), ${result.usage.inputTokens} input tokens`
    )
  }).pipe(Effect.provide(storeLayer))
})

program.pipe(NodeRuntime.runMain)
