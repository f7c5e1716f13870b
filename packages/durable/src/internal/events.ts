/**
 * The in-process event hub of durable runs: what the event subscriptions of this process's
 * runner forward (`internal/subscription.ts`). Nothing here is persisted — the workflow
 * engine persists completed steps; this forwards the events of a run as this process executes
 * (or replays) it: the events the core run loop emits (`RunOptions.onEvent`: parts and their
 * deltas, final result, tool calls and results, tool availability, output tool events,
 * sub-agent events — the same as `agent.runStream`, in the same order) and the stops for
 * deferred calls.
 *
 * The run loop is deterministic given the same persisted steps, so the n-th event of one
 * execution of a run is the n-th event of its replay — on this process after a wait, or on a
 * restarted / taking-over runner. Each event carries that position (deltas are not numbered:
 * a replayed response has none, nor has a replayed tool call its sub-agent's events: such an
 * event carries the position of the next numbered event), and
 * a position already told in this process (a replay after a wait) is skipped. Subscribers
 * resume from a position: what they were told before a runner died is not told again.
 *
 * Per run it keeps a log: a part's deltas are folded into its `PartStartEvent` once its
 * `PartEndEvent` is told (a late subscriber gets the whole part), the deltas of a part in
 * progress are kept. A new subscriber gets the log from its position on, then the live
 * events. The log is dropped when the run ends; the logs of suspended runs (waiting for a
 * person) are kept for the latest `maxWaiting` of them, so that a subscriber joining a waiting
 * run sees what it did so far (an older one is told its events when it resumes and replays).
 */
import { type AgentGraph, Messages } from "@agentfx/core"
import type * as Exit from "effect/Exit"

/** A deferred-calls stop, as the hub tells it (the public event is built from it). */
export interface WaitingEvent {
  readonly _tag: "Waiting"
  readonly round: number
  readonly calls: ReadonlyArray<unknown>
  readonly messages: ReadonlyArray<unknown>
}

/** The end of a run, with its persisted outcome (or failure). */
export interface EndEvent {
  readonly _tag: "End"
  readonly exit: Exit.Exit<unknown, unknown>
}

/** What subscribers receive. */
export type HubEvent =
  | Exclude<AgentGraph.AgentStreamEvent<unknown>, AgentGraph.AgentRunResultEvent<unknown>>
  | WaitingEvent
  | EndEvent

/**
 * An event with its position in the run: the n-th numbered event (counted from 0), or for a
 * delta (`delta: true`) the position of the numbered event that will follow it.
 */
export interface Told {
  readonly position: number
  readonly delta: boolean
  readonly event: HubEvent
}

type Listener = (told: Told) => void

interface Entry {
  /** Events told so far, in order (deltas of ended parts folded into their start). */
  readonly log: Array<Told>
  /** How many events of the run (by position) were told in this process. */
  next: number
  readonly listeners: Set<Listener>
  /** Suspended and no longer a recent one: dropped when its last listener leaves. */
  evicted: boolean
}

/** Is this event at or after position `from` (a delta: told after the event before `from`)? */
export const isFrom = (told: Told, from: number): boolean => told.position >= from

/** The hub of one durable agent (one per `DurableAgent.make`). */
export class RunEvents {
  private readonly runs = new Map<string, Entry>()
  /** Suspended runs, oldest first. */
  private readonly waiting = new Set<string>()

  constructor(private readonly maxWaiting = 1_000) {}

  private entry(executionId: string): Entry {
    let entry = this.runs.get(executionId)
    if (entry === undefined) {
      entry = { log: [], next: 0, listeners: new Set(), evicted: false }
      this.runs.set(executionId, entry)
    }
    return entry
  }

  /** The run executes (again). */
  private resumed(executionId: string, entry: Entry): void {
    this.waiting.delete(executionId)
    entry.evicted = false
  }

  private send(entry: Entry, told: Told): void {
    for (const listener of entry.listeners) listener(told)
  }

  /** Is someone listening to this run in this process? */
  watched(executionId: string): boolean {
    return (this.runs.get(executionId)?.listeners.size ?? 0) > 0
  }

  /**
   * The event at `position` of the run (its n-th numbered event, counted from the start of
   * the execution): logged and sent, unless that position was told already (a replay).
   */
  told(executionId: string, position: number, event: HubEvent): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    if (position < entry.next) return
    entry.next = position + 1
    const told: Told = { position, delta: false, event }
    if (event._tag === "PartEndEvent") this.fold(entry.log, event)
    entry.log.push(told)
    this.send(entry, told)
  }

  /**
   * An event told live only, never by a replay (a delta of a part streamed live, a sub-agent's
   * event), so not numbered: it is told before the numbered event at `position`.
   */
  delta(executionId: string, position: number, event: HubEvent): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    if (position < entry.next) return
    const told: Told = { position, delta: true, event }
    entry.log.push(told)
    this.send(entry, told)
  }

  /** A part ended: its deltas leave the log, its start carries the whole part. */
  private fold(log: Array<Told>, end: Messages.PartEndEvent): void {
    for (let i = log.length - 1; i >= 0; i--) {
      const told = log[i]!
      if (told.event._tag === "PartStartEvent" && told.event.index === end.index) {
        log[i] = {
          position: told.position,
          delta: false,
          event: new Messages.PartStartEvent({ index: end.index, part: end.part }, true)
        }
        let kept = i + 1
        for (let j = i + 1; j < log.length; j++) {
          const later = log[j]!
          const event = later.event
          if (!(event._tag === "PartDeltaEvent" && event.index === end.index)) {
            log[kept++] = later
          }
        }
        log.length = kept
        return
      }
    }
  }

  /** The run ended: tell the subscribers and drop the log. */
  end(executionId: string, exit: Exit.Exit<unknown, unknown>): void {
    const entry = this.runs.get(executionId)
    if (entry === undefined) return
    this.runs.delete(executionId)
    this.waiting.delete(executionId)
    this.send(entry, { position: entry.next, delta: false, event: { _tag: "End", exit } })
  }

  /** The run suspended (waits for a person): its log is kept while it is a recent one. */
  suspended(executionId: string): void {
    if (!this.runs.has(executionId)) return
    this.waiting.delete(executionId)
    this.waiting.add(executionId)
    for (const oldest of this.waiting) {
      if (this.waiting.size <= this.maxWaiting) break
      this.waiting.delete(oldest)
      const entry = this.runs.get(oldest)
      if (entry === undefined) continue
      if (entry.listeners.size === 0) this.runs.delete(oldest)
      else entry.evicted = true
    }
  }

  /**
   * Subscribes to a run from position `from`: `listener` gets the logged events from there,
   * then every new one (synchronously, in order). Returns the unsubscribe.
   */
  subscribe(executionId: string, from: number, listener: Listener): () => void {
    const entry = this.entry(executionId)
    for (const told of entry.log) if (isFrom(told, from)) listener(told)
    const filtered: Listener = (told) => {
      if (told.event._tag === "End" || isFrom(told, from)) listener(told)
    }
    entry.listeners.add(filtered)
    return () => {
      entry.listeners.delete(filtered)
      if (entry.listeners.size === 0 && (entry.log.length === 0 || entry.evicted)) {
        if (this.runs.get(executionId) === entry) this.runs.delete(executionId)
      }
    }
  }

  /** Runs with a log or listeners (for tests: the hub does not leak finished runs). */
  get size(): number {
    return this.runs.size
  }
}
