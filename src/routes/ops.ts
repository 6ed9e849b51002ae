import { Hono } from "hono";
import { config } from "../config";
import { AppError } from "../http/errors";
import type { AppEnv } from "../http/types";
import { resourceStub } from "../resource-object/address";

export const ops = new Hono<AppEnv>();

/** Liveness: the Worker runs. Touches no binding. */
ops.get("/health", (c) => c.json({ status: "ok" }));

/**
 * Benchmark floor (only with BENCH_ROUTES=true): one no-op RPC to a Durable
 * Object that stores nothing. Its name cannot be a resource id.
 */
ops.get("/__bench/noop-rpc", async (c) => {
  if (!config(c.env).BENCH_ROUTES) throw new AppError("NOT_FOUND", "No such route.");
  const shard = /^\d{1,4}$/.test(c.req.query("shard") ?? "") ? c.req.query("shard") : "0";
  return c.json(await resourceStub(c.env, `__bench-${shard}`).ping());
});
