/**
 * Checks a request a loopback server received was signed with AWS SigV4: the `authorization`
 * header names the key, date, region and service, the session token travels, and an
 * independent `@smithy/signature-v4` signer with the same secret and date signs what the
 * server received (path, signed headers, body) to the same signature.
 */
import { assert } from "@effect/vitest"
import { Sha256 } from "@smithy/core/checksum"
import { SignatureV4 } from "@smithy/signature-v4"

/** What the server received (path, lower-case headers, the JSON body). */
export interface SignedRequest {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: unknown
}

/** Asserts `sent` carries a valid SigV4 signature for `service` in `region`. */
export const assertSigned = async (
  sent: SignedRequest,
  baseUrl: string,
  expected: {
    readonly service: string
    readonly region: string
    readonly accessKeyId: string
    readonly secretAccessKey: string
    readonly sessionToken: string
  }
): Promise<void> => {
  const auth = sent.headers.authorization!
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      auth
    )
  assert.isNotNull(m, auth)
  assert.deepStrictEqual(
    [m![1], m![3], m![4]],
    [expected.accessKeyId, expected.region, expected.service]
  )
  assert.strictEqual(sent.headers["x-amz-security-token"], expected.sessionToken)
  const signedHeaders = m![5]!.split(";")
  assert.includeMembers(signedHeaders, ["host", "x-amz-date", "content-type"])
  const date = sent.headers["x-amz-date"]!
  const url = new URL(baseUrl)
  const signer = new SignatureV4({
    service: expected.service,
    region: expected.region,
    sha256: Sha256,
    credentials: {
      accessKeyId: expected.accessKeyId,
      secretAccessKey: expected.secretAccessKey,
      sessionToken: expected.sessionToken
    }
  })
  const again = await signer.sign(
    {
      method: "POST",
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: sent.path,
      query: {},
      headers: Object.fromEntries(
        signedHeaders
          .filter((h) => h !== "x-amz-date" && h !== "x-amz-security-token")
          .map((h) => [h, h === "host" ? url.host : sent.headers[h]!])
      ),
      body: JSON.stringify(sent.body)
    },
    {
      signingDate: new Date(
        `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`
      )
    }
  )
  assert.strictEqual(again.headers.authorization, auth)
}
