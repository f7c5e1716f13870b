/** Model layers of the providers pointed at a loopback server, shared by the provider tests. */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as OpenAiClient from "../../src/OpenAiClient.js"
import * as OpenAiResponses from "../../src/OpenAiResponses.js"

/** An OpenAI Responses model at `${baseUrl}/v1` (key `sk-secret`, no transport retries). */
export const responsesModelLayer = (baseUrl: string, name: string) =>
  OpenAiResponses.model(name).pipe(
    Layer.provide(
      OpenAiClient.layer({
        baseUrl: `${baseUrl}/v1`,
        apiKey: Redacted.make("sk-secret"),
        retry: false
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
