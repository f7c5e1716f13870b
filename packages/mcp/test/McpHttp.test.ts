import { Agent, CaptureRunMessages, FunctionModel } from "@agentfx/core"
import { McpClient, type McpError, McpToolset } from "@agentfx/mcp"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestServices from "effect/TestServices"
import { httpFixture } from "./fixtures/http.js"
import { partsOf, pollUntil, scripted } from "./support/scripted.js"

describe("McpToolset over HTTP (loopback)", () => {
  it.effect("Streamable HTTP: an agent run calls the server's tools; headers are sent", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      const docs = yield* McpToolset.http(`${fixture.url}/mcp`, {
        prefix: "docs",
        headers: { authorization: Redacted.make("Bearer s3cret"), "x-team": "a" }
      })
      const agent = Agent.make({ toolsets: [docs] })
      const result = yield* agent.run("weather").pipe(
        Effect.provide(
          scripted([
            () =>
              FunctionModel.toolCalls([
                { toolName: "docs_weather", args: { city: "Rome" } },
                { toolName: "docs_add", args: { a: 1, b: 2 } }
              ]),
            () => FunctionModel.text("done")
          ])
        )
      )
      const returns = partsOf(result.allMessages(), "ToolReturnPart")
      assert.deepStrictEqual(
        returns.map((r) => [r.toolName, r.content]),
        [
          ["docs_weather", { city: "Rome", celsius: 21, sky: "clear" }],
          ["docs_add", "3"]
        ]
      )
      assert.isAbove(fixture.headers.length, 2)
      for (const h of fixture.headers) {
        assert.strictEqual(h.authorization, "Bearer s3cret")
        assert.strictEqual(h["x-team"], "a")
      }
      assert.strictEqual(docs.client.server, "fixture")
    }).pipe(Effect.scoped)
  )

  it.effect("falls back to HTTP+SSE when the server answers 4xx to Streamable HTTP", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      const legacy = yield* McpToolset.http(`${fixture.url}/sse`, {
        headers: { authorization: Redacted.make("Bearer legacy") }
      })
      const agent = Agent.make({ toolsets: [legacy] })
      const result = yield* agent
        .run("echo")
        .pipe(
          Effect.provide(
            scripted([
              () => FunctionModel.toolCall("echo", { text: "over sse" }),
              () => FunctionModel.text("ok")
            ])
          )
        )
      assert.strictEqual(partsOf(result.allMessages(), "ToolReturnPart")[0]!.content, "over sse")
      // the SSE stream (GET) and the messages (POST) both carried the header
      assert.isTrue(fixture.headers.every((h) => h.authorization === "Bearer legacy"))
      assert.isTrue(fixture.headers.some((h) => h.accept === "text/event-stream"))
      // forcing Streamable HTTP on the legacy endpoint is a typed connect error
      const error = yield* Effect.flip(
        Effect.scoped(McpClient.http(`${fixture.url}/sse`, { transport: "streamable" }))
      )
      assert.strictEqual(error._tag, "McpError")
      assert.strictEqual(error.operation, "connect")
      assert.strictEqual(error.server, `${fixture.url}/sse`)
    }).pipe(Effect.scoped)
  )

  it.effect("list_changed and cancellation work over Streamable HTTP too", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      const fx = yield* McpToolset.http(`${fixture.url}/mcp`)
      const seen = yield* fx.changes.pipe(
        Stream.filter((defs) => defs.some((d) => d.name === "fresh")),
        Stream.runHead,
        Effect.fork
      )
      yield* fx.client.callTool("add_tool", { name: "fresh" })
      assert.isTrue((yield* Fiber.join(seen))._tag === "Some")

      const stats = Effect.map(
        fx.client.callTool("stats", {}),
        (r) => r.structuredContent as { started: number; cancelled: Array<string> }
      )
      const call = yield* Effect.fork(fx.client.callTool("slow", { tag: "http-cancel" }))
      yield* pollUntil(stats, (s) => s.started >= 1)
      yield* Fiber.interrupt(call)
      const after = yield* pollUntil(stats, (s) => s.cancelled.length >= 1)
      assert.deepStrictEqual(after.cancelled, ["http-cancel"])
    }).pipe(Effect.scoped)
  )

  it.effect("a run's calls started together over HTTP: interrupting the run cancels them", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      const fx = yield* McpToolset.http(`${fixture.url}/mcp`)
      const stats = Effect.map(
        fx.client.callTool("stats", {}),
        (r) => r.structuredContent as { started: number; cancelled: Array<string> }
      )
      const run = yield* Agent.make({ toolsets: [fx] })
        .run("slow twice")
        .pipe(
          Effect.provide(
            scripted([
              () =>
                FunctionModel.toolCalls([
                  { toolName: "slow", args: { tag: "run-a" } },
                  { toolName: "add", args: { a: 1, b: 1 } },
                  { toolName: "slow", args: { tag: "run-b" } }
                ]),
              () => FunctionModel.text("never")
            ])
          ),
          Effect.fork
        )
      yield* pollUntil(stats, (s) => s.started >= 2)
      yield* Fiber.interrupt(run)
      const after = yield* pollUntil(stats, (s) => s.cancelled.length >= 2)
      assert.deepStrictEqual([...after.cancelled].sort(), ["run-a", "run-b"])
    }).pipe(Effect.scoped)
  )

  it.effect("closing the scope ends the Streamable HTTP session on the server (DELETE)", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      const name = yield* Effect.scoped(
        Effect.gen(function* () {
          const fx = yield* McpToolset.http(`${fixture.url}/mcp`, {
            headers: { authorization: Redacted.make("Bearer s3cret") }
          })
          assert.strictEqual(fixture.sessions().length, 1)
          return fx.client.server
        })
      )
      assert.strictEqual(name, "fixture")
      assert.deepStrictEqual(fixture.sessions(), [])
      assert.include(fixture.requests, "DELETE /mcp")
      // the DELETE carried the session's headers too
      const del = fixture.requests.lastIndexOf("DELETE /mcp")
      assert.strictEqual(fixture.headers[del]!.authorization, "Bearer s3cret")
      assert.isString(fixture.headers[del]!["mcp-session-id"])
    }).pipe(Effect.scoped)
  )

  it.effect("a rejected token is a typed connect error that never shows the token", () =>
    Effect.gen(function* () {
      const fixture = yield* httpFixture
      for (const transport of ["auto", "streamable", "sse"] as const) {
        const error = yield* Effect.flip(
          Effect.scoped(
            McpToolset.http(`${fixture.url}/auth/mcp`, {
              transport,
              headers: { authorization: Redacted.make("Bearer wrong-s3cret") }
            })
          )
        )
        assert.strictEqual(error._tag, "McpError")
        assert.strictEqual(error.operation, "connect")
        assert.strictEqual(error.server, `${fixture.url}/auth/mcp`)
        assert.strictEqual(error.status, 401)
        assert.include(error.message, "(HTTP 401)")
        assert.notInclude(error.message, "s3cret")
        assert.notInclude(JSON.stringify(error), "s3cret")
        assert.notInclude(String(error), "s3cret")
        // a rejected credential is not a reason to try the older transport
        if (transport === "auto") assert.match(error.reason, /^Streamable HTTP error/)
      }
      // the right token connects
      const ok = yield* McpToolset.http(`${fixture.url}/auth/mcp`, {
        headers: { authorization: Redacted.make("Bearer letmein") }
      })
      assert.strictEqual(ok.client.server, "fixture")
    }).pipe(Effect.scoped)
  )

  it.effect(
    "a server that goes away mid-call fails the run with a typed McpError; messages kept",
    () =>
      Effect.forEach(["/mcp", "/sse"], (path) =>
        Effect.gen(function* () {
          const fixture = yield* httpFixture
          const fx = yield* McpToolset.http(`${fixture.url}${path}`, { name: "remote" })
          const stats = Effect.map(
            fx.client.callTool("stats", {}),
            (r) => r.structuredContent as { started: number }
          )
          const run = yield* CaptureRunMessages.capture(
            Agent.make({ toolsets: [fx] })
              .run("slow")
              .pipe(
                Effect.provide(
                  scripted([
                    () => FunctionModel.toolCall("slow", { tag: "cut" }),
                    () => FunctionModel.text("unreached")
                  ])
                )
              )
          ).pipe(Effect.fork)
          yield* pollUntil(stats, (s) => s.started >= 1)
          fixture.crash()
          const { exit, messages } = yield* Fiber.join(run).pipe(
            Effect.timeoutFail({
              duration: "10 seconds",
              onTimeout: () => new Error("the run hangs after the server went away")
            }),
            TestServices.provideLive
          )
          assert.isTrue(Exit.isFailure(exit))
          const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : undefined
          const error = failure?._tag === "Some" ? (failure.value as McpError.McpError) : undefined
          assert.strictEqual(error?._tag, "McpError")
          assert.strictEqual(error!.server, "remote")
          assert.strictEqual(error!.operation, "callTool")
          assert.strictEqual(error!.target, "slow")
          assert.isTrue(error!.isConnectionClosed)
          assert.deepStrictEqual(
            partsOf(messages, "ToolCallPart").map((p) => p.toolName),
            ["slow"]
          )
        }).pipe(Effect.scoped)
      )
  )

  it.effect("a server that is not there is a typed connect error", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(
          McpClient.http("http://127.0.0.1:9/mcp", {
            name: "gone",
            headers: { authorization: Redacted.make("Bearer s3cret") }
          })
        )
      )
      assert.strictEqual(error._tag, "McpError")
      assert.strictEqual(error.operation, "connect")
      assert.strictEqual(error.server, "gone")
      assert.notInclude(error.message, "s3cret")
      assert.notInclude(JSON.stringify(error), "s3cret")
    })
  )
})
