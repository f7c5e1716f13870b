/**
 * Uploaded provider files (`Messages.UploadedFile`) and URL force-download (`forceDownload`):
 * the JSON round trip, the `UserError` for a file of another provider (nothing sent, the
 * conversation untouched), Anthropic's Files API beta flag, and the download before the call —
 * sent inline with the media type of the response, or a typed error (status, timeout) that names
 * the URL without its credentials.
 */
import { AgentError, Messages, Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { chatCompletionBody } from "./support/chatServer.js"
import { loopbackServer } from "./support/replay.js"

const anthropicAt = (baseUrl: string) =>
  Model.resolve(
    Anthropic.model("claude-sonnet-4-5").pipe(
      Layer.provide(
        AnthropicClient.layer({ baseUrl, apiKey: Redacted.make("sk-ant-x"), retry: false })
      ),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  )

const chatAt = (baseUrl: string) =>
  Model.resolve(
    OpenAiChat.model("gpt-4o").pipe(
      Layer.provide(OpenAiClient.layer({ baseUrl, apiKey: Redacted.make("sk-x"), retry: false })),
      Layer.provide(NodeHttpClient.layerUndici)
    )
  )

const anthropicReply = JSON.stringify({
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "claude-sonnet-4-5",
  content: [{ type: "text", text: "A kiwi." }],
  stop_reason: "end_turn",
  usage: { input_tokens: 10, output_tokens: 3 }
})

const params = Model.ModelRequestParameters.empty
const prompt = (...content: ReadonlyArray<Messages.UserContent>) => [
  new Messages.ModelRequest({ parts: [new Messages.UserPromptPart({ content })] })
]

describe("UploadedFile", () => {
  const kiwi = new Messages.UploadedFile({
    fileId: "file_011Ccn6h7bTbXrEWQKoQZqF9",
    providerName: "anthropic",
    mediaType: "image/jpeg",
    identifier: "kiwi",
    vendorMetadata: { detail: "high" }
  })

  it.effect("survives the JSON round trip in a prompt and in a tool return", () =>
    Effect.gen(function* () {
      const history: ReadonlyArray<Messages.ModelMessage> = [
        ...prompt("What is this?", kiwi),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolReturnPart({
              toolName: "get_file",
              toolCallId: "call_1",
              content: ["here", kiwi]
            })
          ]
        })
      ]
      const back = yield* Messages.decodeJson(Messages.encodeJson(history))
      const first = back[0] as Messages.ModelRequest
      const item = (first.parts[0] as Messages.UserPromptPart).content[1]
      assert.instanceOf(item, Messages.UploadedFile)
      assert.deepStrictEqual(item, kiwi)
      const ret = (back[1] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
      assert.deepStrictEqual(ret.files, [kiwi])
      assert.strictEqual(ret.contentText, '["here","See file kiwi."]')
      assert.isTrue(kiwi.isImage)
      assert.strictEqual(
        new Messages.UploadedFile({ fileId: "f", providerName: "openai" }).effectiveMediaType,
        "application/octet-stream"
      )
    })
  )

  it.scoped("is sent to Anthropic as a file source, with the Files API beta flag", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(anthropicReply)
      })
      const model = yield* anthropicAt(server.baseUrl)
      const response = yield* model.request(prompt("What is this?", kiwi), {}, params)
      assert.strictEqual(response.text, "A kiwi.")
      const sent = server.requests[0]!
      assert.include(sent.headers["anthropic-beta"] ?? "", "files-api-2025-04-14")
      const body = sent.body as { messages: Array<{ content: Array<unknown> }> }
      assert.deepStrictEqual(body.messages[0]!.content[1], {
        type: "image",
        source: { type: "file", file_id: "file_011Ccn6h7bTbXrEWQKoQZqF9" }
      })
    })
  )

  it.scoped("of another provider fails with a UserError before anything is sent", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(chatCompletionBody("unused"))
      })
      const model = yield* chatAt(server.baseUrl)
      const history = prompt("What is this?", kiwi)
      const exit = yield* Effect.exit(model.request(history, {}, params))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
        const error = exit.cause.error
        assert.instanceOf(error, AgentError.UserError)
        assert.strictEqual(
          (error as AgentError.UserError).reason,
          'UploadedFile file_011Ccn6h7bTbXrEWQKoQZqF9 belongs to provider "anthropic"; gpt-4o only takes files uploaded to "openai"'
        )
      } else assert.fail("expected a UserError")
      assert.strictEqual(server.requests.length, 0)
      // The conversation is untouched: the file is still there to send to its own provider.
      assert.deepStrictEqual((history[0]!.parts[0] as Messages.UserPromptPart).content[1], kiwi)
    })
  )
})

describe("forceDownload", () => {
  const pdfBytes = Buffer.from("%PDF-1.4 tiny")

  it.scoped("downloads the URL and sends the bytes inline, typed by the response", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((req, res) => {
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "application/pdf; charset=binary" })
          res.end(pdfBytes)
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(chatCompletionBody("A tiny PDF."))
      })
      const model = yield* chatAt(server.baseUrl)
      const doc = new Messages.DocumentUrl({
        url: `${server.baseUrl}/files/report?sig=abc`,
        forceDownload: true
      })
      const response = yield* model.request(prompt("Summarize", doc), {}, params)
      assert.strictEqual(response.text, "A tiny PDF.")
      assert.deepStrictEqual(
        server.requests.map((r) => `${r.method} ${r.path}`),
        ["GET /files/report?sig=abc", "POST /chat/completions"]
      )
      const body = server.requests[1]!.body as {
        messages: Array<{ content: Array<Record<string, any>> }>
      }
      assert.deepStrictEqual(body.messages[0]!.content[1], {
        type: "file",
        file: {
          file_data: `data:application/pdf;base64,${pdfBytes.toString("base64")}`,
          filename: "filename.pdf"
        }
      })
    })
  )

  it.scoped("a failed download is a ModelHTTPError naming the URL without credentials", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(404, { "content-type": "text/plain" })
        res.end("not found")
      })
      const model = yield* chatAt(server.baseUrl)
      const url = `${server.baseUrl.replace("http://", "http://user:pa55word@")}/missing.pdf?token=s3cr3t`
      const history = prompt("Summarize", new Messages.DocumentUrl({ url, forceDownload: true }))
      const exit = yield* Effect.exit(model.request(history, {}, params))
      if (!(Exit.isFailure(exit) && exit.cause._tag === "Fail"))
        return assert.fail("expected a failure")
      const error = exit.cause.error as AgentError.ModelHTTPError
      assert.strictEqual(error._tag, "ModelHTTPError")
      assert.strictEqual(error.status, 404)
      assert.strictEqual(
        error.body,
        `Downloading ${server.baseUrl}/missing.pdf?token=[REDACTED] failed`
      )
      assert.notInclude(String(error.body), "pa55word")
      assert.notInclude(String(error.body), "s3cr3t")
      // Only the download was attempted; the model was not called and the history is unchanged.
      assert.deepStrictEqual(
        server.requests.map((r) => r.method),
        ["GET"]
      )
      assert.strictEqual(
        ((history[0]!.parts[0] as Messages.UserPromptPart).content[1] as Messages.DocumentUrl).url,
        url
      )
    })
  )

  it.scoped("a download with no answer times out (30 s) as a ModelAPIError", () =>
    Effect.gen(function* () {
      // The server takes the request and never answers.
      const server = yield* loopbackServer(() => {})
      const model = yield* chatAt(server.baseUrl)
      const history = prompt(
        "Summarize",
        new Messages.ImageUrl({ url: `${server.baseUrl}/slow.png`, forceDownload: true })
      )
      const fiber = yield* Effect.fork(Effect.exit(model.request(history, {}, params)))
      yield* server.waitRequests(1)
      yield* TestClock.adjust("31 seconds")
      const exit = yield* Fiber.join(fiber)
      if (!(Exit.isFailure(exit) && exit.cause._tag === "Fail"))
        return assert.fail("expected a failure")
      const error = exit.cause.error as AgentError.ModelAPIError
      assert.strictEqual(error._tag, "ModelAPIError")
      assert.strictEqual(
        error.reason,
        `Downloading ${server.baseUrl}/slow.png failed: no complete answer within 30s`
      )
      assert.strictEqual(server.requests.length, 1)
    })
  )
})
