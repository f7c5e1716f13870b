// Counts Effect run-loop instructions (profiling helper for opcount.mjs / layers.mjs).
import { createRequire } from "node:module"
import fs from "node:fs"
import path from "node:path"

const effectDir = path.dirname(
  path.dirname(createRequire(import.meta.url).resolve("effect/Effect"))
)
const fr = await import(fs.realpathSync(path.join(effectDir, "esm", "internal", "fiberRuntime.js")))
export const counts = new Map()
let counting = false
const proto = fr.FiberRuntime.prototype
for (const op of [
  "Async",
  "Commit",
  "Failure",
  "OnFailure",
  "OnSuccess",
  "OnSuccessAndFailure",
  "Success",
  "Sync",
  "Tag",
  "UpdateRuntimeFlags",
  "While",
  "Iterator",
  "WithRuntime",
  "Yield",
  "RevertFlags"
]) {
  const orig = proto[op]
  if (typeof orig !== "function") continue
  proto[op] = function (o) {
    if (counting) counts.set(op, (counts.get(op) ?? 0) + 1)
    return orig.call(this, o)
  }
}
/** Runs `f` (a Promise-returning thunk) once while counting; returns a summary line. */
export const countOps = async (f) => {
  counts.clear()
  counting = true
  await f()
  counting = false
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  return `${String(total).padStart(5)} instructions  ${[...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k}=${v}`)
    .join(" ")}`
}
