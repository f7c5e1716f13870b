/**
 * The HTTP layer of the providers, by concern (this module only re-exports them, for code
 * written against the one-module layout):
 *
 * - `retry.ts` — the retry policy (`RetryPolicy`, `resolveRetry`, `withRetry`)
 * - `request.ts` — one request: build, attempt through the transport, typed errors, `postJson`
 * - `sse.ts` — framing: `SseEvent`, `FrameDecoder`, `makeSseDecoder`, `parseSse`
 * - `streamBody.ts` — `postSse`: the opened streamed body (`StreamBody`) with its limits
 * - `streamDecoder.ts` — the providers' `StreamDecoder` shape and the malformed-event policy
 * - `streamedResponse.ts` — body → frames → decoder → parts manager → part events
 *
 * @internal
 */
export { mergeExtraBody, parseRetryAfter, postJson, type RequestOptions } from "./request.js"
export {
  defaultRetryPolicy,
  isRetryable,
  noRetry,
  type RequestError,
  resolveRetry,
  type RetryPolicy,
  retrySchedule
} from "./retry.js"
export { type FrameDecoder, makeSseDecoder, parseSse, type SseEvent } from "./sse.js"
export { events, postSse, type StreamBody } from "./streamBody.js"
export { streamedResponse } from "./streamedResponse.js"
