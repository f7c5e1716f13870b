/**
 * The examples' scripted models live in `@agentfx/cli/Scripted` (one source, shared with the
 * CLI's offline model). This re-export keeps `./lib/scripted.js` imports of other branches
 * working; new code imports `@agentfx/cli/Scripted`.
 */
export * from "@agentfx/cli/Scripted"
