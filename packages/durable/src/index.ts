/**
 * @agentfx/durable — durable agent runs on `@effect/workflow` and `@effect/cluster`: every
 * model request and tool call is a persisted activity, runs survive crashes and restarts,
 * and one runner (SQLite) or several (PostgreSQL) execute them.
 *
 * @since 0.1.0
 */
export * as DurableAgent from "./DurableAgent.js"
export * as DurableRunner from "./DurableRunner.js"
