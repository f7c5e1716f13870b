/**
 * The in-process event hub of durable runs: what `DurableAgent.stream` / `runStream`
 * subscribers see. Nothing here is persisted — the workflow engine persists completed steps;
 * this forwards the events of the steps this process executes (model deltas while a request
 * streams, tool calls as they start, tool results) and re-tells completed steps (as whole
 * parts) when the workflow replays them from storage, so a subscriber that joins late, or a
 * process that took a run over, still sees the run from its start.
 *
 * Per run it keeps a compact log of the completed steps (the parts of each response, each
 * tool call and result — no deltas) plus the live events of the steps in progress; a new
 * subscriber gets the log, then the live events. Each step is told once per process: a
 * replay of a step already told (the workflow re-runs from its start after every wait) is
 * skipped. The log is dropped when the run ends; the logs of suspended runs (waiting for a
 * person) are kept for the latest `maxWaiting` of them, so that a subscriber joining a waiting
 * run sees what it did so far (an older one is told its steps when it resumes and replays).
 */
import type { Messages } from "@agentfx/core"
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
  | Messages.PartStartEvent
  | Messages.PartDeltaEvent
  | Messages.PartEndEvent
  | Messages.FunctionToolCallEvent
  | Messages.FunctionToolResultEvent
  | WaitingEvent
  | EndEvent

type Listener = (event: HubEvent) => void

interface Entry {
  /** Compact events of the completed steps, in order. */
  readonly log: Array<HubEvent>
  /** Live events of steps in progress, by step key. */
  readonly current: Map<string, Array<HubEvent>>
  /** Steps already told (completed). */
  readonly told: Set<string>
  /** Steps whose start / deltas were told live (their compact form goes to the log only). */
  readonly live: Set<string>
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
        told: new Set(),
        live: new Set(),
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

  /** Has this step been told already (in this process)? */
  told(executionId: string, key: string): boolean {
    return this.runs.get(executionId)?.told.has(key) ?? false
  }

  /** A live event of the step `key`, which is executing now. */
  live(executionId: string, key: string, event: HubEvent): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    entry.live.add(key)
    let current = entry.current.get(key)
    if (current === undefined) {
      current = []
      entry.current.set(key, current)
    }
    current.push(event)
    this.send(entry, [event])
  }

  /**
   * The step `key` completed (executed now or replayed from storage): `compact` is its whole
   * form. Told to subscribers unless its events went out live — `unseen` are the compact
   * events they did not get live (a tool's result after its live call event).
   */
  completed(
    executionId: string,
    key: string,
    compact: ReadonlyArray<HubEvent>,
    unseen: ReadonlyArray<HubEvent> = []
  ): void {
    const entry = this.entry(executionId)
    this.resumed(executionId, entry)
    if (entry.told.has(key)) return
    entry.told.add(key)
    entry.current.delete(key)
    entry.log.push(...compact)
    if (entry.live.delete(key)) this.send(entry, unseen)
    else this.send(entry, compact)
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
