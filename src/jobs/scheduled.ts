/**
 * The hourly cron only starts work, in a few D1 queries and queue sends,
 * whatever the data size: a reconciliation run (or the one under way, sent
 * again if its steps stopped), an export step, a retention step when
 * HISTORY_RETENTION_DAYS is set, and the next step of any job whose steps
 * stopped. The steps do the work (jobs/steps.ts). Reconcile and export are
 * independent steps: a failing reconciliation never holds up the export.
 */
import { config } from "../config";
import { failRun, startReconciliation } from "../cron/reconcile";
import { STALLED_AFTER_MS, stalledJobs } from "../storage/jobs";
import { openRuns } from "../storage/reconciliation";
import { sendStep } from "./steps";

/** A run older than this has had more than its chance: it is marked failed and a new one starts. */
const RUN_GIVES_UP_AFTER_MS = 24 * 3600_000;
/** Stopped jobs resumed per cron (they resume each other's way over the following hours). */
const RESUMED_PER_CRON = 20;

export interface ScheduledWork {
  reconciliation: number;
  resumedRuns: number[];
  resumedJobs: string[];
  retention: boolean;
}

export async function startScheduledWork(env: Env, now: number): Promise<ScheduledWork> {
  const db = env.DB;
  const resumedRuns: number[] = [];
  let scheduled: number | null = null;
  for (const run of await openRuns(db, RESUMED_PER_CRON)) {
    if (run.startedAt < now - RUN_GIVES_UP_AFTER_MS) {
      await failRun({ db, now: () => now }, run, "did not finish within 24 hours");
      continue;
    }
    if (run.trigger === "scheduled") scheduled = run.id;
    if (run.updatedAt < now - STALLED_AFTER_MS) {
      await sendStep(env, { kind: "reconcile", runId: run.id });
      resumedRuns.push(run.id);
    }
  }
  if (scheduled === null) {
    scheduled = (await startReconciliation(db, now, { trigger: "scheduled" })).id;
    await sendStep(env, { kind: "reconcile", runId: scheduled });
  }
  await sendStep(env, { kind: "export" });
  const retention = config(env).HISTORY_RETENTION_DAYS !== undefined;
  if (retention) await sendStep(env, { kind: "retention" });
  const resumedJobs: string[] = [];
  for (const job of await stalledJobs(db, now, RESUMED_PER_CRON)) {
    await sendStep(env, { kind: job.kind, jobId: job.id });
    resumedJobs.push(job.id);
  }
  return { reconciliation: scheduled, resumedRuns, resumedJobs, retention };
}
