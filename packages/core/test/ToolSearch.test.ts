/**
 * The agent's own tool search (`Toolset.withToolSearch`) over deferred tools, on a model whose
 * profile cannot defer tools: the search finds tools by their words, returns `ToolReference`s,
 * and from the next request on the found tools go to the model as ordinary tools (the others
 * stay hidden); the model calls a found tool and the agent runs it. The history, references and
 * `ToolAvailabilityDeltaPart`s included, survives a JSON round trip.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Agent, FunctionModel, Messages, Model, RunContext, Tool, Toolset } from "../src/index.js"

const getWeather = Tool.make("get_weather", {
  description: "Get the current weather for a city.",
  parameters: Schema.Struct({ city: Schema.String }),
  handler: ({ city }) => Effect.succeed(`Sunny in ${city}`)
})
const rates: Array<unknown> = []
const getExchangeRate = Tool.make("get_exchange_rate", {
  description: "Look up the current exchange rate between two currencies.",
  parameters: Schema.Struct({ from_currency: Schema.String, to_currency: Schema.String }),
  deferLoading: true,
  handler: (args) => Effect.sync(() => rates.push(args)).pipe(Effect.as("1 USD = 0.92 EUR"))
})
const stockLookup = Tool.make("stock_lookup", {
  description: "Look up stock price by ticker symbol.",
  parameters: Schema.Struct({ symbol: Schema.String }),
  deferLoading: true,
  handler: ({ symbol }) => Effect.succeed(`${symbol}: $150`)
})

const tools = Toolset.fromTools([getWeather, getExchangeRate, stockLookup]).pipe(
  Toolset.withToolSearch()
)

describe("tool search (the agent's own)", () => {
  it("searchDeferredTools scores deferred tools by the words of the queries, best first", () => {
    const defs = [getWeather, getExchangeRate, stockLookup].map((t) => t.definition)
    const names = (queries: ReadonlyArray<string>, max?: number) =>
      Toolset.searchDeferredTools(defs, queries, max).map((d) => d.name)
    // get_weather is not deferred: never found, even by its own words.
    assert.deepStrictEqual(names(["weather city"]), [])
    assert.deepStrictEqual(names(["USD EUR exchange rate", "currency"]), ["get_exchange_rate"])
    assert.deepStrictEqual(names(["look up stock price"]), ["stock_lookup", "get_exchange_rate"])
    assert.deepStrictEqual(names(["look up stock price"], 1), ["stock_lookup"])
    assert.deepStrictEqual(names(["translate to French"]), [])
  })

  it.effect(
    "a deferred tool is found, then offered as an ordinary tool and called; the rest stay hidden",
    () =>
      Effect.gen(function* () {
        rates.length = 0
        const seen: Array<ReadonlyArray<string>> = []
        const model = FunctionModel.layer((messages, info) => {
          seen.push(info.functionTools.map((t) => `${t.name}${t.deferLoading ? "(D)" : ""}`))
          switch (seen.length) {
            case 1:
              return FunctionModel.toolCall("search_tools", { queries: ["exchange rate USD"] })
            case 2:
              return FunctionModel.toolCall("get_exchange_rate", {
                from_currency: "USD",
                to_currency: "EUR"
              })
            default: {
              // Answers with what the found tool returned.
              const last = messages.at(-1)
              const ret = last?._tag === "ModelRequest" ? last.parts[0] : undefined
              return FunctionModel.text(ret?._tag === "ToolReturnPart" ? ret.contentText : "?")
            }
          }
        })
        const agent = Agent.make({ toolsets: [tools] })
        const result = yield* agent.run("What is the USD to EUR rate?").pipe(Effect.provide(model))
        assert.deepStrictEqual(seen, [
          ["get_weather", "search_tools"],
          ["get_weather", "get_exchange_rate", "search_tools"],
          ["get_weather", "get_exchange_rate", "search_tools"]
        ])
        assert.deepStrictEqual(rates, [{ from_currency: "USD", to_currency: "EUR" }])
        assert.strictEqual(result.output, "1 USD = 0.92 EUR")
        const searchReturn = result
          .allMessages()
          .flatMap((m) => (m._tag === "ModelRequest" ? m.parts : []))
          .find((p) => p._tag === "ToolReturnPart" && p.toolName === "search_tools")
        assert.strictEqual(searchReturn?._tag, "ToolReturnPart")
        if (searchReturn?._tag === "ToolReturnPart") {
          assert.deepStrictEqual(searchReturn.toolReferences, [
            new Messages.ToolReference({ toolName: "get_exchange_rate" })
          ])
          // Text for providers without references.
          assert.strictEqual(searchReturn.contentText, '["Tool loaded: get_exchange_rate"]')
        }
        // The history (references included) survives JSON and keeps what was loaded.
        const back = yield* Messages.decodeJson(result.allMessagesJson())
        assert.deepStrictEqual(back, result.allMessages())
        assert.deepStrictEqual([...Messages.loadedToolNames(back)], ["get_exchange_rate"])
      })
  )

  it.effect("the search tool's definition is marked toolSearch; no match is a plain text", () =>
    Effect.gen(function* () {
      const list = yield* tools.tools({} as never)
      const search = list.find((t) => t.definition.name === "search_tools")!
      assert.isTrue(search.definition.toolSearch)
      assert.deepStrictEqual(search.definition.parametersJsonSchema.required, ["queries"])
      const args = yield* search.decodeArgs({ queries: ["translate"] })
      const out = yield* search
        .call(args)
        .pipe(Effect.provideService(RunContext.RunContext, {} as never))
      assert.strictEqual(out, "No matching tools found. The tools you need may not be available.")
    })
  )

  it.effect("ToolAvailabilityDeltaPart loads tools without a search, and round-trips JSON", () =>
    Effect.gen(function* () {
      const history = [
        Messages.userPrompt("hi"),
        new Messages.ModelRequest({
          parts: [
            new Messages.ToolAvailabilityDeltaPart({ added: ["stock_lookup"], toolCallId: "c1" })
          ]
        })
      ]
      const back = yield* Messages.decodeJson(Messages.encodeJson(history))
      assert.deepStrictEqual(back, history)
      const parameters = new Model.ModelRequestParameters({
        functionTools: [getWeather, getExchangeRate, stockLookup].map((t) => t.definition)
      })
      const revealed = Model.revealDeferredTools(back, parameters)
      assert.deepStrictEqual(
        revealed.functionTools.map((t) => [t.name, t.deferLoading]),
        [
          ["get_weather", undefined],
          ["stock_lookup", undefined]
        ]
      )
      // Nothing deferred: the same parameters.
      const plain = new Model.ModelRequestParameters({ functionTools: [getWeather.definition] })
      assert.strictEqual(Model.revealDeferredTools(back, plain), plain)
    })
  )
})
