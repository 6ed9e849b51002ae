/**
 * Aggregates over the history database for /metrics and /admin/analytics.
 * Global, not per isolate: every object's decisions reach D1 through the
 * outbox, so the figures are as fresh as the drain (about a second behind).
 */
import { and, count, eq, gt, gte, lt, sql, sum } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { decisionEvents, resources } from "./d1-schema";

/** Decisions that changed something (not refusals, not allowed repeats). */
const changed = and(
  eq(decisionEvents.outcome, "ACCEPTED"),
  gt(decisionEvents.versionAfter, decisionEvents.versionBefore),
);

/** Upper bounds (seconds) of the commit_duration_seconds histogram buckets. */
export const COMMIT_DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Cumulative counts per bucket, the count and the sum (seconds), in one pass over the decisions. */
function commitDurations(d1: ReturnType<typeof drizzle>) {
  const le = COMMIT_DURATION_BUCKETS.map(
    // latency_ms is whole milliseconds: "<= 2.5 ms" is "<= 2 ms".
    (b) => sql<number>`COALESCE(SUM(${decisionEvents.latencyMs} <= ${Math.floor(b * 1000)}), 0)`,
  );
  return d1
    .select({
      buckets: sql<string>`json_array(${sql.join(le, sql`, `)})`,
      count: count(decisionEvents.latencyMs),
      sumMs: sql<number>`COALESCE(SUM(${decisionEvents.latencyMs}), 0)`,
    })
    .from(decisionEvents);
}

export async function metricsSnapshot(db: D1Database) {
  const d1 = drizzle(db);
  const [byStatus, byCode, open, deadLetters, durations] = await d1.batch([
    d1
      .select({ status: decisionEvents.reservationStatus, n: count() })
      .from(decisionEvents)
      .where(and(changed, sql`${decisionEvents.reservationStatus} IS NOT NULL`))
      .groupBy(decisionEvents.reservationStatus),
    d1
      .select({ code: decisionEvents.code, n: count() })
      .from(decisionEvents)
      .where(eq(decisionEvents.outcome, "REJECTED"))
      .groupBy(decisionEvents.code),
    d1
      .select({ n: count(), confirmed: sum(resources.confirmed), capacity: sum(resources.capacity) })
      .from(resources)
      .where(eq(resources.state, "OPEN")),
    d1.select({ n: count() }).from(decisionEvents).where(eq(decisionEvents.type, "webhook.dead_letter")),
    commitDurations(d1),
  ]);
  const d = durations[0];
  const totals = open[0];
  const capacity = Number(totals?.capacity ?? 0);
  return {
    reservationsByStatus: byStatus.map((r) => ({ status: r.status as string, n: r.n })),
    rejectionsByCode: byCode.map((r) => ({ code: r.code as string, n: r.n })),
    activeResources: totals?.n ?? 0,
    utilization: capacity > 0 ? Number(totals?.confirmed ?? 0) / capacity : 0,
    deadLettered: deadLetters[0]?.n ?? 0,
    commitDuration: {
      cumulative: d ? (JSON.parse(d.buckets) as number[]) : COMMIT_DURATION_BUCKETS.map(() => 0),
      count: d?.count ?? 0,
      sumSeconds: (d?.sumMs ?? 0) / 1000,
    },
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
