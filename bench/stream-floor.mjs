#!/usr/bin/env node
// What an Effect `Stream` costs per element before any HTTP or decoding (not part of the
// benchmark): N elements per fiber, 10 fibers at once, each element delivered by an async pull
// resumed from `setImmediate` (one element per wake-up, as one paced network read is), read
//   push          by a plain Effect loop (`Effect.flatMap(pull, …)`): no Stream
//   channel       as the smallest Stream (one channel: read, write), folded by `Stream.runFold`
//   channelMap    the same + one `Stream.mapChunks` stage (what a run's own stage adds)
//   repeat        `Stream.repeatEffectChunkOption(pull)` folded by `Stream.runFold`
//   forEachChunk  the smallest Stream consumed by `Stream.runForEachChunk`
// Prints CPU µs (user + system) per element for each of 4 rounds, then the case; each case in
// its own process:  node bench/stream-floor.mjs [--n 200]
import { spawnSync } from "node:child_process"
import { Channel, Chunk, Effect, Option, Stream } from "effect"

const args = process.argv.slice(2)
const flag = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d)
const N = Number(flag("n", 200))
const FIBERS = 10
const ROUNDS = 4
const CASES = ["push", "channel", "channelMap", "repeat", "forEachChunk"]

const source = (n) => {
  let i = 0
  return Effect.async((resume) => {
    const t = setImmediate(() => resume(Effect.succeed(i++ < n ? [i] : undefined)))
    return Effect.sync(() => clearImmediate(t))
  })
}
const smallest = (pull) => {
  const loop = Channel.flatMap(Channel.fromEffect(pull), (r) =>
    r === undefined ? Channel.void : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(r)), loop)
  )
  return Stream.fromChannel(loop)
}
const cases = {
  push: (n) => {
    const pull = source(n)
    let s = 0
    const loop = Effect.flatMap(pull, (r) => {
      if (r === undefined) return Effect.succeed(s)
      s += r.length
      return loop
    })
    return loop
  },
  channel: (n) => Stream.runFold(smallest(source(n)), 0, (s) => s + 1),
  channelMap: (n) =>
    Stream.runFold(
      Stream.mapChunks(smallest(source(n)), (c) => c),
      0,
      (s) => s + 1
    ),
  repeat: (n) => {
    const pull = source(n)
    return Stream.runFold(
      Stream.repeatEffectChunkOption(
        Effect.flatMap(pull, (r) =>
          r === undefined ? Effect.fail(Option.none()) : Effect.succeed(Chunk.unsafeFromArray(r))
        )
      ),
      0,
      (s) => s + 1
    )
  },
  forEachChunk: (n) => {
    const seen = { n: 0 }
    return Stream.runForEachChunk(smallest(source(n)), (c) =>
      Effect.sync(() => {
        seen.n += c.length
      })
    )
  }
}

const child = flag("child", undefined)
if (child !== undefined) {
  const make = cases[child]
  const out = []
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage()
    await Effect.runPromise(
      Effect.all(
        Array.from({ length: FIBERS }, () => make(N)),
        { concurrency: "unbounded" }
      )
    )
    const c = process.cpuUsage(c0)
    out.push(((c.user + c.system) / (N * FIBERS)).toFixed(2).padStart(7))
  }
  console.log(`${child.padEnd(13)}${out.join("")}`)
} else {
  console.log(`CPU µs per element by round; ${FIBERS} fibers × ${N} elements`)
  for (const c of CASES) {
    const r = spawnSync(
      process.execPath,
      [new URL(import.meta.url).pathname, "--child", c, "--n", String(N)],
      {
        stdio: "inherit"
      }
    )
    if (r.status !== 0) process.exit(r.status ?? 1)
  }
}
