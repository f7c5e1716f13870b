/**
 * The sample app of the packed-tarball check (scripts/packed-check.mjs): it is installed with
 * the packed @agentfx/* tarballs, effect@3 and @effect/platform-node from the npm registry,
 * typechecked under NodeNext and Bundler resolution, and run. Everything is offline: the
 * OpenAI model talks to a loopback server started here.
 */
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Agent, AgentError, Messages, TestModel, Tool } from "@agentfx/core"
import * as AgentModule from "@agentfx/core/Agent"
import { Direct } from "@agentfx/direct"
import { ToolOutput } from "@agentfx/output"
import { OpenAiChat } from "@agentfx/providers"
import { Dataset, Evaluator, Report } from "@agentfx/evals"
import { McpContent } from "@agentfx/mcp"
import { UiStream } from "@agentfx/ui"
import { NodeHttpClient } from "@effect/platform-node"
import { Chunk, Effect, Layer, Redacted, Schema, Stream } from "effect"

const check = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`packed-app: ${what}`)
  console.log(`packed-app: ok ${what}`)
}

const add = Tool.make("add", {
  parameters: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  handler: ({ a, b }) => Effect.succeed(a + b)
})
const shout = Tool.fromAsync("shout", {
  parameters: Schema.Struct({ text: Schema.String }),
  handler: async ({ text }) => text.toUpperCase()
})
const Answer = Schema.Struct({ sum: Schema.Number })
const agent = Agent.make({ name: "packed", tools: [add, shout], output: ToolOutput.make(Answer) })

// 1. A run on TestModel: tools run, structured output decodes.
const result = await Effect.runPromise(agent.run("1 + 2?").pipe(Effect.provide(TestModel.layer())))
check(typeof result.output.sum === "number", "agent.run with tools and ToolOutput")
check(result.allMessages().length >= 4, "the conversation is recorded")

// 2. The Promise twin with { layer }, and its tagged rejection.
const viaPromise = await Agent.runPromise(agent, { layer: TestModel.layer() }, "again")
check(typeof viaPromise.output.sum === "number", "Agent.runPromise with { layer }")
const rejected = await Agent.runPromise(
  Agent.make({ outputRetries: 0 }),
  { layer: TestModel.layer({ customOutputText: "" }) },
  "x"
).then(
  () => undefined,
  (e: unknown) => e
)
check(
  rejected instanceof AgentError.UnexpectedModelBehavior,
  "Agent.runPromise rejects with the tagged error"
)

// 3. A subpath export (`@agentfx/core/Agent`) is the same module as the barrel's.
check(AgentModule.make === Agent.make, "subpath export @agentfx/core/Agent")
// Every name of a subpath module is the index namespace's (one bundle per package: the same
// classes, tags and functions whichever path imported them).
for (const [pkg, names] of [
  ["@agentfx/core", ["Messages", "Tool", "Agent", "Usage", "AgentError"]],
  [
    "@agentfx/providers",
    [
      "OpenAiChat",
      "OpenAiClient",
      "Anthropic",
      "AnthropicClient",
      "Google",
      "GoogleClient",
      "Bedrock",
      "BedrockClient"
    ]
  ]
] as const) {
  const index: Record<string, Record<string, unknown>> = await import(pkg)
  for (const name of names) {
    const sub: Record<string, unknown> = await import(`${pkg}/${name}`)
    const keys = Object.keys(sub)
    check(
      keys.length > 0 &&
        keys.length === Object.keys(index[name]!).length &&
        keys.every((k) => sub[k] === index[name]![k]),
      `${pkg}/${name} is the index's ${name}`
    )
  }
}

// 4. Internal modules are not importable.
const internalPath = "@agentfx/core/internal/runLoop"
const internalError = await import(internalPath).then(
  () => undefined,
  (e: { code?: string }) => e.code
)
check(internalError === "ERR_PACKAGE_PATH_NOT_EXPORTED", "internal modules are not exported")

// 5. Direct's Promise twin.
const direct = await Direct.modelRequestPromise(
  TestModel.layer({ customOutputText: "Paris" }),
  "Capital?"
)
check(direct.text === "Paris", "Direct.modelRequestPromise")

// 5b. The UI encoders load beside the rest (same core, same effect).
const chunks = await Effect.runPromise(
  Stream.runCollect(
    UiStream.aiSdkChunks(Agent.make({}).runStream("hi")).pipe(
      Stream.provideLayer(TestModel.layer({ customOutputText: "ui" }))
    )
  )
)
check(Chunk.size(chunks) > 2, "@agentfx/ui encodes a run")

// 5c. The MCP client loads with its SDK and maps content to core's message parts.
const image = McpContent.blockValue({ type: "image", data: "AAEC", mimeType: "image/png" })
check(
  image instanceof Messages.BinaryContent && image.data.length === 3,
  "@agentfx/mcp maps an image to BinaryContent"
)

// 5d. Evals: a data set decoded from YAML, evaluated on an agent run, with the tool call found
// in the run's spans.
const evalDataset = (
  await Effect.runPromise(
    Dataset.decodeYaml("cases:\n  - name: sum\n    inputs: '1 + 2?'\n", { inputs: Schema.String })
  )
).pipe(Dataset.withEvaluators(Evaluator.hasToolCall("add")))
const evalReport = await Effect.runPromise(
  Dataset.evaluate(evalDataset, (prompt: string) =>
    agent.run(prompt).pipe(Effect.provide(TestModel.layer()))
  )
)
check(
  evalReport.cases[0]?.assertions["HasToolCall(add)"]?.value === true &&
    Report.render(evalReport).includes("100% ✔"),
  "@agentfx/evals evaluates a run and finds its tool call"
)

// 6. A real provider over HTTP: OpenAI Chat Completions against a loopback server.
let authorization: string | undefined
const server = createServer((req, res) => {
  authorization = req.headers.authorization
  req.resume()
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(
      JSON.stringify({
        id: "chatcmpl-1",
        object: "chat.completion",
        created: 0,
        model: "gpt-4o-mini",
        choices: [
          {
            index: 0,
            finish_reason: "stop",
            message: { role: "assistant", content: "hi from loopback" }
          }
        ],
        usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 }
      })
    )
  })
})
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
try {
  const { port } = server.address() as AddressInfo
  const Model = OpenAiChat.model("gpt-4o-mini").pipe(
    Layer.provide(
      OpenAiChat.layer({
        apiKey: Redacted.make("sk-packed"),
        baseUrl: `http://127.0.0.1:${port}/v1`
      })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const answer = await Effect.runPromise(Agent.make({}).run("hello").pipe(Effect.provide(Model)))
  check(answer.output === "hi from loopback", "OpenAiChat over HTTP")
  check(authorization === "Bearer sk-packed", "the key is sent")
  check(answer.usage.totalTokens === 6, "usage is decoded")
} finally {
  server.close()
}
console.log("packed-app: all checks passed")
