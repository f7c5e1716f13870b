/**
 * The plumbing of the provider clients (`AnthropicClient`, `OpenAiClient`, `GoogleClient`):
 * base URL normalisation, the key header (taken out of its `Redacted` box per call), the
 * optional `*_BASE_URL` configuration, and the JSON / SSE POSTs with the resolved retry policy.
 * Each `<P>Client` module keeps its own tag, options and layers.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type { AgentError, ModelSettings } from "@agentfx/core"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { postJson, type RequestOptions } from "./request.js"
import type { RetryPolicy } from "./retry.js"
import { postSse, type StreamBody } from "./streamBody.js"

/** The two POSTs of a client. */
export interface Posts<Call> {
  /** POSTs JSON and returns what `decode` makes of the parsed answer. */
  readonly postJson: <A, E>(
    options: Call,
    decode: (json: unknown) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E | AgentError.ModelHTTPError | AgentError.ModelAPIError>
  /** POSTs and opens a streamed (SSE) body bound to the scope. */
  readonly postSse: (
    options: Call
  ) => Effect.Effect<StreamBody, AgentError.ModelHTTPError | AgentError.ModelAPIError, Scope.Scope>
  /**
   * The transport, also used to download files marked `forceDownload` before a call (a required
   * key: a wrapper that forgot it would send forced URLs as URLs).
   */
  readonly httpClient: HttpClient.HttpClient | undefined
}

/** What every call through a client carries. */
export interface Call {
  readonly modelName: string
  readonly body: unknown
  readonly settings: ModelSettings.ModelSettings
}

/**
 * The POSTs of a client: `url` and `headers` are asked per call (headers carry the key, so it
 * stays `Redacted` at rest). `httpClientSpans` turns the `@effect/platform` client's own
 * `http.client` span back on (off by default; see `RequestOptions`).
 */
export const posts = <C extends Call>(
  httpClient: HttpClient.HttpClient,
  retry: RetryPolicy,
  url: (call: C) => string,
  headers: (call: C) => Record<string, string>,
  httpClientSpans = false
): Posts<C> & { readonly httpClient: HttpClient.HttpClient } => {
  const request = (o: C): RequestOptions => ({
    modelName: o.modelName,
    url: url(o),
    headers: headers(o),
    body: o.body,
    settings: o.settings,
    retry,
    httpClientSpans
  })
  return {
    postJson: (o, decode) => postJson(httpClient, request(o), decode),
    postSse: (o) => postSse(httpClient, request(o)),
    httpClient
  }
}

/** The base URL without trailing slashes (`defaultBaseUrl` when none is given). */
export const baseUrlOf = (baseUrl: string | undefined, defaultBaseUrl: string): string =>
  (baseUrl ?? defaultBaseUrl).replace(/\/+$/, "")

/** Sets the key header (`name: value`, or `name: prefix + value`) when there is a key. */
export const setKey = (
  headers: Record<string, string>,
  name: string,
  key: Redacted.Redacted | undefined,
  prefix = ""
): Record<string, string> => {
  // The key leaves its Redacted box only here, per call, into the outgoing headers.
  if (key !== undefined) headers[name] = `${prefix}${Redacted.value(key)}`
  return headers
}

/** An optional string from configuration (e.g. `ANTHROPIC_BASE_URL`). */
export const optionalString = (name: string): Config.Config<string | undefined> =>
  Config.option(Config.string(name)).pipe(Config.map(Option.getOrUndefined))

/** The variable names a configuration error says are missing (`OPENAI_API_KEY`, …). */
const missingNames = (error: ConfigError.ConfigError): Array<string> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...missingNames(error.left), ...missingNames(error.right)]
    case "MissingData":
      return [error.path.join(".")]
    default:
      return []
  }
}

/**
 * Reads a provider's key from configuration. When it is missing, the `ConfigError` says which
 * provider wanted it and the two ways to give it (Effect's own says only "Missing data at
 * OPENAI_API_KEY"); any other configuration error is passed on unchanged.
 */
export const keyConfig = <A>(
  config: Config.Config<A>,
  provider: string
): Effect.Effect<A, ConfigError.ConfigError> =>
  Effect.mapError(config, (error) => {
    if (!ConfigError.isMissingDataOnly(error)) return error
    const names = missingNames(error)
    const vars = names.length === 0 ? "the key variable" : names.join(" or ")
    return ConfigError.MissingData(
      names.length === 0 ? [] : names[0]!.split("."),
      `${provider} needs an API key: set ${vars} in the environment, or pass the key to the ` +
        `client layer — layerConfig({ apiKey: Config.redacted("YOUR_VARIABLE") }) or ` +
        `layer({ apiKey: Redacted.make(key) })`
    )
  })

/**
 * What a client's `layerConfig` reads besides its own settings: the key (the option's `Config`,
 * else the provider's variable; missing, it fails with `keyConfig`'s message) and the base URL
 * (the option's `Config`, else the optional `baseUrlEnv`).
 */
export const keyAndBaseUrl = <K>(
  options: {
    readonly apiKey?: Config.Config<K> | undefined
    readonly baseUrl?: Config.Config<string | undefined> | undefined
  },
  defaults: {
    readonly provider: string
    readonly apiKey: Config.Config<K>
    readonly baseUrlEnv: string
  }
): Effect.Effect<
  { readonly apiKey: K; readonly baseUrl: string | undefined },
  ConfigError.ConfigError
> =>
  Effect.gen(function* () {
    const apiKey = yield* keyConfig(options.apiKey ?? defaults.apiKey, defaults.provider)
    const baseUrl = yield* options.baseUrl ?? optionalString(defaults.baseUrlEnv)
    return { apiKey, baseUrl }
  })
