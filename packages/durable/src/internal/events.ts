/**
 * The in-process event hub of durable runs: what `DurableAgent.stream` / `runStream`
 * subscribers see. Nothing here is persisted — the workflow engine persists completed steps;
 * this forwards the events of the run as this process executes (or replays) it: the events the
 * core run loop emits (`RunOptions.onEvent`: parts, final result, tool calls and results, tool
 * availability, output tool events, sub-agent events — the same as `agent.runStream`), the live
 * deltas of a model request streamed inside its activity, and the stops for deferred calls.
 *
 * The run loop is deterministic given the same persisted steps, so the n-th event of one
 * execution of a run is the n-th event of its replay: each event carries its position, and a
 * position already told in this process (a replay after a wait re-runs the workflow from its
 * start) is skipped.
 *
 * Per run it keeps a compact log (no deltas: a streamed response is logged as its whole parts)
 * plus the live events of a model request in progress; a new subscriber gets the log, then the
 * live events. The log is dropped when the run ends; the logs of suspended runs (waiting for a
 * person) are kept for the latest `maxWaiting` of them, so that a subscriber joining a waiting
 * run sees what it did so far (an older one is told its events when it resumes and replays).
 */
import type { AgentGraph } from "@agentfx/core"
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

type Listener = (event: HubEvent) => void

interface Entry {
  /** Compact events told so far, in order. */
  readonly log: Array<HubEvent>
  /** Live events of model requests in progress, by step key. */
  readonly current: Map<string, Array<HubEvent>>
  /** How many events of the run (by position) were told in this process. */
  next: number
  readonly listeners: Set<Listener>
  /** Suspended and no longer a recent one: dropped when its last listener leaves. */
  evicted: boolean
}

/** The hub of one durable agent (one per `DurableAgent.make`). */
export class RunEvents {
  private readonly runs = new Map<string, Entry>()
  /** Suspended runs, oldest first. */
  private readonly waiting = new Set<string>()

  constructor(private readonly maxWaiting = 1_000) {}

  private entry(executionId: string): Entry {
    let entry = this.runs.get(executionId)
    if (entry === undefined) {
      entry = {
        log: [],
        current: new Map(),
        next: 0,
        listeners: new Set(),
        evicted: false
      }
      this.runs.set(executionId, entry)
    }
    return entry
  }

  /** The run executes (again). */
  private resumed(executionId: string, entry: Entry): void {
    this.waiting.delete(executionId)
    entry.evicted = false
  }

  private send(entry: Entry, events: ReadonlyArray<HubEvent>): void {
    for (const listener of entry.listeners) for (const event of events) listener(event)
  }

  /** Is someone listening to this run in this process? */
  watched(executionId: string): boolean {
    return (this.runs.get(executionId)?.listeners.size ?? 0) > 0
  }

  /** A live event of the model request `key`, which is executing now (a streamed delta). */
  live(executionId: string, key: string, event: HubEvent): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    let current = entry.current.get(key)
    if (current === undefined) {
      current = []
      entry.current.set(key, current)
    }
    current.push(event)
    this.send(entry, [event])
  }

  /**
   * The model request `key`, told live, completed: its whole parts (`compact`) replace its
   * live events in the log. Not sent again: the subscribers got them live.
   */
  liveDone(executionId: string, key: string, compact: ReadonlyArray<HubEvent>): void {
    const entry = this.entry(executionId)
    entry.current.delete(key)
    entry.log.push(...compact)
  }

  /**
   * The event at `position` of the run (its n-th event, counted from the start of the
   * execution): logged and sent, unless that position was told already (a replay). `absorbed`:
   * it was told live already (a part of a response streamed live), only its position counts.
   */
  told(executionId: string, position: number, event: HubEvent, absorbed = false): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    if (position < entry.next) return
    entry.next = position + 1
    if (absorbed) return
    entry.log.push(event)
    this.send(entry, [event])
  }

  /** The run ended: tell the subscribers and drop the log. */
  end(executionId: string, exit: Exit.Exit<unknown, unknown>): void {
    const entry = this.runs.get(executionId)
    if (entry === undefined) return
    this.runs.delete(executionId)
    this.waiting.delete(executionId)
    this.send(entry, [{ _tag: "End", exit }])
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
   * Subscribes to a run: `listener` gets the completed steps, the live events of the steps in
   * progress, then every new event (synchronously, in order). Returns the unsubscribe.
   */
  subscribe(executionId: string, listener: Listener): () => void {
    const entry = this.entry(executionId)
    for (const event of entry.log) listener(event)
    for (const events of entry.current.values()) for (const event of events) listener(event)
    entry.listeners.add(listener)
    return () => {
      entry.listeners.delete(listener)
      if (
        entry.listeners.size === 0 &&
        ((entry.log.length === 0 && entry.current.size === 0) || entry.evicted)
      ) {
        if (this.runs.get(executionId) === entry) this.runs.delete(executionId)
      }
    }
  }

  /** Runs with a log or listeners (for tests: the hub does not leak finished runs). */
  get size(): number {
    return this.runs.size
  }
}
