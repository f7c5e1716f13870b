/**
 * The Cohere API client service: API key (`CO_API_KEY`, or `COHERE_API_KEY`), base URL, extra
 * headers and the retry policy, shared by `Cohere` chat models (`/v2/chat`) and
 * `CohereEmbedding` (`/v2/embed`).
 *
 * @example
 * ```ts
 * import { Cohere, CohereClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = Cohere.model("command-a-03-2025").pipe(
 *   Layer.provide(CohereClient.layerConfig()), // CO_API_KEY (or COHERE_API_KEY)
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type { ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Client from "./internal/client.js"
import * as Http from "./internal/http.js"
import { secret } from "./internal/secret.js"

/** Cohere's API base URL. */
export const defaultBaseUrl = "https://api.cohere.com"

/** What `CohereClient` holds. */
export interface Service {
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly retry: Http.RetryPolicy
  readonly httpClient: HttpClient.HttpClient
  readonly httpClientSpans: boolean
}

/** The Cohere API client configuration: key, base URL, extra headers, retry policy. */
export class CohereClient extends Context.Tag("@agentfx/providers/CohereClient")<
  CohereClient,
  Service
>() {}

/** How to reach the Cohere API (options of `layer`). */
export interface Options {
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default `https://api.cohere.com`. */
  readonly baseUrl?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries; `false` disables them. Default: 2 retries, 500 ms base, 30 s cap. */
  readonly retry?: Partial<Http.RetryPolicy> | false | undefined
  /** Whether the `@effect/platform` client makes its own `http.client` span (default `false`). */
  readonly httpClientSpans?: boolean | undefined
}

/** Builds the client service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service =>
  CohereClient.of({
    apiKey: options.apiKey,
    baseUrl: Client.baseUrlOf(options.baseUrl, defaultBaseUrl),
    headers: options.headers ?? {},
    retry: Http.resolveRetry(options.retry),
    httpClient,
    httpClientSpans: options.httpClientSpans === true
  })

/** Builds the client service, requiring an `HttpClient`. */
export const make = (options: Options = {}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (httpClient) => makeWith(httpClient, options))

/** A `CohereClient` from explicit options. */
export const layer = (
  options: Options = {}
): Layer.Layer<CohereClient, never, HttpClient.HttpClient> =>
  Layer.effect(CohereClient, make(options))

/** `CO_API_KEY`, or `COHERE_API_KEY` when it is not set. */
export const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = secret("CO_API_KEY").pipe(
  Config.orElse(() => secret("COHERE_API_KEY"))
)

/** Options of `layerConfig`: every field is optional. */
export interface ConfigOptions extends Omit<Options, "apiKey" | "baseUrl"> {
  /** Default: `apiKeyConfig`. */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default: the optional `COHERE_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/** A `CohereClient` from configuration (`CO_API_KEY` / `COHERE_API_KEY`, optional `COHERE_BASE_URL`). */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<CohereClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    CohereClient,
    Effect.flatMap(
      Client.keyAndBaseUrl(options, {
        provider: "Cohere",
        apiKey: apiKeyConfig,
        baseUrlEnv: "COHERE_BASE_URL"
      }),
      (read) => make({ ...options, ...read })
    )
  )

/** A call through the client: a path under the base URL. */
export interface CallOptions {
  readonly modelName: string
  readonly path: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
}

/** The JSON / SSE POSTs of a client (bearer key added per call). */
export const posts = (client: Service): Client.Posts<CallOptions> =>
  Client.posts(
    client.httpClient,
    client.retry,
    (call: CallOptions) => `${client.baseUrl}${call.path}`,
    () => Client.setKey({ ...client.headers }, "authorization", client.apiKey, "Bearer "),
    client.httpClientSpans
  )

/** @deprecated Renamed `Service`, as in every `<P>Client` module. What `CohereClient` holds. */
export type CohereClientService = Service

/** @deprecated Renamed `Options`, as in every `<P>Client` module. Options of `layer`. */
export type ClientOptions = Options
