/**
 * End to end: the chat app's server runs in process on loopback, headless Chromium (the Debian
 * `chromium` package, driven by playwright-core) loads the page, which speaks the AI SDK UI
 * message stream protocol; two prompts: the first answer must stream into the page, the second
 * must show the weather tool call with its input and output and an answer proving the history
 * (sent back as UI messages) came back; then a booking that needs approval: Approve runs it,
 * Deny tells the model. No request of the page may fail (favicon included). A built-in web
 * search (provider-executed tool parts) and a sub-agent's streamed message (preliminary tool
 * outputs) show in the page, and the conversation holding both goes back to the server intact.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type Page } from "playwright-core"
import { researcherAnswer, scriptedChat, searchResults, serve } from "../src/lib/chatApp.js"

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

/** The chat app served with the scripted model, a page of a fresh browser, and its failed requests. */
const openChat = Effect.gen(function* () {
  // a short delay per word, so the answer really arrives in several network writes
  const url = yield* serve({ model: scriptedChat({ delay: "5 millis" }).layer })
  const b = yield* browser
  const page = yield* Effect.promise(() => b.newPage())
  page.setDefaultTimeout(10_000)
  const failed: Array<string> = []
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`)
  })
  page.on("requestfailed", (r) => failed.push(`failed ${r.url()}`))
  return { url, page, failed }
})

/** Sends a prompt from the page and waits until the `nth` answer is done; that answer. */
const send = (page: Page, prompt: string, nth: number) =>
  Effect.promise(async () => {
    await page.fill("#prompt", prompt)
    await page.click("#send")
    await page.waitForFunction(
      (i) => document.querySelectorAll(".msg.model")[i]?.getAttribute("data-done") === "true",
      nth
    )
    return page.locator(".msg.model").nth(nth)
  })

describe.skipIf(!hasChromium)("chat-app in a browser", () => {
  it.scopedLive(
    "streams text and a tool call into the page and keeps the history for the next turn",
    () =>
      Effect.gen(function* () {
        const { url, page, failed } = yield* openChat
        const streamHeaders: Array<string | undefined> = []
        page.on("response", (r) => {
          if (r.url().endsWith("/api/chat")) {
            streamHeaders.push(r.headers()["x-vercel-ai-ui-message-stream"])
          }
        })
        yield* Effect.promise(() => page.goto(url))
        assert.strictEqual(yield* Effect.promise(() => page.title()), "agentfx chat")

        const ask = (prompt: string, nth: number) =>
          Effect.flatMap(send(page, prompt, nth), (answer) =>
            Effect.promise(async () => ({
              text: (await answer.locator("span.text").allTextContents()).join(""),
              deltas: Number(await answer.getAttribute("data-deltas")),
              tools: await answer.locator(".tool").evaluateAll((els) =>
                els.map((el) => ({
                  tool: (el as HTMLElement).dataset.tool,
                  input: (el as HTMLElement).dataset.input,
                  output: (el as HTMLElement).dataset.output
                }))
              )
            }))
          )

        const first = yield* ask("Hi, I'm Ada.", 0)
        assert.strictEqual(
          first.text,
          'Hello! You said: "Hi, I\'m Ada.". This is the first message of our chat.'
        )
        assert.isAbove(first.deltas, 5, "the answer arrived as several deltas")
        assert.deepStrictEqual(first.tools, [])

        const second = yield* ask("What's the weather in Paris?", 1)
        assert.deepStrictEqual(second.tools, [
          {
            tool: "weather",
            input: '{"city":"Paris"}',
            output: '{"city":"Paris","sky":"sunny","celsius":21}'
          }
        ])
        assert.strictEqual(
          second.text,
          'It is sunny in Paris, 21 °C. Before that you said "Hi, I\'m Ada.".'
        )
        assert.isAbove(second.deltas, 5)
        const users = yield* Effect.promise(() => page.locator(".msg.user").allTextContents())
        assert.deepStrictEqual(users, ["Hi, I'm Ada.", "What's the weather in Paris?"])
        assert.strictEqual(yield* Effect.promise(() => page.locator(".msg.error").count()), 0)
        assert.deepStrictEqual(streamHeaders, ["v1", "v1"])
        assert.deepStrictEqual(failed, [])

        // a call that needs approval: the run stops, the page shows buttons, the decision resumes
        const decide = (prompt: string, nth: number, button: "approve" | "deny") =>
          Effect.promise(async () => {
            await page.fill("#prompt", prompt)
            await page.click("#send")
            const answer = page.locator(".msg.model").nth(nth)
            const tool = answer.locator(".tool[data-tool=book_table]")
            await tool.locator("button.approve").waitFor()
            const waiting = {
              text: (await answer.locator("span.text").allTextContents()).join(""),
              buttons: await tool.locator("button").allTextContents(),
              output: await tool.getAttribute("data-output")
            }
            await tool.locator(`button.${button}`).click()
            await page.waitForFunction((i) => {
              const a = document.querySelectorAll(".msg.model")[i]
              return a?.getAttribute("data-done") === "true" && a.querySelector("span.text")
            }, nth)
            return {
              waiting,
              text: (await answer.locator("span.text").allTextContents()).join(""),
              output: await tool.getAttribute("data-output"),
              buttons: await answer.locator("button").count()
            }
          })
        const approved = yield* decide("Please book a table for 2", 2, "approve")
        assert.deepStrictEqual(approved.waiting, {
          text: "",
          buttons: ["Approve", "Deny"],
          output: null
        })
        assert.strictEqual(approved.output, '"table for 2 booked at 20:00"')
        assert.strictEqual(approved.text, "Done: table for 2 booked at 20:00.")
        assert.strictEqual(approved.buttons, 0)
        const denied = yield* decide("Book a table for 9", 3, "deny")
        assert.strictEqual(denied.output, "denied")
        assert.strictEqual(denied.text, "I did not book it: The user said no.")
        assert.strictEqual(yield* Effect.promise(() => page.locator(".msg.error").count()), 0)
        assert.deepStrictEqual(streamHeaders, ["v1", "v1", "v1", "v1", "v1", "v1"])
        assert.deepStrictEqual(failed, [])
      }),
    60_000
  )

  it.scopedLive(
    "shows a built-in tool (provider-executed) and a sub-agent's message while it streams",
    () =>
      Effect.gen(function* () {
        const { url, page, failed } = yield* openChat
        yield* Effect.promise(() => page.goto(url))
        const ask = (prompt: string, nth: number) =>
          Effect.flatMap(send(page, prompt, nth), (answer) =>
            Effect.promise(async () => ({
              text: (await answer.locator("span.text").allTextContents()).join(""),
              tools: await answer
                .locator(".tool")
                .evaluateAll((els) => els.map((el) => ({ ...(el as HTMLElement).dataset }))),
              builtin: await answer.locator(".tool.builtin").count()
            }))
          )

        const search = yield* ask("Search the web for otters", 0)
        assert.deepStrictEqual(search.tools, [
          {
            tool: "web_search",
            providerExecuted: "true",
            input: '{"query":"otters"}',
            output: JSON.stringify(searchResults("otters"))
          }
        ])
        assert.strictEqual(search.builtin, 1)
        assert.strictEqual(search.text, "I searched the web for otters and found one page.")

        const research = yield* ask("Ask the researcher why otters hold hands", 1)
        const answer = researcherAnswer("why otters hold hands")
        assert.strictEqual(research.tools.length, 1)
        const [tool] = research.tools
        assert.strictEqual(tool!.tool, "ask_researcher")
        assert.strictEqual(tool!.input, '{"prompt":"why otters hold hands"}')
        // the sub-agent's message was shown while it streamed (several updates), then its result
        assert.isAtLeast(Number(tool!.preliminary), 2, "preliminary outputs shown")
        assert.strictEqual(tool!.subagent, "researcher")
        assert.isTrue(
          answer.startsWith(tool!.subagentText!) && tool!.subagentText!.length > 0,
          `streamed text ${tool!.subagentText}`
        )
        assert.strictEqual(tool!.output, JSON.stringify(answer))
        assert.strictEqual(research.text, `The researcher says: ${answer}`)

        // the conversation, built-in search and preliminary output included, decodes as history
        const next = yield* ask("Thanks", 2)
        assert.strictEqual(
          next.text,
          'You said: "Thanks". Before that you said "Search the web for otters", "Ask the researcher why otters hold hands", so this is message 3 of our chat.'
        )
        assert.strictEqual(yield* Effect.promise(() => page.locator(".msg.error").count()), 0)
        assert.deepStrictEqual(failed, [])
      }),
    60_000
  )

  it.scopedLive(
    "rejects a body that is not a useChat request with 400; the favicon is no 404",
    () =>
      Effect.gen(function* () {
        const url = yield* serve({ model: scriptedChat({}).layer })
        const response = yield* Effect.promise(() =>
          fetch(`${url}/api/chat`, { method: "POST", body: JSON.stringify({ messages: "nope" }) })
        )
        assert.strictEqual(response.status, 400)
        assert.include(
          yield* Effect.promise(() => response.text()),
          "Invalid UI messages at messages"
        )
        const icon = yield* Effect.promise(() => fetch(`${url}/favicon.ico`))
        assert.strictEqual(icon.status, 204)
      })
  )
})
