/**
 * What the reconciler asks of the history database. `server_seq` is
 * contiguous per resource (1, 2, 3 …), so a resource that received fewer
 * decisions than its highest seq has a gap, visible from D1 alone; the
 * `history_shape` table (kept by a trigger) says so per resource, so no query
 * here reads more than a page of rows or one resource's history.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bulkUpsert, D1_MAX_PARAMS } from "./bulk-upsert";
import { historyDeadLetters, reconciliationRuns } from "./d1-schema";

export type ReconciliationRun = typeof reconciliationRuns.$inferSelect;

/** Missing seqs of one resource, inclusive. */
export interface Gap {
  from: number;
  to: number;
}

/** A resource to check, with what D1 holds of its history (history_shape; 0 and 0 when nothing). */
export interface Shape {
  resourceId: string;
  rows: number;
  lastSeq: number;
}

const SHAPE = "COALESCE(h.rows, 0) AS rows, COALESCE(h.last_seq, 0) AS lastSeq";

/** Resources whose history in D1 has a gap (`rows < last_seq`), by id after `afterId`: the partial index. */
export async function gappyResources(db: D1Database, afterId: string, limit: number): Promise<Shape[]> {
  const { results } = await db
    .prepare(
      `SELECT resource_id AS resourceId, rows, last_seq AS lastSeq FROM history_shape
       WHERE rows < last_seq AND resource_id > ? ORDER BY resource_id LIMIT ?`,
    )
    .bind(afterId, limit)
    .all<Shape>();
  return results;
}

/**
 * Resources with decisions at or after `since` (epoch ms), in (last_at, id) order after `after`: the
 * recently active, whose lost tail D1 alone cannot see. A seek on history_shape_recent.
 */
export async function activeSince(
  db: D1Database,
  since: number,
  after: { at: number; id: string },
  limit: number,
): Promise<(Shape & { lastAt: number })[]> {
  const { results } = await db
    .prepare(
      `SELECT resource_id AS resourceId, rows, last_seq AS lastSeq, last_at AS lastAt FROM history_shape
       WHERE last_at >= ? AND (last_at, resource_id) > (?, ?) ORDER BY last_at, resource_id LIMIT ?`,
    )
    .bind(since, after.at, after.id, limit)
    .all<Shape & { lastAt: number }>();
  return results;
}

/** A page of the resource registry by id, after `afterId`, with what D1 holds of each one's history. */
export async function registryPage(db: D1Database, afterId: string, limit: number): Promise<Shape[]> {
  const { results } = await db
    .prepare(
      `SELECT r.id AS resourceId, ${SHAPE} FROM resources r LEFT JOIN history_shape h ON h.resource_id = r.id
       WHERE r.id > ? ORDER BY r.id LIMIT ?`,
    )
    .bind(afterId, limit)
    .all<Shape>();
  return results;
}

/** What D1 holds of the history of each of `ids` (at most D1_MAX_PARAMS). */
export async function shapesOf(db: D1Database, all: string[]): Promise<Shape[]> {
  const ids = all.slice(0, D1_MAX_PARAMS);
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT resource_id AS resourceId, rows, last_seq AS lastSeq FROM history_shape
       WHERE resource_id IN (${ids.map(() => "?").join(", ")})`,
    )
    .bind(...ids)
    .all<Shape>();
  const found = new Map(results.map((r) => [r.resourceId, r]));
  return ids.map((id) => found.get(id) ?? { resourceId: id, rows: 0, lastSeq: 0 });
}

/**
 * The missing ranges of a resource's history below its highest seq in D1, in one query. Retention
 * removes the oldest decisions without lowering `rows`, so what is missing before the first seq D1
 * still holds is the count missing (`last_seq - rows`) less the holes found above it.
 */
export async function gapsOf(db: D1Database, shape: Shape): Promise<Gap[]> {
  const { results } = await db
    .prepare(
      `SELECT 0 AS "from", MIN(seq) AS "to" FROM decision_events WHERE resource_id = ?1
       UNION ALL
       SELECT seq + 1, next - 1 FROM (
         SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next FROM decision_events WHERE resource_id = ?1
       ) WHERE next > seq + 1`,
    )
    .bind(shape.resourceId)
    .all<Gap>();
  const lowest = results.find((r) => r.from === 0)?.to ?? shape.lastSeq + 1;
  const holes = results.filter((r) => r.from !== 0).sort((a, b) => a.from - b.from);
  const before = shape.lastSeq - shape.rows - holes.reduce((n, g) => n + (g.to - g.from + 1), 0);
  return before > 0 ? [{ from: lowest - before, to: lowest - 1 }, ...holes] : holes;
}

export async function insertRun(
  db: D1Database,
  run: typeof reconciliationRuns.$inferInsert,
): Promise<ReconciliationRun> {
  const [inserted] = await drizzle(db).insert(reconciliationRuns).values(run).returning();
  return inserted as ReconciliationRun;
}

export async function findRun(db: D1Database, id: number): Promise<ReconciliationRun | undefined> {
  const [run] = await drizzle(db).select().from(reconciliationRuns).where(eq(reconciliationRuns.id, id)).limit(1);
  return run;
}

/** Saves a step of `run`, only if no other step saved since it was read (returns false then). */
export async function saveRunStep(
  db: D1Database,
  run: ReconciliationRun,
  change: Partial<ReconciliationRun>,
): Promise<boolean> {
  const saved = await drizzle(db)
    .update(reconciliationRuns)
    .set({ ...change, steps: run.steps + 1 })
    .where(and(eq(reconciliationRuns.id, run.id), eq(reconciliationRuns.steps, run.steps)))
    .returning({ id: reconciliationRuns.id });
  return saved.length === 1;
}

/** The latest run, or the latest completed one of a trigger (the scheduled runs chain their windows). */
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

/**
 * Runs under way, oldest first, by the partial index of running runs (the status is a literal: the
 * index's WHERE must match).
 */
export async function openRuns(db: D1Database, limit: number): Promise<ReconciliationRun[]> {
  return drizzle(db)
    .select()
    .from(reconciliationRuns)
    .where(sql`${reconciliationRuns.status} = 'running'`)
    .orderBy(reconciliationRuns.id)
    .limit(limit);
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

/** Dead-lettered history not reconciled yet, after `afterId`, oldest first, with their resources' shapes. */
export async function openHistoryDeadLetters(
  db: D1Database,
  afterId: number,
  limit: number,
): Promise<(Shape & { id: number })[]> {
  const { results } = await db
    .prepare(
      `SELECT d.id, d.resource_id AS resourceId, ${SHAPE} FROM history_dead_letters d
       LEFT JOIN history_shape h ON h.resource_id = d.resource_id
       WHERE d.reconciled_at IS NULL AND d.id > ? ORDER BY d.id LIMIT ?`,
    )
    .bind(afterId, limit)
    .all<Shape & { id: number }>();
  return results;
}

/** Marks dead letters (at most D1_MAX_PARAMS - 1) as reconciled. */
export async function markDeadLettersReconciled(db: D1Database, ids: number[], at: number): Promise<void> {
  if (ids.length === 0) return;
  const chunk = ids.slice(0, D1_MAX_PARAMS - 1);
  await db
    .prepare(`UPDATE history_dead_letters SET reconciled_at = ? WHERE id IN (${chunk.map(() => "?").join(", ")})`)
    .bind(at, ...chunk)
    .run();
}
