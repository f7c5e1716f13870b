/**
 * The client service of Amazon Bedrock's OpenAI-compatible "mantle" endpoint
 * (`https://bedrock-mantle.{region}.api.aws`), shared by every `BedrockMantle` model: region,
 * endpoint, extra headers, the retry policy, and how requests are authorized — a Bedrock API key
 * (`AWS_BEARER_TOKEN_BEDROCK`, sent as a bearer token), or else AWS Signature V4 (service
 * `bedrock-mantle`) by the signer `BedrockClient` uses (`@smithy/signature-v4`), with
 * credentials given explicitly, by any AWS credential provider, or from the AWS SDK's Node chain
 * (environment, profiles, SSO…); each attempt (retries too) is signed afresh.
 *
 * The wire is OpenAI's: a model talks through the `OpenAiClient` service `openAiClientOf` makes
 * of this client for its path prefix.
 *
 * @example
 * ```ts
 * import { BedrockMantle, BedrockMantleClient } from "@agentfx/providers"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Layer } from "effect"
 *
 * const ModelLive = BedrockMantle.model("openai.gpt-oss-120b").pipe(
 *   Layer.provide(BedrockMantleClient.layerConfig()), // AWS_REGION, AWS_BEARER_TOKEN_BEDROCK
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Signer from "./internal/awsSigner.js"
import * as Client from "./internal/client.js"
import * as OpenAiClient from "./OpenAiClient.js"
import type * as RetryOption from "./Retry.js"

/** The mantle endpoint of a region. */
export const endpointOf = (region: string): string => `https://bedrock-mantle.${region}.api.aws`

/** How to reach mantle. */
export interface Options {
  /** The AWS region (`us-east-1`), naming the endpoint. */
  readonly region: string
  /** A Bedrock API key, sent as `Authorization: Bearer`; without one, requests are signed (SigV4). */
  readonly apiKey?: Redacted.Redacted | undefined
  /**
   * For SigV4 (no `apiKey`): static credentials, or an AWS credential provider (`fromIni`,
   * `fromSSO()`…). Default: the AWS SDK's Node chain.
   */
  readonly credentials?: Signer.CredentialsOption
  /** Default `https://bedrock-mantle.{region}.api.aws`. */
  readonly baseUrl?: string | undefined
  /** Sent with every request. */
  readonly headers?: Record<string, string> | undefined
  /** Transport retries: `{ times, base, cap }`, a `Schedule`, or `false` (see `Retry`). */
  readonly retry?: RetryOption.Option
  /** Whether the `@effect/platform` client makes its own `http.client` span (default `false`). */
  readonly httpClientSpans?: boolean | undefined
}

/** The mantle client: its options and the transport; models build their OpenAI client from it. */
export interface Service {
  readonly options: Options
  readonly httpClient: HttpClient.HttpClient
}

/** The mantle client a model talks through. */
export class BedrockMantleClient extends Context.Tag("@agentfx/providers/BedrockMantleClient")<
  BedrockMantleClient,
  Service
>() {}

/** Builds the service from options and an `HttpClient`. */
export const makeWith = (httpClient: HttpClient.HttpClient, options: Options): Service => ({
  options,
  httpClient
})

/** Builds the service, requiring an `HttpClient`. */
export const make = (options: Options): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (httpClient) => makeWith(httpClient, options))

/** A layer of the client from explicit options. */
export const layer = (
  options: Options
): Layer.Layer<BedrockMantleClient, never, HttpClient.HttpClient> =>
  Layer.effect(BedrockMantleClient, make(options))

/** Options read from configuration. */
export interface ConfigOptions extends Omit<Options, "region" | "apiKey" | "baseUrl"> {
  /** Default `AWS_REGION` (or `AWS_DEFAULT_REGION`). */
  readonly region?: Config.Config<string> | undefined
  /** Default: `AWS_BEARER_TOKEN_BEDROCK` if set (else requests are signed). */
  readonly apiKey?: Config.Config<Redacted.Redacted | undefined> | undefined
  /** Default: the optional `AWS_ENDPOINT_URL_BEDROCK_MANTLE`. */
  readonly baseUrl?: Config.Config<string | undefined> | undefined
}

/**
 * A layer reading the region (`AWS_REGION`, or `AWS_DEFAULT_REGION`), a Bedrock API key from
 * `AWS_BEARER_TOKEN_BEDROCK` if set, else (SigV4) static credentials from `AWS_ACCESS_KEY_ID` /
 * `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` if set, else the AWS SDK's Node chain; the
 * endpoint from `AWS_ENDPOINT_URL_BEDROCK_MANTLE` if set.
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<BedrockMantleClient, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    BedrockMantleClient,
    Effect.gen(function* () {
      const region = yield* options.region ?? Signer.regionConfig
      const apiKey = yield* options.apiKey ?? Signer.apiKeyConfig
      const baseUrl = yield* options.baseUrl ??
        Client.optionalString("AWS_ENDPOINT_URL_BEDROCK_MANTLE")
      const credentials =
        options.credentials ?? (apiKey === undefined ? yield* Signer.credentialsConfig : undefined)
      return yield* make({ ...options, region, apiKey, baseUrl, credentials })
    })
  )

/** The AWS SigV4 service name of the mantle endpoint. */
export const signingService = "bedrock-mantle"

/**
 * The transport signing each request (every attempt) with SigV4 for mantle; a failure to
 * resolve the credentials fails the request (not retried), naming no secret.
 */
export const signingClient = (
  httpClient: HttpClient.HttpClient,
  region: string,
  credentials: Signer.CredentialsOption
): HttpClient.HttpClient => {
  const sign = Signer.makeSigner({ region, service: signingService, credentials })
  return HttpClient.mapRequestEffect(httpClient, (request) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({
        try: async () => {
          const url = new URL(request.url)
          for (const [k, v] of request.urlParams) url.searchParams.append(k, v)
          const body = request.body._tag === "Uint8Array" ? request.body.body : ""
          const headers: Record<string, string> = {}
          for (const [k, v] of Object.entries(request.headers))
            if (k !== "authorization") headers[k] = v
          if (request.body._tag === "Uint8Array") headers["content-type"] = request.body.contentType
          const signed = await sign(
            { method: request.method, url: url.toString(), headers, body },
            new Date(now)
          )
          return HttpClientRequest.setHeaders(request, signed)
        },
        catch: (e) =>
          new HttpClientError.RequestError({
            request,
            reason: "Encode",
            cause: new Error(
              `AWS credentials could not be resolved or the request signed: ${
                e instanceof Error ? e.message : String(e)
              }`
            )
          })
      })
    )
  )
}

/**
 * The `OpenAiClient` service a model talks through: the endpoint (`baseUrl`, else
 * `endpointOf(region)`) under `pathPrefix` (`/v1`, `/openai/v1`), with the API key as a bearer
 * token, or else the transport signing every request.
 */
export const openAiClientOf = (client: Service, pathPrefix: string): OpenAiClient.Service => {
  const o = client.options
  const http =
    o.apiKey === undefined
      ? signingClient(client.httpClient, o.region, o.credentials)
      : client.httpClient
  return OpenAiClient.makeWith(http, {
    apiKey: o.apiKey,
    baseUrl: `${Client.baseUrlOf(o.baseUrl, endpointOf(o.region))}${pathPrefix}`,
    headers: o.headers,
    retry: o.retry,
    httpClientSpans: o.httpClientSpans
  })
}
