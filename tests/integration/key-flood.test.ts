import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { authenticate } from "../../src/http/auth";
import { AppError } from "../../src/http/errors";
import { keyCacheSizes } from "../../src/storage/api-keys";
import { call } from "../helpers";

/** The real D1 binding, counting the statements prepared on it (each query prepares one). */
function countingD1(real: D1Database) {
  const count = { prepared: 0 };
  const db = new Proxy(real, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (prop === "prepare") count.prepared += 1;
        return value.apply(target, args);
      };
    },
  });
  return { db, count };
}

/** A well-formed key (rk_<12>_<43>) that was never issued. */
function madeUpKey(i: number): string {
  return `rk_${`F${i}`.padEnd(12, "x")}_${"s".repeat(43)}`;
}

/** The code `authenticate` answers `key` with, or "OK". */
async function outcome(testEnv: Env, key: string, clientIp: string): Promise<string> {
  try {
    await authenticate(testEnv, key, { clientIp, background: () => {} });
    return "OK";
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
}

describe("a flood of made-up keys", () => {
  it("costs D1 at most the per-IP allowance, keeps the caches bounded and real keys cached", async () => {
    const issued = await (await call("POST", "/admin/api-keys", { body: { name: "real", role: "client" } })).json<{
      key: string;
    }>();
    const { db, count } = countingD1(env.DB);
    const testEnv = { ...env, DB: db } as Env;
    expect(await outcome(testEnv, issued.key, "192.0.2.1")).toBe("OK"); // verified, now cached
    count.prepared = 0;

    const codes = new Map<string, number>();
    for (let i = 0; i < 100_000; i++) {
      const code = await outcome(testEnv, madeUpKey(i), "198.51.100.66");
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    // AUTH_FAILURE_LIMITER allows 100 lookups per 60 s window (wrangler.toml); a run that
    // straddles a window boundary gets a second allowance.
    expect(count.prepared).toBeGreaterThan(0);
    expect(count.prepared).toBeLessThanOrEqual(200);
    expect([...codes.keys()].sort()).toEqual(["RATE_LIMITED", "UNAUTHENTICATED"]);
    expect(codes.get("UNAUTHENTICATED")).toBe(count.prepared);
    const sizes = keyCacheSizes();
    expect(sizes.unknown).toBeLessThanOrEqual(sizes.unknownMax);

    // Another address is not held back by that one, and the real key never left the cache.
    expect(await outcome(testEnv, madeUpKey(-1), "198.51.100.67")).toBe("UNAUTHENTICATED");
    count.prepared = 0;
    expect(await outcome(testEnv, issued.key, "198.51.100.66")).toBe("OK");
    expect(count.prepared).toBe(0);
  }, 300_000);

  it("without rate limits, fills the cache of unknown ids to its cap and no further", async () => {
    const { db, count } = countingD1(env.DB);
    const testEnv = { ...env, DB: db, RATE_LIMITS_ENABLED: "false" } as unknown as Env;
    const { unknownMax } = keyCacheSizes();
    for (let i = 0; i < unknownMax + 500; i++) {
      expect(await outcome(testEnv, madeUpKey(1_000_000 + i), "198.51.100.68")).toBe("UNAUTHENTICATED");
    }
    expect(count.prepared).toBe(unknownMax + 500);
    expect(keyCacheSizes().unknown).toBe(unknownMax);
    // The most recent are remembered (no D1 query); the oldest were evicted (one each).
    count.prepared = 0;
    await outcome(testEnv, madeUpKey(1_000_000 + unknownMax + 499), "198.51.100.68");
    expect(count.prepared).toBe(0);
    await outcome(testEnv, madeUpKey(1_000_000), "198.51.100.68");
    expect(count.prepared).toBe(1);
  }, 120_000);
});
