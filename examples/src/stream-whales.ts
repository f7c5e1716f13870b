/**
 * stream-whales — streamed structured output: a list of records rendered as it grows.
 *
 * The output is an array of `Whale`s, produced through an output tool whose arguments stream
 * in as JSON fragments. `agent.streamOutput` parses the growing JSON incrementally and yields
 * validated partial snapshots (every field optional while it is being written), then the final,
 * fully validated value. The table is printed each time a record is complete.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/stream-whales.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples stream-whales
 */
import { Agent, FunctionModel } from "@agentfx/core"
import { ToolOutput } from "@agentfx/output"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

export const Whale = Schema.Struct({
  name: Schema.String.annotations({ description: "Common name of the species" }),
  length: Schema.Number.annotations({ description: "Average length of an adult, in meters" }),
  weight: Schema.optional(
    Schema.Number.annotations({ description: "Average weight of an adult, in kilograms" })
  ),
  ocean: Schema.optional(Schema.String),
  description: Schema.String.annotations({ description: "A one-sentence description" })
})
export type Whale = typeof Whale.Type

/** `Agent<ReadonlyArray<Whale>, never, Model>` */
export const agent = Agent.make({ name: "whales", output: ToolOutput.make(Schema.Array(Whale)) })

const whales: Array<typeof Whale.Encoded> = [
  {
    name: "Blue whale",
    length: 25,
    weight: 140000,
    ocean: "All oceans",
    description: "The largest animal known to have ever existed."
  },
  {
    name: "Fin whale",
    length: 20,
    weight: 60000,
    ocean: "All oceans",
    description: "Fast and slender; the second-largest whale."
  },
  {
    name: "Sperm whale",
    length: 16,
    weight: 41000,
    ocean: "Deep waters worldwide",
    description: "Has the largest brain of any animal."
  },
  {
    name: "Humpback whale",
    length: 14,
    weight: 30000,
    ocean: "All oceans",
    description: "Known for its long, complex songs."
  },
  {
    name: "Bowhead whale",
    length: 16,
    ocean: "Arctic",
    description: "May live for more than 200 years."
  }
]

const scripted = Scripted.make(
  "stream-whales",
  (_messages, info) => FunctionModel.toolCall(Scripted.outputTool(info), { response: whales }),
  { delay: "4 millis", argsChunk: 10 }
)

const cell = (v: unknown, width: number) =>
  String(v ?? "")
    .slice(0, width)
    .padEnd(width)
const table = (rows: ReadonlyArray<Agent.PartialOutput<Whale>>): string =>
  [
    `${cell("name", 16)} ${cell("length (m)", 10)} ${cell("weight (kg)", 11)} ${cell("ocean", 22)}`,
    ...rows.map(
      (w) =>
        `${cell(w.name, 16)} ${cell(w.length, 10)} ${cell(w.weight ?? "-", 11)} ${cell(w.ocean ?? "-", 22)}`
    )
  ].join("\n")

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  let snapshots = 0
  let printed = 0
  let last: ReadonlyArray<Agent.PartialOutput<Whale>> = []
  yield* agent.streamOutput("Generate me details of 5 species of whale.").pipe(
    // snapshots are typed `PartialOutput<…>`: fields may still be missing while they stream in;
    // the last snapshot is the complete, validated output
    Stream.runForEach((snapshot) =>
      Effect.gen(function* () {
        snapshots++
        last = snapshot
        // records before the last one are complete: the model has moved on
        const complete = snapshot.length - 1
        if (complete > printed) {
          printed = complete
          yield* Console.log(
            `\n${complete} whale(s) so far:\n${table(snapshot.slice(0, complete))}`
          )
        }
      })
    ),
    Effect.provide(model.layer)
  )
  yield* Console.log(`\nfinal, validated (${last.length} whales):\n${table(last)}`)
  yield* Console.log(`(${snapshots} validated snapshots streamed)`)
})

NodeRuntime.runMain(program)
