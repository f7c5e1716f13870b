#!/usr/bin/env node
// Recounts the summary table of docs/PARITY.md from the status column of every section's rows.
// `node scripts/parity-summary.mjs` prints the counts and exits 1 when the table is stale;
// `--write` rewrites the table.
import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const file = fileURLToPath(new URL("../docs/PARITY.md", import.meta.url))
const text = readFileSync(file, "utf8")
const lines = text.split("\n")

/** The cells of a table row; a `|` inside a code span or escaped (`\\|`) does not split. */
const cells = (line) => {
  const out = []
  let cell = ""
  let code = false
  for (let index = 0; index < line.length; index++) {
    const char = line[index]
    if (char === "\\" && line[index + 1] === "|") {
      cell += "|"
      index++
    } else if (char === "`") {
      code = !code
      cell += char
    } else if (char === "|" && !code) {
      out.push(cell.trim())
      cell = ""
    } else cell += char
  }
  return out.slice(1)
}

/** Sections `## 1.x Title` and `## §2 …`, each with its ✓ / ≈ / ✗ counts. */
const sections = []
let current
let statusColumn = -1
for (const line of lines) {
  const heading = /^## (1\.\d+ .*|§2 .*)$/.exec(line)
  if (heading !== null) {
    current = { title: heading[1], counts: { "✓": 0, "≈": 0, "✗": 0 } }
    sections.push(current)
    statusColumn = -1
    continue
  }
  if (line.startsWith("## ")) current = undefined
  if (current === undefined || !line.startsWith("|")) continue
  const row = cells(line)
  if (statusColumn === -1) {
    statusColumn = row.indexOf("status")
    continue
  }
  if (row.every((cell) => /^-+$/.test(cell))) continue
  const mark = row[statusColumn]?.[0]
  if (mark in current.counts) current.counts[mark]++
  else throw new Error(`no status in ${current.title}: ${line.slice(0, 120)}`)
}

const start = lines.findIndex((line) => line.startsWith("| section | ✓ | ≈ | ✗ |"))
const end = lines.findIndex((line, index) => index > start && line.startsWith("| **total**"))
if (start === -1 || end === -1) throw new Error("summary table not found")

const labelOf = new Map(
  lines.slice(start + 2, end).map((line) => {
    const [label] = cells(line)
    return [label.split(" ")[0], label]
  })
)
const total = { "✓": 0, "≈": 0, "✗": 0 }
const rows = sections.map(({ title, counts }) => {
  for (const mark of Object.keys(total)) total[mark] += counts[mark]
  const label = labelOf.get(title.split(" ")[0]) ?? title
  return `| ${label} | ${counts["✓"]} | ${counts["≈"]} | ${counts["✗"]} |`
})
rows.push(`| **total** | **${total["✓"]}** | **${total["≈"]}** | **${total["✗"]}** |`)

const fresh = [...lines.slice(0, start + 2), ...rows, ...lines.slice(end + 1)].join("\n")
console.log(`${total["✓"]} ✓ / ${total["≈"]} ≈ / ${total["✗"]} ✗`)
if (process.argv.includes("--write")) writeFileSync(file, fresh)
else if (fresh !== text) {
  console.error("docs/PARITY.md: the summary table is stale (run with --write)")
  process.exit(1)
}
