/**
 * Conformance of Bedrock's OpenAI-compatible mantle endpoint (the 5 `test_bedrock_mantle` cases
 * filed under bedrock):
 * - the 4 Responses cases replay through `BedrockMantle` itself, on a client at the replay
 *   server's root signing with SigV4 (static credentials; the recordings kept no auth header):
 *   the model must pick the Responses API and the `/openai/v1` prefix the recording used, and
 *   every decoded field is compared with the raw body (the shared Responses harness: request
 *   fidelity, replay, streams re-chunked);
 * - the Chat Completions case replays through the shared Chat harness with mantle's chat
 *   profile and provider name (decoding, reasoning, usage and request fidelity).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as BedrockMantle from "../../src/BedrockMantle.js"
import { chatInteractions, checkInteraction, type VendorSetup } from "../support/chatConformance.js"
import { describeResponsesConformance } from "../support/responsesConformance.js"

describeResponsesConformance("bedrock", 4, {
  onlyResponsesCases: true,
  title: "Bedrock mantle Responses conformance",
  model: (baseUrl, _path, modelName) =>
    Effect.flatMap(HttpClient.HttpClient, (httpClient) =>
      BedrockMantle.makeWith(
        {
          options: {
            region: "us-east-1",
            baseUrl,
            credentials: {
              accessKeyId: "AKIDMANTLE",
              secretAccessKey: Redacted.make("mantle-secret")
            },
            retry: false
          },
          httpClient
        },
        modelName
      )
    )
})

const mantle: VendorSetup = { system: "bedrock-mantle", profile: BedrockMantle.chatProfile }

describe("Bedrock mantle Chat Completions conformance", () => {
  const interactions = chatInteractions("bedrock", () => mantle)
  it("finds the recorded mantle chat interaction", () => {
    assert.strictEqual(interactions.length, 1)
  })
  for (const ci of interactions)
    it.effect(`decode + request: ${ci.caseId}#${ci.index}`, () =>
      checkInteraction(ci, mantle, { fidelity: true })
    )
})
