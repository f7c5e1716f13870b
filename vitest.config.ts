import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["@agentfx/source"] },
  ssr: { resolve: { conditions: ["@agentfx/source"], externalConditions: ["@agentfx/source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks"
  }
})
