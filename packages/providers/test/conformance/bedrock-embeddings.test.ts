/**
 * Replays Bedrock's 16 recorded embeddings cases (pydantic-ai's `TestBedrock` cassettes: Titan
 * text v1 / v2, Cohere v3 / v4 on Bedrock, Nova multimodal embeddings, through InvokeModel)
 * through the real `BedrockEmbedding` over a SigV4-signing client, against a loopback replay
 * server:
 *
 * - each request goes to the recorded path, signed for `bedrock` in the region, with the
 *   recorded body;
 * - vectors must equal the recorded ones (read here from the raw bodies), usage is Titan's
 *   `inputTextTokenCount` summed over the requests (0 where Bedrock reports none), one request
 *   per text for Titan and Nova, one per batch for Cohere;
 * - every recorded interaction is used, and nothing else is requested.
 */
import { EmbeddingModel } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as BedrockClient from "../../src/BedrockClient.js"
import * as BedrockEmbedding from "../../src/BedrockEmbedding.js"
import { canonical } from "../support/conformance.js"
import { type ConformanceCase, listCases, replayServer } from "../support/replay.js"

type Json = Record<string, any>

interface Spec {
  readonly model: string
  readonly texts: ReadonlyArray<string>
  readonly options?: Partial<EmbeddingModel.EmbedOptions>
}

const hello = ["Hello, world!"]

/** What pydantic-ai's test called, per case (the recorded request says the rest). */
const specs: Record<string, Spec> = {
  test_cohere_v3_minimal: { model: "cohere.embed-english-v3", texts: hello },
  test_cohere_v3_with_input_type: {
    model: "cohere.embed-english-v3",
    texts: ["Test input type setting"],
    options: { extraBody: { input_type: "classification" } }
  },
  test_cohere_v3_with_truncate: {
    model: "cohere.embed-english-v3",
    texts: ["Test truncation setting"],
    options: { truncate: true }
  },
  test_cohere_v4_batch_documents: {
    model: "cohere.embed-v4:0",
    texts: ["hello", "world"],
    options: { inputType: "document" }
  },
  test_cohere_v4_minimal: { model: "cohere.embed-v4:0", texts: hello },
  test_cohere_v4_with_dimensions: {
    model: "cohere.embed-v4:0",
    texts: ["Test dimensions setting"],
    options: { dimensions: 512 }
  },
  test_cohere_v4_with_input_type: {
    model: "cohere.embed-v4:0",
    texts: ["Test input type setting"],
    options: { extraBody: { input_type: "clustering" } }
  },
  test_nova_multiple_texts: {
    model: "amazon.nova-2-multimodal-embeddings-v1:0",
    texts: ["hello", "world"],
    options: { inputType: "document" }
  },
  test_nova_with_dimensions: {
    model: "amazon.nova-2-multimodal-embeddings-v1:0",
    texts: ["Test Nova dimensions"],
    options: { dimensions: 256 }
  },
  test_nova_with_truncate: {
    model: "amazon.nova-2-multimodal-embeddings-v1:0",
    texts: ["Test Nova truncate"],
    options: { truncate: true }
  },
  test_regional_prefix_embed: {
    model: "us.cohere.embed-v4:0",
    texts: ["Hello from regional endpoint!"]
  },
  test_titan_v1_minimal: { model: "amazon.titan-embed-text-v1", texts: hello },
  test_titan_v2_minimal: { model: "amazon.titan-embed-text-v2:0", texts: hello },
  test_titan_v2_multiple_texts: {
    model: "amazon.titan-embed-text-v2:0",
    texts: ["hello", "world"],
    options: { inputType: "document" }
  },
  test_titan_v2_with_dimensions: {
    model: "amazon.titan-embed-text-v2:0",
    texts: ["Test embedding dimensions"],
    options: { dimensions: 256 }
  },
  test_titan_v2_with_normalize_true: {
    model: "amazon.titan-embed-text-v2:0",
    texts: ["Test explicit normalization"]
  }
}

const cases = listCases("bedrock").filter((c) => c.id.startsWith("test_embeddings."))
const nameOf = (c: ConformanceCase) => c.id.slice("test_embeddings.TestBedrock.".length)

/** The vector(s) of one recorded answer, by its shape. */
const recordedVectors = (json: Json): Array<Array<number>> =>
  Array.isArray(json.embedding)
    ? [json.embedding]
    : Array.isArray(json.embeddings)
      ? json.embeddings.map((e: any) => (Array.isArray(e) ? e : e.embedding))
      : json.embeddings.float

const replay = (c: ConformanceCase, spec: Spec) =>
  Effect.gen(function* () {
    const server = yield* replayServer(c)
    const http = yield* HttpClient.HttpClient
    const client = BedrockClient.makeWith(http, {
      region: "us-east-1",
      baseUrl: server.baseUrl,
      credentials: { accessKeyId: "AKIDEMBED", secretAccessKey: Redacted.make("embed-secret") },
      retry: false
    })
    // One request at a time: the replay server answers requests to one path in recorded order.
    const embedder = BedrockEmbedding.makeWith(client, spec.model, { concurrency: 1 })
    if (embedder === undefined) return assert.fail(`${c.id}: no family for ${spec.model}`)
    assert.strictEqual(embedder.provider, "bedrock")
    const result = yield* embedder.embed(spec.texts, { inputType: "query", ...spec.options })
    assert.strictEqual(server.received.length, c.interactions.length)
    assert.strictEqual(server.unused(), 0)
    c.interactions.forEach((it, i) => {
      const sent = server.received[i]!
      assert.strictEqual(sent.path, it.request.path)
      assert.strictEqual(canonical(sent.body), canonical(it.request.body))
      assert.match(
        sent.headers.authorization ?? "",
        /^AWS4-HMAC-SHA256 Credential=AKIDEMBED\/\d{8}\/us-east-1\/bedrock\/aws4_request, /
      )
    })
    const answers = c.interactions.map((it) => it.response.json as Json)
    assert.deepStrictEqual(result.vectors, answers.flatMap(recordedVectors))
    assert.strictEqual(result.vectors.length, spec.texts.length)
    assert.strictEqual(result.requests, c.interactions.length)
    assert.strictEqual(
      result.usage.inputTokens,
      answers.reduce((n, a) => n + (a.inputTextTokenCount ?? 0), 0)
    )
    assert.strictEqual(result.inputType, spec.options?.inputType ?? "query")
    assert.strictEqual(result.model, spec.model)
    if (spec.options?.dimensions !== undefined)
      assert.strictEqual(result.vectors[0]!.length, spec.options.dimensions)
  }).pipe(Effect.provide(NodeHttpClient.layerUndici))

describe("Bedrock embeddings conformance", () => {
  it("every recorded Bedrock embeddings case has a spec", () => {
    assert.strictEqual(cases.length, 16)
    assert.deepStrictEqual(cases.map(nameOf).sort(), Object.keys(specs).sort())
  })
  for (const c of cases) it.scopedLive(`replay: ${c.id}`, () => replay(c, specs[nameOf(c)]!))
})
