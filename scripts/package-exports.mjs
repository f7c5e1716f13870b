#!/usr/bin/env node
// The `exports` map of every published package lists its public modules explicitly: `.` and one
// subpath per `src/<Module>.ts` (what `src/index.ts` re-exports), never `src/internal/`. A `"./*"`
// pattern would make every internal module importable (`@agentfx/core/internal/runLoop`).
//
//   node scripts/package-exports.mjs          check (exit 1 naming the package and the fix)
//   node scripts/package-exports.mjs --write  rewrite the maps from the source tree
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const write = process.argv.includes("--write")

const entry = (name) => ({
  "@agentfx/source": `./src/${name}.ts`,
  types: `./dist/${name}.d.ts`,
  default: `./dist/${name}.js`
})

/** The exports map a package should have: `.`, each public module, and `./package.json`. */
export const expectedExports = (dir) => {
  const modules = readdirSync(join(dir, "src"))
    .filter((f) => /^[A-Z][A-Za-z0-9]*\.ts$/.test(f))
    .map((f) => f.slice(0, -3))
    .sort()
  const exports = { ".": entry("index") }
  for (const m of modules) exports[`./${m}`] = entry(m)
  exports["./package.json"] = "./package.json"
  return exports
}

/** Published packages: `packages/<name>` whose package.json is not private. */
export const publishedPackages = () =>
  readdirSync(join(root, "packages"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(root, "packages", d.name))
    .filter((dir) => {
      try {
        return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).private !== true
      } catch {
        return false
      }
    })

if (import.meta.url === `file://${process.argv[1]}`) {
  const wrong = []
  for (const dir of publishedPackages()) {
    const file = join(dir, "package.json")
    const pkg = JSON.parse(readFileSync(file, "utf8"))
    const expected = expectedExports(dir)
    if (JSON.stringify(pkg.exports) === JSON.stringify(expected)) continue
    if (write) {
      pkg.exports = expected
      writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`)
      console.log(`package-exports: wrote ${pkg.name}`)
    } else wrong.push(pkg.name)
  }
  if (wrong.length > 0) {
    console.error(
      `package-exports: the exports map of ${wrong.join(", ")} does not list exactly its public ` +
        'modules (src/<Module>.ts, no "./*" pattern). Run: node scripts/package-exports.mjs --write'
    )
    process.exit(1)
  }
}
