import { defineConfig } from "vitest/config";
import base from "./vitest.config.ts";

/**
 * The budget tests (tests/budgets): each seeds D1 at the sizes named in docs/scaling.md and hosts
 * hundreds of objects, so they run one file at a time, after the rest of the suite.
 */
export default defineConfig(async (env) => {
  const resolved = await (typeof base === "function" ? base(env) : base);
  return {
    ...resolved,
    test: {
      ...resolved.test,
      include: ["tests/budgets/**/*.test.ts"],
      exclude: ["**/node_modules/**"],
      fileParallelism: false,
      testTimeout: 600_000,
    },
  };
});
