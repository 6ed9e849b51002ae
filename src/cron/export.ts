/**
 * The scheduled export: every decision recorded in D1 since the last run goes
 * to R2 as `reservations/YYYY/MM/DD/<run-id>.ndjson` and `.csv`, exactly once.
 *
 * Why it never skips or duplicates: `decision_events.id` is assigned by D1 in
 * commit order and rows are never changed, so a run covers a fixed range
 * (from, to] recorded *before* anything is written. A run that fails half way
 * stays `started`; the next invocation redoes that same range under the same
 * run id and keys (R2 puts overwrite), with identical content, then moves on.
 */
import { and, asc, desc, eq, gt, lte, max } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Meter } from "../lib/budget";
import { csvLine } from "../storage/csv";
import { decisionEvents, exportRuns } from "../storage/d1-schema";
import { iso } from "../wire/render";

/** Rows per run: bounds the memory one run needs (objects are built whole before the put). */
const ROWS_PER_RUN = 5000;
/** What one run costs at most: D1 queries (find, start, read, complete) and subrequests (those and two R2 puts). */
const RUN_COST = { d1: 7, subrequests: 9 };

export interface ExportDeps {
  db: D1Database;
  bucket: R2Bucket;
  now: () => number;
  /**
   * This invocation's meter (lib/budget.ts): runs are started while one more
   * fits its budget, then the next step resumes (jobs/steps.ts), so any
   * backlog is caught up, a bounded step at a time.
   */
  meter: Meter;
}

export interface RunSummary {
  id: string;
  fromId: number;
  toId: number;
  rows: number;
  keys: string[];
}

const COLUMNS = [
  "event_id",
  "resource_id",
  "seq",
  "server_timestamp",
  "type",
  "outcome",
  "code",
  "reason",
  "reservation_id",
  "reservation_status",
  "client_id",
  "quantity",
  "request_id",
  "version_before",
  "version_after",
  "rules_version",
] as const;

/**
 * Exports what is not exported yet, as many runs as this invocation's budget allows; returns the runs
 * it completed and whether it caught up (false: a next step has more to do).
 */
export async function exportHistory(deps: ExportDeps): Promise<{ runs: RunSummary[]; caughtUp: boolean }> {
  const runs: RunSummary[] = [];
  while (deps.meter.room(RUN_COST.d1, RUN_COST.subrequests)) {
    const run = (await unfinishedRun(deps.db)) ?? (await startRun(deps));
    if (run === "raced") continue; // another invocation started one: complete that one
    if (!run) return { runs, caughtUp: true };
    runs.push(await completeRun(deps, run));
  }
  return { runs, caughtUp: false };
}

/** Seconds since the oldest decision not exported yet reached D1 (0 when caught up), for /metrics. */
export async function exportLagSeconds(db: D1Database, now: number): Promise<number> {
  const row = await db
    .prepare(
      `SELECT MIN(drained_at) AS oldest FROM decision_events WHERE id = (
         SELECT MIN(id) FROM decision_events
         WHERE id > COALESCE((SELECT MAX(to_id) FROM export_runs WHERE status = 'completed'), 0))`,
    )
    .first<{ oldest: number | null }>();
  return row?.oldest == null ? 0 : Math.max(0, (now - row.oldest) / 1000);
}

type Run = typeof exportRuns.$inferSelect;

async function unfinishedRun(db: D1Database): Promise<Run | undefined> {
  const [run] = await drizzle(db)
    .select()
    .from(exportRuns)
    .where(eq(exportRuns.status, "started"))
    .orderBy(asc(exportRuns.fromId))
    .limit(1);
  return run;
}

/**
 * Records the next range to export, or returns null when there is nothing
 * new, or "raced" when another invocation started a run meanwhile.
 */
async function startRun(deps: ExportDeps): Promise<Run | null | "raced"> {
  const d1 = drizzle(deps.db);
  const [watermark] = await d1
    .select({ toId: max(exportRuns.toId) })
    .from(exportRuns)
    .where(eq(exportRuns.status, "completed"));
  const fromId = watermark?.toId ?? 0;
  const [last] = await d1
    .select({ id: decisionEvents.id })
    .from(decisionEvents)
    .where(gt(decisionEvents.id, fromId))
    .orderBy(asc(decisionEvents.id))
    .limit(1)
    .offset(ROWS_PER_RUN - 1);
  const [newest] = await d1
    .select({ id: decisionEvents.id })
    .from(decisionEvents)
    .orderBy(desc(decisionEvents.id))
    .limit(1);
  const toId = last?.id ?? newest?.id ?? fromId;
  if (toId <= fromId) return null;
  const startedAt = deps.now();
  const id = `run-${String(fromId + 1).padStart(12, "0")}-${String(toId).padStart(12, "0")}`;
  const day = (iso(startedAt) as string).slice(0, 10).replaceAll("-", "/");
  const keys = [`reservations/${day}/${id}.ndjson`, `reservations/${day}/${id}.csv`];
  const run: Run = {
    id,
    startedAt,
    completedAt: null,
    status: "started",
    fromId,
    toId,
    rows: 0,
    keys: JSON.stringify(keys),
  };
  // Only if no run is under way and the watermark has not moved since it was read, in one statement:
  // two overlapping invocations can then never start runs whose ranges overlap.
  const inserted = await deps.db
    .prepare(
      `INSERT INTO export_runs (id, started_at, completed_at, status, from_id, to_id, rows, keys)
       SELECT ?, ?, NULL, 'started', ?, ?, 0, ?
       WHERE NOT EXISTS (SELECT 1 FROM export_runs WHERE status = 'started')
         AND COALESCE((SELECT MAX(to_id) FROM export_runs WHERE status = 'completed'), 0) = ?
       ON CONFLICT DO NOTHING RETURNING id`,
    )
    .bind(run.id, run.startedAt, run.fromId, run.toId, run.keys, fromId)
    .all();
  return inserted.results.length === 1 ? run : "raced";
}

async function completeRun(deps: ExportDeps, run: Run): Promise<RunSummary> {
  const d1 = drizzle(deps.db);
  const rows = await d1
    .select()
    .from(decisionEvents)
    .where(and(gt(decisionEvents.id, run.fromId), lte(decisionEvents.id, run.toId)))
    .orderBy(asc(decisionEvents.id));
  const records = rows.map((r) => ({
    event_id: r.id,
    resource_id: r.resourceId,
    seq: r.seq,
    server_timestamp: iso(r.serverTimestamp),
    type: r.type,
    outcome: r.outcome,
    code: r.code,
    reason: r.reason,
    reservation_id: r.reservationId,
    reservation_status: r.reservationStatus,
    client_id: r.clientId,
    quantity: r.quantity,
    request_id: r.requestId,
    version_before: r.versionBefore,
    version_after: r.versionAfter,
    rules_version: r.rulesVersion,
  }));
  const [ndjsonKey, csvKey] = JSON.parse(run.keys) as [string, string];
  await deps.bucket.put(ndjsonKey, records.map((r) => `${JSON.stringify(r)}\n`).join(""), {
    httpMetadata: { contentType: "application/x-ndjson" },
  });
  await deps.bucket.put(
    csvKey,
    csvLine([...COLUMNS]) + records.map((r) => csvLine(COLUMNS.map((c) => r[c]))).join(""),
    {
      httpMetadata: { contentType: "text/csv; charset=utf-8" },
    },
  );
  await d1
    .update(exportRuns)
    .set({ status: "completed", completedAt: deps.now(), rows: records.length })
    .where(eq(exportRuns.id, run.id));
  return { id: run.id, fromId: run.fromId, toId: run.toId, rows: records.length, keys: [ndjsonKey, csvKey] };
}
