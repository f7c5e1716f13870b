/**
 * How the examples pick their model: forced scripted, provider keys, a local Ollama (a fake
 * one on loopback here, spoken to through the real OpenAI-compatible client), or the script.
 */
import { Agent, FunctionModel } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { pickModelWith, type Scripted } from "../src/lib/pickModel.js"

const scripted: Scripted = { name: "test", layer: FunctionModel.layer(() => "scripted answer") }

/** A fake Ollama: lists two models and answers chat completions; records what it was sent. */
const fakeOllama = Effect.acquireRelease(
  Effect.async<{ url: string; server: Server; bodies: Array<any> }>((resume) => {
    const bodies: Array<any> = []
    let requests = 0
    const server = createServer((req, res) => {
      if (++requests > 10) return res.writeHead(429).end()
      let raw = ""
      req.on("data", (c) => (raw += c))
      req.on("end", () => {
        res.setHeader("content-type", "application/json")
        if (req.method === "GET" && req.url === "/api/tags") {
          return res.end(
            JSON.stringify({ models: [{ name: "qwen2.5:0.5b" }, { name: "llama3.2:latest" }] })
          )
        }
        if (req.method === "POST" && req.url === "/v1/chat/completions") {
          const body = JSON.parse(raw)
          bodies.push(body)
          return res.end(
            JSON.stringify({
              id: "chatcmpl-1",
              object: "chat.completion",
              created: 1,
              model: body.model,
              choices: [
                {
                  index: 0,
                  message: { role: "assistant", content: "Hi from Ollama" },
                  finish_reason: "stop"
                }
              ],
              usage: { prompt_tokens: 7, completion_tokens: 4, total_tokens: 11 }
            })
          )
        }
        res.writeHead(404).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, server, bodies }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** A loopback port with nothing listening. */
const closedPort = Effect.async<string>((resume) => {
  const s = createServer()
  s.listen(0, "127.0.0.1", () => {
    const { port } = s.address() as AddressInfo
    s.close(() => resume(Effect.succeed(`http://127.0.0.1:${port}`)))
  })
})

describe("pickModel", () => {
  it.live("AGENTFX_MODEL=scripted wins over a provider key", () =>
    Effect.gen(function* () {
      const url = yield* closedPort
      const picked = yield* pickModelWith(scripted, {
        env: { AGENTFX_MODEL: "scripted", OPENAI_API_KEY: "sk-test" },
        ollamaUrl: url
      })
      assert.strictEqual(picked.kind, "scripted")
      assert.strictEqual(picked.description, "scripted (test)")
    })
  )

  it.live("a provider key picks that provider (first OpenAI, then Anthropic, then Gemini)", () =>
    Effect.gen(function* () {
      const url = yield* closedPort
      const pick = (env: Record<string, string>) => pickModelWith(scripted, { env, ollamaUrl: url })
      assert.strictEqual(
        (yield* pick({ OPENAI_API_KEY: "k", GEMINI_API_KEY: "k" })).description,
        "openai (gpt-4o-mini)"
      )
      assert.strictEqual((yield* pick({ ANTHROPIC_API_KEY: "k" })).kind, "anthropic")
      assert.strictEqual((yield* pick({ GOOGLE_API_KEY: "k" })).kind, "google")
      assert.strictEqual(
        (yield* pick({ GEMINI_API_KEY: "k", AGENTFX_MODEL_NAME: "gemini-2.5-pro" })).description,
        "google (gemini-2.5-pro)"
      )
      // an empty key counts as unset
      assert.strictEqual((yield* pick({ OPENAI_API_KEY: "  " })).kind, "scripted")
    })
  )

  it.scopedLive("without a key, a local Ollama is used through its OpenAI-compatible API", () =>
    Effect.gen(function* () {
      const ollama = yield* fakeOllama
      const picked = yield* pickModelWith(scripted, { env: {}, ollamaUrl: ollama.url })
      assert.strictEqual(picked.kind, "ollama")
      assert.strictEqual(picked.description, "ollama (llama3.2:latest)")
      const result = yield* Agent.make({ instructions: "Be brief." })
        .run("hello")
        .pipe(Effect.provide(picked.layer))
      assert.strictEqual(result.output, "Hi from Ollama")
      assert.strictEqual(ollama.bodies.length, 1)
      assert.strictEqual(ollama.bodies[0].model, "llama3.2:latest")
    })
  )

  it.live("without a key and without Ollama, the scripted model", () =>
    Effect.gen(function* () {
      const url = yield* closedPort
      const picked = yield* pickModelWith(scripted, { env: {}, ollamaUrl: url })
      assert.strictEqual(picked.kind, "scripted")
      const result = yield* Agent.make().run("hi").pipe(Effect.provide(picked.layer))
      assert.strictEqual(result.output, "scripted answer")
    })
  )
})
