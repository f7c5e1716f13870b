/**
 * Image output (pydantic-ai's `output_type=BinaryImage`): the run ends with the first image the
 * model generates — a `FilePart` of the response — as a `Messages.BinaryContent` (bytes and
 * media type), or with what a function makes of it. Providers are asked for images
 * (`ModelRequestParameters.allowImageOutput`): OpenAI Responses gets the `image_generation` tool
 * (unless the agent has a `BuiltinTool.ImageGeneration` already), Gemini image models get
 * `IMAGE` in `responseModalities`. A model whose profile lacks `supportsImageOutput` fails the
 * run with "Image output is not supported by this model." before any request.
 *
 * A response without an image gets the retry prompt "Please return an image." (with the other
 * ways to answer when there are some: "Please call a tool or return an image."), counted
 * against the output retries. Combine it with other outputs in `Output.union` (text, output
 * tools, native / prompted JSON): an image beats text in the same response.
 *
 * @example
 * ```ts
 * import { Agent, OutputSpec } from "@agentfx/core"
 * import { ImageOutput, Output } from "@agentfx/output"
 *
 * const painter = Agent.make({ output: ImageOutput.make() }) // runs produce a BinaryContent
 * const either = Agent.make({ output: Output.union([ImageOutput.make(), OutputSpec.text]) })
 * ```
 *
 * @since 0.1.0
 */
import { ModelRetry, UserError } from "@agentfx/core/AgentError"
import type { BinaryContent } from "@agentfx/core/Messages"
import type { ModelProfile } from "@agentfx/core/Model"
import * as OutputSpec from "@agentfx/core/OutputSpec"
import * as Effect from "effect/Effect"

/** The error of a model that cannot generate images. */
const unsupported = (profile: ModelProfile): UserError | undefined =>
  profile.supportsImageOutput === true
    ? undefined
    : new UserError({ reason: "Image output is not supported by this model." })

/** The image itself: a `BinaryContent` with an `image/*` media type. */
export function make(): OutputSpec.OutputSpec<BinaryContent>
/**
 * An output made from the image by an Effect `f` (may use services and `RunContext`, and fail
 * with `ModelRetry` to ask the model again).
 */
export function make<A, R = never>(
  f: (image: BinaryContent) => Effect.Effect<A, ModelRetry, R>
): OutputSpec.OutputSpec<A, R>
/** An output made from the image by a plain function `f`. */
export function make<A>(f: (image: BinaryContent) => A): OutputSpec.OutputSpec<A>
export function make<A, R>(
  f?: (image: BinaryContent) => Effect.Effect<A, ModelRetry, R> | A
): OutputSpec.OutputSpec<A, R> {
  return {
    ...OutputSpec.make<A, R>({
      mode: "image",
      allowTextOutput: false,
      allowImageOutput: true,
      handleImage: (image) => {
        if (f === undefined) return Effect.succeed(image as A)
        const result = f(image)
        return Effect.isEffect(result)
          ? (result as Effect.Effect<A, ModelRetry, R>)
          : Effect.succeed(result as A)
      },
      // Text alone never ends an image run: the run loop asks for an image instead.
      handleText: () => Effect.fail(new ModelRetry({ reason: "Please return an image." })),
      handleToolCall: (call) =>
        Effect.fail(
          new ModelRetry({ reason: `Unknown tool name: '${call.toolName}'. No tools available.` })
        )
    }),
    check: unsupported
  }
}
