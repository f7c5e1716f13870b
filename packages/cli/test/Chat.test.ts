/**
 * The chat loop in process: Markdown styling when asked for, a failed turn printing its error
 * while the conversation keeps what the failed turn recorded, interrupts (Ctrl-C) cancelling a
 * turn or ending the chat, and `/save` / `/load` round-tripping a conversation with tool calls
 * (and refusing files that are no conversation, with the reason).
 */
import { Chat } from "@agentfx/cli"
import {
  Agent,
  AgentError,
  FunctionModel,
  Messages,
  Model as ModelModule,
  Tool
} from "@agentfx/core"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Scripted from "@agentfx/cli/Scripted"

const chat = (lines: ReadonlyArray<string>, options: Partial<Chat.RunOptions> = {}) =>
  Effect.gen(function* () {
    let out = ""
    yield* Chat.run({
      lines: Stream.fromIterable(lines),
      write: (t) => Effect.sync(() => void (out += t)),
      ...options
    })
    return out
  }).pipe(Effect.provide(NodeFileSystem.layer))

describe("Chat.run", () => {
  it.effect("styles the answer's Markdown when asked", () =>
    Effect.gen(function* () {
      const model = yield* Scripted.offline(0)
      const styled = yield* chat(["Hello"], { markdown: true }).pipe(
        Effect.provideService(ModelModule.Model, model)
      )
      assert.include(styled, "\x1b[0m\x1b[1mOffline model\x1b[0m (no API key set).")
      assert.include(styled, "You said: \x1b[0m\x1b[3mHello\x1b[0m.")
      const raw = yield* chat(["Hello"]).pipe(Effect.provideService(ModelModule.Model, model))
      assert.include(raw, "**Offline model** (no API key set).\n\nYou said: *Hello*.")
      assert.notInclude(raw, "\x1b[")
      assert.match(raw, /usage: 1 request, 0 tool calls, \d+ input \+ \d+ output = \d+ tokens\n$/)
      // what the renderer holds back at the end is written, and the usage gets a line of its own
      const open = yield* FunctionModel.make(undefined, {
        stream: () => Stream.make("Done.\n", "#")
      })
      const held = yield* chat(["Go"], { markdown: true }).pipe(
        Effect.provideService(ModelModule.Model, open)
      )
      assert.match(held, /^Done\.\n#\nusage: 1 request/)
    })
  )

  it.scoped("a failed turn prints the error and keeps what it recorded", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "agentfx-chat-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const failing = yield* FunctionModel.make(undefined, {
        stream: () => Stream.fail(new AgentError.ModelHTTPError({ status: 503, modelName: "fn" }))
      })
      const file = join(dir, "h.json")
      const out = yield* chat(["Are you there?", `/save ${file}`, "/exit", "never read"]).pipe(
        Effect.provideService(ModelModule.Model, failing)
      )
      assert.include(
        out,
        "error: ModelHTTPError: HTTP 503 (model: fn)\n" +
          "usage: 0 requests, 0 tool calls, 0 input + 0 output = 0 tokens\n"
      )
      assert.include(out, "saved 2 messages")
      assert.notInclude(out, "never read")
      const saved = yield* Messages.decodeJson(readFileSync(file, "utf8"))
      assert.deepStrictEqual(
        saved.map((m) => m._tag),
        ["ModelRequest", "ModelResponse"]
      )
      const prompt = (saved[0] as Messages.ModelRequest).parts[0] as Messages.UserPromptPart
      assert.strictEqual(prompt.content, "Are you there?")
      // the response the failure cut short, as core records it
      assert.strictEqual((saved[1] as Messages.ModelResponse).state, "interrupted")
    })
  )

  it.effect("a turn that fails after a tool call prints what it spent", () =>
    Effect.gen(function* () {
      // the first request asks for a tool; the second fails
      const model = yield* FunctionModel.make(undefined, {
        stream: (messages) =>
          messages.length === 1
            ? Stream.make({ 0: { name: "clock", jsonArgs: "{}", toolCallId: "c1" } })
            : Stream.fail(new AgentError.ModelHTTPError({ status: 500, modelName: "fn" }))
      })
      const clock = Tool.make("clock", {
        parameters: Schema.Struct({}),
        handler: () => Effect.succeed("noon")
      })
      const out = yield* chat(["What time is it?"], {
        agent: Agent.make({ tools: [clock] })
      }).pipe(Effect.provideService(ModelModule.Model, model))
      assert.include(out, "[clock({})]\n")
      assert.match(
        out,
        /error: ModelHTTPError: HTTP 500 \(model: fn\)\nusage: 1 request, 1 tool call, [1-9]\d* input \+ [1-9]\d* output = [1-9]\d* tokens\n$/
      )
    })
  )

  it.scoped(
    "an interrupt cancels the turn in progress, keeps what it said; one at the prompt ends the chat",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-chat-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        // the first answer streams a few words, then hangs until cancelled; later ones finish
        const model = yield* FunctionModel.make(undefined, {
          stream: (messages) =>
            messages.length === 1
              ? Stream.concat(Stream.make("Let me ", "think "), Stream.never)
              : Stream.make(`I have seen ${messages.length} messages.`)
        })
        const lines = yield* Queue.unbounded<string>()
        const interrupts = yield* Queue.unbounded<void>()
        let out = ""
        const waiting: Array<[RegExp, Deferred.Deferred<void>]> = []
        const written = (pattern: RegExp) =>
          Effect.gen(function* () {
            const seen = yield* Deferred.make<void>()
            waiting.push([pattern, seen])
            if (pattern.test(out)) yield* Deferred.succeed(seen, undefined)
            yield* Deferred.await(seen)
          })
        const chat = yield* Chat.run({
          lines: Stream.fromQueue(lines),
          interrupts: Stream.fromQueue(interrupts),
          write: (t) =>
            Effect.gen(function* () {
              out += t
              for (const [pattern, seen] of waiting) {
                if (pattern.test(out)) yield* Deferred.succeed(seen, undefined)
              }
            })
        }).pipe(
          Effect.provideService(ModelModule.Model, model),
          Effect.provide(NodeFileSystem.layer),
          Effect.fork
        )
        const file = join(dir, "h.json")
        yield* Queue.offer(lines, "Think hard")
        yield* written(/Let me think /)
        yield* Queue.offer(interrupts, undefined)
        yield* written(/cancelled/)
        yield* Queue.offerAll(lines, [`/save ${file}`, "Go on"])
        yield* written(/I have seen 3 messages\.\nusage: 1 request/)
        // between turns: the chat ends although its input does not
        yield* Queue.offer(interrupts, undefined)
        yield* Fiber.join(chat)

        // the cancelled turn's request counts, with the tokens that arrived
        assert.match(
          out,
          /Let me think \ncancelled \(what was said so far is kept\)\nusage: 1 request, 0 tool calls, [1-9]\d* input \+ [1-9]\d* output = [1-9]\d* tokens\n/
        )
        assert.notInclude(out, "error:")
        const saved = yield* Messages.decodeJson(readFileSync(file, "utf8"))
        assert.deepStrictEqual(
          saved.map((m) => m._tag),
          ["ModelRequest", "ModelResponse"]
        )
        const cut = saved[1] as Messages.ModelResponse
        assert.strictEqual(cut.text, "Let me think ")
        assert.strictEqual(cut.state, "interrupted")
      })
  )

  it.scoped("/save and /load round-trip a conversation with tool calls", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "agentfx-chat-"))
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const clock = Tool.make("clock", {
        description: "The time in a city",
        parameters: Schema.Struct({ city: Schema.String }),
        handler: ({ city }) => Effect.succeed(`12:00 in ${city}`)
      })
      const agent = Agent.make({ tools: [clock] })
      // calls the tool on every prompt, then answers from its return
      const model = yield* Scripted.model("clock", (messages) => {
        const [time] = Scripted.toolReturns(messages, "clock")
        return time === undefined
          ? FunctionModel.toolCalls([{ toolName: "clock", args: { city: "Oslo" } }])
          : `It is **${time.contentText}**.`
      })
      const first = join(dir, "first.json")
      const again = join(dir, "again.json")
      const out = yield* chat(["What time is it?", `/save ${first}`], { agent }).pipe(
        Effect.provideService(ModelModule.Model, model)
      )
      assert.include(
        out,
        '[clock({"city":"Oslo"})]\nIt is **12:00 in Oslo**.\nusage: 2 requests, 1 tool call, '
      )
      assert.include(out, "saved 4 messages")
      const resumed = yield* chat([`/load ${first}`, `/save ${again}`, "And now?"], {
        agent
      }).pipe(Effect.provideService(ModelModule.Model, model))
      assert.include(resumed, `loaded 4 messages from ${first}\nsaved 4 messages to ${again}\n`)
      assert.strictEqual(readFileSync(again, "utf8"), readFileSync(first, "utf8"))
      const history = yield* Messages.decodeJson(readFileSync(first, "utf8"))
      assert.deepStrictEqual(
        history.flatMap((m) => m.parts.map((p) => p._tag)),
        ["UserPromptPart", "ToolCallPart", "ToolReturnPart", "TextPart"]
      )
      const call = (history[1] as Messages.ModelResponse).parts[0] as Messages.ToolCallPart
      const ret = (history[2] as Messages.ModelRequest).parts[0] as Messages.ToolReturnPart
      assert.strictEqual(ret.toolCallId, call.toolCallId)
      assert.deepStrictEqual(call.argsAsObject(), { city: "Oslo" })
    })
  )

  it.scoped(
    "/load refuses a missing file, bad JSON or a wrong shape with the reason, and keeps the chat",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-chat-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const model = yield* Scripted.offline(0)
        const at = (name: string) => join(dir, name)
        writeFileSync(at("bad.json"), "{not json")
        writeFileSync(at("object.json"), '{"messages":[]}')
        writeFileSync(
          at("part.json"),
          '[{"_tag":"ModelRequest","parts":[{"_tag":"UserPromptPart","content":1}]}]'
        )
        const out = yield* chat([
          "Hello",
          `/load ${at("missing.json")}`,
          `/load ${at("bad.json")}`,
          `/load ${at("object.json")}`,
          `/load ${at("part.json")}`,
          `/save ${at("kept.json")}`,
          "Again"
        ]).pipe(Effect.provideService(ModelModule.Model, model))
        assert.include(out, `error: cannot load ${at("missing.json")}: no such file\n`)
        assert.include(out, `error: cannot load ${at("bad.json")}: not JSON (`)
        assert.include(out, `error: cannot load ${at("object.json")}: not a saved conversation: `)
        assert.include(out, `error: cannot load ${at("part.json")}: not a saved conversation: `)
        assert.include(out, `saved 2 messages to ${at("kept.json")}`)
        assert.include(out, 'Before that you said "Hello", so this is message 2 of our chat.')
      })
  )
})
