#!/usr/bin/env node
/**
 * The `agentfx` executable: runs `Cli.run` on the process arguments with the Node context.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Cli from "./Cli.js"

Cli.run(process.argv).pipe(
  // @effect/cli has printed what is wrong with the arguments: exit 1 without a second report
  Effect.catchIf(ValidationError.isValidationError, () =>
    Effect.sync(() => {
      process.exitCode = 1
    })
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
