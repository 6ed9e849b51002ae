/**
 * History retention (HISTORY_RETENTION_DAYS): decisions older than the
 * window, and already exported to R2 by the scheduled export, are removed
 * from D1 a thousand rows per statement, as many statements as one
 * invocation's budget allows; the next step goes on (jobs/steps.ts). R2
 * keeps every exported decision (docs/scaling.md says how to load them
 * back). Running totals (/metrics), the daily rollup (analytics) and the
 * reconciler's `history_shape` are not lowered: they count what arrived.
 */
import type { Meter } from "../lib/budget";

const ROWS_PER_DELETE = 1000;

export interface RetentionDeps {
  db: D1Database;
  now: () => number;
  meter: Meter;
  retentionDays: number;
}

/** Removes what is due; returns how many decisions went and whether nothing due is left. */
export async function removeExpiredHistory(deps: RetentionDeps): Promise<{ removed: number; caughtUp: boolean }> {
  const cutoff = deps.now() - deps.retentionDays * 86_400_000;
  const exported = await deps.db
    .prepare("SELECT COALESCE(MAX(to_id), 0) AS id FROM export_runs WHERE status = 'completed'")
    .first<{ id: number }>();
  let removed = 0;
  while (deps.meter.room(2, 2)) {
    const result = await deps.db
      .prepare(
        `DELETE FROM decision_events WHERE id IN (
           SELECT id FROM decision_events WHERE server_timestamp < ? AND id <= ? ORDER BY server_timestamp LIMIT ?)`,
      )
      .bind(cutoff, exported?.id ?? 0, ROWS_PER_DELETE)
      .run();
    removed += result.meta.changes ?? 0;
    if ((result.meta.changes ?? 0) < ROWS_PER_DELETE) return { removed, caughtUp: true };
  }
  return { removed, caughtUp: false };
}

/** The oldest decision D1 still holds (epoch ms), or null when it holds none: for /metrics and the export. */
export async function oldestRetained(db: D1Database): Promise<number | null> {
  const row = await db.prepare("SELECT MIN(server_timestamp) AS t FROM decision_events").first<{ t: number | null }>();
  return row?.t ?? null;
}
