/**
 * How many list-changed notifications a client made by `McpClient` has received, per list,
 * counted when each arrives (before any response sent after it is handled). `McpToolset`
 * compares it with the count its tool list was read at, so a run never works from a list the
 * server has already said is stale.
 *
 * @internal
 */

/** The notifications received so far about one list (`"tools"`, `"resources"`, `"prompts"`). */
export type ListVersion = (list: "tools" | "resources" | "prompts") => number

/** The `ListVersion` of each client made by `McpClient`. */
export const listVersion = new WeakMap<object, ListVersion>()
