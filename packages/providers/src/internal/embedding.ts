/**
 * What the embedders share: decoding vectors (JSON number arrays or base64 little-endian
 * float32), the "malformed response" error, and stripping `undefined` fields from bodies.
 *
 * @internal
 */
import { AgentError, type EmbeddingModel } from "@agentfx/core"
import * as Effect from "effect/Effect"

/** A response the embedder cannot read. */
export const malformed = (provider: string, modelName: string, what: string) =>
  new AgentError.UnexpectedModelBehavior({
    reason: `Malformed ${provider} embeddings response for ${modelName}: ${what}`
  })

/** Whether `v` is an array of finite numbers. */
export const isVector = (v: unknown): v is Array<number> =>
  Array.isArray(v) && v.every((x) => typeof x === "number" && Number.isFinite(x))

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * A base64 string of little-endian float32 values (OpenAI's and Voyage's
 * `encoding_format: "base64"`) as numbers; `undefined` when it is not one. A quarter of the
 * bytes of the JSON numbers on the wire, and no float parsing.
 */
export const decodeBase64Floats = (s: string): Array<number> | undefined => {
  if (s.length % 4 !== 0 || !BASE64.test(s)) return undefined
  const binary = atob(s)
  if (binary.length % 4 !== 0) return undefined
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  const view = new DataView(bytes.buffer)
  const out = new Array<number>(bytes.length / 4)
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true)
  return out
}

/** A plain object or `undefined`. */
export const record = (u: unknown): Record<string, unknown> | undefined =>
  u !== null && typeof u === "object" && !Array.isArray(u)
    ? (u as Record<string, unknown>)
    : undefined

/** `n` when it is a finite number, else `undefined`. */
export const num = (n: unknown): number | undefined =>
  typeof n === "number" && Number.isFinite(n) ? n : undefined

/** A pure decoder's answer as an Effect (what the clients' `postJson` take). */
export const decoded =
  (decode: (json: unknown) => EmbeddingModel.BatchResult | AgentError.UnexpectedModelBehavior) =>
  (
    json: unknown
  ): Effect.Effect<EmbeddingModel.BatchResult, AgentError.UnexpectedModelBehavior> => {
    const r = decode(json)
    return r instanceof AgentError.UnexpectedModelBehavior ? Effect.fail(r) : Effect.succeed(r)
  }
