/**
 * Image output added to another output spec (`Output.union` of `ImageOutput` with text, tool,
 * native, prompted or auto output).
 *
 * @internal
 */
import type * as OutputSpec from "@agentfx/core/OutputSpec"
import { mapModes } from "./build.js"

/**
 * `spec` with image output added (used by `Output.union`): its image handling and model check
 * come from `image`; an auto spec gets it on whatever mode it resolves to.
 */
export const attach = <A, R>(
  spec: OutputSpec.OutputSpec<A, R>,
  image: OutputSpec.Any
): OutputSpec.OutputSpec<A, R> =>
  mapModes(spec, (s) => {
    const own = s.check
    return {
      ...s,
      allowImageOutput: true,
      handleImage: image.handleImage!,
      check: (profile) => image.check?.(profile) ?? own?.(profile)
    }
  })
