import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * In-process benchmarks: run inside workerd next to the real Durable Object
 * (not part of `npm test`). D1 is migrated as in the tests, so that the
 * object's alarm drains its outbox between runs instead of failing.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "..", "migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: { bindings: { ADMIN_TOKEN: "bench-admin-token-0123456789", TEST_MIGRATIONS: migrations } },
      }),
    ],
    test: {
      include: [process.env.BENCH_FILE ?? "bench/**/*.bench-test.ts"],
      setupFiles: ["./tests/setup.ts"],
      testTimeout: 600_000,
    },
  };
});
