/**
 * Subscriptions to a durable run's events from any process of the cluster, over
 * `@effect/cluster`: one entity type per durable agent (`agentfx/events/<name>`), addressed by
 * the run's execution id — the workflow's own entity id, so both live on the same shard, that
 * is on the runner executing the run. Its streamed `Subscribe` request forwards that runner's
 * hub (`internal/events.ts`) from a position on; the events travel encoded with the Schemas
 * below (also in one process: the cluster checks that messages survive serialization).
 *
 * When the runner dies (or the shard moves), the subscription is opened again on the runner
 * that takes the run over, from the start of the model response in progress (else the position
 * after the last event the subscriber got): the new runner replays the run from storage,
 * re-numbering its events the same way, and `Resume` drops what was told already.
 */
import { AgentGraph, Messages, Usage } from "@agentfx/core"
import * as Entity from "@effect/cluster/Entity"
import type { Sharding } from "@effect/cluster/Sharding"
import * as Rpc from "@effect/rpc/Rpc"
import type { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { HubEvent, RunEvents, Told } from "./events.js"

/** `AgentRunResultEvent` (of a sub-agent, nested in `SubAgentEvent`): its output as JSON. */
const AgentRunResultEventSchema = Schema.transform(
  Schema.Struct({
    _tag: Schema.Literal("AgentRunResultEvent"),
    output: Schema.Unknown,
    usage: Usage.RunUsage,
    messages: Messages.ModelMessages,
    newMessageIndex: Schema.Number,
    runId: Schema.String
  }),
  Schema.declare(
    (u): u is AgentGraph.AgentRunResultEvent<unknown> => u instanceof AgentGraph.AgentRunResultEvent
  ),
  {
    strict: true,
    decode: (e) =>
      new AgentGraph.AgentRunResultEvent(
        new AgentGraph.AgentRunResult(e.output, e.usage, e.messages, e.newMessageIndex, e.runId)
      ),
    encode: (e) => ({
      _tag: "AgentRunResultEvent" as const,
      output: e.result.output,
      usage: e.result.usage,
      messages: e.result.allMessages(),
      newMessageIndex: e.result.allMessages().length - e.result.newMessages().length,
      runId: e.result.runId
    })
  }
)

interface SubAgentEventEncoded {
  readonly _tag: "SubAgentEvent"
  readonly agentName: string
  readonly toolCallId: string
  readonly event: unknown
}

/** `SubAgentEvent`: a sub-agent's event (which may nest another). */
const SubAgentEventSchema: Schema.Schema<AgentGraph.SubAgentEvent, SubAgentEventEncoded> =
  Schema.transform(
    Schema.Struct({
      _tag: Schema.Literal("SubAgentEvent"),
      agentName: Schema.String,
      toolCallId: Schema.String,
      event: Schema.suspend(
        (): Schema.Schema<AgentGraph.AgentStreamEvent<unknown>, unknown> => AnyAgentEvent
      )
    }),
    Schema.declare((u): u is AgentGraph.SubAgentEvent => u instanceof AgentGraph.SubAgentEvent),
    {
      strict: true,
      decode: (e) => new AgentGraph.SubAgentEvent(e.agentName, e.toolCallId, e.event),
      encode: (e) => ({
        _tag: "SubAgentEvent" as const,
        agentName: e.agentName,
        toolCallId: e.toolCallId,
        event: e.event
      })
    }
  )

/** The events of a run loop but its result (what a durable run's stream tells). */
const AgentEvent = Schema.Union(
  Messages.PartStartEvent,
  Messages.PartDeltaEvent,
  Messages.PartEndEvent,
  Messages.FinalResultEvent,
  Messages.FunctionToolCallEvent,
  Messages.FunctionToolResultEvent,
  Messages.ToolAvailabilityDeltaEvent,
  Messages.OutputToolCallEvent,
  Messages.OutputToolResultEvent,
  SubAgentEventSchema
)

const AnyAgentEvent = Schema.Union(
  AgentEvent,
  AgentRunResultEventSchema
) as unknown as Schema.Schema<AgentGraph.AgentStreamEvent<unknown>, unknown>

/** A deferred call of a stop (`DurableAgent.PendingCall`). */
const PendingCall = Schema.Struct({
  toolCallId: Schema.String,
  toolName: Schema.String,
  args: Messages.ToolArgs,
  kind: Schema.Literal("approval", "external"),
  metadata: Schema.Unknown,
  token: Schema.String
})

/** What a subscription sends: first `Subscribed`, then the run's events from a position. */
export type WireItem = { readonly _tag: "Subscribed" } | Told

/** The Schema of a subscription's items, for a run with these result and error Schemas. */
const wireItem = (success: Schema.Schema<any, any>, error: Schema.Schema<any, any>) => {
  const event = Schema.Union(
    AgentEvent,
    Schema.TaggedStruct("Waiting", {
      round: Schema.Number,
      calls: Schema.Array(PendingCall),
      messages: Messages.ModelMessages
    }),
    Schema.TaggedStruct("End", {
      exit: Schema.Exit({ success, failure: error, defect: Schema.Defect })
    })
  )
  return Schema.Union(
    Schema.TaggedStruct("Subscribed", {}),
    Schema.Struct({ position: Schema.Number, delta: Schema.Boolean, event })
  ) as unknown as Schema.Schema<WireItem, unknown>
}

/** How long a subscriber keeps trying to reach the run's runner again (then it fails). */
const reconnect = Schedule.spaced("500 millis").pipe(Schedule.intersect(Schedule.recurs(120)))

/** Positions kept for events handed to subscribers (`DurableAgent.position`). */
export const positions = new WeakMap<object, number>()

/**
 * What a told event is compared by, to recognise it told again: its JSON, a tool call's
 * arguments as their value (the same arguments may be a JSON string or the object).
 */
const keyOf = (event: HubEvent): string =>
  JSON.stringify(event, (key, value) => {
    if (key !== "args" || typeof value !== "string") return value
    try {
      return JSON.parse(value)
    } catch {
      return value
    }
  })

/**
 * Where a subscriber stands in a run, to resume when its runner goes away: the next numbered
 * position not told yet, and the first position of the model response in progress — the next
 * runner tells that response again from its start, from storage if it was stored (the same
 * events) or asked again of the model (perhaps different ones). A retelling that repeats what
 * was told is withheld and dropped; where it differs, or goes on past what was told (a part
 * cut short), it is told from the start of the part it differs in.
 */
export class Resume {
  /** The next numbered position not told yet. */
  private next: number
  /** The first position of the model response in progress. */
  private start: number | undefined
  /** The numbered events told since `start`, by position. */
  private readonly told = new Map<number, string>()
  /** Retold events withheld while they repeat what was told. */
  private held: Array<Told> = []
  /** The retelling differs from what was told: told as it comes. */
  private differs = false
  /** The run's end was received. */
  ended = false

  constructor(from: number) {
    this.next = from
  }

  /** The position to subscribe from. */
  get from(): number {
    return this.start ?? this.next
  }

  /** What to tell the subscriber for one received event (in order). */
  accept(item: Told): ReadonlyArray<Told> {
    if (item.event._tag === "End") {
      this.ended = true
      return this.release(item)
    }
    if (item.position < this.from) return []
    if (item.position >= this.next || (item.delta && item.position === this.next)) {
      // past what was told: a part still withheld was cut short, and is told from its start
      this.differs = false
      return this.release(item)
    }
    if (this.differs) return this.release(item)
    this.held.push(item)
    if (item.delta || item.event._tag === "PartStartEvent") return []
    if (this.told.get(item.position) !== keyOf(item.event)) {
      this.differs = true
      return this.release()
    }
    if (this.complete()) this.held = []
    return []
  }

  /** Whether every part started in the withheld events also ended there. */
  private complete(): boolean {
    const open = new Set<number>()
    for (const { event } of this.held) {
      if (event._tag === "PartStartEvent") open.add(event.index)
      else if (event._tag === "PartEndEvent") open.delete(event.index)
    }
    return open.size === 0
  }

  /** The withheld events and `item`, told now. */
  private release(item?: Told): ReadonlyArray<Told> {
    const out = this.held
    this.held = []
    if (item !== undefined) out.push(item)
    for (const told of out) this.record(told)
    return out
  }

  private record(told: Told): void {
    if (told.delta || told.event._tag === "End") return
    if (told.position >= this.next) this.next = told.position + 1
    const tag = told.event._tag
    if (tag === "PartStartEvent") this.start ??= told.position
    else if (tag !== "PartEndEvent" && tag !== "FinalResultEvent") {
      this.start = undefined
      this.told.clear()
    }
    if (this.start !== undefined) this.told.set(told.position, keyOf(told.event))
  }
}

/** The subscriptions of one durable agent. */
export const make = (options: {
  readonly name: string
  readonly events: RunEvents
  /** The stored end of a run, if it ended. */
  readonly storedEnd: (
    executionId: string
  ) => Effect.Effect<Exit.Exit<unknown, unknown> | undefined, never, WorkflowEngine>
  readonly success: Schema.Schema<any, any>
  readonly error: Schema.Schema<any, any>
}) => {
  const entity = Entity.make(`agentfx/events/${options.name}`, [
    Rpc.make("Subscribe", {
      payload: { from: Schema.NonNegativeInt },
      success: wireItem(options.success, options.error),
      stream: true
    })
  ])

  /** The handlers, on every runner: a subscription forwards this runner's hub. */
  const layer: Layer.Layer<never, never, Sharding | WorkflowEngine> = entity.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const executionId = address.entityId
      const engine = yield* Effect.context<WorkflowEngine>()
      return {
        Subscribe: (request) =>
          Stream.unwrapScoped(
            Effect.gen(function* () {
              const items = yield* Mailbox.make<WireItem>()
              yield* Effect.acquireRelease(
                Effect.sync(() =>
                  options.events.subscribe(executionId, request.payload.from, (told) => {
                    items.unsafeOffer(told)
                  })
                ),
                (unsubscribe) => Effect.sync(unsubscribe)
              )
              // A run that ended before (its log is gone): its stored result.
              const stored = yield* Effect.provide(options.storedEnd(executionId), engine)
              if (stored !== undefined) {
                items.unsafeOffer({
                  position: Number.MAX_SAFE_INTEGER,
                  delta: false,
                  event: { _tag: "End", exit: stored }
                })
              }
              return Stream.concat(
                Stream.succeed<WireItem>({ _tag: "Subscribed" }),
                Mailbox.toStream(items).pipe(
                  Stream.takeUntil((item) => "event" in item && item.event._tag === "End")
                )
              )
            })
          )
      }
    }),
    { concurrency: "unbounded" }
  )

  /**
   * The events of a run from position `from`, from whichever runner executes it, until its
   * end; `subscribed` runs once the first subscription is in place (before any event).
   */
  const stream = <R = never>(
    executionId: string,
    from: number,
    subscribed: Effect.Effect<void, never, R> = Effect.void
  ): Stream.Stream<HubEvent, never, Sharding | R> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const client = (yield* entity.client)(executionId)
        const resume = new Resume(from)
        let first = true
        const once = Stream.suspend(() =>
          client.Subscribe({ from: resume.from }).pipe(
            Stream.mapEffect((item): Effect.Effect<ReadonlyArray<Told>, never, R> => {
              if ("event" in item) return Effect.succeed(resume.accept(item))
              if (!first) return Effect.succeed([])
              first = false
              return Effect.as(subscribed, [])
            }),
            Stream.flattenIterables,
            // a lost runner (a failure or a defect on the wire): subscribe again
            Stream.catchAllCause((cause) => Stream.fail(cause)),
            // ended without the run's end: the runner went away; subscribe again
            Stream.concat(
              Stream.suspend(() =>
                resume.ended
                  ? Stream.empty
                  : Stream.fail(Cause.fail(new Cause.NoSuchElementException()))
              )
            )
          )
        )
        return once.pipe(
          Stream.retry(reconnect),
          Stream.catchAll((cause: Cause.Cause<unknown>) => Stream.die(Cause.squash(cause))),
          Stream.map((told) => {
            if (!told.delta && told.event._tag !== "End") positions.set(told.event, told.position)
            return told.event
          })
        )
      })
    )

  return { layer, stream }
}
