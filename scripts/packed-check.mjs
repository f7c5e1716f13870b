#!/usr/bin/env node
// Packages as users install them: builds and packs every published package (packages/*, not
// private), installs the tarballs into a fresh npm project together with effect@3,
// @effect/platform@0.97 and @effect/platform-node@0.108 from the npm registry, typechecks
// scripts/packed-app/app.ts under NodeNext and under Bundler resolution, and runs it.
// It fails on a `workspace:` range left in a packed package.json, a broken `exports` map, a
// missing file in a tarball, two copies of `effect` in the install, or a failing app check.
//
//   node scripts/packed-check.mjs [--keep] [--no-build]
//
// Needs only Node 20 and npm (plus the registry); `.ci/run` calls it after the test suite.
import { execFileSync } from "node:child_process"
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { expectedExports, publishedPackages } from "./package-exports.mjs"

const root = join(import.meta.dirname, "..")
const keep = process.argv.includes("--keep")
const started = Date.now()
const work = mkdtempSync(join(tmpdir(), "agentfx-packed-"))
const tarballs = join(work, "tarballs")
const app = join(work, "app")
mkdirSync(tarballs)
mkdirSync(app)

const say = (line) =>
  console.log(`packed-check: ${line} (${((Date.now() - started) / 1000).toFixed(1)} s)`)
const run = (cmd, args, cwd, timeoutMs = 180_000) => {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: "utf8",
      timeout: timeoutMs,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        npm_config_fund: "false",
        npm_config_audit: "false",
        npm_config_update_notifier: "false"
      }
    })
  } catch (e) {
    const out = `${e.stdout ?? ""}${e.stderr ?? ""}`.trim()
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${out}`)
  }
}
const fail = (message) => {
  console.error(`packed-check: FAILED: ${message}`)
  console.error(`packed-check: work directory kept: ${work}`)
  process.exit(1)
}

try {
  const pnpm = ["-y", "pnpm@10.34.9"]
  if (!process.argv.includes("--no-build")) {
    run("npx", [...pnpm, "build"], root, 300_000)
    say("built")
  }

  // Pack (pnpm rewrites workspace: ranges into versions) and inspect every tarball.
  const dirs = publishedPackages()
  const filters = dirs.flatMap((dir) => ["--filter", `./${relative(root, dir)}`])
  run("npx", [...pnpm, "-r", ...filters, "pack", "--pack-destination", tarballs], root)
  const packed = {}
  for (const dir of dirs) {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
    const file = readdirSync(tarballs).find(
      (f) => f.startsWith(`${pkg.name.replace("@", "").replace("/", "-")}-`) && f.endsWith(".tgz")
    )
    if (file === undefined) fail(`no tarball for ${pkg.name}`)
    const listing = run("tar", ["-tzf", join(tarballs, file)], work).split("\n")
    const manifest = run("tar", ["-xzOf", join(tarballs, file), "package/package.json"], work)
    if (manifest.includes("workspace:"))
      fail(`${pkg.name}: a workspace: range in the packed package.json`)
    const packedPkg = JSON.parse(manifest)
    if (JSON.stringify(packedPkg.exports) !== JSON.stringify(expectedExports(dir))) {
      fail(`${pkg.name}: the exports map is not the list of public modules`)
    }
    for (const need of ["package/LICENSE", "package/dist/index.js", "package/dist/index.d.ts"]) {
      if (!listing.includes(need)) fail(`${pkg.name}: ${need} is missing from the tarball`)
    }
    if (!listing.includes("package/README.md")) say(`note: ${pkg.name} has no README.md`)
    // Every export target of the default and types conditions is in the tarball.
    for (const [subpath, target] of Object.entries(packedPkg.exports)) {
      const files = typeof target === "string" ? [target] : [target.types, target.default]
      for (const f of files) {
        if (!listing.includes(`package/${f.replace(/^\.\//, "")}`)) {
          fail(`${pkg.name}: export "${subpath}" points to ${f}, which is not in the tarball`)
        }
      }
    }
    for (const field of ["description", "repository", "engines", "license"]) {
      if (packedPkg[field] === undefined) fail(`${pkg.name}: no "${field}" in package.json`)
    }
    // A library shares the app's Effect; an application (a `bin`) may bring its own, as a range.
    const effectDep = packedPkg.dependencies?.effect
    if (packedPkg.bin === undefined && effectDep !== undefined) {
      fail(`${pkg.name}: effect must be a peer dependency`)
    }
    if (effectDep !== undefined && !effectDep.startsWith("^3.")) {
      fail(`${pkg.name}: effect ${effectDep} must be a ^3 range`)
    }
    packed[pkg.name] = `file:../tarballs/${file}`
  }
  say(`packed ${Object.keys(packed).join(", ")}`)

  // A fresh npm project, installed the way the READMEs say (effect@3, platform-node@0.108).
  writeFileSync(
    join(app, "package.json"),
    `${JSON.stringify(
      {
        name: "agentfx-packed-app",
        private: true,
        type: "module",
        dependencies: {
          ...packed,
          effect: "3",
          "@effect/platform": "0.97",
          "@effect/platform-node": "0.108"
        },
        // @types/ws: @effect/platform-node's declarations import "ws" (skipLibCheck is off under
        // NodeNext, so agentfx's own declarations are checked too).
        devDependencies: { typescript: "5.9.3", "@types/node": "20", "@types/ws": "8" }
      },
      null,
      2
    )}\n`
  )
  for (const f of ["app.ts", "tsconfig.nodenext.json", "tsconfig.bundler.json"]) {
    cpSync(join(root, "scripts", "packed-app", f), join(app, f))
  }
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], app, 300_000)
  say("installed from the npm registry")

  // One copy of effect, on the Effect 3 line.
  const tree = JSON.parse(run("npm", ["ls", "effect", "--all", "--json"], app))
  const versions = new Set()
  const walk = (node) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (name === "effect" && child.version !== undefined) versions.add(child.version)
      walk(child)
    }
  }
  walk(tree)
  if (versions.size !== 1) fail(`expected one copy of effect, found ${[...versions].join(", ")}`)
  const [effectVersion] = versions
  if (!effectVersion.startsWith("3.")) fail(`effect ${effectVersion} is not on the Effect 3 line`)
  say(`one copy of effect: ${effectVersion}`)

  const tsc = join(app, "node_modules", "typescript", "bin", "tsc")
  run(process.execPath, [tsc, "-p", "tsconfig.bundler.json"], app)
  say("typechecked under moduleResolution Bundler")
  run(process.execPath, [tsc, "-p", "tsconfig.nodenext.json"], app)
  say("typechecked and compiled under NodeNext")
  const output = run(process.execPath, [join(app, "dist", "app.js")], app, 60_000)
  process.stdout.write(output)
  if (!output.includes("packed-app: all checks passed")) fail("the app did not pass its checks")
  say("the app ran")
} catch (e) {
  fail(e instanceof Error ? e.message : String(e))
}
if (!keep) rmSync(work, { recursive: true, force: true })
else console.log(`packed-check: kept ${work}`)
