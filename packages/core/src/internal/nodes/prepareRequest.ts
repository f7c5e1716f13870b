/**
 * What a `ModelRequestNode` sends, built before the request: the step's tools and output tools
 * (after `prepare` / `prepareOutputTools`), instructions, steering prompts, the history after
 * its processors, the request hooks, the token count against the usage limits, and the request
 * parameters. Also the request that closes a step (`closingRequest`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import { ModelRetry, UserError } from "../../AgentError.js"
import { ModelRequestNode } from "../../AgentGraph.js"
import {
  type ModelMessage,
  ModelRequest,
  type ModelRequestPart,
  type UserContent,
  UserPromptPart
} from "../../Messages.js"
import * as Model from "../../Model.js"
import type * as OutputSpec from "../../OutputSpec.js"
import { RunContext } from "../../RunContext.js"
import type { ToolDefinition } from "../../Tool.js"
import * as Toolset from "../../Toolset.js"
import { RunUsage } from "../../Usage.js"
import { SkipModelRequest, type ModelRequestContext } from "../../Capability.js"
import * as capabilities from "../capabilities.js"
import { countBeforeRequest } from "../countBeforeRequest.js"
import * as historyProcessors from "../historyProcessors.js"
import { instructionsText } from "../instructions.js"
import { makeModelRequest, makeModelRequestParameters, makeUserPromptPart } from "../makers.js"
import type { Run, Prepared } from "../runLoop.js"

/** The function tools of self step (after per-step prepare / filter). */
export function loadTools<A>(
  self: Run<A>
): Effect.Effect<ReadonlyArray<Toolset.ToolsetTool<any, any>>, unknown, unknown> {
  const fixed = self.plan.fixedTools
  const prepare = self.plan.config.hooks?.prepareTools
  if (fixed !== undefined && prepare === undefined) {
    self.st.tools = fixed
    return Effect.succeed(self.config.toolset.fixed!)
  }
  const index = (tools: ReadonlyArray<Toolset.ToolsetTool<any, any>>) => {
    const byName = new Map<string, Toolset.ToolsetTool<any, any>>()
    for (const t of tools) byName.set(t.definition.name, t)
    self.st.tools = byName
    return tools
  }
  return Effect.flatMap(self.makeCtx(), (ctx) => {
    const listed = self.config.toolset.tools(ctx)
    // The capabilities' `prepareTools` hooks see every function tool of the step.
    return Effect.map(
      prepare === undefined
        ? listed
        : Effect.flatMap(listed, (tools) => capabilities.prepareTools(prepare, ctx, tools)),
      index
    )
  })
}

export function outputTools<A>(self: Run<A>): ReadonlyArray<ToolDefinition> {
  const r = self.resolved
  if (r.tools === undefined) r.tools = r.spec.toolDefinitions(self.profile)
  return r.tools
}

/** The output tools offered at self step. */
export function offeredOutputTools<A>(self: Run<A>): ReadonlyArray<ToolDefinition> {
  return self.st.outputOffer?.definitions ?? outputTools(self)
}

/**
 * The `prepareOutputTools` hooks over the output tools, once per step (none: the spec's own,
 * nothing computed).
 */
export function prepareOutputTools<A>(self: Run<A>): Effect.Effect<void, unknown, unknown> {
  const fns = self.plan.config.hooks?.prepareOutputTools
  if (fns === undefined) return Effect.void
  const all = outputTools(self)
  return Effect.flatMap(self.makeCtx(), (ctx) =>
    Effect.map(capabilities.prepareOutputTools(fns, ctx, all), (definitions) => {
      self.st.outputOffer =
        definitions.length === all.length && definitions.every((d, i) => d === all[i])
          ? undefined
          : { definitions, spec: offeredSpec(self.resolved.spec, definitions) }
    })
  )
}

export function outputObjectOf<A>(self: Run<A>): Model.OutputObjectDefinition | undefined {
  const r = self.resolved
  if (r.object === null) r.object = r.spec.outputObject(self.profile)
  return r.object
}

// -- ModelRequestNode ---------------------------------------------------

export function requestInstructions<A>(
  self: Run<A>,
  dynamic: ReadonlyArray<string>
): string | undefined {
  return instructionsText(self.staticInstructions, dynamic, self.resolved.instructions)
}

export function prepareRequest<A>(
  self: Run<A>,
  node: ModelRequestNode
): Effect.Effect<Prepared, unknown, unknown> {
  return Effect.suspend(() => {
    const check = self.resolved.check
    if (check !== undefined) return Effect.fail(check)
    self.st.runStep += 1
    if (self.dynamicInstructions.length === 0) return steerAndPrepare(self, node, [])
    return Effect.flatMap(self.makeCtx(), (ctx) =>
      Effect.flatMap(
        Effect.forEach(self.dynamicInstructions, (i) => Effect.provideService(i, RunContext, ctx)),
        (texts) =>
          steerAndPrepare(
            self,
            node,
            texts.filter((x): x is string => x !== undefined && x !== "")
          )
      )
    )
  })
}

/** A steering prompt as a request part; structured content is validated. */
export function steeringPart(
  prompt: string | ReadonlyArray<UserContent>
): UserPromptPart | UserError {
  if (typeof prompt === "string") return makeUserPromptPart({ content: prompt })
  try {
    return new UserPromptPart({ content: prompt })
  } catch (e) {
    return new UserError({ reason: `Steering message is not valid user content: ${String(e)}` })
  }
}

/**
 * `prepareWith`, after taking what the `steering` queue holds. Taking the prompts
 * and putting them in the history (`prepareWith` appends the request before it returns) is
 * one uninterruptible step: a prompt taken from the queue is never lost.
 */
export function steerAndPrepare<A>(
  self: Run<A>,
  node: ModelRequestNode,
  dynamic: ReadonlyArray<string>
): Effect.Effect<Prepared, unknown, unknown> {
  const steering = self.options.steering
  if (steering === undefined) return prepareWith(self, node, dynamic)
  return Effect.flatten(
    Effect.uninterruptible(
      Effect.map(Queue.takeAll(steering), (items) => {
        for (const item of items) {
          const part = steeringPart(item)
          if (part instanceof UserError) return Effect.fail(part)
          ;(self.steered ??= []).push(part)
        }
        return prepareWith(self, node, dynamic)
      })
    )
  )
}

export function prepareWith<A>(
  self: Run<A>,
  node: ModelRequestNode,
  dynamic: ReadonlyArray<string>
): Effect.Effect<Prepared, unknown, unknown> {
  const st = self.st
  const instructions = requestInstructions(self, dynamic)
  const given = node.request
  const steered = self.steered
  self.steered = undefined
  const request = makeModelRequest({
    parts: steered === undefined ? given.parts : [...given.parts, ...steered],
    ...(instructions !== undefined ? { instructions } : {}),
    runId: self.runId,
    timestamp: new Date(self.clock.unsafeCurrentTimeMillis()),
    conversationId: self.conversationId,
    ...(given.metadata !== undefined ? { metadata: given.metadata } : {})
  })
  self.setMessages(
    node.resend ? [...beforeLastRequest(st.messages), request] : [...st.messages, request]
  )
  const loaded =
    self.plan.config.hooks?.prepareOutputTools === undefined
      ? loadTools(self)
      : Effect.zipLeft(loadTools(self), prepareOutputTools(self))
  return Effect.flatMap(loaded, (tools): Effect.Effect<Prepared, unknown, unknown> => {
    const all = requestParameters(self, tools)
    if (typeof all === "string") {
      return Effect.fail(
        new UserError({ reason: `Tool name conflicts with output tool name: '${all}'` })
      )
    }
    // Deferred tools: the provider loads them, or only the loaded ones go, as ordinary tools.
    const revealed =
      self.profile.supportsToolDeferral === true ? all : Model.revealDeferredTools(st.messages, all)
    // Return schemas: the provider's field, or the end of the tool's description.
    const parameters =
      self.profile.supportsToolReturnSchema === true
        ? revealed
        : Model.describeReturnSchemas(revealed)
    return Effect.flatMap(Ref.get(self.usageRef), (usage) => {
      const before = self.usageLimits.checkBeforeRequest(usage)
      if (Option.isSome(before)) return Effect.fail(self.limitError(before.value))
      if (self.processors.length === 0) {
        return hookedPrepared(self, { messages: st.messages, parameters }, usage)
      }
      // History processors: what they return is sent; the stored history stays whole.
      return Effect.flatMap(
        historyProcessors.apply(self.processors, st.messages, self.ctxWith(usage)),
        (messages) => hookedPrepared(self, { messages, parameters }, usage)
      )
    })
  })
}

/**
 * The prepared request after the `beforeModelRequest` hooks (when there are any): what they
 * return is sent (a history they leave without a request to send is a `UserError`); a skip
 * or a `ModelRetry` is carried to the request node in `Prepared`.
 */
export function hookedPrepared<A>(
  self: Run<A>,
  prep: Prepared,
  usage: RunUsage
): Effect.Effect<Prepared, unknown, unknown> {
  const before = self.plan.config.hooks?.beforeModelRequest
  if (before === undefined) return countedPrepared(self, prep, usage)
  const request: ModelRequestContext = {
    messages: prep.messages,
    modelSettings: self.st.settings,
    parameters: prep.parameters
  }
  return capabilities.beforeModelRequest(before, self.ctxWith(usage), request).pipe(
    Effect.flatMap((out): Effect.Effect<Prepared, unknown> => {
      if (out instanceof SkipModelRequest) return Effect.succeed({ ...prep, skip: out.response })
      const last = out.messages[out.messages.length - 1]
      if (last === undefined || last._tag !== "ModelRequest") {
        return Effect.fail(
          new UserError({
            reason:
              "A beforeModelRequest hook returned messages that do not end with the ModelRequest to send: a request needs a non-empty list of messages ending with a ModelRequest (the run's stored history is unchanged)."
          })
        )
      }
      return countedPrepared(
        self,
        { messages: out.messages, parameters: out.parameters, settings: out.modelSettings },
        usage
      )
    }),
    Effect.catchIf(
      (e): e is ModelRetry => e instanceof ModelRetry,
      (retry) => Effect.succeed({ ...prep, retry })
    )
  )
}

/**
 * The prepared request, after `UsageLimits.countTokensBeforeRequest` (when set) counted what
 * is about to be sent and found it within the token limits.
 */
export function countedPrepared<A>(
  self: Run<A>,
  prep: Prepared,
  usage: RunUsage
): Effect.Effect<Prepared, unknown> {
  if (self.usageLimits.countTokensBeforeRequest !== true) return Effect.succeed(prep)
  return Effect.flatMap(
    countBeforeRequest(
      self.usageLimits,
      self.chatModel,
      usage,
      prep.messages,
      prep.settings ?? self.st.settings,
      prep.parameters
    ),
    (v) => (Option.isSome(v) ? Effect.fail(self.limitError(v.value)) : Effect.succeed(prep))
  )
}

/** The request parameters for these function tools, or the name of a conflicting tool. */
export function requestParameters<A>(
  self: Run<A>,
  tools: ReadonlyArray<Toolset.ToolsetTool<any, any>>
): Model.ModelRequestParameters | string {
  const resolved = self.resolved
  const fixed =
    self.plan.fixedTools !== undefined &&
    !self.runBuiltinTools &&
    self.plan.config.hooks?.prepareTools === undefined &&
    self.plan.config.hooks?.prepareOutputTools === undefined
  if (fixed && resolved.parameters !== undefined) return resolved.parameters
  const outputTools = offeredOutputTools(self)
  for (const t of outputTools) {
    if (self.st.tools.has(t.name)) return t.name
  }
  const outputObject = outputObjectOf(self)
  const spec = self.output
  const parameters = makeModelRequestParameters({
    functionTools: tools.map((t) => t.definition),
    outputTools,
    outputMode: spec.mode,
    ...(outputObject !== undefined ? { outputObject } : {}),
    allowTextOutput: spec.allowTextOutput,
    allowImageOutput: spec.allowImageOutput === true,
    builtinTools: self.builtinTools
  })
  if (fixed) resolved.parameters = parameters
  return parameters
}

/** A request holding the last tool results of a run that ends (never sent to the model). */
export function closingRequest<A>(
  self: Run<A>,
  parts: ReadonlyArray<ModelRequestPart>
): ModelRequest {
  return makeModelRequest({
    parts,
    runId: self.runId,
    timestamp: new Date(self.clock.unsafeCurrentTimeMillis()),
    conversationId: self.conversationId
  })
}

/**
 * The history before its last request: a re-sent request (`ModelRequestNode.resend`) replaces
 * it and what followed it (the response a failed stream left incomplete).
 */
export const beforeLastRequest = (
  messages: ReadonlyArray<ModelMessage>
): ReadonlyArray<ModelMessage> => {
  let i = messages.length - 1
  while (i >= 0 && messages[i]!._tag !== "ModelRequest") i--
  return i < 0 ? messages : messages.slice(0, i)
}

/**
 * `spec` with only these output tools: a call of another of its output tools is an unknown
 * tool call (what the model gets for a hidden one), everything else as `spec` does it.
 */
export const offeredSpec = (
  spec: OutputSpec.Any,
  definitions: ReadonlyArray<ToolDefinition>
): OutputSpec.Any => {
  const names = new Set(definitions.map((d) => d.name))
  const offered: OutputSpec.Any = Object.create(spec)
  Object.defineProperty(offered, "isOutputTool", {
    value: (name: string) => names.has(name) && spec.isOutputTool(name)
  })
  return offered
}
