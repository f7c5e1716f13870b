/**
 * End to end: the chat app's server runs in process on loopback, headless Chromium (the Debian
 * `chromium` package, driven by playwright-core) loads the page, sends two prompts, and the
 * streamed answers must appear in the page, the second one proving the history came back.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { scriptedChat, serve } from "../src/lib/chatApp.js"

const executablePath = "/usr/bin/chromium"
const hasChromium = existsSync(executablePath)
if (!hasChromium) {
  console.warn(
    `chat-app e2e skipped: ${executablePath} not found (CI installs the Debian "chromium" package)`
  )
}

/** A headless Chromium with a fresh profile, closed (and its profile removed) with the scope. */
const browser = Effect.acquireRelease(
  Effect.promise(async () => {
    const profile = mkdtempSync(join(tmpdir(), "agentfx-chromium-"))
    // playwright passes the fresh profile as --user-data-dir
    const b = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      timeout: 20_000,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic"
      ]
    })
    return { b, profile }
  }),
  ({ b, profile }) =>
    Effect.promise(async () => {
      await b.close()
      rmSync(profile, { recursive: true, force: true })
    })
).pipe(Effect.map(({ b }) => b))

describe.skipIf(!hasChromium)("chat-app in a browser", () => {
  it.scopedLive(
    "streams the answer into the page and keeps the history for the next turn",
    () =>
      Effect.gen(function* () {
        // a short delay per word, so the answer really arrives in several network writes
        const url = yield* serve({ model: scriptedChat({ delay: "5 millis" }).layer })
        const b = yield* browser
        const page = yield* Effect.promise(() => b.newPage())
        page.setDefaultTimeout(10_000)
        yield* Effect.promise(() => page.goto(url))
        assert.strictEqual(yield* Effect.promise(() => page.title()), "agentfx chat")

        const ask = (prompt: string, nth: number) =>
          Effect.promise(async () => {
            await page.fill("#prompt", prompt)
            await page.click("#send")
            const answer = page.locator(".msg.model").nth(nth)
            await page.waitForFunction(
              (i) =>
                document.querySelectorAll(".msg.model")[i]?.getAttribute("data-done") === "true",
              nth
            )
            return {
              text: (await answer.textContent()) ?? "",
              deltas: Number(await answer.getAttribute("data-deltas"))
            }
          })

        const first = yield* ask("Hi, I'm Ada.", 0)
        assert.strictEqual(
          first.text,
          'Hello! You said: "Hi, I\'m Ada.". This is the first message of our chat.'
        )
        assert.isAbove(first.deltas, 5, "the answer arrived as several deltas")

        const second = yield* ask("What did I just tell you?", 1)
        assert.strictEqual(
          second.text,
          'You said: "What did I just tell you?". Before that you said "Hi, I\'m Ada.", so this is message 2 of our chat.'
        )
        const users = yield* Effect.promise(() => page.locator(".msg.user").allTextContents())
        assert.deepStrictEqual(users, ["Hi, I'm Ada.", "What did I just tell you?"])
        assert.strictEqual(yield* Effect.promise(() => page.locator(".msg.error").count()), 0)
      }),
    60_000
  )

  it.scopedLive("rejects a request without a prompt with 400", () =>
    Effect.gen(function* () {
      const url = yield* serve({ model: scriptedChat({}).layer })
      const response = yield* Effect.promise(() =>
        fetch(`${url}/chat`, { method: "POST", body: JSON.stringify({ history: null }) })
      )
      assert.strictEqual(response.status, 400)
    })
  )
})
