/**
 * Running totals and gauges in `metric_counters` that no decision row
 * carries (the trigger of migrations/0004 keeps the others): webhook
 * deliveries, history gaps repaired, the history queue's backlog.
 */
import { countD1 } from "../lib/usage";

/** The oldest message the history queue still held when its consumer last wrote (0: none), for /metrics. */
export const HISTORY_BACKLOG_GAUGE = "history_queue_oldest_ms";
/** When the history consumer last wrote a batch: a lag gauge is only as fresh as that. */
export const HISTORY_WRITTEN_GAUGE = "history_written_ms";

/** A statement that sets a gauge kept in `metric_counters` (label ""). */
export function setGauge(db: D1Database, name: string, value: number): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO metric_counters (name, label, value) VALUES (?, '', ?)
       ON CONFLICT (name, label) DO UPDATE SET value = excluded.value`,
    )
    .bind(name, value);
}

/** Adds to running totals, one statement for all labels. */
export async function addToCounters(db: D1Database, name: string, byLabel: Record<string, number>): Promise<void> {
  const rows = Object.entries(byLabel).filter(([, n]) => n > 0);
  if (rows.length === 0) return;
  const result = await db
    .prepare(
      `INSERT INTO metric_counters (name, label, value) VALUES ${rows.map(() => "(?, ?, ?)").join(", ")}
       ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value`,
    )
    .bind(...rows.flatMap(([label, n]) => [name, label, n]))
    .run();
  countD1(result);
}
