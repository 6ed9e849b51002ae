import { Hono } from "hono";
import { config } from "../config";
import { AppError } from "../http/errors";
import type { AppEnv } from "../http/types";
import { resourceStub } from "../resource-object/address";

export const ops = new Hono<AppEnv>();

/** Liveness: the Worker runs. Touches no binding. */
ops.get("/health", (c) => c.json({ status: "ok" }));

/** How long /ready waits for each dependency before calling it down. */
const PROBE_TIMEOUT_MS = 1000;

/** Readiness: D1, KV and a Durable Object each answer within a short timeout; 503 names what failed. */
ops.get("/ready", async (c) => {
  const probes = {
    d1: () => c.env.DB.prepare("SELECT 1 AS ok").first(),
    kv: () => c.env.AVAILABILITY.get("ready-probe"),
    durable_object: () => resourceStub(c.env, "__ready-probe").ping(),
  };
  const results = await Promise.all(
    Object.entries(probes).map(async ([name, probe]) => [name, await withTimeout(probe(), PROBE_TIMEOUT_MS)] as const),
  );
  const checks = Object.fromEntries(results);
  const failed = results.filter(([, r]) => r !== "ok").map(([name]) => name);
  if (failed.length === 0) return c.json({ status: "ready", checks });
  const details = failed.map((name) => ({ field: name, issue: checks[name] as string }));
  throw new AppError("UNAVAILABLE", `not ready: ${failed.join(", ")}`, details, { "Retry-After": "5" });
});

async function withTimeout(probe: Promise<unknown>, ms: number): Promise<"ok" | "timeout" | "error"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([
      probe.then(
        () => "ok" as const,
        () => "error" as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Benchmark floor (only with BENCH_ROUTES=true): one no-op RPC to a Durable
 * Object that stores nothing. Its name cannot be a resource id.
 */
ops.get("/__bench/noop-rpc", async (c) => {
  if (!config(c.env).BENCH_ROUTES) throw new AppError("NOT_FOUND", "No such route.");
  const shard = /^\d{1,4}$/.test(c.req.query("shard") ?? "") ? c.req.query("shard") : "0";
  return c.json(await resourceStub(c.env, `__bench-${shard}`).ping());
});
