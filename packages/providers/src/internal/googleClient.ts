/**
 * The POSTs of a `GoogleClient` (models and embedders): the Gemini API key header, or on
 * Vertex AI with OAuth credentials the cached access token as `Authorization: Bearer`, taken
 * per call (a token failure is a `ModelAPIError` with no secret in it).
 *
 * @internal
 */
import { AgentError } from "@agentfx/core"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import type { Service as GoogleClientService } from "../GoogleClient.js"
import * as Client from "./client.js"

/** A call carrying the bearer token it was authorized with (OAuth only). */
type Authorized<C> = C & { readonly token?: Redacted.Redacted<string> }

/** The models URL of a client (`…/models/` on the Gemini API, `…/publishers/google/models/` on Vertex). */
export const modelsUrl = (client: GoogleClientService): string =>
  client.vertex?.modelsUrl ?? `${client.baseUrl}/v1beta/models/`

/** The client's POSTs for one model; `url` names the method's URL per call. */
export const posts = <C extends Client.Call>(
  client: GoogleClientService,
  modelName: string,
  url: (call: C) => string
): Client.Posts<C> => {
  const raw = Client.posts(
    client.httpClient,
    client.retry,
    (call: Authorized<C>) => url(call),
    (call) =>
      call.token !== undefined
        ? Client.setKey({ ...client.headers }, "authorization", call.token, "Bearer ")
        : Client.setKey({ ...client.headers }, "x-goog-api-key", client.apiKey),
    client.httpClientSpans === true
  )
  const token = client.vertex?.token
  if (token === undefined) return raw
  const withToken = Effect.mapError(
    token,
    (e) => new AgentError.ModelAPIError({ modelName, reason: e.reason })
  )
  // A 401 means the token was revoked or expired early: the next call fetches a new one.
  const invalidate = client.vertex?.invalidateToken ?? Effect.void
  const on401 = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.tapError(effect, (e) =>
      typeof e === "object" && e !== null && (e as { status?: unknown }).status === 401
        ? invalidate
        : Effect.void
    )
  return {
    postJson: (o, decode) =>
      on401(Effect.flatMap(withToken, (t) => raw.postJson({ ...o, token: t }, decode))),
    postSse: (o) => on401(Effect.flatMap(withToken, (t) => raw.postSse({ ...o, token: t }))),
    httpClient: raw.httpClient
  }
}
