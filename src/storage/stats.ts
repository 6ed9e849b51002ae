/**
 * Aggregates over the history database for /metrics and /admin/analytics.
 * Global, not per isolate: every object's decisions reach D1 through the
 * history queue, so the figures are about a second behind the objects.
 */

import { and, count, eq, gte, lte, sum } from "drizzle-orm";
import { HISTORY_BACKLOG_GAUGE, HISTORY_WRITTEN_GAUGE } from "./counters";
import { drizzle } from "./d1";
import { historyDaily, metricCounters, resources } from "./d1-schema";

/** Upper bounds (seconds) of the commit_duration_seconds histogram buckets. */
export const COMMIT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * What /metrics shows: the running totals that the `decision_events` trigger
 * keeps (a few hundred rows, whatever the size of the history) and the open
 * resources' gauges.
 */
export async function metricsSnapshot(db: D1Database) {
  const d1 = drizzle(db);
  const [counters, open] = await d1.batch([
    d1.select().from(metricCounters),
    d1
      .select({ n: count(), confirmed: sum(resources.confirmed), capacity: sum(resources.capacity) })
      .from(resources)
      .where(eq(resources.state, "OPEN")),
  ]);
  const of = (name: string) => counters.filter((c) => c.name === name);
  const totals = open[0];
  const capacity = Number(totals?.capacity ?? 0);
  return {
    reservationsByStatus: of("reservations_total").map((c) => ({ status: c.label, n: c.value })),
    rejectionsByCode: of("rejections_total").map((c) => ({ code: c.label, n: c.value })),
    ordersByStatus: of("orders_total").map((c) => ({ status: c.label, n: c.value })),
    activeResources: totals?.n ?? 0,
    utilization: capacity > 0 ? Number(totals?.confirmed ?? 0) / capacity : 0,
    webhookDeliveries: (["delivered", "retried", "dead_lettered"] as const).map((outcome) => ({
      outcome,
      n: of("webhook_deliveries_total").find((c) => c.label === outcome)?.value ?? 0,
    })),
    historyGapsRepaired: of("history_gaps_repaired_total")[0]?.value ?? 0,
    historyQueueOldest: of(HISTORY_BACKLOG_GAUGE)[0]?.value ?? 0,
    historyWrittenAt: of(HISTORY_WRITTEN_GAUGE)[0]?.value ?? 0,
    commitDuration: histogram(
      of("commit_duration_ms").map((c) => ({ ms: Number(c.label), n: c.value })),
      of("commit_duration_sum_ms")[0]?.value ?? 0,
    ),
  };
}

/** Per-millisecond counts folded into cumulative buckets (latency_ms is whole ms: "<= 2.5 ms" is "<= 2 ms"). */
function histogram(perMs: { ms: number; n: number }[], sumMs: number) {
  return {
    cumulative: COMMIT_DURATION_BUCKETS.map((b) =>
      perMs.filter((p) => p.ms <= Math.floor(b * 1000)).reduce((total, p) => total + p.n, 0),
    ),
    count: perMs.reduce((total, p) => total + p.n, 0),
    sumSeconds: sumMs / 1000,
  };
}

export interface AnalyticsWindow {
  /** The first day counted (epoch ms; its UTC day counts whole). */
  from: number;
  /** The end (epoch ms, exclusive; the UTC day it falls in counts whole). */
  to: number;
  type?: string;
}

const DAY = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Per day and per code: reservations, rejections, cancellations, expired holds, from the daily totals
 * kept as history lands (history_daily, migrations/0008): a window of a year reads a few thousand rows,
 * whatever the size of the history. Utilization per resource type is the registry's now.
 */
export async function analytics(db: D1Database, w: AnalyticsWindow) {
  const d1 = drizzle(db);
  const [first, last] = [DAY(w.from), DAY(w.to - 1)];
  const inWindow = and(
    gte(historyDaily.day, first),
    lte(historyDaily.day, last),
    w.type === undefined ? undefined : eq(historyDaily.resourceType, w.type),
  );
  const [rows, perType] = await d1.batch([
    d1
      .select({ day: historyDaily.day, metric: historyDaily.metric, label: historyDaily.label, n: sum(historyDaily.n) })
      .from(historyDaily)
      .where(inWindow)
      .groupBy(historyDaily.day, historyDaily.metric, historyDaily.label)
      .orderBy(historyDaily.day),
    d1
      .select({ type: resources.type, confirmed: sum(resources.confirmed), capacity: sum(resources.capacity) })
      .from(resources)
      .where(w.type === undefined ? undefined : eq(resources.type, w.type))
      .groupBy(resources.type),
  ]);
  const days = new Map<
    string,
    { day: string; reservations: number; rejections: number; cancellations: number; expired_holds: number }
  >();
  const byCode: Record<string, number> = {};
  for (const r of rows) {
    const n = Number(r.n ?? 0);
    if (r.metric === "rejected") {
      byCode[r.label] = (byCode[r.label] ?? 0) + n;
      continue;
    }
    const day = days.get(r.day) ?? { day: r.day, reservations: 0, rejections: 0, cancellations: 0, expired_holds: 0 };
    if (r.metric in day) day[r.metric as "reservations"] += n;
    days.set(r.day, day);
  }
  return {
    from: first,
    to: last,
    per_day: [...days.values()],
    rejections_by_code: byCode,
    utilization_by_type: perType.map((t) => ({
      type: t.type,
      confirmed: Number(t.confirmed ?? 0),
      capacity: Number(t.capacity ?? 0),
      utilization: Number(t.capacity) > 0 ? Number(t.confirmed) / Number(t.capacity) : 0,
    })),
  };
}
