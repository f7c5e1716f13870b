/**
 * What every structured mode shares: turning a Schema or an output function into an
 * "entry" (object schema for the model, full and partial decoders, post-processing), JSON
 * Schema cleanup, partial schemas, fence stripping and incremental partial parsing.
 *
 * @internal
 */
import { ModelRetry } from "@agentfx/core/AgentError"
import type { ToolArgs } from "@agentfx/core/Messages"
import type { ModelProfile } from "@agentfx/core/Model"
import * as Tool from "@agentfx/core/Tool"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import * as OutputFunction from "../OutputFunction.js"
import * as PartialJson from "../PartialJson.js"

/** A Schema or an output function: something the model can produce an output through. */
export type Target = Schema.Schema<any, any, never> | OutputFunction.Any

/** The default output tool description. */
export const defaultDescription = "The final response which ends this conversation"

/** One possible output, ready to be offered to the model and decoded. */
export interface Entry {
  /** Name given by the user (tool name / union `kind`). */
  readonly name: string | undefined
  /** Name derived from the schema identifier or the function name. */
  readonly typeName: string
  /** Description from the user, the function or the schema's `description` annotation. */
  readonly description: string | undefined
  /** The user-given description (to combine with the schema's own). */
  readonly givenDescription: string | undefined
  /** What the model produces: an object schema (wrapped as `{ response }` when needed). */
  readonly objectSchema: Schema.Schema<any, any, never>
  /** The JSON Schema of `objectSchema`: an object, top-level `$ref` inlined, no title. */
  readonly jsonSchema: Tool.JsonSchema
  /** Turns a decoded object into the output (unwraps, calls the function). */
  readonly finish: (value: any) => Effect.Effect<any, ModelRetry, any>
}

const identifierOf = (ast: AST.AST): string | undefined => {
  const own = Option.getOrUndefined(
    Option.orElse(AST.getIdentifierAnnotation(ast), () => AST.getTitleAnnotation(ast))
  )
  if (own !== undefined) return own
  if (AST.isTransformation(ast)) return identifierOf(ast.to)
  if (AST.isRefinement(ast)) return identifierOf(ast.from)
  return undefined
}

/** `null` / `undefined` / `void`: "no output" (pydantic-ai's `None`). */
export const isNone = (ast: AST.AST): boolean =>
  (AST.isLiteral(ast) && ast.literal === null) ||
  AST.isUndefinedKeyword(ast) ||
  AST.isVoidKeyword(ast)

/**
 * A nullable union target (`Schema.NullOr(X)`, `Schema.Union(X, Y, Schema.Null)`) split into
 * its other members and `Schema.Null`, so tool mode offers one tool each, the "no output" one
 * named `final_result_NoneType` as in pydantic-ai. Other targets are kept as they are.
 */
export const splitNone = (target: Target): ReadonlyArray<Target> => {
  if (OutputFunction.isOutputFunction(target)) return [target]
  const ast = (target as Schema.Schema<any, any, never>).ast
  if (!AST.isUnion(ast) || !ast.types.some(isNone)) return [target]
  const rest = ast.types.filter((t) => !isNone(t))
  if (rest.length === 0) return [Schema.Null]
  const some = rest.length === 1 ? rest[0]! : AST.Union.make(rest)
  return [Schema.make(some) as Schema.Schema<any, any, never>, Schema.Null]
}

const descriptionOf = (ast: AST.AST): string | undefined => {
  const own = Option.getOrUndefined(AST.getDescriptionAnnotation(ast))
  if (own !== undefined) return own
  if (AST.isTransformation(ast)) return descriptionOf(ast.to)
  return undefined
}

/**
 * JSON Schema for an output object: `$schema` and the top-level `title` dropped, a top-level
 * `$ref` (what `Schema.Class` and identified schemas produce) inlined.
 */
export const objectJsonSchema = (schema: Schema.Schema.Any): Tool.JsonSchema => {
  let js: Tool.JsonSchema = Tool.jsonSchema(schema, "Output schema", "field")
  const ref = js.$ref
  const defs = js.$defs as Record<string, Tool.JsonSchema> | undefined
  if (typeof ref === "string" && ref.startsWith("#/$defs/") && defs !== undefined) {
    const name = ref.slice("#/$defs/".length)
    const target = defs[name]
    if (target !== undefined) {
      const { $ref: _r, $defs: _d, ...siblings } = js
      const { [name]: _self, ...otherDefs } = defs
      // a recursive schema still refers to itself: keep its definition
      const stillUsed = JSON.stringify([target, otherDefs]).includes(`"${ref}"`)
      const keptDefs = stillUsed ? defs : otherDefs
      js = {
        ...target,
        ...siblings,
        ...(Object.keys(keptDefs).length > 0 ? { $defs: keptDefs } : {})
      }
    }
  }
  const { title: _title, ...rest } = js
  return rest
}

const isObjectJsonSchema = (js: Tool.JsonSchema): boolean => js.type === "object"

const succeed = Effect.succeed

/** Builds the entry of a Schema or an output function. */
export const makeEntry = (
  target: Target,
  options: { readonly name?: string | undefined; readonly description?: string | undefined }
): Entry => {
  const fn = OutputFunction.isOutputFunction(target) ? target : undefined
  const schema = fn !== undefined ? fn.parameters : (target as Schema.Schema<any, any, never>)
  const ownJs = objectJsonSchema(schema)
  const wrapped = !isObjectJsonSchema(ownJs)
  const objectSchema: Schema.Schema<any, any, never> = wrapped
    ? Schema.Struct({ response: schema })
    : schema
  const jsonSchema = wrapped ? objectJsonSchema(objectSchema) : ownJs
  const ownDescription = fn !== undefined ? fn.description : descriptionOf(schema.ast)
  const unwrap = wrapped ? (value: any) => value.response : (value: any) => value
  return {
    name: options.name,
    typeName:
      fn !== undefined
        ? fn.name
        : isNone(schema.ast)
          ? "NoneType"
          : (identifierOf(schema.ast) ?? "Output"),
    description: ownDescription,
    givenDescription: options.description,
    objectSchema,
    jsonSchema,
    finish:
      fn !== undefined
        ? (value) => fn.handler(unwrap(value))
        : wrapped
          ? (value) => succeed(value.response)
          : succeed
  }
}

/** Makes a name safe for a tool name. */
export const sanitize = (name: string): string => name.replace(/[^a-zA-Z0-9_-]/g, "_")

/** Gives each name a unique spelling: clashes get `_2`, `_3`… */
export const dedupe = (names: ReadonlyArray<string>): Array<string> => {
  const seen = new Set<string>()
  return names.map((n) => {
    let name = n
    let i = 2
    while (seen.has(name)) name = `${n}_${i++}`
    seen.add(name)
    return name
  })
}

/** The description of an entry: `"{given}. {own}"`, or one of them, or none. */
export const combineDescription = (entry: Entry): string | undefined =>
  entry.givenDescription !== undefined && entry.description !== undefined
    ? `${entry.givenDescription}. ${entry.description}`
    : (entry.givenDescription ?? entry.description)

/** Applies the profile's JSON Schema transformer. */
export const transformSchema = (
  profile: ModelProfile,
  js: Tool.JsonSchema,
  strict: boolean | undefined
): Tool.JsonSchema =>
  profile.jsonSchemaTransformer === undefined
    ? js
    : profile.jsonSchemaTransformer(js, strict === undefined ? {} : { strict }).schema

// ---------------------------------------------------------------------------
// Partial schemas
// ---------------------------------------------------------------------------

const partialCache = new WeakMap<AST.AST, AST.AST>()

/**
 * The partial form of a schema, for streamed snapshots: every property and tuple element
 * optional (recursively), refinements dropped (a half-written string may not pass
 * `minLength` yet). Transformations, declarations (classes, dates…) and literals are kept,
 * so a snapshot decodes to the same shapes as the final value.
 */
export const partialAst = (ast: AST.AST): AST.AST => {
  const cached = partialCache.get(ast)
  if (cached !== undefined) return cached
  let out: AST.AST
  switch (ast._tag) {
    case "TypeLiteral":
      out = new AST.TypeLiteral(
        ast.propertySignatures.map(
          (p) =>
            new AST.PropertySignature(p.name, partialAst(p.type), true, p.isReadonly, p.annotations)
        ),
        ast.indexSignatures.map(
          (i) => new AST.IndexSignature(i.parameter, partialAst(i.type), i.isReadonly)
        ),
        ast.annotations
      )
      break
    case "TupleType":
      out = new AST.TupleType(
        ast.elements.map((e) => new AST.OptionalType(partialAst(e.type), true, e.annotations)),
        ast.rest.map((r) => new AST.Type(partialAst(r.type), r.annotations)),
        ast.isReadonly,
        ast.annotations
      )
      break
    case "Union":
      out = AST.Union.make(ast.types.map(partialAst), ast.annotations)
      break
    case "Refinement":
      out = partialAst(ast.from)
      break
    case "Suspend": {
      const f = ast.f
      out = new AST.Suspend(() => partialAst(f()), ast.annotations)
      break
    }
    case "Transformation":
      out = new AST.Transformation(
        partialAst(ast.from),
        partialAst(ast.to),
        ast.transformation,
        ast.annotations
      )
      break
    default:
      out = ast
  }
  partialCache.set(ast, out)
  return out
}

/** Decoders of one object schema: full (issues go back to the model) and partial (lenient). */
export interface Decoders {
  readonly full: (args: ToolArgs) => Effect.Effect<any, ModelRetry>
  readonly partial: (value: unknown) => Effect.Effect<any, ModelRetry>
}

const partialFailure = new ModelRetry({ reason: "Partial output does not decode yet" })

/** Full and partial decoders of a schema. */
export const decoders = (schema: Schema.Schema<any, any, never>): Decoders => {
  let partialDecode: ((u: unknown) => Effect.Effect<any, ParseResult.ParseError>) | undefined
  return {
    full: Tool.decodeWith(schema),
    partial: (value) => {
      if (partialDecode === undefined) {
        partialDecode = ParseResult.decodeUnknown(Schema.make(partialAst(schema.ast)), {
          onExcessProperty: "ignore"
        }) as any
      }
      return Effect.mapError(partialDecode!(value), () => partialFailure)
    }
  }
}

// ---------------------------------------------------------------------------
// Text and partial JSON
// ---------------------------------------------------------------------------

const fenceRe = /```(?:[\w-]+)?[ \t]*\r?\n([\s\S]*?)\r?\n?[ \t]*```/

/** JSON from model text: a markdown fence around it is dropped (pydantic-ai's tolerance). */
export const stripFences = (text: string): string => {
  const trimmed = text.trim()
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) return trimmed
  const m = fenceRe.exec(trimmed)
  return m !== null ? m[1].trim() : trimmed
}

/**
 * Parses streamed snapshots incrementally: when the next snapshot extends the previous one
 * (same key, same prefix), only the new suffix is fed to the parser. Anything else starts a
 * new parser, so sharing one spec between concurrent runs stays correct (just slower).
 */
export const incrementalParser = () => {
  let key: string | undefined
  let seen = ""
  let parser: PartialJson.Parser | undefined
  return (k: string, text: string): unknown => {
    if (parser === undefined || k !== key || text.length < seen.length || !text.startsWith(seen)) {
      parser = PartialJson.make()
      key = k
      seen = ""
    }
    if (text.length > seen.length) parser.push(seen.length === 0 ? text : text.slice(seen.length))
    seen = text
    return parser.snapshot()
  }
}

/** Where the JSON starts in streamed text (skips whitespace and an opening markdown fence). */
export const jsonStart = (text: string): number => {
  const i = text.indexOf("{")
  return i < 0 ? text.length : i
}

/** Text output is not allowed by this spec. */
export const textNotAllowed = Effect.fail(
  new ModelRetry({ reason: "Please include your response in a tool call." })
)
