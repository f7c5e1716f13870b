import { Agent, Telemetry, Tool } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import { loopbackServer } from "./support/replay.js"
import { recordingTracer } from "./support/tracer.js"

const KEY = "sk-proj-SECRETSECRET0123456789abcdefXYZW"

/** Everything a span exporter could see: names, attributes, and the failure of each span. */
const everything = (spans: ReadonlyArray<Tracer.Span>): string =>
  spans
    .map((s) => {
      const exit = s.status._tag === "Ended" ? s.status.exit : undefined
      const failure =
        exit !== undefined && Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"
      return `${s.name} ${JSON.stringify([...s.attributes])} ${failure}`
    })
    .join("\n")

const assertNoSecret = (text: string) => {
  assert.notInclude(text, KEY)
  assert.notInclude(text, KEY.slice(-12))
  assert.notInclude(text.toLowerCase(), "bearer")
  assert.notInclude(text.toLowerCase(), "authorization")
}

const echo = Tool.make("echo", {
  description: "Echoes a word.",
  parameters: Schema.Struct({ word: Schema.String }),
  handler: ({ word }) => Effect.succeed(word)
})

const modelLayer = (baseUrl: string) =>
  OpenAiChat.model("gpt-4o").pipe(
    Layer.provide(
      OpenAiClient.layer({
        baseUrl,
        apiKey: Redacted.make(KEY),
        headers: { "x-team": "a" },
        retry: false
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )

describe("secrets never reach a span (real provider over loopback)", () => {
  it.scopedLive("a successful run with content recorded: no key, no Authorization header", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((req, res, index) => {
        // The server sees the key, as a real one would.
        assert.strictEqual(req.headers.authorization, `Bearer ${KEY}`)
        res.writeHead(200, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            id: `chatcmpl-${index}`,
            model: "gpt-4o-2024-08-06",
            choices: [
              index === 0
                ? {
                    index: 0,
                    finish_reason: "tool_calls",
                    message: {
                      role: "assistant",
                      content: null,
                      tool_calls: [
                        {
                          id: "call_1",
                          type: "function",
                          function: { name: "echo", arguments: '{"word":"hi"}' }
                        }
                      ]
                    }
                  }
                : { index: 0, finish_reason: "stop", message: { role: "assistant", content: "hi" } }
            ],
            usage: { prompt_tokens: 10, completion_tokens: 2 }
          })
        )
      })
      const { spans, tracer } = yield* recordingTracer
      const agent = Agent.make({ name: "secrets", tools: [echo] })
      const result = yield* agent
        .run("say hi")
        .pipe(
          Telemetry.withTelemetry({ includeContent: true, metrics: true }),
          Effect.provide(modelLayer(server.baseUrl)),
          Effect.withTracer(tracer)
        )
      assert.strictEqual(result.output, "hi")
      assert.deepStrictEqual(
        spans.map((s) => s.name),
        ["invoke_agent secrets", "chat gpt-4o", "execute_tool echo", "chat gpt-4o"]
      )
      // Content is there (so the check below is meaningful)…
      const run = spans[0]!
      assert.include(String(run.attributes.get("gen_ai.input.messages")), "say hi")
      assert.strictEqual(spans[1]!.attributes.get("url.path"), "/chat/completions")
      // …and no secret is.
      assertNoSecret(everything(spans))
    })
  )

  it.scopedLive("a 401 whose body echoes the key: the failed spans carry it redacted", () =>
    Effect.gen(function* () {
      const server = yield* loopbackServer((_req, res) => {
        res.writeHead(401, { "content-type": "application/json" })
        res.end(
          JSON.stringify({
            error: { message: `Incorrect API key provided: ${KEY}. Bearer ${KEY}` }
          })
        )
      })
      const { spans, tracer } = yield* recordingTracer
      const exit = yield* Agent.make({ name: "denied" })
        .run("hi")
        .pipe(
          Telemetry.withTelemetry({ includeContent: true }),
          Effect.provide(modelLayer(server.baseUrl)),
          Effect.withTracer(tracer),
          Effect.exit
        )
      assert.isTrue(Exit.isFailure(exit))
      const text = everything(spans)
      assert.include(text, "401")
      assert.include(text, "[REDACTED]")
      assertNoSecret(text)
    })
  )
})
