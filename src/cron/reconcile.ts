/**
 * The reconciler: nothing decided is lost, even where the history queue is
 * not durable (local Miniflare keeps queued messages in memory) or a batch
 * was dead-lettered. Runs on the cron and on POST /admin/reconciliation.
 *
 * - Gaps inside a resource's history are visible from D1 alone (`server_seq`
 *   is contiguous): every resource that received decisions since the last
 *   scheduled run, or whose messages were dead-lettered, is checked.
 * - A lost tail (the last decisions) is not: the most recently active
 *   resources are asked whether they sent anything past D1's last seq.
 *
 * Each gap is re-sent from the object's timeline and written like any
 * history batch (idempotent upserts); only decisions that were really
 * missing count as repaired (`history_gaps_repaired_total`).
 */
import type { ResourceRpc } from "../resource-object/address";
import { addToCounters } from "../storage/counters";
import { writeHistory } from "../storage/history-writer";
import {
  finishRun,
  type Gap,
  gapsOf,
  historyShape,
  lastEventId,
  latestRun,
  markDeadLettersReconciled,
  openHistoryDeadLetters,
  type ReconciliationRun,
  recentlyActive,
  resourcesWrittenBetween,
  startRun,
} from "../storage/reconciliation";

/** Resources asked about their tail per run, the most recently active first. */
export const TAIL_CHECKS_PER_RUN = 1000;
/** A decision sent this recently may still be in the queue: not a lost tail yet. */
export const DEFAULT_MIN_AGE_MS = 60_000;
/** Without an earlier scheduled run, tails are checked over this window. */
const FIRST_RUN_WINDOW_MS = 24 * 3600_000;
/** Disagreements kept in a run's record. */
const DISAGREEMENTS_KEPT = 100;

export interface ReconcileDeps {
  db: D1Database;
  object: (resourceId: string) => Pick<ResourceRpc, "historyAfter">;
  now: () => number;
}

export interface ReconcileOptions {
  trigger: "scheduled" | "api";
  /** Check exactly these resources (gaps and tail); otherwise those active since the last scheduled run. */
  resourceIds?: string[];
  minAgeMs?: number;
}

interface Disagreement {
  resource_id: string;
  d1_last_seq: number;
  missing: Gap[];
  repaired: number;
}

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconciliationRun> {
  const { db, now } = deps;
  const startedAt = now();
  const upTo = await lastEventId(db);
  const previous = await latestRun(db, "scheduled");
  const run = await startRun(db, options.trigger, startedAt, upTo);
  try {
    const deadLetters = await openHistoryDeadLetters(db, 1000);
    const dead = deadLetters.map((d) => d.resourceId);
    const [inside, tail] = options.resourceIds
      ? [options.resourceIds, options.resourceIds]
      : [
          [...(await resourcesWrittenBetween(db, previous?.watermark ?? 0, upTo)), ...dead],
          [
            ...(await recentlyActive(
              db,
              (previous?.startedAt ?? startedAt - FIRST_RUN_WINDOW_MS) - 60_000,
              TAIL_CHECKS_PER_RUN,
            )),
            ...dead,
          ],
        ];
    const ids = [...new Set([...inside, ...tail])];
    const shape = await historyShape(db, ids);
    const found = new Map<string, Disagreement>();
    const note = (id: string, gap: Gap, repaired: number) => {
      const d = found.get(id) ?? { resource_id: id, d1_last_seq: shape.get(id)?.last ?? 0, missing: [], repaired: 0 };
      d.missing.push(gap);
      d.repaired += repaired;
      found.set(id, d);
    };
    for (const id of new Set(inside)) {
      const s = shape.get(id);
      if (!s || s.count === s.last) continue;
      for (const gap of await gapsOf(db, id)) note(id, gap, await resend(deps, id, gap.from - 1, gap.to, 0));
    }
    for (const id of new Set(tail)) {
      const last = shape.get(id)?.last ?? 0;
      const sent = await resendTail(deps, id, last, options.minAgeMs ?? DEFAULT_MIN_AGE_MS);
      if (sent.decisions > 0) note(id, { from: last + 1, to: sent.lastSeq }, sent.inserted);
    }
    const disagreements = [...found.values()];
    const gapsFound = disagreements.reduce((n, d) => n + d.missing.length, 0);
    const gapsRepaired = disagreements.filter((d) => d.repaired > 0).reduce((n, d) => n + d.missing.length, 0);
    const decisionsRepaired = disagreements.reduce((n, d) => n + d.repaired, 0);
    await addToCounters(db, "history_gaps_repaired_total", { "": gapsRepaired });
    await markDeadLettersReconciled(
      db,
      deadLetters.map((d) => d.id),
      now(),
    );
    const outcome = {
      status: "completed" as const,
      finishedAt: now(),
      resourcesChecked: ids.length,
      gapsFound,
      gapsRepaired,
      decisionsRepaired,
      disagreements: JSON.stringify(disagreements.slice(0, DISAGREEMENTS_KEPT)),
    };
    await finishRun(db, run.id, outcome);
    return { ...run, ...outcome };
  } catch (err) {
    await finishRun(db, run.id, { status: "failed", finishedAt: now(), error: String(err) }).catch(() => undefined);
    throw err;
  }
}

/** Re-sends decisions (afterSeq, upToSeq] of a resource from its object; returns how many were new to D1. */
async function resend(deps: ReconcileDeps, id: string, afterSeq: number, upToSeq: number, minAgeMs: number) {
  let inserted = 0;
  let from = afterSeq;
  while (from < upToSeq) {
    const messages = await deps.object(id).historyAfter({ afterSeq: from, upToSeq, minAgeMs });
    const last = messages.flatMap((m) => m.decisions.map((d) => d.seq)).reduce((a, b) => Math.max(a, b), from);
    if (last === from) break;
    inserted += await writeHistory(deps.db, messages, deps.now());
    from = last;
  }
  return inserted;
}

/** The decisions a resource sent after D1's last one (older than `minAgeMs`), re-sent. */
async function resendTail(deps: ReconcileDeps, id: string, d1Last: number, minAgeMs: number) {
  let inserted = 0;
  let decisions = 0;
  let from = d1Last;
  for (;;) {
    const messages = await deps.object(id).historyAfter({ afterSeq: from, upToSeq: null, minAgeMs });
    const seqs = messages.flatMap((m) => m.decisions.map((d) => d.seq));
    if (seqs.length === 0) break;
    inserted += await writeHistory(deps.db, messages, deps.now());
    decisions += seqs.length;
    from = Math.max(...seqs);
  }
  return { inserted, decisions, lastSeq: from };
}
