/** Resolving `"provider:model"` strings through the default registry with a given environment. */
import { Model } from "@agentfx/core"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ModelRegistry from "../../src/ModelRegistry.js"

/** The model a string resolves to with only `env` as configuration (a `UserError` otherwise). */
export const resolveModel = (name: string, env: Record<string, string>) =>
  Effect.flatMap(Model.ModelRegistry, (r) => r.resolve(name)).pipe(
    Effect.provide(ModelRegistry.layer()),
    Effect.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))),
    Effect.provide(NodeHttpClient.layerUndici)
  )
