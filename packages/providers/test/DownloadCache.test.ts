/**
 * The model instance's download cache (`forceDownload` files and files the provider cannot
 * fetch): a run's later model requests reuse a download instead of fetching the URL again; a
 * failed download, an expired entry (TestClock) and a file over the per-file bound are fetched
 * again. Requests are counted on a loopback server.
 */
import { Agent, AgentError, Messages, Model, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { chatCompletionBody, toolCallChoice } from "./support/chatServer.js"
import { loopbackServer } from "./support/replay.js"

const modelLayer = (baseUrl: string) =>
  OpenAiChat.model("gpt-4o").pipe(
    Layer.provide(OpenAiClient.layer({ baseUrl, apiKey: Redacted.make("sk-x"), retry: false })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const pdf = Buffer.from("%PDF-1.4 cached")
const dataUrl = `data:application/pdf;base64,${pdf.toString("base64")}`

/** A chat completion that calls `lookup` once. */
const toolCallBody = (id: string) =>
  JSON.stringify({ id: `chat-${id}`, choices: [toolCallChoice(id, "lookup", '{"q":"x"}')] })

const params = Model.ModelRequestParameters.empty
const ask = (file: Messages.FileUrl) => [Messages.userPrompt(["Summarize", file])]

describe("download cache", () => {
  it.scoped("a run of 3 model requests downloads its forceDownload URL once", () =>
    Effect.gen(function* () {
      let posts = 0
      const server = yield* loopbackServer((req, res) => {
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "application/pdf" })
          res.end(pdf)
          return
        }
        posts++
        res.writeHead(200, { "content-type": "application/json" })
        res.end(posts < 3 ? toolCallBody(`call_${posts}`) : chatCompletionBody("A report."))
      })
      const lookup = Tool.make("lookup", {
        parameters: Schema.Struct({ q: Schema.String }),
        handler: () => Effect.succeed("found")
      })
      const agent = Agent.make({ tools: [lookup] })
      const doc = new Messages.DocumentUrl({ url: `${server.baseUrl}/q3.pdf`, forceDownload: true })
      const result = yield* agent
        .run(["Summarize", doc])
        .pipe(Effect.provide(modelLayer(server.baseUrl)))
      assert.strictEqual(result.output, "A report.")
      assert.strictEqual(result.usage.requests, 3)
      assert.deepStrictEqual(
        server.requests.map((r) => `${r.method} ${r.path}`),
        [
          "GET /q3.pdf",
          "POST /chat/completions",
          "POST /chat/completions",
          "POST /chat/completions"
        ]
      )
      // Every model request carried the file inline (from the one download).
      for (const r of server.requests.slice(1)) {
        const body = r.body as { messages: Array<{ content: unknown }> }
        assert.deepStrictEqual((body.messages[0]!.content as Array<unknown>)[1], {
          type: "file",
          file: { file_data: dataUrl, filename: "filename.pdf" }
        })
      }
      // The history keeps the URL, not the bytes.
      const first = result.allMessages()[0] as Messages.ModelRequest
      assert.strictEqual(
        ((first.parts[0] as Messages.UserPromptPart).content[1] as Messages.DocumentUrl).url,
        doc.url
      )
    })
  )

  it.scoped("a failed download is not kept: the next request downloads again", () =>
    Effect.gen(function* () {
      let gets = 0
      const server = yield* loopbackServer((req, res) => {
        if (req.method === "GET") {
          gets++
          if (gets === 1) {
            res.writeHead(503, { "content-type": "text/plain" })
            res.end("busy")
            return
          }
          res.writeHead(200, { "content-type": "application/pdf" })
          res.end(pdf)
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(chatCompletionBody("ok"))
      })
      const model = yield* Model.resolve(modelLayer(server.baseUrl))
      const doc = new Messages.DocumentUrl({ url: `${server.baseUrl}/a.pdf`, forceDownload: true })
      const failed = yield* Effect.exit(model.request(ask(doc), {}, params))
      assert.isTrue(Exit.isFailure(failed))
      if (Exit.isFailure(failed) && failed.cause._tag === "Fail") {
        assert.instanceOf(failed.cause.error, AgentError.ModelHTTPError)
        assert.strictEqual((failed.cause.error as AgentError.ModelHTTPError).status, 503)
      } else assert.fail("expected a ModelHTTPError")
      const ok = yield* model.request(ask(doc), {}, params)
      assert.strictEqual(ok.text, "ok")
      yield* model.request(ask(doc), {}, params)
      assert.deepStrictEqual(
        server.requests.map((r) => r.method),
        ["GET", "GET", "POST", "POST"]
      )
    })
  )

  it.scoped("an entry expires after 5 minutes; a file over 4 MiB is never kept", () =>
    Effect.gen(function* () {
      const big = Buffer.alloc(4 * 1024 * 1024 + 1, 7)
      const server = yield* loopbackServer((req, res) => {
        if (req.method === "GET") {
          res.writeHead(200, { "content-type": "application/pdf" })
          res.end(req.path === "/big.pdf" ? big : pdf)
          return
        }
        res.writeHead(200, { "content-type": "application/json" })
        res.end(chatCompletionBody("ok"))
      })
      const model = yield* Model.resolve(modelLayer(server.baseUrl))
      const small = new Messages.DocumentUrl({
        url: `${server.baseUrl}/s.pdf`,
        forceDownload: true
      })
      const large = new Messages.DocumentUrl({
        url: `${server.baseUrl}/big.pdf`,
        forceDownload: true
      })
      const gets = (path: string) =>
        server.requests.filter((r) => r.method === "GET" && r.path === path).length
      yield* model.request(ask(small), {}, params)
      yield* TestClock.adjust("4 minutes")
      yield* model.request(ask(small), {}, params)
      assert.strictEqual(gets("/s.pdf"), 1)
      yield* TestClock.adjust("2 minutes")
      yield* model.request(ask(small), {}, params)
      assert.strictEqual(gets("/s.pdf"), 2)
      yield* model.request(ask(large), {}, params)
      yield* model.request(ask(large), {}, params)
      assert.strictEqual(gets("/big.pdf"), 2)
    })
  )
})
