// Runs every example the way a user would (`tsx --conditions=@agentfx/source examples/src/<name>.ts`),
// offline: provider keys are removed from the environment, so each example must fall back to
// its scripted model (or a local Ollama) and still exit 0. Each run is bounded in time.
import { spawnSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dir = join(root, "examples", "src")
const only = process.argv.slice(2)
const examples = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "main.ts")
  .map((f) => f.slice(0, -3))
  .filter((name) => only.length === 0 || only.includes(name))

const env = { ...process.env, AGENTFX_OFFLINE: "1" }
for (const key of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"]) {
  delete env[key]
}

const tsx = join(root, "node_modules", ".bin", "tsx")
let failed = 0
for (const name of ["main", ...examples]) {
  if (only.length > 0 && !only.includes(name)) continue
  const started = Date.now()
  const r = spawnSync(tsx, ["--conditions=@agentfx/source", join(dir, `${name}.ts`)], {
    cwd: root,
    env,
    encoding: "utf8",
    timeout: 120_000
  })
  const ms = Date.now() - started
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`
  const model = /model: (.+)/i.exec(out)?.[1] ?? "?"
  if (r.status === 0 && /model: /i.test(out)) {
    console.log(`ok   ${name} (${ms} ms, ${model})`)
  } else {
    failed++
    console.log(`FAIL ${name} (exit ${r.status}, signal ${r.signal}, ${ms} ms)\n${out}`)
  }
}
// The README's snippets (extracted by scripts/readme-snippets.mjs) must run too, not only compile.
let snippets = 0
if (only.length === 0) {
  const readmeDir = join(root, "examples", "readme")
  let files = []
  try {
    files = readdirSync(readmeDir).filter((f) => f.endsWith(".ts"))
  } catch {
    files = []
  }
  for (const f of files) {
    snippets++
    const r = spawnSync(tsx, ["--conditions=@agentfx/source", join(readmeDir, f)], {
      cwd: root,
      env: { ...env, AGENTFX_MODEL: "scripted" },
      encoding: "utf8",
      timeout: 60_000
    })
    if (r.status === 0) console.log(`ok   readme/${f}`)
    else {
      failed++
      console.log(`FAIL readme/${f} (exit ${r.status})\n${r.stdout ?? ""}${r.stderr ?? ""}`)
    }
  }
}
const total = snippets + examples.length + (only.length === 0 || only.includes("main") ? 1 : 0)
console.log(`examples: ${total - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
