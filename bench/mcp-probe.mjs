#!/usr/bin/env node
// Where the CPU of an MCP tool call inside a run goes (not part of the benchmark). One stdio
// session to bench/mcp-server.mjs; agents whose one `echo` call per run is: the MCP toolset
// (`mcp`), a local tool (`local`), a local tool awaiting the bare SDK call (`localSdk`) or
// `McpClient.callTool` (`localMcpClient`), a local tool awaiting one `setImmediate`
// (`localTimer`: what any async hop costs a run). Prints client CPU µs per run, 5 rounds
// sorted (read the low end on a loaded machine).
//   npx tsx --conditions=@agentfx/source bench/mcp-probe.mjs [runs per round, 500]
import { Agent, FunctionModel, Model, Tool } from "@agentfx/core"
import { McpToolset } from "@agentfx/mcp"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
const scope = Effect.runSync(Scope.make())
const toolset = await Effect.runPromise(
  Scope.extend(
    McpToolset.stdio({
      command: process.execPath,
      args: [new URL("./mcp-server.mjs", import.meta.url).pathname]
    }),
    scope
  )
)
const sdk = toolset.client.sdk
const model = Effect.runSync(
  FunctionModel.make((messages) => {
    const turn = messages.filter((m) => m._tag === "ModelResponse").length
    return turn >= 1 ? FunctionModel.text("done") : FunctionModel.toolCall("echo", { text: "x" })
  })
)
const mk = (handler) =>
  Agent.make({
    tools: [
      Tool.make("echo", {
        description: "Echo",
        parameters: Schema.Struct({ text: Schema.String }),
        handler
      })
    ]
  })
const agents = {
  mcp: Agent.make({ toolsets: [toolset] }),
  local: mk(({ text }) => Effect.succeed(text)),
  localSdk: mk(({ text }) =>
    Effect.promise(() => sdk.callTool({ name: "echo", arguments: { text } }))
  ),
  localMcpClient: mk(({ text }) => toolset.client.callTool("echo", { text })),
  localTimer: mk(({ text }) =>
    Effect.promise(() => new Promise((r) => setImmediate(() => r(text))))
  )
}
const N = Number(process.argv[2] ?? 500)
const res = {}
for (let round = 0; round < 5; round++)
  for (const [k, a] of Object.entries(agents)) {
    const once = Effect.provideService(a.run("go"), Model.Model, model)
    const c0 = process.cpuUsage()
    for (let i = 0; i < N; i++) await Effect.runPromise(once)
    const c = process.cpuUsage(c0)
    ;(res[k] ??= []).push((c.user + c.system) / N)
  }
for (const [k, v] of Object.entries(res)) {
  v.sort((a, b) => a - b)
  console.log(k.padEnd(16), v.map((x) => x.toFixed(0)).join(" "))
}
await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined }))
process.exit(0)
