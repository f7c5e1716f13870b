/**
 * The channels a streamed node is built from: one set up in a scope of its own
 * (`scopedChannel`), and one whose body runs in a fiber handing its events over a bounded
 * queue (`forkedChannel`).
 *
 * @internal
 */
import * as Channel from "effect/Channel"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import { type AgentNode, type AgentStreamEvent } from "../../AgentGraph.js"
import { type Emit } from "../toolExec.js"
import { EventSink } from "../composition.js" // [compose #18]
import type { Run, NodeChannel } from "../runLoop.js"

/**
 * The channel built by `setup`, run in a `Scope` of its own that closes (with the channel's
 * exit) when the channel ends, fails or is interrupted. What `Stream.unwrapScoped` does,
 * without running the built channel as a nested stage (`Stream.unwrapScoped` flattens a
 * one-element stream: every chunk of the inner stream is then read through one more level).
 */
export const scopedChannel = <OutElem, OutErr, OutDone, E, R>(
  setup: Effect.Effect<Channel.Channel<OutElem, unknown, OutErr, unknown, OutDone, unknown>, E, R>
): Channel.Channel<
  OutElem,
  unknown,
  OutErr | E,
  unknown,
  OutDone,
  unknown,
  Exclude<R, Scope.Scope>
> =>
  Channel.acquireUseRelease(
    Scope.make(),
    (scope) => Channel.unwrap(Scope.extend(setup, scope)),
    (scope, exit) => Scope.close(scope, exit)
  )

/**
 * A node run in a fiber of the channel's scope, its events handed over a bounded queue (see
 * `callToolsChannel`); the done value is the node it returns.
 */
export function forkedChannel<A>(
  self: Run<A>,
  body: (emit: Emit) => Effect.Effect<AgentNode<A>, unknown, unknown>
): NodeChannel<A> {
  return scopedChannel(
    Effect.gen(function* () {
      const queue = yield* Queue.bounded<Take.Take<AgentStreamEvent<A>, unknown>>(16)
      let next: AgentNode<A> | undefined
      const map = self.chunkMap
      // [perf #16] With a `chunkMap`, a chunk is mapped and queued under one lock, so chunks
      // are mapped in the order they are read (the queue is bounded: an offer may wait).
      const lock = map === undefined ? undefined : yield* Effect.makeSemaphore(1)
      const emit: Emit =
        map === undefined
          ? (events) => queue.offer(Take.chunk(events))
          : (events) =>
              lock!.withPermits(1)(Effect.suspend(() => queue.offer(Take.chunk(map(events)))))
      // [compose #18] Sub-agents (agent tools, handoffs) forward their events through the sink.
      yield* Effect.forkScoped(
        Effect.provide(body(emit), Context.add(self.runContext, EventSink, emit)).pipe(
          Effect.exit,
          Effect.flatMap((exit) => {
            if (Exit.isSuccess(exit)) next = exit.value
            return queue.offer(Exit.isSuccess(exit) ? Take.end : Take.failCause(exit.cause))
          })
        )
      )
      return Channel.zipRight(
        Stream.toChannel(Stream.flattenTake(Stream.fromQueue(queue))),
        Channel.sync(() => next!)
      )
    })
  )
}
