// Extracts every ```ts block of README.md (and packages/*/README.md) into
// examples/readme/<file>-<n>.ts so `tsc -b` typechecks them with the rest of the tree: a
// snippet that stops compiling fails `pnpm typecheck` and CI. A block preceded by an HTML
// comment `<!-- no-check -->` is left out (for fragments that cannot stand alone).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const out = join(root, "examples", "readme")
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })

const sources = [["README", join(root, "README.md")]]
for (const pkg of readdirSync(join(root, "packages"))) {
  const f = join(root, "packages", pkg, "README.md")
  if (existsSync(f)) sources.push([pkg, f])
}

let count = 0
for (const [name, file] of sources) {
  const text = readFileSync(file, "utf8")
  const re = /(<!--\s*no-check\s*-->\s*\n)?```ts\n([\s\S]*?)```/g
  let m
  let n = 0
  while ((m = re.exec(text)) !== null) {
    n++
    if (m[1]) continue
    const line = text.slice(0, m.index).split("\n").length
    const body = `// Extracted from ${file.slice(root.length + 1)}:${line} by scripts/readme-snippets.mjs\n${m[2]}\nexport {}\n`
    writeFileSync(join(out, `${name}-${String(n).padStart(2, "0")}.ts`), body)
    count++
  }
}
console.log(`readme-snippets: ${count} snippets written to examples/readme/`)
