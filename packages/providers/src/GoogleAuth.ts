/**
 * Google Cloud credentials for Vertex AI (`GoogleClient.vertexLayer`): an API key (Vertex express
 * mode), a fixed OAuth access token, any Effect that yields one, a service-account key
 * (RS256-signed JWT exchanged at its `token_uri`), an authorized-user refresh token (what
 * `gcloud auth application-default login` writes), or Application Default Credentials read from
 * the file named by `GOOGLE_APPLICATION_CREDENTIALS`.
 *
 * Every secret stays `Redacted`: it leaves its box only into the token request body or the
 * `Authorization` header, and never appears in an error, a log or a span.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as SynchronizedRef from "effect/SynchronizedRef"

/** A failure to obtain a Google Cloud access token (no secret in the reason). */
export class GoogleAuthError extends Schema.TaggedError<GoogleAuthError>()("GoogleAuthError", {
  reason: Schema.String,
  /** The token endpoint's HTTP status, when it answered with an error. */
  status: Schema.optional(Schema.Number)
}) {}

/** An OAuth access token and when it expires (epoch milliseconds; absent: never). */
export interface AccessToken {
  readonly token: Redacted.Redacted<string>
  readonly expiresAt?: number | undefined
}

/** How Vertex AI requests are authorized. */
export type Credentials =
  | {
      /** Vertex express mode: `x-goog-api-key`, and paths without project and location. */
      readonly _tag: "ApiKey"
      readonly apiKey: Redacted.Redacted<string>
    }
  | {
      /** `Authorization: Bearer` with the token the Effect yields (cached until near expiry). */
      readonly _tag: "OAuth"
      readonly token: Effect.Effect<AccessToken, GoogleAuthError, HttpClient.HttpClient>
    }

/** The scope Vertex AI needs. */
export const cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

/** Google's OAuth token endpoint (the default `token_uri`). */
export const defaultTokenUri = "https://oauth2.googleapis.com/token"

/** Vertex express mode: an API key. */
export const apiKey = (key: Redacted.Redacted<string>): Credentials => ({
  _tag: "ApiKey",
  apiKey: key
})

/** A fixed access token (e.g. from `gcloud auth print-access-token`); it is never refreshed. */
export const accessToken = (token: Redacted.Redacted<string>): Credentials => ({
  _tag: "OAuth",
  token: Effect.succeed({ token })
})

/**
 * Tokens from any Effect (a secret manager, a metadata server, workload identity): the
 * Vertex client caches each one until shortly before its `expiresAt` and refreshes it once,
 * however many requests wait for it.
 */
export const fromEffect = (
  token: Effect.Effect<AccessToken, GoogleAuthError, HttpClient.HttpClient>
): Credentials => ({ _tag: "OAuth", token })

/** The fields of a service-account key file that signing needs. */
export interface ServiceAccountKey {
  readonly client_email: string
  readonly private_key: Redacted.Redacted<string>
  /** Default `https://oauth2.googleapis.com/token`. */
  readonly token_uri?: string | undefined
  readonly private_key_id?: string | undefined
}

/** The fields of an authorized-user credentials file (`gcloud auth application-default login`). */
export interface AuthorizedUser {
  readonly client_id: string
  readonly client_secret: Redacted.Redacted<string>
  readonly refresh_token: Redacted.Redacted<string>
  /** Default `https://oauth2.googleapis.com/token`. */
  readonly token_uri?: string | undefined
}

const base64Url = (data: string | Buffer): string => Buffer.from(data).toString("base64url")

const TokenResponse = Schema.Struct({
  access_token: Schema.String,
  expires_in: Schema.optional(Schema.Number)
})

/** POSTs a form to a token endpoint and reads `access_token` / `expires_in`. */
const exchange = (
  tokenUri: string,
  form: Record<string, string>
): Effect.Effect<AccessToken, GoogleAuthError, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const client = yield* HttpClient.HttpClient
    const fail = (reason: string, status?: number) =>
      new GoogleAuthError({
        reason: `Google OAuth token request to ${tokenUri} failed: ${reason}`,
        ...(status !== undefined ? { status } : {})
      })
    const response = yield* client
      .execute(HttpClientRequest.post(tokenUri).pipe(HttpClientRequest.bodyUrlParams(form)))
      .pipe(Effect.mapError((e) => fail(e.reason)))
    const json = yield* Effect.orElseSucceed(response.json, () => undefined)
    if (response.status >= 400) {
      // OAuth errors carry `error` / `error_description`, never the assertion or the secret.
      const e = (json ?? {}) as { error?: unknown; error_description?: unknown }
      const detail = [e.error, e.error_description].filter((s) => typeof s === "string").join(": ")
      return yield* fail(
        `status ${response.status}${detail === "" ? "" : ` (${detail})`}`,
        response.status
      )
    }
    const decoded = yield* Schema.decodeUnknown(TokenResponse)(json).pipe(
      Effect.mapError(() => fail("the answer has no access_token"))
    )
    const now = yield* Clock.currentTimeMillis
    return {
      token: Redacted.make(decoded.access_token),
      ...(decoded.expires_in !== undefined ? { expiresAt: now + decoded.expires_in * 1000 } : {})
    }
  }).pipe(Effect.withSpan("GoogleAuth.token", { attributes: { "url.full": tokenUri } }))

/** The RS256-signed JWT assertion of a service account (pure apart from the clock value). */
export const signServiceAccountJwt = (
  key: ServiceAccountKey,
  nowSeconds: number,
  scopes: ReadonlyArray<string> = [cloudPlatformScope]
): string => {
  const header = {
    alg: "RS256",
    typ: "JWT",
    ...(key.private_key_id !== undefined ? { kid: key.private_key_id } : {})
  }
  const claims = {
    iss: key.client_email,
    scope: scopes.join(" "),
    aud: key.token_uri ?? defaultTokenUri,
    iat: nowSeconds,
    exp: nowSeconds + 3600
  }
  const input = `${base64Url(JSON.stringify(header))}.${base64Url(JSON.stringify(claims))}`
  const signature = Crypto.sign("RSA-SHA256", Buffer.from(input), Redacted.value(key.private_key))
  return `${input}.${base64Url(signature)}`
}

/**
 * A service account: each token is a JWT signed with the key (RS256) exchanged at `token_uri`
 * for an access token (`urn:ietf:params:oauth:grant-type:jwt-bearer`).
 */
export const serviceAccount = (
  key: ServiceAccountKey,
  options: { readonly scopes?: ReadonlyArray<string> | undefined } = {}
): Credentials =>
  fromEffect(
    Effect.gen(function* () {
      const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const assertion = yield* Effect.try({
        try: () => signServiceAccountJwt(key, now, options.scopes),
        catch: () =>
          new GoogleAuthError({
            reason: `Cannot sign with the private key of ${key.client_email} (not a PEM RSA key?)`
          })
      })
      return yield* exchange(key.token_uri ?? defaultTokenUri, {
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion
      })
    })
  )

/** An authorized user: the refresh token is exchanged at `token_uri` for access tokens. */
export const authorizedUser = (user: AuthorizedUser): Credentials =>
  fromEffect(
    Effect.suspend(() =>
      exchange(user.token_uri ?? defaultTokenUri, {
        grant_type: "refresh_token",
        client_id: user.client_id,
        client_secret: Redacted.value(user.client_secret),
        refresh_token: Redacted.value(user.refresh_token)
      })
    )
  )

const CredentialsFile = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("service_account"),
    client_email: Schema.String,
    private_key: Schema.Redacted(Schema.String),
    token_uri: Schema.optional(Schema.String),
    private_key_id: Schema.optional(Schema.String)
  }),
  Schema.Struct({
    type: Schema.Literal("authorized_user"),
    client_id: Schema.String,
    client_secret: Schema.Redacted(Schema.String),
    refresh_token: Schema.Redacted(Schema.String),
    token_uri: Schema.optional(Schema.String)
  })
)

/**
 * Credentials from the text of a Google credentials JSON file: a service-account key or an
 * authorized user. The error names the file's problem, never its secrets.
 */
export const fromJson = (json: string): Effect.Effect<Credentials, GoogleAuthError> =>
  Effect.try({
    try: () => JSON.parse(json) as unknown,
    catch: () => new GoogleAuthError({ reason: "The credentials file is not JSON" })
  }).pipe(
    Effect.flatMap((u) =>
      Schema.decodeUnknown(CredentialsFile)(u).pipe(
        Effect.mapError(
          () =>
            new GoogleAuthError({
              reason:
                'The credentials file is neither a service-account key (type "service_account" with client_email and private_key) nor an authorized user (type "authorized_user" with client_id, client_secret and refresh_token)'
            })
        )
      )
    ),
    Effect.map((f) => (f.type === "service_account" ? serviceAccount(f) : authorizedUser(f)))
  )

/**
 * Application Default Credentials from the file named by `GOOGLE_APPLICATION_CREDENTIALS`
 * (a service-account key or an authorized user).
 */
export const applicationDefault: Effect.Effect<Credentials, GoogleAuthError> = Effect.gen(
  function* () {
    const path = yield* Effect.mapError(
      Config.string("GOOGLE_APPLICATION_CREDENTIALS"),
      () => new GoogleAuthError({ reason: "GOOGLE_APPLICATION_CREDENTIALS is not set" })
    )
    const text = yield* Effect.tryPromise({
      try: () => Fs.readFile(path, "utf8"),
      catch: () => new GoogleAuthError({ reason: `Cannot read the credentials file ${path}` })
    })
    return yield* fromJson(text)
  }
)

/** A cached token source: `get` the token, `invalidate` it (e.g. after a 401). */
export interface CachedToken<E, R> {
  readonly get: Effect.Effect<Redacted.Redacted<string>, E, R>
  /** Drops the cached token: the next `get` fetches a new one. */
  readonly invalidate: Effect.Effect<void>
}

/**
 * Caches the tokens of `fetch`: a token is reused until `refreshMarginMillis` (default one
 * minute) before its `expiresAt`; then the next caller fetches a new one while the others wait
 * for it (one refresh at a time). A failed fetch is not cached.
 */
export const cached = <E, R>(
  fetch: Effect.Effect<AccessToken, E, R>,
  options: { readonly refreshMarginMillis?: number | undefined } = {}
): Effect.Effect<CachedToken<E, R>> =>
  Effect.map(SynchronizedRef.make(Option.none<AccessToken>()), (ref) => {
    const margin = options.refreshMarginMillis ?? 60_000
    return {
      get: SynchronizedRef.modifyEffect(ref, (current) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (
            Option.isSome(current) &&
            (current.value.expiresAt === undefined || now < current.value.expiresAt - margin)
          )
            return Effect.succeed([current.value.token, current] as const)
          return Effect.map(fetch, (t) => [t.token, Option.some(t)] as const)
        })
      ),
      invalidate: SynchronizedRef.set(ref, Option.none())
    }
  })
