/**
 * Keeps the configured API key out of the errors a provider returns. Provider error bodies may
 * echo the key: OpenAI's 401 masks it (`sk-proj-****…WXYZ`), a proxy may echo the whole
 * `Authorization` header. Every error made from a response (status errors, transport errors, stream
 * `error` events, undecodable bodies) goes through `redactError` before it leaves the provider
 * layer, so the key never reaches the typed error, `Cause.pretty`, logs or spans.
 *
 * Only failures pay for this: the secrets are collected from the request's headers when an error
 * is made, never on the success path.
 *
 * @internal
 */
import { AgentError } from "@agentfx/core"

/** What a redacted secret is replaced with. */
export const mask = "[REDACTED]"

/** Headers whose values are credentials. */
const secretHeaders = new Set([
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "api-key",
  "x-goog-api-key"
])

/** The credentials in a request: key header values (without their scheme) and a `key` query. */
export const secretsOf = (
  headers: Record<string, string> | undefined,
  url?: string | undefined
): Array<string> => {
  const out: Array<string> = []
  if (headers !== undefined) {
    for (const name in headers) {
      if (!secretHeaders.has(name.toLowerCase())) continue
      const value = headers[name]!.trim()
      out.push(value)
      const bare = value.replace(/^(?:bearer|basic|token)\s+/i, "")
      if (bare !== value) out.push(bare)
    }
  }
  if (url !== undefined) {
    const match = /[?&]key=([^&#]+)/.exec(url)
    if (match !== null) out.push(decodeURIComponent(match[1]!))
  }
  // Longest first, so that `Bearer <key>` is replaced whole before `<key>` alone.
  return out.filter((s) => s.length >= 8).sort((a, b) => b.length - a.length)
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The key's masked echoes: its first three characters or a run of mask characters (`*`, `.`,
 * `…`, `x`), anything key-like, then its last four characters — `sk-proj-****WXYZ`,
 * `sk-...WXYZ`, `****WXYZ` — as one token containing at least one mask character.
 */
const maskedPattern = (secret: string): RegExp =>
  new RegExp(
    `(?<![\\w\\-*.…])(?:${escapeRegExp(secret.slice(0, 3))}|[*.…])[\\w\\-*.…]*${escapeRegExp(secret.slice(-4))}(?![\\w-])`,
    "g"
  )

const hasMaskRun = (token: string) => /\*|\.\.|…/.test(token)

/** `text` with every secret, and every masked form of one, replaced by `[REDACTED]`. */
export const redactText = (text: string, secrets: ReadonlyArray<string>): string => {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(mask)
    if (secret.length >= 12 && !/\s/.test(secret)) {
      out = out.replace(maskedPattern(secret), (token) => (hasMaskRun(token) ? mask : token))
    }
  }
  return out
}

/** A JSON-like value with every string redacted (keys included). */
export const redactValue = (value: unknown, secrets: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return redactText(value, secrets)
  if (value === null || typeof value !== "object") return value
  if (value instanceof Error) return new Error(redactText(value.message, secrets))
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[redactText(k, secrets)] = redactValue(v, secrets)
  return out
}

const textOf = (value: unknown): string => {
  if (value === undefined) return ""
  if (typeof value === "string") return value
  if (value instanceof Error) return value.message
  try {
    return JSON.stringify(value) ?? ""
  } catch {
    return String(value)
  }
}

/** Whether any of these fields holds a secret (or a masked form of one). */
const leaks = (values: ReadonlyArray<unknown>, secrets: ReadonlyArray<string>): boolean =>
  values.some((v) => {
    const text = textOf(v)
    return redactText(text, secrets) !== text
  })

const reasonAndBody = (
  e: { readonly reason: string; readonly body?: string | undefined },
  secrets: ReadonlyArray<string>
) => ({
  reason: redactText(e.reason, secrets),
  ...(e.body !== undefined ? { body: redactText(e.body, secrets) } : {})
})

/**
 * The error with the secrets taken out of its reason, body and cause (same class, same fields);
 * the error itself when it holds none.
 */
export const redactError = <E>(error: E, secrets: ReadonlyArray<string>): E => {
  if (secrets.length === 0) return error
  const e = error as unknown as AgentError.ModelError
  if (e === null || typeof e !== "object") return error
  const fields = e as { reason?: unknown; body?: unknown; cause?: unknown }
  if (!leaks([fields.reason, fields.body, fields.cause], secrets)) return error
  switch (e._tag) {
    case "ModelHTTPError":
      return e.body === undefined
        ? error
        : (new AgentError.ModelHTTPError({ ...e, body: redactValue(e.body, secrets) }) as E)
    case "ModelAPIError":
      return new AgentError.ModelAPIError({
        ...e,
        reason: redactText(e.reason, secrets),
        // `cause` is not enumerable on errors: the spread drops it.
        ...(e.cause !== undefined ? { cause: redactValue(e.cause, secrets) } : {})
      }) as E
    case "UnexpectedModelBehavior":
      return new AgentError.UnexpectedModelBehavior({ ...e, ...reasonAndBody(e, secrets) }) as E
    case "ContentFilterError":
      return new AgentError.ContentFilterError({ ...e, ...reasonAndBody(e, secrets) }) as E
    default:
      return error
  }
}
