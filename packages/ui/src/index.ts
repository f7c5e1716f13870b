/**
 * @agentfx/ui — agent runs streamed to user interfaces: the AI SDK UI message stream
 * (`useChat` of `ai` 6) and AG-UI, as `@effect/platform` HTTP responses, and the reverse
 * (UI messages → agentfx history).
 *
 * @example
 * ```ts
 * import { UiStream } from "@agentfx/ui"
 * const response = UiStream.aiSdkResponse(agent.runStream("Hello"))
 * ```
 *
 * @since 0.1.0
 */
export * as UiStream from "./UiStream.js"
