/**
 * `StreamedResponse.push` (the providers' streamed pipeline read without a `Stream`) and `run`
 * with `onEvent` over it: the same events, final response, typed errors and kept messages as
 * the `events` stream and `runStream` — over loopback replays of recorded traffic (OpenAI Chat,
 * Responses, Anthropic, Gemini, Bedrock ConverseStream) and over the faults of every family
 * (broken stream, malformed events, 500, in-stream error, idle timeout, interruption).
 */
import {
  Agent,
  AgentError,
  CaptureRunMessages,
  type Messages,
  Model,
  Messages as Msg
} from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as ServerHttp from "node:http"
import * as Anthropic from "../src/Anthropic.js"
import * as AnthropicClient from "../src/AnthropicClient.js"
import * as Bedrock from "../src/Bedrock.js"
import * as BedrockClient from "../src/BedrockClient.js"
import * as Google from "../src/Google.js"
import * as GoogleClient from "../src/GoogleClient.js"
import * as OpenAiChat from "../src/OpenAiChat.js"
import * as OpenAiClient from "../src/OpenAiClient.js"
import * as OpenAiResponses from "../src/OpenAiResponses.js"
import { type Family, families } from "./reliability/families.js"
import {
  type ConformanceCase,
  type Interaction,
  listCases,
  loopbackServer,
  replayServer,
  sseHead,
  tick,
  untilSleeping
} from "./support/replay.js"

/**
 * Times of day, generated ids and each run's own conversation id aside, two reads of the same
 * bytes must give equal values.
 */
const normalize = (u: unknown): unknown =>
  JSON.parse(
    JSON.stringify(u, (k, v) =>
      k === "timestamp" || k === "conversationId"
        ? 0
        : typeof v === "string" && generatedId.test(v)
          ? "generated"
          : v
    )
  )
/** A tool call id made up by a decoder (Gemini sends none). */
const generatedId = /^gemini_[0-9a-z]+_\d+$/

const causeOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isSuccess(exit) ? undefined : normalize(Cause.squash(exit.cause))

// ---------------------------------------------------------------------------
// Recorded traffic
// ---------------------------------------------------------------------------

const credentials: BedrockClient.Credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: Redacted.make("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
}
const key = Redacted.make("sk-test-key")

/** The model an interaction of `folder` was recorded against, pointed at `baseUrl`; else undefined. */
const recordedModel = (
  folder: string,
  it: Interaction,
  baseUrl: string
): Layer.Layer<Model.Model> | undefined => {
  const path = it.request.path
  const body = (it.request.body ?? {}) as Record<string, any>
  const http = Layer.provide(NodeHttpClient.layerUndici)
  switch (folder) {
    case "openai-chat": {
      const m = /^(.*)\/chat\/completions(\?.*)?$/.exec(path)
      if (m === null || typeof body.model !== "string") return undefined
      const query = m[2] === undefined ? undefined : Object.fromEntries(new URLSearchParams(m[2]))
      return OpenAiChat.model(body.model).pipe(
        Layer.provide(
          OpenAiClient.layer({
            baseUrl: `${baseUrl}${m[1]}`,
            apiKey: key,
            retry: false,
            ...(query ? { queryParams: query } : {})
          })
        ),
        http
      )
    }
    case "openai-responses":
      if (path !== "/v1/responses" || typeof body.model !== "string") return undefined
      return OpenAiResponses.model(body.model).pipe(
        Layer.provide(OpenAiClient.layer({ baseUrl: `${baseUrl}/v1`, apiKey: key, retry: false })),
        http
      )
    case "anthropic":
      if (path !== AnthropicClient.messagesPath || typeof body.model !== "string") return undefined
      return Anthropic.model(body.model).pipe(
        Layer.provide(AnthropicClient.layer({ baseUrl, apiKey: key, retry: false })),
        http
      )
    case "google": {
      const m = /^\/v1beta\/models\/([^:]+):streamGenerateContent\?alt=sse$/.exec(path)
      if (m === null) return undefined
      return Google.model(decodeURIComponent(m[1]!)).pipe(
        Layer.provide(GoogleClient.layer({ apiKey: key, baseUrl, retry: false })),
        http
      )
    }
    case "bedrock": {
      const m = /^\/model\/([^/]+)\/converse-stream$/.exec(path)
      if (m === null) return undefined
      return Bedrock.model(decodeURIComponent(m[1]!)).pipe(
        Layer.provide(
          BedrockClient.layer({ region: "us-east-1", baseUrl, credentials, retry: false })
        ),
        http
      )
    }
  }
  return undefined
}

const folders = ["openai-chat", "openai-responses", "anthropic", "google", "bedrock"] as const

/** Streamed 200 answers of a case (SSE, or Bedrock's binary event stream). */
const streamedAnswers = (c: ConformanceCase): ReadonlyArray<Interaction> =>
  c.interactions.filter(
    (i) =>
      i.response.status === 200 &&
      ((i.response.sse !== null && i.response.sse !== undefined) ||
        (i.response.base64 !== null &&
          i.response.base64 !== undefined &&
          (i.response.contentType ?? "").includes("eventstream")))
  )

/** Reads one replayed answer through `events` and through `push`: both exits and event lists. */
const readBothWays = (folder: string, c: ConformanceCase, it: Interaction, seed: number) =>
  Effect.gen(function* () {
    const read = (usePush: boolean) =>
      Effect.gen(function* () {
        const server = yield* replayServer({ ...c, interactions: [it] }, { rechunkSeed: seed })
        const layer = recordedModel(folder, it, server.baseUrl)!
        const events: Array<Messages.ModelResponseStreamEvent> = []
        let pushes = 0
        const exit = yield* Effect.gen(function* () {
          const model = yield* Model.Model
          const streamed = yield* model.requestStream(
            [Msg.userPrompt("hi")],
            {},
            Model.ModelRequestParameters.empty
          )
          if (!usePush) {
            events.push(...Chunk.toReadonlyArray(yield* Stream.runCollect(streamed.events)))
            return yield* streamed.response
          }
          assert.isDefined(streamed.push, "every streaming provider offers push")
          return yield* streamed.push!((read) => {
            pushes++
            events.push(...read)
          })
        }).pipe(Effect.scoped, Effect.provide(layer), Effect.exit)
        return { exit, events, pushes }
      }).pipe(Effect.scoped)
    return { viaEvents: yield* read(false), viaPush: yield* read(true) }
  })

describe("StreamedResponse.push over recorded traffic: the events stream's events and response", () => {
  for (const folder of folders) {
    it.live(folder, () =>
      Effect.gen(function* () {
        let compared = 0
        let completed = 0
        let seed = 1
        for (const c of listCases(folder)) {
          if (!c.stream) continue
          for (const interaction of streamedAnswers(c)) {
            if (recordedModel(folder, interaction, "http://127.0.0.1:1") === undefined) continue
            const { viaEvents, viaPush } = yield* readBothWays(folder, c, interaction, seed++)
            const where = `${c.id} ${interaction.request.path}`
            assert.deepStrictEqual(normalize(viaPush.events), normalize(viaEvents.events), where)
            assert.deepStrictEqual(causeOf(viaPush.exit), causeOf(viaEvents.exit), where)
            compared++
            if (Exit.isSuccess(viaPush.exit)) {
              completed++
              assert.isTrue(Exit.isSuccess(viaEvents.exit), where)
              // The response `push` returns is the one its last event carries, and `response`'s.
              const last = viaPush.events[viaPush.events.length - 1]!
              assert.strictEqual(last._tag, "ResponseCompleteEvent", where)
              if (last._tag === "ResponseCompleteEvent")
                assert.strictEqual(viaPush.exit.value, last.response, where)
              assert.deepStrictEqual(
                normalize(viaPush.exit.value),
                normalize((viaEvents.exit as Exit.Success<unknown, unknown>).value),
                where
              )
              assert.isAbove(viaPush.pushes, 0)
            }
          }
        }
        // Most recordings decode to a complete response (the rest fail alike, e.g. an
        // interaction cut short on purpose).
        assert.isAtLeast(compared, 8, `${folder}: interactions compared`)
        assert.isAtLeast(completed, compared / 2, `${folder}: complete responses`)
      })
    )
  }
})

describe("run with onEvent over recorded traffic: runStream's events, result and messages", () => {
  for (const folder of folders) {
    it.live(folder, () =>
      Effect.gen(function* () {
        let runs = 0
        let succeeded = 0
        for (const c of listCases(folder)) {
          const answers = streamedAnswers(c)
          if (!c.stream || answers.length === 0) continue
          if (recordedModel(folder, answers[0]!, "http://127.0.0.1:1") === undefined) continue
          const agent = Agent.make({ name: "replay" })
          const runOnce = (pushed: boolean) =>
            Effect.gen(function* () {
              const server = yield* replayServer({ ...c, interactions: answers })
              const layer = recordedModel(folder, answers[0]!, server.baseUrl)!
              const events: Array<unknown> = []
              const options = { runId: "r" }
              const run = pushed
                ? agent.run("hi", { ...options, onEvent: (e) => events.push(e) })
                : Stream.runForEach(agent.runStream("hi", options), (e) =>
                    Effect.sync(() => events.push(e))
                  )
              const captured = yield* CaptureRunMessages.capture(run.pipe(Effect.provide(layer)))
              return { ...captured, events }
            }).pipe(Effect.scoped)
          const streamed = yield* runOnce(false)
          const pushed = yield* runOnce(true)
          assert.deepStrictEqual(normalize(pushed.events), normalize(streamed.events), c.id)
          assert.deepStrictEqual(normalize(pushed.messages), normalize(streamed.messages), c.id)
          assert.deepStrictEqual(causeOf(pushed.exit), causeOf(streamed.exit), c.id)
          runs++
          if (Exit.isSuccess(pushed.exit)) {
            succeeded++
            const last = pushed.events[pushed.events.length - 1] as { readonly _tag: string }
            assert.strictEqual(last._tag, "AgentRunResultEvent", c.id)
          }
        }
        assert.isAtLeast(runs, 5, `${folder}: runs compared`)
        assert.isAtLeast(succeeded, 1, `${folder}: runs that succeeded`)
      })
    )
  }
})

// ---------------------------------------------------------------------------
// Faults, for every provider family
// ---------------------------------------------------------------------------

const agent = Agent.make({})

/** `run` with `onEvent` and `runStream` over `layer`: exits, captured messages, events. */
const runBoth = (layer: (server: string) => Layer.Layer<Model.Model>, handler: Handler) =>
  Effect.gen(function* () {
    const once = (pushed: boolean) =>
      Effect.gen(function* () {
        const server = yield* loopbackServer(handler)
        const events: Array<unknown> = []
        const run = pushed
          ? agent.run("hi", { runId: "r", onEvent: (e) => events.push(e) })
          : Stream.runForEach(agent.runStream("hi", { runId: "r" }), (e) =>
              Effect.sync(() => events.push(e))
            )
        const captured = yield* CaptureRunMessages.capture(
          run.pipe(Effect.provide(layer(server.baseUrl)))
        )
        return { ...captured, events }
      }).pipe(Effect.scoped)
    return { streamed: yield* once(false), pushed: yield* once(true) }
  })

type Handler = (req: unknown, res: ServerHttp.ServerResponse, index: number) => void

/** Both runs failed with the same typed error, kept the same messages, saw the same events. */
const assertSameFailure = (r: Effect.Effect.Success<ReturnType<typeof runBoth>>) => {
  const { pushed, streamed } = r
  assert.isTrue(Exit.isFailure(pushed.exit))
  if (Exit.isSuccess(pushed.exit)) return undefined
  const failure = Cause.failureOption(pushed.exit.cause)
  assert.strictEqual(failure._tag, "Some", "a typed failure")
  assert.deepStrictEqual(causeOf(pushed.exit), causeOf(streamed.exit))
  assert.deepStrictEqual(normalize(pushed.messages), normalize(streamed.messages))
  assert.deepStrictEqual(normalize(pushed.events), normalize(streamed.events))
  // The prompt is kept.
  assert.strictEqual(pushed.messages[0]?._tag, "ModelRequest")
  return failure._tag === "Some" ? (failure.value as any) : undefined
}

for (const family of families) {
  const F: Family = family
  describe(`run with onEvent, faults: ${F.name}`, () => {
    it.live("a complete stream: the same events and result as runStream", () =>
      Effect.gen(function* () {
        const r = yield* runBoth(F.layer, (_req, res) => {
          sseHead(res)
          res.end(`${F.streamStart}${F.delta("Hel")}${F.delta("lo")}${F.streamEnd}`)
        })
        assert.isTrue(Exit.isSuccess(r.pushed.exit))
        if (Exit.isSuccess(r.pushed.exit)) {
          const result = r.pushed.exit.value as unknown as Agent.AgentRunResult<string>
          assert.strictEqual(result.output, "Hello")
        }
        assert.deepStrictEqual(normalize(r.pushed.events), normalize(r.streamed.events))
        assert.deepStrictEqual(normalize(r.pushed.messages), normalize(r.streamed.messages))
      })
    )

    it.live("a stream broken mid-way: the same ModelAPIError, the partial kept", () =>
      Effect.gen(function* () {
        const r = yield* runBoth(F.layer, (_req, res) => {
          sseHead(res)
          res.write(`${F.streamStart}${F.delta("Hel")}`, () => setTimeout(() => res.destroy(), 20))
        })
        const error = assertSameFailure(r)
        assert.strictEqual(error._tag, "ModelAPIError")
        assert.include(error.reason, "Stream broke")
        assert.strictEqual(error.partialResponse?.text, "Hel")
        const last = r.pushed.messages[r.pushed.messages.length - 1]!
        assert.isTrue(last._tag === "ModelResponse" && last.state === "interrupted")
      })
    )

    it.live("malformed events past malformedEventLimit: the same UnexpectedModelBehavior", () =>
      Effect.gen(function* () {
        const r = yield* runBoth(
          (url) => F.layer(url, { settings: { malformedEventLimit: 0 } }),
          (_req, res) => {
            sseHead(res)
            res.end(`${F.streamStart}${F.delta("Hel")}data: {not json\n\n${F.streamEnd}`)
          }
        )
        const error = assertSameFailure(r)
        assert.strictEqual(error._tag, "UnexpectedModelBehavior")
        assert.include(error.reason, "malformed stream events")
        assert.strictEqual(error.partialResponse?.text, "Hel")
      })
    )

    it.live("a 500: the same ModelHTTPError", () =>
      Effect.gen(function* () {
        const r = yield* runBoth(F.layer, (_req, res) => {
          res.writeHead(500, { "content-type": "application/json" })
          res.end(JSON.stringify({ error: { message: "boom" } }))
        })
        const error = assertSameFailure(r)
        assert.strictEqual(error._tag, "ModelHTTPError")
        assert.strictEqual(error.status, 500)
      })
    )

    it.live("an error event in the stream: the same typed error", () =>
      Effect.gen(function* () {
        const r = yield* runBoth(F.layer, (_req, res) => {
          sseHead(res)
          res.end(`${F.streamStart}${F.delta("Hel")}${F.errorEvent}`)
        })
        const error = assertSameFailure(r)
        assert.instanceOf(error, Error)
        assert.isTrue(
          error instanceof AgentError.ModelAPIError ||
            error instanceof AgentError.ModelHTTPError ||
            error instanceof AgentError.UnexpectedModelBehavior
        )
      })
    )

    it.scoped("a stalled stream: the idle timeout fails run with onEvent as runStream", () =>
      Effect.gen(function* () {
        const hold: Handler = (_req, res) => {
          sseHead(res)
          res.write(F.streamStart + F.delta("Hel"))
        }
        const once = (pushed: boolean) =>
          Effect.gen(function* () {
            const server = yield* loopbackServer(hold)
            const layer = F.layer(server.baseUrl, { settings: { idleTimeout: "5 seconds" } })
            const run = pushed
              ? agent.run("hi", { runId: "r", onEvent: () => {} })
              : Stream.runDrain(agent.runStream("hi", { runId: "r" }))
            const fiber = yield* Effect.fork(
              CaptureRunMessages.capture(run.pipe(Effect.provide(layer)))
            )
            yield* server.waitRequests(1)
            yield* untilSleeping
            yield* TestClock.adjust("4 seconds")
            for (let i = 0; i < 20; i++) yield* tick
            assert.isNull(fiber.unsafePoll(), "not before the idle timeout")
            yield* TestClock.adjust("2 seconds")
            const captured = yield* Fiber.join(fiber)
            yield* server.waitClosed(1)
            return captured
          }).pipe(Effect.scoped)
        const streamed = yield* once(false)
        const pushed = yield* once(true)
        assert.deepStrictEqual(causeOf(pushed.exit), causeOf(streamed.exit))
        assert.deepStrictEqual(normalize(pushed.messages), normalize(streamed.messages))
        const error = Exit.isFailure(pushed.exit) ? Cause.squash(pushed.exit.cause) : undefined
        assert.instanceOf(error, AgentError.ModelAPIError)
        if (error instanceof AgentError.ModelAPIError) {
          assert.strictEqual(error.timeoutKind, "idle")
          assert.strictEqual(error.partialResponse?.text, "Hel")
        }
      })
    )

    it.live("interrupted mid-stream: the request is aborted, the partial response kept", () =>
      Effect.gen(function* () {
        const server = yield* loopbackServer((_req, res) => {
          sseHead(res)
          res.write(F.streamStart + F.delta("Hel"))
        })
        const seen = yield* Deferred.make<void>()
        const { exit, messages } = yield* CaptureRunMessages.capture(
          Effect.gen(function* () {
            const fiber = yield* Effect.fork(
              agent
                .run("hi", { onEvent: () => Deferred.unsafeDone(seen, Exit.void) })
                .pipe(Effect.provide(F.layer(server.baseUrl)))
            )
            yield* Deferred.await(seen)
            return yield* Fiber.interrupt(fiber)
          })
        )
        assert.isTrue(Exit.isSuccess(exit) && Exit.isInterrupted(exit.value))
        yield* server.waitClosed(1)
        const last = messages[messages.length - 1]!
        assert.strictEqual(last._tag, "ModelResponse")
        if (last._tag === "ModelResponse") {
          assert.strictEqual(last.state, "interrupted")
          assert.strictEqual(last.text, "Hel")
        }
      }).pipe(Effect.scoped)
    )
  })
}
