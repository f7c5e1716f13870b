/**
 * Pure wire conversion for the Gemini API (`generateContent` / `streamGenerateContent`):
 * agentfx messages, settings and request parameters → request body; response JSON →
 * `ModelResponse`; streamed chunks → `PartsManager` deltas. No I/O here (file downloads and the
 * client live in `Google.ts`), so conformance tests call these directly.
 *
 * Thought signatures: a thought's signature lands in `ThinkingPart.signature`; a text or
 * function call's in the part's `providerDetails.thoughtSignature`. Both go back unchanged, and
 * only to Google, on the next request.
 */
import {
  AgentError,
  BuiltinTool,
  Messages,
  Model,
  type ModelSettings,
  type PartsManager,
  type Tool,
  Usage
} from "@agentfx/core"
import * as Either from "effect/Either"
import { defaultBaseUrl } from "../GoogleClient.js"
import * as GoogleSchema from "../GoogleSchema.js"
import type { StreamDecoder } from "./streamDecoder.js"
import {
  completeResponse,
  makeBuiltinToolCallPart,
  makeBuiltinToolReturnPart,
  makeFilePart,
  makeRequestUsage,
  makeTextPart,
  makeThinkingPart,
  makeToolCallPart
} from "./wire.js"

/** The provider name recorded on responses and parts. */
export const providerName = "google"

/**
 * The provider names of files Gemini reads by id (`UploadedFile`): the Gemini API's File API
 * (`google`, pydantic-ai's `google-gla`) and Vertex AI (`google-vertex`).
 */
export const uploadedFileProviders: ReadonlyArray<string> = [
  providerName,
  "google-gla",
  "google-vertex"
]

// ---------------------------------------------------------------------------
// Wire format (the fields we use; everything else is ignored)
// ---------------------------------------------------------------------------

/** A Gemini content part, as sent and received. */
export interface WirePart {
  readonly text?: string
  readonly thought?: boolean
  readonly thoughtSignature?: string
  readonly inlineData?: { readonly mimeType: string; readonly data: string }
  readonly fileData?: { readonly fileUri: string; readonly mimeType?: string }
  /** Frame rate / clip of a video part (from the file's `vendorMetadata`). */
  readonly videoMetadata?: Record<string, unknown>
  readonly functionCall?: {
    readonly name: string
    readonly args?: Record<string, unknown>
    readonly id?: string
  }
  readonly functionResponse?: {
    readonly name: string
    readonly response: Record<string, unknown>
    readonly id?: string
    /** Files of the result (Gemini 3+). */
    readonly parts?: ReadonlyArray<WirePart>
  }
  readonly [key: string]: unknown
}

/** A turn of the conversation. */
export interface WireContent {
  readonly role: "user" | "model"
  readonly parts: ReadonlyArray<WirePart>
}

/** The `generateContent` request body. */
export interface GenerateContentRequest {
  contents: Array<WireContent>
  systemInstruction?: WireContent
  tools?: Array<
    { functionDeclarations: Array<FunctionDeclaration> } | Record<string, Record<string, unknown>>
  >
  toolConfig?: {
    functionCallingConfig?: {
      mode: "AUTO" | "ANY" | "NONE" | "VALIDATED"
      allowedFunctionNames?: Array<string>
    }
    /** Gemini 3: return the built-in tools' calls and results as `toolCall` / `toolResponse`. */
    includeServerSideToolInvocations?: boolean
  }
  generationConfig: Record<string, unknown>
}

/** A function declaration (tool) as sent. */
export interface FunctionDeclaration {
  readonly name: string
  readonly description: string
  readonly parametersJsonSchema: Tool.JsonSchema
  /** What the function returns (a tool with `includeReturnSchema`). */
  readonly responseJsonSchema?: Tool.JsonSchema
}

interface WireTokenDetail {
  readonly modality?: string
  readonly tokenCount?: number
}

/** `usageMetadata` of a response. */
export interface WireUsage {
  readonly promptTokenCount?: number
  readonly candidatesTokenCount?: number
  readonly thoughtsTokenCount?: number
  readonly cachedContentTokenCount?: number
  readonly toolUsePromptTokenCount?: number
  readonly totalTokenCount?: number
  readonly promptTokensDetails?: ReadonlyArray<WireTokenDetail>
  readonly candidatesTokensDetails?: ReadonlyArray<WireTokenDetail>
  readonly cacheTokensDetails?: ReadonlyArray<WireTokenDetail>
  readonly toolUsePromptTokensDetails?: ReadonlyArray<WireTokenDetail>
}

/** A `generateContent` response, or one chunk of a stream. */
export interface GenerateContentResponse {
  readonly candidates?: ReadonlyArray<{
    readonly content?: { readonly parts?: ReadonlyArray<WirePart>; readonly role?: string }
    readonly finishReason?: string
    readonly finishMessage?: string
    /** Google Search / file search / Maps grounding: sources and the text they support. */
    readonly groundingMetadata?: Record<string, unknown>
    /** URL context: each URL the model read and whether it could. */
    readonly urlContextMetadata?: Record<string, unknown>
    /** Token log probabilities, when asked for (`generationConfig.responseLogprobs`). */
    readonly logprobsResult?: {
      readonly chosenCandidates?: ReadonlyArray<unknown>
      readonly topCandidates?: ReadonlyArray<unknown>
    }
    readonly avgLogprobs?: number
  }>
  readonly promptFeedback?: { readonly blockReason?: string; readonly blockReasonMessage?: string }
  readonly usageMetadata?: WireUsage
  readonly modelVersion?: string
  readonly responseId?: string
  readonly createTime?: string
}

// ---------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------

/** What a Gemini model supports, plus Gemini-only switches. */
export interface GoogleProfile extends Model.ModelProfile {
  /** `VALIDATED` function calling (Gemini 2.5+): used when every tool is strict or undecided. */
  readonly googleSupportsValidatedMode: boolean
  /** Gemini 3+ take `thinkingLevel` instead of `thinkingBudget`. */
  readonly googleSupportsThinkingLevel: boolean
  /**
   * Gemini 3+ accept images and PDFs inside `functionResponse.parts`; other files returned by
   * tools (and every file on older models) go in a user turn after the tool results.
   */
  readonly googleSupportsFunctionResponseParts?: boolean | undefined
}

/** The profile of a Gemini model, by name. */
export const profile = (modelName: string): GoogleProfile => {
  const isImage = modelName.includes("image")
  const is3 = modelName.includes("gemini-3")
  const thinks = modelName.includes("gemini-2.5") || is3
  return {
    ...Model.profile({
      supportsTools: !isImage,
      supportsJsonSchemaOutput: is3 || !isImage,
      supportsJsonObjectOutput: is3 || !isImage,
      supportsThinking: thinks,
      defaultStructuredOutputMode: "tool",
      supportsToolReturnSchema: true,
      supportsImageOutput: isImage,
      jsonSchemaTransformer: GoogleSchema.transform
    }),
    googleSupportsValidatedMode: thinks && !isImage,
    googleSupportsThinkingLevel: is3,
    googleSupportsFunctionResponseParts: is3
  }
}

const googleProfile = (p: Model.ModelProfile, modelName: string): GoogleProfile =>
  "googleSupportsValidatedMode" in p ? (p as GoogleProfile) : { ...profile(modelName), ...p }

// ---------------------------------------------------------------------------
// Request encoding
// ---------------------------------------------------------------------------

/** The signature Gemini 3 accepts on a function call that did not come from Gemini. */
export const skipSignatureValidator = "context_engineering_is_the_way_to_go"

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && !(u instanceof Uint8Array)

const extensionTypes: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  heic: "image/heic",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  html: "text/html",
  csv: "text/csv",
  json: "application/json",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  ogg: "audio/ogg",
  flac: "audio/flac",
  aac: "audio/aac",
  m4a: "audio/mp4",
  mp4: "video/mp4",
  mov: "video/quicktime",
  webm: "video/webm",
  mpeg: "video/mpeg"
}

/** Hosts of YouTube videos Gemini reads itself: youtube.com and its subdomains (www, m, music), youtu.be. */
const isYoutube = (url: string): boolean => {
  let host: string
  try {
    const u = new URL(url)
    if (u.protocol !== "https:" && u.protocol !== "http:") return false
    host = u.hostname.toLowerCase()
  } catch {
    return false
  }
  return host === "youtu.be" || host === "youtube.com" || host.endsWith(".youtube.com")
}

/** The media type of a file URL: given, YouTube → video/mp4, else from the extension. */
export const mediaTypeOf = (file: Messages.FileUrl): string => {
  if (file.mediaType !== undefined) return file.mediaType
  if (file._tag === "VideoUrl" && isYoutube(file.url)) return "video/mp4"
  const path = file.url.split(/[?#]/)[0]!
  const ext = path.slice(path.lastIndexOf(".") + 1).toLowerCase()
  const known = extensionTypes[ext]
  if (known !== undefined) return known
  switch (file._tag) {
    case "ImageUrl":
      return "image/jpeg"
    case "AudioUrl":
      return "audio/mpeg"
    case "VideoUrl":
      return "video/mp4"
    case "DocumentUrl":
      return "application/pdf"
  }
}

/**
 * Whether the Gemini API can read a file URL itself: YouTube videos, Cloud Storage (`gs://`)
 * and files uploaded to the Gemini File API. Other URLs are downloaded and sent inline.
 */
export const isFetchableByGemini = (url: string): boolean =>
  isYoutube(url) || url.startsWith("gs://") || url.startsWith(`${defaultBaseUrl}/v1beta/files`)

/** Whether a user-content item is a URL Gemini cannot fetch (it must be downloaded). */
export const needsDownload = (item: Messages.UserContent): item is Messages.FileUrl =>
  typeof item !== "string" &&
  item._tag !== "BinaryContent" &&
  item._tag !== "UploadedFile" &&
  item._tag !== "CachePoint" &&
  item._tag !== "TextContent" &&
  /^https?:\/\//.test(item.url) &&
  !isFetchableByGemini(item.url)

/** A video's `videoMetadata` (`fps`, offsets) from its `vendorMetadata`, if any. */
const videoMetadataOf = (
  item: Messages.FileContent
): { videoMetadata?: Record<string, unknown> } => {
  const isVideo =
    item._tag === "VideoUrl" ||
    ((item._tag === "BinaryContent" || item._tag === "UploadedFile") && item.isVideo)
  const m = item.vendorMetadata
  return isVideo && m !== undefined && Object.keys(m).length > 0 ? { videoMetadata: { ...m } } : {}
}

const userContentPart = (item: Messages.UserContent): WirePart | undefined => {
  if (typeof item === "string") return { text: item }
  if (item._tag === "TextContent") return { text: item.content }
  if (item._tag === "BinaryContent") {
    return { inlineData: { mimeType: item.mediaType, data: item.base64 }, ...videoMetadataOf(item) }
  }
  // Gemini caches implicitly; explicit cache points have no wire form.
  if (item._tag === "CachePoint") return undefined
  if (item._tag === "UploadedFile") {
    return {
      fileData: { fileUri: item.fileId, mimeType: item.effectiveMediaType },
      ...videoMetadataOf(item)
    }
  }
  return { fileData: { fileUri: item.url, mimeType: mediaTypeOf(item) }, ...videoMetadataOf(item) }
}

const isNativeToolFile = (file: Messages.FileContent): boolean => {
  const mediaType =
    file._tag === "BinaryContent"
      ? file.mediaType
      : file._tag === "UploadedFile"
        ? file.effectiveMediaType
        : mediaTypeOf(file)
  return mediaType.startsWith("image/") || mediaType === "application/pdf"
}

/**
 * A tool result that holds files. Images and PDFs go inside `functionResponse.parts` when the
 * model accepts them there (Gemini 3+); other files are named in `response.files`
 * ("See file {id}.") and sent in a user turn after the tool results ("This is file {id}:" +
 * the file), as pydantic-ai does. Other values of an array go in `response.return_value`.
 */
const toolReturnWithFiles = (
  part: Messages.ToolReturnPart,
  p: GoogleProfile,
  trailing: Array<WirePart>
): WirePart => {
  const items: ReadonlyArray<unknown> = Array.isArray(part.content) ? part.content : [part.content]
  const rest: Array<unknown> = []
  const native: Array<WirePart> = []
  const named: Array<string> = []
  for (const item of items) {
    if (!Messages.isFileContent(item)) {
      rest.push(item)
    } else if (p.googleSupportsFunctionResponseParts === true && isNativeToolFile(item)) {
      native.push(userContentPart(item)!)
    } else {
      const id = Messages.fileIdentifier(item)
      named.push(`See file ${id}.`)
      trailing.push({ text: `This is file ${id}:` }, userContentPart(item)!)
    }
  }
  const response: Record<string, unknown> = {}
  if (named.length > 0) response.files = named
  if (rest.length > 0) response.return_value = rest
  return {
    functionResponse: {
      name: part.toolName,
      response,
      id: part.toolCallId,
      ...(native.length > 0 ? { parts: native } : {})
    }
  }
}

/** The `response` object of a `functionResponse`: objects as they are, anything else wrapped. */
export const toolResponseObject = (content: unknown): Record<string, unknown> =>
  isPlainObject(content) ? content : { return_value: content ?? null }

const signatureOf = (
  part: Messages.TextPart | Messages.ToolCallPart,
  fromGoogle: boolean
): string | undefined => {
  if (!fromGoogle) return undefined
  const s = part.providerDetails?.thoughtSignature
  return typeof s === "string" ? s : undefined
}

const argsObject = (part: Messages.ToolCallPart): Record<string, unknown> => {
  if (typeof part.args !== "string") return part.args
  try {
    const parsed = part.args.trim() === "" ? {} : JSON.parse(part.args)
    return isPlainObject(parsed) ? parsed : {}
  } catch {
    return {}
  }
}

const modelContent = (
  response: Messages.ModelResponse,
  modelName: string
): WireContent | undefined => {
  const fromGoogle = response.providerName === providerName
  const needsSignature = modelName.includes("gemini-3")
  const parts: Array<WirePart> = []
  let firstCall = true
  for (const item of response.parts) {
    switch (item._tag) {
      case "TextPart": {
        const sig = signatureOf(item, fromGoogle)
        parts.push(
          sig === undefined ? { text: item.content } : { text: item.content, thoughtSignature: sig }
        )
        break
      }
      case "ThinkingPart": {
        const sig =
          item.providerName === providerName && item.signature !== undefined && !item.redacted
            ? item.signature
            : undefined
        if (item.content !== "") {
          parts.push(
            sig === undefined
              ? { text: item.content, thought: true }
              : { text: item.content, thought: true, thoughtSignature: sig }
          )
        } else if (sig !== undefined) {
          parts.push({ text: "", thoughtSignature: sig })
        }
        break
      }
      case "ToolCallPart": {
        let sig = signatureOf(item, fromGoogle)
        // Gemini 3 validates that a turn's first function call is signed; calls it did not make get the documented bypass value.
        if (sig === undefined && firstCall && needsSignature && !fromGoogle)
          sig = skipSignatureValidator
        firstCall = false
        // Ids agentfx made up for id-less calls are not Gemini's: it gets none back.
        const functionCall = {
          name: item.toolName,
          args: argsObject(item),
          ...(isGeneratedId(item) ? {} : { id: item.toolCallId })
        }
        parts.push(sig === undefined ? { functionCall } : { functionCall, thoughtSignature: sig })
        break
      }
      case "FilePart": {
        // A generated file goes back inline (any provider's: Gemini takes files in model
        // turns), with its thought signature when it is Gemini's own.
        const inlineData = { mimeType: item.content.mediaType, data: item.content.base64 }
        const sig = fromGoogle ? item.providerDetails?.thoughtSignature : undefined
        parts.push(typeof sig === "string" ? { inlineData, thoughtSignature: sig } : { inlineData })
        break
      }
      case "BuiltinToolCallPart":
      case "BuiltinToolReturnPart": {
        // Gemini's own built-in tool parts go back as they came; other providers' are dropped.
        if (item.providerName !== providerName) break
        const wire = builtinWirePart(item)
        const sig = item.providerDetails?.thoughtSignature
        parts.push(typeof sig === "string" ? { ...wire, thoughtSignature: sig } : wire)
        break
      }
    }
  }
  return parts.length === 0 ? undefined : { role: "model", parts }
}

/**
 * A Gemini built-in tool part in wire form: server-side tool invocations (`toolCall` /
 * `toolResponse`, with their `toolType`) or code execution (`executableCode` /
 * `codeExecutionResult`).
 */
const builtinWirePart = (
  item: Messages.BuiltinToolCallPart | Messages.BuiltinToolReturnPart
): WirePart => {
  const toolType = item.providerDetails?.toolType
  if (item._tag === "BuiltinToolCallPart") {
    const args = item.argsAsObject()
    if (typeof toolType === "string") {
      return {
        toolCall: {
          id: item.toolCallId,
          toolType,
          ...(Object.keys(args).length > 0 ? { args } : {})
        }
      }
    }
    return { executableCode: args }
  }
  if (typeof toolType === "string") {
    return {
      toolResponse: {
        id: item.toolCallId,
        toolType,
        ...(item.content !== null && item.content !== undefined ? { response: item.content } : {})
      }
    }
  }
  return { codeExecutionResult: item.content }
}

/** The `UserError` for the first built-in tool (or option) Gemini lacks, if any. */
export const builtinToolsError = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>
): AgentError.UserError | undefined => {
  for (const tool of builtinTools) {
    switch (tool._tag) {
      case "WebSearch": {
        const { _tag, ...options } = tool
        if (Object.keys(options).length > 0)
          return BuiltinTool.unsupported("Gemini", tool, "Google Search takes no options")
        break
      }
      case "CodeExecution":
      case "UrlContext":
      case "WebFetch":
      case "FileSearch":
        break
      default:
        return BuiltinTool.unsupported("Gemini", tool)
    }
  }
  return undefined
}

/**
 * The `tools` entries of the built-in tools: `googleSearch`, `codeExecution`, `urlContext`
 * (for `UrlContext` and `WebFetch`), `fileSearch`. Tools Gemini lacks are left out here;
 * `builtinToolsError` names them.
 */
export const encodeBuiltinTools = (
  builtinTools: ReadonlyArray<BuiltinTool.BuiltinTool>
): Array<Record<string, Record<string, unknown>>> => {
  const out: Array<Record<string, Record<string, unknown>>> = []
  for (const tool of builtinTools) {
    switch (tool._tag) {
      case "WebSearch":
        out.push({ googleSearch: {} })
        break
      case "CodeExecution":
        out.push({ codeExecution: {} })
        break
      case "UrlContext":
      case "WebFetch":
        if (!out.some((t) => t.urlContext !== undefined)) out.push({ urlContext: {} })
        break
      case "FileSearch":
        out.push({ fileSearch: { fileSearchStoreNames: tool.fileStoreIds } })
        break
      default:
        break
    }
  }
  return out
}

/** Options of `encodeRequest`. */
export interface EncodeOptions {
  readonly modelName: string
  readonly profile?: Model.ModelProfile | undefined
  /** Encoding for Vertex AI, which has no `toolConfig.includeServerSideToolInvocations`. */
  readonly vertex?: boolean | undefined
}

const thinkingConfig = (
  thinking: ModelSettings.ThinkingSetting,
  p: GoogleProfile
): Record<string, unknown> => {
  if (thinking === false) {
    return p.googleSupportsThinkingLevel ? { thinkingLevel: "LOW" } : { thinkingBudget: 0 }
  }
  if (thinking === true) return { includeThoughts: true }
  if (typeof thinking === "string") {
    if (p.googleSupportsThinkingLevel) {
      return {
        includeThoughts: true,
        thinkingLevel: thinking === "minimal" ? "MINIMAL" : thinking.toUpperCase()
      }
    }
    const budgets = { minimal: 512, low: 2048, medium: 8192, high: 24576 } as const
    return { includeThoughts: true, thinkingBudget: budgets[thinking] }
  }
  return { includeThoughts: true, thinkingBudget: thinking.budgetTokens }
}

const toolConfig = (
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  p: GoogleProfile
): GenerateContentRequest["toolConfig"] => {
  const all = parameters.allTools
  if (all.length === 0) {
    // Built-in tools only: an explicit choice still goes out.
    if (parameters.builtinTools.length === 0) return undefined
    const choice = settings.toolChoice
    return choice === "auto"
      ? { functionCallingConfig: { mode: "AUTO" } }
      : choice === "none"
        ? { functionCallingConfig: { mode: "NONE" } }
        : undefined
  }
  const allNames = all.map((t) => t.name)
  const outputNames = parameters.outputTools.map((t) => t.name)
  const choice = settings.toolChoice
  const any = (names: ReadonlyArray<string>): GenerateContentRequest["toolConfig"] => {
    const unique = [...new Set(names)]
    // Naming every declared function says nothing more than ANY alone.
    return unique.length === allNames.length && allNames.every((n) => unique.includes(n))
      ? { functionCallingConfig: { mode: "ANY" } }
      : { functionCallingConfig: { mode: "ANY", allowedFunctionNames: unique } }
  }
  if (choice === "none") {
    // Output tools stay callable: without them the run could not end.
    if (outputNames.length > 0) return any(outputNames)
    return { functionCallingConfig: { mode: "NONE" } }
  }
  if (Array.isArray(choice)) {
    return any(parameters.allowDirectOutput ? choice : [...outputNames, ...choice])
  }
  if (choice === "required" || !parameters.allowDirectOutput) return any(allNames)
  if (p.googleSupportsValidatedMode && all.every((t) => t.strict !== false)) {
    return { functionCallingConfig: { mode: "VALIDATED" } }
  }
  if (choice === "auto") return { functionCallingConfig: { mode: "AUTO" } }
  return undefined
}

/**
 * Encodes agentfx messages, settings and request parameters into a `generateContent` body.
 * Pure; `settings.extraBody.generationConfig` is merged into `generationConfig`, the rest of
 * `extraBody` is merged at the top level by the HTTP layer.
 */
export const encodeRequest = (
  messages: ReadonlyArray<Messages.ModelMessage>,
  settings: ModelSettings.ModelSettings,
  parameters: Model.ModelRequestParameters,
  options: EncodeOptions
): GenerateContentRequest => {
  const p = googleProfile(options.profile ?? profile(options.modelName), options.modelName)
  const contents: Array<WireContent> = []
  const system: Array<WirePart> = []
  let instructions: string | undefined
  // Results of calls whose id agentfx generated go back without an id, like the calls.
  const generated = new Set<string>()
  for (const message of messages)
    if (message._tag === "ModelResponse")
      for (const part of message.parts)
        if (part._tag === "ToolCallPart" && isGeneratedId(part)) generated.add(part.toolCallId)
  const withoutGeneratedId = (wire: WirePart): WirePart => {
    const r = wire.functionResponse
    if (r?.id === undefined || !generated.has(r.id)) return wire
    const { id: _, ...rest } = r
    return { ...wire, functionResponse: rest }
  }
  for (const message of messages) {
    if (message._tag === "ModelRequest") {
      if (message.instructions !== undefined) instructions = message.instructions
      const parts: Array<WirePart> = []
      // Files of tool results the model cannot take inline: a user turn after the results.
      const trailingFiles: Array<WirePart> = []
      for (const part of message.parts) {
        switch (part._tag) {
          case "SystemPromptPart":
            system.push({ text: part.content })
            break
          case "UserPromptPart":
            if (typeof part.content === "string") parts.push({ text: part.content })
            else {
              for (const item of part.content) {
                const wire = userContentPart(item)
                if (wire !== undefined) parts.push(wire)
              }
            }
            break
          case "ToolReturnPart":
            parts.push(
              part.files.length > 0
                ? toolReturnWithFiles(part, p, trailingFiles)
                : {
                    functionResponse: {
                      name: part.toolName,
                      // Tools a tool search found read as text (Gemini loads no tools).
                      response: toolResponseObject(
                        part.toolReferences.length > 0 ? part.contentText : part.content
                      ),
                      id: part.toolCallId
                    }
                  }
            )
            break
          case "RetryPromptPart":
            parts.push(
              part.toolName === undefined
                ? { text: part.modelResponse }
                : {
                    functionResponse: {
                      name: part.toolName,
                      response: { error: part.modelResponse },
                      ...(part.toolCallId !== undefined ? { id: part.toolCallId } : {})
                    }
                  }
            )
            break
        }
      }
      if (parts.length > 0) contents.push({ role: "user", parts: parts.map(withoutGeneratedId) })
      if (trailingFiles.length > 0) contents.push({ role: "user", parts: trailingFiles })
    } else {
      const content = modelContent(message, options.modelName)
      if (content !== undefined) contents.push(content)
    }
  }
  // Gemini needs at least one content.
  if (contents.length === 0) contents.push({ role: "user", parts: [{ text: "" }] })
  if (instructions !== undefined && instructions !== "") system.unshift({ text: instructions })

  const body: GenerateContentRequest = { contents, generationConfig: {} }
  if (system.length > 0) body.systemInstruction = { role: "user", parts: system }

  const tools = parameters.allTools
  const builtin = encodeBuiltinTools(parameters.builtinTools)
  if (builtin.length > 0) body.tools = builtin
  if (tools.length > 0) {
    body.tools = [
      ...builtin,
      {
        functionDeclarations: tools.map((t) => {
          // The schema's own top-level `title` is kept (nested ones are dropped).
          const title = t.parametersJsonSchema.title
          const schema = GoogleSchema.transform(t.parametersJsonSchema, {}).schema
          return {
            name: t.name,
            description: t.description ?? "",
            parametersJsonSchema: typeof title === "string" ? { title, ...schema } : schema,
            ...(t.includeReturnSchema === true && t.returnSchema !== undefined
              ? { responseJsonSchema: GoogleSchema.transform(t.returnSchema, {}).schema }
              : {})
          }
        })
      }
    ]
  }
  let config = toolConfig(settings, parameters, p)
  // Gemini 3 returns the server-side tools' calls and results when asked (they go back in
  // history); code execution comes back as `executableCode` parts anyway.
  if (
    options.vertex !== true &&
    builtin.some((t) => t.codeExecution === undefined) &&
    options.modelName.includes("gemini-3")
  )
    config = { ...config, includeServerSideToolInvocations: true }
  if (config !== undefined) body.toolConfig = config

  const gc = body.generationConfig
  if (settings.maxTokens !== undefined) gc.maxOutputTokens = settings.maxTokens
  if (settings.temperature !== undefined) gc.temperature = settings.temperature
  if (settings.topP !== undefined) gc.topP = settings.topP
  if (settings.topK !== undefined) gc.topK = settings.topK
  if (settings.seed !== undefined) gc.seed = settings.seed
  if (settings.presencePenalty !== undefined) gc.presencePenalty = settings.presencePenalty
  if (settings.frequencyPenalty !== undefined) gc.frequencyPenalty = settings.frequencyPenalty
  if (settings.stopSequences !== undefined) gc.stopSequences = settings.stopSequences
  if (settings.thinking !== undefined) gc.thinkingConfig = thinkingConfig(settings.thinking, p)
  // Image models answer with images too (as pydantic-ai asks them); with image output and no
  // text output allowed, images only.
  gc.responseModalities =
    parameters.allowImageOutput || p.supportsImageOutput === true
      ? parameters.allowImageOutput && !parameters.allowTextOutput
        ? ["IMAGE"]
        : ["TEXT", "IMAGE"]
      : ["TEXT"]
  if (parameters.outputMode === "native" && parameters.outputObject !== undefined) {
    const o = parameters.outputObject
    gc.responseMimeType = "application/json"
    gc.responseJsonSchema = {
      ...o.jsonSchema,
      ...(o.name !== undefined ? { title: o.name } : {}),
      ...(o.description !== undefined ? { description: o.description } : {})
    }
  } else if (
    parameters.outputMode === "prompted" &&
    tools.length === 0 &&
    p.supportsJsonObjectOutput
  ) {
    gc.responseMimeType = "application/json"
  }
  const extra = settings.extraBody?.generationConfig
  if (isPlainObject(extra)) Object.assign(gc, extra)
  return body
}

// ---------------------------------------------------------------------------
// Response decoding
// ---------------------------------------------------------------------------

const finishReasons: Record<string, Messages.FinishReason> = {
  STOP: "stop",
  MAX_TOKENS: "length",
  SAFETY: "content_filter",
  RECITATION: "content_filter",
  BLOCKLIST: "content_filter",
  PROHIBITED_CONTENT: "content_filter",
  SPII: "content_filter",
  IMAGE_SAFETY: "content_filter",
  IMAGE_PROHIBITED_CONTENT: "content_filter",
  MODEL_ARMOR: "content_filter",
  LANGUAGE: "error",
  MALFORMED_FUNCTION_CALL: "error",
  UNEXPECTED_TOOL_CALL: "error",
  NO_IMAGE: "error"
}

/** Maps a Gemini `finishReason` to agentfx's; unknown ones (`OTHER`…) map to `undefined`. */
export const mapFinishReason = (reason: string | undefined): Messages.FinishReason | undefined =>
  reason === undefined ? undefined : finishReasons[reason]

/**
 * Usage of a response. Output tokens include thinking tokens (`thoughtsTokenCount`), as
 * Google bills them; input tokens include cached tokens (`cachedContentTokenCount`).
 */
export const decodeUsage = (u: WireUsage | undefined): Usage.RequestUsage => {
  if (u === undefined) return Usage.RequestUsage.empty
  const details: Record<string, number> = {}
  if (u.cachedContentTokenCount) details.cached_content_tokens = u.cachedContentTokenCount
  if (u.thoughtsTokenCount) details.thoughts_tokens = u.thoughtsTokenCount
  if (u.toolUsePromptTokenCount) details.tool_use_prompt_tokens = u.toolUsePromptTokenCount
  let inputAudio = 0
  let outputAudio = 0
  const add = (prefix: string, list: ReadonlyArray<WireTokenDetail> | undefined) => {
    if (list === undefined) return
    for (const d of list) {
      if (!d.modality || !d.tokenCount) continue
      details[`${d.modality.toLowerCase()}_${prefix}_tokens`] = d.tokenCount
      if (d.modality === "AUDIO" && prefix === "prompt") inputAudio = d.tokenCount
      if (d.modality === "AUDIO" && prefix === "candidates") outputAudio = d.tokenCount
    }
  }
  add("prompt", u.promptTokensDetails)
  add("cache", u.cacheTokensDetails)
  add("candidates", u.candidatesTokensDetails)
  add("tool_use_prompt", u.toolUsePromptTokensDetails)
  return makeRequestUsage({
    inputTokens: u.promptTokenCount ?? 0,
    outputTokens: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0),
    cacheReadTokens: u.cachedContentTokenCount ?? 0,
    cacheWriteTokens: 0,
    inputAudioTokens: inputAudio,
    outputAudioTokens: outputAudio,
    details
  })
}

/** Options of the decoders. */
export interface DecodeOptions {
  readonly modelName: string
  readonly providerName?: string
}

const contentFilterError = (reason: string, body: unknown) =>
  new AgentError.ContentFilterError({ reason, body: JSON.stringify(body) })

/** A candidate's metadata kept on the response (as sent; empty objects are left out). */
const CANDIDATE_DETAILS = [
  ["groundingMetadata", "grounding_metadata"],
  ["urlContextMetadata", "url_context_metadata"]
] as const

/**
 * Merges a candidate's grounding and URL context metadata into `details` (a stream sends empty
 * objects until the last chunk; keys arriving in several chunks are merged).
 */
const mergeCandidateDetails = (
  details: Record<string, unknown> | undefined,
  candidate: NonNullable<GenerateContentResponse["candidates"]>[number]
): Record<string, unknown> | undefined => {
  let out = details
  for (const [wire, key] of CANDIDATE_DETAILS) {
    const v = candidate[wire]
    if (!isPlainObject(v) || Object.keys(v).length === 0) continue
    const prev = out?.[key]
    out = { ...out, [key]: isPlainObject(prev) ? { ...prev, ...v } : v }
  }
  // Log probabilities: `logprobs` as sent (a stream's chunks appended), with `avg_logprobs`.
  const lp = candidate.logprobsResult
  if (isPlainObject(lp)) {
    const prev = (isPlainObject(out?.logprobs) ? out.logprobs : {}) as Record<string, unknown>
    const merged: Record<string, unknown> = { ...prev }
    for (const k of ["chosenCandidates", "topCandidates"] as const) {
      const v = lp[k]
      if (!Array.isArray(v)) continue
      merged[k] = [...(Array.isArray(prev[k]) ? (prev[k] as Array<unknown>) : []), ...v]
    }
    out = {
      ...out,
      logprobs: merged,
      ...(typeof candidate.avgLogprobs === "number" ? { avg_logprobs: candidate.avgLogprobs } : {})
    }
  }
  return out
}

/** One grounded span of a Gemini answer and the sources behind it. */
export interface GroundingCitation {
  /** The supported text, when Gemini sent it. */
  readonly text: string | undefined
  /** Byte offsets of the span in the response text (UTF-8, as Gemini counts them). */
  readonly startIndex: number
  readonly endIndex: number
  /**
   * The grounding chunks cited: a web page (`uri`, `title`), a retrieved file search passage
   * (`text`, `fileSearchStore`, `customMetadata`), or a Maps place, as Gemini sent them.
   */
  readonly sources: ReadonlyArray<Record<string, unknown>>
}

/**
 * The citations of a grounded Gemini response: each `groundingSupports` span with its
 * `groundingChunks` resolved (kept whole in `providerDetails.grounding_metadata`), or `[]`.
 */
export const groundingCitationsOf = (
  response: Messages.ModelResponse
): ReadonlyArray<GroundingCitation> => {
  const g = response.providerDetails?.grounding_metadata
  if (!isPlainObject(g)) return []
  const chunks = Array.isArray(g.groundingChunks) ? g.groundingChunks : []
  const supports = Array.isArray(g.groundingSupports) ? g.groundingSupports : []
  return supports.filter(isPlainObject).map((s) => {
    const segment = isPlainObject(s.segment) ? s.segment : {}
    const indices = Array.isArray(s.groundingChunkIndices) ? s.groundingChunkIndices : []
    return {
      text: typeof segment.text === "string" ? segment.text : undefined,
      startIndex: typeof segment.startIndex === "number" ? segment.startIndex : 0,
      endIndex: typeof segment.endIndex === "number" ? segment.endIndex : 0,
      sources: indices.flatMap((i: unknown) => {
        const chunk = typeof i === "number" ? chunks[i] : undefined
        if (!isPlainObject(chunk)) return []
        const inner = Object.values(chunk).find(isPlainObject)
        return inner === undefined ? [] : [inner]
      })
    }
  })
}

/**
 * Decodes a `generateContent` response. A response blocked for content reasons with nothing
 * usable fails with `ContentFilterError`; a response without candidates fails with
 * `UnexpectedModelBehavior`.
 */
export const decodeResponse = (
  json: unknown,
  options: DecodeOptions
): Either.Either<Messages.ModelResponse, AgentError.ModelError> => {
  if (!isPlainObject(json)) {
    return Either.left(
      new AgentError.UnexpectedModelBehavior({
        reason: "Gemini response is not a JSON object",
        body: JSON.stringify(json)
      })
    )
  }
  const r = json as GenerateContentResponse
  const provider = options.providerName ?? providerName
  const candidate = r.candidates?.[0]
  if (candidate === undefined) {
    const block = r.promptFeedback?.blockReason
    if (block !== undefined) {
      return Either.left(
        contentFilterError(`Content filter triggered: the prompt was blocked (${block})`, json)
      )
    }
    return Either.left(
      new AgentError.UnexpectedModelBehavior({
        reason: "Expected at least one candidate in Gemini response",
        body: JSON.stringify(json)
      })
    )
  }
  const finishReason = mapFinishReason(candidate.finishReason)
  const wireParts = candidate.content?.parts ?? []
  if (wireParts.length === 0 && finishReason === "content_filter") {
    return Either.left(
      contentFilterError(`Content filter ${JSON.stringify(candidate.finishReason)} triggered`, json)
    )
  }
  const parts: Array<Messages.ModelResponsePart> = []
  const codeIds: CodeIds = { last: undefined }
  for (const w of wireParts) {
    const part = decodePart(w, provider, codeIds)
    if (part !== undefined) parts.push(part)
  }
  return Either.right(
    completeResponse({
      parts,
      usage: decodeUsage(r.usageMetadata),
      modelName: r.modelVersion ?? options.modelName,
      providerName: provider,
      providerResponseId: r.responseId,
      finishReason,
      providerFinishReason: candidate.finishReason,
      timestamp: r.createTime !== undefined ? new Date(r.createTime) : undefined,
      providerDetails: mergeCandidateDetails(undefined, candidate)
    })
  )
}

const decodePart = (
  w: WirePart,
  provider: string,
  codeIds: CodeIds
): Messages.ModelResponsePart | undefined => {
  const sig = typeof w.thoughtSignature === "string" ? w.thoughtSignature : undefined
  if (w.functionCall !== undefined) return toolCallPart(w.functionCall, sig, provider)
  if (typeof w.text === "string") {
    if (w.thought === true || (w.text === "" && sig !== undefined)) {
      return makeThinkingPart({
        content: w.text,
        providerName: provider,
        ...(sig !== undefined ? { signature: sig } : {})
      })
    }
    // Gemini sometimes sends empty text parts; they carry nothing.
    if (w.text === "") return undefined
    return makeTextPart({
      content: w.text,
      ...(sig !== undefined ? { providerDetails: { thoughtSignature: sig } } : {})
    })
  }
  if (w.inlineData !== undefined) return filePart(w, sig, provider)
  return builtinPart(w, sig, provider, codeIds)
}

/**
 * A generated file (`inlineData` of an image model) as a `FilePart`, its thought signature kept
 * to go back. Interim images of the model's thinking (`thought: true`) are not kept: they are
 * drafts of the final image, which comes as its own part.
 */
const filePart = (
  w: WirePart,
  sig: string | undefined,
  provider: string
): Messages.FilePart | undefined => {
  const data = w.inlineData
  if (data === undefined || w.thought === true) return undefined
  return makeFilePart({
    content: new Messages.BinaryContent(
      { data: new Uint8Array(Buffer.from(data.data, "base64")), mediaType: data.mimeType },
      true
    ),
    providerName: provider,
    ...(sig !== undefined ? { providerDetails: { thoughtSignature: sig } } : {})
  })
}

/** Names of Gemini's server-side tool types on built-in tool parts (others: lower-cased). */
export const toolTypeNames: Readonly<Record<string, string>> = {
  GOOGLE_SEARCH_WEB: "web_search",
  GOOGLE_SEARCH: "web_search",
  FILE_SEARCH: "file_search",
  URL_CONTEXT: "url_context",
  CODE_EXECUTION: "code_execution",
  GOOGLE_MAPS: "google_maps"
}

/** The last code execution call id of a response, for results that come without one. */
interface CodeIds {
  last: string | undefined
}

/**
 * A built-in tool part (`toolCall` / `toolResponse`, `executableCode` /
 * `codeExecutionResult`), or `undefined` for parts not represented (image output…).
 */
const builtinPart = (
  w: WirePart,
  sig: string | undefined,
  provider: string,
  codeIds: CodeIds
): Messages.ModelResponsePart | undefined => {
  const sigDetails = sig !== undefined ? { thoughtSignature: sig } : {}
  const call = w.toolCall as { id?: string; toolType?: string; args?: Record<string, unknown> }
  if (call !== undefined) {
    const toolType = call.toolType ?? "UNKNOWN"
    return makeBuiltinToolCallPart({
      toolName: toolTypeNames[toolType] ?? toolType.toLowerCase(),
      args: call.args ?? {},
      toolCallId: call.id ?? generateId(),
      providerName: provider,
      providerDetails: { toolType, ...sigDetails }
    })
  }
  const response = w.toolResponse as { id?: string; toolType?: string; response?: unknown }
  if (response !== undefined) {
    const toolType = response.toolType ?? "UNKNOWN"
    return makeBuiltinToolReturnPart({
      toolName: toolTypeNames[toolType] ?? toolType.toLowerCase(),
      content: response.response ?? null,
      toolCallId: response.id ?? "",
      providerName: provider,
      providerDetails: { toolType, ...sigDetails }
    })
  }
  const code = w.executableCode as { id?: string } | undefined
  if (code !== undefined) {
    codeIds.last = code.id ?? generateId()
    return makeBuiltinToolCallPart({
      toolName: "code_execution",
      args: code as Record<string, unknown>,
      toolCallId: codeIds.last,
      providerName: provider,
      ...(sig !== undefined ? { providerDetails: sigDetails } : {})
    })
  }
  const result = w.codeExecutionResult as { id?: string } | undefined
  if (result !== undefined) {
    return makeBuiltinToolReturnPart({
      toolName: "code_execution",
      content: result,
      toolCallId: result.id ?? codeIds.last ?? "",
      providerName: provider,
      ...(sig !== undefined ? { providerDetails: sigDetails } : {})
    })
  }
  return undefined
}

/** Whether a tool call's id was generated by agentfx (Gemini sent the call without one). */
const isGeneratedId = (part: Messages.ToolCallPart): boolean =>
  part.providerDetails?.generatedId === true

let idCounter = 0
const generateId = (): string => `gemini_${Date.now().toString(36)}_${(idCounter++).toString(36)}`

/** A function call as a part; a call without an id gets a generated one. */
const toolCallPart = (
  call: NonNullable<WirePart["functionCall"]>,
  sig: string | undefined,
  provider: string
): Messages.ToolCallPart =>
  makeToolCallPart({
    toolName: call.name,
    args: call.args ?? {},
    toolCallId: call.id ?? generateId(),
    providerName: provider,
    ...(sig !== undefined || call.id === undefined
      ? {
          providerDetails: {
            ...(sig !== undefined ? { thoughtSignature: sig } : {}),
            ...(call.id === undefined ? { generatedId: true } : {})
          }
        }
      : {})
  })

/** Streaming state kept across the chunks of one response. */
export interface StreamState {
  sawFinish: boolean
  chunks: number
  /** The last code execution call id, for results without one. */
  readonly codeIds?: CodeIds
}

/**
 * Feeds one streamed chunk (a parsed SSE `data:` payload) to the parts manager, pushing part
 * events into `out`. Returns an error when the stream must fail (a content block with nothing
 * usable). Plain code: it runs once per event.
 */
export const streamChunk = (
  chunk: GenerateContentResponse,
  manager: PartsManager.PartsManager,
  out: Array<Messages.ModelResponseStreamEvent>,
  state: StreamState,
  provider: string = providerName
): AgentError.ModelError | undefined => {
  state.chunks++
  const info = manager.info
  if (chunk.usageMetadata !== undefined) info.usage = decodeUsage(chunk.usageMetadata)
  if (chunk.responseId !== undefined) info.providerResponseId = chunk.responseId
  if (chunk.modelVersion !== undefined) info.modelName = chunk.modelVersion
  if (chunk.createTime !== undefined && info.timestamp === undefined)
    info.timestamp = new Date(chunk.createTime)
  const candidate = chunk.candidates?.[0]
  if (candidate === undefined) {
    const block = chunk.promptFeedback?.blockReason
    if (block !== undefined) {
      return contentFilterError(
        `Content filter triggered: the prompt was blocked (${block})`,
        chunk
      )
    }
    return undefined
  }
  const details = mergeCandidateDetails(info.providerDetails, candidate)
  if (details !== undefined) info.providerDetails = details
  if (candidate.finishReason !== undefined) {
    state.sawFinish = true
    info.providerFinishReason = candidate.finishReason
    info.finishReason = mapFinishReason(candidate.finishReason)
  }
  const parts = candidate.content?.parts
  if (parts === undefined || parts.length === 0) {
    if (info.finishReason === "content_filter" && manager.currentParts().length === 0) {
      return contentFilterError(
        `Content filter ${JSON.stringify(candidate.finishReason)} triggered`,
        chunk
      )
    }
    return undefined
  }
  for (const w of parts) {
    const sig = typeof w.thoughtSignature === "string" ? w.thoughtSignature : undefined
    let event: Messages.ModelResponseStreamEvent | undefined
    if (w.functionCall !== undefined) {
      event = manager.part(undefined, toolCallPart(w.functionCall, sig, provider))
    } else if (typeof w.text === "string") {
      if (w.thought === true || (w.text === "" && sig !== undefined)) {
        event = manager.thinkingDelta(undefined, {
          content: w.text,
          signature: sig,
          providerName: provider
        })
      } else if (w.text !== "") {
        event = manager.textDelta(
          undefined,
          w.text,
          sig !== undefined ? { providerDetails: { thoughtSignature: sig } } : undefined
        )
      }
    } else {
      const part =
        w.inlineData !== undefined
          ? filePart(w, sig, provider)
          : builtinPart(w, sig, provider, state.codeIds ?? { last: undefined })
      if (part !== undefined) event = manager.part(undefined, part)
    }
    if (event !== undefined) out.push(event)
  }
  return undefined
}

/** An error object sent inside a 200 stream (`{"error": {code, message, status}}`). */
const inStreamError = (
  modelName: string,
  manager: PartsManager.PartsManager,
  error: unknown
): AgentError.ModelAPIError => {
  const e = (error !== null && typeof error === "object" ? error : {}) as Record<string, unknown>
  const code = e.status ?? e.code ?? "error"
  const message = typeof e.message === "string" ? e.message : JSON.stringify(error).slice(0, 1000)
  return new AgentError.ModelAPIError({
    modelName,
    reason: `Provider error in stream: ${String(code)}: ${message}`,
    partialResponse: manager.response(),
    cause: error
  })
}

/**
 * The stream decoder of `streamGenerateContent`: each SSE event is one JSON chunk; a chunk
 * with an `error` object fails the stream. Gemini has no end event: the chunk with a
 * `finishReason` is the last one, so a stream without it was cut.
 */
export const streamDecoder: StreamDecoder<StreamState> = {
  makeState: () => ({ sawFinish: false, chunks: 0, codeIds: { last: undefined } }),
  handleEvent: (data, state, manager, out, modelName) =>
    data.error !== undefined && data.error !== null
      ? inStreamError(modelName, manager, data.error)
      : streamChunk(data as GenerateContentResponse, manager, out, state),
  end: (state, _manager, modelName) =>
    state.chunks === 0
      ? new AgentError.UnexpectedModelBehavior({
          reason: "Streamed response ended without content or tool calls"
        })
      : !state.sawFinish
        ? new AgentError.ModelAPIError({
            modelName,
            reason: "Gemini stream ended before a finishReason (connection cut?)"
          })
        : undefined
}
