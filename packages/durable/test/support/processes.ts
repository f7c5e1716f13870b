/**
 * Runner child processes for the durable tests. Every process started here is registered in
 * a scope and killed (by its PID) when the scope closes, whatever the test's outcome.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, "../../../..")
const runnerScript = path.join(here, "runner.ts")

/** A runner process and what it printed. */
export interface Runner {
  readonly child: ChildProcess
  readonly pid: number
  /** The JSON lines printed so far. */
  readonly lines: Array<any>
  readonly stderr: () => string
  /** Resolves with the first line matching `predicate` (waits for it). */
  readonly waitForLine: (predicate: (line: any) => boolean, what: string) => Effect.Effect<any>
  /** Kills the process with SIGKILL (a crash) and waits until it is gone. */
  readonly crash: Effect.Effect<void>
  /** Resolves when the process exits, with its exit code. */
  readonly exited: Effect.Effect<number | null>
}

const waitUntil = <A>(
  check: () => A | undefined,
  what: string,
  timeoutMs: number,
  diagnostics: () => string
): Effect.Effect<A> =>
  Effect.async<A>((resume) => {
    const started = Date.now()
    const timer = setInterval(() => {
      const value = check()
      if (value !== undefined) {
        clearInterval(timer)
        resume(Effect.succeed(value))
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer)
        resume(
          Effect.dieMessage(`timed out after ${timeoutMs} ms waiting for ${what}\n${diagnostics()}`)
        )
      }
    }, 20)
    return Effect.sync(() => clearInterval(timer))
  })

/**
 * Waits (polling every 20 ms, up to `timeoutMs`) until `check` returns a value; on a timeout
 * the failure shows what the given runners printed.
 */
export const eventually = <A>(
  check: () => A | undefined,
  what: string,
  timeoutMs = 60_000,
  runners: ReadonlyArray<Runner> = []
) =>
  waitUntil(check, what, timeoutMs, () =>
    runners.map((r) => `runner ${r.pid}: ${JSON.stringify(r.lines)}\n${r.stderr()}`).join("\n")
  )

/** Starts a runner process with this configuration; killed when the scope closes. */
export const spawnRunner = (
  config: Record<string, unknown>
): Effect.Effect<Runner, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--conditions=@agentfx/source", runnerScript],
        {
          cwd: repoRoot,
          env: { ...process.env, DURABLE_RUNNER: JSON.stringify(config) },
          stdio: ["ignore", "pipe", "pipe"]
        }
      )
      const lines: Array<any> = []
      let buffered = ""
      let errors = ""
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        buffered += chunk
        let nl = buffered.indexOf("\n")
        while (nl !== -1) {
          const line = buffered.slice(0, nl)
          buffered = buffered.slice(nl + 1)
          try {
            lines.push(JSON.parse(line))
          } catch {
            errors += `${line}\n`
          }
          nl = buffered.indexOf("\n")
        }
      })
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        errors = (errors + chunk).slice(-20_000)
      })
      const exitCode = new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode)
        child.once("exit", (code) => resolve(code))
      })
      const diagnostics = () =>
        `runner ${child.pid} lines: ${JSON.stringify(lines)}\nstderr: ${errors}`
      const runner: Runner = {
        child,
        pid: child.pid!,
        lines,
        stderr: () => errors,
        waitForLine: (predicate, what) =>
          waitUntil(() => lines.find(predicate), what, 90_000, diagnostics),
        crash: Effect.zipRight(
          Effect.sync(() => child.kill("SIGKILL")),
          Effect.promise(() => exitCode)
        ),
        exited: Effect.timeoutFail(
          Effect.promise(() => exitCode),
          {
            duration: "30 seconds",
            onTimeout: () => new Error(`runner ${child.pid} did not exit\n${diagnostics()}`)
          }
        ).pipe(Effect.orDie)
      }
      return runner
    }),
    (runner) =>
      Effect.promise(async () => {
        if (runner.child.exitCode === null && runner.child.signalCode === null) {
          runner.child.kill("SIGKILL")
          await new Promise((resolve) => runner.child.once("exit", resolve))
        }
      })
  )

/** A temporary directory, removed with the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-durable-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)
