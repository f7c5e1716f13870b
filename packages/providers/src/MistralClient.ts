/**
 * The Mistral API client service: API key (`MISTRAL_API_KEY`), base URL, extra headers and the
 * retry policy, shared by every `Mistral` model.
 *
 * @example
 * ```ts
 * import { Mistral, MistralClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = Mistral.model("mistral-large-latest").pipe(
 *   Layer.provide(MistralClient.layerConfig()), // MISTRAL_API_KEY
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
import type * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
import { secret } from "./internal/secret.js"

/** Mistral's API base URL. */
export const defaultBaseUrl = "https://api.mistral.ai/v1"

/** How to reach the Mistral API. */
export interface Options {
  /** Sent as `Authorization: Bearer …`. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `https://api.mistral.ai/v1`. */
  readonly baseUrl?: string | undefined
  /** Sent with every request. */
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry`). */
  readonly retry?: RetryOption.Option
  /** Whether the `@effect/platform` client makes its own `http.client` span (default `false`). */
  readonly httpClientSpans?: boolean | undefined
}

/** A call made through the client. */
export interface CallOptions {
  readonly modelName: string
  /** Path under the base URL, e.g. `/chat/completions`. */
  readonly path: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
}

/** The client service: `postJson` / `postSse` to a path under the base URL. */
export interface Service extends Client.Posts<CallOptions> {
  readonly baseUrl: string
  readonly retry: Retry.RetryPolicy
  readonly httpClient: HttpClient.HttpClient
}

/** The Mistral client a model talks through. */
export class MistralClient extends Context.Tag("@agentfx/providers/MistralClient")<
  MistralClient,
  Service
>() {}

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service => {
  const baseUrl = Client.baseUrlOf(options.baseUrl, defaultBaseUrl)
  const retry = RetryOption.resolve(options.retry)
  return {
    baseUrl,
    retry,
    ...Client.posts(
      httpClient,
      retry,
      (o: CallOptions) => `${baseUrl}${o.path}`,
      () => Client.setKey({ ...options.headers }, "authorization", options.apiKey, "Bearer "),
      options.httpClientSpans === true
    )
  }
}

/** Builds the service, requiring an `HttpClient`. */
export const make = (options: Options = {}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => makeWith(client, options))

/** A layer of the client from explicit options. */
export const layer = (
  options: Options = {}
): Layer.Layer<MistralClient, never, HttpClient.HttpClient> =>
  Layer.effect(MistralClient, make(options))

/** Options read from configuration. */
export interface ConfigOptions extends Omit<Options, "apiKey" | "baseUrl"> {
  /** Default `Config.redacted("MISTRAL_API_KEY")`. */
  readonly apiKey?: Config.Config<Redacted.Redacted> | undefined
  /** Default: the optional `MISTRAL_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/** A layer reading the key from `MISTRAL_API_KEY` (and the optional `MISTRAL_BASE_URL`). */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<MistralClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    MistralClient,
    Effect.flatMap(
      Client.keyAndBaseUrl(options, {
        provider: "Mistral",
        apiKey: secret("MISTRAL_API_KEY"),
        baseUrlEnv: "MISTRAL_BASE_URL"
      }),
      (read) => make({ ...options, ...read })
    )
  )
