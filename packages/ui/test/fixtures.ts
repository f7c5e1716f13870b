/**
 * Agents and streaming models shared by the UI tests: plain text, reasoning, two tools called
 * in parallel, a tool that asks for a retry, runs that fail, a provider-executed (built-in) tool
 * and a sub-agent used as a tool.
 */
import {
  Agent,
  AgentError,
  FunctionModel,
  Messages,
  Model,
  PartsManager,
  Tool,
  Usage
} from "@agentfx/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

const hasToolReturn = (messages: ReadonlyArray<Messages.ModelMessage>) => {
  const last = messages.at(-1)
  return (
    last?._tag === "ModelRequest" &&
    last.parts.some((p) => p._tag === "ToolReturnPart" || p._tag === "RetryPromptPart")
  )
}

/**
 * The AG-UI `usage` entry of `FunctionModel` responses (tokens it estimates from the
 * conversation), as `RUN_FINISHED` / `RUN_ERROR` carry it.
 */
export const functionUsage = (inputTokens: number, outputTokens: number) => ({
  provider: "function",
  model: "function::stream",
  inputTokens,
  outputTokens,
  totalTokens: inputTokens + outputTokens
})

/** Streams "Hello" then " world". */
export const textModel = FunctionModel.layer(undefined, {
  stream: () => Stream.make("Hello", " world")
})

/** Thinks (with a signature), then answers. */
export const reasoningModel = FunctionModel.layer(undefined, {
  stream: () =>
    Stream.make(
      { 0: { content: "Let me " } },
      { 0: { content: "think.", signature: "sig-1" } },
      "It is 4."
    )
})

export const weather = Tool.make("weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed({ city, sky: "sunny" })
})

export const clock = Tool.make("clock", {
  description: "The time in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`12:00 in ${city}`)
})

/** Calls `weather` and `clock` in one response (arguments streamed in pieces), then answers. */
export const parallelToolsModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("Sunny, ", "noon.")
      : Stream.make(
          { 0: { name: "weather", toolCallId: "call_w", jsonArgs: '{"city":' } },
          { 0: { jsonArgs: '"Paris"}' } },
          { 1: { name: "clock", toolCallId: "call_c", jsonArgs: '{"city":"Paris"}' } }
        )
})

export const flaky = Tool.make("flaky", {
  description: "Fails the first time",
  parameters: Schema.Struct({ n: Schema.Number }),
  handler: ({ n }) =>
    n < 1
      ? Effect.fail(new AgentError.ModelRetry({ reason: "n must be at least 1" }))
      : Effect.succeed(n * 2)
})

/** Calls `flaky` with n = 0 (retry prompt), then n = 1, then answers. */
export const retryModel = FunctionModel.layer(undefined, {
  stream: (messages) => {
    const retries = messages.filter(
      (m) => m._tag === "ModelRequest" && m.parts.some((p) => p._tag === "RetryPromptPart")
    ).length
    if (!hasToolReturn(messages)) {
      return Stream.make({ 0: { name: "flaky", toolCallId: "call_1", jsonArgs: '{"n":0}' } })
    }
    const last = messages.at(-1) as Messages.ModelRequest
    return last.parts.some((p) => p._tag === "RetryPromptPart") && retries === 1
      ? Stream.make({ 0: { name: "flaky", toolCallId: "call_2", jsonArgs: '{"n":1}' } })
      : Stream.make("Done: 2.")
  }
})

/** Streams some text, then the provider fails. */
export const failingModel = FunctionModel.layer(undefined, {
  stream: () =>
    Stream.concat(
      Stream.make("Partial "),
      Stream.fail(
        new AgentError.ModelHTTPError({
          status: 500,
          modelName: "fn",
          body: "upstream broke"
        })
      )
    )
})

export const textAgent = Agent.make({ name: "text" })
export const toolAgent = Agent.make({ name: "tools", tools: [weather, clock] })
export const retryAgent = Agent.make({ name: "retry", tools: [flaky] })
/** One request allowed: the tool call's follow-up request exceeds the limit. */
export const limitedAgent = Agent.make({
  name: "limited",
  tools: [weather, clock],
  usageLimits: new Usage.UsageLimits({ requestLimit: 1 })
})

export const broken = Tool.make("broken", {
  description: "Always fails for good",
  parameters: Schema.Struct({}),
  handler: () => Effect.fail(new AgentError.ToolFailed({ reason: "the service is down" }))
})

/** Calls `broken` and `flaky` (n = 0) together, then answers. */
export const failuresModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("Sorry.")
      : Stream.make(
          { 0: { name: "broken", toolCallId: "call_b", jsonArgs: "{}" } },
          { 1: { name: "flaky", toolCallId: "call_f", jsonArgs: '{"n":0}' } }
        )
})

export const failuresAgent = Agent.make({ name: "failures", tools: [broken, flaky] })

/** Sends arguments that are not JSON, then answers after the retry prompt. */
export const badArgsModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("Fixed.")
      : Stream.make({ 0: { name: "weather", toolCallId: "call_x", jsonArgs: '{"city": Par' } })
})

/** Streams a provider-executed web search (arguments in two pieces, then its return), then text. */
export const builtinModel: Layer.Layer<Model.Model> = Layer.succeed(
  Model.Model,
  Model.make({
    modelName: "builtin",
    system: "test",
    profile: Model.defaultProfile,
    settings: undefined,
    request: () => Effect.die("streamed only"),
    requestStream: () =>
      Effect.sync(() => {
        const m = new PartsManager.PartsManager()
        m.info.providerName = "anthropic"
        const events: Array<Messages.ModelResponseStreamEvent> = []
        const push = (e: Messages.ModelResponseStreamEvent | undefined) => {
          if (e !== undefined) events.push(e)
        }
        push(
          m.toolCallDelta("search", {
            toolName: "web_search",
            toolCallId: "srvtoolu_1",
            providerName: "anthropic",
            builtin: true
          })
        )
        push(m.toolCallDelta("search", { args: '{"query":' }))
        push(m.toolCallDelta("search", { args: '"otters"}' }))
        push(m.endPart("search"))
        push(
          m.part(
            "result",
            new Messages.BuiltinToolReturnPart({
              toolName: "web_search",
              toolCallId: "srvtoolu_1",
              providerName: "anthropic",
              content: [{ url: "https://example.com/otters", title: "Otters" }]
            })
          )
        )
        push(m.textDelta("text", "Otters hold hands."))
        events.push(...m.finish())
        const response = m.response({ state: "complete", finishReason: "stop" })
        events.push(new Messages.ResponseCompleteEvent({ response }))
        return {
          modelName: "builtin",
          events: Stream.fromIterable(events),
          response: Effect.succeed(response)
        }
      })
  })
)

export const builtinAgent = Agent.make({ name: "searcher" })

/** A response of `scriptedModel`: its stream events (from a PartsManager), and what it reports. */
export interface Scripted {
  readonly events: (
    m: PartsManager.PartsManager
  ) => ReadonlyArray<Messages.ModelResponseStreamEvent | undefined>
  readonly usage?: Usage.RequestUsage
  /**
   * The indices of parts the model does not stream: they are in its final response only (no
   * start, delta or end event), as a provider that sends tool calls whole at the end does.
   */
  readonly unstreamed?: ReadonlyArray<number>
}

/**
 * A streamed model answering each request with the response `respond` gives for the
 * conversation (any part field a provider sets, its usage, its model and provider names), or
 * failing with the error it gives.
 */
export const scriptedModel = (
  modelName: string,
  providerName: string,
  respond: (messages: ReadonlyArray<Messages.ModelMessage>) => Scripted | AgentError.ModelHTTPError
): Layer.Layer<Model.Model> =>
  Layer.succeed(
    Model.Model,
    Model.make({
      modelName,
      system: providerName,
      profile: Model.defaultProfile,
      settings: undefined,
      request: () => Effect.die("streamed only"),
      requestStream: (messages) =>
        Effect.suspend(() => {
          const script = respond(messages)
          if (script instanceof AgentError.ModelHTTPError) return Effect.fail(script)
          const m = new PartsManager.PartsManager()
          m.info.modelName = modelName
          m.info.providerName = providerName
          const events: Array<Messages.ModelResponseStreamEvent> = []
          for (const e of script.events(m)) if (e !== undefined) events.push(e)
          events.push(...m.finish())
          const unstreamed = new Set(script.unstreamed)
          const streamed = events.filter((e) => !("index" in e && unstreamed.has(e.index)))
          const response = m.response({
            state: "complete",
            ...(script.usage !== undefined ? { usage: script.usage } : {})
          })
          streamed.push(new Messages.ResponseCompleteEvent({ response }))
          return Effect.succeed({
            modelName,
            events: Stream.fromIterable(streamed),
            response: Effect.succeed(response)
          })
        })
    })
  )

/** The sub-agent: streams its answer with its own model. */
export const researcher = Agent.make({
  name: "researcher",
  model: FunctionModel.layer(undefined, { stream: () => Stream.make("Otters ", "hold hands.") })
})

/** Calls the `researcher` sub-agent, then answers with what it said. */
export const parentModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("They do.")
      : Stream.make({
          0: { name: "ask_researcher", toolCallId: "call_r", jsonArgs: '{"prompt":"Otters?"}' }
        })
})

export const parentAgent = Agent.make({
  name: "parent",
  tools: [Agent.asTool(researcher, { name: "ask_researcher" })]
})

/** A sub-agent with a tool and a sub-agent of its own: calls both at once, then answers. */
export const lead = Agent.make({
  name: "lead",
  tools: [weather, Agent.asTool(researcher, { name: "ask_researcher" })],
  model: FunctionModel.layer(undefined, {
    stream: (messages) =>
      hasToolReturn(messages)
        ? Stream.make("Done.")
        : Stream.make(
            { 0: { name: "weather", toolCallId: "call_w", jsonArgs: '{"city":"Oslo"}' } },
            { 1: { name: "ask_researcher", toolCallId: "call_n", jsonArgs: '{"prompt":"?"}' } }
          )
  })
})

/** Calls the `lead` sub-agent, then answers. */
export const leadParentModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("Ok.")
      : Stream.make({ 0: { name: "ask_lead", toolCallId: "call_l", jsonArgs: '{"prompt":"Go"}' } })
})

export const leadParent = Agent.make({
  name: "top",
  tools: [Agent.asTool(lead, { name: "ask_lead" })]
})

/** A sub-agent whose model starts an answer, then is stopped by a content filter. */
export const strict = Agent.make({
  name: "strict",
  model: FunctionModel.layer(undefined, {
    stream: () =>
      Stream.concat(
        Stream.make("Well, "),
        Stream.fail(new AgentError.ContentFilterError({ reason: "strict: filtered" }))
      )
  })
})

/** Calls `strict` (its failure comes back as a retry prompt), then answers. */
export const strictParentModel = FunctionModel.layer(undefined, {
  stream: (messages) =>
    hasToolReturn(messages)
      ? Stream.make("Gave up.")
      : Stream.make({
          0: { name: "ask_strict", toolCallId: "call_s", jsonArgs: '{"prompt":"n?"}' }
        })
})

export const strictParent = Agent.make({
  name: "top",
  tools: [Agent.asTool(strict, { name: "ask_strict" })]
})

/** `metadata` of an AG-UI part event: where the part is (its response, its index there). */
export const at = (response: string, index: number) => ({
  agentfx: { position: { response, index } }
})
