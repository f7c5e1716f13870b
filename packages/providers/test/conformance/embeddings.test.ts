/**
 * Replays every recorded embeddings case (pydantic-ai's `test_embeddings` cassettes in
 * `../shared/conformance/cases/{other,google,cohere}`) through the real embedders, over undici,
 * against a loopback replay server:
 *
 * - the request body sent must equal the recorded one (keys recorded as `null` are options
 *   pydantic-ai's SDKs send empty and we leave out; they are compared absent);
 * - vectors must equal the recorded ones, decoded independently here (base64 float32 with
 *   `Buffer.readFloatLE`, JSON numbers as they are); usage, model and provider as recorded;
 * - a recorded error status must come back as a `ModelHTTPError` with that status and body;
 * - every recorded interaction is used, and nothing else is requested.
 *
 * Bedrock's embedding cassettes (Titan, Cohere-on-Bedrock, Nova `InvokeModel`) are replayed by
 * `bedrock-embeddings.test.ts`.
 */
import { AgentError, EmbeddingModel } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as CohereEmbedding from "../../src/CohereEmbedding.js"
import * as GoogleClient from "../../src/GoogleClient.js"
import * as GoogleEmbedding from "../../src/GoogleEmbedding.js"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiEmbedding from "../../src/OpenAiEmbedding.js"
import * as VoyageEmbedding from "../../src/VoyageEmbedding.js"
import { type ConformanceCase, listCases, replayServer } from "../support/replay.js"
import { canonical } from "../support/conformance.js"

/** The body without keys whose value is `null` (recursively). */
const withoutNulls = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(withoutNulls)
    : v !== null && typeof v === "object"
      ? Object.fromEntries(
          Object.entries(v)
            .filter(([, x]) => x !== null)
            .map(([k, x]) => [k, withoutNulls(x)])
        )
      : v

/** base64 little-endian float32 → numbers, with Node's Buffer (independent of the provider code). */
const floatsOf = (b64: string): Array<number> => {
  const buf = Buffer.from(b64, "base64")
  const out: Array<number> = []
  for (let i = 0; i < buf.length; i += 4) out.push(buf.readFloatLE(i))
  return out
}

/** The vectors a recorded success carries, by provider wire shape. */
const recordedVectors = (json: any): Array<Array<number>> => {
  if (Array.isArray(json.data))
    return [...json.data]
      .sort((a: any, b: any) => a.index - b.index)
      .map((d: any) => (typeof d.embedding === "string" ? floatsOf(d.embedding) : d.embedding))
  if (Array.isArray(json.embeddings)) return json.embeddings.map((e: any) => e.values)
  return json.embeddings.float
}

/** What one recorded case asks of the embedder. */
interface Spec {
  readonly model: string
  readonly call: "embed" | "countTokens"
  readonly texts: ReadonlyArray<string>
  readonly options?: Omit<EmbeddingModel.EmbedOptions, "inputType"> & {
    readonly inputType?: EmbeddingModel.InputType
  }
  readonly google?: Pick<GoogleEmbedding.Options, "task" | "taskType">
  /** Recorded usage (input tokens), or token count for `countTokens`. */
  readonly tokens?: number
}

const hello = ["Hello, world!"]

const googleSpecs: Record<string, Spec> = {
  "TestGoogle.test_count_tokens_error": {
    model: "nonexistent-model",
    call: "countTokens",
    texts: hello
  },
  "TestGoogle.test_documents": {
    model: "gemini-embedding-2-preview",
    call: "embed",
    texts: ["hello", "world"],
    options: { inputType: "document" }
  },
  "TestGoogle.test_embed_error": { model: "nonexistent-model", call: "embed", texts: hello },
  "TestGoogle.test_instrumentation": {
    model: "gemini-embedding-2-preview",
    call: "embed",
    texts: hello,
    options: { dimensions: 768 }
  },
  "TestGoogle.test_query_with_dimensions": {
    model: "gemini-embedding-2-preview",
    call: "embed",
    texts: hello,
    options: { dimensions: 768 }
  },
  "TestGoogle.test_query_with_task_type": {
    model: "gemini-embedding-2-preview",
    call: "embed",
    texts: hello,
    google: { taskType: "RETRIEVAL_QUERY" }
  },
  "test_google_task_prefix-asymmetric-document-no-title": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello", "world"],
    options: { inputType: "document" }
  },
  "test_google_task_prefix-asymmetric-document-with-title": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello"],
    options: { inputType: "document", title: "Greeting" }
  },
  "test_google_task_prefix-default-query": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: hello
  },
  "test_google_task_prefix-raw-passthrough": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["title: custom | text: hello"],
    options: { inputType: "document" },
    google: { task: "raw" }
  },
  "test_google_task_prefix-symmetric-document-ignores-title": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello"],
    options: { inputType: "document", title: "Ignored" },
    google: { task: "clustering" }
  },
  "test_google_task_prefix-symmetric-query": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello"],
    google: { task: "classification" }
  },
  "test_google_task_prefix-symmetric-sentence-similarity-ignores-title": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello"],
    options: { inputType: "document", title: "Ignored" },
    google: { task: "sentence similarity" }
  },
  "test_google_task_prefix-task-ignored-on-other-model": {
    model: "gemini-embedding-2-preview",
    call: "embed",
    texts: ["hello"],
    google: { task: "classification" }
  },
  "test_google_task_prefix-task-type-ignored-on-embedding-2": {
    model: "gemini-embedding-2",
    call: "embed",
    texts: ["hello"],
    google: { task: "classification", taskType: "CLUSTERING" }
  }
}

const cohereSpecs: Record<string, Spec> = {
  "TestCohere.test_count_tokens": {
    model: "embed-v4.0",
    call: "countTokens",
    texts: hello,
    tokens: 4
  },
  "TestCohere.test_documents": {
    model: "embed-v4.0",
    call: "embed",
    texts: ["hello", "world"],
    options: { inputType: "document" },
    tokens: 2
  },
  "TestCohere.test_embed_error": { model: "nonexistent", call: "embed", texts: hello },
  "TestCohere.test_query_with_truncate": {
    model: "embed-v4.0",
    call: "embed",
    texts: hello,
    options: { truncate: true },
    tokens: 4
  }
}

const otherSpecs: Record<string, Spec> = {
  "TestOpenAI.test_instrumentation": {
    model: "text-embedding-3-small",
    call: "embed",
    texts: hello,
    options: { dimensions: 128 },
    tokens: 4
  },
  "TestVoyageAI.test_query": { model: "voyage-3.5", call: "embed", texts: hello, tokens: 3 },
  // pydantic-ai's `voyageai_input_type: "none"`: no input type, sent as `input_type: null`.
  "TestVoyageAI.test_query_with_voyageai_input_type": {
    model: "voyage-3.5",
    call: "embed",
    texts: hello,
    options: { extraBody: { input_type: null } },
    tokens: 4
  }
}

const embeddingCases = (provider: string) =>
  listCases(provider).filter((c) => c.id.startsWith("test_embeddings."))

const specOf = (specs: Record<string, Spec>, c: ConformanceCase): Spec =>
  specs[c.id.slice("test_embeddings.".length)]!

const key = Redacted.make("replay-key-0123456789")

/** The embedder of a case, on the replay server. */
const embedderOf = (
  provider: "google" | "cohere" | "openai" | "voyage",
  spec: Spec,
  baseUrl: string
) => {
  switch (provider) {
    case "google":
      return GoogleEmbedding.make(spec.model, spec.google).pipe(
        Effect.provide(GoogleClient.layer({ apiKey: key, baseUrl, retry: false }))
      )
    case "cohere":
      return CohereEmbedding.make(spec.model).pipe(
        Effect.provide(CohereEmbedding.layer({ apiKey: key, baseUrl, retry: false }))
      )
    case "openai":
      return OpenAiEmbedding.make(spec.model).pipe(
        Effect.provide(OpenAiClient.layer({ apiKey: key, baseUrl: `${baseUrl}/v1`, retry: false }))
      )
    case "voyage":
      return VoyageEmbedding.make(spec.model).pipe(
        Effect.provide(
          VoyageEmbedding.layer({ apiKey: key, baseUrl: `${baseUrl}/v1`, retry: false })
        )
      )
  }
}

const replay = (
  c: ConformanceCase,
  spec: Spec,
  provider: "google" | "cohere" | "openai" | "voyage"
) =>
  Effect.gen(function* () {
    const server = yield* replayServer(c)
    const embedder = yield* embedderOf(provider, spec, server.baseUrl)
    assert.strictEqual(embedder.modelName, spec.model)
    assert.strictEqual(embedder.provider, provider)
    const recorded = c.interactions[0]!
    const exit: Exit.Exit<EmbeddingModel.EmbeddingResult | number, EmbeddingModel.EmbeddingError> =
      spec.call === "embed"
        ? yield* Effect.exit(embedder.embed(spec.texts, { inputType: "query", ...spec.options }))
        : yield* Effect.exit(
            Effect.flatMap(
              Effect.orDieWith(embedder.countTokens, () => new Error("no countTokens")),
              (count) => count(spec.texts[0]!)
            )
          )
    // One request, the recorded one, with the recorded body (nulls aside) and our key.
    assert.strictEqual(server.received.length, c.interactions.length)
    assert.strictEqual(server.unused(), 0)
    const sent = server.received[0]!
    assert.strictEqual(sent.path, recorded.request.path)
    assert.strictEqual(
      canonical(withoutNulls(sent.body)),
      canonical(withoutNulls(recorded.request.body))
    )
    const auth = sent.headers["x-goog-api-key"] ?? sent.headers.authorization
    assert.include(auth, Redacted.value(key))

    if (recorded.response.status >= 400) {
      assert.isTrue(Exit.isFailure(exit), `${c.id}: expected a failure`)
      const error =
        Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      assert.instanceOf(error, AgentError.ModelHTTPError)
      const http = error as AgentError.ModelHTTPError
      assert.strictEqual(http.status, recorded.response.status)
      assert.strictEqual(http.modelName, spec.model)
      assert.deepStrictEqual(http.body, recorded.response.json)
      return
    }
    if (Exit.isFailure(exit)) return assert.fail(`${c.id}: ${String(exit.cause)}`)
    const value = exit.value
    if (typeof value === "number") {
      assert.strictEqual(value, spec.tokens)
      assert.strictEqual(value, (recorded.response.json as any).tokens.length)
      return
    }
    const vectors = recordedVectors(recorded.response.json)
    assert.strictEqual(value.vectors.length, spec.texts.length)
    assert.deepStrictEqual(value.vectors, vectors)
    if (spec.options?.dimensions !== undefined)
      assert.strictEqual(value.vectors[0]!.length, spec.options.dimensions)
    assert.strictEqual(value.inputType, spec.options?.inputType ?? "query")
    assert.strictEqual(value.provider, provider)
    assert.strictEqual(value.model, (recorded.response.json as any).model ?? spec.model)
    assert.strictEqual(value.requests, 1)
    assert.strictEqual(value.usage.inputTokens, spec.tokens ?? 0)
    assert.strictEqual(value.usage.outputTokens, 0)
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

const register = (
  folder: string,
  specs: Record<string, Spec>,
  providerOf: (c: ConformanceCase) => "google" | "cohere" | "openai" | "voyage"
) => {
  const cases = embeddingCases(folder)
  it(`${folder}: every recorded embeddings case has a spec`, () => {
    assert.deepStrictEqual(
      cases.map((c) => c.id.slice("test_embeddings.".length)).sort(),
      Object.keys(specs).sort()
    )
  })
  for (const c of cases)
    it.scopedLive(`replay: ${c.id}`, () => replay(c, specOf(specs, c), providerOf(c)))
}

describe("embeddings conformance", () => {
  register("google", googleSpecs, () => "google")
  register("cohere", cohereSpecs, () => "cohere")
  register("other", otherSpecs, (c) => (c.host === "api.voyageai.com" ? "voyage" : "openai"))

  it.scopedLive("voyage: `input_type: null` reaches the wire through extraBody", () =>
    Effect.gen(function* () {
      const c = embeddingCases("other").find((c) => c.id.endsWith("voyageai_input_type"))!
      const server = yield* replayServer(c)
      const embedder = yield* embedderOf(
        "voyage",
        otherSpecs["TestVoyageAI.test_query_with_voyageai_input_type"]!,
        server.baseUrl
      )
      yield* embedder.embed(hello, { inputType: "query", extraBody: { input_type: null } })
      assert.strictEqual((server.received[0]!.body as any).input_type, null)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )
})
