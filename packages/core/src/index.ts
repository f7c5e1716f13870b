/**
 * @agentfx/core — the kernel and the runtime of agentfx: messages, the `Model` service, tools
 * and toolsets, `Agent` (runs are Effects), usage and limits, typed errors, and the models
 * tests run on (`TestModel`, `FunctionModel`). Each module is exported as a namespace.
 *
 * @example
 * ```ts
 * import { Agent, TestModel } from "@agentfx/core"
 * import { Effect } from "effect"
 *
 * const agent = Agent.make({ instructions: "Be brief." })
 * const program = agent.run("Hello").pipe(Effect.provide(TestModel.layer()))
 * ```
 *
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
export * as AgentComposition from "./AgentComposition.js"
export * as AgentError from "./AgentError.js"
export * as AgentGraph from "./AgentGraph.js"
export * as BuiltinTool from "./BuiltinTool.js"
export * as Capability from "./Capability.js"
export * as CaptureRunMessages from "./CaptureRunMessages.js"
export * as ConcurrencyLimitedModel from "./ConcurrencyLimitedModel.js"
export * as ConcurrencyLimiter from "./ConcurrencyLimiter.js"
export * as Cost from "./Cost.js"
export * as DeferredTools from "./DeferredTools.js"
export * as EmbeddingModel from "./EmbeddingModel.js"
export * as FallbackModel from "./FallbackModel.js"
export * as FunctionModel from "./FunctionModel.js"
export * as HistoryProcessor from "./HistoryProcessor.js"
export * as InstrumentedModel from "./InstrumentedModel.js"
export * as Messages from "./Messages.js"
export * as Model from "./Model.js"
export * as ModelSettings from "./ModelSettings.js"
export * as OutputSpec from "./OutputSpec.js"
export * as PartsManager from "./PartsManager.js"
export * as RunContext from "./RunContext.js"
export * as Telemetry from "./Telemetry.js"
export * as TestEmbeddingModel from "./TestEmbeddingModel.js"
export * as TestModel from "./TestModel.js"
export * as Tool from "./Tool.js"
export * as Toolset from "./Toolset.js"
export * as Usage from "./Usage.js"
export * as WrapperModel from "./WrapperModel.js"
