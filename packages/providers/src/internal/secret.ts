/**
 * Secrets read from configuration.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"

/**
 * `Config.redacted(name)`, a blank value read as missing: `OPENAI_API_KEY=` left empty in an
 * environment file is "not set" (a clear configuration error naming it, or no key where a key
 * is optional), not a key of nothing sent to the provider.
 */
export const secret = (name: string): Config.Config<Redacted.Redacted> =>
  Config.mapOrFail(Config.redacted(name), (value) =>
    Redacted.value(value).trim() === ""
      ? Either.left(ConfigError.MissingData([name], `${name} is set but empty`))
      : Either.right(value)
  )
