import { EmbeddingModel } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as BedrockClient from "../src/BedrockClient.js"
import * as BedrockEmbedding from "../src/BedrockEmbedding.js"
import * as ModelRegistry from "../src/ModelRegistry.js"
import { loopbackServer } from "./support/replay.js"

const settings = (s: Partial<EmbeddingModel.BatchSettings> = {}): EmbeddingModel.BatchSettings => ({
  inputType: "query",
  ...s
})

describe("BedrockEmbedding", () => {
  it("picks the family from the model id, regional prefixes aside", () => {
    assert.deepStrictEqual(
      [
        "amazon.titan-embed-text-v1",
        "amazon.titan-embed-text-v2:0",
        "eu.cohere.embed-multilingual-v3",
        "us.cohere.embed-v4:0",
        "amazon.nova-2-multimodal-embeddings-v1:0",
        "anthropic.claude-3"
      ].map(BedrockEmbedding.familyOf),
      ["titan-v1", "titan-v2", "cohere-v3", "cohere-v4", "nova", undefined]
    )
  })

  it("encodes each family's body: input type, dimensions, truncation", () => {
    assert.deepStrictEqual(
      BedrockEmbedding.encodeRequest(
        "cohere-v3",
        ["a"],
        settings({ dimensions: 64, truncate: true })
      ),
      { texts: ["a"], input_type: "search_query", truncate: "END" }
    )
    assert.deepStrictEqual(
      BedrockEmbedding.encodeRequest(
        "nova",
        ["a"],
        settings({ inputType: "document", dimensions: 384 })
      ),
      {
        taskType: "SINGLE_EMBEDDING",
        singleEmbeddingParams: {
          embeddingPurpose: "GENERIC_INDEX",
          text: { value: "a", truncationMode: "NONE" },
          embeddingDimension: 384
        }
      }
    )
    assert.deepStrictEqual(
      BedrockEmbedding.encodeRequest("titan-v1", ["a"], settings({ dimensions: 8 })),
      {
        inputText: "a"
      }
    )
  })

  it("an answer without vectors is UnexpectedModelBehavior", () => {
    const r = BedrockEmbedding.decodeResponse(
      "nova",
      { embeddings: [] },
      "amazon.nova-2-multimodal-embeddings-v1:0"
    )
    assert.strictEqual(r instanceof Error ? r._tag : "ok", "UnexpectedModelBehavior")
  })

  it.scoped(
    "an unknown family is a UserError; a 400 from InvokeModel is a ModelHTTPError without the secret",
    () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          res.writeHead(400, { "content-type": "application/json" })
          res.end(JSON.stringify({ message: "Malformed input request" }))
        })
        const client = BedrockClient.layer({
          region: "us-east-1",
          baseUrl: server.baseUrl,
          credentials: { accessKeyId: "AKIDX", secretAccessKey: Redacted.make("very-secret-key") },
          retry: false
        })
        const unknown = yield* Effect.flip(
          BedrockEmbedding.make("meta.llama3").pipe(Effect.provide(client))
        )
        assert.strictEqual(unknown._tag, "UserError")
        assert.include(unknown.message, "meta.llama3")
        const embedder = yield* BedrockEmbedding.make("amazon.titan-embed-text-v2:0").pipe(
          Effect.provide(client)
        )
        const error = yield* Effect.flip(embedder.embed(["x"], { inputType: "query" }))
        assert.strictEqual(error._tag, "ModelHTTPError")
        if (error._tag === "ModelHTTPError") assert.strictEqual(error.status, 400)
        assert.strictEqual(server.requests[0]!.path, "/model/amazon.titan-embed-text-v2%3A0/invoke")
        assert.notInclude(JSON.stringify(error), "very-secret-key")
      }).pipe(Effect.provide(NodeHttpClient.layerUndici))
  )

  it.effect(
    "bedrock: resolves as an embedder from the region and credentials in configuration",
    () =>
      Effect.gen(function* () {
        const embedder = yield* ModelRegistry.resolveEmbedder("bedrock:cohere.embed-v4:0")
        assert.strictEqual(embedder.provider, "bedrock")
        assert.strictEqual(embedder.maxBatchSize, 96)
        const titan = yield* ModelRegistry.resolveEmbedder("bedrock:amazon.titan-embed-text-v2:0")
        assert.strictEqual(titan.maxBatchSize, 1)
      }).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(
            new Map([
              ["AWS_REGION", "us-east-1"],
              ["AWS_ACCESS_KEY_ID", "AKIDX"],
              ["AWS_SECRET_ACCESS_KEY", "s"]
            ])
          )
        ),
        Effect.provide(NodeHttpClient.layerUndici)
      )
  )
})
