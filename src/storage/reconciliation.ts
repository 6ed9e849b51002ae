/**
 * What the reconciler asks of the history database. `server_seq` is
 * contiguous per resource (1, 2, 3 …), so a resource whose row count differs
 * from its highest seq has a gap, visible from D1 alone.
 */
import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bulkUpsert, D1_MAX_PARAMS } from "./bulk-upsert";
import { historyDeadLetters, reconciliationRuns } from "./d1-schema";

export type ReconciliationRun = typeof reconciliationRuns.$inferSelect;

/** Missing seqs of one resource, inclusive. */
export interface Gap {
  from: number;
  to: number;
}

/** The highest `decision_events.id` now: what a run checks up to. */
export async function lastEventId(db: D1Database): Promise<number> {
  const row = await db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM decision_events").first<{ id: number }>();
  return row?.id ?? 0;
}

/** Resources that received decisions with ids in (afterId, upToId]. */
export async function resourcesWrittenBetween(db: D1Database, afterId: number, upToId: number): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT resource_id FROM decision_events WHERE id > ? AND id <= ?")
    .bind(afterId, upToId)
    .all<{ resource_id: string }>();
  return results.map((r) => r.resource_id);
}

/** The resources with the most recent decisions since `since` (epoch ms), newest first. */
export async function recentlyActive(db: D1Database, since: number, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT resource_id FROM decision_events WHERE server_timestamp >= ?
       GROUP BY resource_id ORDER BY MAX(server_timestamp) DESC LIMIT ?`,
    )
    .bind(since, limit)
    .all<{ resource_id: string }>();
  return results.map((r) => r.resource_id);
}

/** A page of the resource registry by id, after `afterId` (null: from the start). */
export async function registryPage(db: D1Database, afterId: string | null, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT id FROM resources WHERE id > ? ORDER BY id LIMIT ?")
    .bind(afterId ?? "", limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** Per resource: how many decisions D1 holds and the highest seq (0 when none). */
export async function historyShape(
  db: D1Database,
  ids: string[],
): Promise<Map<string, { count: number; last: number }>> {
  const shape = new Map<string, { count: number; last: number }>(ids.map((id) => [id, { count: 0, last: 0 }]));
  for (let at = 0; at < ids.length; at += D1_MAX_PARAMS) {
    const chunk = ids.slice(at, at + D1_MAX_PARAMS);
    const { results } = await db
      .prepare(
        `SELECT resource_id, COUNT(*) AS n, MAX(seq) AS last FROM decision_events
         WHERE resource_id IN (${chunk.map(() => "?").join(", ")}) GROUP BY resource_id`,
      )
      .bind(...chunk)
      .all<{ resource_id: string; n: number; last: number }>();
    for (const r of results) shape.set(r.resource_id, { count: r.n, last: r.last });
  }
  return shape;
}

/** The missing ranges below a resource's highest seq in D1. */
export async function gapsOf(db: D1Database, resourceId: string): Promise<Gap[]> {
  const { results } = await db
    .prepare(
      `SELECT seq + 1 AS "from", next - 1 AS "to" FROM (
         SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next FROM decision_events WHERE resource_id = ?1
       ) WHERE next > seq + 1
       UNION ALL
       SELECT 1, MIN(seq) - 1 FROM decision_events WHERE resource_id = ?1 HAVING MIN(seq) > 1
       ORDER BY 1`,
    )
    .bind(resourceId)
    .all<Gap>();
  return results;
}

export async function startRun(db: D1Database, trigger: "scheduled" | "api", startedAt: number, watermark: number) {
  const [run] = await drizzle(db)
    .insert(reconciliationRuns)
    .values({ trigger, startedAt, status: "running", watermark })
    .returning();
  return run as ReconciliationRun;
}

export async function finishRun(db: D1Database, id: number, outcome: Partial<ReconciliationRun>): Promise<void> {
  await drizzle(db).update(reconciliationRuns).set(outcome).where(eq(reconciliationRuns.id, id));
}

/** The latest run, or of one trigger (the scheduled runs chain their watermarks). */
export async function latestRun(db: D1Database, trigger?: "scheduled"): Promise<ReconciliationRun | undefined> {
  const [run] = await drizzle(db)
    .select()
    .from(reconciliationRuns)
    .where(
      trigger ? and(eq(reconciliationRuns.trigger, trigger), eq(reconciliationRuns.status, "completed")) : undefined,
    )
    .orderBy(desc(reconciliationRuns.id))
    .limit(1);
  return run;
}

export type HistoryDeadLetter = typeof historyDeadLetters.$inferInsert;

export async function recordHistoryDeadLetters(db: D1Database, rows: HistoryDeadLetter[]): Promise<void> {
  const statements = bulkUpsert(db, historyDeadLetters, rows, "");
  if (statements.length > 0) await db.batch(statements);
}

/** How many dead-lettered history messages are not reconciled yet. */
export async function openHistoryDeadLetterCount(db: D1Database): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM history_dead_letters WHERE reconciled_at IS NULL")
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Dead-lettered history not reconciled yet, oldest first. */
export async function openHistoryDeadLetters(db: D1Database, limit: number) {
  return drizzle(db)
    .select()
    .from(historyDeadLetters)
    .where(isNull(historyDeadLetters.reconciledAt))
    .orderBy(historyDeadLetters.id)
    .limit(limit);
}

export async function markDeadLettersReconciled(db: D1Database, ids: number[], at: number): Promise<void> {
  for (let i = 0; i < ids.length; i += D1_MAX_PARAMS - 1) {
    const chunk = ids.slice(i, i + D1_MAX_PARAMS - 1);
    await db
      .prepare(`UPDATE history_dead_letters SET reconciled_at = ? WHERE id IN (${chunk.map(() => "?").join(", ")})`)
      .bind(at, ...chunk)
      .run();
  }
}
