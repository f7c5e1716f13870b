/**
 * Image output added to another output spec (`Output.union` of `ImageOutput` with text, tool,
 * native, prompted or auto output).
 *
 * @internal
 */
import type * as OutputSpec from "@agentfx/core/OutputSpec"

/**
 * `spec` with image output added (used by `Output.union`): its image handling and model check
 * come from `image`; an auto spec gets it on whatever mode it resolves to.
 */
export const attach = <A, R>(
  spec: OutputSpec.OutputSpec<A, R>,
  image: OutputSpec.Any
): OutputSpec.OutputSpec<A, R> => {
  if (spec.resolve !== undefined) {
    const resolve = spec.resolve
    const { resolve: _, ...rest } = spec
    return {
      ...attach(rest as OutputSpec.OutputSpec<A, R>, image),
      resolve: (profile) => attach(resolve(profile), image)
    }
  }
  const own = spec.check
  return {
    ...spec,
    allowImageOutput: true,
    handleImage: image.handleImage!,
    check: (profile) => image.check?.(profile) ?? own?.(profile)
  }
}
