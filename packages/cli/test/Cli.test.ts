/**
 * `agentfx chat` as a user runs it: a child process (tsx on the sources) driven through its
 * stdin and stdout with the offline model. The answer must stream (arrive in several writes),
 * each turn prints its usage, `/save` writes the history as JSON that decodes to the
 * conversation, `/load` brings it back (the next answer proves the model saw it), and bad
 * model strings or missing keys exit 1 with a message naming the problem.
 */
import { Cli } from "@agentfx/cli"
import { Messages } from "@agentfx/core"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dirname, "..", "..", "..")
const tsx = join(root, "node_modules", ".bin", "tsx")
const bin = join(root, "packages", "cli", "src", "bin.ts")

const cleanEnv = (extra: Record<string, string> = {}) => {
  const env: Record<string, string | undefined> = { ...process.env, AGENTFX_OFFLINE_DELAY_MS: "25" }
  for (const k of [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AGENTFX_MODEL"
  ]) {
    delete env[k]
  }
  return { ...env, ...extra }
}

interface Session {
  readonly child: ChildProcess
  /** Every stdout data event, in order. */
  readonly chunks: Array<string>
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Promise<number | null>
}

/** Starts `agentfx …`; the process is killed (by its pid) when the scope closes. */
const startCommand = (args: ReadonlyArray<string>, dir: string, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Session => {
      const child = spawn(tsx, ["--conditions=@agentfx/source", bin, ...args], {
        cwd: dir,
        env: cleanEnv(env),
        stdio: ["pipe", "pipe", "pipe"]
      })
      const chunks: Array<string> = []
      let err = ""
      child.stdout!.setEncoding("utf8").on("data", (d: string) => chunks.push(d))
      child.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d))
      const exit = new Promise<number | null>((resolve) =>
        child.on("exit", (code) => resolve(code))
      )
      return { child, chunks, stdout: () => chunks.join(""), stderr: () => err, exit }
    }),
    (s) =>
      Effect.sync(() => {
        if (s.child.exitCode === null && s.child.pid !== undefined) process.kill(s.child.pid)
      })
  )

/** Starts `agentfx chat …`. */
const start = (args: ReadonlyArray<string>, dir: string, env: Record<string, string> = {}) =>
  startCommand(["chat", ...args], dir, env)

/** Waits (bounded) until stdout matches. */
const waitFor = (s: Session, pattern: RegExp, from = 0) =>
  Effect.promise(async () => {
    const deadline = Date.now() + 60_000
    while (!pattern.test(s.stdout().slice(from))) {
      if (Date.now() > deadline || s.child.exitCode !== null) {
        throw new Error(
          `timed out waiting for ${pattern}; stdout:\n${s.stdout()}\nstderr:\n${s.stderr()}`
        )
      }
      await new Promise((r) => setTimeout(r, 20))
    }
    return s.stdout().slice(from)
  })

/** Sends a line and waits for `pattern` in what follows; returns that output and its chunk count. */
const send = (s: Session, line: string, pattern: RegExp) =>
  Effect.gen(function* () {
    const from = s.stdout().length
    const firstChunk = s.chunks.length
    s.child.stdin!.write(`${line}\n`)
    const out = yield* waitFor(s, pattern, from)
    return { out, chunks: s.chunks.length - firstChunk }
  })

const usage = /usage: 1 request, 0 tool calls, \d+ input \+ \d+ output = \d+ tokens\n/

describe("agentfx chat (child process)", () => {
  it.scopedLive(
    "streams answers, prints usage, /save and /load the history",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const s = yield* start(["--model", "offline"], dir)
        yield* waitFor(s, /model: offline \(\/help for commands\)\n/)

        const first = yield* send(s, "Hello there", usage)
        const answer =
          "**Offline model** (no API key set).\n\nYou said: *Hello there*. This is the first message of our chat."
        assert.include(first.out, `${answer}\n`)
        assert.isAtLeast(first.chunks, 3, "the answer arrived in several writes")

        const saved = yield* send(s, "/save chat.json", /saved 2 messages to chat\.json\n/)
        assert.include(saved.out, "saved 2 messages")
        const file = readFileSync(join(dir, "chat.json"), "utf8")
        const history = yield* Messages.decodeJson(file)
        assert.strictEqual(history.length, 2)
        const request = history[0] as Messages.ModelRequest
        assert.strictEqual(request._tag, "ModelRequest")
        assert.deepStrictEqual(
          request.parts.map((p) => (p._tag === "UserPromptPart" ? p.content : p._tag)),
          ["Hello there"]
        )
        const response = history[1] as Messages.ModelResponse
        assert.strictEqual(response.text, answer)
        assert.strictEqual(response.modelName, "offline")
        assert.isAbove(response.usage.outputTokens, 0)

        yield* send(s, "/clear", /started a new conversation\n/)
        const forgotten = yield* send(s, "Who am I?", usage)
        assert.include(forgotten.out, "This is the first message of our chat.")

        yield* send(s, "/load chat.json", /loaded 2 messages from chat\.json\n/)
        const second = yield* send(s, "And again", usage)
        assert.include(
          second.out,
          'You said: *And again*. Before that you said "Hello there", so this is message 2 of our chat.'
        )

        const missing = yield* send(s, "/load nope.json", /error: cannot load nope\.json: .*\n/)
        assert.include(missing.out, "nope.json")
        // a failed /load keeps the conversation
        yield* send(s, "/save after.json", /saved 4 messages to after\.json\n/)
        writeFileSync(join(dir, "bad.json"), '[{"_tag":"ModelRequest","parts":"x"}]')
        const bad = yield* send(s, "/load bad.json", /error: cannot load bad\.json: .*\n/)
        assert.include(bad.out, "parts")
        yield* send(s, "/bogus", /unknown command \/bogus \(try \/help\)\n/)

        s.child.stdin!.end()
        const code = yield* Effect.promise(() => s.exit)
        assert.strictEqual(code, 0)
        assert.strictEqual(s.stderr(), "")
      }),
    150_000
  )

  it.scopedLive(
    "--load at start; unknown providers and missing keys exit 1 naming the problem",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const earlier = [
          Messages.userPrompt("I am Ada"),
          new Messages.ModelResponse({ parts: [new Messages.TextPart({ content: "Hi Ada" })] })
        ]
        writeFileSync(join(dir, "h.json"), Messages.encodeJson(earlier))
        // the failing starts run alongside
        const unknown = yield* start(["--model", "nope:x"], dir)
        const noKey = yield* start(["--model", "openai:gpt-4o"], dir)
        const s = yield* start(["--model", "offline", "--load", "h.json"], dir)
        yield* waitFor(s, /loaded 2 messages from h\.json\n/)
        const turn = yield* send(s, "Remember me?", usage)
        assert.include(
          turn.out,
          'Before that you said "I am Ada", so this is message 2 of our chat.'
        )
        s.child.stdin!.end()
        assert.strictEqual(yield* Effect.promise(() => s.exit), 0)

        assert.strictEqual(yield* Effect.promise(() => unknown.exit), 1)
        assert.include(unknown.stderr(), 'Unknown model provider "nope"')

        assert.strictEqual(yield* Effect.promise(() => noKey.exit), 1)
        assert.include(noKey.stderr(), "OPENAI_API_KEY")
      }),
    150_000
  )

  it.scopedLive(
    "a provider model streams over HTTP for the whole session (OpenAI Chat on a loopback server)",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const requests: Array<{ auth: string | undefined; body: any }> = []
        const chunk = (delta: object, finish: string | null, extra: object = {}) =>
          `data: ${JSON.stringify({
            id: "c1",
            object: "chat.completion.chunk",
            created: 1,
            model: "gpt-4o",
            choices: [{ index: 0, delta, finish_reason: finish }],
            ...extra
          })}\n\n`
        const server = createServer((req, res) => {
          let body = ""
          req.on("data", (d) => (body += d))
          req.on("end", () => {
            requests.push({ auth: req.headers.authorization, body: JSON.parse(body) })
            res.writeHead(200, { "content-type": "text/event-stream" })
            res.write(chunk({ role: "assistant", content: "Hi " }, null))
            setTimeout(() => {
              res.write(chunk({ content: "from the server." }, "stop"))
              res.write(
                `data: ${JSON.stringify({
                  id: "c1",
                  object: "chat.completion.chunk",
                  created: 1,
                  model: "gpt-4o",
                  choices: [],
                  usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 }
                })}\n\n`
              )
              res.end("data: [DONE]\n\n")
            }, 30)
          })
        })
        yield* Effect.acquireRelease(
          Effect.promise(() => new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()))),
          () => Effect.promise(() => new Promise<void>((r) => server.close(() => r())))
        )
        const port = (server.address() as AddressInfo).port
        const s = yield* start(["--model", "openai:gpt-4o"], dir, {
          OPENAI_API_KEY: "sk-test-key",
          OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1`
        })
        yield* waitFor(s, /model: openai:gpt-4o/)
        const usageLine = /usage: 1 request, 0 tool calls, 12 input \+ 4 output = 16 tokens\n/
        const first = yield* send(s, "Hello", usageLine)
        assert.include(first.out, "Hi from the server.\n")
        const second = yield* send(s, "Again", usageLine)
        assert.include(second.out, "Hi from the server.\n")
        s.child.stdin!.end()
        assert.strictEqual(yield* Effect.promise(() => s.exit), 0)
        assert.strictEqual(requests.length, 2)
        assert.strictEqual(requests[0]!.auth, "Bearer sk-test-key")
        assert.strictEqual(requests[1]!.body.stream, true)
        // the second request carries the first turn
        const roles = requests[1]!.body.messages.map((m: { role: string }) => m.role)
        assert.deepStrictEqual(roles, ["system", "user", "assistant", "user"])
        assert.strictEqual(requests[1]!.body.messages[2].content, "Hi from the server.")
        assert.notInclude(s.stdout() + s.stderr(), "sk-test-key")
      }),
    150_000
  )

  it.scopedLive(
    "Ctrl-C cancels the answer being streamed and keeps the conversation; at the prompt it exits 0",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        // slow enough that the signal lands in the middle of the answer
        const s = yield* start(["--model", "offline"], dir, { AGENTFX_OFFLINE_DELAY_MS: "100" })
        yield* waitFor(s, /model: offline/)
        const from = s.stdout().length
        s.child.stdin!.write("Tell me a story\n")
        yield* waitFor(s, /Offline model/, from)
        s.child.kill("SIGINT")
        const cut = yield* waitFor(s, /cancelled.*\nusage: .*\n/, from)
        // the turn's usage line says what the cancelled turn spent
        assert.match(
          cut,
          /cancelled \(what was said so far is kept\)\nusage: 1 request, 0 tool calls, [1-9]\d* input \+ [1-9]\d* output = [1-9]\d* tokens\n$/
        )
        assert.notInclude(cut, "This is the first message")

        yield* send(s, "/save h.json", /saved 2 messages to h\.json\n/)
        const saved = yield* Messages.decodeJson(readFileSync(join(dir, "h.json"), "utf8"))
        const response = saved[1] as Messages.ModelResponse
        assert.strictEqual(response.state, "interrupted")
        assert.include(response.text, "Offline model")
        // the chat goes on, and the model saw the cancelled turn's prompt
        const next = yield* send(s, "Go on", usage)
        assert.include(next.out, 'Before that you said "Tell me a story"')

        // between turns Ctrl-C ends the chat, although stdin stays open
        s.child.kill("SIGINT")
        assert.strictEqual(yield* Effect.promise(() => s.exit), 0)
        assert.strictEqual(s.stderr(), "")
      }),
    150_000
  )

  it.scopedLive(
    "bad arguments exit 1 with one plain message; --help is plain text in a pipe",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        writeFileSync(join(dir, "bad.json"), "{not json")
        const unknownOption = yield* start(["--bogus"], dir)
        const misspelt = yield* start(["--model", "ofline"], dir)
        const badLoad = yield* start(["--model", "offline", "--load", "bad.json"], dir)
        const help = yield* startCommand(["chat", "--help"], dir)
        for (const s of [unknownOption, misspelt, badLoad, help]) s.child.stdin!.end()

        assert.strictEqual(yield* Effect.promise(() => unknownOption.exit), 1)
        assert.include(unknownOption.stderr(), "--bogus")
        // the message once, not a dump of the error as well
        assert.strictEqual(unknownOption.stdout(), "")
        assert.notInclude(unknownOption.stderr(), "_tag")

        assert.strictEqual(yield* Effect.promise(() => misspelt.exit), 1)
        assert.include(misspelt.stderr(), 'Unknown model provider "ofline"')
        assert.include(misspelt.stderr(), 'Did you mean "offline"?')

        assert.strictEqual(yield* Effect.promise(() => badLoad.exit), 1)
        assert.include(badLoad.stderr(), "agentfx: cannot load bad.json: not JSON (")

        assert.strictEqual(yield* Effect.promise(() => help.exit), 0)
        const text = help.stdout()
        for (const option of ["--model", "-m", "--load", "--raw"]) assert.include(text, option)
        assert.include(text, "chat with a model in the terminal")
        assert.notInclude(text, "\x1b[")
      }),
    150_000
  )

  it.scopedLive(
    "--load then /save gives back a saved conversation with tool calls unchanged",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const earlier = [
          Messages.userPrompt("What time is it in Oslo?"),
          new Messages.ModelResponse({
            parts: [
              new Messages.ToolCallPart({
                toolName: "clock",
                args: { city: "Oslo" },
                toolCallId: "call_1"
              })
            ],
            modelName: "gpt-4o"
          }),
          new Messages.ModelRequest({
            parts: [
              new Messages.ToolReturnPart({
                toolName: "clock",
                toolCallId: "call_1",
                content: "12:00"
              })
            ]
          }),
          new Messages.ModelResponse({
            parts: [new Messages.TextPart({ content: "It is **12:00** in Oslo." })],
            modelName: "gpt-4o"
          })
        ]
        const original = `${JSON.stringify(Messages.encode(earlier), null, 2)}\n`
        writeFileSync(join(dir, "tools.json"), original)
        const s = yield* start(["--model", "offline", "--load", "tools.json"], dir)
        yield* waitFor(s, /loaded 4 messages from tools\.json\n/)
        yield* send(s, "/save same.json", /saved 4 messages to same\.json\n/)
        assert.strictEqual(readFileSync(join(dir, "same.json"), "utf8"), original)
        const turn = yield* send(s, "Thanks", usage)
        assert.include(turn.out, 'Before that you said "What time is it in Oslo?"')
        yield* send(s, "/save more.json", /saved 6 messages to more\.json\n/)
        const more = yield* Messages.decodeJson(readFileSync(join(dir, "more.json"), "utf8"))
        assert.deepStrictEqual(Messages.encode(more.slice(0, 4)), Messages.encode(earlier))
        s.child.stdin!.end()
        assert.strictEqual(yield* Effect.promise(() => s.exit), 0)
      }),
    150_000
  )

  it("without --model: AGENTFX_MODEL, else the first provider with a key, else offline", () => {
    assert.strictEqual(Cli.defaultModel({}), "offline")
    assert.strictEqual(Cli.defaultModel({ OPENAI_API_KEY: " " }), "offline")
    assert.strictEqual(
      Cli.defaultModel({ GOOGLE_API_KEY: "g", ANTHROPIC_API_KEY: "a" }),
      "anthropic:claude-haiku-4-5"
    )
    assert.strictEqual(
      Cli.defaultModel({ OPENAI_API_KEY: "k", AGENTFX_MODEL: " ollama:llama3.2 " }),
      "ollama:llama3.2"
    )
    assert.strictEqual(Cli.defaultModel({ OPENAI_API_KEY: "k" }), "openai:gpt-4o-mini")
  })

  it.scopedLive(
    "a script piped in at once runs turn by turn, the last line without a newline too",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "agentfx-cli-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
        )
        const s = yield* start([], dir, { AGENTFX_OFFLINE_DELAY_MS: "0" })
        s.child.stdin!.end("One\n\n   \n/nope\nTwo\n/save s.json\nThree")
        assert.strictEqual(yield* Effect.promise(() => s.exit), 0)
        const out = s.stdout()
        assert.match(out, /^model: offline \(\/help for commands\)\n/)
        const order = ["*One*", "unknown command /nope", "*Two*", "saved 4 messages", "*Three*"]
        const at = order.map((t) => out.indexOf(t))
        assert.isTrue(
          at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!)),
          out
        )
        assert.strictEqual(out.match(/usage: 1 request/g)?.length, 3)
        assert.include(out, 'Before that you said "One", "Two", so this is message 3')
      }),
    150_000
  )
})
