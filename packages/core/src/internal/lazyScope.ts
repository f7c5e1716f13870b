/**
 * A `Scope` that allocates nothing until something is put in it.
 *
 * `Scope.make()` builds its open state and finalizer `Map` at once (≈ 200 bytes of heap). A run
 * holds its scope for as long as it is in flight, and most runs put nothing there (no tracer, no
 * concurrency limit, no scoped resource of a tool): 2,000 runs in flight held ≈ 0.4 MB of empty
 * maps (bench/ANALYSIS.md, "Concurrent peak RSS"). This scope builds the same state on first
 * use and otherwise behaves as a sequential `Scope.make()`:
 *
 * - finalizers run in the reverse order of their addition, each whatever the others' exits,
 *   and the close fails with their failures combined;
 * - a finalizer added after the close runs at once with the close's exit; closing twice
 *   does nothing;
 * - `fork` makes a child scope closed with this one, and forgotten by it when the child
 *   closes first;
 * - `state` has the layout Effect's own code reads from a scope (`Effect.forkIn` /
 *   `Effect.forkScoped` register their fibers in `state.finalizers` while it is `Open`).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"

/** An open scope's state, as Effect's scope keeps it. */
interface Open {
  readonly _tag: "Open"
  readonly finalizers: Map<object, Scope.Scope.Finalizer>
}

/** A closed scope's state. */
interface Closed {
  readonly _tag: "Closed"
  readonly exit: Exit.Exit<unknown, unknown>
}

/** The combined exit of a close's finalizers: the first failures, else void. */
const combined = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>): Exit.Exit<void, unknown> =>
  Option.getOrElse(Option.map(Exit.all(exits), Exit.asVoid), () => Exit.void)

export class LazyScope implements Scope.CloseableScope {
  declare readonly [Scope.ScopeTypeId]: Scope.ScopeTypeId
  declare readonly [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId
  declare readonly strategy: ExecutionStrategy.ExecutionStrategy
  /** The open state, once something was put in the scope. */
  private opened: Open | undefined = undefined
  /** The close's exit, once closed. */
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  /** Effect's view of the scope (built on first read while open). */
  get state(): Open | Closed {
    if (this.closedWith !== undefined) return { _tag: "Closed", exit: this.closedWith }
    if (this.opened === undefined) this.opened = { _tag: "Open", finalizers: new Map() }
    return this.opened
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => {
      const state = this.state
      if (state._tag === "Closed") return finalizer(state.exit)
      state.finalizers.set({}, finalizer)
      return Effect.void
    })
  }

  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend((): Effect.Effect<void, unknown> => {
      if (this.closedWith !== undefined) return Effect.void
      this.closedWith = exit
      const opened = this.opened
      this.opened = undefined
      if (opened === undefined || opened.finalizers.size === 0) return Effect.void
      const finalizers = Array.from(opened.finalizers.values()).reverse()
      return Effect.flatMap(
        Effect.forEach(finalizers, (finalizer) => Effect.exit(finalizer(exit))),
        combined
      )
    }) as Effect.Effect<void>
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.flatMap(Scope.make(strategy), (child) =>
      Effect.suspend(() => {
        const state = this.state
        if (state._tag === "Closed") return Effect.as(Scope.close(child, state.exit), child)
        const key = {}
        state.finalizers.set(key, (exit) => Scope.close(child, exit))
        return Effect.as(
          Scope.addFinalizer(
            child,
            Effect.sync(() => {
              if (this.opened !== undefined) this.opened.finalizers.delete(key)
            })
          ),
          child
        )
      })
    )
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}

// On the prototype: an instance holds only its two fields.
Object.assign(LazyScope.prototype, {
  [Scope.ScopeTypeId]: Scope.ScopeTypeId,
  [Scope.CloseableScopeTypeId]: Scope.CloseableScopeTypeId,
  strategy: ExecutionStrategy.sequential
})
