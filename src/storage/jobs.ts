/**
 * Jobs in the history database: long work (an import) whose steps run on the
 * jobs queue (jobs/). A step reads the job, works within its invocation's
 * budget, then saves its progress only if no other step saved since it read
 * (`steps` unchanged): a duplicated or resumed step can never count twice.
 */
import { and, desc, eq, getTableColumns, lt, sql } from "drizzle-orm";
import { drizzle } from "./d1";
import { jobs } from "./d1-schema";

export type Job = typeof jobs.$inferSelect;
export type JobKind = Job["kind"];

/** Failed lines a job keeps (the first ones, in line order). */
export const FAILED_KEPT = 1000;
/** A job whose last step saved longer ago than this has stopped (a lost message, a crash): the cron resumes it. */
export const STALLED_AFTER_MS = 5 * 60_000;

export async function insertJob(db: D1Database, job: typeof jobs.$inferInsert): Promise<void> {
  await drizzle(db).insert(jobs).values(job);
}

export async function findJob(db: D1Database, id: string): Promise<Job | undefined> {
  const [job] = await drizzle(db).select().from(jobs).where(eq(jobs.id, id)).limit(1);
  return job;
}

/**
 * What a step changes; saved only if the job is still at `steps` (returns false when another step was
 * first). `ifSaved` runs in the same D1 batch right after, e.g. an `auditIfChanged` statement.
 */
export async function saveStep(
  db: D1Database,
  job: Job,
  change: Partial<Omit<Job, "id" | "kind" | "steps">>,
  ifSaved: D1PreparedStatement[] = [],
): Promise<boolean> {
  const columns = getTableColumns(jobs) as Record<string, { name: string }>;
  const entries = Object.entries({ ...change, steps: job.steps + 1 });
  const set = entries.map(([k]) => `"${columns[k]?.name}" = ?`).join(", ");
  const update = db
    .prepare(`UPDATE jobs SET ${set} WHERE id = ? AND steps = ? RETURNING id`)
    .bind(...entries.map(([, v]) => v ?? null), job.id, job.steps);
  const [saved] = await db.batch([update, ...ifSaved]);
  return (saved?.results?.length ?? 0) === 1;
}

/** A page of jobs, newest first; `before` is the cursor (created_at and id of the last one seen). */
export async function jobsPage(
  db: D1Database,
  page: { kind?: JobKind; before?: { createdAt: number; id: string }; limit: number },
): Promise<{ items: Job[]; next: { createdAt: number; id: string } | null }> {
  const b = page.before;
  const rows = await drizzle(db)
    .select()
    .from(jobs)
    .where(
      and(
        page.kind === undefined ? undefined : eq(jobs.kind, page.kind),
        // A row-value comparison: SQLite seeks the index to it (an OR of two comparisons would scan).
        b === undefined ? undefined : sql`(${jobs.createdAt}, ${jobs.id}) < (${b.createdAt}, ${b.id})`,
      ),
    )
    .orderBy(desc(jobs.createdAt), desc(jobs.id))
    .limit(page.limit + 1);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return { items, next: rows.length > page.limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** Unfinished jobs whose steps stopped (none saved for STALLED_AFTER_MS), oldest first: the cron resumes them. */
export async function stalledJobs(db: D1Database, now: number, limit: number): Promise<Job[]> {
  return drizzle(db)
    .select()
    .from(jobs)
    .where(and(sql`${jobs.status} IN ('QUEUED', 'RUNNING')`, lt(jobs.updatedAt, now - STALLED_AFTER_MS)))
    .orderBy(jobs.updatedAt)
    .limit(limit);
}
