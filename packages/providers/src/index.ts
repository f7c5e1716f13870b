/**
 * @agentfx/providers — real wire-protocol model providers for agentfx, each a Layer providing
 * core's `Model` service over `@effect/platform`'s `HttpClient`.
 *
 * @since 0.1.0
 */
export * as OpenAiClient from "./OpenAiClient.js"
