/**
 * The OpenAI client service: API key, base URL, organization / project, extra headers and the
 * retry policy, shared by the Chat Completions and Responses models and by every
 * OpenAI-compatible vendor (the vendor is just another base URL and key).
 *
 * @example
 * ```ts
 * import { OpenAiClient, OpenAiChat } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 *
 * const ModelLive = OpenAiChat.model("gpt-4o").pipe(
 *   Layer.provide(OpenAiClient.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY") })),
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
import * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
import { secret } from "./internal/secret.js"

/** The retry policy type of every provider client. */
export type RetryPolicy = Retry.RetryPolicy

/** How to reach an OpenAI-protocol API. */
export interface Options {
  /** Sent as `Authorization: Bearer …` (or in `authHeader`); omit for local servers (Ollama, vLLM). */
  readonly apiKey?: Redacted.Redacted | undefined
  /** Default `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  readonly organization?: string | undefined
  readonly project?: string | undefined
  /** Sent with every request. */
  readonly headers?: Record<string, string> | undefined
  /** Query parameters added to every URL (Azure's `api-version`). */
  readonly queryParams?: Record<string, string> | undefined
  /** Header that carries the key: `"authorization"` (Bearer, default) or e.g. `"api-key"` (Azure). */
  readonly authHeader?: string | undefined
  /**
   * Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry`).
   * Default: 2 retries, 500 ms base, 30 s cap, honouring `Retry-After`.
   */
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
  /** Path under the base URL, e.g. `/chat/completions`. */
  readonly path: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
}

/** The client service: `postJson` / `postSse` to a path under the base URL. */
export interface Service extends Client.Posts<CallOptions> {
  readonly baseUrl: string
  readonly retry: RetryPolicy
  readonly httpClient: HttpClient.HttpClient
  /** The absolute URL of a path (with the configured query parameters). */
  readonly url: (path: string) => string
  /** The headers of a request, auth included; built per call so the key stays `Redacted` at rest. */
  readonly headers: () => Record<string, string>
}

/** The OpenAI (or OpenAI-compatible) client a model talks through. */
export class OpenAiClient extends Context.Tag("@agentfx/providers/OpenAiClient")<
  OpenAiClient,
  Service
>() {}

/** The public OpenAI endpoint. */
export const defaultBaseUrl = "https://api.openai.com/v1"

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service => {
  const baseUrl = Client.baseUrlOf(options.baseUrl, defaultBaseUrl)
  const retry = RetryOption.resolve(options.retry)
  const query =
    options.queryParams && Object.keys(options.queryParams).length > 0
      ? new URLSearchParams(options.queryParams).toString()
      : ""
  const url = (path: string) => {
    const full = `${baseUrl}${path.startsWith("/") ? path : `/${path}`}`
    return query === "" ? full : `${full}${full.includes("?") ? "&" : "?"}${query}`
  }
  const authHeader = (options.authHeader ?? "authorization").toLowerCase()
  const keyPrefix = authHeader === "authorization" ? "Bearer " : ""
  const headers = (): Record<string, string> => {
    const h = Client.setKey({ ...options.headers }, authHeader, options.apiKey, keyPrefix)
    if (options.organization !== undefined) h["openai-organization"] = options.organization
    if (options.project !== undefined) h["openai-project"] = options.project
    return h
  }
  return {
    baseUrl,
    retry,
    url,
    headers,
    ...Client.posts(
      httpClient,
      retry,
      (o: CallOptions) => url(o.path),
      headers,
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
): Layer.Layer<OpenAiClient, never, HttpClient.HttpClient> =>
  Layer.effect(OpenAiClient, make(options))

/** Options read from configuration (`Config.redacted("OPENAI_API_KEY")`, …). */
export interface ConfigOptions
  extends Omit<Options, "apiKey" | "baseUrl" | "organization" | "project"> {
  readonly apiKey?: Config.Config<Redacted.Redacted | undefined> | undefined
  readonly baseUrl?: Config.Config<string | undefined> | undefined
  readonly organization?: Config.Config<string | undefined> | undefined
  readonly project?: Config.Config<string | undefined> | undefined
}

const optionalConfig = <A>(c: Config.Config<A> | undefined): Config.Config<A | undefined> =>
  c === undefined ? Config.succeed(undefined) : c

/**
 * A layer reading the key and URLs from configuration. By default the key is
 * `Config.redacted("OPENAI_API_KEY")` and the base URL the optional `OPENAI_BASE_URL`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<OpenAiClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    OpenAiClient,
    Effect.gen(function* () {
      const apiKey = yield* Client.keyConfig(
        optionalConfig(options.apiKey ?? secret("OPENAI_API_KEY")),
        "OpenAI"
      )
      const baseUrl = yield* optionalConfig(
        options.baseUrl ?? Client.optionalString("OPENAI_BASE_URL")
      )
      const organization = yield* optionalConfig(options.organization)
      const project = yield* optionalConfig(options.project)
      return yield* make({ ...options, apiKey, baseUrl, organization, project })
    })
  )
