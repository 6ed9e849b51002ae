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
  registryPage,
  resourcesWrittenBetween,
  startRun,
} from "../storage/reconciliation";

/** Resources asked about their tail per run: the most recently active, and as many from the registry round. */
const TAIL_CHECKS_PER_RUN = 1000;
/** A decision sent this recently may still be in the queue: not counted as lost yet. */
const DEFAULT_MIN_AGE_MS = 60_000;
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
  /** Each gap found, with how many of its decisions were really missing and are now written. */
  missing: (Gap & { repaired: number })[];
  /** Set when the object could not be asked (it is checked again by the next run). */
  error?: string;
}

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions): Promise<ReconciliationRun> {
  const { db, now } = deps;
  const startedAt = now();
  const upTo = await lastEventId(db);
  const previous = await latestRun(db, "scheduled");
  const run = await startRun(db, options.trigger, startedAt, upTo);
  const minAgeMs = options.minAgeMs ?? DEFAULT_MIN_AGE_MS;
  try {
    const deadLetters = await openHistoryDeadLetters(db, 1000);
    const dead = deadLetters.map((d) => d.resourceId);
    let registryCursor = previous?.registryCursor ?? null;
    let inside: string[];
    let tail: string[];
    if (options.resourceIds) {
      [inside, tail] = [options.resourceIds, options.resourceIds];
    } else {
      // The registry round: resources that decided only while the history was failing are in no recent
      // window; walking the registry a page per run reaches every known resource eventually.
      const page = await registryPage(db, registryCursor, TAIL_CHECKS_PER_RUN);
      registryCursor = page.length === TAIL_CHECKS_PER_RUN ? (page.at(-1) ?? null) : null;
      const since = (previous?.startedAt ?? startedAt - FIRST_RUN_WINDOW_MS) - 60_000;
      inside = [...(await resourcesWrittenBetween(db, previous?.watermark ?? 0, upTo)), ...dead];
      tail = [...(await recentlyActive(db, since, TAIL_CHECKS_PER_RUN)), ...page, ...dead];
    }
    const ids = [...new Set([...inside, ...tail])];
    const shape = await historyShape(db, ids);
    const found = new Map<string, Disagreement>();
    const entry = (id: string) => {
      const d = found.get(id) ?? { resource_id: id, d1_last_seq: shape.get(id)?.last ?? 0, missing: [] };
      found.set(id, d);
      return d;
    };
    // One object that cannot answer (overloaded, restarting) must not stop the others' repairs.
    const guarded = async (id: string, work: () => Promise<void>) => {
      try {
        await work();
      } catch (err) {
        entry(id).error = String(err);
      }
    };
    for (const id of new Set(inside)) {
      const s = shape.get(id);
      if (!s || s.count === s.last) continue;
      await guarded(id, async () => {
        for (const gap of await gapsOf(db, id)) {
          const { inserted } = await resend(deps, id, gap.from - 1, gap.to, minAgeMs);
          entry(id).missing.push({ ...gap, repaired: inserted });
        }
      });
    }
    for (const id of new Set(tail)) {
      await guarded(id, async () => {
        const last = shape.get(id)?.last ?? 0;
        const sent = await resend(deps, id, last, null, minAgeMs);
        // Only a tail D1 really lacked is a gap: a slow queue may have delivered it meanwhile.
        if (sent.inserted > 0) entry(id).missing.push({ from: last + 1, to: sent.lastSeq, repaired: sent.inserted });
      });
    }
    const disagreements = [...found.values()].filter((d) => d.missing.length > 0 || d.error);
    const gaps = disagreements.flatMap((d) => d.missing);
    const gapsRepaired = gaps.filter((g) => g.repaired > 0).length;
    await addToCounters(db, "history_gaps_repaired_total", { "": gapsRepaired });
    // A dead letter is settled only once its resource was checked, and checked without an error.
    const checked = new Set(ids.filter((id) => !found.get(id)?.error));
    await markDeadLettersReconciled(
      db,
      deadLetters.filter((d) => checked.has(d.resourceId)).map((d) => d.id),
      now(),
    );
    const outcome = {
      status: "completed" as const,
      finishedAt: now(),
      resourcesChecked: ids.length,
      gapsFound: gaps.length,
      gapsRepaired,
      decisionsRepaired: gaps.reduce((n, g) => n + g.repaired, 0),
      disagreements: JSON.stringify(disagreements.slice(0, DISAGREEMENTS_KEPT)),
      registryCursor,
    };
    await finishRun(db, run.id, outcome);
    return { ...run, ...outcome };
  } catch (err) {
    await finishRun(db, run.id, { status: "failed", finishedAt: now(), error: String(err) }).catch(() => undefined);
    throw err;
  }
}

/**
 * Re-sends a resource's decisions after `afterSeq` (up to `upToSeq`; null: all it has sent, older than
 * `minAgeMs`) from its object: how many were new to D1, and the last seq re-sent.
 */
async function resend(deps: ReconcileDeps, id: string, afterSeq: number, upToSeq: number | null, minAgeMs: number) {
  let inserted = 0;
  let from = afterSeq;
  while (upToSeq === null || from < upToSeq) {
    const messages = await deps.object(id).historyAfter({ afterSeq: from, upToSeq, minAgeMs });
    const last = messages.flatMap((m) => m.decisions.map((d) => d.seq)).reduce((a, b) => Math.max(a, b), from);
    if (last === from) break;
    inserted += await writeHistory(deps.db, messages, deps.now());
    from = last;
  }
  return { inserted, lastSeq: from };
}
