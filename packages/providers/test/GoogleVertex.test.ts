/**
 * Gemini on Vertex AI (`GoogleClient.vertexLayer`, `GoogleAuth`), against loopback servers: the
 * regional host and model paths, the OAuth flows (service-account JWT, authorized user, ADC
 * file), token caching under concurrency and expiry (TestClock), errors without secrets, the
 * Vertex-only request fields and log probabilities, no downloads of file URLs, embeddings over
 * `:predict`, and the `google-vertex:` registry prefix. The recorded Vertex traffic is replayed
 * by conformance/google.test.ts and CountTokens.test.ts.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { EmbeddingModel, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as GoogleAuth from "../src/GoogleAuth.js"
import * as GoogleEmbedding from "../src/GoogleEmbedding.js"
import * as ModelRegistry from "../src/ModelRegistry.js"
import { type LoopbackRequest, loopbackServer } from "./support/replay.js"

const { privateKey, publicKey } = Crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
const privatePem = privateKey.export({ type: "pkcs8", format: "pem" }).toString()

const answer = (text: string, extra: Record<string, unknown> = {}) => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", ...extra }],
  usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 2, totalTokenCount: 7 },
  modelVersion: "gemini-2.5-flash",
  responseId: "vertex-1"
})

const json = (res: import("node:http").ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

/** A Vertex stand-in: `/token` grants `ya29.test` for an hour; models answer "Paris". */
const vertexServer = (
  token: (req: LoopbackRequest) => [number, unknown] = () => [
    200,
    { access_token: "ya29.test", expires_in: 3600, token_type: "Bearer" }
  ]
) =>
  loopbackServer((req, res) => {
    if (req.path === "/token") {
      const [status, body] = token(req)
      return json(res, status, body)
    }
    if (req.path.endsWith(":streamGenerateContent?alt=sse")) {
      res.writeHead(200, { "content-type": "text/event-stream" })
      res.write(
        `data: ${JSON.stringify({ candidates: [{ content: { role: "model", parts: [{ text: "Par" }] } }] })}\r\n\r\n`
      )
      res.end(`data: ${JSON.stringify(answer("is"))}\r\n\r\n`)
      return
    }
    if (req.path.endsWith(":predict")) {
      const instances = (req.body as { instances: Array<{ content: string }> }).instances
      return json(res, 200, {
        predictions: instances.map((i, n) => ({
          embeddings: {
            values: [n, i.content.length],
            statistics: { token_count: 3, truncated: false }
          }
        }))
      })
    }
    return json(res, 200, answer("Paris"))
  })

const modelLayer = (name: string, client: Layer.Layer<GoogleClient.GoogleClient, unknown, any>) =>
  Google.model(name).pipe(Layer.provide(client), Layer.provide(NodeHttpClient.layerUndici))

/** `gemini-2.5-flash` on a Vertex client at `baseUrl` (no retries). */
const vertexModel = (baseUrl: string, options: GoogleClient.VertexOptions) =>
  Model.resolve(
    modelLayer("gemini-2.5-flash", GoogleClient.vertexLayer({ ...options, baseUrl, retry: false }))
  )

const prompt = [Messages.userPrompt("Capital of France?")]
const noTools = Model.ModelRequestParameters.empty

const decodeSegment = (s: string) => JSON.parse(Buffer.from(s, "base64url").toString("utf8"))

describe("Google on Vertex AI", () => {
  it("picks the global or regional host and the project / express model paths", () => {
    assert.strictEqual(GoogleClient.vertexBaseUrl("global"), "https://aiplatform.googleapis.com")
    assert.strictEqual(
      GoogleClient.vertexBaseUrl("europe-west4"),
      "https://europe-west4-aiplatform.googleapis.com"
    )
    assert.strictEqual(
      GoogleClient.vertexModelsUrl("https://europe-west4-aiplatform.googleapis.com/", {
        project: "my-proj",
        location: "europe-west4"
      }),
      "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/my-proj/locations/europe-west4/publishers/google/models/"
    )
    assert.strictEqual(
      GoogleClient.vertexModelsUrl("https://aiplatform.googleapis.com", { apiVersion: "v1" }),
      "https://aiplatform.googleapis.com/v1/publishers/google/models/"
    )
  })

  it.scoped(
    "a service account signs an RS256 JWT, exchanges it once, and the token authorizes generate and stream",
    () =>
      Effect.gen(function* () {
        const server = yield* vertexServer()
        const credentials = GoogleAuth.serviceAccount({
          client_email: "agent@my-proj.iam.gserviceaccount.com",
          private_key: Redacted.make(privatePem),
          private_key_id: "key-1",
          token_uri: `${server.baseUrl}/token`
        })
        const model = yield* vertexModel(server.baseUrl, {
          credentials,
          project: "my-proj",
          location: "europe-west4"
        })
        const [a, b] = yield* Effect.all(
          [model.request(prompt, {}, noTools), model.request(prompt, {}, noTools)],
          { concurrency: 2 }
        )
        assert.strictEqual(a.text, "Paris")
        assert.strictEqual(b.text, "Paris")
        assert.strictEqual(a.providerResponseId, "vertex-1")
        assert.strictEqual(a.usage.inputTokens, 5)
        const streamed = yield* Effect.scoped(
          Effect.flatMap(model.requestStream(prompt, {}, noTools), (sr) =>
            Stream.runCollect(sr.events)
          )
        )
        const last = Chunk.last(streamed)
        assert.strictEqual(last._tag === "Some" && last.value._tag, "ResponseCompleteEvent")
        assert.strictEqual((last as any).value.response.text, "Paris")

        const tokens = server.requests.filter((r) => r.path === "/token")
        assert.strictEqual(tokens.length, 1, "one token exchange for three concurrent-ish calls")
        const form = new URLSearchParams(tokens[0]!.body as string)
        assert.strictEqual(form.get("grant_type"), "urn:ietf:params:oauth:grant-type:jwt-bearer")
        const [h, c, sig] = form.get("assertion")!.split(".")
        assert.deepStrictEqual(decodeSegment(h!), { alg: "RS256", typ: "JWT", kid: "key-1" })
        const claims = decodeSegment(c!)
        assert.strictEqual(claims.iss, "agent@my-proj.iam.gserviceaccount.com")
        assert.strictEqual(claims.aud, `${server.baseUrl}/token`)
        assert.strictEqual(claims.scope, GoogleAuth.cloudPlatformScope)
        assert.strictEqual(claims.exp - claims.iat, 3600)
        assert.isTrue(
          Crypto.verify(
            "RSA-SHA256",
            Buffer.from(`${h}.${c}`),
            publicKey,
            Buffer.from(sig!, "base64url")
          ),
          "the JWT verifies with the account's public key"
        )

        const calls = server.requests.filter((r) => r.path !== "/token")
        assert.deepStrictEqual(
          calls.map((r) => r.path),
          [
            "/v1beta1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
            "/v1beta1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
            "/v1beta1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
          ]
        )
        for (const r of calls) {
          assert.strictEqual(r.headers.authorization, "Bearer ya29.test")
          assert.isUndefined(r.headers["x-goog-api-key"])
        }
      })
  )

  it.scoped(
    "tokens are cached until a minute before expiry, refreshed once under concurrency",
    () =>
      Effect.gen(function* () {
        const fetches = yield* Ref.make(0)
        const fetch = Effect.gen(function* () {
          const n = yield* Ref.updateAndGet(fetches, (x) => x + 1)
          // A slow token endpoint: concurrent callers must wait for this one fetch.
          yield* Effect.sleep("1 second")
          const now = yield* TestClock.currentTimeMillis
          return { token: Redacted.make(`token-${n}`), expiresAt: now + 3600_000 }
        })
        const { get } = yield* GoogleAuth.cached(fetch)
        const all = Effect.all(
          Array.from({ length: 8 }, () => get),
          { concurrency: "unbounded" }
        )
        const first = yield* Effect.fork(all)
        yield* TestClock.adjust("1 second")
        const tokens = yield* first.await.pipe(Effect.flatten)
        assert.deepStrictEqual(tokens.map(Redacted.value), Array(8).fill("token-1"))
        assert.strictEqual(yield* Ref.get(fetches), 1)
        // Issued at t=1s, expires at 3601s: still served at 3540s (61 s left).
        yield* TestClock.adjust("3539 seconds")
        assert.strictEqual(Redacted.value(yield* get), "token-1")
        assert.strictEqual(yield* Ref.get(fetches), 1)
        // At 3542s less than a minute is left: one refresh for all callers.
        yield* TestClock.adjust("2 seconds")
        const second = yield* Effect.fork(all)
        yield* TestClock.adjust("1 second")
        const refreshed = yield* second.await.pipe(Effect.flatten)
        assert.deepStrictEqual(refreshed.map(Redacted.value), Array(8).fill("token-2"))
        assert.strictEqual(yield* Ref.get(fetches), 2)
      })
  )

  it.effect("a failed token fetch is not cached: the next call tries again", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(0)
      const { get } = yield* GoogleAuth.cached(
        Effect.flatMap(
          Ref.updateAndGet(attempts, (n) => n + 1),
          (n) =>
            n === 1
              ? Effect.fail(new GoogleAuth.GoogleAuthError({ reason: "down" }))
              : Effect.succeed({ token: Redacted.make("ok") })
        )
      )
      const error = yield* Effect.flip(get)
      assert.strictEqual(error.reason, "down")
      assert.strictEqual(Redacted.value(yield* get), "ok")
      assert.strictEqual(Redacted.value(yield* get), "ok")
      assert.strictEqual(yield* Ref.get(attempts), 2)
    })
  )

  it.scoped("a refused token is a ModelAPIError naming the OAuth error, with no secret in it", () =>
    Effect.gen(function* () {
      const server = yield* vertexServer(() => [
        400,
        { error: "invalid_grant", error_description: "Invalid JWT Signature." }
      ])
      const model = yield* vertexModel(server.baseUrl, {
        credentials: GoogleAuth.serviceAccount({
          client_email: "agent@my-proj.iam.gserviceaccount.com",
          private_key: Redacted.make(privatePem),
          token_uri: `${server.baseUrl}/token`
        }),
        project: "my-proj"
      })
      const exit = yield* Effect.exit(model.request(prompt, {}, noTools))
      assert.isTrue(Exit.isFailure(exit))
      const error = (exit as any).cause.error
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.strictEqual(error.modelName, "gemini-2.5-flash")
      assert.include(error.reason, "status 400 (invalid_grant: Invalid JWT Signature.)")
      const assertion = new URLSearchParams(server.requests[0]!.body as string).get("assertion")!
      const shown = `${JSON.stringify(error)} ${Cause.pretty((exit as any).cause)}`
      assert.notInclude(shown, assertion.split(".")[2]!)
      assert.notInclude(shown, "PRIVATE KEY")
      assert.notInclude(shown, privatePem.split("\n")[1]!)
      // Nothing was sent to the model.
      assert.deepStrictEqual(
        server.requests.map((r) => r.path),
        ["/token"]
      )
    })
  )

  it.scoped("a 401 drops the cached token: the next request exchanges again", () =>
    Effect.gen(function* () {
      let grants = 0
      const server = yield* loopbackServer((req, res) => {
        if (req.path === "/token") {
          grants++
          return json(res, 200, { access_token: `ya29.${grants}`, expires_in: 3600 })
        }
        return req.headers.authorization === "Bearer ya29.1"
          ? json(res, 401, { error: { code: 401, status: "UNAUTHENTICATED" } })
          : json(res, 200, answer("Paris"))
      })
      const model = yield* vertexModel(server.baseUrl, {
        credentials: GoogleAuth.authorizedUser({
          client_id: "id",
          client_secret: Redacted.make("client-s3cret"),
          refresh_token: Redacted.make("refresh-s3cret"),
          token_uri: `${server.baseUrl}/token`
        }),
        project: "p"
      })
      const error = yield* Effect.flip(model.request(prompt, {}, noTools))
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual((error as any).status, 401)
      assert.notInclude(JSON.stringify(error), "ya29.1")
      const response = yield* model.request(prompt, {}, noTools)
      assert.strictEqual(response.text, "Paris")
      assert.strictEqual(grants, 2)
      const form = new URLSearchParams(server.requests[0]!.body as string)
      assert.deepStrictEqual(Object.fromEntries(form), {
        grant_type: "refresh_token",
        client_id: "id",
        client_secret: "client-s3cret",
        refresh_token: "refresh-s3cret"
      })
    })
  )

  it.scoped("an unusable private key fails before any request, naming the account only", () =>
    Effect.gen(function* () {
      const server = yield* vertexServer()
      const model = yield* vertexModel(server.baseUrl, {
        credentials: GoogleAuth.serviceAccount({
          client_email: "agent@my-proj.iam.gserviceaccount.com",
          private_key: Redacted.make("not-a-pem-secret-material"),
          token_uri: `${server.baseUrl}/token`
        }),
        project: "my-proj"
      })
      const error = yield* Effect.flip(model.request(prompt, {}, noTools))
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.include((error as any).reason, "agent@my-proj.iam.gserviceaccount.com")
      assert.notInclude(JSON.stringify(error), "not-a-pem-secret-material")
      assert.strictEqual(server.requests.length, 0)
    })
  )

  it.scoped("express mode sends the API key, with no project or location in the path", () =>
    Effect.gen(function* () {
      const server = yield* vertexServer()
      const model = yield* vertexModel(server.baseUrl, {
        credentials: GoogleAuth.apiKey(Redacted.make("express-key")),
        project: "ignored-in-express-mode"
      })
      const response = yield* model.request(prompt, {}, noTools)
      assert.strictEqual(response.text, "Paris")
      assert.strictEqual(
        server.requests[0]!.path,
        "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
      )
      assert.strictEqual(server.requests[0]!.headers["x-goog-api-key"], "express-key")
      assert.isUndefined(server.requests[0]!.headers.authorization)
    })
  )

  it.effect("OAuth credentials without a project are a UserError when the layer is built", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Layer.build(
          GoogleClient.vertexLayer({ credentials: GoogleAuth.accessToken(Redacted.make("t")) })
        ).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
      )
      assert.strictEqual(error._tag, "UserError")
      assert.include(error.reason, "project")
    })
  )

  it.scoped(
    "vertexSettings sends labels, Model Armor templates and logprobs; logprobs come back in providerDetails",
    () =>
      Effect.gen(function* () {
        const logprobsResult = {
          chosenCandidates: [{ token: "Paris", logProbability: -0.01, tokenId: 7 }],
          topCandidates: [{ candidates: [{ token: "Paris", logProbability: -0.01, tokenId: 7 }] }]
        }
        const server = yield* loopbackServer((_req, res) =>
          json(res, 200, answer("Paris", { logprobsResult, avgLogprobs: -0.01 }))
        )
        const model = yield* vertexModel(server.baseUrl, {
          credentials: GoogleAuth.accessToken(Redacted.make("fixed-token")),
          project: "p"
        })
        const settings = Google.vertexSettings({
          labels: { team: "search" },
          modelArmor: {
            promptTemplateName: "projects/p/locations/global/templates/in",
            responseTemplateName: "projects/p/locations/global/templates/out"
          },
          logprobs: 2
        })
        const response = yield* model.request(prompt, { ...settings, temperature: 0 }, noTools)
        const body = server.requests[0]!.body as any
        assert.deepStrictEqual(body.labels, { team: "search" })
        assert.deepStrictEqual(body.modelArmorConfig, {
          promptTemplateName: "projects/p/locations/global/templates/in",
          responseTemplateName: "projects/p/locations/global/templates/out"
        })
        assert.deepStrictEqual(body.generationConfig, {
          temperature: 0,
          responseModalities: ["TEXT"],
          responseLogprobs: true,
          logprobs: 2
        })
        assert.strictEqual(server.requests[0]!.headers.authorization, "Bearer fixed-token")
        assert.deepStrictEqual(response.providerDetails, {
          logprobs: logprobsResult,
          avg_logprobs: -0.01
        })
        assert.deepStrictEqual(Google.vertexSettings({}), {})
        assert.deepStrictEqual(Google.vertexSettings({ logprobs: true }), {
          extraBody: { generationConfig: { responseLogprobs: true } }
        })
      })
  )

  it.scoped("http(s) and gs:// file URLs go to Vertex as fileData: nothing is downloaded", () =>
    Effect.gen(function* () {
      const server = yield* vertexServer()
      const model = yield* vertexModel(server.baseUrl, {
        credentials: GoogleAuth.accessToken(Redacted.make("t")),
        project: "p"
      })
      yield* model.request(
        [
          Messages.userPrompt([
            "Describe both",
            new Messages.ImageUrl({ url: "http://127.0.0.1:9/not-served.png" }),
            new Messages.DocumentUrl({ url: "gs://bucket/report.pdf" })
          ])
        ],
        {},
        noTools
      )
      assert.strictEqual(server.requests.length, 1)
      assert.deepStrictEqual((server.requests[0]!.body as any).contents[0].parts, [
        { text: "Describe both" },
        { fileData: { fileUri: "http://127.0.0.1:9/not-served.png", mimeType: "image/png" } },
        { fileData: { fileUri: "gs://bucket/report.pdf", mimeType: "application/pdf" } }
      ])
    })
  )

  it.scoped("embeddings go over :predict; Gemini embedding models one text per request", () =>
    Effect.gen(function* () {
      const server = yield* vertexServer()
      const client = GoogleClient.vertexLayer({
        credentials: GoogleAuth.accessToken(Redacted.make("t")),
        project: "p",
        location: "us-central1",
        baseUrl: server.baseUrl,
        retry: false
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const embed = (name: string) =>
        Effect.flatMap(EmbeddingModel.EmbeddingModel, (m) =>
          m.embed(["alpha", "beta!"], { inputType: "document", dimensions: 2 })
        ).pipe(Effect.provide(GoogleEmbedding.model(name).pipe(Layer.provide(client))))
      const text = yield* embed("text-embedding-005")
      assert.deepStrictEqual(text.vectors, [
        [0, 5],
        [1, 5]
      ])
      assert.strictEqual(text.requests, 1)
      assert.strictEqual(text.usage.inputTokens, 6)
      assert.strictEqual(
        server.requests[0]!.path,
        "/v1beta1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
      )
      assert.deepStrictEqual(server.requests[0]!.body, {
        instances: [
          { content: "alpha", task_type: "RETRIEVAL_DOCUMENT" },
          { content: "beta!", task_type: "RETRIEVAL_DOCUMENT" }
        ],
        parameters: { outputDimensionality: 2 }
      })
      const gemini = yield* embed("gemini-embedding-001")
      assert.strictEqual(gemini.requests, 2)
      assert.deepStrictEqual(gemini.vectors, [
        [0, 5],
        [0, 5]
      ])
    })
  )

  it.effect("credentials files: service account, authorized user, and clear errors", () =>
    Effect.gen(function* () {
      const sa = yield* GoogleAuth.fromJson(
        JSON.stringify({
          type: "service_account",
          client_email: "a@b.iam.gserviceaccount.com",
          private_key: privatePem
        })
      )
      assert.strictEqual(sa._tag, "OAuth")
      const user = yield* GoogleAuth.fromJson(
        JSON.stringify({
          type: "authorized_user",
          client_id: "id",
          client_secret: "s3cret-value",
          refresh_token: "r3fresh-value"
        })
      )
      assert.strictEqual(user._tag, "OAuth")
      const notJson = yield* Effect.flip(GoogleAuth.fromJson("{oops"))
      assert.include(notJson.reason, "not JSON")
      const wrong = yield* Effect.flip(
        GoogleAuth.fromJson(
          JSON.stringify({ type: "service_account", private_key: "s3cret-value" })
        )
      )
      assert.include(wrong.reason, "service-account key")
      assert.notInclude(JSON.stringify(wrong), "s3cret-value")
    })
  )

  it.scoped(
    "google-vertex: resolves from ADC or express-mode env, and names both when missing",
    () =>
      Effect.gen(function* () {
        const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "agentfx-vertex-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
        )
        const file = Path.join(dir, "adc.json")
        Fs.writeFileSync(
          file,
          JSON.stringify({
            type: "authorized_user",
            client_id: "id",
            client_secret: "s",
            refresh_token: "r"
          })
        )
        const resolve = (env: Record<string, string>) =>
          Effect.flatMap(Model.ModelRegistry, (r) =>
            r.resolve("google-vertex:gemini-2.5-flash")
          ).pipe(
            Effect.provide(ModelRegistry.layer()),
            Effect.provide(
              Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
            ),
            Effect.provide(NodeHttpClient.layerUndici)
          )
        const adc = yield* resolve({
          GOOGLE_APPLICATION_CREDENTIALS: file,
          GOOGLE_CLOUD_PROJECT: "p",
          GOOGLE_CLOUD_LOCATION: "europe-west4"
        })
        assert.strictEqual(adc.modelName, "gemini-2.5-flash")
        const express = yield* resolve({ GOOGLE_CLOUD_API_KEY: "k" })
        assert.strictEqual(express.modelName, "gemini-2.5-flash")
        const missing = yield* Effect.flip(resolve({}))
        assert.include(missing.message, "GOOGLE_APPLICATION_CREDENTIALS")
        assert.include(missing.message, "GOOGLE_CLOUD_API_KEY")
        const noProject = yield* Effect.flip(resolve({ GOOGLE_APPLICATION_CREDENTIALS: file }))
        assert.include(noProject.message, "GOOGLE_CLOUD_PROJECT")
      })
  )
})
