/**
 * Thinking inlined in a model's text between tags (`<think>…</think>`: Qwen, DeepSeek-R1 and
 * other open models behind OpenAI-compatible servers), told apart from the answer: whole texts
 * are split at once (`split`); streamed texts piece by piece (`TagSplitter`), where a tag may
 * be cut anywhere between two chunks. pydantic-ai's `thinking_tags`.
 *
 * @internal
 */

/** The opening and closing tag, e.g. `["<think>", "</think>"]`. */
export type ThinkingTags = readonly [open: string, close: string]

/** A run of text or thinking, in order. */
export interface Segment {
  readonly kind: "text" | "thinking"
  readonly content: string
}

/**
 * Splits a whole text: what lies between the tags is thinking, the rest text (raw, whitespace
 * kept). An opening tag without a closing one makes the rest text (the tag dropped), as in
 * pydantic-ai. Empty runs are left out.
 */
export const split = (content: string, [open, close]: ThinkingTags): Array<Segment> => {
  const out: Array<Segment> = []
  let rest = content
  let start = rest.indexOf(open)
  while (start >= 0) {
    if (start > 0) out.push({ kind: "text", content: rest.slice(0, start) })
    rest = rest.slice(start + open.length)
    const end = rest.indexOf(close)
    if (end < 0) {
      if (rest !== "") out.push({ kind: "text", content: rest })
      return out
    }
    if (end > 0) out.push({ kind: "thinking", content: rest.slice(0, end) })
    rest = rest.slice(end + close.length)
    start = rest.indexOf(open)
  }
  if (rest !== "") out.push({ kind: "text", content: rest })
  return out
}

/** How much of the end of `text` could be the beginning of `tag` (a tag cut by a chunk end). */
const heldBack = (text: string, tag: string): number => {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) {
    if (tag.startsWith(text.slice(text.length - n))) return n
  }
  return 0
}

/**
 * Splits streamed text. `push` takes the next chunk and returns the runs it completes; the
 * end of a chunk that may be the start of a tag is held back until the next chunk tells.
 * `flush` returns what is held back at the end of the stream. Each run carries the index of
 * the block it belongs to (a new block starts at every tag), so callers can open a new part
 * per block.
 */
export class TagSplitter {
  private inThinking = false
  private pending = ""
  /** The block being written: 0 for the text before the first tag, +1 at every tag. */
  block = 0
  constructor(private readonly tags: ThinkingTags) {}

  push(chunk: string): Array<Segment & { readonly block: number }> {
    const out: Array<Segment & { readonly block: number }> = []
    let text = this.pending + chunk
    this.pending = ""
    for (;;) {
      const tag = this.inThinking ? this.tags[1] : this.tags[0]
      const at = text.indexOf(tag)
      if (at < 0) {
        const keep = heldBack(text, tag)
        const emit = text.slice(0, text.length - keep)
        if (emit !== "") out.push({ kind: this.kind(), content: emit, block: this.block })
        this.pending = text.slice(text.length - keep)
        return out
      }
      if (at > 0) out.push({ kind: this.kind(), content: text.slice(0, at), block: this.block })
      text = text.slice(at + tag.length)
      this.inThinking = !this.inThinking
      this.block += 1
    }
  }

  /** The text held back at the end of the stream (a partial tag is plain content). */
  flush(): Array<Segment & { readonly block: number }> {
    const rest = this.pending
    this.pending = ""
    return rest === "" ? [] : [{ kind: this.kind(), content: rest, block: this.block }]
  }

  private kind(): Segment["kind"] {
    return this.inThinking ? "thinking" : "text"
  }
}

/** A thinking part's text as sent back inside the tags (pydantic-ai's form). */
export const wrap = (content: string, [open, close]: ThinkingTags): string =>
  `${open}\n${content}\n${close}`
