/**
 * The Google client service, shared by every `Google` model and `GoogleEmbedding`: the Gemini
 * API key (`GEMINI_API_KEY`, or `GOOGLE_API_KEY`; sent as `x-goog-api-key`), base URL, extra
 * headers and the retry policy — or, built by `vertexLayer`, a Vertex AI target (project and
 * location paths, regional hosts) with its credentials from `GoogleAuth` (a cached OAuth access
 * token, or the API key in express mode).
 *
 * @example
 * ```ts
 * import { Google, GoogleClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = Google.model("gemini-2.5-flash").pipe(
 *   Layer.provide(GoogleClient.layerConfig()), // GEMINI_API_KEY (or GOOGLE_API_KEY)
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * // Vertex AI: GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, Application Default Credentials
 * const VertexLive = Google.model("gemini-2.5-flash").pipe(
 *   Layer.provide(GoogleClient.vertexLayerConfig()),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { AgentError } from "@agentfx/core"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as GoogleAuth from "./GoogleAuth.js"
import * as Client from "./internal/client.js"
import type * as Retry from "./internal/retry.js"
import * as RetryOption from "./Retry.js"
import { secret } from "./internal/secret.js"

/** The Gemini API's default base URL. */
export const defaultBaseUrl = "https://generativelanguage.googleapis.com"

/** What `GoogleClient` holds. */
export interface Service {
  readonly apiKey: Redacted.Redacted<string> | undefined
  readonly baseUrl: string
  readonly headers: Readonly<Record<string, string>>
  readonly retry: Retry.RetryPolicy
  readonly httpClient: HttpClient.HttpClient
  /** Whether the `@effect/platform` client makes its own spans (see `Options`). */
  readonly httpClientSpans?: boolean | undefined
  /** Set for Vertex AI (`vertexLayer`): where the models are and how requests are authorized. */
  readonly vertex?: VertexTarget | undefined
}

/** Where a Vertex AI client sends requests and the bearer token it sends (OAuth credentials). */
export interface VertexTarget {
  /** Up to and including `…/publishers/google/models/`. */
  readonly modelsUrl: string
  /** The cached access token (absent in express mode, which sends the API key). */
  readonly token?: Effect.Effect<Redacted.Redacted<string>, GoogleAuth.GoogleAuthError> | undefined
  /** Drops the cached token (a 401 answer: the next request fetches a new one). */
  readonly invalidateToken?: Effect.Effect<void> | undefined
}

/** The Gemini API client configuration: key, base URL, extra headers, retry policy. */
export class GoogleClient extends Context.Tag("@agentfx/providers/GoogleClient")<
  GoogleClient,
  Service
>() {}

/** How to reach the Gemini API. */
export interface Options {
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** Default `https://generativelanguage.googleapis.com`. */
  readonly baseUrl?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry` in `@agentfx/providers`). */
  readonly retry?: RetryOption.Option
  /**
   * Whether the `@effect/platform` client makes its own `http.client` span per request (with
   * header attributes, keys redacted) and sends trace propagation headers. Default `false`:
   * the provider's own `Module.request` span carries `url.path` and the status.
   */
  readonly httpClientSpans?: boolean | undefined
}

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service =>
  GoogleClient.of({
    apiKey: options.apiKey,
    baseUrl: Client.baseUrlOf(options.baseUrl, defaultBaseUrl),
    headers: options.headers ?? {},
    retry: RetryOption.resolve(options.retry),
    httpClient,
    httpClientSpans: options.httpClientSpans === true
  })

/** Builds the service, requiring an `HttpClient`. */
export const make = (options: Options = {}): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (httpClient) => makeWith(httpClient, options))

/** A `GoogleClient` from explicit options. */
export const layer = (
  options: Options = {}
): Layer.Layer<GoogleClient, never, HttpClient.HttpClient> =>
  Layer.effect(GoogleClient, make(options))

/** `GEMINI_API_KEY`, or `GOOGLE_API_KEY` when it is not set. */
export const apiKeyConfig: Config.Config<Redacted.Redacted<string>> = secret("GEMINI_API_KEY").pipe(
  Config.orElse(() => secret("GOOGLE_API_KEY"))
)

/** Options of `layerConfig`: every field is optional. */
export interface ConfigOptions extends Omit<Options, "apiKey" | "baseUrl"> {
  /** Default: `apiKeyConfig` (`GEMINI_API_KEY`, or `GOOGLE_API_KEY` when it is not set). */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default: the optional `GEMINI_BASE_URL`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/**
 * A `GoogleClient` from configuration: by default the key is `GEMINI_API_KEY` (or
 * `GOOGLE_API_KEY`) and the base URL the optional `GEMINI_BASE_URL`, as every provider's
 * `layerConfig()`.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<GoogleClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    GoogleClient,
    Effect.flatMap(
      Client.keyAndBaseUrl(options, {
        provider: "Google",
        apiKey: apiKeyConfig,
        baseUrlEnv: "GEMINI_BASE_URL"
      }),
      (read) => make({ ...options, ...read })
    )
  )

/**
 * A `GoogleClient` keyed by `GEMINI_API_KEY` (falling back to `GOOGLE_API_KEY`).
 *
 * @deprecated Use `layerConfig()`, which reads the same variables (as every provider's does).
 */
export const layerFromEnv: Layer.Layer<
  GoogleClient,
  ConfigError.ConfigError,
  HttpClient.HttpClient
> = layerConfig()

// ---------------------------------------------------------------------------
// Vertex AI
// ---------------------------------------------------------------------------

/** Options of `vertexLayer`. */
export interface VertexOptions {
  /** How requests are authorized (see `GoogleAuth`): API key (express mode) or OAuth. */
  readonly credentials: GoogleAuth.Credentials
  /** The Google Cloud project (OAuth credentials need one; express mode uses none). */
  readonly project?: string | undefined
  /** `global` (default) or a region such as `europe-west4`; it picks the host too. */
  readonly location?: string | undefined
  /** Default: `vertexBaseUrl(location)` (express mode: the global host). */
  readonly baseUrl?: string | undefined
  /** Default `v1beta1`. */
  readonly apiVersion?: string | undefined
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false`. */
  readonly retry?: RetryOption.Option
  /** See `Options.httpClientSpans`. */
  readonly httpClientSpans?: boolean | undefined
  /** How long before its expiry a cached access token is refreshed (default one minute). */
  readonly refreshMarginMillis?: number | undefined
}

/**
 * The Vertex AI host of a location: `aiplatform.googleapis.com` for `global`,
 * `{location}-aiplatform.googleapis.com` for a region.
 */
export const vertexBaseUrl = (location: string): string =>
  location === "global"
    ? "https://aiplatform.googleapis.com"
    : `https://${location}-aiplatform.googleapis.com`

/**
 * The models URL of a Vertex target (up to `…/publishers/google/models/`): with a project,
 * `{base}/{version}/projects/{project}/locations/{location}/publishers/google/models/`;
 * without (express mode, gateways), `{base}/{version}/publishers/google/models/`.
 */
export const vertexModelsUrl = (
  baseUrl: string,
  options: {
    readonly project?: string | undefined
    readonly location?: string | undefined
    readonly apiVersion?: string | undefined
  }
): string => {
  const version = options.apiVersion ?? "v1beta1"
  const scope =
    options.project === undefined
      ? ""
      : `projects/${encodeURIComponent(options.project)}/locations/${encodeURIComponent(options.location ?? "global")}/`
  return `${Client.baseUrlOf(baseUrl, baseUrl)}/${version}/${scope}publishers/google/models/`
}

/**
 * A `GoogleClient` for Gemini on Vertex AI. The same `Google.model(name)` then calls
 * `…/publishers/google/models/{model}:generateContent` (and `streamGenerateContent`,
 * `countTokens`) with a bearer token (cached, refreshed before expiry, one refresh at a time,
 * dropped after a 401) or, in express mode, the API key. Vertex reads `gs://` and `http(s)` file URLs itself, so
 * nothing is downloaded.
 *
 * A missing project with OAuth credentials is a `UserError` when the layer is built.
 */
export const vertexLayer = (
  options: VertexOptions
): Layer.Layer<GoogleClient, AgentError.UserError, HttpClient.HttpClient> =>
  Layer.effect(
    GoogleClient,
    Effect.gen(function* () {
      const httpClient = yield* HttpClient.HttpClient
      const location = options.location ?? "global"
      const c = options.credentials
      if (c._tag === "OAuth" && options.project === undefined) {
        return yield* new AgentError.UserError({
          reason:
            "Vertex AI with OAuth credentials needs a project: pass `project` (or set GOOGLE_CLOUD_PROJECT for `google-vertex:` model strings)"
        })
      }
      const express = c._tag === "ApiKey"
      const baseUrl = options.baseUrl ?? vertexBaseUrl(express ? "global" : location)
      const token =
        c._tag === "OAuth"
          ? yield* GoogleAuth.cached(
              Effect.provideService(c.token, HttpClient.HttpClient, httpClient),
              {
                refreshMarginMillis: options.refreshMarginMillis
              }
            )
          : undefined
      const client = makeWith(httpClient, {
        apiKey: express ? c.apiKey : undefined,
        baseUrl,
        headers: options.headers,
        retry: options.retry,
        httpClientSpans: options.httpClientSpans
      })
      return GoogleClient.of({
        ...client,
        vertex: {
          modelsUrl: vertexModelsUrl(baseUrl, {
            project: express ? undefined : options.project,
            location,
            apiVersion: options.apiVersion
          }),
          ...(token !== undefined ? { token: token.get, invalidateToken: token.invalidate } : {})
        }
      })
    })
  )

/** Options of `vertexLayerConfig`: each falls back to the environment. */
export interface VertexConfigOptions
  extends Omit<VertexOptions, "credentials" | "project" | "location"> {
  /** Default: `vertexCredentialsConfig`. */
  readonly credentials?: GoogleAuth.Credentials | undefined
  /** Default: `GOOGLE_CLOUD_PROJECT`. */
  readonly project?: string | undefined
  /** Default: `GOOGLE_CLOUD_LOCATION`, else `global`. */
  readonly location?: string | undefined
}

/**
 * The credentials of `google-vertex:` model strings and `vertexLayerConfig`: Application
 * Default Credentials when `GOOGLE_APPLICATION_CREDENTIALS` is set, else express mode with
 * `GOOGLE_CLOUD_API_KEY`; neither is a `UserError` naming both.
 */
export const vertexCredentialsConfig: Effect.Effect<GoogleAuth.Credentials, AgentError.UserError> =
  Effect.gen(function* () {
    const adc = yield* Effect.orElseSucceed(
      Client.optionalString("GOOGLE_APPLICATION_CREDENTIALS"),
      () => undefined
    )
    if (adc !== undefined)
      return yield* Effect.mapError(
        GoogleAuth.applicationDefault,
        (e) => new AgentError.UserError({ reason: `Vertex AI credentials: ${e.reason}` })
      )
    return yield* secret("GOOGLE_CLOUD_API_KEY").pipe(
      Effect.map(GoogleAuth.apiKey),
      Effect.mapError(
        () =>
          new AgentError.UserError({
            reason:
              "Vertex AI needs credentials: set GOOGLE_APPLICATION_CREDENTIALS (a service-account key or authorized-user file) or GOOGLE_CLOUD_API_KEY (express mode), or pass `credentials` to GoogleClient.vertexLayer"
          })
      )
    )
  })

/** A Vertex AI `GoogleClient` from the environment (`GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION`, credentials). */
export const vertexLayerConfig = (
  options: VertexConfigOptions = {}
): Layer.Layer<GoogleClient, AgentError.UserError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(
    Effect.gen(function* () {
      const credentials = options.credentials ?? (yield* vertexCredentialsConfig)
      const env = (name: string) =>
        Effect.orElseSucceed(Client.optionalString(name), () => undefined)
      const project = options.project ?? (yield* env("GOOGLE_CLOUD_PROJECT"))
      const location = options.location ?? (yield* env("GOOGLE_CLOUD_LOCATION"))
      return vertexLayer({ ...options, credentials, project, location })
    })
  )
