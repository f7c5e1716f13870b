/**
 * @agentfx/direct — one model request without an agent: Effect, Stream, Promise and
 * AsyncIterable forms.
 *
 * @since 0.1.0
 */
export * as Direct from "./Direct.js"
