/**
 * `new C(props, true)` for a `Schema.Class` / `Schema.TaggedClass`, without the constructor's
 * per-call work. Effect's class constructor copies the props (an object spread), drops a given
 * `_tag`, walks every field to fill in missing defaults, then copies the props again in
 * `Data.Class`. Here the defaults are looked up once per class, and the instance is made by
 * `Data.Class` itself with the class as `new.target` (`Reflect.construct`): the same prototype,
 * the same own properties in the same order (the given props, `_tag` skipped, then each missing
 * default in field order), with no validation (as `true` turns it off).
 * construct.test.ts checks the instances against the constructors'.
 *
 * For classes built on `Data.Class` with no field initialisers or constructor of their own
 * (every message and usage class of core); anything else keeps its constructor.
 *
 * Why the constructor is slow: it copies the props with an object spread, and V8 gives a
 * spread's copy a map that adding properties does not share, so every default it fills in
 * makes a new hidden class (≈ 1 µs each: `new RequestUsage({ inputTokens, outputTokens },
 * true)` costs ≈ 6 µs, 0.3 µs here).
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"

/** A `Schema.Class`: constructed with `(props, disableValidation)`, its fields as a static. */
export interface SchemaClass<P, A> {
  new (props: P, disableValidation?: boolean): A
  readonly fields: Schema.Struct.Fields
}

type Default = readonly [key: string, make: () => unknown]

const defaultsOf = (fields: Schema.Struct.Fields): ReadonlyArray<Default> => {
  const out: Array<Default> = []
  for (const key of Object.keys(fields)) {
    const field = fields[key]
    if (!Schema.isPropertySignature(field)) continue
    const ast = field.ast
    const make =
      ast._tag === "PropertySignatureDeclaration" ? ast.defaultValue : ast.to.defaultValue
    if (make !== undefined) out.push([key, make])
  }
  return out
}

/** The constructor at the root of `klass`'s chain (`Data.Class` for a Schema class). */
const rootOf = (klass: Function): Function => {
  let root = klass
  for (
    let parent = Object.getPrototypeOf(root);
    parent !== Function.prototype && parent !== null;
    parent = Object.getPrototypeOf(parent)
  ) {
    root = parent
  }
  return root
}

/** See `Messages.Unvalidated`. */
export interface Made<P, A> {
  (props: P): A
  readonly copy: (from: A, changes: Partial<P>) => A
}

/** A maker of `klass` instances equal to `new klass(props, true)`. */
export const unvalidated = <P, A>(klass: SchemaClass<P, A>): Made<P, A> => {
  if (rootOf(klass) !== Data.Class) {
    return Object.assign((props: P) => new klass(props, true), {
      copy: (from: A, changes: Partial<P>) => new klass({ ...from, ...changes } as P, true)
    })
  }
  const defaults = defaultsOf(klass.fields)
  // A tagged class's constructor drops a given `_tag` and sets it from its default.
  const tagged = defaults.some(([key]) => key === "_tag")
  const withDefaults = (self: Record<string, unknown>): A => {
    for (let i = 0; i < defaults.length; i++) {
      const [key, make] = defaults[i]!
      if (self[key] === undefined) self[key] = make()
    }
    return self as A
  }
  const make = (props: P): A => {
    const self = Reflect.construct(Data.Class, [], klass) as Record<string, unknown>
    const given = props as Record<string, unknown>
    if (tagged && Object.hasOwn(given, "_tag")) {
      for (const key of Object.keys(given)) if (key !== "_tag") self[key] = given[key]
    } else {
      Object.assign(self, given)
    }
    return withDefaults(self)
  }
  const copy = (from: A, changes: Partial<P>): A => {
    const self = Reflect.construct(Data.Class, [], klass) as Record<string, unknown>
    const source = from as Record<string, unknown>
    const changed = changes as Record<string, unknown>
    // the order of `{ ...from, ...changes }`: `from`'s keys (changed values in place), then new ones
    for (const key of Object.keys(source)) {
      if (tagged && key === "_tag") continue
      self[key] = Object.hasOwn(changed, key) ? changed[key] : source[key]
    }
    for (const key of Object.keys(changed)) {
      if (!Object.hasOwn(source, key) && !(tagged && key === "_tag")) self[key] = changed[key]
    }
    return withDefaults(self)
  }
  return Object.assign(make, { copy })
}
