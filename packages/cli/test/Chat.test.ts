/**
 * The chat loop in process: Markdown styling when asked for, and a failed turn printing its
 * error while the conversation keeps what the failed turn recorded.
 */
import { Chat } from "@agentfx/cli"
import { AgentError, FunctionModel, Messages, Model as ModelModule } from "@agentfx/core"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
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
      assert.include(out, "error: ModelHTTPError: HTTP 503 (model: fn)\n")
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
})
