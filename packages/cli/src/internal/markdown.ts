/**
 * Markdown → ANSI for a terminal, streamed: text is pushed in arbitrary pieces and styled as it
 * arrives (headings bold and underlined, `**bold**`, `*italic*`, `` `code` `` and fenced code
 * blocks in colour, bullets as •, quotes dimmed). The only text held back is what cannot be
 * decided yet: the markers at the start of a line and a `*` that may be the first of `**`. The
 * output is the same however the text is split.
 */
const ESC = "\x1b["

const styles = new RegExp(`${ESC.replace("[", "\\[")}[0-9;]*m`, "g")

/** The text without its ANSI styles (what a reader sees). */
export const stripStyles = (text: string): string => text.replace(styles, "")

/** Markers a line may start with, while they are still incomplete. */
const undecided = /^(#{1,6}|`{1,3}|>|[-*+]|[ ]{1,3})$/

export class MarkdownRenderer {
  private atLineStart = true
  private lineBuffer = ""
  private codeBlock = false
  private fenceLine = false
  private heading = false
  private quote = false
  private bold = false
  private italic = false
  private code = false
  private star = false

  /** Styles a piece of text; returns what can be written now. */
  push(text: string): string {
    let out = ""
    for (const c of text) out += this.char(c)
    return out
  }

  /** Writes what is held back and resets the styles. */
  end(): string {
    let out = ""
    if (this.atLineStart && this.lineBuffer !== "") out += this.resolveLine()
    out += this.flushStar()
    const styled = this.styled
    this.reset()
    this.codeBlock = false
    this.atLineStart = true
    return styled ? `${out}${ESC}0m` : out
  }

  /** Whether a style is on (a reset is due at the end of the line). */
  private get styled(): boolean {
    return (
      this.bold ||
      this.italic ||
      this.code ||
      this.heading ||
      this.quote ||
      this.fenceLine ||
      this.codeBlock
    )
  }

  private reset(): void {
    this.bold = false
    this.italic = false
    this.code = false
    this.heading = false
    this.quote = false
    this.fenceLine = false
    this.star = false
  }

  /** The escape sequence of the current style (after a reset). */
  private style(): string {
    const codes: Array<string> = []
    if (this.codeBlock || this.fenceLine || this.code) codes.push("36")
    if (this.fenceLine || this.quote) codes.push("2")
    if (this.heading || this.bold) codes.push("1")
    if (this.heading) codes.push("4")
    if (this.italic) codes.push("3")
    return `${ESC}0m${codes.length > 0 ? `${ESC}${codes.join(";")}m` : ""}`
  }

  private char(c: string): string {
    if (this.atLineStart) {
      if (c === "\n") return this.resolveLine() + this.newline()
      this.lineBuffer += c
      if (!this.codeBlock && undecided.test(this.lineBuffer)) return ""
      if (this.codeBlock && /^`{1,3}$/.test(this.lineBuffer)) return ""
      return this.resolveLine()
    }
    if (c === "\n") return this.flushStar() + this.newline()
    return this.inline(c)
  }

  private newline(): string {
    const styled = this.styled
    this.reset()
    this.atLineStart = true
    return styled ? `${ESC}0m\n` : "\n"
  }

  /** Decides what the buffered start of a line is, and writes it. */
  private resolveLine(): string {
    const buffer = this.lineBuffer
    this.lineBuffer = ""
    this.atLineStart = false
    if (buffer.startsWith("```")) {
      this.codeBlock = !this.codeBlock
      this.fenceLine = true
      return this.style() + buffer
    }
    if (this.codeBlock) return this.style() + buffer
    const heading = /^#{1,6} $/.exec(buffer)
    if (heading !== null) {
      this.heading = true
      return this.style()
    }
    if (/^[-*+] $/.test(buffer)) return "• "
    if (buffer === "> " || buffer === ">") {
      this.quote = true
      return `${this.style()}│ `
    }
    let out = ""
    for (const c of buffer) out += c === "\n" ? "" : this.inline(c)
    return out
  }

  private flushStar(): string {
    if (!this.star) return ""
    this.star = false
    return "*"
  }

  private inline(c: string): string {
    if (this.codeBlock || this.fenceLine) return c
    if (this.code) {
      if (c !== "`") return c
      this.code = false
      return this.style()
    }
    if (this.star) {
      this.star = false
      if (c === "*") {
        this.bold = !this.bold
        return this.style()
      }
      // "a * b" is not emphasis: a star followed by a space only closes an open italic
      if (c === " " && !this.italic) return `* `
      this.italic = !this.italic
      return this.style() + this.inline(c)
    }
    if (c === "*") {
      this.star = true
      return ""
    }
    if (c === "`") {
      this.code = true
      return this.style()
    }
    return c
  }
}
