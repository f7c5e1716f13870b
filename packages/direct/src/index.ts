/**
 * @agentfx/direct — one model request without an agent: Effect, Stream, Promise and
 * AsyncIterable forms.
 *
 * @example
 * ```ts
 * import { TestModel } from "@agentfx/core"
 * import { Direct } from "@agentfx/direct"
 *
 * const response = await Direct.modelRequestPromise(TestModel.layer(), "Hello")
 * console.log(response.text)
 * ```
 *
 * @since 0.1.0
 */
export * as Direct from "./Direct.js"
