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
import { iso } from "../http/render";
import { csvLine } from "../storage/csv";
import { decisionEvents, exportRuns } from "../storage/d1-schema";

/** Rows per run: bounds the memory one run needs (objects are built whole before the put). */
export const ROWS_PER_RUN = 5000;
/** Runs per invocation, so a large backlog is caught up over a few invocations, not in one. */
const RUNS_PER_INVOCATION = 20;

export interface ExportDeps {
  db: D1Database;
  bucket: R2Bucket;
  now: () => number;
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

/** Exports everything not exported yet; returns the runs it completed. */
export async function exportHistory(deps: ExportDeps): Promise<RunSummary[]> {
  const done: RunSummary[] = [];
  for (let i = 0; i < RUNS_PER_INVOCATION; i++) {
    const run = (await unfinishedRun(deps.db)) ?? (await startRun(deps));
    if (!run) break;
    done.push(await completeRun(deps, run));
  }
  return done;
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

/** Records the next range to export, or returns null when there is nothing new. */
async function startRun(deps: ExportDeps): Promise<Run | null> {
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
  // The primary key makes two overlapping invocations start the same run once.
  await d1.insert(exportRuns).values(run).onConflictDoNothing();
  return run;
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
