/**
 * stream-markdown — streamed text: print the answer as it arrives.
 *
 * `agent.runStream(prompt)` is a `Stream` of every event of the run; `Agent.streamText(…,
 * { delta: true })` keeps only the new text. Each delta is written to stdout as soon as it
 * arrives (a terminal markdown renderer could sit here instead).
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/stream-markdown.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples stream-markdown
 */
import { Agent } from "@agentfx/core"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

export const agent = Agent.make({ name: "markdown", instructions: "Answer in markdown." })

const answer = `# Effect in one minute

An \`Effect<A, E, R>\` is a **description** of a program that:

- succeeds with an \`A\`,
- may fail with a typed error \`E\`,
- needs the services \`R\`, provided by *Layers*.

\`\`\`ts
const program = Effect.succeed(42).pipe(Effect.map((n) => n + 1))
\`\`\`

Nothing runs until you run it: that is what makes retries, timeouts and tests easy.
`

const scripted = Scripted.make("stream-markdown", () => answer, { delay: "8 millis" })

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}\n`)
  const started = Date.now()
  let deltas = 0
  let firstAt = 0
  const events = agent.runStream("Explain what an Effect is, with a code example.")
  yield* Agent.streamText(events, { delta: true }).pipe(
    Stream.runForEach((delta) =>
      Effect.sync(() => {
        if (deltas++ === 0) firstAt = Date.now() - started
        process.stdout.write(delta)
      })
    ),
    Effect.provide(model.layer)
  )
  yield* Console.log(
    `\n(${deltas} deltas, first after ${firstAt} ms, done after ${Date.now() - started} ms)`
  )
})

NodeRuntime.runMain(program)
