/**
 * AWS Signature V4 for the Bedrock clients (`Bedrock` on bedrock-runtime, `BedrockMantle` on
 * the mantle endpoint): the signer of `@smithy/signature-v4`, SHA-256 of `@smithy/core`, and
 * credentials given explicitly (secrets `Redacted` until the signer reads them), by any AWS
 * credential provider, or by the AWS SDK's Node chain (imported on first use).
 */
import type { SignatureV4 } from "@smithy/signature-v4"
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from "@smithy/types"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Client from "./client.js"
import { secret } from "./secret.js"

/** Static AWS credentials; the secret parts stay `Redacted`. */
export interface StaticCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: Redacted.Redacted
  readonly sessionToken?: Redacted.Redacted | undefined
}

/** Static credentials, any AWS credential provider, or `undefined` for the Node chain. */
export type CredentialsOption = StaticCredentials | AwsCredentialIdentityProvider | undefined

/**
 * The signer and SHA-256 (≈ a few MB of RSS and some ms to load), imported on the first signed
 * request, not by importing `@agentfx/providers`.
 */
export const loadSigner = (() => {
  let loaded:
    | Promise<{
        readonly SignatureV4: typeof SignatureV4
        readonly Sha256: typeof import("@smithy/core/checksum").Sha256
      }>
    | undefined
  return () =>
    (loaded ??= Promise.all([import("@smithy/signature-v4"), import("@smithy/core/checksum")]).then(
      ([signature, checksum]) => ({ SignatureV4: signature.SignatureV4, Sha256: checksum.Sha256 })
    ))
})()

/** The AWS SDK's Node credential chain, imported on first use (one per client). */
const defaultChain = (): AwsCredentialIdentityProvider => {
  let provider: AwsCredentialIdentityProvider | undefined
  return async () => {
    if (provider === undefined) {
      const { defaultProvider } = await import("@aws-sdk/credential-provider-node")
      provider = defaultProvider()
    }
    return provider()
  }
}

const isStatic = (c: CredentialsOption): c is StaticCredentials =>
  c !== undefined && typeof c !== "function"

/** The credential provider of an option: static ones, the given provider, or the Node chain. */
export const credentialProviderOf = (
  credentials: CredentialsOption
): AwsCredentialIdentityProvider =>
  isStatic(credentials)
    ? // The secrets leave their Redacted boxes only here, into the signer, per call.
      async (): Promise<AwsCredentialIdentity> => ({
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: Redacted.value(credentials.secretAccessKey),
        ...(credentials.sessionToken !== undefined
          ? { sessionToken: Redacted.value(credentials.sessionToken) }
          : {})
      })
    : (credentials ?? defaultChain())

/** What a request is signed over. */
export interface SignableRequest {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string | Uint8Array
}

/**
 * A SigV4 signer for a service (`bedrock`, `bedrock-mantle`) in a region: the headers to send
 * (the request's, plus `authorization`, `x-amz-date` and, with temporary credentials,
 * `x-amz-security-token`; `host` is left to the transport). Rejects when the credentials
 * cannot be resolved.
 */
export const makeSigner = (options: {
  readonly region: string
  readonly service: string
  readonly credentials: CredentialsOption
}): ((request: SignableRequest, date: Date) => Promise<Record<string, string>>) => {
  const credentials = credentialProviderOf(options.credentials)
  let signer: SignatureV4 | undefined
  return async (request, date) => {
    if (signer === undefined) {
      const aws = await loadSigner()
      signer = new aws.SignatureV4({
        service: options.service,
        region: options.region,
        sha256: aws.Sha256,
        credentials
      })
    }
    const u = new URL(request.url)
    const query: Record<string, string | Array<string>> = {}
    for (const [k, v] of u.searchParams) {
      const prev = query[k]
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
    }
    const signed = await signer.sign(
      {
        method: request.method,
        protocol: u.protocol,
        hostname: u.hostname,
        ...(u.port !== "" ? { port: Number(u.port) } : {}),
        path: u.pathname,
        query,
        headers: { ...request.headers, host: u.host },
        body: request.body
      },
      { signingDate: date }
    )
    const { host: _host, ...sent } = signed.headers
    return sent
  }
}

const optionalRedacted = (name: string): Config.Config<Redacted.Redacted | undefined> =>
  Config.option(secret(name)).pipe(Config.map(Option.getOrUndefined))

/** The AWS region: `AWS_REGION`, or `AWS_DEFAULT_REGION` when it is not set. */
export const regionConfig: Config.Config<string> = Config.string("AWS_REGION").pipe(
  Config.orElse(() => Config.string("AWS_DEFAULT_REGION"))
)

/** A Bedrock API key from `AWS_BEARER_TOKEN_BEDROCK`, if set. */
export const apiKeyConfig: Config.Config<Redacted.Redacted | undefined> = optionalRedacted(
  "AWS_BEARER_TOKEN_BEDROCK"
)

/**
 * Static credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`
 * when both of the first two are set; otherwise `undefined` (the Node chain then).
 */
export const credentialsConfig: Effect.Effect<
  StaticCredentials | undefined,
  ConfigError.ConfigError
> = Effect.gen(function* () {
  const accessKeyId = yield* Client.optionalString("AWS_ACCESS_KEY_ID")
  const secretAccessKey = yield* optionalRedacted("AWS_SECRET_ACCESS_KEY")
  const sessionToken = yield* optionalRedacted("AWS_SESSION_TOKEN")
  return accessKeyId !== undefined && secretAccessKey !== undefined
    ? { accessKeyId, secretAccessKey, sessionToken }
    : undefined
})
