/**
 * The Anthropic API client service: API key (`ANTHROPIC_API_KEY`, sent as `x-api-key`), base
 * URL, extra headers (`anthropic-beta`…), the `anthropic-version` header and the retry policy,
 * shared by every `Anthropic` model.
 *
 * @example
 * ```ts
 * import { Anthropic, AnthropicClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 *
 * const ModelLive = Anthropic.model("claude-sonnet-4-5", { cacheInstructions: true }).pipe(
 *   Layer.provide(AnthropicClient.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type { ModelSettings } from "@agentfx/core"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Client from "./internal/client.js"
import type * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
import { secret } from "./internal/secret.js"

/** The public Anthropic endpoint. */
export const defaultBaseUrl = "https://api.anthropic.com"

/** The `anthropic-version` header value sent with every request. */
export const apiVersion = "2023-06-01"

/**
 * The messages path. `?beta=true` is what Anthropic's own SDK sends for its beta namespace
 * (structured outputs, strict tools); the API accepts it for every request.
 */
export const messagesPath = "/v1/messages?beta=true"

/** How to reach the Anthropic API. */
export interface Options {
  /** Sent as `x-api-key`. */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `https://api.anthropic.com`. */
  readonly baseUrl?: string | undefined
  /** Sent with every request (e.g. `anthropic-beta`). */
  readonly headers?: Record<string, string> | undefined
  /** Transport retries (429, 5xx incl. 529 overloaded, resets): `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry` in `@agentfx/providers`). */
  readonly retry?: RetryOption.Option
  /**
   * Whether the `@effect/platform` client makes its own `http.client` span per request (with
   * header attributes, keys redacted) and sends trace propagation headers. Default `false`:
   * the provider's own `Module.request` span carries `url.path` and the status.
   */
  readonly httpClientSpans?: boolean | undefined
}

/** A call made through the client. */
export interface CallOptions {
  readonly modelName: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
  /** Extra headers for this call (beta flags). */
  readonly headers?: Record<string, string> | undefined
  /** The path under the base URL; default `messagesPath`. */
  readonly path?: string | undefined
}

/** The client service: `postJson` / `postSse` to the messages endpoint. */
export interface Service extends Client.Posts<CallOptions> {
  readonly baseUrl: string
  readonly retry: Retry.RetryPolicy
}

/** The Anthropic client a model talks through. */
export class AnthropicClient extends Context.Tag("@agentfx/providers/AnthropicClient")<
  AnthropicClient,
  Service
>() {}

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service => {
  const baseUrl = Client.baseUrlOf(options.baseUrl, defaultBaseUrl)
  const retry = RetryOption.resolve(options.retry)
  const url = `${baseUrl}${messagesPath}`
  return {
    baseUrl,
    retry,
    ...Client.posts(
      httpClient,
      retry,
      (o: CallOptions) => (o.path === undefined ? url : `${baseUrl}${o.path}`),
      (o: CallOptions) =>
        Client.setKey(
          { "anthropic-version": apiVersion, ...options.headers, ...o.headers },
          "x-api-key",
          options.apiKey
        ),
      options.httpClientSpans === true
    )
  }
}

/** Builds the service, requiring an `HttpClient`. */
export const make = (options: Options = {}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => makeWith(client, options))

/** A layer of the client. */
export const layer = (
  options: Options = {}
): Layer.Layer<AnthropicClient, never, HttpClient.HttpClient> =>
  Layer.effect(AnthropicClient, make(options))

/** Options read from configuration. */
export interface ConfigOptions extends Omit<Options, "apiKey" | "baseUrl"> {
  /** Default `Config.redacted("ANTHROPIC_API_KEY")`. */
  readonly apiKey?: Config.Config<Redacted.Redacted | undefined> | undefined
  /** Default: the optional `ANTHROPIC_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/**
 * A layer reading the key from configuration: by default `Config.redacted("ANTHROPIC_API_KEY")`
 * and the optional `ANTHROPIC_BASE_URL`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<AnthropicClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    AnthropicClient,
    Effect.flatMap(
      Client.keyAndBaseUrl(options, {
        provider: "Anthropic",
        apiKey: secret("ANTHROPIC_API_KEY"),
        baseUrlEnv: "ANTHROPIC_BASE_URL"
      }),
      (read) => make({ ...options, ...read })
    )
  )
