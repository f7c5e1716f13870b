/**
 * A node run through the capability hooks, innermost first: the node hooks (`beforeNodeRun`,
 * `wrapNodeRun`, `afterNodeRun`, `onNodeRunError`), `onRunError` and `wrapRun` — as an Effect
 * or, streamed, as a channel whose events flow while the hooks wait.
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as EffectDeferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { AgentRunResult, type AgentNode, End } from "../../AgentGraph.js"
import { type Service as RunContextService } from "../../RunContext.js"
import * as capabilities from "../capabilities.js"
import type { Run, NodeChannel } from "../runLoop.js"
import { endNode } from "./end.js"

/**
 * A node run as an Effect (`run`, `iter`'s `next`; the push path gives its own `run`) through
 * the capability hooks, innermost first: the node hooks, `onRunError`, `wrapRun`.
 */
export function hookedStep<A>(
  self: Run<A>,
  node: AgentNode<A>,
  run?: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown, unknown>
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const hooks = self.plan.config.hooks
  const plain = (): Effect.Effect<AgentNode<A>, unknown, unknown> =>
    run === undefined
      ? (self.ownBehaviour(node, false) as Effect.Effect<AgentNode<A>, unknown, unknown>)
      : run(node)
  if (hooks === undefined || node._tag === "End") return plain()
  const own = hooks.node
    ? (nodeHooked(self, node, false, run) as Effect.Effect<AgentNode<A>, unknown, unknown>)
    : plain()
  const base =
    hooks.onRunError === undefined ? own : Effect.catchAll(own, (e) => recoverRun(self, e))
  return hooks.wrapRun === undefined ? base : wrapStep(self, base)
}

/**
 * A node through the node hooks: `beforeNodeRun` (may replace it), the `wrapNodeRun` chain
 * around running it (streamed: a hand-off, the node's events flowing to the reader while the
 * chain waits in `next`), then `onNodeRunError` on a failure or `afterNodeRun` on its next node.
 */
export function nodeHooked<A>(
  self: Run<A>,
  node: AgentNode<A>,
  streaming: boolean,
  run: (node: AgentNode<A>) => Effect.Effect<AgentNode<A>, unknown, unknown> = (m) =>
    self.ownBehaviour(m, false) as Effect.Effect<AgentNode<A>, unknown, unknown>
): NodeChannel<A> | Effect.Effect<AgentNode<A>, unknown, unknown> {
  const hooks = self.plan.config.hooks!
  type Node = AgentNode<unknown>
  const settle = (
    ctx: RunContextService,
    ran: Node,
    result: Effect.Effect<Node, unknown, unknown>
  ): Effect.Effect<AgentNode<A>, unknown, unknown> =>
    Effect.matchEffect(result, {
      onFailure: (e) =>
        hooks.onNodeRunError === undefined
          ? Effect.fail(e)
          : capabilities.onNodeRunError(hooks.onNodeRunError, ctx, ran, e),
      onSuccess: (next) =>
        hooks.afterNodeRun === undefined
          ? Effect.succeed(next)
          : capabilities.afterNodeRun(hooks.afterNodeRun, ctx, ran, next)
    }) as Effect.Effect<AgentNode<A>, unknown, unknown>
  const prepared = Effect.flatMap(self.makeCtx(), (ctx) =>
    Effect.map(
      hooks.beforeNodeRun === undefined
        ? Effect.succeed(node as Node)
        : capabilities.beforeNodeRun(hooks.beforeNodeRun, ctx, node),
      (n) => [ctx, n as AgentNode<A>] as const
    )
  )
  const wraps = hooks.wrapNodeRun
  if (!streaming) {
    return Effect.flatMap(prepared, ([ctx, n]) => {
      const core = (m: Node) => run(m as AgentNode<A>) as Effect.Effect<Node, unknown, unknown>
      return settle(
        ctx,
        n,
        wraps === undefined ? core(n) : capabilities.wrapNodeRun(wraps, ctx, n, core)
      )
    })
  }
  return Channel.unwrap(
    Effect.flatMap(self.provide(prepared), ([ctx, n]) => {
      if (wraps === undefined) {
        return Effect.succeed(
          Channel.mapEffect(
            Channel.catchAll(self.ownBehaviour(n, true) as NodeChannel<A>, (e) =>
              Channel.fromEffect(self.provide(settle(ctx, n, Effect.fail(e))))
            ),
            (next) => self.provide(settle(ctx, n, Effect.succeed(next)))
          )
        )
      }
      return Effect.map(
        self.provide(
          startHandOff<Node, Node, Node>(
            (next) => capabilities.wrapNodeRun(wraps, ctx, n, next),
            (effect) => forkInRun(self, effect)
          )
        ),
        (s): NodeChannel<A> => {
          if (s._tag === "Ended") return Channel.fromEffect(self.provide(settle(ctx, n, s.exit)))
          // the node the chain asked to run: its events flow; its end goes to the chain
          const ran = self.ownBehaviour(s.input as AgentNode<A>, true) as NodeChannel<A>
          const ended = Channel.catchAll(
            Channel.map(ran, (next): Exit.Exit<Node, unknown> => Exit.succeed(next)),
            (e) => Channel.succeed(Exit.fail(e) as Exit.Exit<Node, unknown>)
          )
          return Channel.mapEffect(ended, (exit) =>
            self.provide(settle(ctx, n, endHandOff(s.handOff, exit)))
          )
        }
      )
    })
  )
}

/**
 * A step inside the `wrapRun` hooks. The run's first step starts them (`startWrap`); a chain
 * that returned without calling `next` ends the run there. The run's end — the `End` a step
 * gives, or a step's failure — is handed to them (`finishWrap`), and what they return ends it.
 */
export function wrapStep<A>(
  self: Run<A>,
  step: Effect.Effect<AgentNode<A>, unknown, unknown>
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const run = Effect.matchEffect(step, {
    onFailure: (e) => finishWrap(self, Exit.fail(self.withMessagesOf(e))),
    onSuccess: (next) =>
      next._tag === "End" && self.wrapState !== undefined
        ? finishWrap(self, Exit.succeed(next.result))
        : Effect.succeed(next)
  })
  if (self.wrapStarted) return run
  return Effect.flatMap(startWrap(self), (ended) =>
    ended === undefined ? run : Effect.succeed(ended)
  )
}

/** `wrapStep` for a streamed step: its events flow while the hooks wait in `next`. */
export function wrapChannel<A>(self: Run<A>, channel: NodeChannel<A>): NodeChannel<A> {
  const run = Channel.mapEffect(
    Channel.catchAll(channel, (e) =>
      Channel.fromEffect(self.provide(finishWrap(self, Exit.fail(self.withMessagesOf(e)))))
    ),
    (next) =>
      next._tag === "End" && self.wrapState !== undefined
        ? self.provide(finishWrap(self, Exit.succeed(next.result)))
        : Effect.succeed(next)
  )
  if (self.wrapStarted) return run
  return Channel.unwrap(
    Effect.map(self.provide(startWrap(self)), (ended) =>
      ended === undefined ? run : Channel.succeed(ended)
    )
  )
}

/**
 * Forks the `wrapRun` chain in the run's scope (interrupted with the run) and waits until it
 * calls `next` (undefined: the run goes on) or ends without calling it (its result's `End`,
 * or its failure).
 */
export function startWrap<A>(
  self: Run<A>
): Effect.Effect<AgentNode<A> | undefined, unknown, unknown> {
  self.wrapStarted = true
  const fns = self.plan.config.hooks!.wrapRun!
  return Effect.flatMap(self.makeCtx(), (ctx) =>
    Effect.flatMap(
      startHandOff<void, AgentRunResult<unknown>, AgentRunResult<unknown>>(
        (next) => capabilities.wrapRun(fns, ctx, next(undefined)),
        (effect) => forkInRun(self, effect)
      ),
      (s) => {
        if (s._tag === "Started") {
          self.wrapState = s.handOff
          return Effect.succeed(undefined)
        }
        return Effect.map(s.exit, (result) => new End(result as AgentRunResult<A>))
      }
    )
  )
}

/** Forks `effect` with the run's requirements in the run's scope (interrupted with the run). */
export function forkInRun<A, X>(
  self: Run<A>,
  effect: Effect.Effect<X, unknown, unknown>
): Effect.Effect<Fiber.RuntimeFiber<X, unknown>> {
  const provided = self.provide(effect)
  return self.ownerScope === undefined
    ? Effect.fork(provided)
    : Effect.forkIn(provided, self.ownerScope)
}

/** Hands the run's end to the `wrapRun` chain waiting in `next`; what it returns ends the run. */
export function finishWrap<A>(
  self: Run<A>,
  exit: Exit.Exit<AgentRunResult<unknown>, unknown>
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const wrap = self.wrapState
  if (wrap === undefined) return Effect.map(exit, (result) => new End(result as AgentRunResult<A>))
  self.wrapState = undefined
  return Effect.map(endHandOff(wrap, exit), (result) => new End(result as AgentRunResult<A>))
}

/**
 * The run's failure through the `onRunError` hooks: a recovered output ends the run (through
 * the `afterRun` hooks), else the error.
 */
export function recoverRun<A>(
  self: Run<A>,
  error: unknown
): Effect.Effect<AgentNode<A>, unknown, unknown> {
  const fns = self.plan.config.hooks?.onRunError
  if (fns === undefined) return Effect.fail(error)
  return Effect.flatMap(self.makeCtx(), (ctx) =>
    Effect.flatMap(capabilities.onRunError(fns, ctx, error), (output) => endNode(self, output as A))
  )
}

/**
 * A `wrap*` hook chain running beside a piece of the run that runs on the caller's side (the
 * whole run, a streamed node whose events flow to the reader): the chain runs in a fiber of its
 * own, and its `next(input)` waits for the piece's end.
 */
export interface HandOff<X, Y> {
  readonly done: EffectDeferred.Deferred<X, unknown>
  readonly fiber: Fiber.RuntimeFiber<Y, unknown>
}

/**
 * Forks `chain(next)` and waits until it calls `next(input)` — the piece runs with that input,
 * and `endHandOff` gives the chain its end — or ends without calling it (its exit: the piece is
 * skipped). Calling `next` again gives the same end.
 */
export const startHandOff = <I, X, Y>(
  chain: (next: (input: I) => Effect.Effect<X, unknown>) => Effect.Effect<Y, unknown, unknown>,
  fork: (
    effect: Effect.Effect<Y, unknown, unknown>
  ) => Effect.Effect<Fiber.RuntimeFiber<Y, unknown>, never, unknown>
): Effect.Effect<
  | { readonly _tag: "Started"; readonly handOff: HandOff<X, Y>; readonly input: I }
  | { readonly _tag: "Ended"; readonly exit: Exit.Exit<Y, unknown> },
  never,
  unknown
> =>
  Effect.flatMap(
    Effect.all([
      EffectDeferred.make<{ readonly input: I } | { readonly exit: Exit.Exit<Y, unknown> }>(),
      EffectDeferred.make<X, unknown>()
    ]),
    ([started, done]) => {
      const next = (input: I) =>
        Effect.zipRight(EffectDeferred.succeed(started, { input }), EffectDeferred.await(done))
      // completing `started` again is a no-op: only a chain that never called `next` ends it
      const run = Effect.onExit(chain(next), (exit) => EffectDeferred.succeed(started, { exit }))
      return Effect.flatMap(fork(run), (fiber) =>
        Effect.map(EffectDeferred.await(started), (s) =>
          "input" in s
            ? { _tag: "Started" as const, handOff: { done, fiber }, input: s.input }
            : { _tag: "Ended" as const, exit: s.exit }
        )
      )
    }
  )

/** The piece's end to the chain waiting in `next`; the chain's own end. */
export const endHandOff = <X, Y>(
  handOff: HandOff<X, Y>,
  exit: Exit.Exit<X, unknown>
): Effect.Effect<Y, unknown> =>
  Effect.zipRight(EffectDeferred.done(handOff.done, exit), Fiber.join(handOff.fiber))
