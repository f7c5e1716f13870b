#!/usr/bin/env node
// The `agentfx` command: runs the built CLI (`dist/bin.js`). It is a checked-in file so that a
// workspace install can link the command before `dist/` exists (run `pnpm build` to use it there).
import "../dist/bin.js"
