/**
 * A throwaway PostgreSQL cluster for the multi-runner tests: `initdb` into a temporary
 * directory, `postgres` listening on a free loopback port, stopped by its PID and deleted when
 * the scope closes. Uses Debian's `postgresql` package (`/usr/lib/postgresql/<v>/bin`), which
 * `.ci/run` installs; when running as root the server runs as the `postgres` user (it refuses
 * to run as root).
 *
 * `available` says whether the binaries are there: the tests skip with a notice when they are
 * not, except under CI (`CI=true`), where a missing PostgreSQL fails the run.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

const binDir = (): string | undefined => {
  const root = "/usr/lib/postgresql"
  if (!fs.existsSync(root)) return undefined
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a))
  return versions.length === 0 ? undefined : path.join(root, versions[0]!, "bin")
}

/** The directory of `initdb` and `postgres`, if PostgreSQL is installed. */
export const bin = binDir()

/** Is PostgreSQL installed here? */
export const available = bin !== undefined

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const asUser = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim())
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim())
  return { uid, gid }
}

/** A running cluster. */
export interface Cluster {
  readonly url: string
  readonly port: number
  readonly pid: number
}

const canConnect = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** Starts a fresh cluster; stopped (SIGINT to its PID, then SIGKILL) and removed with the scope. */
export const cluster: Effect.Effect<Cluster, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    if (bin === undefined)
      throw new Error("PostgreSQL is not installed (apt-get install postgresql)")
    const user = asUser()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agentfx-pg-"))
    if (user !== undefined) fs.chownSync(dir, user.uid, user.gid)
    const data = path.join(dir, "data")
    const init = spawnSync(
      path.join(bin, "initdb"),
      ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"],
      { ...(user ?? {}), cwd: dir, encoding: "utf8" }
    )
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
    const port = await freePort()
    const child = spawn(
      path.join(bin, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "max_connections=200"
      ],
      { ...(user ?? {}), cwd: dir, stdio: ["ignore", "ignore", "pipe"] }
    )
    let log = ""
    child.stderr!.setEncoding("utf8").on("data", (c: string) => {
      log = (log + c).slice(-10_000)
    })
    const started = Date.now()
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() - started > 30_000) {
        child.kill("SIGKILL")
        throw new Error(`postgres did not start: ${log}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      pid: child.pid!,
      child,
      dir
    }
  }),
  ({ child, dir }) =>
    Effect.promise(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once("exit", resolve))
        child.kill("SIGINT")
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
        await gone
        clearTimeout(timer)
      }
      fs.rmSync(dir, { recursive: true, force: true })
    })
)
