#!/usr/bin/env node
// The JavaScript of every published package's dist/, after `tsc -b` has written its .d.ts files
// (the build configs only emit declarations). Each package becomes ONE module file plus chunks
// for what it loads lazily (dynamic imports):
//
//   dist/index.js            every public module of the package, bundled by esbuild from src/
//                            (other packages and npm dependencies stay imports);
//   dist/<Module>.js         for each subpath export: the names of that module, read from the
//                            index's namespace (`export * as Module from "./Module.js"`) — the
//                            same values, so `@agentfx/core` and `@agentfx/core/Messages` share
//                            every class and tag;
//   dist/_chunks/*.js        shared code of extra entries (a CLI's bin) and lazily loaded code.
//
// Why (bench/ANALYSIS.md, "Import and memory: one module per package"): Node's ES module loader
// costs ≈ 50–70 KB of memory and ≈ 1 ms per module file; core and providers were 120 files.
//
//   node scripts/bundle-dist.mjs [package-dir …]   (default: every package under packages/)
import { build } from "esbuild"
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { basename, dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const dirs = process.argv.slice(2)
const packages =
  dirs.length > 0
    ? dirs
    : readdirSync(join(root, "packages"))
        .map((d) => join(root, "packages", d))
        .filter((d) => existsSync(join(d, "tsconfig.build.json")))

/** Every `.js` / `.js.map` under `dir` (what an earlier build left), removed before writing. */
const removeJs = (dir) => {
  if (!existsSync(dir)) return
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) removeJs(path)
    else if (name.endsWith(".js") || name.endsWith(".js.map")) rmSync(path)
  }
  if (dir.endsWith("_chunks")) rmSync(dir, { recursive: true, force: true })
}

for (const pkgDir of packages) {
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"))
  const src = join(pkgDir, "src")
  const dist = join(pkgDir, "dist")
  const index = readFileSync(join(src, "index.ts"), "utf8")
  // Modules the index re-exports as a namespace: `export * as Name from "./File.js"`.
  const namespaces = new Map(
    [...index.matchAll(/^export \* as (\w+) from "\.\/([\w/]+)\.js"/gm)].map((m) => [m[2], m[1]])
  )
  // Public modules: the subpath exports (`"./Agent": { "@agentfx/source": "./src/Agent.ts" }`).
  const modules = Object.entries(pkg.exports ?? {})
    .filter(([key]) => key !== "." && key !== "./package.json")
    .map(([key, target]) => {
      const source = typeof target === "object" ? target["@agentfx/source"] : undefined
      if (typeof source !== "string" || !source.startsWith("./src/") || !source.endsWith(".ts")) {
        throw new Error(`${pkg.name}: export ${key} has no "@agentfx/source" ./src/*.ts target`)
      }
      return source.slice("./src/".length, -".ts".length)
    })
  // Entries of their own: public modules the index does not re-export, and `bin` targets
  // (`./bin/x.js` importing `../dist/<name>.js`).
  const extra = modules.filter((m) => !namespaces.has(m))
  for (const bin of Object.values(typeof pkg.bin === "object" ? pkg.bin : {})) {
    const text = readFileSync(join(pkgDir, bin), "utf8")
    for (const m of text.matchAll(/"\.\.\/dist\/([\w/]+)\.js"/g)) {
      if (!extra.includes(m[1])) extra.push(m[1])
    }
  }

  removeJs(dist)
  const result = await build({
    absWorkingDir: pkgDir,
    entryPoints: ["index", ...extra].map((m) => join(src, `${m}.ts`)),
    outdir: dist,
    outbase: src,
    bundle: true,
    splitting: true,
    chunkNames: "_chunks/[name]-[hash]",
    format: "esm",
    platform: "node",
    target: "es2022",
    // npm dependencies and the other @agentfx packages stay imports
    packages: "external",
    // No `keepNames`: it wraps every function created at run time in a `__name` call (≈ 4 KB
    // allocated per agent run); a top-level name clashing across modules may get a suffix.
    keepNames: false,
    sourcemap: true,
    sourcesContent: false,
    legalComments: "none",
    logLevel: "warning",
    metafile: true
  })
  const chunks = Object.keys(result.metafile.outputs).filter((o) => !o.endsWith(".map"))
  // One-byte source text: esbuild escapes non-ASCII characters in strings (charset "ascii"), but
  // the comments it keeps (inside class bodies) hold "…", "—" and the like, and one such character
  // makes V8 hold the whole file as UTF-16 — twice its size (≈ 600 KB of heap for core + providers,
  // #14 memory). Only comments are left with them, so escaping is a text change there.
  for (const chunk of chunks) {
    const file = join(pkgDir, chunk)
    const text = readFileSync(file, "utf8")
    const ascii = text.replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
    )
    if (ascii !== text) writeFileSync(file, ascii)
  }

  // The subpath modules: their names from the index's namespace. The index has been evaluated
  // when a facade's body runs (it is imported first), so every name is defined.
  const indexExports = new Set(
    result.metafile.outputs[relative(pkgDir, join(dist, "index.js"))]?.exports ?? []
  )
  let facades = 0
  for (const [file, ns] of namespaces) {
    if (!indexExports.has(ns)) throw new Error(`${pkg.name}: the index does not export ${ns}`)
    const names = await exportNames(join(src, `${file}.ts`), pkgDir)
    const out = join(dist, `${file}.js`)
    const toIndex = relative(dirname(out), join(dist, "index.js")).replace(/^(?!\.)/, "./")
    const lines = [
      `// ${pkg.name}/${file}: the ${ns} module of the package's one bundle (scripts/bundle-dist.mjs)`,
      `import { ${ns} as m } from "${toIndex}"`
    ]
    // `{ a: a$ }` then `export { a$ as a }`: valid for any export name, keywords included
    if (names.length > 0) {
      lines.push(`const { ${names.map((n) => `${n}: ${n}$`).join(", ")} } = m`)
      lines.push(`export { ${names.map((n) => `${n}$ as ${n}`).join(", ")} }`)
    }
    writeFileSync(out, `${lines.join("\n")}\n`)
    facades++
  }
  console.log(
    `bundle-dist: ${pkg.name}: ${chunks.length} file(s) (${chunks
      .map((c) => basename(c))
      .join(", ")}), ${facades} subpath module(s)`
  )
}

/** The runtime export names of one source module (types excluded), as esbuild sees them. */
async function exportNames(file, cwd) {
  const r = await build({
    absWorkingDir: cwd,
    entryPoints: [file],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    packages: "external",
    outdir: "/tmp/bundle-dist-names",
    logLevel: "silent",
    metafile: true
  })
  const entry = Object.values(r.metafile.outputs).find((o) => o.entryPoint !== undefined)
  const names = entry?.exports ?? []
  if (names.includes("default")) throw new Error(`${file}: default exports are not supported`)
  return names
}
