/**
 * @agentfx/output — structured output modes for agentfx: output tools, native and prompted
 * JSON output, text output, output functions, unions and validators, and incremental partial
 * JSON for streamed structured output. Each module is exported as a namespace; pass a spec
 * as `Agent.make({ output })`.
 *
 * @example
 * ```ts
 * import { Agent } from "@agentfx/core"
 * import { ToolOutput } from "@agentfx/output"
 * import { Schema } from "effect"
 *
 * const City = Schema.Struct({ name: Schema.String, country: Schema.String })
 * const agent = Agent.make({ output: ToolOutput.make(City) }) // runs produce a City
 * ```
 *
 * @since 0.1.0
 */
export * as ImageOutput from "./ImageOutput.js"
export * as NativeOutput from "./NativeOutput.js"
export * as Output from "./Output.js"
export * as OutputFunction from "./OutputFunction.js"
export * as PartialJson from "./PartialJson.js"
export * as PromptedOutput from "./PromptedOutput.js"
export * as StructuredDict from "./StructuredDict.js"
export * as TextOutput from "./TextOutput.js"
export * as ToolOutput from "./ToolOutput.js"
