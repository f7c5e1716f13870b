/**
 * Builders of the specs of each mode, shared by the public modules and `Output.union`:
 * `toolSpec` for output tools, `jsonSpec` for native / prompted JSON text.
 *
 * @internal
 */
import { ModelRetry, UserError } from "@agentfx/core/AgentError"
import type { ToolCallPart } from "@agentfx/core/Messages"
import { type ModelProfile, OutputObjectDefinition } from "@agentfx/core/Model"
import * as OutputSpec from "@agentfx/core/OutputSpec"
import { ToolDefinition } from "@agentfx/core/Tool"
import type * as Tool from "@agentfx/core/Tool"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Target } from "../Output.js"
import {
  combineDescription,
  type Decoders,
  decoders,
  dedupe,
  defaultDescription,
  type Entry,
  incrementalParser,
  jsonStart,
  makeEntry,
  objectJsonSchema,
  sanitize,
  stripFences,
  textNotAllowed,
  transformSchema
} from "./target.js"

/** One output tool before naming. */
export interface ToolConfig {
  readonly entry: Entry
  readonly strict: boolean | undefined
  readonly maxRetries: number | undefined
}

/** Marks the specs `Output.union` can take apart and put together again. */
export const ToolConfigsId: unique symbol = Symbol.for("@agentfx/output/ToolConfigs")

/** A tool-mode spec built here: it remembers its tools and its text alternative. */
export interface ToolSpec<A, R> extends OutputSpec.OutputSpec<A, R> {
  readonly [ToolConfigsId]: {
    readonly tools: ReadonlyArray<ToolConfig>
    readonly text: OutputSpec.OutputSpec<any, any> | undefined
  }
}

/** Is this one of our tool specs? */
export const isToolSpec = (u: OutputSpec.Any): u is ToolSpec<any, any> => ToolConfigsId in u

const cachedByProfile = <A>(f: (profile: ModelProfile) => A) => {
  const cache = new WeakMap<ModelProfile, A>()
  return (profile: ModelProfile): A => {
    let v = cache.get(profile)
    if (v === undefined) {
      v = f(profile)
      cache.set(profile, v)
    }
    return v
  }
}

/**
 * `f` applied to a spec and, for an auto spec, to every spec it resolves to (so what `f` adds
 * holds whichever mode the model's profile picks).
 */
export const mapModes = <A, R, B, R2>(
  spec: OutputSpec.OutputSpec<A, R>,
  f: (spec: OutputSpec.OutputSpec<A, R>) => OutputSpec.OutputSpec<B, R2>
): OutputSpec.OutputSpec<B, R2> => {
  if (spec.resolve === undefined) return f(spec)
  const resolve = spec.resolve
  const { resolve: _, ...rest } = spec
  return { ...f(rest as OutputSpec.OutputSpec<A, R>), resolve: (profile) => f(resolve(profile)) }
}

/** Builds a tool-mode spec: one output tool per config, optional plain text alongside. */
export const toolSpec = (
  tools: ReadonlyArray<ToolConfig>,
  text: OutputSpec.OutputSpec<any, any> | undefined
): ToolSpec<any, any> => {
  if (tools.length === 0)
    throw new UserError({ reason: "An output needs at least one output tool." })
  const several = tools.length > 1
  const names = dedupe(
    tools.map(
      ({ entry }) =>
        entry.name ?? (several ? `final_result_${sanitize(entry.typeName)}` : "final_result")
    )
  )
  const items = tools.map((config, i) => ({
    config,
    name: names[i],
    description:
      combineDescription(config.entry) ??
      (several ? `${config.entry.typeName}: ${defaultDescription}` : defaultDescription),
    decoders: decoders(config.entry.objectSchema)
  }))
  const byName = new Map(items.map((item) => [item.name, item]))
  const definitions = cachedByProfile((profile) =>
    items.map(
      (item) =>
        new ToolDefinition(
          {
            name: item.name,
            description: item.description,
            parametersJsonSchema: transformSchema(
              profile,
              item.config.entry.jsonSchema,
              item.config.strict
            ),
            ...(item.config.strict !== undefined ? { strict: item.config.strict } : {}),
            kind: "output",
            sequential: false
          },
          true
        )
    )
  )
  const retries = tools.flatMap((t) => (t.maxRetries === undefined ? [] : [t.maxRetries]))
  const parse = incrementalParser()
  const handleToolCall = (call: ToolCallPart, options: OutputSpec.HandleOptions) => {
    const item = byName.get(call.toolName)
    if (item === undefined) {
      return Effect.fail(
        new ModelRetry({
          reason: `Unknown tool name: '${call.toolName}'. Available tools: ${names.map((n) => `'${n}'`).join(", ")}`
        })
      )
    }
    const decoded = options.partial
      ? item.decoders.partial(
          typeof call.args === "string"
            ? parse(`${call.toolCallId}\u0000${call.toolName}`, call.args)
            : call.args
        )
      : item.decoders.full(call.args)
    const out = Effect.flatMap(decoded, item.config.entry.finish)
    // snapshots are decoded per delta batch: no span for them
    return options.partial
      ? out
      : Effect.withSpan(out, "Output.handleToolCall", {
          attributes: { "gen_ai.tool.name": call.toolName, "agentfx.output.mode": "tool" }
        })
  }
  return {
    ...OutputSpec.make<any, any>({
      mode: "tool",
      allowTextOutput: text !== undefined,
      toolDefinitions: definitions,
      isOutputTool: (name) => byName.has(name),
      maxRetries: retries.length === 0 ? undefined : Math.max(...retries),
      // each output tool keeps its own budget inside a union; the global one (above) still counts
      maxRetriesFor: (name) => byName.get(name)?.config.maxRetries,
      handleText: text !== undefined ? text.handleText : () => textNotAllowed,
      handleToolCall
    }),
    check: (profile: ModelProfile) =>
      profile.supportsTools
        ? undefined
        : new UserError({ reason: "Tool output is not supported by this model." }),
    [ToolConfigsId]: { tools, text }
  }
}

/** Options of the JSON (native / prompted) modes. */
export interface JsonOptions {
  readonly name?: string | undefined
  readonly description?: string | undefined
  readonly strict?: boolean | undefined
}

/** What the model answers in JSON modes, and how it becomes the output. */
interface JsonTarget {
  readonly jsonSchema: Tool.JsonSchema
  readonly name: string | undefined
  readonly description: string | undefined
  readonly decoders: Decoders
  readonly finish: (value: any) => Effect.Effect<any, ModelRetry, any>
}

/**
 * One entry answers with its own object; several answer `{ result: { kind, data } }` with
 * `kind` naming the member, so decoding picks the right one.
 */
export const jsonTarget = (entries: ReadonlyArray<Entry>, options: JsonOptions): JsonTarget => {
  if (entries.length === 0) throw new UserError({ reason: "An output needs at least one schema." })
  if (entries.length === 1) {
    const entry = entries[0]
    return {
      jsonSchema: entry.jsonSchema,
      name:
        options.name ?? entry.name ?? (entry.typeName === "Output" ? undefined : entry.typeName),
      description: options.description ?? combineDescription(entry),
      decoders: decoders(entry.objectSchema),
      finish: entry.finish
    }
  }
  const kinds = dedupe(entries.map((e) => e.name ?? e.typeName))
  const finishByKind = new Map(kinds.map((k, i) => [k, entries[i].finish]))
  const members = entries.map((e, i) => {
    const description = combineDescription(e)
    return Schema.Struct({ kind: Schema.Literal(kinds[i]), data: e.objectSchema }).annotations({
      title: kinds[i],
      ...(description !== undefined ? { description } : {})
    })
  })
  const schema = Schema.Struct({ result: Schema.Union(...members) })
  const jsonSchema = objectJsonSchema(schema)
  return {
    jsonSchema,
    name: options.name,
    description: options.description,
    decoders: decoders(schema),
    finish: (value: { result: { kind: string; data: unknown } }) =>
      finishByKind.get(value.result.kind)!(value.result.data)
  }
}

/** Builds a native or prompted spec. */
export const jsonSpec = (
  mode: "native" | "prompted",
  target: JsonTarget,
  options: JsonOptions & { readonly template?: string | undefined }
): OutputSpec.OutputSpec<any, any> => {
  const strict = options.strict
  const definition = (jsonSchema: Tool.JsonSchema) =>
    new OutputObjectDefinition(
      {
        jsonSchema,
        ...(target.name !== undefined ? { name: target.name } : {}),
        ...(target.description !== undefined ? { description: target.description } : {}),
        ...(strict !== undefined ? { strict } : {})
      },
      true
    )
  const outputObject =
    mode === "native"
      ? cachedByProfile((profile) =>
          definition(transformSchema(profile, target.jsonSchema, strict))
        )
      : (() => {
          const d = definition(target.jsonSchema)
          return () => d
        })()
  const promptSchema = JSON.stringify({
    ...(target.name !== undefined ? { title: target.name } : {}),
    ...target.jsonSchema,
    ...(target.description !== undefined ? { description: target.description } : {})
  })
  const instructions =
    mode === "prompted"
      ? (profile: ModelProfile) => {
          const template = options.template ?? profile.promptedOutputTemplate
          return template.includes("{schema}")
            ? template.split("{schema}").join(promptSchema)
            : `${template}\n\n${promptSchema}`
        }
      : () => undefined
  const parse = incrementalParser()
  const handleText = (text: string, options: OutputSpec.HandleOptions) => {
    const decoded = options.partial
      ? target.decoders.partial(parse("text", text.slice(jsonStart(text))))
      : target.decoders.full(stripFences(text))
    const out = Effect.flatMap(decoded, target.finish)
    return options.partial
      ? out
      : Effect.withSpan(out, "Output.handleText", { attributes: { "agentfx.output.mode": mode } })
  }
  return {
    ...OutputSpec.make<any, any>({
      mode,
      allowTextOutput: true,
      outputObject,
      instructions,
      handleText,
      handleToolCall: (call) =>
        Effect.fail(
          new ModelRetry({
            reason: `Unknown tool name: '${call.toolName}'. No tools available.`
          })
        )
    }),
    check:
      mode === "native"
        ? (profile: ModelProfile) =>
            profile.supportsJsonSchemaOutput
              ? undefined
              : new UserError({
                  reason: "Native structured output is not supported by this model."
                })
        : () => undefined
  }
}

/** `NativeOutput.make` / `PromptedOutput.make`: one or several targets as a JSON-mode spec. */
export const jsonOutput = (
  mode: "native" | "prompted",
  target: Target | ReadonlyArray<Target>,
  options: JsonOptions & { readonly template?: string | undefined }
): OutputSpec.OutputSpec<any, any> => {
  const targets: ReadonlyArray<Target> = Array.isArray(target) ? target : [target as Target]
  return jsonSpec(
    mode,
    jsonTarget(
      targets.map((t) => makeEntry(t, {})),
      options
    ),
    options
  )
}
