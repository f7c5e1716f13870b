/**
 * Plain-text tables and number formats for reports.
 *
 * @internal
 */

/** A column of `table`. */
export interface Column {
  readonly title: string
  readonly align?: "left" | "right"
}

const pad = (text: string, width: number, align: "left" | "right" | undefined) =>
  align === "right" ? text.padStart(width) : text.padEnd(width)

/**
 * Rows under a header, columns separated by ` | `, a rule under the header and above the
 * footer row; trailing spaces trimmed.
 */
export const table = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  footer?: ReadonlyArray<string>
): string => {
  const all = footer === undefined ? rows : [...rows, footer]
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...all.map((r) => (r[i] ?? "").length))
  )
  const line = (cells: ReadonlyArray<string>) =>
    columns
      .map((c, i) => pad(cells[i] ?? "", widths[i]!, c.align))
      .join(" | ")
      .trimEnd()
  const rule = widths.map((w) => "-".repeat(w)).join("-+-")
  const out = [line(columns.map((c) => c.title)), rule, ...rows.map(line)]
  if (footer !== undefined) out.push(rule, line(footer))
  return out.join("\n")
}

/** A score: two decimals, trailing zeros kept (`0.50`, `1.00`, `12.35`). */
export const formatNumber = (n: number): string =>
  Number.isInteger(n) && Math.abs(n) >= 100 ? String(n) : n.toFixed(2)

/** A share as a percentage (`87.5%`, `100%`). */
export const formatPercent = (share: number): string => {
  const p = Math.round(share * 1000) / 10
  return `${p}%`
}

/** A duration in ms (`12 ms`, `1.5 s` from 1000 ms on). */
export const formatMs = (ms: number): string =>
  ms >= 1000 ? `${(Math.round(ms / 100) / 10).toFixed(1)} s` : `${Math.round(ms)} ms`

/** A signed change in a unit's format (`+0.10`, `-3 ms`, `±0 ms` when it rounds to zero). */
export const formatDelta = (d: number, format: (n: number) => string): string => {
  const text = format(Math.abs(d))
  return text === format(0) ? `±${text}` : d > 0 ? `+${text}` : `-${text}`
}
