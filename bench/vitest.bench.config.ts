import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/** In-process benchmarks: run inside workerd next to the real Durable Object (not part of `npm test`). */
export default defineConfig({
  plugins: [
    cloudflareTest({
      main: "./src/index.ts",
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: { bindings: { ADMIN_TOKEN: "bench-admin-token-0123456789" } },
    }),
  ],
  test: { include: [process.env.BENCH_FILE ?? "bench/**/*.bench-test.ts"], testTimeout: 600_000 },
});
