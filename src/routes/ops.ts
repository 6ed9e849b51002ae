import { z } from "zod";
import { config } from "../config";
import { exportLagSeconds } from "../cron/export";
import { oldestRetained } from "../cron/retention";
import { requireAdmin } from "../http/auth";
import { AppError } from "../http/errors";
import { RESPONSE_BODIES as B } from "../http/responses";
import { route, routesApp } from "../http/route-spec";
import { peaks } from "../lib/budget";
import { DeadlineExceeded, withDeadline } from "../lib/deadline";
import { resetUsage, usage } from "../lib/usage";
import { resourceStub } from "../resource-object/address";
import { guarded } from "../storage/d1";
import { COMMIT_DURATION_BUCKETS, metricsSnapshot } from "../storage/stats";

export const ops = routesApp();

const health = route("", {
  method: "get",
  path: "/health",
  tag: "Operations",
  access: "public",
  summary: "Liveness",
  ok: { 200: { description: "The Worker runs.", body: B.Health } },
});
/** Liveness: the Worker runs. Touches no binding. */
ops.openapi(health, (c) => c.json({ status: "ok" as const }));

/**
 * Prometheus text format, aggregated in D1 from every object's decisions
 * (global, about a second behind the objects). `commit_duration_seconds`
 * runs from the Worker receiving a request to its object deciding it; see
 * the README for what it leaves out.
 */
const metrics = route("", {
  method: "get",
  path: "/metrics",
  tag: "Operations",
  access: "admin",
  summary: "Prometheus metrics",
  ok: { 200: { description: "Prometheus text format 0.0.4.", body: { "text/plain": z.string() } } },
});
ops.openapi({ ...metrics, middleware: [requireAdmin] }, async (c) => {
  const [m, exportLag, oldest] = await Promise.all([
    metricsSnapshot(c.env.DB),
    exportLagSeconds(guarded(c.env.DB), Date.now()),
    oldestRetained(guarded(c.env.DB)),
  ]);
  const lines = [
    "# HELP reservations_total Reservation decisions that changed a reservation, by resulting status.",
    "# TYPE reservations_total counter",
    ...m.reservationsByStatus.map((r) => `reservations_total{status="${r.status}"} ${r.n}`),
    "# HELP orders_total Orders across resources that reached each status (as the history recorded them).",
    "# TYPE orders_total counter",
    ...m.ordersByStatus.map((o) => `orders_total{status="${o.status}"} ${o.n}`),
    "# HELP rejections_total Refused reservation decisions, by code.",
    "# TYPE rejections_total counter",
    ...m.rejectionsByCode.map((r) => `rejections_total{code="${r.code}"} ${r.n}`),
    "# HELP active_resources Resources that are open.",
    "# TYPE active_resources gauge",
    `active_resources ${m.activeResources}`,
    "# HELP capacity_utilization Confirmed over capacity, over open resources.",
    "# TYPE capacity_utilization gauge",
    `capacity_utilization ${m.utilization}`,
    "# HELP webhook_deliveries_total Webhook delivery attempts that succeeded or will be retried, and events given up on.",
    "# TYPE webhook_deliveries_total counter",
    ...m.webhookDeliveries.map((d) => `webhook_deliveries_total{outcome="${d.outcome}"} ${d.n}`),
    "# HELP history_gaps_repaired_total Gaps in the history (missing decisions) the reconciler re-sent from the objects.",
    "# TYPE history_gaps_repaired_total counter",
    `history_gaps_repaired_total ${m.historyGapsRepaired}`,
    "# HELP history_lag_seconds Age of the oldest decision sent to the history queue and not yet in D1 (when the consumer last wrote).",
    "# TYPE history_lag_seconds gauge",
    `history_lag_seconds ${m.historyQueueOldest > 0 ? Math.max(0, (Date.now() - m.historyQueueOldest) / 1000) : 0}`,
    "# HELP history_last_write_age_seconds Seconds since the history consumer last wrote a batch (history_lag_seconds is as of then).",
    "# TYPE history_last_write_age_seconds gauge",
    `history_last_write_age_seconds ${m.historyWrittenAt > 0 ? Math.max(0, (Date.now() - m.historyWrittenAt) / 1000) : 0}`,
    "# HELP export_lag_seconds Age of the oldest decision in D1 not yet exported to R2 (0 when caught up).",
    "# TYPE export_lag_seconds gauge",
    `export_lag_seconds ${exportLag}`,
    "# HELP history_oldest_retained_timestamp_seconds The oldest decision D1 still holds (unix seconds; 0 when none): older ones are in R2 (HISTORY_RETENTION_DAYS).",
    "# TYPE history_oldest_retained_timestamp_seconds gauge",
    `history_oldest_retained_timestamp_seconds ${oldest === null ? 0 : oldest / 1000}`,
    "# HELP commit_duration_seconds Request received by the Worker to decided by its object, per client decision.",
    "# TYPE commit_duration_seconds histogram",
    ...COMMIT_DURATION_BUCKETS.map(
      (b, i) => `commit_duration_seconds_bucket{le="${b}"} ${m.commitDuration.cumulative[i] ?? 0}`,
    ),
    `commit_duration_seconds_bucket{le="+Inf"} ${m.commitDuration.count}`,
    `commit_duration_seconds_sum ${m.commitDuration.sumSeconds}`,
    `commit_duration_seconds_count ${m.commitDuration.count}`,
  ];
  return c.text(`${lines.join("\n")}\n`, 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
});

/** How long /ready waits for each dependency before calling it down. */
const PROBE_TIMEOUT_MS = 1000;

/** Readiness: D1, KV and a Durable Object each answer within a short timeout; 503 names what failed. */
const ready = route("", {
  method: "get",
  path: "/ready",
  tag: "Operations",
  access: "public",
  summary: "Readiness of D1, KV and a Durable Object",
  description:
    "A 503 names each dependency that failed in `details` (field d1, kv or durable_object; issue timeout or error).",
  ok: { 200: { description: "Every dependency answered.", body: B.Ready } },
  errors: ["UNAVAILABLE"],
});
ops.openapi(ready, async (c) => {
  const probes = {
    d1: () => c.env.DB.prepare("SELECT 1 AS ok").first(),
    kv: () => c.env.AVAILABILITY.get("ready-probe"),
    durable_object: () => resourceStub(c.env, "__ready-probe").ping(),
  };
  const results = await Promise.all(
    Object.entries(probes).map(
      async ([name, probe]) => [name, await probeOutcome(probe(), PROBE_TIMEOUT_MS, name)] as const,
    ),
  );
  const checks = Object.fromEntries(results);
  const failed = results.filter(([, r]) => r !== "ok").map(([name]) => name);
  if (failed.length === 0) return c.json({ status: "ready", checks });
  const details = failed.map((name) => ({ field: name, issue: checks[name] as string }));
  throw new AppError("UNAVAILABLE", `not ready: ${failed.join(", ")}`, details, { "Retry-After": "5" });
});

/** "ok", "timeout" or "error": what /ready reports for one dependency. */
function probeOutcome(probe: Promise<unknown>, ms: number, name: string): Promise<"ok" | "timeout" | "error"> {
  return withDeadline(probe, ms, name).then(
    () => "ok",
    (err) => (err instanceof DeadlineExceeded ? "timeout" : "error"),
  );
}

/**
 * The platform operations this isolate made (lib/usage.ts), for
 * `npm run bench:cost`; `?reset=true` starts counting again. Only with BENCH_ROUTES=true.
 */
ops.get("/__bench/usage", (c) => {
  if (!config(c.env).BENCH_ROUTES) throw new AppError("NOT_FOUND", "No such route.");
  const counted = { ...usage };
  if (c.req.query("reset") === "true") resetUsage();
  return c.json(counted);
});

/**
 * The busiest invocation of each entry point in this isolate (lib/budget.ts), for
 * `npm run bench:budgets`. Only with BENCH_ROUTES=true.
 */
ops.get("/__bench/budgets", (c) => {
  if (!config(c.env).BENCH_ROUTES) throw new AppError("NOT_FOUND", "No such route.");
  return c.json(Object.fromEntries(peaks));
});

/**
 * Benchmark floor (only with BENCH_ROUTES=true): one no-op RPC to a Durable
 * Object that stores nothing. Its name cannot be a resource id.
 */
ops.get("/__bench/noop-rpc", async (c) => {
  if (!config(c.env).BENCH_ROUTES) throw new AppError("NOT_FOUND", "No such route.");
  const shard = /^\d{1,4}$/.test(c.req.query("shard") ?? "") ? c.req.query("shard") : "0";
  return c.json(await resourceStub(c.env, `__bench-${shard}`).ping());
});
