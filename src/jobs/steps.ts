/**
 * The jobs queue: every piece of work that grows with the data runs here as
 * steps, one step per queue message and invocation, each within the
 * invocation's budget (lib/budget.ts) and resumed from what the previous
 * step saved in D1. A step that has more to do sends the next step; a step
 * that fails is retried with backoff (the queue's retries) and, after
 * STEP_ATTEMPTS, its job or run is marked failed — never left running.
 * Steps whose message was lost (local Miniflare keeps queues in memory) are
 * sent again by the hourly cron (jobs/scheduled.ts). Decision 48.
 */
import { config } from "../config";
import { exportHistory } from "../cron/export";
import { failRun, reconcileStep } from "../cron/reconcile";
import { removeExpiredHistory } from "../cron/retention";
import type { Meter } from "../lib/budget";
import { logLine } from "../lib/log";
import { logQueue, retryDelaySeconds } from "../queues/retry";
import { resourceStub } from "../resource-object/address";
import { findRun } from "../storage/reconciliation";
import { failImportJob, importStep } from "./import-job";

export type JobStep =
  | { kind: "import"; jobId: string }
  | { kind: "reconcile"; runId: number }
  | { kind: "export" }
  | { kind: "retention" };

/** Attempts of a step before its job or run is marked failed (the queue's max_retries is higher). */
export const STEP_ATTEMPTS = 8;

export async function sendStep(env: Env, step: JobStep): Promise<void> {
  await env.JOBS_QUEUE.send(step);
}

/** The jobs queue's consumer: one step per invocation (max_batch_size 1; any other message waits its turn). */
export async function consumeJobs(batch: MessageBatch<JobStep>, env: Env, meter: Meter): Promise<void> {
  const [message, ...others] = batch.messages;
  for (const other of others) other.retry({ delaySeconds: 0 });
  if (!message) return;
  try {
    if (await runStep(env, message.body, meter)) await sendStep(env, message.body);
    message.ack();
  } catch (err) {
    logQueue("job step failed", batch.queue, err, { step: message.body, attempts: message.attempts });
    if (message.attempts < STEP_ATTEMPTS) {
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      return;
    }
    await giveUp(env, message.body, String(err));
    message.ack();
  }
}

/** Runs one step; true when its work goes on in a next step. */
export async function runStep(env: Env, step: JobStep, meter: Meter): Promise<boolean> {
  const db = env.DB;
  switch (step.kind) {
    case "import":
      return importStep(env, step.jobId, meter, Date.now);
    case "reconcile": {
      const run = await findRun(db, step.runId);
      if (run?.status !== "running") return false;
      const deps = { db, object: (id: string) => resourceStub(env, id), now: Date.now, meter };
      return (await reconcileStep(deps, run))?.status === "running";
    }
    case "export": {
      const done = await exportHistory({ db, bucket: env.EXPORTS, now: Date.now, meter });
      const rows = done.runs.reduce((n, r) => n + r.rows, 0);
      if (rows > 0) logLine("info", "history exported to R2", { runs: done.runs.map((r) => r.id), rows });
      return !done.caughtUp;
    }
    case "retention": {
      const days = config(env).HISTORY_RETENTION_DAYS;
      if (days === undefined) return false;
      const done = await removeExpiredHistory({ db, now: Date.now, meter, retentionDays: days });
      if (done.removed > 0) logLine("info", "history past retention removed from D1", { removed: done.removed });
      return !done.caughtUp;
    }
  }
}

/** A step failed on every attempt: its job or run ends failed (export and retention go on next hour). */
async function giveUp(env: Env, step: JobStep, error: string): Promise<void> {
  try {
    if (step.kind === "import") await failImportJob(env, step.jobId, error, Date.now());
    if (step.kind === "reconcile") {
      const run = await findRun(env.DB, step.runId);
      if (run?.status === "running") await failRun({ db: env.DB, now: Date.now }, run, error);
    }
  } catch (err) {
    logQueue("a failed job could not be marked failed; the cron resumes it", "reservation-jobs", err, { step });
  }
}
