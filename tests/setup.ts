import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect } from "vitest";
import { undocumented } from "./support/documented";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    }
  }
}

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Responses that `call` got and the OpenAPI document does not describe (tests/support/documented.ts).
afterEach(() => {
  expect(undocumented.splice(0), "responses the OpenAPI document does not describe").toEqual([]);
});
