import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { webhookReceiver } from "./tests/support/webhook-receiver.ts";

/**
 * Every test runs inside workerd with the bindings of wrangler.toml: real
 * local Durable Objects, KV, D1 and R2 (Miniflare), storage isolated per file.
 */
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            ADMIN_TOKEN: "test-admin-token-0123456789",
            WEBHOOK_SECRET: "test-webhook-secret-0123456789",
            WEBHOOK_URL: "https://hooks.test/ok/global",
            WEBHOOK_MAX_ATTEMPTS: "4",
            TEST_MIGRATIONS: migrations,
          },
          // Outbound requests (webhooks) go to a real receiver in Node, never to the network.
          outboundService: webhookReceiver,
          // The queues of wrangler.toml, with batches sent after 0.1 s instead of 1 s, so tests wait less.
          queueConsumers: {
            "reservation-history": {
              maxBatchSize: 100,
              maxBatchTimeout: 0.1,
              maxRetries: 100,
              deadLetterQueue: "reservation-history-dlq",
            },
            "reservation-webhooks": {
              maxBatchSize: 25,
              maxBatchTimeout: 0.1,
              maxRetries: 25,
              deadLetterQueue: "reservation-webhooks-dlq",
            },
            "reservation-jobs": { maxBatchSize: 1, maxBatchTimeout: 0.05, maxRetries: 20 },
            "reservation-history-dlq": { maxBatchTimeout: 0.1, maxRetries: 100 },
            "reservation-webhooks-dlq": { maxBatchTimeout: 0.1, maxRetries: 100 },
          },
        },
      }),
    ],
    test: {
      // The budget tests (tests/budgets) host many objects each: they run on their own, one file at a
      // time (vitest.budgets.config.ts, `npm run test:budgets`, part of `npm test`).
      include: ["tests/**/*.test.ts"],
      exclude: ["tests/budgets/**", "**/node_modules/**"],
      setupFiles: ["./tests/setup.ts"],
      testTimeout: 60_000,
      // The Worker logs a JSON line per request and decision; show them only for failing tests.
      silent: "passed-only" as const,
      hookTimeout: 60_000,
    },
  };
});
