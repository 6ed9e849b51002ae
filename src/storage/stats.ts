/**
 * Aggregates over the history database for /metrics and /admin/analytics.
 * Global, not per isolate: every object's decisions reach D1 through the
 * history queue, so the figures are about a second behind the objects.
 */

import { and, count, eq, gte, lt, sql, sum } from "drizzle-orm";
import { HISTORY_BACKLOG_GAUGE, HISTORY_WRITTEN_GAUGE } from "./counters";
import { drizzle } from "./d1";
import { decisionEvents, metricCounters, resources } from "./d1-schema";

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

export interface AnalyticsFilter {
  from?: number;
  to?: number;
  type?: string;
}

/** Per day and per code: reservations, rejections, cancellations, expired holds; utilization per resource type. */
export async function analytics(db: D1Database, f: AnalyticsFilter) {
  const d1 = drizzle(db);
  const day = sql<string>`strftime('%Y-%m-%d', ${decisionEvents.serverTimestamp} / 1000, 'unixepoch')`;
  const where = and(
    f.from === undefined ? undefined : gte(decisionEvents.serverTimestamp, f.from),
    f.to === undefined ? undefined : lt(decisionEvents.serverTimestamp, f.to),
    f.type === undefined
      ? undefined
      : sql`${decisionEvents.resourceId} IN (SELECT ${resources.id} FROM ${resources} WHERE ${resources.type} = ${f.type})`,
  );
  const perDay = await d1
    .select({
      day,
      reservations: sql<number>`SUM(${decisionEvents.type} = 'reservation.reserve' AND ${decisionEvents.outcome} = 'ACCEPTED')`,
      rejections: sql<number>`SUM(${decisionEvents.type} = 'reservation.reserve' AND ${decisionEvents.outcome} = 'REJECTED')`,
      cancellations: sql<number>`SUM(${decisionEvents.type} = 'reservation.cancel' AND ${decisionEvents.reservationStatus} = 'CANCELLED' AND ${decisionEvents.versionAfter} > ${decisionEvents.versionBefore})`,
      expired_holds: sql<number>`SUM(${decisionEvents.type} = 'reservation.expire' AND ${decisionEvents.reservationStatus} = 'EXPIRED')`,
    })
    .from(decisionEvents)
    .where(where)
    .groupBy(day)
    .orderBy(day);
  const perCode = await d1
    .select({ code: decisionEvents.code, n: count() })
    .from(decisionEvents)
    .where(and(where, eq(decisionEvents.outcome, "REJECTED")))
    .groupBy(decisionEvents.code);
  const perType = await d1
    .select({ type: resources.type, confirmed: sum(resources.confirmed), capacity: sum(resources.capacity) })
    .from(resources)
    .where(f.type === undefined ? undefined : eq(resources.type, f.type))
    .groupBy(resources.type);
  return {
    per_day: perDay.map((d) => ({
      day: d.day,
      reservations: Number(d.reservations ?? 0),
      rejections: Number(d.rejections ?? 0),
      cancellations: Number(d.cancellations ?? 0),
      expired_holds: Number(d.expired_holds ?? 0),
    })),
    rejections_by_code: Object.fromEntries(perCode.map((c) => [c.code, c.n])),
    utilization_by_type: perType.map((t) => ({
      type: t.type,
      confirmed: Number(t.confirmed ?? 0),
      capacity: Number(t.capacity ?? 0),
      utilization: Number(t.capacity) > 0 ? Number(t.confirmed) / Number(t.capacity) : 0,
    })),
  };
}
