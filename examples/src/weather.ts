/**
 * weather — tools that use a service provided by a Layer, called in parallel.
 *
 * The agent has two tools, `get_lat_lng` and `get_weather`, both backed by a `WeatherApi`
 * service. The program provides a built-in implementation (`WeatherApi.layerDemo`, no network);
 * a real one would be another Layer with the same Tag. The model asks for both places at once,
 * so the loop runs the calls of one response concurrently: watch the timestamps.
 *
 * Run: npx tsx --conditions=@agentfx/source examples/src/weather.ts   (from the repo root)
 *  or: npx -y pnpm@10.34.9 --filter @agentfx/examples weather
 */
import { Agent, AgentError, FunctionModel, Tool } from "@agentfx/core"
import { NodeRuntime } from "@effect/platform-node"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { pickModel } from "./lib/pickModel.js"
import * as Scripted from "@agentfx/cli/Scripted"

// -- the service the tools use ---------------------------------------------------------------

/** Geocoding and forecasts. */
export class WeatherApi extends Context.Tag("examples/WeatherApi")<
  WeatherApi,
  {
    readonly geocode: (
      place: string
    ) => Effect.Effect<{ lat: number; lng: number }, AgentError.ModelRetry>
    readonly forecast: (
      lat: number,
      lng: number
    ) => Effect.Effect<{ temperature: string; description: string }>
  }
>() {
  /** Canned data with a little latency, so the example runs anywhere. */
  static readonly layerDemo = Layer.succeed(WeatherApi, {
    geocode: (place) => {
      const known: Record<string, { lat: number; lng: number }> = {
        london: { lat: 51.507, lng: -0.128 },
        wiltshire: { lat: 51.35, lng: -1.994 },
        paris: { lat: 48.857, lng: 2.352 }
      }
      const hit = Object.entries(known).find(([name]) => place.toLowerCase().includes(name))
      return hit === undefined
        ? Effect.fail(
            new AgentError.ModelRetry({ reason: `Could not find the location "${place}"` })
          )
        : Effect.as(Effect.sleep("150 millis"), hit[1])
    },
    forecast: (lat, lng) =>
      Effect.as(Effect.sleep("150 millis"), {
        temperature: `${Math.round(12 + (Math.abs(lat - lng) % 10))} °C`,
        description: lng < -1 ? "Light rain" : "Partly cloudy"
      })
  })
}

// -- the agent ---------------------------------------------------------------------------------

const getLatLng = Tool.make("get_lat_lng", {
  description: "Get the latitude and longitude of a location.",
  parameters: Schema.Struct({
    location_description: Schema.String.annotations({
      description: "A description of a location, e.g. a city name."
    })
  }),
  handler: ({ location_description }) =>
    Effect.flatMap(WeatherApi, (api) => api.geocode(location_description))
})

const getWeather = Tool.make("get_weather", {
  description: "Get the weather at a location.",
  parameters: Schema.Struct({ lat: Schema.Number, lng: Schema.Number }),
  handler: ({ lat, lng }) => Effect.flatMap(WeatherApi, (api) => api.forecast(lat, lng))
})

/** Requires `WeatherApi` (from the tools) and a `Model`. */
export const weatherAgent = Agent.make({
  name: "weather",
  instructions:
    "Be concise, reply with one sentence. Use get_lat_lng to find each location, then " +
    "get_weather for each; call the tools for all places at once.",
  tools: [getLatLng, getWeather]
})

// -- the scripted model: what a good model would do ----------------------------------------------

const scripted = Scripted.make("weather", (messages) => {
  const places = ["London", "Wiltshire", "Paris"].filter((p) =>
    Scripted.lastPrompt(messages).includes(p)
  )
  const located = Scripted.toolReturns(messages, "get_lat_lng")
  const forecasts = Scripted.toolReturns(messages, "get_weather")
  if (located.length === 0) {
    // one response, several calls: the loop runs them concurrently
    return FunctionModel.toolCalls(
      places.map((p) => ({ toolName: "get_lat_lng", args: { location_description: p } }))
    )
  }
  if (forecasts.length === 0) {
    return FunctionModel.toolCalls(
      located.map((r) => ({ toolName: "get_weather", args: r.content as Record<string, number> }))
    )
  }
  return forecasts
    .map((f, i) => {
      const w = f.content as { temperature: string; description: string }
      return `${places[i]}: ${w.description.toLowerCase()}, ${w.temperature}`
    })
    .join("; ")
    .concat(".")
})

// -- the program -------------------------------------------------------------------------------

const argsText = (args: unknown) => (typeof args === "string" ? args : JSON.stringify(args))

const program = Effect.gen(function* () {
  const model = yield* pickModel(scripted)
  yield* Console.log(`model: ${model.description}`)
  const started = Date.now()
  const at = () => `+${String(Date.now() - started).padStart(4)} ms`
  const result = yield* weatherAgent
    .runStream("What is the weather like in London and in Wiltshire?")
    .pipe(
      Stream.tap((event) => {
        switch (event._tag) {
          case "FunctionToolCallEvent":
            return Console.log(
              `${at()}  call   ${event.part.toolName} ${argsText(event.part.args)}`
            )
          case "FunctionToolResultEvent":
            return Console.log(
              `${at()}  return ${event.result.toolName ?? ""} ${event.result._tag === "ToolReturnPart" ? event.result.contentText : event.result.modelResponse}`
            )
          default:
            return Effect.void
        }
      }),
      Agent.finalResult,
      Effect.provide(model.layer)
    )
  yield* Console.log(`answer: ${result.output}`)
  yield* Console.log(
    `usage: ${result.usage.requests} requests, ${result.usage.toolCalls} tool calls`
  )
})

program.pipe(Effect.provide(WeatherApi.layerDemo), NodeRuntime.runMain)
